//! apt on Debian and Ubuntu: reading the repository metadata apt keeps in its lists
//! directory, `apt-get update`, installing exact versions, verifying them against dpkg's
//! database, and reboot detection.
//!
//! Every apt command runs non-interactively: `DEBIAN_FRONTEND=noninteractive`,
//! `NEEDRESTART_MODE=a` (needrestart restarts services itself instead of asking),
//! `APT_LISTCHANGES_FRONTEND=none`, `UCF_FORCE_CONFFOLD=1`, dpkg's `--force-confdef
//! --force-confold` (keep changed configuration files, take the default elsewhere), `-y`,
//! and `-o DPkg::Lock::Timeout=N` so that a running apt or unattended-upgrades is waited
//! for, not failed on. `LC_ALL=C` comes from [`crate::command`].
//!
//! An alternative root (tests, containers) gets its own apt configuration file,
//! `<root>/etc/apt/patchwarden-root.conf`, passed through `APT_CONFIG` so that none of the
//! host's apt configuration applies. It points apt's `Dir` at the root, keeps
//! `/usr/bin/dpkg` as the dpkg binary and passes dpkg `--root`, `--admindir`, `--log` and
//! `--force-script-chrootless` (maintainer scripts run on the host with `DPKG_ROOT` set,
//! so the root needs no shell or libc of its own). See `docs/apt.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use pw_core::apt::lists::{self, IndexSet};
use pw_core::apt::packages::parse_packages_with;
use pw_core::apt::{AptError, Diagnostic, Origin, Release, parse_release};
use pw_core::evaluate::apt::{AptAvailable, DebTarget};

use crate::command::{CommandError, CommandSpec, run};
use crate::dpkg::InstalledDeb;
use crate::install::{OUTCOME_TAIL_BYTES, PackageManagerRun};
use crate::{Root, Timeouts};

/// The configuration file written into an alternative root.
pub const ROOT_CONFIG: &str = "/etc/apt/patchwarden-root.conf";

/// Everything the apt operations need to know about the node.
#[derive(Debug, Clone)]
pub struct AptSettings {
    pub root: Root,
    pub timeouts: Timeouts,
    /// How long apt waits for dpkg's lock held by another process.
    pub lock_timeout: Duration,
}

impl AptSettings {
    /// Default timeouts and a ten-minute lock wait.
    pub fn new(root: Root) -> AptSettings {
        AptSettings {
            root,
            timeouts: Timeouts::default(),
            lock_timeout: Duration::from_secs(10 * 60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AptCommandError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("cannot write apt's configuration for the root")]
    Io(#[from] std::io::Error),
    #[error(
        "the root `{0}` contains a quote or a line break, which apt's configuration cannot hold"
    )]
    UnsupportedRoot(PathBuf),
    #[error("there is nothing to install")]
    NoTargets,
    #[error("refusing to pass `{0}` to apt-get: it is not a plain package name and version")]
    UnsafeTarget(String),
}

/// `<root>/var/lib/apt/lists`.
pub fn lists_dir(root: &Root) -> PathBuf {
    root.join("/var/lib/apt/lists")
}

/// The text of the configuration file of an alternative root.
pub fn root_config(root: &Root) -> Result<String, AptCommandError> {
    let path = root.path().to_string_lossy();
    if path.contains(['"', '\n', '\r']) {
        return Err(AptCommandError::UnsupportedRoot(root.path().to_path_buf()));
    }
    let path = path.trim_end_matches('/');
    Ok(format!(
        "// Written by Patchwarden: apt and dpkg confined to the root {path}.\n\
         Dir \"{path}/\";\n\
         Dir::State::status \"{path}/var/lib/dpkg/status\";\n\
         Dir::Bin::dpkg \"/usr/bin/dpkg\";\n\
         DPkg::Options {{ \"--root={path}\"; \"--admindir={path}/var/lib/dpkg\"; \"--log={path}/var/log/dpkg.log\"; \"--force-script-chrootless\"; }};\n"
    ))
}

/// Writes the root's configuration file when it is missing or different; nothing for the
/// host.
fn prepare_root(root: &Root) -> Result<Option<PathBuf>, AptCommandError> {
    if root.is_host() {
        return Ok(None);
    }
    let text = root_config(root)?;
    let path = root.join(ROOT_CONFIG);
    if fs_err::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, text)?;
    }
    Ok(Some(path))
}

