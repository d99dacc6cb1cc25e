//! Evaluation tests: the invariants of ssm-reference §11 and the approval behaviour of the
//! four strategies, on small hand-built catalogs.

use jiff::Timestamp;

use crate::baseline::{
    Approval, Baseline, ComplianceLevel, Exception, Family, Filter, FilterGroup, FilterKey,
    OperatingSystem, RejectedAction, RelativeDate, Rule, default_baseline,
};
use crate::evaluate::{
    Catalog, Context, EvaluateOptions, InstalledPackage, PatchState, Reason, Snapshot,
    SummaryStatus,
};
use crate::nevra::Nevra;
use crate::repo::{Advisory, AdvisoryPackage, Dependency, Package, Reference};
use crate::version::rpm::Evr;

fn nevra(name: &str, evr: &str, arch: &str) -> Nevra {
    Nevra {
        name: name.to_owned(),
        evr: Evr::parse(evr).unwrap(),
        arch: arch.to_owned(),
    }
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn package(name: &str, evr: &str, build_time: i64) -> Package {
    let mut p = Package::new(
        nevra(name, evr, "x86_64"),
        format!("Packages/{name}-{evr}.rpm"),
    );
    p.build_time = Some(build_time);
    p
}

fn advisory(
    id: &str,
    kind: &str,
    severity: Option<&str>,
    updated: &str,
    packages: &[(&str, &str)],
) -> Advisory {
    Advisory {
        id: id.to_owned(),
        kind: kind.to_owned(),
        status: Some("final".to_owned()),
        severity: severity.map(str::to_owned),
        title: None,
        issued: Some(ts(updated)),
        updated: Some(ts(updated)),
        references: vec![Reference {
            kind: "cve".to_owned(),
            id: format!("CVE-2025-{}", id.len() * 1000 + packages.len()),
            href: None,
            title: None,
        }],
        packages: packages
            .iter()
            .map(|(name, evr)| AdvisoryPackage {
                nevra: nevra(name, evr, "x86_64"),
                filename: None,
                reboot_suggested: false,
                source_rpm: None,
                collection: 0,
            })
            .collect(),
        description: None,
        reboot_suggested: false,
        collections: Vec::new(),
    }
}

fn installed(name: &str, evr: &str) -> InstalledPackage {
    InstalledPackage {
        nevra: nevra(name, evr, "x86_64"),
        install_time: None,
    }
}

fn rule(
    filters: &[(FilterKey, &[&str])],
    approval: Approval,
    level: ComplianceLevel,
    non_security: bool,
) -> Rule {
    Rule {
        filters: FilterGroup {
            filters: filters
                .iter()
                .map(|(key, values)| Filter {
                    key: *key,
                    values: values.iter().map(|v| (*v).to_owned()).collect(),
                })
                .collect(),
        },
        approval,
        compliance_level: level,
        enable_non_security: non_security,
    }
}

fn baseline(rules: Vec<Rule>) -> Baseline {
    let mut b = Baseline::empty("test-baseline", OperatingSystem::AmazonLinux2);
    b.rules = rules;
    b
}

struct World {
    packages: Vec<Package>,
    advisories: Vec<Advisory>,
    installed: Vec<InstalledPackage>,
}

impl World {
    fn eval(&self, baseline: &Baseline, now: &str) -> crate::evaluate::Evaluation {
        self.eval_family(baseline, now, Family::Yum)
    }

    fn eval_family(
        &self,
        baseline: &Baseline,
        now: &str,
        family: Family,
    ) -> crate::evaluate::Evaluation {
        let catalog = Catalog {
            packages: &self.packages,
            advisories: &self.advisories,
        };
        let context = Context {
            product: "AmazonLinux2".to_owned(),
            family,
            now: ts(now),
        };
        let snapshot = Snapshot::build(baseline, catalog, context.clone());
        // Every evaluation here also holds the entry count without entries to the snapshot's.
        assert_eq!(
            Snapshot::count(baseline, catalog, &context),
            snapshot.len(),
            "Snapshot::count"
        );
        snapshot.evaluate(&self.installed, &[], &EvaluateOptions::default())
    }
}

#[track_caller]
fn check_state(
    evaluation: &crate::evaluate::Evaluation,
    name: &str,
    state: PatchState,
    target: Option<&str>,
) {
    let item = evaluation
        .items
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("no item for {name}: {evaluation:#?}"));
    assert_eq!(item.state, state, "{name}: {item:#?}");
    assert_eq!(
        item.target.as_ref().map(ToString::to_string).as_deref(),
        target,
        "{name} target"
    );
}

