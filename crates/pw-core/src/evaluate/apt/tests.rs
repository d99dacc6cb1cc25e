//! Unit tests of the apt evaluation: ssm-reference §3.6 and §11.13, the default Debian and
//! Ubuntu baselines, filters, lists, approval delays and reboot tracking.

use jiff::Timestamp;

use crate::apt::Origin;
use crate::baseline::{
    Approval, Baseline, ComplianceLevel, Exception, Filter, FilterGroup, FilterKey,
    OperatingSystem, RejectedAction, Rule, default_baseline,
};
use crate::evaluate::apt::{
    AptAvailable, AptContext, AptHost, AptInstalled, DebTarget, evaluate_apt, install_targets,
};
use crate::evaluate::{EvaluateOptions, Evaluation, Reason};
use crate::version::deb::DebVersion;

const NOW: &str = "2025-11-16T18:00:00Z";

fn version(text: &str) -> DebVersion {
    DebVersion::parse(text).unwrap()
}

fn origin(os: &str, archive: &str) -> Origin {
    let (origin, label) = match (os, archive.ends_with("-security")) {
        ("debian", true) => ("Debian", "Debian-Security"),
        ("debian", false) => ("Debian", "Debian"),
        (_, _) => ("Ubuntu", "Ubuntu"),
    };
    Origin {
        origin: Some(origin.to_owned()),
        label: Some(label.to_owned()),
        archive: Some(archive.to_owned()),
        codename: archive.split('-').next().map(str::to_owned),
        component: Some("main".to_owned()),
        site: Some(
            if os == "debian" {
                "deb.debian.org"
            } else {
                "archive.ubuntu.com"
            }
            .to_owned(),
        ),
    }
}

#[derive(Default)]
struct World {
    os: &'static str,
    installed: Vec<AptInstalled>,
    available: Vec<AptAvailable>,
    pending: Vec<DebTarget>,
}

impl World {
    fn ubuntu() -> World {
        World {
            os: "ubuntu",
            ..World::default()
        }
    }

    fn debian() -> World {
        World {
            os: "debian",
            ..World::default()
        }
    }

    fn installed(mut self, name: &str, arch: &str, text: &str) -> World {
        self.installed.push(AptInstalled {
            name: name.to_owned(),
            arch: arch.to_owned(),
            version: version(text),
            install_time: None,
            configured: true,
        });
        self
    }

    /// An available version: `archive` names its suite, `priority`/`section` its fields.
    fn offers(
        mut self,
        name: &str,
        arch: &str,
        text: &str,
        archive: &str,
        priority: &str,
        section: &str,
    ) -> World {
        self.available.push(AptAvailable {
            name: name.to_owned(),
            arch: arch.to_owned(),
            version: version(text),
            priority: (!priority.is_empty()).then(|| priority.to_owned()),
            section: (!section.is_empty()).then(|| section.to_owned()),
            origins: vec![origin(self.os, archive)],
            first_seen: None,
            depends: Vec::new(),
            phased_update_percentage: None,
        });
        self
    }

    /// Sets the last version's `Phased-Update-Percentage`.
    fn phased(mut self, percentage: u8) -> World {
        if let Some(last) = self.available.last_mut() {
            last.phased_update_percentage = Some(percentage);
        }
        self
    }

    fn first_seen(mut self, at: &str) -> World {
        if let Some(last) = self.available.last_mut() {
            last.first_seen = Some(at.parse().unwrap());
        }
        self
    }

    fn depends_on(mut self, names: &[&str]) -> World {
        if let Some(last) = self.available.last_mut() {
            last.depends
                .push(names.iter().map(|n| (*n).to_owned()).collect());
        }
        self
    }

