//! `patchwarden agent` through the real binary on a real installroot: exit codes, reports,
//! and an install killed in the middle.

use pw_agent::state::StateStore;
use pw_test_support::InstallRoot;

use crate::patchwarden;

const BASELINE: &str = r#"version = "1"
name = "cli-test"
operating_system = "AMAZON_LINUX_2023"
[[rules]]
classification = ["Security", "Bugfix"]
severity = ["*"]
approve_after_days = 0
"#;

struct Host {
    root: InstallRoot,
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let root = pw_test_support::standard().unwrap().old_root().unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("proc")).unwrap();
        // Booted 2024-01-01.
        fs_err::write(dir.path().join("proc/stat"), "btime 1704067200\n").unwrap();
        fs_err::write(dir.path().join("baseline.toml"), BASELINE).unwrap();
        Host { root, dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn run(&self, operation: &str, at: &str, extra: &[&str]) -> std::process::Output {
        let root = self.root.path().display().to_string();
        let (baseline, state, proc_dir, marker) = (
            self.path("baseline.toml"),
            self.path("state"),
            self.path("proc"),
            self.path("rebooted"),
        );
        let reboot = format!("touch {marker}");
        let mut args = vec![
            "agent",
            operation,
            "--baseline",
            &baseline,
            "--root",
            &root,
            "--state-dir",
            &state,
            "--proc-dir",
            &proc_dir,
            "--os",
            "AMAZON_LINUX_2023",
            "--product",
            "AmazonLinux2023",
            "--package-manager",
            "dnf",
            "--releasever",
            "1",
            "--at",
            at,
            "--reboot-command",
            &reboot,
        ];
        args.extend_from_slice(extra);
        patchwarden(&args, None)
    }

    fn installed(&self, name: &str) -> Vec<String> {
        pw_pkgmgr::rpm::installed_packages(&self.root.settings())
            .unwrap()
            .into_iter()
            .filter(|p| p.nevra.name == name)
            .map(|p| p.nevra.evr.to_string())
            .collect()
    }
}

