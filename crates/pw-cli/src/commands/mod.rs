//! One module per subcommand. Each has an `*Args`/`*Command` clap type and a `run` function
//! that returns the exit code.

pub(crate) mod activation;
pub(crate) mod agent;
pub(crate) mod baseline;
pub(crate) mod client;
pub(crate) mod compliance;
pub(crate) mod declare;
pub(crate) mod evaluate;
pub(crate) mod execution;
pub(crate) mod node;
pub(crate) mod patch_group;
pub(crate) mod preview;
pub(crate) mod promote;
pub(crate) mod promotion;
pub(crate) mod release;
pub(crate) mod repo;
pub(crate) mod schedule;
pub(crate) mod server;
pub(crate) mod vercmp;
pub(crate) mod webhook;
pub(crate) mod window;
