//! `primary.xml`: the packages of a repository, streamed.
//!
//! Per package: NEVRA, checksum, build time, sizes, location, source rpm, provides and
//! requires (other dependency kinds, files, summaries and descriptions are skipped). A
//! package with a missing or unparsable NEVRA or location is skipped with a diagnostic; a
//! single bad provides/requires entry, checksum, time or size drops just that field.

use std::io::BufRead;

use crate::nevra::Nevra;
use crate::repo::checksum::{Checksum, ChecksumKind};
use crate::repo::diagnostics::{Diagnostics, DocumentKind, MetadataError, Parsed, Position};
use crate::repo::xml::{self, Ctx, Element, Handler, Text};
use crate::repo::{DepFlags, Dependency, Package};
use crate::version::rpm::Evr;

/// Upper bound on the `packages="N"` count trusted for pre-allocation.
const MAX_RESERVE: u64 = 2_000_000;

/// What to read from primary.xml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimaryOptions {
    /// Read provides and requires. Without them a package takes about a third of the memory;
    /// patch evaluation by name and version does not need them.
    pub dependencies: bool,
}

impl Default for PrimaryOptions {
    fn default() -> PrimaryOptions {
        PrimaryOptions { dependencies: true }
    }
}

/// Parses a whole primary.xml (plain or compressed) into packages, in document order.
pub fn parse_primary<R: BufRead>(reader: R) -> Result<Parsed<Vec<Package>>, MetadataError> {
    parse_primary_with_options(reader, PrimaryOptions::default())
}

/// [`parse_primary`] with explicit [`PrimaryOptions`].
pub fn parse_primary_with_options<R: BufRead>(
    reader: R,
    options: PrimaryOptions,
) -> Result<Parsed<Vec<Package>>, MetadataError> {
    let mut sink = CollectSink {
        packages: Vec::new(),
    };
    let diagnostics = run(reader, options, &mut sink)?;
    Ok(diagnostics.into_parsed(sink.packages))
}

/// Streams primary.xml, calling `visit` for each package as soon as it is complete; memory
/// stays bounded whatever the number of packages.
pub fn parse_primary_with<R: BufRead>(
    reader: R,
    options: PrimaryOptions,
    visit: impl FnMut(Package),
) -> Result<Parsed<()>, MetadataError> {
    let mut sink = VisitSink { visit };
    let diagnostics = run(reader, options, &mut sink)?;
    Ok(diagnostics.into_parsed(()))
}

trait Sink {
    fn expect(&mut self, _count: u64) {}
    fn package(&mut self, package: Package);
}

struct CollectSink {
    packages: Vec<Package>,
}

impl Sink for CollectSink {
    fn expect(&mut self, count: u64) {
        let count = usize::try_from(count.min(MAX_RESERVE)).unwrap_or(0);
        self.packages.reserve_exact(count);
    }

    fn package(&mut self, package: Package) {
        self.packages.push(package);
    }
}

struct VisitSink<F> {
    visit: F,
}

impl<F: FnMut(Package)> Sink for VisitSink<F> {
    fn package(&mut self, package: Package) {
        (self.visit)(package);
    }
}

fn run<R: BufRead, S: Sink>(
    reader: R,
    options: PrimaryOptions,
    sink: &mut S,
) -> Result<Diagnostics, MetadataError> {
    let mut handler = PrimaryHandler {
        sink,
        options,
        diagnostics: Diagnostics::new(DocumentKind::Primary),
        in_package: false,
        section: Section::Other,
        capture: Capture::None,
        draft: Draft::default(),
        provides: Vec::new(),
        requires: Vec::new(),
    };
    xml::drive(reader, DocumentKind::Primary, "metadata", &mut handler)?;
    Ok(handler.diagnostics)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Other,
    Provides,
    Requires,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    None,
    Name,
    Arch,
    Checksum,
    SourceRpm,
}

