//! rpm-md repository metadata: repomd.xml, primary (XML and sqlite), updateinfo.
//!
//! Parsers take bytes (a [`std::io::BufRead`] or a slice) and return values plus
//! [`Diagnostic`]s; fetching, caching and checksum verification of downloaded files are the
//! caller's job (see the `pw-repo` crate). Every parser detects compression (gzip, xz, bzip2,
//! zstd) by magic bytes, so plain and compressed inputs go through the same entry point.
//!
//! Entry points:
//! - [`repomd::parse_repomd`]: the index of a repository;
//! - [`primary::parse_primary`] / [`primary::parse_primary_with`]: `primary.xml`;
//! - [`primary_db::parse_primary_db`]: `primary.sqlite` (as published by Amazon Linux 2);
//! - [`updateinfo::parse_updateinfo`] / [`updateinfo::parse_updateinfo_with`]: advisories.
//!
//! The error model (rust-analyzer's `(T, Vec<Error>)`): a malformed package or advisory is
//! skipped and reported as a [`Diagnostic`] with its position; only a document that is
//! unusable as a whole (not XML, truncated, wrong root, bad sqlite file) is a
//! [`MetadataError`]. See `docs/repository-metadata.md` for every decision.

pub mod checksum;
pub mod compact;
pub mod compression;
pub mod date;
pub mod diagnostics;
pub mod primary;
pub mod primary_db;
pub mod releasemd;
pub mod repomd;
mod sqlite;
pub mod updateinfo;
mod xml;

use jiff::Timestamp;

use crate::nevra::Nevra;
use crate::version::rpm::Evr;

pub use crate::repo::checksum::{Checksum, ChecksumError, ChecksumHasher, ChecksumKind};
pub use crate::repo::diagnostics::{Diagnostic, DocumentKind, MetadataError, Parsed, Position};

/// A package available in a repository (from primary.xml or primary_db).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub nevra: Nevra,
    /// Build time in seconds since the epoch; `None` when the metadata does not say.
    pub build_time: Option<i64>,
    /// Where the .rpm lives, relative to the repository root (`Packages/f/foo-1-1.x86_64.rpm`),
    /// as written in the metadata (not validated: the agent hands it to dnf, never to a path).
    pub location: String,
    pub source_rpm: Option<String>,
    /// What the package needs. `rpmlib(...)` requirements are left out: rpm itself satisfies
    /// them and no package provides them.
    pub requires: Vec<Dependency>,
    pub provides: Vec<Dependency>,
    /// The package checksum (`pkgid`); `None` when absent or of an unsupported type.
    pub checksum: Option<Checksum>,
    /// Size of the .rpm file in bytes.
    pub package_size: Option<u64>,
    /// Size of the installed files in bytes.
    pub installed_size: Option<u64>,
}

impl Package {
    /// A package with only its identity and location; every optional field empty.
    pub fn new(nevra: Nevra, location: String) -> Package {
        Package {
            nevra,
            build_time: None,
            location,
            source_rpm: None,
            requires: Vec::new(),
            provides: Vec::new(),
            checksum: None,
            package_size: None,
            installed_size: None,
        }
    }
}

/// One entry of a package's provides or requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    /// `EQ`, `LT`, `LE`, `GT`, `GE` as in rpm-md; `None` for an unversioned dependency.
    pub flags: Option<DepFlags>,
    /// The version of a versioned dependency. A missing epoch is 0 and a missing release is
    /// the empty string (`foo >= 1.2` says nothing about the release).
    pub evr: Option<Evr>,
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

impl DepFlags {
    /// Parses the rpm-md spelling (`EQ`, `LT`, `LE`, `GT`, `GE`).
    pub fn from_rpmmd(text: &str) -> Option<DepFlags> {
        match text {
            "EQ" => Some(DepFlags::Eq),
            "LT" => Some(DepFlags::Lt),
            "LE" => Some(DepFlags::Le),
            "GT" => Some(DepFlags::Gt),
            "GE" => Some(DepFlags::Ge),
            _ => None,
        }
    }

