//! `releasemd.xml`: Amazon Linux 2023's list of releases, the file `dnf check-release-update`
//! reads (`https://cdn.amazonlinux.com/al2023/core/releasemd.xml`, or a mirror of it).
//!
//! ```xml
//! <root>
//!   <releases>
//!     <release version="2023.9.20251117">
//!       <update>
//!         <name>...</name>
//!         <version_string>...</version_string>
//!         <release_notes>...</release_notes>
//!       </update>
//!     </release>
//!   </releases>
//! </root>
//! ```
//!
//! Only the versions matter to Patchwarden. A `<release>` without a version, or with one that
//! is not a release version, is a diagnostic and skipped; a document whose root is not
//! `<root>` is an error.

use std::io::BufRead;

use crate::release::ReleaseVersion;
use crate::repo::diagnostics::{Diagnostics, DocumentKind, MetadataError, Parsed};
use crate::repo::xml::{self, Ctx, Element, Handler, Text};

/// The releases of the document, sorted oldest first, without duplicates.
pub fn parse_releasemd<R: BufRead>(
    reader: R,
) -> Result<Parsed<Vec<ReleaseVersion>>, MetadataError> {
    let mut handler = ReleaseHandler {
        diagnostics: Diagnostics::new(DocumentKind::ReleaseMd),
        releases: Vec::new(),
    };
    xml::drive(reader, DocumentKind::ReleaseMd, "root", &mut handler)?;
    let mut releases = handler.releases;
    releases.sort();
    releases.dedup();
    Ok(handler.diagnostics.into_parsed(releases))
}

struct ReleaseHandler {
    diagnostics: Diagnostics,
    releases: Vec<ReleaseVersion>,
}

impl Handler for ReleaseHandler {
    fn start(&mut self, ctx: &Ctx<'_>, depth: usize, element: &Element<'_>) {
        if depth != 3 || element.local_name() != b"release" {
            return;
        }
        let position = ctx.position(element);
        let mut version = None;
        let result = xml::for_each_attribute(element, &[b"version"], |_, value| {
            version = Some(value.into_owned());
        });
        if let Err(message) = result {
            self.diagnostics.push(
                Some(position),
                None,
                format!("<release>: {message}; skipped"),
            );
            return;
        }
        match version.as_deref().map(ReleaseVersion::parse) {
            None => self.diagnostics.push(
                Some(position),
                None,
                "<release> without a version; skipped".to_owned(),
            ),
            Some(Err(error)) => {
                self.diagnostics
                    .push(Some(position), None, format!("{error}; skipped"));
            }
            Some(Ok(release)) => self.releases.push(release),
        }
    }

    fn wants_text(&self) -> bool {
        false
    }

    fn text(&mut self, _depth: usize, _text: Text<'_>) {}

    fn end(&mut self, _depth: usize, _local_name: &[u8]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions_and_skips_bad_ones() {
        let text = br#"<?xml version="1.0" encoding="UTF-8"?>
<root>
  <releases>
    <release version="2023.9.20251201">
      <update><name>kernel</name><version_string>6.1</version_string><release_notes>x</release_notes></update>
    </release>
    <release version="2023.9.20251117"/>
    <release version="bogus"/>
    <release/>
    <release version="2023.9.20251117"/>
  </releases>
</root>"#;
        let parsed = parse_releasemd(&text[..]).unwrap();
        let versions: Vec<&str> = parsed.value.iter().map(ReleaseVersion::as_str).collect();
        assert_eq!(versions, ["2023.9.20251117", "2023.9.20251201"]);
        assert_eq!(parsed.diagnostics.len(), 2, "{:?}", parsed.diagnostics);
        assert!(parsed.diagnostics[0].to_string().contains("bogus"));
    }

    #[test]
    fn another_root_is_an_error() {
        let error = parse_releasemd(&b"<repomd></repomd>"[..]).unwrap_err();
        assert!(error.to_string().contains("releasemd.xml"), "{error}");
    }
}
