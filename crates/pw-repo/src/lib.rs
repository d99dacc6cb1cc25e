//! Reads an rpm-md repository: fetches `repodata/repomd.xml`, then primary (or primary_db
//! when there is no primary) and updateinfo, verifies each file against the checksum and size
//! repomd.xml gives for it, and hands the bytes to pw-core's streaming parsers.
//!
//! Locations: a local directory (the repository root, or its `repodata` folder), a yum-style
//! flat cache directory ([`load_flat_dir`]), a `file://` URL, or an `http://`/`https://` URL (ureq with rustls, no proxy magic, no
//! transparent `Content-Encoding` decoding, so checksums are of the bytes as published).
//!
//! This crate does the I/O; every decision about the content is pw-core's. The agent uses
//! [`load_dir`] on dnf's cache directories and [`load_flat_dir`] on yum's; the CLI uses
//! [`load`]. An updateinfo file that repomd lists but a local directory lacks is a
//! diagnostic (no advisories), not an error.
//!
//! [`load_dir_cached`] and [`load_flat_dir_cached`] go through a [`catalog_cache`] file:
//! when it was written for the same repomd.xml bytes and options, nothing but repomd.xml is
//! read.
//!
//! **Invariant:** metadata is never used unverified. A record without a supported checksum
//! in repomd.xml is an error ([`RepoError::Unverifiable`]); so is a mismatch.

pub mod catalog_cache;

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pw_core::repo::compact::CompactCatalog;
use pw_core::repo::primary::{PrimaryOptions, parse_primary_with};
use pw_core::repo::primary_db::parse_primary_db_with_options;
use pw_core::repo::repomd::{RepoMd, RepoMdRecord, parse_repomd};
use pw_core::repo::updateinfo::parse_updateinfo_with;
use pw_core::repo::{
    Advisory, AdvisoryPackage, Checksum, ChecksumHasher, Diagnostic, DocumentKind, MetadataError,
    Package, Parsed,
};

/// Buffer between the (verifying) file or network reader and the parser.
const READ_BUFFER: usize = 64 * 1024;

/// A loaded repository.
#[derive(Debug, Clone)]
pub struct Repository {
    /// The location as given to [`load`] or [`load_dir`].
    pub location: String,
    pub repomd: RepoMd,
    /// Where the packages came from.
    pub primary_source: PrimarySource,
    pub packages: Vec<Package>,
    /// Empty when the repository publishes no updateinfo.
    pub advisories: Vec<Advisory>,
    /// Diagnostics of every parsed document, in the order the documents were read.
    pub diagnostics: Vec<Diagnostic>,
    /// Diagnostics dropped because a document had too many (see pw-core's `MAX_DIAGNOSTICS`).
    pub suppressed_diagnostics: u64,
}

/// Which repomd record the packages were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimarySource {
    /// `primary` (primary.xml).
    Xml,
    /// `primary_db` (primary.sqlite): yum's choice in its flat cache (see
    /// [`primary_preference`]), and the fallback when the other file is absent.
    Sqlite,
}

impl PrimarySource {
    /// The repomd.xml record type.
    pub fn record(self) -> &'static str {
        match self {
            PrimarySource::Xml => "primary",
            PrimarySource::Sqlite => "primary_db",
        }
    }
}

/// The order in which the primary records are tried. yum 3 keeps a flat cache and reads
/// `primary_db` whenever repomd.xml lists one of the database version it knows (10), so
/// that is the file its cache holds; dnf (and a repository read directly) reads the XML.
fn primary_preference(source: &Source, repomd: &RepoMd) -> [PrimarySource; 2] {
    let yum_reads_sqlite = matches!(source, Source::Flat(_))
        && repomd.record("primary_db").is_some_and(|record| {
            record
                .database_version
                .is_none_or(|v| v == YUM_DATABASE_VERSION)
        });
    if yum_reads_sqlite {
        [PrimarySource::Sqlite, PrimarySource::Xml]
    } else {
        [PrimarySource::Xml, PrimarySource::Sqlite]
    }
}

/// The `database_version` of primary.sqlite that yum 3 reads (`sqlitecachec.DBVERSION`).
const YUM_DATABASE_VERSION: u32 = 10;

impl fmt::Display for PrimarySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrimarySource::Xml => "primary",
            PrimarySource::Sqlite => "primary_db",
        })
    }
}

