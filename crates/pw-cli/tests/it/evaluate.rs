//! `patchwarden evaluate` on the Amazon Linux 2 fixture repository (primary_db only), with
//! an `rpm -qa --queryformat` inventory: table, JSON shape, instants and bad input.

use crate::patchwarden;

const REPO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../pw-core/test_data/repodata/al2"
);

/// kernel 4.14.355-1 (2-1 fixes ALAS2-2023-2350, Important, updated 2023-11-21 23:06);
/// openssl-libs 1:1.0.2k-19 (24 fixes ALAS2-2022-1736, Medium); bash older than its bugfix
/// (ALAS2-2021-1600, issued 2021-02-03); tzdata current.
const INVENTORY: &str = "kernel\t0\t4.14.355\t1.amzn2\tx86_64\t1700000000\n\
openssl-libs\t1\t1.0.2k\t19.amzn2.0.1\tx86_64\t1700000000\n\
bash\t0\t4.2.46\t30.amzn2\tx86_64\t1700000000\n\
tzdata\t0\t2023c\t1.amzn2.0.1\tnoarch\t1700000000\n";

fn evaluate(extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.tsv");
    fs_err::write(&inventory, INVENTORY).unwrap();
    let inventory = inventory.display().to_string();
    let mut args = vec!["evaluate", "--repo", REPO, "--inventory", &inventory];
    args.extend_from_slice(extra);
    patchwarden(&args, None)
}

fn json(output: &std::process::Output) -> serde_json::Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn state<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["patches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()
}

#[test]
fn default_al2_baseline_waits_seven_days_after_the_updated_date() {
    let early = json(&evaluate(&[
        "--default-baseline",
        "AMAZON_LINUX_2",
        "--at",
        "2023-11-28T23:05:00Z",
        "--json",
    ]));
    assert_eq!(state(&early, "kernel")["state"], "InstalledOther");
    let late = json(&evaluate(&[
        "--default-baseline",
        "AMAZON_LINUX_2",
        "--at",
        "2023-11-28T23:07:00Z",
        "--json",
    ]));
    let kernel = state(&late, "kernel");
    assert_eq!(kernel["state"], "Missing");
    assert_eq!(kernel["target"], "4.14.355-2.amzn2");
    assert_eq!(kernel["advisories"], serde_json::json!(["ALAS2-2023-2350"]));
    assert!(
        kernel["reason"]
            .as_str()
            .unwrap()
            .contains("rule 1 via ALAS2-2023-2350")
    );
    // Medium is not approved by the default baseline, and the reason says why.
    let openssl = state(&late, "openssl-libs");
    assert_eq!(openssl["state"], "InstalledOther");
    assert!(
        openssl["reason"].as_str().unwrap().contains("SEVERITY"),
        "{openssl}"
    );
    // A bugfix advisory counts.
    assert_eq!(state(&late, "bash")["state"], "Missing");
    assert_eq!(late["summary"]["status"], "NON_COMPLIANT");
    assert_eq!(late["summary"]["missing"], 2);
    assert_eq!(late["summary"]["security_non_compliant"], 1);
}

#[test]
fn table_output_and_baseline_file() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("b.toml");
    fs_err::write(
        &baseline,
        "version = \"1\"\nname = \"explicit\"\noperating_system = \"AMAZON_LINUX_2\"\n[[approved_patches]]\nid = \"openssl-libs\"\n",
    )
    .unwrap();
    let baseline = baseline.display().to_string();
    let output = evaluate(&["--baseline", &baseline, "--at", "2024-01-01T00:00:00Z"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("Missing") && text.contains("openssl-libs.x86_64"),
        "{text}"
    );
    assert!(
        text.contains("approved patch entry `openssl-libs`"),
        "{text}"
    );
    assert!(text.contains("NON_COMPLIANT: 0 installed"), "{text}");
}

#[test]
fn bad_input_is_named() {
    let output = evaluate(&["--default-baseline", "WINDOWS"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("`WINDOWS` is not a supported operating system")
    );
    let output = evaluate(&["--default-baseline", "AMAZON_LINUX_2", "--at", "yesterday"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--at `yesterday`"));
    let output = patchwarden(
        &[
            "evaluate",
            "--default-baseline",
            "AMAZON_LINUX_2",
            "--repo",
            "/nonexistent",
            "--inventory",
            "/nonexistent",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent"));
}
