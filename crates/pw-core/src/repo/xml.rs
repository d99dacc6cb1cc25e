//! The streaming XML reader shared by the repomd, primary and updateinfo parsers.
//!
//! A small pull tokenizer specialised for rpm-md metadata, written for speed: it finds markup
//! with `memchr`, hands element starts, text and element ends to a [`Handler`], and decodes
//! attribute values and text only when the handler asks. quick-xml was the first
//! implementation; its event loop alone took about 0.29 s on a 77 MB primary.xml, a third of
//! libsolv's whole run, which left no room for a 3x goal (`docs/repository-metadata.md`).
//!
//! What is checked everywhere: tags are closed and properly nested, end tags match, names are
//! present, quotes are balanced, nothing but whitespace, comments and processing instructions
//! lies outside the root element, and the document does not end inside an element or a
//! markup construct. Attribute syntax and entity references are checked where they are read
//! (a problem there is the entry's, reported as a diagnostic). DTDs are skipped and entities
//! they declare are unknown. The input must be UTF-8 (rpm-md always is).
//!
//! Memory is bounded by the largest single token (a tag, a text run, a comment), capped at
//! [`MAX_TOKEN`], plus the stack of open element names.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{self, BufRead, Read};

use crate::repo::compression::Decompressed;
use crate::repo::diagnostics::{DocumentKind, ErrorKind, MetadataError, Position};

/// Initial size of the read buffer.
const BUFFER_SIZE: usize = 128 * 1024;
/// The largest single token (tag, text run, comment, CDATA section) accepted.
pub(crate) const MAX_TOKEN: usize = 64 << 20;

pub(crate) fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Line bookkeeping: the number of newlines before `offset`, advanced on demand.
#[derive(Default)]
struct LineCursor {
    offset: Cell<u64>,
    newlines: Cell<u64>,
}

/// Access to positions while a token is being handled.
pub(crate) struct Ctx<'a> {
    buf: &'a [u8],
    /// Absolute offset of `buf[0]`.
    base: u64,
    lines: &'a LineCursor,
}

impl Ctx<'_> {
    /// The position where `element` starts.
    pub(crate) fn position(&self, element: &Element<'_>) -> Position {
        self.position_at(element.offset)
    }

    fn position_at(&self, offset: u64) -> Position {
        let from = self.lines.offset.get();
        if offset > from {
            let start = usize::try_from(from.saturating_sub(self.base)).unwrap_or(usize::MAX);
            let end = usize::try_from(offset - self.base).unwrap_or(usize::MAX);
            if let Some(bytes) = self.buf.get(start..end) {
                self.lines
                    .newlines
                    .set(self.lines.newlines.get() + count_newlines(bytes));
                self.lines.offset.set(offset);
            }
        }
        Position {
            offset,
            line: 1 + self.lines.newlines.get(),
        }
    }
}

/// An element start (`<name attr="value">` or `<name/>`).
pub(crate) struct Element<'a> {
    /// Between `<` and `>`, without a trailing `/`.
    raw: &'a [u8],
    name_len: usize,
    offset: u64,
}

impl<'a> Element<'a> {
    /// The qualified name (`rpm:entry`).
    pub(crate) fn name(&self) -> &'a [u8] {
        &self.raw[..self.name_len]
    }

    /// The name without its namespace prefix (`entry`).
    pub(crate) fn local_name(&self) -> &'a [u8] {
        local(self.name())
    }

    fn attributes(&self) -> Attributes<'a> {
        Attributes {
            rest: &self.raw[self.name_len..],
        }
    }
}

fn local(name: &[u8]) -> &[u8] {
    // Names are short: a plain loop beats a vectorised search here.
    match name.iter().rposition(|byte| *byte == b':') {
        Some(colon) => &name[colon + 1..],
        None => name,
    }
}

