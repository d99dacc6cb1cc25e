//! Scan and install under the strategies, rejections, failures, reboots and interruptions.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use pw_agent::override_list::OverrideList;
use pw_agent::{AgentExit, AgentSettings, Hooks, OperationKind, OperationOutcome, RebootOption};
use pw_core::baseline::OperatingSystem;
use pw_pkgmgr::PackageManager;
use pw_pkgmgr::hooks::ShellCommand;
use pw_test_support::InstallRoot;

/// One host under test: an installroot with the old versions, its state and proc dirs.
struct Host {
    root: InstallRoot,
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let fixture = pw_test_support::standard().unwrap();
        let host = Host {
            root: fixture.old_root().unwrap(),
            dir: tempfile::tempdir().unwrap(),
        };
        host.boot_at("2024-01-01T00:00:00Z");
        host
    }

    fn proc_dir(&self) -> PathBuf {
        self.dir.path().join("proc")
    }

    /// Pretends the host booted at `at`.
    fn boot_at(&self, at: &str) {
        let t: Timestamp = at.parse().unwrap();
        fs_err::create_dir_all(self.proc_dir()).unwrap();
        fs_err::write(
            self.proc_dir().join("stat"),
            format!("cpu 1 2 3\nbtime {}\n", t.as_second()),
        )
        .unwrap();
    }

    fn marker(&self) -> PathBuf {
        self.dir.path().join("rebooted")
    }

    fn settings(&self, baseline_toml: &str) -> AgentSettings {
        let baseline = pw_api::baseline::parse_toml(baseline_toml)
            .unwrap()
            .baseline;
        let mut settings = AgentSettings::new(baseline);
        settings.root = self.root.root();
        settings.state_dir = self.dir.path().join("state");
        settings.proc_dir = self.proc_dir();
        settings.operating_system = Some(OperatingSystem::AmazonLinux2023);
        settings.product = Some("AmazonLinux2023".to_owned());
        settings.package_manager = Some(PackageManager::Dnf);
        settings.releasever = Some("1".to_owned());
        settings.reboot_command = ShellCommand {
            command: format!("touch {}", self.marker().display()),
            timeout: Duration::from_secs(10),
        };
        settings
    }

    fn installed(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for p in pw_pkgmgr::rpm::installed_packages(&self.root.settings()).unwrap() {
            let entry: &mut String = map.entry(p.nevra.name.clone()).or_default();
            let evr = p.nevra.evr.to_string();
            if entry.is_empty() {
                *entry = evr;
            } else {
                *entry = format!("{entry},{evr}");
            }
        }
        map
    }
}

fn run(settings: &AgentSettings, kind: OperationKind, at: &str) -> OperationOutcome {
    let now: Timestamp = at.parse().unwrap();
    pw_agent::run(settings, kind, &move || now).unwrap()
}

/// `name → state` of every item.
fn states(outcome: &OperationOutcome) -> BTreeMap<String, String> {
    outcome
        .evaluation
        .items
        .iter()
        .map(|i| (i.name.clone(), i.state.to_string()))
        .collect()
}

#[track_caller]
fn check_states(outcome: &OperationOutcome, expected: &[(&str, &str)]) {
    let actual = states(outcome);
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
        .collect();
    assert_eq!(actual, expected, "notes: {:#?}", outcome.report.notes);
}

fn days_baseline(name: &str, days: u32) -> String {
    format!(
        r#"version = "1"
name = "{name}"
operating_system = "AMAZON_LINUX_2023"
[[rules]]
classification = ["Security"]
severity = ["Critical", "Important"]
approve_after_days = {days}
[[rules]]
classification = ["Bugfix"]
approve_after_days = {days}
"#
    )
}

const DEFAULT_AL2023: &str = r#"version = "1"
name = "al2023-default-equivalent"
operating_system = "AMAZON_LINUX_2023"
[[rules]]
product = ["*"]
classification = ["Security"]
severity = ["Critical", "Important"]
approve_after_days = 7
[[rules]]
product = ["*"]
classification = ["Bugfix"]
approve_after_days = 7
"#;

