//! Shared helpers of the schedule tests: window schedules built from strings, and instants
//! printed as RFC 3339 with the zone's offset (the CLI's format).

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use pw_core::schedule::{Schedule, WindowSchedule, WindowScheduleSettings};

/// Parses an RFC 3339 instant.
pub(crate) fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|error| panic!("bad instant `{text}`: {error}"))
}

/// `2021-01-06T09:00:00-08:00`.
pub(crate) fn rfc3339(zoned: &Zoned) -> String {
    zoned
        .timestamp()
        .display_with_offset(zoned.offset())
        .to_string()
}

/// A zone from the system database (tests may do I/O; the library may not).
pub(crate) fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|error| panic!("time zone `{name}`: {error}"))
}

/// A window schedule under construction; `created` defaults to the query instant.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    expression: String,
    time_zone: String,
    offset_days: Option<u8>,
    start: Option<String>,
    end: Option<String>,
    created: Option<String>,
}

pub(crate) fn window(expression: &str, time_zone: &str) -> Window {
    Window {
        expression: expression.to_owned(),
        time_zone: time_zone.to_owned(),
        offset_days: None,
        start: None,
        end: None,
        created: None,
    }
}

impl Window {
    pub(crate) fn offset(mut self, days: u8) -> Window {
        self.offset_days = Some(days);
        self
    }

    pub(crate) fn start(mut self, start: &str) -> Window {
        self.start = Some(start.to_owned());
        self
    }

    pub(crate) fn end(mut self, end: &str) -> Window {
        self.end = Some(end.to_owned());
        self
    }

    pub(crate) fn created(mut self, created: &str) -> Window {
        self.created = Some(created.to_owned());
        self
    }

    /// Builds the schedule, created at `created` or else at `after`.
    #[track_caller]
    pub(crate) fn build(&self, after: &str) -> WindowSchedule {
        let schedule = Schedule::parse(&self.expression)
            .unwrap_or_else(|error| panic!("`{}`: {error}", self.expression));
        WindowSchedule::new(WindowScheduleSettings {
            schedule,
            time_zone: zone(&self.time_zone),
            offset_days: self.offset_days,
            start: self.start.as_deref().map(ts),
            end: self.end.as_deref().map(ts),
            created: ts(self.created.as_deref().unwrap_or(after)),
        })
        .unwrap_or_else(|error| panic!("`{}`: {error}", self.expression))
    }

    /// The first `expected.len()` runs after `after` are `expected`.
    #[track_caller]
    pub(crate) fn check(&self, after: &str, expected: &[&str]) {
        let schedule = self.build(after);
        let actual: Vec<String> = schedule
            .occurrences_after(ts(after))
            .take(expected.len())
            .map(|z| rfc3339(&z))
            .collect();
        assert_eq!(actual, expected, "{self:?} after {after}");
    }

    /// All runs after `after` are exactly `expected` (the series ends).
    #[track_caller]
    pub(crate) fn check_all(&self, after: &str, expected: &[&str]) {
        let schedule = self.build(after);
        let actual: Vec<String> = schedule
            .occurrences_after(ts(after))
            .take(10_000)
            .map(|z| rfc3339(&z))
            .collect();
        assert_eq!(actual, expected, "{self:?} after {after}");
    }
}
