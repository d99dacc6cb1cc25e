//! Installing exact versions with dnf into installroots, verified against the rpm database;
//! the dnf and yum argv.

use pw_core::nevra::Nevra;
use pw_pkgmgr::install::{InstallError, TargetState, install, install_command, verify};
use pw_pkgmgr::rpm::{installed_packages, nevra_spec};
use pw_pkgmgr::{PackageManager, Root, Settings};
use pw_test_support::{RpmSpec, Scriptlet, StandardFixture};

fn nevra(name: &str, evr: &str) -> Nevra {
    RpmSpec::new(name, evr).nevra()
}

fn evr(text: &str) -> pw_core::version::rpm::Evr {
    nevra("x", text).evr
}

/// Installs `targets` into a fresh copy of the standard old root, then checks the verified
/// states and the exit status.
#[track_caller]
fn check(
    fixture: &StandardFixture,
    targets: &[Nevra],
    success: bool,
    expected: &[TargetState],
) -> Vec<String> {
    let root = fixture.old_root().unwrap();
    let settings = root.settings();
    assert!(
        pw_pkgmgr::repo_cache::refresh(&settings, false)
            .unwrap()
            .success()
    );
    let run = install(&settings, targets).unwrap();
    assert_eq!(run.success(), success, "{run:#?}");
    let inventory = installed_packages(&settings).unwrap();
    let states: Vec<TargetState> = verify(targets, &inventory)
        .into_iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(states, expected, "{run:#?}");
    let mut installed: Vec<String> = inventory.iter().map(|p| nevra_spec(&p.nevra)).collect();
    installed.sort();
    installed
}

#[test]
fn exact_versions_not_the_newest() {
    let fixture = pw_test_support::standard().unwrap();
    let installed = check(
        fixture,
        &[
            nevra("foo", "1.1-1"),
            nevra("kernel", "5.1-1"),
            nevra("withepoch", "1:1.1-1"),
        ],
        true,
        &[
            TargetState::Installed,
            TargetState::Installed,
            TargetState::Installed,
        ],
    );
    assert_eq!(
        installed,
        [
            "bar-0:1.0-1.noarch",
            "broken-0:1.0-1.noarch",
            "foo-0:1.1-1.noarch",
            "glibc-0:2.28-1.noarch",
            // kernel is install-only: the new version is added next to the old one.
            "kernel-0:5.0-1.noarch",
            "kernel-0:5.1-1.noarch",
            "withepoch-1:1.1-1.noarch",
        ]
    );
}

/// bar-1.1 needs foo >= 1.1, so dnf updates foo as well, to the version it prefers.
#[test]
fn dependencies_come_along() {
    let fixture = pw_test_support::standard().unwrap();
    let installed = check(
        fixture,
        &[nevra("bar", "1.1-1")],
        true,
        &[TargetState::Installed],
    );
    assert!(installed.contains(&"bar-0:1.1-1.noarch".to_owned()));
    assert!(
        !installed.contains(&"foo-0:1.0-1.noarch".to_owned()),
        "{installed:?}"
    );
}

/// broken-1.1's %pre fails: dnf exits non-zero and the database still has 1.0. rpm
/// transactions are not atomic: foo, in the same transaction, is upgraded all the same.
#[test]
fn a_failing_pre_scriptlet_leaves_the_old_version() {
    let fixture = pw_test_support::standard().unwrap();
    check(
        fixture,
        &[nevra("broken", "1.1-1"), nevra("foo", "1.1-1")],
        false,
        &[
            TargetState::NotInstalled(vec![evr("1.0-1")]),
            TargetState::Installed,
        ],
    );
}

/// A failing %post is reported by rpm, but the package stays installed and dnf exits 0.
#[test]
fn a_failing_post_scriptlet_still_installs() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = pw_test_support::build_rpms(
        &[
            RpmSpec::new("postfail", "1.0-1"),
            RpmSpec::new("postfail", "1.1-1").failing(Scriptlet::Post),
        ],
        &dir.path().join("rpms"),
    )
    .unwrap();
    let repo = pw_test_support::RepoBuilder::new()
        .rpms(&rpms)
        .build(&dir.path().join("repo"))
        .unwrap();
    let root = pw_test_support::InstallRoot::new().unwrap();
    root.add_repo("postfail", &repo).unwrap();
    root.rpm_install(&[&rpms[0]]).unwrap();
    let settings = root.settings();
    let run = install(&settings, &[rpms[1].nevra.clone()]).unwrap();
    assert!(run.success(), "{run:#?}");
    assert!(run.stderr_tail.contains("POSTIN"), "{run:#?}");
    let states: Vec<TargetState> = verify(
        &[rpms[1].nevra.clone()],
        &installed_packages(&settings).unwrap(),
    )
    .into_iter()
    .map(|s| s.state)
    .collect();
    assert_eq!(states, [TargetState::Installed]);
}

