//! Differential test (issue 5): on two copies of one installroot, dnf runs
//! `dnf -y --installroot=A --releasever=1 upgrade-minimal --sec-severity=Critical
//! --sec-severity=Important --bugfix` and the agent installs with the equivalent baseline
//! (Security with severity Critical or Important, and Bugfix, both approved after 0 days,
//! NoReboot); the two rpm databases must then hold exactly the same NEVRAs.
//!
//! Why the two agree, and where they cannot. dnf 4 (libdnf) turns the filters into a set of
//! candidate packages: exactly the versions that a matching advisory lists (`upgrade-minimal`
//! compares with "eq", where `upgrade --security` would take every version at or above), that
//! are available and newer than what is installed; the filters are OR-ed. The solver then
//! upgrades each installed package to the *highest* candidate, and pulls dependencies in at
//! their best versions. SSM's rule approves every version a matching advisory lists and targets
//! the highest approved one (ssm-reference §3.2); the agent installs that exact version with
//! `dnf upgrade`, which pulls dependencies in the same way. So the two coincide when:
//!
//! * every candidate dnf sees is a version a baseline rule approves, and the reverse: the
//!   advisories carry severities only on security advisories (or on advisories the Bugfix rule
//!   takes anyway), since `--sec-severity` matches advisories of every type;
//! * the highest approved version is available (SSM does not fall back to a lower one, dnf
//!   never considers a version it cannot install);
//! * approvals are immediate (`approve_after_days = 0` and `now` after every date; dnf has no
//!   notion of a release delay).
//!
//! Shapes covered on the equivalent side (see `pw_test_support::differential` for the table):
//! two successive matching advisories on one package; a matching advisory followed by a
//! non-matching one and the reverse; a newer version without advisory above a matching one
//! (upgrade-minimal stops at the listed version, and so does the baseline); advisories that
//! match nothing (enhancement, Moderate, Low, security without severity); an advisory listing
//! the installed version; an advisory for a package that is not installed; a dependency pulled
//! in at its highest version; one advisory listing two packages; an epoch; a bugfix advisory
//! with a severity; one version listed by a matching and a non-matching advisory; and the
//! standard fixture (install-only kernel, a package that requires another's update, a package
//! whose update would fail but is not selected).
//!
//! The divergent side documents the two shapes where the tools legitimately differ: an
//! enhancement advisory with severity Important (dnf installs it, the baseline's severity filter
//! belongs to its Security rule), and a Critical advisory for omega-1.1 followed by an
//! Important one for omega-1.3 that no repository offers (dnf installs 1.1, SSM targets 1.3,
//! finds it unavailable and does not fall back).

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use pw_agent::{AgentExit, AgentSettings, OperationKind, OperationOutcome, RebootOption};
use pw_core::baseline::OperatingSystem;
use pw_core::evaluate::{PatchState, Reason};
use pw_pkgmgr::PackageManager;
use pw_pkgmgr::command::{self, CommandSpec};
use pw_pkgmgr::hooks::ShellCommand;
use pw_test_support::InstallRoot;

/// The baseline equivalent to `--sec-severity=Critical --sec-severity=Important --bugfix`.
const EQUIVALENT_BASELINE: &str = r#"version = "1"
name = "upgrade-minimal-equivalent"
operating_system = "AMAZON_LINUX_2023"
[[rules]]
classification = ["Security"]
severity = ["Critical", "Important"]
approve_after_days = 0
[[rules]]
classification = ["Bugfix"]
approve_after_days = 0
"#;

/// After every date of both fixtures.
const NOW: &str = "2024-06-01T00:00:00Z";

/// `name-[epoch:]version-release.arch` of every installed package.
fn inventory(root: &InstallRoot) -> BTreeSet<String> {
    pw_pkgmgr::rpm::installed_packages(&root.settings())
        .unwrap()
        .iter()
        .map(|package| package.nevra.to_string())
        .collect()
}

fn dnf_upgrade_minimal(root: &InstallRoot) {
    let mut installroot = std::ffi::OsString::from("--installroot=");
    installroot.push(root.path());
    let spec = CommandSpec::new("dnf")
        .arg("-y")
        .arg(installroot)
        .args([
            "--releasever=1",
            "upgrade-minimal",
            "--sec-severity=Critical",
            "--sec-severity=Important",
            "--bugfix",
        ])
        .timeout(Duration::from_secs(300));
    let output = command::run(&spec).unwrap();
    assert!(
        output.success(),
        "{:?}: {}\n{}",
        output.termination,
        output.stdout_tail(4000),
        output.stderr_tail(4000)
    );
}

