//! The agent on a Debian root: real .deb files, a normal and a security suite, apt-get and
//! dpkg installing into the root, through the same operation flow as rpm hosts.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use pw_agent::{AgentExit, AgentSettings, OperationKind, OperationOutcome, RebootOption};
use pw_core::baseline::{OperatingSystem, default_baseline};
use pw_pkgmgr::hooks::ShellCommand;
use pw_test_support::deb::{
    DebRoot, DebSpec, Postinst, SuiteSpec, build_deb, build_repo, deb_root,
};

struct Host {
    dir: tempfile::TempDir,
    root: DebRoot,
}

/// openssl 3.0.1 → 3.0.2 in the security suite; curl 7.1 → 7.2 only in the normal suite;
/// linux-image-6.1 1 → 2 in the security suite, asking for a reboot.
fn host() -> Host {
    let dir = tempfile::tempdir().unwrap();
    let suites = vec![
        (
            SuiteSpec::debian_bookworm(),
            vec![
                DebSpec::new("openssl", "3.0.1-1"),
                DebSpec::new("curl", "7.1-1"),
                DebSpec::new("curl", "7.2-1"),
                DebSpec::new("linux-image-6.1-amd64", "1"),
            ],
        ),
        (
            SuiteSpec::debian_bookworm_security(),
            vec![
                DebSpec::new("openssl", "3.0.2-1"),
                DebSpec::new("linux-image-6.1-amd64", "2").postinst(Postinst::RequestReboot),
            ],
        ),
    ];
    let repo = build_repo(&dir.path().join("repo"), &suites).unwrap();
    let root = deb_root(&dir.path().join("root"), &repo).unwrap();
    let base: Vec<_> = [
        DebSpec::new("openssl", "3.0.1-1"),
        DebSpec::new("curl", "7.1-1"),
        DebSpec::new("linux-image-6.1-amd64", "1"),
    ]
    .iter()
    .map(|spec| {
        build_deb(
            spec,
            &dir.path().join("base-build"),
            &dir.path().join("base"),
        )
        .unwrap()
        .path
    })
    .collect();
    root.dpkg_install(&base.iter().map(|p| p.as_path()).collect::<Vec<_>>())
        .unwrap();
    fs_err::create_dir_all(dir.path().join("proc")).unwrap();
    fs_err::write(dir.path().join("proc/stat"), "btime 1704067200\n").unwrap();
    Host { dir, root }
}

impl Host {
    fn settings(&self) -> AgentSettings {
        let mut settings = AgentSettings::new(default_baseline(OperatingSystem::Debian));
        settings.root = self.root.root.clone();
        settings.state_dir = self.dir.path().join("state");
        settings.proc_dir = self.dir.path().join("proc");
        settings.operating_system = Some(OperatingSystem::Debian);
        settings.product = Some("Debian12".to_owned());
        settings.reboot_command = ShellCommand {
            command: format!("touch {}", self.dir.path().join("rebooted").display()),
            timeout: Duration::from_secs(10),
        };
        settings
    }
}

fn run(settings: &AgentSettings, kind: OperationKind) -> OperationOutcome {
    let now: Timestamp = "2024-10-01T00:00:00Z".parse().unwrap();
    pw_agent::run(settings, kind, &move || now).unwrap()
}

fn states(outcome: &OperationOutcome) -> BTreeMap<String, String> {
    outcome
        .evaluation
        .items
        .iter()
        .map(|i| (i.name.clone(), i.state.to_string()))
        .collect()
}

#[test]
fn default_debian_baseline_installs_security_updates_only_and_reboots_for_the_kernel() {
    let host = host();
    let settings = host.settings();
    // apt-get update happens on install; a first install refreshes the lists.
    let outcome = run(&settings, OperationKind::Install);
    let s = states(&outcome);
    assert_eq!(s["openssl"], "Installed", "{:#?}", outcome.report);
    assert_eq!(s["linux-image-6.1-amd64"], "Installed");
    // curl's update is not from a security suite.
    assert_eq!(s["curl"], "InstalledOther");
    assert_eq!(outcome.exit, AgentExit::RebootRequested);
    let reasons = outcome.report.reboot.as_ref().unwrap().reasons.join("; ");
    assert!(reasons.contains("linux-image"), "{reasons}");
    assert!(fs_err::metadata(host.dir.path().join("rebooted")).is_ok());
}

