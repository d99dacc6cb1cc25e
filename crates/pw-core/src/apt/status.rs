//! dpkg's status database (`/var/lib/dpkg/status`): one paragraph per package dpkg knows,
//! with its selection and state (`Status: install ok installed`).
//!
//! Packages removed but not purged stay in the file as `config-files`; packages whose
//! maintainer script failed stay `half-configured` or `half-installed`. [`DpkgPackage`]
//! keeps them all; [`DpkgStatus::is_installed`] and [`DpkgStatus::files_present`] say which
//! count as installed.

use std::fmt;
use std::io::BufRead;

use crate::apt::control::{ControlReader, Paragraph};
use crate::apt::decompress::Decompressor;
use crate::apt::{AptDocument, AptError, Diagnostics, Parsed};
use crate::version::deb::DebVersion;

/// The selection state: what the administrator wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DpkgWant {
    Unknown,
    Install,
    Hold,
    Deinstall,
    Purge,
}

/// The package's state on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DpkgState {
    NotInstalled,
    ConfigFiles,
    HalfInstalled,
    Unpacked,
    HalfConfigured,
    TriggersAwaited,
    TriggersPending,
    Installed,
}

impl DpkgState {
    pub fn as_str(self) -> &'static str {
        match self {
            DpkgState::NotInstalled => "not-installed",
            DpkgState::ConfigFiles => "config-files",
            DpkgState::HalfInstalled => "half-installed",
            DpkgState::Unpacked => "unpacked",
            DpkgState::HalfConfigured => "half-configured",
            DpkgState::TriggersAwaited => "triggers-awaited",
            DpkgState::TriggersPending => "triggers-pending",
            DpkgState::Installed => "installed",
        }
    }

    pub fn parse(text: &str) -> Option<DpkgState> {
        Some(match text {
            "not-installed" => DpkgState::NotInstalled,
            "config-files" => DpkgState::ConfigFiles,
            "half-installed" => DpkgState::HalfInstalled,
            "unpacked" => DpkgState::Unpacked,
            "half-configured" => DpkgState::HalfConfigured,
            "triggers-awaited" => DpkgState::TriggersAwaited,
            "triggers-pending" => DpkgState::TriggersPending,
            "installed" => DpkgState::Installed,
            _ => return None,
        })
    }
}

impl fmt::Display for DpkgState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three words of the `Status` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DpkgStatus {
    pub want: DpkgWant,
    /// The `reinstreq` flag: a failed operation left the package needing a reinstall.
    pub reinstall_required: bool,
    pub state: DpkgState,
}

impl DpkgStatus {
    /// Parses `want flag state` (`install ok installed`, `hold reinstreq half-installed`).
    pub fn parse(text: &str) -> Option<DpkgStatus> {
        let mut words = text.split_ascii_whitespace();
        let want = match words.next()? {
            "unknown" => DpkgWant::Unknown,
            "install" => DpkgWant::Install,
            "hold" => DpkgWant::Hold,
            "deinstall" => DpkgWant::Deinstall,
            "purge" => DpkgWant::Purge,
            _ => return None,
        };
        let reinstall_required = match words.next()? {
            "ok" => false,
            // `hold` and `hold-reinstreq` are obsolete spellings dpkg still reads.
            "reinstreq" | "hold-reinstreq" => true,
            "hold" => false,
            _ => return None,
        };
        let state = DpkgState::parse(words.next()?)?;
        if words.next().is_some() {
            return None;
        }
        Some(DpkgStatus {
            want,
            reinstall_required,
            state,
        })
    }

    /// Fully installed and configured (pending triggers do not change the version).
    pub fn is_installed(self) -> bool {
        matches!(
            self.state,
            DpkgState::Installed | DpkgState::TriggersPending | DpkgState::TriggersAwaited
        ) && !self.reinstall_required
    }

    /// The package's files are on disk at its version, configured or not: what an inventory
    /// reports. Excludes `not-installed` and `config-files`.
    pub fn files_present(self) -> bool {
        self.state >= DpkgState::HalfInstalled
    }
}

