//! The dpkg inventory of a root: what is installed, at which version, since when.
//!
//! The source of truth is dpkg's status database (`<root>/var/lib/dpkg/status`), read
//! directly: no process is started and nothing is locked, so a scan never waits for a
//! running apt. A package counts as installed when its files are on disk
//! ([`DpkgStatus::files_present`]: `installed`, pending triggers, `unpacked`,
//! `half-configured`, `half-installed`); `config-files` and `not-installed` entries are left
//! out.
//!
//! Install time (decided in `docs/apt.md`): the latest `status installed` line for exactly
//! that package, architecture and version in dpkg's log and its rotated copies
//! (`dpkg.log`, `dpkg.log.1`, `dpkg.log.2.gz`, ...), read in the root's time zone; when the
//! logs have rotated away, the modification time of the package's file list in
//! `<root>/var/lib/dpkg/info/`, which dpkg rewrites each time it unpacks a version.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use pw_core::apt::decompress::Decompressor;
use pw_core::apt::dpkg_log::DpkgLogInstalls;
use pw_core::apt::status::parse_status_with;
use pw_core::apt::{AptError, Diagnostic, DpkgPackage, DpkgStatus};
use pw_core::evaluate::apt::AptInstalled;
use pw_core::version::deb::DebVersion;

use crate::Root;
use crate::command::{CommandError, CommandSpec, run};

/// The most bytes read from one (decompressed) dpkg log.
const MAX_LOG_BYTES: u64 = 256 * 1024 * 1024;

/// Where the install time of a package came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstallTimeSource {
    /// A `status installed` line of dpkg's log.
    DpkgLog,
    /// The modification time of the package's `info/*.list` file.
    ListFile,
    /// Neither is available.
    Unknown,
}

/// One package dpkg has on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledDeb {
    pub name: String,
    pub arch: String,
    pub version: DebVersion,
    pub status: DpkgStatus,
    pub priority: Option<String>,
    pub section: Option<String>,
    pub source: Option<String>,
    pub install_time: Option<Timestamp>,
    pub install_time_source: InstallTimeSource,
}

impl InstalledDeb {
    /// The evaluation's view of this package.
    pub fn to_apt_installed(&self) -> AptInstalled {
        AptInstalled {
            name: self.name.clone(),
            arch: self.arch.clone(),
            version: self.version.clone(),
            install_time: self.install_time,
            configured: self.status.is_installed(),
        }
    }
}

/// The inventory of a root, with what was skipped on the way.
#[derive(Debug, Clone)]
pub struct DpkgInventory {
    /// Sorted by name, then architecture.
    pub packages: Vec<InstalledDeb>,
    /// Malformed paragraphs of the status file (skipped).
    pub diagnostics: Vec<Diagnostic>,
    /// The dpkg logs that were read.
    pub logs_read: Vec<PathBuf>,
}

impl DpkgInventory {
    /// The evaluation's view of the inventory.
    pub fn apt_installed(&self) -> Vec<AptInstalled> {
        self.packages
            .iter()
            .map(InstalledDeb::to_apt_installed)
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DpkgError {
    #[error("cannot read dpkg's status database")]
    Io(#[from] std::io::Error),
    #[error("dpkg's status database `{path}` is unreadable")]
    Parse {
        path: PathBuf,
        #[source]
        source: AptError,
    },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("`dpkg --print-architecture` printed `{0}`, not an architecture")]
    BadArchitecture(String),
}

/// `<root>/var/lib/dpkg`, dpkg's administrative directory.
pub fn admin_dir(root: &Root) -> PathBuf {
    root.join("/var/lib/dpkg")
}

/// `<root>/var/lib/dpkg/status`.
pub fn status_path(root: &Root) -> PathBuf {
    root.join("/var/lib/dpkg/status")
}

/// dpkg's journal of status changes not yet merged into `status`: the files of
/// `<root>/var/lib/dpkg/updates/` whose names are all digits. dpkg merges them at the end of
/// every run, so any left over mean a run was interrupted (killed, power lost) and `status`
/// may be behind what is on disk; apt then refuses to run ("dpkg was interrupted, you must
/// manually run 'dpkg --configure -a'"). Empty when dpkg finished cleanly.
pub fn interrupted_journal(root: &Root) -> Result<Vec<PathBuf>, DpkgError> {
    let dir = root.join("/var/lib/dpkg/updates");
    let entries = match fs_err::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error.into()),
    };
    let mut journal = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            journal.push(entry.path());
        }
    }
    journal.sort();
    Ok(journal)
}

