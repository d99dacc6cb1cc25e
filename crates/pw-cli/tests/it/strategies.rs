//! The four patch strategies of `examples/strategy-1` to `examples/strategy-4`, walked end to
//! end as an operator runs them: the real server (its clock set by the test, so the windows
//! open and the approval delays run out at chosen instants), the example files applied with
//! `patchwarden apply`, real agents on real Amazon Linux 2-shaped installroots answering the
//! window executions with real dnf installs, `patchwarden promote` between STG and PRD, and
//! compliance read back from the server.
//!
//! The packages are those of `pw_test_support::strategies`: bash (bugfix, 2025-02-10),
//! openssl (security Important, 2025-03-03), curl (security Critical, 2025-03-04, its
//! install fails), sudo (security Moderate, CVE-2021-3156, 2025-03-05), tzdata (no advisory).
//! A last test walks staging ahead of production on Debian roots (dpkg, apt-get).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pw_agent::AgentSettings;
use pw_agent::daemon;
use pw_api::server::agent::NodeFacts;
use pw_api::server::tokens::{CreateActivation, Tag};
use pw_api::server::windows::{Execution, ExecutionStatus};
use pw_client::{Client, ClientSettings};
use pw_core::baseline::OperatingSystem;
use pw_pkgmgr::PackageManager;
use pw_pkgmgr::hooks::ShellCommand;
use pw_server::{AppState, Clock, ManualClock, ServerSettings};
use pw_test_support::InstallRoot;
use pw_test_support::al2023::RELEASES;
use pw_test_support::strategies::OLD;

use crate::admin::{check, run, stdout};

/// The server with a clock the test sets, and the agents of the fleet.
struct Lab {
    runtime: tokio::runtime::Runtime,
    clock: Arc<ManualClock>,
    state: AppState,
    url: String,
    admin: String,
    dir: tempfile::TempDir,
    nodes: Vec<Node>,
    /// An admin access key of the SSM-compatible API: (id, secret).
    access_key: (String, String),
}

/// One enrolled node on its own root.
struct Node {
    id: String,
    hostname: String,
    root: NodeRoot,
    state_dir: tempfile::TempDir,
    client: Client,
    facts: NodeFacts,
    /// The node's `[health_commands]`: name → command line.
    health_commands: BTreeMap<String, String>,
    /// Packages whose update needs a reboot on this node, beyond the built-in list.
    reboot_packages: Vec<String>,
}

/// A node's root: an Amazon Linux 2-shaped rpm installroot, or a Debian 12 root (dpkg, apt).
enum NodeRoot {
    Rpm(InstallRoot),
    /// An Amazon Linux 2023-shaped installroot on versioned repositories
    /// (`pw_test_support::al2023`): dnf reads its own release lock.
    Al2023(InstallRoot),
    Deb {
        root: pw_pkgmgr::Root,
        _dir: tempfile::TempDir,
    },
}

impl NodeRoot {
    fn os(&self) -> OperatingSystem {
        match self {
            NodeRoot::Rpm(_) => OperatingSystem::AmazonLinux2,
            NodeRoot::Al2023(_) => OperatingSystem::AmazonLinux2023,
            NodeRoot::Deb { .. } => OperatingSystem::Debian,
        }
    }

    fn product(&self) -> &'static str {
        match self {
            NodeRoot::Rpm(_) => "AmazonLinux2",
            NodeRoot::Al2023(_) => "AmazonLinux2023",
            NodeRoot::Deb { .. } => "Debian12",
        }
    }
}

fn is_final(status: ExecutionStatus) -> bool {
    matches!(
        status,
        ExecutionStatus::Success
            | ExecutionStatus::Failed
            | ExecutionStatus::TimedOut
            | ExecutionStatus::Cancelled
            | ExecutionStatus::SkippedOverlapping
    )
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

impl Lab {
    fn new(start: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let clock = Arc::new(ManualClock::new(at(start)));
        let db = dir.path().join("server.db");
        let server_key = vec![7u8; 32];
        let (state, url, admin, access_key) = runtime.block_on(async {
            let store = pw_store::Store::connect(&pw_store::StoreSettings::sqlite(&db))
                .await
                .unwrap();
            let admin = pw_server::create_token(
                &store,
                pw_api::server::tokens::Role::Admin,
                None,
                Timestamp::now(),
            )
            .await
            .unwrap()
            .token;
            let key = pw_server::create_access_key(
                &store,
                &server_key,
                pw_api::server::tokens::Role::Admin,
                None,
                Timestamp::now(),
            )
            .await
            .unwrap();
            let settings = ServerSettings {
                access_key_secret: Some(Arc::new(server_key.clone())),
                ..ServerSettings::default()
            };
            let state = AppState::new(store, clock.clone(), settings);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
            let serving = state.clone();
            tokio::spawn(async move {
                pw_server::serve(serving, listener, None, std::future::pending::<()>())
                    .await
                    .unwrap();
            });
            (state, url, admin, (key.id, key.secret))
        });
        Lab {
            runtime,
            clock,
            state,
            url,
            admin,
            dir,
            nodes: Vec::new(),
            access_key,
        }
    }

    fn client(&self) -> Client {
        Client::new(ClientSettings::new(&self.url).with_secret(&self.admin)).unwrap()
    }

    /// Runs `patchwarden ARGS --server URL --token ADMIN`; requires exit code 0.
    fn cli(&self, args: &[&str]) -> String {
        let mut all = args.to_vec();
        all.extend(["--server", &self.url, "--token", &self.admin]);
        let output = run(self.dir.path(), &all, &[]);
        check(&output, 0);
        stdout(&output)
    }

    /// `patchwarden apply -f DIR`.
    fn apply(&self, dir: &Path) {
        let applied = self.cli(&["apply", "-f", dir.to_str().unwrap()]);
        assert!(applied.contains("change(s) applied"), "{applied}");
    }

    /// Enrolls a node tagged `Patch Group=GROUP` on a fresh installroot of the fixture.
    fn enroll(&mut self, hostname: &str, group: &str) {
        let fixture = pw_test_support::strategies().unwrap();
        self.enroll_root(hostname, group, NodeRoot::Rpm(fixture.old_root().unwrap()));
    }

    /// Enrolls a node tagged `Patch Group=GROUP` on `root`.
    fn enroll_root(&mut self, hostname: &str, group: &str, root: NodeRoot) {
        let state_dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(state_dir.path().join("proc")).unwrap();
        fs_err::write(state_dir.path().join("proc/stat"), "btime 1735689600\n").unwrap();
        let code = self
            .client()
            .create_activation(&CreateActivation {
                allow_node_tags: true,
                expires_in_hours: None,
                max_uses: Some(1),
                description: None,
                tags: Vec::new(),
            })
            .unwrap()
            .code;
        let facts = NodeFacts {
            hostname: hostname.to_owned(),
            operating_system: root.os().as_str().to_owned(),
            product: root.product().to_owned(),
            agent_version: "test".to_owned(),
            arch: Some("x86_64".to_owned()),
            machine_id: None,
        };
        let tags = vec![Tag {
            key: "Patch Group".to_owned(),
            value: group.to_owned(),
        }];
        let credential = daemon::enroll(
            &self.url,
            &code,
            facts.clone(),
            tags,
            state_dir.path(),
            Timestamp::now(),
        )
        .unwrap();
        let (client, _) = daemon::client(state_dir.path()).unwrap();
        self.nodes.push(Node {
            id: credential.node_id,
            hostname: hostname.to_owned(),
            root,
            state_dir,
            client,
            facts,
            health_commands: BTreeMap::new(),
            reboot_packages: Vec::new(),
        });
    }

    /// Makes an update of `package` need a reboot on a node.
    fn reboot_package(&mut self, hostname: &str, package: &str) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.hostname == hostname)
            .unwrap();
        node.reboot_packages.push(package.to_owned());
    }

    /// Gives a node a named health command (its agent configuration's `[health_commands]`).
    fn health_command(&mut self, hostname: &str, name: &str, command: &str) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.hostname == hostname)
            .unwrap();
        node.health_commands
            .insert(name.to_owned(), command.to_owned());
    }

    /// Enrolls an AL2023 node on release `release` of the AL2023 fixture.
    fn enroll_al2023(&mut self, hostname: &str, group: &str, release: &str) {
        let root = pw_test_support::al2023().unwrap().host(release).unwrap();
        self.enroll_root(hostname, group, NodeRoot::Al2023(root));
    }

    /// `patchwarden release import` of the AL2023 fixture's release list.
    fn import_releases(&self) {
        let list = pw_test_support::al2023().unwrap().releasemd();
        let imported = self.cli(&["release", "import", list.to_str().unwrap()]);
        assert!(imported.contains("3 releases read"), "{imported}");
    }

    fn node(&self, hostname: &str) -> &Node {
        self.nodes.iter().find(|n| n.hostname == hostname).unwrap()
    }

    /// The scheduler and the runner, once each, one second later.
    fn tick(&self) {
        self.clock.advance(SignedDuration::from_secs(1));
        self.runtime.block_on(async {
            self.state.scheduler_tick().await.unwrap();
            self.state.runner_tick().await.unwrap();
        });
    }

    /// Sets the server clock to `instant`, lets the windows due then open, and has every
    /// agent answer its commands until every execution opened at `instant` has ended.
    /// Returns those executions.
    fn windows_at(&self, instant: &str) -> Vec<Execution> {
        let instant = at(instant);
        self.clock.set(instant);
        self.tick();
        for _ in 0..12 {
            let mut ran = 0;
            for node in &self.nodes {
                ran += node.poll();
                self.tick();
            }
            let executions: Vec<Execution> = self
                .client()
                .executions(None)
                .unwrap()
                .into_iter()
                .filter(|e| e.scheduled_at == instant)
                .collect();
            if ran == 0 && executions.iter().all(|e| is_final(e.status)) {
                assert!(!executions.is_empty(), "no window opened at {instant}");
                return executions;
            }
        }
        panic!("the executions opened at {instant} did not end");
    }

    /// The execution of the window named `window` among `executions`.
    #[track_caller]
    fn execution_of<'a>(&self, executions: &'a [Execution], window: &str) -> &'a Execution {
        let id = self
            .client()
            .windows()
            .unwrap()
            .into_iter()
            .find(|w| w.spec.name == window)
            .unwrap()
            .id;
        executions
            .iter()
            .find(|e| e.window_id == id)
            .unwrap_or_else(|| panic!("no execution of {window}: {executions:#?}"))
    }

    /// The state of every patch of the node's latest report, by package name.
    fn states(&self, hostname: &str) -> BTreeMap<String, String> {
        self.client()
            .node_compliance(&self.node(hostname).id, &[])
            .unwrap()
            .items
            .into_iter()
            .map(|item| (item.name, item.state))
            .collect()
    }

    fn status(&self, hostname: &str) -> String {
        self.client()
            .node_compliance(&self.node(hostname).id, &[])
            .unwrap()
            .summary
            .status
    }

    /// The entries of a baseline's approved or rejected list, by baseline name.
    fn baseline(&self, name: &str) -> pw_core::baseline::Baseline {
        let client = self.client();
        let summary = client
            .baselines()
            .unwrap()
            .into_iter()
            .find(|b| b.name == name)
            .unwrap();
        pw_api::baseline::parse_toml(&client.baseline(&summary.id).unwrap().toml)
            .unwrap()
            .baseline
    }
}

