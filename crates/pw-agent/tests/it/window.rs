//! A maintenance window end to end: the real server (manual clock, so the test decides when
//! the window opens and when the runner hands out work), three real agents on three real
//! installroots, an Install task with max concurrency 1 and max errors 0, and the second host
//! with a broken repository. The execution must stop as the original does: the first host
//! patched, the second Failed, the third never started. On SQLite, and on PostgreSQL (one
//! server, then two replicas sharing it) when `PATCHWARDEN_TEST_PG_URL` is set.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pw_agent::AgentSettings;
use pw_agent::daemon;
use pw_api::server::agent::NodeFacts;
use pw_api::server::tokens::{CreateActivation, Role, Tag};
use pw_api::server::windows::{TaskSpec, WindowSpec, WindowTargetSpec};
use pw_client::{Client, ClientSettings};
use pw_core::baseline::OperatingSystem;
use pw_pkgmgr::PackageManager;
use pw_pkgmgr::hooks::ShellCommand;
use pw_server::{AppState, ManualClock, ServerSettings};
use pw_store::{Store, StoreSettings};
use pw_test_support::InstallRoot;
use serde_json::json;

const BASELINE: &str = r#"version = "1"
name = "AL2023-PRD"
operating_system = "AMAZON_LINUX_2023"
[[rules]]
classification = ["Security"]
severity = ["Critical", "Important"]
approve_after_days = 7
[[rules]]
classification = ["Bugfix"]
approve_after_days = 7
"#;

/// Replicas sharing one store, each serving HTTP, driven by one manual clock.
struct Fleet {
    runtime: tokio::runtime::Runtime,
    clock: Arc<ManualClock>,
    replicas: Vec<(AppState, String)>,
    admin: String,
    _dir: tempfile::TempDir,
}

fn fleet(store_settings: Option<StoreSettings>, n_replicas: usize) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::new("2024-05-01T00:00:00Z".parse().unwrap()));
    let settings =
        store_settings.unwrap_or_else(|| StoreSettings::sqlite(&dir.path().join("server.db")));
    let (replicas, admin) = runtime.block_on(async {
        let mut replicas = Vec::new();
        let mut admin = String::new();
        for index in 0..n_replicas {
            let store = Store::connect(&settings).await.unwrap();
            if index == 0 {
                admin = pw_server::create_token(&store, Role::Admin, None, Timestamp::now())
                    .await
                    .unwrap()
                    .token;
            }
            let state = AppState::new(store, clock.clone(), ServerSettings::default());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
            let serving = state.clone();
            tokio::spawn(async move {
                pw_server::serve(serving, listener, None, std::future::pending::<()>())
                    .await
                    .unwrap();
            });
            replicas.push((state, url));
        }
        (replicas, admin)
    });
    Fleet {
        runtime,
        clock,
        replicas,
        admin,
        _dir: dir,
    }
}

impl Fleet {
    fn admin(&self) -> Client {
        Client::new(ClientSettings::new(&self.replicas[0].1).with_secret(self.admin.clone()))
            .unwrap()
    }

    /// Every replica runs its scheduler and runner once (only one opens executions).
    fn tick(&self) {
        self.clock.advance(SignedDuration::from_secs(1));
        self.runtime.block_on(async {
            for (state, _) in &self.replicas {
                state.scheduler_tick().await.unwrap();
                state.runner_tick().await.unwrap();
            }
        });
    }
}

struct Host {
    root: InstallRoot,
    dir: tempfile::TempDir,
    client: Client,
    facts: NodeFacts,
}

impl Host {
    fn new(fleet: &Fleet, code: &str, index: usize, broken: bool) -> Host {
        let root = pw_test_support::standard().unwrap().old_root().unwrap();
        if broken {
            root.write_file(
                "/etc/yum.repos.d/fixture.repo",
                "[fixture]\nname=broken\nbaseurl=file:///nonexistent/pw-broken-repo\nenabled=1\ngpgcheck=0\n",
            )
            .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("proc")).unwrap();
        fs_err::write(dir.path().join("proc/stat"), "btime 1704067200\n").unwrap();
        let facts = NodeFacts {
            hostname: format!("prd-{index}"),
            operating_system: "AMAZON_LINUX_2023".to_owned(),
            product: "AmazonLinux2023".to_owned(),
            agent_version: "test".to_owned(),
            arch: Some("x86_64".to_owned()),
            machine_id: None,
        };
        let tags = vec![Tag {
            key: "Patch Group".to_owned(),
            value: "PRD".to_owned(),
        }];
        // Agents talk to any replica.
        let url = &fleet.replicas[index % fleet.replicas.len()].1;
        daemon::enroll(url, code, facts.clone(), tags, dir.path(), Timestamp::now()).unwrap();
        let (client, _) = daemon::client(dir.path()).unwrap();
        Host {
            root,
            dir,
            client,
            facts,
        }
    }

