//! Approved/rejected list entries: classification, the generated package strings (ssm-reference
//! §2.2), exact and glob matching, and advisory matching.

use proptest::prelude::*;
use pw_core::nevra::Nevra;
use pw_core::pattern::{PatchEntry, PatchEntryKind, PatternSet, apt_forms, rpm_forms};

const DBUS: &str = "dbus.x86_64:1:1.12.28-1.amzn2023.0.1";

/// Which entry of `entries` (by text) matches the rpm package `nevra`, if any.
#[track_caller]
fn check_rpm(entries: &[&str], nevra: &str, expected: Option<&str>) {
    let set = PatternSet::parse(entries);
    let package = Nevra::parse(nevra).expect("valid NEVRA");
    let matched = set
        .matches_rpm(&package)
        .map(|index| set.entries()[index].as_str());
    assert_eq!(matched, expected, "{entries:?} against {nevra}");
}

#[track_caller]
fn check_apt(entries: &[&str], (name, version, arch): (&str, &str, &str), expected: Option<&str>) {
    let set = PatternSet::parse(entries);
    let matched = set
        .matches_apt(name, version, arch)
        .map(|index| set.entries()[index].as_str());
    assert_eq!(
        matched, expected,
        "{entries:?} against {name} {version} {arch}"
    );
}

#[track_caller]
fn check_kind(text: &str, expected: PatchEntryKind) {
    assert_eq!(PatchEntry::parse(text).kind(), expected, "{text}");
}

#[test]
fn the_twelve_rpm_strings() {
    let forms = rpm_forms(&Nevra::parse(DBUS).expect("valid NEVRA"));
    assert_eq!(
        forms,
        [
            "dbus",
            "dbus.x86_64",
            "dbus-1.12.28-1.amzn2023.0.1.x86_64",
            "dbus-1.12.28",
            "dbus-1.12.28-1.amzn2023.0.1",
            "1:dbus-1.12.28-1.amzn2023.0.1.x86_64",
            "dbus-1:1.12.28-1.amzn2023.0.1.x86_64",
            "dbus-1:1.12.28-1.amzn2023.0.1",
            "1.12.28",
            "1.12.28-1.amzn2023.0.1",
            "1:1.12.28-1.amzn2023.0.1",
            "dbus.x86_64:1:1.12.28-1.amzn2023.0.1",
        ]
    );
}

#[test]
fn rpm_strings_write_epoch_zero_and_skip_a_missing_arch() {
    let forms = rpm_forms(&Nevra::parse("openssl-1.0.2k-24.amzn2").expect("valid NEVRA"));
    assert_eq!(
        forms,
        [
            "openssl",
            "openssl-1.0.2k",
            "openssl-1.0.2k-24.amzn2",
            "openssl-0:1.0.2k-24.amzn2",
            "1.0.2k",
            "1.0.2k-24.amzn2",
            "0:1.0.2k-24.amzn2",
        ]
    );
}

#[test]
fn the_six_apt_strings() {
    assert_eq!(
        apt_forms("openssl", "3.0.2-0ubuntu1.15", "amd64"),
        [
            "openssl",
            "3.0.2-0ubuntu1.15",
            "openssl.amd64",
            "openssl-3.0.2-0ubuntu1.15",
            "amd64:3.0.2-0ubuntu1.15",
            "openssl.amd64:3.0.2-0ubuntu1.15",
        ]
    );
}

#[test]
fn every_rpm_string_matches_exactly_and_ignoring_case() {
    let package = Nevra::parse(DBUS).expect("valid NEVRA");
    for form in rpm_forms(&package) {
        check_rpm(&[&form], DBUS, Some(&form));
        let upper = form.to_uppercase();
        check_rpm(&[&upper], DBUS, Some(&upper));
    }
}

#[test]
fn reference_invariant_8() {
    // ssm-reference §11.8: all of these match dbus, and so does a bare version.
    for entry in [
        "dbus.x86_64",
        "dbus-1:1.12.28-1.amzn2023.0.1.x86_64",
        "DBUS*",
        "1.12.28",
    ] {
        check_rpm(&[entry], DBUS, Some(entry));
    }
}

#[test]
fn non_matches() {
    check_rpm(&["dbu"], DBUS, None);
    check_rpm(&["dbus.i686"], DBUS, None);
    check_rpm(&["dbus-1.12"], DBUS, None);
    check_rpm(&["dbus-0:1.12.28-1.amzn2023.0.1"], DBUS, None);
    check_rpm(&["dbus-libs*"], DBUS, None);
    check_rpm(&["RHSA-2017:0864", "CVE-2018-1234"], DBUS, None);
    check_rpm(&[], DBUS, None);
}

