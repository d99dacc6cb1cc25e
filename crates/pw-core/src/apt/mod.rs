//! Debian and Ubuntu metadata as apt and dpkg keep it: the control format (deb822) and the
//! documents written in it, `Release`/`InRelease`, `Packages` indices and dpkg's `status`
//! database, plus dpkg's log and the file-name conventions of apt's lists directory.
//!
//! Parsers take bytes (a [`std::io::BufRead`] or a slice); compression (gzip, xz, bzip2, zstd,
//! lz4) is detected by magic bytes, see [`decompress`]. Fetching, signature checking and
//! reading files are the caller's job: apt has already verified what lies in its lists
//! directory, so an `InRelease` file's clear-sign armour is only stripped here.
//!
//! Error model (style rule R4): a malformed paragraph is skipped and reported as a
//! [`Diagnostic`] with its line; only input that cannot be read at all is an [`AptError`].
//! Nothing here panics on bad input. See `docs/apt.md`.

pub mod control;
pub mod decompress;
pub mod dpkg_log;
pub mod lists;
pub mod origin;
pub mod packages;
pub mod reboot;
pub mod release;
pub mod status;

use std::fmt;
use std::io;

pub use crate::apt::control::{ControlReader, Paragraph};
pub use crate::apt::origin::Origin;
pub use crate::apt::packages::{DebPackage, Relation, RelationOp, parse_packages};
pub use crate::apt::release::{Release, ReleaseFile, parse_release};
pub use crate::apt::status::{DpkgPackage, DpkgState, DpkgStatus, DpkgWant, parse_status};

/// How many diagnostics one parse keeps; past this only a count is kept.
pub const MAX_DIAGNOSTICS: usize = 1000;

/// Which document a diagnostic or error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AptDocument {
    /// Control data of unspecified kind.
    Control,
    Release,
    Packages,
    DpkgStatus,
}

impl AptDocument {
    /// The conventional name, used in messages.
    pub fn name(self) -> &'static str {
        match self {
            AptDocument::Control => "control data",
            AptDocument::Release => "Release",
            AptDocument::Packages => "Packages",
            AptDocument::DpkgStatus => "dpkg status",
        }
    }
}

impl fmt::Display for AptDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something wrong with one paragraph (or one field of it); the paragraph or field was
/// skipped and parsing went on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub document: AptDocument,
    /// 1-based line (of the decompressed, unarmoured text) where the problem is.
    pub line: u64,
    /// The package the paragraph describes, when known.
    pub item: Option<String>,
    /// What is wrong and what was done about it, lower case.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (line {})", self.document, self.line)?;
        if let Some(item) = &self.item {
            write!(f, ", {item}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A parse result: the value plus what was skipped on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    pub value: T,
    /// At most [`MAX_DIAGNOSTICS`] diagnostics, in document order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many diagnostics were dropped past [`MAX_DIAGNOSTICS`].
    pub suppressed_diagnostics: u64,
}

/// Collects diagnostics up to [`MAX_DIAGNOSTICS`].
#[derive(Debug, Clone)]
pub(crate) struct Diagnostics {
    document: AptDocument,
    kept: Vec<Diagnostic>,
    suppressed: u64,
}

impl Diagnostics {
    pub(crate) fn new(document: AptDocument) -> Diagnostics {
        Diagnostics {
            document,
            kept: Vec::new(),
            suppressed: 0,
        }
    }

    pub(crate) fn push(&mut self, line: u64, item: Option<&str>, message: String) {
        if self.kept.len() >= MAX_DIAGNOSTICS {
            self.suppressed += 1;
            return;
        }
        self.kept.push(Diagnostic {
            document: self.document,
            line,
            item: item.map(str::to_owned),
            message,
        });
    }

    pub(crate) fn append(&mut self, other: Diagnostics) {
        for diagnostic in other.kept {
            if self.kept.len() >= MAX_DIAGNOSTICS {
                self.suppressed += 1;
            } else {
                self.kept.push(diagnostic);
            }
        }
        self.suppressed += other.suppressed;
    }

    /// Finishes: diagnostics in line order (paragraph-level and field-level ones were
    /// collected separately).
    pub(crate) fn into_parsed<T>(mut self, value: T) -> Parsed<T> {
        self.kept.sort_by_key(|diagnostic| diagnostic.line);
        Parsed {
            value,
            diagnostics: self.kept,
            suppressed_diagnostics: self.suppressed,
        }
    }
}

/// Input that cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum AptError {
    /// Reading or decompressing failed (a truncated or corrupt file, typically).
    #[error("{document}: failed to read or decompress the data")]
    Read {
        document: AptDocument,
        #[source]
        source: io::Error,
    },
    /// An `InRelease` file whose clear-sign armour is broken.
    #[error("Release: bad clear-signed armour: {reason}")]
    Armour { reason: &'static str },
    /// A Release file without any field.
    #[error("Release: no paragraph found")]
    EmptyRelease,
}