/// `apt-get` with the non-interactive environment, the lock timeout and, for an alternative
/// root, `APT_CONFIG`.
fn apt_get(settings: &AptSettings, config: Option<&PathBuf>) -> CommandSpec {
    let mut spec = CommandSpec::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("NEEDRESTART_MODE", "a")
        .env("APT_LISTCHANGES_FRONTEND", "none")
        .env("UCF_FORCE_CONFFOLD", "1")
        .args(["-q", "-y"])
        .arg("-o")
        .arg(format!(
            "DPkg::Lock::Timeout={}",
            settings.lock_timeout.as_secs()
        ));
    if let Some(config) = config {
        spec = spec.env("APT_CONFIG", config);
    }
    spec
}

/// `apt-get update`.
pub fn update_command(settings: &AptSettings) -> Result<CommandSpec, AptCommandError> {
    let config = config_path(&settings.root)?;
    Ok(apt_get(settings, config.as_ref())
        .arg("update")
        .timeout(settings.timeouts.refresh)
        .kill_grace(settings.timeouts.kill_grace))
}

/// `apt-get install --only-upgrade pkg:arch=version ...`: moves installed packages to exactly
/// these versions, never installs a package by name that is not installed (dependencies
/// are installed as apt resolves them), keeps changed configuration files.
pub fn install_command(
    settings: &AptSettings,
    targets: &[DebTarget],
) -> Result<CommandSpec, AptCommandError> {
    transaction_command(settings, targets, false)
}

/// `apt-get install --allow-downgrades pkg:arch=version ...`: puts back exactly these older
/// versions (a rollback), keeping changed configuration files.
pub fn downgrade_command(
    settings: &AptSettings,
    targets: &[DebTarget],
) -> Result<CommandSpec, AptCommandError> {
    transaction_command(settings, targets, true)
}

fn transaction_command(
    settings: &AptSettings,
    targets: &[DebTarget],
    downgrade: bool,
) -> Result<CommandSpec, AptCommandError> {
    if targets.is_empty() {
        return Err(AptCommandError::NoTargets);
    }
    let config = config_path(&settings.root)?;
    let mut spec = apt_get(settings, config.as_ref())
        .args([
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
        ])
        .args(if downgrade {
            ["install", "--allow-downgrades"]
        } else {
            ["install", "--only-upgrade"]
        });
    for target in targets {
        let text = target.apt_spec();
        let plain = !text.starts_with('-')
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.:~=_".contains(&b));
        if !plain {
            return Err(AptCommandError::UnsafeTarget(text));
        }
        spec = spec.arg(text);
    }
    Ok(spec
        .timeout(settings.timeouts.install)
        .kill_grace(settings.timeouts.kill_grace)
        .detached_output())
}

fn config_path(root: &Root) -> Result<Option<PathBuf>, AptCommandError> {
    if root.is_host() {
        return Ok(None);
    }
    root_config(root)?;
    Ok(Some(root.join(ROOT_CONFIG)))
}

fn run_apt(spec: &CommandSpec, root: &Root) -> Result<PackageManagerRun, AptCommandError> {
    prepare_root(root)?;
    let output = run(spec)?;
    let outcome = PackageManagerRun {
        stdout_tail: output.stdout_tail(OUTCOME_TAIL_BYTES),
        stderr_tail: output.stderr_tail(OUTCOME_TAIL_BYTES),
        argv: output.argv,
        termination: output.termination,
        duration: output.duration,
        lock_wait: Duration::ZERO,
        attempts: 1,
    };
    tracing::info!(
        argv = %crate::command::shell_words(&outcome.argv),
        termination = %outcome.termination,
        duration_ms = u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
        "apt-get finished"
    );
    Ok(outcome)
}

/// Runs `apt-get update`. A non-zero exit is returned, not an error: apt keeps the lists
/// it could refresh, and the caller decides.
pub fn update(settings: &AptSettings) -> Result<PackageManagerRun, AptCommandError> {
    run_apt(&update_command(settings)?, &settings.root)
}

/// Runs the install. A non-zero exit is returned, not an error: re-read dpkg's database and
/// [`verify`] to learn what changed.
pub fn install(
    settings: &AptSettings,
    targets: &[DebTarget],
) -> Result<PackageManagerRun, AptCommandError> {
    run_apt(&install_command(settings, targets)?, &settings.root)
}

/// Runs a rollback ([`downgrade_command`]). A non-zero exit is returned, not an error.
pub fn downgrade(
    settings: &AptSettings,
    targets: &[DebTarget],
) -> Result<PackageManagerRun, AptCommandError> {
    run_apt(&downgrade_command(settings, targets)?, &settings.root)
}