#[test]
fn globs() {
    check_rpm(&["dbus*"], DBUS, Some("dbus*"));
    check_rpm(&["*"], DBUS, Some("*"));
    check_rpm(&["d?us"], DBUS, Some("d?us"));
    check_rpm(&["d??us"], DBUS, None);
    check_rpm(&["*.x86_64"], DBUS, Some("*.x86_64"));
    check_rpm(&["*.aarch64"], DBUS, None);
    check_rpm(
        &["dbus-1.12.*.amzn2023*"],
        DBUS,
        Some("dbus-1.12.*.amzn2023*"),
    );
    check_rpm(&["*amzn2023*x86_64"], DBUS, Some("*amzn2023*x86_64"));
    check_rpm(&["[a-d]bus"], DBUS, Some("[a-d]bus"));
    check_rpm(&["[A-D]BUS"], DBUS, Some("[A-D]BUS"));
    check_rpm(&["[!d]bus"], DBUS, None);
    check_rpm(&["[!x]bus"], DBUS, Some("[!x]bus"));
    check_rpm(&["[xyz]bus"], DBUS, None);
    check_rpm(&["dbus.x86_6[0-9]"], DBUS, Some("dbus.x86_6[0-9]"));
    check_rpm(&["dbus.x86[_]64"], DBUS, Some("dbus.x86[_]64"));
    check_rpm(&["*:1:*"], DBUS, Some("*:1:*"));
    // A `[` that opens no class is an ordinary character.
    check_rpm(&["dbus["], DBUS, None);
    check_rpm(&["[dbus*"], DBUS, None);
    check_rpm(&["*["], "foo[-1-1.x86_64", Some("*["));
    check_rpm(&["foo["], "foo[-1-1.x86_64", Some("foo["));
    // The 2023 user guide's examples.
    check_rpm(
        &["example-pkg-*.abcd.x86_64"],
        "example-pkg-1.0-1.abcd.x86_64",
        Some("example-pkg-*.abcd.x86_64"),
    );
    check_rpm(
        &["example-pkg-EE-2018*.amzn1.noarch"],
        "example-pkg-EE-2018.1-1.amzn1.noarch",
        Some("example-pkg-EE-2018*.amzn1.noarch"),
    );
}

#[test]
fn the_first_matching_entry_is_reported() {
    check_rpm(&["kernel*", "dbus*", "dbus"], DBUS, Some("dbus*"));
    check_rpm(&["kernel*", "dbus", "dbus*"], DBUS, Some("dbus"));
    check_rpm(&["DBUS", "dbus"], DBUS, Some("DBUS"));
    check_rpm(&["x*", "1.12.28", "d*"], DBUS, Some("1.12.28"));
}

#[test]
fn a_bugzilla_id_can_match_a_version() {
    check_kind("2", PatchEntryKind::Bugzilla);
    check_rpm(&["2"], "foo-2-1.el8.x86_64", Some("2"));
    check_rpm(&["2"], "foo-2.0-1.el8.x86_64", None);
}

#[test]
fn very_long_names_still_match() {
    let name = "x".repeat(600);
    let nevra = format!("{name}-1.0-1.x86_64");
    check_rpm(&["x*1.0*"], &nevra, Some("x*1.0*"));
    check_rpm(&["1:x*"], &nevra, None);
    check_rpm(&["0:x*"], &nevra, Some("0:x*"));
    let name_arch = format!("{name}.X86_64");
    check_rpm(&["kernel", &name_arch], &nevra, Some(name_arch.as_str()));
    check_rpm(&[&format!("{name}.i686")], &nevra, None);
}

#[test]
fn apt_matching() {
    let openssl = ("openssl", "3.0.2-0ubuntu1.15", "amd64");
    for entry in [
        "openssl",
        "OpenSSL",
        "openssl.amd64",
        "openssl-3.0.2-0ubuntu1.15",
        "amd64:3.0.2-0ubuntu1.15",
    ] {
        check_apt(&[entry], openssl, Some(entry));
    }
    check_apt(
        &["openssl.amd64:3.0.2-0ubuntu1.15", "open*"],
        openssl,
        Some("openssl.amd64:3.0.2-0ubuntu1.15"),
    );
    check_apt(&["libssl*"], openssl, None);
    check_apt(&["openssl.i386"], openssl, None);
    check_apt(
        &["ExamplePkg33"],
        ("examplepkg33", "1.0", "all"),
        Some("ExamplePkg33"),
    );
}

