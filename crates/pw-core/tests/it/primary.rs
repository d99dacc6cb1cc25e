//! primary.xml and primary_db parsing.

use std::io::Read;

use pw_core::repo::compression::decompress_to_vec;
use pw_core::repo::primary::{
    PrimaryOptions, parse_primary, parse_primary_with, parse_primary_with_options,
};
use pw_core::repo::primary_db::parse_primary_db;
use pw_core::repo::{ChecksumKind, DepFlags, Dependency, Package, Parsed};
use pw_core::version::rpm::Evr;

const AL2_DB: &[u8] = include_bytes!("../../test_data/repodata/al2/repodata/primary.sqlite.bz2");
const AL2_XML: &[u8] = include_bytes!("../../test_data/repodata/al2/primary.xml.gz");
const AL2023: &[u8] = include_bytes!("../../test_data/repodata/al2023/repodata/primary.xml.gz");
const RHEL8: &[u8] = include_bytes!("../../test_data/repodata/rhel8/repodata/primary.xml.xz");

fn nevra(package: &Package) -> String {
    let evr = &package.nevra.evr;
    format!(
        "{}-{}:{}-{}.{}",
        package.nevra.name, evr.epoch, evr.version, evr.release, package.nevra.arch
    )
}

fn parse(xml: &str) -> Parsed<Vec<Package>> {
    parse_primary(xml.as_bytes()).expect("document parses")
}

fn document(packages: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="3">
{packages}</metadata>
"#
    )
}

fn package(name: &str, version: &str, format: &str) -> String {
    format!(
        r#"<package type="rpm">
  <name>{name}</name>
  <arch>x86_64</arch>
  {version}
  <checksum type="sha256" pkgid="YES">{checksum}</checksum>
  <summary>s</summary>
  <time file="1" build="1700000000"/>
  <size package="100" installed="200" archive="300"/>
  <location href="Packages/{name}.rpm"/>
  <format>{format}</format>
</package>
"#,
        checksum = "0a".repeat(32)
    )
}

fn dependency(name: &str, flags: Option<DepFlags>, evr: Option<(u32, &str, &str)>) -> Dependency {
    Dependency {
        name: name.to_owned(),
        flags,
        evr: evr.map(|(epoch, version, release)| Evr {
            epoch,
            version: version.to_owned(),
            release: release.to_owned(),
        }),
    }
}

#[test]
fn al2023_fixture() {
    let parsed = parse_primary(AL2023).unwrap();
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let names: Vec<String> = parsed.value.iter().map(nevra).collect();
    assert_eq!(
        names,
        [
            "curl-0:8.0.1-1.amzn2023.x86_64",
            "glibc-0:2.34-52.amzn2023.0.2.x86_64",
            "libcurl-0:8.0.1-1.amzn2023.x86_64",
            "python3-0:3.9.16-1.amzn2023.0.3.x86_64"
        ]
    );
    let curl = &parsed.value[0];
    assert_eq!(curl.location, "Packages/curl-8.0.1-1.amzn2023.x86_64.rpm");
    assert_eq!(
        curl.source_rpm.as_deref(),
        Some("curl-8.0.1-1.amzn2023.src.rpm")
    );
    assert_eq!(curl.checksum.as_ref().unwrap().kind(), ChecksumKind::Sha256);
    assert!(
        curl.build_time.is_some() && curl.package_size.is_some() && curl.installed_size == Some(0)
    );
    assert_eq!(
        curl.requires,
        [dependency(
            "libcurl(x86-64)",
            Some(DepFlags::Eq),
            Some((0, "8.0.1", "1.amzn2023"))
        )]
    );
    assert!(curl.provides.contains(&dependency(
        "curl",
        Some(DepFlags::Eq),
        Some((0, "8.0.1", "1.amzn2023"))
    )));
}

