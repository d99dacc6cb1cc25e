//! Integration tests of pw-api: file formats round-trip and reject bad input clearly.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test the same way `#[test]` bodies do"
)]

mod baseline;
mod server;
