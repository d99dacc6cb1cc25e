//! A minimal, read-only reader of the SQLite file format, enough to scan the tables of a
//! `primary.sqlite` held in memory.
//!
//! Why not rusqlite: its in-memory `deserialize` needs an `unsafe` buffer hand-over, and the
//! workspace forbids `unsafe`; writing the database to a temporary file would be I/O, which
//! pw-core does not do. The format is documented and stable (sqlite.org/fileformat2.html),
//! and reading table b-trees needs only a few hundred lines. Every offset is bounds-checked
//! and every page is visited at most once, so a corrupt or hostile file yields an error,
//! never a panic or a loop.

use std::borrow::Cow;

/// Why a database could not be read.
pub(crate) type SqliteError = String;

/// A value of a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

impl Value<'_> {
    /// Text (or a number written as text) as a string; `Err` for invalid UTF-8.
    pub(crate) fn text(&self) -> Result<Option<Cow<'_, str>>, SqliteError> {
        match self {
            Value::Null => Ok(None),
            Value::Text(bytes) | Value::Blob(bytes) => std::str::from_utf8(bytes)
                .map(|text| Some(Cow::Borrowed(text)))
                .map_err(|_| "text is not UTF-8".to_owned()),
            Value::Integer(number) => Ok(Some(Cow::Owned(number.to_string()))),
            Value::Real(number) => Ok(Some(Cow::Owned(number.to_string()))),
        }
    }

    /// An integer (or a number written as text); `None` when absent or not a number.
    pub(crate) fn integer(&self) -> Option<i64> {
        match self {
            Value::Integer(number) => Some(*number),
            Value::Real(number) if number.fract() == 0.0 && number.abs() < 9.0e15 =>
            {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "checked integral and in range just above"
                )]
                Some(*number as i64)
            }
            Value::Text(bytes) => std::str::from_utf8(bytes).ok()?.trim().parse().ok(),
            _ => None,
        }
    }
}

/// A database file in memory.
pub(crate) struct Database<'a> {
    bytes: &'a [u8],
    page_size: usize,
    usable: usize,
    page_count: usize,
}

/// A table found in the schema.
pub(crate) struct Table {
    pub(crate) root: u32,
    /// Column names in order, and which one (if any) is the `INTEGER PRIMARY KEY` rowid alias.
    pub(crate) columns: Vec<String>,
    pub(crate) rowid_column: Option<usize>,
}

impl Table {
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|column| column.eq_ignore_ascii_case(name))
    }
}