/// Reads every entry of dpkg's status database, installed or not.
pub fn read_status(root: &Root) -> Result<(Vec<DpkgPackage>, Vec<Diagnostic>), DpkgError> {
    let path = status_path(root);
    let file = fs_err::File::open(&path)?;
    let mut packages = Vec::new();
    let parsed = parse_status_with(BufReader::with_capacity(256 * 1024, file), |package| {
        packages.push(package);
    })
    .map_err(|source| DpkgError::Parse {
        path: path.clone(),
        source,
    })?;
    Ok((packages, parsed.diagnostics))
}

/// The time zone dpkg wrote its log in: the root's `/etc/localtime`, else UTC.
pub fn root_time_zone(root: &Root) -> TimeZone {
    let path = root.join("/etc/localtime");
    match fs_err::read(&path) {
        Ok(bytes) => TimeZone::tzif("localtime", &bytes).unwrap_or_else(|error| {
            tracing::debug!(path = %path.display(), error = %error, "unusable time zone file; using UTC");
            TimeZone::UTC
        }),
        Err(_) => TimeZone::UTC,
    }
}

/// dpkg's logs in the root, newest first: `dpkg.log`, `dpkg.log.1`, `dpkg.log.2.gz`, ...
fn log_files(root: &Root) -> Vec<PathBuf> {
    let dir = root.join("/var/log");
    let Ok(entries) = fs_err::read_dir(&dir) else {
        return Vec::new();
    };
    let mut logs: BTreeMap<u32, PathBuf> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("dpkg.log") else {
            continue;
        };
        let number = if rest.is_empty() {
            Some(0)
        } else {
            let digits = rest.trim_start_matches('.');
            let digits = ["gz", "xz", "bz2", "zst"]
                .iter()
                .find_map(|suffix| digits.strip_suffix(&format!(".{suffix}")))
                .unwrap_or(digits);
            digits.parse::<u32>().ok().filter(|_| rest.starts_with('.'))
        };
        if let Some(number) = number {
            logs.insert(number, entry.path());
        }
    }
    logs.into_values().collect()
}

fn read_log(path: &Path) -> std::io::Result<String> {
    let file = fs_err::File::open(path)?;
    let mut reader = Decompressor::new(BufReader::new(file))?;
    let mut bytes = Vec::new();
    (&mut reader).take(MAX_LOG_BYTES).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads the inventory of `root`: dpkg's status database plus install times. Unreadable logs
/// or list files only lose install times.
pub fn read_inventory(root: &Root) -> Result<DpkgInventory, DpkgError> {
    let (entries, diagnostics) = read_status(root)?;
    let time_zone = root_time_zone(root);
    let mut installs = DpkgLogInstalls::new();
    let mut logs_read = Vec::new();
    for path in log_files(root) {
        match read_log(&path) {
            Ok(text) => {
                installs.add_log(&text, &time_zone);
                logs_read.push(path);
            }
            Err(error) => {
                tracing::debug!(path = %path.display(), error = %error, "cannot read dpkg log")
            }
        }
    }
    let info_dir = root.join("/var/lib/dpkg/info");
    let mut packages: Vec<InstalledDeb> = entries
        .into_iter()
        .filter(|entry| entry.status.files_present())
        .filter_map(|entry| {
            let (Some(version), Some(arch)) = (entry.version.clone(), entry.architecture.clone())
            else {
                return None;
            };
            let logged = installs.installed_at(&entry.name, &arch, &version.to_string());
            let (install_time, install_time_source) = match logged {
                Some(at) => (Some(at), InstallTimeSource::DpkgLog),
                None => match list_file_time(&info_dir, &entry) {
                    Some(at) => (Some(at), InstallTimeSource::ListFile),
                    None => (None, InstallTimeSource::Unknown),
                },
            };
            Some(InstalledDeb {
                name: entry.name,
                arch,
                version,
                status: entry.status,
                priority: entry.priority,
                section: entry.section,
                source: entry.source,
                install_time,
                install_time_source,
            })
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.arch.cmp(&b.arch)));
    Ok(DpkgInventory {
        packages,
        diagnostics,
        logs_read,
    })
}

fn list_file_time(info_dir: &Path, entry: &DpkgPackage) -> Option<Timestamp> {
    let path = info_dir.join(format!("{}.list", entry.info_name()));
    let modified = fs_err::metadata(path).ok()?.modified().ok()?;
    Timestamp::try_from(modified).ok()
}

/// dpkg's native architecture (`dpkg --print-architecture`), which is the running machine's
/// for any root.
pub fn native_architecture() -> Result<String, DpkgError> {
    let output = run(&CommandSpec::new("dpkg").arg("--print-architecture"))?.check()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(text)
    } else {
        Err(DpkgError::BadArchitecture(text))
    }
}
