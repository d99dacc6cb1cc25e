//! The parsed-catalog cache: a round trip gives exactly what parsing gives (pw-core's
//! fixtures and a real createrepo_c repository with updateinfo), a hit reads no metadata but
//! repomd.xml, and any damaged, foreign or stale file is a miss, never a panic or wrong data.
#![expect(
    clippy::unwrap_used,
    reason = "helpers fail the test the same way `#[test]` bodies do"
)]

use std::path::Path;

use pw_repo::catalog_cache::{self, CacheKey, CacheMiss, FORMAT_VERSION};
use pw_repo::{
    CacheStatus, CachedLoad, LoadOptions, Repository, load_dir_cached, load_dir_with,
    load_flat_dir_cached,
};

use crate::{copy_fixture, fixture};

/// Everything a load returns, byte for byte (`Debug`, since `Evr`'s equality normalises
/// versions: `1.01` equals `1.1`).
fn exact(repository: &Repository) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{}",
        repository.repomd,
        repository.primary_source,
        repository.packages,
        repository.advisories,
        repository.diagnostics,
        repository.suppressed_diagnostics
    )
}

fn options(dependencies: bool) -> LoadOptions {
    LoadOptions {
        dependencies,
        ..LoadOptions::default()
    }
}

#[track_caller]
fn assert_hit(load: &CachedLoad) {
    assert!(matches!(load.cache, CacheStatus::Hit), "{:?}", load.cache);
}

#[track_caller]
fn assert_written(load: &CachedLoad, miss: fn(&CacheMiss) -> bool) {
    match &load.cache {
        CacheStatus::Written { miss: reason } if miss(reason) => {}
        other => panic!("expected a written cache file, got {other:?}"),
    }
}

/// Loads `dir` twice through a cache file (a miss that writes it, then a hit) and checks
/// both against a plain load.
fn round_trip(dir: &Path, options: &LoadOptions) {
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join("catalog/repo.bin");
    let parsed = load_dir_with(dir, options).unwrap();
    let first = load_dir_cached(dir, options, &file).unwrap();
    assert_written(&first, |miss| matches!(miss, CacheMiss::Absent));
    assert_eq!(exact(&first.repository), exact(&parsed));
    let second = load_dir_cached(dir, options, &file).unwrap();
    assert_hit(&second);
    assert_eq!(exact(&second.repository), exact(&parsed));
    assert_eq!(second.repository.location, parsed.location);
}

fn without_details(dependencies: bool) -> LoadOptions {
    LoadOptions {
        details: false,
        ..options(dependencies)
    }
}

#[test]
fn round_trip_equals_the_parsed_catalog() {
    for name in ["al2", "al2023", "rhel8"] {
        for dependencies in [true, false] {
            round_trip(&fixture(name), &options(dependencies));
            round_trip(&fixture(name), &without_details(dependencies));
        }
    }
    // rhel8 has a diagnostic; it survives the trip.
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join("rhel8.bin");
    load_dir_cached(&fixture("rhel8"), &options(true), &file).unwrap();
    let hit = load_dir_cached(&fixture("rhel8"), &options(true), &file).unwrap();
    assert_hit(&hit);
    assert_eq!(hit.repository.diagnostics.len(), 1);
}

#[test]
fn round_trip_of_a_real_createrepo_repository() {
    let standard = pw_test_support::standard().unwrap();
    for dependencies in [true, false] {
        round_trip(&standard.repo.dir, &options(dependencies));
    }
    round_trip(&standard.repo.dir, &without_details(false));
    round_trip(&standard.sqlite_only_repo.dir, &options(true));
    let parsed = load_dir_with(&standard.repo.dir, &options(true)).unwrap();
    assert!(!parsed.advisories.is_empty());
    assert!(parsed.packages.iter().any(|p| !p.requires.is_empty()));
}

#[test]
fn a_hit_reads_no_metadata_but_repomd() {
    let dir = copy_fixture("al2023");
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join("al2023.bin");
    let first = load_dir_cached(dir.path(), &options(false), &file).unwrap();
    for name in ["primary.xml.gz", "updateinfo.xml.gz"] {
        fs_err::write(dir.path().join("repodata").join(name), b"garbage").unwrap();
    }
    // Parsing now fails: the files no longer match repomd.xml.
    assert!(load_dir_with(dir.path(), &options(false)).is_err());
    let hit = load_dir_cached(dir.path(), &options(false), &file).unwrap();
    assert_hit(&hit);
    assert_eq!(exact(&hit.repository), exact(&first.repository));
}

