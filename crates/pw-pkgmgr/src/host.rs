//! Facts about the node that come from files: boot time (`/proc/stat`) and the operating
//! system with its product string (`/etc/os-release`).

use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::{PackageManager, Root};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("could not read {}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} has no valid `btime` line", path.display())]
    NoBootTime { path: PathBuf },
    #[error("{}: {source}", path.display())]
    OsRelease {
        path: PathBuf,
        source: OsReleaseError,
    },
}

/// When the node booted, from the `btime` line of `<proc_dir>/stat`. Pass `/proc` on a real
/// host; tests pass a directory with a prepared `stat` file.
pub fn boot_time(proc_dir: &Path) -> Result<Timestamp, HostError> {
    let path = proc_dir.join("stat");
    let text = fs_err::read_to_string(&path).map_err(|source| HostError::Read {
        path: path.clone(),
        source,
    })?;
    parse_boot_time(&text).ok_or(HostError::NoBootTime { path })
}

/// The `btime <seconds since the epoch>` line of `/proc/stat`.
pub fn parse_boot_time(proc_stat: &str) -> Option<Timestamp> {
    proc_stat.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next() != Some("btime") {
            return None;
        }
        let seconds = words.next()?.parse::<i64>().ok()?;
        if words.next().is_some() {
            return None;
        }
        Timestamp::from_second(seconds).ok()
    })
}

/// The operating system of a node, as the baseline model names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOs {
    /// The API spelling of the operating system: `AMAZON_LINUX_2`, `REDHAT_ENTERPRISE_LINUX`, …
    pub operating_system: &'static str,
    /// The product a baseline's `PRODUCT` filter matches: `AmazonLinux2`,
    /// `RedhatEnterpriseLinux9.3`, `Ubuntu22.04`, …
    pub product: String,
    /// `ID` and `VERSION_ID` from os-release, as written.
    pub id: String,
    pub version_id: String,
    /// The rpm front end of this system, or `None` for apt systems.
    pub package_manager: Option<PackageManager>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OsReleaseError {
    #[error("line {line} is not `KEY=value`: `{text}`")]
    Syntax { line: usize, text: String },
    #[error("there is no `ID=` line")]
    NoId,
    #[error("unsupported operating system `{id}` (`VERSION_ID={version_id}`)")]
    Unsupported { id: String, version_id: String },
}

/// Reads `<root>/etc/os-release`, or `<root>/usr/lib/os-release` when the first is absent.
pub fn host_os(root: &Root) -> Result<HostOs, HostError> {
    let mut last_error = None;
    for candidate in ["/etc/os-release", "/usr/lib/os-release"] {
        let path = root.join(candidate);
        match fs_err::read_to_string(&path) {
            Ok(text) => {
                return parse_os_release(&text)
                    .map_err(|source| HostError::OsRelease { path, source });
            }
            Err(source) if source.kind() == io::ErrorKind::NotFound => {
                // Name the usual place, /etc/os-release, when neither file exists.
                if last_error.is_none() {
                    last_error = Some(HostError::Read { path, source });
                }
            }
            Err(source) => return Err(HostError::Read { path, source }),
        }
    }
    Err(last_error.expect("the candidate list is not empty"))
}

/// Classifies an os-release file (see os-release(5)).
pub fn parse_os_release(text: &str) -> Result<HostOs, OsReleaseError> {
    let mut id = None;
    let mut version_id = String::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw_value)) = line.split_once('=') else {
            return Err(OsReleaseError::Syntax {
                line: index + 1,
                text: line.to_owned(),
            });
        };
        let value = unquote(raw_value.trim());
        match key.trim() {
            "ID" => id = Some(value),
            "VERSION_ID" => version_id = value,
            _ => {}
        }
    }
    let id = id.ok_or(OsReleaseError::NoId)?;
    classify(&id, &version_id)
}

/// Removes one level of shell quoting: `"a\"b"` → `a"b`, `'x'` → `x`.
fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && bytes[0] == bytes[bytes.len() - 1] && matches!(bytes[0], b'"' | b'\'') {
        let inner = &value[1..value.len() - 1];
        if bytes[0] == b'\'' {
            return inner.to_owned();
        }
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    value.to_owned()
}

fn classify(id: &str, version_id: &str) -> Result<HostOs, OsReleaseError> {
    let major: Option<u32> = version_id.split('.').next().and_then(|m| m.parse().ok());
    let host = |operating_system: &'static str, product_prefix: &str, package_manager| HostOs {
        operating_system,
        product: format!("{product_prefix}{version_id}"),
        id: id.to_owned(),
        version_id: version_id.to_owned(),
        package_manager,
    };
    // RHEL-like systems moved from yum to dnf with version 8.
    let rhel_like = |major: Option<u32>| match major {
        Some(major) if major <= 7 => Some(PackageManager::Yum),
        _ => Some(PackageManager::Dnf),
    };
    let os = match (id, version_id) {
        ("amzn", "2") => host("AMAZON_LINUX_2", "AmazonLinux", Some(PackageManager::Yum)),
        ("amzn", "2022") => host(
            "AMAZON_LINUX_2022",
            "AmazonLinux",
            Some(PackageManager::Dnf),
        ),
        ("amzn", "2023") => host(
            "AMAZON_LINUX_2023",
            "AmazonLinux",
            Some(PackageManager::Dnf),
        ),
        // Amazon Linux 1 versions are dates such as 2018.03.
        ("amzn", version) if version.contains('.') => {
            host("AMAZON_LINUX", "AmazonLinux", Some(PackageManager::Yum))
        }
        ("rhel", _) => host(
            "REDHAT_ENTERPRISE_LINUX",
            "RedhatEnterpriseLinux",
            rhel_like(major),
        ),
        ("centos", _) => host("CENTOS", "CentOS", rhel_like(major)),
        ("ol", _) => host("ORACLE_LINUX", "OracleLinux", rhel_like(major)),
        ("rocky", _) => host("ROCKY_LINUX", "RockyLinux", Some(PackageManager::Dnf)),
        ("almalinux", _) => host("ALMA_LINUX", "AlmaLinux", Some(PackageManager::Dnf)),
        ("debian", _) => host("DEBIAN", "Debian", None),
        ("ubuntu", _) => host("UBUNTU", "Ubuntu", None),
        _ => {
            return Err(OsReleaseError::Unsupported {
                id: id.to_owned(),
                version_id: version_id.to_owned(),
            });
        }
    };
    Ok(os)
}

/// Whether this process runs as root (effective uid 0): the package managers refresh the
/// system's cache and install only then.
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}
