//! `patchwarden server`: runs the control plane (HTTP API, scheduler, runner) on SQLite in a
//! data directory (default `./patchwarden-data`) or on PostgreSQL (`--database`), and
//! `patchwarden server token create` makes an API token on the server host, printing the
//! token alone on stdout. See docs/server.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use pw_api::server::tokens::Role;
use pw_server::{AppState, ServerSettings, SystemClock, TlsFiles};
use pw_store::{Store, StoreSettings};

use crate::config_file::{self, ServerConfig};
use crate::exit_code;
use crate::printer::Printer;

/// Arguments of `patchwarden server`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ServerArgs {
    #[command(subcommand)]
    command: Option<ServerCommand>,
    #[command(flatten)]
    run: RunArgs,
}

/// Subcommands of `patchwarden server`.
#[derive(Debug, clap::Subcommand)]
enum ServerCommand {
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Access keys of the SSM-compatible API (`aws ssm --endpoint-url .../ssm`).
    #[command(subcommand)]
    AccessKey(AccessKeyCommand),
}

/// Subcommands of `patchwarden server access-key`.
#[derive(Debug, clap::Subcommand)]
enum AccessKeyCommand {
    /// Create an access key and print `ACCESS_KEY_ID SECRET_ACCESS_KEY` on one line. The
    /// secret is shown only this once.
    Create(AccessKeyCreateArgs),
}

/// Arguments of `patchwarden server access-key create`.
#[derive(Debug, clap::Args)]
struct AccessKeyCreateArgs {
    /// What the key may do: `read-only` < `operator` < `admin`.
    #[arg(long, value_name = "ROLE", value_parser = parse_role)]
    role: Role,
    /// What the key is for, shown in listings.
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Subcommands of `patchwarden server token`.
#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Create an API token and print it (alone) on stdout. It is shown only this once.
    Create(TokenCreateArgs),
}

/// Where the server keeps its state. Flags and variables win over the config file.
#[derive(Debug, Clone, clap::Args)]
struct StorageArgs {
    /// Server config file [default: /etc/patchwarden/server.toml when it exists].
    #[arg(long, value_name = "FILE", env = "PATCHWARDEN_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// Read no server config file, not even the default one.
    #[arg(long, conflicts_with = "config")]
    no_config: bool,
    /// Directory for the SQLite database (`patchwarden.db`) and other state [default:
    /// `data_dir` of the config file, else ./patchwarden-data].
    #[arg(
        long,
        value_name = "DIR",
        env = "PATCHWARDEN_DATA_DIR",
        conflicts_with = "database"
    )]
    data_dir: Option<PathBuf>,
    /// A PostgreSQL URL (`postgres://user@host/db`) instead of SQLite; several servers may
    /// share it.
    #[arg(long, value_name = "URL", env = "PATCHWARDEN_DATABASE_URL")]
    database: Option<String>,
}

/// The data directory when nothing names one: beside where the server was started.
const DEFAULT_DATA_DIR: &str = "patchwarden-data";

impl StorageArgs {
    fn load_config(&self, printer: &Printer) -> anyhow::Result<ServerConfig> {
        let Some((path, explicit)) = config_file::choose(
            self.config.as_deref(),
            self.no_config,
            config_file::SERVER_CONFIG,
        ) else {
            return Ok(ServerConfig::default());
        };
        let config: ServerConfig = config_file::read(&path, explicit, printer)?.unwrap_or_default();
        config_file::check_version(&path, config.version.as_deref())?;
        Ok(config)
    }

    /// Flags and variables, as a unit, win over the file's storage settings.
    fn resolve(&self, config: &ServerConfig) -> (Option<String>, PathBuf) {
        if self.database.is_some() || self.data_dir.is_some() {
            return (
                self.database.clone(),
                self.data_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            );
        }
        (
            config.database.clone(),
            config
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        )
    }
}

