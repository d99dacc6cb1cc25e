//! Waiting for another package-manager process instead of failing on its lock.
//!
//! dnf 4 and yum both keep a pid file while they work and, by default, wait for one another
//! themselves. We wait in our own loop instead, with our own deadline and a log line naming
//! the holder: before each run we check the pid file the operation needs (a live pid in it
//! means "held"), and dnf runs with `exit_on_lock=True`, so a lock taken by someone else
//! between our check and dnf's own (dnf exits with code 200) sends us back to waiting. yum's
//! lock failure has no exit code of its own (it exits with 1), so yum keeps waiting by
//! itself (`exit_on_lock=False`) inside the command's timeout. See `docs/package-managers.md`.

use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Pid;

use crate::command::{self, CommandError, CommandSpec, Output};
use crate::{LockWait, PackageManager, Root};

/// dnf's exit code for "another process holds a lock" (`dnf.exceptions.LockError`).
pub const DNF_LOCK_EXIT_CODE: i32 = 200;

/// What the package-manager operation is about to do, which decides the lock it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Change the rpm database (install).
    Transaction,
    /// Refresh repository metadata (makecache).
    Metadata,
}

/// A wait, reported as it begins, so callers can log or (in tests) react to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockEvent {
    /// A lock file names a live process.
    Held { lock_file: PathBuf, pid: u32 },
    /// The package manager itself exited because of a lock (dnf exit code 200).
    ReportedByTool { attempt: u32 },
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{} is still held by process {pid} after waiting {}s for it",
        lock_file.display(), waited.as_secs()
    )]
    Held {
        lock_file: PathBuf,
        pid: u32,
        waited: Duration,
    },
    #[error("`{argv}` still reports a held lock after waiting {}s", waited.as_secs())]
    ReportedByTool { argv: String, waited: Duration },
    #[error("could not read the lock file {}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// The pid file that guards `operation` for this package manager under `root`, at the
/// package manager's default locations (dnf: persistdir `/var/lib/dnf`, cachedir
/// `/var/cache/dnf`; yum: `/var/run/yum.pid` for everything).
pub fn lock_file(package_manager: PackageManager, root: &Root, operation: Operation) -> PathBuf {
    match (package_manager, operation) {
        (PackageManager::Dnf, Operation::Transaction) => root.join("/var/lib/dnf/rpmdb_lock.pid"),
        (PackageManager::Dnf, Operation::Metadata) => root.join("/var/cache/dnf/metadata_lock.pid"),
        (PackageManager::Yum, _) => root.join("/var/run/yum.pid"),
    }
}

/// The live process named in a pid lock file, if any. A missing, empty or unreadable-as-pid
/// file, or a pid that no longer runs, is a free lock (dnf and yum treat it the same way).
pub fn lock_holder(path: &Path) -> Result<Option<u32>, LockError> {
    let text = match fs_err::read_to_string(path) {
        Ok(text) => text,
        Err(source) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return Ok(None);
    };
    let Some(raw) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return Ok(None);
    };
    // Signal 0 checks existence; EPERM means it exists but belongs to someone else.
    let exists = match rustix::process::test_kill_process(raw) {
        Ok(()) => true,
        Err(error) => error == rustix::io::Errno::PERM,
    };
    // A zombie holds nothing (its parent has not reaped it yet); yum 3 treats it as gone.
    Ok((exists && !is_zombie(pid)).then_some(pid))
}

