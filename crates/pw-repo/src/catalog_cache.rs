//! The parsed-catalog cache: a compact binary file holding what loading one repository
//! produced (packages, advisories, diagnostics), so that a later load of the same
//! repository skips decompressing and parsing its XML (dnf's `.solv` idea).
//!
//! A file is valid for exactly one [`CacheKey`]: the sha256 of the repository's
//! `repomd.xml` bytes, the [`LoadOptions`] that change what a load returns (dependencies,
//! updateinfo, details), this crate's version and [`FORMAT_VERSION`]. repomd.xml carries the checksum
//! of every other metadata file, so equal repomd bytes mean equal metadata.
//!
//! Layout (integers little-endian, strings as a `u32` byte length then UTF-8):
//!
//! ```text
//! magic "PWCATLG\0" | format version u32 | key [32] | payload length u64 | sha256(payload) [32] | payload
//! ```
//!
//! The payload of a load's values is each package and advisory in turn; that of a compact load
//! ([`read_compact`]) is the compact catalog's arrays: its strings' text, its sections of
//! 32-bit words (records, dependencies, listings; [`ImageSection`]), then its advisories without
//! their package lists. Reading one back interns nothing: each id and range is checked
//! ([`ImageBuilder`]) and the strings' lookup table built once.
//!
//! Reading checks everything (magic, version, key, exact length, that the payload decodes to
//! its last byte, and the payload checksum) and turns any failure into a [`CacheMiss`], never
//! a panic and never partly decoded data. The payload is decoded while it is read and hashed
//! (no copy of the file in memory); the result is returned only after the checksum matched. Writing is atomic: a temporary file in the same
//! directory, synced, then renamed over the old file.
//!
//! **Bump [`FORMAT_VERSION`]** whenever the encoding changes or pw-core's parsers start to
//! return something different for the same metadata; otherwise old files would be read as
//! if they were current.

use std::fmt;
use std::io::{self, BufRead, Read, Seek, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use pw_core::nevra::Nevra;
use pw_core::repo::{
    Advisory, AdvisoryPackage, Checksum, ChecksumHasher, ChecksumKind, Collection, DepFlags,
    Dependency, Diagnostic, DocumentKind, ModuleStream, Package, Position, Reference,
};
use pw_core::version::rpm::Evr;

use pw_core::repo::compact::{CompactCatalog, ImageBuilder, ImageSection, PACKAGE_WORDS};

use crate::{CatalogSink, Collect, CompactRepository, LoadOptions, PrimarySource, Repository};

/// The version of the file layout and of the parsed content it stands for.
pub const FORMAT_VERSION: u32 = 1;

/// The layout of a compact load's file (its key holds it, so a file of an earlier layout is
/// a miss): 1 was the values' encoding, 2 the catalog's arrays.
const COMPACT_LAYOUT: u8 = 2;

const MAGIC: &[u8; 8] = b"PWCATLG\0";
/// Magic, version, key, payload length, payload checksum.
const HEADER_LEN: usize = 8 + 4 + 32 + 8 + 32;
/// Buffer between the cache file and the decoder.
const READ_BUFFER: usize = 64 * 1024;
/// The pieces a compact catalog is written in.
const SPILL_BYTES: usize = 256 * 1024;

/// What a cache file must have been written for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key of a load of the repository whose `repomd.xml` is `repomd` (the exact bytes)
    /// with `options`.
    pub fn new(repomd: &[u8], options: &LoadOptions) -> CacheKey {
        CacheKey::derive(repomd, options, false)
    }

    /// The key of a compact load ([`crate::load_dir_compact_cached`]): its files hold no
    /// package sizes, so they are not shared with loads that return values.
    pub fn compact(repomd: &[u8], options: &LoadOptions) -> CacheKey {
        CacheKey::derive(repomd, options, true)
    }

    fn derive(repomd: &[u8], options: &LoadOptions, compact: bool) -> CacheKey {
        let mut hasher = ChecksumHasher::new(ChecksumKind::Sha256);
        hasher.update(b"patchwarden catalog cache\0");
        hasher.update(&FORMAT_VERSION.to_le_bytes());
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update(b"\0");
        hasher.update(&[
            u8::from(options.dependencies),
            u8::from(options.updateinfo),
            u8::from(options.details),
            if compact { COMPACT_LAYOUT } else { 0 },
        ]);
        hasher.update(Checksum::compute(ChecksumKind::Sha256, repomd).digest());
        CacheKey(sha256_array(&hasher.finish()))
    }

    /// The key as lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", self.to_hex())
    }
}

fn sha256_array(checksum: &Checksum) -> [u8; 32] {
    let mut out = [0; 32];
    // A sha256 digest is 32 bytes; `copy_from_slice` would panic only on another length.
    for (slot, byte) in out.iter_mut().zip(checksum.digest()) {
        *slot = *byte;
    }
    out
}

/// What a cache file holds: a [`Repository`] without its location and repomd (which the
/// caller has, since it computed the key from repomd.xml).
#[derive(Debug, Clone)]
pub struct CachedCatalog {
    pub primary_source: PrimarySource,
    pub packages: Vec<Package>,
    pub advisories: Vec<Advisory>,
    pub diagnostics: Vec<Diagnostic>,
    pub suppressed_diagnostics: u64,
}