/// Arguments of `patchwarden server token create`.
#[derive(Debug, clap::Args)]
struct TokenCreateArgs {
    /// What the token may do: `read-only` < `operator` < `admin`.
    #[arg(long, value_name = "ROLE", value_parser = parse_role)]
    role: Role,
    /// A name to recognise the token by in listings.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Arguments of `patchwarden server` (run). Each wins over the same key of the config file.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Address to listen on [default: 127.0.0.1:8440]. Plain HTTP is meant for loopback;
    /// give a certificate and key to listen elsewhere.
    #[arg(long, value_name = "ADDR", env = "PATCHWARDEN_LISTEN")]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    storage: StorageArgs,
    /// TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Delete compliance reports older than this many days (each node's latest is kept).
    #[arg(long, value_name = "DAYS")]
    report_retention_days: Option<u32>,
    /// Longest long poll, in seconds [default: 30].
    #[arg(long, value_name = "SECONDS")]
    max_poll_wait: Option<u64>,
    /// Database pool size [default: 8 for SQLite, 16 for PostgreSQL].
    #[arg(long, value_name = "N")]
    max_connections: Option<u32>,
    /// Serve the agent packages of this directory under `/packages/`, for `GET /install.sh`.
    #[arg(long, value_name = "DIR")]
    packages_dir: Option<PathBuf>,
    /// The URL install.sh gives nodes [default: the scheme and Host of its request].
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Where to fetch Amazon Linux 2023's release list (releasemd.xml): Amazon's URL, a
    /// mirror, or a file:// path; `none` to learn releases from imports only [default:
    /// none; the packaged server.toml sets Amazon's URL].
    #[arg(long, value_name = "URL")]
    release_metadata_url: Option<String>,
    /// How often to fetch the release list, in hours [default: 6].
    #[arg(long, value_name = "HOURS")]
    release_refresh_hours: Option<u64>,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text)
        .ok_or_else(|| format!("`{text}` is not a role; use admin, operator or read-only"))
}

