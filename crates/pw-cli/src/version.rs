//! What `patchwarden --version` says: the version, the commit, the target and the oldest
//! glibc the binary starts on. `build.rs` supplies the last three; `cargo xtask dist` sets
//! `PATCHWARDEN_GLIBC_FLOOR` for the builds it ships.

/// The package version.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `0.1.0 (commit 0123456789ab, x86_64-unknown-linux-gnu, glibc >= 2.17)`.
pub(crate) const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PW_BUILD_COMMIT"),
    ", ",
    env!("PW_BUILD_TARGET"),
    ", glibc ",
    env!("PW_BUILD_GLIBC"),
    ")"
);

pub(crate) fn long() -> &'static str {
    LONG
}