#[test]
fn the_key_covers_repomd_options_and_version() {
    let repomd = fs_err::read(fixture("al2023").join("repodata/repomd.xml")).unwrap();
    let base = CacheKey::new(&repomd, &options(true));
    assert_eq!(base, CacheKey::new(&repomd, &options(true)));
    assert_ne!(base, CacheKey::new(&repomd, &options(false)));
    let no_updateinfo = LoadOptions {
        updateinfo: false,
        ..options(true)
    };
    assert_ne!(base, CacheKey::new(&repomd, &no_updateinfo));
    assert_ne!(base, CacheKey::new(&repomd, &without_details(true)));
    // Options that do not change the result do not change the key.
    let other_limits = LoadOptions {
        max_file_size: 1 << 20,
        http_timeout: std::time::Duration::from_secs(1),
        ..options(true)
    };
    assert_eq!(base, CacheKey::new(&repomd, &other_limits));
    let mut changed = repomd.clone();
    changed.push(b'\n');
    assert_ne!(base, CacheKey::new(&changed, &options(true)));

    // A file of another format version is a miss, and so is one for another key.
    let repository = load_dir_with(&fixture("al2023"), &options(true)).unwrap();
    let mut bytes = catalog_cache::encode(&base, &repository);
    assert!(catalog_cache::decode(&bytes, &base).is_ok());
    assert!(matches!(
        catalog_cache::decode(&bytes, &CacheKey::new(&changed, &options(true))),
        Err(CacheMiss::OtherKey)
    ));
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert!(matches!(
        catalog_cache::decode(&bytes, &base),
        Err(CacheMiss::OtherVersion(version)) if version == FORMAT_VERSION + 1
    ));
}

#[test]
fn a_changed_repomd_invalidates_the_file() {
    let dir = copy_fixture("al2023");
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join("al2023.bin");
    load_dir_cached(dir.path(), &options(true), &file).unwrap();
    // Another revision of the same metadata: repomd.xml's bytes differ.
    let repomd_path = dir.path().join("repodata/repomd.xml");
    let repomd = fs_err::read_to_string(&repomd_path).unwrap();
    assert!(repomd.contains("<revision>1700000000</revision>"));
    fs_err::write(
        &repomd_path,
        repomd.replace(
            "<revision>1700000000</revision>",
            "<revision>1700000001</revision>",
        ),
    )
    .unwrap();
    let reload = load_dir_cached(dir.path(), &options(true), &file).unwrap();
    assert_written(&reload, |miss| matches!(miss, CacheMiss::OtherKey));
    assert_eq!(
        reload.repository.repomd.revision.as_deref(),
        Some("1700000001")
    );
    assert_hit(&load_dir_cached(dir.path(), &options(true), &file).unwrap());
    // Other options: another key too.
    let reload = load_dir_cached(dir.path(), &options(false), &file).unwrap();
    assert_written(&reload, |miss| matches!(miss, CacheMiss::OtherKey));
    assert!(
        reload
            .repository
            .packages
            .iter()
            .all(|p| p.requires.is_empty())
    );
}

#[test]
fn every_truncation_and_every_corrupted_byte_is_a_miss() {
    let standard = pw_test_support::standard().unwrap();
    let repository = load_dir_with(&standard.repo.dir, &options(true)).unwrap();
    let repomd = fs_err::read(standard.repo.repomd()).unwrap();
    let key = CacheKey::new(&repomd, &options(true));
    let bytes = catalog_cache::encode(&key, &repository);
    let decoded = catalog_cache::decode(&bytes, &key).unwrap();
    assert_eq!(
        format!("{:?}", decoded.packages),
        format!("{:?}", repository.packages)
    );
    for len in 0..bytes.len() {
        assert!(
            catalog_cache::decode(&bytes[..len], &key).is_err(),
            "{len} of {} bytes",
            bytes.len()
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        catalog_cache::decode(&longer, &key),
        Err(CacheMiss::WrongLength { .. })
    ));
    for index in 0..bytes.len() {
        let mut corrupted = bytes.clone();
        corrupted[index] ^= 0x20;
        assert!(
            catalog_cache::decode(&corrupted, &key).is_err(),
            "byte {index} of {} changed",
            bytes.len()
        );
    }
}

