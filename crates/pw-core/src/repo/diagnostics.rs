//! Diagnostics (a skipped package, an unparsable date) and whole-document errors of the
//! metadata parsers.

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// How many diagnostics one parse keeps; past this only a count is kept, so a document with
/// a million broken entries still parses in bounded memory.
pub const MAX_DIAGNOSTICS: usize = 1000;

/// Which metadata document a diagnostic or error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    Repomd,
    Primary,
    PrimaryDb,
    Updateinfo,
    /// Amazon Linux 2023's release metadata (`releasemd.xml`).
    ReleaseMd,
}

impl DocumentKind {
    /// The conventional file name, used in messages.
    pub fn file_name(self) -> &'static str {
        match self {
            DocumentKind::Repomd => "repomd.xml",
            DocumentKind::Primary => "primary.xml",
            DocumentKind::PrimaryDb => "primary.sqlite",
            DocumentKind::Updateinfo => "updateinfo.xml",
            DocumentKind::ReleaseMd => "releasemd.xml",
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// A position in a (decompressed) XML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Byte offset from the start of the decompressed document.
    pub offset: u64,
    /// 1-based line number.
    pub line: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, byte {}", self.line, self.offset)
    }
}

/// Something wrong with one entry of a document; the entry (or just the field) was skipped
/// and parsing went on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub document: DocumentKind,
    /// Where the entry starts; `None` for primary_db rows (see `item`).
    pub position: Option<Position>,
    /// What the entry is, when known: an advisory id, a package name, `row 12`.
    pub item: Option<String>,
    /// What is wrong and what was done about it, lower case.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.document)?;
        if let Some(position) = self.position {
            write!(f, " ({position})")?;
        }
        if let Some(item) = &self.item {
            write!(f, ", {item}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A parse result: the value plus what was skipped on the way (style rule R4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    pub value: T,
    /// At most [`MAX_DIAGNOSTICS`] diagnostics, in document order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many diagnostics were dropped past [`MAX_DIAGNOSTICS`].
    pub suppressed_diagnostics: u64,
}

/// Collects diagnostics up to [`MAX_DIAGNOSTICS`].
#[derive(Debug)]
pub(crate) struct Diagnostics {
    document: DocumentKind,
    pub(crate) kept: Vec<Diagnostic>,
    pub(crate) suppressed: u64,
}

impl Diagnostics {
    pub(crate) fn new(document: DocumentKind) -> Diagnostics {
        Diagnostics {
            document,
            kept: Vec::new(),
            suppressed: 0,
        }
    }

    pub(crate) fn push(&mut self, position: Option<Position>, item: Option<&str>, message: String) {
        if self.kept.len() >= MAX_DIAGNOSTICS {
            self.suppressed += 1;
            return;
        }
        self.kept.push(Diagnostic {
            document: self.document,
            position,
            item: item.map(str::to_owned),
            message,
        });
    }

    pub(crate) fn into_parsed<T>(self, value: T) -> Parsed<T> {
        Parsed {
            value,
            diagnostics: self.kept,
            suppressed_diagnostics: self.suppressed,
        }
    }
}

/// A document that is unusable as a whole: not XML, truncated, wrong root element, corrupt
/// compression or sqlite file. It names the document and, for XML, the position.
#[derive(Debug)]
pub struct MetadataError {
    document: DocumentKind,
    position: Option<Position>,
    kind: Box<ErrorKind>,
}

#[derive(Debug)]
pub(crate) enum ErrorKind {
    /// Reading or decompressing failed.
    Read(io::Error),
    /// The document is not (well-formed) XML, or has the wrong root element.
    Syntax(String),
    /// The document ended inside an element or a markup construct.
    Truncated { inside: String },
    /// A repomd location that points outside the repository.
    UnsafeLocation {
        kind: String,
        href: String,
        reason: &'static str,
    },
    /// The primary_db file is not a usable sqlite database.
    Sqlite(String),
}

impl MetadataError {
    pub(crate) fn new(document: DocumentKind, position: Option<Position>, kind: ErrorKind) -> Self {
        MetadataError {
            document,
            position,
            kind: Box::new(kind),
        }
    }

    /// The document the error is about.
    pub fn document(&self) -> DocumentKind {
        self.document
    }

    /// Where in the (decompressed) document the problem was found, when it is XML.
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// True when the document ended early (a truncated download, typically).
    pub fn is_truncated(&self) -> bool {
        matches!(*self.kind, ErrorKind::Truncated { .. } | ErrorKind::Read(_))
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.document)?;
        if let Some(position) = self.position {
            write!(f, " ({position})")?;
        }
        f.write_str(": ")?;
        match &*self.kind {
            ErrorKind::Read(_) => f.write_str("failed to read or decompress the document"),
            ErrorKind::Syntax(message) => f.write_str(message),
            ErrorKind::Truncated { inside } => {
                write!(f, "document is truncated: it ends inside {inside}")
            }
            ErrorKind::UnsafeLocation { kind, href, reason } => write!(
                f,
                "location {href:?} of the {kind} record points outside the repository ({reason})"
            ),
            ErrorKind::Sqlite(message) => write!(f, "not a usable sqlite database: {message}"),
        }
    }
}

impl StdError for MetadataError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &*self.kind {
            ErrorKind::Read(error) => Some(error),
            _ => None,
        }
    }
}
