//! The Debian control format (deb822), read as a stream of paragraphs.
//!
//! The rules, from Debian Policy §5.1 and deb822(5), re-implemented:
//!
//! * A paragraph is a run of field lines; paragraphs are separated by one or more lines that
//!   are empty or hold only spaces and tabs.
//! * A field line is `Name: value`. Names are case-insensitive, non-empty, made of printable
//!   ASCII without spaces or `:`, and must not start with `#` or `-`. Surrounding whitespace
//!   of the value is dropped.
//! * A line that starts with a space or a tab continues the previous field (a folded or
//!   multi-line value). One leading space or tab is removed; the rest is kept, so that
//!   `Description` lines keep their indentation.
//! * A line that starts with `#` is a comment and is ignored wherever it is.
//!
//! A paragraph with a line that is none of these, a continuation line before any field, or
//! the same field twice is malformed: it is skipped whole and reported as one [`Diagnostic`]
//! with the line of the first problem. A line or paragraph larger than the limits below is
//! malformed too, so one broken file cannot exhaust memory.
//!
//! [`Diagnostic`]: crate::apt::Diagnostic

use std::borrow::Cow;
use std::io::{self, BufRead};

use crate::apt::decompress::Decompressor;
use crate::apt::{AptDocument, AptError, Diagnostic, Diagnostics, Parsed};

/// The longest line kept (1 MiB); longer lines make their paragraph malformed.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// The largest paragraph kept (64 MiB: a Release file of a huge archive lists many files).
pub const MAX_PARAGRAPH_BYTES: usize = 64 * 1024 * 1024;

/// Where one field lies in [`Paragraph::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldSpan {
    name_start: usize,
    name_end: usize,
    value_start: usize,
    value_end: usize,
    line: u64,
}

/// One paragraph: its fields in order, with their values as written (see the module
/// documentation for how continuation lines are kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Paragraph {
    text: String,
    fields: Vec<FieldSpan>,
    line: u64,
}

impl Paragraph {
    /// The 1-based line of the paragraph's first field.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn name_of(&self, span: &FieldSpan) -> &str {
        &self.text[span.name_start..span.name_end]
    }

    fn value_of(&self, span: &FieldSpan) -> &str {
        &self.text[span.value_start..span.value_end]
    }

    fn find(&self, name: &str) -> Option<&FieldSpan> {
        self.fields
            .iter()
            .find(|span| self.name_of(span).eq_ignore_ascii_case(name))
    }

    /// The value of field `name` (any case). Continuation lines follow the first line after
    /// a `\n`; when the first line is empty (as in `SHA256:`), the value starts with the
    /// first continuation line.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).map(|span| self.value_of(span))
    }

    /// The value of a non-empty field, or `None` when it is missing or empty.
    pub fn get_non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|value| !value.is_empty())
    }

    /// The value of a folded field (`Depends`, `Architectures`): its lines joined with a
    /// space.
    pub fn get_folded(&self, name: &str) -> Option<Cow<'_, str>> {
        let value = self.get(name)?;
        if value.contains('\n') {
            Some(Cow::Owned(
                value
                    .split('\n')
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .trim()
                    .to_owned(),
            ))
        } else {
            Some(Cow::Borrowed(value))
        }
    }

    /// The line where field `name` starts.
    pub fn field_line(&self, name: &str) -> Option<u64> {
        self.find(name).map(|span| span.line)
    }

    /// Every field as (name as written, value), in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|span| (self.name_of(span), self.value_of(span)))
    }

    fn push_field(&mut self, name: &str, value: &str, line: u64) {
        if self.fields.is_empty() {
            self.line = line;
        }
        let name_start = self.text.len();
        self.text.push_str(name);
        let name_end = self.text.len();
        self.text.push_str(value);
        self.fields.push(FieldSpan {
            name_start,
            name_end,
            value_start: name_end,
            value_end: self.text.len(),
            line,
        });
    }

    /// Appends a continuation line to the last field. The caller checked there is one.
    fn push_continuation(&mut self, rest: &str) {
        let Some(last) = self.fields.last_mut() else {
            return;
        };
        if last.value_end > last.value_start {
            self.text.push('\n');
        }
        self.text.push_str(rest);
        last.value_end = self.text.len();
    }
}

/// Whether `name` is a valid field name.
fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('#')
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

/// Reads paragraphs one at a time from a buffered reader of (decompressed) control data.
#[derive(Debug)]
pub struct ControlReader<R> {
    reader: R,
    /// The number of lines read so far.
    line: u64,
    diagnostics: Diagnostics,
    buffer: Vec<u8>,
}

impl<R: BufRead> ControlReader<R> {
    pub fn new(reader: R, document: AptDocument) -> ControlReader<R> {
        ControlReader {
            reader,
            line: 0,
            diagnostics: Diagnostics::new(document),
            buffer: Vec::new(),
        }
    }

