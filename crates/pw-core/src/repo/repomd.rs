//! `repomd.xml`: the index of an rpm-md repository. Every `<data>` record is kept
//! (primary, primary_db, filelists, other, updateinfo, group, modules, ... and types not
//! known today), with its checksums, sizes, timestamp and location.
//!
//! A location that could escape the repository (absolute, `..`, a URL, a backslash, an
//! encoded dot or slash) makes the whole document an error: a mirror that serves one is
//! broken or hostile, and nothing it says should be trusted.

use std::io::BufRead;

use crate::repo::checksum::{Checksum, ChecksumKind};
use crate::repo::diagnostics::{
    Diagnostics, DocumentKind, ErrorKind, MetadataError, Parsed, Position,
};
use crate::repo::xml::{self, Ctx, Element, Handler, Text};

/// The parsed repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepoMd {
    /// The `<revision>` as written (usually seconds since the epoch).
    pub revision: Option<String>,
    /// Every `<data>` record, in document order.
    pub records: Vec<RepoMdRecord>,
}

impl RepoMd {
    /// The first record of the given type (`primary`, `updateinfo`, ...).
    pub fn record(&self, kind: &str) -> Option<&RepoMdRecord> {
        self.records.iter().find(|record| record.kind == kind)
    }
}

/// One `<data type="...">` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoMdRecord {
    /// The `type` attribute: `primary`, `primary_db`, `filelists`, `other`, `updateinfo`,
    /// `group`, `modules`, `primary_zck`, ...
    pub kind: String,
    /// The `href` of `<location>`: relative to the repository root, checked by
    /// [`check_location`].
    pub location: String,
    /// The `xml:base` of `<location>`, when given (not followed by Patchwarden).
    pub location_base: Option<String>,
    /// Checksum of the file as stored (compressed); `None` when absent or unsupported (with a
    /// diagnostic).
    pub checksum: Option<Checksum>,
    /// Checksum of the decompressed content.
    pub open_checksum: Option<Checksum>,
    pub size: Option<u64>,
    pub open_size: Option<u64>,
    /// Seconds since the epoch.
    pub timestamp: Option<i64>,
    /// `<database_version>` of sqlite records.
    pub database_version: Option<u32>,
}

/// Parses repomd.xml (plain or compressed). Records without a type or location are skipped
/// with a diagnostic; an unsafe location is an error.
pub fn parse_repomd<R: BufRead>(reader: R) -> Result<Parsed<RepoMd>, MetadataError> {
    let mut handler = RepomdHandler {
        diagnostics: Diagnostics::new(DocumentKind::Repomd),
        repomd: RepoMd::default(),
        record: None,
        capture: Capture::None,
        text: None,
        error: None,
    };
    xml::drive(reader, DocumentKind::Repomd, "repomd", &mut handler)?;
    if let Some(error) = handler.error {
        return Err(error);
    }
    Ok(handler.diagnostics.into_parsed(handler.repomd))
}

/// Checks that a repomd location stays inside the repository: a relative path of plain
/// segments. Returns the reason when it does not.
pub fn check_location(href: &str) -> Result<(), &'static str> {
    if href.is_empty() {
        return Err("empty");
    }
    if href.starts_with('/') {
        return Err("absolute path");
    }
    if href.contains('\\') {
        return Err("backslash");
    }
    if href.contains("://")
        || href
            .split('/')
            .next()
            .is_some_and(|first| first.contains(':'))
    {
        return Err("URL or scheme");
    }
    if href.chars().any(char::is_control) {
        return Err("control character");
    }
    let lower = href.to_ascii_lowercase();
    if lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") {
        return Err("percent-encoded dot or slash");
    }
    if href.split('/').any(|segment| segment == "..") {
        return Err("`..` segment");
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    None,
    Revision,
    Checksum { open: bool },
    Timestamp,
    Size { open: bool },
    DatabaseVersion,
}

struct RecordDraft {
    position: Position,
    kind: Option<String>,
    location: Option<String>,
    location_base: Option<String>,
    checksum: Option<Checksum>,
    open_checksum: Option<Checksum>,
    size: Option<u64>,
    open_size: Option<u64>,
    timestamp: Option<i64>,
    database_version: Option<u32>,
    /// The `type` of the `<checksum>`/`<open-checksum>` being read.
    checksum_kind: Option<ChecksumKind>,
    notes: Vec<String>,
}

struct RepomdHandler {
    diagnostics: Diagnostics,
    repomd: RepoMd,
    record: Option<RecordDraft>,
    capture: Capture,
    text: Option<String>,
    error: Option<MetadataError>,
}

impl RepomdHandler {
    fn start_data(&mut self, ctx: &Ctx<'_>, element: &Element<'_>) {
        let mut kind = None;
        let result = xml::for_each_attribute(element, &[b"type"], |key, value| {
            if key == b"type" {
                kind = Some(value.trim().to_owned()).filter(|kind| !kind.is_empty());
            }
        });
        let mut notes = Vec::new();
        if let Err(message) = result {
            notes.push(format!("<data>: {message}"));
        }
        self.record = Some(RecordDraft {
            position: ctx.position(element),
            kind,
            location: None,
            location_base: None,
            checksum: None,
            open_checksum: None,
            size: None,
            open_size: None,
            timestamp: None,
            database_version: None,
            checksum_kind: None,
            notes,
        });
    }

