//! Parsing the fields inside `cron(...)` into a [`CronSchedule`].

use crate::schedule::cron::{
    CronSchedule, DaySpec, MAX_YEAR, MIN_YEAR, MonthDays, WeekDays, YearSet, next,
};
use crate::schedule::error::{CronField, FieldProblem, ScheduleError};

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The shape of one numeric field.
struct FieldSpec {
    field: CronField,
    min: u32,
    max: u32,
    /// Names for `min..`, in order, with what to call them in messages.
    names: Option<Names>,
    /// Whether `a-b` with `a > b` wraps around (`FRI-MON`, `22-2`); not for years.
    wraps: bool,
}

struct Names {
    list: &'static [&'static str],
    kind: &'static str,
    expected: &'static str,
}

const SECONDS: FieldSpec = FieldSpec {
    field: CronField::Seconds,
    min: 0,
    max: 59,
    names: None,
    wraps: true,
};
const MINUTES: FieldSpec = FieldSpec {
    field: CronField::Minutes,
    min: 0,
    max: 59,
    names: None,
    wraps: true,
};
const HOURS: FieldSpec = FieldSpec {
    field: CronField::Hours,
    min: 0,
    max: 23,
    names: None,
    wraps: true,
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    field: CronField::DayOfMonth,
    min: 1,
    max: 31,
    names: None,
    wraps: true,
};
const MONTH: FieldSpec = FieldSpec {
    field: CronField::Month,
    min: 1,
    max: 12,
    names: Some(Names {
        list: &MONTH_NAMES,
        kind: "month",
        expected: "JAN, FEB, MAR, APR, MAY, JUN, JUL, AUG, SEP, OCT, NOV or DEC",
    }),
    wraps: true,
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    field: CronField::DayOfWeek,
    min: 1,
    max: 7,
    names: Some(Names {
        list: &DAY_NAMES,
        kind: "day",
        expected: "SUN, MON, TUE, WED, THU, FRI or SAT",
    }),
    wraps: true,
};
const YEAR: FieldSpec = FieldSpec {
    field: CronField::Year,
    min: MIN_YEAR,
    max: MAX_YEAR,
    names: None,
    wraps: false,
};

/// Parses the text between `cron(` and `)`.
pub(crate) fn parse_cron(inner: &str) -> Result<CronSchedule, ScheduleError> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    let (seconds_text, rest) = match fields.len() {
        6 => (None, &fields[..]),
        7 => (Some(fields[0]), &fields[1..]),
        found => return Err(ScheduleError::CronFieldCount { found }),
    };
    let [minutes, hours, day_of_month, month, day_of_week, year] = rest else {
        return Err(ScheduleError::CronFieldCount {
            found: fields.len(),
        });
    };
    let seconds = match seconds_text {
        Some(text) => values_to_bits(&SECONDS, text)?,
        None => 1,
    };
    let minutes = values_to_bits(&MINUTES, minutes)?;
    let hours = values_to_bits(&HOURS, hours)?;
    let month_days = parse_day_of_month(day_of_month)
        .map_err(|problem| field_error(CronField::DayOfMonth, day_of_month, problem))?;
    let months = values_to_bits(&MONTH, month)?;
    let week_days = parse_day_of_week(day_of_week)
        .map_err(|problem| field_error(CronField::DayOfWeek, day_of_week, problem))?;
    let years = parse_years(year)?;
    let days = match (month_days, week_days) {
        (Some(month_days), None) => DaySpec::Month(month_days),
        (None, Some(week_days)) => DaySpec::Week(week_days),
        _ => {
            return Err(ScheduleError::CronDayFields {
                day_of_month: (*day_of_month).to_owned(),
                day_of_week: (*day_of_week).to_owned(),
            });
        }
    };
    let schedule = CronSchedule {
        seconds,
        minutes,
        hours,
        months,
        years,
        days,
        seven_fields: seconds_text.is_some(),
    };
    next::check_frequency(&schedule)?;
    Ok(schedule)
}

fn field_error(field: CronField, text: &str, problem: FieldProblem) -> ScheduleError {
    ScheduleError::CronField {
        field,
        text: text.to_owned(),
        problem,
    }
}

fn values_to_bits(spec: &FieldSpec, text: &str) -> Result<u64, ScheduleError> {
    let values =
        parse_values(spec, text).map_err(|problem| field_error(spec.field, text, problem))?;
    Ok(values.iter().fold(0, |bits, value| bits | (1 << value)))
}

fn parse_years(text: &str) -> Result<YearSet, ScheduleError> {
    let values =
        parse_values(&YEAR, text).map_err(|problem| field_error(CronField::Year, text, problem))?;
    let mut words = [0u64; 4];
    for value in values {
        let index = value - MIN_YEAR;
        words[(index / 64) as usize] |= 1 << (index % 64);
    }
    Ok(YearSet(words))
}

/// Parses a list of `*`, `v`, `a-b`, `*/s`, `v/s`, `a-b/s` items into the values they allow.
fn parse_values(spec: &FieldSpec, text: &str) -> Result<Vec<u32>, FieldProblem> {
    if text.contains('?') {
        return Err(FieldProblem::QuestionMark);
    }
    let mut values = Vec::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(FieldProblem::EmptyItem);
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(parse_step(step)?)),
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((low, high)) = range.split_once('-') {
            (parse_value(spec, low)?, parse_value(spec, high)?)
        } else {
            let value = parse_value(spec, range)?;
            (value, if step.is_some() { spec.max } else { value })
        };
        let span = spec.max - spec.min + 1;
        // Length of the range, counting around the wrap for descending ranges.
        let length = if start <= end {
            end - start + 1
        } else if spec.wraps {
            end + span - start + 1
        } else {
            return Err(FieldProblem::BackwardsRange {
                token: range.to_owned(),
            });
        };
        let step = step.unwrap_or(1);
        let mut offset = 0;
        while offset < length {
            values.push(spec.min + (start - spec.min + offset) % span);
            offset += step;
        }
    }
    Ok(values)
}

