//! The two package families behind one interface: rpm hosts (dnf or yum) and apt hosts
//! (Debian, Ubuntu). The operation flow in `lib.rs` is written once against [`Backend`];
//! packages cross it as keys (`name-[epoch:]version-release.arch` for rpm,
//! `name:arch=version` for apt), which is also how the state file stores them.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use pw_api::server::agent::{AptInventoryJson, CatalogJson, InstalledPackageJson};
use pw_core::baseline::Baseline;
use pw_core::evaluate::apt::{AptAvailable, AptContext, AptHost, AptInstalled, DebTarget};
use pw_core::evaluate::{
    Catalog, Context, EvaluateOptions, Evaluation, InstalledPackage, Snapshot,
};
use pw_core::nevra::Nevra;
use pw_core::repo::{Advisory, Package};
use pw_core::version::deb::DebVersion;
use pw_pkgmgr::apt::AptSettings;
use pw_pkgmgr::{Root, Settings};

use crate::AgentError;
use crate::override_list::OverrideList;
use crate::reboot;

/// What one package-manager run did.
#[derive(Debug, Default)]
pub(crate) struct RunInfo {
    pub(crate) exit_code: Option<i32>,
    pub(crate) output_tail: Option<String>,
}

/// What the server keeps of a host for previews (the parts of `PUT /api/v1/agent/inventory`
/// that come from the backend): rpm hosts fill `packages` and `catalog`, apt hosts `apt`.
#[derive(Debug, Clone, Default)]
pub struct HostInventory {
    pub packages: Vec<InstalledPackageJson>,
    pub catalog: Option<CatalogJson>,
    pub apt: Option<AptInventoryJson>,
}

/// One family's inventory, catalog, evaluation and install.
pub(crate) trait Backend {
    /// Asks the package manager to refresh its metadata; problems become notes.
    fn refresh(&mut self, notes: &mut Vec<String>);
    /// Reads the repositories (after a refresh) into memory.
    fn load_catalog(&mut self, notes: &mut Vec<String>) -> Result<(), AgentError>;
    /// Reads the installed packages.
    fn read_inventory(&mut self, notes: &mut Vec<String>) -> Result<(), AgentError>;
    /// Keys of the installed packages.
    fn installed_keys(&self) -> HashSet<String>;
    /// Evaluates the host as it is now.
    fn evaluate(
        &self,
        baseline: &Baseline,
        now: Timestamp,
        pending: &[String],
        options: &EvaluateOptions,
    ) -> Evaluation;
    /// The versions to install: the evaluation's targets, or the override list's.
    fn targets(&self, evaluation: &Evaluation, override_list: Option<&OverrideList>)
    -> Vec<String>;
    /// Installs exactly `targets`.
    fn install(&self, targets: &[String], notes: &mut Vec<String>) -> RunInfo;
    /// Puts back exactly `targets`, older than what is installed (a rollback).
    fn downgrade(&self, targets: &[String], notes: &mut Vec<String>) -> RunInfo;
    /// After [`Backend::read_inventory`] again: which targets are installed and which not.
    fn verify(&self, targets: &[String], notes: &mut Vec<String>) -> (Vec<String>, Vec<String>);
    /// Why a reboot is needed after installing `installed_now` (keys).
    fn reboot_reasons(
        &self,
        installed_now: &[String],
        evaluation: &Evaluation,
        pending: &[String],
        extra: &[String],
    ) -> Vec<String>;
    /// Whether `key` (a package installed by an interrupted operation) needs a reboot.
    fn key_needs_reboot(&self, key: &str, extra: &[String]) -> bool;
    /// The rpm package manager's settings (the root and `--releasever` in use).
    fn package_manager_settings(&self) -> Option<&pw_pkgmgr::Settings> {
        None
    }
    /// What the server keeps for previews: the installed packages and the part of the
    /// repositories the evaluation looks at for them.
    fn inventory_upload(&self) -> Option<HostInventory> {
        None
    }
    /// Saves what the backend keeps between runs in the state directory.
    fn save_extra(&self, _state_dir: &std::path::Path) -> Result<(), crate::state::StateError> {
        Ok(())
    }
}