impl Node {
    /// One poll: runs the commands waiting for this node; returns how many.
    fn poll(&self) -> usize {
        let os = self.root.os();
        let mut settings = AgentSettings::new(pw_core::baseline::default_baseline(os));
        settings.state_dir = self.state_dir.path().to_path_buf();
        settings.proc_dir = self.state_dir.path().join("proc");
        settings.operating_system = Some(os);
        settings.product = Some(self.root.product().to_owned());
        match &self.root {
            NodeRoot::Rpm(root) => {
                settings.root = root.root();
                settings.package_manager = Some(PackageManager::Dnf);
                settings.releasever = Some("2".to_owned());
            }
            NodeRoot::Al2023(root) => {
                settings.root = root.root();
                settings.package_manager = Some(PackageManager::Dnf);
            }
            NodeRoot::Deb { root, .. } => settings.root = root.clone(),
        }
        settings.reboot_command = ShellCommand {
            command: format!("touch {}", self.state_dir.path().join("rebooted").display()),
            timeout: Duration::from_secs(10),
        };
        settings.health.commands.clone_from(&self.health_commands);
        settings.reboot_packages.clone_from(&self.reboot_packages);
        daemon::poll_once(
            &self.client,
            &self.facts,
            &settings,
            Duration::from_secs(0),
            &Timestamp::now,
        )
        .unwrap()
        .ran
        .len()
    }

    /// Installed `version-release` (Debian: the version) of every package of the root.
    fn versions(&self) -> BTreeMap<String, String> {
        match &self.root {
            NodeRoot::Rpm(root) | NodeRoot::Al2023(root) => {
                pw_pkgmgr::rpm::installed_packages(&root.settings())
                    .unwrap()
                    .into_iter()
                    .map(|p| {
                        let evr = p.nevra.evr;
                        (p.nevra.name, format!("{}-{}", evr.version, evr.release))
                    })
                    .collect()
            }
            NodeRoot::Deb { root, .. } => pw_pkgmgr::dpkg::read_inventory(root)
                .unwrap()
                .packages
                .into_iter()
                .map(|p| (p.name, p.version.to_string()))
                .collect(),
        }
    }
}

/// `examples/al2023/strategy-N`: the strategy on AL2 and AL2023 nodes of one fleet.
fn example_al2023(n: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/al2023/strategy-{n}"))
}

fn example(n: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/strategy-{n}"))
}

/// Asserts the installed versions of `(package, version-release)` pairs on a node.
#[track_caller]
fn assert_versions(lab: &Lab, hostname: &str, expected: &[(&str, &str)]) {
    let versions = lab.node(hostname).versions();
    for (name, version) in expected {
        assert_eq!(
            versions.get(*name).map(String::as_str),
            Some(*version),
            "{hostname}: {name} (all: {versions:?})"
        );
    }
}

/// `OLD` with some packages at other versions.
fn old_but(changed: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    OLD.iter()
        .map(|&(name, version)| {
            changed
                .iter()
                .find(|(n, _)| *n == name)
                .copied()
                .unwrap_or((name, version))
        })
        .collect()
}

