//! apt and dpkg for real: .deb files built with dpkg-deb, a local repository with a normal
//! and a security suite, a root where apt-get and dpkg install, then scans and installs
//! through `pw_pkgmgr::{apt, dpkg}` evaluated with the default and custom baselines.

use jiff::Timestamp;
use pw_core::baseline::{
    Approval, Baseline, ComplianceLevel, Exception, Filter, FilterGroup, FilterKey,
    OperatingSystem, RejectedAction, Rule, default_baseline,
};
use pw_core::evaluate::apt::{AptContext, AptHost, evaluate_apt, install_targets};
use pw_core::evaluate::{EvaluateOptions, Evaluation};
use pw_pkgmgr::apt::{self, AptSettings, DebTargetState};
use pw_pkgmgr::dpkg::{self, InstallTimeSource};
use pw_test_support::deb::{
    DebRoot, DebSpec, Postinst, SuiteSpec, build_deb, build_repo, deb_root,
};
use tempfile::TempDir;

struct Fixture {
    _dir: TempDir,
    root: DebRoot,
    settings: AptSettings,
    product: &'static str,
}

/// A repository with `suites`, a root where `installed` is installed with dpkg, and apt's
/// lists refreshed.
fn fixture(suites: &[(SuiteSpec, Vec<DebSpec>)], installed: &[DebSpec]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let product = if suites[0].0.origin == "Ubuntu" {
        "Ubuntu22.04"
    } else {
        "Debian12"
    };
    let repo = build_repo(&dir.path().join("repo"), suites).unwrap();
    let root = deb_root(&dir.path().join("root"), &repo).unwrap();
    let base: Vec<_> = installed
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
    if !base.is_empty() {
        root.dpkg_install(&base.iter().map(|p| p.as_path()).collect::<Vec<_>>())
            .unwrap();
    }
    let settings = AptSettings::new(root.root.clone());
    let update = apt::update(&settings).unwrap();
    assert!(
        update.success(),
        "apt-get update: {}\n{}",
        update.stdout_tail,
        update.stderr_tail
    );
    Fixture {
        _dir: dir,
        root,
        settings,
        product,
    }
}

impl Fixture {
    fn scan(&self, baseline: &Baseline) -> Evaluation {
        let inventory = dpkg::read_inventory(&self.root.root).unwrap();
        assert!(
            inventory.diagnostics.is_empty(),
            "{:?}",
            inventory.diagnostics
        );
        let lists = apt::read_lists(&self.root.root).unwrap();
        assert!(lists.diagnostics.is_empty(), "{:?}", lists.diagnostics);
        let installed = inventory.apt_installed();
        let context = AptContext {
            product: self.product.to_owned(),
            native_arch: dpkg::native_architecture().unwrap(),
            now: Timestamp::from_second(1_767_225_600).unwrap(),
        };
        let host = AptHost {
            installed: &installed,
            available: &lists.available,
            pending_reboot: &[],
        };
        evaluate_apt(baseline, host, &context, &EvaluateOptions::default())
    }

    /// Scan, install the targets, verify them against dpkg and scan again; what is still
    /// Missing is Failed. Returns the verification and the report.
    fn install(&self, baseline: &Baseline) -> (Vec<String>, Evaluation) {
        let before = self.scan(baseline);
        let targets = install_targets(&before);
        if targets.is_empty() {
            return (Vec::new(), before);
        }
        apt::install(&self.settings, &targets).unwrap();
        let inventory = dpkg::read_inventory(&self.root.root).unwrap();
        let verified = apt::verify(&targets, &inventory.packages)
            .into_iter()
            .map(|status| format!("{} {:?}", status.target.apt_spec(), status.state))
            .collect();
        (verified, self.scan(baseline).into_install_report())
    }
}

/// `name state target` per item, in report order.
fn states(evaluation: &Evaluation) -> Vec<String> {
    evaluation
        .items
        .iter()
        .map(|item| {
            let target = item
                .target
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            format!("{} {} {target}", item.name, item.state)
        })
        .collect()
}

#[track_caller]
fn check(evaluation: &Evaluation, expected: &[&str]) {
    let reasons: Vec<String> = evaluation
        .items
        .iter()
        .map(|i| format!("{}: {}", i.name, i.reason))
        .collect();
    assert_eq!(states(evaluation), expected, "reasons: {reasons:#?}");
}

