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
