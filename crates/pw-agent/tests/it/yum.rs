//! The catalog a yum 3 host sees (Amazon Linux 2, RHEL/CentOS 7), built from its
//! configuration as yum reads it: yum's flat cache with `primary_db`, `/etc/yum.conf` with
//! `plugins=1`, the priorities plugin, `[main]` and per-repository `exclude=`,
//! `includepkgs=`, versionlock, `key: value` lines, `include=`, `/etc/yum/vars`, and an
//! invalid `enabled`. Real rpms and repositories (rpmbuild, createrepo_c, modifyrepo_c),
//! a real rpm database; the cache is laid out by hand the way yum 3 leaves it, and the
//! agent scans with `--no-refresh`: yum itself cannot be installed here (Debian has none),
//! so no yum runs in these tests.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use pw_agent::{AgentSettings, OperationKind};
use pw_core::baseline::OperatingSystem;
use pw_pkgmgr::PackageManager;
use pw_test_support::{
    AdvisoryKind, AdvisorySpec, InstallRoot, Metadata, Repo, RepoBuilder, RpmSpec,
};

const BASELINE: &str = r#"version = "1"
name = "al2-bugfix"
operating_system = "AMAZON_LINUX_2"
[[rules]]
classification = ["Bugfix"]
approve_after_days = 0
"#;

fn issued() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// A repository of `specs` with one bugfix advisory per package, as createrepo_c writes it
/// (both primary formats).
fn repository(dir: &Path, name: &str, specs: &[RpmSpec]) -> Repo {
    let rpms = pw_test_support::build_rpms(specs, &dir.join(format!("{name}-rpms"))).unwrap();
    let mut builder = RepoBuilder::new()
        .rpms(&rpms)
        .metadata(Metadata::XmlAndSqlite);
    for (index, rpm) in rpms.iter().enumerate() {
        builder = builder.advisory(
            AdvisorySpec::new(
                &format!("{name}-2026-{index}"),
                AdvisoryKind::Bugfix,
                issued(),
            )
            .package(rpm.nevra.clone()),
        );
    }
    builder.build(&dir.join(name)).unwrap()
}

/// The cache yum 3 leaves for `repo` under `/var/cache/yum/x86_64/2/<id>/`: repomd.xml and
/// the files yum fetched (primary_db and updateinfo), flat.
fn yum_cache(root: &InstallRoot, id: &str, repo: &Repo) {
    yum_cache_in(root, &format!("var/cache/yum/x86_64/2/{id}"), repo);
}

/// The same in `dir` (relative to the root).
fn yum_cache_in(root: &InstallRoot, dir: &str, repo: &Repo) {
    let cache = root.path().join(dir);
    fs_err::create_dir_all(&cache).unwrap();
    for entry in fs_err::read_dir(repo.dir.join("repodata")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "repomd.xml" || name.contains("primary.sqlite") || name.contains("updateinfo") {
            fs_err::copy(entry.path(), cache.join(&name)).unwrap();
        }
    }
}

/// A scan (no refresh: no yum runs here) of an Amazon Linux 2 root with `--package-manager
/// yum` and the bugfix baseline, on 2026-02-01.
fn yum_scan(root: &InstallRoot) -> pw_agent::OperationOutcome {
    let state = tempfile::tempdir().unwrap();
    let mut settings = AgentSettings::new(pw_api::baseline::parse_toml(BASELINE).unwrap().baseline);
    settings.root = root.root();
    settings.state_dir = state.path().to_owned();
    settings.operating_system = Some(OperatingSystem::AmazonLinux2);
    settings.product = Some("AmazonLinux2".to_owned());
    settings.package_manager = Some(PackageManager::Yum);
    settings.releasever = Some("2".to_owned());
    settings.refresh = false;
    let at: Timestamp = "2026-02-01T00:00:00Z".parse().unwrap();
    pw_agent::run(&settings, OperationKind::Scan, &move || at).unwrap()
}