#[test]
fn scan_strategy_1_default_baseline_waits_seven_days() {
    let host = Host::new();
    let settings = host.settings(DEFAULT_AL2023);
    // Three days after foo's advisory (updated 2024-03-02): nothing approved yet.
    let early = run(&settings, OperationKind::Scan, "2024-03-05T00:00:00Z");
    assert_eq!(
        early.evaluation.summary.missing, 0,
        "{:#?}",
        early.evaluation.items
    );
    // After everything is a week old: foo, bar (bugfix), kernel, glibc; broken is Moderate.
    let later = run(&settings, OperationKind::Scan, "2024-05-01T00:00:00Z");
    check_states(
        &later,
        &[
            ("foo", "Missing"),
            ("bar", "Missing"),
            ("kernel", "Missing"),
            ("glibc", "Missing"),
            ("broken", "InstalledOther"),
            ("withepoch", "InstalledOther"),
        ],
    );
    // A scan never changes the host.
    assert_eq!(host.installed()["foo"], "1.0-1");
    assert_eq!(later.exit, AgentExit::Success);
}

#[test]
fn strategy_2_stg_gets_day_1_prd_gets_day_31_and_rejects_what_broke() {
    let stg_host = Host::new();
    let prd_host = Host::new();
    let stg = stg_host.settings(&days_baseline("AL2-STG", 1));
    let at = "2024-03-03T12:00:00Z"; // one day after foo's advisory was updated
    let outcome = run(&stg, OperationKind::Install, at);
    assert_eq!(
        stg_host.installed()["foo"],
        "1.1-1",
        "{:#?}",
        outcome.report
    );
    let prd = prd_host.settings(&days_baseline("AL2-PRD", 31));
    let outcome = run(&prd, OperationKind::Install, at);
    assert_eq!(prd_host.installed()["foo"], "1.0-1");
    assert_eq!(
        outcome.evaluation.summary.missing + outcome.evaluation.summary.failed,
        0
    );
    // foo 1.1 broke STG: PRD rejects it (BLOCK) before day 31. At day 31 PRD installs the
    // rest; bar 1.1 needs foo >= 1.1, which foo 2.0 satisfies, so foo 1.1 never lands.
    let text = days_baseline("AL2-PRD", 31).replacen(
        "operating_system = \"AMAZON_LINUX_2023\"\n",
        "operating_system = \"AMAZON_LINUX_2023\"\nrejected_patches_action = \"BLOCK\"\n[[rejected_patches]]\nid = \"foo-1.1-1*\"\n",
        1,
    );
    let prd = prd_host.settings(&text);
    let outcome = run(&prd, OperationKind::Install, "2024-04-20T00:00:00Z");
    let installed = prd_host.installed();
    assert_ne!(installed["foo"], "1.1-1", "{:#?}", outcome.report);
    assert_eq!(installed["glibc"], "2.28-2");
    assert_eq!(installed["bar"], "1.1-1");
}

#[test]
fn strategy_4_explicit_cve_approval_installs_only_that() {
    let host = Host::new();
    let settings = host.settings(
        r#"version = "1"
name = "AL2-STG-explicit"
operating_system = "AMAZON_LINUX_2023"
[[approved_patches]]
id = "CVE-2024-1005"
"#,
    );
    let outcome = run(&settings, OperationKind::Install, "2024-03-16T00:00:00Z");
    let installed = host.installed();
    assert_eq!(installed["glibc"], "2.28-2");
    assert_eq!(installed["foo"], "1.0-1");
    assert_eq!(installed["kernel"], "5.0-1");
    let glibc = outcome
        .evaluation
        .items
        .iter()
        .find(|i| i.name == "glibc")
        .unwrap();
    assert_eq!(glibc.state.to_string(), "Installed");
}

#[test]
fn approve_after_days_depends_on_the_instant() {
    let host = Host::new();
    let settings = host.settings(&days_baseline("after-10", 10));
    // kernel's advisory is from 2024-03-10: 9 days later not yet, 11 days later yes.
    let outcome = run(&settings, OperationKind::Scan, "2024-03-19T00:00:00Z");
    assert_eq!(states(&outcome)["kernel"], "InstalledOther");
    let outcome = run(&settings, OperationKind::Scan, "2024-03-21T00:00:00Z");
    assert_eq!(states(&outcome)["kernel"], "Missing");
}

