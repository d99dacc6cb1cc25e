//! `cargo run -p xtask`: repository maintenance. The tidy checks are `#[test]`s in `tidy.rs`
//! so that the normal test run enforces them.

#[cfg(test)]
mod tidy;

fn main() {
    // Nothing to run yet: every check is a test.
}
