//! rpm version ordering: hand-written vectors, differential tables generated with librpm
//! (`test_data/versions/`), and property tests.

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use proptest::prelude::*;
use pw_core::version::rpm::{Evr, EvrParseError, rpmvercmp};

#[track_caller]
fn check(left: &str, right: &str, expected: Ordering) {
    assert_eq!(
        rpmvercmp(left, right),
        expected,
        "rpmvercmp({left:?}, {right:?})"
    );
    assert_eq!(
        rpmvercmp(right, left),
        expected.reverse(),
        "rpmvercmp({right:?}, {left:?})"
    );
}

#[track_caller]
fn check_evr(left: &str, right: &str, expected: Ordering) {
    let (left_evr, right_evr) = (
        Evr::parse(left).expect("valid EVR"),
        Evr::parse(right).expect("valid EVR"),
    );
    assert_eq!(left_evr.cmp(&right_evr), expected, "{left} vs {right}");
    assert_eq!(
        right_evr.cmp(&left_evr),
        expected.reverse(),
        "{right} vs {left}"
    );
    assert_eq!(left_evr == right_evr, expected.is_eq(), "{left} == {right}");
    if expected.is_eq() {
        assert_eq!(
            hash_of(&left_evr),
            hash_of(&right_evr),
            "hash of {left} and {right}"
        );
    }
}

#[track_caller]
fn check_parse(text: &str, expected: Result<(u32, &str, &str), EvrParseError>) {
    let actual = Evr::parse(text).map(|evr| (evr.epoch, evr.version.clone(), evr.release.clone()));
    let expected =
        expected.map(|(epoch, version, release)| (epoch, version.to_owned(), release.to_owned()));
    assert_eq!(actual, expected, "Evr::parse({text:?})");
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

fn ordering_of(text: &str) -> Ordering {
    match text {
        "-1" => Ordering::Less,
        "0" => Ordering::Equal,
        "1" => Ordering::Greater,
        other => panic!("bad expected value {other:?}"),
    }
}

/// The data rows of a generated table: `left<TAB>right<TAB>expected`.
fn table(text: &str) -> impl Iterator<Item = (usize, &str, &str, Ordering)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.starts_with('#'))
        .map(|(index, line)| {
            let mut cells = line.split('\t');
            let (left, right, expected) = (
                cells.next().expect("three tab-separated cells"),
                cells.next().expect("three tab-separated cells"),
                cells.next().expect("three tab-separated cells"),
            );
            (index + 1, left, right, ordering_of(expected))
        })
}

#[test]
fn numeric_segments() {
    check("1.0", "1.0", Ordering::Equal);
    check("1.0", "2.0", Ordering::Less);
    check("2.0.1", "2.0", Ordering::Greater);
    check("2.10", "2.9", Ordering::Greater);
    check("1.01", "1.1", Ordering::Equal);
    check("1.001", "1.01", Ordering::Equal);
    check("1.0010", "1.9", Ordering::Greater);
    check("20240101", "9", Ordering::Greater);
    check(
        "18446744073709551616",
        "18446744073709551615",
        Ordering::Greater,
    );
    check("000000000000000000000000001", "1", Ordering::Equal);
}

#[test]
fn alphabetic_segments() {
    check("1.0a", "1.0", Ordering::Greater);
    check("1.0a", "1.0b", Ordering::Less);
    check("abc", "abd", Ordering::Less);
    check("ab", "abc", Ordering::Less);
    check("B", "a", Ordering::Less);
    check("el8", "el9", Ordering::Less);
    check("fc4", "fc.4", Ordering::Equal);
    // A numeric segment is newer than an alphabetic one.
    check("1.0.1", "1.0.a", Ordering::Greater);
    check("1.1", "1.a", Ordering::Greater);
    check("1a", "1.1", Ordering::Less);
    check("2.0rc1", "2.0.1", Ordering::Less);
}

#[test]
fn separators_only_separate() {
    check("1.0", "1_0", Ordering::Equal);
    check("1.0", "1+0", Ordering::Equal);
    check("1..0", "1.0", Ordering::Equal);
    check("1.0.", "1.0", Ordering::Equal);
    check("1%0", "1.0", Ordering::Equal);
    check("1.0é", "1.0", Ordering::Equal);
    check("", "", Ordering::Equal);
    check(".", "", Ordering::Equal);
    check("", "0", Ordering::Less);
    check("1a", "1.a", Ordering::Equal);
}