/// What an install run did, for the report; a failed or impossible run becomes a note.
fn run_info(
    result: Result<pw_pkgmgr::install::PackageManagerRun, impl std::fmt::Display>,
    notes: &mut Vec<String>,
) -> RunInfo {
    match result {
        Ok(run) => {
            let mut info = RunInfo {
                exit_code: run.termination.exit_code(),
                output_tail: None,
            };
            if !run.success() {
                info.output_tail = Some(format!("{}\n{}", run.stdout_tail, run.stderr_tail));
                notes.push(format!(
                    "`{}` ended with {}",
                    run.argv.join(" "),
                    run.termination
                ));
            }
            info
        }
        Err(error) => {
            notes.push(format!("the install could not run: {error}"));
            RunInfo::default()
        }
    }
}

// ---------------------------------------------------------------------------------------
// rpm

pub(crate) struct RpmBackend {
    pub(crate) settings: Settings,
    /// Where the parsed catalog of each repository is cached (`<state dir>/catalog`), one
    /// file per repository id (see `pw_repo::catalog_cache`).
    pub(crate) catalog_cache_dir: PathBuf,
    /// Whether to keep provides and requires (the baseline blocks rejected packages).
    pub(crate) needs_dependencies: bool,
    pub(crate) product: String,
    pub(crate) family: pw_core::baseline::Family,
    /// The packages and advisories evaluated: those of the installed names and of
    /// `providers` (set by `read_inventory`).
    pub(crate) packages: Vec<Package>,
    pub(crate) advisories: Vec<Advisory>,
    pub(crate) installed: Vec<InstalledPackage>,
    /// Why the package manager cannot see some versions, by (name, arch).
    pub(crate) hidden: crate::visibility::Hidden,
    /// Every repository's catalog in compact form (set by `load_catalog`).
    pub(crate) catalog: Option<crate::catalog::HostCatalog>,
    /// Under BLOCK, the names not installed whose values are in `packages` because they
    /// provide what an installed name's package requires.
    pub(crate) providers: Vec<String>,
    /// The next materialization of the installed names' values says the visibility rules'
    /// notes (the first after a load).
    pub(crate) focus_notes: bool,
    /// The rpm database listing, started with the catalog load: `rpm -qa` runs on another
    /// core while the catalog is read, and `read_inventory` takes its answer.
    pub(crate) inventory: Option<
        std::thread::JoinHandle<Result<Vec<InstalledPackage>, pw_pkgmgr::rpm::InventoryError>>,
    >,
}

/// The catalog cache file name of a repository: its id with anything but ASCII letters,
/// digits, `-`, `_` and a non-leading `.` written as `%XX`, then `+deps` when the catalog
/// holds provides and requires (so that baselines with and without BLOCK do not evict each
/// other's file), then `.bin`.
pub(crate) fn catalog_cache_file_name(id: &str, dependencies: bool) -> String {
    let mut name = String::with_capacity(id.len() + 4);
    for (index, byte) in id.bytes().enumerate() {
        if byte.is_ascii_alphanumeric()
            || byte == b'-'
            || byte == b'_'
            || (byte == b'.' && index > 0)
        {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    if dependencies {
        name.push_str("+deps");
    }
    name.push_str(".bin");
    name
}

/// Removes the cache files (and leftover temporary files) of repositories that are no longer
/// configured. Best effort: a file that cannot be removed is only stale, never used.
fn remove_stale_catalog_caches<'a>(dir: &Path, ids: impl Iterator<Item = &'a str>) {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return;
    };
    let mut keep = HashSet::new();
    for id in ids {
        for dependencies in [false, true] {
            let name = catalog_cache_file_name(id, dependencies);
            keep.insert(format!(".{name}.tmp"));
            keep.insert(name);
        }
    }
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.ends_with(".bin") || (name.starts_with('.') && name.ends_with(".bin.tmp"));
        if ours && !keep.contains(&name) {
            match fs_err::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::debug!(file = %entry.path().display(), "stale catalog cache removed")
                }
                Err(error) => tracing::debug!(%error, "stale catalog cache not removed"),
            }
        }
    }
}

