//! The apt parsers on real and hand-written inputs: the control format, Release/InRelease,
//! Packages in every compression apt uses, and dpkg's status file.

use std::io::Write;

use pw_core::apt::control::parse_paragraphs;
use pw_core::apt::decompress::{AptCompression, Decompressor};
use pw_core::apt::packages::parse_packages_with;
use pw_core::apt::{AptDocument, DpkgState, parse_packages, parse_release, parse_status};

const DEBIAN_IN_RELEASE: &[u8] =
    include_bytes!("../../test_data/apt/debian12/bookworm-security_InRelease");
const DEBIAN_PACKAGES: &[u8] =
    include_bytes!("../../test_data/apt/debian12/bookworm-security_main_amd64_Packages");
const DEBIAN_STATUS: &[u8] = include_bytes!("../../test_data/apt/debian12/status");
const UBUNTU_RELEASE: &[u8] =
    include_bytes!("../../test_data/apt/ubuntu2204/jammy-security_Release");
const UBUNTU_PACKAGES: &[u8] =
    include_bytes!("../../test_data/apt/ubuntu2204/jammy-security_main_amd64_Packages");

/// Renders control data as `line: Name=value | Name=value` per paragraph, then the
/// diagnostics as `! line: message`.
#[track_caller]
fn check_control(input: &str, expected: &str) {
    let parsed =
        parse_paragraphs(input.as_bytes(), AptDocument::Control).expect("valid test input");
    let mut lines: Vec<String> = parsed
        .value
        .iter()
        .map(|paragraph| {
            let fields: Vec<String> = paragraph
                .fields()
                .map(|(name, value)| format!("{name}={}", value.replace('\n', "\\n")))
                .collect();
            format!("{}: {}", paragraph.line(), fields.join(" | "))
        })
        .collect();
    lines.extend(
        parsed
            .diagnostics
            .iter()
            .map(|d| format!("! {}: {}", d.line, d.message)),
    );
    assert_eq!(lines.join("\n"), expected.trim(), "input:\n{input}");
}

#[test]
fn control_paragraphs_fields_and_continuations() {
    check_control(
        "Package: a\nVersion:  1.0 \nDescription: short\n long\n .\n  indented\n\n\n \t\nPackage: b\r\nDepends: x,\n y\n",
        "1: Package=a | Version=1.0 | Description=short\\nlong\\n.\\n indented\n10: Package=b | Depends=x,\\ny",
    );
}

#[test]
fn control_comments_and_empty_first_lines() {
    check_control(
        "# comment\nSHA256:\n abc 1 path\n# inside\n def 2 other\n",
        "2: SHA256=abc 1 path\\ndef 2 other",
    );
}

#[test]
fn control_field_names_are_case_insensitive() {
    let parsed = parse_paragraphs(b"package: a\nVERSION: 1\n", AptDocument::Control)
        .expect("valid test input");
    let paragraph = &parsed.value[0];
    assert_eq!(paragraph.get("Package"), Some("a"));
    assert_eq!(paragraph.get("version"), Some("1"));
    assert_eq!(paragraph.get("Missing"), None);
    assert_eq!(paragraph.field_line("Version"), Some(2));
}

#[test]
fn control_malformed_paragraphs_are_skipped() {
    check_control(
        "Package: a\nno colon here\nVersion: 1\n\nPackage: b\n\n continuation first\nPackage: c\n\nPackage: d\nPackage: d2\n\nBad Name: x\n\n-Dash: x\n\nPackage: e\n",
        "5: Package=b\n17: Package=e\n! 2: line is neither `Field: value`, a continuation nor a comment; paragraph skipped\n! 7: continuation line without a field before it; paragraph skipped\n! 11: field `Package` appears twice; paragraph skipped\n! 13: invalid field name `Bad Name`; paragraph skipped\n! 15: invalid field name `-Dash`; paragraph skipped",
    );
}