#[test]
fn tilde_sorts_before_everything_even_the_end() {
    check("1.0~rc1", "1.0", Ordering::Less);
    check("1.0~rc1", "1.0~rc2", Ordering::Less);
    check("1.0~rc1~git1", "1.0~rc1", Ordering::Less);
    check("1.0~~", "1.0~", Ordering::Less);
    check("1.0~", "1.0", Ordering::Less);
    check("1.0~1", "1.0.1", Ordering::Less);
    check("~", "", Ordering::Less);
    check("1.0~rc1", "1.0~rc1", Ordering::Equal);
    check("1~", "1^", Ordering::Less);
}

#[test]
fn caret_sorts_after_the_end_but_before_more_segments() {
    check("1.0^", "1.0", Ordering::Greater);
    check("1.0^git1", "1.0", Ordering::Greater);
    check("1.0^git1", "1.0.1", Ordering::Less);
    check("1.0^git1", "1.0a", Ordering::Less);
    check("1.0^git1", "1.0^git2", Ordering::Less);
    check("1.0^git1~pre", "1.0^git1", Ordering::Less);
    check("1.0^20160101", "1.0.1~rc1", Ordering::Less);
    check("1.0^^", "1.0^", Ordering::Greater);
    check("^", "", Ordering::Greater);
    check("^", "~", Ordering::Greater);
}

#[test]
fn realistic_releases() {
    check("24.amzn2", "26.amzn2", Ordering::Less);
    check("1.amzn2023.0.1", "1.amzn2023", Ordering::Greater);
    check("1.el8_10.2", "1.el8_10", Ordering::Greater);
    check("1.el8", "1.el8_9", Ordering::Less);
    check("0.62.rc1.57.amzn1", "0.62.rc1.56.amzn1", Ordering::Greater);
    check("3.el9_4.1", "3.el9_4", Ordering::Greater);
    check("5.fc40", "5.fc39", Ordering::Greater);
}

#[test]
fn evr_ordering() {
    check_evr("1.0-1", "1.0-1", Ordering::Equal);
    check_evr("0:1.0-1", "1.0-1", Ordering::Equal);
    check_evr("1.01-1", "1.1-1", Ordering::Equal);
    check_evr("1:0.1-1", "9.9-9", Ordering::Greater);
    check_evr("2:1.0-1", "10:1.0-1", Ordering::Less);
    check_evr("1.0-2", "1.0-10", Ordering::Less);
    check_evr("1.0~rc1-1", "1.0-1", Ordering::Less);
    check_evr("1.0-1", "1.0.1-0", Ordering::Less);
    // A missing release sorts before any release, as in librpm's rpmverCmp.
    check_evr("1.0", "1.0-1", Ordering::Less);
    check_evr("1.0", "1.0-~", Ordering::Less);
    check_evr("1.0", "1.0", Ordering::Equal);
    check_evr("1.1", "1.0-1", Ordering::Greater);
}

#[test]
fn dependency_cmp_ignores_a_missing_release() {
    let check_dependency = |left: &str, right: &str, expected: Ordering| {
        let (left_evr, right_evr) = (
            Evr::parse(left).expect("valid EVR"),
            Evr::parse(right).expect("valid EVR"),
        );
        assert_eq!(
            left_evr.dependency_cmp(&right_evr),
            expected,
            "{left} vs {right}"
        );
    };
    check_dependency("1.0", "1.0-1", Ordering::Equal);
    check_dependency("1.0-5", "1.0", Ordering::Equal);
    check_dependency("1.0-5", "1.0-6", Ordering::Less);
    check_dependency("1:1.0", "1.0-6", Ordering::Greater);
    check_dependency("1.1", "1.0-6", Ordering::Greater);
}