/// Packages that are not install-only (kernels, `gpg-pubkey`) yet have several versions of
/// one (name, arch) in the rpm database: what a yum or dnf transaction that was killed or
/// timed out between installing the new and erasing the old version leaves.
fn duplicate_notes(installed: &[InstalledPackage]) -> Vec<String> {
    let mut versions: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for package in installed {
        let name = package.nevra.name.as_str();
        if name.starts_with("kernel") || name == "gpg-pubkey" || name.starts_with("installonlypkg")
        {
            continue;
        }
        versions
            .entry((name, package.nevra.arch.as_str()))
            .or_default()
            .push(package.nevra.evr.to_string());
    }
    versions
        .into_iter()
        .filter(|(_, list)| list.len() > 1)
        .map(|((name, arch), list)| {
            format!(
                "the rpm database lists {name}.{arch} {} times ({}): an interrupted transaction left both; finish it with `yum-complete-transaction` (yum) or remove the older with `package-cleanup --cleandupes` / `dnf remove --duplicates`",
                list.len(),
                list.join(", ")
            )
        })
        .collect()
}

fn parse_nevra(key: &str) -> Option<Nevra> {
    Nevra::parse(key).ok()
}

impl Backend for RpmBackend {
    fn package_manager_settings(&self) -> Option<&pw_pkgmgr::Settings> {
        Some(&self.settings)
    }

    fn refresh(&mut self, notes: &mut Vec<String>) {
        // Run by anyone but root, yum and dnf refresh a per-user cache under /var/tmp that
        // is not the one read here (nor the one root's installs use).
        if !pw_pkgmgr::host::running_as_root() {
            notes.push(format!(
                "not running as root: `{}` would refresh a per-user cache that is not read; the system's cache was used as it is (run as root to refresh it)",
                self.settings.package_manager.program()
            ));
            return;
        }
        match pw_pkgmgr::repo_cache::refresh(&self.settings, false) {
            Ok(run) if run.success() => {}
            Ok(run) => notes.push(format!(
                "`{}` failed ({}); using the metadata already cached: {}",
                run.argv.join(" "),
                run.termination,
                run.stderr_tail.trim()
            )),
            Err(error) => notes.push(format!("refreshing the metadata cache failed: {error}")),
        }
    }

