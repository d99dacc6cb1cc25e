//! Errors of schedule expressions, window schedules and window timing. Every message names
//! what is wrong and where (which field, which value), in lower case.

use std::fmt;

use jiff::Timestamp;
use jiff::civil;

/// A schedule expression (`cron(...)`, `rate(...)`, `at(...)`) that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The text is empty or only white space.
    #[error("empty schedule expression: expected `cron(...)`, `rate(...)` or `at(...)`")]
    Empty,
    /// The text does not have the shape `kind(...)` with a known kind.
    #[error(
        "`{text}` is not a schedule expression: expected `cron(...)`, `rate(...)` or `at(...)`"
    )]
    UnknownKind {
        /// The whole expression.
        text: String,
    },
    /// A cron expression with the wrong number of fields.
    #[error(
        "cron expression has {found} fields: expected 6 (minutes hours day-of-month month \
         day-of-week year) or 7 (seconds first)"
    )]
    CronFieldCount {
        /// How many white-space separated fields were found.
        found: usize,
    },
    /// One field of a cron expression is invalid.
    #[error("{field} field `{text}`: {problem}")]
    CronField {
        /// Which field.
        field: CronField,
        /// The text of the whole field.
        text: String,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// Day-of-month and day-of-week do not have exactly one `?`.
    #[error(
        "day-of-month `{day_of_month}` and day-of-week `{day_of_week}`: exactly one of the two \
         fields must be `?`"
    )]
    CronDayFields {
        /// The day-of-month field text.
        day_of_month: String,
        /// The day-of-week field text.
        day_of_week: String,
    },
    /// The cron expression fires twice less than five minutes apart.
    #[error(
        "cron expression fires at {first_hms} and again at {second_hms}{day_note}, {gap_seconds} \
         seconds apart: schedules that fire more often than every 5 minutes are not supported",
        first_hms = HmsDisplay(*.first),
        second_hms = HmsDisplay(*.second),
        day_note = if *.next_day { " the next day" } else { "" },
    )]
    TooFrequent {
        /// The earlier firing (local wall-clock time of day).
        first: civil::Time,
        /// The following firing.
        second: civil::Time,
        /// `second` falls on the day after `first`.
        next_day: bool,
        /// The wall-clock gap between the two.
        gap_seconds: u32,
    },
    /// A `rate(...)` expression is invalid.
    #[error("rate expression `{text}`: {problem}")]
    Rate {
        /// The whole expression.
        text: String,
        /// What is wrong with it.
        problem: RateProblem,
    },
    /// An `at(...)` expression is invalid.
    #[error("at expression `{text}`: {problem}")]
    At {
        /// The whole expression.
        text: String,
        /// What is wrong with it.
        problem: AtProblem,
    },
}

/// The fields of a cron expression, in the order they are written (seconds only in the
/// seven-field form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    /// Seconds, 0-59 (seven-field form only).
    Seconds,
    /// Minutes, 0-59.
    Minutes,
    /// Hours, 0-23.
    Hours,
    /// Day of month, 1-31, `L`, `LW`, `nW`.
    DayOfMonth,
    /// Month, 1-12 or JAN-DEC.
    Month,
    /// Day of week, 1-7 or SUN-SAT, `nL`, `n#k`.
    DayOfWeek,
    /// Year, 1970-2199.
    Year,
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Seconds => "seconds",
            CronField::Minutes => "minutes",
            CronField::Hours => "hours",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
            CronField::Year => "year",
        })
    }
}

