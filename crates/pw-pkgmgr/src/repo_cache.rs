//! Repository metadata as the node's package manager sees it.
//!
//! We let dnf or yum refresh its own cache (`makecache`), so the system's repository
//! configuration, mirrors, proxies, `skip_if_unavailable`, `repo_gpgcheck` and credentials
//! apply unchanged, and then locate the cached `repomd.xml` of every enabled repository for
//! the core parsers to read. From the configuration (`yum_config`) we read which repositories
//! exist and are enabled, where they are cached, and what limits the packages the package
//! manager can see (priorities, excludes, includepkgs, versionlock); URLs and mirror lists
//! stay the package manager's business. See `docs/package-managers.md`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::command::{self, CommandSpec};
use crate::install::{PackageManagerRun, package_manager_command};
use crate::lock::{self, LockError, LockEvent, Operation};
use crate::yum_config::{self, is_dir};
use crate::{PackageManager, Settings};

/// How the package manager lays out one repository's cache directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLayout {
    /// dnf: `<cachedir>/<repoid>-<16 hex digits>/repodata/repomd.xml`; a location such as
    /// `repodata/…-primary.xml.gz` resolves against the directory, like on the server.
    Dnf,
    /// yum: `<cachedir>/<repoid>/repomd.xml`; data files are stored flat under the last
    /// component of their location, and decompressed copies (`primary_db.sqlite`, …) in `gen/`.
    Yum,
}

/// The cached metadata of one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoCache {
    pub layout: CacheLayout,
    /// The repository's cache directory.
    pub dir: PathBuf,
    /// Its `repomd.xml`.
    pub repomd: PathBuf,
}

impl RepoCache {
    /// The local file for a `<location href="…">` of `repomd.xml`.
    pub fn resolve(&self, location_href: &str) -> PathBuf {
        match self.layout {
            CacheLayout::Dnf => self.dir.join(location_href.trim_start_matches('/')),
            CacheLayout::Yum => {
                let file_name = location_href.rsplit('/').next().unwrap_or(location_href);
                self.dir.join(file_name)
            }
        }
    }

    /// yum's directory of decompressed metadata (`gen/`); dnf keeps none.
    pub fn generated_dir(&self) -> Option<PathBuf> {
        match self.layout {
            CacheLayout::Dnf => None,
            CacheLayout::Yum => Some(self.dir.join("gen")),
        }
    }
}