    /// The diagnostics collected so far (malformed paragraphs skipped).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics.kept
    }

    pub(crate) fn into_diagnostics(self) -> Diagnostics {
        self.diagnostics
    }

    /// Reads one line into `self.buffer`, without its line end. Returns `Ok(None)` at the end
    /// of the input and `Ok(Some(false))` for a line longer than [`MAX_LINE_BYTES`], whose
    /// end is consumed and dropped.
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.buffer.clear();
        let mut fits = true;
        let mut read_any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                break;
            }
            read_any = true;
            let (chunk, found_end) = match available.iter().position(|&b| b == b'\n') {
                Some(end) => (&available[..end], true),
                None => (available, false),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.buffer.len());
            if chunk.len() > room {
                fits = false;
            }
            self.buffer
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = chunk.len() + usize::from(found_end);
            self.reader.consume(used);
            if found_end {
                break;
            }
        }
        if !read_any {
            return Ok(None);
        }
        self.line += 1;
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        Ok(Some(fits))
    }

    /// The next well-formed paragraph, `Ok(None)` at the end of the input. Malformed
    /// paragraphs are skipped and recorded as diagnostics. `Err` only when reading fails.
    pub fn next_paragraph(&mut self) -> io::Result<Option<Paragraph>> {
        let mut paragraph = Paragraph::default();
        // The first problem of the current paragraph: (line, message).
        let mut broken: Option<(u64, String)> = None;
        let mut item: Option<String> = None;
        loop {
            let Some(fits) = self.read_line()? else {
                // End of input: flush the last paragraph.
                return Ok(self.finish(paragraph, broken, item.as_deref()));
            };
            let line_number = self.line;
            let text = String::from_utf8_lossy(&self.buffer);
            let blank = text.bytes().all(|b| b == b' ' || b == b'\t');
            if blank {
                if paragraph.is_empty() && broken.is_none() {
                    continue;
                }
                if let Some(done) = self.finish(paragraph, broken, item.as_deref()) {
                    return Ok(Some(done));
                }
                paragraph = Paragraph::default();
                broken = None;
                item = None;
                continue;
            }
            if broken.is_some() {
                continue;
            }
            if !fits {
                broken = Some((
                    line_number,
                    format!("line is longer than {MAX_LINE_BYTES} bytes"),
                ));
                continue;
            }
            if text.starts_with('#') {
                continue;
            }
            if paragraph.text.len() + text.len() > MAX_PARAGRAPH_BYTES {
                broken = Some((
                    line_number,
                    format!("paragraph is larger than {MAX_PARAGRAPH_BYTES} bytes"),
                ));
                continue;
            }
            if let Some(rest) = text.strip_prefix([' ', '\t']) {
                if paragraph.is_empty() {
                    broken = Some((
                        line_number,
                        "continuation line without a field before it".to_owned(),
                    ));
                    continue;
                }
                paragraph.push_continuation(rest.trim_end());
                continue;
            }
            let Some((name, value)) = text.split_once(':') else {
                broken = Some((
                    line_number,
                    "line is neither `Field: value`, a continuation nor a comment".to_owned(),
                ));
                continue;
            };
            if !valid_field_name(name) {
                broken = Some((line_number, format!("invalid field name `{}`", name.trim())));
                continue;
            }
            if paragraph.find(name).is_some() {
                broken = Some((line_number, format!("field `{name}` appears twice")));
                continue;
            }
            let value = value.trim_matches([' ', '\t']);
            if item.is_none() && name.eq_ignore_ascii_case("Package") {
                item = Some(value.to_owned());
            }
            paragraph.push_field(name, value, line_number);
        }
    }

    fn finish(
        &mut self,
        paragraph: Paragraph,
        broken: Option<(u64, String)>,
        item: Option<&str>,
    ) -> Option<Paragraph> {
        match broken {
            Some((line, message)) => {
                self.diagnostics
                    .push(line, item, format!("{message}; paragraph skipped"));
                None
            }
            None if paragraph.is_empty() => None,
            None => Some(paragraph),
        }
    }
}

impl Paragraph {
    /// Builds a paragraph from (name, value) pairs, for tests and callers that synthesise
    /// control data. Invalid names are kept as given.
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Paragraph {
        let mut paragraph = Paragraph::default();
        for (index, (name, value)) in fields.into_iter().enumerate() {
            paragraph.push_field(name, value, u64::try_from(index).unwrap_or(u64::MAX) + 1);
        }
        paragraph
    }
}

/// Parses every paragraph of (possibly compressed) control data.
pub fn parse_paragraphs(
    bytes: &[u8],
    document: AptDocument,
) -> Result<Parsed<Vec<Paragraph>>, AptError> {
    let read_error = |source| AptError::Read { document, source };
    let reader = Decompressor::new(bytes).map_err(read_error)?;
    let mut control = ControlReader::new(reader, document);
    let mut paragraphs = Vec::new();
    while let Some(paragraph) = control.next_paragraph().map_err(read_error)? {
        paragraphs.push(paragraph);
    }
    Ok(control.into_diagnostics().into_parsed(paragraphs))
}
