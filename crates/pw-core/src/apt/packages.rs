//! `Packages` indices: one paragraph per available binary package version, and the
//! relationship fields (`Depends`, `Pre-Depends`, `Provides`) they carry.
//!
//! A paragraph without a `Package`, a valid `Version` or an `Architecture` is skipped with a
//! diagnostic; a bad relationship field or size only loses that field (also reported).

use std::fmt;
use std::io::BufRead;

use crate::apt::control::{ControlReader, Paragraph};
use crate::apt::decompress::Decompressor;
use crate::apt::{AptDocument, AptError, Diagnostics, Parsed};
use crate::repo::{Checksum, ChecksumKind};
use crate::version::deb::DebVersion;

/// One available version of a binary package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebPackage {
    pub name: String,
    pub version: DebVersion,
    /// `amd64`, `arm64`, `all`, ...
    pub architecture: String,
    /// The source package, when it differs from the binary's name (`Source: openssl`).
    pub source: Option<String>,
    /// The source version, when the `Source` field gives one (`Source: glibc (2.36-9)`).
    pub source_version: Option<DebVersion>,
    /// `required`, `important`, `standard`, `optional`, `extra`, as written.
    pub priority: Option<String>,
    /// `libs`, `net`, `contrib/net`, ... as written.
    pub section: Option<String>,
    pub essential: bool,
    /// `same`, `foreign`, `allowed`, `no`.
    pub multi_arch: Option<String>,
    /// `Pre-Depends`: groups that must all be satisfied, each by one of its alternatives.
    pub pre_depends: Vec<Vec<Relation>>,
    pub depends: Vec<Vec<Relation>>,
    pub provides: Vec<Relation>,
    /// The path of the .deb relative to the archive root (`pool/main/o/openssl/...`).
    pub filename: Option<String>,
    /// The size of the .deb in bytes.
    pub size: Option<u64>,
    /// `Installed-Size`, in KiB.
    pub installed_size: Option<u64>,
    pub sha256: Option<Checksum>,
    /// Ubuntu's `Phased-Update-Percentage` (0-100), when present.
    pub phased_update_percentage: Option<u8>,
}

impl DebPackage {
    /// `name.arch`, the compliance item id.
    pub fn id(&self) -> String {
        format!("{}.{}", self.name, self.architecture)
    }
}

/// A version comparison in a relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationOp {
    /// `<<`
    Earlier,
    /// `<=` (and the obsolete `<`)
    EarlierOrEqual,
    /// `=`
    Equal,
    /// `>=` (and the obsolete `>`)
    LaterOrEqual,
    /// `>>`
    Later,
}

impl RelationOp {
    pub fn as_str(self) -> &'static str {
        match self {
            RelationOp::Earlier => "<<",
            RelationOp::EarlierOrEqual => "<=",
            RelationOp::Equal => "=",
            RelationOp::LaterOrEqual => ">=",
            RelationOp::Later => ">>",
        }
    }

    /// Whether `version` satisfies `op constraint`.
    pub fn accepts(self, version: &DebVersion, constraint: &DebVersion) -> bool {
        let ordering = version.cmp(constraint);
        match self {
            RelationOp::Earlier => ordering.is_lt(),
            RelationOp::EarlierOrEqual => ordering.is_le(),
            RelationOp::Equal => ordering.is_eq(),
            RelationOp::LaterOrEqual => ordering.is_ge(),
            RelationOp::Later => ordering.is_gt(),
        }
    }
}

/// One alternative of a relationship: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// The architecture qualifier (`:any`, `:amd64`, `:native`).
    pub arch: Option<String>,
    pub version: Option<(RelationOp, DebVersion)>,
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(arch) = &self.arch {
            write!(f, ":{arch}")?;
        }
        if let Some((op, version)) = &self.version {
            write!(f, " ({} {version})", op.as_str())?;
        }
        Ok(())
    }
}

/// Parses a relationship field: groups separated by `,`, alternatives by `|`. Architecture
/// restrictions (`[amd64]`) and build profiles (`<!nocheck>`), which only source packages
/// carry, are accepted and dropped. An empty field gives no groups.
pub fn parse_relations(text: &str) -> Result<Vec<Vec<Relation>>, String> {
    let mut groups = Vec::new();
    for group_text in text.split(',') {
        if group_text.trim().is_empty() {
            if text.trim().is_empty() {
                continue;
            }
            return Err(format!("empty relationship in `{}`", text.trim()));
        }
        let mut group = Vec::new();
        for alternative in group_text.split('|') {
            group.push(parse_relation(alternative)?);
        }
        groups.push(group);
    }
    Ok(groups)
}