#[test]
fn evr_parse() {
    check_parse("1.0", Ok((0, "1.0", "")));
    check_parse("1.0-1.el8", Ok((0, "1.0", "1.el8")));
    check_parse("2:1.0-1", Ok((2, "1.0", "1")));
    check_parse("02:1.0-1", Ok((2, "1.0", "1")));
    check_parse("1.0-2-3", Ok((0, "1.0-2", "3")));
    check_parse("4294967295:1", Ok((u32::MAX, "1", "")));
    check_parse("1.0^git1~rc1", Ok((0, "1.0^git1~rc1", "")));
    check_parse("", Err(EvrParseError::Empty));
    check_parse(
        "1.0 -1",
        Err(EvrParseError::BadCharacter {
            text: "1.0 -1".to_owned(),
        }),
    );
    check_parse(
        "1.0\t",
        Err(EvrParseError::BadCharacter {
            text: "1.0\t".to_owned(),
        }),
    );
    check_parse(
        "a:1.0",
        Err(EvrParseError::EpochNotNumber {
            text: "a:1.0".to_owned(),
            epoch: "a".to_owned(),
        }),
    );
    check_parse(
        ":1.0",
        Err(EvrParseError::EpochNotNumber {
            text: ":1.0".to_owned(),
            epoch: String::new(),
        }),
    );
    check_parse(
        "4294967296:1",
        Err(EvrParseError::EpochTooLarge {
            text: "4294967296:1".to_owned(),
            epoch: "4294967296".to_owned(),
        }),
    );
    check_parse(
        "1:2:3",
        Err(EvrParseError::ExtraColon {
            text: "1:2:3".to_owned(),
        }),
    );
    check_parse(
        "1:",
        Err(EvrParseError::EmptyVersion {
            text: "1:".to_owned(),
        }),
    );
    check_parse(
        "-1",
        Err(EvrParseError::EmptyVersion {
            text: "-1".to_owned(),
        }),
    );
    check_parse(
        "1.0-",
        Err(EvrParseError::EmptyRelease {
            text: "1.0-".to_owned(),
        }),
    );
}

#[test]
fn evr_parse_error_messages_say_why() {
    let message = |text: &str| Evr::parse(text).expect_err("invalid input").to_string();
    assert_eq!(
        message("x:1"),
        "epoch `x` in rpm version `x:1` is not a number"
    );
    assert_eq!(
        message("1.0-"),
        "rpm version `1.0-` has an empty release after `-`"
    );
}

#[test]
fn evr_display() {
    let display = |text: &str| Evr::parse(text).expect("valid EVR").to_string();
    assert_eq!(display("1.0-1"), "1.0-1");
    assert_eq!(display("0:1.0-1"), "1.0-1");
    assert_eq!(display("3:1.0"), "3:1.0");
    assert_eq!(display("1.0-2-3"), "1.0-2-3");
}

#[test]
fn equal_evrs_hash_alike() {
    let groups: &[&[&str]] = &[
        &["1.0-1", "0:1.0-1", "1.00-1", "1_0-01", "1.0.-1.", "01.0-1"],
        &["1.0", "0:1.00", "1..0"],
        &["1.0~rc1-1", "1.0~rc01-1", "1_0~rc_1-1"],
        &["1.0^git1", "1.0^git01"],
    ];
    for group in groups {
        let hashes: Vec<u64> = group
            .iter()
            .map(|text| hash_of(&Evr::parse(text).expect("valid EVR")))
            .collect();
        assert!(
            hashes.windows(2).all(|pair| pair[0] == pair[1]),
            "{group:?}: {hashes:?}"
        );
    }
    assert_ne!(
        hash_of(&Evr::parse("1.0-1").expect("valid EVR")),
        hash_of(&Evr::parse("1.0").expect("valid EVR"))
    );
}

#[test]
fn matches_librpm_rpmvercmp() {
    let mut rows = 0;
    for (line, left, right, expected) in
        table(include_str!("../../test_data/versions/rpmvercmp.tsv"))
    {
        assert_eq!(
            rpmvercmp(left, right),
            expected,
            "rpmvercmp.tsv:{line}: {left:?} vs {right:?}"
        );
        assert_eq!(
            rpmvercmp(right, left),
            expected.reverse(),
            "rpmvercmp.tsv:{line} swapped"
        );
        rows += 1;
    }
    assert!(rows >= 4000, "only {rows} rows");
}

