//! Documented exit codes of `patchwarden`. Scripts rely on them; never renumber.

/// The command did what was asked.
pub(crate) const OK: u8 = 0;
/// The command failed (bad input file, unreachable repository, ...); the message says why.
pub(crate) const FAILURE: u8 = 1;
/// The command line itself was wrong, or the input expression/value is invalid.
pub(crate) const USAGE: u8 = 2;
