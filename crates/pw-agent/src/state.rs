//! The agent's local state (`<state-dir>/state.json`): pending-reboot records, the operation
//! in progress and the last one. Every write is atomic (write a temporary file, fsync,
//! rename, fsync the directory), so a crash at any point leaves either the old or the new
//! state, never a torn file.

use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use pw_api::agent::AgentState;

/// The state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("failed to access the state directory")]
    Io(#[from] std::io::Error),
    #[error("state file `{path}` is not valid; move it aside to start afresh")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// The state directory and its file.
/// Where a `state.json` that could not be read is kept.
pub const CORRUPT_STATE_FILE: &str = "state.json.corrupt";
/// The note of that recovery, until an operation reports it.
const RECOVERY_NOTE_FILE: &str = "state-recovered.txt";

#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    pub fn new(dir: impl Into<PathBuf>) -> StateStore {
        StateStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Reads the state; a missing file is the empty state.
    /// The agent's state; a fresh one when there is none. A `state.json` that is not valid
    /// (a disk that filled during a write outside the agent, an edit, a bad block) is moved
    /// aside to `state.json.corrupt` and the agent starts afresh: the next operation re-reads
    /// the package database, and says what was lost ([`StateStore::take_recovery_note`]).
    pub fn load(&self) -> Result<AgentState, StateError> {
        let fresh = || AgentState {
            version: 1,
            ..AgentState::default()
        };
        match read_json(self.path()) {
            Ok(state) => Ok(state.unwrap_or_else(fresh)),
            Err(StateError::Corrupt { path, source }) => {
                let aside = self.dir.join(CORRUPT_STATE_FILE);
                fs_err::rename(&path, &aside)?;
                let note = format!(
                    "the agent state {} was not valid ({source}); it was kept as {} and the \
                     agent started afresh: the package database was re-read, and pending \
                     reboots recorded only there are forgotten until the host reboots",
                    path.display(),
                    aside.display()
                );
                write_atomic(&self.dir.join(RECOVERY_NOTE_FILE), note.as_bytes())?;
                Ok(fresh())
            }
            Err(error) => Err(error),
        }
    }

    /// The note of a recovery from a corrupt state file, once (the next operation reports
    /// it).
    pub fn take_recovery_note(&self) -> Option<String> {
        let path = self.dir.join(RECOVERY_NOTE_FILE);
        let note = fs_err::read_to_string(&path).ok()?;
        let _ = remove_file(&path);
        Some(note)
    }

    /// Writes the state atomically.
    pub fn save(&self, state: &AgentState) -> Result<(), StateError> {
        write_json(&self.path(), state)
    }
}

/// Reads a JSON file; a missing file is `None`, a damaged one an error naming it.
fn read_json<T: serde::de::DeserializeOwned>(path: PathBuf) -> Result<Option<T>, StateError> {
    match fs_err::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StateError::Corrupt { path, source }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(StateError::Io(error)),
    }
}

/// Writes a value as JSON, atomically.
fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| StateError::Corrupt {
        path: path.to_owned(),
        source,
    })?;
    write_atomic(path, &bytes)?;
    Ok(())
}

/// Removes a file; a missing one is already gone.
fn remove_file(path: &Path) -> Result<(), StateError> {
    match fs_err::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(StateError::Io(error)),
    }
}

/// Writes `bytes` to `path` so that readers see either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs_err::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_owned());
    let temporary = dir.join(format!(".{file_name}.tmp"));
    let written = (|| {
        let mut file = fs_err::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs_err::rename(&temporary, path)
    })();
    if let Err(error) = written {
        // A full disk: the old file stays as it was, and the partial copy gives its space back.
        let _ = fs_err::remove_file(&temporary);
        return Err(error);
    }
    // Make the rename itself durable.
    if let Ok(directory) = fs_err::File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(())
}