fn security_rule(approval: Approval) -> Rule {
    rule(
        &[
            (FilterKey::Product, &["*"]),
            (FilterKey::Classification, &["Security"]),
        ],
        approval,
        ComplianceLevel::Unspecified,
        false,
    )
}

fn openssl_world(updated: &str) -> World {
    World {
        packages: vec![
            package("openssl", "1.0.2k-24", 0),
            package("openssl", "1.0.2k-26", 0),
        ],
        advisories: vec![advisory(
            "ALAS2-2025-1",
            "security",
            Some("important"),
            updated,
            &[("openssl", "1.0.2k-26")],
        )],
        installed: vec![installed("openssl", "1.0.2k-24")],
    }
}

// §11.1: until-date includes the whole day (cutoff = date + 1 day, strict).
#[test]
fn until_date_includes_the_whole_day() {
    let until = Approval::UntilDate("2025-11-16".parse().unwrap());
    let b = baseline(vec![security_rule(until)]);
    let e = openssl_world("2025-11-16T23:59:59Z").eval(&b, "2026-01-01T00:00:00Z");
    check_state(&e, "openssl", PatchState::Missing, Some("1.0.2k-26"));
    let e = openssl_world("2025-11-17T00:00:00Z").eval(&b, "2026-01-01T00:00:00Z");
    check_state(&e, "openssl", PatchState::InstalledOther, None);
}

// §11.2: approve-after-days is strict.
#[test]
fn approve_after_days_is_strict() {
    let b = baseline(vec![security_rule(Approval::AfterDays(7))]);
    let now = "2025-11-16T18:00:00Z";
    check_state(
        &openssl_world("2025-11-09T17:59:59Z").eval(&b, now),
        "openssl",
        PatchState::Missing,
        Some("1.0.2k-26"),
    );
    check_state(
        &openssl_world("2025-11-09T18:00:00Z").eval(&b, now),
        "openssl",
        PatchState::InstalledOther,
        None,
    );
}

// §11.3: updated wins over issued; no date at all means approved immediately.
#[test]
fn updated_date_is_used_and_missing_dates_approve_immediately() {
    let b = baseline(vec![security_rule(Approval::AfterDays(7))]);
    let mut world = openssl_world("2025-11-15T00:00:00Z");
    world.advisories[0].issued = Some(ts("2025-01-01T00:00:00Z"));
    check_state(
        &world.eval(&b, "2025-11-16T00:00:00Z"),
        "openssl",
        PatchState::InstalledOther,
        None,
    );
    world.advisories[0].updated = None;
    check_state(
        &world.eval(&b, "2025-11-16T00:00:00Z"),
        "openssl",
        PatchState::Missing,
        Some("1.0.2k-26"),
    );
    world.advisories[0].issued = None;
    check_state(
        &world.eval(&b, "2025-11-16T00:00:00Z"),
        "openssl",
        PatchState::Missing,
        Some("1.0.2k-26"),
    );
}

// §11.4: notice-less packages have no classification: only `*` lets them through, and
// then only with enable-non-security and by build time.
#[test]
fn notice_less_packages_need_wildcard_and_non_security() {
    let world = World {
        packages: vec![
            package("vim", "8.0-1", 0),
            package("vim", "8.0-2", 1_700_000_000),
        ],
        advisories: vec![],
        installed: vec![installed("vim", "8.0-1")],
    };
    let now = "2025-01-01T00:00:00Z";
    let security = rule(
        &[(FilterKey::Classification, &["Security"])],
        Approval::AfterDays(0),
        ComplianceLevel::Low,
        true,
    );
    check_state(
        &world.eval(&baseline(vec![security]), now),
        "vim",
        PatchState::InstalledOther,
        None,
    );
    let any = rule(
        &[(FilterKey::Classification, &["*"])],
        Approval::AfterDays(0),
        ComplianceLevel::Low,
        true,
    );
    check_state(
        &world.eval(&baseline(vec![any]), now),
        "vim",
        PatchState::Missing,
        Some("8.0-2"),
    );
    let any_no_ns = rule(
        &[(FilterKey::Classification, &["*"])],
        Approval::AfterDays(0),
        ComplianceLevel::Low,
        false,
    );
    check_state(
        &world.eval(&baseline(vec![any_no_ns]), now),
        "vim",
        PatchState::InstalledOther,
        None,
    );
    // Built after the cut-off: not yet; the installed version (built long before) is the
    // highest approved one, so the host counts as up to date with the baseline.
    let late = rule(
        &[(FilterKey::Classification, &["*"])],
        Approval::UntilDate("2023-01-01".parse().unwrap()),
        ComplianceLevel::Low,
        true,
    );
    check_state(
        &world.eval(&baseline(vec![late]), now),
        "vim",
        PatchState::Installed,
        Some("8.0-1"),
    );
}