fn agent_install(root: &InstallRoot) -> OperationOutcome {
    let dir = tempfile::tempdir().unwrap();
    let proc_dir = dir.path().join("proc");
    fs_err::create_dir_all(&proc_dir).unwrap();
    let boot: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
    fs_err::write(
        proc_dir.join("stat"),
        format!("cpu 1 2 3\nbtime {}\n", boot.as_second()),
    )
    .unwrap();
    let baseline = pw_api::baseline::parse_toml(EQUIVALENT_BASELINE)
        .unwrap()
        .baseline;
    let mut settings = AgentSettings::new(baseline);
    settings.root = root.root();
    settings.state_dir = dir.path().join("state");
    settings.proc_dir = proc_dir;
    settings.operating_system = Some(OperatingSystem::AmazonLinux2023);
    settings.product = Some("AmazonLinux2023".to_owned());
    settings.package_manager = Some(PackageManager::Dnf);
    settings.releasever = Some("1".to_owned());
    settings.reboot_option = RebootOption::NoReboot;
    settings.reboot_command = ShellCommand {
        command: "true".to_owned(),
        timeout: Duration::from_secs(10),
    };
    let now: Timestamp = NOW.parse().unwrap();
    pw_agent::run(&settings, OperationKind::Install, &move || now).unwrap()
}

/// What each side did to one starting state.
struct Runs {
    before: BTreeSet<String>,
    dnf: BTreeSet<String>,
    agent: BTreeSet<String>,
    outcome: OperationOutcome,
}

/// Runs dnf on the root and the agent on a copy of it.
fn run_both(root: &InstallRoot) -> Runs {
    let copy = root.duplicate().unwrap();
    let before = inventory(root);
    assert_eq!(inventory(&copy), before);
    dnf_upgrade_minimal(root);
    let outcome = agent_install(&copy);
    Runs {
        before,
        dnf: inventory(root),
        agent: inventory(&copy),
        outcome,
    }
}

/// Both tools end with the same packages, and that is `before` minus `removed` plus `added`.
#[track_caller]
fn check(root: &InstallRoot, removed: &[&str], added: &[&str]) {
    let runs = run_both(root);
    assert_eq!(
        runs.agent,
        runs.dnf,
        "the agent ({:?}) and dnf ({:?}) disagree; agent report: {:#?}",
        runs.agent.difference(&runs.dnf).collect::<Vec<_>>(),
        runs.dnf.difference(&runs.agent).collect::<Vec<_>>(),
        runs.outcome.report
    );
    let expected: BTreeSet<String> = runs
        .before
        .iter()
        .filter(|nevra| !removed.contains(&nevra.as_str()))
        .cloned()
        .chain(added.iter().map(|nevra| (*nevra).to_owned()))
        .collect();
    assert_eq!(
        runs.dnf, expected,
        "both tools agree, but not with the expectation"
    );
    assert_eq!(
        runs.outcome.exit,
        AgentExit::Success,
        "{:#?}",
        runs.outcome.report
    );
    assert_eq!(runs.outcome.evaluation.summary.failed, 0);
}

#[test]
fn standard_fixture_agent_installs_what_dnf_upgrade_minimal_installs() {
    let root = pw_test_support::standard().unwrap().old_root().unwrap();
    check(
        &root,
        &[
            "foo-1.0-1.noarch",
            "bar-1.0-1.noarch",
            "glibc-2.28-1.noarch",
        ],
        // kernel is install-only: 5.1 goes in beside 5.0. foo stops at 1.1 (2.0 is an
        // enhancement); broken's update is Moderate; withepoch's has no advisory.
        &[
            "foo-1.1-1.noarch",
            "bar-1.1-1.noarch",
            "glibc-2.28-2.noarch",
            "kernel-5.1-1.noarch",
        ],
    );
}

#[test]
fn differential_fixture_agent_installs_what_dnf_upgrade_minimal_installs() {
    let fixture = pw_test_support::differential::differential().unwrap();
    let root = fixture.old_root(&fixture.repo).unwrap();
    check(
        &root,
        &[
            "alpha-1.0-1.noarch",
            "beta-1.0-1.noarch",
            "gamma-1.0-1.noarch",
            "zeta-1.0-1.noarch",
            "eta-1.0-1.noarch",
            "lambda-1.0-1.noarch",
            "mu-1.0-1.noarch",
            "xi-1.0-1.noarch",
            "omicron-1.0-1.noarch",
            "pi-1:1.0-1.noarch",
            "rho-1.0-1.noarch",
            "sigma-1.0-1.noarch",
        ],
        &[
            "alpha-1.2-1.noarch",
            "beta-1.1-1.noarch",
            "gamma-1.2-1.noarch",
            "zeta-1.1-1.noarch",
            "eta-1.2-1.noarch",
            "lambda-1.1-1.noarch",
            "mu-1.2-1.noarch",
            "xi-1.1-1.noarch",
            "omicron-1.1-1.noarch",
            "pi-1:1.1-1.noarch",
            "rho-1.1-1.noarch",
            "sigma-1.1-1.noarch",
        ],
    );
}

