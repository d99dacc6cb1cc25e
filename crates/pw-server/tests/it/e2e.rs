//! End to end on `127.0.0.1:0`: the real server (plain and TLS) and the real client.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pw_api::server::agent::{
    CommandOutcome, CommandResult, CreateNodeCommand, EnrollRequest, NodeFacts,
};
use pw_api::server::tokens::{CreateActivation, Role};
use pw_api::server::windows::{RebootOption, TaskOperation};
use pw_client::{Client, ClientSettings};
use pw_server::{AppState, ServerSettings, SystemClock, TlsFiles};
use pw_store::{Store, StoreSettings};

struct Running {
    url: String,
    admin: String,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start(tls: Option<TlsFiles>) -> Running {
    start_with(tls, ServerSettings::default()).await
}

async fn start_with(tls: Option<TlsFiles>, settings: ServerSettings) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&StoreSettings::sqlite(&dir.path().join("e2e.db")))
        .await
        .unwrap();
    let admin = pw_server::create_token(&store, Role::Admin, None, jiff::Timestamp::now())
        .await
        .unwrap()
        .token;
    let state = AppState::new(store, Arc::new(SystemClock), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = if tls.is_some() {
        "localhost"
    } else {
        "127.0.0.1"
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        pw_server::serve(state, listener, tls, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Running {
        url: format!("{scheme}://{host}:{port}"),
        admin,
        stop,
        handle,
        _dir: dir,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .unwrap()
            .unwrap();
    }
}

/// Runs blocking client code off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_enrolls_polls_and_reports_through_the_client() {
    let server = start(None).await;
    let (url, admin) = (server.url.clone(), server.admin.clone());
    blocking(move || {
        let admin = Client::new(ClientSettings::new(&url).with_secret(admin)).unwrap();
        admin.health().unwrap();
        let code = admin
            .create_activation(&CreateActivation {
                allow_node_tags: true,
                expires_in_hours: None,
                max_uses: Some(2),
                description: None,
                tags: Vec::new(),
            })
            .unwrap()
            .code;
        let anonymous = Client::new(ClientSettings::new(&url)).unwrap();
        let facts = NodeFacts {
            hostname: "e2e-1".to_owned(),
            operating_system: "AMAZON_LINUX_2".to_owned(),
            product: "AmazonLinux2".to_owned(),
            agent_version: "0.1.0".to_owned(),
            arch: Some("x86_64".to_owned()),
            machine_id: None,
        };
        let enrolled = anonymous
            .enroll(&EnrollRequest {
                activation_code: code.clone(),
                facts: facts.clone(),
                tags: Vec::new(),
            })
            .unwrap();
        let other = anonymous
            .enroll(&EnrollRequest {
                activation_code: code.clone(),
                facts,
                tags: Vec::new(),
            })
            .unwrap();
        let refused = anonymous.enroll(&EnrollRequest {
            activation_code: code,
            facts: NodeFacts {
                hostname: "x".to_owned(),
                ..Default::default()
            },
            tags: Vec::new(),
        });
        assert!(refused.is_err());

        let node = anonymous.with_secret(&enrolled.credential);
        assert!(
            node.poll_commands(Duration::from_secs(0))
                .unwrap()
                .is_empty()
        );
        // No token, a read-only token on a write, and a node reading another's command: refused.
        assert_eq!(anonymous.nodes(&[]).unwrap_err().status(), Some(401));
        let reader = admin.with_secret(
            admin
                .create_token(Role::ReadOnly, Some("ro"))
                .unwrap()
                .token,
        );
        assert_eq!(
            reader
                .create_baseline("version = \"1\"")
                .unwrap_err()
                .status(),
            Some(403)
        );
        let command = admin
            .create_node_command(
                &enrolled.node_id,
                &CreateNodeCommand {
                    operation: TaskOperation::Scan,
                    baseline_id: None,
                    reboot_option: RebootOption::RebootIfNeeded,
                    install_override_list: Vec::new(),
                },
            )
            .unwrap();
        let intruder = anonymous.with_secret(&other.credential);
        assert!(
            intruder
                .poll_commands(Duration::from_secs(0))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            intruder
                .acknowledge_command(&command.id)
                .unwrap_err()
                .status(),
            Some(404)
        );

        let got = node.poll_commands(Duration::from_secs(5)).unwrap();
        assert_eq!(got.len(), 1);
        assert!(node.acknowledge_command(&got[0].id).unwrap().proceed);
        let result = CommandResult {
            outcome: CommandOutcome::Success,
            message: None,
            exit_code: Some(0),
            started_at: None,
            finished_at: None,
            report_id: None,
            summary: None,
        };
        node.post_command_result(&got[0].id, &result).unwrap();
        assert_eq!(
            admin.node_commands(&enrolled.node_id).unwrap()[0].state,
            pw_api::server::agent::CommandState::Succeeded
        );
        let metrics = admin.metrics().unwrap();
        assert!(metrics.contains("pw_agent_check_ins_total"), "{metrics}");
    })
    .await;
    server.stop().await;
}

/// docs/security.md: an activation code's tags bind, and failed authentications from one
/// address are held back (429, `Retry-After`) while credentials already verified keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_tags_bind_and_failed_authentications_are_held_back() {
    let settings = ServerSettings {
        auth_failure_limit: 4,
        ..ServerSettings::default()
    };
    let server = start_with(None, settings).await;
    let (url, admin) = (server.url.clone(), server.admin.clone());
    blocking(move || {
        let admin = Client::new(ClientSettings::new(&url).with_secret(admin)).unwrap();
        let code = |allow_node_tags| {
            admin
                .create_activation(&CreateActivation {
                    allow_node_tags,
                    expires_in_hours: None,
                    max_uses: Some(5),
                    description: None,
                    tags: vec![pw_api::server::tokens::Tag {
                        key: "Patch Group".to_owned(),
                        value: "AL2-PRD".to_owned(),
                    }],
                })
                .unwrap()
                .code
        };
        let (binding, closed) = (code(true), code(false));
        let anonymous = Client::new(ClientSettings::new(&url)).unwrap();
        // The error's status and text are all the test looks at.
        let enroll = |code: &str, tags: &[(&str, &str)]| -> Result<(), (Option<u16>, String)> {
            anonymous
                .enroll(&EnrollRequest {
                    activation_code: code.to_owned(),
                    facts: NodeFacts {
                        hostname: "tagged".to_owned(),
                        operating_system: "AMAZON_LINUX_2".to_owned(),
                        product: "AmazonLinux2".to_owned(),
                        agent_version: "0.1.0".to_owned(),
                        ..Default::default()
                    },
                    tags: tags
                        .iter()
                        .map(|(key, value)| pw_api::server::tokens::Tag {
                            key: (*key).to_owned(),
                            value: (*value).to_owned(),
                        })
                        .collect(),
                })
                .map(|_| ())
                .map_err(|error| (error.status(), error.to_string()))
        };
        // A node may not move itself to another patch group than its code's.
        let (status, message) = enroll(&binding, &[("Patch Group", "AL2-STG")]).unwrap_err();
        assert_eq!(status, Some(400), "{message}");
        assert!(message.contains("AL2-PRD"), "{message}");
        let (status, message) = enroll(&closed, &[("Role", "web")]).unwrap_err();
        assert_eq!(status, Some(400), "{message}");
        enroll(&binding, &[("Patch Group", "AL2-PRD"), ("Role", "web")]).unwrap();
        enroll(&closed, &[]).unwrap();
        let mut groups: Vec<_> = admin
            .nodes(&[])
            .unwrap()
            .into_iter()
            .map(|node| node.patch_group)
            .collect();
        groups.sort();
        assert_eq!(
            groups,
            [Some("AL2-PRD".to_owned()), Some("AL2-PRD".to_owned())]
        );

        // Four failures from this address are answered 401; then 429, whatever is presented.
        let guesser = anonymous.with_secret("pwt_guess");
        for _ in 0..4 {
            assert_eq!(guesser.nodes(&[]).unwrap_err().status(), Some(401));
        }
        let held = guesser.nodes(&[]).unwrap_err();
        assert_eq!(held.status(), Some(429), "{held}");
        assert!(held.to_string().contains("retry in"), "{held}");
        let (status, message) = enroll("pwa_guess", &[]).unwrap_err();
        assert_eq!(status, Some(429), "{message}");
        // The admin's token was verified a moment ago: it is not held back.
        admin.nodes(&[]).unwrap();
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tls_with_the_given_certificate() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data");
    let server = start(Some(TlsFiles {
        cert: data.join("server.pem"),
        key: data.join("server.key"),
    }))
    .await;
    let (url, admin) = (server.url.clone(), server.admin.clone());
    blocking(move || {
        let mut settings = ClientSettings::new(&url).with_secret(admin);
        settings.ca_pem = Some(fs_err::read(data.join("ca.pem")).unwrap());
        let client = Client::new(settings).unwrap();
        client.health().unwrap();
        assert!(!client.baselines().unwrap().is_empty());
        // Without the CA the server is not trusted.
        let untrusted = Client::new(ClientSettings::new(&url)).unwrap();
        assert!(matches!(
            untrusted.health(),
            Err(pw_client::ClientError::Transport { .. })
        ));
    })
    .await;
    server.stop().await;
}
