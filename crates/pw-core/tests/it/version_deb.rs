//! Debian version ordering and parsing: hand-written vectors, a differential table generated
//! with `dpkg --compare-versions` (`test_data/versions/deb.tsv`), and property tests.

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use proptest::prelude::*;
use pw_core::version::deb::{DebVersion, DebVersionError, verrevcmp};

#[track_caller]
fn check(left: &str, right: &str, expected: Ordering) {
    let (left_version, right_version) = (
        DebVersion::parse(left).expect("valid Debian version"),
        DebVersion::parse(right).expect("valid Debian version"),
    );
    assert_eq!(
        left_version.cmp(&right_version),
        expected,
        "{left} vs {right}"
    );
    assert_eq!(
        right_version.cmp(&left_version),
        expected.reverse(),
        "{right} vs {left}"
    );
    assert_eq!(
        left_version == right_version,
        expected.is_eq(),
        "{left} == {right}"
    );
    if expected.is_eq() {
        assert_eq!(
            hash_of(&left_version),
            hash_of(&right_version),
            "hash of {left} and {right}"
        );
    }
}

#[track_caller]
fn check_parse(text: &str, expected: Result<(u32, &str, &str), DebVersionError>) {
    let actual = DebVersion::parse(text).map(|version| {
        (
            version.epoch(),
            version.upstream().to_owned(),
            version.revision().to_owned(),
        )
    });
    let expected = expected
        .map(|(epoch, upstream, revision)| (epoch, upstream.to_owned(), revision.to_owned()));
    assert_eq!(actual, expected, "DebVersion::parse({text:?})");
}

