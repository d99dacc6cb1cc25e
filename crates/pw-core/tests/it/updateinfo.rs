//! updateinfo.xml parsing: advisories, dates, reboot flags, entities, collections.

use pw_core::repo::compression::decompress_to_vec;
use pw_core::repo::date::parse_advisory_date;
use pw_core::repo::updateinfo::{parse_reboot_flag, parse_updateinfo, parse_updateinfo_with};
use pw_core::repo::{Advisory, Parsed};

const AL2: &[u8] = include_bytes!("../../test_data/repodata/al2/repodata/updateinfo.xml.gz");
const AL2023: &[u8] = include_bytes!("../../test_data/repodata/al2023/repodata/updateinfo.xml.gz");
const RHEL8: &[u8] = include_bytes!("../../test_data/repodata/rhel8/repodata/updateinfo.xml.xz");

fn parse(xml: &str) -> Parsed<Vec<Advisory>> {
    parse_updateinfo(xml.as_bytes()).expect("document parses")
}

fn find<'a>(advisories: &'a [Advisory], id: &str) -> &'a Advisory {
    advisories
        .iter()
        .find(|advisory| advisory.id == id)
        .unwrap_or_else(|| panic!("no advisory {id}"))
}

fn time(advisory_time: Option<jiff::Timestamp>) -> Option<String> {
    advisory_time.map(|timestamp| timestamp.to_string())
}

fn nevras(advisory: &Advisory) -> Vec<String> {
    advisory
        .packages
        .iter()
        .map(|package| {
            let nevra = &package.nevra;
            format!(
                "{}-{}:{}-{}.{}",
                nevra.name, nevra.evr.epoch, nevra.evr.version, nevra.evr.release, nevra.arch
            )
        })
        .collect()
}

#[test]
fn al2_fixture() {
    let parsed = parse_updateinfo(AL2).unwrap();
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let advisories = parsed.value;
    assert_eq!(advisories.len(), 3);

    let kernel = find(&advisories, "ALAS2-2023-2350");
    assert_eq!(
        (
            kernel.kind.as_str(),
            kernel.status.as_deref(),
            kernel.severity.as_deref()
        ),
        ("security", Some("final"), Some("important"))
    );
    assert_eq!(time(kernel.issued).as_deref(), Some("2023-11-16T21:59:00Z"));
    assert_eq!(
        time(kernel.updated).as_deref(),
        Some("2023-11-21T23:06:00Z")
    );
    let cves: Vec<(&str, &str)> = kernel
        .references
        .iter()
        .map(|reference| (reference.kind.as_str(), reference.id.as_str()))
        .collect();
    assert_eq!(cves, [("cve", "CVE-2023-45871"), ("cve", "CVE-2023-5717")]);
    assert_eq!(nevras(kernel), ["kernel-0:4.14.355-2.amzn2.x86_64"]);
    assert!(
        kernel.packages[0].reboot_suggested && kernel.suggests_reboot() && !kernel.reboot_suggested
    );
    assert_eq!(
        kernel.packages[0].filename.as_deref(),
        Some("Packages/kernel-4.14.355-2.amzn2.x86_64.rpm")
    );
    assert!(
        kernel
            .description
            .as_deref()
            .unwrap()
            .contains("MTU > frame size")
    );
    assert_eq!(
        kernel.collections[0].short.as_deref(),
        Some("amazon-linux-2")
    );
    assert_eq!(
        kernel.collections[0].name.as_deref(),
        Some("Amazon Linux 2")
    );

    let openssl = find(&advisories, "ALAS2-2022-1736");
    assert_eq!(openssl.severity.as_deref(), Some("Medium"));
    assert_eq!(
        time(openssl.issued).as_deref(),
        Some("2022-03-01T18:34:00Z")
    );
    assert_eq!(openssl.updated, None, "an empty date is absent, silently");
    assert_eq!(
        nevras(openssl),
        ["openssl-libs-1:1.0.2k-24.amzn2.0.1.x86_64"]
    );
    // Double-escaped data keeps one level of escaping: entities are decoded exactly once.
    assert_eq!(
        openssl.title.as_deref(),
        Some(
            "Amazon Linux 2 - ALAS2-2022-1736: Medium priority package update for openssl &amp; friends"
        )
    );
    assert!(
        openssl
            .description
            .as_deref()
            .unwrap()
            .contains("for &lt;non-prime&gt; moduli")
    );

    let bash = find(&advisories, "ALAS2-2021-1600");
    assert_eq!(
        (bash.kind.as_str(), bash.severity.as_deref()),
        ("bugfix", None)
    );
    assert_eq!(time(bash.issued).as_deref(), Some("2021-02-03T00:00:00Z"));
    assert_eq!(
        nevras(bash),
        ["bash-0:4.2.46-34.amzn2.x86_64"],
        "missing epoch is 0"
    );
    assert_eq!(bash.packages[0].filename, None);
    assert!(!bash.suggests_reboot());
    assert!(bash.references.is_empty());
}