    fn eval_with(
        &self,
        baseline: &Baseline,
        now: &str,
        include_not_applicable: bool,
    ) -> Evaluation {
        let context = AptContext {
            product: if self.os == "debian" {
                "Debian12"
            } else {
                "Ubuntu22.04"
            }
            .to_owned(),
            native_arch: "amd64".to_owned(),
            now: now.parse::<Timestamp>().unwrap(),
        };
        let host = AptHost {
            installed: &self.installed,
            available: &self.available,
            pending_reboot: &self.pending,
        };
        evaluate_apt(
            baseline,
            host,
            &context,
            &EvaluateOptions {
                include_not_applicable,
            },
        )
    }

    fn eval(&self, baseline: &Baseline) -> Evaluation {
        self.eval_with(baseline, NOW, false)
    }
}

/// Checks one item: `expected` is `State target` (`Missing 1.2-1`, `InstalledOther -`).
#[track_caller]
fn check(evaluation: &Evaluation, name: &str, expected: &str) {
    let item = evaluation
        .items
        .iter()
        .find(|item| item.name == name)
        .unwrap_or_else(|| panic!("no item {name}"));
    let target = item
        .target
        .as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string);
    assert_eq!(
        format!("{} {target}", item.state),
        expected,
        "{name}: reason {}",
        item.reason
    );
}

fn ubuntu_default() -> Baseline {
    default_baseline(OperatingSystem::Ubuntu)
}

fn custom(rules: Vec<Rule>) -> Baseline {
    let mut baseline = Baseline::empty("custom", OperatingSystem::Ubuntu);
    baseline.rules = rules;
    baseline
}

fn rule(filters: &[(FilterKey, &[&str])], approval: Approval, enable_non_security: bool) -> Rule {
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
        compliance_level: ComplianceLevel::High,
        enable_non_security,
    }
}

fn openssl_world() -> World {
    World::ubuntu()
        .installed("openssl", "amd64", "3.0.2-0ubuntu1.10")
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.10",
            "jammy",
            "important",
            "utils",
        )
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.15",
            "jammy-security",
            "important",
            "utils",
        )
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.16",
            "jammy-updates",
            "important",
            "utils",
        )
}

#[test]
fn default_ubuntu_baseline_targets_the_newest_security_version() {
    let e = openssl_world().eval(&ubuntu_default());
    check(&e, "openssl", "Missing 3.0.2-0ubuntu1.15");
    let item = &e.items[0];
    assert_eq!(item.classification.as_deref(), Some("Security"));
    assert_eq!(item.severity.as_deref(), Some("important"));
    assert_eq!(item.id(), "openssl.amd64");
    assert_eq!(
        item.installed.as_ref().unwrap().to_string(),
        "3.0.2-0ubuntu1.10"
    );
    assert_eq!(
        item.reason.to_string(),
        "approved by rule 1 via jammy-security"
    );
    assert_eq!(e.summary.security_non_compliant, 1);
    let targets = install_targets(&e);
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].apt_spec(), "openssl:amd64=3.0.2-0ubuntu1.15");
}

#[test]
fn installed_security_version_is_installed() {
    let world = World::ubuntu()
        .installed("openssl", "amd64", "3.0.2-0ubuntu1.15")
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.15",
            "jammy-security",
            "important",
            "utils",
        )
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.16",
            "jammy-updates",
            "important",
            "utils",
        );
    let e = world.eval(&ubuntu_default());
    check(&e, "openssl", "Installed 3.0.2-0ubuntu1.15");
    assert_eq!(e.summary.installed, 1);
}

#[test]
fn non_security_update_needs_enable_non_security() {
    let world = World::ubuntu()
        .installed("curl", "amd64", "7.81.0-1ubuntu1.15")
        .offers(
            "curl",
            "amd64",
            "7.81.0-1ubuntu1.15",
            "jammy",
            "optional",
            "web",
        )
        .offers(
            "curl",
            "amd64",
            "7.81.0-1ubuntu1.16",
            "jammy-updates",
            "optional",
            "web",
        );
    let e = world.eval(&ubuntu_default());
    check(&e, "curl", "InstalledOther -");
    let Reason::NotApproved { detail } = &e.items[0].reason else {
        panic!("{:?}", e.items[0].reason)
    };
    assert!(
        detail.contains("non-security") && detail.contains("jammy-updates"),
        "{detail}"
    );

    let enabled = custom(vec![rule(
        &[(FilterKey::Product, &["*"])],
        Approval::Immediate,
        true,
    )]);
    let e = world.eval(&enabled);
    check(&e, "curl", "Missing 7.81.0-1ubuntu1.16");
    assert_eq!(e.items[0].classification, None);
    assert_eq!(
        e.items[0].reason.to_string(),
        "approved by rule 1 (non-security update)"
    );
}

