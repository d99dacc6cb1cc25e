//! `Release` and `InRelease` files: the identity of a repository suite (origin, label, suite,
//! codename, date) and the checksums of its index files.
//!
//! `InRelease` is a clear-signed `Release`. apt verified the signature before it stored the
//! file in its lists directory, so [`clearsigned_body`] only removes the armour (RFC 4880
//! §7: armour headers, dash-escaped lines, the signature block) and does not verify.

use std::borrow::Cow;

use jiff::Timestamp;

use crate::apt::control::ControlReader;
use crate::apt::{AptDocument, AptError, Diagnostics, Parsed};
use crate::repo::{Checksum, ChecksumKind};

const BEGIN_SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";

/// One index file listed in a Release file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFile {
    /// Relative to the suite's directory (`main/binary-amd64/Packages.xz`).
    pub path: String,
    pub size: u64,
    pub checksum: Checksum,
}

/// A parsed Release file. Every field is optional in practice (flat repositories and
/// third-party archives leave many out).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    /// `Origin` (`Debian`, `Ubuntu`, a vendor).
    pub origin: Option<String>,
    /// `Label` (`Debian`, `Debian-Security`, `Ubuntu`).
    pub label: Option<String>,
    /// `Suite`, which apt calls the archive (`stable`, `bookworm-security`,
    /// `jammy-updates`); `Archive` when a file spells it that way.
    pub suite: Option<String>,
    /// `Codename` (`bookworm`, `jammy`).
    pub codename: Option<String>,
    /// `Version` (`12.7`, `22.04`).
    pub version: Option<String>,
    /// `Date`: when the archive generated this file.
    pub date: Option<Timestamp>,
    /// `Valid-Until`, when present.
    pub valid_until: Option<Timestamp>,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    pub description: Option<String>,
    /// `NotAutomatic: yes` (backports, experimental): apt never upgrades to it by itself.
    pub not_automatic: bool,
    /// `ButAutomaticUpgrades: yes`: upgrades of packages installed from it are automatic.
    pub but_automatic_upgrades: bool,
    pub acquire_by_hash: bool,
    /// The index files with their strongest supported checksum (SHA512 or SHA256, else
    /// SHA1); MD5-only entries are left out.
    pub files: Vec<ReleaseFile>,
}

/// Removes the clear-sign armour of an `InRelease` file without verifying the signature.
/// Data without armour is returned unchanged.
pub fn clearsigned_body(bytes: &[u8]) -> Result<Cow<'_, [u8]>, AptError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if !bytes[start..].starts_with(BEGIN_SIGNED.as_bytes()) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut lines = bytes[start..]
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    // The BEGIN line, then armour headers (`Hash: SHA512`) up to an empty line.
    lines.next();
    loop {
        match lines.next() {
            None => {
                return Err(AptError::Armour {
                    reason: "no empty line after the armour headers",
                });
            }
            Some(line) if line.iter().all(u8::is_ascii_whitespace) => break,
            Some(_) => {}
        }
    }
    let mut body: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut first = true;
    loop {
        let Some(line) = lines.next() else {
            return Err(AptError::Armour {
                reason: "no signature block after the signed text",
            });
        };
        if line.starts_with(BEGIN_SIGNATURE.as_bytes()) {
            break;
        }
        if !first {
            body.push(b'\n');
        }
        first = false;
        body.extend_from_slice(line.strip_prefix(b"- ").unwrap_or(line));
    }
    // The line break before the signature belongs to the armour (RFC 4880 §7.1); a Release
    // body ends with a newline anyway for the control parser's sake.
    body.push(b'\n');
    Ok(Cow::Owned(body))
}

