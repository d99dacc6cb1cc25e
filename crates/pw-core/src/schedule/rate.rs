//! `rate(N minute|minutes|hour|hours|day|days)` expressions: a fixed elapsed interval.

use std::fmt;

use jiff::SignedDuration;

use crate::schedule::error::{RateProblem, ScheduleError};

/// The unit of a `rate(...)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateUnit {
    /// 60 seconds.
    Minutes,
    /// 3 600 seconds.
    Hours,
    /// 86 400 seconds: a day is 24 elapsed hours, also across daylight-saving changes.
    Days,
}

impl RateUnit {
    fn seconds(self) -> i64 {
        match self {
            RateUnit::Minutes => 60,
            RateUnit::Hours => 3_600,
            RateUnit::Days => 86_400,
        }
    }

    fn name(self, value: u32) -> &'static str {
        match (self, value == 1) {
            (RateUnit::Minutes, true) => "minute",
            (RateUnit::Minutes, false) => "minutes",
            (RateUnit::Hours, true) => "hour",
            (RateUnit::Hours, false) => "hours",
            (RateUnit::Days, true) => "day",
            (RateUnit::Days, false) => "days",
        }
    }
}

/// A parsed `rate(...)` expression: run every `value` `unit`s of elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateSchedule {
    value: u32,
    unit: RateUnit,
}

impl RateSchedule {
    /// The number of units.
    pub fn value(&self) -> u32 {
        self.value
    }

    /// The unit.
    pub fn unit(&self) -> RateUnit {
        self.unit
    }

    /// The elapsed time between two runs.
    pub fn interval(&self) -> SignedDuration {
        SignedDuration::from_secs(i64::from(self.value) * self.unit.seconds())
    }
}

impl fmt::Display for RateSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate({} {})", self.value, self.unit.name(self.value))
    }
}

/// Parses the text between `rate(` and `)`; `text` is the whole expression, for messages.
pub(crate) fn parse_rate(text: &str, inner: &str) -> Result<RateSchedule, ScheduleError> {
    let error = |problem| ScheduleError::Rate {
        text: text.to_owned(),
        problem,
    };
    let tokens: Vec<&str> = inner.split_whitespace().collect();
    let [value_text, unit_text] = tokens[..] else {
        return Err(error(RateProblem::Shape));
    };
    let value = value_text
        .bytes()
        .all(|byte| byte.is_ascii_digit())
        .then(|| value_text.parse::<u32>().ok())
        .flatten()
        .filter(|value| *value >= 1)
        .ok_or_else(|| {
            error(RateProblem::Value {
                token: value_text.to_owned(),
            })
        })?;
    let (unit, singular) = match unit_text {
        "minute" => (RateUnit::Minutes, true),
        "minutes" => (RateUnit::Minutes, false),
        "hour" => (RateUnit::Hours, true),
        "hours" => (RateUnit::Hours, false),
        "day" => (RateUnit::Days, true),
        "days" => (RateUnit::Days, false),
        _ => {
            return Err(error(RateProblem::Unit {
                token: unit_text.to_owned(),
            }));
        }
    };
    if singular != (value == 1) {
        return Err(error(RateProblem::Plural {
            expected: unit.name(value),
        }));
    }
    if unit == RateUnit::Minutes && value < 5 {
        return Err(error(RateProblem::TooFrequent));
    }
    Ok(RateSchedule { value, unit })
}
