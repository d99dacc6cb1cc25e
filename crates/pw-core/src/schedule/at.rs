//! `at(yyyy-mm-ddThh:mm:ss)` expressions: run once, at a wall-clock time in the window's
//! time zone.

use std::fmt;

use jiff::civil;

use crate::schedule::error::{AtProblem, ScheduleError};

/// A parsed `at(...)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AtSchedule {
    datetime: civil::DateTime,
}

impl AtSchedule {
    /// The wall-clock date and time, to be read in the window's time zone.
    pub fn datetime(&self) -> civil::DateTime {
        self.datetime
    }
}

impl fmt::Display for AtSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at({})", self.datetime.strftime("%Y-%m-%dT%H:%M:%S"))
    }
}

/// Parses the text between `at(` and `)`; `text` is the whole expression, for messages.
pub(crate) fn parse_at(text: &str, inner: &str) -> Result<AtSchedule, ScheduleError> {
    let error = |problem| ScheduleError::At {
        text: text.to_owned(),
        problem,
    };
    // Exactly `dddd-dd-ddTdd:dd:dd`: jiff's own parser is more lenient than the grammar.
    let bytes = inner.as_bytes();
    let shape_ok = bytes.len() == 19
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            10 => *byte == b'T',
            13 | 16 => *byte == b':',
            _ => byte.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(error(AtProblem::Shape));
    }
    let number = |range: std::ops::Range<usize>| inner[range].parse::<i16>().unwrap_or(-1);
    let no_such = || {
        error(AtProblem::NoSuchDateTime {
            token: inner.to_owned(),
        })
    };
    let small = |value: i16| i8::try_from(value).map_err(|_| no_such());
    let datetime = civil::DateTime::new(
        number(0..4),
        small(number(5..7))?,
        small(number(8..10))?,
        small(number(11..13))?,
        small(number(14..16))?,
        small(number(17..19))?,
        0,
    )
    .map_err(|_| no_such())?;
    Ok(AtSchedule { datetime })
}
