//! Wire and file formats. Every type here that crosses a process boundary (files, JSON
//! output, later the HTTP API and agent protocol) is a compatibility promise: changes are
//! additive (new fields carry `#[serde(default)]`), and readers ignore unknown fields.
//!
//! **Architecture invariant:** pw-core types never derive serde; this crate converts.

pub mod agent;
pub mod baseline;
pub mod evaluation;
pub mod limits;
pub mod server;