/// What is wrong with one cron field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// `1,,2` or a trailing comma.
    #[error("empty list item")]
    EmptyItem,
    /// A token that is neither a number nor a known name.
    #[error("`{token}` is not a number")]
    NotANumber {
        /// The offending token.
        token: String,
    },
    /// An alphabetic token in a field that takes names, but not this one.
    #[error("unknown {kind} name `{token}`: expected one of {expected}")]
    UnknownName {
        /// The offending token.
        token: String,
        /// `day` or `month`.
        kind: &'static str,
        /// The accepted names.
        expected: &'static str,
    },
    /// A number outside the field's range.
    #[error("`{value}` is out of range {min}-{max}")]
    OutOfRange {
        /// The value as written.
        value: u32,
        /// Smallest accepted value.
        min: u32,
        /// Largest accepted value.
        max: u32,
    },
    /// `/0`.
    #[error("step `/{token}` must be a number of at least 1")]
    BadStep {
        /// The text after the `/`.
        token: String,
    },
    /// A descending range in the year field (other fields wrap around).
    #[error("range `{token}` runs backwards")]
    BackwardsRange {
        /// The range as written.
        token: String,
    },
    /// `?` outside day-of-month/day-of-week, or combined with other values.
    #[error("`?` is only allowed as the whole day-of-month or day-of-week field")]
    QuestionMark,
    /// `L`, `W` or `#` in a field that does not take it.
    #[error("`{special}` is only allowed in the {allowed} field")]
    SpecialNotAllowed {
        /// The offending token.
        token: String,
        /// The special character.
        special: char,
        /// Where it is allowed.
        allowed: &'static str,
    },
    /// `L`, `LW`, `nW`, `nL` or `n#k` combined with other values.
    #[error("`{token}` must be the whole field: it cannot be combined with other values")]
    SpecialNotAlone {
        /// The special token.
        token: String,
    },
    /// `L-3` (offset from the last day), which EventBridge's grammar does not list.
    #[error("offsets from the last day (`L-n`) are not supported, only `L` and `LW`")]
    LastDayOffset {
        /// The offending token.
        token: String,
    },
    /// `1-5W`, `*/2W` and the like: `W` takes one day.
    #[error("`W` takes a single day of the month, e.g. `15W`")]
    WeekdayRange {
        /// The offending token.
        token: String,
    },
    /// `n#k` with `k` outside 1-5.
    #[error("the occurrence after `#` must be 1-5")]
    NthOutOfRange {
        /// The offending token.
        token: String,
    },
}

/// What is wrong with a `rate(...)` expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateProblem {
    /// Not exactly `value unit`.
    #[error("expected `rate(value unit)`, e.g. `rate(30 minutes)`")]
    Shape,
    /// The value is not a positive whole number.
    #[error("value `{token}` must be a whole number of at least 1")]
    Value {
        /// The value as written.
        token: String,
    },
    /// The unit is unknown.
    #[error("unknown unit `{token}`: expected minute(s), hour(s) or day(s)")]
    Unit {
        /// The unit as written.
        token: String,
    },
    /// `rate(1 minutes)` or `rate(5 minute)`.
    #[error("use the singular unit `{expected}` exactly when the value is 1")]
    Plural {
        /// The unit that would be right.
        expected: &'static str,
    },
    /// A rate below five minutes.
    #[error("rates faster than every 5 minutes are not supported")]
    TooFrequent,
}

/// What is wrong with an `at(...)` expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtProblem {
    /// Not `yyyy-mm-ddThh:mm:ss`.
    #[error("expected `at(yyyy-mm-ddThh:mm:ss)`, e.g. `at(2020-07-07T15:55:00)`")]
    Shape,
    /// The shape is right but the date or time does not exist (`2021-02-30`, `25:00:00`).
    #[error("`{token}` is not a valid date and time")]
    NoSuchDateTime {
        /// The date-time as written.
        token: String,
    },
}

/// A window schedule whose settings contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowScheduleError {
    /// A schedule offset outside 1-6 days.
    #[error("schedule offset {days} is out of range: expected 1-6 days")]
    OffsetOutOfRange {
        /// The offset as given.
        days: u8,
    },
    /// A schedule offset on a rate or at schedule.
    #[error("schedule offset applies to cron schedules only, not to `{schedule}`")]
    OffsetNotCron {
        /// The schedule expression.
        schedule: String,
    },
    /// An end date at or before the start date.
    #[error("end date {end} is not after start date {start}")]
    EndNotAfterStart {
        /// The start date.
        start: Timestamp,
        /// The end date.
        end: Timestamp,
    },
    /// An `at(...)` time that the time zone skips (daylight-saving gap).
    #[error(
        "`{schedule}` names a local time that does not exist in {time_zone}: a daylight-saving change skips it"
    )]
    AtInGap {
        /// The schedule expression.
        schedule: String,
        /// The time zone's name.
        time_zone: String,
    },
}

/// Maintenance-window duration and cutoff that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowTimingError {
    /// Duration outside 1-24 hours.
    #[error("duration {hours} h is out of range: expected 1-24 hours")]
    Duration {
        /// The duration as given.
        hours: u8,
    },
    /// Cutoff outside 0-23 hours.
    #[error("cutoff {hours} h is out of range: expected 0-23 hours")]
    Cutoff {
        /// The cutoff as given.
        hours: u8,
    },
    /// Cutoff not below the duration.
    #[error("cutoff {cutoff_hours} h must be smaller than the duration {duration_hours} h")]
    CutoffNotBelowDuration {
        /// The duration.
        duration_hours: u8,
        /// The cutoff.
        cutoff_hours: u8,
    },
}

/// Formats a time of day as `hh:mm:ss`.
struct HmsDisplay(civil::Time);

impl fmt::Display for HmsDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}:{:02}",
            self.0.hour(),
            self.0.minute(),
            self.0.second()
        )
    }
}
