//! Property tests of cron occurrences against an independent model.
//!
//! The generator builds each field from parts whose meaning it knows (a value, a range, a
//! step, a list, `L`, `W`, `#`), renders the expression text from them, and keeps the sets
//! of allowed values. [`Spec::matches`] decides from those sets and jiff's calendar alone,
//! without the library's parser or search, whether a wall-clock time is a firing time.
//! Then:
//!
//! * every run the library produces matches, runs strictly increase, and none is the
//!   second pass of a repeated hour;
//! * a minute-by-minute scan of a short span finds exactly the library's runs (in UTC and in
//!   zones with daylight-saving changes, near the changes);
//! * between two consecutive runs (UTC), no day and no time of day in between matches;
//! * a schedule offset of N days shifts every run by N calendar days.

use std::collections::BTreeSet;

use jiff::civil::{self, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::schedule_support::{ts, window, zone};

/// One numeric field: its text and the values it allows.
#[derive(Debug, Clone)]
struct Field {
    text: String,
    values: BTreeSet<u32>,
}

fn field(text: String, values: impl IntoIterator<Item = u32>) -> Field {
    Field {
        text,
        values: values.into_iter().collect(),
    }
}

/// Which days of a month match.
#[derive(Debug, Clone)]
#[expect(
    clippy::enum_variant_names,
    reason = "the names read as the cron fields they model"
)]
enum Days {
    MonthDays(BTreeSet<u32>),
    Last,
    LastWeekday,
    Nearest(u32),
    WeekDays(BTreeSet<u32>),
    LastOf(u32),
    Nth(u32, u32),
}

#[derive(Clone)]
struct Spec {
    /// `None`: six fields (seconds 0).
    second: Option<u32>,
    minutes: Field,
    hours: Field,
    day_of_month: String,
    day_of_week: String,
    days: Days,
    months: Field,
    years: Field,
}

/// Failures print the expression, not the value sets.
impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.expression())
    }
}

impl Spec {
    fn expression(&self) -> String {
        let seconds = self
            .second
            .map(|second| format!("{second} "))
            .unwrap_or_default();
        format!(
            "cron({seconds}{} {} {} {} {} {})",
            self.minutes.text,
            self.hours.text,
            self.day_of_month,
            self.months.text,
            self.day_of_week,
            self.years.text
        )
    }

    fn times_of_day(&self) -> Vec<civil::Time> {
        let second = self.second.unwrap_or(0);
        let mut times = Vec::new();
        for hour in &self.hours.values {
            for minute in &self.minutes.values {
                times.push(civil::time(*hour as i8, *minute as i8, second as i8, 0));
            }
        }
        times
    }

    fn date_matches(&self, date: civil::Date) -> bool {
        let day = date.day() as u32;
        let length = date.days_in_month() as u32;
        let weekday = date.weekday().to_sunday_one_offset() as u32;
        let weekday_of = |day: u32| date.with().day(day as i8).build().unwrap().weekday();
        let is_weekend = |weekday: Weekday| matches!(weekday, Weekday::Saturday | Weekday::Sunday);
        let day_ok = match &self.days {
            Days::MonthDays(days) => days.contains(&day),
            Days::Last => day == length,
            Days::LastWeekday => {
                let last_weekday = (1..=length)
                    .rev()
                    .find(|day| !is_weekend(weekday_of(*day)))
                    .unwrap();
                day == last_weekday
            }
            Days::Nearest(target) => {
                *target <= length
                    && day
                        == match weekday_of(*target) {
                            Weekday::Saturday if *target == 1 => 3,
                            Weekday::Saturday => target - 1,
                            Weekday::Sunday if *target == length => target - 2,
                            Weekday::Sunday => target + 1,
                            _ => *target,
                        }
            }
            Days::WeekDays(weekdays) => weekdays.contains(&weekday),
            Days::LastOf(wanted) => weekday == *wanted && day + 7 > length,
            Days::Nth(wanted, nth) => weekday == *wanted && (day - 1) / 7 + 1 == *nth,
        };
        day_ok
            && self.months.values.contains(&(date.month() as u32))
            && self.years.values.contains(&(date.year() as u32))
    }

    fn matches(&self, datetime: civil::DateTime) -> bool {
        self.date_matches(datetime.date()) && self.times_of_day().contains(&datetime.time())
    }
}

