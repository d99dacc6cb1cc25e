//! A repository's catalog held compactly, for a host that evaluates against it.
//!
//! An Amazon Linux 2 sized repository (58,077 packages, 3,000 advisories listing 28,754 package
//! versions) parsed into [`Package`] and [`Advisory`] values takes some 50 MB: every name,
//! version, release and arch is its own `String`. A host needs the full values only for the
//! names it has installed; for every other name the evaluation needs no more than to count its
//! approved versions (NotApplicable). So a [`CompactCatalog`] keeps each distinct string once
//! ([`Strings`]) and every package and advisory listing as a record of string ids, and hands
//! out ordinary values for any set of names on demand ([`CompactCatalog::materialize`]), in the
//! order the metadata gave them. The evaluation itself never sees the compact form: the same
//! evaluation code decides (`Snapshot::build`, `Snapshot::count`), on the values made (see the
//! agent's `docs/agent.md`, "Memory").
//!
//! What it keeps of a package: its NEVRA, build time, and the provides and requires the load
//! kept (a load for a baseline that blocks rejected packages keeps them): each dependency is a
//! word, its name's id, and a versioned one a second word: its version's id (comparison and EVR,
//! each distinct one stored once), or a mark for "equal to the package's own EVR", what every
//! package provides of itself. Of an advisory: everything the load kept, its package list as records (NEVRA, reboot
//! flag, collection). Package locations, checksums, sizes and file names are not kept.
//!
//! For BLOCK's dependency check, [`CompactCatalog::providers_of`] names the packages that
//! provide a set of capabilities, so a host can make values of its installed names and of the
//! providers their requirements name, and of nothing else.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::nevra::Nevra;
use crate::repo::{Advisory, AdvisoryPackage, DepFlags, Dependency, Package};
use crate::version::rpm::Evr;

/// Distinct strings, each stored once in one buffer, named by a `u32` id.
#[derive(Default)]
pub struct Strings {
    text: String,
    /// The end offset of each string in `text`; string `i` starts where `i - 1` ends.
    ends: Vec<u32>,
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for Strings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strings")
            .field("count", &self.ends.len())
            .field("bytes", &self.text.len())
            .finish()
    }
}

impl Strings {
    /// The id of `text`, adding it when new.
    ///
    /// # Panics
    /// After 2^32 distinct strings (a repository has a few hundred thousand).
    pub fn intern(&mut self, text: &str) -> u32 {
        if self.table.len() < self.ends.len() {
            // Read from an image, which leaves the table out until a string is added.
            self.rebuild_table();
        }
        let hash = self.hasher.hash_one(text);
        let (all, ends) = (&self.text, &self.ends);
        if let Some(&id) = self.table.find(hash, |&id| span(all, ends, id) == text) {
            return id;
        }
        let id = u32::try_from(self.ends.len()).expect("fewer than 2^32 distinct strings");
        self.text.push_str(text);
        self.ends
            .push(u32::try_from(self.text.len()).expect("less than 4 GiB of strings"));
        let (all, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table
            .insert_unique(hash, id, |&id| hasher.hash_one(span(all, ends, id)));
        id
    }

    /// The id of `text`, when it is stored (a search through every string when the table was
    /// left out: a catalog read from an image).
    pub fn find(&self, text: &str) -> Option<u32> {
        if self.table.len() < self.ends.len() {
            return (0..word(self.ends.len())).find(|&id| self.get(id) == text);
        }
        let hash = self.hasher.hash_one(text);
        let (all, ends) = (&self.text, &self.ends);
        self.table
            .find(hash, |&id| span(all, ends, id) == text)
            .copied()
    }

    /// The string `id` names.
    ///
    /// # Panics
    /// When `id` was not handed out by this table.
    pub fn get(&self, id: u32) -> &str {
        span(&self.text, &self.ends, id)
    }

    /// The number of distinct strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes held (text, offsets and the lookup table), for measurements.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * size_of::<u32>()
            + self.table.capacity() * (size_of::<u32>() + 1)
    }
}

fn span<'a>(text: &'a str, ends: &[u32], id: u32) -> &'a str {
    let id = id as usize;
    let start = if id == 0 { 0 } else { ends[id - 1] as usize };
    &text[start..ends[id] as usize]
}

/// The class of each name of a [`CompactCatalog`], by string id.
#[derive(Debug, Clone)]
pub struct NameClasses(Vec<u32>);

/// Not a name, or not asked yet.
const UNASKED: u32 = u32::MAX;
/// A name in no class.
const NO_CLASS: u32 = u32::MAX - 1;

/// A NEVRA as string ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ids {
    name: u32,
    epoch: u32,
    version: u32,
    release: u32,
    arch: u32,
}

#[derive(Debug, Clone, Copy)]
struct CompactPackage {
    ids: Ids,
    build_time: BuildTime,
    /// The end in `dependencies` of this package's requires, then of its provides; they start
    /// where the previous package's provides end.
    requires_end: u32,
    provides_end: u32,
}

/// An `Option<i64>` in two 4-aligned halves: a record of `u32`s then needs no padding (36
/// bytes a package instead of 48). `i64::MIN`, which no build time is, stands for `None`.
#[derive(Debug, Clone, Copy)]
struct BuildTime([u32; 2]);

impl BuildTime {
    fn new(time: Option<i64>) -> BuildTime {
        let bits = time.unwrap_or(i64::MIN) as u64;
        BuildTime([bits as u32, (bits >> 32) as u32])
    }

    fn get(self) -> Option<i64> {
        let time = (u64::from(self.0[1]) << 32 | u64::from(self.0[0])) as i64;
        (time != i64::MIN).then_some(time)
    }
}

/// In `dependencies`, a dependency is its name's string id; when the id has this bit set, the
/// dependency has a comparison or a version, and the next word says which: an index into
/// `dependency_versions`, or [`OWN_EVR`].
const VERSIONED: u32 = 1 << 31;

/// The version word of `= the package's own EVR` (a package's provides of itself).
const OWN_EVR: u32 = u32::MAX;