/// Strategy 1: the near-default baseline, every 12 hours from 12:00; Security
/// Critical/Important and Bugfix 7 days after release; no exceptions.
#[test]
fn strategy_1_near_default() {
    let mut lab = Lab::new("2025-03-08T00:00:00Z");
    lab.apply(&example(1));
    lab.enroll("al2-1", "AL2");

    // 2025-03-08 12:00: bash (bugfix, 26 days old) is due; openssl (5 days) is not yet.
    let executions = lab.windows_at("2025-03-08T12:00:00Z");
    assert_eq!(executions[0].status, ExecutionStatus::Success);
    assert_versions(&lab, "al2-1", &old_but(&[("bash", "4.2.46-2.amzn2")]));
    assert_eq!(lab.status("al2-1"), "COMPLIANT");

    // 2025-03-12 00:00: openssl (9 days) and curl (8 days, Critical) are due; curl's install
    // fails on the node, which the report and the execution show.
    let executions = lab.windows_at("2025-03-12T00:00:00Z");
    assert_eq!(executions[0].status, ExecutionStatus::Failed);
    assert_versions(
        &lab,
        "al2-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    let states = lab.states("al2-1");
    assert_eq!(states["openssl"], "Installed", "{states:?}");
    assert_eq!(states["curl"], "Failed", "{states:?}");
    // sudo's advisory is Moderate and tzdata has none: neither is approved, neither missing.
    assert_eq!(
        states.get("sudo").map(String::as_str),
        Some("InstalledOther")
    );
    assert_eq!(
        states.get("tzdata").map(String::as_str),
        Some("InstalledOther")
    );
    assert_eq!(lab.status("al2-1"), "NON_COMPLIANT");
}

/// Rollback: an install of a window is undone on one node, through the command protocol, with
/// dnf in the node's installroot: the versions it replaced come back, and the report says so.
#[test]
fn a_node_rollback_puts_back_what_an_execution_replaced() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    lab.apply(&example(2));
    lab.enroll("stg-1", "AL2-STG");
    // Day 1 of openssl: STG gets bash and openssl.
    lab.windows_at("2025-03-03T02:00:00Z");
    let executions = lab.windows_at("2025-03-04T02:00:00Z");
    let stg = lab.execution_of(&executions, "AL2-STG-daily").id.clone();
    assert_versions(
        &lab,
        "stg-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    // Undo the second execution (openssl): the command carries the replaced version.
    let queued = lab.cli(&[
        "node",
        "rollback",
        "stg-1",
        "--execution",
        &stg,
        "--reboot-option",
        "NoReboot",
        "--output",
        "json",
    ]);
    let queued: serde_json::Value = serde_json::from_str(&queued).unwrap();
    assert_eq!(
        queued["patch"]["rollback"],
        serde_json::json!(["openssl-1.0.2k-1.amzn2.x86_64"]),
        "{queued:#}"
    );
    assert_eq!(lab.node("stg-1").poll(), 1);
    // openssl is back; bash (the first execution's) stays.
    assert_versions(&lab, "stg-1", &old_but(&[("bash", "4.2.46-2.amzn2")]));
    let client = lab.client();
    let node = &lab.node("stg-1").id;
    let commands = client.node_commands(node).unwrap();
    let result = commands[0].result.as_ref().unwrap();
    assert_eq!(
        serde_json::to_value(result.outcome).unwrap(),
        "success",
        "{result:?}"
    );
    // openssl is Missing again (the baseline still approves the newer version), not Failed.
    assert_eq!(lab.states("stg-1")["openssl"], "Missing");
    // An execution that installed nothing on the node cannot be rolled back.
    let output = run(
        lab.dir.path(),
        &[
            "node",
            "rollback",
            "stg-1",
            "--execution",
            "no-such-execution",
            "--server",
            &lab.url,
            "--token",
            &lab.admin,
        ],
        &[],
    );
    check(&output, 1);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("has no Install report of execution"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Strategy 2's files, with a health check (command `app`) on STG's install task and one node
/// at a time.
fn strategy_2_with_a_health_check() -> tempfile::TempDir {
    strategy_2_with(
        "max_concurrency = \"50%\"\nmax_errors = \"0\"\n",
        "max_concurrency = \"1\"\nmax_errors = \"0\"\n\n[[window.task.health_check]]\nkind = \"command\"\ntarget = \"app\"\ntimeout_seconds = 10\n",
    )
}

/// Strategy 2's files with soak-based approval on the policy: 2 STG nodes, 3 days.
fn strategy_2_with_soak() -> tempfile::TempDir {
    strategy_2_with(
        "reject_failures = true\n",
        "reject_failures = true\napprove_when_healthy = { nodes = 2, soak = \"3d\" }\n",
    )
}

/// Strategy 2's files with the first `from` of fleet.toml replaced by `to`.
fn strategy_2_with(from: &str, to: &str) -> tempfile::TempDir {
    let files = tempfile::tempdir().unwrap();
    for entry in fs_err::read_dir(example(2)).unwrap() {
        let path = entry.unwrap().path();
        let mut text = fs_err::read_to_string(&path).unwrap();
        if path.file_name().is_some_and(|n| n == "fleet.toml") {
            assert!(text.contains(from), "{text}");
            text = text.replacen(from, to, 1);
        }
        fs_err::write(files.path().join(path.file_name().unwrap()), text).unwrap();
    }
    files
}

/// Soak-based approval with real agents on installroots (issue 17): PRD approves an exact
/// version once it has been installed and healthy on 2 STG nodes for 3 days, by the test's
/// clock: not when one node has soaked and the other has not, and then PRD's window installs
/// it although PRD's own 31 days have not run out.
#[test]
fn soak_based_approval_promotes_after_n_healthy_stg_nodes_and_the_soak_not_before() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    let files = strategy_2_with_soak();
    lab.apply(files.path());
    lab.enroll("stg-1", "AL2-STG");
    lab.enroll("prd-1", "AL2-PRD");
    // 03-03: stg-1 gets bash (21 days old); PRD waits 31 days.
    lab.windows_at("2025-03-03T02:00:00Z");
    assert_eq!(lab.node("stg-1").versions()["bash"], "4.2.46-2.amzn2");
    // 03-04: a second STG node arrives and gets bash.
    lab.enroll("stg-2", "AL2-STG");
    lab.windows_at("2025-03-04T02:00:00Z");
    assert_eq!(lab.node("stg-2").versions()["bash"], "4.2.46-2.amzn2");
    let policy: serde_json::Value =
        serde_json::from_str(&lab.cli(&["promotion", "list", "--output", "json"])).unwrap();
    let policy = policy[0]["id"].as_str().unwrap().to_owned();
    let bash_approved = |lab: &Lab| {
        lab.baseline("AL2-PRD")
            .approved
            .into_iter()
            .find(|e| e.entry == "bash-4.2.46-2.amzn2.x86_64")
    };

    // 03-06 03:00: stg-1 has soaked 3 days, stg-2 only 2: one node is not enough.
    lab.clock.set(at("2025-03-06T03:00:00Z"));
    lab.cli(&["promotion", "run", &policy]);
    assert!(
        bash_approved(&lab).is_none(),
        "{:?}",
        lab.baseline("AL2-PRD").approved
    );

    // 03-07 03:00: both have: approved, with the evidence in the reason.
    lab.clock.set(at("2025-03-07T03:00:00Z"));
    lab.cli(&["promotion", "run", &policy]);
    let approved =
        bash_approved(&lab).unwrap_or_else(|| panic!("{:?}", lab.baseline("AL2-PRD").approved));
    let reason = approved.reason.unwrap_or_default();
    assert!(
        reason.starts_with("installed on 2 STG nodes") && reason.contains("3d"),
        "{reason}"
    );
    // The audit log has the change with its evidence: the nodes.
    let audit = lab
        .client()
        .raw(pw_client::Method::Get, "/api/v1/audit", None, None)
        .unwrap();
    let audit: serde_json::Value = serde_json::from_str(&audit.body).unwrap();
    let approval = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "promotion.approve" && e["details"].to_string().contains("bash"))
        .unwrap_or_else(|| panic!("{audit:#}"));
    let evidence = approval["details"].to_string();
    let (stg1, stg2) = (&lab.node("stg-1").id, &lab.node("stg-2").id);
    assert!(
        (evidence.contains("stg-1") || evidence.contains(stg1.as_str()))
            && (evidence.contains("stg-2") || evidence.contains(stg2.as_str())),
        "{approval}"
    );

    // PRD's window installs it on 03-08, five days before its own 31 days.
    lab.windows_at("2025-03-08T02:00:00Z");
    assert_eq!(lab.node("prd-1").versions()["bash"], "4.2.46-2.amzn2");
}

/// A check that passes after the install but fails once the host is back from the reboot the
/// install decided: the report goes before the reboot, the result waits for the checks after
/// it, and the invocation fails naming the check.
#[test]
fn a_health_check_failing_after_the_reboot_fails_the_invocation() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    let files = strategy_2_with_a_health_check();
    lab.apply(files.path());
    lab.enroll("stg-1", "AL2-STG");
    let rebooted = lab.node("stg-1").state_dir.path().join("rebooted");
    lab.health_command(
        "stg-1",
        "app",
        &format!(
            "test ! -e {} || {{ echo 'down after boot' >&2; exit 1; }}",
            rebooted.display()
        ),
    );
    lab.reboot_package("stg-1", "bash");
    let executions = lab.windows_at("2025-03-03T02:00:00Z");
    let stg = lab.execution_of(&executions, "AL2-STG-daily");
    assert_eq!(stg.status, ExecutionStatus::Failed, "{stg:#?}");
    assert!(fs_err::metadata(&rebooted).is_ok(), "the reboot ran");
    let detail = lab.client().execution(&stg.id).unwrap();
    let invocation = &detail.tasks[0].invocations[0];
    assert!(
        invocation
            .status_details
            .as_deref()
            .unwrap_or_default()
            .starts_with("health check failed after the reboot: command `app`: exit code 1"),
        "{invocation:#?}"
    );
    // The report went before the reboot: bash is installed and the check then passed.
    assert_eq!(lab.states("stg-1")["bash"], "Installed");
}