// §11.5: any notice counts as "security" for the enable-non-security gate.
#[test]
fn bugfix_notices_are_approved_without_non_security() {
    let world = World {
        packages: vec![package("bash", "4.2-1", 0), package("bash", "4.2-2", 0)],
        advisories: vec![advisory(
            "ALAS2-2025-2",
            "bugfix",
            None,
            "2025-01-01T00:00:00Z",
            &[("bash", "4.2-2")],
        )],
        installed: vec![installed("bash", "4.2-1")],
    };
    let b = baseline(vec![rule(
        &[(FilterKey::Classification, &["Bugfix"])],
        Approval::AfterDays(7),
        ComplianceLevel::Medium,
        false,
    )]);
    let e = world.eval(&b, "2025-02-01T00:00:00Z");
    check_state(&e, "bash", PatchState::Missing, Some("4.2-2"));
    assert_eq!(e.items[0].compliance_level, ComplianceLevel::Medium);
}

// §11.7: approved and rejected → rejected; rejected IDs have no effect.
#[test]
fn rejected_beats_approved_and_rejected_ids_do_nothing() {
    let world = openssl_world("2025-01-01T00:00:00Z");
    let mut b = baseline(vec![]);
    b.approved = vec![Exception::new("openssl")];
    b.rejected = vec![Exception::new("openssl-1.0.2k-26*")];
    check_state(
        &world.eval(&b, "2025-02-01T00:00:00Z"),
        "openssl",
        PatchState::InstalledOther,
        None,
    );
    b.rejected = vec![
        Exception::new("ALAS2-2025-1"),
        Exception::new("CVE-2025-13001"),
    ];
    check_state(
        &world.eval(&b, "2025-02-01T00:00:00Z"),
        "openssl",
        PatchState::Missing,
        Some("1.0.2k-26"),
    );
}

// §11.8: approved entries match many spellings, case-insensitively and with globs.
#[test]
fn approved_entries_match_name_forms() {
    let world = World {
        packages: vec![
            package("dbus", "1:1.12.28-1.amzn2023.0.1", 0),
            package("dbus", "1:1.12.20-1", 0),
        ],
        advisories: vec![advisory(
            "ALAS2-2025-3",
            "security",
            Some("low"),
            "2025-01-01T00:00:00Z",
            &[("dbus", "1:1.12.28-1.amzn2023.0.1")],
        )],
        installed: vec![installed("dbus", "1:1.12.20-1")],
    };
    for entry in [
        "dbus.x86_64",
        "dbus-1:1.12.28-1.amzn2023.0.1.x86_64",
        "DBUS*",
        "1.12.28",
        "ALAS2-2025-3",
        "CVE-2025-12001",
    ] {
        let mut b = baseline(vec![]);
        b.approved = vec![Exception::new(entry)];
        let e = world.eval(&b, "2025-02-01T00:00:00Z");
        check_state(
            &e,
            "dbus",
            PatchState::Missing,
            Some("1:1.12.28-1.amzn2023.0.1"),
        );
        assert_eq!(
            e.items[0].reason,
            Reason::ApprovedEntry {
                entry: entry.to_owned()
            },
            "{entry}"
        );
    }
}