#[test]
fn rejected_with_allow_as_dependency_and_with_block() {
    // bar 1.1 needs foo >= 1.1; every foo is rejected.
    for (action, bar_updated) in [("ALLOW_AS_DEPENDENCY", true), ("BLOCK", false)] {
        let host = Host::new();
        let text = format!(
            r#"version = "1"
name = "rejecting"
operating_system = "AMAZON_LINUX_2023"
rejected_patches_action = "{action}"
[[rules]]
classification = ["Security", "Bugfix"]
approve_after_days = 0
[[rejected_patches]]
id = "foo"
"#
        );
        let settings = host.settings(&text);
        let outcome = run(&settings, OperationKind::Install, "2024-05-01T00:00:00Z");
        let installed = host.installed();
        assert_eq!(
            installed["bar"] == "1.1-1",
            bar_updated,
            "{action}: {installed:?} {:#?}",
            outcome.report
        );
        if !bar_updated {
            let bar = outcome
                .evaluation
                .items
                .iter()
                .find(|i| i.name == "bar")
                .unwrap();
            assert_eq!(bar.state.to_string(), "Failed", "{bar:#?}");
            assert!(bar.reason.to_string().contains("foo"), "{}", bar.reason);
            assert_eq!(installed["foo"], "1.0-1");
            let foo = outcome
                .evaluation
                .items
                .iter()
                .find(|i| i.name == "foo")
                .unwrap();
            assert_eq!(foo.state.to_string(), "InstalledRejected");
        }
    }
}

#[test]
fn broken_package_is_failed_and_the_rest_installs() {
    let host = Host::new();
    let text = r#"version = "1"
name = "moderate-too"
operating_system = "AMAZON_LINUX_2023"
[[rules]]
classification = ["Security"]
approve_after_days = 0
"#;
    let outcome = run(
        &host.settings(text),
        OperationKind::Install,
        "2024-05-01T00:00:00Z",
    );
    let s = states(&outcome);
    assert_eq!(s["broken"], "Failed", "{:#?}", outcome.report);
    assert_eq!(s["foo"], "Installed");
    assert_eq!(host.installed()["broken"], "1.0-1");
    assert!(
        matches!(
            outcome.exit,
            AgentExit::InstallFailures | AgentExit::RebootRequestedWithFailures
        ),
        "{:?}",
        outcome.exit
    );
}

#[test]
fn no_reboot_leaves_pending_until_the_host_boots() {
    let host = Host::new();
    let mut settings = host.settings(&days_baseline("stg", 0));
    settings.reboot_option = RebootOption::NoReboot;
    let outcome = run(&settings, OperationKind::Install, "2024-05-01T00:00:00Z");
    assert_eq!(
        states(&outcome)["foo"],
        "InstalledPendingReboot",
        "{:#?}",
        outcome.report
    );
    assert_eq!(outcome.evaluation.summary.status.as_str(), "NON_COMPLIANT");
    assert!(fs_err::metadata(host.marker()).is_err());
    // A scan before any reboot still says pending.
    let scan = run(&settings, OperationKind::Scan, "2024-05-01T01:00:00Z");
    assert_eq!(states(&scan)["foo"], "InstalledPendingReboot");
    // After a boot, compliant.
    host.boot_at("2024-05-01T02:00:00Z");
    let scan = run(&settings, OperationKind::Scan, "2024-05-01T03:00:00Z");
    assert_eq!(states(&scan)["foo"], "Installed");
    assert_eq!(
        scan.evaluation.summary.status.as_str(),
        "COMPLIANT",
        "{:#?}",
        scan.evaluation.items
    );
}