/// Where one target stands in dpkg's database after an install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebTargetState {
    /// Exactly the target version, fully configured.
    Installed,
    /// The target version is on disk but not configured (a maintainer script failed):
    /// dpkg's state, such as `half-configured`.
    Broken(String),
    /// Another version (`None`: the package is absent).
    NotInstalled(Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebTargetStatus {
    pub target: DebTarget,
    pub state: DebTargetState,
}

/// Compares targets with a freshly read inventory, on name and architecture (`all`
/// packages match any architecture of the target).
pub fn verify(targets: &[DebTarget], inventory: &[InstalledDeb]) -> Vec<DebTargetStatus> {
    targets
        .iter()
        .map(|target| {
            let found = inventory.iter().find(|p| {
                p.name == target.name
                    && (p.arch == target.arch || p.arch == "all" || target.arch == "all")
            });
            let state = match found {
                Some(p) if p.version == target.version && p.status.is_installed() => {
                    DebTargetState::Installed
                }
                Some(p) if p.version == target.version => {
                    DebTargetState::Broken(p.status.state.to_string())
                }
                Some(p) => DebTargetState::NotInstalled(Some(p.version.to_string())),
                None => DebTargetState::NotInstalled(None),
            };
            DebTargetStatus {
                target: target.clone(),
                state,
            }
        })
        .collect()
}

/// One suite of the lists directory, as read.
#[derive(Debug, Clone)]
pub struct SuiteIndex {
    /// The Release or InRelease file name.
    pub release_file: String,
    pub release: Release,
    /// The Packages files read for it.
    pub packages_files: Vec<String>,
    pub n_packages: usize,
}

/// What apt's lists directory offers.
#[derive(Debug, Clone, Default)]
pub struct AptLists {
    /// Every available version, with its origin (one entry per index that lists it).
    pub available: Vec<AptAvailable>,
    pub suites: Vec<SuiteIndex>,
    /// Packages files without a Release file (not used: their origin is unknown).
    pub orphans: Vec<String>,
    /// Problems in the files, each prefixed with the file name.
    pub diagnostics: Vec<String>,
}

impl AptLists {
    /// The `Date` of the newest Release file that offers each available version: what an
    /// agent records as `first_seen` the first time it sees a version.
    pub fn release_dates(&self) -> Vec<Option<Timestamp>> {
        self.available
            .iter()
            .map(|available| {
                self.suites
                    .iter()
                    .filter(|suite| {
                        available.origins.iter().any(|o| {
                            o.archive == suite.release.suite && o.origin == suite.release.origin
                        })
                    })
                    .filter_map(|suite| suite.release.date)
                    .max()
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AptListsError {
    #[error("cannot read apt's lists directory")]
    Io(#[from] std::io::Error),
}

fn diagnostic_line(file: &str, diagnostic: &Diagnostic) -> String {
    format!("{file}: {diagnostic}")
}

/// Reads apt's lists directory in `root` (read-only): every Release/InRelease file and the
/// Packages files that share its name prefix. A file that cannot be read or parsed is
/// reported in `diagnostics` and skipped.
pub fn read_lists(root: &Root) -> Result<AptLists, AptListsError> {
    let dir = lists_dir(root);
    let mut names: Vec<String> = fs_err::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let (sets, orphans) = lists::pair(&names);
    let mut result = AptLists {
        orphans,
        ..AptLists::default()
    };
    for IndexSet {
        release: release_file,
        packages,
    } in sets
    {
        let release = match fs_err::read(dir.join(&release_file))
            .map_err(|error| error.to_string())
            .and_then(|bytes| parse_release(&bytes).map_err(|error| error.to_string()))
        {
            Ok(parsed) => {
                result.diagnostics.extend(
                    parsed
                        .diagnostics
                        .iter()
                        .map(|d| diagnostic_line(&release_file, d)),
                );
                parsed.value
            }
            Err(message) => {
                result.diagnostics.push(format!(
                    "{release_file}: {message}; its indices are skipped"
                ));
                continue;
            }
        };
        let site = lists::site(&release_file);
        let prefix = lists::release_prefix(&release_file)
            .unwrap_or_default()
            .to_owned();
        let mut suite = SuiteIndex {
            release_file: release_file.clone(),
            release: release.clone(),
            packages_files: Vec::new(),
            n_packages: 0,
        };
        // One file per index: the same index kept in several compressions is read once.
        let mut stems: BTreeSet<String> = BTreeSet::new();
        for packages_file in packages {
            let stem = packages_file
                .split_once("_Packages")
                .map_or(packages_file.as_str(), |(stem, _)| stem)
                .to_owned();
            if !stems.insert(stem) {
                continue;
            }
            let origin = Origin::from_release(
                &release,
                site.as_deref(),
                lists::component(&packages_file, &prefix).as_deref(),
            );
            let path = dir.join(&packages_file);
            let file = match fs_err::File::open(&path) {
                Ok(file) => file,
                Err(error) => {
                    result
                        .diagnostics
                        .push(format!("{packages_file}: {error}; skipped"));
                    continue;
                }
            };
            let before = result.available.len();
            let parsed =
                parse_packages_with(BufReader::with_capacity(256 * 1024, file), |package| {
                    result
                        .available
                        .push(AptAvailable::from_package(&package, vec![origin.clone()]));
                });
            match parsed {
                Ok(parsed) => {
                    result.diagnostics.extend(
                        parsed
                            .diagnostics
                            .iter()
                            .map(|d| diagnostic_line(&packages_file, d)),
                    );
                }
                Err(error) => {
                    let error: AptError = error;
                    result.available.truncate(before);
                    result
                        .diagnostics
                        .push(format!("{packages_file}: {error}; skipped"));
                    continue;
                }
            }
            suite.n_packages += result.available.len() - before;
            suite.packages_files.push(packages_file);
        }
        result.suites.push(suite);
    }
    Ok(result)
}

/// The reboot request of a Debian or Ubuntu root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RebootRequired {
    /// `/var/run/reboot-required` (or `/run/reboot-required`) exists.
    pub required: bool,
    /// The packages listed in `reboot-required.pkgs`.
    pub packages: Vec<String>,
}

/// Reads `<root>/run/reboot-required[.pkgs]`, falling back to `<root>/var/run/...` (the
/// same directory on a real host, where `/var/run` links to `/run`).
pub fn reboot_required(root: &Root) -> Result<RebootRequired, std::io::Error> {
    let mut result = RebootRequired::default();
    for dir in ["/run", "/var/run"] {
        let flag = root.join(format!("{dir}/reboot-required"));
        match fs_err::metadata(&flag) {
            Ok(_) => result.required = true,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        match fs_err::read_to_string(root.join(format!("{dir}/reboot-required.pkgs"))) {
            Ok(text) => {
                for name in pw_core::apt::reboot::parse_reboot_required_pkgs(&text) {
                    if !result.packages.contains(&name) {
                        result.packages.push(name);
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(result)
}

/// `apt-get -s upgrade` (a simulation: nothing changes, no lock is taken), for `patchwarden
/// agent compare`: what apt itself would upgrade, with the origins of each new version.
pub fn simulate_upgrade_command(settings: &AptSettings) -> Result<CommandSpec, AptCommandError> {
    let config = config_path(&settings.root)?;
    Ok(apt_get(settings, config.as_ref())
        .args(["-s", "-o", "Debug::NoLocking=1", "upgrade"])
        .timeout(settings.timeouts.refresh)
        .kill_grace(settings.timeouts.kill_grace))
}

/// The security upgrades of `apt-get -s upgrade`, `name.arch` → version: its `Inst NAME [OLD]
/// (NEW ORIGIN, ... [ARCH])` lines whose origins name a security archive (`-security`,
/// `Debian-Security`), as docs/apt.md defines a security update. apt has no machine format
/// for this; the simulation's `Inst` lines are the stable part of its output, parsed only to
/// compare.
pub fn security_upgrades(
    settings: &AptSettings,
) -> Result<BTreeMap<String, String>, AptCommandError> {
    let output = run(&simulate_upgrade_command(settings)?)?.check()?;
    Ok(parse_simulated_security(&String::from_utf8_lossy(
        &output.stdout,
    )))
}

/// See [`security_upgrades`].
pub fn parse_simulated_security(text: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("Inst ") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once(' ') else {
            continue;
        };
        let Some(open) = rest.find('(') else { continue };
        let Some(close) = rest.rfind(')') else {
            continue;
        };
        let inner = &rest[open + 1..close];
        let Some((version, origins)) = inner.split_once(' ') else {
            continue;
        };
        let arch = origins
            .rsplit_once('[')
            .and_then(|(_, a)| a.strip_suffix(']'))
            .unwrap_or("");
        if origins.to_ascii_lowercase().contains("security") {
            let name = name.split_once(':').map_or(name, |(n, _)| n);
            found.insert(format!("{name}.{arch}"), version.to_owned());
        }
    }
    found
}

#[cfg(test)]
mod simulate_tests {
    use super::*;

    #[test]
    fn security_lines_of_a_simulated_upgrade() {
        let text = "Reading package lists...\n\
Inst openssl [3.0.1-1] (3.0.2-1 Debian-Security:12/bookworm-security [amd64])\n\
Inst curl [7.1-1] (7.2-1 Debian:12.4/bookworm [amd64])\n\
Inst libc6:i386 [2.36-9] (2.36-9+deb12u4 Debian:12.5/stable, Debian-Security:12/stable-security [i386])\n\
Conf openssl (3.0.2-1 Debian-Security:12/bookworm-security [amd64])\n";
        let found = parse_simulated_security(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found["openssl.amd64"], "3.0.2-1");
        assert_eq!(found["libc6.i386"], "2.36-9+deb12u4");
    }
}
