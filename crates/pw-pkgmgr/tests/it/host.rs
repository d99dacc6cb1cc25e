//! Boot time from /proc/stat and the operating system from os-release.

use pw_pkgmgr::PackageManager;
use pw_pkgmgr::host::{
    HostOs, OsReleaseError, boot_time, host_os, parse_boot_time, parse_os_release,
};

#[track_caller]
fn check(
    os_release: &str,
    operating_system: &str,
    product: &str,
    package_manager: Option<PackageManager>,
) {
    let os: HostOs = parse_os_release(os_release).unwrap();
    assert_eq!(
        (os.operating_system, os.product.as_str(), os.package_manager),
        (operating_system, product, package_manager),
        "{os_release}"
    );
}

#[test]
fn amazon_linux() {
    check(
        "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\n",
        "AMAZON_LINUX_2",
        "AmazonLinux2",
        Some(PackageManager::Yum),
    );
    check(
        "NAME=\"Amazon Linux\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\nPLATFORM_ID=\"platform:al2023\"\n",
        "AMAZON_LINUX_2023",
        "AmazonLinux2023",
        Some(PackageManager::Dnf),
    );
    check(
        "ID=\"amzn\"\nVERSION_ID=\"2022\"\n",
        "AMAZON_LINUX_2022",
        "AmazonLinux2022",
        Some(PackageManager::Dnf),
    );
    check(
        "ID=\"amzn\"\nVERSION_ID=\"2018.03\"\n",
        "AMAZON_LINUX",
        "AmazonLinux2018.03",
        Some(PackageManager::Yum),
    );
}

#[test]
fn red_hat_family() {
    check(
        "ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\n",
        "REDHAT_ENTERPRISE_LINUX",
        "RedhatEnterpriseLinux9.3",
        Some(PackageManager::Dnf),
    );
    check(
        "ID=\"rhel\"\nVERSION_ID=\"7.9\"\n",
        "REDHAT_ENTERPRISE_LINUX",
        "RedhatEnterpriseLinux7.9",
        Some(PackageManager::Yum),
    );
    check(
        "ID=\"centos\"\nVERSION_ID=\"7\"\n",
        "CENTOS",
        "CentOS7",
        Some(PackageManager::Yum),
    );
    check(
        "ID=\"centos\"\nVERSION_ID=\"9\"\n",
        "CENTOS",
        "CentOS9",
        Some(PackageManager::Dnf),
    );
    check(
        "ID=\"ol\"\nVERSION_ID=\"8.9\"\n",
        "ORACLE_LINUX",
        "OracleLinux8.9",
        Some(PackageManager::Dnf),
    );
    check(
        "ID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
        "ROCKY_LINUX",
        "RockyLinux9.3",
        Some(PackageManager::Dnf),
    );
    check(
        "ID=almalinux\nVERSION_ID='8.10'\n",
        "ALMA_LINUX",
        "AlmaLinux8.10",
        Some(PackageManager::Dnf),
    );
}

#[test]
fn debian_family() {
    check(
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        "DEBIAN",
        "Debian12",
        None,
    );
    check(
        "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n",
        "UBUNTU",
        "Ubuntu22.04",
        None,
    );
}

#[test]
fn comments_blank_lines_and_escapes() {
    let os =
        parse_os_release("# a comment\n\nNAME=\"Red \\\"Hat\\\"\"\nID=rhel\nVERSION_ID=\"8.10\"\n")
            .unwrap();
    assert_eq!(os.id, "rhel");
    assert_eq!(os.version_id, "8.10");
}

#[test]
fn errors() {
    assert_eq!(
        parse_os_release("ID=fedora\nVERSION_ID=40\n"),
        Err(OsReleaseError::Unsupported {
            id: "fedora".to_owned(),
            version_id: "40".to_owned()
        })
    );
    assert_eq!(parse_os_release("NAME=x\n"), Err(OsReleaseError::NoId));
    assert_eq!(
        parse_os_release("ID=rhel\nthis is not a pair\n"),
        Err(OsReleaseError::Syntax {
            line: 2,
            text: "this is not a pair".to_owned()
        })
    );
}

#[test]
fn os_release_is_read_inside_the_root_with_the_usr_lib_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let root = pw_pkgmgr::Root::new(dir.path()).unwrap();
    assert!(
        host_os(&root)
            .unwrap_err()
            .to_string()
            .contains("etc/os-release")
    );
    fs_err::create_dir_all(dir.path().join("usr/lib")).unwrap();
    fs_err::write(
        dir.path().join("usr/lib/os-release"),
        "ID=rocky\nVERSION_ID=9.3\n",
    )
    .unwrap();
    assert_eq!(host_os(&root).unwrap().product, "RockyLinux9.3");
    fs_err::create_dir_all(dir.path().join("etc")).unwrap();
    fs_err::write(
        dir.path().join("etc/os-release"),
        "ID=amzn\nVERSION_ID=2023\n",
    )
    .unwrap();
    assert_eq!(host_os(&root).unwrap().product, "AmazonLinux2023");
}

#[test]
fn boot_time_comes_from_the_btime_line() {
    let stat = "cpu  1 2 3 4\nintr 5 6\nctxt 7\nbtime 1700000000\nprocesses 9\n";
    assert_eq!(
        parse_boot_time(stat),
        Some("2023-11-14T22:13:20Z".parse().unwrap())
    );
    assert_eq!(parse_boot_time("cpu 1\nbtime\n"), None);
    assert_eq!(parse_boot_time("btime x\n"), None);
    assert_eq!(parse_boot_time("btime 1 2\n"), None);
    assert_eq!(parse_boot_time("cpu 1\n"), None);

    let dir = tempfile::tempdir().unwrap();
    assert!(boot_time(dir.path()).is_err());
    fs_err::write(dir.path().join("stat"), stat).unwrap();
    assert_eq!(boot_time(dir.path()).unwrap().as_second(), 1_700_000_000);
    fs_err::write(dir.path().join("stat"), "cpu 1\n").unwrap();
    assert!(
        boot_time(dir.path())
            .unwrap_err()
            .to_string()
            .contains("no valid `btime`")
    );
}

/// The real /proc of the machine running the tests has a boot time in the past.
#[test]
fn boot_time_of_this_machine() {
    let booted = boot_time(std::path::Path::new("/proc")).unwrap();
    assert!(booted.as_second() > 1_000_000_000);
}
