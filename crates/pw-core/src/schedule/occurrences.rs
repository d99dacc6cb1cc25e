//! [`WindowSchedule`]: a schedule expression placed in a time zone, with the window's offset,
//! start date, end date and creation time, and the instants at which it opens.
//!
//! Terms used below (also in `docs/schedules.md`):
//!
//! * a **tick** is an instant the expression itself names: a cron match, `anchor + k ×
//!   interval` for a rate, the `at` time;
//! * a **run** is when the window opens: the tick, or for a cron schedule with an offset the
//!   tick's wall-clock date-time plus the offset in calendar days;
//! * a tick counts only if it is strictly after the window's creation and not before its
//!   start date; a run counts only if it is before the end date.

use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp, Zoned, civil};

use crate::schedule::error::WindowScheduleError;
use crate::schedule::expression::{Schedule, ScheduleKind};

/// What a [`WindowSchedule`] is built from; mirrors the fields of a maintenance window.
#[derive(Debug, Clone)]
pub struct WindowScheduleSettings {
    /// The expression.
    pub schedule: Schedule,
    /// The zone cron and at expressions are read in (`ScheduleTimezone`; UTC by default).
    pub time_zone: TimeZone,
    /// Days to wait after each cron tick (`ScheduleOffset`, 1-6, cron only).
    pub offset_days: Option<u8>,
    /// No tick before this instant (`StartDate`, inclusive).
    pub start: Option<Timestamp>,
    /// No run at or after this instant (`EndDate`, exclusive).
    pub end: Option<Timestamp>,
    /// When the window (or its current schedule) took effect: no tick at or before it, and
    /// the anchor of a rate schedule whose start date is absent or already past.
    pub created: Timestamp,
}

/// A validated window schedule. Answers "when does the window next open after T".
#[derive(Debug, Clone)]
pub struct WindowSchedule {
    settings: WindowScheduleSettings,
    plan: Plan,
}

/// The precomputed form of each kind of schedule.
#[derive(Debug, Clone)]
enum Plan {
    Cron,
    /// `anchor + k × interval` for k ≥ 0, in nanoseconds since the Unix epoch.
    Rate {
        anchor: i128,
        interval: i128,
    },
    At {
        instant: Zoned,
    },
}

impl WindowSchedule {
    /// Validates the settings: the offset is 1-6 and only on a cron schedule, the end date is
    /// after the start date, and an `at` time exists in the time zone.
    pub fn new(settings: WindowScheduleSettings) -> Result<WindowSchedule, WindowScheduleError> {
        if let Some(days) = settings.offset_days {
            if !matches!(settings.schedule.kind(), ScheduleKind::Cron(_)) {
                return Err(WindowScheduleError::OffsetNotCron {
                    schedule: settings.schedule.to_string(),
                });
            }
            if !(1..=6).contains(&days) {
                return Err(WindowScheduleError::OffsetOutOfRange { days });
            }
        }
        if let (Some(start), Some(end)) = (settings.start, settings.end)
            && end <= start
        {
            return Err(WindowScheduleError::EndNotAfterStart { start, end });
        }
        let plan = match settings.schedule.kind() {
            ScheduleKind::Cron(_) => Plan::Cron,
            ScheduleKind::Rate(rate) => {
                // "rate + past StartDate ⇒ now is used": a start date that had already passed
                // when the window was created does not anchor the series.
                let anchor = match settings.start {
                    Some(start) if start >= settings.created => start,
                    _ => settings.created,
                };
                Plan::Rate {
                    anchor: anchor.as_nanosecond(),
                    interval: rate.interval().as_nanos(),
                }
            }
            ScheduleKind::At(at) => {
                let instant = resolve(&settings.time_zone, at.datetime()).ok_or_else(|| {
                    WindowScheduleError::AtInGap {
                        schedule: settings.schedule.to_string(),
                        time_zone: zone_name(&settings.time_zone),
                    }
                })?;
                Plan::At { instant }
            }
        };
        Ok(WindowSchedule { settings, plan })
    }

    /// The settings this schedule was built from.
    pub fn settings(&self) -> &WindowScheduleSettings {
        &self.settings
    }