/// A target whose dependencies nothing provides is skipped and the other target still
/// installs: installs run with `best=False` (the fixture's dnf.conf says `best=True`, as
/// RHEL's does), and each target is verified afterwards.
#[test]
fn an_unresolvable_target_is_skipped_and_the_rest_installs() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = pw_test_support::build_rpms(
        &[
            RpmSpec::new("needy", "1.0-1"),
            RpmSpec::new("needy", "1.1-1").requires("pw-no-such-capability"),
            RpmSpec::new("other", "1.0-1"),
            RpmSpec::new("other", "2.0-1"),
        ],
        &dir.path().join("rpms"),
    )
    .unwrap();
    let repo = pw_test_support::RepoBuilder::new()
        .rpms(&rpms)
        .build(&dir.path().join("repo"))
        .unwrap();
    let root = pw_test_support::InstallRoot::new().unwrap();
    root.add_repo("needy", &repo).unwrap();
    root.rpm_install(&[&rpms[0], &rpms[2]]).unwrap();
    let settings = root.settings();
    let targets = [rpms[1].nevra.clone(), rpms[3].nevra.clone()];
    let run = install(&settings, &targets).unwrap();
    assert_eq!(run.termination.exit_code(), Some(0), "{run:#?}");
    let states: Vec<TargetState> = verify(&targets, &installed_packages(&settings).unwrap())
        .into_iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(
        states,
        [
            TargetState::NotInstalled(vec![evr("1.0-1")]),
            TargetState::Installed
        ]
    );
}

/// `upgrade` never installs what is not installed, and a version older than the installed
/// one is no target at all (no downgrade).
#[test]
fn upgrade_neither_installs_new_packages_nor_downgrades() {
    let fixture = pw_test_support::standard().unwrap();
    let root = pw_test_support::InstallRoot::new().unwrap();
    root.add_repo("fixture", &fixture.repo).unwrap();
    root.rpm_install(&[fixture.rpm("foo", "2.0-1")]).unwrap();
    let settings = root.settings();
    let targets = [nevra("foo", "1.1-1"), nevra("glibc", "2.28-2")];
    let run = install(&settings, &targets).unwrap();
    // dnf calls this a success ("Nothing to do"); only the database tells that neither
    // target is installed.
    assert_eq!(run.termination.exit_code(), Some(0), "{run:#?}");
    let inventory = installed_packages(&settings).unwrap();
    let states: Vec<TargetState> = verify(&targets, &inventory)
        .into_iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(
        states,
        [
            TargetState::NewerInstalled(evr("2.0-1")),
            TargetState::NotInstalled(vec![])
        ]
    );
}

#[test]
fn verify_compares_versions_the_rpm_way() {
    let inventory = pw_pkgmgr::rpm::parse_rpm_inventory(
        "kernel\t0\t5.10.1\t1\tx86_64\nkernel\t0\t5.9.3\t1\tx86_64\nopenssl\t1\t3.0.8\t1\tx86_64\nopenssl\t1\t3.0.8\t1\ti686\n",
    )
    .unwrap();
    let target = |name: &str, evr: &str, arch: &str| RpmSpec::new(name, evr).arch(arch).nevra();
    let states: Vec<TargetState> = verify(
        &[
            target("kernel", "5.9.3-1", "x86_64"),
            target("kernel", "5.9.10-1", "x86_64"),
            target("kernel", "5.11-1", "x86_64"),
            target("openssl", "1:3.0.7-1", "i686"),
            target("openssl", "3.1-1", "x86_64"),
        ],
        &inventory,
    )
    .into_iter()
    .map(|s| s.state)
    .collect();
    assert_eq!(
        states,
        [
            TargetState::Installed,
            // 5.10.1 > 5.9.10 numerically, segment by segment.
            TargetState::NewerInstalled(evr("5.10.1-1")),
            TargetState::NotInstalled(vec![evr("5.10.1-1"), evr("5.9.3-1")]),
            TargetState::NewerInstalled(evr("1:3.0.8-1")),
            // Epoch 1 beats any version with epoch 0.
            TargetState::NewerInstalled(evr("1:3.0.8-1")),
        ]
    );
}

