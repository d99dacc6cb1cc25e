//! The differential fixture: packages and advisories shaped to compare the agent with
//! `dnf upgrade-minimal --sec-severity=Critical --sec-severity=Important --bugfix` on copies
//! of one installroot. Built once and cached on disk across test processes, like
//! [`crate::standard()`].
//!
//! Every package is noarch; old versions are built 2024-01-01, updates 2024-02-01 and later.
//! "Expected" is what both tools install (the shapes on which they agree).
//!
//! | package | old       | updates (advisory)                                               | expected     |
//! |---------|-----------|------------------------------------------------------------------|--------------|
//! | alpha   | 1.0-1     | 1.1-1 (DIF-01 security Critical), 1.2-1 (DIF-02 security Important) | 1.2-1     |
//! | beta    | 1.0-1     | 1.1-1 (DIF-03 bugfix), 1.2-1 (DIF-04 security Moderate)          | 1.1-1        |
//! | gamma   | 1.0-1     | 1.1-1 (DIF-05 security Low), 1.2-1 (DIF-06 security Important)   | 1.2-1        |
//! | delta   | 1.0-1     | 1.1-1 (DIF-07 enhancement)                                       | 1.0-1        |
//! | epsilon | 1.0-1     | 1.1-1 (DIF-08 security Moderate)                                 | 1.0-1        |
//! | zeta    | 1.0-1     | 1.1-1 (DIF-09 security Important), 1.2-1 (no advisory)           | 1.1-1        |
//! | eta     | 1.0-1     | 1.1-1 (DIF-10 security Critical), 1.2-1 (DIF-11 bugfix), 1.3-1 (none) | 1.2-1   |
//! | theta   | 1.0-1     | 1.1-1 (DIF-12 security, no severity)                             | 1.0-1        |
//! | iota    | 1.0-1     | none; DIF-13 (security Important) lists the installed 1.0-1      | 1.0-1        |
//! | kappa   | –         | 1.0-1 (DIF-14 security Critical), not installed                  | –            |
//! | lambda  | 1.0-1     | 1.1-1 (DIF-15 security Important), requires `mu >= 1.1`          | 1.1-1        |
//! | mu      | 1.0-1     | 1.1-1, 1.2-1 (no advisory; pulled in as lambda's dependency)     | 1.2-1        |
//! | xi      | 1.0-1     | 1.1-1 (DIF-16 security Critical, with omicron)                   | 1.1-1        |
//! | omicron | 1.0-1     | 1.1-1 (DIF-16)                                                   | 1.1-1        |
//! | pi      | 1:1.0-1   | 1:1.1-1 (DIF-17 bugfix)                                          | 1:1.1-1      |
//! | rho     | 1.0-1     | 1.1-1 (DIF-18 bugfix with severity Low)                          | 1.1-1        |
//! | sigma   | 1.0-1     | 1.1-1 (DIF-19 security Important and DIF-20 security Moderate)   | 1.1-1        |
//! | nu      | 1.0-1     | 1.1-1 (only in the divergent repository: DIV-01)                 | see below    |
//! | omega   | 1.0-1     | 1.1-1 (only in the divergent repository: DIV-02, DIV-03)         | see below    |
//!
//! The divergent repository adds advisories on which the two tools legitimately differ:
//!
//! | advisory | type, severity         | lists                                | dnf installs | the agent installs |
//! |----------|------------------------|--------------------------------------|--------------|--------------------|
//! | DIV-01   | enhancement, Important | nu-1.1-1                             | nu-1.1-1     | nothing            |
//! | DIV-02   | security, Critical     | omega-1.1-1                          | omega-1.1-1  | nothing            |
//! | DIV-03   | security, Important    | omega-1.3-1 (not in the repository)  | (with DIV-02) | (with DIV-02)     |
//!
//! DIV-01: dnf's `--sec-severity` matches an advisory of any type by its severity, while the
//! baseline's severity filter sits in a rule for the Security classification only. DIV-02 and
//! DIV-03: the baseline approves omega-1.3-1 as the highest version, which no repository offers,
//! and SSM does not fall back to a lower approved version (ssm-reference §3.2), while dnf only
//! ever considers versions it can install.

use std::path::Path;
use std::sync::OnceLock;

use jiff::Timestamp;

use crate::cache::{built_in, cached_dir, fixture_hash, repo_in};
use crate::repo_builder::{AdvisoryKind, AdvisorySpec, Repo, RepoBuilder};
use crate::rpm_builder::{BuiltRpm, RpmSpec, build_rpms};
use crate::{FixtureError, InstallRoot};

/// Bump when the layout of the cached directory changes.
const CACHE_FORMAT: &str = "1";

/// The old version of every installed package.
const OLD: [(&str, &str); 18] = [
    ("alpha", "1.0-1"),
    ("beta", "1.0-1"),
    ("gamma", "1.0-1"),
    ("delta", "1.0-1"),
    ("epsilon", "1.0-1"),
    ("zeta", "1.0-1"),
    ("eta", "1.0-1"),
    ("theta", "1.0-1"),
    ("iota", "1.0-1"),
    ("lambda", "1.0-1"),
    ("mu", "1.0-1"),
    ("xi", "1.0-1"),
    ("omicron", "1.0-1"),
    ("pi", "1:1.0-1"),
    ("rho", "1.0-1"),
    ("sigma", "1.0-1"),
    ("nu", "1.0-1"),
    ("omega", "1.0-1"),
];

