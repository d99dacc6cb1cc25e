//! Integration tests of pw-repo: loading the pw-core fixtures from a directory, a `file://`
//! URL and a loopback HTTP server, and refusing metadata that does not verify.

mod catalog_cache;
mod http;

use std::path::{Path, PathBuf};

use pw_repo::{
    LoadOptions, PrimarySource, RepoError, Repository, load, load_dir, load_dir_with, load_flat_dir,
};

/// A fixture repository of pw-core's test data (`al2`, `al2023`, `rhel8`).
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pw-core/test_data/repodata")
        .join(name)
}

/// Copies a fixture into a temporary directory, to corrupt it.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    fs_err::create_dir_all(dir.path().join("repodata")).expect("create repodata");
    for entry in fs_err::read_dir(fixture(name).join("repodata")).expect("list the fixture") {
        let entry = entry.expect("read the fixture directory");
        fs_err::copy(
            entry.path(),
            dir.path().join("repodata").join(entry.file_name()),
        )
        .expect("copy a fixture file");
    }
    dir
}

fn summary(repository: &Repository) -> (PrimarySource, usize, usize, usize) {
    (
        repository.primary_source,
        repository.packages.len(),
        repository.advisories.len(),
        repository.diagnostics.len(),
    )
}

#[test]
fn loads_every_fixture_from_a_directory() {
    #[track_caller]
    fn check(name: &str, expected: (PrimarySource, usize, usize, usize)) {
        let repository = load_dir(&fixture(name)).unwrap();
        assert_eq!(
            summary(&repository),
            expected,
            "{name}: {:?}",
            repository.diagnostics
        );
        assert_eq!(repository.repomd.revision.as_deref(), Some("1700000000"));
    }
    check("al2", (PrimarySource::Sqlite, 5, 3, 0));
    check("al2023", (PrimarySource::Xml, 4, 3, 0));
    // One advisory of the rhel8 fixture has an unparsable `updated` date on purpose.
    check("rhel8", (PrimarySource::Xml, 4, 3, 1));
}

#[test]
fn accepts_file_urls_and_the_repodata_directory() {
    let root = fixture("al2023").canonicalize().unwrap();
    let from_url = load(&format!("file://{}", root.display())).unwrap();
    let from_repodata = load(&root.join("repodata").display().to_string()).unwrap();
    let from_dir = load_dir(&root).unwrap();
    assert_eq!(from_url.packages, from_dir.packages);
    assert_eq!(from_repodata.advisories, from_dir.advisories);
}

#[test]
fn can_leave_out_updateinfo_and_dependencies() {
    let options = LoadOptions {
        updateinfo: false,
        dependencies: false,
        ..LoadOptions::default()
    };
    for name in ["al2", "rhel8"] {
        let repository = load_dir_with(&fixture(name), &options).unwrap();
        assert!(repository.advisories.is_empty());
        assert!(
            repository
                .packages
                .iter()
                .all(|package| package.requires.is_empty() && package.provides.is_empty())
        );
        assert!(!repository.packages.is_empty());
    }
}

#[test]
fn refuses_a_corrupted_file() {
    let dir = copy_fixture("al2023");
    let path = dir.path().join("repodata/updateinfo.xml.gz");
    let mut bytes = fs_err::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    fs_err::write(&path, &bytes).unwrap();
    let error = load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(error, RepoError::ChecksumMismatch { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("updateinfo.xml.gz: checksum mismatch: repomd.xml says sha256:"),
        "{error}"
    );
}

#[test]
fn refuses_a_file_of_the_wrong_size() {
    let dir = copy_fixture("al2");
    let path = dir.path().join("repodata/primary.sqlite.bz2");
    let mut bytes = fs_err::read(&path).unwrap();
    bytes.extend_from_slice(b"trailing");
    fs_err::write(&path, &bytes).unwrap();
    let error = load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(error, RepoError::LargerThanRecorded { .. }),
        "{error}"
    );
    bytes.truncate(bytes.len() - 20);
    fs_err::write(&path, &bytes).unwrap();
    let error = load_dir(dir.path()).unwrap_err();
    assert!(matches!(error, RepoError::SizeMismatch { .. }), "{error}");
}

#[test]
fn refuses_unverifiable_metadata() {
    let dir = copy_fixture("rhel8");
    let path = dir.path().join("repodata/repomd.xml");
    let repomd = fs_err::read_to_string(&path).unwrap();
    let start = repomd.find("<checksum").unwrap();
    let end = repomd[start..].find("</checksum>").unwrap() + start + "</checksum>".len();
    fs_err::write(&path, format!("{}{}", &repomd[..start], &repomd[end..])).unwrap();
    let error = load_dir(dir.path()).unwrap_err();
    assert!(matches!(error, RepoError::Unverifiable { .. }), "{error}");
}

#[test]
fn refuses_locations_outside_the_repository() {
    let dir = copy_fixture("al2023");
    let path = dir.path().join("repodata/repomd.xml");
    let repomd = fs_err::read_to_string(&path).unwrap();
    fs_err::write(
        &path,
        repomd.replace("repodata/primary.xml.gz", "../../etc/passwd"),
    )
    .unwrap();
    let error = load_dir(dir.path()).unwrap_err();
    let message = format!("{:#}", anyhow_like(&error));
    assert!(
        message.contains("points outside the repository"),
        "{message}"
    );
}

