//! Integration tests of the package-manager layer, against real rpm, dnf and createrepo_c
//! in temporary installroots (see `pw-test-support`). They need root: rpm chroots into the
//! installroot for scriptlets.
#![expect(
    clippy::unwrap_used,
    reason = "the data-driven `check` helpers fail the test the same way `#[test]` bodies do"
)]

mod apt;
mod command;
mod fixtures;
mod hooks;
mod host;
mod install;
mod inventory;
mod lock;
mod repo_cache;