/// Why a cache file was not used.
#[derive(Debug)]
pub enum CacheMiss {
    /// There is no cache file.
    Absent,
    /// The file exists but could not be read.
    Unreadable(io::Error),
    /// Not a catalog cache file (too short for the header, or another magic).
    NotACache,
    /// Written by another format version.
    OtherVersion(u32),
    /// Written for other repository metadata or other load options.
    OtherKey,
    /// The file is shorter or longer than its header says.
    WrongLength { expected: u64, actual: u64 },
    /// The payload does not match its checksum.
    ChecksumMismatch,
    /// The payload is not a valid encoding (only a file written by another encoder with a
    /// matching checksum gets here).
    Malformed { offset: usize, what: &'static str },
}

impl fmt::Display for CacheMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheMiss::Absent => f.write_str("no cache file"),
            CacheMiss::Unreadable(error) => write!(f, "unreadable: {error}"),
            CacheMiss::NotACache => f.write_str("not a catalog cache file"),
            CacheMiss::OtherVersion(version) => {
                write!(
                    f,
                    "written by format version {version}, this is {FORMAT_VERSION}"
                )
            }
            CacheMiss::OtherKey => f.write_str("written for other metadata or load options"),
            CacheMiss::WrongLength { expected, actual } => write!(
                f,
                "the header says {expected} bytes of payload, the file has {actual}"
            ),
            CacheMiss::ChecksumMismatch => f.write_str("payload checksum mismatch"),
            CacheMiss::Malformed { offset, what } => {
                write!(f, "malformed payload at byte {offset}: {what}")
            }
        }
    }
}

/// Writing a cache file failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to write the catalog cache {path}")]
pub struct CacheWriteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// The whole file for `repository` under `key`.
pub fn encode(key: &CacheKey, repository: &Repository) -> Vec<u8> {
    let (header, payload) = encode_parts(key, repository);
    let mut file = Vec::with_capacity(HEADER_LEN + payload.len());
    file.extend_from_slice(&header);
    file.extend_from_slice(&payload);
    file
}

/// A file for `key` around any `payload`, with a header that holds: what [`decode`] reads
/// past its checks (the fuzz target `catalog_cache` frames its input with it).
pub fn frame(key: &CacheKey, payload: &[u8]) -> Vec<u8> {
    let mut file = Vec::with_capacity(HEADER_LEN + payload.len());
    file.extend_from_slice(&header_of(key, payload));
    file.extend_from_slice(payload);
    file
}

/// The header and the payload of the file for `repository`.
fn encode_parts(key: &CacheKey, repository: &Repository) -> ([u8; HEADER_LEN], Vec<u8>) {
    let mut payload = Encoder::default();
    payload.catalog(repository);
    let payload = payload.out;
    (header_of(key, &payload), payload)
}

/// The header of the file for `key` whose payload is `payload`.
fn header_of(key: &CacheKey, payload: &[u8]) -> [u8; HEADER_LEN] {
    header_with(
        key,
        payload.len() as u64,
        &Checksum::compute(ChecksumKind::Sha256, payload),
    )
}

/// The header of a payload of `length` bytes with sha256 `checksum`.
fn header_with(key: &CacheKey, length: u64, checksum: &Checksum) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[12..44].copy_from_slice(&key.0);
    header[44..52].copy_from_slice(&length.to_le_bytes());
    header[52..84].copy_from_slice(&sha256_array(checksum));
    header
}

/// Decodes a whole file written for `key`.
pub fn decode(bytes: &[u8], key: &CacheKey) -> Result<CachedCatalog, CacheMiss> {
    decode_from::<Decoded<Collect>>(bytes, bytes.len() as u64, key).map(Decoded::into_cached)
}

/// What a cache file holds, read into a [`CompactCatalog`].
#[derive(Debug)]
pub struct CachedCompact {
    pub primary_source: PrimarySource,
    pub catalog: CompactCatalog,
    pub diagnostics: Vec<Diagnostic>,
    pub suppressed_diagnostics: u64,
}

/// Reads the cache file at `path`, written for `key` (see [`CacheKey::compact`]), into a
/// [`CompactCatalog`]: the file holds the catalog's arrays ([`ImageSection`]), read as they
/// are and checked, so no string is interned again. As [`read`], the result is returned only
/// once the checksum matched.
pub fn read_compact(path: &Path, key: &CacheKey) -> Result<CachedCompact, CacheMiss> {
    let file = open(path)?;
    let size = file.metadata().map_err(CacheMiss::Unreadable)?.len();
    decode_from::<CachedCompact>(file, size, key)
}

/// Decodes a whole file written for `key` into a [`CompactCatalog`] (as [`read_compact`]).
pub fn decode_compact(bytes: &[u8], key: &CacheKey) -> Result<CachedCompact, CacheMiss> {
    decode_from::<CachedCompact>(bytes, bytes.len() as u64, key)
}

fn open(path: &Path) -> Result<fs_err::File, CacheMiss> {
    match fs_err::File::open(path) {
        Ok(file) => Ok(file),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(CacheMiss::Absent),
        Err(error) => Err(CacheMiss::Unreadable(error)),
    }
}

/// A decoded payload: its values in a [`CatalogSink`].
struct Decoded<S> {
    primary_source: PrimarySource,
    sink: S,
    diagnostics: Vec<Diagnostic>,
    suppressed_diagnostics: u64,
}

impl Decoded<Collect> {
    fn into_cached(self) -> CachedCatalog {
        CachedCatalog {
            primary_source: self.primary_source,
            packages: self.sink.packages,
            advisories: self.sink.advisories,
            diagnostics: self.diagnostics,
            suppressed_diagnostics: self.suppressed_diagnostics,
        }
    }
}