/// Health checks on STG halt the window and reject on PRD: STG's install task checks a command
/// of each node's own configuration after installing. On the first node it fails: that node's
/// invocation fails with the check named, the task stops at max errors (0) before the second
/// node starts, and the promotion policy rejects on PRD what that install put on.
#[test]
fn a_failing_health_check_on_stg_halts_the_window_and_rejects_on_prd() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    let files = strategy_2_with_a_health_check();
    lab.apply(files.path());
    lab.enroll("stg-1", "AL2-STG");
    lab.enroll("stg-2", "AL2-STG");
    lab.enroll("prd-1", "AL2-PRD");
    for host in ["stg-1", "stg-2"] {
        lab.health_command(host, "app", "echo 'app answers 500' >&2; exit 1");
    }
    // A webhook hears of it (its deliveries are read from the log, not sent, here).
    let webhook: serde_json::Value = serde_json::from_str(&lab.cli(&[
        "webhook",
        "create",
        "--url",
        "http://127.0.0.1:9/hook",
        "--secret",
        "a-shared-secret-of-enough-length",
        "--event",
        "invocation.failed",
        "--event",
        "execution.ended",
        "--output",
        "json",
    ]))
    .unwrap();
    let webhook = webhook["id"].as_str().unwrap().to_owned();

    // Day 0 of openssl: STG's window installs bash (21 days old) on the first node; its
    // health check fails.
    let executions = lab.windows_at("2025-03-03T02:00:00Z");
    let stg = lab.execution_of(&executions, "AL2-STG-daily");
    assert_eq!(stg.status, ExecutionStatus::Failed, "{stg:#?}");
    let detail = lab.client().execution(&stg.id).unwrap();
    let invocations = &detail.tasks[0].invocations;
    let failed: Vec<&str> = invocations
        .iter()
        .filter(|i| i.status == ExecutionStatus::Failed)
        .filter_map(|i| i.status_details.as_deref())
        .collect();
    assert_eq!(failed.len(), 1, "{invocations:#?}");
    assert!(
        failed[0].contains("health check failed: command `app`: exit code 1: app answers 500"),
        "{failed:?}"
    );
    // The task stopped at max errors: the second node never got the install.
    assert!(
        invocations
            .iter()
            .all(|i| i.status != ExecutionStatus::Success),
        "{invocations:#?}"
    );
    let installed = ["stg-1", "stg-2"]
        .iter()
        .filter(|h| lab.node(h).versions()["bash"] == "4.2.46-2.amzn2")
        .count();
    assert_eq!(installed, 1);

    // The webhook has the failed invocation, with its detail, and the ended execution with
    // its invocations by status.
    let deliveries: serde_json::Value =
        serde_json::from_str(&lab.cli(&["webhook", "deliveries", &webhook, "--output", "json"]))
            .unwrap();
    let events: Vec<&serde_json::Value> = deliveries.as_array().unwrap().iter().collect();
    let of = |event: &str| {
        events
            .iter()
            .filter(|d| d["event"] == event)
            .map(|d| d["body"]["data"].clone())
            .collect::<Vec<_>>()
    };
    let failed = of("invocation.failed");
    assert_eq!(failed.len(), 1, "{deliveries:#}");
    assert!(
        failed[0]["status_details"]
            .as_str()
            .unwrap()
            .starts_with("health check failed: command `app`"),
        "{failed:?}"
    );
    let ended = of("execution.ended");
    let stg_ended = ended
        .iter()
        .find(|e| e["execution_id"] == stg.id.as_str())
        .unwrap_or_else(|| panic!("{deliveries:#}"));
    assert_eq!(stg_ended["status"], "FAILED");
    assert_eq!(stg_ended["invocations"]["FAILED"], 1, "{stg_ended}");

    // PRD rejects what that install put on, naming the health check.
    let prd = lab.baseline("AL2-PRD");
    let rejected = prd
        .rejected
        .iter()
        .find(|e| e.entry == "bash-4.2.46-2.amzn2.x86_64")
        .unwrap_or_else(|| panic!("{:?}", prd.rejected));
    assert!(
        rejected
            .reason
            .as_deref()
            .unwrap()
            .starts_with("health check failed on STG node(s) stg-"),
        "{rejected:?}"
    );
}

