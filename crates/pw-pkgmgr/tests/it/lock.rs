//! Waiting for the package-manager lock. The lock files hold the pid of this test process,
//! which is certainly alive; the lock is "released" by the event callback, so the tests do
//! not depend on timing.

use std::path::PathBuf;
use std::time::Duration;

use pw_pkgmgr::install::install_observed;
use pw_pkgmgr::lock::{LockError, LockEvent, Operation, lock_file, lock_holder};
use pw_pkgmgr::repo_cache::refresh_observed;
use pw_pkgmgr::{PackageManager, Root, Settings};
use pw_test_support::{InstallRoot, RpmSpec};

fn hold(path: &PathBuf) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, std::process::id().to_string()).unwrap();
}

fn fast(mut settings: Settings) -> Settings {
    settings.lock_wait.poll_interval = Duration::from_millis(50);
    settings
}

fn old_root() -> InstallRoot {
    let root = pw_test_support::standard().unwrap().old_root().unwrap();
    assert!(
        pw_pkgmgr::repo_cache::refresh(&root.settings(), false)
            .unwrap()
            .success()
    );
    root
}

#[test]
fn lock_files_and_holders() {
    let root = Root::new("/r").unwrap();
    assert_eq!(
        lock_file(PackageManager::Dnf, &root, Operation::Transaction),
        PathBuf::from("/r/var/lib/dnf/rpmdb_lock.pid")
    );
    assert_eq!(
        lock_file(PackageManager::Dnf, &root, Operation::Metadata),
        PathBuf::from("/r/var/cache/dnf/metadata_lock.pid")
    );
    assert_eq!(
        lock_file(PackageManager::Yum, &root, Operation::Transaction),
        PathBuf::from("/r/var/run/yum.pid")
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lock.pid");
    assert_eq!(lock_holder(&path).unwrap(), None);
    fs_err::write(&path, "").unwrap();
    assert_eq!(lock_holder(&path).unwrap(), None);
    fs_err::write(&path, "garbage").unwrap();
    assert_eq!(lock_holder(&path).unwrap(), None);
    // pid_max is at most 2^22 on Linux, so this pid never runs.
    fs_err::write(&path, "4194305").unwrap();
    assert_eq!(lock_holder(&path).unwrap(), None);
    hold(&path);
    assert_eq!(lock_holder(&path).unwrap(), Some(std::process::id()));
}

/// Another process holds dnf's rpmdb lock: we wait, and install once it is gone.
#[test]
fn install_waits_for_the_rpmdb_lock() {
    let root = old_root();
    let settings = fast(root.settings());
    let lock = lock_file(PackageManager::Dnf, &settings.root, Operation::Transaction);
    hold(&lock);
    let mut events = Vec::new();
    let run = install_observed(
        &settings,
        &[RpmSpec::new("foo", "1.1-1").nevra()],
        &mut |event| {
            events.push(event.clone());
            fs_err::remove_file(&lock).unwrap();
        },
    )
    .unwrap();
    assert!(run.success(), "{run:#?}");
    assert_eq!(
        events,
        [LockEvent::Held {
            lock_file: lock.clone(),
            pid: std::process::id()
        }]
    );
    assert_eq!(run.attempts, 1);
    assert!(run.lock_wait > Duration::ZERO);
}

/// A lock our pre-check does not look at (dnf's metadata lock, taken while loading
/// repositories) makes dnf exit with 200 under `exit_on_lock=True`; we wait and run again.
#[test]
fn a_lock_reported_by_dnf_is_retried() {
    let root = old_root();
    let settings = fast(root.settings());
    let lock = lock_file(PackageManager::Dnf, &settings.root, Operation::Metadata);
    hold(&lock);
    let mut events = Vec::new();
    let run = install_observed(
        &settings,
        &[RpmSpec::new("foo", "1.1-1").nevra()],
        &mut |event| {
            events.push(event.clone());
            fs_err::remove_file(&lock).unwrap();
        },
    )
    .unwrap();
    assert!(run.success(), "{run:#?}");
    assert_eq!(events, [LockEvent::ReportedByTool { attempt: 1 }]);
    assert_eq!(run.attempts, 2);
}

#[test]
fn refresh_waits_for_the_metadata_lock() {
    let root = old_root();
    let settings = fast(root.settings());
    let lock = lock_file(PackageManager::Dnf, &settings.root, Operation::Metadata);
    hold(&lock);
    let mut events = Vec::new();
    let run = refresh_observed(&settings, true, &mut |event| {
        events.push(event.clone());
        fs_err::remove_file(&lock).unwrap();
    })
    .unwrap();
    assert!(run.success(), "{run:#?}");
    assert_eq!(
        events,
        [LockEvent::Held {
            lock_file: lock.clone(),
            pid: std::process::id()
        }]
    );
}

/// A lock that stays held ends the wait at the deadline with an error naming the holder,
/// and nothing is installed.
#[test]
fn the_wait_ends_at_the_deadline() {
    let root = old_root();
    let mut settings = fast(root.settings());
    settings.lock_wait.timeout = Duration::from_millis(300);
    let lock = lock_file(PackageManager::Dnf, &settings.root, Operation::Transaction);
    hold(&lock);
    let mut events = 0;
    let error = install_observed(
        &settings,
        &[RpmSpec::new("foo", "1.1-1").nevra()],
        &mut |_| events += 1,
    )
    .unwrap_err();
    assert_eq!(events, 1);
    let pw_pkgmgr::install::InstallError::Lock(LockError::Held { pid, .. }) = &error else {
        panic!("unexpected error: {error:?}");
    };
    assert_eq!(*pid, std::process::id());
    assert!(
        error
            .to_string()
            .contains("rpmdb_lock.pid is still held by process"),
        "{error}"
    );
    let inventory = pw_pkgmgr::rpm::installed_packages(&settings).unwrap();
    assert!(
        inventory
            .iter()
            .any(|p| p.nevra == RpmSpec::new("foo", "1.0-1").nevra())
    );
}

/// A lock file naming a zombie (exited, not reaped yet) is free, as yum 3 treats it.
#[test]
fn a_zombie_holds_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("yum.pid");
    #[expect(
        clippy::disallowed_methods,
        reason = "the test needs a child it does not reap"
    )]
    let mut child = std::process::Command::new("true").spawn().unwrap();
    // Not waited for: once it exits it stays a zombie of this process.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stat = fs_err::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
        if stat
            .rsplit_once(')')
            .unwrap()
            .1
            .trim_start()
            .starts_with('Z')
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stat}");
        std::thread::sleep(Duration::from_millis(10));
    }
    fs_err::write(&path, format!("{}\n", child.id())).unwrap();
    assert_eq!(lock_holder(&path).unwrap(), None);
    child.wait().unwrap();
}

/// yum's lock is taken as yum takes it: a live holder is waited for, a stale file is
/// replaced, the file holds our pid while the guard lives and is gone after.
#[test]
fn yum_lock_is_held_while_reading() {
    let root = InstallRoot::new().unwrap();
    let path = lock_file(PackageManager::Yum, &root.root(), Operation::Metadata);
    let wait = pw_pkgmgr::LockWait {
        timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(20),
    };
    // Stale: a pid that does not run.
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, "999999999\n").unwrap();
    {
        let _guard = pw_pkgmgr::lock::hold_yum_lock(&root.root(), &wait).unwrap();
        assert_eq!(lock_holder(&path).unwrap(), Some(std::process::id()));
    }
    assert!(!path.try_exists().unwrap());
    // Held by a live process (this one, standing in for yum): the wait ends at the deadline.
    fs_err::write(&path, format!("{}\n", std::process::id())).unwrap();
    let short = pw_pkgmgr::LockWait {
        timeout: Duration::from_millis(200),
        poll_interval: Duration::from_millis(20),
    };
    assert!(matches!(
        pw_pkgmgr::lock::hold_yum_lock(&root.root(), &short),
        Err(LockError::Held { .. })
    ));
}