/// Settings of a load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Overall timeout of each HTTP request (connect, headers and body).
    pub http_timeout: Duration,
    /// Refuse any single file (as stored, compressed) larger than this.
    pub max_file_size: u64,
    /// Read updateinfo when the repository has it.
    pub updateinfo: bool,
    /// Read packages' provides and requires (about two thirds of the memory of a package
    /// list; evaluation by name and version does not need them).
    pub dependencies: bool,
    /// Keep what listings show but evaluation never reads: each package's location, source
    /// rpm and checksum; each advisory's status, title, description, reference links and
    /// titles, and its packages' file names and source rpms. Without them (the agent) a
    /// large catalog takes less memory and its cache file loads faster.
    pub details: bool,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            http_timeout: Duration::from_secs(300),
            max_file_size: 4 << 30,
            updateinfo: true,
            dependencies: true,
            details: true,
        }
    }
}

/// Why a repository could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("invalid repository location {location:?}: {reason}")]
    InvalidLocation {
        location: String,
        reason: &'static str,
    },
    #[error("failed to read {path}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to download {url}")]
    Download {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("repository {location} has neither primary nor primary_db metadata")]
    MissingPrimary { location: String },
    #[error(
        "{file}: repomd.xml gives no supported checksum for the {kind} record; refusing unverified metadata"
    )]
    Unverifiable { file: String, kind: String },
    #[error("{file}: checksum mismatch: repomd.xml says {expected:?}, the file has {actual:?}")]
    ChecksumMismatch {
        file: String,
        expected: Checksum,
        actual: Checksum,
    },
    #[error("{file}: size mismatch: repomd.xml says {expected} bytes, the file has {actual}")]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },
    #[error("{file} is larger than the limit of {limit} bytes")]
    TooLarge { file: String, limit: u64 },
    #[error("{file}: larger than the {expected} bytes repomd.xml gives for it")]
    LargerThanRecorded { file: String, expected: u64 },
    #[error("failed to parse {file}")]
    Parse {
        file: String,
        #[source]
        source: MetadataError,
    },
}

/// The largest release list read (Amazon's is a few hundred kilobytes).
pub const MAX_RELEASEMD_SIZE: u64 = 32 << 20;

/// Reads Amazon Linux 2023's release list, `releasemd.xml`, from a path, a `file://` URL or an
/// `http(s)://` URL of the file itself (a mirror of
/// `https://cdn.amazonlinux.com/al2023/core/releasemd.xml`). Malformed releases are
/// diagnostics, skipped.
pub fn load_releases(
    location: &str,
    http_timeout: Duration,
) -> Result<pw_core::repo::diagnostics::Parsed<Vec<pw_core::release::ReleaseVersion>>, RepoError> {
    let (dir, file) = match location.rsplit_once('/') {
        Some((dir, file)) if !file.is_empty() => (if dir.is_empty() { "/" } else { dir }, file),
        _ => {
            return Err(RepoError::InvalidLocation {
                location: location.to_owned(),
                reason: "give the path or URL of the releasemd.xml file",
            });
        }
    };
    let options = LoadOptions {
        http_timeout,
        ..LoadOptions::default()
    };
    let source = Source::parse(dir, &options)?;
    let bytes = source.read_all(file, MAX_RELEASEMD_SIZE)?;
    pw_core::repo::releasemd::parse_releasemd(&bytes[..]).map_err(|source_error| RepoError::Parse {
        file: source.describe(file),
        source: source_error,
    })
}

/// Loads a repository from a directory path, a `file://` URL or an `http(s)://` URL, with
/// default [`LoadOptions`].
pub fn load(location: &str) -> Result<Repository, RepoError> {
    load_with(location, &LoadOptions::default())
}

/// Loads a repository from a local directory: the repository root (which holds
/// `repodata/repomd.xml`) or the `repodata` directory itself.
pub fn load_dir(path: &Path) -> Result<Repository, RepoError> {
    load_dir_with(path, &LoadOptions::default())
}

/// [`load_dir`] with explicit options.
pub fn load_dir_with(path: &Path, options: &LoadOptions) -> Result<Repository, RepoError> {
    let source = Source::directory(path)?;
    load_from(&path.display().to_string(), &source, options)
}

/// Loads a repository from a flat cache directory as yum keeps one: `DIR/repomd.xml`, and
/// every data file stored directly in `DIR` under the last component of its location
/// (`repodata/abc-primary.sqlite.bz2` is `DIR/abc-primary.sqlite.bz2`).
pub fn load_flat_dir(path: &Path) -> Result<Repository, RepoError> {
    load_flat_dir_with(path, &LoadOptions::default())
}

