//! `patchwarden plan` and `apply` against the real server: the four strategy examples of
//! `examples/` (and their AL2023 mixed-fleet versions) apply cleanly and idempotently; unknown keys warn; bad files exit 2 naming
//! the file.

use std::path::{Path, PathBuf};

use crate::admin::{check, start_server, stdout};

fn example(n: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/strategy-{n}"))
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn plan_json(server: &crate::admin::Server, dir: &str) -> serde_json::Value {
    let plan = server.cli(&["plan", "-f", dir, "--output", "json"]);
    check(&plan, 0);
    serde_json::from_str(&stdout(&plan)).unwrap()
}

/// Counts of what a directory declares: (baselines, patch groups, windows, promotions).
type Declared = (usize, usize, usize, usize);

fn check_example(n: u32, declared: Declared) {
    check_dir(&example(n), n, declared);
}

fn check_dir(dir: &Path, n: u32, declared: Declared) {
    let (baselines, groups, windows, promotions) = declared;
    let server = start_server();
    let dir = dir.to_str().unwrap();

    let plan = server.cli(&["plan", "-f", dir]);
    check(&plan, 0);
    let text = stdout(&plan);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("+ create")).count(),
        baselines + groups + windows + promotions,
        "strategy {n}: {text}"
    );
    assert!(stderr(&plan).is_empty(), "strategy {n}: {}", stderr(&plan));

    let json = plan_json(&server, dir);
    let changes = json["changes"].as_array().unwrap();
    let count = |kind: &str| changes.iter().filter(|c| c["kind"] == kind).count();
    assert_eq!(
        (
            count("baseline"),
            count("patch_group"),
            count("window"),
            count("promotion")
        ),
        (baselines, groups, windows, promotions),
        "strategy {n}: {json}"
    );
    assert!(changes.iter().all(|c| c["action"] == "create"), "{json}");

    let apply = server.cli(&["apply", "-f", dir]);
    check(&apply, 0);
    let total = baselines + groups + windows + promotions;
    assert!(
        stdout(&apply).contains(&format!("{total} change(s) applied")),
        "strategy {n}: {}",
        stdout(&apply)
    );

    let json = plan_json(&server, dir);
    assert_eq!(
        json["changes"],
        serde_json::json!([]),
        "strategy {n}: {json}"
    );
    assert!(json["impact"].is_array(), "{json}");

    let again = server.cli(&["apply", "-f", dir]);
    check(&again, 0);
    assert!(
        stdout(&again).contains("0 change(s) applied"),
        "strategy {n}: {}",
        stdout(&again)
    );
    let plan = server.cli(&["plan", "-f", dir]);
    check(&plan, 0);
    assert!(stdout(&plan).contains("no changes"), "{}", stdout(&plan));
}

#[test]
fn strategy_1_applies_idempotently() {
    check_example(1, (1, 1, 1, 0));
}

#[test]
fn strategy_2_applies_idempotently() {
    check_example(2, (2, 2, 2, 1));
}

#[test]
fn strategy_3_applies_idempotently() {
    check_example(3, (2, 2, 2, 0));
}

#[test]
fn strategy_4_applies_idempotently() {
    check_example(4, (2, 2, 2, 0));
}

/// `examples/al2023/strategy-N`: AL2 and AL2023 baselines, a patch group registered once per
/// operating system.
#[test]
fn al2023_mixed_fleet_examples_apply_idempotently() {
    for (n, baselines, groups, windows) in [(1, 2, 2, 1), (2, 4, 4, 2), (3, 4, 4, 2), (4, 4, 4, 2)]
    {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../examples/al2023/strategy-{n}"));
        check_dir(&dir, n, (baselines, groups, windows, 0));
    }
}

const BASELINE: &str = r#"version = "1"
name = "AL2-STG"
operating_system = "AMAZON_LINUX_2"
[[rules]]
classification = ["Security"]
approve_after_days = 1
"#;