#[test]
fn no_reboot_on_debian_marks_pending() {
    let host = host();
    let mut settings = host.settings();
    settings.reboot_option = RebootOption::NoReboot;
    let outcome = run(&settings, OperationKind::Install);
    let s = states(&outcome);
    assert_eq!(
        s["linux-image-6.1-amd64"], "InstalledPendingReboot",
        "{:#?}",
        outcome.report
    );
    assert!(fs_err::metadata(host.dir.path().join("rebooted")).is_err());
    // A read-only scan afterwards agrees.
    let scan = run(&settings, OperationKind::Scan);
    assert_eq!(states(&scan)["openssl"], "InstalledPendingReboot");
}

/// `agent compare` on a real Debian root: apt's own simulation (`apt-get -s upgrade`, its
/// security-origin lines) and the agent's default Debian baseline agree: openssl and the
/// kernel from the security suite, not curl (normal suite only).
#[test]
fn agent_compare_agrees_with_apt_on_security_updates() {
    let host = host();
    let settings = host.settings();
    // The lists apt reads (a scan is read-only and never updates them).
    pw_pkgmgr::apt::update(&pw_pkgmgr::apt::AptSettings::new(settings.root.clone())).unwrap();
    let now: Timestamp = "2024-10-01T00:00:00Z".parse().unwrap();
    let comparison = pw_agent::compare(&settings, &move || now).unwrap();
    assert!(
        comparison.differences.is_empty(),
        "{:#?}\n{}",
        comparison.differences,
        comparison.query
    );
    let agreed: Vec<&str> = comparison.agreed.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        agreed,
        ["linux-image-6.1-amd64.amd64", "openssl.amd64"],
        "{}",
        comparison.query
    );
}

/// A version whose rollout Ubuntu halted (`Phased-Update-Percentage: 0` in the index) is
/// never installed, and the report says why; the rest of the security updates install.
#[test]
fn a_halted_phased_update_is_not_installed() {
    let dir = tempfile::tempdir().unwrap();
    let suites = vec![
        (
            SuiteSpec::debian_bookworm(),
            vec![
                DebSpec::new("openssl", "3.0.1-1"),
                DebSpec::new("curl", "7.1-1"),
            ],
        ),
        (
            SuiteSpec::debian_bookworm_security(),
            vec![
                DebSpec::new("openssl", "3.0.2-1").phased(0),
                DebSpec::new("curl", "7.2-1").phased(30),
            ],
        ),
    ];
    let repo = build_repo(&dir.path().join("repo"), &suites).unwrap();
    let root = deb_root(&dir.path().join("root"), &repo).unwrap();
    let base: Vec<_> = [
        DebSpec::new("openssl", "3.0.1-1"),
        DebSpec::new("curl", "7.1-1"),
    ]
    .iter()
    .map(|spec| {
        build_deb(
            spec,
            &dir.path().join("base-build"),
            &dir.path().join("base"),
        )
        .unwrap()
        .path
    })
    .collect();
    root.dpkg_install(&base.iter().map(|p| p.as_path()).collect::<Vec<_>>())
        .unwrap();
    fs_err::create_dir_all(dir.path().join("proc")).unwrap();
    fs_err::write(dir.path().join("proc/stat"), "btime 1704067200\n").unwrap();
    let host = Host { dir, root };
    let outcome = run(&host.settings(), OperationKind::Install);
    let s = states(&outcome);
    // curl's phase is under way: the baseline and the window are the rollout, it installs.
    assert_eq!(s["curl"], "Installed", "{:#?}", outcome.report);
    assert_eq!(s["openssl"], "InstalledOther", "{:#?}", outcome.report);
    let openssl = outcome
        .evaluation
        .items
        .iter()
        .find(|i| i.name == "openssl")
        .unwrap();
    assert!(
        openssl
            .reason
            .to_string()
            .contains("Ubuntu halted its phased rollout"),
        "{}",
        openssl.reason
    );
    let installed = root_version(&host, "openssl");
    assert_eq!(installed, "3.0.1-1");
}

