//! `patchwarden promote` against the real server: STG nodes report one patch installed and
//! one failed; PRD then approves the first and rejects the second at their exact versions,
//! `--dry-run` changes nothing, and a second run adds nothing. An install whose post-install
//! hook failed rejects what it installed; Debian baselines get apt's `name.arch:version`.

use pw_api::server::tokens::{CreateActivation, Tag};
use pw_client::{Client, ClientSettings};

use crate::admin::{Server, check, start_server, stdout};

const STG: &str = r#"version = "1"
name = "AL2-STG"
operating_system = "AMAZON_LINUX_2"
[[rules]]
classification = ["Security", "Bugfix"]
approve_after_days = 1
"#;

const PRD: &str = r#"version = "1"
name = "AL2-PRD"
operating_system = "AMAZON_LINUX_2"
[[rules]]
classification = ["Security", "Bugfix"]
approve_after_days = 31
"#;

fn admin(server: &Server) -> Client {
    Client::new(ClientSettings::new(&server.url).with_secret(&server.admin)).unwrap()
}

/// Enrolls an AL2 node in patch group `AL2-STG`; returns a client with its credential.
fn enroll(server: &Server, hostname: &str) -> Client {
    let code = admin(server)
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: Some(1),
            max_uses: Some(1),
            description: None,
            tags: vec![Tag {
                key: "Patch Group".to_owned(),
                value: "AL2-STG".to_owned(),
            }],
        })
        .unwrap()
        .code;
    let facts = serde_json::json!({"hostname": hostname, "operating_system": "AMAZON_LINUX_2",
        "product": "AmazonLinux2", "agent_version": "test"});
    let enrolled = Client::new(ClientSettings::new(&server.url))
        .unwrap()
        .enroll(
            &serde_json::from_value(serde_json::json!({
                "activation_code": code, "facts": facts, "tags": []}))
            .unwrap(),
        )
        .unwrap();
    Client::new(ClientSettings::new(&server.url).with_secret(&enrolled.credential)).unwrap()
}

/// Posts an install report for `baseline_id` with one patch in `state` at `target`.
fn report(node: &Client, baseline_id: &str, name: &str, state: &str, target: &str) {
    let failed = usize::from(state == "Failed");
    let upload = serde_json::json!({
        "baseline_id": baseline_id,
        "report": {
            "operation_id": "op-1", "operation": "Install",
            "started_at": "2025-01-06T02:00:00Z", "ended_at": "2025-01-06T02:05:00Z",
            "host": {"operating_system": "AMAZON_LINUX_2", "product": "AmazonLinux2"},
            "patch_group": "AL2-STG", "baseline": "AL2-STG", "reboot_option": "NoReboot",
            "summary": {"baseline": "AL2-STG", "evaluated_at": "2025-01-06T02:05:00Z",
                "installed": 1 - failed, "installed_other": 0, "installed_rejected": 0,
                "installed_pending_reboot": 0, "not_applicable": 0, "missing": 0,
                "failed": failed, "critical_non_compliant": 0, "security_non_compliant": failed,
                "other_non_compliant": 0, "non_compliant_severity": null,
                "status": if failed == 1 { "NON_COMPLIANT" } else { "COMPLIANT" }},
            "patches": [{"name": name, "arch": "x86_64", "state": state,
                "installed": if failed == 1 { "1:1.0-1.amzn2" } else { target },
                "target": target, "compliance_level": "UNSPECIFIED",
                "classification": "Security", "severity": "Important", "cves": [],
                "advisories": ["ALAS2-2025-1"], "reason": "approved by rule 1"}]
        }
    });
    node.post_report(&serde_json::from_value(upload).unwrap())
        .unwrap();
}