/// Updates, as `(name, [epoch:]version-release, build date)`.
const UPDATES: [(&str, &str, &str); 25] = [
    ("alpha", "1.1-1", "2024-02-01"),
    ("alpha", "1.2-1", "2024-03-01"),
    ("beta", "1.1-1", "2024-02-01"),
    ("beta", "1.2-1", "2024-03-01"),
    ("gamma", "1.1-1", "2024-02-01"),
    ("gamma", "1.2-1", "2024-03-01"),
    ("delta", "1.1-1", "2024-02-01"),
    ("epsilon", "1.1-1", "2024-02-01"),
    ("zeta", "1.1-1", "2024-02-01"),
    ("zeta", "1.2-1", "2024-03-01"),
    ("eta", "1.1-1", "2024-02-01"),
    ("eta", "1.2-1", "2024-03-01"),
    ("eta", "1.3-1", "2024-04-01"),
    ("theta", "1.1-1", "2024-02-01"),
    ("kappa", "1.0-1", "2024-02-01"),
    ("lambda", "1.1-1", "2024-02-01"),
    ("mu", "1.1-1", "2024-02-01"),
    ("mu", "1.2-1", "2024-03-01"),
    ("xi", "1.1-1", "2024-02-01"),
    ("omicron", "1.1-1", "2024-02-01"),
    ("pi", "1:1.1-1", "2024-02-01"),
    ("rho", "1.1-1", "2024-02-01"),
    ("sigma", "1.1-1", "2024-02-01"),
    ("nu", "1.1-1", "2024-02-01"),
    ("omega", "1.1-1", "2024-02-01"),
];

/// The differential packages, their two repositories, and what they share.
#[derive(Debug)]
pub struct DifferentialFixture {
    pub rpms: Vec<BuiltRpm>,
    /// The advisories of [`DifferentialFixture::repo`].
    pub advisories: Vec<AdvisorySpec>,
    /// The advisories that only [`DifferentialFixture::divergent_repo`] adds.
    pub divergent_advisories: Vec<AdvisorySpec>,
    /// Every package, with the advisories on which dnf and the agent agree.
    pub repo: Repo,
    /// Every package, with those advisories plus the divergent ones.
    pub divergent_repo: Repo,
}

impl DifferentialFixture {
    /// The built package with this name and `[epoch:]version-release`.
    pub fn rpm(&self, name: &str, evr: &str) -> &BuiltRpm {
        let wanted = RpmSpec::new(name, evr).nevra();
        self.rpms
            .iter()
            .find(|rpm| rpm.nevra.name == wanted.name && rpm.nevra.evr == wanted.evr)
            .unwrap_or_else(|| panic!("the differential fixture has no {name}-{evr}"))
    }

    /// The old version of every installed package.
    pub fn old_rpms(&self) -> Vec<&BuiltRpm> {
        OLD.iter().map(|(name, evr)| self.rpm(name, evr)).collect()
    }

    /// A new installroot with the old versions installed and `repo` configured as
    /// `differential`.
    pub fn old_root(&self, repo: &Repo) -> Result<InstallRoot, FixtureError> {
        let root = InstallRoot::new()?;
        root.add_repo("differential", repo)?;
        root.rpm_install(&self.old_rpms())?;
        Ok(root)
    }
}

fn at(date: &str) -> Timestamp {
    format!("{date}T00:00:00Z")
        .parse()
        .expect("the fixture dates are valid")
}

/// The package specs of the differential fixture.
pub fn differential_specs() -> Vec<RpmSpec> {
    let old = at("2024-01-01");
    let with_dependencies = |spec: RpmSpec| match (spec.name.as_str(), spec.version.as_str()) {
        ("lambda", "1.0") => spec.requires("mu >= 1.0"),
        ("lambda", _) => spec.requires("mu >= 1.1"),
        _ => spec,
    };
    OLD.iter()
        .map(|(name, evr)| RpmSpec::new(name, evr).build_time(old))
        .chain(
            UPDATES
                .iter()
                .map(|(name, evr, date)| RpmSpec::new(name, evr).build_time(at(date))),
        )
        .map(with_dependencies)
        .collect()
}

fn nevra(name: &str, evr: &str) -> pw_core::nevra::Nevra {
    RpmSpec::new(name, evr).nevra()
}

fn security(id: &str, date: &str, severity: Option<&str>) -> AdvisorySpec {
    // DIF-01 fixes CVE-2024-9001, DIV-01 fixes CVE-2024-8001.
    let prefix = if id.starts_with("DIV") { "80" } else { "90" };
    let number = id.rsplit('-').next().unwrap_or(id);
    let advisory = AdvisorySpec::new(id, AdvisoryKind::Security, at(date))
        .cve(&format!("CVE-2024-{prefix}{number}"));
    match severity {
        Some(severity) => advisory.severity(severity),
        None => advisory,
    }
}

