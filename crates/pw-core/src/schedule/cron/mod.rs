//! `cron(...)` expressions: the parsed form, which instants match, and the field-by-field
//! search for the next match on the wall clock.
//!
//! The grammar is EventBridge's, which SSM maintenance windows share: six fields
//! (`minutes hours day-of-month month day-of-week year`) or seven with leading seconds.
//! `docs/schedules.md` lists every accepted form and each decision taken where the
//! upstream documentation is silent.
//!
//! Times here are civil (wall-clock) date-times without a zone; `crate::schedule::occurrences`
//! maps them to instants in a time zone.

mod next;
mod parse;

use jiff::civil;

pub(crate) use crate::schedule::cron::parse::parse_cron;

/// First year the year field accepts.
pub(crate) const MIN_YEAR: u32 = 1970;
/// Last year the year field accepts; no cron schedule fires after it.
pub(crate) const MAX_YEAR: u32 = 2199;

/// A parsed `cron(...)` expression.
///
/// Every field is kept as a set of the values it allows, so matching a date-time is a few
/// bit tests and the next match is found field by field (year → month → day → hour →
/// minute → second), never by stepping through minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    /// Bits 0-59.
    seconds: u64,
    /// Bits 0-59.
    minutes: u64,
    /// Bits 0-23.
    hours: u64,
    /// Bits 1-12.
    months: u64,
    years: YearSet,
    days: DaySpec,
    /// Written in the seven-field form (with seconds).
    seven_fields: bool,
}

/// The set of allowed years, bit `year - 1970`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct YearSet([u64; 4]);

/// Which days of a month match: exactly one of day-of-month and day-of-week is in use.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DaySpec {
    /// Day-of-month is set and day-of-week is `?`.
    Month(MonthDays),
    /// Day-of-week is set and day-of-month is `?`.
    Week(WeekDays),
}

/// The day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MonthDays {
    /// Listed days, bits 1-31; days a month does not have never match.
    Set(u64),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Monday-Friday) of the month.
    LastWeekday,
    /// `nW`: the weekday nearest to day `n`, without leaving the month.
    NearestWeekday(u32),
}

/// The day-of-week field; days are numbered 1 (Sunday) to 7 (Saturday).
#[derive(Debug, Clone, PartialEq, Eq)]
enum WeekDays {
    /// Listed weekdays, bits 1-7.
    Set(u64),
    /// `nL`: the last weekday `n` of the month.
    Last(u32),
    /// `n#k`: the `k`-th weekday `n` of the month.
    Nth { weekday: u32, nth: u32 },
}

impl CronSchedule {
    /// Whether the wall-clock date-time `datetime` is one of this expression's firing times.
    /// Sub-second parts must be zero.
    pub fn matches(&self, datetime: civil::DateTime) -> bool {
        let Ok(year) = u32::try_from(datetime.year()) else {
            return false;
        };
        let (month, day) = (small(datetime.month()), small(datetime.day()));
        let (hour, minute, second) = (
            small(datetime.hour()),
            small(datetime.minute()),
            small(datetime.second()),
        );
        datetime.subsec_nanosecond() == 0
            && has_bit(self.seconds, second)
            && has_bit(self.minutes, minute)
            && has_bit(self.hours, hour)
            && has_bit(self.months, month)
            && self.years.contains(year)
            && has_bit(self.day_set(year, month), day)
    }

    /// The earliest wall-clock date-time strictly after `datetime` that matches, or `None`
    /// when there is none up to the end of 2199.
    pub fn next_civil_after(&self, datetime: civil::DateTime) -> Option<civil::DateTime> {
        next::next_civil_after(self, datetime)
    }

    /// Whether the expression was written with seven fields (leading seconds).
    pub fn has_seconds_field(&self) -> bool {
        self.seven_fields
    }