#[test]
fn reboot_if_needed_reboots_only_when_required() {
    // Only foo (no reboot needed): installed, no reboot.
    let host = Host::new();
    let text = r#"version = "1"
name = "foo-only"
operating_system = "AMAZON_LINUX_2023"
[[approved_patches]]
id = "foo-1.1-1*"
"#;
    let outcome = run(
        &host.settings(text),
        OperationKind::Install,
        "2024-05-01T00:00:00Z",
    );
    assert_eq!(host.installed()["foo"], "1.1-1");
    assert!(
        fs_err::metadata(host.marker()).is_err(),
        "{:#?}",
        outcome.report
    );
    assert_eq!(outcome.exit, AgentExit::Success);
    assert_eq!(states(&outcome)["foo"], "Installed");
    // The kernel needs one.
    let text = text.replace("foo-1.1-1*", "kernel-5.1-1*");
    let outcome = run(
        &host.settings(&text),
        OperationKind::Install,
        "2024-05-01T00:00:00Z",
    );
    assert!(fs_err::metadata(host.marker()).is_ok());
    assert_eq!(outcome.exit, AgentExit::RebootRequested);
    let reasons = &outcome.report.reboot.as_ref().unwrap().reasons;
    assert!(reasons.iter().any(|r| r.contains("kernel")), "{reasons:?}");
    assert_eq!(host.installed()["kernel"], "5.0-1,5.1-1");
}

#[test]
fn reboot_if_needed_reboots_for_earlier_no_reboot_installs() {
    let host = Host::new();
    let text = r#"version = "1"
name = "glibc-only"
operating_system = "AMAZON_LINUX_2023"
[[approved_patches]]
id = "glibc"
"#;
    let mut settings = host.settings(text);
    settings.reboot_option = RebootOption::NoReboot;
    run(&settings, OperationKind::Install, "2024-05-01T00:00:00Z");
    assert!(fs_err::metadata(host.marker()).is_err());
    settings.reboot_option = RebootOption::RebootIfNeeded;
    let outcome = run(&settings, OperationKind::Install, "2024-05-02T00:00:00Z");
    assert!(
        fs_err::metadata(host.marker()).is_ok(),
        "{:#?}",
        outcome.report
    );
}

#[test]
fn failing_pre_install_hook_stops_the_install() {
    let host = Host::new();
    let mut settings = host.settings(&days_baseline("hooked", 0));
    let on_exit = host.dir.path().join("on-exit");
    settings.hooks = Hooks {
        pre_install: Some(ShellCommand {
            command: "exit 3".to_owned(),
            timeout: Duration::from_secs(10),
        }),
        post_install: None,
        on_exit: Some(ShellCommand {
            command: format!("touch {}", on_exit.display()),
            timeout: Duration::from_secs(10),
        }),
    };
    let outcome = run(&settings, OperationKind::Install, "2024-05-01T00:00:00Z");
    assert_eq!(outcome.exit, AgentExit::PreInstallHookFailed);
    assert_eq!(host.installed()["foo"], "1.0-1");
    assert!(fs_err::metadata(&on_exit).is_ok());
}

#[test]
fn failing_post_install_hook_is_reported_with_what_was_installed() {
    let host = Host::new();
    let mut settings = host.settings(&days_baseline("hooked", 0));
    settings.reboot_option = RebootOption::NoReboot;
    settings.hooks = Hooks {
        pre_install: None,
        post_install: Some(ShellCommand {
            command: "exit 4".to_owned(),
            timeout: Duration::from_secs(10),
        }),
        on_exit: None,
    };
    let outcome = run(&settings, OperationKind::Install, "2024-05-01T00:00:00Z");
    assert_eq!(outcome.exit, AgentExit::InstallFailures);
    let install = outcome.report.install.as_ref().unwrap();
    let failure = install.post_install_hook_failure.as_ref().unwrap();
    assert_eq!(failure.command, "exit 4");
    assert_eq!(failure.exit_code, Some(4));
    assert_eq!(failure.termination, "exit code 4");
    // The install itself went through: what it put on the host is listed.
    let foo = format!("foo-{}.", host.installed()["foo"]);
    assert_ne!(foo, "foo-1.0-1.");
    assert!(
        install.installed.iter().any(|key| key.starts_with(&foo)),
        "{:#?}",
        install.installed
    );
    // It travels in the report JSON the server stores.
    let json = serde_json::to_value(&outcome.report).unwrap();
    assert_eq!(json["install"]["post_install_hook_failure"]["exit_code"], 4);
}