fn debian_world() -> (Vec<(SuiteSpec, Vec<DebSpec>)>, Vec<DebSpec>) {
    let suites = vec![
        (
            SuiteSpec::debian_bookworm(),
            vec![
                DebSpec::new("libfoo1", "1.0-1").section("libs"),
                DebSpec::new("tool", "2.0-2").section("utils"),
                DebSpec::new("docs", "1.0-1")
                    .arch("all")
                    .section("doc")
                    .priority(Some("extra")),
            ],
        ),
        (
            SuiteSpec::debian_bookworm_security(),
            vec![
                DebSpec::new("libfoo1", "1.0-1+deb12u1").section("libs"),
                DebSpec::new("docs", "1.0-1+deb12u1")
                    .arch("all")
                    .section("doc")
                    .priority(Some("extra")),
            ],
        ),
    ];
    let installed = vec![
        DebSpec::new("libfoo1", "1.0-1").section("libs"),
        DebSpec::new("tool", "2.0-1").section("utils"),
        DebSpec::new("docs", "1.0-1")
            .arch("all")
            .section("doc")
            .priority(Some("extra")),
    ];
    (suites, installed)
}

fn rule(filters: &[(FilterKey, &[&str])], enable_non_security: bool) -> Rule {
    Rule {
        filters: FilterGroup {
            filters: filters
                .iter()
                .map(|(key, values)| Filter {
                    key: *key,
                    values: values.iter().map(|v| (*v).to_owned()).collect(),
                })
                .collect(),
        },
        approval: Approval::Immediate,
        compliance_level: ComplianceLevel::Medium,
        enable_non_security,
    }
}

fn custom(rules: Vec<Rule>) -> Baseline {
    let mut baseline = Baseline::empty("custom", OperatingSystem::Debian);
    baseline.rules = rules;
    baseline
}

#[test]
fn default_debian_baseline_installs_security_updates_only() {
    let (suites, installed) = debian_world();
    let fixture = fixture(&suites, &installed);
    let baseline = default_baseline(OperatingSystem::Debian);
    check(
        &fixture.scan(&baseline),
        &[
            "tool InstalledOther -",
            "docs Missing 1.0-1+deb12u1",
            "libfoo1 Missing 1.0-1+deb12u1",
        ],
    );
    let (verified, report) = fixture.install(&baseline);
    assert_eq!(
        verified,
        [
            "docs=1.0-1+deb12u1 Installed",
            "libfoo1:amd64=1.0-1+deb12u1 Installed"
        ]
    );
    check(
        &report,
        &[
            "docs Installed 1.0-1+deb12u1",
            "libfoo1 Installed 1.0-1+deb12u1",
            "tool InstalledOther -",
        ],
    );
    assert_eq!(report.summary.status.as_str(), "COMPLIANT");
    // The non-security update of `tool` was left alone.
    let inventory = dpkg::read_inventory(&fixture.root.root).unwrap();
    let tool = inventory
        .packages
        .iter()
        .find(|p| p.name == "tool")
        .unwrap();
    assert_eq!(tool.version.to_string(), "2.0-1");
    let docs = inventory
        .packages
        .iter()
        .find(|p| p.name == "docs")
        .unwrap();
    assert_eq!(docs.arch, "all");
    assert_eq!(docs.install_time_source, InstallTimeSource::DpkgLog);
    assert!(docs.install_time.is_some());
}

#[test]
fn non_security_updates_when_enabled() {
    let (suites, installed) = debian_world();
    let fixture = fixture(&suites, &installed);
    let baseline = custom(vec![rule(&[(FilterKey::Product, &["*"])], true)]);
    let (verified, report) = fixture.install(&baseline);
    assert_eq!(
        verified,
        [
            "docs=1.0-1+deb12u1 Installed",
            "libfoo1:amd64=1.0-1+deb12u1 Installed",
            "tool:amd64=2.0-2 Installed"
        ]
    );
    check(
        &report,
        &[
            "docs Installed 1.0-1+deb12u1",
            "libfoo1 Installed 1.0-1+deb12u1",
            "tool Installed 2.0-2",
        ],
    );
}

#[test]
fn approved_and_rejected_names() {
    let (suites, installed) = debian_world();
    let fixture = fixture(&suites, &installed);
    // Approved by name: `tool` has only a non-security update, so the list must enable them.
    let mut approved = custom(Vec::new());
    approved.approved = vec![Exception::new("tool")];
    check(
        &fixture.scan(&approved),
        &[
            "docs InstalledOther -",
            "libfoo1 InstalledOther -",
            "tool InstalledOther -",
        ],
    );
    approved.approved_enable_non_security = true;
    check(
        &fixture.scan(&approved),
        &[
            "docs InstalledOther -",
            "libfoo1 InstalledOther -",
            "tool Missing 2.0-2",
        ],
    );

    let mut rejected = default_baseline(OperatingSystem::Debian);
    rejected.rejected = vec![Exception::new("libfoo1")];
    check(
        &fixture.scan(&rejected),
        &[
            "libfoo1 InstalledOther -",
            "tool InstalledOther -",
            "docs Missing 1.0-1+deb12u1",
        ],
    );
    rejected.rejected_action = RejectedAction::Block;
    let (verified, report) = fixture.install(&rejected);
    assert_eq!(verified, ["docs=1.0-1+deb12u1 Installed"]);
    check(
        &report,
        &[
            "docs Installed 1.0-1+deb12u1",
            "tool InstalledOther -",
            "libfoo1 InstalledRejected -",
        ],
    );
}