#[test]
fn rhel8_fixture_is_xz_with_epochs() {
    let parsed = parse_primary(RHEL8).unwrap();
    let names: Vec<String> = parsed.value.iter().map(nevra).collect();
    assert!(
        names.contains(&"nodejs-1:14.17.0-1.module+el8.4.0+11087+fd0da4b3.x86_64".to_owned()),
        "{names:?}"
    );
    let nodejs = parsed
        .value
        .iter()
        .find(|package| package.nevra.name == "nodejs")
        .unwrap();
    assert_eq!(
        nodejs.requires,
        [dependency(
            "openssl-libs",
            Some(DepFlags::Ge),
            Some((1, "1.1.1", ""))
        )]
    );
}

#[test]
fn primary_db_matches_its_xml_twin() {
    let from_db = parse_primary_db(AL2_DB).unwrap();
    let from_xml = parse_primary(AL2_XML).unwrap();
    assert!(from_db.diagnostics.is_empty(), "{:?}", from_db.diagnostics);
    let normalise = |mut packages: Vec<Package>| {
        for package in &mut packages {
            package.requires.sort_by(|a, b| a.name.cmp(&b.name));
            package.provides.sort_by(|a, b| a.name.cmp(&b.name));
        }
        packages.sort_by_key(nevra);
        packages
    };
    let from_db = normalise(from_db.value);
    let from_xml = normalise(from_xml.value);
    assert_eq!(from_db.len(), 5);
    assert_eq!(from_db, from_xml);
    let openssl = from_db
        .iter()
        .find(|package| package.nevra.name == "openssl-libs")
        .unwrap();
    assert_eq!(openssl.nevra.evr.epoch, 1);
    assert!(
        openssl
            .provides
            .contains(&dependency("libssl.so.10()(64bit)", None, None))
    );
    let kernel = from_db
        .iter()
        .find(|package| package.nevra.name == "kernel")
        .unwrap();
    assert!(kernel.requires.contains(&dependency(
        "dracut",
        Some(DepFlags::Ge),
        Some((0, "033", ""))
    )));
}

#[test]
fn primary_db_accepts_plain_sqlite_and_rejects_garbage() {
    let plain = decompress_to_vec(AL2_DB, None).unwrap();
    assert_eq!(parse_primary_db(&plain).unwrap().value.len(), 5);
    let error = parse_primary_db(b"not a database at all, certainly not one of 100 bytes or more .....................................").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("primary.sqlite: not a usable sqlite database"),
        "{error}"
    );
    // Every truncation is an error or a partial read, never a panic.
    for length in (0..plain.len()).step_by(97) {
        let _ = parse_primary_db(&plain[..length]);
    }
    // Corrupting bytes never panics either.
    let mut corrupt = plain.clone();
    for index in (100..corrupt.len()).step_by(13) {
        corrupt[index] = corrupt[index].wrapping_mul(31).wrapping_add(7);
    }
    let _ = parse_primary_db(&corrupt);
}

