//! Integration tests of pw-core: one test binary, one module per area.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test the same way `#[test]` bodies do"
)]

mod apt;
mod nevra;
mod pattern;
mod primary;
mod repomd;
mod schedule_dst;
mod schedule_next;
mod schedule_parse;
mod schedule_prop;
mod schedule_support;
mod schedule_window;
mod updateinfo;
mod version_deb;
mod version_rpm;