struct Attributes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attributes<'a> {
    /// (local name, raw value) or a message.
    type Item = Result<(&'a [u8], &'a [u8]), String>;

    fn next(&mut self) -> Option<Self::Item> {
        // One index-based pass: key, optional spaces, `=`, optional spaces, quoted value.
        let bytes = self.rest;
        let mut at = 0;
        while bytes.get(at).is_some_and(|byte| is_space(*byte)) {
            at += 1;
        }
        if at == bytes.len() {
            self.rest = &[];
            return None;
        }
        let key_start = at;
        while bytes
            .get(at)
            .is_some_and(|byte| *byte != b'=' && !is_space(*byte))
        {
            at += 1;
        }
        let key = &bytes[key_start..at];
        while bytes.get(at).is_some_and(|byte| is_space(*byte)) {
            at += 1;
        }
        self.rest = &[];
        if key.is_empty() || bytes.get(at) != Some(&b'=') {
            let shown = &bytes[key_start..bytes.len().min(key_start + 40)];
            return Some(Err(format!(
                "malformed attribute {:?}",
                String::from_utf8_lossy(shown)
            )));
        }
        at += 1;
        while bytes.get(at).is_some_and(|byte| is_space(*byte)) {
            at += 1;
        }
        let Some(&quote @ (b'"' | b'\'')) = bytes.get(at) else {
            return Some(Err(format!(
                "attribute {} has an unquoted value",
                String::from_utf8_lossy(key)
            )));
        };
        let value_start = at + 1;
        let Some(length) = memchr::memchr(quote, &bytes[value_start..]) else {
            return Some(Err(format!(
                "attribute {} has an unterminated value",
                String::from_utf8_lossy(key)
            )));
        };
        self.rest = &bytes[value_start + length + 1..];
        Some(Ok((local(key), &bytes[value_start..value_start + length])))
    }
}

/// A piece of character data inside an element.
pub(crate) enum Text<'a> {
    /// Escaped text (entities not yet decoded), surrounding whitespace trimmed.
    Escaped(&'a [u8]),
    /// A CDATA section (taken literally).
    CData(&'a [u8]),
}

impl Text<'_> {
    /// The decoded text, or a message saying why it is not valid.
    pub(crate) fn decode(&self) -> Result<Cow<'_, str>, String> {
        match self {
            Text::Escaped(raw) => decode(raw, false),
            Text::CData(raw) => std::str::from_utf8(raw)
                .map(normalize_newlines)
                .map_err(|_| "text is not UTF-8".to_owned()),
        }
    }
}