    fn load_catalog(&mut self, notes: &mut Vec<String>) -> Result<(), AgentError> {
        // A listing started for an earlier load (never taken) is left to finish alone.
        let settings = self.settings.clone();
        self.inventory = Some(std::thread::spawn(move || {
            pw_pkgmgr::rpm::installed_packages(&settings)
        }));
        // yum rewrites its cache in place: hold its lock while reading, as yum itself would.
        let _yum_lock = if self.settings.package_manager == pw_pkgmgr::PackageManager::Yum
            && pw_pkgmgr::host::running_as_root()
        {
            match pw_pkgmgr::lock::hold_yum_lock(&self.settings.root, &self.settings.lock_wait) {
                Ok(guard) => Some(guard),
                Err(error) => {
                    notes.push(format!(
                        "yum's lock could not be taken ({error}); the cache was read without it"
                    ));
                    None
                }
            }
        } else {
            None
        };
        let config = pw_pkgmgr::repo_cache::repository_config(&self.settings)
            .map_err(AgentError::RepoCache)?;
        notes.extend(config.notes.iter().cloned());
        // The catalog is held compactly; `read_inventory` makes values of the installed names
        // (and under BLOCK of the providers their requirements name); see `crate::catalog`.
        let mut catalog =
            crate::catalog::HostCatalog::new(pw_pkgmgr::repo_cache::RepositoryConfig {
                repositories: Vec::new(),
                ..config.clone()
            });
        let repositories = config.repositories;
        remove_stale_catalog_caches(
            &self.catalog_cache_dir,
            repositories.iter().map(|r| r.id.as_str()),
        );
        let mut n_loaded = 0;
        for repository in repositories {
            let Some(cache) = repository.cache.clone() else {
                notes.push(format!(
                    "repository `{}` has no cached metadata; skipped",
                    repository.id
                ));
                continue;
            };
            // Provides and requires are most of primary's size; only BLOCK's dependency
            // check reads them. Locations, checksums and advisory texts nobody here reads.
            let options = pw_repo::LoadOptions {
                dependencies: self.needs_dependencies,
                details: false,
                ..pw_repo::LoadOptions::default()
            };
            let cache_file = self.catalog_cache_dir.join(catalog_cache_file_name(
                &repository.id,
                options.dependencies,
            ));
            let loaded = match cache.layout {
                pw_pkgmgr::repo_cache::CacheLayout::Dnf => {
                    pw_repo::load_dir_compact_cached(&cache.dir, &options, &cache_file)
                }
                pw_pkgmgr::repo_cache::CacheLayout::Yum => {
                    pw_repo::load_flat_dir_compact_cached(&cache.dir, &options, &cache_file)
                }
            };
            match loaded {
                Ok(load) => {
                    match &load.cache {
                        pw_repo::CacheStatus::Hit => {
                            tracing::debug!(repository = %repository.id, "catalog cache hit");
                        }
                        pw_repo::CacheStatus::Written { miss }
                        | pw_repo::CacheStatus::Incomplete { miss } => {
                            tracing::debug!(repository = %repository.id, %miss, "catalog cache miss");
                        }
                        pw_repo::CacheStatus::WriteFailed { error, .. } => {
                            let reason = std::error::Error::source(error)
                                .map(|source| format!(": {source}"))
                                .unwrap_or_default();
                            notes.push(format!(
                                "repository `{}`: {error}{reason}; the next scan parses the metadata again",
                                repository.id
                            ));
                        }
                    }
                    for diagnostic in load.repository.diagnostics.iter().take(20) {
                        notes.push(format!("{}: {diagnostic}", repository.id));
                    }
                    catalog.push(repository, load.repository.catalog);
                    n_loaded += 1;
                }
                Err(error) => notes.push(format!("repository `{}`: {error}", repository.id)),
            }
        }
        self.catalog = Some(catalog);
        self.focus_notes = true;
        if n_loaded == 0 {
            // An empty cache is most often a host without its package manager.
            let manager = self.settings.package_manager;
            if manager.locate().is_none() {
                return Err(AgentError::PackageManagerMissing {
                    program: manager.program(),
                    hint: match manager {
                        pw_pkgmgr::PackageManager::Yum => {
                            " (Amazon Linux 2, RHEL/CentOS 7: `yum`), or say `--package-manager dnf` if this host uses dnf"
                        }
                        pw_pkgmgr::PackageManager::Dnf => {
                            " (Amazon Linux 2023, RHEL 8 and later: `dnf`), or say `--package-manager yum` if this host uses yum"
                        }
                    },
                });
            }
            return Err(AgentError::NoRepositories);
        }
        Ok(())
    }

    fn read_inventory(&mut self, notes: &mut Vec<String>) -> Result<(), AgentError> {
        let installed = match self.inventory.take() {
            Some(started) => started
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => pw_pkgmgr::rpm::installed_packages(&self.settings),
        };
        self.installed = installed.map_err(AgentError::Inventory)?;
        notes.extend(duplicate_notes(&self.installed));
        if let Some(catalog) = &self.catalog {
            // The values of the installed names: every report item is one of them.
            let mut names: HashSet<&str> = self
                .installed
                .iter()
                .map(|p| p.nevra.name.as_str())
                .collect();
            // Under BLOCK, also the providers of what they require.
            self.providers = if self.needs_dependencies {
                catalog.dependency_providers(&names)
            } else {
                Vec::new()
            };
            names.extend(self.providers.iter().map(String::as_str));
            // The visibility rules' notes were said at the first reading.
            let mut discard = Vec::new();
            let notes = if std::mem::take(&mut self.focus_notes) {
                notes
            } else {
                &mut discard
            };
            let values = catalog.materialize(|name| names.contains(name), notes);
            self.packages = values.packages;
            self.advisories = values.advisories;
            self.hidden = values.hidden;
        }
        Ok(())
    }

    fn installed_keys(&self) -> HashSet<String> {
        self.installed.iter().map(|p| p.nevra.to_string()).collect()
    }

