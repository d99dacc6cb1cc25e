//! Amazon Linux 2023 release versions on real dnf installroots: versioned local repositories
//! (`baseurl=.../$releasever/`), `system-release` and `/etc/dnf/vars/releasever` as AL2023 has
//! them, and the release list (`releasemd.xml`) the baseline's `[release]` chooses from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use pw_agent::{AgentSettings, OperationKind, OperationOutcome};
use pw_core::baseline::OperatingSystem;
use pw_pkgmgr::PackageManager;
use pw_test_support::InstallRoot;
use pw_test_support::al2023::{RELEASES, al2023};

const R1: &str = RELEASES[0];
const R2: &str = RELEASES[1];
const R3: &str = RELEASES[2];

struct Host {
    root: InstallRoot,
    dir: tempfile::TempDir,
}

impl Host {
    fn new(release: &str) -> Host {
        let host = Host {
            root: al2023().unwrap().host(release).unwrap(),
            dir: tempfile::tempdir().unwrap(),
        };
        let proc_dir = host.dir.path().join("proc");
        fs_err::create_dir_all(&proc_dir).unwrap();
        fs_err::write(proc_dir.join("stat"), "cpu 1\nbtime 1704067200\n").unwrap();
        host
    }

    /// Settings for `baseline_toml` at `at`, with the release its `[release]` chooses from
    /// the fixture's release list (as `agent scan --release-metadata` and the server do).
    fn settings(&self, baseline_toml: &str, at: &str) -> AgentSettings {
        let baseline = pw_api::baseline::parse_toml(baseline_toml)
            .unwrap()
            .baseline;
        let instant: Timestamp = at.parse().unwrap();
        let known = pw_repo::load_releases(
            &al2023().unwrap().releasemd().display().to_string(),
            std::time::Duration::from_secs(10),
        )
        .unwrap()
        .value;
        let chosen = baseline
            .release
            .as_ref()
            .map(|policy| policy.choose(&known, instant).map_err(|e| e.to_string()));
        let mut settings = AgentSettings::new(baseline);
        settings.root = self.root.root();
        settings.state_dir = self.dir.path().join("state");
        settings.proc_dir = self.dir.path().join("proc");
        settings.operating_system = Some(OperatingSystem::AmazonLinux2023);
        settings.product = Some("AmazonLinux2023".to_owned());
        settings.package_manager = Some(PackageManager::Dnf);
        // No --releasever: the agent reads the lock as dnf does.
        settings.releasever = None;
        settings.chosen_release = chosen;
        settings.evaluation_instant = Some(instant);
        settings
    }

    fn lock_file(&self) -> PathBuf {
        self.root.path().join("etc/dnf/vars/releasever")
    }

    fn installed(&self) -> BTreeMap<String, String> {
        pw_pkgmgr::rpm::installed_packages(&self.root.settings())
            .unwrap()
            .into_iter()
            .map(|p| (p.nevra.name.clone(), p.nevra.evr.to_string()))
            .collect()
    }
}

fn run(settings: &AgentSettings, kind: OperationKind) -> OperationOutcome {
    let now = settings.evaluation_instant.unwrap();
    pw_agent::run(settings, kind, &move || now).unwrap()
}

/// `name → (state, target)` of every item.
fn items(outcome: &OperationOutcome) -> BTreeMap<String, (String, String)> {
    outcome
        .evaluation
        .items
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                (
                    i.state.to_string(),
                    i.target
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                ),
            )
        })
        .collect()
}

fn target(outcome: &OperationOutcome, name: &str) -> String {
    items(outcome)
        .get(name)
        .map(|(state, target)| format!("{state} {target}"))
        .unwrap_or_default()
}

fn security_and_bugfix(release: &str) -> String {
    format!(
        r#"version = "1"
name = "AL2023-test"
operating_system = "AMAZON_LINUX_2023"
[[rules]]
classification = ["Security"]
severity = ["Critical", "Important"]
approve_after_days = 0
[[rules]]
classification = ["Bugfix"]
approve_after_days = 0
{release}"#
    )
}

#[test]
fn without_a_release_table_the_host_stays_on_its_lock() {
    let host = Host::new(R1);
    let settings = host.settings(&security_and_bugfix(""), "2025-03-10T00:00:00Z");
    let scan = run(&settings, OperationKind::Scan);
    // R1's repository holds no updates: nothing is missing, whatever newer releases offer.
    assert_eq!(scan.report.summary.missing, 0, "{:#?}", scan.report.notes);
    let release = scan.report.release.as_ref().unwrap();
    assert_eq!(release.before, R1);
    assert_eq!(release.source, "system-release");
    assert_eq!(release.plan, "none");
    assert_eq!(release.evaluated.as_deref(), Some(R1));
    assert_eq!(scan.report.host.release.as_deref(), Some(R1));
}

