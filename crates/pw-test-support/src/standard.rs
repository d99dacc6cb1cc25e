//! The standard fixture: a fixed set of packages, versions and advisories that most tests
//! share, built once and cached on disk across test processes (nextest runs every test in a
//! process of its own).
//!
//! | package   | old (installed)     | updates                 | notes                                   |
//! |-----------|---------------------|-------------------------|-----------------------------------------|
//! | foo       | 1.0-1               | 1.1-1, 2.0-1            |                                         |
//! | bar       | 1.0-1 (foo >= 1.0)  | 1.1-1 (foo >= 1.1)      | requires another package                |
//! | kernel    | 5.0-1               | 5.1-1                   | install-only: versions side by side     |
//! | glibc     | 2.28-1              | 2.28-2                  | a "needs reboot" package by name        |
//! | broken    | 1.0-1               | 1.1-1                   | 1.1's `%pre` fails: install fails       |
//! | withepoch | 1:1.0-1             | 1:1.1-1                 | epoch 1, no advisory (non-security)     |
//!
//! Old versions are built 2024-01-01, updates on the advisory's issue date (or 2024-04-01).
//!
//! | advisory      | type        | severity  | package          | references / flags          |
//! |---------------|-------------|-----------|------------------|-----------------------------|
//! | FIX-2024-0001 | security    | Important | foo-1.1-1        | CVE-2024-1001, bug 1001     |
//! | FIX-2024-0002 | bugfix      | –         | bar-1.1-1        | bug 2002                    |
//! | FIX-2024-0003 | security    | Critical  | kernel-5.1-1     | CVE-2024-1003, reboot       |
//! | FIX-2024-0004 | security    | Moderate  | broken-1.1-1     | CVE-2024-1004               |
//! | FIX-2024-0005 | security    | Important | glibc-2.28-2     | CVE-2024-1005               |
//! | FIX-2024-0006 | enhancement | –         | foo-2.0-1        |                             |

use std::path::Path;
use std::sync::OnceLock;

use jiff::Timestamp;

use crate::cache::{built_in, cached_dir, fixture_hash, repo_in};
use crate::repo_builder::{AdvisoryKind, AdvisorySpec, Metadata, Repo, RepoBuilder};
use crate::rpm_builder::{BuiltRpm, RpmSpec, Scriptlet, build_rpms};
use crate::{FixtureError, InstallRoot};

/// Bump when the layout of the cached directory changes.
const CACHE_FORMAT: &str = "1";

/// The standard packages and their repository, in a read-only shared directory.
#[derive(Debug)]
pub struct StandardFixture {
    pub rpms: Vec<BuiltRpm>,
    pub advisories: Vec<AdvisorySpec>,
    /// All packages and the updateinfo, with XML primary metadata (what dnf reads).
    pub repo: Repo,
    /// The same packages published with sqlite metadata only, like Amazon Linux 2.
    pub sqlite_only_repo: Repo,
}

impl StandardFixture {
    /// The built package with this name and `[epoch:]version-release`.
    pub fn rpm(&self, name: &str, evr: &str) -> &BuiltRpm {
        let wanted = RpmSpec::new(name, evr).nevra();
        self.rpms
            .iter()
            .find(|rpm| rpm.nevra.name == wanted.name && rpm.nevra.evr == wanted.evr)
            .unwrap_or_else(|| panic!("the standard fixture has no {name}-{evr}"))
    }

    /// The old version of every package (what [`StandardFixture::old_root`] installs).
    pub fn old_rpms(&self) -> Vec<&BuiltRpm> {
        OLD.iter().map(|(name, evr)| self.rpm(name, evr)).collect()
    }

    /// A new installroot with the old versions installed and the standard repository
    /// configured as `fixture`.
    pub fn old_root(&self) -> Result<InstallRoot, FixtureError> {
        let root = InstallRoot::new()?;
        root.add_repo("fixture", &self.repo)?;
        root.rpm_install(&self.old_rpms())?;
        Ok(root)
    }
}

const OLD: [(&str, &str); 6] = [
    ("foo", "1.0-1"),
    ("bar", "1.0-1"),
    ("kernel", "5.0-1"),
    ("glibc", "2.28-1"),
    ("broken", "1.0-1"),
    ("withepoch", "1:1.0-1"),
];

fn at(text: &str) -> Timestamp {
    text.parse().expect("the fixture dates are valid RFC 3339")
}

