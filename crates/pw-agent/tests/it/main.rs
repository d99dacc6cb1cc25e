//! Agent operations on real installroots: real .rpm files, a real rpm-md repository with
//! updateinfo, real dnf installs, verified against the real rpm database.
//!
//! The standard fixture (see `pw_test_support::standard`): foo 1.0 → 1.1 (security,
//! Important, 2024-03-02) → 2.0 (enhancement); bar 1.0 → 1.1 (bugfix, requires foo >= 1.1);
//! kernel 5.0 → 5.1 (security, Critical, reboot suggested); glibc 2.28-1 → 2.28-2 (security,
//! Important); broken 1.0 → 1.1 (security, Moderate, its `%pre` fails); withepoch 1:1.0 →
//! 1:1.1 (no advisory).
#![expect(
    clippy::unwrap_used,
    reason = "fixture helpers fail the test the same way `#[test]` bodies do"
)]

mod al2023;
mod apt;
mod apt_preview;
mod differential;
mod operations;
mod server;
mod stale;
mod window;
mod yum;