#[test]
fn a_pinned_release_is_evaluated_and_installed_and_the_lock_follows() {
    let host = Host::new(R1);
    let baseline = security_and_bugfix(&format!("[release]\npin = \"{R2}\"\n"));
    let settings = host.settings(&baseline, "2025-03-10T00:00:00Z");
    let scan = run(&settings, OperationKind::Scan);
    assert_eq!(target(&scan, "foo"), "Missing 1.1-1.amzn2023");
    assert_eq!(target(&scan, "bar"), "Missing 1.1-1.amzn2023");
    let release = scan.report.release.as_ref().unwrap();
    assert_eq!(
        (release.plan.as_str(), release.approved.as_deref()),
        ("move", Some(R2))
    );
    assert!(
        fs_err::metadata(host.lock_file()).is_err(),
        "a scan never moves the lock"
    );

    let install = run(&settings, OperationKind::Install);
    let installed = host.installed();
    assert_eq!(installed["foo"], "1.1-1.amzn2023");
    assert_eq!(installed["bar"], "1.1-1.amzn2023");
    // The enhancement-free, unapproved system-release update was not installed: the lock
    // file carries the release.
    assert_eq!(installed["system-release"], format!("{R1}-0.amzn2023"));
    assert_eq!(fs_err::read_to_string(host.lock_file()).unwrap().trim(), R2);
    let release = install.report.release.as_ref().unwrap();
    assert!(release.lock_moved, "{release:?}");
    assert_eq!((release.before.as_str(), release.after.as_str()), (R1, R2));
    assert_eq!(install.report.host.release.as_deref(), Some(R2));

    // Without `[release]` the host now stays on R2: a plain dnf sees the same release.
    let after = host.settings(&security_and_bugfix(""), "2025-03-10T00:00:00Z");
    let rescan = run(&after, OperationKind::Scan);
    let release = rescan.report.release.as_ref().unwrap();
    assert_eq!(
        (release.before.as_str(), release.source.as_str()),
        (R2, "/etc/dnf/vars/releasever")
    );
    assert_eq!(rescan.report.summary.missing, 0);
}

#[test]
fn approve_after_days_takes_the_newest_release_old_enough_at_each_instant() {
    let host = Host::new(R1);
    let baseline = security_and_bugfix("[release]\napprove_after_days = 7\n");
    for (at, release, foo) in [
        // R2 (2025-02-01) is 7 days old from 2025-02-08T00:00Z on.
        ("2025-02-07T23:59:59Z", R1, "InstalledOther "),
        ("2025-02-08T00:00:00Z", R2, "Missing 1.1-1.amzn2023"),
        ("2025-03-08T00:00:00Z", R3, "Missing 1.2-1.amzn2023"),
    ] {
        let scan = run(&host.settings(&baseline, at), OperationKind::Scan);
        let report = scan.report.release.as_ref().unwrap();
        assert_eq!(report.approved.as_deref(), Some(release), "at {at}");
        assert_eq!(report.evaluated.as_deref(), Some(release), "at {at}");
        assert_eq!(
            target(&scan, "foo"),
            foo,
            "at {at}: {:#?}",
            scan.report.notes
        );
    }
}

#[test]
fn a_rejected_release_is_never_taken() {
    let host = Host::new(R1);
    let baseline = security_and_bugfix(&format!(
        "[release]\napprove_after_days = 0\nreject = [\"{R3}\"]\n"
    ));
    let scan = run(
        &host.settings(&baseline, "2025-03-10T00:00:00Z"),
        OperationKind::Scan,
    );
    let release = scan.report.release.as_ref().unwrap();
    assert_eq!(release.approved.as_deref(), Some(R2));
    assert_eq!(target(&scan, "foo"), "Missing 1.1-1.amzn2023");
}

#[test]
fn a_host_ahead_of_the_approved_release_is_reported_never_downgraded() {
    let host = Host::new(R1);
    host.root
        .write_file("/etc/dnf/vars/releasever", &format!("{R3}\n"))
        .unwrap();
    let baseline = security_and_bugfix(&format!("[release]\npin = \"{R2}\"\n"));
    let settings = host.settings(&baseline, "2025-03-10T00:00:00Z");
    let install = run(&settings, OperationKind::Install);
    let release = install.report.release.as_ref().unwrap();
    assert_eq!(release.plan, "ahead");
    assert_eq!(release.evaluated.as_deref(), Some(R3));
    assert!(!release.lock_moved);
    assert!(
        install
            .report
            .notes
            .iter()
            .any(|n| n.contains("newer than the approved")),
        "{:#?}",
        install.report.notes
    );
    // Evaluated in its own release: R3's approved foo 1.2, never R2's 1.1.
    assert_eq!(host.installed()["foo"], "1.2-1.amzn2023");
    assert_eq!(fs_err::read_to_string(host.lock_file()).unwrap().trim(), R3);
}

#[test]
fn one_approved_advisory_of_a_newer_release_installs_and_the_lock_stays() {
    // Strategy 4 on AL2023: no rules, one approved advisory, taken from the newest release.
    let host = Host::new(R1);
    let baseline = r#"version = "1"
name = "AL2023-explicit"
operating_system = "AMAZON_LINUX_2023"
[[approved_patches]]
id = "ALAS2023-2025-001"
[release]
approve_after_days = 0
"#;
    let settings = host.settings(baseline, "2025-03-10T00:00:00Z");
    let install = run(&settings, OperationKind::Install);
    let installed = host.installed();
    assert_eq!(
        installed["foo"], "1.1-1.amzn2023",
        "{:#?}",
        install.report.notes
    );
    assert_eq!(installed["bar"], "1.0-1.amzn2023");
    let release = install.report.release.as_ref().unwrap();
    assert_eq!(release.evaluated.as_deref(), Some(R3));
    assert!(!release.lock_moved, "{release:?}");
    assert_eq!(release.after, R1);
    assert!(
        release
            .note
            .as_deref()
            .is_some_and(|n| n.contains("individual patches")),
        "{release:?}"
    );
    assert!(fs_err::metadata(host.lock_file()).is_err());
}
