//! Which repository packages the host's package manager can see, as its configuration says
//! (docs/package-managers.md, "What yum can see"): `includepkgs=` and `exclude=` of each
//! repository, `[main] exclude=`, yum's priorities plugin (a package name offered by a
//! repository of better priority hides that name in every worse one) and its versionlock
//! plugin. The agent evaluates only what the package manager would install, so such targets
//! are never attempted and never Failed; their items say which setting hides the approved
//! version.
//!
//! Policy: the host's configuration is respected, `[main] exclude=` included. SSM's own
//! yum path replaces `[main] exclude` with the baseline's rejected list; we keep it, because
//! whoever set it on the host meant it, and so that a scan agrees with what the host's own
//! `yum check-update` shows. To patch excluded packages, remove the exclude on the host.

use std::collections::HashMap;

use pw_core::evaluate::{Evaluation, Reason};
use pw_core::repo::Package;
use pw_pkgmgr::repo_cache::{CachedRepository, RepositoryConfig};
use pw_pkgmgr::yum_config::{PackagePatterns, PrioritiesPlugin, VersionLock};

/// Why versions of a (name, arch) are hidden, for the evaluation's reasons.
#[derive(Debug, Default, Clone)]
pub(crate) struct Hidden {
    by_name_arch: HashMap<(String, String), String>,
}

impl Hidden {
    /// Rewrites "approved version not available" into "excluded by the configuration" for
    /// every item whose versions the configuration hid.
    pub(crate) fn explain(&self, evaluation: &mut Evaluation) {
        if self.by_name_arch.is_empty() {
            return;
        }
        for item in &mut evaluation.items {
            if let Reason::ApprovedVersionUnavailable { version } = &item.reason
                && let Some(detail) = self
                    .by_name_arch
                    .get(&(item.name.clone(), item.arch.clone()))
            {
                item.reason = Reason::HiddenByPackageManager {
                    version: version.clone(),
                    detail: detail.clone(),
                };
            }
        }
    }

    fn record(&mut self, package: &Package, detail: impl FnOnce() -> String) {
        self.by_name_arch
            .entry((package.nevra.name.clone(), package.nevra.arch.clone()))
            .or_insert_with(detail);
    }
}

/// The filters of one configuration, applied repository by repository as the catalog loads.
pub(crate) struct Visibility {
    main_exclude: (PackagePatterns, Vec<String>, String),
    priorities: Option<PrioritiesPlugin>,
    versionlock: Option<VersionLock>,
    /// (priority, repository id) of every package kept so far, parallel to the kept order.
    origins: Vec<(u32, String)>,
    hidden: Hidden,
}

impl Visibility {
    pub(crate) fn new(config: &RepositoryConfig) -> Visibility {
        let main_file = config.main_file.as_ref().map_or_else(
            || "the main configuration".to_owned(),
            |f| f.display().to_string(),
        );
        Visibility {
            main_exclude: (
                PackagePatterns::new(&config.main_exclude),
                config.main_exclude.clone(),
                main_file,
            ),
            priorities: config.priorities,
            versionlock: config.versionlock.clone(),
            origins: Vec::new(),
            hidden: Hidden::default(),
        }
    }

    /// The packages of `repository` its own `includepkgs=` and `exclude=` and the main
    /// `exclude=` leave visible.
    pub(crate) fn repository(
        &mut self,
        repository: &CachedRepository,
        packages: Vec<Package>,
    ) -> Vec<Package> {
        let include = PackagePatterns::new(&repository.includepkgs);
        let exclude = PackagePatterns::new(&repository.exclude);
        let file = repository.config_file.display().to_string();
        let mut kept = Vec::with_capacity(packages.len());
        for package in packages {
            if !include.is_empty() && include.matches(&package.nevra).is_none() {
                self.hidden.record(&package, || {
                    format!(
                        "`includepkgs` of repository `{}` ({file}) does not list it",
                        repository.id
                    )
                });
                continue;
            }
            if let Some(index) = exclude.matches(&package.nevra) {
                self.hidden.record(&package, || {
                    format!(
                        "`exclude={}` of repository `{}` ({file})",
                        repository.exclude[index], repository.id
                    )
                });
                continue;
            }
            let (patterns, texts, main_file) = &self.main_exclude;
            if let Some(index) = patterns.matches(&package.nevra) {
                self.hidden.record(&package, || {
                    format!("`exclude={}` in [main] of {main_file}", texts[index])
                });
                continue;
            }
            self.origins
                .push((repository.priority, repository.id.clone()));
            kept.push(package);
        }
        kept
    }