fn create(server: &Server, text: &str) -> String {
    let path = server.dir.path().join("baseline.toml");
    fs_err::write(&path, text).unwrap();
    let output = server.cli(&[
        "baseline",
        "create",
        "-f",
        path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    check(&output, 0);
    let detail: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    detail["summary"]["id"].as_str().unwrap().to_owned()
}

fn promote(server: &Server, extra: &[&str]) -> serde_json::Value {
    promote_between(server, "AL2-STG", "AL2-PRD", extra)
}

fn promote_between(server: &Server, from: &str, to: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["promote", "--from", from, "--to", to, "--output", "json"];
    args.extend(extra);
    let output = server.cli(&args);
    check(&output, 0);
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn promote_approves_verified_and_rejects_failed_patches() {
    let server = start_server();
    let stg = create(&server, STG);
    let prd = create(&server, PRD);
    report(
        &enroll(&server, "stg-1"),
        &stg,
        "foo",
        "Installed",
        "1.0-2.amzn2",
    );
    report(
        &enroll(&server, "stg-2"),
        &stg,
        "bar",
        "Failed",
        "1:2.0-3.amzn2",
    );
    let before = admin(&server).baseline(&prd).unwrap().toml;

    let dry = promote(&server, &["--dry-run"]);
    assert_eq!(dry["nodes_read"], 2);
    assert_eq!(dry["added"].as_array().unwrap().len(), 2);
    assert_eq!(dry["updated"], false);
    assert_eq!(admin(&server).baseline(&prd).unwrap().toml, before);

    let first = promote(&server, &[]);
    assert_eq!(first["updated"], true);
    let loaded = pw_api::baseline::parse_toml(&admin(&server).baseline(&prd).unwrap().toml)
        .unwrap()
        .baseline;
    assert_eq!(loaded.approved.len(), 1);
    let approved = &loaded.approved[0];
    assert_eq!(approved.entry, "foo-1.0-2.amzn2.x86_64");
    assert_eq!(approved.owner.as_deref(), Some("patchwarden promote"));
    let reason = approved.reason.as_deref().unwrap();
    assert!(
        reason.starts_with(
            "installed on 1 STG nodes (baseline AL2-STG) without failure, promoted 20"
        ),
        "{reason}"
    );
    assert_eq!(loaded.rejected.len(), 1);
    let rejected = &loaded.rejected[0];
    assert_eq!(rejected.entry, "bar-1:2.0-3.amzn2.x86_64");
    assert_eq!(rejected.owner.as_deref(), Some("patchwarden promote"));
    let reason = rejected.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("failed on STG node(s) stg-2 at 20"),
        "{reason}"
    );

    let second = promote(&server, &[]);
    assert_eq!(second["added"].as_array().unwrap().len(), 0);
    assert_eq!(second["updated"], false);

    // By patch group, failures only, as a table: nothing new to add.
    let table = server.cli(&[
        "promote",
        "--from",
        "AL2-STG",
        "--to",
        &prd,
        "--patch-group",
        "AL2-STG",
        "--reject-failures-only",
    ]);
    check(&table, 0);
    assert!(stdout(&table).contains("read 2 STG node report(s); added 0 entries"));
}

/// Enrolls a node with `os` / `product` facts in patch group `group`.
fn enroll_as(server: &Server, hostname: &str, os: &str, product: &str, group: &str) -> Client {
    let code = admin(server)
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: Some(1),
            max_uses: Some(1),
            description: None,
            tags: vec![Tag {
                key: "Patch Group".to_owned(),
                value: group.to_owned(),
            }],
        })
        .unwrap()
        .code;
    let facts = serde_json::json!({"hostname": hostname, "operating_system": os,
        "product": product, "agent_version": "test"});
    let enrolled = Client::new(ClientSettings::new(&server.url))
        .unwrap()
        .enroll(
            &serde_json::from_value(serde_json::json!({
                "activation_code": code, "facts": facts, "tags": []}))
            .unwrap(),
        )
        .unwrap();
    Client::new(ClientSettings::new(&server.url).with_secret(&enrolled.credential)).unwrap()
}

/// One patch of a report: name, arch, state, target (also the installed version).
type Item<'a> = (&'a str, &'a str, &'a str, &'a str);

/// A report of `operation` on a node of `os` in patch group (and baseline) `group`.
struct Upload<'a> {
    baseline_id: &'a str,
    group: &'a str,
    os: (&'a str, &'a str),
    operation: &'a str,
    items: &'a [Item<'a>],
    /// The report's `install` object (null for scans).
    install: serde_json::Value,
}

