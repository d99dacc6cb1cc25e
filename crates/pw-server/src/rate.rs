//! Rate control of a task (ssm-reference §7.4), as pure functions: how many invocations may
//! run at once and how many errors a task tolerates.
//!
//! * `MaxConcurrency`: `^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$`; a percentage of the
//!   targets, rounded down, at least 1.
//! * `MaxErrors`: `^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$`; the threshold is the count,
//!   or `floor(percentage × targets)`; the task stops handing out work when the number of
//!   errors exceeds it: `0` stops at the first error, `3` at the fourth, `10%` of 50 at the
//!   sixth, `40%` of 10 at the fifth.
//! * Both are at most 7 characters.
//! * The ramp: one invocation first, then two more once it is acknowledged, and so on
//!   (at most `2 × acknowledged + 1` started), up to the concurrency.

/// A count or a percentage of the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(u64),
    Percent(u8),
}

/// A rate-control value that does not match its pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not valid: {expected}")]
pub struct RateError {
    pub value: String,
    pub expected: &'static str,
}

fn parse(value: &str, zero_ok: bool, expected: &'static str) -> Result<Amount, RateError> {
    let error = || RateError {
        value: value.to_owned(),
        expected,
    };
    if value.is_empty() || value.len() > 7 {
        return Err(error());
    }
    let (digits, percent) = match value.strip_suffix('%') {
        Some(digits) => (digits, true),
        None => (value, false),
    };
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return Err(error());
    }
    let number: u64 = digits.parse().map_err(|_| error())?;
    if number == 0 && !zero_ok {
        return Err(error());
    }
    if percent {
        let percent = u8::try_from(number)
            .ok()
            .filter(|p| *p <= 100)
            .ok_or_else(error)?;
        Ok(Amount::Percent(percent))
    } else {
        Ok(Amount::Count(number))
    }
}

/// Parses `MaxConcurrency` (no zero).
pub fn parse_max_concurrency(value: &str) -> Result<Amount, RateError> {
    parse(
        value,
        false,
        "expected a count from 1 or a percentage from 1% to 100%, at most 7 characters",
    )
}

/// Parses `MaxErrors` (zero allowed).
pub fn parse_max_errors(value: &str) -> Result<Amount, RateError> {
    parse(
        value,
        true,
        "expected a count from 0 or a percentage from 0% to 100%, at most 7 characters",
    )
}

fn percent_of(percent: u8, targets: u64) -> u64 {
    targets.saturating_mul(u64::from(percent)) / 100
}

/// How many invocations may run at once for `targets` targets (at least 1).
pub fn concurrency(amount: Amount, targets: u64) -> u64 {
    match amount {
        Amount::Count(count) => count.max(1),
        Amount::Percent(percent) => percent_of(percent, targets).max(1),
    }
}

/// How many errors are tolerated; the task stops at error number `threshold + 1`.
pub fn error_threshold(amount: Amount, targets: u64) -> u64 {
    match amount {
        Amount::Count(count) => count,
        Amount::Percent(percent) => percent_of(percent, targets),
    }
}

/// What a task has done so far, for [`may_start`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Invocations started (running or ended).
    pub started: u64,
    /// Invocations running now.
    pub running: u64,
    /// Started invocations the node acknowledged (or that ended).
    pub acknowledged: u64,
    /// Invocations that ended `FAILED` or `TIMED_OUT`.
    pub errors: u64,
}

/// How many more invocations may start now.
pub fn may_start(progress: Progress, concurrency: u64, error_threshold: u64) -> u64 {
    if progress.errors > error_threshold {
        return 0;
    }
    let by_concurrency = concurrency.saturating_sub(progress.running);
    let by_ramp = (2 * progress.acknowledged + 1).saturating_sub(progress.started);
    by_concurrency.min(by_ramp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_errors(value: &str, targets: u64, stops_at_error: u64) {
        let threshold = error_threshold(parse_max_errors(value).unwrap(), targets);
        assert_eq!(threshold + 1, stops_at_error, "{value} of {targets}");
    }

    #[test]
    fn documented_error_thresholds() {
        // ssm-reference §7.4 and §11.16.
        check_errors("0", 50, 1);
        check_errors("3", 50, 4);
        check_errors("10%", 50, 6);
        check_errors("40%", 10, 5);
        check_errors("0%", 10, 1);
        check_errors("100%", 10, 11);
    }

    #[test]
    fn concurrency_is_at_least_one() {
        assert_eq!(concurrency(parse_max_concurrency("10%").unwrap(), 5), 1);
        assert_eq!(concurrency(parse_max_concurrency("50%").unwrap(), 10), 5);
        assert_eq!(concurrency(parse_max_concurrency("7").unwrap(), 3), 7);
    }

    #[test]
    fn patterns() {
        for bad in [
            "0", "", "01", "101%", "0%", "-1", "1.5", "12345678", "%", "a",
        ] {
            assert!(parse_max_concurrency(bad).is_err(), "{bad}");
        }
        for bad in ["", "01", "101%", "00%", "-1", "12345678"] {
            assert!(parse_max_errors(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_max_errors("0"), Ok(Amount::Count(0)));
        assert_eq!(
            parse_max_concurrency("1234567"),
            Ok(Amount::Count(1_234_567))
        );
        assert_eq!(parse_max_concurrency("100%"), Ok(Amount::Percent(100)));
    }

    #[test]
    fn ramp_doubles_after_acknowledgements() {
        let start = |started, running, acknowledged| {
            may_start(
                Progress {
                    started,
                    running,
                    acknowledged,
                    errors: 0,
                },
                10,
                0,
            )
        };
        assert_eq!(start(0, 0, 0), 1);
        assert_eq!(start(1, 1, 0), 0);
        assert_eq!(start(1, 1, 1), 2);
        assert_eq!(start(3, 3, 3), 4);
        assert_eq!(start(7, 7, 7), 3); // capped by the concurrency
        assert_eq!(
            may_start(
                Progress {
                    started: 2,
                    running: 0,
                    acknowledged: 2,
                    errors: 1
                },
                10,
                0
            ),
            0
        );
    }
}