#[test]
fn control_odd_inputs_do_not_panic() {
    check_control("", "");
    check_control("\n\n\n", "");
    check_control("Package: a", "1: Package=a");
    check_control(":\n", "! 1: invalid field name ``; paragraph skipped");
    let long = format!(
        "Package: a\nX: {}\n\nPackage: b\n",
        "y".repeat(2 * 1024 * 1024)
    );
    check_control(
        &long,
        "4: Package=b\n! 2: line is longer than 1048576 bytes; paragraph skipped",
    );
}

#[test]
fn control_invalid_utf8_is_replaced() {
    let parsed =
        parse_paragraphs(b"Package: a\xff\n", AptDocument::Control).expect("valid test input");
    assert_eq!(parsed.value[0].get("Package"), Some("a\u{fffd}"));
}

/// Renders a Release file's identity and file count.
#[track_caller]
fn check_release(bytes: &[u8], expected: &str) {
    let parsed = parse_release(bytes).expect("valid test input");
    let release = &parsed.value;
    let shown = format!(
        "origin={:?} label={:?} suite={:?} codename={:?} version={:?} date={:?} valid_until={:?} archs={} components={} by_hash={} files={} diagnostics={}",
        release.origin,
        release.label,
        release.suite,
        release.codename,
        release.version,
        release.date.map(|d| d.to_string()),
        release.valid_until.map(|d| d.to_string()),
        release.architectures.join(","),
        release.components.join(","),
        release.acquire_by_hash,
        release.files.len(),
        parsed
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.line, d.message))
            .collect::<Vec<_>>()
            .join("; "),
    );
    assert_eq!(shown, expected);
}

#[test]
fn debian_security_in_release() {
    check_release(
        DEBIAN_IN_RELEASE,
        r#"origin=Some("Debian") label=Some("Debian-Security") suite=Some("oldstable-security") codename=Some("bookworm-security") version=Some("12") date=Some("2026-11-26T21:03:35Z") valid_until=Some("2026-12-03T21:03:35Z") archs=amd64,arm64,armhf,i386,ppc64el components=updates/main,updates/contrib,updates/non-free-firmware,updates/non-free by_hash=true files=292 diagnostics="#,
    );
    let release = parse_release(DEBIAN_IN_RELEASE)
        .expect("valid test input")
        .value;
    let packages = release
        .files
        .iter()
        .find(|f| f.path == "main/binary-amd64/Packages.xz")
        .expect("valid test input");
    assert_eq!(packages.checksum.kind().name(), "sha256");
    assert!(packages.size > 0);
}

#[test]
fn ubuntu_security_release() {
    check_release(
        UBUNTU_RELEASE,
        r#"origin=Some("Ubuntu") label=Some("Ubuntu") suite=Some("jammy-security") codename=Some("jammy") version=Some("22.04") date=Some("2024-11-12T10:25:08Z") valid_until=None archs=amd64,arm64,armhf,i386,ppc64el,riscv64,s390x components=main,restricted,universe,multiverse by_hash=false files=3 diagnostics=16: `SHA256` entry `notahash 12 main/binary-i386/Packages` has a bad size or checksum; skipped"#,
    );
}

#[test]
fn release_oddities() {
    assert!(parse_release(b"").is_err());
    assert!(
        parse_release(b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: x\n").is_err()
    );
    check_release(
        b"Origin: x\nArchive: stable\nDate: yesterday\n\nOrigin: y\n",
        r#"origin=Some("x") label=None suite=Some("stable") codename=None version=None date=None valid_until=None archs= components= by_hash=false files=0 diagnostics=3: `Date: yesterday` is not an RFC 2822 date; ignored; 5: more than one paragraph; only the first is used"#,
    );
}

fn compress(bytes: &[u8], kind: &str) -> Vec<u8> {
    match kind {
        "none" => bytes.to_vec(),
        "gzip" => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(bytes).expect("valid test input");
            encoder.finish().expect("valid test input")
        }
        "xz" => {
            let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 1);
            encoder.write_all(bytes).expect("valid test input");
            encoder.finish().expect("valid test input")
        }
        "bzip2" => {
            let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            encoder.write_all(bytes).expect("valid test input");
            encoder.finish().expect("valid test input")
        }
        "zstd" => zstd::encode_all(bytes, 1).expect("valid test input"),
        "lz4" => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            encoder.write_all(bytes).expect("valid test input");
            encoder.finish().expect("valid test input")
        }
        other => panic!("unknown compression {other}"),
    }
}