#[test]
fn the_catalog_is_what_yum_would_see() {
    let dir = tempfile::tempdir().unwrap();
    let installed = pw_test_support::build_rpms(
        &[
            RpmSpec::new("alpha", "1.0-1"),
            RpmSpec::new("beta", "1.0-1"),
            RpmSpec::new("gamma", "1.0-1"),
            RpmSpec::new("delta", "1.0-1"),
            RpmSpec::new("epsilon", "1.0-1"),
        ],
        &dir.path().join("installed"),
    )
    .unwrap();
    // amzn2-core, priority 10: alpha at the installed version, gamma, epsilon 1.1 and 1.2.
    let core = repository(
        dir.path(),
        "core",
        &[
            RpmSpec::new("alpha", "1.0-1"),
            RpmSpec::new("gamma", "1.1-1"),
            RpmSpec::new("epsilon", "1.1-1"),
            RpmSpec::new("epsilon", "1.2-1"),
        ],
    );
    // A vendor repository, default priority 99, `includepkgs=alpha* beta*`.
    let extra = repository(
        dir.path(),
        "extra",
        &[
            RpmSpec::new("alpha", "1.1-1"),
            RpmSpec::new("beta", "1.1-1"),
            RpmSpec::new("delta", "1.1-1"),
        ],
    );
    let broken = repository(dir.path(), "broken", &[RpmSpec::new("zeta", "9.9-1")]);

    let root = InstallRoot::new().unwrap();
    root.rpm_install(&installed.iter().collect::<Vec<_>>())
        .unwrap();
    // yum 3 reads /etc/yum/yum.conf before /etc/yum.conf; option names in any case,
    // `key: value`, `include=`.
    root.write_file(
        "/etc/yum.conf",
        "[main]\nPlugins: 1\nexclude=gamma*\ncachedir=/var/cache/yum/$basearch/$releasever\ninclude=/etc/yum/extra.conf\n",
    )
    .unwrap();
    root.write_file(
        "/etc/yum/extra.conf",
        "[extra-$vendor]\nname=Vendor\nbaseurl=file:///nowhere\nincludepkgs=alpha* beta*\n",
    )
    .unwrap();
    root.write_file("/etc/yum/vars/vendor", "acme\n").unwrap();
    root.write_file(
        "/etc/yum.repos.d/amzn2-core.repo",
        "[amzn2-core]\nname=core\nbaseurl=file:///nowhere\npriority=10\nENABLED=1\n\n[amzn2-broken]\nbaseurl=file:///nowhere\nenabled=perhaps\n",
    )
    .unwrap();
    root.write_file(
        "/etc/yum/pluginconf.d/priorities.conf",
        "[main]\nenabled = 1\n",
    )
    .unwrap();
    root.write_file(
        "/etc/yum/pluginconf.d/versionlock.conf",
        "[main]\nenabled=1\nlocklist=/etc/yum/pluginconf.d/versionlock.list\n",
    )
    .unwrap();
    root.write_file(
        "/etc/yum/pluginconf.d/versionlock.list",
        "# locked by the DBA team\n0:epsilon-1.1-1.*\n",
    )
    .unwrap();
    yum_cache(&root, "amzn2-core", &core);
    yum_cache(&root, "extra-acme", &extra);
    yum_cache(&root, "amzn2-broken", &broken);

    let outcome = yum_scan(&root);
    let items: BTreeMap<String, (String, String)> = outcome
        .evaluation
        .items
        .iter()
        .map(|i| (i.name.clone(), (i.state.to_string(), i.reason.to_string())))
        .collect();
    let notes = outcome.report.notes.join("\n");
    // beta: only in the vendor repository, which includes it: what yum would update.
    assert_eq!(items["beta"].0, "Missing", "{items:#?}\n{notes}");
    // alpha 1.1 is only in a repository of worse priority than amzn2-core, which has alpha.
    assert_eq!(items["alpha"].0, "InstalledOther", "{items:#?}");
    assert!(
        items["alpha"].1.contains("priorities plugin")
            && items["alpha"].1.contains("`amzn2-core` (priority 10)"),
        "{}",
        items["alpha"].1
    );
    // gamma: [main] exclude=gamma*.
    assert!(
        items["gamma"].1.contains("`exclude=gamma*` in [main]"),
        "{}",
        items["gamma"].1
    );
    // delta: not in the vendor repository's includepkgs.
    assert!(
        items["delta"].1.contains("`includepkgs`"),
        "{}",
        items["delta"].1
    );
    // epsilon: versionlock keeps 1.1 visible, hides 1.2 (the approved one).
    assert!(
        items["epsilon"].1.contains("versionlock"),
        "{}",
        items["epsilon"].1
    );
    for hidden in ["alpha", "gamma", "delta", "epsilon"] {
        assert_ne!(items[hidden].0, "Missing", "{hidden} is never a target");
    }
    // The repository with an invalid `enabled` is skipped, as yum skips it.
    assert!(!items.contains_key("zeta"), "{items:#?}");
    assert!(
        notes.contains("repository `amzn2-broken` skipped"),
        "{notes}"
    );
    // primary_db was read (no XML primary in a yum cache): no "missing" diagnostics.
    assert!(!notes.contains("missing"), "{notes}");
}

