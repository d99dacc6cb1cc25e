//! rpm-md repository metadata: repomd.xml, primary (XML and sqlite), updateinfo.
//!
//! Parsers take bytes and return values plus diagnostics; fetching is the caller's job.

use jiff::Timestamp;

use crate::nevra::Nevra;

/// A package available in a repository (from primary.xml or primary_db).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub nevra: Nevra,
    /// Build time in seconds since the epoch; `None` when the metadata does not say.
    pub build_time: Option<i64>,
    pub location: String,
    pub source_rpm: Option<String>,
    pub requires: Vec<Dependency>,
    pub provides: Vec<Dependency>,
}

/// One entry of a package's provides or requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    /// `EQ`, `LT`, `LE`, `GT`, `GE` as in rpm-md; `None` for an unversioned dependency.
    pub flags: Option<DepFlags>,
    pub evr: Option<crate::version::rpm::Evr>,
}

/// The comparison of a versioned dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepFlags {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// An updateinfo advisory (erratum, ALAS, RHSA, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    pub id: String,
    /// The `type` attribute as written (`security`, `bugfix`, `enhancement`, `newpackage`, ...).
    pub kind: String,
    pub status: Option<String>,
    /// The severity as written, or `None` when absent or empty.
    pub severity: Option<String>,
    pub title: Option<String>,
    pub issued: Option<Timestamp>,
    pub updated: Option<Timestamp>,
    pub references: Vec<Reference>,
    pub packages: Vec<AdvisoryPackage>,
}

/// A reference of an advisory: `cve`, `bugzilla`, `self`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: String,
    pub id: String,
}

/// A package listed by an advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryPackage {
    pub nevra: Nevra,
    pub filename: Option<String>,
    pub reboot_suggested: bool,
}
