//! `updateinfo.xml`: advisories, streamed.
//!
//! Decisions (see `docs/repository-metadata.md`):
//! - `type` and `severity` are kept as written (severity trimmed; empty → `None`);
//! - `issued`/`updated` dates go through [`parse_advisory_date`]; an unparsable date is
//!   recorded as absent with a diagnostic;
//! - `<reboot_suggested>`: `1`, `true`, `yes`, `on` (any case) mean true; `0`, `false`,
//!   `no`, `off` and empty mean false; anything else is false with a diagnostic;
//! - entities are decoded exactly once, as XML requires: `&amp;lt;` in the file becomes
//!   `&lt;` in the value (double-escaped data stays escaped once, titles included);
//! - an advisory without an `<id>` is skipped; a package entry without name, version,
//!   release or arch, or with a bad epoch, is dropped from its advisory (which is kept).

use std::io::BufRead;

use crate::nevra::Nevra;
use crate::repo::date::parse_advisory_date;
use crate::repo::diagnostics::{Diagnostics, DocumentKind, MetadataError, Parsed, Position};
use crate::repo::primary::parse_epoch;
use crate::repo::xml::{self, Ctx, Element, Handler, Text};
use crate::repo::{Advisory, AdvisoryPackage, Collection, ModuleStream, Reference};
use crate::version::rpm::Evr;

/// Parses a whole updateinfo.xml (plain or compressed) into advisories, in document order.
pub fn parse_updateinfo<R: BufRead>(reader: R) -> Result<Parsed<Vec<Advisory>>, MetadataError> {
    let mut advisories = Vec::new();
    let parsed = parse_updateinfo_with(reader, |advisory| advisories.push(advisory))?;
    Ok(Parsed {
        value: advisories,
        diagnostics: parsed.diagnostics,
        suppressed_diagnostics: parsed.suppressed_diagnostics,
    })
}

/// Streams updateinfo.xml, calling `visit` for each advisory as soon as it is complete.
pub fn parse_updateinfo_with<R: BufRead>(
    reader: R,
    visit: impl FnMut(Advisory),
) -> Result<Parsed<()>, MetadataError> {
    let mut handler = UpdateinfoHandler {
        visit,
        diagnostics: Diagnostics::new(DocumentKind::Updateinfo),
        draft: None,
        capture: Capture::None,
        capture_depth: 0,
        text: None,
    };
    xml::drive(reader, DocumentKind::Updateinfo, "updates", &mut handler)?;
    Ok(handler.diagnostics.into_parsed(()))
}

/// Reads a `<reboot_suggested>` value; `None` for a spelling that is neither true nor false.
pub fn parse_reboot_flag(text: &str) -> Option<bool> {
    let text = text.trim();
    for spelling in ["1", "true", "yes", "on"] {
        if text.eq_ignore_ascii_case(spelling) {
            return Some(true);
        }
    }
    for spelling in ["", "0", "false", "no", "off"] {
        if text.eq_ignore_ascii_case(spelling) {
            return Some(false);
        }
    }
    None
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    None,
    Id,
    Title,
    Severity,
    Description,
    RebootSuggested,
    CollectionName,
    Filename,
    PackageRebootSuggested,
}

struct PackageDraft {
    position: Position,
    /// Depth of the `<package>` element.
    depth: usize,
    nevra: Option<Nevra>,
    source_rpm: Option<String>,
    filename: Option<String>,
    reboot_suggested: bool,
}

struct AdvisoryDraft {
    position: Position,
    advisory: Advisory,
    /// Index of the open `<collection>`, if any.
    collection: Option<usize>,
    package: Option<PackageDraft>,
    notes: Vec<(Position, String)>,
    fatal: Option<String>,
}

struct UpdateinfoHandler<F> {
    visit: F,
    diagnostics: Diagnostics,
    draft: Option<AdvisoryDraft>,
    capture: Capture,
    /// Depth of the element being captured.
    capture_depth: usize,
    /// Text of the element being captured.
    text: Option<String>,
}