    /// The days of `year`-`month` that match the day fields, as bits 1-31.
    fn day_set(&self, year: u32, month: u32) -> u64 {
        let length = days_in_month(year, month);
        // Weekday of the 1st, 1 = Sunday ... 7 = Saturday, and of the last day.
        let first_weekday = weekday(year, month, 1);
        let weekday_of = |day: u32| (first_weekday - 1 + day - 1) % 7 + 1;
        match &self.days {
            DaySpec::Month(MonthDays::Set(bits)) => bits & range_bits(1, length),
            DaySpec::Month(MonthDays::Last) => 1 << length,
            DaySpec::Month(MonthDays::LastWeekday) => {
                let day = match weekday_of(length) {
                    7 => length - 1,
                    1 => length - 2,
                    _ => length,
                };
                1 << day
            }
            DaySpec::Month(MonthDays::NearestWeekday(target)) => {
                let target = *target;
                if target > length {
                    return 0;
                }
                let day = match weekday_of(target) {
                    // Saturday: the Friday before, unless that leaves the month.
                    7 if target == 1 => 3,
                    7 => target - 1,
                    // Sunday: the Monday after, unless that leaves the month.
                    1 if target == length => target - 2,
                    1 => target + 1,
                    _ => target,
                };
                1 << day
            }
            DaySpec::Week(WeekDays::Set(bits)) => {
                let mut set = 0;
                for weekday in 1..=7 {
                    if has_bit(*bits, weekday) {
                        let mut day = 1 + (weekday + 7 - first_weekday) % 7;
                        while day <= length {
                            set |= 1 << day;
                            day += 7;
                        }
                    }
                }
                set
            }
            DaySpec::Week(WeekDays::Last(weekday)) => {
                let last = length - (weekday_of(length) + 7 - weekday) % 7;
                1 << last
            }
            DaySpec::Week(WeekDays::Nth { weekday, nth }) => {
                let day = 1 + (weekday + 7 - first_weekday) % 7 + 7 * (nth - 1);
                if day <= length { 1 << day } else { 0 }
            }
        }
    }
}

impl YearSet {
    fn contains(&self, year: u32) -> bool {
        (MIN_YEAR..=MAX_YEAR).contains(&year) && {
            let index = year - MIN_YEAR;
            has_bit(self.0[(index / 64) as usize], index % 64)
        }
    }

    /// The smallest allowed year at or after `year`.
    fn next_at_or_after(&self, year: u32) -> Option<u32> {
        let mut index = year.max(MIN_YEAR) - MIN_YEAR;
        while index <= MAX_YEAR - MIN_YEAR {
            let word = self.0[(index / 64) as usize];
            if let Some(bit) = next_bit(word, index % 64) {
                return Some(MIN_YEAR + index / 64 * 64 + bit);
            }
            index = (index / 64 + 1) * 64;
        }
        None
    }
}

/// Whether bit `index` of `bits` is set.
fn has_bit(bits: u64, index: u32) -> bool {
    index < 64 && bits & (1 << index) != 0
}

/// The lowest set bit of `bits` at or above `from`.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = bits & (u64::MAX << from);
    (rest != 0).then(|| rest.trailing_zeros())
}

/// Bits `low..=high` set.
fn range_bits(low: u32, high: u32) -> u64 {
    (low..=high).fold(0, |bits, index| bits | (1 << index))
}

/// A civil component (month, day, hour, ...) that jiff guarantees to be non-negative.
fn small(value: i8) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day of the week of a Gregorian date, 1 = Sunday ... 7 = Saturday (Sakamoto's method).
fn weekday(year: u32, month: u32, day: u32) -> u32 {
    const MONTH_OFFSETS: [u32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let year = if month < 3 { year - 1 } else { year };
    let offset = MONTH_OFFSETS[(month - 1) as usize % 12];
    (year + year / 4 - year / 100 + year / 400 + offset + day) % 7 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_agrees_with_jiff() {
        for year in [1970, 1999, 2000, 2021, 2024, 2100, 2199] {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    let date = civil::date(year as i16, month as i8, day as i8);
                    let expected = u32::from(date.weekday().to_sunday_one_offset() as u8);
                    assert_eq!(weekday(year, month, day), expected, "{date}");
                }
                let date = civil::date(year as i16, month as i8, 1);
                assert_eq!(
                    days_in_month(year, month),
                    date.days_in_month() as u32,
                    "{date}"
                );
            }
        }
    }

    #[test]
    fn year_set_search() {
        let mut words = [0u64; 4];
        for year in [1970, 2033, 2034, 2199] {
            let index = year - MIN_YEAR;
            words[(index / 64) as usize] |= 1 << (index % 64);
        }
        let set = YearSet(words);
        assert_eq!(set.next_at_or_after(1900), Some(1970));
        assert_eq!(set.next_at_or_after(1971), Some(2033));
        assert_eq!(set.next_at_or_after(2035), Some(2199));
        assert_eq!(set.next_at_or_after(2200), None);
        assert!(set.contains(2034) && !set.contains(2035));
    }
}