/// An enabled repository and what the package manager has cached for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRepository {
    pub id: String,
    /// The configuration file that defines it.
    pub config_file: PathBuf,
    /// `None` when nothing is cached: the repository was unreachable and
    /// `skip_if_unavailable` let the refresh go on without it (or no refresh ran yet).
    pub cache: Option<RepoCache>,
    /// `priority=` (default 99), read by yum's priorities plugin.
    pub priority: u32,
    /// `exclude=` patterns of this repository.
    pub exclude: Vec<String>,
    /// `includepkgs=` patterns: when any, only matching packages of it exist.
    pub includepkgs: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RepoCacheError {
    #[error("could not read {}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}:{line}: `enabled` must be 0/1, yes/no, true/false or on/off, not `{value}`", path.display())]
    InvalidEnabled {
        path: PathBuf,
        line: usize,
        value: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("could not expire yum's metadata cache")]
    Expire(#[from] command::CommandError),
}

/// The commands that refresh the metadata cache. With `force`, metadata is checked against
/// the repositories even if it has not expired yet (dnf `--refresh`; for yum, whose
/// makecache has no such flag, a `clean expire-cache` run first).
pub fn refresh_commands(settings: &Settings, force: bool) -> Vec<CommandSpec> {
    let base = || package_manager_command(settings).timeout(settings.timeouts.refresh);
    match (settings.package_manager, force) {
        (PackageManager::Dnf, true) => vec![base().args(["--refresh", "makecache"])],
        (PackageManager::Dnf, false) => vec![base().arg("makecache")],
        (PackageManager::Yum, true) => {
            vec![
                base().args(["clean", "expire-cache"]),
                yum_makecache(base()),
            ]
        }
        (PackageManager::Yum, false) => vec![yum_makecache(base())],
    }
}

/// yum 3's `makecache` without `fast` downloads and unpacks every metadata type of every
/// repository (filelists and other are most of the bytes) each time. `fast` only fetches
/// what expired, and `mdpolicy=group:small` limits that to what a scan reads (primary,
/// updateinfo, groups), set in `[main]` and for every repository (a repository may set its
/// own `mdpolicy`).
fn yum_makecache(spec: CommandSpec) -> CommandSpec {
    spec.args([
        "--setopt=mdpolicy=group:small",
        "--setopt=*.mdpolicy=group:small",
        "makecache",
        "fast",
    ])
}

/// Refreshes the package manager's metadata cache, waiting for its lock first. The outcome
/// of the `makecache` run is returned whatever its exit code: with `skip_if_unavailable`
/// off, one unreachable repository fails the whole refresh, and the caller decides whether
/// to go on with what is cached.
pub fn refresh(settings: &Settings, force: bool) -> Result<PackageManagerRun, RefreshError> {
    refresh_observed(settings, force, &mut |_| {})
}

/// [`refresh`], reporting every lock wait to `on_lock` as it begins.
pub fn refresh_observed(
    settings: &Settings,
    force: bool,
    on_lock: &mut dyn FnMut(&LockEvent),
) -> Result<PackageManagerRun, RefreshError> {
    let lock_file = lock::lock_file(
        settings.package_manager,
        &settings.root,
        Operation::Metadata,
    );
    let mut commands = refresh_commands(settings, force);
    let makecache = commands
        .pop()
        .expect("refresh_commands always ends with makecache");
    for spec in commands {
        let run = lock::run_when_unlocked(
            settings.package_manager,
            &lock_file,
            &spec,
            &settings.lock_wait,
            on_lock,
        )?;
        run.output.check()?;
    }
    let run = lock::run_when_unlocked(
        settings.package_manager,
        &lock_file,
        &makecache,
        &settings.lock_wait,
        on_lock,
    )?;
    Ok(PackageManagerRun::from_locked(run))
}

/// Every enabled repository of the package manager's configuration, in configuration order,
/// with the cache directory the package manager filled for it.
pub fn cached_repositories(settings: &Settings) -> Result<Vec<CachedRepository>, RepoCacheError> {
    Ok(repository_config(settings)?.repositories)
}

/// The enabled repositories with their caches, and what the configuration says about which
/// packages the package manager can see (docs/package-managers.md, "What yum can see").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryConfig {
    pub repositories: Vec<CachedRepository>,
    /// The main configuration file read, if any.
    pub main_file: Option<PathBuf>,
    /// `[main] exclude=` patterns.
    pub main_exclude: Vec<String>,
    pub priorities: Option<yum_config::PrioritiesPlugin>,
    pub versionlock: Option<yum_config::VersionLock>,
    /// Repositories skipped, includes not followed, variables not known.
    pub notes: Vec<String>,
}

/// [`cached_repositories`] with the package filters and notes of the configuration.
pub fn repository_config(settings: &Settings) -> Result<RepositoryConfig, RepoCacheError> {
    let mut config = yum_config::read(
        settings.package_manager,
        &settings.root,
        settings.releasever.as_deref(),
    )?;
    let cache_dirs = expand_variables(&settings.root.join(&config.cachedir));
    let mut repositories: Vec<CachedRepository> = Vec::new();
    for section in config.repositories {
        if !section.enabled {
            continue;
        }
        let cache = find_cache(
            settings.package_manager,
            &cache_dirs,
            &section.id,
            section.source_url.as_deref(),
        )?;
        if settings.package_manager == PackageManager::Dnf
            && let (Some(url), Some(found)) = (&section.source_url, &cache)
            && found.dir.file_name().and_then(|n| n.to_str())
                != Some(dnf_cache_name(&section.id, url).as_str())
        {
            // A versioned repository read at another release than its cache holds (the
            // refresh failed or was skipped): say so rather than read the wrong release
            // silently.
            config.notes.push(format!(
                "repository `{}`: dnf has no cache for {url}; the newest cache of the repository ({}) was read instead",
                section.id,
                found.dir.display()
            ));
        }
        repositories.push(CachedRepository {
            id: section.id,
            config_file: section.file,
            cache,
            priority: section.priority,
            exclude: section.exclude,
            includepkgs: section.includepkgs,
        });
    }
    Ok(RepositoryConfig {
        repositories,
        main_file: config.main_file,
        main_exclude: config.main_exclude,
        priorities: config.priorities,
        versionlock: config.versionlock,
        notes: config.notes,
    })
}

/// Directories matching a path whose components may hold `$variables` (yum's default
/// `cachedir=/var/cache/yum/$basearch/$releasever`): such a component matches any directory.
fn expand_variables(path: &Path) -> Vec<PathBuf> {
    let mut matches = vec![PathBuf::new()];
    for component in path.components() {
        let text = component.as_os_str().to_string_lossy();
        if text.contains('$') {
            matches = matches
                .iter()
                .flat_map(|prefix| subdirectories(prefix))
                .collect();
        } else {
            for prefix in &mut matches {
                prefix.push(component);
            }
        }
    }
    matches
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| is_dir(path))
        .collect();
    dirs.sort();
    dirs
}