/// §11.13: an approved package whose newer version exists only in `jammy-updates` is not
/// installed unless the approved list enables non-security updates.
#[test]
fn approved_entry_still_needs_a_security_origin() {
    let world = World::ubuntu()
        .installed("nginx", "amd64", "1.18.0-6ubuntu14.3")
        .offers(
            "nginx",
            "amd64",
            "1.18.0-6ubuntu14.4",
            "jammy-updates",
            "optional",
            "httpd",
        );
    let mut baseline = custom(Vec::new());
    baseline.approved = vec![Exception::new("nginx")];
    check(&world.eval(&baseline), "nginx", "InstalledOther -");
    baseline.approved_enable_non_security = true;
    let e = world.eval(&baseline);
    check(&e, "nginx", "Missing 1.18.0-6ubuntu14.4");
    assert_eq!(
        e.items[0].reason.to_string(),
        "approved patch entry `nginx`"
    );
}

#[test]
fn approved_entry_forms_match_like_apt() {
    let world = World::ubuntu()
        .installed("openssl", "amd64", "3.0.2-0ubuntu1.10")
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.15",
            "jammy-security",
            "important",
            "utils",
        );
    for entry in [
        "openssl",
        "OPENSSL.amd64",
        "openssl-3.0.2-0ubuntu1.15",
        "openssl.amd64:3.0.2-0ubuntu1.15",
        "open*",
    ] {
        let mut baseline = custom(Vec::new());
        baseline.approved = vec![Exception::new(entry)];
        check(
            &world.eval(&baseline),
            "openssl",
            "Missing 3.0.2-0ubuntu1.15",
        );
    }
    let mut baseline = custom(Vec::new());
    baseline.approved = vec![Exception::new("openssl.i386")];
    check(&world.eval(&baseline), "openssl", "InstalledOther -");
}

#[test]
fn rejected_package_is_never_targeted() {
    let mut baseline = ubuntu_default();
    baseline.rejected = vec![Exception::new("openssl")];
    let e = openssl_world().eval(&baseline);
    check(&e, "openssl", "InstalledOther -");
    assert_eq!(
        e.items[0].reason,
        Reason::Rejected {
            entry: "openssl".to_owned(),
            action: RejectedAction::AllowAsDependency
        }
    );
    baseline.rejected_action = RejectedAction::Block;
    let e = openssl_world().eval(&baseline);
    check(&e, "openssl", "InstalledRejected -");
    assert_eq!(e.summary.installed_rejected, 1);
}

#[test]
fn rejecting_only_the_newest_version_falls_back_to_an_older_approved_one() {
    let world = World::ubuntu()
        .installed("openssl", "amd64", "3.0.2-0ubuntu1.10")
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.12",
            "jammy-security",
            "important",
            "utils",
        )
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.15",
            "jammy-security",
            "important",
            "utils",
        );
    let mut baseline = ubuntu_default();
    baseline.rejected = vec![Exception::new("openssl-3.0.2-0ubuntu1.15")];
    check(
        &world.eval(&baseline),
        "openssl",
        "Missing 3.0.2-0ubuntu1.12",
    );
}

#[test]
fn rejected_and_approved_is_rejected() {
    let mut baseline = custom(Vec::new());
    baseline.approved = vec![Exception::new("openssl")];
    baseline.rejected = vec![Exception::new("openssl")];
    check(
        &openssl_world().eval(&baseline),
        "openssl",
        "InstalledOther -",
    );
}

