//! Shared plumbing of the commands that talk to the server (`baseline`, `node`,
//! `compliance`, ...): connection settings, output format and the mapping of client errors
//! to exit codes.
//!
//! Settings are resolved in this order of precedence: the flags `--server` and `--token`,
//! the environment (`PATCHWARDEN_SERVER`, `PATCHWARDEN_TOKEN`), then the config file
//! (`~/.config/patchwarden/cli.toml`, or `--config FILE`), then the default server
//! `http://127.0.0.1:8440` (no token).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use pw_client::{Client, ClientError, ClientSettings};
use serde::{Deserialize, Serialize};

use crate::exit_code;
use crate::printer::Printer;

/// The server used when no flag, variable or config file names one.
pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:8440";

/// Connection and output options shared by every server command.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectionArgs {
    /// Server URL [default: from the config file, else http://127.0.0.1:8440].
    #[arg(long, global = true, env = "PATCHWARDEN_SERVER", value_name = "URL")]
    pub(crate) server: Option<String>,
    /// API token [default: from the config file].
    #[arg(
        long,
        global = true,
        env = "PATCHWARDEN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: Option<String>,
    /// Config file [default: ~/.config/patchwarden/cli.toml].
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    pub(crate) output: Output,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// Readable tables.
    Table,
    /// The API's JSON.
    Json,
}

/// The config file: `version = "1"`, optional `server` and `token`.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    version: String,
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

fn default_config_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(Path::new(&home).join(".config/patchwarden/cli.toml"))
}

/// Reads the config file; unknown keys are reported as warnings, not errors.
fn read_config(path: &Path, explicit: bool, printer: &Printer) -> anyhow::Result<ConfigFile> {
    let Some(config) = crate::config_file::read::<ConfigFile>(path, explicit, printer)? else {
        return Ok(ConfigFile::default());
    };
    if config.version != "1" {
        anyhow::bail!(
            "config file {}: version `{}` is not supported (expected \"1\")",
            path.display(),
            config.version
        );
    }
    Ok(config)
}

impl ConnectionArgs {
    /// The server URL and token after applying flags, environment and config file.
    /// An empty flag or variable counts as unset.
    pub(crate) fn resolve(&self, printer: &Printer) -> anyhow::Result<(String, Option<String>)> {
        let given = |value: &Option<String>| value.clone().filter(|text| !text.is_empty());
        let (server, token) = (given(&self.server), given(&self.token));
        let config = match (&self.config, default_config_path()) {
            (Some(path), _) => read_config(path, true, printer)?,
            (None, Some(path)) if server.is_none() || token.is_none() => {
                read_config(&path, false, printer)?
            }
            _ => ConfigFile::default(),
        };
        let server = server
            .or(config.server)
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let token = token.or(config.token);
        Ok((server, token))
    }

    /// A client for the resolved server and token.
    pub(crate) fn client(&self, printer: &Printer) -> anyhow::Result<Client> {
        let (server, token) = self.resolve(printer)?;
        let mut settings = ClientSettings::new(server);
        if let Some(token) = token {
            settings = settings.with_secret(token);
        }
        Ok(Client::new(settings)?)
    }
}

/// Prints `value` as pretty JSON.
pub(crate) fn print_json<T: Serialize>(printer: &Printer, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("encode JSON output")?;
    printer.line(&text);
    Ok(())
}

/// Nothing on the server has the id or name the user gave (exit code 3, like a 404).
#[derive(Debug)]
pub(crate) struct NotFound {
    kind: &'static str,
    wanted: String,
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no {} has the id or name `{}`", self.kind, self.wanted)
    }
}

impl std::error::Error for NotFound {}

/// The one item whose id is `wanted`, else whose name is: for commands that take either.
fn pick<'a, T>(
    items: &'a [T],
    kind: &'static str,
    wanted: &str,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> &str,
) -> anyhow::Result<&'a T> {
    if let Some(item) = items.iter().find(|item| id(item) == wanted) {
        return Ok(item);
    }
    let named: Vec<&T> = items.iter().filter(|item| name(item) == wanted).collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(NotFound {
            kind,
            wanted: wanted.to_owned(),
        }
        .into()),
        many => {
            let ids: Vec<&str> = many.iter().map(|item| id(item)).collect();
            anyhow::bail!(
                "{} {kind}s are named `{wanted}` ({}): give the id",
                many.len(),
                ids.join(", ")
            )
        }
    }
}

/// The id of the node with id or hostname `wanted`.
pub(crate) fn resolve_node(client: &Client, wanted: &str) -> anyhow::Result<String> {
    let nodes = client.nodes(&[])?;
    Ok(pick(&nodes, "node", wanted, |n| &n.id, |n| &n.hostname)?
        .id
        .clone())
}

/// The baseline with id or name `wanted` among `baselines`.
pub(crate) fn find_baseline<'a>(
    baselines: &'a [pw_api::server::baselines::BaselineSummary],
    wanted: &str,
) -> anyhow::Result<&'a pw_api::server::baselines::BaselineSummary> {
    pick(baselines, "baseline", wanted, |b| &b.id, |b| &b.name)
}

/// The id of the baseline with id or name `wanted`.
pub(crate) fn resolve_baseline(client: &Client, wanted: &str) -> anyhow::Result<String> {
    let baselines = client.baselines()?;
    Ok(find_baseline(&baselines, wanted)?.id.clone())
}

/// The id of the maintenance window with id or name `wanted`.
pub(crate) fn resolve_window(client: &Client, wanted: &str) -> anyhow::Result<String> {
    let windows = client.windows()?;
    Ok(
        pick(&windows, "window", wanted, |w| &w.id, |w| &w.spec.name)?
            .id
            .clone(),
    )
}

/// Prints the error and returns the exit code for it: 3 not found, 4 refused for
/// authentication or permission, 5 server unreachable, 2 bad server URL, 1 otherwise.
pub(crate) fn error_exit(printer: &Printer, error: &anyhow::Error) -> u8 {
    printer.error(&format!("{error:#}"));
    if error.downcast_ref::<NotFound>().is_some() {
        return exit_code::NOT_FOUND;
    }
    match error.downcast_ref::<ClientError>() {
        Some(ClientError::Api { status: 404, .. }) => exit_code::NOT_FOUND,
        Some(ClientError::Api {
            status: 401 | 403, ..
        }) => exit_code::AUTH,
        Some(ClientError::Transport { .. }) => exit_code::UNREACHABLE,
        Some(ClientError::BadUrl { .. }) => exit_code::USAGE,
        _ => exit_code::FAILURE,
    }
}

/// Runs `body` and turns its error into the documented exit code.
pub(crate) fn run_with(printer: &Printer, body: impl FnOnce() -> anyhow::Result<()>) -> u8 {
    match body() {
        Ok(()) => exit_code::OK,
        Err(error) => error_exit(printer, &error),
    }
}

/// Parses `KEY=VALUE` (the value may be empty; a bare `KEY` means an empty value).
pub(crate) fn parse_tag(text: &str) -> Result<pw_api::server::tokens::Tag, String> {
    let (key, value) = text.split_once('=').unwrap_or((text, ""));
    if key.is_empty() {
        return Err(format!("`{text}` has an empty key (expected KEY=VALUE)"));
    }
    Ok(pw_api::server::tokens::Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    })
}

/// A timestamp or `-`.
pub(crate) fn time(value: Option<jiff::Timestamp>) -> String {
    crate::table::opt(value.map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ")))
}