/// Packages (state-file keys) still waiting for a reboot: the recorded ones, unless the
/// host booted after the last NoReboot install.
pub fn pending_reboot(state: &AgentState, boot_time: Option<Timestamp>) -> Vec<String> {
    let last = state
        .last_no_reboot_install_time
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok());
    match (last, boot_time) {
        (Some(last), Some(boot)) if boot > last => Vec::new(),
        (None, _) => Vec::new(),
        _ => state.pending_reboot.clone(),
    }
}

/// The daemon's status file in the state directory.
pub const DAEMON_STATUS_FILE: &str = "daemon.json";

impl StateStore {
    /// Reads `daemon.json`; `None` when `agent run` never wrote it.
    pub fn load_daemon_status(&self) -> Result<Option<pw_api::agent::DaemonStatus>, StateError> {
        read_json(self.dir.join(DAEMON_STATUS_FILE))
    }

    /// Writes `daemon.json` atomically.
    pub fn save_daemon_status(
        &self,
        status: &pw_api::agent::DaemonStatus,
    ) -> Result<(), StateError> {
        write_json(&self.dir.join(DAEMON_STATUS_FILE), status)
    }
}

/// The directory of commands acknowledged and not yet answered (`<state>/commands/`).
pub const PENDING_COMMANDS_DIR: &str = "commands";

impl StateStore {
    fn pending_path(&self, id: &str) -> PathBuf {
        // Command ids are the server's (uuid-like); anything else is written `_`.
        let name: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir
            .join(PENDING_COMMANDS_DIR)
            .join(format!("{name}.json"))
    }

    /// Records a command the agent acknowledged, before it runs: if the agent dies before
    /// answering, the next start finds it here and answers it.
    pub fn save_pending_command(
        &self,
        command: &pw_api::server::agent::AgentCommand,
    ) -> Result<(), StateError> {
        write_json(&self.pending_path(&command.id), command)
    }

    /// Forgets a command once the server has its answer.
    pub fn remove_pending_command(&self, id: &str) -> Result<(), StateError> {
        remove_file(&self.pending_path(id))
    }

    /// Commands acknowledged and never answered, oldest first. A damaged file is reported
    /// in the log and removed (it cannot be answered without its id and baseline).
    pub fn pending_commands(&self) -> Result<Vec<pw_api::server::agent::AgentCommand>, StateError> {
        let dir = self.dir.join(PENDING_COMMANDS_DIR);
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(StateError::Io(error)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.ends_with(".json") || name.ends_with(DELIVERY_SUFFIX) {
                continue;
            }
            let parsed = read_json::<pw_api::server::agent::AgentCommand>(path.clone());
            match parsed {
                Ok(Some(command)) => {
                    let modified = fs_err::metadata(&path).and_then(|m| m.modified()).ok();
                    found.push((modified, command));
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(file = %path.display(), %error, "unreadable pending command removed");
                    let _ = fs_err::remove_file(&path);
                }
            }
        }
        found.sort_by_key(|(modified, _)| *modified);
        Ok(found.into_iter().map(|(_, command)| command).collect())
    }
}

/// The suffix of a command's delivery file beside its pending file.
const DELIVERY_SUFFIX: &str = ".delivery.json";

impl StateStore {
    fn delivery_path(&self, id: &str) -> PathBuf {
        let pending = self.pending_path(id);
        pending.with_file_name(
            pending
                .file_name()
                .map(|n| n.to_string_lossy().replace(".json", DELIVERY_SUFFIX))
                .unwrap_or_default(),
        )
    }

    /// Records what is owed to the server for a command (see `PendingDelivery`).
    pub fn save_delivery(
        &self,
        delivery: &pw_api::agent::PendingDelivery,
    ) -> Result<(), StateError> {
        write_json(&self.delivery_path(&delivery.command_id), delivery)
    }

    /// The delivery owed for `id`, if any. A damaged file is an error naming it.
    pub fn load_delivery(
        &self,
        id: &str,
    ) -> Result<Option<pw_api::agent::PendingDelivery>, StateError> {
        read_json(self.delivery_path(id))
    }

    /// Forgets a delivery the server has.
    pub fn remove_delivery(&self, id: &str) -> Result<(), StateError> {
        remove_file(&self.delivery_path(id))
    }
}
