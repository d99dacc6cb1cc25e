//! The streaming XML driver shared by the repomd, primary and updateinfo parsers.
//!
//! It owns the quick-xml reader (over a decompressing, line-counting [`BufRead`]), checks the
//! root element, tracks depth and open element names, detects truncation, and hands every
//! element start, text and element end to a [`Handler`]. Memory is bounded by the largest
//! single XML event plus the open-element stack, never by the document size.

use std::borrow::Cow;
use std::io::{self, BufRead};
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};

use crate::repo::compression::Decompressed;
use crate::repo::diagnostics::{DocumentKind, ErrorKind, MetadataError, Position};

/// Counts the newlines of everything the XML reader consumes, so positions carry a line.
pub(crate) struct LineCounter<R> {
    inner: R,
    newlines: u64,
}

impl<R: BufRead> io::Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.newlines += count_newlines(&buf[..read]);
        Ok(read)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // The reader consumes only what it was just given by `fill_buf`, so this returns the
        // same buffer without any I/O.
        if let Ok(available) = self.inner.fill_buf() {
            let end = amount.min(available.len());
            self.newlines += count_newlines(&available[..end]);
        }
        self.inner.consume(amount);
    }
}

pub(crate) fn count_newlines(bytes: &[u8]) -> u64 {
    // A plain filter-count vectorises well; newlines are sparse in rpm-md metadata anyway.
    bytes.iter().filter(|&&byte| byte == b'\n').count() as u64
}

/// Where the event that was just read lies, to compute positions on demand.
pub(crate) struct Ctx {
    /// Offset just past the current event.
    end_offset: u64,
    /// Newlines consumed up to `end_offset`.
    newlines: u64,
    /// The current event's bytes plus its markup (`<`, `>`, `/`).
    raw_len: u64,
}

impl Ctx {
    /// The position where the current element starts.
    pub(crate) fn position(&self, element: &BytesStart<'_>) -> Position {
        let inside = count_newlines(element);
        Position {
            offset: self.end_offset.saturating_sub(self.raw_len),
            line: 1 + self.newlines.saturating_sub(inside),
        }
    }
}

/// A piece of character data inside an element.
pub(crate) enum Text<'a> {
    /// Escaped text (entities not yet decoded).
    Escaped(quick_xml::events::BytesText<'a>),
    /// A CDATA section (taken literally).
    CData(quick_xml::events::BytesCData<'a>),
}

impl Text<'_> {
    /// The decoded text, or a message saying why it is not valid.
    pub(crate) fn decode(&self) -> Result<Cow<'_, str>, String> {
        match self {
            Text::Escaped(text) => text.unescape().map_err(|error| format!("bad text: {error}")),
            Text::CData(data) => {
                std::str::from_utf8(data).map(Cow::Borrowed).map_err(|_| "text is not UTF-8".to_owned())
            }
        }
    }
}