/// The two documented divergences, asserted as they are: dnf installs nu-1.1 and omega-1.1,
/// the agent neither, and everything else agrees.
#[test]
fn divergent_advisories_dnf_installs_what_the_baseline_does_not_approve() {
    let fixture = pw_test_support::differential::differential().unwrap();
    let root = fixture.old_root(&fixture.divergent_repo).unwrap();
    let runs = run_both(&root);
    let only_dnf: Vec<&String> = runs.dnf.difference(&runs.agent).collect();
    let only_agent: Vec<&String> = runs.agent.difference(&runs.dnf).collect();
    assert_eq!(
        only_dnf,
        ["nu-1.1-1.noarch", "omega-1.1-1.noarch"],
        "{:#?}",
        runs.outcome.report
    );
    assert_eq!(only_agent, ["nu-1.0-1.noarch", "omega-1.0-1.noarch"]);
    assert!(runs.dnf.contains("alpha-1.2-1.noarch") && runs.agent.contains("alpha-1.2-1.noarch"));

    let item = |name: &str| {
        runs.outcome
            .evaluation
            .items
            .iter()
            .find(|item| item.name == name)
            .unwrap()
    };
    // nu: the enhancement is not approved, whatever its severity.
    let nu = item("nu");
    assert_eq!(nu.state, PatchState::InstalledOther, "{nu:#?}");
    assert!(
        matches!(nu.reason, Reason::NotApproved { .. }),
        "{}",
        nu.reason
    );
    // omega: the approved 1.3 is not available, and there is no fallback to 1.1.
    let omega = item("omega");
    assert_eq!(omega.state, PatchState::InstalledOther, "{omega:#?}");
    assert_eq!(
        omega.reason,
        Reason::ApprovedVersionUnavailable {
            version: "1.3-1".to_owned()
        }
    );
}

fn compare(root: &InstallRoot) -> pw_agent::Comparison {
    let dir = tempfile::tempdir().unwrap();
    // Any baseline: compare evaluates with the equivalent one.
    let baseline = pw_api::baseline::parse_toml(EQUIVALENT_BASELINE)
        .unwrap()
        .baseline;
    let mut settings = AgentSettings::new(baseline);
    settings.root = root.root();
    settings.state_dir = dir.path().join("state");
    settings.operating_system = Some(OperatingSystem::AmazonLinux2023);
    settings.product = Some("AmazonLinux2023".to_owned());
    settings.package_manager = Some(PackageManager::Dnf);
    settings.releasever = Some("1".to_owned());
    let now: Timestamp = NOW.parse().unwrap();
    pw_agent::compare(&settings, &move || now).unwrap()
}

/// `agent compare` asks dnf itself (`repoquery --upgrades` with the same advisory filters)
/// and agrees with the agent on every package of the differential fixture.
#[test]
fn agent_compare_agrees_with_dnf_on_the_differential_fixture() {
    let fixture = pw_test_support::differential::differential().unwrap();
    let root = fixture.old_root(&fixture.repo).unwrap();
    let comparison = compare(&root);
    assert!(
        comparison.differences.is_empty(),
        "{:#?}\n{}",
        comparison.differences,
        comparison.query
    );
    let agreed: Vec<String> = comparison
        .agreed
        .iter()
        .map(|(package, version)| format!("{package} {version}"))
        .collect();
    assert!(
        agreed.contains(&"alpha.noarch 1.2-1".to_owned()),
        "{agreed:?}"
    );
    assert!(
        agreed.contains(&"pi.noarch 1:1.1-1".to_owned()),
        "{agreed:?}"
    );
    assert!(
        comparison.query.contains("repoquery --upgrades"),
        "{}",
        comparison.query
    );
}

/// The documented divergences show as differences, each with the agent's reason.
#[test]
fn agent_compare_names_the_divergences_and_why() {
    let fixture = pw_test_support::differential::differential().unwrap();
    let root = fixture.old_root(&fixture.divergent_repo).unwrap();
    let comparison = compare(&root);
    let differences: Vec<(String, Option<String>, Option<String>)> = comparison
        .differences
        .iter()
        .map(|d| (d.package.clone(), d.ours.clone(), d.theirs.clone()))
        .collect();
    assert_eq!(
        differences,
        [
            ("nu.noarch".to_owned(), None, Some("1.1-1".to_owned())),
            ("omega.noarch".to_owned(), None, Some("1.1-1".to_owned())),
        ]
    );
    assert!(
        comparison.differences[1]
            .why
            .contains("approved version 1.3-1 is not available"),
        "{:?}",
        comparison.differences[1]
    );
}