/// Reads the cache file at `path`, written for `key`. The file is decoded as it is read
/// (no copy of it in memory) and the result returned only once its checksum matched.
pub fn read(path: &Path, key: &CacheKey) -> Result<CachedCatalog, CacheMiss> {
    let file = open(path)?;
    let size = file.metadata().map_err(CacheMiss::Unreadable)?.len();
    decode_from::<Decoded<Collect>>(file, size, key).map(Decoded::into_cached)
}

/// What a payload decodes into: values ([`Decoded`]) or a compact catalog ([`CachedCompact`]).
trait Payload: Sized {
    fn decode(reader: &mut Reader<impl BufRead>) -> Result<Self, Malformed>;
}

impl<S: CatalogSink + Default> Payload for Decoded<S> {
    fn decode(reader: &mut Reader<impl BufRead>) -> Result<Self, Malformed> {
        decode_payload_from(reader)
    }
}

impl Payload for CachedCompact {
    fn decode(reader: &mut Reader<impl BufRead>) -> Result<Self, Malformed> {
        decode_compact_payload(reader)
    }
}

/// Decodes a file of `size` bytes from `input`.
fn decode_from<P: Payload>(
    mut input: impl Read,
    size: u64,
    key: &CacheKey,
) -> Result<P, CacheMiss> {
    let mut header = [0u8; HEADER_LEN];
    match input.read_exact(&mut header) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(CacheMiss::NotACache);
        }
        Err(error) => return Err(CacheMiss::Unreadable(error)),
    }
    let field = |range: std::ops::Range<usize>| &header[range];
    if field(0..8) != MAGIC {
        return Err(CacheMiss::NotACache);
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(field(8..12));
    let version = u32::from_le_bytes(version);
    if version != FORMAT_VERSION {
        return Err(CacheMiss::OtherVersion(version));
    }
    if field(12..44) != key.0 {
        return Err(CacheMiss::OtherKey);
    }
    let mut expected = [0u8; 8];
    expected.copy_from_slice(field(44..52));
    let expected = u64::from_le_bytes(expected);
    let actual = size.saturating_sub(HEADER_LEN as u64);
    let len = match usize::try_from(expected) {
        Ok(len) if expected == actual => len,
        _ => return Err(CacheMiss::WrongLength { expected, actual }),
    };
    let mut reader = Reader {
        input: io::BufReader::with_capacity(
            READ_BUFFER,
            Hashing {
                inner: input,
                hasher: ChecksumHasher::new(ChecksumKind::Sha256),
            },
        ),
        at: 0,
        len,
        io_error: None,
    };
    let decoded = P::decode(&mut reader);
    if let Some(error) = reader.io_error.take() {
        return Err(CacheMiss::Unreadable(error));
    }
    let catalog = decoded.map_err(|error| CacheMiss::Malformed {
        offset: HEADER_LEN + error.offset,
        what: error.what,
    })?;
    // Anything after the payload (the file grew while being read) spoils the checksum too.
    let trailing = reader
        .input
        .fill_buf()
        .map_err(CacheMiss::Unreadable)?
        .len();
    if trailing != 0 {
        return Err(CacheMiss::ChecksumMismatch);
    }
    let checksum = reader.input.into_inner().hasher.finish();
    if checksum.digest() != field(52..84) {
        return Err(CacheMiss::ChecksumMismatch);
    }
    Ok(catalog)
}

/// Hashes what passes through.
struct Hashing<R> {
    inner: R,
    hasher: ChecksumHasher,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        Ok(read)
    }
}

/// Writes the cache file for `repository` at `path` atomically (creating its directory):
/// readers see the old file or the new one, never a torn one.
pub fn write(path: &Path, key: &CacheKey, repository: &Repository) -> Result<(), CacheWriteError> {
    // Header and payload are written one after the other: no second copy of the payload.
    let (header, payload) = encode_parts(key, repository);
    write_atomic(path, &[&header, &payload]).map_err(|source| CacheWriteError {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the cache file for a compact load at `path`, as [`write`]. Its payload is the
/// catalog's arrays ([`ImageSection`]) rather than values, which is why compact loads have
/// keys of their own ([`CacheKey::compact`]).
pub fn write_compact(
    path: &Path,
    key: &CacheKey,
    repository: &CompactRepository,
) -> Result<(), CacheWriteError> {
    // The payload goes to the file in pieces as it is encoded (a whole one is megabytes); the
    // header, which holds its length and checksum, is written last, over a placeholder.
    write_atomic_with(path, |file| {
        file.write_all(&[0; HEADER_LEN])?;
        let mut hasher = ChecksumHasher::new(ChecksumKind::Sha256);
        let mut length = 0u64;
        let mut encoder = Encoder::default();
        encoder.compact_catalog(repository, &mut |piece: &mut Vec<u8>| {
            hasher.update(piece);
            length += piece.len() as u64;
            file.write_all(piece)?;
            piece.clear();
            Ok(())
        })?;
        let header = header_with(key, length, &hasher.finish());
        file.seek(io::SeekFrom::Start(0))?;
        file.write_all(&header)
    })
    .map_err(|source| CacheWriteError {
        path: path.to_path_buf(),
        source,
    })
}

/// The temporary file [`write`] uses for `path`: `.<file name>.tmp` next to it.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "catalog".to_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

fn write_atomic(path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    write_atomic_with(path, |file| {
        for part in parts {
            file.write_all(part)?;
        }
        Ok(())
    })
}

/// Writes a file at `path` atomically with `write` (temporary file, sync, rename).
fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut fs_err::File) -> io::Result<()>,
) -> io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        fs_err::create_dir_all(dir)?;
    }
    let temporary = temporary_path(path);
    let written = (|| {
        let mut file = fs_err::File::create(&temporary)?;
        write(&mut file)?;
        // The rename must not land before the content; a torn file would only be a miss
        // (the checksum catches it), but a sync keeps it from happening at all.
        file.sync_all()?;
        fs_err::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = fs_err::remove_file(&temporary);
    }
    written
}

