//! The on-disk cache every built fixture shares: a fixture is built once into
//! `$TMPDIR/pw-test-support/<kind>-<hash of its definitions>` and reused by every later test
//! process (nextest runs each test in a process of its own). Building goes to a staging
//! directory that is renamed into place when complete, so a concurrent reader never sees half
//! a fixture, and two processes that race both end with a complete copy.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::repo_builder::{AdvisorySpec, Repo, updateinfo_xml};
use crate::rpm_builder::{BuiltRpm, RpmSpec};
use crate::{FixtureError, io_error};

/// The cache key of a fixture: its layout version, every package spec with its build time,
/// and the updateinfo of every advisory set.
pub(crate) fn fixture_hash(
    layout: &str,
    specs: &[RpmSpec],
    advisory_sets: &[&[AdvisorySpec]],
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(layout);
    for spec in specs {
        hasher.update(spec.spec_text());
        hasher.update(spec.build_time.to_string());
    }
    for advisories in advisory_sets {
        hasher.update(updateinfo_xml(advisories));
    }
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The complete cache directory `<kind>-<hash>`, calling `build` on a staging directory
/// first when no process has built it yet.
pub(crate) fn cached_dir(
    kind: &str,
    hash: &str,
    build: impl FnOnce(&Path) -> Result<(), FixtureError>,
) -> Result<PathBuf, FixtureError> {
    let cache_root = std::env::temp_dir().join("pw-test-support");
    let dir = cache_root.join(format!("{kind}-{hash}"));
    let complete = dir.join("complete");
    if fs_err::metadata(&complete).is_ok() {
        return Ok(dir);
    }
    fs_err::create_dir_all(&cache_root).map_err(io_error(&cache_root))?;
    let staging = tempfile::Builder::new()
        .prefix("staging-")
        .tempdir_in(&cache_root)
        .map_err(io_error(&cache_root))?;
    build(staging.path())?;
    fs_err::write(staging.path().join("complete"), "").map_err(io_error(staging.path()))?;
    // Another process may have won the race; its copy is as good as ours.
    let staging = staging.keep();
    if fs_err::rename(&staging, &dir).is_err() {
        let _ = fs_err::remove_dir_all(&staging);
        if fs_err::metadata(&complete).is_err() {
            return Err(FixtureError::Invalid(format!(
                "could not move the {kind} fixture into {}",
                dir.display()
            )));
        }
    }
    Ok(dir)
}

/// The packages of `specs` as built into `dir/sub`.
pub(crate) fn built_in(dir: &Path, sub: &str, specs: &[RpmSpec]) -> Vec<BuiltRpm> {
    specs
        .iter()
        .map(|spec| BuiltRpm {
            nevra: spec.nevra(),
            path: dir.join(sub).join(spec.file_name()),
        })
        .collect()
}

/// The repository built into `dir/sub` from `specs`.
pub(crate) fn repo_in(dir: &Path, sub: &str, specs: &[RpmSpec]) -> Repo {
    Repo {
        dir: dir.join(sub),
        rpms: built_in(dir, sub, specs),
    }
}