/// Any of: `*`, `v`, `a/s`, `*/s`, `a-b`, `a-b/s`, a list, and for fields that wrap a
/// descending `a-b`.
fn numeric(min: u32, max: u32) -> BoxedStrategy<Field> {
    let span = max - min + 1;
    let descending = (min + 1..=max)
        .prop_flat_map(move |a| (Just(a), min..a))
        .prop_map(move |(a, b)| field(format!("{a}-{b}"), (a..=max).chain(min..=b)));
    let wraps = max < 1970;
    let common = prop_oneof![
        Just(field("*".to_owned(), min..=max)),
        (min..=max).prop_map(|value| field(value.to_string(), [value])),
        (min..=max, 1..=span).prop_map(move |(start, step)| {
            field(
                format!("{start}/{step}"),
                (start..=max).step_by(step as usize),
            )
        }),
        (1..=span)
            .prop_map(move |step| field(format!("*/{step}"), (min..=max).step_by(step as usize))),
        (min..=max, min..=max, 1..=span).prop_map(|(a, b, step)| {
            let (low, high) = (a.min(b), a.max(b));
            let text = if step == 1 {
                format!("{low}-{high}")
            } else {
                format!("{low}-{high}/{step}")
            };
            field(text, (low..=high).step_by(step as usize))
        }),
        prop::collection::btree_set(min..=max, 1..5).prop_map(|values| {
            let text = values
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            field(text, values)
        }),
    ];
    if wraps {
        prop_oneof![6 => common, 1 => descending].boxed()
    } else {
        common.boxed()
    }
}

/// Minutes whose consecutive values (also across the hour) are at least 5 apart.
fn minutes() -> impl Strategy<Value = Field> {
    numeric(0, 59).prop_map(|field_value| {
        let values: Vec<u32> = field_value.values.iter().copied().collect();
        let cyclic_gap_ok = values.windows(2).all(|pair| pair[1] - pair[0] >= 5)
            && values
                .first()
                .zip(values.last())
                .is_some_and(|(first, last)| first + 60 - last >= 5);
        if cyclic_gap_ok {
            field_value
        } else {
            field(values[0].to_string(), [values[0]])
        }
    })
}