    fn evaluate(
        &self,
        baseline: &Baseline,
        now: Timestamp,
        pending: &[String],
        options: &EvaluateOptions,
    ) -> Evaluation {
        let context = Context {
            product: self.product.clone(),
            family: self.family,
            now,
        };
        let pending: Vec<Nevra> = pending.iter().filter_map(|k| parse_nevra(k)).collect();
        let evaluate = |packages: &[Package], advisories: &[Advisory]| {
            let snapshot = Snapshot::build(
                baseline,
                Catalog {
                    packages,
                    advisories,
                },
                context.clone(),
            );
            snapshot.evaluate(&self.installed, &pending, options)
        };
        let mut evaluation = match &self.catalog {
            None => evaluate(&self.packages, &self.advisories),
            // Listing every NotApplicable item needs the whole catalog's entries.
            Some(catalog) if options.include_not_applicable => {
                let all = catalog.materialize(|_| true, &mut Vec::new());
                evaluate(&all.packages, &all.advisories)
            }
            Some(catalog) => {
                let names: HashSet<&str> = self
                    .installed
                    .iter()
                    .map(|p| p.nevra.name.as_str())
                    .chain(self.providers.iter().map(String::as_str))
                    .collect();
                let elsewhere = catalog.not_applicable_elsewhere(baseline, &context, &names);
                evaluate(&self.packages, &self.advisories).with_more_not_applicable(elsewhere)
            }
        };
        self.hidden.explain(&mut evaluation);
        evaluation
    }

    fn targets(
        &self,
        evaluation: &Evaluation,
        override_list: Option<&OverrideList>,
    ) -> Vec<String> {
        let Some(list) = override_list else {
            return evaluation
                .install_targets()
                .iter()
                .map(ToString::to_string)
                .collect();
        };
        // Per installed (name, arch), the highest listed version newer than what is installed.
        let mut best: BTreeMap<(&str, &str), &Nevra> = BTreeMap::new();
        for package in &self.installed {
            for candidate in &self.packages {
                let c = &candidate.nevra;
                if c.name == package.nevra.name
                    && c.arch == package.nevra.arch
                    && c.evr > package.nevra.evr
                    && list.matches(c)
                {
                    let slot = best.entry((c.name.as_str(), c.arch.as_str())).or_insert(c);
                    if c.evr > slot.evr {
                        *slot = c;
                    }
                }
            }
        }
        best.values().map(ToString::to_string).collect()
    }

    fn install(&self, targets: &[String], notes: &mut Vec<String>) -> RunInfo {
        let nevras: Vec<Nevra> = targets.iter().filter_map(|k| parse_nevra(k)).collect();
        run_info(pw_pkgmgr::install::install(&self.settings, &nevras), notes)
    }

    fn downgrade(&self, targets: &[String], notes: &mut Vec<String>) -> RunInfo {
        let nevras: Vec<Nevra> = targets.iter().filter_map(|k| parse_nevra(k)).collect();
        run_info(
            pw_pkgmgr::install::downgrade(&self.settings, &nevras),
            notes,
        )
    }

    fn verify(&self, targets: &[String], notes: &mut Vec<String>) -> (Vec<String>, Vec<String>) {
        let nevras: Vec<Nevra> = targets.iter().filter_map(|k| parse_nevra(k)).collect();
        let mut installed = Vec::new();
        let mut failed = Vec::new();
        let mut obsoleters: Option<Vec<(String, String)>> = None;
        for status in pw_pkgmgr::install::verify(&nevras, &self.installed) {
            match status.state {
                // Gone altogether: yum's update-to (and dnf) replace a target that another
                // package obsoletes by that package. Replaced, not failed.
                pw_pkgmgr::install::TargetState::NotInstalled(versions) if versions.is_empty() => {
                    let pairs = obsoleters.get_or_insert_with(|| {
                        pw_pkgmgr::rpm::obsoleted_by(&self.settings).unwrap_or_default()
                    });
                    match pairs.iter().find(|(name, _)| *name == status.target.name) {
                        Some((_, by)) => {
                            notes.push(format!(
                                "{} was replaced by {by}, which obsoletes `{}`",
                                status.target, status.target.name
                            ));
                            installed.push(status.target.to_string());
                        }
                        None => failed.push(status.target.to_string()),
                    }
                }
                pw_pkgmgr::install::TargetState::NotInstalled(_) => {
                    failed.push(status.target.to_string())
                }
                _ => installed.push(status.target.to_string()),
            }
        }
        (installed, failed)
    }

    fn reboot_reasons(
        &self,
        installed_now: &[String],
        evaluation: &Evaluation,
        pending: &[String],
        extra: &[String],
    ) -> Vec<String> {
        let installed: Vec<Nevra> = installed_now
            .iter()
            .filter_map(|k| parse_nevra(k))
            .collect();
        let pending: Vec<Nevra> = pending.iter().filter_map(|k| parse_nevra(k)).collect();
        reboot::reboot_reasons(&installed, &evaluation.items, &pending, extra)
    }

