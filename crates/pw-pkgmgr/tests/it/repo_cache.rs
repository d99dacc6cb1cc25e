//! Refreshing dnf's cache in an installroot and locating each enabled repository's files;
//! yum's layout on a hand-made cache tree.

use std::path::Path;

use pw_pkgmgr::repo_cache::{
    CacheLayout, CachedRepository, cached_repositories, refresh, refresh_commands,
};
use pw_pkgmgr::{PackageManager, Root, Settings};
use pw_test_support::InstallRoot;

/// The ids and whether something is cached, in configuration order.
#[track_caller]
fn check(repositories: &[CachedRepository], expected: &[(&str, bool)]) {
    let actual: Vec<(&str, bool)> = repositories
        .iter()
        .map(|r| (r.id.as_str(), r.cache.is_some()))
        .collect();
    assert_eq!(actual, expected);
}

/// The `<location href>` of one data type, read the simple way (the real parser lives in
/// pw-core; this only checks that our paths lead to the files).
fn location(repomd: &Path, data_type: &str) -> String {
    let text = fs_err::read_to_string(repomd).unwrap();
    let block = text
        .split(&format!("<data type=\"{data_type}\">"))
        .nth(1)
        .unwrap();
    block
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn dnf_makecache_then_locate_the_cached_metadata() {
    let fixture = pw_test_support::standard().unwrap();
    let root = fixture.old_root().unwrap();
    let settings = root.settings();
    // Before any refresh the repository is configured but nothing is cached.
    check(
        &cached_repositories(&settings).unwrap(),
        &[("fixture", false)],
    );

    let run = refresh(&settings, true).unwrap();
    assert!(run.success(), "{run:?}");
    assert_eq!(run.attempts, 1);

    let repositories = cached_repositories(&settings).unwrap();
    check(&repositories, &[("fixture", true)]);
    assert_eq!(
        repositories[0].config_file,
        root.path().join("etc/yum.repos.d/fixture.repo")
    );
    let cache = repositories[0].cache.as_ref().unwrap();
    assert_eq!(cache.layout, CacheLayout::Dnf);
    assert!(
        cache.dir.starts_with(root.path().join("var/cache/dnf")),
        "{cache:?}"
    );
    assert_eq!(cache.repomd, cache.dir.join("repodata/repomd.xml"));
    assert_eq!(cache.generated_dir(), None);
    // dnf copied primary and updateinfo; the href resolves to the cached copy.
    for data_type in ["primary", "updateinfo"] {
        let file = cache.resolve(&location(&cache.repomd, data_type));
        assert!(
            fs_err::metadata(&file).is_ok(),
            "{data_type}: {}",
            file.display()
        );
    }
    // The cached repomd is the repository's.
    assert_eq!(
        fs_err::read(&cache.repomd).unwrap(),
        fs_err::read(fixture.repo.repomd()).unwrap()
    );
}

#[test]
fn disabled_and_unreachable_repositories() {
    let fixture = pw_test_support::standard().unwrap();
    let root = fixture.old_root().unwrap();
    root.write_file(
        "/etc/yum.repos.d/more.repo",
        "[off]\nname=off\nbaseurl=file:///nonexistent/off\nenabled=0\n\n\
         [gone]\nname=gone\nbaseurl=file:///nonexistent/gone\nenabled=1\nskip_if_unavailable=True\n",
    )
    .unwrap();
    let settings = root.settings();
    let run = refresh(&settings, false).unwrap();
    assert!(run.success(), "{run:?}");
    // Files are read in name order: fixture.repo, then more.repo.
    check(
        &cached_repositories(&settings).unwrap(),
        &[("fixture", true), ("gone", false)],
    );

    // Without skip_if_unavailable, the refresh fails and says so by its exit code.
    root.write_file(
        "/etc/yum.repos.d/more.repo",
        "[gone]\nname=gone\nbaseurl=file:///nonexistent/gone\nskip_if_unavailable=0\n",
    )
    .unwrap();
    let run = refresh(&settings, false).unwrap();
    assert_eq!(run.termination.exit_code(), Some(1), "{run:?}");
    assert!(run.stderr_tail.contains("gone"), "{run:?}");
}

#[test]
fn main_config_can_move_the_repository_directory_and_define_repositories() {
    let fixture = pw_test_support::standard().unwrap();
    let root = fixture.old_root().unwrap();
    root.write_file(
        "/etc/dnf/dnf.conf",
        &format!(
            "[main]\ngpgcheck=0\nreposdir=/etc/pw-repos\n\n[inline]\nname=inline\nbaseurl={}\n",
            fixture.repo.url()
        ),
    )
    .unwrap();
    root.write_file(
        "/etc/pw-repos/other.repo",
        &format!("[other]\nbaseurl={}\n", fixture.repo.url()),
    )
    .unwrap();
    let settings = root.settings();
    assert!(refresh(&settings, false).unwrap().success());
    check(
        &cached_repositories(&settings).unwrap(),
        &[("inline", true), ("other", true)],
    );
}

#[test]
fn an_invalid_enabled_flag_is_an_error() {
    let root = InstallRoot::new().unwrap();
    root.write_file(
        "/etc/yum.repos.d/x.repo",
        "[x]\nbaseurl=file:///x\nenabled=perhaps\n",
    )
    .unwrap();
    let error = cached_repositories(&root.settings())
        .unwrap_err()
        .to_string();
    assert!(error.ends_with("etc/yum.repos.d/x.repo:3: `enabled` must be 0/1, yes/no, true/false or on/off, not `perhaps`"), "{error}");
}

/// yum's cache: `/var/cache/yum/$basearch/$releasever/<repoid>/repomd.xml`, data files by
/// their base name, decompressed ones in `gen/`. yum itself cannot be installed here, so the
/// tree is made by hand the way yum leaves it.
#[test]
fn yum_cache_layout() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    };
    write(
        "etc/yum.conf",
        "[main]\ncachedir=/var/cache/yum/$basearch/$releasever\nkeepcache=0\n",
    );
    write(
        "etc/yum.repos.d/amzn2-core.repo",
        "[amzn2-core]\nmirrorlist=http://x/$basearch/mirror.list\nenabled=1\n\n[amzn2-core-source]\nenabled=0\n",
    );
    write(
        "etc/yum.repos.d/amzn2-extras.repo",
        "[amzn2extra-docker]\nenabled=1\n",
    );
    write("var/cache/yum/x86_64/2/amzn2-core/repomd.xml", "<repomd/>");
    write(
        "var/cache/yum/x86_64/2/amzn2-core/0123-primary.sqlite.bz2",
        "",
    );
    write(
        "var/cache/yum/x86_64/2/amzn2-core/gen/primary_db.sqlite",
        "",
    );

    let settings = Settings::new(PackageManager::Yum, Root::new(dir.path()).unwrap());
    let repositories = cached_repositories(&settings).unwrap();
    check(
        &repositories,
        &[("amzn2-core", true), ("amzn2extra-docker", false)],
    );
    let cache = repositories[0].cache.as_ref().unwrap();
    assert_eq!(cache.layout, CacheLayout::Yum);
    assert_eq!(
        cache.dir,
        dir.path().join("var/cache/yum/x86_64/2/amzn2-core")
    );
    assert_eq!(
        cache.resolve("repodata/0123-primary.sqlite.bz2"),
        cache.dir.join("0123-primary.sqlite.bz2")
    );
    assert_eq!(cache.generated_dir(), Some(cache.dir.join("gen")));
}