/// One package of dpkg's status database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgPackage {
    pub name: String,
    pub status: DpkgStatus,
    /// `None` only for `not-installed` entries without a version.
    pub version: Option<DebVersion>,
    /// `None` only for entries that are not installed.
    pub architecture: Option<String>,
    pub multi_arch: Option<String>,
    pub source: Option<String>,
    pub priority: Option<String>,
    pub section: Option<String>,
    pub essential: bool,
}

impl DpkgPackage {
    /// The name dpkg gives this package's files in its `info` directory, without extension:
    /// `name:arch` for `Multi-Arch: same` packages, else `name`.
    pub fn info_name(&self) -> String {
        match (&self.architecture, self.multi_arch.as_deref()) {
            (Some(arch), Some("same")) => format!("{}:{arch}", self.name),
            _ => self.name.clone(),
        }
    }
}

fn status_package(paragraph: &Paragraph, diagnostics: &mut Diagnostics) -> Option<DpkgPackage> {
    let line = paragraph.line();
    let Some(name) = paragraph.get_non_empty("Package") else {
        diagnostics.push(
            line,
            None,
            "paragraph has no `Package` field; skipped".to_owned(),
        );
        return None;
    };
    let item = Some(name);
    let status = match paragraph
        .get_non_empty("Status")
        .map(|text| (text, DpkgStatus::parse(text)))
    {
        Some((_, Some(status))) => status,
        Some((text, None)) => {
            diagnostics.push(line, item, format!("bad `Status: {text}`; package skipped"));
            return None;
        }
        None => {
            diagnostics.push(line, item, "no `Status` field; package skipped".to_owned());
            return None;
        }
    };
    let version = match paragraph.get_non_empty("Version").map(DebVersion::parse) {
        Some(Ok(version)) => Some(version),
        Some(Err(error)) => {
            diagnostics.push(line, item, format!("{error}; package skipped"));
            return None;
        }
        None => None,
    };
    let architecture = paragraph.get_non_empty("Architecture").map(str::to_owned);
    if status.files_present() && (version.is_none() || architecture.is_none()) {
        diagnostics.push(
            line,
            item,
            format!(
                "package is {} but has no version or architecture; skipped",
                status.state
            ),
        );
        return None;
    }
    let owned = |field: &str| paragraph.get_non_empty(field).map(str::to_owned);
    Some(DpkgPackage {
        name: name.to_owned(),
        status,
        version,
        architecture,
        multi_arch: owned("Multi-Arch"),
        source: owned("Source").map(|source| match source.split_once('(') {
            Some((name, _)) => name.trim().to_owned(),
            None => source,
        }),
        priority: owned("Priority"),
        section: owned("Section"),
        essential: paragraph
            .get("Essential")
            .is_some_and(|value| value.eq_ignore_ascii_case("yes")),
    })
}

/// Streams dpkg's status file, calling `each` for every well-formed entry (installed or
/// not). The returned value carries the diagnostics.
pub fn parse_status_with<R: BufRead>(
    reader: R,
    mut each: impl FnMut(DpkgPackage),
) -> Result<Parsed<()>, AptError> {
    let document = AptDocument::DpkgStatus;
    let read_error = |source| AptError::Read { document, source };
    let reader = Decompressor::new(reader).map_err(read_error)?;
    let mut control = ControlReader::new(reader, document);
    let mut diagnostics = Diagnostics::new(document);
    while let Some(paragraph) = control.next_paragraph().map_err(read_error)? {
        if let Some(package) = status_package(&paragraph, &mut diagnostics) {
            each(package);
        }
    }
    let mut all = control.into_diagnostics();
    all.append(diagnostics);
    Ok(all.into_parsed(()))
}

/// Parses a whole dpkg status file; every entry is kept, whatever its state.
pub fn parse_status(bytes: &[u8]) -> Result<Parsed<Vec<DpkgPackage>>, AptError> {
    let mut packages = Vec::new();
    let parsed = parse_status_with(bytes, |package| packages.push(package))?;
    Ok(Parsed {
        value: packages,
        diagnostics: parsed.diagnostics,
        suppressed_diagnostics: parsed.suppressed_diagnostics,
    })
}