/// Posts the report; returns its id.
fn post(node: &Client, upload: &Upload<'_>) -> i64 {
    let failed = upload.items.iter().filter(|i| i.2 == "Failed").count();
    let patches: Vec<serde_json::Value> = upload
        .items
        .iter()
        .map(|(name, arch, state, target)| {
            serde_json::json!({"name": name, "arch": arch, "state": state,
                "installed": if *state == "Failed" { None } else { Some(target) },
                "target": target, "compliance_level": "UNSPECIFIED",
                "classification": "Security", "severity": "Important", "cves": [],
                "advisories": [], "reason": "approved by rule 1"})
        })
        .collect();
    let body = serde_json::json!({
        "baseline_id": upload.baseline_id,
        "report": {
            "operation_id": "op", "operation": upload.operation,
            "started_at": "2025-01-06T02:00:00Z", "ended_at": "2025-01-06T02:05:00Z",
            "host": {"operating_system": upload.os.0, "product": upload.os.1},
            "patch_group": upload.group, "baseline": upload.group, "reboot_option": "NoReboot",
            "install": upload.install,
            "summary": {"baseline": upload.group, "evaluated_at": "2025-01-06T02:05:00Z",
                "installed": upload.items.len() - failed, "installed_other": 0,
                "installed_rejected": 0, "installed_pending_reboot": 0, "not_applicable": 0,
                "missing": 0, "failed": failed, "critical_non_compliant": 0,
                "security_non_compliant": failed, "other_non_compliant": 0,
                "non_compliant_severity": null,
                "status": if failed > 0 { "NON_COMPLIANT" } else { "COMPLIANT" }},
            "patches": patches
        }
    });
    node.post_report(&serde_json::from_value(body).unwrap())
        .unwrap()
        .report_id
}

/// An `install` object: what was installed and failed, and the post-install hook failure.
fn install(installed: &[&str], failed: &[&str], hook_failed: bool) -> serde_json::Value {
    let requested: Vec<&str> = installed.iter().chain(failed).copied().collect();
    let hook = hook_failed.then(|| {
        serde_json::json!({"command": "/usr/local/bin/smoke-test", "exit_code": 3,
            "termination": "exit code 3"})
    });
    serde_json::json!({"requested": requested, "installed": installed, "failed": failed,
        "package_manager_exit": 0, "post_install_hook_failure": hook})
}

fn promoted(server: &Server, prd: &str) -> pw_core::baseline::Baseline {
    pw_api::baseline::parse_toml(&admin(server).baseline(prd).unwrap().toml)
        .unwrap()
        .baseline
}

fn entries(list: &[pw_core::baseline::Exception]) -> Vec<&str> {
    list.iter().map(|e| e.entry.as_str()).collect()
}