/// dnf's cache directory name for a repository: `<id>-` and the first 16 hex digits of the
/// sha256 of its metalink, mirrorlist or first baseurl (as libdnf names it).
pub fn dnf_cache_name(repo_id: &str, source_url: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(source_url.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{repo_id}-{hex}")
}

/// The cache directory of `repo_id`: for dnf, the one named after the repository's current
/// URL when it exists (a versioned repository has one per release it was read at, and the
/// release being evaluated decides); otherwise, of several candidates (dnf keeps one per URL
/// a repository ever had), the one whose `repomd.xml` changed last.
fn find_cache(
    package_manager: PackageManager,
    cache_dirs: &[PathBuf],
    repo_id: &str,
    source_url: Option<&str>,
) -> Result<Option<RepoCache>, RepoCacheError> {
    if package_manager == PackageManager::Dnf
        && let Some(url) = source_url
    {
        let name = dnf_cache_name(repo_id, url);
        for cache_dir in cache_dirs {
            let dir = cache_dir.join(&name);
            let repomd = dir.join("repodata/repomd.xml");
            if fs_err::metadata(&repomd).is_ok_and(|m| m.is_file()) {
                return Ok(Some(RepoCache {
                    layout: CacheLayout::Dnf,
                    dir,
                    repomd,
                }));
            }
        }
    }
    let mut best: Option<(SystemTime, RepoCache)> = None;
    for cache_dir in cache_dirs {
        let candidates: Vec<(PathBuf, PathBuf)> = match package_manager {
            PackageManager::Dnf => subdirectories(cache_dir)
                .into_iter()
                .filter(|dir| {
                    dir.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|name| is_dnf_cache_name(name, repo_id))
                })
                .map(|dir| {
                    let repomd = dir.join("repodata/repomd.xml");
                    (dir, repomd)
                })
                .collect(),
            PackageManager::Yum => {
                let dir = cache_dir.join(repo_id);
                let repomd = dir.join("repomd.xml");
                vec![(dir, repomd)]
            }
        };
        for (dir, repomd) in candidates {
            let modified = match fs_err::metadata(&repomd) {
                Ok(metadata) => metadata.modified().map_err(|source| RepoCacheError::Read {
                    path: repomd.clone(),
                    source,
                })?,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(RepoCacheError::Read {
                        path: repomd,
                        source,
                    });
                }
            };
            if best.as_ref().is_none_or(|(newest, _)| modified > *newest) {
                let layout = match package_manager {
                    PackageManager::Dnf => CacheLayout::Dnf,
                    PackageManager::Yum => CacheLayout::Yum,
                };
                best = Some((
                    modified,
                    RepoCache {
                        layout,
                        dir,
                        repomd,
                    },
                ));
            }
        }
    }
    Ok(best.map(|(_, cache)| cache))
}

/// `<repoid>-<16 lower-case hex digits>`, dnf's cache directory name.
fn is_dnf_cache_name(name: &str, repo_id: &str) -> bool {
    name.strip_prefix(repo_id)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| {
            hash.len() == 16 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnf_cache_names() {
        assert!(is_dnf_cache_name("fixture-9fab6356fce7b3fe", "fixture"));
        assert!(is_dnf_cache_name(
            "rhel-9-baseos-0123456789abcdef",
            "rhel-9-baseos"
        ));
        assert!(!is_dnf_cache_name(
            "rhel-9-baseos-0123456789abcdef",
            "rhel-9"
        ));
        assert!(!is_dnf_cache_name("fixture-9fab6356fce7b3f", "fixture"));
        assert!(!is_dnf_cache_name("fixture.solv", "fixture"));
    }

    #[test]
    fn yum_locations_resolve_by_file_name() {
        let cache = RepoCache {
            layout: CacheLayout::Yum,
            dir: PathBuf::from("/var/cache/yum/x86_64/2/amzn2-core"),
            repomd: PathBuf::from("/var/cache/yum/x86_64/2/amzn2-core/repomd.xml"),
        };
        assert_eq!(
            cache.resolve("repodata/abc-primary.sqlite.bz2"),
            Path::new("/var/cache/yum/x86_64/2/amzn2-core/abc-primary.sqlite.bz2")
        );
        assert_eq!(
            cache.generated_dir().unwrap(),
            Path::new("/var/cache/yum/x86_64/2/amzn2-core/gen")
        );
    }
}