#[test]
fn reports_missing_primary_and_missing_repository() {
    let dir = copy_fixture("al2023");
    let path = dir.path().join("repodata/repomd.xml");
    let repomd = fs_err::read_to_string(&path).unwrap();
    fs_err::write(
        &path,
        repomd.replace("type=\"primary\"", "type=\"something\""),
    )
    .unwrap();
    assert!(matches!(
        load_dir(dir.path()).unwrap_err(),
        RepoError::MissingPrimary { .. }
    ));
    let error = load("/nonexistent/repository").unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/repository"),
        "{error}"
    );
    let error = load("ftp://example.invalid/repo").unwrap_err();
    assert!(
        matches!(error, RepoError::InvalidLocation { .. }),
        "{error}"
    );
}

/// The error and its sources, joined like anyhow's `{:#}`.
fn anyhow_like(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[test]
fn loads_a_flat_yum_cache_directory() {
    // yum keeps repomd.xml and the data files side by side, named by their last component.
    let dir = tempfile::tempdir().unwrap();
    for entry in fs_err::read_dir(fixture("al2").join("repodata")).unwrap() {
        let entry = entry.unwrap();
        fs_err::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let flat = load_flat_dir(dir.path()).unwrap();
    let regular = load_dir(&fixture("al2")).unwrap();
    assert_eq!(flat.packages, regular.packages);
    assert_eq!(flat.advisories, regular.advisories);
    // A cache without its updateinfo still gives the packages, with a diagnostic.
    fs_err::remove_file(dir.path().join("updateinfo.xml.gz")).unwrap();
    let flat = load_flat_dir(dir.path()).unwrap();
    assert_eq!(flat.packages.len(), 5);
    assert!(flat.advisories.is_empty());
    assert_eq!(flat.diagnostics.len(), 1);
    assert!(
        flat.diagnostics[0]
            .message
            .contains("listed in repomd.xml but missing"),
        "{}",
        flat.diagnostics[0]
    );
    // Its primary_db missing is an error.
    fs_err::remove_file(dir.path().join("primary.sqlite.bz2")).unwrap();
    assert!(matches!(
        load_flat_dir(dir.path()).unwrap_err(),
        RepoError::Read { .. }
    ));
}

/// A yum 3 cache of a repository that publishes both primary formats: yum downloads only
/// `primary_db` (database_version 10), so the cache has `repomd.xml`, `*-primary.sqlite.bz2`
/// and `*-updateinfo.xml.gz` and no XML primary. That is what is read; with both files
/// present the sqlite one is still yum's choice; a directory (dnf's layout) reads the XML;
/// a missing chosen file falls back to the other record with a diagnostic.
#[test]
fn a_yum_cache_reads_primary_db_as_yum_does() {
    use pw_test_support::{AdvisoryKind, AdvisorySpec, Metadata, RepoBuilder, RpmSpec};
    let scratch = tempfile::tempdir().unwrap();
    let rpms = pw_test_support::build_rpms(
        &[
            RpmSpec::new("alpha", "1.0-1"),
            RpmSpec::new("beta", "2:3.1-4"),
        ],
        &scratch.path().join("rpms"),
    )
    .unwrap();
    let repo = RepoBuilder::new()
        .rpms(&rpms)
        .metadata(Metadata::XmlAndSqlite)
        .advisory(
            AdvisorySpec::new(
                "ALAS2-2026-1",
                AdvisoryKind::Security,
                "2026-01-01T00:00:00Z".parse().unwrap(),
            )
            .severity("Important")
            .package(rpms[0].nevra.clone()),
        )
        .build(&scratch.path().join("repo"))
        .unwrap();
    let repomd = fs_err::read_to_string(repo.dir.join("repodata/repomd.xml")).unwrap();
    assert!(repomd.contains("type=\"primary\"") && repomd.contains("type=\"primary_db\""));
    let directory = load_dir(&repo.dir).unwrap();
    assert_eq!(directory.primary_source, PrimarySource::Xml);

    // The cache as yum 3 leaves it: no XML primary, filelists or other.
    let cache = scratch.path().join("cache");
    fs_err::create_dir_all(&cache).unwrap();
    let mut xml_primary = None;
    for entry in fs_err::read_dir(repo.dir.join("repodata")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with("-primary.xml.gz") {
            xml_primary = Some(name);
            continue;
        }
        if name == "repomd.xml" || name.contains("primary.sqlite") || name.contains("updateinfo") {
            fs_err::copy(entry.path(), cache.join(&name)).unwrap();
        }
    }
    let flat = load_flat_dir(&cache).unwrap();
    assert_eq!(flat.primary_source, PrimarySource::Sqlite);
    assert_eq!(flat.packages, directory.packages);
    assert_eq!(flat.advisories, directory.advisories);
    assert!(flat.diagnostics.is_empty(), "{:?}", flat.diagnostics);

    // Both files there: still yum's choice.
    let xml_primary = xml_primary.unwrap();
    fs_err::copy(
        repo.dir.join("repodata").join(&xml_primary),
        cache.join(&xml_primary),
    )
    .unwrap();
    assert_eq!(
        load_flat_dir(&cache).unwrap().primary_source,
        PrimarySource::Sqlite
    );

    // The sqlite file gone (a trimmed cache): the XML record, said so.
    for entry in fs_err::read_dir(&cache).unwrap() {
        let entry = entry.unwrap();
        if entry
            .file_name()
            .to_string_lossy()
            .contains("primary.sqlite")
        {
            fs_err::remove_file(entry.path()).unwrap();
        }
    }
    let fallback = load_flat_dir(&cache).unwrap();
    assert_eq!(fallback.primary_source, PrimarySource::Xml);
    assert_eq!(fallback.packages, directory.packages);
    assert!(
        fallback
            .diagnostics
            .iter()
            .any(|d| d.message.contains("trying the other primary record")),
        "{:?}",
        fallback.diagnostics
    );
}
