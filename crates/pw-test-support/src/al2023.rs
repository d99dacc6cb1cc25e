//! The Amazon Linux 2023 fixture: versioned, immutable repositories, one per release, laid out
//! like AL2023's (`.../<releasever>/`, reached with `baseurl=...$releasever...`), a
//! `system-release` package per release that provides `system-release(releasever)`, and
//! Amazon's release list (`releasemd.xml`). Built once and cached on disk across test
//! processes, like [`crate::standard()`].
//!
//! | release           | date       | holds (cumulative)                                   | advisories (cumulative)                      |
//! |-------------------|------------|------------------------------------------------------|----------------------------------------------|
//! | `2023.6.20250101` | 2025-01-01 | system-release, foo 1.0, bar 1.0, baz 1.0             | –                                            |
//! | `2023.6.20250201` | 2025-02-01 | + foo 1.1 (security Important), bar 1.1 (bugfix)     | ALAS2023-2025-001 (foo), ALAS2023-2025-002 (bar) |
//! | `2023.6.20250301` | 2025-03-01 | + foo 1.2 (security Critical), baz 1.1 (enhancement), qux 1.1 (security Important, its `%pre` fails) | + ALAS2023-2025-003 (foo), ALAS2023-2025-004 (baz), ALAS2023-2025-005 (qux) |
//!
//! Every release also holds qux 1.0. A host of [`Al2023Fixture::host`] has the first
//! release's packages installed (foo, bar, baz and qux 1.0) and no
//! `/etc/dnf/vars/releasever`: its lock is its `system-release`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jiff::Timestamp;

use crate::cache::{built_in, cached_dir, fixture_hash};
use crate::repo_builder::{AdvisoryKind, AdvisorySpec, RepoBuilder};
use crate::rpm_builder::{BuiltRpm, RpmSpec, Scriptlet, build_rpms};
use crate::{FixtureError, InstallRoot, io_error};

/// Bump when the layout of the cached directory changes.
const CACHE_FORMAT: &str = "1";

/// The releases, oldest first.
pub const RELEASES: [&str; 3] = ["2023.6.20250101", "2023.6.20250201", "2023.6.20250301"];

/// The repository id hosts are configured with (AL2023's).
pub const REPO_ID: &str = "amazonlinux";

/// The versioned repositories and the release list.
#[derive(Debug)]
pub struct Al2023Fixture {
    dir: PathBuf,
    pub rpms: Vec<BuiltRpm>,
}

impl Al2023Fixture {
    /// `<dir>/repos`: one repository per release below it.
    pub fn repos_dir(&self) -> PathBuf {
        self.dir.join("repos")
    }

    /// Amazon's release list for the three releases.
    pub fn releasemd(&self) -> PathBuf {
        self.dir.join("releasemd.xml")
    }

    fn rpm(&self, name: &str, evr: &str) -> &BuiltRpm {
        let wanted = RpmSpec::new(name, evr).nevra();
        self.rpms
            .iter()
            .find(|rpm| rpm.nevra.name == wanted.name && rpm.nevra.evr == wanted.evr)
            .unwrap_or_else(|| panic!("the AL2023 fixture has no {name}-{evr}"))
    }