#[test]
fn packages_in_every_compression() {
    let plain = DEBIAN_PACKAGES;
    for kind in ["none", "gzip", "xz", "bzip2", "zstd", "lz4"] {
        let bytes = compress(plain, kind);
        let reader = Decompressor::new(&bytes[..]).expect("valid test input");
        assert_eq!(reader.compression().name(), kind);
        let parsed = parse_packages(&bytes).expect("valid test input");
        let names: Vec<String> = parsed
            .value
            .iter()
            .map(|p| format!("{}={}", p.id(), p.version))
            .collect();
        assert_eq!(
            names,
            [
                "libc-bin.amd64=2.36-9+deb12u7",
                "libc6.amd64=2.36-9+deb12u7",
                "libssl3.amd64=3.0.22-1~deb12u2",
                "openssl.amd64=3.0.22-1~deb12u2",
                "python3-urllib3.all=1.26.12-1+deb12u4",
                "tzdata.all=2026f-0+deb12u1",
                "linux-image-6.12-amd64.amd64=6.12.117-1~deb12u1",
            ],
            "{kind}"
        );
        assert!(
            parsed.diagnostics.is_empty(),
            "{kind}: {:?}",
            parsed.diagnostics
        );
    }
    assert_eq!(
        AptCompression::detect(b"\x04\x22\x4d\x18"),
        AptCompression::Lz4
    );
}

#[test]
fn packages_fields() {
    let parsed = parse_packages(DEBIAN_PACKAGES).expect("valid test input");
    let libc_bin = &parsed.value[0];
    assert_eq!(libc_bin.source.as_deref(), Some("glibc"));
    assert_eq!(libc_bin.priority.as_deref(), Some("required"));
    assert_eq!(libc_bin.section.as_deref(), Some("libs"));
    assert!(libc_bin.essential);
    assert_eq!(libc_bin.multi_arch.as_deref(), Some("foreign"));
    assert_eq!(
        libc_bin
            .depends
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["libc6 (>> 2.36)", "libc6 (<< 2.37)"]
    );
    assert_eq!(
        libc_bin.filename.as_deref(),
        Some("pool/updates/main/g/glibc/libc-bin_2.36-9+deb12u7_amd64.deb")
    );
    assert_eq!(libc_bin.size, Some(606_996));
    assert_eq!(libc_bin.installed_size, Some(2039));
    assert_eq!(
        libc_bin.sha256.as_ref().map(ToString::to_string).as_deref(),
        Some("687687d1ace90565cc451b1be527914246123968b747c823e276cd7f8b57ba3d")
    );
    let kernel = parsed
        .value
        .iter()
        .find(|p| p.name.starts_with("linux-image"))
        .expect("valid test input");
    assert!(kernel.source.is_some());
}

#[test]
fn packages_with_malformed_paragraphs() {
    let parsed = parse_packages(UBUNTU_PACKAGES).expect("valid test input");
    let names: Vec<String> = parsed
        .value
        .iter()
        .map(|p| format!("{}={}", p.id(), p.version))
        .collect();
    assert_eq!(
        names,
        [
            "openssl.amd64=3.0.2-0ubuntu1.18",
            "zlib1g.amd64=1:1.2.11.dfsg-2ubuntu9.2",
            "nodeps.all=2.0"
        ]
    );
    let diagnostics: Vec<String> = parsed.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        diagnostics,
        [
            "Packages (line 48), broken: line is neither `Field: value`, a continuation nor a comment; paragraph skipped",
            "Packages (line 51), badversion: debian version `1.0 beta` has embedded whitespace; package skipped",
            "Packages (line 58), nodeps: `Depends`: bad version constraint in relationship `libc6 (>= 2.34`; field ignored",
        ]
    );
    let openssl = &parsed.value[0];
    assert_eq!(openssl.phased_update_percentage, Some(30));
    assert_eq!(openssl.source, None);
    let zlib = &parsed.value[1];
    assert_eq!(zlib.version.epoch(), 1);
    assert_eq!(zlib.provides[0].name, "libz1");
}

