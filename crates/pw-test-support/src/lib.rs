//! Test fixtures for real package-manager tests: small real `.rpm` files built with
//! rpmbuild ([`rpm_builder`]), rpm-md repositories made by createrepo_c with an updateinfo
//! added by modifyrepo_c ([`repo_builder`]), installroots with an rpm database and a dnf
//! configuration that points only at fixture repositories ([`install_root`]), and a ready-made
//! set of packages and advisories shared by every test ([`standard()`], module [`mod@standard`]).
//!
//! A dev-dependency only: no production crate may depend on it. Processes are started through
//! `pw_pkgmgr::command`, like everywhere else. The tools come from Debian's `rpm`
//! (rpmbuild), `createrepo-c` and `dnf` packages; the tests run as root because rpm chroots
//! into the installroot to run scriptlets. See `docs/package-managers.md`.

pub mod al2023;
mod cache;
pub mod deb;
pub mod differential;
pub mod install_root;
pub mod repo_builder;
pub mod rpm_builder;
pub mod standard;
pub mod strategies;

use std::io;
use std::path::PathBuf;

use pw_pkgmgr::command::{self, CommandError, CommandSpec, Output};

pub use al2023::{Al2023Fixture, al2023};
pub use install_root::InstallRoot;
pub use repo_builder::{AdvisoryKind, AdvisorySpec, Metadata, Repo, RepoBuilder};
pub use rpm_builder::{BuiltRpm, RpmSpec, Scriptlet, build_rpms};
pub use standard::{StandardFixture, standard};
pub use strategies::{StrategiesFixture, strategies};

/// Anything that stopped a fixture from being built.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Invalid(String),
}

pub(crate) fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> FixtureError {
    let path = path.into();
    move |source| FixtureError::Io { path, source }
}

/// Runs a fixture tool and requires success.
pub(crate) fn run_checked(spec: &CommandSpec) -> Result<Output, FixtureError> {
    Ok(command::run(spec)?.check()?)
}