// §11.9: highest approved version, no fallback.
#[test]
fn highest_approved_version_without_fallback() {
    let now = "2025-02-01T00:00:00Z";
    let b = baseline(vec![security_rule(Approval::AfterDays(0))]);
    let mut world = World {
        packages: vec![
            package("openssl", "1.0.2k-19", 0),
            package("openssl", "1.0.2k-24", 0),
            package("openssl", "1.0.2k-26", 0),
        ],
        advisories: vec![
            advisory(
                "A-19",
                "security",
                Some("important"),
                "2025-01-01T00:00:00Z",
                &[("openssl", "1.0.2k-19")],
            ),
            advisory(
                "A-26",
                "security",
                Some("important"),
                "2025-01-02T00:00:00Z",
                &[("openssl", "1.0.2k-26")],
            ),
        ],
        installed: vec![installed("openssl", "1.0.2k-24")],
    };
    check_state(
        &world.eval(&b, now),
        "openssl",
        PatchState::Missing,
        Some("1.0.2k-26"),
    );
    world.advisories.pop();
    check_state(
        &world.eval(&b, now),
        "openssl",
        PatchState::Installed,
        Some("1.0.2k-19"),
    );
    world.advisories.push(advisory(
        "A-27",
        "security",
        Some("important"),
        "2025-01-02T00:00:00Z",
        &[("openssl", "1.0.2k-27")],
    ));
    let e = world.eval(&b, now);
    check_state(&e, "openssl", PatchState::InstalledOther, None);
    assert!(
        matches!(e.items[0].reason, Reason::ApprovedVersionUnavailable { .. }),
        "{:?}",
        e.items[0].reason
    );
}

// §11.10: after an install, Missing becomes Failed.
#[test]
fn install_report_turns_missing_into_failed() {
    let b = baseline(vec![security_rule(Approval::AfterDays(0))]);
    let e = openssl_world("2025-01-01T00:00:00Z").eval(&b, "2025-02-01T00:00:00Z");
    assert_eq!(e.install_targets().len(), 1);
    let report = e.into_install_report();
    check_state(&report, "openssl", PatchState::Failed, Some("1.0.2k-26"));
    assert_eq!(report.summary.failed, 1);
    assert_eq!(report.summary.status, SummaryStatus::NonCompliant);
}

// §11.11: pending reboot.
#[test]
fn pending_reboot_is_non_compliant() {
    let b = baseline(vec![security_rule(Approval::AfterDays(0))]);
    let world = World {
        installed: vec![installed("openssl", "1.0.2k-26")],
        ..openssl_world("2025-01-01T00:00:00Z")
    };
    let snapshot = Snapshot::build(
        &b,
        Catalog {
            packages: &world.packages,
            advisories: &world.advisories,
        },
        Context {
            product: "AmazonLinux2".to_owned(),
            family: Family::Yum,
            now: ts("2025-02-01T00:00:00Z"),
        },
    );
    let e = snapshot.evaluate(
        &world.installed,
        &[nevra("openssl", "1.0.2k-26", "x86_64")],
        &EvaluateOptions::default(),
    );
    check_state(
        &e,
        "openssl",
        PatchState::InstalledPendingReboot,
        Some("1.0.2k-26"),
    );
    assert_eq!(e.summary.status, SummaryStatus::NonCompliant);
    let e = snapshot.evaluate(&world.installed, &[], &EvaluateOptions::default());
    check_state(&e, "openssl", PatchState::Installed, Some("1.0.2k-26"));
    assert_eq!(e.summary.status, SummaryStatus::Compliant);
}

// §11.12: counts.
#[test]
fn critical_security_items_count_twice_not_other() {
    let b = baseline(vec![rule(
        &[(FilterKey::Classification, &["Security"])],
        Approval::AfterDays(0),
        ComplianceLevel::Critical,
        false,
    )]);
    let e = openssl_world("2025-01-01T00:00:00Z").eval(&b, "2025-02-01T00:00:00Z");
    assert_eq!(e.summary.critical_non_compliant, 1);
    assert_eq!(e.summary.security_non_compliant, 1);
    assert_eq!(e.summary.other_non_compliant, 0);
    assert_eq!(
        e.summary.non_compliant_severity,
        Some(ComplianceLevel::Critical)
    );
    let b = baseline(vec![security_rule(Approval::AfterDays(0))]);
    let e = openssl_world("2025-01-01T00:00:00Z").eval(&b, "2025-02-01T00:00:00Z");
    assert_eq!(
        e.summary.non_compliant_severity,
        Some(ComplianceLevel::Informational)
    );
}