#[test]
fn packages_stream_and_truncation() {
    let plain = DEBIAN_PACKAGES;
    let mut count = 0;
    parse_packages_with(plain, |_| count += 1).expect("valid test input");
    assert_eq!(count, 7);
    // A truncated compressed file is an error, not a silently short list.
    let compressed = compress(plain, "xz");
    assert!(parse_packages(&compressed[..compressed.len() / 2]).is_err());
    let compressed = compress(plain, "lz4");
    assert!(parse_packages(&compressed[..compressed.len() / 2]).is_err());
}

#[test]
fn dpkg_status() {
    let parsed = parse_status(DEBIAN_STATUS).expect("valid test input");
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let shown: Vec<String> = parsed
        .value
        .iter()
        .map(|p| {
            format!(
                "{} {} {} present={} installed={} info={}",
                p.name,
                p.version
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
                p.status.state,
                p.status.files_present(),
                p.status.is_installed(),
                p.info_name()
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "libc6 2.36-9+deb12u14 installed present=true installed=true info=libc6:amd64",
            "tzdata 2025b-0+deb12u2 installed present=true installed=true info=tzdata",
            "openssl 3.0.19-1~deb12u2 installed present=true installed=true info=openssl",
            "libssl3 3.0.19-1~deb12u2 installed present=true installed=true info=libssl3:amd64",
            "base-files 12.4+deb12u11 installed present=true installed=true info=base-files",
            "zlib1g 1:1.2.13.dfsg-1 installed present=true installed=true info=zlib1g:amd64",
            "oldconf 0.9-1 config-files present=false installed=false info=oldconf",
            "broken-postinst 1.0-2 half-configured present=true installed=false info=broken-postinst",
            "never-installed - not-installed present=false installed=false info=never-installed",
        ]
    );
    assert_eq!(parsed.value[0].status.state, DpkgState::Installed);
}

#[test]
fn dpkg_status_malformed_entries() {
    let text = "Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: install ok sideways\nVersion: 1\nArchitecture: all\n\nPackage: c\nStatus: install reinstreq half-installed\nVersion: 1\nArchitecture: amd64\n\nPackage: d\nStatus: hold ok installed\nVersion: 2\nArchitecture: all\n";
    let parsed = parse_status(text.as_bytes()).expect("valid test input");
    let names: Vec<&str> = parsed.value.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["c", "d"]);
    assert!(parsed.value[0].status.reinstall_required);
    assert!(!parsed.value[0].status.is_installed());
    assert!(parsed.value[1].status.is_installed());
    let diagnostics: Vec<String> = parsed.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        diagnostics,
        [
            "dpkg status (line 1), a: package is installed but has no version or architecture; skipped",
            "dpkg status (line 4), b: bad `Status: install ok sideways`; package skipped",
        ]
    );
}

proptest::proptest! {
    /// Arbitrary bytes (and arbitrary control-like text) never panic any apt parser, and
    /// every reported diagnostic points at a line that exists.
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = parse_release(&bytes);
        let _ = parse_packages(&bytes);
        let _ = parse_status(&bytes);
        if let Ok(parsed) = parse_paragraphs(&bytes, AptDocument::Control) {
            let lines = u64::try_from(bytes.split(|&b| b == b'\n').count()).expect("small");
            for diagnostic in parsed.diagnostics {
                proptest::prop_assert!(diagnostic.line >= 1 && diagnostic.line <= lines);
            }
        }
    }

    #[test]
    fn control_like_text_never_panics(text in "((Package|Version|Architecture|Status|Depends|SHA256|#x| x|-y|Bad Name)(: ?[a-z0-9 ~+.:()<>=|,-]{0,12})?\n{1,2}){0,12}") {
        let _ = parse_packages(text.as_bytes());
        let _ = parse_status(text.as_bytes());
        let _ = parse_release(text.as_bytes());
    }
}