#[test]
fn priority_filter() {
    let world = World::debian()
        .installed("libfoo1", "amd64", "1.0-1")
        .offers(
            "libfoo1",
            "amd64",
            "1.0-1+deb12u1",
            "bookworm-security",
            "optional",
            "libs",
        )
        .installed("base-files", "amd64", "12.4+deb12u5")
        .offers(
            "base-files",
            "amd64",
            "12.4+deb12u6",
            "bookworm-security",
            "required",
            "admin",
        );
    let baseline = custom(vec![rule(
        &[(FilterKey::Priority, &["Required", "Important"])],
        Approval::Immediate,
        false,
    )]);
    let e = world.eval(&baseline);
    check(&e, "base-files", "Missing 12.4+deb12u6");
    check(&e, "libfoo1", "InstalledOther -");
    let item = e.items.iter().find(|i| i.name == "libfoo1").unwrap();
    assert!(
        item.reason
            .to_string()
            .contains("rule 1 wants PRIORITY in [Required, Important]"),
        "{}",
        item.reason
    );
}

#[test]
fn section_filter_and_global_filters() {
    let world = World::debian()
        .installed("libfoo1", "amd64", "1.0-1")
        .offers(
            "libfoo1",
            "amd64",
            "1.0-1+deb12u1",
            "bookworm-security",
            "optional",
            "libs",
        )
        .installed("bar", "amd64", "2.0-1")
        .offers(
            "bar",
            "amd64",
            "2.0-1+deb12u1",
            "bookworm-security",
            "optional",
            "net",
        );
    let baseline = custom(vec![rule(
        &[(FilterKey::Section, &["libs"])],
        Approval::Immediate,
        false,
    )]);
    let e = world.eval(&baseline);
    check(&e, "libfoo1", "Missing 1.0-1+deb12u1");
    check(&e, "bar", "InstalledOther -");

    // Global filters gate the approved list too (ssm-reference §1.4, APT).
    let mut baseline = custom(Vec::new());
    baseline.approved = vec![Exception::new("bar"), Exception::new("libfoo1")];
    baseline.global_filters = FilterGroup {
        filters: vec![Filter {
            key: FilterKey::Section,
            values: vec!["net".to_owned()],
        }],
    };
    let e = world.eval(&baseline);
    check(&e, "bar", "Missing 2.0-1+deb12u1");
    check(&e, "libfoo1", "InstalledOther -");
    let item = e.items.iter().find(|i| i.name == "libfoo1").unwrap();
    assert!(
        item.reason
            .to_string()
            .contains("excluded by the global filters"),
        "{}",
        item.reason
    );
}

#[test]
fn default_debian_baseline_uses_the_security_label() {
    let world = World::debian()
        .installed("libssl3", "amd64", "3.0.11-1~deb12u2")
        .offers(
            "libssl3",
            "amd64",
            "3.0.14-1~deb12u1",
            "bookworm",
            "optional",
            "libs",
        )
        .offers(
            "libssl3",
            "amd64",
            "3.0.15-1~deb12u1",
            "bookworm-security",
            "optional",
            "libs",
        )
        .installed("tzdata", "all", "2024a-0+deb12u1")
        .offers(
            "tzdata",
            "all",
            "2025b-0+deb12u1",
            "bookworm-updates",
            "required",
            "localization",
        );
    let e = world.eval(&default_baseline(OperatingSystem::Debian));
    check(&e, "libssl3", "Missing 3.0.15-1~deb12u1");
    check(&e, "tzdata", "InstalledOther -");
    let tzdata = e.items.iter().find(|i| i.name == "tzdata").unwrap();
    assert_eq!(tzdata.arch, "all");
    assert_eq!(tzdata.id(), "tzdata.all");

    // The security archive of Debian 10 and older: suite `stable`, label `Debian-Security`.
    let mut old = World::debian()
        .installed("libssl1.1", "amd64", "1.1.1n-0+deb10u3")
        .offers(
            "libssl1.1",
            "amd64",
            "1.1.1n-0+deb10u6",
            "stable",
            "optional",
            "libs",
        );
    old.available[0].origins[0].label = Some("Debian-Security".to_owned());
    check(
        &old.eval(&default_baseline(OperatingSystem::Debian)),
        "libssl1.1",
        "Missing 1.1.1n-0+deb10u6",
    );
}