fn parse_relation(text: &str) -> Result<Relation, String> {
    let text = text.trim();
    // Drop `[arch list]` and `<profiles>` restrictions.
    let cut = text
        .find(['[', '<'])
        .filter(|&at| !text[..at].contains('('));
    let mut rest = match cut {
        Some(at) => text[..at].trim_end(),
        None => text,
    };
    let name_end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '(')
        .unwrap_or(rest.len());
    let qualified = &rest[..name_end];
    rest = rest[name_end..].trim();
    let (name, arch) = match qualified.split_once(':') {
        Some((name, arch)) => (name, Some(arch.to_owned())),
        None => (qualified, None),
    };
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if !valid_name || arch.as_deref().is_some_and(str::is_empty) {
        return Err(format!(
            "bad package name `{qualified}` in relationship `{text}`"
        ));
    }
    let version = if rest.is_empty() || rest.starts_with(['[', '<']) {
        None
    } else {
        let inner = rest
            .strip_prefix('(')
            .and_then(|inner| inner.split_once(')'))
            .map(|(inner, _)| inner.trim())
            .ok_or_else(|| format!("bad version constraint in relationship `{text}`"))?;
        let op_end = inner
            .find(|c: char| !"<>=".contains(c))
            .unwrap_or(inner.len());
        let op = match &inner[..op_end] {
            "<<" => RelationOp::Earlier,
            "<=" | "<" => RelationOp::EarlierOrEqual,
            "=" => RelationOp::Equal,
            ">=" | ">" => RelationOp::LaterOrEqual,
            ">>" => RelationOp::Later,
            other => return Err(format!("bad operator `{other}` in relationship `{text}`")),
        };
        let version = DebVersion::parse(&inner[op_end..])
            .map_err(|error| format!("relationship `{text}`: {error}"))?;
        Some((op, version))
    };
    Ok(Relation {
        name: name.to_owned(),
        arch,
        version,
    })
}

/// Builds a package from a `Packages` paragraph; `None` (with a diagnostic) when it lacks
/// its identity.
pub(crate) fn package_from_paragraph(
    paragraph: &Paragraph,
    diagnostics: &mut Diagnostics,
) -> Option<DebPackage> {
    let line = paragraph.line();
    let Some(name) = paragraph.get_non_empty("Package") else {
        diagnostics.push(
            line,
            None,
            "paragraph has no `Package` field; skipped".to_owned(),
        );
        return None;
    };
    let item = Some(name);
    let version = match paragraph.get_non_empty("Version").map(DebVersion::parse) {
        Some(Ok(version)) => version,
        Some(Err(error)) => {
            diagnostics.push(line, item, format!("{error}; package skipped"));
            return None;
        }
        None => {
            diagnostics.push(line, item, "no `Version` field; package skipped".to_owned());
            return None;
        }
    };
    let Some(architecture) = paragraph.get_non_empty("Architecture") else {
        diagnostics.push(
            line,
            item,
            "no `Architecture` field; package skipped".to_owned(),
        );
        return None;
    };
    let mut relations = |field: &str| -> Vec<Vec<Relation>> {
        let Some(value) = paragraph.get_folded(field) else {
            return Vec::new();
        };
        parse_relations(&value).unwrap_or_else(|message| {
            let at = paragraph.field_line(field).unwrap_or(line);
            diagnostics.push(at, item, format!("`{field}`: {message}; field ignored"));
            Vec::new()
        })
    };
    let pre_depends = relations("Pre-Depends");
    let depends = relations("Depends");
    let provides = relations("Provides").into_iter().flatten().collect();
    let mut number = |field: &str| -> Option<u64> {
        let value = paragraph.get_non_empty(field)?;
        let parsed = value.parse::<u64>().ok();
        if parsed.is_none() {
            let at = paragraph.field_line(field).unwrap_or(line);
            diagnostics.push(
                at,
                item,
                format!("`{field}: {value}` is not a number; ignored"),
            );
        }
        parsed
    };
    let size = number("Size");
    let installed_size = number("Installed-Size");
    let phased_update_percentage = number("Phased-Update-Percentage")
        .and_then(|percentage| u8::try_from(percentage.min(100)).ok());
    let sha256 = paragraph.get_non_empty("SHA256").and_then(|hex| {
        let parsed = Checksum::from_hex(ChecksumKind::Sha256, hex).ok();
        if parsed.is_none() {
            let at = paragraph.field_line("SHA256").unwrap_or(line);
            diagnostics.push(
                at,
                item,
                format!("`SHA256: {hex}` is not a sha256 digest; ignored"),
            );
        }
        parsed
    });
    let (source, source_version) = match paragraph.get_non_empty("Source") {
        None => (None, None),
        Some(text) => match text.split_once('(') {
            Some((source, version)) => (
                Some(source.trim().to_owned()),
                DebVersion::parse(version.trim_end_matches(')').trim()).ok(),
            ),
            None => (Some(text.to_owned()), None),
        },
    };
    let owned = |field: &str| paragraph.get_non_empty(field).map(str::to_owned);
    Some(DebPackage {
        name: name.to_owned(),
        version,
        architecture: architecture.to_owned(),
        source,
        source_version,
        priority: owned("Priority"),
        section: owned("Section"),
        essential: paragraph
            .get("Essential")
            .is_some_and(|value| value.eq_ignore_ascii_case("yes")),
        multi_arch: owned("Multi-Arch"),
        pre_depends,
        depends,
        provides,
        filename: owned("Filename"),
        size,
        installed_size,
        sha256,
        phased_update_percentage,
    })
}