#[track_caller]
fn check_error(text: &str, message: &str) {
    assert_eq!(
        DebVersion::parse(text)
            .expect_err("invalid input")
            .to_string(),
        message,
        "DebVersion::parse({text:?})"
    );
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[test]
fn epochs_compare_first() {
    check("1:1.0", "2.0", Ordering::Greater);
    check("0:1.0", "1.0", Ordering::Equal);
    check("2:0.1", "10:0.1", Ordering::Less);
    check("1:1.0-1", "1:1.0-1", Ordering::Equal);
}

#[test]
fn tilde_sorts_before_everything() {
    check("1.0~rc1", "1.0", Ordering::Less);
    check("1.0~rc1", "1.0~rc2", Ordering::Less);
    check("1.0~~", "1.0~", Ordering::Less);
    check("1.0~~a", "1.0~", Ordering::Less);
    check("1.0~", "1.0", Ordering::Less);
    check("1.0-1~bpo1", "1.0-1", Ordering::Less);
    check("2.30-1ubuntu1~22.04.1", "2.30-1ubuntu1", Ordering::Less);
}

#[test]
fn letters_sort_before_other_characters() {
    check("1.0a", "1.0+", Ordering::Less);
    check("1.0a", "1.0.", Ordering::Less);
    check("1.0Z", "1.0a", Ordering::Less);
    check("1.0", "1.0a", Ordering::Less);
    check("1.0", "1.0+", Ordering::Less);
    check("1.0+dfsg", "1.0.1", Ordering::Less);
    check("1.0+b1", "1.0", Ordering::Greater);
}

#[test]
fn digits_compare_numerically() {
    check("1.10", "1.9", Ordering::Greater);
    check("1.010", "1.10", Ordering::Equal);
    check("1.0", "1.00", Ordering::Equal);
    check("1.0", "1", Ordering::Greater);
    check(
        "99999999999999999999999",
        "99999999999999999999998",
        Ordering::Greater,
    );
    check("1a", "1a0", Ordering::Equal);
}

#[test]
fn revisions() {
    check("1.0", "1.0-0", Ordering::Equal);
    check("1.0-1", "1.0-0", Ordering::Greater);
    check("1.0-1", "1.0-1.1", Ordering::Less);
    check("1.0-1ubuntu1", "1.0-1", Ordering::Greater);
    check("1.0-1ubuntu0.1", "1.0-1", Ordering::Greater);
    check("3.0.2-0ubuntu1.15", "3.0.2-0ubuntu1.10", Ordering::Greater);
    check("1.2-3-4", "1.2-3", Ordering::Greater);
}

#[test]
fn upstream_may_contain_colons_and_hyphens() {
    check("1:2:3-4", "1:2:3-4", Ordering::Equal);
    check("1:2:3-4", "1:2.3-4", Ordering::Greater);
    // `-` sorts before `.` (both are non-letters, compared by ASCII).
    check("1.2-3-4", "1.2.3-4", Ordering::Less);
}

#[test]
fn parse_accepts_what_dpkg_accepts() {
    check_parse("1.0", Ok((0, "1.0", "")));
    check_parse("1:1.0-1", Ok((1, "1.0", "1")));
    check_parse(" 1.0-1 ", Ok((0, "1.0", "1")));
    check_parse("+1:1.0", Ok((1, "1.0", "")));
    check_parse("1.2-3-4", Ok((0, "1.2-3", "4")));
    check_parse("1:2:3", Ok((1, "2:3", "")));
    check_parse("2147483647:1", Ok((2_147_483_647, "1", "")));
    // dpkg warns ("version number does not start with digit") but accepts.
    check_parse("a1.0-1", Ok((0, "a1.0", "1")));
    assert!(
        !DebVersion::parse("a1.0-1")
            .expect("valid Debian version")
            .upstream_starts_with_digit()
    );
    assert!(
        DebVersion::parse("1:1.0")
            .expect("valid Debian version")
            .upstream_starts_with_digit()
    );
}

#[test]
fn parse_rejects_what_dpkg_rejects_and_says_why() {
    check_error("", "debian version is empty");
    check_error("   ", "debian version is empty");
    check_error("1.0 1", "debian version `1.0 1` has embedded whitespace");
    check_error(
        ":1.0",
        "debian version `:1.0` has an empty epoch before `:`",
    );
    check_error(
        "a:1.0",
        "epoch `a` in debian version `a:1.0` is not a number",
    );
    check_error(
        "-1:1.0",
        "epoch `-1` in debian version `-1:1.0` is not a number",
    );
    check_error(
        "2147483648:1.0",
        "epoch `2147483648` in debian version `2147483648:1.0` is too large (at most 2147483647)",
    );
    check_error(
        "1:",
        "debian version `1:` has nothing after the epoch's `:`",
    );
    check_error(
        "1.0-",
        "debian version `1.0-` has an empty revision after `-`",
    );
    check_error("-1", "debian version `-1` has an empty upstream version");
    check_error(
        "1:-1",
        "debian version `1:-1` has an empty upstream version",
    );
    // dpkg only warns about these; Debian Policy forbids them, and so do we.
    check_error(
        "1.0_1",
        "debian version `1.0_1` has the character `_` in its upstream version (allowed: letters, digits and `.+~-:`)",
    );
    check_error(
        "1:1.0-1:2",
        "debian version `1:1.0-1:2` has the character `:` in its revision (allowed: letters, digits and `.+~`)",
    );
    check_error(
        "1.0-1_2",
        "debian version `1.0-1_2` has the character `_` in its revision (allowed: letters, digits and `.+~`)",
    );
}

#[test]
fn display() {
    let display = |text: &str| {
        DebVersion::parse(text)
            .expect("valid Debian version")
            .to_string()
    };
    assert_eq!(display("1.0"), "1.0");
    assert_eq!(display("0:1.0-1"), "1.0-1");
    assert_eq!(display("1:1.0-1"), "1:1.0-1");
    assert_eq!(display(" 2:1.0~rc1 "), "2:1.0~rc1");
    assert_eq!(display("+1:1.0"), "1:1.0");
    // The epoch stays when the upstream version has a colon, so the text parses back.
    assert_eq!(display("0:1:2"), "0:1:2");
}

#[test]
fn verrevcmp_works_on_any_string() {
    assert_eq!(verrevcmp("", ""), Ordering::Equal);
    assert_eq!(verrevcmp("", "0"), Ordering::Equal);
    assert_eq!(verrevcmp("0a", "a"), Ordering::Less);
    assert_eq!(verrevcmp("1_0", "1.0"), Ordering::Greater);
}

#[test]
fn matches_dpkg() {
    let mut rows = 0;
    for (index, line) in include_str!("../../test_data/versions/deb.tsv")
        .lines()
        .enumerate()
    {
        if line.starts_with('#') {
            continue;
        }
        let mut cells = line.split('\t');
        let (left, right, expected) = (
            cells.next().expect("three tab-separated cells"),
            cells.next().expect("three tab-separated cells"),
            cells.next().expect("three tab-separated cells"),
        );
        let expected = match expected {
            "-1" => Ordering::Less,
            "0" => Ordering::Equal,
            _ => Ordering::Greater,
        };
        let (left_version, right_version) = (
            DebVersion::parse(left).expect("valid Debian version"),
            DebVersion::parse(right).expect("valid Debian version"),
        );
        let line_number = index + 1;
        assert_eq!(
            left_version.cmp(&right_version),
            expected,
            "deb.tsv:{line_number}: {left:?} vs {right:?}"
        );
        assert_eq!(
            right_version.cmp(&left_version),
            expected.reverse(),
            "deb.tsv:{line_number} swapped"
        );
        if expected.is_eq() {
            assert_eq!(
                hash_of(&left_version),
                hash_of(&right_version),
                "deb.tsv:{line_number}: hashes"
            );
        }
        rows += 1;
    }
    assert!(rows >= 2500, "only {rows} rows");
}

/// Pieces of a Debian version string; `extra` adds the characters only upstream may have.
fn part(extra: &'static [&'static str]) -> impl Strategy<Value = String> {
    let mut separators = vec![".", "+", "~", "~~"];
    separators.extend_from_slice(extra);
    let piece = prop_oneof![
        4 => (0u32..30).prop_map(|number| number.to_string()),
        1 => Just("0".to_owned()),
        1 => Just("007".to_owned()),
        3 => prop::sample::select(vec!["a", "b", "rc", "Z", "ubuntu", "dfsg"]).prop_map(str::to_owned),
        3 => prop::sample::select(separators).prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 1..7).prop_map(|pieces| pieces.concat())
}

