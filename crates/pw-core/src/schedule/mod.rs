//! Maintenance-window schedules: `cron(...)`, `rate(...)` and `at(...)` expressions and their
//! occurrences in a time zone.
//!
//! * [`Schedule::parse`] validates an expression with the grammar SSM maintenance windows
//!   use (EventBridge's): errors name the field and the value at fault.
//! * [`WindowSchedule`] places it in a time zone with the window's schedule offset, start
//!   date, end date and creation time, and answers [`WindowSchedule::next_after`]: the
//!   first opening strictly after an instant.
//! * [`WindowTiming`] and [`ScheduledWindow`] add `Duration` and `Cutoff`: is an instant
//!   inside an occurrence, and may a task still start.
//!
//! Pure: the caller supplies the time zone (a [`jiff::tz::TimeZone`] value, looked up by the
//! binary) and every instant; nothing here reads a clock or the time-zone database.
//! `docs/schedules.md` records the semantics chosen where the upstream documentation is
//! silent: daylight-saving gaps and folds, the offset rule, rate anchoring, the 5-minute rule.
//!
//! ```
//! use jiff::{Timestamp, tz::TimeZone};
//! use pw_core::schedule::{Schedule, WindowSchedule, WindowScheduleSettings};
//!
//! let after: Timestamp = "2021-01-01T08:00:00Z".parse().unwrap();
//! let schedule = WindowSchedule::new(WindowScheduleSettings {
//!     schedule: Schedule::parse("cron(0 2 * * ? *)").unwrap(),
//!     time_zone: TimeZone::UTC,
//!     offset_days: None,
//!     start: None,
//!     end: None,
//!     created: after,
//! })
//! .unwrap();
//! let next = schedule.next_after(after).unwrap();
//! assert_eq!(next.timestamp().to_string(), "2021-01-02T02:00:00Z");
//! ```

mod at;
mod cron;
mod error;
mod expression;
mod occurrences;
mod rate;
mod window;

pub use crate::schedule::at::AtSchedule;
pub use crate::schedule::cron::CronSchedule;
pub use crate::schedule::error::{
    AtProblem, CronField, FieldProblem, RateProblem, ScheduleError, WindowScheduleError,
    WindowTimingError,
};
pub use crate::schedule::expression::{Schedule, ScheduleKind};
pub use crate::schedule::occurrences::{Occurrences, WindowSchedule, WindowScheduleSettings};
pub use crate::schedule::rate::{RateSchedule, RateUnit};
pub use crate::schedule::window::{ScheduledWindow, WindowOccurrence, WindowTiming};