/// [`load_flat_dir`] with explicit options.
pub fn load_flat_dir_with(path: &Path, options: &LoadOptions) -> Result<Repository, RepoError> {
    load_from(&path.display().to_string(), &flat_source(path)?, options)
}

/// The source of a flat cache directory; the directory must exist.
fn flat_source(path: &Path) -> Result<Source, RepoError> {
    let metadata = fs_err::metadata(path).map_err(|source| RepoError::Read {
        path: path.display().to_string(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(RepoError::InvalidLocation {
            location: path.display().to_string(),
            reason: "not a directory",
        });
    }
    Ok(Source::Flat(path.to_path_buf()))
}

/// [`load`] with explicit options.
pub fn load_with(location: &str, options: &LoadOptions) -> Result<Repository, RepoError> {
    let source = Source::parse(location, options)?;
    load_from(location, &source, options)
}

/// The result of a load through a cache file.
#[derive(Debug)]
pub struct CachedLoad {
    pub repository: Repository,
    pub cache: CacheStatus,
}

/// What a load did with its cache file.
#[derive(Debug)]
pub enum CacheStatus {
    /// The catalog came from the cache file; only repomd.xml was read.
    Hit,
    /// The metadata was parsed (the cache file was not usable) and the cache file written.
    Written { miss: catalog_cache::CacheMiss },
    /// The metadata was parsed and the cache file not written: the load was incomplete (a
    /// file repomd.xml lists is missing locally, so a later load may find more).
    Incomplete { miss: catalog_cache::CacheMiss },
    /// The metadata was parsed; writing the cache file failed.
    WriteFailed {
        miss: catalog_cache::CacheMiss,
        error: catalog_cache::CacheWriteError,
    },
}

/// Where a load puts what it reads, one value at a time: a [`Collect`] keeps the values, a
/// [`CompactCatalog`] keeps them compactly. A load hands values over before it has verified the
/// whole file; when it then fails, the caller drops the sink.
pub trait CatalogSink {
    fn reserve_packages(&mut self, _count: usize) {}
    fn reserve_advisories(&mut self, _count: usize) {}
    fn package(&mut self, package: Package);
    /// A package the caller keeps (to decode the next one into it).
    fn package_ref(&mut self, package: &Package) {
        self.package(package.clone());
    }
    fn advisory(&mut self, advisory: Advisory);
    /// An advisory whose package list is `packages` (the caller keeps them).
    fn advisory_parts(&mut self, mut advisory: Advisory, packages: &[AdvisoryPackage]) {
        advisory.packages = packages.to_vec();
        self.advisory(advisory);
    }
}

/// Keeps every value.
#[derive(Debug, Default)]
pub struct Collect {
    pub packages: Vec<Package>,
    pub advisories: Vec<Advisory>,
}

impl CatalogSink for Collect {
    fn reserve_packages(&mut self, count: usize) {
        self.packages.reserve(count);
    }

    fn reserve_advisories(&mut self, count: usize) {
        self.advisories.reserve(count);
    }

    fn package(&mut self, package: Package) {
        self.packages.push(package);
    }

    fn advisory(&mut self, advisory: Advisory) {
        self.advisories.push(advisory);
    }
}

impl CatalogSink for CompactCatalog {
    fn reserve_packages(&mut self, count: usize) {
        self.reserve_packages(count);
    }

    fn package(&mut self, package: Package) {
        self.push_package(&package);
    }

    fn package_ref(&mut self, package: &Package) {
        self.push_package(package);
    }

    fn advisory(&mut self, advisory: Advisory) {
        self.push_advisory(advisory);
    }

    fn advisory_parts(&mut self, advisory: Advisory, packages: &[AdvisoryPackage]) {
        self.push_advisory_listing(advisory, packages);
    }
}

/// A repository loaded into a [`CompactCatalog`] (see pw-core's `repo::compact`).
#[derive(Debug)]
pub struct CompactRepository {
    pub location: String,
    pub repomd: RepoMd,
    pub primary_source: PrimarySource,
    pub catalog: CompactCatalog,
    pub diagnostics: Vec<Diagnostic>,
    pub suppressed_diagnostics: u64,
}

/// The result of a compact load through a cache file.
#[derive(Debug)]
pub struct CompactLoad {
    pub repository: CompactRepository,
    pub cache: CacheStatus,
}

/// [`load_dir_cached`] into a [`CompactCatalog`]: what the agent holds of a repository. The
/// values of the whole repository never exist at once: the cache file or the metadata is
/// decoded one package and one advisory at a time. Provides and requires are kept when
/// `options.dependencies` asks for them; details are never read (`options.details` is
/// ignored).
pub fn load_dir_compact_cached(
    path: &Path,
    options: &LoadOptions,
    cache_file: &Path,
) -> Result<CompactLoad, RepoError> {
    let source = Source::directory(path)?;
    load_compact_cached(&path.display().to_string(), &source, options, cache_file)
}

/// [`load_flat_dir_cached`] into a [`CompactCatalog`], as [`load_dir_compact_cached`].
pub fn load_flat_dir_compact_cached(
    path: &Path,
    options: &LoadOptions,
    cache_file: &Path,
) -> Result<CompactLoad, RepoError> {
    load_compact_cached(
        &path.display().to_string(),
        &flat_source(path)?,
        options,
        cache_file,
    )
}

fn load_compact_cached(
    location: &str,
    source: &Source,
    options: &LoadOptions,
    cache_file: &Path,
) -> Result<CompactLoad, RepoError> {
    let options = LoadOptions {
        details: false,
        ..options.clone()
    };
    let repomd_bytes = read_repomd(source, &options)?;
    let key = catalog_cache::CacheKey::compact(&repomd_bytes, &options);
    let miss = match catalog_cache::read_compact(cache_file, &key) {
        Ok(cached) => {
            let repomd = parse_repomd_bytes(source, &repomd_bytes)?.value;
            return Ok(CompactLoad {
                repository: CompactRepository {
                    location: location.to_owned(),
                    repomd,
                    primary_source: cached.primary_source,
                    catalog: cached.catalog,
                    diagnostics: cached.diagnostics,
                    suppressed_diagnostics: cached.suppressed_diagnostics,
                },
                cache: CacheStatus::Hit,
            });
        }
        Err(miss) => miss,
    };
    let mut catalog = CompactCatalog::new();
    let loaded = load_parsed_into(location, source, &options, &repomd_bytes, &mut catalog)?;
    catalog.shrink_to_fit();
    let repository = CompactRepository {
        location: location.to_owned(),
        repomd: loaded.repomd,
        primary_source: loaded.primary_source,
        catalog,
        diagnostics: loaded.diagnostics,
        suppressed_diagnostics: loaded.suppressed_diagnostics,
    };
    let cache = if !loaded.complete {
        CacheStatus::Incomplete { miss }
    } else {
        match catalog_cache::write_compact(cache_file, &key, &repository) {
            Ok(()) => CacheStatus::Written { miss },
            Err(error) => CacheStatus::WriteFailed { miss, error },
        }
    };
    Ok(CompactLoad { repository, cache })
}

/// [`load_dir_with`] through the cache file `cache_file`: a valid file written for these
/// repomd.xml bytes and options is used instead of the metadata; otherwise the metadata is
/// parsed and the file (re)written. Problems with the cache file are never an error.
pub fn load_dir_cached(
    path: &Path,
    options: &LoadOptions,
    cache_file: &Path,
) -> Result<CachedLoad, RepoError> {
    let source = Source::directory(path)?;
    load_cached(&path.display().to_string(), &source, options, cache_file)
}

/// [`load_flat_dir_with`] through a cache file, as [`load_dir_cached`].
pub fn load_flat_dir_cached(
    path: &Path,
    options: &LoadOptions,
    cache_file: &Path,
) -> Result<CachedLoad, RepoError> {
    load_cached(
        &path.display().to_string(),
        &flat_source(path)?,
        options,
        cache_file,
    )
}

fn load_cached(
    location: &str,
    source: &Source,
    options: &LoadOptions,
    cache_file: &Path,
) -> Result<CachedLoad, RepoError> {
    let repomd_bytes = read_repomd(source, options)?;
    let key = catalog_cache::CacheKey::new(&repomd_bytes, options);
    let miss = match catalog_cache::read(cache_file, &key) {
        Ok(cached) => {
            let repomd = parse_repomd_bytes(source, &repomd_bytes)?.value;
            return Ok(CachedLoad {
                repository: Repository {
                    location: location.to_owned(),
                    repomd,
                    primary_source: cached.primary_source,
                    packages: cached.packages,
                    advisories: cached.advisories,
                    diagnostics: cached.diagnostics,
                    suppressed_diagnostics: cached.suppressed_diagnostics,
                },
                cache: CacheStatus::Hit,
            });
        }
        Err(miss) => miss,
    };
    let loaded = load_parsed(location, source, options, &repomd_bytes)?;
    let cache = if !loaded.complete {
        CacheStatus::Incomplete { miss }
    } else {
        match catalog_cache::write(cache_file, &key, &loaded.repository) {
            Ok(()) => CacheStatus::Written { miss },
            Err(error) => CacheStatus::WriteFailed { miss, error },
        }
    };
    Ok(CachedLoad {
        repository: loaded.repository,
        cache,
    })
}

const REPOMD_NAME: &str = "repodata/repomd.xml";

fn read_repomd(source: &Source, options: &LoadOptions) -> Result<Vec<u8>, RepoError> {
    source.read_all(REPOMD_NAME, options.max_file_size.min(64 << 20))
}

fn parse_repomd_bytes(source: &Source, bytes: &[u8]) -> Result<Parsed<RepoMd>, RepoError> {
    parse_repomd(bytes).map_err(|source_error| RepoError::Parse {
        file: source.describe(REPOMD_NAME),
        source: source_error,
    })
}

fn load_from(
    location: &str,
    source: &Source,
    options: &LoadOptions,
) -> Result<Repository, RepoError> {
    let repomd_bytes = read_repomd(source, options)?;
    Ok(load_parsed(location, source, options, &repomd_bytes)?.repository)
}

/// A repository parsed from its metadata.
struct Loaded {
    repository: Repository,
    /// Every file repomd.xml lists (and the load reads) was there.
    complete: bool,
}

fn load_parsed(
    location: &str,
    source: &Source,
    options: &LoadOptions,
    repomd_bytes: &[u8],
) -> Result<Loaded, RepoError> {
    let mut values = Collect::default();
    let loaded = load_parsed_into(location, source, options, repomd_bytes, &mut values)?;
    Ok(Loaded {
        repository: Repository {
            location: location.to_owned(),
            repomd: loaded.repomd,
            primary_source: loaded.primary_source,
            packages: values.packages,
            advisories: values.advisories,
            diagnostics: loaded.diagnostics,
            suppressed_diagnostics: loaded.suppressed_diagnostics,
        },
        complete: loaded.complete,
    })
}

/// What a load found besides the values it handed to its sink.
struct LoadedInto {
    repomd: RepoMd,
    primary_source: PrimarySource,
    diagnostics: Vec<Diagnostic>,
    suppressed_diagnostics: u64,
    /// Every file repomd.xml lists (and the load reads) was there.
    complete: bool,
}

/// Parses the repository's metadata into `sink`: its packages, then its advisories, each
/// without what `options` leaves out.
fn load_parsed_into(
    location: &str,
    source: &Source,
    options: &LoadOptions,
    repomd_bytes: &[u8],
    sink: &mut impl CatalogSink,
) -> Result<LoadedInto, RepoError> {
    let parsed = parse_repomd_bytes(source, repomd_bytes)?;
    let repomd = parsed.value;
    let mut diagnostics = parsed.diagnostics;
    let mut suppressed = parsed.suppressed_diagnostics;
    let mut complete = true;
    let details = options.details;

    let primary_options = PrimaryOptions {
        dependencies: options.dependencies,
    };
    let primary_source = {
        let mut chosen = None;
        let mut missing = None;
        for kind in primary_preference(source, &repomd) {
            let Some(record) = repomd.record(kind.record()) else {
                continue;
            };
            let parsed = match kind {
                PrimarySource::Xml => source.parse_streaming(record, options, |reader| {
                    parse_primary_with(reader, primary_options, |mut package| {
                        if !details {
                            strip_package_details(&mut package);
                        }
                        sink.package(package);
                    })
                }),
                PrimarySource::Sqlite => source.read_verified(record, options).and_then(|bytes| {
                    parse_primary_db_with_options(&bytes, primary_options)
                        .map(|parsed| {
                            sink.reserve_packages(parsed.value.len());
                            for mut package in parsed.value {
                                if !details {
                                    strip_package_details(&mut package);
                                }
                                sink.package(package);
                            }
                            Parsed {
                                value: (),
                                diagnostics: parsed.diagnostics,
                                suppressed_diagnostics: parsed.suppressed_diagnostics,
                            }
                        })
                        .map_err(|error| RepoError::Parse {
                            file: source.describe(&record.location),
                            source: error,
                        })
                }),
            };
            match parsed {
                Ok(parsed) => {
                    diagnostics.extend(parsed.diagnostics);
                    suppressed += parsed.suppressed_diagnostics;
                    chosen = Some(kind);
                    break;
                }
                // The chosen file is not in the cache (yum fetched only the other one, or
                // the cache was trimmed): the other record is as good, when it is there.
                Err(RepoError::Read {
                    path,
                    source: error,
                }) if error.kind() == io::ErrorKind::NotFound => {
                    diagnostics.push(Diagnostic {
                        document: DocumentKind::Repomd,
                        position: None,
                        item: None,
                        message: format!(
                            "{path} ({}) is listed in repomd.xml but missing; trying the other primary record",
                            kind.record()
                        ),
                    });
                    missing.get_or_insert(RepoError::Read {
                        path,
                        source: error,
                    });
                }
                Err(error) => return Err(error),
            }
        }
        match (chosen, missing) {
            (Some(chosen), _) => chosen,
            // Nothing to fall back to: the missing file is the error.
            (None, Some(error)) => return Err(error),
            (None, None) => {
                return Err(RepoError::MissingPrimary {
                    location: location.to_owned(),
                });
            }
        }
    };

    if let Some(record) = repomd.record("updateinfo")
        && options.updateinfo
    {
        let parsed = source.parse_streaming(record, options, |reader| {
            parse_updateinfo_with(reader, |mut advisory| {
                if !details {
                    strip_advisory_details(&mut advisory);
                }
                sink.advisory(advisory);
            })
        });
        match parsed {
            Ok(parsed) => {
                diagnostics.extend(parsed.diagnostics);
                suppressed += parsed.suppressed_diagnostics;
            }
            // A local cache may lack a file its repomd lists (yum fetches some lazily):
            // the packages are still good, so say so instead of failing.
            Err(RepoError::Read {
                path,
                source: error,
            }) if error.kind() == io::ErrorKind::NotFound => {
                complete = false;
                diagnostics.push(Diagnostic {
                    document: DocumentKind::Updateinfo,
                    position: None,
                    item: None,
                    message: format!(
                        "{path} is listed in repomd.xml but missing; no advisories read"
                    ),
                });
            }
            Err(error) => return Err(error),
        }
    }

    Ok(LoadedInto {
        repomd,
        primary_source,
        diagnostics,
        suppressed_diagnostics: suppressed,
        complete,
    })
}

/// Drops what [`LoadOptions::details`] leaves out of a package.
fn strip_package_details(package: &mut Package) {
    package.location = String::new();
    package.source_rpm = None;
    package.checksum = None;
}

/// Drops what [`LoadOptions::details`] leaves out of an advisory.
fn strip_advisory_details(advisory: &mut Advisory) {
    advisory.status = None;
    advisory.title = None;
    advisory.description = None;
    for reference in &mut advisory.references {
        reference.href = None;
        reference.title = None;
    }
    for package in &mut advisory.packages {
        package.filename = None;
        package.source_rpm = None;
    }
}

/// Where the repository's files come from.
enum Source {
    /// The repository root directory.
    Directory(PathBuf),
    /// A flat cache directory (yum): `repomd.xml` and the data files side by side.
    Flat(PathBuf),
    /// The repository root URL, ending in `/`.
    Http { base: String, agent: ureq::Agent },
}

impl Source {
    fn parse(location: &str, options: &LoadOptions) -> Result<Source, RepoError> {
        let invalid = |reason| RepoError::InvalidLocation {
            location: location.to_owned(),
            reason,
        };
        if let Some(rest) = location.strip_prefix("file://") {
            // `file:///srv/repo` (empty host) and `file://localhost/srv/repo`.
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(invalid("a file:// URL needs an absolute path"));
            }
            return Source::directory(Path::new(&percent_decode(path)));
        }
        let lower = location.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let mut base = location.to_owned();
            if !base.ends_with('/') {
                base.push('/');
            }
            let config = ureq::Agent::config_builder()
                .timeout_global(Some(options.http_timeout))
                .user_agent(concat!("patchwarden/", env!("CARGO_PKG_VERSION")))
                .build();
            return Ok(Source::Http {
                base,
                agent: ureq::Agent::new_with_config(config),
            });
        }
        if location.contains("://") {
            return Err(invalid(
                "only directories, file://, http:// and https:// are supported",
            ));
        }
        Source::directory(Path::new(location))
    }

    fn directory(path: &Path) -> Result<Source, RepoError> {
        let read_error = |source| RepoError::Read {
            path: path.display().to_string(),
            source,
        };
        let metadata = fs_err::metadata(path).map_err(read_error)?;
        if !metadata.is_dir() {
            return Err(RepoError::InvalidLocation {
                location: path.display().to_string(),
                reason: "not a directory",
            });
        }
        // Accept the `repodata` directory itself: its parent is the repository root.
        let in_repodata = path.join("repomd.xml");
        let is_repodata = path.file_name().is_some_and(|name| name == "repodata")
            && fs_err::metadata(&in_repodata).is_ok()
            && fs_err::metadata(path.join("repodata/repomd.xml")).is_err();
        if is_repodata && let Some(parent) = path.parent() {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            return Ok(Source::Directory(parent.to_path_buf()));
        }
        Ok(Source::Directory(path.to_path_buf()))
    }

    /// A file's full path or URL, for messages.
    fn describe(&self, relative: &str) -> String {
        match self {
            Source::Directory(root) => root.join(relative).display().to_string(),
            Source::Flat(dir) => dir.join(flat_name(relative)).display().to_string(),
            Source::Http { base, .. } => format!("{base}{relative}"),
        }
    }

    /// Opens a file for streaming. `relative` has been checked by pw-core's `check_location`
    /// (or is the fixed repomd path).
    fn open(&self, relative: &str, limit: u64) -> Result<Box<dyn Read>, RepoError> {
        let path = match self {
            Source::Directory(root) => root.join(relative),
            Source::Flat(dir) => dir.join(flat_name(relative)),
            Source::Http { base, agent } => {
                let url = format!("{base}{relative}");
                let response = agent
                    .get(&url)
                    .call()
                    .map_err(|source| RepoError::Download {
                        url: url.clone(),
                        source: Box::new(source),
                    })?;
                // One byte over the limit, so that "too large" is detected rather than cut.
                let reader = response
                    .into_body()
                    .into_with_config()
                    .limit(limit.saturating_add(1))
                    .reader();
                return Ok(Box::new(reader));
            }
        };
        let file = fs_err::File::open(&path).map_err(|source| RepoError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Box::new(file))
    }

    /// Reads a whole (unverified) file, refusing more than `limit` bytes.
    fn read_all(&self, relative: &str, limit: u64) -> Result<Vec<u8>, RepoError> {
        let mut bytes = Vec::new();
        let reader = self.open(relative, limit)?;
        reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|source| self.read_error(relative, source))?;
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
            return Err(RepoError::TooLarge {
                file: self.describe(relative),
                limit,
            });
        }
        Ok(bytes)
    }

    /// The error to report when `verifying` stopped at its limit.
    fn too_large<R>(
        &self,
        record: &RepoMdRecord,
        limit: u64,
        verifying: &Verifying<R>,
    ) -> Option<RepoError> {
        let error = verifying.error.as_ref()?;
        if error.kind() != io::ErrorKind::FileTooLarge {
            return None;
        }
        let file = self.describe(&record.location);
        Some(match record.size {
            Some(expected) if expected == limit => RepoError::LargerThanRecorded { file, expected },
            _ => RepoError::TooLarge { file, limit },
        })
    }

    fn read_error(&self, relative: &str, source: io::Error) -> RepoError {
        RepoError::Read {
            path: self.describe(relative),
            source,
        }
    }

    /// Reads a whole file and verifies it against its record.
    fn read_verified(
        &self,
        record: &RepoMdRecord,
        options: &LoadOptions,
    ) -> Result<Vec<u8>, RepoError> {
        let expected = expected_checksum(self, record)?;
        let limit = record_limit(record, options);
        let mut verifying =
            Verifying::new(self.open(&record.location, limit)?, expected.kind(), limit);
        let mut bytes = Vec::new();
        if let Err(source) = verifying.read_to_end(&mut bytes) {
            return Err(self
                .too_large(record, limit, &verifying)
                .unwrap_or_else(|| self.read_error(&record.location, source)));
        }
        verifying.check(self, record, expected)?;
        Ok(bytes)
    }

    /// Streams a file through `parse`, hashing it on the way, then verifies it. A checksum or
    /// size mismatch wins over a parse error: it says why the content is bad.
    fn parse_streaming<T>(
        &self,
        record: &RepoMdRecord,
        options: &LoadOptions,
        parse: impl FnOnce(&mut BufReader<Verifying<Box<dyn Read>>>) -> Result<T, MetadataError>,
    ) -> Result<T, RepoError> {
        let expected = expected_checksum(self, record)?;
        let limit = record_limit(record, options);
        let verifying = Verifying::new(self.open(&record.location, limit)?, expected.kind(), limit);
        let mut reader = BufReader::with_capacity(READ_BUFFER, verifying);
        let parsed = parse(&mut reader);
        // Whatever the parser left (the tail after a compressed stream, or everything after
        // an error) still counts for the checksum.
        let drained = drain(&mut reader);
        let verifying = reader.into_inner();
        if let Some(error) = self.too_large(record, limit, &verifying) {
            return Err(error);
        }
        match (parsed, drained) {
            (Ok(value), Ok(())) => {
                verifying.check(self, record, expected)?;
                Ok(value)
            }
            (Ok(_), Err(source)) => Err(self.read_error(&record.location, source)),
            (Err(parse_error), _) => {
                if verifying.error.is_none() {
                    verifying.check(self, record, expected)?;
                }
                Err(RepoError::Parse {
                    file: self.describe(&record.location),
                    source: parse_error,
                })
            }
        }
    }
}