    /// A new installroot on release `release` (one of [`RELEASES`]): that release's
    /// `system-release`, foo, bar and baz 1.0, and the versioned repository configured.
    pub fn host(&self, release: &str) -> Result<InstallRoot, FixtureError> {
        let root = InstallRoot::new()?;
        root.write_file(
            &format!("/etc/yum.repos.d/{REPO_ID}.repo"),
            &format!(
                "[{REPO_ID}]\nname=Amazon Linux 2023 repository (fixture)\n\
                 baseurl=file://{}/$releasever/\nenabled=1\ngpgcheck=0\n",
                self.repos_dir().display()
            ),
        )?;
        root.write_file(
            "/etc/os-release",
            "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n",
        )?;
        let release_rpm = self.rpm("system-release", &format!("{release}-0.amzn2023"));
        root.rpm_install(&[
            release_rpm,
            self.rpm("foo", "1.0-1.amzn2023"),
            self.rpm("bar", "1.0-1.amzn2023"),
            self.rpm("baz", "1.0-1.amzn2023"),
            self.rpm("qux", "1.0-1.amzn2023"),
        ])?;
        Ok(root)
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("the fixture dates are valid RFC 3339")
}

fn specs() -> Vec<RpmSpec> {
    let mut specs: Vec<RpmSpec> = RELEASES
        .iter()
        .map(|release| {
            RpmSpec::new("system-release", &format!("{release}-0.amzn2023"))
                .provides(&format!("system-release(releasever) = {release}"))
                .build_time(at("2025-01-01T00:00:00Z"))
        })
        .collect();
    let old = at("2025-01-01T00:00:00Z");
    specs.extend([
        RpmSpec::new("foo", "1.0-1.amzn2023").build_time(old),
        RpmSpec::new("foo", "1.1-1.amzn2023").build_time(at("2025-01-25T00:00:00Z")),
        RpmSpec::new("foo", "1.2-1.amzn2023").build_time(at("2025-02-20T00:00:00Z")),
        RpmSpec::new("bar", "1.0-1.amzn2023").build_time(old),
        RpmSpec::new("bar", "1.1-1.amzn2023").build_time(at("2025-01-28T00:00:00Z")),
        RpmSpec::new("baz", "1.0-1.amzn2023").build_time(old),
        RpmSpec::new("baz", "1.1-1.amzn2023").build_time(at("2025-02-25T00:00:00Z")),
        RpmSpec::new("qux", "1.0-1.amzn2023").build_time(old),
        RpmSpec::new("qux", "1.1-1.amzn2023")
            .failing(Scriptlet::Pre)
            .build_time(at("2025-02-26T00:00:00Z")),
    ]);
    specs
}

fn advisories() -> Vec<AdvisorySpec> {
    let nevra = |name: &str, evr: &str| RpmSpec::new(name, evr).nevra();
    vec![
        AdvisorySpec::new(
            "ALAS2023-2025-001",
            AdvisoryKind::Security,
            at("2025-01-25T00:00:00Z"),
        )
        .severity("Important")
        .cve("CVE-2025-2001")
        .package(nevra("foo", "1.1-1.amzn2023")),
        AdvisorySpec::new(
            "ALAS2023-2025-002",
            AdvisoryKind::Bugfix,
            at("2025-01-28T00:00:00Z"),
        )
        .package(nevra("bar", "1.1-1.amzn2023")),
        AdvisorySpec::new(
            "ALAS2023-2025-003",
            AdvisoryKind::Security,
            at("2025-02-20T00:00:00Z"),
        )
        .severity("Critical")
        .cve("CVE-2025-2003")
        .package(nevra("foo", "1.2-1.amzn2023")),
        AdvisorySpec::new(
            "ALAS2023-2025-004",
            AdvisoryKind::Enhancement,
            at("2025-02-25T00:00:00Z"),
        )
        .package(nevra("baz", "1.1-1.amzn2023")),
        AdvisorySpec::new(
            "ALAS2023-2025-005",
            AdvisoryKind::Security,
            at("2025-02-26T00:00:00Z"),
        )
        .severity("Important")
        .cve("CVE-2025-2005")
        .package(nevra("qux", "1.1-1.amzn2023")),
    ]
}

/// What each release holds: (package names-evrs, advisory ids), cumulative.
fn release_contents(index: usize) -> (Vec<String>, Vec<&'static str>) {
    let release = RELEASES[index];
    let mut packages = vec![
        format!("system-release-{release}-0.amzn2023"),
        "foo-1.0-1.amzn2023".to_owned(),
        "bar-1.0-1.amzn2023".to_owned(),
        "baz-1.0-1.amzn2023".to_owned(),
        "qux-1.0-1.amzn2023".to_owned(),
    ];
    let mut advisories = Vec::new();
    if index >= 1 {
        packages.extend([
            "foo-1.1-1.amzn2023".to_owned(),
            "bar-1.1-1.amzn2023".to_owned(),
        ]);
        advisories.extend(["ALAS2023-2025-001", "ALAS2023-2025-002"]);
    }
    if index >= 2 {
        packages.extend([
            "foo-1.2-1.amzn2023".to_owned(),
            "baz-1.1-1.amzn2023".to_owned(),
            "qux-1.1-1.amzn2023".to_owned(),
        ]);
        advisories.extend([
            "ALAS2023-2025-003",
            "ALAS2023-2025-004",
            "ALAS2023-2025-005",
        ]);
    }
    (packages, advisories)
}

/// The fixture, built on first use or taken from the on-disk cache.
pub fn al2023() -> Result<&'static Al2023Fixture, FixtureError> {
    static FIXTURE: OnceLock<Result<Al2023Fixture, String>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| load_or_build().map_err(|error| error.to_string()))
        .as_ref()
        .map_err(|message| {
            FixtureError::Invalid(format!("the AL2023 fixture could not be built: {message}"))
        })
}

fn load_or_build() -> Result<Al2023Fixture, FixtureError> {
    let specs = specs();
    let advisories = advisories();
    // What each release holds is part of the key, beside the packages and advisories.
    let layout = format!(
        "{CACHE_FORMAT} {:?}",
        (0..RELEASES.len())
            .map(release_contents)
            .collect::<Vec<_>>()
    );
    let hash = fixture_hash(&layout, &specs, &[&advisories]);
    let dir = cached_dir("al2023", &hash, |dir| build_into(dir, &specs, &advisories))?;
    Ok(Al2023Fixture {
        rpms: built_in(&dir, "rpms", &specs),
        dir,
    })
}

fn build_into(
    dir: &Path,
    specs: &[RpmSpec],
    advisories: &[AdvisorySpec],
) -> Result<(), FixtureError> {
    let rpms = build_rpms(specs, &dir.join("rpms"))?;
    for (index, release) in RELEASES.iter().enumerate() {
        let (packages, ids) = release_contents(index);
        let chosen: Vec<&BuiltRpm> = rpms
            .iter()
            .filter(|rpm| {
                packages.contains(&format!(
                    "{}-{}-{}",
                    rpm.nevra.name, rpm.nevra.evr.version, rpm.nevra.evr.release
                ))
            })
            .collect();
        let builder = advisories
            .iter()
            .filter(|a| ids.contains(&a.id.as_str()))
            .cloned()
            .fold(RepoBuilder::new().rpms(chosen), RepoBuilder::advisory);
        builder.build(&dir.join("repos").join(release))?;
    }
    let mut releasemd =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root>\n  <releases>\n");
    for release in RELEASES {
        releasemd.push_str(&format!(
            "    <release version=\"{release}\">\n      <update>\n        <name>system-release</name>\n        <version_string>{release}</version_string>\n        <release_notes>https://docs.aws.amazon.com/linux/al2023/release-notes/</release_notes>\n      </update>\n    </release>\n"
        ));
    }
    releasemd.push_str("  </releases>\n</root>\n");
    let path = dir.join("releasemd.xml");
    fs_err::write(&path, releasemd).map_err(io_error(&path))?;
    Ok(())
}