/// The comparison and version of a dependency, as ids (a few thousand distinct ones serve
/// hundreds of thousands of dependencies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct DependencyVersion {
    flags: Option<DepFlags>,
    /// Epoch, version id and release id.
    evr: Option<(u32, u32, u32)>,
}

#[derive(Debug, Clone, Copy)]
struct Listing {
    ids: Ids,
    collection: u32,
    reboot_suggested: bool,
}

/// Packages and advisories of one repository, compactly (see the module documentation).
#[derive(Debug, Default)]
pub struct CompactCatalog {
    strings: Strings,
    packages: Vec<CompactPackage>,
    /// Every advisory with its `packages` emptied: they are in `listings`.
    advisories: Vec<Advisory>,
    /// The end index in `listings` of each advisory's package list.
    listing_ends: Vec<usize>,
    listings: Vec<Listing>,
    /// Every package's requires, then provides, as words (see [`VERSIONED`]).
    dependencies: Vec<u32>,
    dependency_count: usize,
    dependency_versions: Vec<DependencyVersion>,
    /// Finds a version's index in `dependency_versions` while packages are pushed; emptied by
    /// [`CompactCatalog::shrink_to_fit`] (a later push stores versions again, still right).
    version_ids: HashTable<u32>,
    version_hasher: foldhash::fast::RandomState,
}

impl CompactCatalog {
    pub fn new() -> CompactCatalog {
        CompactCatalog::default()
    }

    fn ids(&mut self, nevra: &Nevra) -> Ids {
        Ids {
            name: self.strings.intern(&nevra.name),
            epoch: nevra.evr.epoch,
            version: self.strings.intern(&nevra.evr.version),
            release: self.strings.intern(&nevra.evr.release),
            arch: self.strings.intern(&nevra.arch),
        }
    }

    fn nevra(&self, ids: Ids) -> Nevra {
        Nevra {
            name: self.strings.get(ids.name).to_owned(),
            evr: Evr {
                epoch: ids.epoch,
                version: self.strings.get(ids.version).to_owned(),
                release: self.strings.get(ids.release).to_owned(),
            },
            arch: self.strings.get(ids.arch).to_owned(),
        }
    }

    /// Adds a package: its NEVRA, build time, requires and provides (see the module
    /// documentation).
    ///
    /// # Panics
    /// After 2^31 distinct strings, or 2^32 words of dependencies, in all (a repository has a
    /// few hundred thousand).
    pub fn push_package(&mut self, package: &Package) {
        let ids = self.ids(&package.nevra);
        for dependency in &package.requires {
            self.push_dependency(dependency, ids);
        }
        let requires_end = self.dependencies_end();
        for dependency in &package.provides {
            self.push_dependency(dependency, ids);
        }
        self.packages.push(CompactPackage {
            ids,
            build_time: BuildTime::new(package.build_time),
            requires_end,
            provides_end: self.dependencies_end(),
        });
    }

    fn dependencies_end(&self) -> u32 {
        u32::try_from(self.dependencies.len()).expect("fewer than 2^32 dependency words")
    }

    fn push_dependency(&mut self, dependency: &Dependency, own: Ids) {
        let name = self.strings.intern(&dependency.name);
        assert!(name < VERSIONED, "fewer than 2^31 distinct strings");
        self.dependency_count += 1;
        if dependency.flags.is_none() && dependency.evr.is_none() {
            self.dependencies.push(name);
            return;
        }
        let key = DependencyVersion {
            flags: dependency.flags,
            evr: dependency.evr.as_ref().map(|evr| {
                (
                    evr.epoch,
                    self.strings.intern(&evr.version),
                    self.strings.intern(&evr.release),
                )
            }),
        };
        let version = if key.flags == Some(DepFlags::Eq)
            && key.evr == Some((own.epoch, own.version, own.release))
        {
            OWN_EVR
        } else {
            let hash = self.version_hasher.hash_one(key);
            let versions = &self.dependency_versions;
            match self
                .version_ids
                .find(hash, |&id| versions[id as usize] == key)
            {
                Some(&id) => id,
                None => {
                    let id = u32::try_from(versions.len())
                        .ok()
                        .filter(|&id| id < OWN_EVR)
                        .expect("fewer than 2^32 - 1 dependency versions");
                    self.dependency_versions.push(key);
                    let (versions, hasher) = (&self.dependency_versions, &self.version_hasher);
                    self.version_ids
                        .insert_unique(hash, id, |&id| hasher.hash_one(versions[id as usize]));
                    id
                }
            }
        };
        self.dependencies.extend([name | VERSIONED, version]);
    }