#[test]
fn install_override_list_installs_what_it_lists() {
    let host = Host::new();
    let mut settings = host.settings(&days_baseline("override", 0));
    settings.install_override = Some((
        "inline".to_owned(),
        OverrideList::parse("patches:\n  - id: 'withepoch.*'\n").unwrap(),
    ));
    let outcome = run(&settings, OperationKind::Install, "2024-05-01T00:00:00Z");
    let installed = host.installed();
    assert_eq!(installed["withepoch"], "1:1.1-1", "{:#?}", outcome.report);
    assert_eq!(installed["foo"], "1.0-1");
    // Baseline items not on the list stay Missing (not Failed).
    assert_eq!(states(&outcome)["foo"], "Missing");
}

#[test]
fn second_scan_uses_the_catalog_cache_and_a_new_repomd_invalidates_it() {
    let standard = pw_test_support::standard().unwrap();
    let host = Host::new();
    // The fixture repository without glibc's update, at a path we can rebuild.
    let repo_dir = host.dir.path().join("repo");
    let without_update = pw_test_support::RepoBuilder::new().rpms(
        standard
            .rpms
            .iter()
            .filter(|rpm| !(rpm.nevra.name == "glibc" && rpm.nevra.evr.release == "2")),
    );
    let without_update = standard
        .advisories
        .iter()
        .fold(without_update, |builder, advisory| {
            builder.advisory(advisory.clone())
        })
        .build(&repo_dir)
        .unwrap();
    host.root.add_repo("fixture", &without_update).unwrap();
    let mut settings = host.settings(DEFAULT_AL2023);
    let catalog = settings.state_dir.join("catalog");
    // A cache file of a repository that is no longer configured.
    fs_err::create_dir_all(&catalog).unwrap();
    fs_err::write(catalog.join("gone.bin"), b"stale").unwrap();

    let first = run(&settings, OperationKind::Scan, "2024-05-01T00:00:00Z");
    assert_ne!(states(&first)["glibc"], "Missing");
    assert_eq!(states(&first)["foo"], "Missing");
    let cache_file = catalog.join("fixture.bin");
    let written = fs_err::read(&cache_file).unwrap();
    assert!(fs_err::metadata(catalog.join("gone.bin")).is_err());

    // Ruin primary and updateinfo in dnf's cache, repomd.xml unchanged: only the catalog
    // cache can answer now.
    let repositories = pw_pkgmgr::repo_cache::cached_repositories(&host.root.settings()).unwrap();
    let dnf_cache = repositories[0].cache.as_ref().unwrap();
    let mut ruined = 0;
    for entry in fs_err::read_dir(dnf_cache.dir.join("repodata")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains("primary") || name.contains("updateinfo") {
            fs_err::write(&path, b"not metadata").unwrap();
            ruined += 1;
        }
    }
    assert_eq!(ruined, 2);
    settings.refresh = false;
    let second = run(&settings, OperationKind::Scan, "2024-05-01T00:00:00Z");
    assert_eq!(
        states(&second),
        states(&first),
        "{:#?}",
        second.report.notes
    );
    assert_eq!(second.report.notes, first.report.notes);
    assert_eq!(fs_err::read(&cache_file).unwrap(), written);

    // The repository gets glibc's update: a new repomd.xml, so the cache is stale.
    fs_err::remove_dir_all(&repo_dir).unwrap();
    let with_update = standard
        .advisories
        .iter()
        .fold(
            pw_test_support::RepoBuilder::new().rpms(&standard.rpms),
            |builder, advisory| builder.advisory(advisory.clone()),
        )
        .build(&repo_dir)
        .unwrap();
    assert_eq!(with_update.url(), without_update.url());
    pw_pkgmgr::repo_cache::refresh(&host.root.settings(), true).unwrap();
    let third = run(&settings, OperationKind::Scan, "2024-05-01T00:00:00Z");
    assert_eq!(states(&third)["glibc"], "Missing");
    assert_ne!(fs_err::read(&cache_file).unwrap(), written);
}