/// The store settings of the arguments and config file; creates the data directory (mode
/// 0700, unless it exists: the packages create it 0750 for the `patchwarden` user) for
/// SQLite.
fn store_settings(
    storage: &StorageArgs,
    config: &ServerConfig,
    max_connections: Option<u32>,
) -> anyhow::Result<StoreSettings> {
    let (database, data_dir) = storage.resolve(config);
    if let Some(url) = database {
        return Ok(StoreSettings {
            url,
            max_connections,
            schema: None,
        });
    }
    let dir: &Path = &data_dir;
    if !dir.is_dir() {
        fs_err::create_dir_all(dir)?;
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let mut settings = StoreSettings::sqlite(&dir.join("patchwarden.db"));
    settings.max_connections = max_connections;
    Ok(settings)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// The server key the secrets of SSM access keys are derived from: `access_key_file` of the
/// config, else `access-keys.key` in the data directory; created (32 random bytes, mode
/// 0600) when missing. Replicas sharing a PostgreSQL database must share this file.
fn access_key_secret(storage: &StorageArgs, config: &ServerConfig) -> anyhow::Result<Vec<u8>> {
    let path = match &config.access_key_file {
        Some(path) => path.clone(),
        None => storage.resolve(config).1.join("access-keys.key"),
    };
    match fs_err::read(&path) {
        Ok(bytes) if bytes.len() >= 32 => return Ok(bytes),
        Ok(_) => anyhow::bail!(
            "{}: the access key file must hold at least 32 bytes",
            path.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error.into()),
    }
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        fs_err::create_dir_all(parent)?;
    }
    let key = pw_store::ids::random_bytes(32);
    use fs_err::os::unix::fs::OpenOptionsExt as _;
    use std::io::Write as _;
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create the access key file {}", path.display()))?;
    file.write_all(&key)?;
    file.sync_all()?;
    Ok(key)
}

pub(crate) fn run(args: ServerArgs, printer: &Printer) -> anyhow::Result<u8> {
    match args.command {
        Some(ServerCommand::AccessKey(AccessKeyCommand::Create(create))) => {
            let config = create.storage.load_config(printer)?;
            let settings = store_settings(&create.storage, &config, Some(2))?;
            let server_key = access_key_secret(&create.storage, &config)?;
            let created = runtime()?.block_on(async {
                let store = Store::connect(&settings)
                    .await
                    .context("failed to open the server database")?;
                let created = pw_server::create_access_key(
                    &store,
                    &server_key,
                    create.role,
                    create.description,
                    jiff::Timestamp::now(),
                )
                .await
                .context("failed to store the access key")?;
                store.close().await;
                anyhow::Ok(created)
            })?;
            printer.line(&format!("{} {}", created.id, created.secret));
            Ok(exit_code::OK)
        }
        Some(ServerCommand::Token(TokenCommand::Create(create))) => {
            let config = create.storage.load_config(printer)?;
            let settings = store_settings(&create.storage, &config, Some(2))?;
            let token = runtime()?.block_on(async {
                let store = Store::connect(&settings)
                    .await
                    .context("failed to open the server database")?;
                let created = pw_server::create_token(
                    &store,
                    create.role,
                    create.name,
                    jiff::Timestamp::now(),
                )
                .await
                .context("failed to store the token")?;
                store.close().await;
                anyhow::Ok(created.token)
            })?;
            printer.line(&token);
            Ok(exit_code::OK)
        }
        None => serve(args.run, printer),
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn serve(args: RunArgs, printer: &Printer) -> anyhow::Result<u8> {
    init_logging();
    let config = args.storage.load_config(printer)?;
    let listen = match (args.listen, &config.listen) {
        (Some(listen), _) => listen,
        (None, Some(text)) => text
            .parse()
            .with_context(|| format!("server config: listen `{text}` is not an address:port"))?,
        (None, None) => SocketAddr::from(([127, 0, 0, 1], 8440)),
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (None, None) => None,
            _ => anyhow::bail!("server config: tls_cert and tls_key go together"),
        },
    };
    if tls.is_none() && !listen.ip().is_loopback() {
        printer.warn(&format!(
            "listening on {listen} with plain HTTP: tokens and credentials cross the network unencrypted; give --tls-cert and --tls-key",
        ));
    }
    let max_connections = args.max_connections.or(config.max_connections);
    let store_settings = store_settings(&args.storage, &config, max_connections)?;
    let mut distribution = pw_server::distribution::Distribution::default();
    distribution.packages_dir = args.packages_dir.or(config.packages_dir.clone());
    distribution.public_url = args.public_url.or(config.public_url.clone());
    distribution.tls = tls.is_some();
    let settings = ServerSettings {
        max_poll_wait: Duration::from_secs(
            args.max_poll_wait.or(config.max_poll_wait).unwrap_or(30),
        ),
        report_retention: args
            .report_retention_days
            .or(config.report_retention_days)
            .map(|days| Duration::from_secs(u64::from(days) * 86_400)),
        distribution,
        release_metadata_url: args
            .release_metadata_url
            .or(config.release_metadata_url.clone())
            .filter(|url| !url.is_empty() && url != "none"),
        access_key_secret: Some(Arc::new(access_key_secret(&args.storage, &config)?)),
        release_refresh_interval: Duration::from_secs(
            args.release_refresh_hours
                .or(config.release_refresh_hours)
                .unwrap_or(6)
                .max(1)
                * 3600,
        ),
        stale_report_after: Duration::from_secs(
            config.stale_report_hours.unwrap_or(72).max(1) * 3600,
        ),
        console_session_ttl: Duration::from_secs(
            config.console_session_hours.unwrap_or(8).clamp(1, 24 * 30) * 3600,
        ),
        auth_failure_limit: config.auth_failures_per_minute.unwrap_or(20),
        ..ServerSettings::default()
    };
    runtime()?.block_on(async move {
        let store = Store::connect(&store_settings).await.context("failed to open the server database")?;
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("failed to listen on {listen}"))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, tls = tls.is_some(), backend = ?store.backend(), version = crate::version::LONG, "patchwarden server listening");
        // The database is migrated and the port accepts connections: ready.
        crate::notify::ready(&format!("listening on {address}"));
        let state = AppState::new(store, Arc::new(SystemClock), settings);
        pw_server::serve(state.clone(), listener, tls, shutdown_signal()).await.context("server failed")?;
        state.store().close().await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(exit_code::OK)
}