/// The file name a flat cache stores a location under: its last path component.
fn flat_name(relative: &str) -> &str {
    relative.rsplit('/').next().unwrap_or(relative)
}

fn drain(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let available = reader.fill_buf()?.len();
        if available == 0 {
            return Ok(());
        }
        reader.consume(available);
    }
}

fn expected_checksum(source: &Source, record: &RepoMdRecord) -> Result<Checksum, RepoError> {
    record
        .checksum
        .clone()
        .ok_or_else(|| RepoError::Unverifiable {
            file: source.describe(&record.location),
            kind: record.kind.clone(),
        })
}

fn record_limit(record: &RepoMdRecord, options: &LoadOptions) -> u64 {
    match record.size {
        Some(size) => size.min(options.max_file_size),
        None => options.max_file_size,
    }
}

/// Hashes and counts what passes through, and refuses to read past `limit` bytes.
struct Verifying<R> {
    inner: R,
    hasher: Option<ChecksumHasher>,
    size: u64,
    limit: u64,
    /// The first read error (kept to tell "too large" from other failures).
    error: Option<io::Error>,
}

impl<R: Read> Verifying<R> {
    fn new(inner: R, kind: pw_core::repo::ChecksumKind, limit: u64) -> Verifying<R> {
        Verifying {
            inner,
            hasher: Some(ChecksumHasher::new(kind)),
            size: 0,
            limit,
            error: None,
        }
    }