#[test]
fn al2023_fixture() {
    let parsed = parse_updateinfo(AL2023).unwrap();
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let advisories = parsed.value;
    let curl = find(&advisories, "ALAS2023-2023-181");
    assert_eq!(time(curl.updated).as_deref(), Some("2023-05-11T04:12:30Z"));
    assert_eq!(
        curl.packages[0].source_rpm.as_deref(),
        Some("curl-8.0.1-1.amzn2023.src.rpm")
    );
    assert_eq!(
        curl.description.as_deref(),
        Some(
            "An authentication bypass vulnerability exists in libcurl <v8.1.0 in the connection reuse feature."
        )
    );

    let glibc = find(&advisories, "ALAS2023-2023-212");
    assert_eq!(glibc.severity.as_deref(), Some("CRITICAL"));
    assert_eq!(
        time(glibc.issued).as_deref(),
        Some("2023-06-15T18:32:00Z"),
        "epoch seconds"
    );
    assert_eq!(
        time(glibc.updated).as_deref(),
        Some("2023-06-16T10:02:00Z"),
        "trailing UTC"
    );
    assert_eq!(
        glibc.description.as_deref(),
        Some("A buffer overflow in glibc's getaddrinfo <as seen in CVE-2023-4911>.")
    );
    assert!(
        glibc
            .packages
            .iter()
            .all(|package| package.reboot_suggested),
        "true and yes"
    );
    assert_eq!(nevras(glibc).len(), 2);

    let python = find(&advisories, "ALAS2023-2023-300");
    assert_eq!(python.kind, "enhancement");
    assert_eq!(python.severity, None, "empty severity is None");
    assert_eq!(
        time(python.issued).as_deref(),
        Some("2023-08-01T07:30:00Z"),
        "offset converted to UTC"
    );
    assert!(!python.suggests_reboot(), "False");
}

#[test]
fn rhel8_fixture_collections_and_modules() {
    let parsed = parse_updateinfo(RHEL8).unwrap();
    let advisories = &parsed.value;
    let nodejs = find(advisories, "RHSA-2021:2565");
    assert_eq!(nodejs.severity.as_deref(), Some("Moderate"));
    assert_eq!(nodejs.collections.len(), 2);
    let modules: Vec<(String, String, u64)> = nodejs
        .collections
        .iter()
        .map(|collection| {
            let module = collection.module.as_ref().unwrap();
            (module.name.clone(), module.stream.clone(), module.version)
        })
        .collect();
    assert_eq!(
        modules,
        [
            (
                "nodejs".to_owned(),
                "14".to_owned(),
                8_040_020_210_602_150_433
            ),
            (
                "nodejs".to_owned(),
                "16".to_owned(),
                8_040_020_210_622_132_013
            )
        ]
    );
    let collections: Vec<usize> = nodejs
        .packages
        .iter()
        .map(|package| package.collection)
        .collect();
    assert_eq!(collections, [0, 1]);
    assert_eq!(
        nevras(nodejs),
        [
            "nodejs-1:14.17.0-1.module+el8.4.0+11087+fd0da4b3.x86_64",
            "nodejs-1:16.4.1-1.module+el8.4.0+11563+e3b8a8f5.x86_64"
        ]
    );
    let kinds: Vec<(&str, &str)> = nodejs
        .references
        .iter()
        .map(|reference| (reference.kind.as_str(), reference.id.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("self", "RHSA-2021:2565"),
            ("bugzilla", "1941471"),
            ("cve", "CVE-2021-27290"),
            ("other", "#moderate")
        ]
    );
    assert_eq!(
        nodejs.references[1].title.as_deref(),
        Some("CVE-2021-27290 nodejs-ssri: Regular expression DoS")
    );

    let sudo = find(advisories, "RHBA-2021:2600");
    assert_eq!(sudo.status.as_deref(), Some("stable"));
    assert_eq!(time(sudo.issued).as_deref(), Some("2021-07-01T08:00:00Z"));
    assert_eq!(sudo.updated, None);
    assert_eq!(
        sudo.description.as_deref(),
        Some("The sudo packages fix a regression with &quot;sudo -l&quot;.")
    );

    let kernel = find(advisories, "RHSA-2021:2570");
    assert!(kernel.reboot_suggested && kernel.packages[0].reboot_suggested);

    assert_eq!(parsed.diagnostics.len(), 1, "{:?}", parsed.diagnostics);
    let message = parsed.diagnostics[0].to_string();
    assert!(
        message.starts_with("updateinfo.xml (line 47, byte "),
        "{message}"
    );
    assert!(
        message.ends_with(
            "advisory RHBA-2021:2600: unparsable updated date \"not a date\"; recorded as absent"
        ),
        "{message}"
    );
}