/// What a parser does with the tokens of its document. `depth` is 1 for the root element.
pub(crate) trait Handler {
    fn start(&mut self, ctx: &Ctx<'_>, depth: usize, element: &Element<'_>);
    fn text(&mut self, depth: usize, text: Text<'_>);
    /// Whether [`Handler::text`] would use text now; when false, character data is skipped.
    fn wants_text(&self) -> bool {
        true
    }
    fn end(&mut self, depth: usize, local_name: &[u8]);
    /// Checked before each token; a handler that wants to stop early returns false.
    fn keep_going(&mut self) -> bool {
        true
    }
}

/// Calls `each(local_name, value)` for the attributes of `element` named in `wanted` (local
/// names), values decoded; other attributes are checked for syntax only. Returns a message for
/// the first malformed attribute.
pub(crate) fn for_each_attribute<'a>(
    element: &Element<'a>,
    wanted: &[&[u8]],
    mut each: impl FnMut(&[u8], Cow<'a, str>),
) -> Result<(), String> {
    let region = &element.raw[element.name_len..];
    // One UTF-8 check for the whole tag is much cheaper than one per value.
    let text =
        std::str::from_utf8(region).map_err(|_| "attribute values are not UTF-8".to_owned())?;
    for attribute in element.attributes() {
        let (key, raw) = attribute?;
        if !wanted.contains(&key) {
            continue;
        }
        // `raw` lies inside `region` between two ASCII quotes, so these are char boundaries.
        let start = raw.as_ptr() as usize - region.as_ptr() as usize;
        let value = text
            .get(start..start + raw.len())
            .ok_or("attribute value is not UTF-8")?;
        let value = decode_str(value, true)
            .map_err(|message| format!("attribute {}: {message}", String::from_utf8_lossy(key)))?;
        each(key, value);
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

/// Decodes escaped XML character data: the five predefined entities and character
/// references, `\r\n` and `\r` read as `\n`, and (in attribute values) tabs and newlines read
/// as spaces, as XML requires. Entities are decoded once: `&amp;lt;` becomes `&lt;`.
pub(crate) fn decode(raw: &[u8], attribute: bool) -> Result<Cow<'_, str>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "text is not UTF-8".to_owned())?;
    decode_str(text, attribute)
}

/// [`decode`] of text already known to be UTF-8.
fn decode_str(text: &str, attribute: bool) -> Result<Cow<'_, str>, String> {
    let raw = text.as_bytes();
    let needs_work = if attribute {
        memchr::memchr3(b'&', b'\r', b'\n', raw).is_some() || memchr::memchr(b'\t', raw).is_some()
    } else {
        memchr::memchr2(b'&', b'\r', raw).is_some()
    };
    if !needs_work {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(index) = rest.find(['&', '\r', '\n', '\t']) {
        out.push_str(&rest[..index]);
        let special = rest.as_bytes()[index];
        rest = &rest[index + 1..];
        match special {
            b'&' => {
                let Some(semicolon) = rest
                    .get(..rest.len().min(12))
                    .and_then(|head| head.find(';'))
                else {
                    return Err("unterminated entity reference".to_owned());
                };
                out.push(entity(&rest[..semicolon])?);
                rest = &rest[semicolon + 1..];
            }
            b'\r' => {
                rest = rest.strip_prefix('\n').unwrap_or(rest);
                out.push(if attribute { ' ' } else { '\n' });
            }
            other => out.push(if attribute { ' ' } else { char::from(other) }),
        }
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

fn entity(name: &str) -> Result<char, String> {
    let character = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let number =
                if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(decimal) = name.strip_prefix('#') {
                    decimal.parse::<u32>().ok()
                } else {
                    return Err(format!("unknown entity &{name};"));
                };
            return number
                .and_then(char::from_u32)
                .filter(|character| *character != '\0')
                .ok_or_else(|| format!("invalid character reference &{name};"));
        }
    };
    Ok(character)
}

fn normalize_newlines(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !is_space(*byte))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|byte| !is_space(*byte))
        .map_or(0, |last| last + 1);
    &bytes[..end]
}

fn is_name_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte == b':' || byte >= 0x80
}

/// The input side: a growable window over the decompressed stream.
struct Scanner<R> {
    source: R,
    buf: Vec<u8>,
    /// Start of the current token in `buf`.
    pos: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// Absolute offset of `buf[0]`.
    base: u64,
    eof: bool,
    lines: LineCursor,
}

impl<R: Read> Scanner<R> {
    /// Reads more data, keeping `buf[pos..end]` (moved to the front). Returns false at the end
    /// of the input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            // Account for the lines of the bytes about to be discarded.
            let discard_end = self.base + self.pos as u64;
            let from = self.lines.offset.get();
            if from < discard_end {
                let start = usize::try_from(from.saturating_sub(self.base)).unwrap_or(0);
                self.lines
                    .newlines
                    .set(self.lines.newlines.get() + count_newlines(&self.buf[start..self.pos]));
                self.lines.offset.set(discard_end);
            }
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.base = discard_end;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_TOKEN {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a single token is larger than {} MiB", MAX_TOKEN >> 20),
                ));
            }
            let grown = (self.buf.len() * 2).min(MAX_TOKEN);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(read) => {
                    self.end += read;
                    return Ok(true);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            buf: &self.buf[..self.end],
            base: self.base,
            lines: &self.lines,
        }
    }

    fn offset(&self, index: usize) -> u64 {
        self.base + index as u64
    }
}

/// What went wrong while tokenizing, before a position is attached.
enum Fault {
    Read(io::Error),
    Syntax(String),
    Truncated(String),
}