fn deb_version() -> impl Strategy<Value = DebVersion> {
    (
        prop_oneof![3 => Just(None), 1 => (0u32..3).prop_map(Some)],
        (0u32..10, part(&["-", ":"])),
        prop::option::of(part(&[])),
    )
        .prop_map(|(epoch, (first_digit, upstream), revision)| {
            // A `-` in the upstream part needs a revision, and a `:` needs an epoch.
            let mut upstream = format!("{first_digit}{upstream}");
            if revision.is_none() {
                upstream = upstream.replace('-', ".");
            }
            let mut text = match epoch {
                Some(epoch) => format!("{epoch}:{upstream}"),
                None => upstream.replace(':', "."),
            };
            if let Some(revision) = revision {
                text = format!("{text}-{revision}");
            }
            DebVersion::parse(&text).expect("valid Debian version")
        })
}

proptest! {
    #[test]
    fn ordering_is_antisymmetric_and_agrees_with_equality(left in deb_version(), right in deb_version()) {
        prop_assert_eq!(left.cmp(&right), right.cmp(&left).reverse());
        prop_assert_eq!(left == right, left.cmp(&right).is_eq());
        if left == right {
            prop_assert_eq!(hash_of(&left), hash_of(&right));
        }
    }

    #[test]
    fn sorting_is_transitive(mut versions in prop::collection::vec(deb_version(), 3..12)) {
        versions.sort();
        for (index, earlier) in versions.iter().enumerate() {
            for later in &versions[index + 1..] {
                prop_assert_ne!(earlier.cmp(later), Ordering::Greater, "{} sorted before {}", earlier, later);
            }
        }
    }

    #[test]
    fn transitivity_on_triples(first in deb_version(), second in deb_version(), third in deb_version()) {
        if first <= second && second <= third {
            prop_assert!(first <= third, "{} <= {} <= {}", first, second, third);
        }
    }

    #[test]
    fn display_parse_round_trip(version in deb_version()) {
        let text = version.to_string();
        let reparsed = DebVersion::parse(&text).expect("valid Debian version");
        prop_assert_eq!(&reparsed, &version);
        prop_assert_eq!(
            (reparsed.epoch(), reparsed.upstream(), reparsed.revision()),
            (version.epoch(), version.upstream(), version.revision())
        );
    }

    #[test]
    fn padded_numbers_are_equal_and_hash_alike(version in deb_version()) {
        let pad = |text: &str| {
            let mut out = String::new();
            let mut previous_digit = false;
            for c in text.chars() {
                if c.is_ascii_digit() && !previous_digit {
                    out.push('0');
                }
                out.push(c);
                previous_digit = c.is_ascii_digit();
            }
            out
        };
        let mut text = format!("{}:{}", version.epoch(), pad(version.upstream()));
        if !version.revision().is_empty() {
            text = format!("{text}-{}", pad(version.revision()));
        }
        let padded = DebVersion::parse(&text).expect("valid Debian version");
        prop_assert_eq!(&padded, &version);
        prop_assert_eq!(hash_of(&padded), hash_of(&version));
    }
}