    fn finish_data(&mut self) {
        let Some(record) = self.record.take() else {
            return;
        };
        let item = record.kind.as_deref().map(|kind| format!("record {kind}"));
        for note in record.notes {
            self.diagnostics
                .push(Some(record.position), item.as_deref(), note);
        }
        let (Some(kind), Some(location)) = (record.kind, record.location) else {
            self.diagnostics.push(
                Some(record.position),
                item.as_deref(),
                "record without a type or a location; skipped".to_owned(),
            );
            return;
        };
        if let Err(reason) = check_location(&location) {
            self.error = Some(MetadataError::new(
                DocumentKind::Repomd,
                Some(record.position),
                ErrorKind::UnsafeLocation {
                    kind,
                    href: location,
                    reason,
                },
            ));
            return;
        }
        self.repomd.records.push(RepoMdRecord {
            kind,
            location,
            location_base: record.location_base,
            checksum: record.checksum,
            open_checksum: record.open_checksum,
            size: record.size,
            open_size: record.open_size,
            timestamp: record.timestamp,
            database_version: record.database_version,
        });
    }

    fn start_checksum(&mut self, element: &Element<'_>, open: bool) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        let mut kind_text = None;
        let _ = xml::for_each_attribute(element, &[b"type"], |key, value| {
            if key == b"type" {
                kind_text = Some(value.into_owned());
            }
        });
        let what = if open { "open-checksum" } else { "checksum" };
        record.checksum_kind = None;
        match kind_text
            .as_deref()
            .map(|text| (text, ChecksumKind::parse(text)))
        {
            None => record.notes.push(format!("<{what}> has no type; ignored")),
            Some((text, None)) => record
                .notes
                .push(format!("unsupported {what} type {text:?}; ignored")),
            Some((_, Some(kind))) => record.checksum_kind = Some(kind),
        }
        self.capture = Capture::Checksum { open };
    }

    fn location(&mut self, element: &Element<'_>) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        let result =
            xml::for_each_attribute(element, &[b"href", b"base"], |key, value| match key {
                b"href" => record.location = Some(value.into_owned()),
                b"base" => record.location_base = Some(value.into_owned()),
                _ => {}
            });
        if let Err(message) = result {
            record.notes.push(format!("<location>: {message}"));
        }
    }

    fn finish_capture(&mut self) {
        let capture = std::mem::replace(&mut self.capture, Capture::None);
        let text = self.text.take().unwrap_or_default();
        let text = text.trim();
        if capture == Capture::Revision {
            self.repomd.revision = (!text.is_empty()).then(|| text.to_owned());
            return;
        }
        let Some(record) = self.record.as_mut() else {
            return;
        };
        match capture {
            Capture::None | Capture::Revision => {}
            Capture::Checksum { open } => {
                if let Some(kind) = record.checksum_kind.take() {
                    match Checksum::from_hex(kind, text) {
                        Ok(checksum) if open => record.open_checksum = Some(checksum),
                        Ok(checksum) => record.checksum = Some(checksum),
                        Err(error) => record.notes.push(format!("{error}; ignored")),
                    }
                }
            }
            Capture::Timestamp => {
                let whole = text.split_once('.').map_or(text, |(whole, _)| whole);
                match whole.parse::<i64>() {
                    Ok(seconds) => record.timestamp = Some(seconds),
                    Err(_) => record
                        .notes
                        .push(format!("timestamp {text:?} is not a number; ignored")),
                }
            }
            Capture::Size { open } => match text.parse::<u64>() {
                Ok(size) if open => record.open_size = Some(size),
                Ok(size) => record.size = Some(size),
                Err(_) => record
                    .notes
                    .push(format!("size {text:?} is not a number; ignored")),
            },
            Capture::DatabaseVersion => match text.parse::<u32>() {
                Ok(version) => record.database_version = Some(version),
                Err(_) => record.notes.push(format!(
                    "database_version {text:?} is not a number; ignored"
                )),
            },
        }
    }
}

impl Handler for RepomdHandler {
    fn start(&mut self, ctx: &Ctx<'_>, depth: usize, element: &Element<'_>) {
        match (depth, element.local_name()) {
            (2, b"revision") => self.capture = Capture::Revision,
            (2, b"data") => self.start_data(ctx, element),
            (3, b"checksum") if self.record.is_some() => self.start_checksum(element, false),
            (3, b"open-checksum") if self.record.is_some() => self.start_checksum(element, true),
            (3, b"location") => self.location(element),
            (3, b"timestamp") if self.record.is_some() => self.capture = Capture::Timestamp,
            (3, b"size") if self.record.is_some() => self.capture = Capture::Size { open: false },
            (3, b"open-size") if self.record.is_some() => {
                self.capture = Capture::Size { open: true }
            }
            (3, b"database_version") if self.record.is_some() => {
                self.capture = Capture::DatabaseVersion
            }
            _ => {}
        }
    }

    fn wants_text(&self) -> bool {
        self.capture != Capture::None
    }

    fn text(&mut self, _depth: usize, text: Text<'_>) {
        if self.capture == Capture::None {
            return;
        }
        if let Err(message) = xml::append_text(&mut self.text, &text) {
            if let Some(record) = self.record.as_mut() {
                record.notes.push(format!("{message}; ignored"));
            }
            self.capture = Capture::None;
            self.text = None;
        }
    }

    fn end(&mut self, depth: usize, local_name: &[u8]) {
        match depth {
            2 if local_name == b"data" => self.finish_data(),
            2 | 3 if self.capture != Capture::None => self.finish_capture(),
            _ => {}
        }
    }

    fn keep_going(&mut self) -> bool {
        self.error.is_none()
    }
}