/// The package specs of the standard fixture.
pub fn standard_specs() -> Vec<RpmSpec> {
    let old = at("2024-01-01T00:00:00Z");
    vec![
        RpmSpec::new("foo", "1.0-1").build_time(old),
        RpmSpec::new("foo", "1.1-1").build_time(at("2024-03-01T00:00:00Z")),
        RpmSpec::new("foo", "2.0-1").build_time(at("2024-04-01T00:00:00Z")),
        RpmSpec::new("bar", "1.0-1")
            .requires("foo >= 1.0")
            .build_time(old),
        RpmSpec::new("bar", "1.1-1")
            .requires("foo >= 1.1")
            .build_time(at("2024-03-05T00:00:00Z")),
        RpmSpec::new("kernel", "5.0-1")
            .provides("installonlypkg(kernel)")
            .build_time(old),
        RpmSpec::new("kernel", "5.1-1")
            .provides("installonlypkg(kernel)")
            .build_time(at("2024-03-10T00:00:00Z")),
        RpmSpec::new("glibc", "2.28-1").build_time(old),
        RpmSpec::new("glibc", "2.28-2").build_time(at("2024-03-15T00:00:00Z")),
        RpmSpec::new("broken", "1.0-1").build_time(old),
        RpmSpec::new("broken", "1.1-1")
            .failing(Scriptlet::Pre)
            .build_time(at("2024-03-12T00:00:00Z")),
        RpmSpec::new("withepoch", "1:1.0-1").build_time(old),
        RpmSpec::new("withepoch", "1:1.1-1").build_time(at("2024-04-01T00:00:00Z")),
    ]
}

/// The advisories of the standard fixture.
pub fn standard_advisories() -> Vec<AdvisorySpec> {
    let nevra = |name: &str, evr: &str| RpmSpec::new(name, evr).nevra();
    vec![
        AdvisorySpec::new(
            "FIX-2024-0001",
            AdvisoryKind::Security,
            at("2024-03-01T00:00:00Z"),
        )
        .severity("Important")
        .updated(at("2024-03-02T00:00:00Z"))
        .cve("CVE-2024-1001")
        .bugzilla("1001")
        .package(nevra("foo", "1.1-1")),
        AdvisorySpec::new(
            "FIX-2024-0002",
            AdvisoryKind::Bugfix,
            at("2024-03-05T00:00:00Z"),
        )
        .bugzilla("2002")
        .package(nevra("bar", "1.1-1")),
        AdvisorySpec::new(
            "FIX-2024-0003",
            AdvisoryKind::Security,
            at("2024-03-10T00:00:00Z"),
        )
        .severity("Critical")
        .cve("CVE-2024-1003")
        .reboot_suggested()
        .package(nevra("kernel", "5.1-1")),
        AdvisorySpec::new(
            "FIX-2024-0004",
            AdvisoryKind::Security,
            at("2024-03-12T00:00:00Z"),
        )
        .severity("Moderate")
        .cve("CVE-2024-1004")
        .package(nevra("broken", "1.1-1")),
        AdvisorySpec::new(
            "FIX-2024-0005",
            AdvisoryKind::Security,
            at("2024-03-15T00:00:00Z"),
        )
        .severity("Important")
        .cve("CVE-2024-1005")
        .package(nevra("glibc", "2.28-2")),
        AdvisorySpec::new(
            "FIX-2024-0006",
            AdvisoryKind::Enhancement,
            at("2024-04-01T00:00:00Z"),
        )
        .package(nevra("foo", "2.0-1")),
    ]
}

/// The standard fixture, built on first use in this process, or taken from the on-disk cache
/// (`$TMPDIR/pw-test-support/standard-<hash of the definitions>`) when another process built
/// it already.
pub fn standard() -> Result<&'static StandardFixture, FixtureError> {
    static FIXTURE: OnceLock<Result<StandardFixture, String>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| load_or_build().map_err(|error| error.to_string()))
        .as_ref()
        .map_err(|message| {
            FixtureError::Invalid(format!(
                "the standard fixture could not be built: {message}"
            ))
        })
}

fn load_or_build() -> Result<StandardFixture, FixtureError> {
    let specs = standard_specs();
    let advisories = standard_advisories();
    let hash = fixture_hash(CACHE_FORMAT, &specs, &[&advisories]);
    let dir = cached_dir("standard", &hash, |dir| {
        build_into(dir, &specs, &advisories)
    })?;
    Ok(StandardFixture {
        rpms: built_in(&dir, "rpms", &specs),
        advisories,
        repo: repo_in(&dir, "repo", &specs),
        sqlite_only_repo: repo_in(&dir, "repo-sqlite", &specs),
    })
}

fn build_into(
    dir: &Path,
    specs: &[RpmSpec],
    advisories: &[AdvisorySpec],
) -> Result<(), FixtureError> {
    let rpms = build_rpms(specs, &dir.join("rpms"))?;
    let with_advisories = |builder: RepoBuilder| {
        advisories
            .iter()
            .cloned()
            .fold(builder, RepoBuilder::advisory)
    };
    with_advisories(RepoBuilder::new().rpms(&rpms)).build(&dir.join("repo"))?;
    with_advisories(
        RepoBuilder::new()
            .rpms(&rpms)
            .metadata(Metadata::SqliteOnly),
    )
    .build(&dir.join("repo-sqlite"))?;
    Ok(())
}