/// The version dpkg has installed in the host's root.
fn root_version(host: &Host, name: &str) -> String {
    let status = fs_err::read_to_string(host.root.root.join("var/lib/dpkg/status")).unwrap();
    status
        .split("\n\n")
        .find(|entry| entry.lines().any(|l| l == format!("Package: {name}")))
        .and_then(|entry| entry.lines().find_map(|l| l.strip_prefix("Version: ")))
        .unwrap_or_default()
        .to_owned()
}

/// An install records what it replaced; a rollback puts exactly that back with apt-get
/// (`--allow-downgrades`), and leaves the package Missing again, not Failed.
#[test]
fn a_rollback_puts_back_what_an_install_replaced() {
    let host = host();
    let mut settings = host.settings();
    settings.reboot_option = RebootOption::NoReboot;
    let outcome = run(&settings, OperationKind::Install);
    let install = outcome.report.install.as_ref().unwrap();
    assert_eq!(
        install.replaced,
        ["linux-image-6.1-amd64:amd64=1", "openssl:amd64=3.0.1-1"],
        "{:#?}",
        outcome.report
    );
    assert_eq!(root_version(&host, "openssl"), "3.0.2-1");
    settings.rollback = vec!["openssl:amd64=3.0.1-1".to_owned()];
    let back = run(&settings, OperationKind::Install);
    assert_eq!(back.exit, AgentExit::Success, "{:#?}", back.report);
    assert_eq!(root_version(&host, "openssl"), "3.0.1-1");
    assert_eq!(states(&back)["openssl"], "Missing");
    assert_eq!(
        back.report.install.as_ref().unwrap().installed,
        ["openssl:amd64=3.0.1-1"]
    );
}

/// Issue 15: a root left by an interrupted dpkg (an unmerged entry in dpkg's journal,
/// `/var/lib/dpkg/updates/`, as a killed dpkg leaves it). An install is refused without
/// starting apt, every target Failed with the reason and the fix; a scan says so; after
/// `dpkg --configure -a` the same install runs.
#[test]
fn an_interrupted_dpkg_is_reported_and_installs_wait_for_dpkg_configure() {
    let host = host();
    let settings = host.settings();
    let admin = host.root.root.join("var/lib/dpkg");
    let status = fs_err::read_to_string(admin.join("status")).unwrap();
    // dpkg journals each status change as the package's whole paragraph, merged into
    // `status` when the run ends; killed before that, the entry stays.
    let openssl = status
        .split("\n\n")
        .find(|paragraph| paragraph.starts_with("Package: openssl\n"))
        .unwrap();
    fs_err::write(
        admin.join("updates/0000"),
        format!(
            "{}\n\n",
            openssl.replace(
                "Status: install ok installed",
                "Status: install ok half-configured"
            )
        ),
    )
    .unwrap();

    let refused = run(&settings, OperationKind::Install);
    let s = states(&refused);
    assert_eq!(s["openssl"], "Failed", "{:#?}", refused.report);
    assert_eq!(refused.exit, AgentExit::InstallFailures);
    let install = refused.report.install.as_ref().unwrap();
    assert!(
        install
            .package_manager_output_tail
            .as_deref()
            .is_some_and(|tail| tail.contains("dpkg --configure -a")),
        "{install:#?}"
    );
    assert_eq!(
        root_version(&host, "openssl"),
        "3.0.1-1",
        "nothing installed"
    );

    // A scan (on the lists the install refreshed) says so too.
    let scan = run(&settings, OperationKind::Scan);
    let note = scan
        .report
        .notes
        .iter()
        .find(|n| n.contains("dpkg was interrupted"))
        .unwrap_or_else(|| panic!("{:#?}", scan.report.notes));
    assert!(note.contains("dpkg --configure -a"), "{note}");

    host.root.dpkg_configure_pending().unwrap();
    let install = run(&settings, OperationKind::Install);
    assert_eq!(
        states(&install)["openssl"],
        "Installed",
        "{:#?}",
        install.report
    );
    assert!(
        !install
            .report
            .notes
            .iter()
            .any(|n| n.contains("dpkg was interrupted"))
    );
}
