//! The fixture builders of pw-test-support produce what they promise: rpm headers, repository
//! metadata, updateinfo, sqlite-only repositories, copies of installroots.

use pw_pkgmgr::command::{CommandSpec, run};
use pw_test_support::{
    AdvisoryKind, AdvisorySpec, Metadata, RepoBuilder, RpmSpec, Scriptlet, build_rpms,
};

/// `rpm -qp --queryformat FORMAT FILE`.
fn query(path: &std::path::Path, format: &str) -> String {
    let output = run(&CommandSpec::new("rpm")
        .args(["-qp", "--queryformat", format])
        .arg(path))
    .unwrap()
    .check()
    .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn built_rpms_carry_the_requested_header() {
    let dir = tempfile::tempdir().unwrap();
    let at: jiff::Timestamp = "2024-02-03T04:05:06Z".parse().unwrap();
    let built = build_rpms(
        &[
            RpmSpec::new("alpha", "3:1.2-4")
                .arch("x86_64")
                .requires("beta >= 2")
                .provides("alpha-api = 1")
                .build_time(at),
            RpmSpec::new("beta", "2.0-1")
                .failing(Scriptlet::Post)
                .without_file(),
        ],
        dir.path(),
    )
    .unwrap();
    assert_eq!(built[0].file_name(), "alpha-1.2-4.x86_64.rpm");
    assert_eq!(
        query(
            &built[0].path,
            "%{NAME} %{EPOCH} %{VERSION} %{RELEASE} %{ARCH} %{BUILDTIME} [%{FILENAMES}]"
        ),
        "alpha 3 1.2 4 x86_64 1706933106 /usr/share/pw-fixture/alpha/1.2-4.x86_64"
    );
    // rpmbuild adds its own `rpmlib(...)` requirements and the implicit provides.
    let requires = query(&built[0].path, "[%{REQUIRENAME} %{REQUIREVERSION}\n]");
    assert!(requires.lines().any(|l| l == "beta 2"), "{requires}");
    let provides = query(&built[0].path, "[%{PROVIDENAME} %{PROVIDEVERSION}\n]");
    assert!(provides.lines().any(|l| l == "alpha-api 1"), "{provides}");
    assert_eq!(
        query(
            &built[1].path,
            "%{EPOCH} %{BUILDTIME} %{POSTINPROG} [%{FILENAMES}]"
        ),
        "(none) 1704067200 <lua> "
    );
}

#[test]
fn repositories_with_updateinfo_and_sqlite_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = build_rpms(&[RpmSpec::new("gamma", "1.0-1")], &dir.path().join("rpms")).unwrap();
    let advisory = AdvisorySpec::new(
        "TEST-1",
        AdvisoryKind::Security,
        "2024-05-06T07:08:09Z".parse().unwrap(),
    )
    .severity("Critical")
    .cve("CVE-2024-9999")
    .bugzilla("42")
    .reboot_suggested()
    .package(rpms[0].nevra.clone());
    let kinds = |repo: &pw_test_support::Repo| -> Vec<String> {
        let text = fs_err::read_to_string(repo.repomd()).unwrap();
        text.split("<data type=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_owned())
            .collect()
    };

    let xml = RepoBuilder::new()
        .rpms(&rpms)
        .advisory(advisory.clone())
        .build(&dir.path().join("xml"))
        .unwrap();
    assert_eq!(kinds(&xml), ["primary", "filelists", "other", "updateinfo"]);
    assert!(fs_err::metadata(xml.dir.join("gamma-1.0-1.noarch.rpm")).is_ok());
    assert!(xml.url().starts_with("file:///"));

    let both = RepoBuilder::new()
        .rpms(&rpms)
        .metadata(Metadata::XmlAndSqlite)
        .build(&dir.path().join("both"))
        .unwrap();
    assert_eq!(
        kinds(&both),
        [
            "primary",
            "filelists",
            "other",
            "primary_db",
            "filelists_db",
            "other_db"
        ]
    );

    let sqlite = RepoBuilder::new()
        .rpms(&rpms)
        .advisory(advisory)
        .metadata(Metadata::SqliteOnly)
        .build(&dir.path().join("sqlite"))
        .unwrap();
    assert_eq!(
        kinds(&sqlite),
        ["primary_db", "filelists_db", "other_db", "updateinfo"]
    );
    let files: Vec<String> = fs_err::read_dir(sqlite.dir.join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !files.iter().any(|f| f.ends_with("primary.xml.gz")),
        "{files:?}"
    );
}

#[test]
fn updateinfo_text() {
    let advisory = AdvisorySpec::new(
        "FIX-1",
        AdvisoryKind::Bugfix,
        "2024-01-02T03:04:05Z".parse().unwrap(),
    )
    .updated("2024-01-03T00:00:00Z".parse().unwrap())
    .bugzilla("7")
    .package(RpmSpec::new("a&b", "1:2-3").nevra());
    let xml = pw_test_support::repo_builder::updateinfo_xml(&[advisory]);
    for expected in [
        "type=\"bugfix\"",
        "<id>FIX-1</id>",
        "<issued date=\"2024-01-02 03:04:05\"/>",
        "<updated date=\"2024-01-03 00:00:00\"/>",
        "id=\"7\" type=\"bugzilla\"",
        "<package name=\"a&amp;b\" version=\"2\" release=\"3\" epoch=\"1\" arch=\"noarch\"",
        "<filename>a&amp;b-2-3.noarch.rpm</filename>",
    ] {
        assert!(xml.contains(expected), "{expected} not in\n{xml}");
    }
    assert!(!xml.contains("<severity>") && !xml.contains("reboot_suggested"));
}

#[test]
fn the_standard_fixture_and_root_copies() {
    let fixture = pw_test_support::standard().unwrap();
    assert_eq!(fixture.rpms.len(), 13);
    assert_eq!(fixture.advisories.len(), 6);
    assert!(
        fixture
            .rpms
            .iter()
            .all(|rpm| fs_err::metadata(&rpm.path).is_ok())
    );
    assert_eq!(
        query(&fixture.rpm("foo", "1.1-1").path, "%{BUILDTIME}"),
        "1709251200"
    );
    let updateinfo = fs_err::read_to_string(fixture.repo.repomd()).unwrap();
    assert!(updateinfo.contains("updateinfo"));

    let root = fixture.old_root().unwrap();
    let copy = root.duplicate().unwrap();
    assert_ne!(root.path(), copy.path());
    let original = pw_pkgmgr::rpm::installed_packages(&root.settings()).unwrap();
    let copied = pw_pkgmgr::rpm::installed_packages(&copy.settings()).unwrap();
    assert_eq!(original, copied);
    assert_eq!(copied.len(), 6);
}