// ---------------------------------------------------------------------------------------
// Encoding

#[derive(Default)]
struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    fn u8(&mut self, value: u8) {
        self.out.push(value);
    }

    fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }

    fn u32(&mut self, value: u32) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    fn u64(&mut self, value: u64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    fn i64(&mut self, value: i64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    /// A length or count. Nothing in a repository comes near 4 GiB per string or 4 billion
    /// entries (pw-repo refuses files over `max_file_size`); saturating keeps the encoder
    /// total, and the decoder would then refuse the file.
    fn len(&mut self, len: usize) {
        self.u32(u32::try_from(len).unwrap_or(u32::MAX));
    }

    fn str(&mut self, text: &str) {
        self.len(text.len());
        self.out.extend_from_slice(text.as_bytes());
    }

    fn opt_str(&mut self, text: Option<&str>) {
        match text {
            Some(text) => {
                self.u8(1);
                self.str(text);
            }
            None => self.u8(0),
        }
    }

    fn opt_u64(&mut self, value: Option<u64>) {
        match value {
            Some(value) => {
                self.u8(1);
                self.u64(value);
            }
            None => self.u8(0),
        }
    }

    fn opt_i64(&mut self, value: Option<i64>) {
        match value {
            Some(value) => {
                self.u8(1);
                self.i64(value);
            }
            None => self.u8(0),
        }
    }

    fn opt_timestamp(&mut self, value: Option<Timestamp>) {
        match value {
            Some(value) => {
                self.u8(1);
                self.i64(value.as_second());
                self.u32(value.subsec_nanosecond().cast_unsigned());
            }
            None => self.u8(0),
        }
    }

    fn evr(&mut self, evr: &Evr) {
        self.u32(evr.epoch);
        self.str(&evr.version);
        self.str(&evr.release);
    }

    fn nevra(&mut self, nevra: &Nevra) {
        self.str(&nevra.name);
        self.evr(&nevra.evr);
        self.str(&nevra.arch);
    }

    /// What precedes the packages: primary source and diagnostics.
    fn preamble(&mut self, source: PrimarySource, suppressed: u64, diagnostics: &[Diagnostic]) {
        self.u8(match source {
            PrimarySource::Xml => 0,
            PrimarySource::Sqlite => 1,
        });
        self.u64(suppressed);
        self.len(diagnostics.len());
        for diagnostic in diagnostics {
            self.diagnostic(diagnostic);
        }
    }

    /// Encodes a compact catalog as its arrays ([`ImageSection`]: the text, each section as a
    /// count and words, the advisories without package lists), handing the encoding to `spill`
    /// in pieces of about [`SPILL_BYTES`] (which takes them and leaves `out` empty).
    fn compact_catalog(
        &mut self,
        repository: &CompactRepository,
        spill: &mut dyn FnMut(&mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        self.preamble(
            repository.primary_source,
            repository.suppressed_diagnostics,
            &repository.diagnostics,
        );
        let catalog = &repository.catalog;
        self.str(catalog.image_text());
        for section in ImageSection::ALL {
            self.len(catalog.image_len(section));
            let mut spilled = Ok(());
            catalog.image_words(section, |word| {
                self.u32(word);
                if self.out.len() >= SPILL_BYTES && spilled.is_ok() {
                    spilled = spill(&mut self.out);
                }
            });
            spilled?;
        }
        let advisories = catalog.image_advisories();
        self.len(advisories.len());
        for advisory in advisories {
            self.advisory(advisory);
            if self.out.len() >= SPILL_BYTES {
                spill(&mut self.out)?;
            }
        }
        spill(&mut self.out)
    }

    fn catalog(&mut self, repository: &Repository) {
        self.preamble(
            repository.primary_source,
            repository.suppressed_diagnostics,
            &repository.diagnostics,
        );
        self.len(repository.packages.len());
        for package in &repository.packages {
            self.package(package);
        }
        self.len(repository.advisories.len());
        for advisory in &repository.advisories {
            self.advisory(advisory);
        }
    }

    fn diagnostic(&mut self, diagnostic: &Diagnostic) {
        self.u8(match diagnostic.document {
            DocumentKind::Repomd => 0,
            DocumentKind::Primary => 1,
            DocumentKind::PrimaryDb => 2,
            DocumentKind::Updateinfo => 3,
            DocumentKind::ReleaseMd => 4,
        });
        match diagnostic.position {
            Some(position) => {
                self.u8(1);
                self.u64(position.offset);
                self.u64(position.line);
            }
            None => self.u8(0),
        }
        self.opt_str(diagnostic.item.as_deref());
        self.str(&diagnostic.message);
    }

    fn package(&mut self, package: &Package) {
        self.nevra(&package.nevra);
        self.opt_i64(package.build_time);
        self.str(&package.location);
        self.opt_str(package.source_rpm.as_deref());
        for dependencies in [&package.requires, &package.provides] {
            self.len(dependencies.len());
            for dependency in dependencies {
                self.str(&dependency.name);
                self.u8(DepFlags::code(dependency.flags));
                match &dependency.evr {
                    Some(evr) => {
                        self.u8(1);
                        self.evr(evr);
                    }
                    None => self.u8(0),
                }
            }
        }
        match &package.checksum {
            Some(checksum) => {
                self.u8(checksum_kind_tag(checksum.kind()));
                self.out.extend_from_slice(checksum.digest());
            }
            None => self.u8(0),
        }
        self.opt_u64(package.package_size);
        self.opt_u64(package.installed_size);
    }

    fn advisory(&mut self, advisory: &Advisory) {
        self.str(&advisory.id);
        self.str(&advisory.kind);
        self.opt_str(advisory.status.as_deref());
        self.opt_str(advisory.severity.as_deref());
        self.opt_str(advisory.title.as_deref());
        self.opt_timestamp(advisory.issued);
        self.opt_timestamp(advisory.updated);
        self.len(advisory.references.len());
        for reference in &advisory.references {
            self.str(&reference.kind);
            self.str(&reference.id);
            self.opt_str(reference.href.as_deref());
            self.opt_str(reference.title.as_deref());
        }
        self.len(advisory.packages.len());
        for package in &advisory.packages {
            self.nevra(&package.nevra);
            self.opt_str(package.filename.as_deref());
            self.bool(package.reboot_suggested);
            self.opt_str(package.source_rpm.as_deref());
            self.u64(package.collection as u64);
        }
        self.opt_str(advisory.description.as_deref());
        self.bool(advisory.reboot_suggested);
        self.len(advisory.collections.len());
        for collection in &advisory.collections {
            self.opt_str(collection.short.as_deref());
            self.opt_str(collection.name.as_deref());
            match &collection.module {
                Some(module) => {
                    self.u8(1);
                    self.str(&module.name);
                    self.str(&module.stream);
                    self.u64(module.version);
                    self.opt_str(module.context.as_deref());
                    self.opt_str(module.arch.as_deref());
                }
                None => self.u8(0),
            }
        }
    }
}

fn checksum_kind_tag(kind: ChecksumKind) -> u8 {
    match kind {
        ChecksumKind::Sha1 => 1,
        ChecksumKind::Sha224 => 2,
        ChecksumKind::Sha256 => 3,
        ChecksumKind::Sha384 => 4,
        ChecksumKind::Sha512 => 5,
    }
}

// ---------------------------------------------------------------------------------------
// Decoding

/// Where and why a payload does not decode.
#[derive(Debug, Clone, Copy)]
struct Malformed {
    offset: usize,
    what: &'static str,
}

/// Decodes the payload from a buffered reader, counting what it consumed against the
/// payload length the header gives.
struct Reader<R> {
    input: R,
    at: usize,
    len: usize,
    /// The read error behind a "truncated" [`Malformed`], when there was one.
    io_error: Option<io::Error>,
}

/// Smallest encodings, to bound what a count may pre-allocate: a package is at least
/// 3 strings, an epoch, 2 strings, 2 counts, 5 tags; an advisory 2 strings, 5 tags, 2 counts,
/// 2 tags, 1 count; the rest at least one byte.
const MIN_PACKAGE: usize = 4 * 3 + 4 + 4 * 2 + 4 * 2 + 5;
const MIN_ADVISORY: usize = 4 * 2 + 5 + 4 * 2 + 2 + 4;

impl<R: BufRead> Reader<R> {
    fn error(&self, what: &'static str) -> Malformed {
        Malformed {
            offset: self.at,
            what,
        }
    }

    fn remaining(&self) -> usize {
        self.len - self.at
    }

    /// Fills `out` from the payload.
    fn fill(&mut self, out: &mut [u8]) -> Result<(), Malformed> {
        if out.len() > self.remaining() {
            return Err(self.error("a value runs past the end of the payload"));
        }
        if let Err(error) = self.input.read_exact(out) {
            if error.kind() != io::ErrorKind::UnexpectedEof {
                self.io_error = Some(error);
            }
            return Err(self.error("truncated"));
        }
        self.at += out.len();
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let mut out = [0; N];
        self.fill(&mut out)?;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.array::<1>()?[0])
    }

    fn bool(&mut self) -> Result<bool, Malformed> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.error("a flag is neither 0 nor 1")),
        }
    }

    /// A presence tag: 0 absent, 1 present.
    fn present(&mut self) -> Result<bool, Malformed> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.error("an optional value's tag is neither 0 nor 1")),
        }
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, Malformed> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A count of entries of at least `min_size` bytes each; refused when the remaining
    /// bytes cannot hold that many, so that reserving room for them is bounded by the file.
    fn count(&mut self, min_size: usize) -> Result<usize, Malformed> {
        let count = usize::try_from(self.u32()?).map_err(|_| self.error("count too large"))?;
        if count > self.remaining() / min_size.max(1) {
            return Err(self.error("count larger than the remaining bytes allow"));
        }
        Ok(count)
    }

    /// A count, then that many `u32` words of `section`, into `image` a few hundred records
    /// at a time.
    fn words_into(
        &mut self,
        section: ImageSection,
        image: &mut ImageBuilder,
    ) -> Result<(), Malformed> {
        const RECORDS: usize = 256;
        let count = self.count(4)?;
        let record = section.record_words();
        if !count.is_multiple_of(record) {
            return Err(self.error("a section of the image is not whole records"));
        }
        image.reserve(section, count);
        let mut bytes = [0u8; RECORDS * 4 * PACKAGE_WORDS];
        let mut words = [0u32; RECORDS * PACKAGE_WORDS];
        let mut left = count;
        while left > 0 {
            let chunk = left.min(RECORDS * record);
            self.fill(&mut bytes[..chunk * 4])?;
            for (word, b) in words.iter_mut().zip(bytes[..chunk * 4].chunks_exact(4)) {
                *word = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            image
                .extend(section, &words[..chunk])
                .map_err(|error| self.error(error.0))?;
            left -= chunk;
        }
        Ok(())
    }

    fn str(&mut self) -> Result<String, Malformed> {
        let len = usize::try_from(self.u32()?).map_err(|_| self.error("length too large"))?;
        if len > self.remaining() {
            return Err(self.error("a string runs past the end of the payload"));
        }
        let start = self.at;
        let mut bytes = vec![0; len];
        self.fill(&mut bytes)?;
        String::from_utf8(bytes).map_err(|_| Malformed {
            offset: start,
            what: "a string is not UTF-8",
        })
    }

    fn opt_str(&mut self) -> Result<Option<String>, Malformed> {
        if self.present()? {
            self.str().map(Some)
        } else {
            Ok(None)
        }
    }

    fn opt_u64(&mut self) -> Result<Option<u64>, Malformed> {
        if self.present()? {
            self.u64().map(Some)
        } else {
            Ok(None)
        }
    }

    fn opt_i64(&mut self) -> Result<Option<i64>, Malformed> {
        if self.present()? {
            self.i64().map(Some)
        } else {
            Ok(None)
        }
    }

    fn opt_timestamp(&mut self) -> Result<Option<Timestamp>, Malformed> {
        if !self.present()? {
            return Ok(None);
        }
        let second = self.i64()?;
        let nanosecond = i32::try_from(self.u32()?).map_err(|_| self.error("bad nanoseconds"))?;
        Timestamp::new(second, nanosecond)
            .map(Some)
            .map_err(|_| self.error("a timestamp is out of range"))
    }

    fn diagnostic(&mut self) -> Result<Diagnostic, Malformed> {
        let document = match self.u8()? {
            0 => DocumentKind::Repomd,
            1 => DocumentKind::Primary,
            2 => DocumentKind::PrimaryDb,
            3 => DocumentKind::Updateinfo,
            4 => DocumentKind::ReleaseMd,
            _ => return Err(self.error("unknown document kind")),
        };
        let position = if self.present()? {
            let offset = self.u64()?;
            let line = self.u64()?;
            Some(Position { offset, line })
        } else {
            None
        };
        let item = self.opt_str()?;
        let message = self.str()?;
        Ok(Diagnostic {
            document,
            position,
            item,
            message,
        })
    }

    /// Dependencies into `out`, reusing its entries' strings (as `package_into`).
    fn dependencies_into(&mut self, out: &mut Vec<Dependency>) -> Result<(), Malformed> {
        let count = self.count(4 + 2)?;
        out.truncate(count);
        for index in 0..count {
            if index == out.len() {
                out.push(Dependency {
                    name: String::new(),
                    flags: None,
                    evr: None,
                });
            }
            let dependency = &mut out[index];
            self.str_into(&mut dependency.name)?;
            dependency.flags = DepFlags::from_code(self.u8()?)
                .map_err(|_| self.error("unknown dependency flags"))?;
            if self.present()? {
                let evr = dependency.evr.get_or_insert_with(Evr::default);
                evr.epoch = self.u32()?;
                self.str_into(&mut evr.version)?;
                self.str_into(&mut evr.release)?;
            } else {
                dependency.evr = None;
            }
        }
        Ok(())
    }

    fn checksum(&mut self) -> Result<Option<Checksum>, Malformed> {
        let kind = match self.u8()? {
            0 => return Ok(None),
            1 => ChecksumKind::Sha1,
            2 => ChecksumKind::Sha224,
            3 => ChecksumKind::Sha256,
            4 => ChecksumKind::Sha384,
            5 => ChecksumKind::Sha512,
            _ => return Err(self.error("unknown checksum kind")),
        };
        let mut buffer = [0u8; 64];
        let digest = &mut buffer[..kind.digest_len()];
        self.fill(digest)?;
        // pw-core builds checksums from hex only; 128 hex digits fit the largest digest.
        let mut hex = [0u8; 128];
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (pair, byte) in hex.chunks_exact_mut(2).zip(digest.iter()) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        let hex = std::str::from_utf8(&hex[..digest.len() * 2])
            .map_err(|_| self.error("checksum digest"))?;
        Checksum::from_hex(kind, hex)
            .map(Some)
            .map_err(|_| self.error("checksum digest"))
    }

    /// A string into `out`, reusing its allocation.
    fn str_into(&mut self, out: &mut String) -> Result<(), Malformed> {
        let len = usize::try_from(self.u32()?).map_err(|_| self.error("length too large"))?;
        if len > self.remaining() {
            return Err(self.error("a string runs past the end of the payload"));
        }
        let start = self.at;
        let mut bytes = std::mem::take(out).into_bytes();
        bytes.clear();
        bytes.resize(len, 0);
        self.fill(&mut bytes)?;
        *out = String::from_utf8(bytes).map_err(|_| Malformed {
            offset: start,
            what: "a string is not UTF-8",
        })?;
        Ok(())
    }

    /// A package into `out`, reusing its strings: decoding a catalog into a sink that keeps
    /// no values ([`CompactCatalog`]) allocates nothing per package.
    fn package_into(&mut self, out: &mut Package) -> Result<(), Malformed> {
        self.str_into(&mut out.nevra.name)?;
        out.nevra.evr.epoch = self.u32()?;
        self.str_into(&mut out.nevra.evr.version)?;
        self.str_into(&mut out.nevra.evr.release)?;
        self.str_into(&mut out.nevra.arch)?;
        out.build_time = self.opt_i64()?;
        self.str_into(&mut out.location)?;
        out.source_rpm = self.opt_str()?;
        self.dependencies_into(&mut out.requires)?;
        self.dependencies_into(&mut out.provides)?;
        out.checksum = self.checksum()?;
        out.package_size = self.opt_u64()?;
        out.installed_size = self.opt_u64()?;
        Ok(())
    }

    /// An advisory, its listed packages into `packages` (reusing their strings): the
    /// advisory comes back with an empty package list.
    fn advisory_into(
        &mut self,
        packages: &mut Vec<AdvisoryPackage>,
    ) -> Result<Advisory, Malformed> {
        let id = self.str()?;
        let kind = self.str()?;
        let status = self.opt_str()?;
        let severity = self.opt_str()?;
        let title = self.opt_str()?;
        let issued = self.opt_timestamp()?;
        let updated = self.opt_timestamp()?;
        let count = self.count(4 * 2 + 2)?;
        let mut references = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = self.str()?;
            let id = self.str()?;
            let href = self.opt_str()?;
            let title = self.opt_str()?;
            references.push(Reference {
                kind,
                id,
                href,
                title,
            });
        }
        let count = self.count(4 * 3 + 4 + 4 + 1 + 1 + 1 + 8)?;
        packages.truncate(count);
        for index in 0..count {
            if index == packages.len() {
                packages.push(AdvisoryPackage {
                    nevra: Nevra {
                        name: String::new(),
                        evr: Evr {
                            epoch: 0,
                            version: String::new(),
                            release: String::new(),
                        },
                        arch: String::new(),
                    },
                    filename: None,
                    reboot_suggested: false,
                    source_rpm: None,
                    collection: 0,
                });
            }
            let package = &mut packages[index];
            self.str_into(&mut package.nevra.name)?;
            package.nevra.evr.epoch = self.u32()?;
            self.str_into(&mut package.nevra.evr.version)?;
            self.str_into(&mut package.nevra.evr.release)?;
            self.str_into(&mut package.nevra.arch)?;
            package.filename = self.opt_str()?;
            package.reboot_suggested = self.bool()?;
            package.source_rpm = self.opt_str()?;
            package.collection = usize::try_from(self.u64()?)
                .map_err(|_| self.error("collection index too large"))?;
        }
        let description = self.opt_str()?;
        let reboot_suggested = self.bool()?;
        let count = self.count(3)?;
        let mut collections = Vec::with_capacity(count);
        for _ in 0..count {
            let short = self.opt_str()?;
            let name = self.opt_str()?;
            let module = if self.present()? {
                let name = self.str()?;
                let stream = self.str()?;
                let version = self.u64()?;
                let context = self.opt_str()?;
                let arch = self.opt_str()?;
                Some(ModuleStream {
                    name,
                    stream,
                    version,
                    context,
                    arch,
                })
            } else {
                None
            };
            collections.push(Collection {
                short,
                name,
                module,
            });
        }
        if packages.iter().any(|p| p.collection >= collections.len()) {
            return Err(self.error("an advisory package names a collection that does not exist"));
        }
        Ok(Advisory {
            id,
            kind,
            status,
            severity,
            title,
            issued,
            updated,
            references,
            packages: Vec::new(),
            description,
            reboot_suggested,
            collections,
        })
    }
}