impl<F: FnMut(Advisory)> UpdateinfoHandler<F> {
    fn start_update(&mut self, ctx: &Ctx<'_>, element: &Element<'_>) {
        let position = ctx.position(element);
        let mut advisory = Advisory {
            id: String::new(),
            kind: String::new(),
            status: None,
            severity: None,
            title: None,
            issued: None,
            updated: None,
            references: Vec::new(),
            packages: Vec::new(),
            description: None,
            reboot_suggested: false,
            collections: Vec::new(),
        };
        let mut has_type = false;
        let result =
            xml::for_each_attribute(element, &[b"type", b"status"], |key, value| match key {
                b"type" => {
                    has_type = true;
                    advisory.kind = value.trim().to_owned();
                }
                b"status" => advisory.status = non_empty(&value),
                _ => {}
            });
        let mut draft = AdvisoryDraft {
            position,
            advisory,
            collection: None,
            package: None,
            notes: Vec::new(),
            fatal: None,
        };
        if let Err(message) = result {
            draft.fatal = Some(format!("<update>: {message}"));
        } else if !has_type || draft.advisory.kind.is_empty() {
            draft.notes.push((
                position,
                "<update> has no type; kept with an empty type".to_owned(),
            ));
        }
        self.draft = Some(draft);
        self.capture = Capture::None;
    }

    fn finish_update(&mut self) {
        let Some(draft) = self.draft.take() else {
            return;
        };
        let item =
            (!draft.advisory.id.is_empty()).then(|| format!("advisory {}", draft.advisory.id));
        for (position, note) in draft.notes {
            self.diagnostics.push(Some(position), item.as_deref(), note);
        }
        let fatal = draft.fatal.or_else(|| {
            draft
                .advisory
                .id
                .is_empty()
                .then(|| "missing <id>".to_owned())
        });
        if let Some(reason) = fatal {
            self.diagnostics.push(
                Some(draft.position),
                item.as_deref(),
                format!("{reason}; advisory skipped"),
            );
            return;
        }
        let mut advisory = draft.advisory;
        advisory.references.shrink_to_fit();
        advisory.packages.shrink_to_fit();
        advisory.collections.shrink_to_fit();
        (self.visit)(advisory);
    }

    fn date(&mut self, ctx: &Ctx<'_>, element: &Element<'_>, issued: bool) {
        let Some(draft) = self.draft.as_mut() else {
            return;
        };
        let what = if issued { "issued" } else { "updated" };
        let mut date = None;
        let result = xml::for_each_attribute(element, &[b"date"], |key, value| {
            if key == b"date" {
                date = Some(value.into_owned());
            }
        });
        let position = ctx.position(element);
        let timestamp = match (result, date) {
            (Err(message), _) => {
                draft
                    .notes
                    .push((position, format!("<{what}>: {message}; recorded as absent")));
                None
            }
            (Ok(()), None) => None,
            (Ok(()), Some(text)) if text.trim().is_empty() => None,
            (Ok(()), Some(text)) => {
                let parsed = parse_advisory_date(&text);
                if parsed.is_none() {
                    draft.notes.push((
                        position,
                        format!("unparsable {what} date {text:?}; recorded as absent"),
                    ));
                }
                parsed
            }
        };
        if issued {
            draft.advisory.issued = timestamp;
        } else {
            draft.advisory.updated = timestamp;
        }
    }

    fn reference(&mut self, ctx: &Ctx<'_>, element: &Element<'_>) {
        let Some(draft) = self.draft.as_mut() else {
            return;
        };
        let mut kind = String::new();
        let mut id = None;
        let mut href = None;
        let mut title = None;
        let result = xml::for_each_attribute(
            element,
            &[b"type", b"id", b"href", b"title"],
            |key, value| match key {
                b"type" => kind = value.trim().to_owned(),
                b"id" => id = non_empty(&value),
                b"href" => href = non_empty(&value),
                b"title" => title = non_empty(&value),
                _ => {}
            },
        );
        if let Err(message) = result {
            draft.notes.push((
                ctx.position(element),
                format!("<reference>: {message}; reference dropped"),
            ));
            return;
        }
        let id = id.or_else(|| {
            href.as_deref()
                .and_then(|href| href.trim_end_matches('/').rsplit(['/', '=']).next())
                .filter(|segment| !segment.is_empty())
                .map(str::to_owned)
        });
        let Some(id) = id else {
            draft.notes.push((
                ctx.position(element),
                "<reference> has neither id nor href; reference dropped".to_owned(),
            ));
            return;
        };
        draft.advisory.references.push(Reference {
            kind,
            id,
            href,
            title,
        });
    }

    fn start_collection(&mut self, element: &Element<'_>) {
        let Some(draft) = self.draft.as_mut() else {
            return;
        };
        let mut collection = Collection::default();
        let _ = xml::for_each_attribute(element, &[b"short"], |key, value| {
            if key == b"short" {
                collection.short = non_empty(&value);
            }
        });
        draft.advisory.collections.push(collection);
        draft.collection = Some(draft.advisory.collections.len() - 1);
    }