#[test]
fn date_forms() {
    #[track_caller]
    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(
            parse_advisory_date(input)
                .map(|timestamp| timestamp.to_string())
                .as_deref(),
            expected,
            "{input:?}"
        );
    }
    check("2018-01-11 21:05:00", Some("2018-01-11T21:05:00Z"));
    check("2018-01-11 21:05", Some("2018-01-11T21:05:00Z"));
    check("2018-01-11", Some("2018-01-11T00:00:00Z"));
    check("  2018-01-11  ", Some("2018-01-11T00:00:00Z"));
    check("1515704700", Some("2018-01-11T21:05:00Z"));
    check("1515704700.25", Some("2018-01-11T21:05:00Z"));
    check("2018-01-11T21:05:00Z", Some("2018-01-11T21:05:00Z"));
    check("2018-01-11T21:05:00.123Z", Some("2018-01-11T21:05:00Z"));
    check("2018-01-11T21:05:00+02:00", Some("2018-01-11T19:05:00Z"));
    check("2018-01-11T21:05:00-0530", Some("2018-01-12T02:35:00Z"));
    check("2018-01-11 21:05:00 +01", Some("2018-01-11T20:05:00Z"));
    check("2018-01-11 21:05:00 UTC", Some("2018-01-11T21:05:00Z"));
    check("2018-01-11 21:05 UTC", Some("2018-01-11T21:05:00Z"));
    check("2018-01-11 UTC", Some("2018-01-11T00:00:00Z"));
    check("2018-01-11 21:05:00 GMT", Some("2018-01-11T21:05:00Z"));
    check("2018-1-5 1:02:03", Some("2018-01-05T01:02:03Z"));
    check("2016-12-31 23:59:60", Some("2016-12-31T23:59:59Z"));
    check("", None);
    check("not a date", None);
    check("2018-02-30", None);
    check("2018-13-01 00:00", None);
    check("2018-01-11 25:00", None);
    check("2018-01-11 21:05:00 PST", None);
    check("2018-01-11 21:05:00 +25:00", None);
    check("2018/01/11", None);
    check("99999999999999999999", None);
    check("-1", None);
}

#[test]
fn reboot_flag_spellings() {
    for text in ["1", "true", "True", "TRUE", "yes", "Yes", "on", " true "] {
        assert_eq!(parse_reboot_flag(text), Some(true), "{text:?}");
    }
    for text in ["0", "false", "False", "no", "off", "", "  "] {
        assert_eq!(parse_reboot_flag(text), Some(false), "{text:?}");
    }
    for text in ["maybe", "2", "y"] {
        assert_eq!(parse_reboot_flag(text), None, "{text:?}");
    }
    let xml = r#"<updates><update type="bugfix"><id>A-1</id><pkglist><collection>
        <package name="a" version="1" release="1" arch="noarch"><reboot_suggested>maybe</reboot_suggested></package>
        <package name="b" version="1" release="1" arch="noarch"><reboot_suggested/></package>
        </collection></pkglist></update></updates>"#;
    let parsed = parse(xml);
    assert!(!parsed.value[0].suggests_reboot());
    assert_eq!(parsed.diagnostics.len(), 1);
    assert!(
        parsed.diagnostics[0].to_string().contains("line 2"),
        "{:?}",
        parsed.diagnostics
    );
    assert!(
        parsed.diagnostics[0]
            .message
            .contains("unknown reboot_suggested value \"maybe\"")
    );
}

