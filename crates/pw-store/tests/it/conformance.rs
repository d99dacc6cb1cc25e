//! The storage conformance suite. Each case is an `async fn(&Store)`; the `suite!` macro
//! makes a `sqlite::<case>` and a `pg::<case>` test of each.

use jiff::Timestamp;
use pw_store::{
    AckOutcome, ActivationRecord, BaselineRecord, CommandRecord, CompleteOutcome, ComplianceCounts,
    EnrollRefusal, ExecutionRecord, InventoryRecord, InvocationRecord, NewExecution, NewReport,
    NodeFacts, PatchGroupRecord, Store, StoreError, StoreSettings, TagRefusal, TaskExecutionRecord,
    TokenRecord, WindowPart, WindowPartRecord, WindowRecord, ids,
};

/// A store and what must live as long as it.
struct TestStore {
    store: Store,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestStore {
    async fn finish(self) {
        if let Some(schema) = &self.schema {
            self.store.drop_schema(schema).await.unwrap();
        }
        self.store.close().await;
    }
}

async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&StoreSettings::sqlite(&dir.path().join("test.db")))
        .await
        .unwrap();
    TestStore {
        store,
        _dir: Some(dir),
        schema: None,
    }
}

fn pg_url() -> Option<String> {
    std::env::var_os("PATCHWARDEN_TEST_PG_URL").and_then(|url| url.into_string().ok())
}

async fn postgres() -> Option<TestStore> {
    let url = pg_url()?;
    let schema = format!("pw_test_{}", ids::short_id("").to_lowercase());
    let store = Store::connect(&StoreSettings {
        url,
        max_connections: Some(4),
        schema: Some(schema.clone()),
    })
    .await
    .unwrap();
    Some(TestStore {
        store,
        _dir: None,
        schema: Some(schema),
    })
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let test = super::sqlite().await;
                    super::$case(&test.store).await;
                    test.finish().await;
                }
            )*
        }
        mod pg {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    // Without PATCHWARDEN_TEST_PG_URL this backend is not configured: nothing to check.
                    let Some(test) = super::postgres().await else { return };
                    super::$case(&test.store).await;
                    test.finish().await;
                }
            )*
        }
    };
}

