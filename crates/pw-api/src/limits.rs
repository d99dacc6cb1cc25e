//! The limits of the API's fields, in one place. The server checks requests against them,
//! and the OpenAPI document states them: the wire types' schema attributes name these
//! constants, so the document cannot promise what the server refuses (or the reverse).
//! Lengths count characters (Unicode scalar values), as JSON Schema's `maxLength` does.

use std::ops::RangeInclusive;

/// A maintenance window's name (SSM's `MaintenanceWindowName`).
pub const WINDOW_NAME: RangeInclusive<usize> = 3..=128;
/// The characters of a window's name, as a JSON Schema pattern.
pub const WINDOW_NAME_PATTERN: &str = "^[a-zA-Z0-9_.-]+$";
/// Names of tokens, window targets and tasks; owner information.
pub const NAME_MAX: usize = 128;
/// Descriptions of windows and tasks (SSM's limit).
pub const WINDOW_DESCRIPTION_MAX: usize = 128;
/// Descriptions of activation codes and webhooks.
pub const DESCRIPTION_MAX: usize = 256;
/// A window's schedule expression.
pub const SCHEDULE: RangeInclusive<usize> = 1..=256;
/// Hours an activation code stays valid.
pub const EXPIRES_IN_HOURS: RangeInclusive<u32> = 1..=8760;
/// Nodes one activation code may enroll.
pub const MAX_USES: RangeInclusive<u32> = 1..=100_000;
/// A window's duration in hours.
pub const DURATION_HOURS: RangeInclusive<u8> = 1..=24;
/// A window's cutoff in hours.
pub const CUTOFF_HOURS: RangeInclusive<u8> = 0..=23;
/// Days after each cron occurrence.
pub const SCHEDULE_OFFSET: RangeInclusive<u8> = 1..=6;
/// Seconds a task's command may wait for its node.
pub const TASK_TIMEOUT_SECONDS: RangeInclusive<u32> = 30..=2_592_000;
/// Seconds a started command may run before it times out.
pub const EXECUTION_TIMEOUT_SECONDS: RangeInclusive<u32> = 60..=172_800;
/// A webhook's URL.
pub const WEBHOOK_URL_MAX: usize = 2048;
/// A webhook's URL, as a JSON Schema pattern: http or https, no white space.
pub const WEBHOOK_URL_PATTERN: &str = "^https?://\\S+$";
/// A webhook's shared secret.
pub const WEBHOOK_SECRET: RangeInclusive<usize> = 16..=256;
/// Days after release when an unpatched Critical patch is reported overdue.
pub const CRITICAL_DAYS: RangeInclusive<u32> = 1..=3650;
/// Staging nodes a promotion policy waits for.
pub const PROMOTION_NODES: RangeInclusive<u32> = 1..=10_000;
/// The share of staging nodes a promotion policy waits for, in percent.
pub const PROMOTION_PERCENT: RangeInclusive<u8> = 1..=100;

/// Tags per resource.
pub const TAGS_MAX: usize = 50;
/// A tag key's length.
pub const TAG_KEY: RangeInclusive<usize> = 1..=128;
/// A tag value's length.
pub const TAG_VALUE_MAX: usize = 256;
/// A tag key, as a JSON Schema pattern: not `aws:` (any case); in ASCII, letters, digits,
/// spaces and `_ . : / = + - @`; beyond ASCII, anything but control characters.
pub const TAG_KEY_PATTERN: &str =
    "^(?![aA][wW][sS]:)[^\\x00-\\x1f\\x7f-\\x9f!\"#$%&'()*,;<>?\\[\\\\\\]^`{|}~]+$";
/// A tag value, as a JSON Schema pattern: no control characters.
pub const TAG_VALUE_PATTERN: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*$";

/// Whether `name` is a valid window name.
pub fn window_name_ok(name: &str) -> bool {
    WINDOW_NAME.contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Why `key` is not a valid tag key, if it is not.
pub fn tag_key_problem(key: &str) -> Option<String> {
    let length = key.chars().count();
    if !TAG_KEY.contains(&length) {
        return Some(format!(
            "must be {} to {} characters",
            TAG_KEY.start(),
            TAG_KEY.end()
        ));
    }
    let allowed = |c: char| {
        if c.is_ascii() {
            c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c)
        } else {
            !c.is_control()
        }
    };
    if !key.chars().all(allowed) {
        return Some(
            "may hold letters, digits, spaces and `_ . : / = + - @` only (and no control characters)"
                .to_owned(),
        );
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Some("the `aws:` prefix is reserved".to_owned());
    }
    None
}

/// Why `value` is not a valid tag value, if it is not.
pub fn tag_value_problem(value: &str) -> Option<String> {
    if value.chars().any(char::is_control) {
        return Some("must not contain control characters".to_owned());
    }
    if value.chars().count() > TAG_VALUE_MAX {
        return Some(format!("must be at most {TAG_VALUE_MAX} characters"));
    }
    None
}

/// Whether `url` is a valid webhook URL.
pub fn webhook_url_ok(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > "http://".len()
        && url.chars().count() <= WEBHOOK_URL_MAX
        && !url.chars().any(char::is_whitespace)
}

/// `must be A to B`, the message for a value outside `range`.
pub fn range_message<T: std::fmt::Display>(range: &RangeInclusive<T>) -> String {
    format!("must be {} to {}", range.start(), range.end())
}

/// `must be at most N characters`, the message for a text longer than `max`.
pub fn length_message(max: usize) -> String {
    format!("must be at most {max} characters")
}

/// Whether a text's length in characters is at most `max`.
pub fn within(text: Option<&str>, max: usize) -> bool {
    text.is_none_or(|text| text.chars().count() <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns the document states accept exactly what the checks accept.
    #[test]
    fn patterns_agree_with_the_checks() {
        let key = regex::Regex::new(&TAG_KEY_PATTERN.replace("(?![aA][wW][sS]:)", ""))
            .expect("tag key pattern");
        let value = regex::Regex::new(TAG_VALUE_PATTERN).expect("tag value pattern");
        let name = regex::Regex::new(WINDOW_NAME_PATTERN).expect("window name pattern");
        let mut samples: Vec<String> = (0u32..0x250)
            .chain([0x2028, 0x3000, 0x1F600, 0xFEFF])
            .filter_map(char::from_u32)
            .map(|c| format!("k{c}y"))
            .collect();
        samples.extend(["aws:x", "AWS:x", "aws", "Patch Group", "a", ""].map(str::to_owned));
        for sample in &samples {
            let aws = sample.to_ascii_lowercase().starts_with("aws:");
            let by_pattern = key.is_match(sample) && !aws && !sample.is_empty();
            let by_check = tag_key_problem(sample).is_none();
            assert_eq!(by_pattern, by_check, "tag key {sample:?}");
            assert_eq!(
                value.is_match(sample),
                tag_value_problem(sample).is_none(),
                "tag value {sample:?}"
            );
            let by_pattern = name.is_match(sample) && WINDOW_NAME.contains(&sample.len());
            assert_eq!(by_pattern, window_name_ok(sample), "window name {sample:?}");
        }
    }
}