fn days() -> impl Strategy<Value = (String, String, Days)> {
    prop_oneof![
        3 => Just(("*".to_owned(), "?".to_owned(), Days::MonthDays((1..=31).collect()))),
        3 => numeric(1, 31).prop_map(|f| (f.text, "?".to_owned(), Days::MonthDays(f.values))),
        1 => Just(("L".to_owned(), "?".to_owned(), Days::Last)),
        1 => Just(("LW".to_owned(), "?".to_owned(), Days::LastWeekday)),
        1 => (1..=31u32).prop_map(|day| (format!("{day}W"), "?".to_owned(), Days::Nearest(day))),
        3 => numeric(1, 7).prop_map(|f| ("?".to_owned(), f.text, Days::WeekDays(f.values))),
        1 => (1..=7u32).prop_map(|weekday| ("?".to_owned(), format!("{weekday}L"), Days::LastOf(weekday))),
        1 => (1..=7u32, 1..=5u32).prop_map(|(weekday, nth)| {
            ("?".to_owned(), format!("{weekday}#{nth}"), Days::Nth(weekday, nth))
        }),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let months = prop_oneof![3 => Just(field("*".to_owned(), 1..=12)), 1 => numeric(1, 12)];
    let years =
        prop_oneof![4 => Just(field("*".to_owned(), 1970..=2199)), 1 => numeric(1970, 2199)];
    let second = prop_oneof![3 => Just(None), 1 => (0..60u32).prop_map(Some)];
    (second, minutes(), numeric(0, 23), days(), months, years).prop_map(
        |(second, minutes, hours, (day_of_month, day_of_week, days), months, years)| Spec {
            second,
            minutes,
            hours,
            day_of_month,
            day_of_week,
            days,
            months,
            years,
        },
    )
}

const ZONES: [&str; 4] = ["UTC", "America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo"];

/// An instant between 1990 and 2150, or one within two days of a daylight-saving change.
fn instant() -> impl Strategy<Value = Timestamp> {
    let transitions = [
        "2021-03-14T10:00:00Z",
        "2021-11-07T09:00:00Z",
        "2021-03-28T01:00:00Z",
        "2021-10-31T01:00:00Z",
        "2024-03-10T10:00:00Z",
        "2024-11-03T09:00:00Z",
        "2024-03-31T01:00:00Z",
        "2024-10-27T01:00:00Z",
    ]
    .map(ts);
    prop_oneof![
        (631_152_000i64..5_680_281_600).prop_map(|second| Timestamp::from_second(second).unwrap()),
        (0..transitions.len(), -172_800i64..172_800).prop_map(move |(index, seconds)| {
            transitions[index]
                .checked_add(SignedDuration::from_secs(seconds))
                .unwrap()
        }),
    ]
}

/// The first instant of a wall-clock time in a zone, if it exists.
fn first_instant(time_zone: &TimeZone, datetime: civil::DateTime) -> Option<Timestamp> {
    let ambiguous = time_zone.to_ambiguous_timestamp(datetime);
    if matches!(ambiguous.offset(), jiff::tz::AmbiguousOffset::Gap { .. }) {
        return None;
    }
    ambiguous.earlier().ok()
}

fn runs(spec: &Spec, zone_name: &str, after: Timestamp, count: usize) -> Vec<Zoned> {
    let after_text = after.to_string();
    let schedule = window(&spec.expression(), zone_name).build(&after_text);
    schedule.occurrences_after(after).take(count).collect()
}

proptest! {
    #![proptest_config(Config { cases: 200, ..Config::default() })]

    #[test]
    fn produced_runs_match_and_increase(spec in spec(), zone_index in 0..ZONES.len(), after in instant()) {
        let zone_name = ZONES[zone_index];
        let time_zone = zone(zone_name);
        let runs = runs(&spec, zone_name, after, 25);
        let mut previous = after;
        for run in &runs {
            prop_assert!(spec.matches(run.datetime()), "{} produced {}", spec.expression(), run);
            prop_assert!(run.timestamp() > previous, "{} produced {run} after {previous}", spec.expression());
            prop_assert_eq!(first_instant(&time_zone, run.datetime()), Some(run.timestamp()));
            previous = run.timestamp();
        }
    }

    #[test]
    fn minute_scan_finds_exactly_the_runs(spec in spec(), zone_index in 0..ZONES.len(), after in instant()) {
        let zone_name = ZONES[zone_index];
        let time_zone = zone(zone_name);
        let span_end = after.checked_add(SignedDuration::from_hours(72)).unwrap();
        let second = i64::from(spec.second.unwrap_or(0));
        let first_minute = after.as_second().div_euclid(60) * 60;
        let mut expected = Vec::new();
        let mut minute = first_minute;
        while minute <= span_end.as_second() {
            let instant = Timestamp::from_second(minute + second).unwrap();
            if instant > after && instant < span_end {
                let datetime = time_zone.to_datetime(instant);
                if spec.matches(datetime) && first_instant(&time_zone, datetime) == Some(instant) {
                    expected.push(instant);
                }
            }
            minute += 60;
        }
        let schedule = window(&spec.expression(), zone_name).build(&after.to_string());
        let actual: Vec<Timestamp> = schedule
            .occurrences_after(after)
            .map(|run| run.timestamp())
            .take_while(|instant| *instant < span_end)
            .collect();
        prop_assert_eq!(actual, expected, "{} in {}", spec.expression(), zone_name);
    }

    #[test]
    fn nothing_matches_between_consecutive_runs(spec in spec(), after in instant()) {
        let runs = runs(&spec, "UTC", after, 12);
        let times = spec.times_of_day();
        for pair in runs.windows(2) {
            let (earlier, later) = (pair[0].datetime(), pair[1].datetime());
            if earlier.date() == later.date() {
                prop_assert!(!times.iter().any(|time| *time > earlier.time() && *time < later.time()));
                continue;
            }
            prop_assert!(!times.iter().any(|time| *time > earlier.time()), "{} after {earlier}", spec.expression());
            prop_assert!(!times.iter().any(|time| *time < later.time()), "{} before {later}", spec.expression());
            let mut date = earlier.date().tomorrow().unwrap();
            let mut checked = 0;
            while date < later.date() && checked < 2_000 {
                prop_assert!(!spec.date_matches(date), "{} skipped {date}", spec.expression());
                date = date.tomorrow().unwrap();
                checked += 1;
            }
        }
    }

    #[test]
    fn offset_shifts_runs_by_calendar_days(spec in spec(), offset in 1..=6u8, after in instant()) {
        let expression = spec.expression();
        let created = ts("1970-01-01T00:00:00Z");
        let shift = i64::from(offset);
        let shifted: Vec<civil::DateTime> = window(&expression, "UTC")
            .created("1970-01-01T00:00:00Z")
            .offset(offset)
            .build(&after.to_string())
            .occurrences_after(after)
            .take(10)
            .map(|run| run.datetime())
            .collect();
        let plain_after = after.checked_sub(SignedDuration::from_hours(24 * shift)).unwrap().max(created);
        let plain: Vec<civil::DateTime> = window(&expression, "UTC")
            .created("1970-01-01T00:00:00Z")
            .build(&after.to_string())
            .occurrences_after(plain_after)
            .take(10)
            .map(|run| run.datetime().checked_add(shift.days()).unwrap())
            .collect();
        let count = shifted.len().min(plain.len());
        prop_assert_eq!(&shifted[..count], &plain[..count], "{}", expression);
    }
}