#[test]
fn priority_and_section_filters() {
    let (suites, installed) = debian_world();
    let fixture = fixture(&suites, &installed);
    // `docs` has priority `extra`; the rule wants `optional` only.
    let by_priority = custom(vec![rule(&[(FilterKey::Priority, &["Optional"])], false)]);
    check(
        &fixture.scan(&by_priority),
        &[
            "docs InstalledOther -",
            "tool InstalledOther -",
            "libfoo1 Missing 1.0-1+deb12u1",
        ],
    );
    let by_section = custom(vec![rule(&[(FilterKey::Section, &["doc"])], false)]);
    check(
        &fixture.scan(&by_section),
        &[
            "libfoo1 InstalledOther -",
            "tool InstalledOther -",
            "docs Missing 1.0-1+deb12u1",
        ],
    );
}

#[test]
fn reboot_request_is_detected() {
    let suites = vec![
        (
            SuiteSpec::debian_bookworm(),
            vec![DebSpec::new("linux-image-6.1.0-1-amd64", "6.1.1-1").section("kernel")],
        ),
        (
            SuiteSpec::debian_bookworm_security(),
            vec![
                DebSpec::new("linux-image-6.1.0-1-amd64", "6.1.1-1+deb12u1")
                    .section("kernel")
                    .postinst(Postinst::RequestReboot),
            ],
        ),
    ];
    let fixture = fixture(
        &suites,
        &[DebSpec::new("linux-image-6.1.0-1-amd64", "6.1.1-1").section("kernel")],
    );
    assert!(!apt::reboot_required(&fixture.root.root).unwrap().required);
    let before = fixture.scan(&default_baseline(OperatingSystem::Debian));
    assert!(before.items[0].reboot_suggested);
    let (verified, _) = fixture.install(&default_baseline(OperatingSystem::Debian));
    assert_eq!(
        verified,
        ["linux-image-6.1.0-1-amd64:amd64=6.1.1-1+deb12u1 Installed"]
    );
    let reboot = apt::reboot_required(&fixture.root.root).unwrap();
    assert!(reboot.required);
    assert_eq!(reboot.packages, ["linux-image-6.1.0-1-amd64"]);
    fixture.root.clear_reboot_request().unwrap();
    assert!(!apt::reboot_required(&fixture.root.root).unwrap().required);
}

#[test]
fn failing_maintainer_script_is_reported_as_failed() {
    let suites = vec![
        (
            SuiteSpec::debian_bookworm(),
            vec![
                DebSpec::new("fragile", "1.0-1"),
                DebSpec::new("sturdy", "1.0-1"),
            ],
        ),
        (
            SuiteSpec::debian_bookworm_security(),
            vec![
                DebSpec::new("fragile", "1.0-1+deb12u1").postinst(Postinst::Fail),
                DebSpec::new("sturdy", "1.0-1+deb12u1"),
            ],
        ),
    ];
    let fixture = fixture(
        &suites,
        &[
            DebSpec::new("fragile", "1.0-1"),
            DebSpec::new("sturdy", "1.0-1"),
        ],
    );
    let baseline = default_baseline(OperatingSystem::Debian);
    let before = fixture.scan(&baseline);
    let run = apt::install(&fixture.settings, &install_targets(&before)).unwrap();
    assert!(!run.success(), "apt-get should fail: {}", run.stdout_tail);
    let inventory = dpkg::read_inventory(&fixture.root.root).unwrap();
    let verified = apt::verify(&install_targets(&before), &inventory.packages);
    let states: Vec<(&str, &DebTargetState)> = verified
        .iter()
        .map(|s| (s.target.name.as_str(), &s.state))
        .collect();
    assert_eq!(
        states,
        [
            (
                "fragile",
                &DebTargetState::Broken("half-configured".to_owned())
            ),
            ("sturdy", &DebTargetState::Installed)
        ]
    );
    // A target on disk but not configured is Failed.
    check(
        &fixture.scan(&baseline),
        &[
            "sturdy Installed 1.0-1+deb12u1",
            "fragile Failed 1.0-1+deb12u1",
        ],
    );
}

