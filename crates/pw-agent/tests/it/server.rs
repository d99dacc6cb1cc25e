//! The agent under the real server, end to end: a server on `127.0.0.1:0` (SQLite), two
//! hosts (real installroots) enrolled with an activation code and tagged into a patch group,
//! commands run by the agents' poll loop, reports and inventories back on the server,
//! compliance and previews read through the API.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use pw_agent::AgentSettings;
use pw_agent::daemon::{self, PollSummary};
use pw_api::server::agent::{CommandState, CreateNodeCommand, NodeFacts, PreviewRequest};
use pw_api::server::tokens::{CreateActivation, Role, Tag};
use pw_api::server::windows::{RebootOption, TaskOperation};
use pw_client::{Client, ClientSettings};
use pw_core::baseline::OperatingSystem;
use pw_pkgmgr::PackageManager;
use pw_pkgmgr::hooks::ShellCommand;
use pw_test_support::InstallRoot;

const STG: &str = r#"version = "1"
name = "AL2023-STG"
operating_system = "AMAZON_LINUX_2023"
[[rules]]
classification = ["Security"]
severity = ["Critical", "Important"]
approve_after_days = 1
[[rules]]
classification = ["Bugfix"]
approve_after_days = 1
"#;

struct Server {
    url: String,
    admin: String,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let db = dir.path().join("server.db");
    let (url, admin) = runtime.block_on(async move {
        let store = pw_store::Store::connect(&pw_store::StoreSettings::sqlite(&db))
            .await
            .unwrap();
        let admin = pw_server::create_token(&store, Role::Admin, None, Timestamp::now())
            .await
            .unwrap()
            .token;
        let state = pw_server::AppState::new(
            store,
            Arc::new(pw_server::SystemClock),
            pw_server::ServerSettings::default(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            pw_server::serve(state, listener, None, std::future::pending::<()>())
                .await
                .unwrap();
        });
        (url, admin)
    });
    Server {
        url,
        admin,
        _runtime: runtime,
        _dir: dir,
    }
}

struct Agent {
    root: InstallRoot,
    dir: tempfile::TempDir,
    client: Client,
    node_id: String,
    facts: NodeFacts,
}