/// What precedes the catalog in a payload: its primary source, the number of diagnostics
/// suppressed and the diagnostics kept.
struct Preamble {
    primary_source: PrimarySource,
    suppressed_diagnostics: u64,
    diagnostics: Vec<Diagnostic>,
}

fn decode_preamble(reader: &mut Reader<impl BufRead>) -> Result<Preamble, Malformed> {
    let primary_source = match reader.u8()? {
        0 => PrimarySource::Xml,
        1 => PrimarySource::Sqlite,
        _ => return Err(reader.error("unknown primary source")),
    };
    let suppressed_diagnostics = reader.u64()?;
    let count = reader.count(1 + 1 + 1 + 4)?;
    let mut diagnostics = Vec::with_capacity(count);
    for _ in 0..count {
        diagnostics.push(reader.diagnostic()?);
    }
    Ok(Preamble {
        primary_source,
        suppressed_diagnostics,
        diagnostics,
    })
}

/// A compact load's payload (see [`Encoder::compact_catalog`]).
fn decode_compact_payload(reader: &mut Reader<impl BufRead>) -> Result<CachedCompact, Malformed> {
    let preamble = decode_preamble(reader)?;
    let mut image = ImageBuilder::new(reader.str()?);
    for section in ImageSection::ALL {
        reader.words_into(section, &mut image)?;
    }
    let count = reader.count(MIN_ADVISORY)?;
    let mut advisories = Vec::with_capacity(count);
    let mut listed = Vec::new();
    for _ in 0..count {
        advisories.push(reader.advisory_into(&mut listed)?);
        if !listed.is_empty() {
            return Err(reader.error("an advisory holds packages outside the listings"));
        }
    }
    if reader.remaining() != 0 {
        return Err(reader.error("bytes after the last advisory"));
    }
    let catalog = image
        .finish(advisories)
        .map_err(|error| reader.error(error.0))?;
    Ok(CachedCompact {
        primary_source: preamble.primary_source,
        catalog,
        diagnostics: preamble.diagnostics,
        suppressed_diagnostics: preamble.suppressed_diagnostics,
    })
}