#[test]
fn a_damaged_file_on_disk_is_a_miss_and_is_rewritten() {
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join("rhel8.bin");
    let dir = fixture("rhel8");
    let first = load_dir_cached(&dir, &options(true), &file).unwrap();
    let good = fs_err::read(&file).unwrap();
    type Case = (&'static str, Vec<u8>, fn(&CacheMiss) -> bool);
    let cases: [Case; 4] = [
        ("empty", Vec::new(), |m| matches!(m, CacheMiss::NotACache)),
        ("truncated", good[..good.len() / 2].to_vec(), |m| {
            matches!(m, CacheMiss::WrongLength { .. })
        }),
        (
            "flipped",
            {
                let mut bytes = good.clone();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                bytes
            },
            // The decoder reads as it hashes: a changed byte is found by the checksum at the
            // end, or earlier when it makes the payload undecodable.
            |m| matches!(m, CacheMiss::ChecksumMismatch | CacheMiss::Malformed { .. }),
        ),
        (
            "foreign",
            b"not a cache file at all, just text".repeat(4),
            |m| matches!(m, CacheMiss::NotACache),
        ),
    ];
    for (what, bytes, expected) in cases {
        fs_err::write(&file, &bytes).unwrap();
        let load = load_dir_cached(&dir, &options(true), &file).unwrap();
        assert_written(&load, expected);
        assert_eq!(exact(&load.repository), exact(&first.repository), "{what}");
        assert_eq!(fs_err::read(&file).unwrap(), good, "{what}: rewritten");
    }
    // A directory where the file should be: unreadable, and not writable either.
    fs_err::remove_file(&file).unwrap();
    fs_err::create_dir(&file).unwrap();
    let load = load_dir_cached(&dir, &options(true), &file).unwrap();
    match &load.cache {
        CacheStatus::WriteFailed { miss, error } => {
            assert!(matches!(miss, CacheMiss::Unreadable(_)), "{miss}");
            assert!(error.to_string().contains("rhel8.bin"), "{error}");
        }
        other => panic!("expected a failed write, got {other:?}"),
    }
    assert_eq!(exact(&load.repository), exact(&first.repository));
    // No temporary file is left behind.
    let names: Vec<String> = fs_err::read_dir(cache.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["rhel8.bin"]);
}

#[test]
fn an_incomplete_flat_cache_is_not_cached() {
    // yum may not have fetched updateinfo yet: the load works, but caching it would hide the
    // advisories once yum fetches the file (repomd.xml does not change).
    let dir = tempfile::tempdir().unwrap();
    for entry in fs_err::read_dir(fixture("al2").join("repodata")).unwrap() {
        let entry = entry.unwrap();
        fs_err::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let updateinfo = fs_err::read(dir.path().join("updateinfo.xml.gz")).unwrap();
    fs_err::remove_file(dir.path().join("updateinfo.xml.gz")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join("al2.bin");
    let load = load_flat_dir_cached(dir.path(), &options(true), &file).unwrap();
    assert!(
        matches!(load.cache, CacheStatus::Incomplete { .. }),
        "{:?}",
        load.cache
    );
    assert!(load.repository.advisories.is_empty());
    assert!(fs_err::metadata(&file).is_err());
    fs_err::write(dir.path().join("updateinfo.xml.gz"), updateinfo).unwrap();
    let load = load_flat_dir_cached(dir.path(), &options(true), &file).unwrap();
    assert_written(&load, |miss| matches!(miss, CacheMiss::Absent));
    assert_eq!(load.repository.advisories.len(), 3);
    let hit = load_flat_dir_cached(dir.path(), &options(true), &file).unwrap();
    assert_hit(&hit);
    assert_eq!(hit.repository.advisories.len(), 3);
}

#[test]
fn without_details_keeps_what_evaluation_reads() {
    let full = load_dir_with(&fixture("rhel8"), &options(true)).unwrap();
    let slim = load_dir_with(&fixture("rhel8"), &without_details(true)).unwrap();
    assert_eq!(full.packages.len(), slim.packages.len());
    for (full, slim) in full.packages.iter().zip(&slim.packages) {
        assert_eq!(format!("{:?}", full.nevra), format!("{:?}", slim.nevra));
        assert_eq!(full.build_time, slim.build_time);
        assert_eq!(full.requires, slim.requires);
        assert_eq!(full.provides, slim.provides);
        assert!(!full.location.is_empty() && slim.location.is_empty());
        assert!(slim.checksum.is_none() && slim.source_rpm.is_none());
    }
    assert_eq!(full.advisories.len(), slim.advisories.len());
    for (full, slim) in full.advisories.iter().zip(&slim.advisories) {
        assert_eq!(
            (
                &full.id,
                &full.kind,
                &full.severity,
                full.issued,
                full.updated
            ),
            (
                &slim.id,
                &slim.kind,
                &slim.severity,
                slim.issued,
                slim.updated
            )
        );
        assert_eq!(full.suggests_reboot(), slim.suggests_reboot());
        let ids = |a: &pw_core::repo::Advisory| {
            a.references
                .iter()
                .map(|r| (r.kind.clone(), r.id.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(full), ids(slim));
        let listed = |a: &pw_core::repo::Advisory| {
            a.packages
                .iter()
                .map(|p| (format!("{:?}", p.nevra), p.reboot_suggested, p.collection))
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(full), listed(slim));
        assert!(slim.description.is_none() && slim.title.is_none());
    }
}

/// What a compact load keeps of a values load without dependencies and details: everything
/// but package sizes.
fn compact_view(repository: &Repository) -> String {
    let packages: Vec<_> = repository
        .packages
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.package_size = None;
            p.installed_size = None;
            p
        })
        .collect();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{}",
        repository.repomd,
        repository.primary_source,
        packages,
        repository.advisories,
        repository.diagnostics,
        repository.suppressed_diagnostics
    )
}

fn compact_exact(repository: &pw_repo::CompactRepository) -> String {
    let (packages, advisories) = repository.catalog.materialize(|_| true);
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{}",
        repository.repomd,
        repository.primary_source,
        packages,
        advisories,
        repository.diagnostics,
        repository.suppressed_diagnostics
    )
}

/// A compact load, through a miss (parsing the metadata one value at a time, then writing the
/// file in pieces) and a hit, gives back the values a plain load gives; its files are not a
/// values load's and the other way round, nor with and without dependencies; a damaged file is
/// a miss and is rewritten.
#[test]
fn compact_loads_give_the_parsed_catalog_back() {
    let standard = pw_test_support::standard().unwrap();
    let dirs = [
        fixture("al2"),
        fixture("al2023"),
        fixture("rhel8"),
        standard.repo.dir.clone(),
        standard.sqlite_only_repo.dir.clone(),
    ];
    for (dir, dependencies) in dirs.iter().flat_map(|dir| [(dir, false), (dir, true)]) {
        let parsed = load_dir_with(dir, &without_details(dependencies)).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let file = cache.path().join("catalog/repo.bin");
        let first = pw_repo::load_dir_compact_cached(dir, &options(dependencies), &file).unwrap();
        assert!(
            matches!(
                first.cache,
                CacheStatus::Written {
                    miss: CacheMiss::Absent
                }
            ),
            "{:?}",
            first.cache
        );
        assert_eq!(
            compact_exact(&first.repository),
            compact_view(&parsed),
            "{}, dependencies {dependencies}",
            dir.display()
        );
        let second = pw_repo::load_dir_compact_cached(dir, &options(dependencies), &file).unwrap();
        assert!(
            matches!(second.cache, CacheStatus::Hit),
            "{:?}",
            second.cache
        );
        assert_eq!(compact_exact(&second.repository), compact_view(&parsed));
        // A values load with the same options does not take the compact file.
        let values = load_dir_cached(dir, &without_details(dependencies), &file).unwrap();
        assert_written(&values, |miss| matches!(miss, CacheMiss::OtherKey));
        let again = pw_repo::load_dir_compact_cached(dir, &options(dependencies), &file).unwrap();
        assert!(
            matches!(
                again.cache,
                CacheStatus::Written {
                    miss: CacheMiss::OtherKey
                }
            ),
            "{:?}",
            again.cache
        );
        // Damage: one byte of the payload flipped.
        let mut bytes = fs_err::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        fs_err::write(&file, &bytes).unwrap();
        let repaired =
            pw_repo::load_dir_compact_cached(dir, &options(dependencies), &file).unwrap();
        assert!(
            matches!(repaired.cache, CacheStatus::Written { .. }),
            "{:?}",
            repaired.cache
        );
        assert_eq!(compact_exact(&repaired.repository), compact_view(&parsed));
        let hit = pw_repo::load_dir_compact_cached(dir, &options(dependencies), &file).unwrap();
        assert!(matches!(hit.cache, CacheStatus::Hit), "{:?}", hit.cache);
        // With and without dependencies are two keys.
        let other = pw_repo::load_dir_compact_cached(dir, &options(!dependencies), &file).unwrap();
        assert!(
            matches!(
                other.cache,
                CacheStatus::Written {
                    miss: CacheMiss::OtherKey
                }
            ),
            "{:?}",
            other.cache
        );
    }
}