    fn inventory_upload(&self) -> Option<HostInventory> {
        let installed = self
            .installed
            .iter()
            .map(|p| InstalledPackageJson::from_core(&p.nevra, p.install_time))
            .collect();
        let catalog = CatalogJson::subset(
            &self.packages,
            &self.advisories,
            self.installed.iter().map(|p| p.nevra.name.as_str()),
        );
        Some(HostInventory {
            packages: installed,
            catalog: Some(catalog),
            apt: None,
        })
    }

    fn key_needs_reboot(&self, key: &str, extra: &[String]) -> bool {
        parse_nevra(key).is_some_and(|n| !reboot::reboot_reasons(&[n], &[], &[], extra).is_empty())
    }
}

// ---------------------------------------------------------------------------------------
// apt

pub(crate) struct AptBackend {
    pub(crate) settings: AptSettings,
    pub(crate) root: Root,
    pub(crate) product: String,
    pub(crate) native_arch: String,
    pub(crate) available: Vec<AptAvailable>,
    pub(crate) installed: Vec<AptInstalled>,
    pub(crate) installed_debs: Vec<pw_pkgmgr::dpkg::InstalledDeb>,
    /// First-seen instants per `name:arch=version`, maintained in the state directory.
    pub(crate) first_seen: BTreeMap<String, Option<String>>,
    pub(crate) release_dates: Vec<Option<Timestamp>>,
    pub(crate) now: Timestamp,
    /// Why dpkg cannot be used now (an interrupted run's journal), as the last inventory
    /// read found it.
    pub(crate) interrupted: Option<String>,
}

impl AptBackend {
    /// What an install or rollback answers without starting apt, when dpkg was interrupted.
    fn refused(&self) -> Option<RunInfo> {
        self.interrupted.as_ref().map(|message| RunInfo {
            exit_code: None,
            output_tail: Some(format!("{message}; nothing was installed")),
        })
    }
}