    fn check(
        self,
        source: &Source,
        record: &RepoMdRecord,
        expected: Checksum,
    ) -> Result<(), RepoError> {
        let file = source.describe(&record.location);
        if let Some(size) = record.size
            && size != self.size
        {
            return Err(RepoError::SizeMismatch {
                file,
                expected: size,
                actual: self.size,
            });
        }
        let actual = self.hasher.map(ChecksumHasher::finish);
        match actual {
            Some(actual) if actual == expected => Ok(()),
            Some(actual) => Err(RepoError::ChecksumMismatch {
                file,
                expected,
                actual,
            }),
            None => Err(RepoError::Unverifiable {
                file,
                kind: record.kind.clone(),
            }),
        }
    }
}

impl<R: Read> Read for Verifying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = match self.inner.read(buf) {
            Ok(read) => read,
            Err(error) => {
                let copy = io::Error::new(error.kind(), error.to_string());
                self.error.get_or_insert(copy);
                return Err(error);
            }
        };
        self.size += read as u64;
        if self.size > self.limit {
            let error = io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("more than {} bytes", self.limit),
            );
            self.error
                .get_or_insert(io::Error::new(error.kind(), error.to_string()));
            return Err(error);
        }
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(&buf[..read]);
        }
        Ok(read)
    }
}

/// Decodes `%XX` escapes of a file URL path; invalid escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes
                .get(index + 1..index + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok());
            if let Some(value) = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                out.push(value);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