/// Whether `/proc/<pid>/stat` says the process is a zombie (state `Z`).
fn is_zombie(pid: u32) -> bool {
    fs_err::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Waits until `lock_file` is free or `deadline` passes.
pub(crate) fn wait_for_lock_file(
    lock_file: &Path,
    wait: &LockWait,
    deadline: Instant,
    started: Instant,
    on_event: &mut dyn FnMut(&LockEvent),
) -> Result<(), LockError> {
    let mut reported = None;
    while let Some(pid) = lock_holder(lock_file)? {
        if reported != Some(pid) {
            tracing::info!(lock_file = %lock_file.display(), pid, "waiting for another package-manager process to finish");
            on_event(&LockEvent::Held {
                lock_file: lock_file.to_owned(),
                pid,
            });
            reported = Some(pid);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(LockError::Held {
                lock_file: lock_file.to_owned(),
                pid,
                waited: now - started,
            });
        }
        thread::sleep(wait.poll_interval.min(deadline - now));
    }
    Ok(())
}

/// The result of a package-manager run that may have waited for locks.
#[derive(Debug, Clone)]
pub struct LockedRun {
    pub output: Output,
    /// Time spent waiting for locks before the run that counted.
    pub lock_wait: Duration,
    /// Runs started, counting those dnf ended because of a lock.
    pub attempts: u32,
}

/// Runs a package-manager command once its lock is free, running it again while dnf reports a
/// lock (exit code 200), until `wait.timeout` is used up.
pub fn run_when_unlocked(
    package_manager: PackageManager,
    lock_file: &Path,
    spec: &CommandSpec,
    wait: &LockWait,
    on_event: &mut dyn FnMut(&LockEvent),
) -> Result<LockedRun, LockError> {
    let started = Instant::now();
    let deadline = started + wait.timeout;
    let mut attempts = 0;
    let mut lock_wait = Duration::ZERO;
    loop {
        let wait_started = Instant::now();
        wait_for_lock_file(lock_file, wait, deadline, started, on_event)?;
        lock_wait += wait_started.elapsed();
        attempts += 1;
        let output = command::run(spec)?;
        let lock_reported = package_manager == PackageManager::Dnf
            && output.termination.exit_code() == Some(DNF_LOCK_EXIT_CODE);
        if !lock_reported {
            return Ok(LockedRun {
                output,
                lock_wait,
                attempts,
            });
        }
        tracing::info!(attempt = attempts, "dnf reported a held lock; waiting");
        on_event(&LockEvent::ReportedByTool { attempt: attempts });
        let now = Instant::now();
        if now >= deadline {
            return Err(LockError::ReportedByTool {
                argv: command::shell_words(&output.argv),
                waited: now - started,
            });
        }
        let pause = wait.poll_interval.min(deadline - now);
        thread::sleep(pause);
        lock_wait += pause;
    }
}

/// yum's lock (`/var/run/yum.pid` under the root), taken the way yum 3 takes it: the file is
/// created exclusively with our pid in it, after waiting (like [`run_when_unlocked`]) for a
/// live holder to finish; a stale file (dead or zombie pid) is replaced. While the guard
/// lives, a yum started by cron or an operator waits instead of rewriting the cache being
/// read. Dropping the guard removes the file. Should the agent die holding it, the pid
/// inside is dead and yum treats the lock as free.
#[derive(Debug)]
pub struct YumLockGuard {
    path: PathBuf,
}

impl Drop for YumLockGuard {
    fn drop(&mut self) {
        let ours = fs_err::read_to_string(&self.path)
            .is_ok_and(|text| text.trim() == std::process::id().to_string());
        if ours && let Err(error) = fs_err::remove_file(&self.path) {
            tracing::warn!(file = %self.path.display(), %error, "yum's lock file not removed");
        }
    }
}

/// Takes yum's lock under `root` for reading its cache (see [`YumLockGuard`]).
pub fn hold_yum_lock(root: &Root, wait: &LockWait) -> Result<YumLockGuard, LockError> {
    use std::io::Write as _;
    let path = lock_file(PackageManager::Yum, root, Operation::Metadata);
    let started = Instant::now();
    let deadline = started + wait.timeout;
    loop {
        wait_for_lock_file(&path, wait, deadline, started, &mut |_| {})?;
        // Free: a stale file (dead or zombie holder) goes, then the exclusive create.
        let _ = fs_err::remove_file(&path);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(|source| LockError::Read {
                path: path.clone(),
                source,
            })?;
        }
        match fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                // As yum writes it: the pid, no newline.
                file.write_all(std::process::id().to_string().as_bytes())
                    .map_err(|source| LockError::Read {
                        path: path.clone(),
                        source,
                    })?;
                return Ok(YumLockGuard { path });
            }
            // Someone took it between the check and the create: wait for them.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(LockError::Read { path, source }),
        }
    }
}