/// The advisories on which dnf and the agent agree.
pub fn differential_advisories() -> Vec<AdvisorySpec> {
    let bugfix = |id: &str, date: &str| AdvisorySpec::new(id, AdvisoryKind::Bugfix, at(date));
    vec![
        security("DIF-01", "2024-02-02", Some("Critical")).package(nevra("alpha", "1.1-1")),
        security("DIF-02", "2024-03-02", Some("Important")).package(nevra("alpha", "1.2-1")),
        bugfix("DIF-03", "2024-02-02").package(nevra("beta", "1.1-1")),
        security("DIF-04", "2024-03-02", Some("Moderate")).package(nevra("beta", "1.2-1")),
        security("DIF-05", "2024-02-02", Some("Low")).package(nevra("gamma", "1.1-1")),
        security("DIF-06", "2024-03-02", Some("Important")).package(nevra("gamma", "1.2-1")),
        AdvisorySpec::new("DIF-07", AdvisoryKind::Enhancement, at("2024-02-02"))
            .package(nevra("delta", "1.1-1")),
        security("DIF-08", "2024-02-02", Some("Moderate")).package(nevra("epsilon", "1.1-1")),
        security("DIF-09", "2024-02-02", Some("Important")).package(nevra("zeta", "1.1-1")),
        security("DIF-10", "2024-02-02", Some("Critical")).package(nevra("eta", "1.1-1")),
        bugfix("DIF-11", "2024-03-02").package(nevra("eta", "1.2-1")),
        security("DIF-12", "2024-02-02", None).package(nevra("theta", "1.1-1")),
        security("DIF-13", "2024-01-02", Some("Important")).package(nevra("iota", "1.0-1")),
        security("DIF-14", "2024-02-02", Some("Critical")).package(nevra("kappa", "1.0-1")),
        security("DIF-15", "2024-02-02", Some("Important"))
            .updated(at("2024-02-10"))
            .package(nevra("lambda", "1.1-1")),
        security("DIF-16", "2024-02-02", Some("Critical"))
            .package(nevra("xi", "1.1-1"))
            .package(nevra("omicron", "1.1-1")),
        bugfix("DIF-17", "2024-02-02").package(nevra("pi", "1:1.1-1")),
        bugfix("DIF-18", "2024-02-02")
            .severity("Low")
            .package(nevra("rho", "1.1-1")),
        security("DIF-19", "2024-02-02", Some("Important")).package(nevra("sigma", "1.1-1")),
        security("DIF-20", "2024-02-03", Some("Moderate")).package(nevra("sigma", "1.1-1")),
    ]
}

/// The advisories on which dnf and the agent differ (see the module documentation).
pub fn divergent_advisories() -> Vec<AdvisorySpec> {
    vec![
        AdvisorySpec::new("DIV-01", AdvisoryKind::Enhancement, at("2024-02-02"))
            .severity("Important")
            .package(nevra("nu", "1.1-1")),
        security("DIV-02", "2024-02-02", Some("Critical")).package(nevra("omega", "1.1-1")),
        security("DIV-03", "2024-03-02", Some("Important")).package(nevra("omega", "1.3-1")),
    ]
}

/// The differential fixture, built on first use in this process, or taken from the on-disk
/// cache (`$TMPDIR/pw-test-support/differential-<hash of the definitions>`).
pub fn differential() -> Result<&'static DifferentialFixture, FixtureError> {
    static FIXTURE: OnceLock<Result<DifferentialFixture, String>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| load_or_build().map_err(|error| error.to_string()))
        .as_ref()
        .map_err(|message| {
            FixtureError::Invalid(format!(
                "the differential fixture could not be built: {message}"
            ))
        })
}

fn load_or_build() -> Result<DifferentialFixture, FixtureError> {
    let specs = differential_specs();
    let advisories = differential_advisories();
    let divergent = divergent_advisories();
    let hash = fixture_hash(CACHE_FORMAT, &specs, &[&advisories, &divergent]);
    let dir = cached_dir("differential", &hash, |dir| {
        build_into(dir, &specs, &advisories, &divergent)
    })?;
    Ok(DifferentialFixture {
        rpms: built_in(&dir, "rpms", &specs),
        advisories,
        divergent_advisories: divergent,
        repo: repo_in(&dir, "repo", &specs),
        divergent_repo: repo_in(&dir, "repo-divergent", &specs),
    })
}

fn build_into(
    dir: &Path,
    specs: &[RpmSpec],
    advisories: &[AdvisorySpec],
    divergent: &[AdvisorySpec],
) -> Result<(), FixtureError> {
    let rpms = build_rpms(specs, &dir.join("rpms"))?;
    let with = |builder: RepoBuilder, list: &[AdvisorySpec]| {
        list.iter().cloned().fold(builder, RepoBuilder::advisory)
    };
    with(RepoBuilder::new().rpms(&rpms), advisories).build(&dir.join("repo"))?;
    with(with(RepoBuilder::new().rpms(&rpms), advisories), divergent)
        .build(&dir.join("repo-divergent"))?;
    Ok(())
}
