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
}

/// Subcommands of `patchwarden server token`.
#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Create an API token and print it (alone) on stdout. It is shown only this once.
    Create(TokenCreateArgs),
}

/// Where the server keeps its state.
#[derive(Debug, Clone, clap::Args)]
struct StorageArgs {
    /// Directory for the SQLite database (`patchwarden.db`) and other state.
    #[arg(
        long,
        value_name = "DIR",
        env = "PATCHWARDEN_DATA_DIR",
        default_value = "patchwarden-data",
        conflicts_with = "database"
    )]
    data_dir: PathBuf,
    /// A PostgreSQL URL (`postgres://user@host/db`) instead of SQLite; several servers may
    /// share it.
    #[arg(long, value_name = "URL", env = "PATCHWARDEN_DATABASE_URL")]
    database: Option<String>,
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

/// Arguments of `patchwarden server` (run).
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Address to listen on. Plain HTTP is meant for loopback; give a certificate and key
    /// to listen elsewhere.
    #[arg(
        long,
        value_name = "ADDR",
        env = "PATCHWARDEN_LISTEN",
        default_value = "127.0.0.1:8440"
    )]
    listen: SocketAddr,
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
    /// Longest long poll, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    max_poll_wait: u64,
    /// Database pool size [default: 8 for SQLite, 16 for PostgreSQL].
    #[arg(long, value_name = "N")]
    max_connections: Option<u32>,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text)
        .ok_or_else(|| format!("`{text}` is not a role; use admin, operator or read-only"))
}

/// The store settings of the arguments; creates the data directory (mode 0700) for SQLite.
fn store_settings(
    storage: &StorageArgs,
    max_connections: Option<u32>,
) -> anyhow::Result<StoreSettings> {
    if let Some(url) = &storage.database {
        return Ok(StoreSettings {
            url: url.clone(),
            max_connections,
            schema: None,
        });
    }
    let dir: &Path = &storage.data_dir;
    fs_err::create_dir_all(dir)?;
    #[cfg(unix)]
    {
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

pub(crate) fn run(args: ServerArgs, printer: &Printer) -> anyhow::Result<u8> {
    match args.command {
        Some(ServerCommand::Token(TokenCommand::Create(create))) => {
            let settings = store_settings(&create.storage, Some(2))?;
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
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    if tls.is_none() && !args.listen.ip().is_loopback() {
        printer.warn(&format!(
            "listening on {} with plain HTTP: tokens and credentials cross the network unencrypted; give --tls-cert and --tls-key",
            args.listen
        ));
    }
    let store_settings = store_settings(&args.storage, args.max_connections)?;
    let settings = ServerSettings {
        max_poll_wait: Duration::from_secs(args.max_poll_wait),
        report_retention: args
            .report_retention_days
            .map(|days| Duration::from_secs(u64::from(days) * 86_400)),
        ..ServerSettings::default()
    };
    runtime()?.block_on(async move {
        let store = Store::connect(&store_settings).await.context("failed to open the server database")?;
        let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("failed to listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, tls = tls.is_some(), backend = ?store.backend(), "patchwarden server listening");
        let state = AppState::new(store, Arc::new(SystemClock), settings);
        pw_server::serve(state.clone(), listener, tls, shutdown_signal()).await.context("server failed")?;
        state.store().close().await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(exit_code::OK)
}