    /// The dependencies in `words` (a package's requires or provides), as (name id, version
    /// word), the version word of an unversioned one `None`.
    fn dependency_words(words: &[u32]) -> impl Iterator<Item = (u32, Option<u32>)> + '_ {
        let mut words = words.iter();
        std::iter::from_fn(move || {
            let &word = words.next()?;
            Some(if word & VERSIONED == 0 {
                (word, None)
            } else {
                (word & !VERSIONED, words.next().copied())
            })
        })
    }

    fn dependency(&self, name: u32, version: Option<u32>, own: Ids) -> Dependency {
        let version = match version {
            None => DependencyVersion {
                flags: None,
                evr: None,
            },
            Some(OWN_EVR) => DependencyVersion {
                flags: Some(DepFlags::Eq),
                evr: Some((own.epoch, own.version, own.release)),
            },
            Some(index) => self.dependency_versions[index as usize],
        };
        Dependency {
            name: self.strings.get(name).to_owned(),
            flags: version.flags,
            evr: version.evr.map(|(epoch, version, release)| Evr {
                epoch,
                version: self.strings.get(version).to_owned(),
                release: self.strings.get(release).to_owned(),
            }),
        }
    }

    /// Where package `index`'s requires and provides are in `dependencies`.
    fn dependency_ranges(&self, index: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let start = index
            .checked_sub(1)
            .map_or(0, |previous| self.packages[previous].provides_end as usize);
        let record = &self.packages[index];
        let (requires_end, provides_end) =
            (record.requires_end as usize, record.provides_end as usize);
        (start..requires_end, requires_end..provides_end)
    }

    /// Adds an advisory.
    pub fn push_advisory(&mut self, mut advisory: Advisory) {
        let packages = std::mem::take(&mut advisory.packages);
        self.push_advisory_listing(advisory, &packages);
    }

    /// Adds an advisory whose package list is `packages` (its own is ignored).
    pub fn push_advisory_listing(&mut self, mut advisory: Advisory, packages: &[AdvisoryPackage]) {
        advisory.packages = Vec::new();
        for listed in packages {
            let ids = self.ids(&listed.nevra);
            self.listings.push(Listing {
                ids,
                collection: u32::try_from(listed.collection).unwrap_or(u32::MAX),
                reboot_suggested: listed.reboot_suggested,
            });
        }
        self.listing_ends.push(self.listings.len());
        self.advisories.push(advisory);
    }

    /// Returns unused capacity once everything is pushed, and drops the lookup tables of strings
    /// and versions (a later push builds them again).
    pub fn shrink_to_fit(&mut self) {
        self.packages.shrink_to_fit();
        self.advisories.shrink_to_fit();
        self.listing_ends.shrink_to_fit();
        self.listings.shrink_to_fit();
        self.dependencies.shrink_to_fit();
        self.dependency_versions.shrink_to_fit();
        self.version_ids = HashTable::new();
        self.strings.text.shrink_to_fit();
        self.strings.ends.shrink_to_fit();
        // Built again when a string is added after all.
        self.strings.table = HashTable::new();
    }

    pub fn package_count(&self) -> usize {
        self.packages.len()
    }

    pub fn advisory_count(&self) -> usize {
        self.advisories.len()
    }

    /// The number of package versions the advisories list.
    pub fn listing_count(&self) -> usize {
        self.listings.len()
    }

    /// The name of every package, in order (with repeats).
    pub fn package_names(&self) -> impl Iterator<Item = &str> {
        self.packages.iter().map(|p| self.strings.get(p.ids.name))
    }

    /// The name of every package version an advisory lists, in order (with repeats).
    pub fn listed_names(&self) -> impl Iterator<Item = &str> {
        self.listings.iter().map(|l| self.strings.get(l.ids.name))
    }

    /// The number of provides and requires kept, of every package.
    pub fn dependency_count(&self) -> usize {
        self.dependency_count
    }

    /// Package `index` as a value.
    pub fn package(&self, index: usize) -> Package {
        self.package_with(index, true)
    }

    /// Package `index` as a value, with its provides and requires or without.
    fn package_with(&self, index: usize, dependencies: bool) -> Package {
        let record = self.packages[index];
        let mut package = Package::new(self.nevra(record.ids), String::new());
        package.build_time = record.build_time.get();
        if !dependencies {
            return package;
        }
        let (requires, provides) = self.dependency_ranges(index);
        let values = |range: std::ops::Range<usize>| {
            Self::dependency_words(&self.dependencies[range])
                .map(|(name, version)| self.dependency(name, version, record.ids))
                .collect()
        };
        package.requires = values(requires);
        package.provides = values(provides);
        package
    }

    /// The name of every package that provides one of `capabilities`, by its name or by one of
    /// its provides, once each, in the catalog's order: the providers BLOCK's dependency check
    /// looks at (`Snapshot::build` indexes a package under its name and its provides).
    pub fn providers_of<'a>(&self, capabilities: impl IntoIterator<Item = &'a str>) -> Vec<&str> {
        // One pass over the strings rather than a lookup table: a catalog read from an image
        // holds none (1.3 MB for an Amazon Linux 2 sized repository).
        let capabilities: hashbrown::HashSet<&str, foldhash::fast::RandomState> =
            capabilities.into_iter().collect();
        if capabilities.is_empty() {
            return Vec::new();
        }
        let wanted: Vec<bool> = (0..word(self.strings.len()))
            .map(|id| capabilities.contains(self.strings.get(id)))
            .collect();
        if !wanted.contains(&true) {
            return Vec::new();
        }
        let mut named = vec![false; self.strings.len()];
        let mut names = Vec::new();
        for (index, record) in self.packages.iter().enumerate() {
            let name = record.ids.name as usize;
            if named[name] {
                continue;
            }
            let (_, provides) = self.dependency_ranges(index);
            if wanted[name]
                || Self::dependency_words(&self.dependencies[provides])
                    .any(|(provide, _)| wanted[provide as usize])
            {
                named[name] = true;
                names.push(self.strings.get(record.ids.name));
            }
        }
        names
    }

    /// Advisory `index` as a value, with every package it lists.
    pub fn advisory(&self, index: usize) -> Advisory {
        self.advisory_with(index, |_| true)
            .unwrap_or_else(|| self.advisories[index].clone())
    }

    /// Advisory `index` with the packages `keep` selects by name; `None` when it selects none
    /// of them (an advisory that lists packages).
    fn advisory_with(&self, index: usize, mut keep: impl FnMut(u32) -> bool) -> Option<Advisory> {
        let start = if index == 0 {
            0
        } else {
            self.listing_ends[index - 1]
        };
        let listed = &self.listings[start..self.listing_ends[index]];
        let packages: Vec<AdvisoryPackage> = listed
            .iter()
            .filter(|l| keep(l.ids.name))
            .map(|l| AdvisoryPackage {
                nevra: self.nevra(l.ids),
                filename: None,
                reboot_suggested: l.reboot_suggested,
                source_rpm: None,
                collection: l.collection as usize,
            })
            .collect();
        if packages.is_empty() && !listed.is_empty() {
            return None;
        }
        Some(Advisory {
            packages,
            ..self.advisories[index].clone()
        })
    }

    /// The packages and advisories of the names `keep` selects, as values, in the catalog's
    /// order. An advisory comes with the packages it lists of those names, and not at all
    /// when it lists none of them (an advisory without packages always comes). `keep` is
    /// asked once per distinct name.
    pub fn materialize(&self, mut keep: impl FnMut(&str) -> bool) -> (Vec<Package>, Vec<Advisory>) {
        let classes = self.classify_names(|name| keep(name).then_some(0));
        self.materialize_class(&classes, 0, true)
    }

    /// Puts every name of the catalog (of its packages and of its advisories' listings) in
    /// the class `classify` gives it, or in none; asked once per distinct name. With
    /// [`CompactCatalog::materialize_class`], a catalog is made into values part by part
    /// without asking about each name again.
    pub fn classify_names(&self, mut classify: impl FnMut(&str) -> Option<u32>) -> NameClasses {
        let mut classes = vec![UNASKED; self.strings.len()];
        let names = self.packages.iter().map(|p| p.ids.name);
        for id in names.chain(self.listings.iter().map(|l| l.ids.name)) {
            let slot = &mut classes[id as usize];
            if *slot == UNASKED {
                *slot = classify(self.strings.get(id))
                    .filter(|class| *class < NO_CLASS)
                    .unwrap_or(NO_CLASS);
            }
        }
        NameClasses(classes)
    }

    /// [`CompactCatalog::materialize`] of the names in `class`; the packages without their
    /// provides and requires unless `dependencies` (counting approvals needs none of them).
    pub fn materialize_class(
        &self,
        classes: &NameClasses,
        class: u32,
        dependencies: bool,
    ) -> (Vec<Package>, Vec<Advisory>) {
        let in_class = |id: u32| classes.0[id as usize] == class;
        let packages = self
            .packages
            .iter()
            .enumerate()
            .filter(|(_, p)| in_class(p.ids.name))
            .map(|(i, _)| self.package_with(i, dependencies))
            .collect();
        let advisories = (0..self.advisories.len())
            .filter_map(|i| self.advisory_with(i, in_class))
            .collect();
        (packages, advisories)
    }

    /// Room for `count` more packages.
    pub fn reserve_packages(&mut self, count: usize) {
        self.packages.reserve_exact(count);
    }

    /// Bytes held, approximately (records, strings, advisories without their strings), for
    /// measurements.
    pub fn heap_bytes(&self) -> usize {
        self.strings.heap_bytes()
            + self.packages.capacity() * size_of::<CompactPackage>()
            + self.listings.capacity() * size_of::<Listing>()
            + self.listing_ends.capacity() * size_of::<usize>()
            + self.advisories.capacity() * size_of::<Advisory>()
            + self.dependencies.capacity() * size_of::<u32>()
            + self.dependency_versions.capacity() * size_of::<DependencyVersion>()
    }
}

