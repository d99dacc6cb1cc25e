//! The release a host with versioned repositories (Amazon Linux 2023) is locked to, read as
//! dnf reads it, and moving that lock.
//!
//! dnf's `$releasever` comes from, in order: `--releasever=` on its command line, the
//! variable file `/etc/dnf/vars/releasever` (then `/etc/yum/vars/releasever`), and the version
//! of the installed package that provides `system-release(releasever)`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Settings;
use crate::command::{self, CommandError, CommandSpec};

/// The variable files dnf reads `releasever` from, in order.
pub const RELEASEVER_FILES: [&str; 2] = ["/etc/dnf/vars/releasever", "/etc/yum/vars/releasever"];

/// Where the host's release lock comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockSource {
    /// A variable file (its path on the managed system).
    File(&'static str),
    /// The version of the package providing `system-release(releasever)`.
    SystemRelease,
    /// Neither says.
    None,
}

/// The host's `releasever` as dnf would compute it without a command-line override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReleasever {
    pub value: Option<String>,
    pub source: LockSource,
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseLockError {
    #[error("could not read {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write {}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not ask rpm which package provides `system-release(releasever)`")]
    Query(#[from] CommandError),
}

/// Reads the host's release lock under `settings.root`.
pub fn host_releasever(settings: &Settings) -> Result<HostReleasever, ReleaseLockError> {
    for file in RELEASEVER_FILES {
        let path = settings.root.join(file);
        match fs_err::read_to_string(&path) {
            Ok(text) => {
                let value = text.lines().next().unwrap_or("").trim().to_owned();
                if !value.is_empty() {
                    return Ok(HostReleasever {
                        value: Some(value),
                        source: LockSource::File(file),
                    });
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ReleaseLockError::Read { path, source }),
        }
    }
    let value = system_release_version(settings)?;
    Ok(HostReleasever {
        source: if value.is_some() {
            LockSource::SystemRelease
        } else {
            LockSource::None
        },
        value,
    })
}

/// The version of the installed package providing `system-release(releasever)`, if any.
pub fn system_release_version(settings: &Settings) -> Result<Option<String>, ReleaseLockError> {
    let query = CommandSpec::new("rpm")
        .args(settings.root.rpm_args())
        .args([
            "-q",
            "--whatprovides",
            "system-release(releasever)",
            "--queryformat",
            "%{VERSION}\\n",
        ])
        .timeout(settings.timeouts.query)
        .kill_grace(settings.timeouts.kill_grace);
    let output = command::run(&query)?;
    // rpm exits 1 with "no package provides ..." when none does.
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(output
        .success()
        .then(|| text.lines().next().map(str::trim).map(str::to_owned))
        .flatten()
        .filter(|v| !v.is_empty()))
}

/// Writes `/etc/dnf/vars/releasever` under `root` atomically (temporary file, fsync,
/// rename), so a plain `dnf` on the host reads the same release afterwards. Returns the path.
pub fn write_releasever(root: &crate::Root, value: &str) -> Result<PathBuf, ReleaseLockError> {
    let path = root.join(RELEASEVER_FILES[0]);
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let write_error = |source| ReleaseLockError::Write {
        path: path.clone(),
        source,
    };
    fs_err::create_dir_all(&dir).map_err(write_error)?;
    let mut file = tempfile::NamedTempFile::new_in(&dir).map_err(write_error)?;
    file.write_all(format!("{value}\n").as_bytes())
        .map_err(write_error)?;
    file.as_file().sync_all().map_err(write_error)?;
    let permissions = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    file.as_file()
        .set_permissions(permissions)
        .map_err(write_error)?;
    file.persist(&path)
        .map_err(|error| write_error(error.error))?;
    Ok(path)
}