/// Strategy 2: STG 1 day after release, PRD 31 days; a patch that breaks STG is rejected on
/// PRD before PRD's 31 days run out, by the promotion policy.
#[test]
fn strategy_2_days_after_release_with_staging_ahead() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    lab.apply(&example(2));
    lab.enroll("stg-1", "AL2-STG");
    lab.enroll("prd-1", "AL2-PRD");

    // Day 0 of openssl (released 03-03 00:00, window 02:00): STG gets bash (21 days), not
    // openssl; PRD gets nothing (bash is 21 days old, PRD waits 31).
    lab.windows_at("2025-03-03T02:00:00Z");
    assert_versions(&lab, "stg-1", &old_but(&[("bash", "4.2.46-2.amzn2")]));
    assert_versions(&lab, "prd-1", &OLD);

    // Day 1: STG gets openssl.
    lab.windows_at("2025-03-04T02:00:00Z");
    assert_versions(
        &lab,
        "stg-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    assert_versions(&lab, "prd-1", &OLD);

    // Day 1 of curl: its install breaks on STG.
    let executions = lab.windows_at("2025-03-05T02:00:00Z");
    assert_eq!(
        lab.execution_of(&executions, "AL2-STG-daily").status,
        ExecutionStatus::Failed
    );
    assert_eq!(lab.states("stg-1")["curl"], "Failed");

    // The promotion policy of the files (the server's): what failed on STG was rejected on
    // PRD as STG's report arrived, at that exact version, with who, why and the evidence.
    let prd = lab.baseline("AL2-PRD");
    let rejected = prd
        .rejected
        .iter()
        .find(|e| e.entry == "curl-8.3.0-2.amzn2.x86_64")
        .unwrap_or_else(|| panic!("{:?}", prd.rejected));
    assert!(
        rejected
            .owner
            .as_deref()
            .unwrap()
            .starts_with("promotion policy pp-"),
        "{rejected:?}"
    );
    assert!(
        rejected
            .reason
            .as_deref()
            .unwrap()
            .starts_with("failed on STG node(s) stg-1"),
        "{rejected:?}"
    );
    let policies = lab.cli(&["promotion", "list", "--output", "json"]);
    let policies: serde_json::Value = serde_json::from_str(&policies).unwrap();
    let change = &policies[0]["changes"][0];
    assert_eq!(change["entry"], "curl-8.3.0-2.amzn2.x86_64", "{policies:#}");
    assert_eq!(change["evidence"]["nodes"], serde_json::json!(["stg-1"]));
    // `promote` (the command) finds nothing left to reject.
    let promoted = lab.cli(&[
        "promote",
        "--from",
        "AL2-STG",
        "--to",
        "AL2-PRD",
        "--reject-failures-only",
        "--output",
        "json",
    ]);
    let promoted: serde_json::Value = serde_json::from_str(&promoted).unwrap();
    assert_eq!(promoted["updated"], false, "{promoted:#}");

    // Day 30 of openssl: PRD has bash (51 days) but not openssl yet.
    lab.windows_at("2025-04-02T02:00:00Z");
    assert_versions(&lab, "prd-1", &old_but(&[("bash", "4.2.46-2.amzn2")]));

    // An hour before day 31's window: the preview (from the inventory the agent uploaded)
    // and the plan's impact both say PRD gets exactly openssl, and not the rejected curl.
    lab.clock.set(at("2025-04-03T01:00:00Z"));
    let preview = lab.cli(&["preview", "--node", "prd-1", "--output", "json"]);
    let preview: serde_json::Value = serde_json::from_str(&preview).unwrap();
    let missing: Vec<&str> = preview["nodes"][0]["evaluation"]["patches"]
        .as_array()
        .unwrap_or_else(|| panic!("{preview:#}"))
        .iter()
        .filter(|p| p["state"] == "Missing")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["openssl"], "{preview:#}");
    let plan = lab.cli(&[
        "plan",
        "-f",
        example(2).to_str().unwrap(),
        "--output",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let impact = |hostname: &str| {
        plan["impact"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["hostname"] == hostname)
            .unwrap_or_else(|| panic!("{plan:#}"))["patches"]
            .clone()
    };
    assert_eq!(
        impact("prd-1"),
        serde_json::json!(["openssl.x86_64 1.0.2k-2.amzn2"])
    );
    assert_eq!(
        impact("stg-1"),
        serde_json::json!(["curl.x86_64 8.3.0-2.amzn2"])
    );
    // The files do not list the promoted rejection, and they need not: applying them keeps
    // what the policy added, so the server matches the files.
    assert_eq!(plan["changes"], serde_json::json!([]), "{plan:#}");
    lab.apply(&example(2));
    assert!(
        lab.baseline("AL2-PRD")
            .rejected
            .iter()
            .any(|e| e.entry == "curl-8.3.0-2.amzn2.x86_64")
    );

    // Day 31 of openssl: PRD gets it.
    lab.windows_at("2025-04-03T02:00:00Z");
    assert_versions(
        &lab,
        "prd-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );

    // Day 32 of curl: its 31 days have run out, but it is rejected: PRD keeps 8.3.0-1 and
    // stays compliant (STG, meanwhile, keeps failing on it every night).
    let executions = lab.windows_at("2025-04-05T02:00:00Z");
    assert_eq!(
        lab.execution_of(&executions, "AL2-PRD-daily").status,
        ExecutionStatus::Success
    );
    assert_eq!(
        lab.execution_of(&executions, "AL2-STG-daily").status,
        ExecutionStatus::Failed
    );
    assert_versions(
        &lab,
        "prd-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    assert_eq!(lab.status("prd-1"), "COMPLIANT");
    assert_eq!(lab.states("prd-1")["curl"], "InstalledOther");
    let why = lab.cli(&["compliance", "node", &lab.node("prd-1").id]);
    assert!(why.contains("curl"), "{why}");
}

/// Strategy 3: approve patches released up to a date that moves by itself every month: STG
/// up to the first of this month, PRD up to the first of last month.
#[test]
fn strategy_3_until_dates_move_with_the_month() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    lab.apply(&example(3));
    lab.enroll("stg-1", "AL2-STG");
    lab.enroll("prd-1", "AL2-PRD");

    // Step 1 (March): STG up to March 1 → bash (02-10); PRD up to February 1 → nothing.
    lab.windows_at("2025-03-02T02:00:00Z");
    assert_versions(&lab, "stg-1", &old_but(&[("bash", "4.2.46-2.amzn2")]));
    assert_versions(&lab, "prd-1", &OLD);

    // Still March: openssl (03-03) is out, so every STG node stays at the same level.
    lab.windows_at("2025-03-20T02:00:00Z");
    assert_versions(&lab, "stg-1", &old_but(&[("bash", "4.2.46-2.amzn2")]));
    assert_eq!(lab.status("stg-1"), "COMPLIANT");

    // Step 2 (April), nothing edited: STG up to April 1 → openssl, and curl, which breaks
    // STG; PRD up to March 1 → bash.
    lab.windows_at("2025-04-02T02:00:00Z");
    assert_versions(
        &lab,
        "stg-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    assert_eq!(lab.states("stg-1")["curl"], "Failed");
    assert_versions(&lab, "prd-1", &old_but(&[("bash", "4.2.46-2.amzn2")]));

    // The same "broke STG, so rejected on PRD" flow.
    lab.cli(&[
        "promote",
        "--from",
        "AL2-STG",
        "--to",
        "AL2-PRD",
        "--reject-failures-only",
    ]);

    // May: PRD up to April 1 → openssl, but not the rejected curl.
    lab.windows_at("2025-05-02T02:00:00Z");
    assert_versions(
        &lab,
        "prd-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    assert_eq!(lab.status("prd-1"), "COMPLIANT");
}

/// Strategy 4: no rules; a CVE approved on STG installs there only, then, promoted, on PRD
/// only; nothing else is ever installed.
#[test]
fn strategy_4_explicit_approval_then_promotion() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    lab.apply(&example(4));
    lab.enroll("stg-1", "AL2-STG");
    lab.enroll("prd-1", "AL2-PRD");

    // Step 1: STG approves CVE-2021-3156 (sudo's advisory, Moderate: no rule would).
    lab.windows_at("2025-03-10T02:00:00Z");
    assert_versions(&lab, "stg-1", &old_but(&[("sudo", "1.9.5p2-1.amzn2")]));
    assert_versions(&lab, "prd-1", &OLD);
    assert_eq!(lab.states("stg-1")["sudo"], "Installed");

    // Step 2: promote what STG verified; PRD gets exactly that version, nothing else.
    let promoted = lab.cli(&[
        "promote", "--from", "AL2-STG", "--to", "AL2-PRD", "--output", "json",
    ]);
    let promoted: serde_json::Value = serde_json::from_str(&promoted).unwrap();
    let added: Vec<&str> = promoted["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["entry"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["sudo-1.9.5p2-1.amzn2.x86_64"], "{promoted:#}");

    lab.windows_at("2025-03-11T02:00:00Z");
    assert_versions(&lab, "prd-1", &old_but(&[("sudo", "1.9.5p2-1.amzn2")]));
    assert_versions(&lab, "stg-1", &old_but(&[("sudo", "1.9.5p2-1.amzn2")]));
    assert_eq!(lab.states("prd-1")["sudo"], "Installed");
    assert_eq!(lab.status("prd-1"), "COMPLIANT");
}

const DEBIAN_STG: &str = r#"version = "1"
name = "DEB-STG"
operating_system = "DEBIAN"
description = "STG: security updates at once"

[[rules]]
priority = ["Required", "Important", "Standard", "Optional", "Extra"]
approve_after_days = 0
"#;

const DEBIAN_PRD: &str = r#"version = "1"
name = "DEB-PRD"
operating_system = "DEBIAN"
description = "PRD: the same approvals, a week later (its window is weekly)"

[[rules]]
priority = ["Required", "Important", "Standard", "Optional", "Extra"]
approve_after_days = 0
"#;

const DEBIAN_FLEET: &str = r#"version = "1"

[[patch_group]]
name = "DEB-STG"
baseline = "DEB-STG"

[[patch_group]]
name = "DEB-PRD"
baseline = "DEB-PRD"

[[window]]
name = "DEB-STG-daily"
schedule = "cron(0 2 * * ? *)"
duration_hours = 1
cutoff_hours = 0

[[window.target]]
name = "stg-nodes"
tags = { "Patch Group" = ["DEB-STG"] }

[[window.task]]
name = "install"
operation = "Install"
reboot = "RebootIfNeeded"
max_concurrency = "1"
max_errors = "1"

[[window]]
name = "DEB-PRD-sunday"
schedule = "cron(0 2 ? * SUN *)"
duration_hours = 1
cutoff_hours = 0

[[window.target]]
name = "prd-nodes"
tags = { "Patch Group" = ["DEB-PRD"] }

[[window.task]]
name = "install"
operation = "Install"
reboot = "RebootIfNeeded"
max_concurrency = "1"
max_errors = "0"
"#;

/// A Debian 12 root with openssl 3.0.1-1 and libxml2 2.9.14-1 installed, whose sources offer
/// security updates openssl 3.0.2-1 and libxml2 2.9.14-2 (whose postinst fails).
fn debian_root(repo: &pw_test_support::deb::DebRepo, base: &[PathBuf]) -> NodeRoot {
    let dir = tempfile::tempdir().unwrap();
    let root = pw_test_support::deb::deb_root(&dir.path().join("root"), repo).unwrap();
    root.dpkg_install(&base.iter().map(PathBuf::as_path).collect::<Vec<_>>())
        .unwrap();
    NodeRoot::Deb {
        root: root.root,
        _dir: dir,
    }
}

/// Staging ahead of production on Debian: STG's daily window installs the security updates;
/// one breaks STG (its postinst fails) and the promotion policy rejects it on PRD, at that
/// exact version (`name.arch:version`); PRD's weekly window then installs the rest, not it.
#[test]
fn debian_staging_ahead_with_promotion() {
    use pw_test_support::deb::{DebSpec, Postinst, SuiteSpec, build_deb, build_repo};

    let mut lab = Lab::new("2025-06-01T00:00:00Z");
    let config = lab.dir.path().join("debian");
    fs_err::create_dir_all(&config).unwrap();
    for (file, text) in [
        ("deb-stg.toml", DEBIAN_STG),
        ("deb-prd.toml", DEBIAN_PRD),
        ("fleet.toml", DEBIAN_FLEET),
    ] {
        fs_err::write(config.join(file), text).unwrap();
    }
    lab.apply(&config);

    let work = lab.dir.path().join("deb-build");
    let repo = build_repo(
        &work.join("repo"),
        &[
            (
                SuiteSpec::debian_bookworm(),
                vec![
                    DebSpec::new("openssl", "3.0.1-1"),
                    DebSpec::new("libxml2", "2.9.14-1"),
                ],
            ),
            (
                SuiteSpec::debian_bookworm_security(),
                vec![
                    DebSpec::new("openssl", "3.0.2-1"),
                    DebSpec::new("libxml2", "2.9.14-2").postinst(Postinst::Fail),
                ],
            ),
        ],
    )
    .unwrap();
    let base: Vec<PathBuf> = [
        DebSpec::new("openssl", "3.0.1-1"),
        DebSpec::new("libxml2", "2.9.14-1"),
    ]
    .iter()
    .map(|spec| {
        build_deb(spec, &work.join("base-build"), &work.join("base"))
            .unwrap()
            .path
    })
    .collect();
    lab.enroll_root("deb-stg-1", "DEB-STG", debian_root(&repo, &base));
    lab.enroll_root("deb-prd-1", "DEB-PRD", debian_root(&repo, &base));

    // Monday: STG's window; openssl's update installs, libxml2's breaks (half-configured).
    let executions = lab.windows_at("2025-06-02T02:00:00Z");
    assert_eq!(
        executions.len(),
        1,
        "only STG's daily window opens on a Monday"
    );
    let stg = lab.node("deb-stg-1").versions();
    assert_eq!(stg["openssl"], "3.0.2-1");
    assert_eq!(lab.states("deb-stg-1")["libxml2"], "Failed");
    assert_eq!(lab.node("deb-prd-1").versions()["openssl"], "3.0.1-1");

    // The promotion policy: what failed on STG is rejected on PRD, as `name.arch:version`.
    let promoted = lab.cli(&[
        "promote",
        "--from",
        "DEB-STG",
        "--to",
        "DEB-PRD",
        "--reject-failures-only",
        "--output",
        "json",
    ]);
    let promoted: serde_json::Value = serde_json::from_str(&promoted).unwrap();
    let added: Vec<&str> = promoted["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["entry"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["libxml2.amd64:2.9.14-2"], "{promoted:#}");

    // Sunday: PRD's weekly window gets openssl and keeps libxml2 at 2.9.14-1, compliant.
    let executions = lab.windows_at("2025-06-08T02:00:00Z");
    assert_eq!(
        lab.execution_of(&executions, "DEB-PRD-sunday").status,
        ExecutionStatus::Success
    );
    let prd = lab.node("deb-prd-1").versions();
    assert_eq!(prd["openssl"], "3.0.2-1");
    assert_eq!(prd["libxml2"], "2.9.14-1");
    assert_eq!(lab.status("deb-prd-1"), "COMPLIANT");
    assert_eq!(lab.states("deb-prd-1")["libxml2"], "InstalledOther");
}

/// The release an AL2023 installroot is locked to (`/etc/dnf/vars/releasever`, else its
/// `system-release`), as dnf reads it.
fn lock_of(lab: &Lab, hostname: &str) -> String {
    let NodeRoot::Al2023(root) = &lab.node(hostname).root else {
        panic!("{hostname} is not an AL2023 node")
    };
    pw_pkgmgr::release::host_releasever(&root.settings())
        .unwrap()
        .value
        .unwrap()
}

/// Strategy 2 on Amazon Linux 2023 beside Amazon Linux 2 in one fleet: one patch group per
/// environment, a baseline per operating system. STG moves to a release a day after it is
/// published; PRD only to a release STG ran (`[release] require_verified`, filled by
/// `patchwarden promote`) and a week old; a release whose install failed on STG is rejected
/// for PRD. Releases come from an imported release list; every window execution chooses
/// among the releases learned before it opened.
#[test]
fn al2023_releases_move_through_stg_and_prd_beside_al2() {
    let [r1, r2, r3] = RELEASES;
    let mut lab = Lab::new("2025-02-02T00:00:00Z");
    lab.import_releases();
    lab.apply(&example_al2023(2));
    lab.enroll("stg-al2", "STG");
    lab.enroll_al2023("stg-al2023", "STG", r1);
    lab.enroll_al2023("prd-al2023", "PRD", r1);

    // 02-03: STG moves to r2 (published 02-01, a day old) and takes its security and bugfix
    // updates; PRD has no verified release yet and stays on r1.
    lab.windows_at("2025-02-03T02:00:00Z");
    let stg = lab.node("stg-al2023").versions();
    assert_eq!(
        (stg["foo"].as_str(), stg["bar"].as_str()),
        ("1.1-1.amzn2023", "1.1-1.amzn2023")
    );
    assert_eq!(lock_of(&lab, "stg-al2023"), r2);
    assert_eq!(lock_of(&lab, "prd-al2023"), r1);
    assert_eq!(lab.node("prd-al2023").versions()["foo"], "1.0-1.amzn2023");
    // The AL2 node of the same patch group is judged by its own baseline (bash is not out).
    assert_versions(&lab, "stg-al2", &OLD);

    // STG ran r2 without trouble: PRD may now take it.
    let promoted: serde_json::Value = serde_json::from_str(&lab.cli(&[
        "promote",
        "--from",
        "AL2023-STG",
        "--to",
        "AL2023-PRD",
        "--output",
        "json",
    ]))
    .unwrap();
    let verified: Vec<&str> = promoted["added"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["list"] == "verify-release")
        .map(|c| c["entry"].as_str().unwrap())
        .collect();
    assert_eq!(verified, [r2], "{promoted:#}");

    // 03-05: STG moves on to r3, whose qux update fails: the lock stays on r2. PRD takes r2
    // (verified, a week old) with the updates 31 days old.
    lab.windows_at("2025-03-05T02:00:00Z");
    assert_eq!(lab.states("stg-al2023")["qux"], "Failed");
    assert_eq!(lock_of(&lab, "stg-al2023"), r2);
    let prd = lab.node("prd-al2023").versions();
    assert_eq!(
        (prd["foo"].as_str(), prd["bar"].as_str()),
        ("1.1-1.amzn2023", "1.1-1.amzn2023")
    );
    assert_eq!(lock_of(&lab, "prd-al2023"), r2);

    // The rejection policy: a release whose install failed on STG is never taken by PRD.
    lab.cli(&[
        "promote",
        "--from",
        "AL2023-STG",
        "--to",
        "AL2023-PRD",
        "--reject-failures-only",
    ]);
    // Applying the files again keeps what promote added (releases carry no owner: kept).
    lab.apply(&example_al2023(2));
    let policy = lab.baseline("AL2023-PRD").release.unwrap();
    let texts = |list: &[pw_core::release::ReleaseVersion]| {
        list.iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    assert_eq!(texts(&policy.verified), [r2]);
    assert_eq!(texts(&policy.reject), [r3]);

    // Release drift per patch group, and the node's release on its compliance summary.
    let groups = lab.client().compliance_patch_groups().unwrap();
    let drift = |key: &str| {
        groups
            .iter()
            .find(|g| g.key == key)
            .unwrap()
            .releases
            .clone()
    };
    assert_eq!(drift("STG"), BTreeMap::from([(r2.to_owned(), 1)]));
    assert_eq!(drift("PRD"), BTreeMap::from([(r2.to_owned(), 1)]));
    let table = lab.cli(&["compliance", "groups"]);
    assert!(table.contains(&format!("{r2}: 1")), "{table}");
    let summary = lab
        .client()
        .node_compliance(&lab.node("prd-al2023").id, &[])
        .unwrap()
        .summary;
    assert_eq!(summary.release.as_deref(), Some(r2));
}

/// Strategy 1 on a mixed fleet (`examples/al2023/strategy-1`): AL2023 nodes follow the newest
/// release a week after it is out and take its updates 7 days after release; an install that
/// fails leaves the lock where it was. The AL2 node of the same group keeps its own baseline.
#[test]
fn al2023_strategy_1_follows_the_newest_release_a_week_late() {
    let [r1, r2, r3] = RELEASES;
    let mut lab = Lab::new("2025-02-08T12:00:00Z");
    lab.import_releases();
    lab.apply(&example_al2023(1));
    lab.enroll("al2-1", "FLEET");
    lab.enroll_al2023("al2023-1", "FLEET", r1);

    // r2 (02-01) is a week old; foo 1.1 and bar 1.1 are 7 days out.
    lab.windows_at("2025-02-09T00:00:00Z");
    let versions = lab.node("al2023-1").versions();
    assert_eq!(versions["foo"], "1.1-1.amzn2023");
    assert_eq!(versions["bar"], "1.1-1.amzn2023");
    assert_eq!(lock_of(&lab, "al2023-1"), r2);
    assert_versions(&lab, "al2-1", &OLD);

    // r3 (03-01) is a week old: foo 1.2 installs, qux 1.1 fails, so the lock stays on r2.
    lab.windows_at("2025-03-12T00:00:00Z");
    assert_eq!(lab.node("al2023-1").versions()["foo"], "1.2-1.amzn2023");
    assert_eq!(lab.states("al2023-1")["qux"], "Failed");
    assert_eq!(lock_of(&lab, "al2023-1"), r2);
    assert_ne!(lock_of(&lab, "al2023-1"), r3);
    assert_eq!(lab.states("al2-1")["curl"], "Failed");
    assert_eq!(lab.node("al2-1").versions()["openssl"], "1.0.2k-2.amzn2");
}

/// Strategy 3 on a mixed fleet (`examples/al2023/strategy-3`): the rolling cut-off picks the
/// release as it picks the patches; a release that broke STG is rejected for PRD, which then
/// stays on the release before it when the month turns.
#[test]
fn al2023_strategy_3_release_cutoff_moves_with_the_month() {
    let [r1, r2, r3] = RELEASES;
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    lab.import_releases();
    lab.apply(&example_al2023(3));
    lab.enroll("stg-al2", "STG");
    lab.enroll_al2023("stg-al2023", "STG", r1);
    lab.enroll_al2023("prd-al2023", "PRD", r1);

    // March: STG up to March 1 (r3: qux fails, the lock stays), PRD up to February 1 (r2).
    lab.windows_at("2025-03-05T02:00:00Z");
    assert_eq!(lab.node("stg-al2023").versions()["foo"], "1.2-1.amzn2023");
    assert_eq!(lab.states("stg-al2023")["qux"], "Failed");
    assert_eq!(lock_of(&lab, "stg-al2023"), r1);
    assert_eq!(lab.node("prd-al2023").versions()["foo"], "1.1-1.amzn2023");
    assert_eq!(lock_of(&lab, "prd-al2023"), r2);
    assert_versions(&lab, "stg-al2", &old_but(&[("bash", "4.2.46-2.amzn2")]));

    lab.cli(&[
        "promote",
        "--from",
        "AL2023-STG",
        "--to",
        "AL2023-PRD",
        "--reject-failures-only",
    ]);
    let policy = lab.baseline("AL2023-PRD").release.unwrap();
    assert_eq!(policy.reject.len(), 1);
    assert_eq!(policy.reject[0].as_str(), r3);

    // April, nothing edited: PRD's cut-off reaches r3, which is rejected: PRD stays on r2.
    lab.windows_at("2025-04-02T02:00:00Z");
    assert_eq!(lock_of(&lab, "prd-al2023"), r2);
    assert_eq!(lab.node("prd-al2023").versions()["foo"], "1.1-1.amzn2023");
    assert_eq!(lab.status("prd-al2023"), "COMPLIANT");
}

/// Strategy 4 on a mixed fleet (`examples/al2023/strategy-4`): one CVE approved for STG is
/// taken from the newest release without moving the lock, then promoted to PRD.
#[test]
fn al2023_strategy_4_one_advisory_from_a_newer_release() {
    let [r1, _, _] = RELEASES;
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    lab.import_releases();
    lab.apply(&example_al2023(4));
    lab.enroll("stg-al2", "STG");
    lab.enroll_al2023("stg-al2023", "STG", r1);
    lab.enroll_al2023("prd-al2023", "PRD", r1);

    lab.windows_at("2025-03-10T02:00:00Z");
    let stg = lab.node("stg-al2023").versions();
    assert_eq!(
        (stg["foo"].as_str(), stg["bar"].as_str()),
        ("1.2-1.amzn2023", "1.0-1.amzn2023")
    );
    assert_eq!(lock_of(&lab, "stg-al2023"), r1);
    assert_eq!(lab.node("prd-al2023").versions()["foo"], "1.0-1.amzn2023");
    assert_versions(&lab, "stg-al2", &old_but(&[("sudo", "1.9.5p2-1.amzn2")]));

    let promoted: serde_json::Value = serde_json::from_str(&lab.cli(&[
        "promote",
        "--from",
        "AL2023-STG",
        "--to",
        "AL2023-PRD",
        "--output",
        "json",
    ]))
    .unwrap();
    let added: Vec<&str> = promoted["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["entry"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["foo-1.2-1.amzn2023.noarch"], "{promoted:#}");

    lab.windows_at("2025-03-11T02:00:00Z");
    assert_eq!(lab.node("prd-al2023").versions()["foo"], "1.2-1.amzn2023");
    assert_eq!(lock_of(&lab, "prd-al2023"), r1);
    assert_eq!(lab.status("prd-al2023"), "COMPLIANT");
}

/// Runs `crates/pw-cli/tests/ssm/strategy_via_aws.py ARGS` with the aws CLI of the SSM
/// virtualenv against the lab's `/ssm`; returns its stdout as JSON.
/// Runs `tests/ssm/strategy_via_aws.py ARGS` (the aws CLI of `.ci/deps`, its clock set to the
/// lab's under faketime) and returns what it prints.
fn aws_script(lab: &Lab, args: &[&str]) -> serde_json::Value {
    let python = "/opt/pw-tools/ssm-venv/bin/python3";
    assert!(
        Path::new(python).is_file(),
        "{python} is missing: run .ci/deps"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ssm/strategy_via_aws.py");
    #[expect(
        clippy::disallowed_methods,
        reason = "the aws CLI is the client under test"
    )]
    let output = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .env("PW_SSM_ENDPOINT", format!("{}/ssm", lab.url))
        .env("AWS_ACCESS_KEY_ID", &lab.access_key.0)
        .env("AWS_SECRET_ACCESS_KEY", &lab.access_key.1)
        .env(
            "PW_CLIENT_TIME",
            lab.clock.now().strftime("%Y-%m-%d %H:%M:%S").to_string(),
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Strategy 1 configured with `aws ssm` commands alone (a baseline, its patch group, a
/// window with a target and an AWS-RunPatchBaseline Install task), run by a real agent on an
/// installroot, and read back with `aws ssm describe-instance-patch-states`: the counts are
/// the native API's. The lab's clock starts at the real time here (the window is an `at`
/// expression a few minutes ahead).
#[test]
fn strategy_1_configured_with_aws_ssm_alone() {
    let now = Timestamp::now();
    let opens = now
        .checked_add(SignedDuration::from_mins(3))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:00")
        .to_string();
    let mut lab = Lab::new(&now.to_string());
    let configured = aws_script(&lab, &["configure", &opens]);
    assert!(configured["window"].as_str().unwrap().starts_with("mw-"));
    lab.enroll("al2-1", "AL2");

    let executions = lab.windows_at(&format!("{opens}Z"));
    assert_eq!(executions.len(), 1, "{executions:#?}");
    // Everything in the fixture is more than 7 days old: bash and openssl install, curl's
    // install fails, sudo (Moderate) and tzdata (no advisory) are not approved.
    assert_versions(
        &lab,
        "al2-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    lab.clock.set(Timestamp::now());
    let node = lab.node("al2-1").id.clone();
    let states = aws_script(&lab, &["states", &node]);
    let native = lab.client().node_compliance(&node, &[]).unwrap().summary;
    let state = &states[0];
    assert_eq!(state["InstanceId"], node.as_str());
    assert_eq!(state["PatchGroup"], "AL2");
    assert_eq!(state["BaselineId"], configured["baseline"]);
    assert_eq!(state["Operation"], "Install");
    assert_eq!(state["RebootOption"], "NoReboot", "{state:#}");
    for (member, value) in [
        ("InstalledCount", native.installed),
        ("InstalledOtherCount", native.installed_other),
        ("MissingCount", native.missing),
        ("FailedCount", native.failed),
        ("NotApplicableCount", native.not_applicable),
        ("CriticalNonCompliantCount", native.critical_non_compliant),
        ("SecurityNonCompliantCount", native.security_non_compliant),
    ] {
        assert_eq!(state[member], value, "{member}: {state:#}");
    }
    assert_eq!(native.failed, 1, "curl's install fails");

    // What the baseline approves, over the repositories the node's inventory describes
    // (beyond the original, which answers this for Windows only).
    let effective = aws_script(
        &lab,
        &["effective", configured["baseline"].as_str().unwrap()],
    );
    let mut approved: Vec<String> = effective
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["Patch"]["Title"].as_str().unwrap(),
                p["PatchStatus"]["DeploymentStatus"].as_str().unwrap()
            )
        })
        .collect();
    approved.sort();
    assert_eq!(
        approved,
        [
            "bash-4.2.46-2.amzn2.x86_64 APPROVED",
            "curl-8.3.0-2.amzn2.x86_64 APPROVED",
            "openssl-1.0.2k-2.amzn2.x86_64 APPROVED",
        ],
        "{effective:#}"
    );

    // What the repositories offer the fleet, as SSM lists available patches (PRODUCT as
    // SSM's samples spell it), filtered by CVE.
    let available = aws_script(&lab, &["available", "AmazonLinux2.0"]);
    let mut titles: Vec<String> = available
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p["Title"].as_str().unwrap(),
                p["Classification"].as_str().unwrap(),
                p["Severity"].as_str().unwrap()
            )
        })
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "bash-4.2.46-2.amzn2.x86_64 Bugfix None",
            "curl-8.3.0-2.amzn2.x86_64 Security Critical",
            "openssl-1.0.2k-2.amzn2.x86_64 Security Important",
            "sudo-1.9.5p2-1.amzn2.x86_64 Security Moderate",
        ],
        "{available:#}"
    );
    let sudo = aws_script(&lab, &["available", "AmazonLinux2", "CVE_ID=CVE-2021-3156"]);
    let sudo = sudo.as_array().unwrap();
    assert_eq!(sudo.len(), 1, "{sudo:#?}");
    assert_eq!(
        sudo[0]["AdvisoryIds"],
        serde_json::json!(["ALAS2-2025-0104"])
    );
    assert_eq!(sudo[0]["Product"], "AmazonLinux2");
    assert_eq!(sudo[0]["ReleaseDate"], 1_741_132_800.0);
}

/// The strings of a JSON list.
fn string_list(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value:#}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// `aws ssm describe-instance-patch-states` of a node agrees with the native summary.
#[track_caller]
fn assert_states_agree(lab: &Lab, hostname: &str) {
    let node = lab.node(hostname).id.clone();
    let states = aws_script(lab, &["states", &node]);
    let native = lab.client().node_compliance(&node, &[]).unwrap().summary;
    let state = &states[0];
    for (member, value) in [
        ("InstalledCount", native.installed),
        ("InstalledOtherCount", native.installed_other),
        ("InstalledRejectedCount", native.installed_rejected),
        ("MissingCount", native.missing),
        ("FailedCount", native.failed),
        ("NotApplicableCount", native.not_applicable),
    ] {
        assert_eq!(state[member], value, "{hostname} {member}: {state:#}");
    }
}

/// Strategy 2 configured with `aws ssm` alone: STG 1 day after release, PRD 31 days; the
/// patch that failed on STG, read with `describe-instance-patches`, is put on PRD's rejected
/// list with `update-patch-baseline`, as SSM users do by hand.
#[test]
fn strategy_2_configured_with_aws_ssm_alone() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    let configured = aws_script(&lab, &["staged", "days"]);
    assert!(
        configured["AL2-PRD"]["window"]
            .as_str()
            .unwrap()
            .starts_with("mw-")
    );
    lab.enroll("stg-1", "AL2-STG");
    lab.enroll("prd-1", "AL2-PRD");

    lab.windows_at("2025-03-04T02:00:00Z");
    assert_versions(
        &lab,
        "stg-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    assert_versions(&lab, "prd-1", &OLD);

    // Day 1 of curl: its install breaks on STG; the operator rejects it on PRD.
    let executions = lab.windows_at("2025-03-05T02:00:00Z");
    assert_eq!(
        lab.execution_of(&executions, "AL2-STG-daily").status,
        ExecutionStatus::Failed
    );
    let stg = lab.node("stg-1").id.clone();
    let failed = aws_script(&lab, &["failed", &stg]);
    assert_eq!(string_list(&failed), ["curl-8.3.0-2.amzn2.x86_64"]);
    let mut reject = vec!["reject", "AL2-PRD"];
    let entries = string_list(&failed);
    reject.extend(entries.iter().map(String::as_str));
    let rejected = aws_script(&lab, &reject);
    assert_eq!(string_list(&rejected), ["curl-8.3.0-2.amzn2.x86_64"]);
    assert!(
        lab.baseline("AL2-PRD")
            .rejected
            .iter()
            .any(|e| e.entry == "curl-8.3.0-2.amzn2.x86_64"),
        "the native API sees the rejection"
    );

    // Day 32 of curl: PRD has bash and openssl (31 days), not the rejected curl.
    let executions = lab.windows_at("2025-04-05T02:00:00Z");
    assert_eq!(
        lab.execution_of(&executions, "AL2-PRD-daily").status,
        ExecutionStatus::Success
    );
    assert_versions(
        &lab,
        "prd-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    assert_eq!(lab.status("prd-1"), "COMPLIANT");
    assert_states_agree(&lab, "prd-1");
    assert_states_agree(&lab, "stg-1");
}

/// Strategy 3 configured with `aws ssm` alone: fixed cut-off dates (the SSM shape has no
/// rolling dates), moved each month with `update-patch-baseline --approval-rules`.
#[test]
fn strategy_3_configured_with_aws_ssm_alone() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    aws_script(&lab, &["staged", "until"]);
    lab.enroll("stg-1", "AL2-STG");
    lab.enroll("prd-1", "AL2-PRD");

    // Step 1: STG up to March 1 → bash; PRD up to February 1 → nothing.
    lab.windows_at("2025-03-02T02:00:00Z");
    assert_versions(&lab, "stg-1", &old_but(&[("bash", "4.2.46-2.amzn2")]));
    assert_versions(&lab, "prd-1", &OLD);

    // Step 2, the monthly edit: STG up to April 1 (openssl, and curl, which fails), PRD up
    // to March 1 (bash).
    lab.clock.set(at("2025-04-01T09:00:00Z"));
    aws_script(&lab, &["until", "2025-04-01", "2025-03-01"]);
    lab.windows_at("2025-04-02T02:00:00Z");
    assert_versions(
        &lab,
        "stg-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    assert_eq!(lab.states("stg-1")["curl"], "Failed");
    assert_versions(&lab, "prd-1", &old_but(&[("bash", "4.2.46-2.amzn2")]));
    let failed = string_list(&aws_script(&lab, &["failed", &lab.node("stg-1").id]));
    let mut reject = vec!["reject", "AL2-PRD"];
    reject.extend(failed.iter().map(String::as_str));
    aws_script(&lab, &reject);

    // Step 3: PRD up to April 1 → openssl, not the rejected curl.
    lab.clock.set(at("2025-05-01T09:00:00Z"));
    aws_script(&lab, &["until", "2025-05-01", "2025-04-01"]);
    lab.windows_at("2025-05-02T02:00:00Z");
    assert_versions(
        &lab,
        "prd-1",
        &old_but(&[("bash", "4.2.46-2.amzn2"), ("openssl", "1.0.2k-2.amzn2")]),
    );
    assert_eq!(lab.status("prd-1"), "COMPLIANT");
    assert_states_agree(&lab, "prd-1");
}

/// Strategy 4 configured with `aws ssm` alone: no rules; STG approves a CVE, and once it is
/// installed there, PRD approves the exact version STG runs.
#[test]
fn strategy_4_configured_with_aws_ssm_alone() {
    let mut lab = Lab::new("2025-03-01T00:00:00Z");
    aws_script(&lab, &["staged", "explicit"]);
    lab.enroll("stg-1", "AL2-STG");
    lab.enroll("prd-1", "AL2-PRD");

    lab.windows_at("2025-03-10T02:00:00Z");
    assert_versions(&lab, "stg-1", &old_but(&[("sudo", "1.9.5p2-1.amzn2")]));
    assert_versions(&lab, "prd-1", &OLD);

    let verified = string_list(&aws_script(
        &lab,
        &["installed", &lab.node("stg-1").id, "sudo"],
    ));
    assert_eq!(verified, ["sudo-1.9.5p2-1.amzn2.x86_64"]);
    let mut approve = vec!["approve", "AL2-PRD"];
    approve.extend(verified.iter().map(String::as_str));
    aws_script(&lab, &approve);

    lab.windows_at("2025-03-11T02:00:00Z");
    assert_versions(&lab, "prd-1", &old_but(&[("sudo", "1.9.5p2-1.amzn2")]));
    assert_eq!(lab.states("prd-1")["sudo"], "Installed");
    assert_eq!(lab.status("prd-1"), "COMPLIANT");
    assert_states_agree(&lab, "prd-1");
}