#[test]
fn approval_delay_uses_first_seen_when_known() {
    let world = |seen: Option<&str>| {
        let mut world = World::ubuntu()
            .installed("openssl", "amd64", "3.0.2-0ubuntu1.10")
            .offers(
                "openssl",
                "amd64",
                "3.0.2-0ubuntu1.15",
                "jammy-security",
                "important",
                "utils",
            );
        if let Some(seen) = seen {
            world = world.first_seen(seen);
        }
        world
    };
    let baseline = custom(vec![rule(
        &[(FilterKey::Product, &["*"])],
        Approval::AfterDays(7),
        false,
    )]);
    // ssm-reference §11.2: strict `<` against now − 7 days.
    check(
        &world(Some("2025-11-09T17:59:59Z")).eval(&baseline),
        "openssl",
        "Missing 3.0.2-0ubuntu1.15",
    );
    let e = world(Some("2025-11-09T18:00:00Z")).eval(&baseline);
    check(&e, "openssl", "InstalledOther -");
    assert!(
        e.items[0].reason.to_string().contains("first seen before"),
        "{}",
        e.items[0].reason
    );
    // Unknown release time: approved immediately, as the original always does on apt.
    check(
        &world(None).eval(&baseline),
        "openssl",
        "Missing 3.0.2-0ubuntu1.15",
    );

    // ApproveUntilDate: the cut-off is midnight after the date.
    let until = custom(vec![rule(
        &[(FilterKey::Product, &["*"])],
        Approval::UntilDate("2025-11-16".parse().unwrap()),
        false,
    )]);
    check(
        &world(Some("2025-11-16T23:59:59Z")).eval(&until),
        "openssl",
        "Missing 3.0.2-0ubuntu1.15",
    );
    check(
        &world(Some("2025-11-17T00:00:00Z")).eval(&until),
        "openssl",
        "InstalledOther -",
    );
}

#[test]
fn same_version_in_two_suites_is_security_if_either_is() {
    let mut world = World::ubuntu()
        .installed("openssl", "amd64", "3.0.2-0ubuntu1.10")
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.15",
            "jammy-updates",
            "important",
            "utils",
        )
        .offers(
            "openssl",
            "amd64",
            "3.0.2-0ubuntu1.15",
            "jammy-security",
            "important",
            "utils",
        );
    let e = world.eval(&ubuntu_default());
    check(&e, "openssl", "Missing 3.0.2-0ubuntu1.15");
    assert_eq!(e.items[0].classification.as_deref(), Some("Security"));
    // first_seen is the earliest of the duplicates.
    world.available[0].first_seen = Some("2025-11-01T00:00:00Z".parse().unwrap());
    world.available[1].first_seen = Some("2025-11-15T00:00:00Z".parse().unwrap());
    let delayed = custom(vec![rule(
        &[(FilterKey::Product, &["*"])],
        Approval::AfterDays(7),
        false,
    )]);
    check(
        &world.eval(&delayed),
        "openssl",
        "Missing 3.0.2-0ubuntu1.15",
    );
}

#[test]
fn not_in_repositories_and_older_offers() {
    let world = World::ubuntu()
        .installed("local-tool", "amd64", "1.0")
        .installed("downgraded", "amd64", "2.0-1")
        .offers(
            "downgraded",
            "amd64",
            "1.0-1",
            "jammy-security",
            "optional",
            "misc",
        );
    let e = world.eval(&ubuntu_default());
    check(&e, "local-tool", "InstalledOther -");
    assert_eq!(
        e.items
            .iter()
            .find(|i| i.name == "local-tool")
            .unwrap()
            .reason,
        Reason::NotInRepositories
    );
    check(&e, "downgraded", "InstalledOther -");
    assert_eq!(e.summary.status.as_str(), "COMPLIANT");
}

