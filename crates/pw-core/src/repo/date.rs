//! Advisory dates in every form seen in real updateinfo files, read as UTC.
//!
//! Accepted (surrounding whitespace ignored):
//! - `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD` (a `T` may replace the space,
//!   seconds may have a fraction, which is dropped);
//! - seconds since the epoch (`1514764800`, optionally with a fraction);
//! - any of the date forms followed by a zone: `Z`, ` UTC`, ` GMT`, `+HH:MM`, `+HHMM`, `+HH`
//!   (or `-`), with or without a space before it. A date without a zone is UTC.
//!
//! Anything else is `None`; the caller records it as absent with a diagnostic.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::Offset;

/// Parses an updateinfo `date` attribute. `None` when it is in none of the accepted forms or
/// names an impossible date (`2018-02-30`).
pub fn parse_advisory_date(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(timestamp) = parse_epoch_seconds(text) {
        return Some(timestamp);
    }
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = cursor.digits(4, 4)?;
    cursor.expect(b'-')?;
    let month = cursor.digits(1, 2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(1, 2)?;
    let date = Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;

    let mut time = Time::midnight();
    let checkpoint = cursor.at;
    if cursor.eat(b'T') || cursor.eat(b' ') || cursor.eat(b't') {
        cursor.skip_spaces();
        if let Some(hour) = cursor.digits(1, 2) {
            cursor.expect(b':')?;
            let minute = cursor.digits(2, 2)?;
            let mut second = 0;
            if cursor.eat(b':') {
                second = cursor.digits(2, 2)?;
                if cursor.eat(b'.') || cursor.eat(b',') {
                    cursor.digits(1, 9)?;
                }
            }
            // A leap second (`23:59:60`) is read as the last second of the minute.
            let second = second.min(59);
            time = Time::new(
                i8::try_from(hour).ok()?,
                i8::try_from(minute).ok()?,
                i8::try_from(second).ok()?,
                0,
            )
            .ok()?;
        } else {
            // `2018-01-11 UTC`: the space belonged to the zone.
            cursor.at = checkpoint;
        }
    }
    let offset = cursor.zone()?;
    if cursor.at != cursor.bytes.len() {
        return None;
    }
    offset.to_timestamp(DateTime::from_parts(date, time)).ok()
}

fn parse_epoch_seconds(text: &str) -> Option<Timestamp> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    if let Some(fraction) = fraction
        && (fraction.is_empty() || !fraction.bytes().all(|byte| byte.is_ascii_digit()))
    {
        return None;
    }
    Timestamp::from_second(whole.parse().ok()?).ok()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    /// Between `min` and `max` ASCII digits as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.at;
        let mut value: u32 = 0;
        while self.at - start < max {
            let Some(byte) = self.peek().filter(u8::is_ascii_digit) else {
                break;
            };
            value = value.checked_mul(10)?.checked_add(u32::from(byte - b'0'))?;
            self.at += 1;
        }
        (self.at - start >= min).then_some(value)
    }

    /// An optional zone; `None` when something is there but is not a zone.
    fn zone(&mut self) -> Option<Offset> {
        self.skip_spaces();
        let rest = &self.bytes[self.at..];
        if rest.is_empty() {
            return Some(Offset::UTC);
        }
        for name in [&b"UTC"[..], b"GMT", b"Z", b"z"] {
            if rest.eq_ignore_ascii_case(name) {
                self.at = self.bytes.len();
                return Some(Offset::UTC);
            }
        }
        let sign: i32 = match rest[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.at += 1;
        let hours = self.digits(2, 2)?;
        let had_colon = self.eat(b':');
        let minutes = match self.digits(2, 2) {
            Some(minutes) => minutes,
            None if had_colon => return None,
            None => 0,
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
        Offset::from_seconds(sign * seconds).ok()
    }
}
