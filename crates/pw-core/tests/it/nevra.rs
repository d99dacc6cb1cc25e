//! Parsing package identities from every common spelling, and displaying them.

use proptest::prelude::*;
use pw_core::nevra::{Nevra, NevraParseError};
use pw_core::version::rpm::Evr;

/// Parses `text` and compares (name, epoch, version, release, arch).
#[track_caller]
fn check(text: &str, expected: (&str, u32, &str, &str, &str)) {
    let nevra =
        Nevra::parse(text).unwrap_or_else(|error| panic!("Nevra::parse({text:?}): {error}"));
    let actual = (
        nevra.name.as_str(),
        nevra.evr.epoch,
        nevra.evr.version.as_str(),
        nevra.evr.release.as_str(),
        nevra.arch.as_str(),
    );
    assert_eq!(actual, expected, "Nevra::parse({text:?})");
}

#[track_caller]
fn check_error(text: &str, message: &str) {
    let error = Nevra::parse(text).expect_err(text);
    assert_eq!(error.to_string(), message, "Nevra::parse({text:?})");
}

const DBUS: (&str, u32, &str, &str, &str) = ("dbus", 1, "1.12.28", "1.amzn2023.0.1", "x86_64");

#[test]
fn every_common_form() {
    check(
        "dbus-1.12.28-1.amzn2023.0.1.x86_64",
        ("dbus", 0, "1.12.28", "1.amzn2023.0.1", "x86_64"),
    );
    check("dbus-1:1.12.28-1.amzn2023.0.1.x86_64", DBUS);
    check("1:dbus-1.12.28-1.amzn2023.0.1.x86_64", DBUS);
    check("dbus.x86_64:1:1.12.28-1.amzn2023.0.1", DBUS);
    check(
        "dbus.x86_64:1.12.28-1.amzn2023.0.1",
        ("dbus", 0, "1.12.28", "1.amzn2023.0.1", "x86_64"),
    );
    check(
        "dbus-1:1.12.28-1.amzn2023.0.1",
        ("dbus", 1, "1.12.28", "1.amzn2023.0.1", ""),
    );
    check(
        "1:dbus-1.12.28-1.amzn2023.0.1",
        ("dbus", 1, "1.12.28", "1.amzn2023.0.1", ""),
    );
    check(
        "dbus-1.12.28-1.amzn2023.0.1",
        ("dbus", 0, "1.12.28", "1.amzn2023.0.1", ""),
    );
}

#[test]
fn names_with_hyphens_and_dots() {
    check(
        "python3-libs-3.6.8-56.el8_9.3.x86_64",
        ("python3-libs", 0, "3.6.8", "56.el8_9.3", "x86_64"),
    );
    check(
        "python3.11-pip-22.3.1-4.el9.noarch",
        ("python3.11-pip", 0, "22.3.1", "4.el9", "noarch"),
    );
    check(
        "kernel-core-5.14.0-427.13.1.el9_4.aarch64",
        ("kernel-core", 0, "5.14.0", "427.13.1.el9_4", "aarch64"),
    );
    check(
        "bind-32:9.8.2-0.62.rc1.57.amzn1.x86_64",
        ("bind", 32, "9.8.2", "0.62.rc1.57.amzn1", "x86_64"),
    );
    check(
        "glibc-langpack-en.x86_64:2.34-100.el9",
        ("glibc-langpack-en", 0, "2.34", "100.el9", "x86_64"),
    );
}

#[test]
fn arch_or_release() {
    // The last component is an architecture only when it is a known one.
    check("foo-1.0-1.el8.i686", ("foo", 0, "1.0", "1.el8", "i686"));
    check("foo-1.0-1.el8", ("foo", 0, "1.0", "1.el8", ""));
    check("foo-1.0-1.el8.src", ("foo", 0, "1.0", "1.el8", "src"));
    check(
        "foo-1.0-1.fc40.ppc64le",
        ("foo", 0, "1.0", "1.fc40", "ppc64le"),
    );
    check("foo-1.0-1.fc40.s390x", ("foo", 0, "1.0", "1.fc40", "s390x"));
    check(
        "foo-1.0-1.fc40.armv7hl",
        ("foo", 0, "1.0", "1.fc40", "armv7hl"),
    );
    check(
        "foo-1.0-1.el8.myarch",
        ("foo", 0, "1.0", "1.el8.myarch", ""),
    );
    // In a file name the architecture is always there, known or not.
    check(
        "foo-1.0-1.el8.myarch.rpm",
        ("foo", 0, "1.0", "1.el8", "myarch"),
    );
    check(
        "dbus-1.12.28-1.amzn2023.0.1.x86_64.rpm",
        ("dbus", 0, "1.12.28", "1.amzn2023.0.1", "x86_64"),
    );
    check("foo-1.0-1.src.rpm", ("foo", 0, "1.0", "1", "src"));
    check("foo-1.0-1.rpm", ("foo", 0, "1.0", "1", ""));
}