#[test]
fn block_marks_installed_rejected_and_allow_reports_other() {
    let world = openssl_world("2025-01-01T00:00:00Z");
    let mut b = baseline(vec![security_rule(Approval::AfterDays(0))]);
    b.rejected = vec![Exception::new("openssl")];
    check_state(
        &world.eval(&b, "2025-02-01T00:00:00Z"),
        "openssl",
        PatchState::InstalledOther,
        None,
    );
    b.rejected_action = RejectedAction::Block;
    let e = world.eval(&b, "2025-02-01T00:00:00Z");
    check_state(&e, "openssl", PatchState::InstalledRejected, None);
    assert_eq!(e.summary.status, SummaryStatus::NonCompliant);
}

#[test]
fn block_stops_updates_that_need_a_rejected_dependency() {
    let mut app = package("app", "2.0-1", 0);
    app.requires = vec![Dependency {
        name: "libfoo".to_owned(),
        flags: None,
        evr: None,
    }];
    let world = World {
        packages: vec![
            package("app", "1.0-1", 0),
            app,
            package("libfoo", "1.0-1", 0),
        ],
        advisories: vec![advisory(
            "A-1",
            "security",
            Some("critical"),
            "2025-01-01T00:00:00Z",
            &[("app", "2.0-1")],
        )],
        installed: vec![installed("app", "1.0-1")],
    };
    let mut b = baseline(vec![security_rule(Approval::AfterDays(0))]);
    b.rejected = vec![Exception::new("libfoo")];
    b.rejected_action = RejectedAction::Block;
    let e = world.eval(&b, "2025-02-01T00:00:00Z");
    check_state(&e, "app", PatchState::Missing, Some("2.0-1"));
    assert!(matches!(
        e.items[0].reason,
        Reason::BlockedByRejectedDependency { .. }
    ));
    assert!(e.install_targets().is_empty());
    // ALLOW_AS_DEPENDENCY installs it.
    b.rejected_action = RejectedAction::AllowAsDependency;
    assert_eq!(
        world
            .eval(&b, "2025-02-01T00:00:00Z")
            .install_targets()
            .len(),
        1
    );
}

#[test]
fn global_filters_gate_rules_and_yum_id_approvals_but_not_names() {
    let world = openssl_world("2025-01-01T00:00:00Z");
    let mut b = baseline(vec![security_rule(Approval::AfterDays(0))]);
    b.global_filters = FilterGroup {
        filters: vec![Filter {
            key: FilterKey::Severity,
            values: vec!["Critical".to_owned()],
        }],
    };
    check_state(
        &world.eval(&b, "2025-02-01T00:00:00Z"),
        "openssl",
        PatchState::InstalledOther,
        None,
    );
    b.approved = vec![Exception::new("ALAS2-2025-1")];
    check_state(
        &world.eval(&b, "2025-02-01T00:00:00Z"),
        "openssl",
        PatchState::InstalledOther,
        None,
    );
    check_state(
        &world.eval_family(&b, "2025-02-01T00:00:00Z", Family::Dnf),
        "openssl",
        PatchState::Missing,
        Some("1.0.2k-26"),
    );
    b.approved = vec![Exception::new("openssl")];
    check_state(
        &world.eval(&b, "2025-02-01T00:00:00Z"),
        "openssl",
        PatchState::Missing,
        Some("1.0.2k-26"),
    );
}

#[test]
fn expired_exceptions_stop_applying() {
    let world = openssl_world("2025-01-01T00:00:00Z");
    let mut b = baseline(vec![]);
    let mut entry = Exception::new("openssl");
    entry.expires = Some("2025-01-31".parse().unwrap());
    b.approved = vec![entry];
    check_state(
        &world.eval(&b, "2025-01-31T23:00:00Z"),
        "openssl",
        PatchState::Missing,
        Some("1.0.2k-26"),
    );
    check_state(
        &world.eval(&b, "2025-02-01T00:00:00Z"),
        "openssl",
        PatchState::InstalledOther,
        None,
    );
}