impl<'a> Database<'a> {
    pub(crate) fn open(bytes: &'a [u8]) -> Result<Database<'a>, SqliteError> {
        if bytes.len() < 100 || !bytes.starts_with(b"SQLite format 3\0") {
            return Err("missing the \"SQLite format 3\" header".to_owned());
        }
        let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65536,
            size => usize::from(size),
        };
        if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
            return Err(format!("invalid page size {page_size}"));
        }
        let reserved = usize::from(bytes[20]);
        let usable = page_size.saturating_sub(reserved);
        if usable < 480 {
            return Err(format!("invalid reserved space {reserved}"));
        }
        let encoding = u32::from_be_bytes([bytes[56], bytes[57], bytes[58], bytes[59]]);
        if encoding > 1 {
            return Err(format!("text encoding {encoding} is not UTF-8"));
        }
        Ok(Database {
            bytes,
            page_size,
            usable,
            page_count: bytes.len() / page_size,
        })
    }

    /// Finds a table by name in the schema.
    pub(crate) fn table(&self, name: &str) -> Result<Option<Table>, SqliteError> {
        let mut found = None;
        self.scan(1, |_rowid, values| {
            let is_table = matches!(values.first(), Some(Value::Text(b"table")));
            let matches_name = matches!(values.get(1), Some(Value::Text(table)) if table.eq_ignore_ascii_case(name.as_bytes()));
            if is_table && matches_name && found.is_none() {
                let root = values.get(3).and_then(Value::integer).and_then(|root| u32::try_from(root).ok());
                let sql = values.get(4).map(Value::text).transpose()?.flatten();
                if let (Some(root), Some(sql)) = (root, sql) {
                    let (columns, rowid_column) = parse_columns(&sql)?;
                    found = Some(Table { root, columns, rowid_column });
                }
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Calls `each(rowid, values)` for every row of the table b-tree rooted at `root`, in
    /// rowid order. An `Err` from `each` stops the scan and is returned.
    pub(crate) fn scan(
        &self,
        root: u32,
        mut each: impl FnMut(i64, &[Value<'_>]) -> Result<(), SqliteError>,
    ) -> Result<(), SqliteError> {
        let mut visited = vec![false; self.page_count + 1];
        // Pages still to visit, in reverse order, so the leftmost child is popped first.
        let mut stack = vec![root];
        while let Some(number) = stack.pop() {
            let index =
                usize::try_from(number).map_err(|_| "page number out of range".to_owned())?;
            if index == 0 || index > self.page_count {
                return Err(format!("page {number} is out of range"));
            }
            if std::mem::replace(&mut visited[index], true) {
                return Err(format!("page {number} is referenced twice"));
            }
            let page = self.page(index);
            let header = if index == 1 { 100 } else { 0 };
            let kind = *page.get(header).ok_or("truncated page")?;
            let cells = usize::from(read_u16(page, header + 3)?);
            match kind {
                0x05 => {
                    let right = read_u32(page, header + 8)?;
                    stack.push(right);
                    for cell in (0..cells).rev() {
                        let offset = usize::from(read_u16(page, header + 12 + 2 * cell)?);
                        stack.push(read_u32(page, offset)?);
                    }
                }
                0x0d => {
                    for cell in 0..cells {
                        let offset = usize::from(read_u16(page, header + 8 + 2 * cell)?);
                        let (rowid, payload) = self.leaf_cell(page, offset)?;
                        let mut values = Vec::with_capacity(32);
                        parse_record(&payload, &mut values)?;
                        each(rowid, &values)?;
                    }
                }
                other => return Err(format!("page {number} has unexpected type {other:#04x}")),
            }
        }
        Ok(())
    }

    fn page(&self, number: usize) -> &'a [u8] {
        let start = (number - 1) * self.page_size;
        &self.bytes[start..start + self.page_size]
    }

    fn leaf_cell(
        &self,
        page: &'a [u8],
        offset: usize,
    ) -> Result<(i64, Cow<'a, [u8]>), SqliteError> {
        let (payload_len, used) = read_varint(page, offset)?;
        let (rowid, used_rowid) = read_varint(page, offset + used)?;
        let start = offset + used + used_rowid;
        let payload_len = usize::try_from(payload_len)
            .ok()
            .filter(|len| *len <= self.bytes.len())
            .ok_or("payload larger than the database")?;
        #[expect(
            clippy::cast_possible_wrap,
            reason = "a rowid is a 64-bit two's-complement integer"
        )]
        let rowid = rowid as i64;
        let max_local = self.usable - 35;
        if payload_len <= max_local {
            let payload = page
                .get(start..start + payload_len)
                .ok_or("cell overflows its page")?;
            return Ok((rowid, Cow::Borrowed(payload)));
        }
        let min_local = (self.usable - 12) * 32 / 255 - 23;
        let candidate = min_local + (payload_len - min_local) % (self.usable - 4);
        let local = if candidate <= max_local {
            candidate
        } else {
            min_local
        };
        let mut payload = Vec::with_capacity(payload_len);
        payload.extend_from_slice(
            page.get(start..start + local)
                .ok_or("cell overflows its page")?,
        );
        let mut next = read_u32(page, start + local)?;
        let mut hops = 0;
        while payload.len() < payload_len {
            let index =
                usize::try_from(next).map_err(|_| "overflow page out of range".to_owned())?;
            hops += 1;
            if index == 0 || index > self.page_count || hops > self.page_count {
                return Err(format!("overflow page {next} is out of range"));
            }
            let overflow = self.page(index);
            next = read_u32(overflow, 0)?;
            let take = (payload_len - payload.len()).min(self.usable - 4);
            payload.extend_from_slice(overflow.get(4..4 + take).ok_or("truncated overflow page")?);
        }
        Ok((rowid, Cow::Owned(payload)))
    }
}

fn read_u16(bytes: &[u8], at: usize) -> Result<u16, SqliteError> {
    match bytes.get(at..at + 2) {
        Some(&[high, low]) => Ok(u16::from_be_bytes([high, low])),
        _ => Err("truncated page".to_owned()),
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Result<u32, SqliteError> {
    match bytes.get(at..at + 4) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err("truncated page".to_owned()),
    }
}

/// A SQLite varint: big-endian, 7 bits per byte, the ninth byte contributes all 8 bits.
fn read_varint(bytes: &[u8], at: usize) -> Result<(u64, usize), SqliteError> {
    let mut value: u64 = 0;
    for index in 0..9 {
        let byte = *bytes.get(at + index).ok_or("truncated varint")?;
        if index == 8 {
            return Ok((value << 8 | u64::from(byte), 9));
        }
        value = value << 7 | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }
    Err("invalid varint".to_owned())
}

/// Decodes a record (header of serial types, then the values) into `values`.
fn parse_record<'p>(payload: &'p [u8], values: &mut Vec<Value<'p>>) -> Result<(), SqliteError> {
    let (header_len, mut at) = read_varint(payload, 0)?;
    let header_len = usize::try_from(header_len)
        .ok()
        .filter(|len| *len <= payload.len())
        .ok_or("record header longer than the record")?;
    let mut body = header_len;
    while at < header_len {
        let (serial, used) = read_varint(payload, at)?;
        at += used;
        let (value, len) = match serial {
            0 => (Value::Null, 0),
            1..=6 => {
                let len = [0, 1, 2, 3, 4, 6, 8][usize::try_from(serial).unwrap_or(0)];
                let bytes = payload
                    .get(body..body + len)
                    .ok_or("record value past its end")?;
                let mut number: i64 = if bytes.first().is_some_and(|byte| byte & 0x80 != 0) {
                    -1
                } else {
                    0
                };
                for byte in bytes {
                    number = number << 8 | i64::from(*byte);
                }
                (Value::Integer(number), len)
            }
            7 => {
                let bytes = payload
                    .get(body..body + 8)
                    .ok_or("record value past its end")?;
                let mut raw = [0u8; 8];
                raw.copy_from_slice(bytes);
                (Value::Real(f64::from_be_bytes(raw)), 8)
            }
            8 => (Value::Integer(0), 0),
            9 => (Value::Integer(1), 0),
            10 | 11 => return Err(format!("reserved serial type {serial}")),
            _ => {
                let len =
                    usize::try_from((serial - 12) / 2).map_err(|_| "value too long".to_owned())?;
                let bytes = payload
                    .get(body..body.saturating_add(len))
                    .ok_or("record value past its end")?;
                if serial % 2 == 0 {
                    (Value::Blob(bytes), len)
                } else {
                    (Value::Text(bytes), len)
                }
            }
        };
        values.push(value);
        body += len;
    }
    Ok(())
}

/// Column names of a `CREATE TABLE name (col type ..., ...)` statement, and the index of the
/// `INTEGER PRIMARY KEY` column (an alias of the rowid, stored as NULL in records).
fn parse_columns(sql: &str) -> Result<(Vec<String>, Option<usize>), SqliteError> {
    let open = sql.find('(').ok_or("table definition without columns")?;
    let close = sql
        .rfind(')')
        .filter(|close| *close > open)
        .ok_or("table definition without columns")?;
    let mut columns = Vec::new();
    let mut rowid_column = None;
    for definition in split_top_level(&sql[open + 1..close]) {
        let definition = definition.trim();
        let (name, rest) = first_token(definition);
        let keyword = name.to_ascii_uppercase();
        if matches!(
            keyword.as_str(),
            "CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN"
        ) || name.is_empty()
        {
            continue;
        }
        let rest_upper = rest.to_ascii_uppercase();
        let mut words = rest_upper.split_whitespace();
        if words.next() == Some("INTEGER") && rest_upper.contains("PRIMARY KEY") {
            rowid_column = Some(columns.len());
        }
        columns.push(name.to_owned());
    }
    Ok((columns, rowid_column))
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (index, character) in text.char_indices() {
        match (quote, character) {
            (Some(open), _) if character == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(character),
            (None, '[') => quote = Some(']'),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                pieces.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    pieces.push(&text[start..]);
    pieces
}

fn first_token(text: &str) -> (&str, &str) {
    let closing = match text.chars().next() {
        Some('"') => Some('"'),
        Some('`') => Some('`'),
        Some('[') => Some(']'),
        Some('\'') => Some('\''),
        _ => None,
    };
    match closing {
        Some(closing) => match text[1..].find(closing) {
            Some(end) => (&text[1..=end], &text[end + 2..]),
            None => (&text[1..], ""),
        },
        None => match text.find(char::is_whitespace) {
            Some(end) => (&text[..end], &text[end..]),
            None => (text, ""),
        },
    }
}