/// The package being read.
#[derive(Default)]
struct Draft {
    position: Option<Position>,
    name: Option<String>,
    arch: Option<String>,
    evr: Option<Evr>,
    location: Option<String>,
    source_rpm: Option<String>,
    checksum_kind: Option<ChecksumKind>,
    checksum: Option<Checksum>,
    build_time: Option<i64>,
    package_size: Option<u64>,
    installed_size: Option<u64>,
    /// Why the package cannot be used; the first reason wins.
    fatal: Option<String>,
    /// Field-level problems (the field was dropped, the package kept).
    notes: Vec<String>,
}

struct PrimaryHandler<'s, S> {
    sink: &'s mut S,
    options: PrimaryOptions,
    diagnostics: Diagnostics,
    in_package: bool,
    section: Section,
    capture: Capture,
    draft: Draft,
    provides: Vec<Dependency>,
    requires: Vec<Dependency>,
}

impl<S: Sink> PrimaryHandler<'_, S> {
    fn fatal(&mut self, message: String) {
        if self.draft.fatal.is_none() {
            self.draft.fatal = Some(message);
        }
    }

    fn start_package(&mut self, ctx: &Ctx<'_>, element: &Element<'_>) {
        self.in_package = true;
        self.section = Section::Other;
        self.capture = Capture::None;
        self.draft = Draft {
            position: Some(ctx.position(element)),
            ..Draft::default()
        };
        self.provides.clear();
        self.requires.clear();
    }

    fn finish_package(&mut self) {
        self.in_package = false;
        let draft = std::mem::take(&mut self.draft);
        let item = draft.name.as_deref().map(|name| format!("package {name}"));
        for note in &draft.notes {
            self.diagnostics
                .push(draft.position, item.as_deref(), note.clone());
        }
        let missing = if draft.name.is_none() {
            Some("<name>")
        } else if draft.arch.is_none() {
            Some("<arch>")
        } else if draft.evr.is_none() {
            Some("<version>")
        } else if draft.location.is_none() {
            Some("<location href>")
        } else {
            None
        };
        let fatal = draft
            .fatal
            .or_else(|| missing.map(|what| format!("missing {what}")));
        if let Some(reason) = fatal {
            self.diagnostics.push(
                draft.position,
                item.as_deref(),
                format!("{reason}; package skipped"),
            );
            return;
        }
        let (Some(name), Some(arch), Some(evr), Some(location)) =
            (draft.name, draft.arch, draft.evr, draft.location)
        else {
            return;
        };
        // Collecting from a drain allocates exactly the needed capacity.
        let provides: Vec<Dependency> = self.provides.drain(..).collect();
        let requires: Vec<Dependency> = self.requires.drain(..).collect();
        self.sink.package(Package {
            nevra: Nevra { name, evr, arch },
            build_time: draft.build_time,
            location,
            source_rpm: draft.source_rpm,
            requires,
            provides,
            checksum: draft.checksum,
            package_size: draft.package_size,
            installed_size: draft.installed_size,
        });
    }

    fn version(&mut self, element: &Element<'_>) {
        let mut epoch = Ok(0);
        let mut version = None;
        let mut release = None;
        let result =
            xml::for_each_attribute(
                element,
                &[b"epoch", b"ver", b"rel"],
                |key, value| match key {
                    b"epoch" => epoch = parse_epoch(&value),
                    b"ver" => version = Some(value.into_owned()),
                    b"rel" => release = Some(value.into_owned()),
                    _ => {}
                },
            );
        if let Err(message) = result {
            return self.fatal(format!("<version>: {message}"));
        }
        let epoch = match epoch {
            Ok(epoch) => epoch,
            Err(message) => return self.fatal(format!("<version>: {message}")),
        };
        let (Some(version), Some(release)) = (version, release) else {
            return self.fatal("<version> lacks ver or rel".to_owned());
        };
        if version.is_empty() {
            return self.fatal("<version> has an empty ver".to_owned());
        }
        self.draft.evr = Some(Evr {
            epoch,
            version,
            release,
        });
    }

    fn checksum_start(&mut self, element: &Element<'_>) {
        let mut kind_text = None;
        let result = xml::for_each_attribute(element, &[b"type"], |key, value| {
            if key == b"type" {
                kind_text = Some(value.into_owned());
            }
        });
        self.capture = Capture::Checksum;
        match (result, kind_text) {
            (Err(message), _) => self
                .draft
                .notes
                .push(format!("<checksum>: {message}; checksum ignored")),
            (Ok(()), None) => self
                .draft
                .notes
                .push("<checksum> has no type; checksum ignored".to_owned()),
            (Ok(()), Some(text)) => match ChecksumKind::parse(&text) {
                Some(kind) => self.draft.checksum_kind = Some(kind),
                None => self.draft.notes.push(format!(
                    "unsupported checksum type {text:?}; checksum ignored"
                )),
            },
        }
    }

    fn times(&mut self, element: &Element<'_>) {
        let mut build = None;
        let result = xml::for_each_attribute(element, &[b"build"], |key, value| {
            if key == b"build" {
                build = Some(value.into_owned());
            }
        });
        if let Err(message) = result {
            return self.draft.notes.push(format!("<time>: {message}"));
        }
        if let Some(text) = build {
            match text.trim().parse::<i64>() {
                Ok(seconds) => self.draft.build_time = Some(seconds),
                Err(_) => self
                    .draft
                    .notes
                    .push(format!("build time {text:?} is not a number; ignored")),
            }
        }
    }

    fn sizes(&mut self, element: &Element<'_>) {
        let mut package = None;
        let mut installed = None;
        let result =
            xml::for_each_attribute(
                element,
                &[b"package", b"installed"],
                |key, value| match key {
                    b"package" => package = Some(value.into_owned()),
                    b"installed" => installed = Some(value.into_owned()),
                    _ => {}
                },
            );
        if let Err(message) = result {
            return self.draft.notes.push(format!("<size>: {message}"));
        }
        for (text, target, what) in [
            (package, &mut self.draft.package_size, "package"),
            (installed, &mut self.draft.installed_size, "installed"),
        ] {
            if let Some(text) = text {
                match text.trim().parse::<u64>() {
                    Ok(size) => *target = Some(size),
                    Err(_) => self
                        .draft
                        .notes
                        .push(format!("{what} size {text:?} is not a number; ignored")),
                }
            }
        }
    }

    fn location(&mut self, element: &Element<'_>) {
        let mut href = None;
        let result = xml::for_each_attribute(element, &[b"href"], |key, value| {
            if key == b"href" {
                href = Some(value.into_owned());
            }
        });
        match (result, href) {
            (Err(message), _) => self.fatal(format!("<location>: {message}")),
            (Ok(()), Some(href)) if !href.is_empty() => self.draft.location = Some(href),
            (Ok(()), _) => self.fatal("<location> has no href".to_owned()),
        }
    }

    fn entry(&mut self, element: &Element<'_>) {
        let section = self.section;
        let mut name = None;
        let mut flags_text = None;
        let mut epoch = Ok(0);
        let mut version = None;
        let mut release = None;
        let result = xml::for_each_attribute(
            element,
            &[b"name", b"flags", b"epoch", b"ver", b"rel"],
            |key, value| match key {
                b"name" => name = Some(value),
                b"flags" => flags_text = Some(value),
                b"epoch" => epoch = parse_epoch(&value),
                b"ver" => version = Some(value),
                b"rel" => release = Some(value),
                _ => {}
            },
        );
        let what = if section == Section::Provides {
            "provides"
        } else {
            "requires"
        };
        if let Err(message) = result {
            return self
                .draft
                .notes
                .push(format!("{what} entry: {message}; entry dropped"));
        }
        let Some(name) = name.filter(|name| !name.is_empty()) else {
            return self
                .draft
                .notes
                .push(format!("{what} entry without a name; entry dropped"));
        };
        if section == Section::Requires && name.starts_with("rpmlib(") {
            return;
        }
        let flags = match flags_text {
            None => None,
            Some(text) => match DepFlags::from_rpmmd(&text) {
                Some(flags) => Some(flags),
                None => {
                    return self.draft.notes.push(format!(
                        "{what} entry {name}: unknown flags {text:?}; entry dropped"
                    ));
                }
            },
        };
        let evr = match (version, epoch) {
            (None, _) => None,
            (Some(_), Err(message)) => {
                return self
                    .draft
                    .notes
                    .push(format!("{what} entry {name}: {message}; entry dropped"));
            }
            (Some(version), Ok(epoch)) => Some(Evr {
                epoch,
                version: version.into_owned(),
                release: release
                    .map(|release| release.into_owned())
                    .unwrap_or_default(),
            }),
        };
        let dependency = Dependency {
            name: name.into_owned(),
            flags,
            evr,
        };
        match section {
            Section::Provides => self.provides.push(dependency),
            Section::Requires => self.requires.push(dependency),
            Section::Other => {}
        }
    }
}

