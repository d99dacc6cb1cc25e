//! The strategies fixture: an Amazon Linux 2-shaped repository on which the four patch
//! strategies of `examples/strategy-1` to `examples/strategy-4` are walked end to end. Built
//! once and cached on disk across test processes, like [`crate::standard()`].
//!
//! Every package is x86_64; the installed versions are built 2025-01-01, each update on its
//! advisory's release date (00:00 UTC).
//!
//! | package | installed          | update             | advisory        | type, severity      | released   | notes                      |
//! |---------|--------------------|--------------------|-----------------|---------------------|------------|----------------------------|
//! | bash    | 4.2.46-1.amzn2     | 4.2.46-2.amzn2     | ALAS2-2025-0103 | bugfix              | 2025-02-10 |                            |
//! | openssl | 1.0.2k-1.amzn2     | 1.0.2k-2.amzn2     | ALAS2-2025-0101 | security, Important | 2025-03-03 | CVE-2025-1101              |
//! | curl    | 8.3.0-1.amzn2      | 8.3.0-2.amzn2      | ALAS2-2025-0102 | security, Critical  | 2025-03-04 | CVE-2025-1102; `%pre` fails: breaks where installed |
//! | sudo    | 1.9.5-1.amzn2      | 1.9.5p2-1.amzn2    | ALAS2-2025-0104 | security, Moderate  | 2025-03-05 | CVE-2021-3156: no rule approves it, strategy 4 approves it by CVE |
//! | tzdata  | 2024a-1.amzn2      | 2025a-1.amzn2      | –               | (non-security)      | 2025-03-01 | never approved             |

use std::sync::OnceLock;

use jiff::Timestamp;

use crate::cache::{built_in, cached_dir, fixture_hash, repo_in};
use crate::repo_builder::{AdvisoryKind, AdvisorySpec, Repo, RepoBuilder};
use crate::rpm_builder::{BuiltRpm, RpmSpec, Scriptlet, build_rpms};
use crate::{FixtureError, InstallRoot};

/// Bump when the layout of the cached directory changes.
const CACHE_FORMAT: &str = "1";

/// The installed version (`version-release`) of every package.
pub const OLD: [(&str, &str); 5] = [
    ("bash", "4.2.46-1.amzn2"),
    ("openssl", "1.0.2k-1.amzn2"),
    ("curl", "8.3.0-1.amzn2"),
    ("sudo", "1.9.5-1.amzn2"),
    ("tzdata", "2024a-1.amzn2"),
];

/// The strategies packages and their repository, in a read-only shared directory.
#[derive(Debug)]
pub struct StrategiesFixture {
    pub rpms: Vec<BuiltRpm>,
    pub advisories: Vec<AdvisorySpec>,
    pub repo: Repo,
}

impl StrategiesFixture {
    /// The built package with this name and `version-release`.
    pub fn rpm(&self, name: &str, evr: &str) -> &BuiltRpm {
        let wanted = RpmSpec::new(name, evr).arch("x86_64").nevra();
        self.rpms
            .iter()
            .find(|rpm| rpm.nevra == wanted)
            .unwrap_or_else(|| panic!("the strategies fixture has no {name}-{evr}"))
    }

    /// A new installroot with the installed versions of the table and the repository
    /// configured as `amzn2-core`.
    pub fn old_root(&self) -> Result<InstallRoot, FixtureError> {
        let root = InstallRoot::new()?;
        root.add_repo("amzn2-core", &self.repo)?;
        let old: Vec<&BuiltRpm> = OLD.iter().map(|(name, evr)| self.rpm(name, evr)).collect();
        root.rpm_install(&old)?;
        Ok(root)
    }
}

fn at(date: &str) -> Timestamp {
    format!("{date}T00:00:00Z")
        .parse()
        .expect("the fixture dates are valid")
}

/// The package specs of the strategies fixture.
pub fn strategies_specs() -> Vec<RpmSpec> {
    let old = at("2025-01-01");
    let spec =
        |name: &str, evr: &str, date| RpmSpec::new(name, evr).arch("x86_64").build_time(date);
    vec![
        spec("bash", "4.2.46-1.amzn2", old),
        spec("bash", "4.2.46-2.amzn2", at("2025-02-10")),
        spec("openssl", "1.0.2k-1.amzn2", old),
        spec("openssl", "1.0.2k-2.amzn2", at("2025-03-03")),
        spec("curl", "8.3.0-1.amzn2", old),
        spec("curl", "8.3.0-2.amzn2", at("2025-03-04")).failing(Scriptlet::Pre),
        spec("sudo", "1.9.5-1.amzn2", old),
        spec("sudo", "1.9.5p2-1.amzn2", at("2025-03-05")),
        spec("tzdata", "2024a-1.amzn2", old),
        spec("tzdata", "2025a-1.amzn2", at("2025-03-01")),
    ]
}

/// The advisories of the strategies fixture.
pub fn strategies_advisories() -> Vec<AdvisorySpec> {
    let nevra = |name: &str, evr: &str| RpmSpec::new(name, evr).arch("x86_64").nevra();
    vec![
        AdvisorySpec::new("ALAS2-2025-0101", AdvisoryKind::Security, at("2025-03-03"))
            .severity("Important")
            .cve("CVE-2025-1101")
            .package(nevra("openssl", "1.0.2k-2.amzn2")),
        AdvisorySpec::new("ALAS2-2025-0102", AdvisoryKind::Security, at("2025-03-04"))
            .severity("Critical")
            .cve("CVE-2025-1102")
            .package(nevra("curl", "8.3.0-2.amzn2")),
        AdvisorySpec::new("ALAS2-2025-0103", AdvisoryKind::Bugfix, at("2025-02-10"))
            .package(nevra("bash", "4.2.46-2.amzn2")),
        AdvisorySpec::new("ALAS2-2025-0104", AdvisoryKind::Security, at("2025-03-05"))
            .severity("Moderate")
            .cve("CVE-2021-3156")
            .package(nevra("sudo", "1.9.5p2-1.amzn2")),
    ]
}

/// The strategies fixture, built on first use in this process, or taken from the on-disk
/// cache (`$TMPDIR/pw-test-support/strategies-<hash of the definitions>`).
pub fn strategies() -> Result<&'static StrategiesFixture, FixtureError> {
    static FIXTURE: OnceLock<Result<StrategiesFixture, String>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| load_or_build().map_err(|error| error.to_string()))
        .as_ref()
        .map_err(|message| {
            FixtureError::Invalid(format!(
                "the strategies fixture could not be built: {message}"
            ))
        })
}

fn load_or_build() -> Result<StrategiesFixture, FixtureError> {
    let specs = strategies_specs();
    let advisories = strategies_advisories();
    let hash = fixture_hash(CACHE_FORMAT, &specs, &[&advisories]);
    let dir = cached_dir("strategies", &hash, |dir| {
        let rpms = build_rpms(&specs, &dir.join("rpms"))?;
        advisories
            .iter()
            .cloned()
            .fold(RepoBuilder::new().rpms(&rpms), RepoBuilder::advisory)
            .build(&dir.join("repo"))?;
        Ok(())
    })?;
    Ok(StrategiesFixture {
        rpms: built_in(&dir, "rpms", &specs),
        advisories,
        repo: repo_in(&dir, "repo", &specs),
    })
}