#[test]
fn scan_prints_json_and_writes_the_report() {
    let host = Host::new();
    let report = host.path("report.json");
    let output = host.run(
        "scan",
        "2024-05-01T00:00:00Z",
        &["--json", "--report", &report],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let file: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(stdout, file);
    assert_eq!(stdout["operation"], "Scan");
    assert_eq!(stdout["summary"]["status"], "NON_COMPLIANT");
    let foo = stdout["patches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "foo")
        .unwrap();
    assert_eq!(foo["state"], "Missing");
    assert_eq!(foo["cves"], serde_json::json!(["CVE-2024-1001"]));
}

#[test]
fn install_exit_code_says_reboot_with_failures() {
    let host = Host::new();
    let output = host.run("install", "2024-05-01T00:00:00Z", &[]);
    // kernel needs a reboot; broken fails.
    assert_eq!(
        output.status.code(),
        Some(31),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(fs_err::metadata(host.path("rebooted")).is_ok());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Failed") && stdout.contains("broken.noarch"),
        "{stdout}"
    );
}

#[test]
fn killed_install_is_recognised_and_nothing_installs_twice() {
    let host = Host::new();
    // The post-install hook kills the agent: the packages are in, the state still says
    // "installing".
    let output = host.run(
        "install",
        "2024-05-01T00:00:00Z",
        &["--post-install-hook", "kill -9 $PPID"],
    );
    assert_eq!(output.status.code(), None, "killed by a signal");
    let state = StateStore::new(host.path("state")).load().unwrap();
    assert!(state.in_progress.is_some(), "{state:#?}");
    assert_eq!(host.installed("foo"), ["1.1-1"]);
    // The next scan explains, keeps the kernel pending a reboot, and clears the record.
    let output = host.run("scan", "2024-05-01T01:00:00Z", &["--json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let notes = report["notes"].to_string();
    assert!(notes.contains("interrupted"), "{notes}");
    let state_of = |name: &str| {
        report["patches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state_of("foo"), "Installed");
    assert_eq!(state_of("kernel"), "InstalledPendingReboot");
    assert!(
        StateStore::new(host.path("state"))
            .load()
            .unwrap()
            .in_progress
            .is_none()
    );
    // Installing again asks only for what is still missing (the broken package).
    let output = host.run("install", "2024-05-01T02:00:00Z", &["--json"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let requested = report["install"]["requested"].as_array().unwrap();
    assert!(
        requested
            .iter()
            .all(|r| r.as_str().unwrap().starts_with("broken")),
        "{requested:?}"
    );
}

/// `agent run --once` enrolls on first start with `--server` and `--activation-code`, runs
/// the scan the server queued, and reports; a second start uses the stored credential.
#[test]
fn agent_run_enrolls_on_first_start_and_runs_queued_commands() {
    use pw_api::server::agent::{CommandState, CreateNodeCommand};
    use pw_api::server::tokens::CreateActivation;
    use pw_api::server::windows::{RebootOption, TaskOperation};

    let server = crate::admin::start_server();
    let admin = pw_client::Client::new(
        pw_client::ClientSettings::new(&server.url).with_secret(server.admin.clone()),
    )
    .unwrap();
    let code = admin
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: None,
            max_uses: Some(1),
            description: None,
            tags: Vec::new(),
        })
        .unwrap()
        .code;
    let host = Host::new();
    let root = host.root.path().display().to_string();
    let state = host.path("state");
    let proc_dir = host.path("proc");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "agent",
            "run",
            "--once",
            "--poll-wait",
            "2",
            "--root",
            &root,
            "--state-dir",
            &state,
            "--proc-dir",
            &proc_dir,
            "--os",
            "AMAZON_LINUX_2023",
            "--product",
            "AmazonLinux2023",
            "--package-manager",
            "dnf",
            "--releasever",
            "1",
        ];
        args.extend_from_slice(extra);
        patchwarden(&args, None)
    };
    // Not enrolled and no code: EX_CONFIG (the unit does not restart it), saying what to do.
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--activation-code"));
    let output = run(&[
        "--server",
        &server.url,
        "--activation-code",
        &code,
        "--tag",
        "Patch Group=STG",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let node = admin.nodes(&[]).unwrap().into_iter().next().unwrap();
    let command = admin
        .create_node_command(
            &node.id,
            &CreateNodeCommand {
                operation: TaskOperation::Scan,
                baseline_id: None,
                reboot_option: RebootOption::RebootIfNeeded,
                install_override_list: Vec::new(),
            },
        )
        .unwrap();
    let output = run(&[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(&command.id));
    let commands = admin.node_commands(&node.id).unwrap();
    assert_eq!(commands[0].state, CommandState::Succeeded, "{commands:#?}");
    assert!(admin.node_compliance(&node.id, &[]).is_ok());
}

/// A host without its package manager (an Amazon Linux 2 root where `yum` is not installed)
/// hears which program is missing and what to do, not that metadata is missing.
#[test]
fn a_missing_package_manager_is_named() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args([
            "agent",
            "scan",
            "--no-config",
            "--default-baseline",
            "--root",
        ])
        .arg(root.path())
        .arg("--state-dir")
        .arg(state.path())
        .args(["--os", "AMAZON_LINUX_2", "--product", "AmazonLinux2"])
        .args(["--package-manager", "yum", "--releasever", "2"])
        .env("PATH", empty_path.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`yum` is not installed"), "{stderr}");
    assert!(stderr.contains("--package-manager dnf"), "{stderr}");
}

/// `agent compare` on a real dnf root: the agent and dnf agree, exit 0; a baseline is not
/// needed (the equivalent one is built in) and nothing on the host changes.
#[test]
fn agent_compare_agrees_with_dnf_and_changes_nothing() {
    let host = Host::new();
    let before = host.installed("foo");
    let root = host.root.path().display().to_string();
    let state = host.path("state");
    let output = patchwarden(
        &[
            "agent",
            "compare",
            "--no-config",
            "--root",
            &root,
            "--state-dir",
            &state,
            "--os",
            "AMAZON_LINUX_2023",
            "--product",
            "AmazonLinux2023",
            "--package-manager",
            "dnf",
            "--releasever",
            "1",
            "--at",
            "2024-05-01T00:00:00Z",
            "--json",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stderr}\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        value["differences"].as_array().unwrap().is_empty(),
        "{value:#}"
    );
    assert!(!value["agreed"].as_array().unwrap().is_empty(), "{value:#}");
    assert_eq!(host.installed("foo"), before);
}