const FLEET: &str = r#"version = "1"
[[patch_group]]
name = "AL2-STG"
baseline = "AL2-STG"
"#;

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        fs_err::write(dir.join(name), text).unwrap();
    }
}

#[test]
fn changed_files_plan_updates_with_fields() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("stg.toml", BASELINE), ("fleet.toml", FLEET)]);
    let path = dir.path().to_str().unwrap();
    check(&server.cli(&["apply", "-f", path]), 0);
    write(
        dir.path(),
        &[("stg.toml", &BASELINE.replace("= 1\n", "= 3\n"))],
    );
    let json = plan_json(&server, path);
    assert_eq!(
        json["changes"],
        serde_json::json!([{"kind": "baseline", "name": "AL2-STG", "action": "update",
            "fields": ["rules"]}]),
        "{json}"
    );
    check(&server.cli(&["apply", "-f", path]), 0);
    assert_eq!(plan_json(&server, path)["changes"], serde_json::json!([]));
}

#[test]
fn unknown_keys_warn() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("stg.toml", &format!("{BASELINE}colour = \"blue\"\n")),
            (
                "fleet.toml",
                &FLEET.replace("baseline = ", "flavour = 1\nbaseline = "),
            ),
        ],
    );
    let plan = server.cli(&["plan", "-f", dir.path().to_str().unwrap()]);
    check(&plan, 0);
    let err = stderr(&plan);
    assert!(
        err.contains("stg.toml") && err.contains("colour` ignored"),
        "{err}"
    );
    assert!(
        err.contains("fleet.toml") && err.contains("flavour"),
        "{err}"
    );
}

fn check_invalid(files: &[(&str, &str)], file: &str, message: &str) {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), files);
    for command in ["plan", "apply"] {
        let output = server.cli(&[command, "-f", dir.path().to_str().unwrap()]);
        check(&output, 2);
        let err = stderr(&output);
        assert!(err.contains(file) && err.contains(message), "{err}");
    }
}

#[test]
fn invalid_files_exit_2_naming_the_file() {
    check_invalid(
        &[
            ("stg.toml", &BASELINE.replace("= 1\n", "= 999\n")),
            ("fleet.toml", FLEET),
        ],
        "stg.toml",
        "approve_after_days",
    );
    check_invalid(
        &[
            ("stg.toml", BASELINE),
            (
                "fleet.toml",
                &FLEET.replace("baseline = \"AL2-STG\"", "baseline = \"nope\""),
            ),
        ],
        "fleet.toml",
        "`nope`",
    );
    check_invalid(
        &[("fleet.toml", "version = \"2\"\n")],
        "fleet.toml",
        "version",
    );
}

#[test]
fn impact_names_targeted_nodes_without_inventory() {
    let server = start_server();
    let id = crate::admin::enroll(&server, "al2-1");
    check(&server.cli(&["node", "tag", &id, "Patch Group=AL2"]), 0);
    let other = crate::admin::enroll(&server, "other-1");
    let dir = example(1);
    let dir = dir.to_str().unwrap();
    check(&server.cli(&["apply", "-f", dir]), 0);
    let json = plan_json(&server, dir);
    assert_eq!(json["changes"], serde_json::json!([]), "{json}");
    let impact = json["impact"].as_array().unwrap();
    assert_eq!(impact.len(), 1, "{json}");
    assert_eq!(impact[0]["node_id"], id.as_str());
    assert_eq!(impact[0]["window"], "AL2-every-12h");
    assert!(impact[0]["error"].is_string(), "{json}");
    assert!(!json.to_string().contains(&other), "{json}");
}