    fn module(&mut self, ctx: &Ctx<'_>, element: &Element<'_>) {
        let Some(draft) = self.draft.as_mut() else {
            return;
        };
        let Some(index) = draft.collection else {
            return;
        };
        let (mut name, mut stream, mut version, mut context, mut arch) =
            (None, None, None, None, None);
        let result = xml::for_each_attribute(
            element,
            &[b"name", b"stream", b"version", b"context", b"arch"],
            |key, value| match key {
                b"name" => name = non_empty(&value),
                b"stream" => stream = non_empty(&value),
                b"version" => version = Some(value.trim().to_owned()),
                b"context" => context = non_empty(&value),
                b"arch" => arch = non_empty(&value),
                _ => {}
            },
        );
        let position = ctx.position(element);
        if let Err(message) = result {
            draft
                .notes
                .push((position, format!("<module>: {message}; module ignored")));
            return;
        }
        let (Some(name), Some(stream)) = (name, stream) else {
            draft.notes.push((
                position,
                "<module> lacks name or stream; module ignored".to_owned(),
            ));
            return;
        };
        let version = match version.as_deref() {
            None | Some("") => 0,
            Some(text) => text.parse::<u64>().unwrap_or_else(|_| {
                draft.notes.push((
                    position,
                    format!("module version {text:?} is not a number; read as 0"),
                ));
                0
            }),
        };
        if let Some(collection) = draft.advisory.collections.get_mut(index) {
            collection.module = Some(ModuleStream {
                name,
                stream,
                version,
                context,
                arch,
            });
        }
    }

    fn start_package(&mut self, ctx: &Ctx<'_>, depth: usize, element: &Element<'_>) {
        let Some(draft) = self.draft.as_mut() else {
            return;
        };
        let position = ctx.position(element);
        let (mut name, mut epoch, mut version, mut release, mut arch, mut source_rpm) =
            (None, Ok(0), None, None, None, None);
        let result = xml::for_each_attribute(
            element,
            &[b"name", b"epoch", b"version", b"release", b"arch", b"src"],
            |key, value| match key {
                b"name" => name = non_empty(&value),
                b"epoch" => epoch = parse_epoch(&value),
                b"version" => version = non_empty(&value),
                b"release" => release = non_empty(&value),
                b"arch" => arch = non_empty(&value),
                b"src" => source_rpm = non_empty(&value),
                _ => {}
            },
        );
        let nevra = match (result, name, epoch, version, release, arch) {
            (Err(message), ..) => {
                draft
                    .notes
                    .push((position, format!("<package>: {message}; package dropped")));
                None
            }
            (Ok(()), Some(name), Ok(epoch), Some(version), Some(release), Some(arch)) => {
                Some(Nevra {
                    name,
                    evr: Evr {
                        epoch,
                        version,
                        release,
                    },
                    arch,
                })
            }
            (Ok(()), name, Err(message), ..) => {
                let name = name.unwrap_or_default();
                draft.notes.push((
                    position,
                    format!("<package> {name}: {message}; package dropped"),
                ));
                None
            }
            (Ok(()), name, Ok(_), version, release, arch) => {
                let missing: Vec<&str> = [
                    ("name", name.is_none()),
                    ("version", version.is_none()),
                    ("release", release.is_none()),
                    ("arch", arch.is_none()),
                ]
                .into_iter()
                .filter_map(|(what, absent)| absent.then_some(what))
                .collect();
                let name = name.unwrap_or_default();
                draft.notes.push((
                    position,
                    format!(
                        "<package> {name} lacks {}; package dropped",
                        missing.join(", ")
                    ),
                ));
                None
            }
        };
        draft.package = Some(PackageDraft {
            position,
            depth,
            nevra,
            source_rpm,
            filename: None,
            reboot_suggested: false,
        });
    }

    fn finish_package(&mut self) {
        let Some(draft) = self.draft.as_mut() else {
            return;
        };
        let Some(package) = draft.package.take() else {
            return;
        };
        let Some(nevra) = package.nevra else { return };
        let collection = match draft.collection {
            Some(index) => index,
            None => {
                // A package outside any collection: give it an implicit one.
                if draft
                    .advisory
                    .collections
                    .last()
                    .is_none_or(|last| *last != Collection::default())
                {
                    draft.advisory.collections.push(Collection::default());
                }
                draft.advisory.collections.len() - 1
            }
        };
        let _ = package.position;
        draft.advisory.packages.push(AdvisoryPackage {
            nevra,
            filename: package.filename,
            reboot_suggested: package.reboot_suggested,
            source_rpm: package.source_rpm,
            collection,
        });
    }