    fn poll(&self) -> usize {
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

    fn foo(&self) -> String {
        pw_pkgmgr::rpm::installed_packages(&self.root.settings())
            .unwrap()
            .into_iter()
            .find(|p| p.nevra.name == "foo")
            .unwrap()
            .nevra
            .evr
            .to_string()
    }
}

fn check_window_stops_at_the_first_error(fleet: &Fleet) {
    let admin = fleet.admin();
    let baseline = admin.create_baseline(BASELINE).unwrap();
    admin
        .register_patch_group("PRD", &baseline.summary.id)
        .unwrap();
    let code = admin
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: None,
            max_uses: Some(3),
            description: None,
            tags: Vec::new(),
        })
        .unwrap()
        .code;
    let hosts: Vec<Host> = (0..3).map(|i| Host::new(fleet, &code, i, i == 1)).collect();
    let spec: WindowSpec = serde_json::from_value(json!({
        "name": "prd-nightly", "schedule": "cron(0 2 * * ? *)", "duration_hours": 2, "cutoff_hours": 0
    }))
    .unwrap();
    let window = admin.create_window(&spec).unwrap();
    let target_spec: WindowTargetSpec = serde_json::from_value(json!({
        "targets": [{"key": "tag:Patch Group", "values": ["PRD"]}], "owner_information": "ops"
    }))
    .unwrap();
    let target = admin
        .create_window_target(&window.id, &target_spec)
        .unwrap();
    let task: TaskSpec = serde_json::from_value(json!({
        "operation": "Install",
        "targets": [{"key": "WindowTargetIds", "values": [target.id]}],
        "max_concurrency": "1", "max_errors": "0", "reboot_option": "RebootIfNeeded"
    }))
    .unwrap();
    admin.create_window_task(&window.id, &task).unwrap();

    // 02:00 on 2024-05-01: the window opens; the runner hands out one host at a time.
    fleet.clock.set("2024-05-01T02:00:00Z".parse().unwrap());
    fleet.tick();
    let mut ran = [0usize; 3];
    for _ in 0..6 {
        for (index, host) in hosts.iter().enumerate() {
            ran[index] += host.poll();
            fleet.tick();
        }
    }
    assert_eq!(
        ran,
        [1, 1, 0],
        "max concurrency 1, max errors 0: the third host never starts"
    );
    assert_eq!(hosts[0].foo(), "1.1-1");
    assert_eq!(hosts[1].foo(), "1.0-1");
    assert_eq!(hosts[2].foo(), "1.0-1");

    let executions = admin.executions(Some(&window.id)).unwrap();
    assert_eq!(executions.len(), 1);
    let execution = admin.execution(&executions[0].id).unwrap();
    let shown = serde_json::to_value(&execution).unwrap();
    assert_eq!(shown["status"], "FAILED", "{shown:#}");
    let statuses: Vec<&str> = shown["tasks"][0]["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["SUCCESS", "FAILED", "CANCELLED"], "{shown:#}");

    // Compliance per host, through the API.
    let nodes = admin.nodes(&[]).unwrap();
    let id_of = |hostname: &str| {
        nodes
            .iter()
            .find(|n| n.hostname == hostname)
            .unwrap()
            .id
            .clone()
    };
    let first = admin.node_compliance(&id_of("prd-0"), &[]).unwrap();
    assert_eq!(first.summary.status, "COMPLIANT", "{:#?}", first.items);
    assert!(
        admin.node_compliance(&id_of("prd-2"), &[]).is_err(),
        "the third host never reported"
    );
}

#[test]
fn window_stops_at_the_first_error_on_sqlite() {
    check_window_stops_at_the_first_error(&fleet(None, 1));
}

fn pg_settings() -> Option<StoreSettings> {
    let url = std::env::var_os("PATCHWARDEN_TEST_PG_URL")?
        .into_string()
        .ok()?;
    Some(StoreSettings {
        url,
        max_connections: Some(4),
        schema: Some(format!("pw_test_agent_{}", std::process::id())),
    })
}

#[test]
fn window_stops_at_the_first_error_on_postgres() {
    // Without PATCHWARDEN_TEST_PG_URL PostgreSQL is not configured here: nothing to check.
    let Some(settings) = pg_settings() else {
        return;
    };
    check_window_stops_at_the_first_error(&fleet(Some(settings), 1));
}

#[test]
fn window_stops_at_the_first_error_on_two_postgres_replicas() {
    let Some(mut settings) = pg_settings() else {
        return;
    };
    settings.schema = settings.schema.map(|s| format!("{s}_replicas"));
    check_window_stops_at_the_first_error(&fleet(Some(settings), 2));
}