suite!(
    migrations_are_idempotent,
    baselines_and_registrations,
    tokens,
    enrollment,
    nodes_and_inventories,
    compliance_history,
    windows_and_parts,
    executions,
    commands_exactly_once,
    concurrent_writers,
    audit_log,
    parallel_enrollments,
    releases_keep_when_first_learned,
    fleet_counts_equal_their_pages,
    patch_refs_follow_the_latest_report,
    history_keeps_unchanged_items_once,
    trends_and_critical_debt,
    reboot_reasons_approval_dates_and_latency,
    promotion_policies_and_guarded_writes,
);

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn baseline(id: &str, name: &str, os: &str) -> BaselineRecord {
    BaselineRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        operating_system: os.to_owned(),
        description: None,
        toml: format!("version = \"1\"\nname = \"{name}\"\noperating_system = \"{os}\"\n"),
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

fn facts(hostname: &str) -> NodeFacts {
    NodeFacts {
        hostname: hostname.to_owned(),
        operating_system: "AMAZON_LINUX_2".to_owned(),
        product: "AmazonLinux2".to_owned(),
        agent_version: "0.1.0".to_owned(),
        arch: Some("x86_64".to_owned()),
        machine_id: None,
    }
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn activation(store: &Store, code: &str, max_uses: i64, expires: &str) {
    activation_with(store, code, max_uses, expires, true).await;
}

async fn activation_with(
    store: &Store,
    code: &str,
    max_uses: i64,
    expires: &str,
    allow_node_tags: bool,
) {
    let record = ActivationRecord {
        id: ids::short_id("act-"),
        description: Some("test".to_owned()),
        tags: tags(&[("Env", "test"), ("Patch Group", "from-code")]),
        expires_at: at(expires),
        max_uses,
        uses: 0,
        created_at: at("2025-01-01T00:00:00Z"),
        allow_node_tags,
    };
    store
        .create_activation(&record, &ids::hash_secret(code))
        .await
        .unwrap();
}

/// Enrolls a node with a fresh one-use code; returns its id.
async fn node(store: &Store, hostname: &str) -> String {
    let code = ids::secret("pwa_");
    activation(store, &code, 1, "2030-01-01T00:00:00Z").await;
    let id = ids::short_id("mi-");
    let credential = ids::secret("pwn_");
    store
        .enroll_node(
            &ids::hash_secret(&code),
            &id,
            &ids::hash_secret(&credential),
            &facts(hostname),
            &[],
            at("2025-01-02T00:00:00Z"),
        )
        .await
        .unwrap()
        .unwrap();
    id
}

async fn migrations_are_idempotent(store: &Store) {
    // Connecting ran the migrations; running them again (another replica) changes nothing.
    store.ping().await.unwrap();
    store
        .create_baseline(&baseline("pb-1", "one", "AMAZON_LINUX_2"))
        .await
        .unwrap();
    assert_eq!(store.baselines().await.unwrap().len(), 1);
}

async fn baselines_and_registrations(store: &Store) {
    store
        .create_baseline(&baseline("pb-1", "prod-al2", "AMAZON_LINUX_2"))
        .await
        .unwrap();
    store
        .create_baseline(&baseline("pb-2", "stg-al2", "AMAZON_LINUX_2"))
        .await
        .unwrap();
    let duplicate = store
        .create_baseline(&baseline("pb-3", "prod-al2", "AMAZON_LINUX_2"))
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { .. })),
        "{duplicate:?}"
    );

    let names: Vec<_> = store
        .baselines()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["prod-al2", "stg-al2"]);
    assert_eq!(
        store.baseline_by_name("stg-al2").await.unwrap().unwrap().id,
        "pb-2"
    );
    assert!(store.baseline("pb-9").await.unwrap().is_none());

    let updated = store
        .update_baseline(
            "pb-2",
            "stg-al2-v2",
            "AMAZON_LINUX_2",
            Some("staging"),
            "text",
            at("2025-02-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.toml.as_str()),
        ("stg-al2-v2", "text")
    );
    assert_eq!(
        store
            .baseline("pb-2")
            .await
            .unwrap()
            .unwrap()
            .description
            .as_deref(),
        Some("staging")
    );
    let missing = store
        .update_baseline(
            "pb-9",
            "x-y-z",
            "AMAZON_LINUX_2",
            None,
            "t",
            at("2025-02-01T00:00:00Z"),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));

    // Defaults: one per OS, replaced on re-registration.
    store
        .set_default_baseline("AMAZON_LINUX_2", "pb-1", at("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .set_default_baseline("AMAZON_LINUX_2", "pb-2", at("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        store.default_baselines().await.unwrap(),
        [("AMAZON_LINUX_2".to_owned(), "pb-2".to_owned())]
    );

    // Patch groups: one baseline per group per OS.
    let registration = PatchGroupRecord {
        patch_group: "web servers/prod".to_owned(),
        operating_system: "AMAZON_LINUX_2".to_owned(),
        baseline_id: "pb-1".to_owned(),
    };
    store
        .register_patch_group(&registration, at("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    let again = store
        .register_patch_group(
            &PatchGroupRecord {
                baseline_id: "pb-2".to_owned(),
                ..registration.clone()
            },
            at("2025-01-01T00:00:00Z"),
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    let other_os = PatchGroupRecord {
        operating_system: "UBUNTU".to_owned(),
        ..registration.clone()
    };
    store
        .register_patch_group(&other_os, at("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(store.patch_groups().await.unwrap().len(), 2);

    // A registered baseline can be neither deleted nor moved to another OS.
    assert!(matches!(
        store.delete_baseline("pb-1").await,
        Err(StoreError::Conflict { .. })
    ));
    let moved = store
        .update_baseline(
            "pb-2",
            "stg",
            "UBUNTU",
            None,
            "t",
            at("2025-02-01T00:00:00Z"),
        )
        .await;
    assert!(
        matches!(moved, Err(StoreError::Conflict { .. })),
        "{moved:?}"
    );
    assert!(
        store
            .deregister_patch_group("web servers/prod", "AMAZON_LINUX_2")
            .await
            .unwrap()
    );
    assert!(
        store
            .deregister_patch_group("web servers/prod", "UBUNTU")
            .await
            .unwrap()
    );
    assert!(
        !store
            .deregister_patch_group("web servers/prod", "UBUNTU")
            .await
            .unwrap()
    );
    store.delete_baseline("pb-1").await.unwrap();
    assert!(matches!(
        store.delete_baseline("pb-1").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .clear_default_baseline("AMAZON_LINUX_2")
            .await
            .unwrap()
    );
    store.delete_baseline("pb-2").await.unwrap();
    assert!(store.baselines().await.unwrap().is_empty());
}

async fn tokens(store: &Store) {
    let secret = ids::secret("pwt_");
    let token = TokenRecord {
        id: "tok-1".to_owned(),
        name: Some("ci".to_owned()),
        role: "operator".to_owned(),
        created_at: at("2025-01-01T00:00:00Z"),
        revoked_at: None,
    };
    store
        .create_token(&token, &ids::hash_secret(&secret))
        .await
        .unwrap();
    assert_eq!(
        store
            .token_by_hash(&ids::hash_secret(&secret))
            .await
            .unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        store
            .token_by_hash(&ids::hash_secret("pwt_other"))
            .await
            .unwrap(),
        None
    );
    store
        .revoke_token("tok-1", at("2025-01-02T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        store
            .token_by_hash(&ids::hash_secret(&secret))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store
            .revoke_token("tok-1", at("2025-01-02T00:00:00Z"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let listed = store.tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(at("2025-01-02T00:00:00Z")));
}

async fn enrollment(store: &Store) {
    let now = at("2025-06-01T00:00:00Z");
    activation(store, "code-two-uses", 2, "2025-06-02T00:00:00Z").await;
    activation(store, "code-expired", 5, "2025-05-31T00:00:00Z").await;
    activation_with(store, "code-no-own-tags", 5, "2025-06-02T00:00:00Z", false).await;
    let enroll_tagged = |code: &'static str,
                         id: &'static str,
                         own: &'static [(&'static str, &'static str)]| async move {
        store
            .enroll_node(
                &ids::hash_secret(code),
                id,
                &ids::hash_secret(&format!("cred-{id}")),
                &facts(id),
                &tags(own),
                now,
            )
            .await
            .unwrap()
    };
    let enroll = |code: &'static str, id: &'static str| {
        enroll_tagged(code, id, &[("Patch Group", "from-code")])
    };
    // The code's tags bind: another value for a key the code sets is refused, and the refusal
    // uses nothing up.
    assert_eq!(
        enroll_tagged("code-two-uses", "mi-0", &[("Patch Group", "own")]).await,
        Err(EnrollRefusal::Tags(TagRefusal::SetByCode {
            key: "Patch Group".to_owned(),
            value: "from-code".to_owned()
        }))
    );
    let first = enroll_tagged(
        "code-two-uses",
        "mi-1",
        &[("Patch Group", "from-code"), ("Role", "web")],
    )
    .await
    .unwrap();
    // The same value may be repeated; keys the code does not set are the node's own.
    assert_eq!(
        first.tags,
        tags(&[
            ("Env", "test"),
            ("Patch Group", "from-code"),
            ("Role", "web")
        ])
    );
    assert_eq!(first.last_seen_at, Some(now));
    // A code that allows no tags of the node's own.
    assert_eq!(
        enroll_tagged("code-no-own-tags", "mi-6", &[("Role", "web")]).await,
        Err(EnrollRefusal::Tags(TagRefusal::NotAllowed {
            key: "Role".to_owned()
        }))
    );
    let plain = enroll_tagged("code-no-own-tags", "mi-7", &[("Env", "test")])
        .await
        .unwrap();
    assert_eq!(
        plain.tags,
        tags(&[("Env", "test"), ("Patch Group", "from-code")])
    );
    enroll("code-two-uses", "mi-2").await.unwrap();
    assert_eq!(
        enroll("code-two-uses", "mi-3").await,
        Err(EnrollRefusal::Exhausted)
    );
    assert_eq!(
        enroll("code-expired", "mi-4").await,
        Err(EnrollRefusal::Expired)
    );
    assert_eq!(
        enroll("no-such-code", "mi-5").await,
        Err(EnrollRefusal::UnknownCode)
    );
    assert_eq!(store.nodes().await.unwrap().len(), 3);
    let uses: Vec<_> = store
        .activations()
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.max_uses, a.uses))
        .collect();
    assert!(
        uses.contains(&(2, 2)) && uses.contains(&(5, 0)) && uses.contains(&(5, 1)),
        "{uses:?}"
    );
    assert_eq!(
        store
            .node_id_by_credential(&ids::hash_secret("cred-mi-2"))
            .await
            .unwrap()
            .as_deref(),
        Some("mi-2")
    );
    assert_eq!(
        store
            .node_id_by_credential(&ids::hash_secret("cred-mi-3"))
            .await
            .unwrap(),
        None
    );
}

async fn nodes_and_inventories(store: &Store) {
    let id = node(store, "web-1").await;
    store
        .set_node_tags(&id, &tags(&[("Role", "web")]))
        .await
        .unwrap();
    assert_eq!(
        store.node(&id).await.unwrap().unwrap().tags,
        tags(&[("Role", "web")])
    );
    assert!(matches!(
        store.set_node_tags("mi-none", &[]).await,
        Err(StoreError::NotFound { .. })
    ));

    // Check-ins only move forward.
    store
        .touch_nodes(&[(id.clone(), at("2025-03-01T00:00:00Z"))])
        .await
        .unwrap();
    store
        .touch_nodes(&[(id.clone(), at("2025-02-01T00:00:00Z"))])
        .await
        .unwrap();
    assert_eq!(
        store.node(&id).await.unwrap().unwrap().last_seen_at,
        Some(at("2025-03-01T00:00:00Z"))
    );

    let mut inventory = InventoryRecord {
        node_id: id.clone(),
        captured_at: at("2025-03-02T00:00:00Z"),
        uploaded_at: at("2025-03-02T00:00:01Z"),
        inventory_json: "{\"v\":1}".to_owned(),
    };
    let mut new_facts = facts("web-1.example");
    new_facts.agent_version = "0.2.0".to_owned();
    store.put_inventory(&inventory, &new_facts).await.unwrap();
    inventory.inventory_json = "{\"v\":2}".to_owned();
    store.put_inventory(&inventory, &new_facts).await.unwrap();
    assert_eq!(
        store.inventory(&id).await.unwrap().unwrap().inventory_json,
        "{\"v\":2}"
    );
    let record = store.node(&id).await.unwrap().unwrap();
    assert_eq!(
        (record.hostname.as_str(), record.agent_version.as_str()),
        ("web-1.example", "0.2.0")
    );
    assert_eq!(record.inventory_at, Some(at("2025-03-02T00:00:00Z")));
    assert_eq!(record.last_seen_at, Some(at("2025-03-02T00:00:01Z")));

    store.delete_node(&id).await.unwrap();
    assert!(store.node(&id).await.unwrap().is_none());
    assert!(store.inventory(&id).await.unwrap().is_none());
}

fn report(node_id: &str, reported_at: &str, missing: i64) -> NewReport {
    NewReport {
        node_id: node_id.to_owned(),
        reported_at: at(reported_at),
        operation: "Scan".to_owned(),
        baseline_id: Some("pb-1".to_owned()),
        patch_group: None,
        execution_id: None,
        command_id: None,
        operation_start: Some(at(reported_at)),
        operation_end: Some(at(reported_at)),
        evaluated_at: Some(at(reported_at)),
        status: if missing > 0 {
            "NON_COMPLIANT"
        } else {
            "COMPLIANT"
        }
        .to_owned(),
        counts: ComplianceCounts {
            installed: 10,
            missing,
            ..ComplianceCounts::default()
        },
        non_compliant_severity: None,
        items_json: format!("[{missing}]"),
        report_json: "{}".to_owned(),
        release: None,
        reboot_why: None,
        installs: Vec::new(),
    }
}

async fn compliance_history(store: &Store) {
    let a = node(store, "a").await;
    let b = node(store, "b").await;
    let first = store
        .append_report(&report(&a, "2025-01-01T00:00:00Z", 3))
        .await
        .unwrap();
    let second = store
        .append_report(&report(&a, "2025-02-01T00:00:00Z", 1))
        .await
        .unwrap();
    let third = store
        .append_report(&report(&a, "2025-03-01T00:00:00Z", 0))
        .await
        .unwrap();
    store
        .append_report(&report(&b, "2025-01-15T00:00:00Z", 2))
        .await
        .unwrap();
    assert!(first < second && second < third);

    assert_eq!(
        store.node(&a).await.unwrap().unwrap().latest_report_id,
        Some(third)
    );
    let latest = store.latest_reports().await.unwrap();
    assert_eq!(latest.len(), 2);
    let latest_a = latest.iter().find(|r| r.node_id == a).unwrap();
    assert_eq!(
        (
            latest_a.id,
            latest_a.status.as_str(),
            latest_a.counts.missing
        ),
        (third, "COMPLIANT", 0)
    );
    assert_eq!(
        store.report_items(second).await.unwrap().as_deref(),
        Some("[1]")
    );

    // History is newest first, filtered by [from, to).
    let history: Vec<_> = store
        .node_history(&a, None, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(history, [third, second, first]);
    let window: Vec<_> = store
        .node_history(
            &a,
            Some(at("2025-01-01T00:00:00Z")),
            Some(at("2025-03-01T00:00:00Z")),
            10,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(window, [second, first]);

    // Retention keeps every node's latest report, however old.
    assert_eq!(
        store
            .prune_reports(at("2026-01-01T00:00:00Z"))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.node_history(&a, None, None, 10).await.unwrap().len(),
        1
    );
    assert_eq!(
        store.node_history(&b, None, None, 10).await.unwrap().len(),
        1
    );
    let orphan = store
        .append_report(&report("mi-unknown", "2025-01-01T00:00:00Z", 0))
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound { .. })));
}

fn window(id: &str, next: Option<&str>, enabled: bool) -> WindowRecord {
    WindowRecord {
        id: id.to_owned(),
        name: format!("name-{id}"),
        enabled,
        spec_json: "{}".to_owned(),
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
        schedule_anchor_at: at("2025-01-01T00:00:00Z"),
        next_execution_at: next.map(at),
    }
}

async fn windows_and_parts(store: &Store) {
    store
        .create_window(&window("mw-1", Some("2025-01-02T00:00:00Z"), true))
        .await
        .unwrap();
    store
        .create_window(&window("mw-2", Some("2025-01-03T00:00:00Z"), true))
        .await
        .unwrap();
    store
        .create_window(&window("mw-3", Some("2025-01-01T00:00:00Z"), false))
        .await
        .unwrap();
    let due: Vec<_> = store
        .windows_due(at("2025-01-02T00:00:00Z"))
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(due, ["mw-1"]);
    store.set_next_execution("mw-1", None).await.unwrap();
    assert!(
        store
            .windows_due(at("2025-01-02T00:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );

    let mut changed = window("mw-2", None, false);
    changed.spec_json = "{\"x\":1}".to_owned();
    store.update_window(&changed).await.unwrap();
    assert_eq!(store.window("mw-2").await.unwrap().unwrap(), changed);
    assert!(matches!(
        store.update_window(&window("mw-9", None, true)).await,
        Err(StoreError::NotFound { .. })
    ));

    let part = |id: &str, priority: i64| WindowPartRecord {
        id: id.to_owned(),
        window_id: "mw-1".to_owned(),
        priority,
        spec_json: "{}".to_owned(),
        created_at: at("2025-01-01T00:00:00Z"),
    };
    store
        .create_window_part(WindowPart::Target, &part("t-1", 0))
        .await
        .unwrap();
    store
        .create_window_part(WindowPart::Task, &part("k-2", 5))
        .await
        .unwrap();
    store
        .create_window_part(WindowPart::Task, &part("k-1", 1))
        .await
        .unwrap();
    let orphan = WindowPartRecord {
        window_id: "mw-9".to_owned(),
        ..part("t-9", 0)
    };
    assert!(matches!(
        store.create_window_part(WindowPart::Target, &orphan).await,
        Err(StoreError::NotFound { .. })
    ));
    let tasks: Vec<_> = store
        .window_parts(WindowPart::Task, "mw-1")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(tasks, ["k-1", "k-2"]);
    store
        .update_window_part(WindowPart::Task, &part("k-2", 0))
        .await
        .unwrap();
    let tasks: Vec<_> = store
        .window_parts(WindowPart::Task, "mw-1")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(tasks, ["k-2", "k-1"]);
    store
        .delete_window_part(WindowPart::Task, "mw-1", "k-2")
        .await
        .unwrap();
    assert!(matches!(
        store
            .delete_window_part(WindowPart::Task, "mw-1", "k-2")
            .await,
        Err(StoreError::NotFound { .. })
    ));

    store.delete_window("mw-1").await.unwrap();
    assert!(
        store
            .window_parts(WindowPart::Target, "mw-1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.windows().await.unwrap().len(), 2);
}

fn execution(id: &str, window_id: &str, scheduled: &str, status: &str) -> ExecutionRecord {
    ExecutionRecord {
        id: id.to_owned(),
        window_id: window_id.to_owned(),
        status: status.to_owned(),
        status_details: None,
        scheduled_at: at(scheduled),
        started_at: Some(at(scheduled)),
        ended_at: None,
        window_end_at: None,
        last_task_start_at: None,
        evaluation_instant: Some(at(scheduled)),
        cancel_requested: false,
        created_at: at(scheduled),
    }
}

fn invocation(
    id: &str,
    task: &str,
    execution_id: &str,
    node_id: &str,
    seq: i64,
) -> InvocationRecord {
    InvocationRecord {
        id: id.to_owned(),
        task_execution_id: task.to_owned(),
        execution_id: execution_id.to_owned(),
        node_id: node_id.to_owned(),
        seq,
        status: "PENDING".to_owned(),
        status_details: None,
        command_id: None,
        baseline_id: Some("pb-1".to_owned()),
        patch_group: None,
        window_target_id: None,
        owner_information: None,
        started_at: None,
        ended_at: None,
    }
}

async fn executions(store: &Store) {
    let new = NewExecution {
        execution: execution("ex-1", "mw-1", "2025-01-01T02:00:00Z", "IN_PROGRESS"),
        baselines: vec![("pb-1".to_owned(), "toml text".to_owned())],
        tasks: vec![TaskExecutionRecord {
            id: "te-1".to_owned(),
            execution_id: "ex-1".to_owned(),
            task_id: "k-1".to_owned(),
            priority: 1,
            operation: "Install".to_owned(),
            status: "PENDING".to_owned(),
            status_details: None,
            started_at: None,
            ended_at: None,
            targets: 3,
            concurrency: 1,
            error_threshold: 0,
            outcome: None,
            spec_json: "{}".to_owned(),
        }],
        invocations: (0..3)
            .map(|i| invocation(&format!("in-{i}"), "te-1", "ex-1", &format!("mi-{i}"), i))
            .collect(),
    };
    store.open_execution(&new).await.unwrap();
    // The same occurrence again (another replica): a conflict, nothing written twice.
    let again = NewExecution {
        execution: execution("ex-2", "mw-1", "2025-01-01T02:00:00Z", "IN_PROGRESS"),
        ..new.clone()
    };
    assert!(matches!(
        store.open_execution(&again).await,
        Err(StoreError::Conflict { .. })
    ));
    store
        .record_execution(&execution(
            "ex-3",
            "mw-1",
            "2025-01-01T03:00:00Z",
            "SKIPPED_OVERLAPPING",
        ))
        .await
        .unwrap();
    // Another occurrence (or an operator's run) while ex-1 still runs: at most one execution
    // of a window runs at a time, whichever replica races to open it.
    let concurrent = NewExecution {
        execution: execution("ex-4", "mw-1", "2025-01-01T04:00:00Z", "IN_PROGRESS"),
        ..new.clone()
    };
    assert!(matches!(
        store.open_execution(&concurrent).await,
        Err(StoreError::Conflict { .. })
    ));

    assert_eq!(
        store.active_execution("mw-1").await.unwrap().unwrap().id,
        "ex-1"
    );
    let listed: Vec<_> = store
        .executions(Some("mw-1"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, ["ex-3", "ex-1"]);
    assert_eq!(
        store
            .execution_baseline("ex-1", "pb-1")
            .await
            .unwrap()
            .as_deref(),
        Some("toml text")
    );

    let now = at("2025-01-01T02:00:05Z");
    let mut tx = store.begin_write().await.unwrap();
    let claimed = tx.claim_active_executions(10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["ex-1"]
    );
    let tasks = tx.task_executions("ex-1").await.unwrap();
    assert_eq!(tasks.len(), 1);
    tx.set_task_status("te-1", "IN_PROGRESS", None, Some(now), None)
        .await
        .unwrap();
    tx.set_task_outcome("te-1", "FAILED").await.unwrap();
    tx.set_task_outcome("te-1", "TIMED_OUT").await.unwrap();
    let pending = tx
        .invocations_in_status("te-1", "PENDING", 2)
        .await
        .unwrap();
    assert_eq!(pending.iter().map(|i| i.seq).collect::<Vec<_>>(), [0, 1]);
    assert!(
        tx.set_invocation_status(
            "in-0",
            "PENDING",
            "IN_PROGRESS",
            Some("sent"),
            Some("cmd-0"),
            Some(now),
            None
        )
        .await
        .unwrap()
    );
    assert!(
        !tx.set_invocation_status("in-0", "PENDING", "FAILED", None, None, None, None)
            .await
            .unwrap()
    );
    assert_eq!(
        tx.invocation_counts("te-1").await.unwrap(),
        [("IN_PROGRESS".to_owned(), 1), ("PENDING".to_owned(), 2)]
    );
    assert_eq!(
        tx.finish_invocations_in_status("te-1", "PENDING", "CANCELLED", "stopped", now)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tx.execution_baseline("ex-1", "pb-1")
            .await
            .unwrap()
            .as_deref(),
        Some("toml text")
    );
    tx.commit().await.unwrap();

    let invocations = store.execution_invocations("ex-1").await.unwrap();
    assert_eq!(
        invocations
            .iter()
            .map(|i| (i.status.as_str(), i.command_id.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("IN_PROGRESS", Some("cmd-0")),
            ("CANCELLED", None),
            ("CANCELLED", None)
        ]
    );
    let task = &store.task_executions("ex-1").await.unwrap()[0];
    assert_eq!(
        (task.started_at, task.outcome.as_deref()),
        (Some(now), Some("FAILED"))
    );

    let cancelled = store
        .request_cancel("ex-1", "cancelled by test")
        .await
        .unwrap();
    assert_eq!(
        (cancelled.status.as_str(), cancelled.cancel_requested),
        ("CANCELLING", true)
    );
    let mut tx = store.begin_write().await.unwrap();
    tx.set_execution_status("ex-1", "CANCELLED", None, None, Some(now))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(store.active_execution("mw-1").await.unwrap().is_none());
    // Cancelling a finished execution changes nothing.
    assert_eq!(
        store.request_cancel("ex-1", "again").await.unwrap().status,
        "CANCELLED"
    );
    assert!(matches!(
        store.request_cancel("ex-9", "x").await,
        Err(StoreError::NotFound { .. })
    ));
}

fn command(id: &str, node_id: &str, created: &str, invocation_id: Option<&str>) -> CommandRecord {
    CommandRecord {
        id: id.to_owned(),
        node_id: node_id.to_owned(),
        kind: "patch".to_owned(),
        payload_json: "{}".to_owned(),
        state: "pending".to_owned(),
        created_at: at(created),
        delivered_at: None,
        deliveries: 0,
        acknowledged_at: None,
        completed_at: None,
        ack_deadline_at: Some(at("2025-01-01T01:00:00Z")),
        finish_deadline_at: None,
        result_json: None,
        invocation_id: invocation_id.map(ToOwned::to_owned),
    }
}

async fn commands_exactly_once(store: &Store) {
    let t0 = at("2025-01-01T00:00:00Z");
    let seconds = |n: i64| t0.checked_add(jiff::SignedDuration::from_secs(n)).unwrap();
    let mut new = NewExecution {
        execution: execution("ex-1", "mw-1", "2025-01-01T00:00:00Z", "IN_PROGRESS"),
        baselines: Vec::new(),
        tasks: Vec::new(),
        invocations: vec![invocation("in-1", "te-1", "ex-1", "mi-a", 0)],
    };
    new.tasks.push(TaskExecutionRecord {
        id: "te-1".to_owned(),
        execution_id: "ex-1".to_owned(),
        task_id: "k".to_owned(),
        priority: 1,
        operation: "Install".to_owned(),
        status: "IN_PROGRESS".to_owned(),
        status_details: None,
        started_at: None,
        ended_at: None,
        targets: 1,
        concurrency: 1,
        error_threshold: 0,
        outcome: None,
        spec_json: "{}".to_owned(),
    });
    new.invocations[0].status = "IN_PROGRESS".to_owned();
    store.open_execution(&new).await.unwrap();
    store
        .create_command(&command(
            "cmd-1",
            "mi-a",
            "2025-01-01T00:00:00Z",
            Some("in-1"),
        ))
        .await
        .unwrap();
    store
        .create_command(&command("cmd-2", "mi-b", "2025-01-01T00:00:01Z", None))
        .await
        .unwrap();
    assert_eq!(
        store.recent_pending_commands(t0).await.unwrap(),
        [
            ("cmd-1".to_owned(), "mi-a".to_owned()),
            ("cmd-2".to_owned(), "mi-b".to_owned())
        ]
    );

    // Handed out once; not again until the redelivery delay has passed without an ack.
    assert!(
        store
            .has_deliverable_commands("mi-a", seconds(10))
            .await
            .unwrap()
    );
    let first = store
        .deliver_commands("mi-a", seconds(10), seconds(10), 10)
        .await
        .unwrap();
    assert_eq!(
        first
            .iter()
            .map(|c| (c.id.as_str(), c.deliveries))
            .collect::<Vec<_>>(),
        [("cmd-1", 1)]
    );
    assert!(
        !store
            .has_deliverable_commands("mi-a", seconds(10))
            .await
            .unwrap()
    );
    assert!(
        store
            .deliver_commands("mi-a", seconds(20), seconds(5), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .deliver_commands("mi-a", seconds(100), seconds(40), 10)
        .await
        .unwrap();
    assert_eq!(again.iter().map(|c| c.deliveries).collect::<Vec<_>>(), [2]);

    // Another node can neither acknowledge nor finish it.
    assert_eq!(
        store
            .acknowledge_command("mi-b", "cmd-1", seconds(101))
            .await
            .unwrap(),
        AckOutcome::NotFound
    );
    assert_eq!(
        store
            .complete_command("mi-b", "cmd-1", "succeeded", "{}", seconds(101))
            .await
            .unwrap(),
        CompleteOutcome::NotFound
    );
    // The first ack proceeds; a repeated ack (lost answer) says so; no more deliveries.
    assert_eq!(
        store
            .acknowledge_command("mi-a", "cmd-1", seconds(101))
            .await
            .unwrap(),
        AckOutcome::Proceed { repeated: false }
    );
    assert_eq!(
        store
            .acknowledge_command("mi-a", "cmd-1", seconds(102))
            .await
            .unwrap(),
        AckOutcome::Proceed { repeated: true }
    );
    assert!(
        store
            .deliver_commands("mi-a", seconds(1000), seconds(1000), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The first result counts and ends the invocation; a repeated result changes nothing.
    assert_eq!(
        store
            .complete_command("mi-a", "cmd-1", "succeeded", "{\"ok\":1}", seconds(200))
            .await
            .unwrap(),
        CompleteOutcome::Recorded {
            state: "succeeded".to_owned()
        }
    );
    assert_eq!(
        store
            .complete_command("mi-a", "cmd-1", "failed", "{}", seconds(201))
            .await
            .unwrap(),
        CompleteOutcome::AlreadyFinal {
            state: "succeeded".to_owned()
        }
    );
    let invocations = store.execution_invocations("ex-1").await.unwrap();
    assert_eq!(
        (invocations[0].status.as_str(), invocations[0].ended_at),
        ("SUCCESS", Some(seconds(200)))
    );
    let stored = store.command("cmd-1").await.unwrap().unwrap();
    assert_eq!(
        (stored.state.as_str(), stored.result_json.as_deref()),
        ("succeeded", Some("{\"ok\":1}"))
    );

    // Not acknowledged before its deadline: refused, never run.
    assert_eq!(
        store
            .acknowledge_command("mi-b", "cmd-2", at("2025-01-01T02:00:00Z"))
            .await
            .unwrap(),
        AckOutcome::Refused {
            state: "timed_out".to_owned()
        }
    );
    store
        .create_command(&command("cmd-3", "mi-b", "2025-01-01T00:00:02Z", None))
        .await
        .unwrap();
    let mut tx = store.begin_write().await.unwrap();
    assert!(
        tx.end_command("cmd-3", "cancelled", seconds(3))
            .await
            .unwrap()
    );
    assert!(
        !tx.end_command("cmd-3", "timed_out", seconds(4))
            .await
            .unwrap()
    );
    assert_eq!(
        tx.command("cmd-3").await.unwrap().unwrap().state,
        "cancelled"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .acknowledge_command("mi-b", "cmd-3", seconds(5))
            .await
            .unwrap(),
        AckOutcome::Refused {
            state: "cancelled".to_owned()
        }
    );
    assert_eq!(store.node_commands("mi-b", 10).await.unwrap().len(), 2);
}

async fn concurrent_writers(store: &Store) {
    let id = node(store, "busy").await;
    let mut handles = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        let id = id.clone();
        handles.push(tokio::spawn(async move {
            store
                .append_report(&report(&id, &format!("2025-01-01T00:00:{i:02}Z"), i))
                .await
                .unwrap();
            store
                .touch_nodes(&[(id.clone(), at("2025-01-01T00:00:00Z"))])
                .await
                .unwrap();
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(
        store
            .node_history(&id, None, None, 100)
            .await
            .unwrap()
            .len(),
        16
    );
}

async fn audit_log(store: &Store) {
    store
        .audit(
            at("2025-01-01T00:00:00Z"),
            "token:t1",
            "baseline.create",
            Some("pb-1"),
            None,
        )
        .await
        .unwrap();
    store
        .audit(
            at("2025-01-01T00:00:01Z"),
            "scheduler",
            "execution.open",
            Some("ex-1"),
            Some("{}"),
        )
        .await
        .unwrap();
    let events = store.audit_events(10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["execution.open", "baseline.create"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_scheduler_lock_is_held_by_one_store_at_a_time() {
    let Some(url) = pg_url() else { return };
    let schema = format!("pw_test_{}", ids::short_id("").to_lowercase());
    let settings = StoreSettings {
        url,
        max_connections: Some(3),
        schema: Some(schema.clone()),
    };
    let one = Store::connect(&settings).await.unwrap();
    let two = Store::connect(&settings).await.unwrap();
    let mut lock = one
        .try_scheduler_lock()
        .await
        .unwrap()
        .expect("the first replica takes the lock");
    assert!(two.try_scheduler_lock().await.unwrap().is_none());
    lock.check().await.unwrap();
    lock.release().await;
    let lock = two
        .try_scheduler_lock()
        .await
        .unwrap()
        .expect("released, so the second replica takes it");
    lock.release().await;
    one.drop_schema(&schema).await.unwrap();
}

#[tokio::test]
async fn sqlite_scheduler_lock_is_always_held() {
    let test = sqlite().await;
    let mut lock = test.store.try_scheduler_lock().await.unwrap().unwrap();
    lock.check().await.unwrap();
    lock.release().await;
    test.finish().await;
}

#[tokio::test]
async fn unsupported_urls_are_named() {
    let error = Store::connect(&StoreSettings {
        url: "mysql://u:secret@h/db".to_owned(),
        max_connections: None,
        schema: None,
    })
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "database url `mysql://u:***@h/db` is not supported: expected `sqlite://...` or `postgres://...`"
    );
}

/// 30 enrollments at once against a code with 3 uses: exactly 3 enroll, the other 27 are
/// refused as exhausted, none fails (issue 15: a refusal that left its write transaction to
/// be rolled back later made the next writer fail with "database is locked" on SQLite).
async fn parallel_enrollments(store: &Store) {
    let now = at("2025-06-01T00:00:00Z");
    activation(store, "code-three-uses", 3, "2025-06-02T00:00:00Z").await;
    let mut tasks = Vec::new();
    for n in 0..30 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("mi-par-{n}");
            store
                .enroll_node(
                    &ids::hash_secret("code-three-uses"),
                    &id,
                    &ids::hash_secret(&format!("cred-{id}")),
                    &facts(&id),
                    &[],
                    now,
                )
                .await
        }));
    }
    let (mut enrolled, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(Ok(_)) => enrolled += 1,
            Ok(Err(EnrollRefusal::Exhausted)) => refused += 1,
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    assert_eq!((enrolled, refused), (3, 27));
}

/// Releases are recorded once: a second learning keeps the first instant and source, and a
/// listing "learned by T" leaves out what came later (an execution's view).
async fn releases_keep_when_first_learned(store: &Store) {
    let os = "AMAZON_LINUX_2023";
    let first = vec![("2023.6.20250101".to_owned(), "2025-01-01".to_owned())];
    let both = vec![
        ("2023.6.20250101".to_owned(), "2025-01-01".to_owned()),
        ("2023.6.20250201".to_owned(), "2025-02-01".to_owned()),
    ];
    let t1 = at("2025-02-01T00:00:00Z");
    let t2 = at("2025-02-02T00:00:00Z");
    assert_eq!(
        store
            .learn_releases(os, &first, "import:alice", t1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .learn_releases(os, &both, "releasemd:x", t2)
            .await
            .unwrap(),
        1
    );
    let mut all = store.releases(os, None).await.unwrap();
    all.sort_by(|a, b| a.version.cmp(&b.version));
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0].learned_at, all[0].source.as_str()),
        (t1, "import:alice")
    );
    assert_eq!(
        (all[1].learned_at, all[1].release_date.as_str()),
        (t2, "2025-02-01")
    );
    let by_t1 = store.releases(os, Some(t1)).await.unwrap();
    assert_eq!(by_t1.len(), 1);
    assert!(
        store
            .releases("AMAZON_LINUX_2", None)
            .await
            .unwrap()
            .is_empty()
    );
    let mut tx = store.begin_write().await.unwrap();
    assert_eq!(tx.releases(os, Some(t2)).await.unwrap().len(), 2);
    tx.rollback().await.unwrap();
}

/// Every node is in exactly one state; the count of each state is the length of its list,
/// walked page by page; filters apply to both.
async fn fleet_counts_equal_their_pages(store: &Store) {
    use pw_store::{FleetFilter, NodeState};
    let never = node(store, "h-never").await;
    let stale = node(store, "h-stale").await;
    let failed = node(store, "h-failed").await;
    let reboot = node(store, "h-reboot").await;
    let missing = node(store, "h-missing").await;
    let fine = node(store, "h-fine").await;
    let mut r = report(&stale, "2025-01-01T00:00:00Z", 0);
    store.append_report(&r).await.unwrap();
    r = report(&failed, "2025-03-01T00:00:00Z", 0);
    r.counts.failed = 1;
    r.status = "NON_COMPLIANT".to_owned();
    store.append_report(&r).await.unwrap();
    r = report(&reboot, "2025-03-01T00:00:00Z", 0);
    r.counts.installed_pending_reboot = 2;
    r.status = "NON_COMPLIANT".to_owned();
    store.append_report(&r).await.unwrap();
    r = report(&missing, "2025-03-01T00:00:00Z", 4);
    r.non_compliant_severity = Some("CRITICAL".to_owned());
    store.append_report(&r).await.unwrap();
    store
        .append_report(&report(&fine, "2025-03-01T00:00:00Z", 0))
        .await
        .unwrap();
    store
        .set_node_tags(&fine, &tags(&[("PatchGroup", "PRD")]))
        .await
        .unwrap();
    let stale_before = at("2025-02-01T00:00:00Z");

    let all = FleetFilter::default();
    let counts = store.fleet_counts(stale_before, &all).await.unwrap();
    let counts_before_optimize = counts.clone();
    let expect = [
        (NodeState::Compliant, &fine),
        (NodeState::NonCompliant, &missing),
        (NodeState::PendingReboot, &reboot),
        (NodeState::FailedLastOperation, &failed),
        (NodeState::Stale, &stale),
        (NodeState::NeverReported, &never),
    ];
    for (state, id) in expect {
        assert_eq!(
            counts.iter().find(|(s, _)| *s == state).unwrap().1,
            1,
            "{state:?}: {counts:?}"
        );
        let filter = FleetFilter {
            state: Some(state),
            ..FleetFilter::default()
        };
        let page = store
            .fleet_page(stale_before, &filter, None, 100)
            .await
            .unwrap();
        assert_eq!(page.len(), 1, "{state:?}");
        assert_eq!(page[0].node.id, *id);
        assert_eq!(page[0].state, state);
    }
    let missing_row = &store
        .fleet_page(
            stale_before,
            &FleetFilter {
                severity: Some("CRITICAL".to_owned()),
                ..FleetFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap()[0];
    assert_eq!(
        (missing_row.missing, missing_row.node.id.as_str()),
        (4, missing.as_str())
    );
    assert_eq!(missing_row.last_scan_at, Some(at("2025-03-01T00:00:00Z")));
    assert_eq!(missing_row.last_install_at, None);

    // Keyset pages of 4 walk every node once, in hostname order.
    let mut seen = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let page = store
            .fleet_page(
                stale_before,
                &all,
                after.as_ref().map(|(h, i)| (h.as_str(), i.as_str())),
                4,
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some((last.node.hostname.clone(), last.node.id.clone()));
        seen.extend(page.into_iter().map(|row| row.node.hostname));
    }
    assert_eq!(
        seen,
        [
            "h-failed",
            "h-fine",
            "h-missing",
            "h-never",
            "h-reboot",
            "h-stale"
        ]
    );

    // The patch group follows the tags (`PatchGroup` when there is no `Patch Group`).
    let prd = FleetFilter {
        patch_group: Some("PRD".to_owned()),
        ..FleetFilter::default()
    };
    let counts = store.fleet_counts(stale_before, &prd).await.unwrap();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<i64>(), 1, "{counts:?}");
    let from_code = FleetFilter {
        patch_group: Some("from-code".to_owned()),
        hostname_prefix: Some("h-f".to_owned()),
        ..FleetFilter::default()
    };
    let page = store
        .fleet_page(stale_before, &from_code, None, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].node.hostname, "h-failed");
    // Tags match exactly (LIKE's wildcards in a value are plain characters).
    store
        .set_node_tags(
            &missing,
            &tags(&[("Env", "50%_off"), ("Patch Group", "from-code")]),
        )
        .await
        .unwrap();
    let tagged = |key: &str, value: &str| FleetFilter {
        tag: Some((key.to_owned(), value.to_owned())),
        ..FleetFilter::default()
    };
    let page = store
        .fleet_page(stale_before, &tagged("Env", "50%_off"), None, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].node.id, missing);
    for other in [
        ("Env", "50%"),
        ("Env", "50x_off"),
        ("Env", "%"),
        ("env", "50%_off"),
    ] {
        let page = store
            .fleet_page(stale_before, &tagged(other.0, other.1), None, 10)
            .await
            .unwrap();
        assert!(page.is_empty(), "{other:?}");
    }
    // Refreshing the planner's statistics changes no answer.
    store.optimize().await.unwrap();
    assert_eq!(
        store.fleet_counts(stale_before, &all).await.unwrap(),
        counts_before_optimize
    );
    let severities = store.fleet_severities().await.unwrap();
    assert!(
        severities.contains(&(Some("from-code".to_owned()), "CRITICAL".to_owned(), 1)),
        "{severities:?}"
    );
}

/// `patch_refs` answers "which nodes have CVE-X in which state" from each node's latest
/// report only, ids in any case.
async fn patch_refs_follow_the_latest_report(store: &Store) {
    let a = node(store, "a").await;
    let b = node(store, "b").await;
    let items = |state: &str| {
        serde_json::json!([
            {"name": "openssl", "arch": "x86_64", "state": state, "cves": ["CVE-2025-1101"],
             "advisories": ["ALAS2-2025-0101"], "reason": "rule 0"},
            {"name": "bash", "arch": "x86_64", "state": "Installed", "cves": [], "advisories": []},
            7
        ])
        .to_string()
    };
    let mut first = report(&a, "2025-01-01T00:00:00Z", 1);
    first.items_json = items("Missing");
    store.append_report(&first).await.unwrap();
    let mut other = report(&b, "2025-01-01T00:00:00Z", 0);
    other.items_json = items("Installed");
    store.append_report(&other).await.unwrap();
    let found = store.patch_refs("cve-2025-1101").await.unwrap();
    let states: Vec<(&str, &str)> = found
        .iter()
        .map(|(n, p)| (n.hostname.as_str(), p.state.as_str()))
        .collect();
    assert_eq!(states, [("a", "Missing"), ("b", "Installed")]);
    // A package that is not in place is found by name: openssl is Missing on a only.
    let by_package = pw_store::FleetFilter {
        package: Some("OpenSSL".to_owned()),
        ..pw_store::FleetFilter::default()
    };
    let page = store
        .fleet_page(at("2024-01-01T00:00:00Z"), &by_package, None, 10)
        .await
        .unwrap();
    let hosts: Vec<&str> = page.iter().map(|r| r.node.hostname.as_str()).collect();
    assert_eq!(hosts, ["a"]);
    assert_eq!(
        store
            .patch_refs(&pw_store::package_ref("openssl"))
            .await
            .unwrap()
            .len(),
        1
    );
    // A newer report replaces the node's rows.
    let mut second = report(&a, "2025-02-01T00:00:00Z", 0);
    second.items_json = items("Installed");
    store.append_report(&second).await.unwrap();
    let found = store.patch_refs("ALAS2-2025-0101").await.unwrap();
    assert!(
        found.iter().all(|(_, p)| p.state == "Installed"),
        "{found:?}"
    );
    assert_eq!(found.len(), 2);
    assert!(store.patch_refs("CVE-0000-0000").await.unwrap().is_empty());
    // The fleet list filters by a CVE or advisory of the latest report.
    let by_reference = pw_store::FleetFilter {
        reference: Some("alas2-2025-0101".to_owned()),
        ..pw_store::FleetFilter::default()
    };
    let page = store
        .fleet_page(at("2024-01-01T00:00:00Z"), &by_reference, None, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    store.delete_node(&b).await.unwrap();
    assert_eq!(store.patch_refs("CVE-2025-1101").await.unwrap().len(), 1);
}

/// A node whose items did not change between reports adds a row of counts, not another
/// copy of its items; each report still reads back whole, and retention drops the item
/// sets no report names (migration 16).
async fn history_keeps_unchanged_items_once(store: &Store) {
    let a = node(store, "a").await;
    let items = |state: &str| {
        serde_json::json!([
            {"name": "openssl", "arch": "x86_64", "state": state, "cves": ["CVE-2025-2202"],
             "advisories": ["ALAS2-2025-0202"], "reason": "rule 0"},
        ])
        .to_string()
    };
    let uploaded = |day: &str| {
        serde_json::json!({"operation": "Scan", "started_at": day, "patches": []}).to_string()
    };
    let mut ids = Vec::new();
    for (day, state) in [
        ("2025-04-01T00:00:00Z", "Missing"),
        ("2025-04-02T00:00:00Z", "Missing"),
        ("2025-04-03T00:00:00Z", "Installed"),
    ] {
        let mut r = report(&a, day, i64::from(state == "Missing"));
        r.items_json = items(state);
        r.report_json = uploaded(day);
        ids.push(store.append_report(&r).await.unwrap());
        // The unchanged second report keeps the CVE's rows, now those of the latest report.
        let found = store.patch_refs("CVE-2025-2202").await.unwrap();
        assert_eq!(found.len(), 1, "{day}");
        assert_eq!(found[0].1.state, state, "{day}");
    }
    let footprint = store.history_footprint().await.unwrap();
    assert_eq!((footprint.reports, footprint.item_sets), (3, 2));
    assert!(footprint.items_stored_bytes > 0 && footprint.items_raw_bytes > 0);
    let read = |text: Option<String>| -> serde_json::Value {
        serde_json::from_str(&text.expect("stored")).unwrap()
    };
    assert_eq!(
        read(store.report_items(ids[1]).await.unwrap()),
        read(Some(items("Missing")))
    );
    // The report reads back as uploaded, its patches put back from the shared items.
    let whole = read(store.report_json(ids[1]).await.unwrap());
    assert_eq!(whole["started_at"], "2025-04-02T00:00:00Z");
    assert_eq!(whole["patches"], read(Some(items("Missing"))));
    assert!(store.report_json(i64::MAX).await.unwrap().is_none());
    // Retention: the first two reports go, and with them the item set only they named.
    let pruned = store
        .prune_reports(at("2025-04-02T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    let footprint = store.history_footprint().await.unwrap();
    assert_eq!((footprint.reports, footprint.item_sets), (1, 1));
    assert_eq!(
        read(store.report_items(ids[2]).await.unwrap()),
        read(Some(items("Installed")))
    );
    // An item set used within two hours of the cut stays, named or not.
    let mut late = report(&a, "2025-04-05T00:00:00Z", 1);
    late.items_json = items("Missing");
    store.append_report(&late).await.unwrap();
    let mut latest = report(&a, "2025-04-05T01:00:00Z", 0);
    latest.items_json = items("Installed");
    store.append_report(&latest).await.unwrap();
    store
        .prune_reports(at("2025-04-05T00:30:00Z"))
        .await
        .unwrap();
    let footprint = store.history_footprint().await.unwrap();
    assert_eq!((footprint.reports, footprint.item_sets), (1, 2));
}

/// Compliance per patch group and day (each node by its last report of the day), and how
/// long nodes have been missing critical patches.
async fn trends_and_critical_debt(store: &Store) {
    let a = node(store, "a").await;
    let b = node(store, "b").await;
    let with_critical = |node: &str, at: &str, critical: i64| {
        let mut r = report(node, at, critical);
        r.patch_group = Some("web".to_owned());
        r.counts.critical_non_compliant = critical;
        r
    };
    for r in [
        with_critical(&a, "2025-03-01T01:00:00Z", 2),
        with_critical(&a, "2025-03-01T05:00:00Z", 0),
        with_critical(&a, "2025-03-02T01:00:00Z", 1),
        with_critical(&a, "2025-03-03T01:00:00Z", 1),
        with_critical(&b, "2025-03-01T02:00:00Z", 1),
        with_critical(&b, "2025-03-03T02:00:00Z", 0),
    ] {
        store.append_report(&r).await.unwrap();
    }
    let trend = store
        .compliance_trend(at("2025-03-01T00:00:00Z"))
        .await
        .unwrap();
    let day = |text: &str| at(text).as_second() / 86_400;
    let points: Vec<(i64, i64, i64)> = trend
        .iter()
        .map(|p| (p.day, p.compliant, p.reported))
        .collect();
    // Day 1: a's last report is compliant, b's is not; day 2: a only; day 3: b compliant.
    assert_eq!(
        points,
        [
            (day("2025-03-01T00:00:00Z"), 1, 2),
            (day("2025-03-02T00:00:00Z"), 0, 1),
            (day("2025-03-03T00:00:00Z"), 1, 2)
        ]
    );
    assert!(
        trend
            .iter()
            .all(|p| p.patch_group.as_deref() == Some("web"))
    );
    let debt = store.critical_debt().await.unwrap();
    assert_eq!(debt.len(), 1, "{debt:?}");
    assert_eq!(debt[0].node_id, a);
    assert_eq!(debt[0].since, at("2025-03-02T01:00:00Z"));
    assert_eq!(debt[0].critical, 1);
}

/// A node's reason to reboot follows its latest report; a patch's approval date is kept with
/// its CVE rows; install records give patch latency and go with retention.
async fn reboot_reasons_approval_dates_and_latency(store: &Store) {
    let a = node(store, "a").await;
    let mut first = report(&a, "2025-03-01T00:00:00Z", 0);
    first.counts.installed_pending_reboot = 1;
    first.reboot_why = Some("installed without a reboot: kernel.x86_64".to_owned());
    first.items_json = serde_json::json!([
        {"name": "kernel", "arch": "x86_64", "state": "InstalledPendingReboot",
         "cves": ["CVE-2025-2001"], "advisories": [], "reason": "rule 1",
         "released": "2025-02-20T00:00:00Z", "approved_at": "2025-02-27T00:00:00Z"}
    ])
    .to_string();
    let install = |name: &str, severity: &str, released: &str| pw_store::PatchInstall {
        name: name.to_owned(),
        arch: "x86_64".to_owned(),
        version: "1-1".to_owned(),
        severity: severity.to_owned(),
        released: at(released),
        installed_at: at("2025-03-01T00:00:00Z"),
    };
    first.installs = vec![
        install("kernel", "Critical", "2025-02-20T00:00:00Z"),
        install("bash", "None", "2025-02-28T00:00:00Z"),
    ];
    store.append_report(&first).await.unwrap();
    let all = pw_store::FleetFilter::default();
    let page = store
        .fleet_page(at("2024-01-01T00:00:00Z"), &all, None, 10)
        .await
        .unwrap();
    assert_eq!(
        page[0].reboot_why.as_deref(),
        Some("installed without a reboot: kernel.x86_64")
    );
    let refs = store.patch_refs("CVE-2025-2001").await.unwrap();
    assert_eq!(refs[0].1.approved_at, Some(at("2025-02-27T00:00:00Z")));
    let mut latencies = store
        .patch_latencies(at("2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    latencies.sort();
    assert_eq!(
        latencies,
        [
            ("Critical".to_owned(), 9 * 86_400),
            ("None".to_owned(), 86_400)
        ]
    );
    assert!(
        store
            .patch_latencies(at("2025-03-02T00:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(page[0].reboot_since, Some(at("2025-03-01T00:00:00Z")));
    // A later report still pending keeps since when; the debt counts the node.
    let mut still = report(&a, "2025-03-01T12:00:00Z", 0);
    still.counts.installed_pending_reboot = 1;
    still.reboot_why = Some("installed without a reboot: kernel.x86_64".to_owned());
    store.append_report(&still).await.unwrap();
    let page = store
        .fleet_page(at("2024-01-01T00:00:00Z"), &all, None, 10)
        .await
        .unwrap();
    assert_eq!(page[0].reboot_since, Some(at("2025-03-01T00:00:00Z")));
    assert_eq!(
        store.reboot_debt().await.unwrap(),
        (1, Some(at("2025-03-01T00:00:00Z")))
    );
    // The next report without a pending reboot clears the reason.
    store
        .append_report(&report(&a, "2025-03-02T00:00:00Z", 0))
        .await
        .unwrap();
    let page = store
        .fleet_page(at("2024-01-01T00:00:00Z"), &all, None, 10)
        .await
        .unwrap();
    assert_eq!(page[0].reboot_why, None);
    assert_eq!(page[0].reboot_since, None);
    assert_eq!(store.reboot_debt().await.unwrap(), (0, None));
    // Retention takes install records older than its limit.
    store
        .prune_reports(at("2025-03-01T12:00:00Z"))
        .await
        .unwrap();
    assert!(
        store
            .patch_latencies(at("2025-01-01T00:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Promotion policies: one per (from, to); a production baseline is written only if it is
/// still what the policy read, with the changes in the same transaction.
async fn promotion_policies_and_guarded_writes(store: &Store) {
    store
        .create_baseline(&baseline("pb-stg", "STG", "AMAZON_LINUX_2"))
        .await
        .unwrap();
    let prd = baseline("pb-prd", "PRD", "AMAZON_LINUX_2");
    store.create_baseline(&prd).await.unwrap();
    let record = pw_store::PromotionRecord {
        id: "pp-1".to_owned(),
        from_baseline: "pb-stg".to_owned(),
        to_baseline: "pb-prd".to_owned(),
        spec_json: "{}".to_owned(),
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
        last_run_at: None,
        last_error: None,
    };
    store.create_promotion(&record).await.unwrap();
    let twice = pw_store::PromotionRecord {
        id: "pp-2".to_owned(),
        ..record.clone()
    };
    assert!(matches!(
        store.create_promotion(&twice).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store.promotions().await.unwrap(),
        std::slice::from_ref(&record)
    );
    let change = pw_store::PromotionChangeRecord {
        id: 0,
        policy_id: "pp-1".to_owned(),
        at: at("2025-01-02T00:00:00Z"),
        list: "reject".to_owned(),
        entry: "curl-1.1-1.x86_64".to_owned(),
        reason: "failed on STG node(s) a".to_owned(),
        evidence_json: "{}".to_owned(),
    };
    // Written only over what was read.
    let stale = store
        .apply_promotion(
            "pb-prd",
            "not what is stored",
            "new",
            std::slice::from_ref(&change),
            at("2025-01-02T00:00:00Z"),
        )
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict {
                kind: pw_store::ConflictKind::Changed,
                ..
            })
        ),
        "{stale:?}"
    );
    assert!(
        store
            .promotion_changes("pp-1", 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .apply_promotion(
            "pb-prd",
            &prd.toml,
            "new text",
            std::slice::from_ref(&change),
            at("2025-01-02T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.baseline("pb-prd").await.unwrap().unwrap().toml,
        "new text"
    );
    let changes = store.promotion_changes("pp-1", 10).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].entry, change.entry);
    store
        .record_promotion_run("pp-1", at("2025-01-03T00:00:00Z"), Some("boom"))
        .await
        .unwrap();
    let found = store.promotion("pp-1").await.unwrap().unwrap();
    assert_eq!(found.last_error.as_deref(), Some("boom"));
    assert_eq!(found.last_run_at, Some(at("2025-01-03T00:00:00Z")));
    store
        .update_promotion("pp-1", "{\"x\":1}", at("2025-01-04T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        store.promotion("pp-1").await.unwrap().unwrap().spec_json,
        "{\"x\":1}"
    );
    store.delete_promotion("pp-1").await.unwrap();
    assert!(store.promotion("pp-1").await.unwrap().is_none());
    assert!(matches!(
        store.delete_promotion("pp-1").await,
        Err(StoreError::NotFound { .. })
    ));
}