#[test]
fn ubuntu_pockets_with_the_default_baseline() {
    let suites = vec![
        (
            SuiteSpec::ubuntu_jammy(None),
            vec![
                DebSpec::new("openssl", "3.0.2-0ubuntu1"),
                DebSpec::new("curl", "7.81.0-1"),
            ],
        ),
        (
            SuiteSpec::ubuntu_jammy(Some("updates")),
            vec![
                DebSpec::new("curl", "7.81.0-1ubuntu1.16"),
                DebSpec::new("openssl", "3.0.2-0ubuntu1.16"),
            ],
        ),
        (
            SuiteSpec::ubuntu_jammy(Some("security")),
            vec![DebSpec::new("openssl", "3.0.2-0ubuntu1.15")],
        ),
    ];
    let fixture = fixture(
        &suites,
        &[
            DebSpec::new("openssl", "3.0.2-0ubuntu1"),
            DebSpec::new("curl", "7.81.0-1"),
        ],
    );
    let baseline = default_baseline(OperatingSystem::Ubuntu);
    check(
        &fixture.scan(&baseline),
        &["curl InstalledOther -", "openssl Missing 3.0.2-0ubuntu1.15"],
    );
    let (verified, report) = fixture.install(&baseline);
    assert_eq!(verified, ["openssl:amd64=3.0.2-0ubuntu1.15 Installed"]);
    check(
        &report,
        &[
            "openssl Installed 3.0.2-0ubuntu1.15",
            "curl InstalledOther -",
        ],
    );
    let item = report.items.iter().find(|i| i.name == "openssl").unwrap();
    assert_eq!(item.classification.as_deref(), Some("Security"));
    assert_eq!(
        item.reason.to_string(),
        "approved by rule 1 via jammy-security"
    );
}

#[test]
fn lists_are_paired_with_their_release_files() {
    let (suites, installed) = debian_world();
    let fixture = fixture(&suites, &installed);
    let lists = apt::read_lists(&fixture.root.root).unwrap();
    let suites: Vec<String> = lists
        .suites
        .iter()
        .map(|s| {
            format!(
                "{:?} {:?} {} {}",
                s.release.suite,
                s.release.label,
                s.packages_files.len(),
                s.n_packages
            )
        })
        .collect();
    assert_eq!(
        suites,
        [
            r#"Some("stable-security") Some("Debian-Security") 1 2"#,
            r#"Some("stable") Some("Debian") 1 3"#,
        ]
    );
    let security: Vec<String> = lists
        .available
        .iter()
        .filter(|a| a.is_security())
        .map(|a| format!("{}={} {}", a.name, a.version, a.origins[0]))
        .collect();
    assert_eq!(
        security,
        [
            "libfoo1=1.0-1+deb12u1 o=Debian,a=stable-security,n=bookworm-security,l=Debian-Security,c=main",
            "docs=1.0-1+deb12u1 o=Debian,a=stable-security,n=bookworm-security,l=Debian-Security,c=main",
        ]
    );
    let dates: Vec<String> = lists
        .release_dates()
        .iter()
        .map(|d| d.map(|d| d.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(dates[0], "2024-09-02T12:00:00Z");
    assert!(lists.orphans.is_empty());
}

#[test]
fn install_commands() {
    let root = pw_pkgmgr::Root::new("/srv/root").unwrap();
    let settings = AptSettings::new(root.clone());
    let target = pw_core::evaluate::apt::DebTarget {
        name: "openssl".to_owned(),
        arch: "amd64".to_owned(),
        version: pw_core::version::deb::DebVersion::parse("1:3.0.2-0ubuntu1.15").unwrap(),
    };
    let spec = apt::install_command(&settings, std::slice::from_ref(&target)).unwrap();
    assert_eq!(
        spec.argv().join(" "),
        "apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install --only-upgrade openssl:amd64=1:3.0.2-0ubuntu1.15"
    );
    assert!(apt::install_command(&settings, &[]).is_err());
    let config = apt::root_config(&root).unwrap();
    assert!(config.contains("Dir \"/srv/root/\";"), "{config}");
    assert!(config.contains("\"--force-script-chrootless\""), "{config}");
    assert!(apt::root_config(&pw_pkgmgr::Root::new("/srv/a\"b").unwrap()).is_err());
    assert!(
        apt::update_command(&AptSettings::new(pw_pkgmgr::Root::host()))
            .unwrap()
            .argv()
            .ends_with(&["update".to_owned()])
    );
}
