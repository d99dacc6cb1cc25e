//! The package-manager layer of the agent: reads the rpm database, refreshes and locates the
//! repository metadata dnf or yum keeps in its cache, installs exact versions through the
//! node's own package manager, and runs the reboot command and hooks.
//!
//! **Architecture invariant:** this is the only crate that starts processes, and it does so
//! only through [`command::run`], which sets `LC_ALL=C`, a null stdin, a timeout and captured
//! output. It reads machine interfaces (`rpm -qa --queryformat`, repomd files, `/proc/stat`,
//! `/etc/os-release`, exit codes), never the human tables dnf or yum print. It makes no patch
//! decisions: those live in `pw-core`. See `docs/package-managers.md`.

pub mod apt;
pub mod command;
pub mod dpkg;
pub mod hooks;
pub mod host;
pub mod install;
pub mod lock;
pub mod owners;
pub mod reference;
pub mod release;
pub mod repo_cache;
pub mod root;
pub mod rpm;
pub mod yum_config;

use std::time::Duration;

pub use root::Root;

/// The rpm front end that resolves dependencies and installs: dnf (Amazon Linux 2023,
/// RHEL 8+ and rebuilds) or yum (Amazon Linux 2, RHEL/CentOS/Oracle 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageManager {
    Dnf,
    Yum,
}

impl PackageManager {
    pub fn program(self) -> &'static str {
        match self {
            PackageManager::Dnf => "dnf",
            PackageManager::Yum => "yum",
        }
    }

    /// Where the program is on `PATH`, if it is there at all. The agent drives the host's
    /// package manager (an installroot's too: `dnf --installroot` runs the host's dnf), so a
    /// missing one is named in errors instead of surfacing as an empty cache.
    pub fn locate(self) -> Option<std::path::PathBuf> {
        locate_program(self.program())
    }
}

/// The first executable file called `name` in a directory of `PATH`.
pub fn locate_program(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Everything the package-manager operations need to know about the node.
#[derive(Debug, Clone)]
pub struct Settings {
    pub package_manager: PackageManager,
    pub root: Root,
    /// `--releasever=`; `None` lets the package manager detect it (right on a real host;
    /// an empty installroot has nothing to detect it from, which is only a warning).
    pub releasever: Option<String>,
    pub timeouts: Timeouts,
    pub lock_wait: LockWait,
    /// Package patterns the install must never bring in (`--exclude=`), used for a
    /// baseline's rejected patches under BLOCK.
    pub excludes: Vec<String>,
}

impl Settings {
    /// Default timeouts and lock wait for this package manager and root.
    pub fn new(package_manager: PackageManager, root: Root) -> Settings {
        Settings {
            package_manager,
            root,
            releasever: None,
            timeouts: Timeouts::default(),
            lock_wait: LockWait::default(),
            excludes: Vec::new(),
        }
    }
}

/// Time limits, per command run. A command that outlives its limit gets `SIGTERM`, then
/// `SIGKILL` after `kill_grace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `rpm -qa` and other read-only queries.
    pub query: Duration,
    /// `dnf makecache` / `yum makecache`, which may download metadata.
    pub refresh: Duration,
    /// One install run (downloads and the rpm transaction).
    pub install: Duration,
    pub kill_grace: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            query: Duration::from_secs(5 * 60),
            refresh: Duration::from_secs(30 * 60),
            install: Duration::from_secs(2 * 60 * 60),
            kill_grace: Duration::from_secs(30),
        }
    }
}

/// How long to wait for another package-manager process to release its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockWait {
    /// Total time spent waiting for locks, across retries, before giving up.
    pub timeout: Duration,
    /// How often a held lock is checked again.
    pub poll_interval: Duration,
}

impl Default for LockWait {
    fn default() -> LockWait {
        LockWait {
            timeout: Duration::from_secs(10 * 60),
            poll_interval: Duration::from_secs(1),
        }
    }
}