#[test]
fn medium_matches_moderate() {
    let world = World {
        advisories: vec![advisory(
            "ALAS-1",
            "security",
            Some("Moderate"),
            "2025-01-01T00:00:00Z",
            &[("openssl", "1.0.2k-26")],
        )],
        ..openssl_world("2025-01-01T00:00:00Z")
    };
    let b = baseline(vec![rule(
        &[(FilterKey::Severity, &["Medium"])],
        Approval::AfterDays(0),
        ComplianceLevel::Low,
        false,
    )]);
    check_state(
        &world.eval(&b, "2025-02-01T00:00:00Z"),
        "openssl",
        PatchState::Missing,
        Some("1.0.2k-26"),
    );
}

#[test]
fn not_approved_items_explain_why() {
    let b = default_baseline(OperatingSystem::AmazonLinux2);
    let world = World {
        advisories: vec![advisory(
            "ALAS2-2025-9",
            "security",
            Some("medium"),
            "2025-01-01T00:00:00Z",
            &[("openssl", "1.0.2k-26")],
        )],
        ..openssl_world("2025-01-01T00:00:00Z")
    };
    let e = world.eval(&b, "2025-02-01T00:00:00Z");
    let reason = e.items[0].reason.to_string();
    assert!(
        reason.contains("ALAS2-2025-9") && reason.contains("SEVERITY"),
        "{reason}"
    );
}

/// The four strategies on one advisory set: STG and PRD baselines at several instants.
mod strategies {
    use super::*;

    fn fleet() -> World {
        World {
            packages: vec![
                package("kernel", "4.14.1-1", 0),
                package("kernel", "4.14.2-1", 0),
                package("curl", "7.1-1", 0),
                package("curl", "7.2-1", 0),
                package("bash", "4.2-1", 0),
                package("bash", "4.2-2", 0),
                package("vim", "8.0-1", 0),
                package("vim", "8.0-2", 0),
            ],
            advisories: vec![
                // Released 2026-03-10.
                advisory(
                    "ALAS2-2026-100",
                    "security",
                    Some("critical"),
                    "2026-03-10T08:00:00Z",
                    &[("kernel", "4.14.2-1")],
                ),
                advisory(
                    "ALAS2-2026-101",
                    "security",
                    Some("low"),
                    "2026-03-10T08:00:00Z",
                    &[("curl", "7.2-1")],
                ),
                advisory(
                    "ALAS2-2026-102",
                    "bugfix",
                    None,
                    "2026-03-10T08:00:00Z",
                    &[("bash", "4.2-2")],
                ),
            ],
            installed: vec![
                installed("kernel", "4.14.1-1"),
                installed("curl", "7.1-1"),
                installed("bash", "4.2-1"),
                installed("vim", "8.0-1"),
            ],
        }
    }

    fn missing(e: &crate::evaluate::Evaluation) -> Vec<&str> {
        e.items
            .iter()
            .filter(|i| i.state == PatchState::Missing)
            .map(|i| i.name.as_str())
            .collect()
    }

    fn days_rules(days: u16) -> Vec<Rule> {
        default_baseline(OperatingSystem::AmazonLinux2)
            .rules
            .into_iter()
            .map(|mut r| {
                r.approval = Approval::AfterDays(days);
                r
            })
            .collect()
    }

    #[test]
    fn strategy_1_default_baseline_after_seven_days() {
        let b = default_baseline(OperatingSystem::AmazonLinux2);
        let world = fleet();
        assert!(missing(&world.eval(&b, "2026-03-17T07:59:59Z")).is_empty());
        assert_eq!(
            missing(&world.eval(&b, "2026-03-17T08:00:01Z")),
            ["bash", "kernel"]
        );
    }

    #[test]
    fn strategy_2_stg_at_day_1_prd_at_day_31_with_rejection() {
        let world = fleet();
        let stg = baseline(days_rules(1));
        let mut prd = baseline(days_rules(31));
        assert!(missing(&world.eval(&stg, "2026-03-11T07:00:00Z")).is_empty());
        assert_eq!(
            missing(&world.eval(&stg, "2026-03-11T09:00:00Z")),
            ["bash", "kernel"]
        );
        assert!(missing(&world.eval(&prd, "2026-03-11T09:00:00Z")).is_empty());
        assert!(missing(&world.eval(&prd, "2026-04-10T07:00:00Z")).is_empty());
        assert_eq!(
            missing(&world.eval(&prd, "2026-04-10T09:00:00Z")),
            ["bash", "kernel"]
        );
        // The kernel broke STG: PRD rejects it before day 31.
        prd.rejected = vec![Exception::new("kernel-4.14.2-1*")];
        assert_eq!(missing(&world.eval(&prd, "2026-04-10T09:00:00Z")), ["bash"]);
    }