impl Agent {
    fn enroll(server: &Server, code: &str, hostname: &str) -> Agent {
        let root = pw_test_support::standard().unwrap().old_root().unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("proc")).unwrap();
        fs_err::write(dir.path().join("proc/stat"), "btime 1704067200\n").unwrap();
        let facts = NodeFacts {
            hostname: hostname.to_owned(),
            operating_system: "AMAZON_LINUX_2023".to_owned(),
            product: "AmazonLinux2023".to_owned(),
            agent_version: "test".to_owned(),
            arch: Some("x86_64".to_owned()),
            machine_id: None,
        };
        let tags = vec![Tag {
            key: "Patch Group".to_owned(),
            value: "AL2023-STG".to_owned(),
        }];
        let stored = daemon::enroll(
            &server.url,
            code,
            facts.clone(),
            tags,
            dir.path(),
            Timestamp::now(),
        )
        .unwrap();
        let (client, _) = daemon::client(dir.path()).unwrap();
        Agent {
            root,
            dir,
            client,
            node_id: stored.node_id,
            facts,
        }
    }

    fn template(&self) -> AgentSettings {
        let mut settings = AgentSettings::new(pw_core::baseline::default_baseline(
            OperatingSystem::AmazonLinux2023,
        ));
        settings.root = self.root.root();
        settings.state_dir = self.dir.path().to_path_buf();
        settings.proc_dir = self.dir.path().join("proc");
        settings.operating_system = Some(OperatingSystem::AmazonLinux2023);
        settings.product = Some("AmazonLinux2023".to_owned());
        settings.package_manager = Some(PackageManager::Dnf);
        settings.releasever = Some("1".to_owned());
        settings.reboot_command = ShellCommand {
            command: format!("touch {}", self.dir.path().join("rebooted").display()),
            timeout: Duration::from_secs(10),
        };
        settings
    }

    fn poll(&self) -> PollSummary {
        daemon::poll_once(
            &self.client,
            &self.facts,
            &self.template(),
            Duration::from_secs(5),
            &Timestamp::now,
        )
        .unwrap()
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
fn agents_enroll_run_commands_and_report_compliance() {
    let server = start_server();
    let admin =
        Client::new(ClientSettings::new(&server.url).with_secret(server.admin.clone())).unwrap();
    let baseline = admin.create_baseline(STG).unwrap();
    admin
        .register_patch_group("AL2023-STG", &baseline.summary.id)
        .unwrap();
    let code = admin
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: None,
            max_uses: Some(2),
            description: Some("e2e".to_owned()),
            tags: Vec::new(),
        })
        .unwrap()
        .code;
    let one = Agent::enroll(&server, &code, "stg-1");
    let two = Agent::enroll(&server, &code, "stg-2");

    // Before any command: `agent run` reads the host and uploads its inventory at start, so
    // previews know the node; nothing is reported as compliance.
    assert!(
        daemon::refresh_inventory(&two.client, &two.facts, &two.template(), &Timestamp::now)
            .unwrap()
    );
    let inventory = admin.node_inventory(&two.node_id).unwrap();
    assert!(inventory.packages.iter().any(|p| p.name == "foo"));
    assert!(admin.node_compliance(&two.node_id, &[]).is_err());

    // Install on one: the baseline comes from its patch group.
    let install = admin
        .create_node_command(
            &one.node_id,
            &CreateNodeCommand {
                operation: TaskOperation::Install,
                baseline_id: None,
                reboot_option: RebootOption::RebootIfNeeded,
                install_override_list: Vec::new(),
            },
        )
        .unwrap();
    let summary = one.poll();
    assert_eq!(summary.ran, std::slice::from_ref(&install.id));
    assert_eq!(one.installed("foo"), ["1.1-1"]);
    assert_eq!(one.installed("glibc"), ["2.28-2"]);
    // glibc and the kernel need a reboot; it ran after the results were posted.
    assert!(fs_err::metadata(one.dir.path().join("rebooted")).is_ok());
    let commands = admin.node_commands(&one.node_id).unwrap();
    assert_eq!(commands[0].state, CommandState::Succeeded, "{commands:#?}");
    let compliance = admin.node_compliance(&one.node_id, &[]).unwrap();
    assert_eq!(
        compliance.summary.status, "COMPLIANT",
        "{:#?}",
        compliance.items
    );

    // Scan on the other: nothing changes, compliance shows what is missing.
    admin
        .create_node_command(
            &two.node_id,
            &CreateNodeCommand {
                operation: TaskOperation::Scan,
                baseline_id: None,
                reboot_option: RebootOption::RebootIfNeeded,
                install_override_list: Vec::new(),
            },
        )
        .unwrap();
    assert_eq!(two.poll().ran.len(), 1);
    assert_eq!(two.installed("foo"), ["1.0-1"]);
    let compliance = admin.node_compliance(&two.node_id, &[]).unwrap();
    assert_eq!(compliance.summary.status, "NON_COMPLIANT");
    let foo = compliance.items.iter().find(|i| i.name == "foo").unwrap();
    assert_eq!(foo.state, "Missing");

    // A preview from the inventory the agent uploaded matches the agent's own scan.
    let preview_of = |states: &[&str]| {
        admin
            .preview(&PreviewRequest {
                baseline_id: None,
                node_ids: vec![two.node_id.clone()],
                targets: Vec::new(),
                at: None,
                include_not_applicable: false,
                states: states.iter().map(|s| (*s).to_owned()).collect(),
                limit: None,
                after: None,
            })
            .map_err(|error| error.to_string())
    };
    let preview = preview_of(&[]).unwrap();
    let evaluation = preview.nodes[0]
        .evaluation
        .as_ref()
        .unwrap_or_else(|| panic!("{:#?}", preview.nodes[0]));
    let missing: Vec<&str> = evaluation
        .patches
        .iter()
        .filter(|p| p.state == "Missing")
        .map(|p| p.name.as_str())
        .collect();
    let scanned: Vec<&str> = compliance
        .items
        .iter()
        .filter(|p| p.state == "Missing")
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(missing, scanned);
    // Asked for Missing only (in any case), it lists those and still counts everything.
    let only_missing = preview_of(&["missing"]).unwrap();
    let narrowed = only_missing.nodes[0].evaluation.as_ref().unwrap();
    let listed: Vec<&str> = narrowed.patches.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(listed, scanned);
    let counts = |s: &pw_api::evaluation::SummaryJson| {
        (
            s.installed,
            s.missing,
            s.failed,
            s.not_applicable,
            s.status.clone(),
        )
    };
    assert_eq!(counts(&narrowed.summary), counts(&evaluation.summary));
    let refused = preview_of(&["Missing", "Pending"]).unwrap_err().to_string();
    assert!(
        refused.contains("states[1]") && refused.contains("`Pending` is not a patch state"),
        "{refused}"
    );

    // A scan-only agent refuses an install: the command fails, saying why, and nothing
    // changes on the host.
    let refused = admin
        .create_node_command(
            &two.node_id,
            &CreateNodeCommand {
                operation: TaskOperation::Install,
                baseline_id: None,
                reboot_option: RebootOption::NoReboot,
                install_override_list: Vec::new(),
            },
        )
        .unwrap();
    let mut scan_only = two.template();
    scan_only.scan_only = true;
    let summary = daemon::poll_once(
        &two.client,
        &two.facts,
        &scan_only,
        Duration::from_secs(5),
        &Timestamp::now,
    )
    .unwrap();
    assert_eq!(summary.ran, std::slice::from_ref(&refused.id));
    assert_eq!(two.installed("foo"), ["1.0-1"]);
    let commands = admin.node_commands(&two.node_id).unwrap();
    let answered = commands.iter().find(|c| c.id == refused.id).unwrap();
    assert_eq!(answered.state, CommandState::Failed, "{answered:#?}");
    assert!(
        format!("{answered:?}").contains("--scan-only"),
        "{answered:#?}"
    );

    // Nothing left to run; a command is never run twice.
    assert!(one.poll().ran.is_empty());
}