    /// The whole catalog (every repository's kept packages, in order) after the plugins:
    /// priorities, then versionlock.
    pub(crate) fn finish(
        &mut self,
        packages: Vec<Package>,
        notes: &mut Vec<String>,
    ) -> Vec<Package> {
        let mut packages = packages;
        if let Some(plugin) = self.priorities
            && self.origins.len() == packages.len()
        {
            if plugin.check_obsoletes {
                notes.push("the priorities plugin's check_obsoletes is on; obsoletes are not read here, so packages that obsolete one of a better repository are not hidden".to_owned());
            }
            let key = |p: &Package| {
                if plugin.only_samearch {
                    (p.nevra.name.clone(), Some(p.nevra.arch.clone()))
                } else {
                    (p.nevra.name.clone(), None)
                }
            };
            let mut best: HashMap<(String, Option<String>), (u32, String)> = HashMap::new();
            for (package, (priority, id)) in packages.iter().zip(&self.origins) {
                let entry = best.entry(key(package)).or_insert((*priority, id.clone()));
                if *priority < entry.0 {
                    *entry = (*priority, id.clone());
                }
            }
            let origins = std::mem::take(&mut self.origins);
            let mut kept = Vec::with_capacity(packages.len());
            for (package, (priority, id)) in packages.into_iter().zip(origins) {
                let (best_priority, best_id) = &best[&key(&package)];
                if priority > *best_priority {
                    self.hidden.record(&package, || {
                        format!(
                            "the priorities plugin: repository `{best_id}` (priority {best_priority}) offers `{}`, so `{id}` (priority {priority}) is not used for it",
                            package.nevra.name
                        )
                    });
                    continue;
                }
                kept.push(package);
            }
            packages = kept;
        }
        if let Some(lock) = &self.versionlock {
            let locks = PackagePatterns::new(&lock.locks);
            let excludes = PackagePatterns::new(&lock.excludes);
            let locked_names: std::collections::HashSet<String> = lock
                .locks
                .iter()
                .filter_map(|entry| locked_name(entry))
                .collect();
            let file = lock.file.display().to_string();
            let mut kept = Vec::with_capacity(packages.len());
            for package in packages {
                if excludes.matches(&package.nevra).is_some() {
                    self.hidden
                        .record(&package, || format!("versionlock excludes it ({file})"));
                    continue;
                }
                if locked_names.contains(&package.nevra.name)
                    && locks.matches(&package.nevra).is_none()
                {
                    self.hidden.record(&package, || {
                        format!(
                            "versionlock holds `{}` at another version ({file})",
                            package.nevra.name
                        )
                    });
                    continue;
                }
                kept.push(package);
            }
            packages = kept;
        }
        packages
    }

    pub(crate) fn into_hidden(self) -> Hidden {
        self.hidden
    }
}

/// The package name of a versionlock entry `[EPOCH:]NAME-VERSION-RELEASE.ARCH`.
fn locked_name(entry: &str) -> Option<String> {
    let without_epoch = entry.split_once(':').map_or(entry, |(_, rest)| rest);
    let without_arch = without_epoch
        .rsplit_once('.')
        .map_or(without_epoch, |(n, _)| n);
    let (rest, _release) = without_arch.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versionlock_entries_name_their_package() {
        assert_eq!(
            locked_name("0:bash-4.2.46-34.amzn2.*").as_deref(),
            Some("bash")
        );
        assert_eq!(
            locked_name("kernel-devel-5.10.1-1.x86_64").as_deref(),
            Some("kernel-devel")
        );
        assert_eq!(locked_name("nonsense"), None);
    }
}