#[test]
fn classification() {
    for advisory in [
        "RHSA-2017:0864",
        "RHBA-2023:1234",
        "rhsa-2017:0864",
        "CESA-2017:0864",
        "ALSA-2022:1234",
        "RLSA-2022:1234",
        "ALAS-2018-123",
        "ALAS2-2021-1594",
        "ALAS2023-2025-123",
        "ALAS2KERNEL-5.10-2022-001",
        "ELSA-2025-123",
        "FEDORA-2023-1a2b3c4d5e",
        "FEDORA-EPEL-2023-1a2b3c4d5e",
        "SUSE-SU-2018:1234-1",
        "openSUSE-SU-2024:0123-1",
        "DSA-5432-1",
        "DLA-3456-1",
        "USN-6543-1",
    ] {
        check_kind(advisory, PatchEntryKind::Advisory);
    }
    for cve in ["CVE-2018-1234567", "CVE-2024-1234", "cve-2024-12345"] {
        check_kind(cve, PatchEntryKind::Cve);
    }
    check_kind("1234567", PatchEntryKind::Bugzilla);
    for package in [
        "dbus",
        "dbus.x86_64",
        "dbus-1.12.28",
        "1.12.28",
        "kernel*",
        "CVE-2018-123",
        "RHSA-2017",
        "ALAS",
        "fedora-release",
        "USN",
        "",
    ] {
        check_kind(package, PatchEntryKind::Package);
    }
    assert!(PatchEntry::parse("CVE-2018-1234").is_identifier());
    assert!(PatchEntry::parse("12345").is_identifier());
    assert!(!PatchEntry::parse("dbus*").is_identifier());
    assert!(PatchEntry::parse("dbus*").is_glob());
    assert!(PatchEntry::parse("dbus[0-9]").is_glob());
    assert!(!PatchEntry::parse("dbus[").is_glob());
    assert!(!PatchEntry::parse("dbus[]").is_glob());
    assert_eq!(
        PatchEntry::parse("RHSA-2017:0864").to_string(),
        "RHSA-2017:0864"
    );
}

#[test]
fn advisory_matching() {
    let set = PatternSet::parse([
        "dbus",
        "CVE-2018-1000",
        "ALAS2-2021-1594",
        "1234567",
        "MYCORP-2024-7",
    ]);
    let check = |id: &str, references: &[(&str, &str)], expected: Option<&str>| {
        let matched = set
            .matches_advisory(id, references.iter().copied())
            .map(|index| set.entries()[index].as_str());
        assert_eq!(matched, expected, "{id} {references:?}");
    };
    check("ALAS2-2021-1594", &[], Some("ALAS2-2021-1594"));
    check(
        "ALAS2-2021-1595",
        &[("cve", "CVE-2018-1000")],
        Some("CVE-2018-1000"),
    );
    check(
        "ALAS2-2021-1595",
        &[("CVE", "CVE-2018-1000")],
        Some("CVE-2018-1000"),
    );
    check(
        "ALAS2-2021-1595",
        &[("bugzilla", "1234567")],
        Some("1234567"),
    );
    // The first entry in list order wins.
    check(
        "ALAS2-2021-1594",
        &[("cve", "CVE-2018-1000")],
        Some("CVE-2018-1000"),
    );
    // Only cve and bugzilla references count; ids compare exactly.
    check("ALAS2-2021-1595", &[("self", "CVE-2018-1000")], None);
    check("alas2-2021-1594", &[], None);
    // An id of a shape we do not recognise still matches.
    check("MYCORP-2024-7", &[], Some("MYCORP-2024-7"));
    assert_eq!(set.matches_id("1234567"), Some(3));
    assert_eq!(
        PatternSet::parse::<[&str; 0], &str>([]).matches_advisory("ALAS2-2021-1594", []),
        None
    );
}

/// A reference glob matcher: the classic recursive definition, over lower-cased bytes, with
/// classes limited to single characters.
fn reference_glob(pattern: &[u8], subject: &[u8]) -> bool {
    match pattern.split_first() {
        None => subject.is_empty(),
        Some((b'*', rest)) => {
            (0..=subject.len()).any(|skip| reference_glob(rest, &subject[skip..]))
        }
        Some((b'?', rest)) => !subject.is_empty() && reference_glob(rest, &subject[1..]),
        Some((&byte, rest)) => {
            subject.first() == Some(&byte) && reference_glob(rest, &subject[1..])
        }
    }
}

proptest! {
    #[test]
    fn glob_matches_like_the_recursive_definition(pattern in "[aB*?.-]{0,8}", name in "[Ab.-]{0,10}") {
        prop_assume!(pattern.contains(['*', '?']));
        let set = PatternSet::parse([pattern.as_str()]);
        let forms = apt_forms(&name, "1", "all");
        let lower_pattern = pattern.to_ascii_lowercase();
        let expected = forms
            .iter()
            .any(|form| reference_glob(lower_pattern.as_bytes(), form.to_ascii_lowercase().as_bytes()));
        prop_assert_eq!(set.matches_apt(&name, "1", "all").is_some(), expected, "{:?} against {:?}", pattern, forms);
    }
}