    #[test]
    fn strategy_3_until_dates_move_with_the_month() {
        let world = fleet();
        let until = |months_ago| {
            baseline(
                days_rules(0)
                    .into_iter()
                    .map(|mut r| {
                        r.approval =
                            Approval::UntilRelative(RelativeDate::FirstOfMonth { months_ago });
                        r
                    })
                    .collect(),
            )
        };
        let (stg, prd) = (until(0), until(1));
        // March: STG approves up to March 1, PRD up to February 1: the March 10 release waits.
        assert!(missing(&world.eval(&stg, "2026-03-20T00:00:00Z")).is_empty());
        // April: STG approves up to April 1 → gets it; PRD up to March 1 → not yet.
        assert_eq!(
            missing(&world.eval(&stg, "2026-04-02T00:00:00Z")),
            ["bash", "kernel"]
        );
        assert!(missing(&world.eval(&prd, "2026-04-02T00:00:00Z")).is_empty());
        // May: PRD approves up to April 1 → gets it.
        assert_eq!(
            missing(&world.eval(&prd, "2026-05-01T00:00:00Z")),
            ["bash", "kernel"]
        );
    }

    #[test]
    fn strategy_4_explicit_approval_by_cve() {
        let mut world = fleet();
        world.advisories[0].references[0].id = "CVE-2026-1111".to_owned();
        let mut stg = baseline(vec![]);
        stg.approved = vec![Exception::new("CVE-2026-1111")];
        let prd = baseline(vec![]);
        assert_eq!(
            missing(&world.eval(&stg, "2026-03-10T09:00:00Z")),
            ["kernel"]
        );
        assert!(missing(&world.eval(&prd, "2026-03-10T09:00:00Z")).is_empty());
        let e = world.eval(&stg, "2026-03-10T09:00:00Z");
        let kernel = e.items.iter().find(|i| i.name == "kernel").unwrap();
        assert_eq!(kernel.cves, ["CVE-2026-1111"]);
        assert_eq!(
            kernel.reason,
            Reason::ApprovedEntry {
                entry: "CVE-2026-1111".to_owned()
            }
        );
    }
}

// Each patch carries its target's release and the instant its approval took effect: the
// release plus an age rule's delay, the release under a date limit, nothing for an approved
// entry (the baseline does not keep when the entry was added) or an unknown release.
#[test]
fn targets_carry_their_release_and_approval_instants() {
    let world = openssl_world("2025-11-01T00:00:00Z");
    let item = |evaluation: &crate::evaluate::Evaluation| {
        let item = evaluation
            .items
            .iter()
            .find(|i| i.name == "openssl")
            .unwrap()
            .clone();
        (item.released, item.approved_at)
    };
    let after_days = baseline(vec![security_rule(Approval::AfterDays(7))]);
    assert_eq!(
        item(&world.eval(&after_days, "2025-11-20T00:00:00Z")),
        (
            Some(ts("2025-11-01T00:00:00Z")),
            Some(ts("2025-11-08T00:00:00Z"))
        )
    );
    let until = baseline(vec![security_rule(Approval::UntilDate(jiff::civil::date(
        2025, 11, 10,
    )))]);
    assert_eq!(
        item(&world.eval(&until, "2025-11-20T00:00:00Z")),
        (
            Some(ts("2025-11-01T00:00:00Z")),
            Some(ts("2025-11-01T00:00:00Z"))
        )
    );
    let mut by_entry = baseline(Vec::new());
    by_entry.approved = vec![Exception::new("openssl-1.0.2k-26.x86_64")];
    assert_eq!(
        item(&world.eval(&by_entry, "2025-11-20T00:00:00Z")),
        (Some(ts("2025-11-01T00:00:00Z")), None)
    );
    let mut undated = openssl_world("2025-11-01T00:00:00Z");
    undated.advisories[0].issued = None;
    undated.advisories[0].updated = None;
    assert_eq!(
        item(&undated.eval(&after_days, "2025-11-20T00:00:00Z")),
        (None, None)
    );
}