#[test]
fn not_applicable_counts_approved_packages_that_are_not_installed() {
    let world = openssl_world()
        .offers(
            "libfoo1",
            "amd64",
            "1.0-1",
            "jammy-security",
            "optional",
            "libs",
        )
        .offers(
            "libbar1",
            "amd64",
            "1.0-1",
            "jammy-updates",
            "optional",
            "libs",
        );
    let e = world.eval(&ubuntu_default());
    assert_eq!(e.summary.not_applicable, 1);
    assert_eq!(e.items.len(), 1);
    let e = world.eval_with(&ubuntu_default(), NOW, true);
    check(&e, "libfoo1", "NotApplicable 1.0-1");
}

#[test]
fn arch_all_packages_group_with_the_native_arch() {
    // A package that moved from `amd64` to `all` between versions is still one item.
    let world = World::debian()
        .installed("python3-foo", "amd64", "1.0-1")
        .offers(
            "python3-foo",
            "all",
            "1.0-1+deb12u1",
            "bookworm-security",
            "optional",
            "python",
        );
    let e = world.eval(&default_baseline(OperatingSystem::Debian));
    check(&e, "python3-foo", "Missing 1.0-1+deb12u1");
    assert_eq!(
        install_targets(&e)[0].apt_spec(),
        "python3-foo:amd64=1.0-1+deb12u1"
    );
}

#[test]
fn foreign_arch_is_its_own_item() {
    let world = World::debian()
        .installed("libc6", "amd64", "2.36-9+deb12u7")
        .installed("libc6", "i386", "2.36-9+deb12u7")
        .offers(
            "libc6",
            "amd64",
            "2.36-9+deb12u9",
            "bookworm-security",
            "optional",
            "libs",
        );
    let e = world.eval(&default_baseline(OperatingSystem::Debian));
    let states: Vec<String> = e
        .items
        .iter()
        .map(|i| format!("{} {}", i.id(), i.state))
        .collect();
    assert_eq!(states, ["libc6.i386 InstalledOther", "libc6.amd64 Missing"]);
    assert!(e.items[1].reboot_suggested);
}

#[test]
fn pending_reboot() {
    let mut world = World::ubuntu()
        .installed("linux-image-6.8.0-45-generic", "amd64", "6.8.0-45.45")
        .offers(
            "linux-image-6.8.0-45-generic",
            "amd64",
            "6.8.0-45.45",
            "jammy-security",
            "optional",
            "kernel",
        );
    world.pending.push(DebTarget {
        name: "linux-image-6.8.0-45-generic".to_owned(),
        arch: "amd64".to_owned(),
        version: version("6.8.0-45.45"),
    });
    let e = world.eval(&ubuntu_default());
    check(
        &e,
        "linux-image-6.8.0-45-generic",
        "InstalledPendingReboot 6.8.0-45.45",
    );
    assert_eq!(e.summary.status.as_str(), "NON_COMPLIANT");
}

#[test]
fn unconfigured_target_is_failed() {
    let mut world = openssl_world();
    world.installed[0].version = version("3.0.2-0ubuntu1.15");
    world.installed[0].configured = false;
    let e = world.eval(&ubuntu_default());
    check(&e, "openssl", "Failed 3.0.2-0ubuntu1.15");
    assert_eq!(e.items[0].reason, Reason::InstallFailed);
    assert_eq!(e.summary.failed, 1);
}

#[test]
fn compliance_level_is_the_highest_approval() {
    let mut baseline = custom(vec![rule(
        &[(FilterKey::Product, &["*"])],
        Approval::Immediate,
        false,
    )]);
    baseline.approved = vec![Exception::new("openssl")];
    baseline.approved_compliance_level = ComplianceLevel::Critical;
    let e = openssl_world().eval(&baseline);
    assert_eq!(e.items[0].compliance_level, ComplianceLevel::Critical);
    assert_eq!(e.summary.critical_non_compliant, 1);
}