#[test]
fn malformed_entries_are_reported_and_skipped() {
    let xml = r#"<?xml version="1.0"?>
<updates>
  <update type="security"><title>no id</title></update>
  <update type="security">
    <id>GOOD-1</id>
    <pkglist>
      <package name="outside" version="1" release="1" arch="noarch"/>
      <collection short="c">
        <package name="noversion" release="1" arch="noarch"/>
        <package name="badepoch" epoch="one" version="1" release="1" arch="noarch"/>
        <package name="fine" epoch="" version="1" release="1" arch="noarch"/>
      </collection>
    </pkglist>
  </update>
  <update><id>NOTYPE-1</id><issued date="yesterday"/></update>
</updates>"#;
    let parsed = parse(xml);
    let ids: Vec<&str> = parsed
        .value
        .iter()
        .map(|advisory| advisory.id.as_str())
        .collect();
    assert_eq!(ids, ["GOOD-1", "NOTYPE-1"]);
    let good = &parsed.value[0];
    assert_eq!(nevras(good), ["outside-0:1-1.noarch", "fine-0:1-1.noarch"]);
    assert_eq!(
        good.collections.len(),
        2,
        "an implicit collection for the package outside one"
    );
    assert_eq!(good.packages[0].collection, 0);
    assert_eq!(good.packages[1].collection, 1);
    assert_eq!(good.collections[1].short.as_deref(), Some("c"));
    let messages: Vec<String> = parsed.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 5, "{messages:#?}");
    assert!(
        messages[0].contains("(line 3, byte 34): missing <id>; advisory skipped"),
        "{messages:#?}"
    );
    assert!(
        messages[1].contains("line 9")
            && messages[1]
                .contains("advisory GOOD-1: <package> noversion lacks version; package dropped"),
        "{messages:#?}"
    );
    assert!(
        messages[2].contains("line 10") && messages[2].contains("epoch \"one\" is not a number"),
        "{messages:#?}"
    );
    assert!(
        messages[3].contains("advisory NOTYPE-1: <update> has no type"),
        "{messages:#?}"
    );
    assert!(
        messages[4].contains("unparsable issued date \"yesterday\""),
        "{messages:#?}"
    );
}

#[test]
fn streaming_visits_the_same_advisories() {
    let mut visited = Vec::new();
    parse_updateinfo_with(RHEL8, |advisory| visited.push(advisory)).unwrap();
    assert_eq!(visited, parse_updateinfo(RHEL8).unwrap().value);
}

#[test]
fn whole_document_errors() {
    let error = parse_updateinfo(&b"<metadata/>"[..]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "updateinfo.xml (line 1, byte 0): root element is <metadata>, expected <updates>"
    );
    let error = parse_updateinfo(&b"<updates>\n  <update type=\"security\">\n    <id>X</id>"[..])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "updateinfo.xml (line 3, byte 51): document is truncated: it ends inside <update>"
    );
    // A gzip stream cut short.
    let error = parse_updateinfo(&AL2[..AL2.len() / 2]).unwrap_err();
    assert!(error.is_truncated(), "{error}");
}

#[test]
fn truncation_and_corruption_never_panic() {
    let plain = decompress_to_vec(RHEL8, None).unwrap();
    for length in 0..plain.len() {
        let _ = parse_updateinfo(&plain[..length]);
    }
    let mut corrupt = plain.clone();
    for step in [3usize, 7, 11] {
        for index in (0..corrupt.len()).step_by(step) {
            corrupt[index] = b"<>&;\"'/ x"[index % 9];
            let _ = parse_updateinfo(corrupt.as_slice());
        }
        corrupt.copy_from_slice(&plain);
    }
}

mod properties {
    use proptest::prelude::*;

    use pw_core::repo::date::parse_advisory_date;
    use pw_core::repo::updateinfo::parse_updateinfo;

    proptest! {
        #[test]
        fn dates_never_panic(text in "\\PC{0,40}") {
            let _ = parse_advisory_date(&text);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_updateinfo(bytes.as_slice());
        }

        #[test]
        fn xmlish_text_never_panics(text in "(<updates>|<update type=\"a\">|<id>|</id>|</update>|</updates>|&amp;|&#x41;|&bad;|<!--|-->|<!\\[CDATA\\[|\\]\\]>|<\\?x\\?>|[a-z \"'=/<>])*") {
            let _ = parse_updateinfo(text.as_bytes());
        }
    }
}