/// A part of a catalog's image, in the order an image holds them. A catalog's image is the
/// arrays it is made of: the text of its strings, these sections as 32-bit words, and its
/// advisories without their package lists (those are the listings). It is what a file holds
/// of a catalog, so that reading one back reads its arrays rather than interning every string
/// again: [`CompactCatalog::image_words`] writes one, [`ImageBuilder`] reads one back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSection {
    /// The end offset in the text of each string.
    StringEnds,
    /// [`PACKAGE_WORDS`] a package: name, epoch, version, release, arch, the build time's two
    /// halves, the ends of its requires and of its provides.
    Packages,
    /// Every package's requires, then provides, as held.
    Dependencies,
    /// [`VERSION_WORDS`] a dependency version: comparison (0 none, 1 `=`, 2 `<`, 3 `<=`,
    /// 4 `>`, 5 `>=`), whether it has an EVR (0 or 1), epoch, version and release.
    DependencyVersions,
    /// [`LISTING_WORDS`] an advisory listing: name, epoch, version, release, arch,
    /// collection, reboot flag (0 or 1).
    Listings,
    /// The end in the listings of each advisory's package list.
    ListingEnds,
}

impl ImageSection {
    /// The words of one record of the section.
    pub fn record_words(self) -> usize {
        match self {
            ImageSection::Packages => PACKAGE_WORDS,
            ImageSection::DependencyVersions => VERSION_WORDS,
            ImageSection::Listings => LISTING_WORDS,
            ImageSection::StringEnds | ImageSection::Dependencies | ImageSection::ListingEnds => 1,
        }
    }

    pub const ALL: [ImageSection; 6] = [
        ImageSection::StringEnds,
        ImageSection::Packages,
        ImageSection::Dependencies,
        ImageSection::DependencyVersions,
        ImageSection::Listings,
        ImageSection::ListingEnds,
    ];
}

/// Words a package takes in [`ImageSection::Packages`].
pub const PACKAGE_WORDS: usize = 9;
/// Words a dependency version takes in [`ImageSection::DependencyVersions`].
pub const VERSION_WORDS: usize = 5;
/// Words a listing takes in [`ImageSection::Listings`].
pub const LISTING_WORDS: usize = 7;