#[test]
fn refresh_argv() {
    let root = Root::new("/srv/node").unwrap();
    let argv = |package_manager, force| -> Vec<Vec<String>> {
        let settings = Settings::new(package_manager, root.clone());
        refresh_commands(&settings, force)
            .iter()
            .map(|c| c.argv())
            .collect()
    };
    assert_eq!(
        argv(PackageManager::Dnf, true),
        [[
            "dnf",
            "-y",
            "--installroot=/srv/node",
            "--setopt=exit_on_lock=True",
            "--refresh",
            "makecache"
        ]]
    );
    assert_eq!(
        argv(PackageManager::Dnf, false),
        [[
            "dnf",
            "-y",
            "--installroot=/srv/node",
            "--setopt=exit_on_lock=True",
            "makecache"
        ]]
    );
    assert_eq!(
        argv(PackageManager::Yum, true),
        [
            vec![
                "yum",
                "-y",
                "--installroot=/srv/node",
                "--setopt=exit_on_lock=False",
                "clean",
                "expire-cache"
            ],
            vec![
                "yum",
                "-y",
                "--installroot=/srv/node",
                "--setopt=exit_on_lock=False",
                "--setopt=mdpolicy=group:small",
                "--setopt=*.mdpolicy=group:small",
                "makecache",
                "fast"
            ],
        ]
    );
    let host = Settings::new(PackageManager::Yum, Root::host());
    assert_eq!(
        refresh_commands(&host, false)[0].argv(),
        [
            "yum",
            "-y",
            "--setopt=exit_on_lock=False",
            "--setopt=mdpolicy=group:small",
            "--setopt=*.mdpolicy=group:small",
            "makecache",
            "fast"
        ]
    );
}