/// What a parser does with the events of its document. `depth` is 1 for the root element.
pub(crate) trait Handler {
    fn start(&mut self, ctx: &Ctx, depth: usize, element: &BytesStart<'_>);
    fn text(&mut self, depth: usize, text: Text<'_>);
    fn end(&mut self, depth: usize, local_name: &[u8]);
    /// Called when the driver is about to read the next event; a handler that wants to stop
    /// early (a visitor's callback asked to) returns false.
    fn keep_going(&mut self) -> bool {
        true
    }
}

/// Parses the (possibly compressed) document from `reader`, which must have the root element
/// `root`, calling `handler` for everything inside it.
pub(crate) fn drive<R: BufRead, H: Handler>(
    reader: R,
    document: DocumentKind,
    root: &'static str,
    handler: &mut H,
) -> Result<(), MetadataError> {
    let mut decompressed =
        Decompressed::new(reader).map_err(|error| MetadataError::new(document, None, ErrorKind::Read(error)))?;
    let first_bytes = match decompressed.fill_buf() {
        Ok(bytes) => describe_bytes(bytes),
        Err(error) => return Err(MetadataError::new(document, None, ErrorKind::Read(error))),
    };
    let mut reader = quick_xml::Reader::from_reader(LineCounter { inner: decompressed, newlines: 0 });
    let config = reader.config_mut();
    config.trim_text(true);
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut buf = Vec::with_capacity(4096);
    // Open element names, concatenated, and where each one starts.
    let mut names: Vec<u8> = Vec::with_capacity(256);
    let mut name_starts: Vec<usize> = Vec::with_capacity(16);
    let mut root_seen = false;
    let mut root_closed = false;

    let position_now = |reader: &quick_xml::Reader<LineCounter<Decompressed<R>>>| Position {
        offset: reader.buffer_position(),
        line: 1 + reader.get_ref().newlines,
    };

    loop {
        if !handler.keep_going() {
            return Ok(());
        }
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(error) => {
                let position = Position {
                    offset: reader.error_position(),
                    line: 1 + reader.get_ref().newlines,
                };
                let kind = match error {
                    quick_xml::Error::Io(error) => ErrorKind::Read(unwrap_io(error)),
                    other => ErrorKind::Xml(other),
                };
                return Err(MetadataError::new(document, Some(position), kind));
            }
        };
        let depth = name_starts.len();
        match event {
            Event::Start(element) | Event::Empty(element) if root_closed => {
                let _ = element;
                return Err(MetadataError::new(document, Some(position_now(&reader)), ErrorKind::TrailingContent));
            }
            Event::Start(element) => {
                let ctx = Ctx {
                    end_offset: reader.buffer_position(),
                    newlines: reader.get_ref().newlines,
                    raw_len: element.len() as u64 + 2,
                };
                if !root_seen {
                    check_root(&element, document, root, &ctx)?;
                    root_seen = true;
                }
                name_starts.push(names.len());
                names.extend_from_slice(element.local_name().as_ref());
                handler.start(&ctx, depth + 1, &element);
            }
            Event::Empty(element) => {
                let ctx = Ctx {
                    end_offset: reader.buffer_position(),
                    newlines: reader.get_ref().newlines,
                    raw_len: element.len() as u64 + 3,
                };
                if !root_seen {
                    check_root(&element, document, root, &ctx)?;
                    root_seen = true;
                    root_closed = true;
                }
                handler.start(&ctx, depth + 1, &element);
                handler.end(depth + 1, element.local_name().as_ref());
            }
            Event::End(element) => {
                // check_end_names guarantees the end matches the innermost open element.
                handler.end(depth, element.local_name().as_ref());
                if let Some(start) = name_starts.pop() {
                    names.truncate(start);
                }
                if name_starts.is_empty() {
                    root_closed = true;
                }
            }
            Event::Text(text) => {
                if depth == 0 {
                    let kind = if root_seen {
                        ErrorKind::TrailingContent
                    } else {
                        ErrorKind::NotXml { first_bytes: first_bytes.clone() }
                    };
                    let position = if root_seen { Some(position_now(&reader)) } else { None };
                    return Err(MetadataError::new(document, position, kind));
                }
                handler.text(depth, Text::Escaped(text));
            }
            Event::CData(data) => {
                if depth == 0 {
                    return Err(MetadataError::new(document, Some(position_now(&reader)), ErrorKind::TrailingContent));
                }
                handler.text(depth, Text::CData(data));
            }
            Event::Eof => {
                if let Some(&start) = name_starts.last() {
                    let inside = String::from_utf8_lossy(&names[start..]).into_owned();
                    return Err(MetadataError::new(
                        document,
                        Some(position_now(&reader)),
                        ErrorKind::Truncated { inside },
                    ));
                }
                if !root_seen {
                    return Err(MetadataError::new(document, None, ErrorKind::Empty));
                }
                return Ok(());
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

fn check_root(element: &BytesStart<'_>, document: DocumentKind, root: &'static str, ctx: &Ctx) -> Result<(), MetadataError> {
    if element.local_name().as_ref() == root.as_bytes() {
        return Ok(());
    }
    let found = String::from_utf8_lossy(element.name().as_ref()).into_owned();
    Err(MetadataError::new(document, Some(ctx.position(element)), ErrorKind::WrongRoot { expected: root, found }))
}

fn unwrap_io(error: Arc<io::Error>) -> io::Error {
    Arc::try_unwrap(error).unwrap_or_else(|shared| io::Error::new(shared.kind(), shared.to_string()))
}

/// The first bytes of a document, for "this is not XML" messages: printable ASCII as text,
/// anything else as hex.
fn describe_bytes(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    if head.is_empty() {
        return "nothing".to_owned();
    }
    if head.iter().all(|byte| byte.is_ascii_graphic() || *byte == b' ') {
        format!("{:?}", String::from_utf8_lossy(head))
    } else {
        let hex: Vec<String> = head.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}

/// Calls `each(local_name, value)` for every attribute of `element`, values decoded.
/// Returns a message for the first malformed attribute.
pub(crate) fn for_each_attribute<'a>(
    element: &'a BytesStart<'_>,
    mut each: impl FnMut(&[u8], Cow<'a, str>),
) -> Result<(), String> {
    for attribute in element.attributes().with_checks(false) {
        let attribute = attribute.map_err(|error| format!("malformed attribute: {error}"))?;
        let value = attribute.unescape_value().map_err(|error| {
            format!(
                "bad value of attribute {}: {error}",
                String::from_utf8_lossy(attribute.key.local_name().as_ref())
            )
        })?;
        each(attribute.key.local_name().into_inner(), value);
    }
    Ok(())
}

/// Appends a decoded text piece to `target` (text may come in several pieces around CDATA).
pub(crate) fn append_text(target: &mut Option<String>, text: &Text<'_>) -> Result<(), String> {
    let decoded = text.decode()?;
    match target {
        Some(existing) => existing.push_str(&decoded),
        None => *target = Some(decoded.into_owned()),
    }
    Ok(())
}