/// Why an image is not a catalog ([`ImageBuilder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid compact catalog image: {0}")]
pub struct InvalidImage(pub &'static str);

fn flags_word(flags: Option<DepFlags>) -> u32 {
    u32::from(DepFlags::code(flags))
}

fn flags_of(word: u32) -> Result<Option<DepFlags>, InvalidImage> {
    u8::try_from(word)
        .ok()
        .and_then(|code| DepFlags::from_code(code).ok())
        .ok_or(InvalidImage("a dependency's comparison is not 0 to 5"))
}

fn flag_of(word: u32, what: &'static str) -> Result<bool, InvalidImage> {
    match word {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(InvalidImage(what)),
    }
}

/// A `usize` offset or index as a word; an image of more than 4 GiB of text, or 4 billion
/// listings, is beyond any repository (the writer would refuse the file as too long first).
fn word(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl CompactCatalog {
    /// The text of every string, one after the other ([`ImageSection::StringEnds`] splits it).
    pub fn image_text(&self) -> &str {
        &self.strings.text
    }

    /// The number of words in `section`.
    pub fn image_len(&self, section: ImageSection) -> usize {
        match section {
            ImageSection::StringEnds => self.strings.ends.len(),
            ImageSection::Packages => self.packages.len() * PACKAGE_WORDS,
            ImageSection::Dependencies => self.dependencies.len(),
            ImageSection::DependencyVersions => self.dependency_versions.len() * VERSION_WORDS,
            ImageSection::Listings => self.listings.len() * LISTING_WORDS,
            ImageSection::ListingEnds => self.listing_ends.len(),
        }
    }

    /// Hands each word of `section` to `emit`, in order.
    pub fn image_words(&self, section: ImageSection, mut emit: impl FnMut(u32)) {
        let ids = |ids: Ids| [ids.name, ids.epoch, ids.version, ids.release, ids.arch];
        match section {
            ImageSection::StringEnds => self.strings.ends.iter().copied().for_each(emit),
            ImageSection::Packages => {
                for p in &self.packages {
                    ids(p.ids)
                        .into_iter()
                        .chain(p.build_time.0)
                        .chain([p.requires_end, p.provides_end])
                        .for_each(&mut emit);
                }
            }
            ImageSection::Dependencies => self.dependencies.iter().copied().for_each(emit),
            ImageSection::DependencyVersions => {
                for version in &self.dependency_versions {
                    let (epoch, v, r) = version.evr.unwrap_or((0, 0, 0));
                    [
                        flags_word(version.flags),
                        u32::from(version.evr.is_some()),
                        epoch,
                        v,
                        r,
                    ]
                    .into_iter()
                    .for_each(&mut emit);
                }
            }
            ImageSection::Listings => {
                for l in &self.listings {
                    ids(l.ids)
                        .into_iter()
                        .chain([l.collection, u32::from(l.reboot_suggested)])
                        .for_each(&mut emit);
                }
            }
            ImageSection::ListingEnds => self.listing_ends.iter().for_each(|&end| emit(word(end))),
        }
    }

    /// The advisories, without their package lists (see [`ImageSection`]).
    pub fn image_advisories(&self) -> &[Advisory] {
        &self.advisories
    }
}

/// Builds the [`CompactCatalog`] an image holds from its text and its sections' words, given
/// in [`ImageSection::ALL`]'s order, each in as many pieces of whole records as the reader
/// likes: no section is held twice, as words and as records, and the strings' lookup table is
/// left out until a string is added (finding one is a search; nothing an agent does after a
/// load adds or finds one but [`CompactCatalog::providers_of`], which passes over every string
/// once). Every string id, range, version
/// index and flag is checked, so a catalog built from an image hands out values as one pushed
/// would, and a damaged image is an [`InvalidImage`], never a panic.
#[derive(Debug)]
pub struct ImageBuilder {
    catalog: CompactCatalog,
    /// The index in [`ImageSection::ALL`] of the section last given.
    section: usize,
}

impl ImageBuilder {
    /// A builder for the image whose strings' text is `text`.
    pub fn new(text: String) -> ImageBuilder {
        ImageBuilder {
            catalog: CompactCatalog {
                strings: Strings {
                    text,
                    ..Strings::default()
                },
                ..CompactCatalog::default()
            },
            section: 0,
        }
    }

    /// Makes room for `words` more words of `section` (a reader that knows a section's length
    /// reserves it exactly, so the catalog holds no spare room).
    pub fn reserve(&mut self, section: ImageSection, words: usize) {
        let records = words / section.record_words();
        let catalog = &mut self.catalog;
        match section {
            ImageSection::StringEnds => catalog.strings.ends.reserve_exact(records),
            ImageSection::Packages => catalog.packages.reserve_exact(records),
            ImageSection::Dependencies => catalog.dependencies.reserve_exact(records),
            ImageSection::DependencyVersions => {
                catalog.dependency_versions.reserve_exact(records);
            }
            ImageSection::Listings => catalog.listings.reserve_exact(records),
            ImageSection::ListingEnds => catalog.listing_ends.reserve_exact(records),
        }
    }

    /// Adds `words`, whole records of `section`.
    pub fn extend(&mut self, section: ImageSection, words: &[u32]) -> Result<(), InvalidImage> {
        let index = ImageSection::ALL
            .iter()
            .position(|&s| s == section)
            .unwrap_or(0);
        if index < self.section {
            return Err(InvalidImage(
                "a section comes after the one that follows it",
            ));
        }
        self.section = index;
        if !words.len().is_multiple_of(section.record_words()) {
            return Err(InvalidImage("a section is not whole records"));
        }
        let catalog = &mut self.catalog;
        let count = catalog.strings.ends.len();
        let id = |word: u32| -> Result<u32, InvalidImage> {
            if (word as usize) < count {
                Ok(word)
            } else {
                Err(InvalidImage("a string id is out of range"))
            }
        };
        let ids_of = |w: &[u32]| -> Result<Ids, InvalidImage> {
            Ok(Ids {
                name: id(w[0])?,
                epoch: w[1],
                version: id(w[2])?,
                release: id(w[3])?,
                arch: id(w[4])?,
            })
        };
        match section {
            ImageSection::StringEnds => {
                let text = &catalog.strings.text;
                let ends = &mut catalog.strings.ends;
                for &end in words {
                    let start = ends.last().copied().unwrap_or(0);
                    if end < start
                        || end as usize > text.len()
                        || !text.is_char_boundary(end as usize)
                    {
                        return Err(InvalidImage(
                            "a string's end is out of order or inside a character",
                        ));
                    }
                    ends.push(end);
                }
                if ends.len() >= VERSIONED as usize {
                    return Err(InvalidImage("more strings than dependency words can name"));
                }
            }
            ImageSection::Packages => {
                for w in words.chunks_exact(PACKAGE_WORDS) {
                    catalog.packages.push(CompactPackage {
                        ids: ids_of(w)?,
                        build_time: BuildTime([w[5], w[6]]),
                        requires_end: w[7],
                        provides_end: w[8],
                    });
                }
            }
            ImageSection::Dependencies => catalog.dependencies.extend_from_slice(words),
            ImageSection::DependencyVersions => {
                for w in words.chunks_exact(VERSION_WORDS) {
                    let flags = flags_of(w[0])?;
                    let evr = if flag_of(w[1], "a dependency version's EVR flag is not 0 or 1")? {
                        Some((w[2], id(w[3])?, id(w[4])?))
                    } else if w[2..] == [0, 0, 0] {
                        None
                    } else {
                        return Err(InvalidImage("a dependency version without an EVR has one"));
                    };
                    catalog
                        .dependency_versions
                        .push(DependencyVersion { flags, evr });
                }
            }
            ImageSection::Listings => {
                for w in words.chunks_exact(LISTING_WORDS) {
                    catalog.listings.push(Listing {
                        ids: ids_of(w)?,
                        collection: w[5],
                        reboot_suggested: flag_of(w[6], "a listing's reboot flag is not 0 or 1")?,
                    });
                }
            }
            ImageSection::ListingEnds => catalog
                .listing_ends
                .extend(words.iter().map(|&end| end as usize)),
        }
        Ok(())
    }

    /// The catalog, with `advisories` (without their package lists), once the ranges between
    /// the sections are checked.
    pub fn finish(self, advisories: Vec<Advisory>) -> Result<CompactCatalog, InvalidImage> {
        let mut catalog = self.catalog;
        if catalog.strings.ends.last().map_or(0, |&end| end as usize) != catalog.strings.text.len()
        {
            return Err(InvalidImage("text follows the last string"));
        }
        let dependencies = &catalog.dependencies;
        let (count, versions) = (
            catalog.strings.ends.len(),
            catalog.dependency_versions.len(),
        );
        let mut dependency_count = 0;
        // Every word of a range is a name id, or a versioned name id and then its version.
        let mut check_range = |words: &[u32]| -> Result<(), InvalidImage> {
            let mut words = words.iter();
            while let Some(&word) = words.next() {
                if (word & !VERSIONED) as usize >= count {
                    return Err(InvalidImage("a string id is out of range"));
                }
                dependency_count += 1;
                if word & VERSIONED != 0 {
                    match words.next() {
                        Some(&OWN_EVR) => {}
                        Some(&index) if (index as usize) < versions => {}
                        Some(_) => {
                            return Err(InvalidImage("a dependency version index is out of range"));
                        }
                        None => {
                            return Err(InvalidImage("a versioned dependency has no version"));
                        }
                    }
                }
            }
            Ok(())
        };
        let mut end = 0usize;
        for record in &catalog.packages {
            let (requires_end, provides_end) =
                (record.requires_end as usize, record.provides_end as usize);
            if !(end <= requires_end
                && requires_end <= provides_end
                && provides_end <= dependencies.len())
            {
                return Err(InvalidImage("a package's dependency range is out of order"));
            }
            check_range(&dependencies[end..requires_end])?;
            check_range(&dependencies[requires_end..provides_end])?;
            end = provides_end;
        }
        if end != dependencies.len() {
            return Err(InvalidImage("dependency words follow the last package's"));
        }
        catalog.dependency_count = dependency_count;

        if catalog.listing_ends.len() != advisories.len() {
            return Err(InvalidImage("not one listing end for each advisory"));
        }
        let mut start = 0;
        for (advisory, &end) in advisories.iter().zip(&catalog.listing_ends) {
            if end < start || end > catalog.listings.len() {
                return Err(InvalidImage("an advisory's listings are out of order"));
            }
            if !advisory.packages.is_empty() {
                return Err(InvalidImage(
                    "an advisory holds packages outside the listings",
                ));
            }
            if catalog.listings[start..end]
                .iter()
                .any(|l| l.collection as usize >= advisory.collections.len())
            {
                return Err(InvalidImage(
                    "a listing names a collection that does not exist",
                ));
            }
            start = end;
        }
        if start != catalog.listings.len() {
            return Err(InvalidImage("listings follow the last advisory's"));
        }
        catalog.advisories = advisories;
        catalog.shrink_to_fit();
        Ok(catalog)
    }
}

impl Strings {
    /// Builds the lookup table of the strings held.
    fn rebuild_table(&mut self) {
        let (all, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table = HashTable::with_capacity(ends.len());
        for id in 0..word(ends.len()) {
            let hash = hasher.hash_one(span(all, ends, id));
            self.table
                .insert_unique(hash, id, |&id| hasher.hash_one(span(all, ends, id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(key: &str, build_time: i64) -> Package {
        let mut package = Package::new(Nevra::parse(key).unwrap(), String::new());
        package.build_time = Some(build_time);
        package
    }

    fn advisory(id: &str, listed: &[&str]) -> Advisory {
        Advisory {
            id: id.to_owned(),
            kind: "security".to_owned(),
            status: None,
            severity: Some("Important".to_owned()),
            title: None,
            issued: None,
            updated: None,
            references: Vec::new(),
            packages: listed
                .iter()
                .enumerate()
                .map(|(i, key)| AdvisoryPackage {
                    nevra: Nevra::parse(key).unwrap(),
                    filename: None,
                    reboot_suggested: i == 0,
                    source_rpm: None,
                    collection: 0,
                })
                .collect(),
            description: None,
            reboot_suggested: false,
            collections: Vec::new(),
        }
    }

    #[test]
    fn build_times_come_back() {
        for time in [None, Some(0), Some(-1), Some(1_700_000_000), Some(i64::MAX)] {
            assert_eq!(BuildTime::new(time).get(), time);
        }
        assert_eq!(size_of::<CompactPackage>(), 36);
    }

    #[test]
    fn strings_are_stored_once() {
        let mut strings = Strings::default();
        let a = strings.intern("x86_64");
        let b = strings.intern("noarch");
        assert_eq!(strings.intern("x86_64"), a);
        assert_eq!(strings.intern(""), 2);
        assert_eq!(
            (strings.get(a), strings.get(b), strings.get(2)),
            ("x86_64", "noarch", "")
        );
        assert_eq!(strings.len(), 3);
    }

    #[test]
    fn materialize_gives_back_what_was_pushed_in_order() {
        let packages = vec![
            package("bash-4.2-1.x86_64", 10),
            package("curl-8.0-1.x86_64", 20),
            package("bash-4.3-1.x86_64", 30),
            package("openssl-1:3.0-2.x86_64", 40),
        ];
        let advisories = vec![
            advisory("A-1", &["bash-4.3-1.x86_64", "curl-8.0-1.x86_64"]),
            advisory("A-2", &["openssl-1:3.0-2.x86_64"]),
            advisory("A-3", &[]),
        ];
        let mut catalog = CompactCatalog::new();
        for p in &packages {
            catalog.push_package(p);
        }
        for a in &advisories {
            catalog.push_advisory(a.clone());
        }
        assert_eq!(
            catalog.materialize(|_| true),
            (packages.clone(), advisories.clone())
        );
        assert_eq!(catalog.advisory(1), advisories[1]);

        let mut asked = Vec::new();
        let (some, listing) = catalog.materialize(|name| {
            asked.push(name.to_owned());
            name == "bash"
        });
        assert_eq!(some, vec![packages[0].clone(), packages[2].clone()]);
        let mut bash_only = advisories[0].clone();
        bash_only.packages.truncate(1);
        // A-2 lists no bash: left out; A-3 lists nothing: kept.
        assert_eq!(listing, vec![bash_only, advisories[2].clone()]);
        asked.sort();
        assert_eq!(asked, ["bash", "curl", "openssl"], "once per name");
        assert_eq!(catalog.package_names().filter(|n| *n == "bash").count(), 2);
        assert_eq!(catalog.listed_names().count(), 3);
    }

    fn dependency(text: &str) -> Dependency {
        let mut parts = text.split_whitespace();
        let name = parts.next().unwrap().to_owned();
        let flags = parts.next().map(|op| match op {
            "=" => DepFlags::Eq,
            "<" => DepFlags::Lt,
            "<=" => DepFlags::Le,
            ">" => DepFlags::Gt,
            _ => DepFlags::Ge,
        });
        let evr = parts.next().map(|evr| Evr::parse(evr).unwrap());
        Dependency { name, flags, evr }
    }

    fn with_dependencies(key: &str, requires: &[&str], provides: &[&str]) -> Package {
        let mut package = package(key, 1);
        package.requires = requires.iter().map(|d| dependency(d)).collect();
        package.provides = provides.iter().map(|d| dependency(d)).collect();
        package
    }

    #[test]
    fn dependencies_come_back_as_pushed() {
        let mut odd = dependency("odd");
        // Neither is made by the parsers, but a record must not lose either half.
        odd.flags = Some(DepFlags::Ge);
        let mut evr_only = dependency("evr-only");
        evr_only.evr = Some(Evr::new(0, "1.01", ""));
        let mut app = with_dependencies(
            "app-2.0-1.x86_64",
            &["libfoo.so.1()(64bit)", "tool >= 1:1.01-2", "tool < 3"],
            // Its own EVR (kept as a mark), the same under another name, and a comparison
            // other than `=` of its own EVR.
            &[
                "app = 2.0-1",
                "webapp",
                "app(x86-64) = 2.0-1",
                "app >= 2.0-1",
            ],
        );
        app.requires.extend([odd, evr_only]);
        let packages = vec![
            with_dependencies("lib-1.0-1.x86_64", &[], &["libfoo.so.1()(64bit)"]),
            package("plain-1-1.noarch", 5),
            app,
            // Equal to its own EVR as rpm compares, not as spelled.
            with_dependencies(
                "tool-1:1.01-2.x86_64",
                &["lib"],
                &["tool = 1:1.1-2", "tool = 1:1.01-2"],
            ),
        ];
        let mut catalog = CompactCatalog::new();
        for p in &packages {
            catalog.push_package(p);
        }
        catalog.shrink_to_fit();
        // Pushed after the shrink: the version table is rebuilt, still right.
        let late = with_dependencies("late-1-1.noarch", &["tool >= 1:1.01-2"], &["late = 1-1"]);
        catalog.push_package(&late);
        let all: Vec<Package> = packages.iter().cloned().chain([late]).collect();
        assert_eq!(catalog.materialize(|_| true).0, all);
        assert_eq!(catalog.dependency_count(), 15);
        // Equal versions in another spelling stay as spelled.
        assert_eq!(
            catalog.package(2).requires[1].evr.as_ref().unwrap().version,
            "1.01"
        );
        assert_eq!(
            catalog.materialize(|name| name == "tool").0,
            vec![all[3].clone()]
        );
        assert_eq!(
            catalog.package(3).provides[0].evr.as_ref().unwrap().version,
            "1.1"
        );
    }

    /// A catalog's image: text, sections, advisories.
    struct Image {
        text: String,
        sections: [Vec<u32>; 6],
        advisories: Vec<Advisory>,
    }

    fn image_of(catalog: &CompactCatalog) -> Image {
        let mut image = Image {
            text: catalog.image_text().to_owned(),
            sections: Default::default(),
            advisories: catalog.image_advisories().to_vec(),
        };
        for (section, words) in ImageSection::ALL.into_iter().zip(&mut image.sections) {
            catalog.image_words(section, |word| words.push(word));
            assert_eq!(words.len(), catalog.image_len(section));
        }
        image
    }

    /// The catalog `image` holds, its sections given a record at a time.
    fn build(image: Image) -> Result<CompactCatalog, InvalidImage> {
        let mut builder = ImageBuilder::new(image.text);
        for (section, words) in ImageSection::ALL.into_iter().zip(&image.sections) {
            builder.reserve(section, words.len());
            for record in words.chunks(section.record_words()) {
                builder.extend(section, record)?;
            }
        }
        builder.finish(image.advisories)
    }

    fn sample() -> CompactCatalog {
        let mut catalog = CompactCatalog::new();
        for p in [
            with_dependencies(
                "lib-1.0-1.x86_64",
                &[],
                &["libfoo.so.1()(64bit)", "lib = 1.0-1"],
            ),
            package("plain-1-1.noarch", 5),
            with_dependencies(
                "app-1:2.0-1.x86_64",
                &["libfoo.so.1()(64bit)", "tool >= 1:1.01-2", "tool < 3"],
                &["app = 1:2.0-1", "webapp"],
            ),
        ] {
            catalog.push_package(&p);
        }
        let mut listed = advisory("A-1", &["app-1:2.0-1.x86_64", "lib-1.0-1.x86_64"]);
        listed.collections = vec![crate::repo::Collection::default()];
        catalog.push_advisory(listed);
        catalog.push_advisory(advisory("A-2", &[]));
        catalog
    }

    #[test]
    fn an_image_gives_back_the_same_catalog() {
        let catalog = sample();
        let copy = build(image_of(&catalog)).unwrap();
        assert_eq!(copy.materialize(|_| true), catalog.materialize(|_| true));
        assert_eq!(copy.dependency_count(), catalog.dependency_count());
        assert_eq!(copy.providers_of(["tool"]), catalog.providers_of(["tool"]));
        assert_eq!(copy.strings.find("webapp"), catalog.strings.find("webapp"));
        // Pushing after the read: strings are found, versions stored again.
        let mut copy = copy;
        let late = with_dependencies("late-1-1.noarch", &["tool >= 1:1.01-2"], &["webapp"]);
        copy.push_package(&late);
        assert_eq!(copy.package(3), late);
        assert_eq!(copy.strings.len(), catalog.strings.len() + 1);
        let empty = build(image_of(&CompactCatalog::new())).unwrap();
        assert_eq!(empty.package_count(), 0);
    }

    #[test]
    fn a_damaged_image_is_refused_not_a_panic() {
        let good = image_of(&sample());
        let damaged = |change: &dyn Fn(&mut Image)| {
            let mut image = Image {
                text: good.text.clone(),
                sections: good.sections.clone(),
                advisories: good.advisories.clone(),
            };
            change(&mut image);
            build(image).unwrap_err().0
        };
        let section = |s: ImageSection| ImageSection::ALL.iter().position(|&x| x == s).unwrap();
        let (ends, packages, dependencies, versions, listings, listing_ends) = (
            section(ImageSection::StringEnds),
            section(ImageSection::Packages),
            section(ImageSection::Dependencies),
            section(ImageSection::DependencyVersions),
            section(ImageSection::Listings),
            section(ImageSection::ListingEnds),
        );
        assert!(damaged(&|i| i.text.push('x')).contains("text follows"));
        assert!(damaged(&|i| i.sections[ends][0] = 10_000).contains("end"));
        assert!(damaged(&|i| i.sections[packages][0] = 10_000).contains("string id"));
        assert!(
            damaged(&|i| {
                i.sections[packages].pop();
            })
            .contains("whole records")
        );
        assert!(damaged(&|i| i.sections[packages][7] = 1_000).contains("out of order"));
        let mut builder = ImageBuilder::new(good.text.clone());
        for section in [ImageSection::StringEnds, ImageSection::Listings] {
            let words = &good.sections[ImageSection::ALL
                .iter()
                .position(|&s| s == section)
                .unwrap()];
            builder.extend(section, words).unwrap();
        }
        let early = builder.extend(ImageSection::Packages, &good.sections[packages]);
        assert!(early.unwrap_err().0.contains("comes after"));
        assert!(damaged(&|i| i.sections[dependencies][0] = 10_000).contains("string id"));
        assert!(
            damaged(&|i| {
                i.sections[dependencies].push(0);
            })
            .contains("follow the last package")
        );
        // The first versioned word's version: an index no version has.
        assert!(
            damaged(&|i| {
                let at = i.sections[dependencies]
                    .iter()
                    .position(|w| w & VERSIONED != 0)
                    .unwrap();
                i.sections[dependencies][at + 1] = 1_000;
            })
            .contains("version index")
        );
        assert!(damaged(&|i| i.sections[versions][0] = 9).contains("comparison"));
        assert!(damaged(&|i| i.sections[versions][1] = 2).contains("EVR flag"));
        assert!(damaged(&|i| i.sections[listings][5] = 3).contains("collection"));
        assert!(damaged(&|i| i.sections[listings][6] = 2).contains("reboot"));
        assert!(
            damaged(&|i| {
                i.sections[listing_ends].pop();
            })
            .contains("listing end")
        );
        assert!(damaged(&|i| i.sections[listing_ends][0] = 99).contains("out of order"));
        assert!(
            damaged(&|i| {
                i.advisories[1].packages = i.advisories[0].packages.clone();
                i.advisories[1]
                    .packages
                    .push(advisory("x", &["a-1-1.noarch"]).packages[0].clone());
            })
            .contains("outside the listings")
        );
    }

    #[test]
    fn providers_are_found_by_name_and_by_provide() {
        let mut catalog = CompactCatalog::new();
        for p in [
            with_dependencies("lib-1.0-1.x86_64", &[], &["libfoo.so.1()(64bit)"]),
            with_dependencies("lib-1.1-1.x86_64", &[], &["libfoo.so.1()(64bit)"]),
            with_dependencies("compat-1-1.x86_64", &[], &["libfoo.so.1()(64bit)", "tool"]),
            with_dependencies("tool-1-1.x86_64", &["lib"], &[]),
            with_dependencies("other-1-1.x86_64", &["tool"], &["something"]),
        ] {
            catalog.push_package(&p);
        }
        assert_eq!(
            catalog.providers_of(["libfoo.so.1()(64bit)"]),
            ["lib", "compat"]
        );
        assert_eq!(catalog.providers_of(["tool"]), ["compat", "tool"]);
        // A required name is not a provide: `lib` is wanted only as a capability.
        assert_eq!(catalog.providers_of(["lib", "nothing"]), ["lib"]);
        assert!(catalog.providers_of(["nothing"]).is_empty());
        assert!(catalog.providers_of([]).is_empty());
    }
}