#[test]
fn block_skips_targets_that_need_a_rejected_package() {
    let world = World::debian()
        .installed("app", "amd64", "1.0-1")
        .offers(
            "app",
            "amd64",
            "1.0-1+deb12u1",
            "bookworm-security",
            "optional",
            "misc",
        )
        .depends_on(&["libbad1"])
        .offers(
            "libbad1",
            "amd64",
            "1.0-1",
            "bookworm-security",
            "optional",
            "libs",
        );
    let mut baseline = default_baseline(OperatingSystem::Debian);
    baseline.rejected = vec![Exception::new("libbad1")];
    check(&world.eval(&baseline), "app", "Missing 1.0-1+deb12u1");
    baseline.rejected_action = RejectedAction::Block;
    let e = world.eval(&baseline);
    check(&e, "app", "Missing 1.0-1+deb12u1");
    assert_eq!(
        e.items[0].reason,
        Reason::BlockedByRejectedDependency {
            requirement: "libbad1".to_owned()
        }
    );
    assert!(install_targets(&e).is_empty());
    let e = e.into_install_report();
    check(&e, "app", "Failed 1.0-1+deb12u1");
}

#[test]
fn evaluation_is_deterministic() {
    let world = openssl_world()
        .installed("zlib1g", "amd64", "1:1.2.11.dfsg-2ubuntu9")
        .offers(
            "zlib1g",
            "amd64",
            "1:1.2.11.dfsg-2ubuntu9.2",
            "jammy-security",
            "required",
            "libs",
        );
    let first = world.eval(&ubuntu_default());
    let second = world.eval(&ubuntu_default());
    assert_eq!(first, second);
    let names: Vec<&str> = first.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["openssl", "zlib1g"]);
    check(&first, "zlib1g", "Missing 1:1.2.11.dfsg-2ubuntu9.2");
}

/// Ubuntu's phasing: a version at `Phased-Update-Percentage: 0` (rollout halted by Ubuntu,
/// usually for a regression) is never approved, and the reason says so; any other percentage
/// is left to the baseline and the windows, which are the staged rollout (docs/apt.md).
#[test]
fn halted_phased_updates_are_never_approved_other_phases_are_ours() {
    let enabled = custom(vec![rule(
        &[(FilterKey::Product, &["*"])],
        Approval::Immediate,
        true,
    )]);
    let halted = openssl_world().phased(0);
    let e = halted.eval(&enabled);
    check(&e, "openssl", "Missing 3.0.2-0ubuntu1.15");
    // Nothing newer than the installed version that is approvable: the reason names the halt.
    let only_halted = World::ubuntu()
        .installed("curl", "amd64", "7.81.0-1ubuntu1.15")
        .offers(
            "curl",
            "amd64",
            "7.81.0-1ubuntu1.16",
            "jammy-updates",
            "optional",
            "web",
        )
        .phased(0);
    let e = only_halted.eval(&enabled);
    check(&e, "curl", "InstalledOther -");
    assert!(
        e.items[0]
            .reason
            .to_string()
            .contains("Ubuntu halted its phased rollout (Phased-Update-Percentage: 0)"),
        "{}",
        e.items[0].reason
    );
    // A phase under way is ours to roll out.
    let phasing = openssl_world().phased(40);
    check(
        &phasing.eval(&enabled),
        "openssl",
        "Missing 3.0.2-0ubuntu1.16",
    );
    // The same version offered unphased by another suite is not halted.
    let also_unphased = World::ubuntu()
        .installed("curl", "amd64", "7.81.0-1ubuntu1.15")
        .offers(
            "curl",
            "amd64",
            "7.81.0-1ubuntu1.16",
            "jammy-updates",
            "optional",
            "web",
        )
        .phased(0)
        .offers(
            "curl",
            "amd64",
            "7.81.0-1ubuntu1.16",
            "jammy-security",
            "optional",
            "web",
        );
    check(
        &also_unphased.eval(&enabled),
        "curl",
        "Missing 7.81.0-1ubuntu1.16",
    );
}
