//! Integration tests of pw-server: the router called in-process (`oneshot`), the scheduler
//! and runner driven with a manual clock, and end-to-end runs on `127.0.0.1:0` with
//! pw-client. Runner tests run on SQLite always and on PostgreSQL when
//! `PATCHWARDEN_TEST_PG_URL` is set.

#![expect(
    clippy::unwrap_used,
    reason = "test steps unwrap: a failure is the test failing, with its location"
)]

mod agent;
mod api;
mod console;
mod e2e;
mod promotions;
mod run_now;
mod runner;
mod support;
mod webhooks;