#[track_caller]
fn check_argv(
    package_manager: PackageManager,
    root: Root,
    releasever: Option<&str>,
    expected: &[&str],
) {
    let mut settings = Settings::new(package_manager, root);
    settings.releasever = releasever.map(str::to_owned);
    let spec = install_command(
        &settings,
        &[nevra("kernel", "5.1-1"), nevra("withepoch", "1:1.1-1")],
    )
    .unwrap();
    assert_eq!(spec.argv(), expected);
    assert_eq!(spec.timeout_value(), settings.timeouts.install);
}

/// No real yum runs here (Debian has none): these argv tests are what pins yum's options,
/// checked against yum 3.4.3's documented behaviour (docs/package-managers.md).
#[test]
fn dnf_and_yum_argv() {
    check_argv(
        PackageManager::Dnf,
        Root::host(),
        None,
        &[
            "dnf",
            "-y",
            "--setopt=exit_on_lock=True",
            "--setopt=best=False",
            "upgrade",
            "--",
            "kernel-0:5.1-1.noarch",
            "withepoch-1:1.1-1.noarch",
        ],
    );
    check_argv(
        PackageManager::Dnf,
        Root::new("/srv/node").unwrap(),
        Some("9"),
        &[
            "dnf",
            "-y",
            "--installroot=/srv/node",
            "--releasever=9",
            "--setopt=exit_on_lock=True",
            "--setopt=best=False",
            "upgrade",
            "--",
            "kernel-0:5.1-1.noarch",
            "withepoch-1:1.1-1.noarch",
        ],
    );
    check_argv(
        PackageManager::Yum,
        Root::host(),
        None,
        &[
            "yum",
            "-y",
            "--setopt=exit_on_lock=False",
            "--setopt=skip_broken=True",
            "update-to",
            "--",
            "kernel-0:5.1-1.noarch",
            "withepoch-1:1.1-1.noarch",
        ],
    );
    check_argv(
        PackageManager::Yum,
        Root::new("/mnt/al2").unwrap(),
        Some("2"),
        &[
            "yum",
            "-y",
            "--installroot=/mnt/al2",
            "--releasever=2",
            "--setopt=exit_on_lock=False",
            "--setopt=skip_broken=True",
            "update-to",
            "--",
            "kernel-0:5.1-1.noarch",
            "withepoch-1:1.1-1.noarch",
        ],
    );
}

#[test]
fn bad_target_lists_are_refused() {
    let settings = Settings::new(PackageManager::Dnf, Root::host());
    assert!(matches!(
        install_command(&settings, &[]),
        Err(InstallError::NoTargets)
    ));
    let mut sneaky = nevra("x", "1-1");
    sneaky.name = "--setopt=gpgcheck=0".to_owned();
    assert!(matches!(
        install_command(&settings, &[sneaky]),
        Err(InstallError::InvalidTarget { .. })
    ));
    let mut spaced = nevra("x", "1-1");
    spaced.evr.version = "1 2".to_owned();
    assert!(matches!(
        install_command(&settings, &[spaced]),
        Err(InstallError::InvalidTarget { .. })
    ));
}

/// BLOCK's rejected patterns reach dnf as `--exclude=`; option-like patterns are refused.
#[test]
fn excludes_become_exclude_options() {
    let mut settings = Settings::new(PackageManager::Dnf, Root::host());
    settings.excludes = vec!["foo-1.1*".to_owned(), "kernel".to_owned()];
    let argv = install_command(&settings, &[nevra("bar", "1.1-1")])
        .unwrap()
        .argv();
    assert!(argv.contains(&"--exclude=foo-1.1*".to_owned()), "{argv:?}");
    assert!(argv.contains(&"--exclude=kernel".to_owned()), "{argv:?}");
    settings.excludes = vec!["--nogpgcheck".to_owned()];
    assert!(matches!(
        install_command(&settings, &[nevra("bar", "1.1-1")]),
        Err(InstallError::InvalidTarget { .. })
    ));
    // yum splits exclude values on commas: `a,b` would exclude two other things.
    settings.package_manager = PackageManager::Yum;
    settings.excludes = vec!["kernel,glibc".to_owned()];
    assert!(matches!(
        install_command(&settings, &[nevra("bar", "1.1-1")]),
        Err(InstallError::InvalidTarget { .. })
    ));
}