#[test]
fn changed_window_replaces_targets_and_tasks() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    for name in ["al2-default.toml", "fleet.toml"] {
        fs_err::copy(example(1).join(name), dir.path().join(name)).unwrap();
    }
    let path = dir.path().to_str().unwrap();
    check(&server.cli(&["apply", "-f", path]), 0);
    let fleet = fs_err::read_to_string(dir.path().join("fleet.toml")).unwrap();
    let fleet = fleet
        .replace("max_concurrency = \"50%\"", "max_concurrency = \"2\"")
        .replace("duration_hours = 2", "duration_hours = 3");
    write(dir.path(), &[("fleet.toml", &fleet)]);
    let json = plan_json(&server, path);
    assert_eq!(
        json["changes"],
        serde_json::json!([{"kind": "window", "name": "AL2-every-12h", "action": "update",
            "fields": ["duration_hours", "tasks"]}]),
        "{json}"
    );
    check(&server.cli(&["apply", "-f", path]), 0);
    assert_eq!(plan_json(&server, path)["changes"], serde_json::json!([]));
    let fleet = fleet.replace("[\"AL2\"]", "[\"AL2\", \"AL2-extra\"]");
    write(dir.path(), &[("fleet.toml", &fleet)]);
    let json = plan_json(&server, path);
    assert_eq!(
        json["changes"][0]["fields"],
        serde_json::json!(["targets"]),
        "{json}"
    );
    check(&server.cli(&["apply", "-f", path]), 0);
    assert_eq!(plan_json(&server, path)["changes"], serde_json::json!([]));
}

/// Enrolls an Amazon Linux 2 node tagged `Patch Group=group` that uploads an inventory:
/// openssl 1.0.2k-19 installed, -24 and -26 available through two old security advisories.
fn enroll_al2_with_inventory(server: &crate::admin::Server, group: &str) -> String {
    use pw_api::server::tokens::{CreateActivation, Tag};
    use pw_client::{Client, ClientSettings};
    let admin = Client::new(ClientSettings::new(&server.url).with_secret(&server.admin)).unwrap();
    let code = admin
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
    let facts = serde_json::json!({"hostname": "al2-1", "operating_system": "AMAZON_LINUX_2",
        "product": "AmazonLinux2", "agent_version": "test"});
    let enrolled = Client::new(ClientSettings::new(&server.url))
        .unwrap()
        .enroll(
            &serde_json::from_value(serde_json::json!({
                "activation_code": code, "facts": facts, "tags": []}))
            .unwrap(),
        )
        .unwrap();
    let package = |release: &str| {
        serde_json::json!({"name": "openssl", "epoch": 1, "version": "1.0.2k",
            "release": release, "arch": "x86_64"})
    };
    let advisory = |id: &str, release: &str| {
        serde_json::json!({"id": id, "kind": "security", "severity": "Important",
            "updated": "2024-12-01T00:00:00Z", "packages": [package(release)],
            "references": [{"kind": "cve", "id": format!("CVE-{id}")}]})
    };
    let inventory = serde_json::json!({
        "captured_at": "2025-01-06T00:00:00Z",
        "facts": facts,
        "packages": [package("19.amzn2")],
        "catalog": {
            "packages": [package("19.amzn2"), package("24.amzn2"), package("26.amzn2")],
            "advisories": [advisory("ALAS2-1", "24.amzn2"), advisory("ALAS2-2", "26.amzn2")]
        }
    });
    Client::new(ClientSettings::new(&server.url).with_secret(&enrolled.credential))
        .unwrap()
        .put_inventory(&serde_json::from_value(inventory).unwrap())
        .unwrap();
    enrolled.node_id
}

