//! Previews of a Debian node, end to end: a real server, an agent enrolled for a Debian root
//! (real .debs, a normal and a security suite), its inventory uploaded by
//! `daemon::refresh_inventory` and after each command; the server's preview evaluates it with
//! the same `evaluate_apt` and agrees with the agent's own scan, BLOCK included.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use pw_agent::AgentSettings;
use pw_agent::daemon::{self, PollSummary};
use pw_api::evaluation::PatchJson;
use pw_api::server::agent::{CreateNodeCommand, NodeFacts, PreviewRequest};
use pw_api::server::tokens::{CreateActivation, Role};
use pw_api::server::windows::{RebootOption, TaskOperation};
use pw_client::{Client, ClientSettings};
use pw_core::baseline::{OperatingSystem, default_baseline};
use pw_pkgmgr::hooks::ShellCommand;
use pw_test_support::deb::{DebRoot, DebSpec, SuiteSpec, build_deb, build_repo, deb_root};

/// Rejects the library curl's security update depends on, blocking it.
const BLOCK: &str = r#"version = "1"
name = "DEB-BLOCK"
operating_system = "DEBIAN"
rejected_patches_action = "BLOCK"
[[rules]]
priority = ["Required", "Important", "Standard", "Optional", "Extra"]
approve_after_days = 0
enable_non_security = true
[[rejected_patches]]
id = "libcurl4"
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

/// A Debian 12 host: openssl 3.0.1 → 3.0.2 (security); curl 7.1 → 7.2 (normal) → 7.3
/// (security, depends on libcurl4, which is not installed); linux-image 1 → 2 (security);
/// tzdata (`all`) 2024a → 2024b (security); libcurl4 and an unrelated package only offered.
struct Host {
    dir: tempfile::TempDir,
    root: DebRoot,
}

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
                DebSpec::new("tzdata", "2024a-1").arch("all"),
                DebSpec::new("libcurl4", "7.3-1"),
                DebSpec::new("unrelated", "1.0-1"),
            ],
        ),
        (
            SuiteSpec::debian_bookworm_security(),
            vec![
                DebSpec::new("openssl", "3.0.2-1"),
                DebSpec::new("curl", "7.3-1").depends("libcurl4 (>= 7.3)"),
                DebSpec::new("linux-image-6.1-amd64", "2"),
                DebSpec::new("tzdata", "2024b-1").arch("all"),
            ],
        ),
    ];
    let repo = build_repo(&dir.path().join("repo"), &suites).unwrap();
    let root = deb_root(&dir.path().join("root"), &repo).unwrap();
    let base: Vec<_> = [
        DebSpec::new("openssl", "3.0.1-1"),
        DebSpec::new("curl", "7.1-1"),
        DebSpec::new("linux-image-6.1-amd64", "1"),
        DebSpec::new("tzdata", "2024a-1").arch("all"),
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
    // A scan on an apt host is read-only: the lists must be there already.
    let update =
        pw_pkgmgr::apt::update(&pw_pkgmgr::apt::AptSettings::new(root.root.clone())).unwrap();
    assert!(update.success(), "{update:?}");
    fs_err::create_dir_all(dir.path().join("proc")).unwrap();
    fs_err::write(dir.path().join("proc/stat"), "btime 1704067200\n").unwrap();
    Host { dir, root }
}

struct Agent {
    host: Host,
    client: Client,
    node_id: String,
    facts: NodeFacts,
}

impl Agent {
    fn enroll(server: &Server, code: &str) -> Agent {
        let host = host();
        let facts = NodeFacts {
            hostname: "deb-1".to_owned(),
            operating_system: "DEBIAN".to_owned(),
            product: "Debian12".to_owned(),
            agent_version: "test".to_owned(),
            arch: Some("amd64".to_owned()),
            machine_id: None,
        };
        let stored = daemon::enroll(
            &server.url,
            code,
            facts.clone(),
            Vec::new(),
            host.dir.path(),
            Timestamp::now(),
        )
        .unwrap();
        let (client, _) = daemon::client(host.dir.path()).unwrap();
        Agent {
            host,
            client,
            node_id: stored.node_id,
            facts,
        }
    }

