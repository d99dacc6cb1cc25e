//! The rpm inventory: the line format, and `rpm -qa` on a real installroot.

use pw_pkgmgr::rpm::{InstalledPackage, installed_packages, parse_rpm_inventory};

#[track_caller]
fn check(text: &str, expected: &[&str]) {
    let packages = parse_rpm_inventory(text).unwrap();
    let actual: Vec<String> = packages.iter().map(describe).collect();
    assert_eq!(actual, expected, "{text:?}");
}

fn describe(package: &InstalledPackage) -> String {
    let time = package
        .install_time
        .map_or_else(|| "-".to_owned(), |t| t.as_second().to_string());
    format!("{} @{time}", pw_pkgmgr::rpm::nevra_spec(&package.nevra))
}

#[track_caller]
fn check_error(text: &str, expected: &str) {
    let error = parse_rpm_inventory(text).unwrap_err().to_string();
    assert_eq!(error, expected);
}

#[test]
fn lines_with_and_without_install_time() {
    check(
        "bash\t0\t5.2.15\t3.amzn2023.0.2\tx86_64\t1700000000\n\
         tzdata\t0\t2024a\t1.amzn2023.0.1\tnoarch\n\
         shadow-utils\t2\t4.9\t12.amzn2023\tx86_64\t(none)\r\n\
         \n\
         # a comment in a hand-written file\n",
        &[
            "bash-0:5.2.15-3.amzn2023.0.2.x86_64 @1700000000",
            "tzdata-0:2024a-1.amzn2023.0.1.noarch @-",
            "shadow-utils-2:4.9-12.amzn2023.x86_64 @-",
        ],
    );
}

#[test]
fn gpg_pubkey_entries_are_skipped() {
    check(
        "gpg-pubkey\t0\td832c631\t5515fb6b\t(none)\t1700000000\nfoo\t0\t1\t1\tnoarch\t1\n",
        &["foo-0:1-1.noarch @1"],
    );
}

#[test]
fn bad_lines_are_errors_naming_the_line() {
    check_error(
        "foo\t0\t1\t1\tnoarch\nbar\t0\n",
        "inventory line 2: expected 5 or 6 tab-separated fields, found 2: `bar\t0`",
    );
    check_error(
        "foo\tx\t1\t1\tnoarch\n",
        "inventory line 1: the epoch `x` is not a number: `foo\tx\t1\t1\tnoarch`",
    );
    check_error(
        "foo\t0\t1\t1\tnoarch\tlater\n",
        "inventory line 1: the install time `later` is not a number: `foo\t0\t1\t1\tnoarch\tlater`",
    );
    check_error(
        "\t0\t1\t1\tnoarch\n",
        "inventory line 1: the name is empty or contains spaces: `\t0\t1\t1\tnoarch`",
    );
    check_error(
        "foo bar\t0\t1\t1\tnoarch\n",
        "inventory line 1: the name is empty or contains spaces: `foo bar\t0\t1\t1\tnoarch`",
    );
}

#[test]
fn rpm_database_of_an_installroot() {
    let fixture = pw_test_support::standard().unwrap();
    let root = fixture.old_root().unwrap();
    let packages = installed_packages(&root.settings()).unwrap();
    let mut actual: Vec<String> = packages
        .iter()
        .map(|p| pw_pkgmgr::rpm::nevra_spec(&p.nevra))
        .collect();
    actual.sort();
    assert_eq!(
        actual,
        [
            "bar-0:1.0-1.noarch",
            "broken-0:1.0-1.noarch",
            "foo-0:1.0-1.noarch",
            "glibc-0:2.28-1.noarch",
            "kernel-0:5.0-1.noarch",
            "withepoch-1:1.0-1.noarch",
        ]
    );
    assert!(packages.iter().all(|p| {
        p.install_time
            .is_some_and(|t| t.as_second() > 1_600_000_000)
    }));
}

#[test]
fn an_empty_root_has_no_packages() {
    let root = pw_test_support::InstallRoot::new().unwrap();
    assert_eq!(installed_packages(&root.settings()).unwrap(), []);
}

#[test]
fn a_missing_database_is_an_error_not_an_empty_inventory() {
    let settings = pw_pkgmgr::Settings::new(
        pw_pkgmgr::PackageManager::Dnf,
        pw_pkgmgr::Root::new("/nonexistent/pw-root").unwrap(),
    );
    let error = installed_packages(&settings).unwrap_err().to_string();
    assert!(
        error.starts_with("there is no rpm database at /nonexistent/pw-root/"),
        "{error}"
    );
}
