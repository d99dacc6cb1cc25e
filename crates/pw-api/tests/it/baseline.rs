//! Baseline formats: native TOML and the AWS JSON shape.

use pw_api::baseline::{parse_aws_json, parse_baseline, parse_toml, to_aws_json, to_toml};
use pw_core::baseline::{
    Approval, ComplianceLevel, FilterKey, OperatingSystem, RejectedAction, RelativeDate,
    default_baseline,
};

const STG: &str = r#"
version = "1"
name = "AL2-STG"
operating_system = "amazon_linux_2"
rejected_patches_action = "block"

[[rules]]
product = ["*"]
classification = ["security"]
severity = ["CRITICAL", "important"]
approve_after_days = 1
compliance_level = "critical"

[[rules]]
classification = ["Bugfix"]
approve_until_date = "first-of-month-1"

[[approved_patches]]
id = "CVE-2026-1111"
owner = "alice"
reason = "urgent fix"
expires = "2026-12-31"

[[rejected_patches]]
id = "kernel-4.14.2*"
"#;

#[test]
fn native_toml_is_read_and_normalised() {
    let loaded = parse_toml(STG).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let b = loaded.baseline;
    assert_eq!(b.operating_system, OperatingSystem::AmazonLinux2);
    assert_eq!(b.rejected_action, RejectedAction::Block);
    assert_eq!(b.rules[0].compliance_level, ComplianceLevel::Critical);
    let severity = b.rules[0].filters.get(FilterKey::Severity).unwrap();
    assert_eq!(severity.values, ["Critical", "Important"]);
    assert_eq!(
        b.rules[0]
            .filters
            .get(FilterKey::Classification)
            .unwrap()
            .values,
        ["Security"]
    );
    assert_eq!(
        b.rules[1].approval,
        Approval::UntilRelative(RelativeDate::FirstOfMonth { months_ago: 1 })
    );
    assert_eq!(b.approved[0].owner.as_deref(), Some("alice"));
    assert_eq!(b.approved[0].expires, Some("2026-12-31".parse().unwrap()));
}

#[test]
fn native_toml_round_trips() {
    let b = parse_toml(STG).unwrap().baseline;
    let again = parse_toml(&to_toml(&b)).unwrap().baseline;
    assert_eq!(b, again);
    for (_, os) in pw_core::baseline::default_baseline_names() {
        let d = default_baseline(os);
        assert_eq!(parse_toml(&to_toml(&d)).unwrap().baseline, d, "{os}");
    }
}

#[test]
fn unknown_keys_are_warnings() {
    let text = STG.replace(
        "rejected_patches_action",
        "colour = \"red\"\nrejected_patches_action",
    );
    let loaded = parse_toml(&text).unwrap();
    assert_eq!(loaded.warnings, ["unknown key `colour` ignored"]);
}

#[track_caller]
fn check_error(text: &str, expected: &str) {
    let error = parse_baseline(text).unwrap_err();
    let message = format!("{error}");
    assert!(
        message.contains(expected),
        "{message:?} does not contain {expected:?}"
    );
}

#[test]
fn bad_baselines_are_rejected_with_the_field() {
    check_error(
        &STG.replace("approve_after_days = 1", "approve_after_days = 361"),
        "rules[0].approve_after_days: 361 is out of range",
    );
    check_error(
        &STG.replace("\"CRITICAL\"", "\"Urgent\""),
        "rules[0].filters[2].values[0]: `Urgent` is not a valid SEVERITY value",
    );
    check_error(
        &STG.replace("amazon_linux_2", "WINDOWS"),
        "operating_system: `WINDOWS` is not a supported operating system",
    );
    check_error(
        &STG.replace("name = \"AL2-STG\"", "name = \"a b\""),
        "name: `a b` must be 3 to 128 characters",
    );
    check_error(
        &STG.replace("first-of-month-1", "2026-02-30"),
        "rules[1].approve_until_date: `2026-02-30` is not a date",
    );
    check_error(
        &STG.replace("approve_until_date = \"first-of-month-1\"", ""),
        "rules[1]: a rule needs either approve_after_days or approve_until_date",
    );
    check_error(
        &STG.replace("\"block\"", "\"drop\""),
        "rejected_patches_action: `drop` is not valid",
    );
    check_error(
        &STG.replace("product = [\"*\"]", "priority = [\"Required\"]"),
        "rules[0].filters[2].key: PRIORITY is not a valid filter",
    );
    check_error(
        "version = \"2\"\nname = \"x\"",
        "unsupported baseline file version \"2\"",
    );
    check_error("name = \"x\"", "no `version = \"1\"` line");
}