/// Without `plugins=1` yum loads no plugin: priorities and versionlock files are ignored.
#[test]
fn without_plugins_no_plugin_hides_anything() {
    let dir = tempfile::tempdir().unwrap();
    let installed =
        pw_test_support::build_rpms(&[RpmSpec::new("alpha", "1.0-1")], &dir.path().join("i"))
            .unwrap();
    let core = repository(dir.path(), "core", &[RpmSpec::new("alpha", "1.0-1")]);
    let extra = repository(dir.path(), "extra", &[RpmSpec::new("alpha", "1.1-1")]);
    let root = InstallRoot::new().unwrap();
    root.rpm_install(&installed.iter().collect::<Vec<_>>())
        .unwrap();
    root.write_file(
        "/etc/yum.conf",
        "[main]\nplugins=0\ncachedir=/var/cache/yum/$basearch/$releasever\n",
    )
    .unwrap();
    root.write_file(
        "/etc/yum.repos.d/r.repo",
        "[core]\nbaseurl=file:///x\npriority=1\n[extra]\nbaseurl=file:///x\n",
    )
    .unwrap();
    root.write_file(
        "/etc/yum/pluginconf.d/priorities.conf",
        "[main]\nenabled=1\n",
    )
    .unwrap();
    yum_cache(&root, "core", &core);
    yum_cache(&root, "extra", &extra);
    let outcome = yum_scan(&root);
    let alpha = outcome
        .evaluation
        .items
        .iter()
        .find(|i| i.name == "alpha")
        .unwrap();
    assert_eq!(alpha.state.to_string(), "Missing", "{:?}", alpha.reason);
}

/// Two versions of one ordinary package in the rpm database (a transaction killed between
/// installing the new version and erasing the old) are named in the report.
#[test]
fn duplicate_packages_left_by_an_interrupted_transaction_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rpms = pw_test_support::build_rpms(
        &[
            RpmSpec::new("alpha", "1.0-1"),
            RpmSpec::new("alpha", "1.1-1"),
        ],
        &dir.path().join("rpms"),
    )
    .unwrap();
    let core = repository(dir.path(), "core", &[RpmSpec::new("alpha", "1.1-1")]);
    let root = InstallRoot::new().unwrap();
    root.rpm_install(&[&rpms[0]]).unwrap();
    // `rpm -i` installs beside, as a half-finished upgrade leaves it.
    let output = pw_pkgmgr::command::run(
        &pw_pkgmgr::command::CommandSpec::new("rpm")
            .arg("--root")
            .arg(root.path())
            .arg("-i")
            .arg(&rpms[1].path),
    )
    .unwrap();
    assert!(output.success(), "{}", output.stderr_tail(2000));
    // No cachedir: yum's default, /var/cache/yum/<repoid>.
    root.write_file("/etc/yum.conf", "[main]\n").unwrap();
    root.write_file("/etc/yum.repos.d/core.repo", "[core]\nbaseurl=file:///x\n")
        .unwrap();
    yum_cache_in(&root, "var/cache/yum/core", &core);
    let outcome = yum_scan(&root);
    let notes = outcome.report.notes.join("\n");
    assert!(
        notes.contains("lists alpha.noarch 2 times (1.0-1, 1.1-1)")
            && notes.contains("yum-complete-transaction"),
        "{notes}"
    );
}