/// Streams a (possibly compressed) `Packages` index, calling `each` for every well-formed
/// package. The returned value carries the diagnostics.
pub fn parse_packages_with<R: BufRead>(
    reader: R,
    mut each: impl FnMut(DebPackage),
) -> Result<Parsed<()>, AptError> {
    let document = AptDocument::Packages;
    let read_error = |source| AptError::Read { document, source };
    let reader = Decompressor::new(reader).map_err(read_error)?;
    let mut control = ControlReader::new(reader, document);
    let mut diagnostics = Diagnostics::new(document);
    while let Some(paragraph) = control.next_paragraph().map_err(read_error)? {
        if let Some(package) = package_from_paragraph(&paragraph, &mut diagnostics) {
            each(package);
        }
    }
    let mut all = control.into_diagnostics();
    all.append(diagnostics);
    Ok(all.into_parsed(()))
}

/// Parses a whole (possibly compressed) `Packages` index.
pub fn parse_packages(bytes: &[u8]) -> Result<Parsed<Vec<DebPackage>>, AptError> {
    let mut packages = Vec::new();
    let parsed = parse_packages_with(bytes, |package| packages.push(package))?;
    Ok(Parsed {
        value: packages,
        diagnostics: parsed.diagnostics,
        suppressed_diagnostics: parsed.suppressed_diagnostics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: &str) {
        let shown = match parse_relations(text) {
            Ok(groups) => groups
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" | ")
                })
                .collect::<Vec<_>>()
                .join(", "),
            Err(message) => format!("error: {message}"),
        };
        assert_eq!(shown, expected, "{text}");
    }

    #[test]
    fn relations() {
        check(
            "libc6 (>= 2.34), libssl3 (>= 3.0.0)",
            "libc6 (>= 2.34), libssl3 (>= 3.0.0)",
        );
        check(
            "debconf (>= 0.5) | debconf-2.0",
            "debconf (>= 0.5) | debconf-2.0",
        );
        check(
            "python3:any (<< 3.12), perl:any",
            "python3:any (<< 3.12), perl:any",
        );
        check("foo (>2)", "foo (>= 2)");
        check("foo(<<1:2.0-1)", "foo (<< 1:2.0-1)");
        check("foo [amd64] <!nocheck>", "foo");
        check("foo (>= 1) [!i386]", "foo (>= 1)");
        check("", "");
        check("foo,, bar", "error: empty relationship in `foo,, bar`");
        check("Foo", "error: bad package name `Foo` in relationship `Foo`");
        check(
            "foo (~= 1)",
            "error: bad operator `` in relationship `foo (~= 1)`",
        );
        check(
            "foo (>= 1",
            "error: bad version constraint in relationship `foo (>= 1`",
        );
        check(
            "foo (>= )",
            "error: relationship `foo (>= )`: debian version is empty",
        );
    }
}