#[test]
fn a_failed_post_install_hook_rejects_what_that_install_put_on() {
    let server = start_server();
    let stg = create(&server, STG);
    let prd = create(&server, PRD);
    let al2 = ("AMAZON_LINUX_2", "AmazonLinux2");
    let items: &[Item<'_>] = &[
        ("foo", "x86_64", "Installed", "1.0-2.amzn2"),
        ("baz", "x86_64", "Installed", "2.0-1.amzn2"),
    ];
    // stg-1 installed foo (baz was already there); the post-install hook then failed. A
    // later scan, its latest report, shows both Installed.
    let stg1 = enroll_as(&server, "stg-1", al2.0, al2.1, "AL2-STG");
    let install_id = post(
        &stg1,
        &Upload {
            baseline_id: &stg,
            group: "AL2-STG",
            os: al2,
            operation: "Install",
            items,
            install: install(&["foo-1.0-2.amzn2.x86_64"], &[], true),
        },
    );
    post(
        &stg1,
        &Upload {
            baseline_id: &stg,
            group: "AL2-STG",
            os: al2,
            operation: "Scan",
            items,
            install: serde_json::Value::Null,
        },
    );
    // stg-2 installed foo fine.
    post(
        &enroll_as(&server, "stg-2", al2.0, al2.1, "AL2-STG"),
        &Upload {
            baseline_id: &stg,
            group: "AL2-STG",
            os: al2,
            operation: "Install",
            items: &items[..1],
            install: install(&["foo-1.0-2.amzn2.x86_64"], &[], false),
        },
    );

    // The stored report, whole, through the API.
    let stored = admin(&server).compliance_report(install_id).unwrap();
    let failure = stored.install.unwrap().post_install_hook_failure.unwrap();
    assert_eq!(failure.command, "/usr/local/bin/smoke-test");
    assert_eq!(failure.exit_code, Some(3));
    let missing = admin(&server)
        .compliance_report(install_id + 1000)
        .unwrap_err();
    assert!(missing.to_string().contains("does not exist"), "{missing}");

    // Install reports before `--since` are not read: both look verified.
    let later = promote(&server, &["--dry-run", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(later["install_reports_read"], 0);
    let lists: Vec<&str> = later["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["list"].as_str().unwrap())
        .collect();
    assert_eq!(lists, ["approve", "approve"]);

    let first = promote(&server, &[]);
    assert_eq!(first["nodes_read"], 2);
    assert_eq!(first["install_reports_read"], 2);
    let loaded = promoted(&server, &prd);
    assert_eq!(entries(&loaded.approved), ["baz-2.0-1.amzn2.x86_64"]);
    assert_eq!(entries(&loaded.rejected), ["foo-1.0-2.amzn2.x86_64"]);
    let rejected = &loaded.rejected[0];
    assert_eq!(rejected.owner.as_deref(), Some("patchwarden promote"));
    let reason = rejected.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("post-install hook failed on STG node(s) stg-1 at 20"),
        "{reason}"
    );
    // The rejection names that version only.
    let list = pw_core::pattern::PatternSet::parse(entries(&loaded.rejected));
    let version = |text: &str| pw_core::nevra::Nevra::parse(text).unwrap();
    assert!(
        list.matches_rpm(&version("foo-1.0-2.amzn2.x86_64"))
            .is_some()
    );
    assert!(
        list.matches_rpm(&version("foo-1.0-3.amzn2.x86_64"))
            .is_none()
    );

    let second = promote(&server, &["--reject-failures-only"]);
    assert_eq!(second["added"].as_array().unwrap().len(), 0);
}

const DEB_STG: &str = r#"version = "1"
name = "DEB-STG"
operating_system = "DEBIAN"
[[rules]]
priority = ["Required", "Important", "Standard", "Optional", "Extra"]
"#;

const DEB_PRD: &str = r#"version = "1"
name = "DEB-PRD"
operating_system = "DEBIAN"
[[rules]]
priority = ["Required", "Important", "Standard", "Optional", "Extra"]
"#;

#[test]
fn debian_promotion_writes_apt_exact_version_entries() {
    let server = start_server();
    let stg = create(&server, DEB_STG);
    let prd = create(&server, DEB_PRD);
    let debian = ("DEBIAN", "Debian12");
    post(
        &enroll_as(&server, "deb-1", debian.0, debian.1, "DEB-STG"),
        &Upload {
            baseline_id: &stg,
            group: "DEB-STG",
            os: debian,
            operation: "Install",
            items: &[
                ("openssl", "amd64", "Installed", "3.0.15-1~deb12u1"),
                ("libc6", "amd64", "Failed", "2.36-9+deb12u9"),
            ],
            install: install(
                &["openssl:amd64=3.0.15-1~deb12u1"],
                &["libc6:amd64=2.36-9+deb12u9"],
                false,
            ),
        },
    );
    post(
        &enroll_as(&server, "deb-2", debian.0, debian.1, "DEB-STG"),
        &Upload {
            baseline_id: &stg,
            group: "DEB-STG",
            os: debian,
            operation: "Install",
            items: &[
                ("openssl", "amd64", "Installed", "3.0.15-1~deb12u1"),
                ("bash", "amd64", "Installed", "5.2.15-2+b7"),
                ("tzdata", "all", "Installed", "2025a-0+deb12u1"),
            ],
            install: install(
                &["bash:amd64=5.2.15-2+b7", "tzdata:all=2025a-0+deb12u1"],
                &[],
                true,
            ),
        },
    );

    let report = promote_between(&server, "DEB-STG", "DEB-PRD", &[]);
    assert_eq!(report["updated"], true, "{report}");
    let loaded = promoted(&server, &prd);
    assert_eq!(
        entries(&loaded.approved),
        ["openssl.amd64:3.0.15-1~deb12u1"]
    );
    assert_eq!(
        entries(&loaded.rejected),
        [
            "bash.amd64:5.2.15-2+b7",
            "libc6.amd64:2.36-9+deb12u9",
            "tzdata.all:2025a-0+deb12u1",
        ]
    );
    let reasons: Vec<&str> = loaded
        .rejected
        .iter()
        .map(|e| e.reason.as_deref().unwrap())
        .collect();
    assert!(
        reasons[0].starts_with("post-install hook failed on STG node(s) deb-2 at 20"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("failed on STG node(s) deb-1 at 20"),
        "{reasons:?}"
    );

    // The entries match exactly their version, the way the apt evaluator matches lists.
    let approved = pw_core::pattern::PatternSet::parse(entries(&loaded.approved));
    assert!(
        approved
            .matches_apt("openssl", "3.0.15-1~deb12u1", "amd64")
            .is_some()
    );
    assert!(
        approved
            .matches_apt("openssl", "3.0.15-1~deb12u2", "amd64")
            .is_none()
    );
    assert!(
        approved
            .matches_apt("openssl", "3.0.15-1~deb12u1", "arm64")
            .is_none()
    );
    let rejected = pw_core::pattern::PatternSet::parse(entries(&loaded.rejected));
    assert!(
        rejected
            .matches_apt("libc6", "2.36-9+deb12u9", "amd64")
            .is_some()
    );
    assert!(
        rejected
            .matches_apt("libc6", "2.36-9+deb12u10", "amd64")
            .is_none()
    );

    let again = promote_between(&server, "DEB-STG", "DEB-PRD", &[]);
    assert_eq!(again["added"].as_array().unwrap().len(), 0);
}

/// `patchwarden promotion`: a policy created, shown by `FROM:TO`, run dry and for real,
/// updated and deleted from the command line; the server rejects on the report itself.
#[test]
fn promotion_policies_from_the_command_line() {
    let server = start_server();
    let stg = create(&server, STG);
    let prd = create(&server, PRD);
    let output = server.cli(&[
        "promotion",
        "create",
        "--from",
        "AL2-STG",
        "--to",
        "AL2-PRD",
        "--approve-nodes",
        "1",
        "--output",
        "json",
    ]);
    check(&output, 0);
    let created: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["to_baseline_id"], prd.as_str());
    assert_eq!(created["spec"]["approve_when_healthy"]["nodes"], 1);

    let node = enroll(&server, "stg-1");
    report(&node, &stg, "curl", "Failed", "1:8.3.0-2.amzn2");
    report(
        &enroll(&server, "stg-2"),
        &stg,
        "bash",
        "Installed",
        "0:4.2.46-2.amzn2",
    );
    // The failure was rejected as its report arrived.
    let output = server.cli(&["promotion", "show", "AL2-STG:AL2-PRD", "--output", "json"]);
    check(&output, 0);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        shown["changes"][0]["entry"], "curl-1:8.3.0-2.amzn2.x86_64",
        "{shown:#}"
    );
    // Approval waits for a run: a dry run says what, a run does it.
    let output = server.cli(&["promotion", "run", &id, "--dry-run", "--output", "json"]);
    check(&output, 0);
    let dry: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        dry["added"][0]["entry"], "bash-4.2.46-2.amzn2.x86_64",
        "{dry:#}"
    );
    assert_eq!(promoted(&server, &prd).approved.len(), 0);
    let output = server.cli(&["promotion", "run", &id]);
    check(&output, 0);
    assert!(
        stdout(&output).contains("added 1 entry"),
        "{}",
        stdout(&output)
    );
    assert_eq!(promoted(&server, &prd).approved.len(), 1);
    let output = server.cli(&["promotion", "list"]);
    check(&output, 0);
    assert!(stdout(&output).contains(&id), "{}", stdout(&output));
    // Settings change; the baselines do not.
    let output = server.cli(&[
        "promotion",
        "update",
        &id,
        "--from",
        "AL2-STG",
        "--to",
        "AL2-PRD",
        "--soak",
        "3d",
    ]);
    check(&output, 0);
    assert!(stdout(&output).contains("soak 3d"), "{}", stdout(&output));
    let output = server.cli(&[
        "promotion",
        "update",
        &id,
        "--from",
        "AL2-PRD",
        "--to",
        "AL2-STG",
    ]);
    check(&output, 1);
    let output = server.cli(&["promotion", "delete", &id]);
    check(&output, 0);
    let output = server.cli(&["promotion", "show", &id]);
    check(&output, 1);
}