    /// The first run strictly after `after`, in the schedule's time zone, or `None` when the
    /// series has ended (end date, an `at` in the past, a cron year field exhausted, or the
    /// year 2199).
    pub fn next_after(&self, after: Timestamp) -> Option<Zoned> {
        let settings = &self.settings;
        // Ticks must be strictly after this instant.
        let mut tick_floor = settings.created;
        if let Some(start) = settings.start {
            tick_floor = tick_floor.max(earlier_by(start, SignedDuration::from_nanos(1)));
        }
        let run = match &self.plan {
            Plan::Cron => self.next_cron_run(after, tick_floor),
            Plan::Rate { anchor, interval } => {
                let floor = after.max(tick_floor).as_nanosecond();
                let steps = if floor < *anchor {
                    0
                } else {
                    (floor - anchor) / interval + 1
                };
                let tick = Timestamp::from_nanosecond(anchor + steps * interval).ok()?;
                Some(tick.to_zoned(settings.time_zone.clone()))
            }
            Plan::At { instant } => {
                let tick = instant.timestamp();
                (tick > after && tick > tick_floor).then(|| instant.clone())
            }
        }?;
        match settings.end {
            Some(end) if run.timestamp() >= end => None,
            _ => Some(run),
        }
    }

    /// The runs strictly after `after`, in order.
    pub fn occurrences_after(&self, after: Timestamp) -> Occurrences<'_> {
        Occurrences {
            schedule: self,
            after: Some(after),
        }
    }

    fn next_cron_run(&self, after: Timestamp, tick_floor: Timestamp) -> Option<Zoned> {
        let ScheduleKind::Cron(cron) = self.settings.schedule.kind() else {
            return None;
        };
        let time_zone = &self.settings.time_zone;
        let offset_days = self.settings.offset_days.unwrap_or(0);
        // Runs follow ticks in order, so search ticks from a point early enough that no tick
        // whose run is after `after` is missed: the offset, plus a day for any zone change.
        let mut floor = if offset_days == 0 {
            after.max(tick_floor)
        } else {
            let margin = SignedDuration::from_hours(24 * (i64::from(offset_days) + 1));
            earlier_by(after, margin).max(tick_floor)
        };
        loop {
            let tick = next_cron_tick(cron, time_zone, floor)?;
            floor = tick.timestamp();
            let run = if offset_days == 0 {
                tick
            } else {
                let shifted = tick
                    .datetime()
                    .checked_add(Span::new().days(offset_days))
                    .ok()?;
                // A shifted wall-clock time inside a daylight-saving gap is skipped.
                let Some(run) = resolve(time_zone, shifted) else {
                    continue;
                };
                run
            };
            if run.timestamp() > after {
                return Some(run);
            }
        }
    }
}

/// The first cron tick strictly after `floor`.
fn next_cron_tick(
    cron: &crate::schedule::cron::CronSchedule,
    time_zone: &TimeZone,
    floor: Timestamp,
) -> Option<Zoned> {
    let mut datetime = time_zone.to_datetime(floor);
    loop {
        datetime = cron.next_civil_after(datetime)?;
        // Skipped when the wall-clock time does not exist; in a repeated hour, the first
        // instant is taken, so a later wall-clock match can resolve before `floor`.
        if let Some(tick) = resolve(time_zone, datetime)
            && tick.timestamp() > floor
        {
            return Some(tick);
        }
    }
}

/// The instant of a wall-clock date-time in a zone: `None` inside a gap (spring forward), the
/// earlier instant inside a fold (fall back).
pub(crate) fn resolve(time_zone: &TimeZone, datetime: civil::DateTime) -> Option<Zoned> {
    let ambiguous = time_zone.to_ambiguous_zoned(datetime);
    match ambiguous.offset() {
        AmbiguousOffset::Gap { .. } => None,
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.earlier().ok()
        }
    }
}

/// `instant - duration`, clamped to the earliest representable instant.
pub(crate) fn earlier_by(instant: Timestamp, duration: SignedDuration) -> Timestamp {
    instant.checked_sub(duration).unwrap_or(Timestamp::MIN)
}

fn zone_name(time_zone: &TimeZone) -> String {
    time_zone
        .iana_name()
        .map_or_else(|| format!("{time_zone:?}"), ToOwned::to_owned)
}

/// The runs of a [`WindowSchedule`] after an instant; see
/// [`WindowSchedule::occurrences_after`].
#[derive(Debug, Clone)]
pub struct Occurrences<'a> {
    schedule: &'a WindowSchedule,
    /// `None` once the series has ended.
    after: Option<Timestamp>,
}

impl Iterator for Occurrences<'_> {
    type Item = Zoned;

    fn next(&mut self) -> Option<Zoned> {
        let run = self.schedule.next_after(self.after?);
        self.after = run.as_ref().map(Zoned::timestamp);
        run
    }
}

impl std::iter::FusedIterator for Occurrences<'_> {}
