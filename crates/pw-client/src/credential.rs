//! The agent's credential file: written once after enrollment with mode 0600 (owner read
//! and write only), atomically (a temporary file renamed into place), and read at start.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use pw_api::server::agent::AgentCredential;

/// The credential file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("failed to write the credential file")]
    Write(#[source] std::io::Error),
    #[error("failed to read the credential file")]
    Read(#[source] std::io::Error),
    #[error("the credential file `{path}` is not valid")]
    Invalid {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the credential file `{path}` is readable by others (mode {mode:o}); expected 0600")]
    Permissions { path: PathBuf, mode: u32 },
}

/// Writes `credential` to `path` with mode 0600.
pub fn save(path: &Path, credential: &AgentCredential) -> Result<(), CredentialError> {
    use fs_err::os::unix::fs::OpenOptionsExt as _;
    let text = serde_json::to_string_pretty(credential)
        .map_err(|error| CredentialError::Write(std::io::Error::other(error)))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs_err::create_dir_all(parent).map_err(CredentialError::Write)?;
    }
    let temporary = path.with_extension("tmp");
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(CredentialError::Write)?;
    // The mode applies only to new files: make sure of it for an existing one too.
    fs_err::set_permissions(
        &temporary,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .map_err(CredentialError::Write)?;
    file.write_all(text.as_bytes())
        .map_err(CredentialError::Write)?;
    file.sync_all().map_err(CredentialError::Write)?;
    drop(file);
    fs_err::rename(&temporary, path).map_err(CredentialError::Write)?;
    Ok(())
}

/// Reads the credential at `path`; refuses a file that others can read.
pub fn load(path: &Path) -> Result<AgentCredential, CredentialError> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = fs_err::metadata(path).map_err(CredentialError::Read)?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CredentialError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    let text = fs_err::read_to_string(path).map_err(CredentialError::Read)?;
    serde_json::from_str(&text).map_err(|source| CredentialError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// Whether a credential file exists at `path`.
pub fn exists(path: &Path) -> Result<bool, CredentialError> {
    path.try_exists().map_err(CredentialError::Read)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use pw_api::server::agent::AgentCredential;

    #[test]
    fn saves_with_mode_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/credential.json");
        let credential = AgentCredential {
            version: 1,
            server_url: "http://127.0.0.1:8440".to_owned(),
            node_id: "mi-0123".to_owned(),
            credential: "pwn_secret".to_owned(),
            enrolled_at: None,
        };
        assert!(!super::exists(&path).unwrap());
        super::save(&path, &credential).unwrap();
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(super::load(&path).unwrap(), credential);
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            super::load(&path),
            Err(super::CredentialError::Permissions { mode: 0o644, .. })
        ));
    }
}