#[test]
fn matches_librpm_rpmvercmp_on_evrs() {
    let mut rows = 0;
    for (line, left, right, expected) in table(include_str!("../../test_data/versions/rpm_evr.tsv"))
    {
        let (left_evr, right_evr) = (
            Evr::parse(left).expect("valid EVR"),
            Evr::parse(right).expect("valid EVR"),
        );
        assert_eq!(
            left_evr.cmp(&right_evr),
            expected,
            "rpm_evr.tsv:{line}: {left:?} vs {right:?}"
        );
        if expected.is_eq() {
            assert_eq!(
                hash_of(&left_evr),
                hash_of(&right_evr),
                "rpm_evr.tsv:{line}: hashes"
            );
        }
        rows += 1;
    }
    assert!(rows >= 3000, "only {rows} rows");
}

/// Version-like strings made of the pieces that matter: digits (with leading zeros),
/// letters of both cases, `~`, `^` and separators.
fn version_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => (0u32..30).prop_map(|number| number.to_string()),
        1 => Just("0".to_owned()),
        1 => Just("007".to_owned()),
        3 => prop::sample::select(vec!["a", "b", "rc", "Z", "el", "git"]).prop_map(str::to_owned),
        2 => prop::sample::select(vec!["~", "^"]).prop_map(str::to_owned),
        3 => prop::sample::select(vec![".", "_", "+", ".."]).prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..7).prop_map(|pieces| pieces.concat())
}

/// A non-empty version or release that [`Evr::parse`] accepts.
fn evr_part() -> impl Strategy<Value = String> {
    version_text().prop_map(|text| {
        if text.is_empty() {
            "0".to_owned()
        } else {
            text
        }
    })
}

fn evr() -> impl Strategy<Value = Evr> {
    (
        prop_oneof![3 => Just(0u32), 1 => 0u32..3],
        evr_part(),
        prop::option::of(evr_part()),
    )
        .prop_map(|(epoch, version, release)| Evr::new(epoch, version, release.unwrap_or_default()))
}

proptest! {
    #[test]
    fn rpmvercmp_is_antisymmetric(left in version_text(), right in version_text()) {
        prop_assert_eq!(rpmvercmp(&left, &right), rpmvercmp(&right, &left).reverse());
    }

    #[test]
    fn rpmvercmp_is_reflexive(text in version_text()) {
        prop_assert_eq!(rpmvercmp(&text, &text), Ordering::Equal);
    }

    #[test]
    fn evr_sorting_is_transitive(mut evrs in prop::collection::vec(evr(), 3..12)) {
        evrs.sort();
        for (index, earlier) in evrs.iter().enumerate() {
            for later in &evrs[index + 1..] {
                prop_assert_ne!(earlier.cmp(later), Ordering::Greater, "{} sorted before {}", earlier, later);
            }
        }
    }

    #[test]
    fn evr_transitivity_on_triples(first in evr(), second in evr(), third in evr()) {
        if first <= second && second <= third {
            prop_assert!(first <= third, "{} <= {} <= {}", first, second, third);
        }
        if first == second && second == third {
            prop_assert!(first == third);
        }
    }

    #[test]
    fn evr_equality_agrees_with_ordering_and_hash(left in evr(), right in evr()) {
        prop_assert_eq!(left == right, left.cmp(&right).is_eq());
        prop_assert_eq!(left.cmp(&right), right.cmp(&left).reverse());
        if left == right {
            prop_assert_eq!(hash_of(&left), hash_of(&right));
        }
    }

    #[test]
    fn equal_variants_hash_alike(evr in evr(), zeros in 1usize..3) {
        // Adding leading zeros to every number and doubling separators keeps the value.
        let pad = |text: &str| {
            let mut out = String::new();
            let mut previous_digit = false;
            for c in text.chars() {
                if c.is_ascii_digit() && !previous_digit {
                    out.push_str(&"0".repeat(zeros));
                }
                if c == '.' {
                    out.push('_');
                }
                out.push(c);
                previous_digit = c.is_ascii_digit();
            }
            out
        };
        let variant = Evr::new(evr.epoch, pad(&evr.version), pad(&evr.release));
        prop_assert_eq!(&variant, &evr);
        prop_assert_eq!(hash_of(&variant), hash_of(&evr));
    }

    #[test]
    fn evr_display_parse_round_trip(evr in evr()) {
        let text = evr.to_string();
        let reparsed = Evr::parse(&text).expect("valid EVR");
        prop_assert_eq!(&reparsed, &evr);
        prop_assert_eq!((reparsed.epoch, &reparsed.version, &reparsed.release), (evr.epoch, &evr.version, &evr.release));
    }
}