fn decode_payload_from<S: CatalogSink + Default>(
    reader: &mut Reader<impl BufRead>,
) -> Result<Decoded<S>, Malformed> {
    let Preamble {
        primary_source,
        suppressed_diagnostics,
        diagnostics,
    } = decode_preamble(reader)?;
    let mut sink = S::default();
    let count = reader.count(MIN_PACKAGE)?;
    sink.reserve_packages(count);
    let mut scratch = Package::new(
        Nevra {
            name: String::new(),
            evr: Evr {
                epoch: 0,
                version: String::new(),
                release: String::new(),
            },
            arch: String::new(),
        },
        String::new(),
    );
    for _ in 0..count {
        reader.package_into(&mut scratch)?;
        sink.package_ref(&scratch);
    }
    let count = reader.count(MIN_ADVISORY)?;
    sink.reserve_advisories(count);
    let mut listed = Vec::new();
    for _ in 0..count {
        let advisory = reader.advisory_into(&mut listed)?;
        sink.advisory_parts(advisory, &listed);
    }
    if reader.remaining() != 0 {
        return Err(reader.error("bytes after the last advisory"));
    }
    Ok(Decoded {
        primary_source,
        sink,
        diagnostics,
        suppressed_diagnostics,
    })
}

/// Decodes a payload alone (no header, no checksum).
#[cfg(test)]
fn decode_payload(payload: &[u8]) -> Result<CachedCatalog, Malformed> {
    decode_payload_from::<Collect>(&mut Reader {
        input: payload,
        at: 0,
        len: payload.len(),
        io_error: None,
    })
    .map(Decoded::into_cached)
}