fn parse_step(text: &str) -> Result<u32, FieldProblem> {
    match parse_number(text) {
        Some(step) if step >= 1 => Ok(step),
        _ => Err(FieldProblem::BadStep {
            token: text.to_owned(),
        }),
    }
}

/// A number of up to nine digits (leading zeros allowed, as in `cron(30 09 ...)`).
fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// One value: a number in range or, where the field has them, a name.
fn parse_value(spec: &FieldSpec, token: &str) -> Result<u32, FieldProblem> {
    if let Some(value) = parse_number(token) {
        return if (spec.min..=spec.max).contains(&value) {
            Ok(value)
        } else {
            Err(FieldProblem::OutOfRange {
                value,
                min: spec.min,
                max: spec.max,
            })
        };
    }
    if let Some(names) = &spec.names
        && let Some(index) = names
            .list
            .iter()
            .position(|name| name.eq_ignore_ascii_case(token))
    {
        return Ok(spec.min + index as u32);
    }
    let upper = token.to_ascii_uppercase();
    if upper.contains('#') {
        return Err(FieldProblem::SpecialNotAllowed {
            token: token.to_owned(),
            special: '#',
            allowed: "day-of-week",
        });
    }
    if upper.ends_with('W') && upper.len() > 1 && spec.field != CronField::DayOfMonth {
        return Err(FieldProblem::SpecialNotAllowed {
            token: token.to_owned(),
            special: 'W',
            allowed: "day-of-month",
        });
    }
    if upper.contains('L') && spec.names.is_none() && spec.field != CronField::DayOfMonth {
        return Err(FieldProblem::SpecialNotAllowed {
            token: token.to_owned(),
            special: 'L',
            allowed: "day-of-month or day-of-week",
        });
    }
    match &spec.names {
        Some(names) if token.bytes().all(|byte| byte.is_ascii_alphabetic()) => {
            Err(FieldProblem::UnknownName {
                token: token.to_owned(),
                kind: names.kind,
                expected: names.expected,
            })
        }
        _ => Err(FieldProblem::NotANumber {
            token: token.to_owned(),
        }),
    }
}

/// The day-of-month field; `None` for `?`.
fn parse_day_of_month(text: &str) -> Result<Option<MonthDays>, FieldProblem> {
    if text == "?" {
        return Ok(None);
    }
    let upper = text.to_ascii_uppercase();
    if !upper.contains(['L', 'W']) {
        let values = parse_values(&DAY_OF_MONTH, text)?;
        return Ok(Some(MonthDays::Set(
            values.iter().fold(0, |bits, day| bits | (1 << day)),
        )));
    }
    if let Some(item) = text
        .split(',')
        .find(|item| item.to_ascii_uppercase().contains(['L', 'W']))
        && text.contains(',')
    {
        return Err(FieldProblem::SpecialNotAlone {
            token: item.to_owned(),
        });
    }
    match upper.as_str() {
        "L" => return Ok(Some(MonthDays::Last)),
        "LW" => return Ok(Some(MonthDays::LastWeekday)),
        _ => {}
    }
    if upper.starts_with("L-") {
        return Err(FieldProblem::LastDayOffset {
            token: text.to_owned(),
        });
    }
    if let Some(day) = upper.strip_suffix('W') {
        if day.contains(['-', '/', '*']) {
            return Err(FieldProblem::WeekdayRange {
                token: text.to_owned(),
            });
        }
        return parse_value(&DAY_OF_MONTH, day).map(|day| Some(MonthDays::NearestWeekday(day)));
    }
    Err(FieldProblem::NotANumber {
        token: text.to_owned(),
    })
}

/// The day-of-week field; `None` for `?`.
fn parse_day_of_week(text: &str) -> Result<Option<WeekDays>, FieldProblem> {
    if text == "?" {
        return Ok(None);
    }
    let upper = text.to_ascii_uppercase();
    if upper.contains('#') {
        if text.contains(',') {
            let item = text
                .split(',')
                .find(|item| item.contains('#'))
                .unwrap_or(text);
            return Err(FieldProblem::SpecialNotAlone {
                token: item.to_owned(),
            });
        }
        let (weekday, nth) = upper.split_once('#').unwrap_or((&upper, ""));
        let weekday = parse_value(&DAY_OF_WEEK, weekday)?;
        return match parse_number(nth) {
            Some(nth @ 1..=5) => Ok(Some(WeekDays::Nth { weekday, nth })),
            _ => Err(FieldProblem::NthOutOfRange {
                token: text.to_owned(),
            }),
        };
    }
    // No day name ends in `L`, so a trailing `L` is always the "last" marker.
    if let Some(weekday) = upper.strip_suffix('L') {
        if text.contains([',', '-', '/', '*']) {
            let item = text
                .split(',')
                .find(|item| item.to_ascii_uppercase().ends_with('L'));
            return Err(FieldProblem::SpecialNotAlone {
                token: item.unwrap_or(text).to_owned(),
            });
        }
        if weekday.is_empty() {
            // `L` alone is the last day of the week: Saturday.
            return Ok(Some(WeekDays::Set(1 << 7)));
        }
        return parse_value(&DAY_OF_WEEK, weekday).map(|weekday| Some(WeekDays::Last(weekday)));
    }
    let values = parse_values(&DAY_OF_WEEK, text)?;
    Ok(Some(WeekDays::Set(
        values.iter().fold(0, |bits, day| bits | (1 << day)),
    )))
}