impl<S: Sink> Handler for PrimaryHandler<'_, S> {
    fn start(&mut self, ctx: &Ctx<'_>, depth: usize, element: &Element<'_>) {
        let name = element.local_name();
        match depth {
            1 => {
                let mut count = None;
                let _ = xml::for_each_attribute(element, &[b"packages"], |key, value| {
                    if key == b"packages" {
                        count = value.trim().parse::<u64>().ok();
                    }
                });
                if let Some(count) = count {
                    self.sink.expect(count);
                }
            }
            2 if name == b"package" => self.start_package(ctx, element),
            3 if self.in_package => match name {
                b"name" => self.capture = Capture::Name,
                b"arch" => self.capture = Capture::Arch,
                b"version" => self.version(element),
                b"checksum" => self.checksum_start(element),
                b"time" => self.times(element),
                b"size" => self.sizes(element),
                b"location" => self.location(element),
                _ => {}
            },
            4 if self.in_package => match name {
                b"sourcerpm" => self.capture = Capture::SourceRpm,
                b"provides" if self.options.dependencies => self.section = Section::Provides,
                b"requires" if self.options.dependencies => self.section = Section::Requires,
                _ => {}
            },
            5 if self.in_package && self.section != Section::Other && name == b"entry" => {
                self.entry(element)
            }
            _ => {}
        }
    }

    fn wants_text(&self) -> bool {
        self.capture != Capture::None
    }

    fn text(&mut self, _depth: usize, text: Text<'_>) {
        if self.capture == Capture::None {
            return;
        }
        let decoded = match text.decode() {
            Ok(decoded) => decoded,
            Err(message) => {
                return match self.capture {
                    Capture::Name | Capture::Arch => self.fatal(message),
                    _ => self.draft.notes.push(format!("{message}; field ignored")),
                };
            }
        };
        match self.capture {
            Capture::None => {}
            Capture::Name => push_text(&mut self.draft.name, &decoded),
            Capture::Arch => push_text(&mut self.draft.arch, &decoded),
            Capture::SourceRpm => push_text(&mut self.draft.source_rpm, &decoded),
            Capture::Checksum => {
                if let Some(kind) = self.draft.checksum_kind.take() {
                    match Checksum::from_hex(kind, &decoded) {
                        Ok(checksum) => self.draft.checksum = Some(checksum),
                        Err(error) => self.draft.notes.push(format!("{error}; checksum ignored")),
                    }
                }
            }
        }
    }

    fn end(&mut self, depth: usize, local_name: &[u8]) {
        match depth {
            2 if self.in_package && local_name == b"package" => self.finish_package(),
            3 | 4 if self.capture != Capture::None => self.capture = Capture::None,
            4 if matches!(local_name, b"provides" | b"requires") => self.section = Section::Other,
            _ => {}
        }
    }
}

fn push_text(target: &mut Option<String>, text: &str) {
    match target {
        Some(existing) => existing.push_str(text),
        None => *target = Some(text.to_owned()),
    }
}

/// An rpm epoch: missing or empty is 0, otherwise a number that fits in 32 bits.
pub(crate) fn parse_epoch(text: &str) -> Result<u32, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(0);
    }
    trimmed
        .parse::<u32>()
        .map_err(|_| format!("epoch {text:?} is not a number"))
}