/// Decodes a compact load's payload alone (no header, no checksum).
#[cfg(test)]
fn decode_compact_payload_bytes(payload: &[u8]) -> Result<CachedCompact, Malformed> {
    decode_compact_payload(&mut Reader {
        input: payload,
        at: 0,
        len: payload.len(),
        io_error: None,
    })
}

#[cfg(test)]
mod tests {
    //! The decoder on payloads whose checksum is right but whose content is not: it must
    //! refuse them (or decode something), never panic.

    use super::*;

    fn fixture(name: &str) -> Repository {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../pw-core/test_data/repodata")
            .join(name);
        crate::load_dir(&path).unwrap()
    }

    fn payload(repository: &Repository) -> Vec<u8> {
        let mut encoder = Encoder::default();
        encoder.catalog(repository);
        encoder.out
    }

    #[test]
    fn every_truncated_payload_is_refused() {
        for name in ["al2", "al2023", "rhel8"] {
            let payload = payload(&fixture(name));
            for len in 0..payload.len() {
                assert!(
                    decode_payload(&payload[..len]).is_err(),
                    "{name}: {len} of {} bytes decoded",
                    payload.len()
                );
            }
            assert!(decode_payload(&payload).is_ok());
            let mut longer = payload.clone();
            longer.push(0);
            assert!(decode_payload(&longer).is_err());
        }
    }