impl From<io::Error> for Fault {
    fn from(error: io::Error) -> Fault {
        Fault::Read(error)
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
    let source = Decompressed::new(reader)
        .map_err(|error| MetadataError::new(document, None, ErrorKind::Read(error)))?;
    let mut scanner = Scanner {
        source,
        buf: vec![0; BUFFER_SIZE],
        pos: 0,
        end: 0,
        base: 0,
        eof: false,
        lines: LineCursor::default(),
    };
    let mut state = State {
        names: Vec::with_capacity(256),
        name_starts: Vec::with_capacity(16),
        root_seen: false,
        root_closed: false,
    };
    match run(&mut scanner, &mut state, root, handler) {
        Ok(()) => Ok(()),
        Err((offset, fault)) => {
            let position = scanner
                .ctx()
                .position_at(offset.max(scanner.lines.offset.get()));
            let kind = match fault {
                Fault::Read(error) => ErrorKind::Read(error),
                Fault::Syntax(message) => ErrorKind::Syntax(message),
                Fault::Truncated(inside) => ErrorKind::Truncated { inside },
            };
            Err(MetadataError::new(document, Some(position), kind))
        }
    }
}

struct State {
    /// Open element names, concatenated, and where each one starts.
    names: Vec<u8>,
    name_starts: Vec<usize>,
    root_seen: bool,
    root_closed: bool,
}

impl State {
    fn innermost(&self) -> String {
        match self.name_starts.last() {
            Some(&start) => format!("<{}>", String::from_utf8_lossy(&self.names[start..])),
            None => "the prolog".to_owned(),
        }
    }
}

type Failure = (u64, Fault);

/// Finds `needle` in `buf[pos + from..]`, reading more as needed; returns its index relative
/// to `pos`.
fn find<R: Read>(
    scanner: &mut Scanner<R>,
    from: usize,
    needle: &[u8],
) -> Result<Option<usize>, Fault> {
    let mut from = from;
    loop {
        let window = &scanner.buf[scanner.pos + from..scanner.end];
        let found = match needle {
            [byte] => memchr::memchr(*byte, window),
            _ => memchr::memmem::find(window, needle),
        };
        if let Some(found) = found {
            return Ok(Some(from + found));
        }
        // The needle may straddle the refill; look again from just before the old end.
        from = (scanner.end - scanner.pos)
            .saturating_sub(needle.len() - 1)
            .max(from);
        if !scanner.fill()? {
            return Ok(None);
        }
    }
}

/// Ensures at least `count` bytes from `pos` are available (fewer only at the end of input).
fn want<R: Read>(scanner: &mut Scanner<R>, count: usize) -> Result<(), Fault> {
    while scanner.end - scanner.pos < count {
        if !scanner.fill()? {
            break;
        }
    }
    Ok(())
}

/// Finds the `>` that ends the tag starting at `pos`, skipping quoted attribute values.
fn tag_end<R: Read>(scanner: &mut Scanner<R>) -> Result<Option<usize>, Fault> {
    // Tags are short: a byte loop beats repeated vectorised searches that each stop after a
    // few bytes at the next quote.
    let mut at = 1;
    let mut quote: Option<u8> = None;
    loop {
        let window = &scanner.buf[scanner.pos..scanner.end];
        while let Some(&byte) = window.get(at) {
            match quote {
                // Values can be long (hrefs, checksums): search for their end.
                Some(open) => match memchr::memchr(open, &window[at..]) {
                    Some(found) => {
                        at += found;
                        quote = None;
                    }
                    None => at = window.len() - 1,
                },
                None => match byte {
                    b'>' => return Ok(Some(at)),
                    b'"' | b'\'' => quote = Some(byte),
                    // A `<` outside quotes means this tag was never closed.
                    b'<' => {
                        return Err(Fault::Syntax(format!(
                            "tag not closed before the `<` at byte {}",
                            scanner.offset(scanner.pos + at)
                        )));
                    }
                    _ => {}
                },
            }
            at += 1;
        }
        if !scanner.fill()? {
            return Ok(None);
        }
    }
}

fn run<R: Read, H: Handler>(
    scanner: &mut Scanner<R>,
    state: &mut State,
    root: &'static str,
    handler: &mut H,
) -> Result<(), Failure> {
    let fail = |scanner: &Scanner<R>, index: usize, fault: Fault| (scanner.offset(index), fault);
    // A UTF-8 byte order mark is allowed before the document.
    want(scanner, 3).map_err(|fault| (0, fault))?;
    if scanner.buf[..scanner.end].starts_with(&[0xef, 0xbb, 0xbf]) {
        scanner.pos = 3;
    }
    loop {
        if !handler.keep_going() {
            return Ok(());
        }
        // Character data up to the next `<`. `fill` moves the unread text to the front of the
        // buffer, so positions are kept relative to `pos`.
        let mut scanned = 0;
        let lt = loop {
            let window = &scanner.buf[scanner.pos + scanned..scanner.end];
            if let Some(found) = memchr::memchr(b'<', window) {
                break Some(scanner.pos + scanned + found);
            }
            scanned = scanner.end - scanner.pos;
            if !scanner
                .fill()
                .map_err(|error| fail(scanner, scanner.pos, Fault::Read(error)))?
            {
                break None;
            }
        };
        let text_start = scanner.pos;
        let text_end = lt.unwrap_or(scanner.end);
        let depth = state.name_starts.len();
        // Text the handler does not want (descriptions, file lists) is not even trimmed.
        let text = if depth == 0 || handler.wants_text() {
            trim_end(trim_start(&scanner.buf[text_start..text_end]))
        } else {
            &[]
        };
        if !text.is_empty() {
            if depth == 0 {
                let index = text_start
                    + (text.as_ptr() as usize - scanner.buf[text_start..].as_ptr() as usize);
                return Err(if state.root_seen {
                    fail(
                        scanner,
                        index,
                        Fault::Syntax("text after the end of the root element".to_owned()),
                    )
                } else {
                    let message = format!(
                        "not an XML document, nor gzip, xz, bzip2 or zstd data (it starts with {})",
                        describe_bytes(text)
                    );
                    fail(scanner, index, Fault::Syntax(message))
                });
            }
            handler.text(depth, Text::Escaped(text));
        }
        let Some(lt) = lt else {
            // End of input.
            if state.name_starts.is_empty() {
                if !state.root_seen {
                    return Err(fail(
                        scanner,
                        scanner.end,
                        Fault::Syntax("document is empty: no root element".to_owned()),
                    ));
                }
                return Ok(());
            }
            return Err(fail(
                scanner,
                scanner.end,
                Fault::Truncated(state.innermost()),
            ));
        };
        scanner.pos = lt;
        want(scanner, 2).map_err(|fault| fail(scanner, scanner.pos, fault))?;
        let second = scanner
            .buf
            .get(scanner.pos + 1)
            .copied()
            .filter(|_| scanner.pos + 1 < scanner.end);
        if second == Some(b'!') {
            want(scanner, 9).map_err(|fault| fail(scanner, scanner.pos, fault))?;
        }
        let head = &scanner.buf[scanner.pos..scanner.end];
        if second == Some(b'!') && head.starts_with(b"<!--") {
            let Some(close) =
                find(scanner, 4, b"-->").map_err(|fault| fail(scanner, scanner.pos, fault))?
            else {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Truncated(format!("a comment in {}", state.innermost())),
                ));
            };
            scanner.pos += close + 3;
        } else if second == Some(b'!') && head.starts_with(b"<![CDATA[") {
            let Some(close) =
                find(scanner, 9, b"]]>").map_err(|fault| fail(scanner, scanner.pos, fault))?
            else {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Truncated(format!("a CDATA section in {}", state.innermost())),
                ));
            };
            let depth = state.name_starts.len();
            if depth == 0 {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Syntax("CDATA outside the root element".to_owned()),
                ));
            }
            let data = &scanner.buf[scanner.pos + 9..scanner.pos + close];
            handler.text(depth, Text::CData(data));
            scanner.pos += close + 3;
        } else if second == Some(b'?') {
            let Some(close) =
                find(scanner, 2, b"?>").map_err(|fault| fail(scanner, scanner.pos, fault))?
            else {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Truncated("a processing instruction".to_owned()),
                ));
            };
            scanner.pos += close + 2;
        } else if second == Some(b'!') {
            if state.root_seen {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Syntax("markup declaration inside the document".to_owned()),
                ));
            }
            skip_doctype(scanner).map_err(|fault| fail(scanner, scanner.pos, fault))?;
        } else if second == Some(b'/') {
            let Some(gt) =
                find(scanner, 2, b">").map_err(|fault| fail(scanner, scanner.pos, fault))?
            else {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Truncated(state.innermost()),
                ));
            };
            let name = trim_end(&scanner.buf[scanner.pos + 2..scanner.pos + gt]);
            let Some(&start) = state.name_starts.last() else {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Syntax(format!(
                        "end tag </{}> without a start tag",
                        String::from_utf8_lossy(name)
                    )),
                ));
            };
            if state.names[start..] != *name {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Syntax(format!(
                        "end tag </{}> does not match <{}>",
                        String::from_utf8_lossy(name),
                        String::from_utf8_lossy(&state.names[start..])
                    )),
                ));
            }
            let depth = state.name_starts.len();
            handler.end(depth, local(name));
            state.names.truncate(start);
            state.name_starts.pop();
            if state.name_starts.is_empty() {
                state.root_closed = true;
            }
            scanner.pos += gt + 1;
        } else {
            let Some(gt) = tag_end(scanner).map_err(|fault| fail(scanner, scanner.pos, fault))?
            else {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Truncated(format!("a tag in {}", state.innermost())),
                ));
            };
            let offset = scanner.offset(scanner.pos);
            let inner = &scanner.buf[scanner.pos + 1..scanner.pos + gt];
            let (raw, empty) = match inner.strip_suffix(b"/") {
                Some(raw) => (raw, true),
                None => (inner, false),
            };
            let name_len = raw
                .iter()
                .position(|byte| is_space(*byte))
                .unwrap_or(raw.len());
            if name_len == 0 || !is_name_start(raw[0]) {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Syntax(format!(
                        "malformed tag <{}>",
                        String::from_utf8_lossy(&raw[..raw.len().min(40)])
                    )),
                ));
            }
            if state.root_closed {
                return Err(fail(
                    scanner,
                    scanner.pos,
                    Fault::Syntax("element after the end of the root element".to_owned()),
                ));
            }
            let element = Element {
                raw,
                name_len,
                offset,
            };
            if !state.root_seen {
                if element.local_name() != root.as_bytes() {
                    let found = String::from_utf8_lossy(element.name()).into_owned();
                    return Err(fail(
                        scanner,
                        scanner.pos,
                        Fault::Syntax(format!("root element is <{found}>, expected <{root}>")),
                    ));
                }
                state.root_seen = true;
            }
            let depth = state.name_starts.len() + 1;
            let ctx = Ctx {
                buf: &scanner.buf[..scanner.end],
                base: scanner.base,
                lines: &scanner.lines,
            };
            handler.start(&ctx, depth, &element);
            if empty {
                handler.end(depth, element.local_name());
                if depth == 1 {
                    state.root_closed = true;
                }
            } else {
                state.name_starts.push(state.names.len());
                state.names.extend_from_slice(element.name());
            }
            scanner.pos += gt + 1;
        }
    }
}

/// Skips `<!DOCTYPE ...>` including an internal subset in brackets.
fn skip_doctype<R: Read>(scanner: &mut Scanner<R>) -> Result<(), Fault> {
    let mut at = 2;
    let mut brackets = 0usize;
    let mut quote: Option<u8> = None;
    loop {
        while scanner.pos + at < scanner.end {
            let byte = scanner.buf[scanner.pos + at];
            at += 1;
            match (quote, byte) {
                (Some(open), _) if byte == open => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(byte),
                (None, b'[') => brackets += 1,
                (None, b']') => brackets = brackets.saturating_sub(1),
                (None, b'>') if brackets == 0 => {
                    scanner.pos += at;
                    return Ok(());
                }
                _ => {}
            }
        }
        if !scanner.fill()? {
            return Err(Fault::Truncated("a document type declaration".to_owned()));
        }
    }
}

/// The first bytes of a document, for "this is not XML" messages: printable ASCII as text,
/// anything else as hex.
fn describe_bytes(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    if head
        .iter()
        .all(|byte| byte.is_ascii_graphic() || *byte == b' ')
    {
        format!("{:?}", String::from_utf8_lossy(head))
    } else {
        let hex: Vec<String> = head.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}
