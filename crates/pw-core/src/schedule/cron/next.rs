//! The field-by-field search for the next wall-clock match, and the "not more often than
//! every 5 minutes" rule.
//!
//! The search visits allowed years, then allowed months of that year, then matching days of
//! that month, then allowed times of day, and stops at the first hit. A miss on a
//! partially-consumed level only costs one step, so even `cron(0 0 29 2 ? *)` (leap days) or
//! a year field with one year far away is answered in a few hundred bit operations.

use jiff::civil;

use crate::schedule::cron::{CronSchedule, MAX_YEAR, days_in_month, next_bit, small};
use crate::schedule::error::ScheduleError;

/// Minimum wall-clock gap between two firings, in seconds.
const MIN_GAP_SECONDS: u32 = 5 * 60;
const SECONDS_PER_DAY: u32 = 24 * 60 * 60;

pub(crate) fn next_civil_after(
    schedule: &CronSchedule,
    datetime: civil::DateTime,
) -> Option<civil::DateTime> {
    let start_year = u32::try_from(datetime.year()).ok()?;
    if start_year > MAX_YEAR {
        return None;
    }
    let start_month = small(datetime.month());
    let start_day = small(datetime.day());
    // The search starts one second after `datetime` (its sub-second part dropped). A second of
    // 60 simply finds no allowed second in that minute and moves on.
    let start_time = (
        small(datetime.hour()),
        small(datetime.minute()),
        small(datetime.second()) + 1,
    );
    let mut year = schedule.years.next_at_or_after(start_year)?;
    loop {
        let first_year = year == start_year;
        let mut month_from = if first_year { start_month } else { 1 };
        while let Some(month) = next_bit(schedule.months, month_from) {
            let first_month = first_year && month == start_month;
            let days = schedule.day_set(year, month);
            let mut day_from = if first_month { start_day } else { 1 };
            while let Some(day) = next_bit(days, day_from) {
                let first_day = first_month && day == start_day;
                let from = if first_day { start_time } else { (0, 0, 0) };
                if let Some((hour, minute, second)) = time_at_or_after(schedule, from) {
                    return civil::DateTime::new(
                        i16::try_from(year).ok()?,
                        i8::try_from(month).ok()?,
                        i8::try_from(day).ok()?,
                        i8::try_from(hour).ok()?,
                        i8::try_from(minute).ok()?,
                        i8::try_from(second).ok()?,
                        0,
                    )
                    .ok();
                }
                day_from = day + 1;
            }
            month_from = month + 1;
        }
        year = schedule.years.next_at_or_after(year + 1)?;
    }
}

/// The earliest allowed time of day at or after `(hour, minute, second)`; `second` may be 60.
fn time_at_or_after(schedule: &CronSchedule, from: (u32, u32, u32)) -> Option<(u32, u32, u32)> {
    let (from_hour, from_minute, from_second) = from;
    let mut hour_from = from_hour;
    while let Some(hour) = next_bit(schedule.hours, hour_from) {
        let first_hour = hour == from_hour;
        let mut minute_from = if first_hour { from_minute } else { 0 };
        while let Some(minute) = next_bit(schedule.minutes, minute_from) {
            let second_from = if first_hour && minute == from_minute {
                from_second
            } else {
                0
            };
            if let Some(second) = next_bit(schedule.seconds, second_from) {
                return Some((hour, minute, second));
            }
            minute_from = minute + 1;
        }
        hour_from = hour + 1;
    }
    None
}

/// Rejects expressions whose consecutive firings can be less than five minutes apart on the
/// wall clock.
///
/// Within a day the firing times are every combination of the allowed hours, minutes and
/// seconds, so the gaps are the differences between consecutive combinations. Across
/// midnight the gap from the day's last firing to the next day's first counts only if the
/// expression can fire on two consecutive calendar days, which is checked on the calendar.
pub(crate) fn check_frequency(schedule: &CronSchedule) -> Result<(), ScheduleError> {
    let mut first_of_day = None;
    let mut previous: Option<u32> = None;
    for hour in bits(schedule.hours) {
        for minute in bits(schedule.minutes) {
            for second in bits(schedule.seconds) {
                let now = hour * 3600 + minute * 60 + second;
                if let Some(previous) = previous
                    && now - previous < MIN_GAP_SECONDS
                {
                    return Err(too_frequent(previous, now, false));
                }
                first_of_day.get_or_insert(now);
                previous = Some(now);
            }
        }
    }
    if let (Some(first), Some(last)) = (first_of_day, previous) {
        let gap = first + SECONDS_PER_DAY - last;
        if gap < MIN_GAP_SECONDS && fires_on_consecutive_days(schedule) {
            return Err(too_frequent(last, first, true));
        }
    }
    Ok(())
}

fn too_frequent(first: u32, second: u32, next_day: bool) -> ScheduleError {
    let gap_seconds = if next_day {
        second + SECONDS_PER_DAY - first
    } else {
        second - first
    };
    ScheduleError::TooFrequent {
        first: time_of_day(first),
        second: time_of_day(second),
        next_day,
        gap_seconds,
    }
}

fn time_of_day(seconds: u32) -> civil::Time {
    let hour = i8::try_from(seconds / 3600).unwrap_or(0);
    let minute = i8::try_from(seconds / 60 % 60).unwrap_or(0);
    let second = i8::try_from(seconds % 60).unwrap_or(0);
    civil::Time::new(hour, minute, second, 0).unwrap_or(civil::Time::MIN)
}

/// Whether some day and the day after both match the date fields (day, month, year).
fn fires_on_consecutive_days(schedule: &CronSchedule) -> bool {
    let mut year_from = 0;
    let mut previous_last_day_matched = false;
    let mut previous_month: Option<(u32, u32)> = None;
    while let Some(year) = schedule.years.next_at_or_after(year_from) {
        for month in bits(schedule.months) {
            let days = schedule.day_set(year, month);
            // Two matching days in a row inside the month.
            if days & (days >> 1) != 0 {
                return true;
            }
            // The last day of the previous month and the 1st of this one.
            let follows = previous_month.is_some_and(|(previous_year, previous)| {
                (previous_year == year && previous + 1 == month)
                    || (previous_year + 1 == year && previous == 12 && month == 1)
            });
            if follows && previous_last_day_matched && days & (1 << 1) != 0 {
                return true;
            }
            previous_last_day_matched = days & (1 << days_in_month(year, month)) != 0;
            previous_month = Some((year, month));
        }
        year_from = year + 1;
    }
    false
}

/// The set bits of `bits`, lowest first.
fn bits(mut bits: u64) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        let index = (bits != 0).then(|| bits.trailing_zeros())?;
        bits &= bits - 1;
        Some(index)
    })
}
