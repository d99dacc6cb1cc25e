//! [`Schedule`]: one parsed schedule expression of any kind.

use std::fmt;
use std::str::FromStr;

use crate::schedule::at::{AtSchedule, parse_at};
use crate::schedule::cron::CronSchedule;
use crate::schedule::error::ScheduleError;
use crate::schedule::rate::{RateSchedule, parse_rate};

/// A maintenance-window schedule expression: `cron(...)`, `rate(...)` or `at(...)`.
///
/// Keeps the text as written (trimmed) for display; equality compares meaning only.
///
/// ```
/// use pw_core::schedule::{Schedule, ScheduleKind};
///
/// let schedule = Schedule::parse("cron(0 2 ? * THU#3 *)").unwrap();
/// assert!(matches!(schedule.kind(), ScheduleKind::Cron(_)));
/// assert_eq!(schedule.to_string(), "cron(0 2 ? * THU#3 *)");
/// let error = Schedule::parse("cron(0 2 ? * MON-FOO *)").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "day-of-week field `MON-FOO`: unknown day name `FOO`: expected one of SUN, MON, TUE, WED, THU, FRI or SAT",
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    text: Box<str>,
    kind: ScheduleKind,
}

/// The three kinds of schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleKind {
    /// `cron(...)`: wall-clock times in the window's time zone.
    Cron(CronSchedule),
    /// `rate(...)`: a fixed elapsed interval from an anchor instant.
    Rate(RateSchedule),
    /// `at(...)`: once.
    At(AtSchedule),
}

impl Schedule {
    /// Parses and validates an expression. Leading and trailing white space is ignored; the
    /// keywords `cron`, `rate` and `at` and the units are lower case, names (`JAN`, `MON`)
    /// are case-insensitive.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let unknown = || ScheduleError::UnknownKind {
            text: text.to_owned(),
        };
        let (keyword, rest) = text.split_once('(').ok_or_else(unknown)?;
        let inner = rest.strip_suffix(')').ok_or_else(unknown)?;
        let kind = match keyword {
            "cron" => ScheduleKind::Cron(crate::schedule::cron::parse_cron(inner)?),
            "rate" => ScheduleKind::Rate(parse_rate(text, inner)?),
            "at" => ScheduleKind::At(parse_at(text, inner)?),
            _ => return Err(unknown()),
        };
        Ok(Schedule {
            text: text.into(),
            kind,
        })
    }

    /// What kind of expression this is, with its parsed form.
    pub fn kind(&self) -> &ScheduleKind {
        &self.kind
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.kind == other.kind
    }
}

impl Eq for Schedule {}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(text)
    }
}