    fn capture(&mut self, capture: Capture, depth: usize) {
        if self.capture == Capture::None {
            self.capture = capture;
            self.capture_depth = depth;
            self.text = None;
        }
    }

    fn finish_capture(&mut self) {
        let capture = std::mem::replace(&mut self.capture, Capture::None);
        let text = self.text.take();
        let Some(draft) = self.draft.as_mut() else {
            return;
        };
        match capture {
            Capture::None => {}
            Capture::Id => {
                draft.advisory.id = text.map(|text| text.trim().to_owned()).unwrap_or_default()
            }
            Capture::Title => draft.advisory.title = text.filter(|text| !text.is_empty()),
            Capture::Severity => draft.advisory.severity = text.and_then(|text| non_empty(&text)),
            Capture::Description => {
                draft.advisory.description = text.filter(|text| !text.is_empty())
            }
            Capture::CollectionName => {
                if let Some(collection) = draft
                    .collection
                    .and_then(|index| draft.advisory.collections.get_mut(index))
                {
                    collection.name = text.and_then(|text| non_empty(&text));
                }
            }
            Capture::Filename => {
                if let Some(package) = draft.package.as_mut() {
                    package.filename = text.and_then(|text| non_empty(&text));
                }
            }
            Capture::RebootSuggested | Capture::PackageRebootSuggested => {
                let text = text.unwrap_or_default();
                let flag = parse_reboot_flag(&text).unwrap_or_else(|| {
                    let position = draft
                        .package
                        .as_ref()
                        .map_or(draft.position, |package| package.position);
                    draft.notes.push((
                        position,
                        format!("unknown reboot_suggested value {text:?}; read as false"),
                    ));
                    false
                });
                match (capture, draft.package.as_mut()) {
                    (Capture::PackageRebootSuggested, Some(package)) => {
                        package.reboot_suggested |= flag
                    }
                    _ => draft.advisory.reboot_suggested |= flag,
                }
            }
        }
    }
}

impl<F: FnMut(Advisory)> Handler for UpdateinfoHandler<F> {
    fn start(&mut self, ctx: &Ctx<'_>, depth: usize, element: &Element<'_>) {
        let name = element.local_name();
        if depth == 2 {
            if name == b"update" {
                self.start_update(ctx, element);
            }
            return;
        }
        let Some(draft) = self.draft.as_ref() else {
            return;
        };
        if let Some(package) = draft.package.as_ref() {
            if depth == package.depth + 1 {
                match name {
                    b"filename" => self.capture(Capture::Filename, depth),
                    b"reboot_suggested" => self.capture(Capture::PackageRebootSuggested, depth),
                    _ => {}
                }
            }
            return;
        }
        match (depth, name) {
            (3, b"id") => self.capture(Capture::Id, depth),
            (3, b"title") => self.capture(Capture::Title, depth),
            (3, b"severity") => self.capture(Capture::Severity, depth),
            (3, b"description") => self.capture(Capture::Description, depth),
            (3, b"reboot_suggested") => self.capture(Capture::RebootSuggested, depth),
            (3, b"issued") => self.date(ctx, element, true),
            (3, b"updated") => self.date(ctx, element, false),
            (4, b"reference") => self.reference(ctx, element),
            (4, b"collection") => self.start_collection(element),
            (4, b"package") => self.start_package(ctx, depth, element),
            (5, b"name") if draft.collection.is_some() => {
                self.capture(Capture::CollectionName, depth)
            }
            (5, b"module") => self.module(ctx, element),
            (5, b"package") if draft.collection.is_some() => {
                self.start_package(ctx, depth, element)
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
        if let Err(message) = xml::append_text(&mut self.text, &text) {
            let capture = std::mem::replace(&mut self.capture, Capture::None);
            self.text = None;
            if let Some(draft) = self.draft.as_mut() {
                match capture {
                    Capture::Id => draft.fatal = Some(format!("<id>: {message}")),
                    _ => draft
                        .notes
                        .push((draft.position, format!("{message}; field ignored"))),
                }
            }
        }
    }

    fn end(&mut self, depth: usize, local_name: &[u8]) {
        if self.capture != Capture::None {
            if depth == self.capture_depth {
                self.finish_capture();
            }
            return;
        }
        let Some(draft) = self.draft.as_mut() else {
            return;
        };
        if let Some(package) = draft.package.as_ref() {
            if depth == package.depth {
                self.finish_package();
            }
            return;
        }
        match (depth, local_name) {
            (2, b"update") => self.finish_update(),
            (4, b"collection") => draft.collection = None,
            _ => {}
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
