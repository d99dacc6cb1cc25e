//! Maintenance-window schedules: `cron(...)`, `rate(...)` and `at(...)` expressions and their
//! occurrences in a time zone.