    fn template(&self) -> AgentSettings {
        let dir = self.host.dir.path();
        let mut settings = AgentSettings::new(default_baseline(OperatingSystem::Debian));
        settings.root = self.host.root.root.clone();
        settings.state_dir = dir.to_path_buf();
        settings.proc_dir = dir.join("proc");
        settings.operating_system = Some(OperatingSystem::Debian);
        settings.product = Some("Debian12".to_owned());
        settings.reboot_command = ShellCommand {
            command: format!("touch {}", dir.join("rebooted").display()),
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
}

/// What a patch says, NotApplicable ones left out (the inventory carries only the versions
/// that matter for the installed packages).
fn applicable(patches: &[PatchJson]) -> Vec<(String, String, String, Option<String>, String)> {
    let mut rows: Vec<_> = patches
        .iter()
        .filter(|p| p.state != "NotApplicable")
        .map(|p| {
            (
                format!("{}:{}", p.name, p.arch),
                p.state.clone(),
                p.installed.clone().unwrap_or_default(),
                p.target.clone(),
                p.reason.clone(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn missing(patches: &[PatchJson]) -> Vec<(String, Option<String>)> {
    let mut rows: Vec<_> = patches
        .iter()
        .filter(|p| p.state == "Missing")
        .map(|p| (p.name.clone(), p.target.clone()))
        .collect();
    rows.sort();
    rows
}

fn preview(admin: &Client, node_id: &str, baseline_id: Option<&str>) -> Vec<PatchJson> {
    let preview = admin
        .preview(&PreviewRequest {
            baseline_id: baseline_id.map(str::to_owned),
            node_ids: vec![node_id.to_owned()],
            targets: Vec::new(),
            at: None,
            include_not_applicable: false,
            states: Vec::new(),
            limit: None,
            after: None,
        })
        .unwrap();
    preview.nodes[0]
        .evaluation
        .as_ref()
        .unwrap_or_else(|| panic!("{:#?}", preview.nodes[0]))
        .patches
        .clone()
}

/// Runs a scan command with `baseline_id` through the agent's poll loop and returns the
/// items of the compliance report it uploaded.
fn scan(admin: &Client, agent: &Agent, baseline_id: Option<&str>) -> Vec<PatchJson> {
    admin
        .create_node_command(
            &agent.node_id,
            &CreateNodeCommand {
                operation: TaskOperation::Scan,
                baseline_id: baseline_id.map(str::to_owned),
                reboot_option: RebootOption::NoReboot,
                install_override_list: Vec::new(),
            },
        )
        .unwrap();
    assert_eq!(agent.poll().ran.len(), 1);
    admin.node_compliance(&agent.node_id, &[]).unwrap().items
}

#[test]
fn previews_of_a_debian_node_match_its_agents_scan() {
    let server = start_server();
    let admin =
        Client::new(ClientSettings::new(&server.url).with_secret(server.admin.clone())).unwrap();
    let code = admin
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: None,
            max_uses: Some(1),
            description: Some("apt preview".to_owned()),
            tags: Vec::new(),
        })
        .unwrap()
        .code;
    let agent = Agent::enroll(&server, &code);

    // `agent run` at start: the Debian host uploads its apt inventory.
    assert!(
        daemon::refresh_inventory(
            &agent.client,
            &agent.facts,
            &agent.template(),
            &Timestamp::now
        )
        .unwrap()
    );
    let inventory = admin.node_inventory(&agent.node_id).unwrap();
    let apt = inventory.apt.as_ref().unwrap();
    assert_eq!(apt.native_arch, "amd64");
    let mut installed: Vec<&str> = apt.installed.iter().map(|p| p.name.as_str()).collect();
    installed.sort_unstable();
    assert_eq!(
        installed,
        ["curl", "linux-image-6.1-amd64", "openssl", "tzdata"]
    );
    // Only the names that matter: installed ones, and what a newer version depends on.
    assert!(apt.available.iter().any(|p| p.name == "libcurl4"));
    assert!(!apt.available.iter().any(|p| p.name == "unrelated"));

    // The node's own baseline (the Debian default: security updates at once).
    let before = preview(&admin, &agent.node_id, None);
    let scanned = scan(&admin, &agent, None);
    assert_eq!(
        missing(&before),
        [
            ("curl".to_owned(), Some("7.3-1".to_owned())),
            ("linux-image-6.1-amd64".to_owned(), Some("2".to_owned())),
            ("openssl".to_owned(), Some("3.0.2-1".to_owned())),
            ("tzdata".to_owned(), Some("2024b-1".to_owned())),
        ],
        "{before:#?}"
    );
    assert_eq!(missing(&before), missing(&scanned));
    assert_eq!(applicable(&before), applicable(&scanned));
    // The upload after the scan changes nothing.
    assert_eq!(
        applicable(&preview(&admin, &agent.node_id, None)),
        applicable(&scanned)
    );

    // BLOCK needs the versions of what curl 7.3 depends on: the preview sees them too.
    let block = admin.create_baseline(BLOCK).unwrap().summary.id;
    let previewed = preview(&admin, &agent.node_id, Some(&block));
    let scanned = scan(&admin, &agent, Some(&block));
    assert_eq!(applicable(&previewed), applicable(&scanned));
    let curl = previewed.iter().find(|p| p.name == "curl").unwrap();
    assert!(curl.reason.contains("libcurl4"), "{curl:#?}");

    // An rpm baseline for a Debian node is an error of that node, not of the request.
    let response = admin
        .preview(&PreviewRequest {
            baseline_id: Some("patchwarden-AmazonLinux2023Default".to_owned()),
            node_ids: vec![agent.node_id.clone()],
            targets: Vec::new(),
            at: None,
            include_not_applicable: false,
            states: Vec::new(),
            limit: None,
            after: None,
        })
        .unwrap();
    let error = response.nodes[0].error.as_deref().unwrap();
    assert!(error.contains("DEBIAN"), "{error}");
    assert!(response.nodes[0].evaluation.is_none());
}