/// Issue 15: a corrupted state file is detected, kept aside, and the agent recovers by
/// re-reading the host: the next install works and reports what happened, once.
#[test]
fn a_corrupt_state_file_is_kept_aside_and_the_agent_recovers_by_rescanning() {
    let host = Host::new();
    let settings = host.settings(DEFAULT_AL2023);
    fs_err::create_dir_all(&settings.state_dir).unwrap();
    fs_err::write(
        settings.state_dir.join("state.json"),
        b"{\"version\": 1, \"pend",
    )
    .unwrap();
    let install = run(&settings, OperationKind::Install, "2024-05-01T00:00:00Z");
    assert!(
        install
            .report
            .notes
            .iter()
            .any(|n| n.contains("was not valid") && n.contains("state.json.corrupt")),
        "{:#?}",
        install.report.notes
    );
    assert_eq!(
        host.installed()["foo"],
        "1.1-1",
        "{:#?}",
        install.report.notes
    );
    assert_eq!(
        fs_err::read(settings.state_dir.join("state.json.corrupt")).unwrap(),
        b"{\"version\": 1, \"pend"
    );
    // The new state is valid and keeps what the install left waiting for the reboot (the host
    // has not booted since); the note is not repeated.
    let scan = run(&settings, OperationKind::Scan, "2024-05-02T00:00:00Z");
    assert!(
        !scan
            .report
            .notes
            .iter()
            .any(|n| n.contains("was not valid")),
        "{:#?}",
        scan.report.notes
    );
    check_states(
        &scan,
        &[
            ("foo", "InstalledPendingReboot"),
            ("bar", "InstalledPendingReboot"),
            ("kernel", "InstalledPendingReboot"),
            ("glibc", "InstalledPendingReboot"),
            ("broken", "InstalledOther"),
            ("withepoch", "InstalledOther"),
        ],
    );
}

/// A small tmpfs mounted on a directory for the test's lifetime (the agent's state directory
/// on a disk that fills up).
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> SmallDisk {
        fs_err::create_dir_all(path).unwrap();
        #[expect(
            clippy::disallowed_methods,
            reason = "the test mounts a real small filesystem"
        )]
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "mounting a tmpfs needs root (CI runs as root): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        SmallDisk {
            path: path.to_owned(),
        }
    }

    /// Fills the filesystem to the last byte; returns the filler's path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write as _;
        let filler = self.path.join("filler");
        let mut file = fs_err::File::create(&filler).unwrap();
        let block = vec![0_u8; 4096];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::StorageFull => break,
                Err(error) => panic!("filling the disk: {error}"),
            }
        }
        // Whatever is left is smaller than a block: take it too.
        while file.write(&[0]).is_ok_and(|n| n == 1) {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        #[expect(
            clippy::disallowed_methods,
            reason = "the test mounts a real small filesystem"
        )]
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Issue 15: the state directory on a full disk. The install is refused before the package
/// manager runs, with an error that names the file and the cause; the state file keeps its
/// last good content; once there is room again the same install runs.
#[test]
fn a_full_state_disk_refuses_the_install_and_keeps_the_state_intact() {
    let host = Host::new();
    let settings = host.settings(DEFAULT_AL2023);
    let disk = SmallDisk::mount(&settings.state_dir, "512k");
    let scan = run(&settings, OperationKind::Scan, "2024-05-01T00:00:00Z");
    assert!(!scan.evaluation.items.is_empty());
    let state_file = settings.state_dir.join("state.json");
    let before = fs_err::read(&state_file).unwrap();
    serde_json::from_slice::<serde_json::Value>(&before).expect("a valid state file");

    let filler = disk.fill();
    let refused = pw_agent::run(&settings, OperationKind::Install, &|| {
        "2024-05-01T00:00:00Z".parse().unwrap()
    })
    .map(|_| ())
    .unwrap_err();
    let mut message = refused.to_string();
    let mut source = std::error::Error::source(&refused);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    assert!(
        message.contains("No space left on device"),
        "the cause is named: {message}"
    );
    assert!(
        message.contains(&settings.state_dir.display().to_string()),
        "the file is named: {message}"
    );
    assert_eq!(host.installed()["foo"], "1.0-1", "nothing was installed");
    assert_eq!(
        fs_err::read(&state_file).unwrap(),
        before,
        "the state file is intact"
    );

    fs_err::remove_file(&filler).unwrap();
    let install = run(&settings, OperationKind::Install, "2024-05-01T00:00:00Z");
    assert_eq!(
        host.installed()["foo"],
        "1.1-1",
        "{:#?}",
        install.report.notes
    );
    drop(disk);
}
