#![no_main]
//! Maintenance-window expressions: parse, then ask for occurrences (bounded), with an
//! offset and a time zone from the input; occurrences must come in increasing order.
use pw_core::schedule::{Schedule, WindowSchedule, WindowScheduleSettings};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (expression, zone) = text.split_once('|').unwrap_or((text, "UTC"));
    let Ok(schedule) = Schedule::parse(expression) else {
        return;
    };
    let Ok(time_zone) = jiff::tz::TimeZone::get(zone) else {
        return;
    };
    let created: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let settings = WindowScheduleSettings {
        schedule,
        time_zone,
        offset_days: data.first().map(|b| b % 7).filter(|d| *d > 0),
        start: None,
        end: None,
        created,
    };
    let Ok(window) = WindowSchedule::new(settings) else {
        return;
    };
    let mut after = created;
    for _ in 0..5 {
        let Some(next) = window.next_after(after) else {
            break;
        };
        assert!(
            next.timestamp() > after,
            "{expression}: {next} is not after {after}"
        );
        after = next.timestamp();
    }
});
