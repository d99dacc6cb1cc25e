//! Patchwarden's core: every patch decision lives here.
//!
//! It parses versions and repository metadata, models patch baselines and maintenance-window
//! schedules, and evaluates "inventory + catalog + baseline + instant → per-package states".
//!
//! **Architecture invariant:** this crate does no I/O. It has no clock, no environment, no
//! processes, no network and no filesystem access; time comes in as a parameter and metadata
//! comes in as bytes. The same inputs always give the same output.

pub mod apt;
pub mod baseline;
pub mod evaluate;
pub mod exact;
pub mod nevra;
pub mod pattern;
pub mod promotion;
pub mod reboot;
pub mod release;
pub mod repo;
pub mod schedule;
pub mod version;
