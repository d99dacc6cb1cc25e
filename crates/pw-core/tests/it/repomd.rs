//! repomd.xml parsing, checksums and compression detection.

use pw_core::repo::compression::{Compression, decompress_to_vec};
use pw_core::repo::repomd::{RepoMd, check_location, parse_repomd};
use pw_core::repo::{Checksum, ChecksumHasher, ChecksumKind};

const AL2: &[u8] = include_bytes!("../../test_data/repodata/al2/repodata/repomd.xml");
const AL2023: &[u8] = include_bytes!("../../test_data/repodata/al2023/repodata/repomd.xml");
const RHEL8: &[u8] = include_bytes!("../../test_data/repodata/rhel8/repodata/repomd.xml");

fn parse(xml: &str) -> RepoMd {
    let parsed = parse_repomd(xml.as_bytes()).expect("repomd parses");
    parsed.value
}

fn repomd_with(records: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
{records}
</repomd>"#
    )
}

fn record(kind: &str, href: &str) -> String {
    format!(
        r#"<data type="{kind}"><checksum type="sha256">{}</checksum><location href="{href}"/><size>10</size></data>"#,
        "ab".repeat(32)
    )
}

#[test]
fn al2_fixture_has_primary_db_only() {
    let repomd = parse_repomd(AL2).unwrap().value;
    assert_eq!(repomd.revision.as_deref(), Some("1700000000"));
    assert!(repomd.record("primary").is_none());
    let primary_db = repomd.record("primary_db").unwrap();
    assert_eq!(primary_db.location, "repodata/primary.sqlite.bz2");
    assert_eq!(primary_db.database_version, Some(10));
    assert_eq!(
        primary_db.checksum.as_ref().unwrap().kind(),
        ChecksumKind::Sha256
    );
    assert!(primary_db.open_checksum.is_some());
    assert!(primary_db.size.is_some() && primary_db.open_size.is_some());
    assert_eq!(primary_db.timestamp, Some(1_700_000_000));
    let kinds: Vec<&str> = repomd
        .records
        .iter()
        .map(|record| record.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["primary_db", "filelists_db", "other_db", "updateinfo"]
    );
}

#[test]
fn xml_fixtures_list_every_record() {
    for bytes in [AL2023, RHEL8] {
        let parsed = parse_repomd(bytes).unwrap();
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let kinds: Vec<&str> = parsed
            .value
            .records
            .iter()
            .map(|record| record.kind.as_str())
            .collect();
        assert_eq!(kinds, ["primary", "filelists", "other", "updateinfo"]);
    }
}

#[test]
fn keeps_every_record_type() {
    let kinds = [
        "primary",
        "filelists",
        "other",
        "primary_db",
        "updateinfo",
        "group",
        "group_gz",
        "modules",
        "primary_zck",
        "productid",
    ];
    let records: String = kinds
        .iter()
        .map(|kind| record(kind, &format!("repodata/{kind}.gz")))
        .collect();
    let repomd = parse(&repomd_with(&records));
    let parsed: Vec<&str> = repomd
        .records
        .iter()
        .map(|record| record.kind.as_str())
        .collect();
    assert_eq!(parsed, kinds);
    assert_eq!(
        repomd.record("modules").unwrap().location,
        "repodata/modules.gz"
    );
}

#[test]
fn checksum_types() {
    #[track_caller]
    fn check(kind: &str, hex_len: usize, expected: Option<ChecksumKind>) {
        let xml = repomd_with(&format!(
            r#"<data type="primary"><checksum type="{kind}">{}</checksum><open-checksum type="{kind}">{}</open-checksum><location href="repodata/p.xml.gz"/></data>"#,
            "0f".repeat(hex_len / 2),
            "A0".repeat(hex_len / 2)
        ));
        let parsed = parse_repomd(xml.as_bytes()).unwrap();
        let record = parsed.value.record("primary").unwrap();
        assert_eq!(
            record.checksum.as_ref().map(Checksum::kind),
            expected,
            "{kind}"
        );
        assert_eq!(
            record.open_checksum.as_ref().map(Checksum::kind),
            expected,
            "{kind}"
        );
        assert_eq!(
            parsed.diagnostics.is_empty(),
            expected.is_some(),
            "{kind}: {:?}",
            parsed.diagnostics
        );
    }
    check("sha", 40, Some(ChecksumKind::Sha1));
    check("sha1", 40, Some(ChecksumKind::Sha1));
    check("SHA1", 40, Some(ChecksumKind::Sha1));
    check("sha224", 56, Some(ChecksumKind::Sha224));
    check("sha256", 64, Some(ChecksumKind::Sha256));
    check("sha384", 96, Some(ChecksumKind::Sha384));
    check("sha512", 128, Some(ChecksumKind::Sha512));
    check("md5", 32, None);
    // A value of the wrong length for its type is not a checksum.
    check("sha256", 40, None);
}

