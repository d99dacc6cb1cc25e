//! Integration tests of pw-store: one conformance suite over the store API, run against
//! SQLite in a temporary file always, and against PostgreSQL (a fresh schema per test) when
//! `PATCHWARDEN_TEST_PG_URL` is set.

#![expect(
    clippy::unwrap_used,
    reason = "test steps unwrap: a failure is the test failing, with its location"
)]

mod conformance;