#[test]
fn every_compression_gives_the_same_packages() {
    let plain = decompress_to_vec(AL2023, None).unwrap();
    let expected = parse_primary(plain.as_slice()).unwrap().value;
    let gzip = {
        let mut out = Vec::new();
        flate2::read::GzEncoder::new(plain.as_slice(), flate2::Compression::fast())
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let xz = {
        let mut out = Vec::new();
        liblzma::read::XzEncoder::new(plain.as_slice(), 1)
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let bzip2 = {
        let mut out = Vec::new();
        bzip2::read::BzEncoder::new(plain.as_slice(), bzip2::Compression::fast())
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let zstd = zstd::stream::encode_all(plain.as_slice(), 1).unwrap();
    for compressed in [gzip, xz, bzip2, zstd] {
        assert_eq!(
            parse_primary(compressed.as_slice()).unwrap().value,
            expected
        );
    }
}

#[test]
fn streaming_visits_the_same_packages() {
    let mut visited = Vec::new();
    let parsed = parse_primary_with(RHEL8, PrimaryOptions::default(), |package| {
        visited.push(package)
    })
    .unwrap();
    assert!(parsed.diagnostics.is_empty());
    assert_eq!(visited, parse_primary(RHEL8).unwrap().value);
}

#[test]
fn dependencies_can_be_left_out() {
    let options = PrimaryOptions {
        dependencies: false,
    };
    let without = parse_primary_with_options(AL2023, options).unwrap().value;
    let mut with = parse_primary(AL2023).unwrap().value;
    for package in &mut with {
        package.requires.clear();
        package.provides.clear();
    }
    assert_eq!(without, with);
}

#[test]
fn malformed_packages_are_skipped_with_their_position() {
    let good = package("good", r#"<version epoch="0" ver="1.0" rel="1"/>"#, "");
    let no_version = package("noversion", "", "");
    let bad_epoch = package("badepoch", r#"<version epoch="x" ver="1.0" rel="1"/>"#, "");
    let xml = document(&format!("{good}{no_version}{bad_epoch}"));
    let parsed = parse(&xml);
    let names: Vec<&str> = parsed
        .value
        .iter()
        .map(|package| package.nevra.name.as_str())
        .collect();
    assert_eq!(names, ["good"]);
    let messages: Vec<String> = parsed.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("primary.xml (line 14, byte "),
        "{messages:?}"
    );
    assert!(
        messages[0].contains("package noversion: missing <version>; package skipped"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("line 25") && messages[1].contains("epoch \"x\" is not a number"),
        "{messages:?}"
    );
}

#[test]
fn dependency_entries() {
    let format = r#"
    <rpm:provides>
      <rpm:entry name="libfoo.so.1()(64bit)"/>
      <rpm:entry name="foo" flags="EQ" epoch="2" ver="1.0" rel="3.el9"/>
      <rpm:entry name="foo-compat" flags="LT" ver="2"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="rpmlib(CompressedFileNames)" flags="LE" epoch="0" ver="3.0.4" rel="1"/>
      <rpm:entry name="/bin/sh" pre="1"/>
      <rpm:entry name="bar" flags="GE" epoch="0" ver="1.2"/>
      <rpm:entry name="baz" flags="GT" epoch="" ver="0.1" rel="1"/>
      <rpm:entry name="weird" flags="XX" ver="1"/>
    </rpm:requires>
    <rpm:conflicts><rpm:entry name="ignored"/></rpm:conflicts>
    <file>/usr/bin/foo</file>"#;
    let xml = document(&package(
        "foo",
        r#"<version epoch="2" ver="1.0" rel="3.el9"/>"#,
        format,
    ));
    let parsed = parse(&xml);
    let foo = &parsed.value[0];
    assert_eq!(
        foo.provides,
        [
            dependency("libfoo.so.1()(64bit)", None, None),
            dependency("foo", Some(DepFlags::Eq), Some((2, "1.0", "3.el9"))),
            dependency("foo-compat", Some(DepFlags::Lt), Some((0, "2", ""))),
        ]
    );
    assert_eq!(
        foo.requires,
        [
            dependency("/bin/sh", None, None),
            dependency("bar", Some(DepFlags::Ge), Some((0, "1.2", ""))),
            dependency("baz", Some(DepFlags::Gt), Some((0, "0.1", "1"))),
        ]
    );
    assert_eq!(parsed.diagnostics.len(), 1);
    assert!(
        parsed.diagnostics[0]
            .message
            .contains("unknown flags \"XX\"; entry dropped")
    );
    assert_eq!(
        (foo.package_size, foo.installed_size, foo.build_time),
        (Some(100), Some(200), Some(1_700_000_000))
    );
}

#[test]
fn text_is_decoded_once() {
    let xml = document(&package(
        "a&amp;amp;b",
        r#"<version ver="1&#46;0" rel="1&#x2e;el9"/>"#,
        "<rpm:sourcerpm><![CDATA[x<y>.src.rpm]]></rpm:sourcerpm>",
    ));
    let parsed = parse(&xml);
    let package = &parsed.value[0];
    assert_eq!(package.nevra.name, "a&amp;b");
    assert_eq!(
        (package.nevra.evr.epoch, package.nevra.evr.version.as_str()),
        (0, "1.0")
    );
    assert_eq!(package.nevra.evr.release, "1.el9");
    assert_eq!(package.source_rpm.as_deref(), Some("x<y>.src.rpm"));
}

#[test]
fn unknown_entity_skips_only_that_package() {
    let xml = document(&format!(
        "{}{}",
        package("bad&nbsp;name", r#"<version ver="1" rel="1"/>"#, ""),
        package("fine", r#"<version ver="1" rel="1"/>"#, "")
    ));
    let parsed = parse(&xml);
    assert_eq!(parsed.value.len(), 1);
    assert!(
        parsed.diagnostics[0]
            .message
            .contains("unknown entity &nbsp;"),
        "{:?}",
        parsed.diagnostics
    );
}

#[test]
fn whole_document_errors_name_file_and_position() {
    #[track_caller]
    fn check(input: &[u8], expected: &str) {
        let error = parse_primary(input).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    check(
        b"<updates></updates>",
        "primary.xml (line 1, byte 0): root element is <updates>, expected <metadata>",
    );
    check(
        b"hello",
        "primary.xml (line 1, byte 0): not an XML document, nor gzip, xz, bzip2 or zstd data (it starts with \"hello\")",
    );
    check(
        b"<metadata>\n<package>\n<name>x</name>\n",
        "primary.xml (line 4, byte 36): document is truncated: it ends inside <package>",
    );
    check(
        b"<metadata>\n<package>\n</name>\n",
        "primary.xml (line 3, byte 21): end tag </name> does not match <package>",
    );
    check(
        b"<metadata>\n<package <name>",
        "primary.xml (line 2, byte 11): tag not closed before the `<` at byte 20",
    );
    check(
        b"<metadata>\n<package name='x",
        "primary.xml (line 2, byte 11): document is truncated: it ends inside a tag in <metadata>",
    );
    check(
        b"<metadata/><metadata/>",
        "primary.xml (line 1, byte 11): element after the end of the root element",
    );
    check(
        b"<metadata>\n<!-- unterminated",
        "primary.xml (line 2, byte 11): document is truncated: it ends inside a comment in <metadata>",
    );
    check(
        b"",
        "primary.xml (line 1, byte 0): document is empty: no root element",
    );
    let error = parse_primary(&b"<metadata>\n<package>"[..]).unwrap_err();
    assert!(error.is_truncated());
}

#[test]
fn truncation_at_every_length_never_panics() {
    let plain = decompress_to_vec(RHEL8, None).unwrap();
    let complete = parse_primary(plain.as_slice()).unwrap().value.len();
    for length in 0..plain.len() {
        match parse_primary(&plain[..length]) {
            Ok(parsed) => assert!(parsed.value.len() <= complete),
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
    // The compressed stream, cut anywhere, is an error too.
    for length in (0..RHEL8.len()).step_by(7) {
        let _ = parse_primary(&RHEL8[..length]);
    }
}

#[test]
fn tiny_reads_give_the_same_result() {
    // A reader that returns one byte at a time exercises every buffer refill path.
    struct OneByte<'a>(&'a [u8]);
    impl std::io::Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((first, rest)), Some(slot)) => {
                    *slot = *first;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }
    let plain = decompress_to_vec(AL2023, None).unwrap();
    let reader = std::io::BufReader::with_capacity(1, OneByte(&plain));
    let parsed = parse_primary(reader).unwrap();
    assert_eq!(parsed.value, parse_primary(plain.as_slice()).unwrap().value);
}
