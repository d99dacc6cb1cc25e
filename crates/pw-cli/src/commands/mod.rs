//! One module per subcommand. Each has an `*Args`/`*Command` clap type and a `run` function
//! that returns the exit code.

pub(crate) mod agent;
pub(crate) mod evaluate;
pub(crate) mod repo;
pub(crate) mod schedule;
pub(crate) mod server;
pub(crate) mod vercmp;