    #[test]
    fn any_changed_byte_is_refused_or_decoded_without_panic() {
        let payload = payload(&fixture("rhel8"));
        for index in 0..payload.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut changed = payload.clone();
                changed[index] ^= flip;
                let _ = decode_payload(&changed);
            }
        }
    }

    /// A compact load of fixture `name` with dependencies, and its payload.
    fn compact_payload(name: &str) -> (CompactRepository, Vec<u8>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../pw-core/test_data/repodata")
            .join(name);
        let options = LoadOptions {
            dependencies: true,
            ..LoadOptions::default()
        };
        let cache = tempfile::tempdir().unwrap();
        let repository = crate::load_dir_compact_cached(&path, &options, &cache.path().join("c"))
            .unwrap()
            .repository;
        let mut encoder = Encoder::default();
        let mut payload = Vec::new();
        encoder
            .compact_catalog(&repository, &mut |piece: &mut Vec<u8>| {
                payload.append(piece);
                Ok(())
            })
            .unwrap();
        (repository, payload)
    }

    #[test]
    fn a_compact_payload_decodes_to_its_catalog_and_every_truncation_is_refused() {
        for name in ["al2", "rhel8"] {
            let (repository, payload) = compact_payload(name);
            let decoded = decode_compact_payload_bytes(&payload).unwrap();
            assert_eq!(
                decoded.catalog.materialize(|_| true),
                repository.catalog.materialize(|_| true)
            );
            assert!(decoded.catalog.dependency_count() > 0);
            for len in 0..payload.len() {
                assert!(
                    decode_compact_payload_bytes(&payload[..len]).is_err(),
                    "{name}: {len} of {} bytes decoded",
                    payload.len()
                );
            }
            let mut longer = payload.clone();
            longer.push(0);
            assert!(decode_compact_payload_bytes(&longer).is_err());
        }
    }

    #[test]
    fn any_changed_byte_of_a_compact_payload_is_refused_or_decoded_without_panic() {
        let (_, payload) = compact_payload("rhel8");
        for index in 0..payload.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut changed = payload.clone();
                changed[index] ^= flip;
                if let Ok(decoded) = decode_compact_payload_bytes(&changed) {
                    let _ = decoded.catalog.materialize(|_| true);
                }
            }
        }
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        // A count of 4 billion packages in a few bytes.
        let mut payload = vec![0u8];
        payload.extend_from_slice(&0u64.to_le_bytes());
        payload.extend_from_slice(&0u32.to_le_bytes());
        payload.extend_from_slice(&u32::MAX.to_le_bytes());
        let error = decode_payload(&payload).unwrap_err();
        assert_eq!(error.what, "count larger than the remaining bytes allow");
    }
}
