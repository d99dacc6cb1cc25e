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
    pub fn load(&self) -> Result<AgentState, StateError> {
        let path = self.path();
        match fs_err::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| StateError::Corrupt { path, source }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(AgentState {
                version: 1,
                ..AgentState::default()
            }),
            Err(error) => Err(StateError::Io(error)),
        }
    }

    /// Writes the state atomically.
    pub fn save(&self, state: &AgentState) -> Result<(), StateError> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|source| StateError::Corrupt {
            path: self.path(),
            source,
        })?;
        write_atomic(&self.path(), &bytes)?;
        Ok(())
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
    {
        let mut file = fs_err::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs_err::rename(&temporary, path)?;
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