#[test]
fn rejected_forms() {
    check_error("", "package identity is empty");
    check_error(
        "dbus",
        "package identity `dbus` has no release (expected `name-version-release[.arch]`)",
    );
    check_error(
        "dbus.x86_64",
        "package identity `dbus.x86_64` has no release (expected `name-version-release[.arch]`)",
    );
    check_error(
        "dbus-1.0",
        "package identity `dbus-1.0` has no version (expected `name-version-release[.arch]`)",
    );
    check_error(
        "-1.0-1.x86_64",
        "package identity `-1.0-1.x86_64` has an empty name",
    );
    check_error(
        "1:dbus-2:1.0-1",
        "package identity `1:dbus-2:1.0-1` gives the epoch twice",
    );
    check_error(
        "dbus 1.0-1",
        "package identity `dbus 1.0-1` contains whitespace or a control character",
    );
    check_error(
        "dbus.x86_64:1.0",
        "package identity `dbus.x86_64:1.0` has no release (expected `name-version-release[.arch]`)",
    );
    assert!(matches!(
        Nevra::parse("dbus-1.0-"),
        Err(NevraParseError::Evr { .. })
    ));
    assert!(matches!(
        Nevra::parse("dbus-x:1.0-1"),
        Err(NevraParseError::Evr { .. })
    ));
}

#[test]
fn display() {
    let display = |text: &str| Nevra::parse(text).expect("valid NEVRA").to_string();
    assert_eq!(
        display("dbus.x86_64:1:1.12.28-1.amzn2023.0.1"),
        "dbus-1:1.12.28-1.amzn2023.0.1.x86_64"
    );
    assert_eq!(display("0:dbus-1.12.28-1.x86_64"), "dbus-1.12.28-1.x86_64");
    assert_eq!(display("dbus-1.12.28-1"), "dbus-1.12.28-1");
}

#[test]
fn compliance_forms() {
    let dbus = Nevra::parse("dbus-1:1.12.28-1.amzn2023.0.1.x86_64").expect("valid NEVRA");
    assert_eq!(dbus.name_arch(), "dbus.x86_64");
    assert_eq!(
        dbus.compliance_title(),
        "dbus.x86_64:1:1.12.28-1.amzn2023.0.1"
    );
    let openssl = Nevra::parse("openssl-1.0.2k-24.amzn2").expect("valid NEVRA");
    assert_eq!(openssl.name_arch(), "openssl");
    assert_eq!(openssl.compliance_title(), "openssl:0:1.0.2k-24.amzn2");
    // The title parses back to the same identity.
    assert_eq!(
        Nevra::parse(&dbus.compliance_title()).expect("valid NEVRA"),
        dbus
    );
}

#[test]
fn equality_uses_version_equality() {
    let parse = |text: &str| Nevra::parse(text).expect("valid NEVRA");
    assert_eq!(parse("foo-1.01-1.x86_64"), parse("foo-0:1.1-1.x86_64"));
    assert_ne!(parse("foo-1.0-1.x86_64"), parse("foo-1.0-1.i686"));
    assert!(parse("foo-1.0-1.x86_64") < parse("foo-1.0-2.x86_64"));
    assert!(parse("bar-9.0-1.x86_64") < parse("foo-1.0-1.x86_64"));
}

fn nevra() -> impl Strategy<Value = Nevra> {
    let name = "[a-z][a-z0-9_+.-]{0,12}[a-z0-9]";
    let part = "[0-9][0-9a-z._+~^]{0,8}";
    let arch = prop::sample::select(vec!["", "x86_64", "noarch", "aarch64", "i686", "src"]);
    (name, 0u32..3, part, part, arch)
        .prop_filter(
            "without an arch, the release must not end like one",
            |(_, _, _, release, arch)| {
                let ends_like_arch = release
                    .rsplit_once('.')
                    .is_some_and(|(_, last)| pw_core::nevra::is_known_arch(last) || last == "rpm");
                !arch.is_empty() || !ends_like_arch
            },
        )
        .prop_map(|(name, epoch, version, release, arch)| {
            Nevra::new(name, Evr::new(epoch, version, release), arch)
        })
}

proptest! {
    #[test]
    fn display_parse_round_trip(nevra in nevra()) {
        let text = nevra.to_string();
        let reparsed = Nevra::parse(&text).expect("valid NEVRA");
        prop_assert_eq!(&reparsed.name, &nevra.name);
        prop_assert_eq!(&reparsed.arch, &nevra.arch);
        prop_assert_eq!(&reparsed.evr.version, &nevra.evr.version);
        prop_assert_eq!(&reparsed.evr.release, &nevra.evr.release);
        prop_assert_eq!(reparsed.evr.epoch, nevra.evr.epoch);
    }

    #[test]
    fn never_panics(text in "\\PC{0,40}") {
        let _ = Nevra::parse(&text);
    }
}
