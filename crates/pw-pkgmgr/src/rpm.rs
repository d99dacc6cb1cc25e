//! The installed-package inventory, read from the rpm database with
//! `rpm -qa --queryformat` (a machine format we choose), and its parser.

use std::path::PathBuf;

use jiff::Timestamp;
use pw_core::nevra::Nevra;
use pw_core::version::rpm::Evr;

use crate::Settings;
use crate::command::{self, CommandError, CommandSpec};

/// The query format: one package per line, tab-separated. `EPOCHNUM` prints 0 for a package
/// without an epoch, where `EPOCH` would print `(none)`.
pub const QUERY_FORMAT: &str =
    "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n";

/// One package in the rpm database (the core's type: the evaluator takes it as is).
pub use pw_core::evaluate::InstalledPackage;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("could not read the rpm database")]
    Command(#[from] CommandError),
    #[error("could not parse the output of `rpm -qa`")]
    Parse(#[from] InventoryParseError),
    /// rpm reports an empty list, successfully, for a root or database that does not exist;
    /// an agent must not take that for "nothing is installed".
    #[error("there is no rpm database at {} (rpm's `%_dbpath` under the root)", path.display())]
    NoDatabase { path: PathBuf },
}

/// A line of an inventory that is not `name TAB epoch TAB version TAB release TAB arch
/// [TAB installtime]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inventory line {line}: {reason}: `{text}`")]
pub struct InventoryParseError {
    /// 1-based.
    pub line: usize,
    pub text: String,
    pub reason: String,
}

/// The `rpm` argv for the inventory of this root (`rpm [--root DIR] -qa --queryformat …`).
pub fn inventory_command(settings: &Settings) -> CommandSpec {
    CommandSpec::new("rpm")
        .args(settings.root.rpm_args())
        .args(["-qa", "--queryformat", QUERY_FORMAT])
        .timeout(settings.timeouts.query)
        .kill_grace(settings.timeouts.kill_grace)
}

/// Every installed package except the `gpg-pubkey` pseudo-packages, in database order.
pub fn installed_packages(settings: &Settings) -> Result<Vec<InstalledPackage>, InventoryError> {
    // First, and not beside the listing: `rpm -qa` creates a missing database directory,
    // and then lists nothing and succeeds.
    database_dir(settings)?;
    let output = command::run(&inventory_command(settings))?.check()?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(parse_rpm_inventory(&text)?)
}

/// The rpm database directory under the root (`%_dbpath`: `/var/lib/rpm` on Red Hat
/// systems, `~/.rpmdb` with Debian's rpm), required to exist.
pub fn database_dir(settings: &Settings) -> Result<PathBuf, InventoryError> {
    let eval = CommandSpec::new("rpm")
        .args(["--eval", "%{_dbpath}"])
        .timeout(settings.timeouts.query)
        .kill_grace(settings.timeouts.kill_grace);
    let output = command::run(&eval)?.check()?;
    let dbpath = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let path = settings.root.join(&dbpath);
    let is_dir = fs_err::metadata(&path).is_ok_and(|m| m.is_dir());
    if dbpath.starts_with('/') && is_dir {
        Ok(path)
    } else {
        Err(InventoryError::NoDatabase { path })
    }
}

/// Parses the inventory format of [`QUERY_FORMAT`]. The install-time column is optional, so
/// hand-written inventory files (`patchwarden evaluate --inventory FILE`) may leave it out.
/// Empty lines and lines starting with `#` are skipped, and so are `gpg-pubkey` entries,
/// which rpm lists for imported signing keys.
pub fn parse_rpm_inventory(text: &str) -> Result<Vec<InstalledPackage>, InventoryParseError> {
    let mut packages = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |reason: String| InventoryParseError {
            line: index + 1,
            text: line.to_owned(),
            reason,
        };
        let fields: Vec<&str> = line.split('\t').collect();
        let (name, epoch, version, release, arch, install_time) = match fields[..] {
            [name, epoch, version, release, arch] => (name, epoch, version, release, arch, None),
            [name, epoch, version, release, arch, time] => {
                (name, epoch, version, release, arch, Some(time))
            }
            _ => {
                return Err(error(format!(
                    "expected 5 or 6 tab-separated fields, found {}",
                    fields.len()
                )));
            }
        };
        if name == "gpg-pubkey" {
            continue;
        }
        for (what, value) in [
            ("name", name),
            ("version", version),
            ("release", release),
            ("arch", arch),
        ] {
            if value.is_empty() || value.contains(char::is_whitespace) {
                return Err(error(format!("the {what} is empty or contains spaces")));
            }
        }
        let epoch = match epoch {
            "" | "(none)" => 0,
            digits => digits
                .parse::<u32>()
                .map_err(|_| error(format!("the epoch `{digits}` is not a number")))?,
        };
        let install_time = match install_time {
            None | Some("" | "(none)") => None,
            Some(seconds) => {
                let seconds = seconds
                    .parse::<i64>()
                    .map_err(|_| error(format!("the install time `{seconds}` is not a number")))?;
                let timestamp = Timestamp::from_second(seconds)
                    .map_err(|_| error(format!("the install time `{seconds}` is out of range")))?;
                Some(timestamp)
            }
        };
        packages.push(InstalledPackage {
            nevra: Nevra {
                name: name.to_owned(),
                evr: Evr {
                    epoch,
                    version: version.to_owned(),
                    release: release.to_owned(),
                },
                arch: arch.to_owned(),
            },
            install_time,
        });
    }
    Ok(packages)
}

/// `name-epoch:version-release.arch`, the form dnf, yum and rpm all accept for one exact
/// package. The epoch is always written, so `0:` never leaves room for a guess.
pub fn nevra_spec(nevra: &Nevra) -> String {
    format!(
        "{}-{}:{}-{}.{}",
        nevra.name, nevra.evr.epoch, nevra.evr.version, nevra.evr.release, nevra.arch
    )
}

/// What the installed packages obsolete: `(obsoleted name, obsoleting package)` pairs, the
/// package as `name-version-release.arch`. A target that yum or dnf replaced by its
/// obsoleter (`update-to` does that) shows here.
pub fn obsoleted_by(settings: &Settings) -> Result<Vec<(String, String)>, InventoryError> {
    database_dir(settings)?;
    let spec = CommandSpec::new("rpm")
        .args(settings.root.rpm_args())
        .args([
            "-qa",
            "--queryformat",
            "[%{OBSOLETENAME}\\t%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n]",
        ])
        .timeout(settings.timeouts.query)
        .kill_grace(settings.timeouts.kill_grace);
    let output = command::run(&spec)?.check()?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(obsoleted, by)| (obsoleted.to_owned(), by.to_owned()))
        .collect())
}