#[test]
fn impact_lists_the_patches_the_next_window_installs() {
    let server = start_server();
    let node = enroll_al2_with_inventory(&server, "AL2");
    let dir = example(1);
    let dir = dir.to_str().unwrap();
    check(&server.cli(&["apply", "-f", dir]), 0);
    let json = plan_json(&server, dir);
    assert_eq!(json["changes"], serde_json::json!([]), "{json}");
    let impact = json["impact"].as_array().unwrap();
    assert_eq!(impact.len(), 1, "{json}");
    assert_eq!(impact[0]["node_id"], node.as_str(), "{json}");
    assert_eq!(impact[0]["error"], serde_json::Value::Null, "{json}");
    assert_eq!(
        impact[0]["patches"],
        serde_json::json!(["openssl.x86_64 1:1.0.2k-26.amzn2"]),
        "{json}"
    );
    let plan = server.cli(&["plan", "-f", dir]);
    check(&plan, 0);
    assert!(
        stdout(&plan).contains("1 patch(es): openssl.x86_64 1:1.0.2k-26.amzn2"),
        "{}",
        stdout(&plan)
    );
}

/// `[[webhook]]` (issue 17): declared by URL with the secret named, never written; `plan`
/// compares what the server answers back, `--rotate-webhook-secrets` sends the secrets again,
/// and a secret written in the file is refused.
#[test]
fn webhooks_are_declared_with_their_secret_outside_the_file() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let secret = server.dir.path().join("hook.secret");
    fs_err::write(&secret, "a-shared-secret-of-enough-length\n").unwrap();
    let webhook = |events: &str| {
        format!(
            "version = \"1\"\n[[webhook]]\nurl = \"http://127.0.0.1:9/hook\"\nsecret_file = \"{}\"\nevents = [{events}]\ncritical_days = 5\n",
            secret.display()
        )
    };
    write(
        dir.path(),
        &[("hooks.toml", &webhook("\"execution.ended\""))],
    );
    let path = dir.path().to_str().unwrap();
    check(&server.cli(&["apply", "-f", path]), 0);
    let listed: serde_json::Value = serde_json::from_str(&stdout(
        &server.cli(&["webhook", "list", "--output", "json"]),
    ))
    .unwrap();
    assert_eq!(listed[0]["events"], serde_json::json!(["execution.ended"]));
    assert_eq!(listed[0]["critical_days"], 5);
    assert_eq!(plan_json(&server, path)["changes"], serde_json::json!([]));

    write(
        dir.path(),
        &[(
            "hooks.toml",
            &webhook("\"invocation.failed\", \"execution.ended\""),
        )],
    );
    assert_eq!(
        plan_json(&server, path)["changes"],
        serde_json::json!([{"kind": "webhook", "name": "http://127.0.0.1:9/hook",
            "action": "update", "fields": ["events"]}])
    );
    check(&server.cli(&["apply", "-f", path]), 0);
    assert_eq!(plan_json(&server, path)["changes"], serde_json::json!([]));
    let rotate = server.cli(&[
        "plan",
        "-f",
        path,
        "--rotate-webhook-secrets",
        "--output",
        "json",
    ]);
    check(&rotate, 0);
    let rotate: serde_json::Value = serde_json::from_str(&stdout(&rotate)).unwrap();
    assert_eq!(
        rotate["changes"][0]["fields"],
        serde_json::json!(["secret"])
    );
    check(
        &server.cli(&["apply", "-f", path, "--rotate-webhook-secrets"]),
        0,
    );

    // A secret in the file, or one that cannot be found: exit 2, naming the file.
    for (text, message) in [
        (
            "version = \"1\"\n[[webhook]]\nurl = \"http://127.0.0.1:9/x\"\nsecret = \"a-shared-secret-of-enough-length\"\n",
            "does not belong in a file",
        ),
        (
            "version = \"1\"\n[[webhook]]\nurl = \"http://127.0.0.1:9/x\"\nsecret_env = \"PW_TEST_NO_SUCH_VARIABLE\"\n",
            "`PW_TEST_NO_SUCH_VARIABLE` is not set",
        ),
    ] {
        let bad = tempfile::tempdir().unwrap();
        write(bad.path(), &[("hooks.toml", text)]);
        let output = server.cli(&["plan", "-f", bad.path().to_str().unwrap()]);
        check(&output, 2);
        let err = stderr(&output);
        assert!(err.contains("hooks.toml") && err.contains(message), "{err}");
    }
}