    /// A comparison or none as a number, 0 (none) to 5 (`GE`): how binary encodings (the
    /// catalog cache, a compact catalog's image) store it.
    pub fn code(flags: Option<DepFlags>) -> u8 {
        match flags {
            None => 0,
            Some(DepFlags::Eq) => 1,
            Some(DepFlags::Lt) => 2,
            Some(DepFlags::Le) => 3,
            Some(DepFlags::Gt) => 4,
            Some(DepFlags::Ge) => 5,
        }
    }

    /// The comparison [`DepFlags::code`] gave `code`; `Err` for a number it never gives.
    pub fn from_code(code: u8) -> Result<Option<DepFlags>, u8> {
        Ok(match code {
            0 => None,
            1 => Some(DepFlags::Eq),
            2 => Some(DepFlags::Lt),
            3 => Some(DepFlags::Le),
            4 => Some(DepFlags::Gt),
            5 => Some(DepFlags::Ge),
            other => return Err(other),
        })
    }

    /// The rpm-md spelling.
    pub fn as_rpmmd(self) -> &'static str {
        match self {
            DepFlags::Eq => "EQ",
            DepFlags::Lt => "LT",
            DepFlags::Le => "LE",
            DepFlags::Gt => "GT",
            DepFlags::Ge => "GE",
        }
    }
}

/// An updateinfo advisory (erratum, ALAS, RHSA, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    pub id: String,
    /// The `type` attribute as written (`security`, `bugfix`, `enhancement`, `newpackage`, ...);
    /// empty when the attribute is missing (reported as a diagnostic).
    pub kind: String,
    pub status: Option<String>,
    /// The severity as written (trimmed), or `None` when absent or empty.
    pub severity: Option<String>,
    pub title: Option<String>,
    pub issued: Option<Timestamp>,
    pub updated: Option<Timestamp>,
    pub references: Vec<Reference>,
    /// Every package of every collection, in document order.
    pub packages: Vec<AdvisoryPackage>,
    /// The description, entities decoded once (see `docs/repository-metadata.md`).
    pub description: Option<String>,
    /// The advisory-level `<reboot_suggested>` flag. Packages carry their own flag too; use
    /// [`Advisory::suggests_reboot`] for "does installing this advisory want a reboot".
    pub reboot_suggested: bool,
    /// The `<collection>`s of the `<pkglist>`; [`AdvisoryPackage::collection`] indexes it.
    pub collections: Vec<Collection>,
}

impl Advisory {
    /// True when the advisory or any of its packages suggests a reboot.
    pub fn suggests_reboot(&self) -> bool {
        self.reboot_suggested || self.packages.iter().any(|package| package.reboot_suggested)
    }
}

/// A reference of an advisory: `cve`, `bugzilla`, `self`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The `type` attribute as written.
    pub kind: String,
    /// The `id` attribute; for a reference without one, the last path segment of `href`.
    pub id: String,
    pub href: Option<String>,
    pub title: Option<String>,
}

/// A package listed by an advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryPackage {
    pub nevra: Nevra,
    pub filename: Option<String>,
    pub reboot_suggested: bool,
    /// The source rpm (`src` attribute), when given.
    pub source_rpm: Option<String>,
    /// Index into [`Advisory::collections`] of the collection that lists this package.
    pub collection: usize,
}

/// One `<collection>` of an advisory's package list. Packages listed outside any collection
/// are put in an implicit collection with neither short name, name nor module.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Collection {
    pub short: Option<String>,
    pub name: Option<String>,
    /// The module stream the collection belongs to (RHEL 8+ modular advisories).
    pub module: Option<ModuleStream>,
}

/// A `<module>` element: the module stream a collection's packages belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleStream {
    pub name: String,
    pub stream: String,
    /// The module version (a number such as `8040020210602150433`); 0 when missing.
    pub version: u64,
    pub context: Option<String>,
    pub arch: Option<String>,
}