/// Parses a `Release` or `InRelease` file (armour is removed when present). The first
/// paragraph is the Release; a missing first paragraph is an error, anything after it is
/// reported and ignored.
pub fn parse_release(bytes: &[u8]) -> Result<Parsed<Release>, AptError> {
    let document = AptDocument::Release;
    let body = clearsigned_body(bytes)?;
    let mut control = ControlReader::new(&body[..], document);
    let read_error = |source| AptError::Read { document, source };
    let Some(paragraph) = control.next_paragraph().map_err(read_error)? else {
        return Err(AptError::EmptyRelease);
    };
    let extra = control.next_paragraph().map_err(read_error)?;
    let mut diagnostics = Diagnostics::new(document);
    diagnostics.append(control.into_diagnostics());
    if let Some(extra) = extra {
        diagnostics.push(
            extra.line(),
            None,
            "more than one paragraph; only the first is used".to_owned(),
        );
    }

    let text = |name: &str| paragraph.get_non_empty(name).map(str::to_owned);
    let words = |name: &str| -> Vec<String> {
        paragraph
            .get_folded(name)
            .map(|value| value.split_ascii_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let yes = |name: &str| {
        paragraph
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    };
    let mut date_field = |name: &str| -> Option<Timestamp> {
        let value = paragraph.get_non_empty(name)?;
        let parsed = parse_release_date(value);
        if parsed.is_none() {
            diagnostics.push(
                paragraph.field_line(name).unwrap_or(paragraph.line()),
                None,
                format!("`{name}: {value}` is not an RFC 2822 date; ignored"),
            );
        }
        parsed
    };
    let date = date_field("Date");
    let valid_until = date_field("Valid-Until");

    let mut files: Vec<ReleaseFile> = Vec::new();
    for (field, kind) in [
        ("SHA512", ChecksumKind::Sha512),
        ("SHA256", ChecksumKind::Sha256),
        ("SHA1", ChecksumKind::Sha1),
    ] {
        let Some(value) = paragraph.get(field) else {
            continue;
        };
        let first_line = paragraph.field_line(field).unwrap_or(paragraph.line());
        for (offset, line) in value.lines().enumerate() {
            // Checksum fields start on the line after their name.
            let line_number = first_line + 1 + u64::try_from(offset).unwrap_or(0);
            let mut parts = line.split_ascii_whitespace();
            let (Some(hex), Some(size), Some(path), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                if !line.trim().is_empty() {
                    diagnostics.push(
                        line_number,
                        None,
                        format!("`{field}` entry `{line}` is not `checksum size path`; skipped"),
                    );
                }
                continue;
            };
            let (Ok(size), Ok(checksum)) = (size.parse::<u64>(), Checksum::from_hex(kind, hex))
            else {
                diagnostics.push(
                    line_number,
                    None,
                    format!("`{field}` entry `{line}` has a bad size or checksum; skipped"),
                );
                continue;
            };
            if files.iter().any(|file| file.path == path) {
                continue;
            }
            files.push(ReleaseFile {
                path: path.to_owned(),
                size,
                checksum,
            });
        }
    }

    let release = Release {
        origin: text("Origin"),
        label: text("Label"),
        suite: text("Suite").or_else(|| text("Archive")),
        codename: text("Codename"),
        version: text("Version"),
        date,
        valid_until,
        architectures: words("Architectures"),
        components: words("Components"),
        description: text("Description"),
        not_automatic: yes("NotAutomatic"),
        but_automatic_upgrades: yes("ButAutomaticUpgrades"),
        acquire_by_hash: yes("Acquire-By-Hash"),
        files,
    };
    Ok(diagnostics.into_parsed(release))
}

/// Parses a Release date as apt writes and reads it: RFC 2822 / RFC 1123
/// (`Sat, 10 Aug 2024 09:44:53 UTC`), the weekday optional, seconds optional, the zone
/// `UTC`, `GMT`, `UT`, `Z` or a numeric offset (`+0000`). `None` when it is none of these.
pub fn parse_release_date(text: &str) -> Option<Timestamp> {
    let mut tokens: Vec<&str> = text.split_ascii_whitespace().collect();
    if tokens
        .first()
        .is_some_and(|first| first.ends_with(',') || first.chars().all(|c| c.is_ascii_alphabetic()))
    {
        tokens.remove(0);
    }
    let [day, month, year, time, zone] = tokens[..] else {
        return None;
    };
    let day: i8 = day.parse().ok()?;
    let month = month_number(month)?;
    let year: i16 = year.parse().ok()?;
    let mut clock = time.split(':');
    let hour: i8 = clock.next()?.parse().ok()?;
    let minute: i8 = clock.next()?.parse().ok()?;
    let second: i8 = match clock.next() {
        Some(second) => second.parse().ok()?,
        None => 0,
    };
    if clock.next().is_some() {
        return None;
    }
    let offset_seconds = zone_offset_seconds(zone)?;
    // A leap second (`:60`) is read as the last second of the minute, as jiff cannot
    // represent it.
    let civil =
        jiff::civil::DateTime::new(year, month, day, hour, minute, second.min(59), 0).ok()?;
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).ok()?;
    offset.to_timestamp(civil).ok()
}

fn month_number(name: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let position = MONTHS
        .iter()
        .position(|month| month.eq_ignore_ascii_case(name))?;
    i8::try_from(position + 1).ok()
}

fn zone_offset_seconds(zone: &str) -> Option<i32> {
    if ["UTC", "GMT", "UT", "Z"]
        .iter()
        .any(|name| zone.eq_ignore_ascii_case(name))
    {
        return Some(0);
    }
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if minutes >= 60 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_date(text: &str, expected: Option<&str>) {
        let parsed = parse_release_date(text).map(|t| t.to_string());
        assert_eq!(parsed.as_deref(), expected, "{text}");
    }

    #[test]
    fn release_dates() {
        check_date(
            "Sat, 10 Aug 2024 09:44:53 UTC",
            Some("2024-08-10T09:44:53Z"),
        );
        check_date(
            "Thu, 28 Nov 2024 13:41:02 +0000",
            Some("2024-11-28T13:41:02Z"),
        );
        check_date(
            "Thu, 28 Nov 2024 13:41:02 +0130",
            Some("2024-11-28T12:11:02Z"),
        );
        check_date("1 Jan 2020 00:00 GMT", Some("2020-01-01T00:00:00Z"));
        check_date("Sat, 10 Aug 2024 09:44:53", None);
        check_date("Sat, 10 Foo 2024 09:44:53 UTC", None);
        check_date("Sat, 32 Aug 2024 09:44:53 UTC", None);
        check_date("", None);
        check_date("Sat, 10 Aug 2024 09:44:53 +99", None);
    }

    #[test]
    fn armour_is_removed() {
        let signed = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\n- -dashed: no\n-----BEGIN PGP SIGNATURE-----\nxyz\n-----END PGP SIGNATURE-----\n";
        let body = clearsigned_body(signed).unwrap();
        assert_eq!(&body[..], b"Origin: Debian\n-dashed: no\n");
        assert!(
            clearsigned_body(b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: x\n")
                .is_err()
        );
        assert!(clearsigned_body(b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512").is_err());
        assert_eq!(
            &clearsigned_body(b"Origin: x\n").unwrap()[..],
            b"Origin: x\n"
        );
    }
}