#[test]
fn rejects_locations_that_escape_the_repository() {
    #[track_caller]
    fn check(href: &str) {
        let xml = repomd_with(&record("primary", href));
        let error = parse_repomd(xml.as_bytes()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("outside the repository"),
            "{href}: {message}"
        );
        assert!(
            message.contains("repomd.xml") && message.contains("line 4"),
            "{href}: {message}"
        );
    }
    for href in [
        "../primary.xml.gz",
        "repodata/../../etc/passwd",
        "/etc/passwd",
        "http://evil.example/primary.xml.gz",
        "file:///etc/passwd",
        "repodata\\..\\primary.xml.gz",
        "repodata/%2e%2e/%2E%2E/primary.xml.gz",
        "",
    ] {
        check(href);
    }
}

#[test]
fn check_location_accepts_plain_relative_paths() {
    for href in [
        "repodata/primary.xml.gz",
        "repodata/abc-primary.xml.zst",
        "sub/dir/file.xml",
        "repodata/a..b.xml",
    ] {
        assert_eq!(check_location(href), Ok(()), "{href}");
    }
}

#[test]
fn record_without_location_is_a_diagnostic() {
    let xml = repomd_with(r#"<data type="group"><checksum type="sha256">00</checksum></data>"#);
    let parsed = parse_repomd(xml.as_bytes()).unwrap();
    assert!(parsed.value.records.is_empty());
    assert_eq!(parsed.diagnostics.len(), 2, "{:?}", parsed.diagnostics);
    assert!(parsed.diagnostics[1].to_string().contains("record group"));
}

#[test]
fn wrong_root_and_garbage_are_errors() {
    let error = parse_repomd(&b"<metadata packages=\"0\"/>"[..]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("root element is <metadata>, expected <repomd>"),
        "{error}"
    );
    let error = parse_repomd(&b"\x00\x01garbage"[..]).unwrap_err();
    assert!(error.to_string().contains("not an XML document"), "{error}");
    let error = parse_repomd(&b""[..]).unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");
}

#[test]
fn checksums_compute_and_verify() {
    let checksum = Checksum::compute(ChecksumKind::Sha256, b"abc");
    assert_eq!(
        checksum.to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(checksum.matches(b"abc"));
    assert!(!checksum.matches(b"abd"));
    let parsed = Checksum::parse(
        "sha256",
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
    )
    .unwrap();
    assert_eq!(parsed, checksum);
    let mut hasher = ChecksumHasher::new(ChecksumKind::Sha1);
    hasher.update(b"a");
    hasher.update(b"bc");
    assert_eq!(
        hasher.finish().to_hex(),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        Checksum::compute(ChecksumKind::Sha512, b"").digest().len(),
        64
    );
    assert_eq!(
        Checksum::compute(ChecksumKind::Sha384, b"").digest().len(),
        48
    );
    assert_eq!(
        Checksum::compute(ChecksumKind::Sha224, b"").digest().len(),
        28
    );
    assert!(Checksum::parse("sha256", "xyz").is_err());
    assert!(
        Checksum::parse("md5", "00")
            .unwrap_err()
            .to_string()
            .contains("unsupported checksum type")
    );
}

#[test]
fn compression_is_detected_by_magic_bytes() {
    let plain = format!("<repomd>{}</repomd>", " <!-- padding -->\n".repeat(100)).into_bytes();
    let gzip = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&plain).unwrap();
        encoder.finish().unwrap()
    };
    let xz = {
        use std::io::Read;
        let mut out = Vec::new();
        liblzma::read::XzEncoder::new(plain.as_slice(), 6)
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let bzip2 = {
        use std::io::Read;
        let mut out = Vec::new();
        bzip2::read::BzEncoder::new(plain.as_slice(), bzip2::Compression::default())
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let zstd = zstd::stream::encode_all(plain.as_slice(), 3).unwrap();
    for (bytes, expected) in [
        (&plain, Compression::None),
        (&gzip, Compression::Gzip),
        (&xz, Compression::Xz),
        (&bzip2, Compression::Bzip2),
        (&zstd, Compression::Zstd),
    ] {
        assert_eq!(Compression::detect(bytes), expected);
        assert_eq!(
            decompress_to_vec(bytes, None).unwrap(),
            plain,
            "{}",
            expected.name()
        );
        assert!(
            parse_repomd(bytes.as_slice()).is_ok(),
            "{}",
            expected.name()
        );
    }
    assert!(
        decompress_to_vec(&gzip, Some(10)).is_err(),
        "limit is enforced"
    );
    // A gzip header followed by garbage is a read error, not a panic.
    let mut broken = gzip[..12].to_vec();
    broken.extend_from_slice(b"garbage garbage");
    let error = parse_repomd(broken.as_slice()).unwrap_err();
    assert!(
        error.to_string().contains("failed to read or decompress"),
        "{error}"
    );
}