/// What an interrupted dpkg run means for the operator.
fn interrupted_message(journal: &[std::path::PathBuf]) -> String {
    format!(
        "dpkg was interrupted: {} unmerged journal entr{} in /var/lib/dpkg/updates (first `{}`); \
         dpkg's status may be behind what is on disk and apt refuses to install until \
         `dpkg --configure -a` is run on the host",
        journal.len(),
        if journal.len() == 1 { "y" } else { "ies" },
        journal
            .first()
            .and_then(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    )
}

impl AptBackend {
    /// Records the first time each candidate version (newer than what is installed) was
    /// seen: the Release date of its newest suite. On the very first run nothing is known
    /// (versions already published before the agent arrived count as "date unknown", which
    /// approves them without delay, as the original does on Debian and Ubuntu).
    fn apply_first_seen(&mut self) {
        let now = self.now;
        let release_dates = std::mem::take(&mut self.release_dates);
        let first_run = self.first_seen.is_empty();
        let installed: BTreeMap<(&str, &str), &DebVersion> = self
            .installed
            .iter()
            .map(|p| ((p.name.as_str(), p.arch.as_str()), &p.version))
            .collect();
        for (index, available) in self.available.iter_mut().enumerate() {
            let newer = installed
                .get(&(available.name.as_str(), available.arch.as_str()))
                .is_some_and(|v| available.version > **v);
            if !newer {
                continue;
            }
            let key = DebTarget::key(&available.name, &available.arch, &available.version);
            let recorded = self.first_seen.entry(key).or_insert_with(|| {
                if first_run {
                    None
                } else {
                    Some(
                        release_dates
                            .get(index)
                            .copied()
                            .flatten()
                            .unwrap_or(now)
                            .to_string(),
                    )
                }
            });
            available.first_seen = recorded.as_deref().and_then(|t| t.parse().ok());
        }
    }
}

impl Backend for AptBackend {
    fn refresh(&mut self, notes: &mut Vec<String>) {
        match pw_pkgmgr::apt::update(&self.settings) {
            Ok(run) if run.success() => {}
            Ok(run) => notes.push(format!(
                "`apt-get update` failed ({}); using the lists apt already has: {}",
                run.termination,
                run.stderr_tail.trim()
            )),
            Err(error) => notes.push(format!("`apt-get update` could not run: {error}")),
        }
    }

    fn load_catalog(&mut self, notes: &mut Vec<String>) -> Result<(), AgentError> {
        let lists = pw_pkgmgr::apt::read_lists(&self.root)
            .map_err(|e| AgentError::AptLists(e.to_string()))?;
        notes.extend(lists.diagnostics.iter().take(20).cloned());
        if lists.available.is_empty() {
            return Err(AgentError::NoRepositories);
        }
        self.release_dates = lists.release_dates();
        self.available = lists.available;
        Ok(())
    }

    fn read_inventory(&mut self, notes: &mut Vec<String>) -> Result<(), AgentError> {
        let journal = pw_pkgmgr::dpkg::interrupted_journal(&self.root)
            .map_err(|e| AgentError::Dpkg(e.to_string()))?;
        self.interrupted = (!journal.is_empty()).then(|| interrupted_message(&journal));
        if let Some(message) = &self.interrupted
            && !notes.contains(message)
        {
            notes.push(message.clone());
        }
        let inventory = pw_pkgmgr::dpkg::read_inventory(&self.root)
            .map_err(|e| AgentError::Dpkg(e.to_string()))?;
        self.installed = inventory.apt_installed();
        self.installed_debs = inventory.packages;
        if !self.release_dates.is_empty() {
            self.apply_first_seen();
        }
        Ok(())
    }

    fn installed_keys(&self) -> HashSet<String> {
        self.installed
            .iter()
            .map(|p| DebTarget::key(&p.name, &p.arch, &p.version))
            .collect()
    }

    fn evaluate(
        &self,
        baseline: &Baseline,
        now: Timestamp,
        pending: &[String],
        options: &EvaluateOptions,
    ) -> Evaluation {
        let pending: Vec<DebTarget> = pending
            .iter()
            .filter_map(|k| DebTarget::parse_key(k))
            .collect();
        pw_core::evaluate::apt::evaluate_apt(
            baseline,
            AptHost {
                installed: &self.installed,
                available: &self.available,
                pending_reboot: &pending,
            },
            &AptContext {
                product: self.product.clone(),
                native_arch: self.native_arch.clone(),
                now,
            },
            options,
        )
    }

    fn targets(
        &self,
        evaluation: &Evaluation,
        _override_list: Option<&OverrideList>,
    ) -> Vec<String> {
        pw_core::evaluate::apt::install_targets(evaluation)
            .iter()
            .map(|t| DebTarget::key(&t.name, &t.arch, &t.version))
            .collect()
    }

    fn install(&self, targets: &[String], notes: &mut Vec<String>) -> RunInfo {
        // apt would refuse anyway; say why in the failure, without starting it.
        if let Some(refused) = self.refused() {
            return refused;
        }
        let targets: Vec<DebTarget> = targets
            .iter()
            .filter_map(|k| DebTarget::parse_key(k))
            .collect();
        run_info(pw_pkgmgr::apt::install(&self.settings, &targets), notes)
    }

    fn downgrade(&self, targets: &[String], notes: &mut Vec<String>) -> RunInfo {
        if let Some(refused) = self.refused() {
            return refused;
        }
        let targets: Vec<DebTarget> = targets
            .iter()
            .filter_map(|k| DebTarget::parse_key(k))
            .collect();
        run_info(pw_pkgmgr::apt::downgrade(&self.settings, &targets), notes)
    }

    fn verify(&self, targets: &[String], _notes: &mut Vec<String>) -> (Vec<String>, Vec<String>) {
        let parsed: Vec<DebTarget> = targets
            .iter()
            .filter_map(|k| DebTarget::parse_key(k))
            .collect();
        let mut installed = Vec::new();
        let mut failed = Vec::new();
        for status in pw_pkgmgr::apt::verify(&parsed, &self.installed_debs) {
            let key = DebTarget::key(
                &status.target.name,
                &status.target.arch,
                &status.target.version,
            );
            match status.state {
                pw_pkgmgr::apt::DebTargetState::Installed => installed.push(key),
                _ => failed.push(key),
            }
        }
        (installed, failed)
    }

    fn reboot_reasons(
        &self,
        installed_now: &[String],
        _evaluation: &Evaluation,
        pending: &[String],
        extra: &[String],
    ) -> Vec<String> {
        let mut reasons = Vec::new();
        if let Ok(required) = pw_pkgmgr::apt::reboot_required(&self.root)
            && required.required
        {
            let packages = if required.packages.is_empty() {
                String::new()
            } else {
                format!(" ({})", required.packages.join(", "))
            };
            reasons.push(format!("/var/run/reboot-required is present{packages}"));
        }
        for key in installed_now {
            if self.key_needs_reboot(key, extra) {
                reasons.push(format!("{key} was installed and needs a reboot"));
            }
        }
        for key in pending {
            reasons.push(format!("{key} was installed earlier without a reboot"));
        }
        reasons
    }

    fn save_extra(&self, state_dir: &std::path::Path) -> Result<(), crate::state::StateError> {
        let bytes = serde_json::to_vec(&self.first_seen).map_err(|source| {
            crate::state::StateError::Corrupt {
                path: state_dir.join(crate::FIRST_SEEN_FILE),
                source,
            }
        })?;
        crate::state::write_atomic(&state_dir.join(crate::FIRST_SEEN_FILE), &bytes)?;
        Ok(())
    }

    fn inventory_upload(&self) -> Option<HostInventory> {
        Some(HostInventory {
            apt: Some(AptInventoryJson::from_core(
                &self.installed,
                &self.available,
                &self.native_arch,
            )),
            ..HostInventory::default()
        })
    }

    fn key_needs_reboot(&self, key: &str, extra: &[String]) -> bool {
        let name = key.split(':').next().unwrap_or(key);
        pw_core::apt::reboot::needs_reboot(name)
            || extra.iter().any(|p| reboot::name_matches(p, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_cache_file_names_are_plain_and_distinct() {
        assert_eq!(
            catalog_cache_file_name("amzn2-core", false),
            "amzn2-core.bin"
        );
        assert_eq!(
            catalog_cache_file_name("amzn2-core", true),
            "amzn2-core+deps.bin"
        );
        assert_eq!(catalog_cache_file_name("a.b_c", false), "a.b_c.bin");
        assert_eq!(catalog_cache_file_name(".x/y:z", false), "%2Ex%2Fy%3Az.bin");
        // An id that ends in `+deps` cannot collide with another id's dependencies file.
        assert_eq!(catalog_cache_file_name("a+deps", false), "a%2Bdeps.bin");
    }

    /// yum's `update-to` replaces a target that an available package obsoletes by that
    /// package (dnf installs the exact target instead, so this is set up in the rpm
    /// database directly): the target is gone, its obsoleter installed. Replaced, not Failed.
    #[test]
    fn a_target_replaced_by_its_obsoleter_is_not_failed() {
        let dir = tempfile::tempdir().unwrap();
        let rpms = pw_test_support::build_rpms(
            &[pw_test_support::RpmSpec::new("newname", "2.0-1").obsoletes("oldname < 2")],
            dir.path(),
        )
        .unwrap();
        let root = pw_test_support::InstallRoot::new().unwrap();
        root.rpm_install(&[&rpms[0]]).unwrap();
        let settings = root.settings();
        let backend = RpmBackend {
            installed: pw_pkgmgr::rpm::installed_packages(&settings).unwrap(),
            settings,
            catalog_cache_dir: dir.path().join("catalog"),
            needs_dependencies: false,
            product: "AmazonLinux2".to_owned(),
            family: pw_core::baseline::Family::Yum,
            packages: Vec::new(),
            advisories: Vec::new(),
            hidden: crate::visibility::Hidden::default(),
            catalog: None,
            providers: Vec::new(),
            focus_notes: false,
            inventory: None,
        };
        let target = Nevra::parse("oldname-0:1.1-1.noarch").unwrap().to_string();
        let missing = Nevra::parse("absent-0:1.1-1.noarch").unwrap().to_string();
        let mut notes = Vec::new();
        let (installed, failed) = backend.verify(&[target.clone(), missing.clone()], &mut notes);
        assert_eq!(installed, [target]);
        assert_eq!(failed, [missing]);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("was replaced by newname-2.0-1.noarch")),
            "{notes:?}"
        );
    }
}
