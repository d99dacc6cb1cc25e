//! TOML configuration files of the binary: the CLI's `cli.toml`, the agent's `agent.toml`
//! and the server's `server.toml` (docs/packaging.md). One reader for all of them: unknown
//! keys are warnings that name the file and the key, never errors, so a file written for a
//! newer version still starts an older binary; a value of the wrong type is an error that
//! names the file, line and key.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::printer::Printer;

/// Where the packages install the agent's and the server's files.
pub(crate) const AGENT_CONFIG: &str = "/etc/patchwarden/agent.toml";
pub(crate) const SERVER_CONFIG: &str = "/etc/patchwarden/server.toml";

/// Reads `path` as `T`. A missing file is `Ok(None)` unless `explicit` (the user named
/// it), when it is an error.
pub(crate) fn read<T: DeserializeOwned>(
    path: &Path,
    explicit: bool,
    printer: &Printer,
) -> anyhow::Result<Option<T>> {
    let text = match fs_err::read_to_string(path) {
        Ok(text) => text,
        Err(error) if !explicit && error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(error) => return Err(error.into()),
    };
    let mut unknown = Vec::new();
    let value: T = serde_ignored::deserialize(toml::Deserializer::new(&text), |key| {
        unknown.push(key.to_string());
    })
    .with_context(|| format!("config file {} is not valid", path.display()))?;
    for key in unknown {
        printer.warn(&format!(
            "config file {}: unknown key `{key}` ignored",
            path.display()
        ));
    }
    Ok(Some(value))
}

/// The config file to read: the one named by a flag (which must exist), else `default` when
/// it exists; none with `--no-config`.
pub(crate) fn choose(flag: Option<&Path>, none: bool, default: &str) -> Option<(PathBuf, bool)> {
    match flag {
        _ if none => None,
        Some(path) => Some((path.to_owned(), true)),
        None => Some((PathBuf::from(default), false)),
    }
}

/// `/etc/patchwarden/agent.toml`. Every key is optional; a flag given on the command line
/// wins over the file, the file over the built-in default.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct AgentConfig {
    /// Accepted for symmetry with `cli.toml`; only "1" exists.
    pub(crate) version: Option<String>,
    /// Server URL used at enrollment (the credential records it afterwards).
    pub(crate) server: Option<String>,
    /// A PEM file whose certificates are trusted for the server instead of the web roots.
    pub(crate) ca_cert: Option<PathBuf>,
    /// HTTP(S) proxy for the server connection (`http://proxy:3128`).
    pub(crate) proxy: Option<String>,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) reboot_command: Option<String>,
    pub(crate) reboot_packages: Option<Vec<String>>,
    pub(crate) pre_install_hook: Option<String>,
    pub(crate) post_install_hook: Option<String>,
    pub(crate) on_exit_hook: Option<String>,
    /// Seconds.
    pub(crate) hook_timeout: Option<u64>,
    /// Commands a window task's health checks may name (`[health_commands]`, name = command
    /// line): the server sends names only, never shell text.
    pub(crate) health_commands: Option<std::collections::BTreeMap<String, String>>,
    /// systemd units to restart when an install leaves them running code it replaced.
    pub(crate) restart_units: Option<Vec<String>>,
    /// Seconds.
    pub(crate) poll_wait: Option<u64>,
    /// Hours.
    pub(crate) inventory_interval: Option<u64>,
    pub(crate) scan_only: Option<bool>,
}

/// `/etc/patchwarden/server.toml`; flags and `PATCHWARDEN_*` variables win over it.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct ServerConfig {
    pub(crate) version: Option<String>,
    pub(crate) listen: Option<String>,
    pub(crate) data_dir: Option<PathBuf>,
    /// PostgreSQL URL instead of SQLite in `data_dir`.
    pub(crate) database: Option<String>,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    pub(crate) report_retention_days: Option<u32>,
    pub(crate) max_poll_wait: Option<u64>,
    pub(crate) max_connections: Option<u32>,
    /// Packages that `GET /install.sh` installs on nodes, served under `/packages/`.
    pub(crate) packages_dir: Option<PathBuf>,
    /// The URL install.sh gives nodes (default: the scheme and `Host` of its request).
    pub(crate) public_url: Option<String>,
    /// Amazon Linux 2023's release list (`releasemd.xml`): URL, mirror or file:// path.
    pub(crate) release_metadata_url: Option<String>,
    /// How often the release list is fetched, in hours.
    pub(crate) release_refresh_hours: Option<u64>,
    /// The key SSM access keys' secrets are derived from (default: `access-keys.key` in
    /// `data_dir`); replicas of one PostgreSQL database share it.
    pub(crate) access_key_file: Option<PathBuf>,
    /// Hours after which a node without a newer report is stale (default 72).
    pub(crate) stale_report_hours: Option<u64>,
    /// Hours a console session lasts (default 8).
    pub(crate) console_session_hours: Option<u64>,
    /// Failed authentications one client address may make per minute before it is held
    /// back for the rest of the minute (default 20; 0 turns the limit off).
    pub(crate) auth_failures_per_minute: Option<u32>,
}

/// Checks the optional `version` key of an agent or server file.
pub(crate) fn check_version(path: &Path, version: Option<&str>) -> anyhow::Result<()> {
    match version {
        None | Some("1") => Ok(()),
        Some(other) => anyhow::bail!(
            "config file {}: version `{other}` is not supported (expected \"1\")",
            path.display()
        ),
    }
}