const AWS: &str = r#"{
    "BaselineId": "pb-0c10e65780EXAMPLE",
    "Name": "AL2-PRD",
    "OperatingSystem": "AMAZON_LINUX_2",
    "GlobalFilters": {"PatchFilters": []},
    "ApprovalRules": {"PatchRules": [
        {"PatchFilterGroup": {"PatchFilters": [
            {"Key": "PRODUCT", "Values": ["*"]},
            {"Key": "CLASSIFICATION", "Values": ["Security"]},
            {"Key": "SEVERITY", "Values": ["Critical", "Important"]}]},
         "ComplianceLevel": "UNSPECIFIED", "ApproveAfterDays": 31, "EnableNonSecurity": false},
        {"PatchFilterGroup": {"PatchFilters": [
            {"Key": "CLASSIFICATION", "Values": ["Bugfix"]}]},
         "ApproveUntilDate": "2026-03-01"}]},
    "ApprovedPatches": [],
    "ApprovedPatchesComplianceLevel": "UNSPECIFIED",
    "ApprovedPatchesEnableNonSecurity": false,
    "RejectedPatches": ["kernel-4.14.2*", "ALAS2-2026-100"],
    "RejectedPatchesAction": "ALLOW_AS_DEPENDENCY",
    "PatchGroups": ["AL2-PRD"],
    "CreatedDate": 1735689600.0,
    "ModifiedDate": 1735689600.0,
    "Description": "Production",
    "Sources": []
}"#;

#[test]
fn aws_json_is_accepted_as_is() {
    let loaded = parse_baseline(AWS).unwrap();
    let b = &loaded.baseline;
    assert_eq!(b.name, "AL2-PRD");
    assert_eq!(b.rules[0].approval, Approval::AfterDays(31));
    assert_eq!(
        b.rules[1].approval,
        Approval::UntilDate("2026-03-01".parse().unwrap())
    );
    assert_eq!(b.rejected.len(), 2);
    // The advisory ID in the rejected list has no effect: say so.
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].starts_with("rejected_patches[1]"));
}

#[test]
fn aws_json_round_trips() {
    let b = parse_aws_json(AWS).unwrap().baseline;
    let now = "2026-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(parse_aws_json(&to_aws_json(&b, now)).unwrap().baseline, b);
}

#[test]
fn aws_json_errors_name_the_field() {
    check_error(
        &AWS.replace("\"PRODUCT\"", "\"NAME\""),
        "ApprovalRules.PatchRules[0].PatchFilterGroup.PatchFilters[0].Key",
    );
    check_error(
        &AWS.replace("\"OperatingSystem\": \"AMAZON_LINUX_2\",", ""),
        "OperatingSystem: missing",
    );
    check_error(
        &AWS.replace(
            "\"ApproveUntilDate\": \"2026-03-01\"",
            "\"ApproveUntilDate\": \"2026-03-01\", \"ApproveAfterDays\": 3",
        ),
        "give approve_after_days or approve_until_date, not both",
    );
    check_error("{\"Name\": 3}", "invalid JSON baseline");
}

const AL2023: &str = r#"version = "1"
name = "AL2023-PRD"
operating_system = "AMAZON_LINUX_2023"
[[rules]]
classification = ["Security"]
approve_after_days = 7
[release]
approve_until_date = "first-of-month-1"
reject = ["2023.9.20251201"]
verified = ["2023.9.20251117", "2023.9.20251117.1"]
require_verified = true
"#;

#[test]
fn release_table_is_read_and_round_trips() {
    use pw_core::release::ReleaseSelection;
    let loaded = parse_toml(AL2023).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let policy = loaded.baseline.release.clone().unwrap();
    assert_eq!(
        policy.selection,
        ReleaseSelection::Newest(Approval::UntilRelative(RelativeDate::FirstOfMonth {
            months_ago: 1
        }))
    );
    assert_eq!(policy.verified.len(), 2);
    assert!(policy.require_verified);
    let again = parse_toml(&to_toml(&loaded.baseline)).unwrap().baseline;
    assert_eq!(again, loaded.baseline);
    // The AWS shape has no release: it is left out.
    assert!(
        !to_aws_json(&loaded.baseline, "2026-01-01T00:00:00Z".parse().unwrap()).contains("2023.9")
    );
}

#[test]
fn bad_release_tables_name_the_field() {
    let with = |release: &str| {
        AL2023.replace(
            "[release]\napprove_until_date = \"first-of-month-1\"\n",
            &format!("[release]\n{release}\n"),
        )
    };
    check_error(
        &with("pin = \"2023.9.2025111\""),
        "release.pin: `2023.9.2025111` is not a release version",
    );
    check_error(
        &with("pin = \"2023.9.20251201\""),
        "release.pin: 2023.9.20251201 is also in release.reject",
    );
    check_error(
        &with("approve_after_days = 400"),
        "release.approve_after_days: 400",
    );
    check_error(
        &with("pin = \"2023.9.20251117\"\napprove_after_days = 3"),
        "release: give pin, approve_after_days or approve_until_date, only one",
    );
    check_error(
        &AL2023
            .replace("AMAZON_LINUX_2023", "AMAZON_LINUX_2")
            .replace("require_verified = true\n", ""),
        "release: release versions apply to AMAZON_LINUX_2023 only",
    );
    check_error(
        &AL2023.replace("reject = [\"2023.9.20251201\"]", "reject = [\"bogus\"]"),
        "release.reject[0]: `bogus` is not a release version",
    );
}
