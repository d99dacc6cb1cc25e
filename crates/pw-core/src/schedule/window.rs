//! Maintenance-window timing: how long a window stays open (`Duration`) and when it stops
//! starting new tasks (`Cutoff`), and the occurrences that result.

use jiff::{SignedDuration, Timestamp, Zoned};

use crate::schedule::error::WindowTimingError;
use crate::schedule::occurrences::{WindowSchedule, earlier_by};

/// A window's `Duration` (1-24 hours) and `Cutoff` (0-23 hours, below the duration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowTiming {
    duration_hours: u8,
    cutoff_hours: u8,
}

impl WindowTiming {
    /// Validates duration and cutoff. The cutoff must be strictly smaller than the duration,
    /// so at least one hour remains in which tasks may start.
    pub fn new(duration_hours: u8, cutoff_hours: u8) -> Result<WindowTiming, WindowTimingError> {
        if !(1..=24).contains(&duration_hours) {
            return Err(WindowTimingError::Duration {
                hours: duration_hours,
            });
        }
        if cutoff_hours > 23 {
            return Err(WindowTimingError::Cutoff {
                hours: cutoff_hours,
            });
        }
        if cutoff_hours >= duration_hours {
            return Err(WindowTimingError::CutoffNotBelowDuration {
                duration_hours,
                cutoff_hours,
            });
        }
        Ok(WindowTiming {
            duration_hours,
            cutoff_hours,
        })
    }

    /// The duration in hours.
    pub fn duration_hours(&self) -> u8 {
        self.duration_hours
    }

    /// The cutoff in hours.
    pub fn cutoff_hours(&self) -> u8 {
        self.cutoff_hours
    }

    /// The duration as elapsed time.
    pub fn duration(&self) -> SignedDuration {
        SignedDuration::from_hours(i64::from(self.duration_hours))
    }

    /// The occurrence that opens at `start`. Durations are elapsed time: a 2-hour window
    /// that spans a daylight-saving change still lasts 120 minutes.
    pub fn occurrence(&self, start: Zoned) -> WindowOccurrence {
        let end = start.saturating_add(self.duration());
        let last_task_start =
            end.saturating_sub(SignedDuration::from_hours(i64::from(self.cutoff_hours)));
        WindowOccurrence {
            start,
            end,
            last_task_start,
        }
    }
}

/// One opening of a window: open during `[start, end)`; tasks may start from `start` up to
/// and including `last_task_start = end - cutoff` (with cutoff 0, until the window closes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowOccurrence {
    start: Zoned,
    end: Zoned,
    last_task_start: Zoned,
}

impl WindowOccurrence {
    /// When the window opens.
    pub fn start(&self) -> &Zoned {
        &self.start
    }

    /// When the window closes (exclusive).
    pub fn end(&self) -> &Zoned {
        &self.end
    }

    /// The last instant at which a task may start (`end - cutoff`).
    pub fn last_task_start(&self) -> &Zoned {
        &self.last_task_start
    }

    /// Whether the window is open at `instant`: `start <= instant < end`.
    pub fn contains(&self, instant: Timestamp) -> bool {
        self.start.timestamp() <= instant && instant < self.end.timestamp()
    }

    /// Whether a task may start at `instant`: the window is open and the cutoff has not been
    /// passed (`instant <= end - cutoff`).
    pub fn may_start_task(&self, instant: Timestamp) -> bool {
        self.contains(instant) && instant <= self.last_task_start.timestamp()
    }
}

/// A window schedule together with its timing: the questions a scheduler asks.
#[derive(Debug, Clone)]
pub struct ScheduledWindow {
    schedule: WindowSchedule,
    timing: WindowTiming,
}

impl ScheduledWindow {
    /// Combines an already validated schedule and timing.
    pub fn new(schedule: WindowSchedule, timing: WindowTiming) -> ScheduledWindow {
        ScheduledWindow { schedule, timing }
    }

    /// The schedule.
    pub fn schedule(&self) -> &WindowSchedule {
        &self.schedule
    }

    /// The timing.
    pub fn timing(&self) -> WindowTiming {
        self.timing
    }

    /// The first occurrence that opens strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Option<WindowOccurrence> {
        self.schedule
            .next_after(after)
            .map(|start| self.timing.occurrence(start))
    }

    /// The earliest occurrence that is open at `instant`, if any. When occurrences overlap
    /// (a rate shorter than the duration), later ones may be open too; deciding what to do
    /// with an overlapping run is the scheduler's business.
    pub fn containing(&self, instant: Timestamp) -> Option<WindowOccurrence> {
        // An occurrence contains `instant` iff it starts in `(instant - duration, instant]`.
        let earliest = earlier_by(instant, self.timing.duration());
        let start = self.schedule.next_after(earliest)?;
        (start.timestamp() <= instant).then(|| self.timing.occurrence(start))
    }

    /// The occurrences that open strictly after `after`, in order.
    pub fn occurrences_after(&self, after: Timestamp) -> impl Iterator<Item = WindowOccurrence> {
        self.schedule
            .occurrences_after(after)
            .map(|start| self.timing.occurrence(start))
    }
}
