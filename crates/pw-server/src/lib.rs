//! The Patchwarden control plane: the HTTP API (`/api/v1/...`) over axum, authentication,
//! the agent protocol, the maintenance-window scheduler and the runner that dispatches
//! commands under rate control.
//!
//! * [`router`] builds the whole HTTP surface from an [`AppState`]; tests call it with
//!   `tower::ServiceExt::oneshot`, no socket needed.
//! * [`AppState::run_background`] runs the loops: scheduler (one replica at a time, on the
//!   store's scheduler lock), runner (every replica, claiming executions with row locks),
//!   the check-in recorder and the command watcher that wakes long polls.
//! * [`serve`] binds, optionally with TLS, and shuts down gracefully.
//!
//! **Architecture invariant:** no SQL here (pw-store), no decision logic about patches
//! (pw-core); time comes from the injected [`Clock`].

mod agent;
mod api;
pub mod auth;
pub mod clock;
mod console;
pub mod distribution;
mod error;
mod extract;
mod guard;
mod meta;
pub mod metrics;
pub mod rate;
mod releases;
mod resolve;
mod runner;
mod scheduler;
mod service;
mod ssm;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use pw_api::server::error::ErrorCode;
use pw_store::Store;
use tokio::sync::{Notify, watch};

use crate::auth::Principal;
use crate::error::{ApiError, PendingError};
use crate::metrics::{Metrics, label};

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::error::ApiError as Error;
pub use crate::tls::{TlsError, TlsFiles};

/// How the server behaves; `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The longest a poll waits for commands (`?wait=` is capped to it). Default 30 s.
    pub max_poll_wait: Duration,
    /// A command handed out but not acknowledged for this long is handed out again (the
    /// answer to the poll may have been lost). Default 60 s.
    pub redelivery_after: Duration,
    /// How often the scheduler and runner look for work. Default 1 s.
    pub tick_interval: Duration,
    /// How often check-ins (`last_seen_at`) are written. Default 5 s.
    pub check_in_flush_interval: Duration,
    /// How long an authenticated secret is remembered (per replica). Default 120 s.
    pub auth_cache_ttl: Duration,
    /// Compliance reports older than this are pruned (each node's latest is kept).
    /// Default: keep everything.
    pub report_retention: Option<Duration>,
    /// The largest request body. Default 64 MiB (inventories with catalogs are large).
    pub body_limit: usize,
    /// What `GET /install.sh` and `/packages/` serve (docs/packaging.md).
    pub distribution: distribution::Distribution,
    /// Where Amazon Linux 2023's release list (`releasemd.xml`) is fetched from: Amazon's
    /// URL, a mirror, or a `file://` path; `None`: releases come from imports only.
    pub release_metadata_url: Option<String>,
    /// How often the release list is fetched. Default 6 h.
    pub release_refresh_interval: Duration,
    /// The server's key from which the secrets of SSM access keys are derived
    /// (docs/ssm-api.md); `None`: the SSM API refuses every request.
    pub access_key_secret: Option<Arc<Vec<u8>>>,
    /// A node whose latest report is older than this is stale: the console and the fleet
    /// views never count it as compliant. Default 72 h.
    pub stale_report_after: Duration,
    /// How long a console session lasts after sign-in. Default 8 h.
    pub console_session_ttl: Duration,
    /// Failed authentications one client address may make per minute before it is answered
    /// 429 for the rest of the minute (docs/security.md); 0 turns the limit off.
    pub auth_failure_limit: u32,
}

impl Default for ServerSettings {
    fn default() -> ServerSettings {
        ServerSettings {
            max_poll_wait: Duration::from_secs(30),
            redelivery_after: Duration::from_secs(60),
            tick_interval: Duration::from_secs(1),
            check_in_flush_interval: Duration::from_secs(5),
            auth_cache_ttl: Duration::from_secs(120),
            report_retention: None,
            body_limit: 64 << 20,
            distribution: distribution::Distribution::default(),
            release_metadata_url: None,
            release_refresh_interval: Duration::from_secs(6 * 3600),
            access_key_secret: None,
            stale_report_after: Duration::from_secs(72 * 3600),
            console_session_ttl: Duration::from_secs(8 * 3600),
            auth_failure_limit: 20,
        }
    }
}

/// Long polls waiting for commands, per node.
#[derive(Debug, Default)]
struct Waiters {
    by_node: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Waiters {
    fn register(&self, node_id: &str) -> Arc<Notify> {
        let mut map = self
            .by_node
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(node_id.to_owned()).or_default())
    }

    fn release(&self, node_id: &str, notify: Arc<Notify>) {
        drop(notify);
        let mut map = self
            .by_node
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only the map's reference is left: nobody waits for this node any more.
        if map
            .get(node_id)
            .is_some_and(|notify| Arc::strong_count(notify) == 1)
        {
            map.remove(node_id);
        }
    }

    fn wake(&self, node_id: &str) {
        let map = self
            .by_node
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(notify) = map.get(node_id) {
            notify.notify_waiters();
        }
    }
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: ServerSettings,
    metrics: Metrics,
    waiters: Waiters,
    check_ins: Mutex<HashMap<String, Timestamp>>,
    auth_cache: Mutex<HashMap<String, (Principal, Instant)>>,
    auth_guard: guard::AuthGuard,
    runner_wake: Notify,
    shutdown_tx: watch::Sender<bool>,
    /// Whether the listener serves TLS (console cookies are then `Secure`).
    tls: std::sync::atomic::AtomicBool,
}

/// Everything a handler or loop needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: ServerSettings) -> AppState {
        let (shutdown_tx, _) = watch::channel(false);
        let auth_guard = guard::AuthGuard::new(settings.auth_failure_limit);
        AppState {
            inner: Arc::new(Inner {
                store,
                clock,
                settings,
                metrics: Metrics::default(),
                waiters: Waiters::default(),
                check_ins: Mutex::new(HashMap::new()),
                auth_cache: Mutex::new(HashMap::new()),
                auth_guard,
                runner_wake: Notify::new(),
                shutdown_tx,
                tls: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    pub fn settings(&self) -> &ServerSettings {
        &self.inner.settings
    }

    /// Refuses (429, with `Retry-After`) a client whose failed authentications reached the
    /// limit in this window (`guard`).
    pub(crate) fn auth_allowed(&self, client: Option<guard::ClientAddr>) -> Result<(), ApiError> {
        match self.inner.auth_guard.held_back(client, Instant::now()) {
            None => Ok(()),
            Some(wait) => {
                self.metrics()
                    .count("pw_auth_held_back_total", String::new(), 1);
                let seconds = wait.as_secs().max(1);
                Err(ApiError::too_many(
                    format!(
                        "too many failed authentications from this address; retry in {seconds} s"
                    ),
                    seconds,
                ))
            }
        }
    }

    /// Counts a failed authentication from `client` (`guard`).
    pub(crate) fn auth_failed(&self, client: Option<guard::ClientAddr>) {
        self.metrics()
            .count("pw_auth_failures_total", String::new(), 1);
        self.inner.auth_guard.failed(client, Instant::now());
    }

    /// Whether the listener serves TLS.
    pub(crate) fn serves_tls(&self) -> bool {
        self.inner.tls.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Asks long polls and background loops to stop.
    pub fn shutdown(&self) {
        self.inner.shutdown_tx.send_replace(true);
    }

    fn shutdown_rx(&self) -> watch::Receiver<bool> {
        self.inner.shutdown_tx.subscribe()
    }

    fn auth_cache_get(&self, hash: &str) -> Option<Principal> {
        let cache = self
            .inner
            .auth_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (principal, at) = cache.get(hash)?;
        (at.elapsed() < self.inner.settings.auth_cache_ttl).then(|| principal.clone())
    }

    fn auth_cache_put(&self, hash: String, principal: Principal, at: Instant) {
        let mut cache = self
            .inner
            .auth_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() > 200_000 {
            let ttl = self.inner.settings.auth_cache_ttl;
            cache.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        cache.insert(hash, (principal, at));
    }

    /// Forgets every cached credential (after a revocation or a node deletion).
    fn auth_cache_clear(&self) {
        self.inner
            .auth_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    fn record_check_in(&self, node_id: &str, at: Timestamp) {
        let mut check_ins = self
            .inner
            .check_ins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        check_ins.insert(node_id.to_owned(), at);
    }

    /// Writes the check-ins recorded since the last flush.
    pub async fn flush_check_ins(&self) -> Result<(), pw_store::StoreError> {
        let batch: Vec<(String, Timestamp)> = {
            let mut check_ins = self
                .inner
                .check_ins
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            check_ins.drain().collect()
        };
        for chunk in batch.chunks(500) {
            self.store().touch_nodes(chunk).await?;
        }
        Ok(())
    }

    /// Wakes the runner (a result arrived, an execution was cancelled).
    fn wake_runner(&self) {
        self.inner.runner_wake.notify_one();
    }

    /// Wakes the long polls of a node (a command was created for it).
    fn wake_node(&self, node_id: &str) {
        self.inner.waiters.wake(node_id);
    }

    /// One scheduler pass at the clock's now: opens due executions. Needs the scheduler
    /// lock (held by the caller in the background loop; tests call this directly).
    pub async fn scheduler_tick(&self) -> Result<(), ApiError> {
        scheduler::tick(self, self.now()).await
    }

    /// One runner pass at the clock's now: advances every active execution.
    pub async fn runner_tick(&self) -> Result<(), ApiError> {
        runner::tick(self, self.now()).await
    }

    /// One webhook pass at the clock's now: queues `critical.overdue` events and sends the
    /// deliveries that are due (the scheduler's loop does this; tests call it directly).
    pub async fn webhook_tick(&self) {
        service::webhooks::notify_overdue(self).await;
        service::webhooks::deliver_due(self).await;
    }

    /// Runs the background loops until [`AppState::shutdown`].
    pub async fn run_background(&self) {
        let loops = [
            tokio::spawn(scheduler::run(self.clone())),
            tokio::spawn(runner::run(self.clone())),
            tokio::spawn(agent::run_check_in_flusher(self.clone())),
            tokio::spawn(agent::run_command_watcher(self.clone())),
            tokio::spawn(releases::run(self.clone())),
            tokio::spawn(run_optimizer(self.clone())),
        ];
        for handle in loops {
            if let Err(error) = handle.await {
                tracing::error!(error = %error, "a background loop panicked");
            }
        }
    }
}

/// Refreshes the database's planner statistics a minute after startup and then daily
/// (`Store::optimize`): the fleet views' plans depend on them, and SQLite keeps none by
/// itself.
async fn run_optimizer(state: AppState) {
    let mut shutdown = state.shutdown_rx();
    let mut wait = std::time::Duration::from_secs(60);
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
        if let Err(error) = state.store().optimize().await {
            tracing::warn!(error = %error, "refreshing the database statistics failed");
        }
        wait = std::time::Duration::from_secs(24 * 3600);
    }
}

/// `at + by`, saturating at the end of time.
pub(crate) fn later(at: Timestamp, by: jiff::SignedDuration) -> Timestamp {
    at.checked_add(by).unwrap_or(Timestamp::MAX)
}

/// An access key of the SSM API: its id and secret (shown once; derived again from the
/// server key when a request is verified).
#[derive(Debug, Clone)]
pub struct CreatedAccessKey {
    pub id: String,
    pub secret: String,
}

/// Creates an SSM access key with `role` in `store`; `server_key` is the key its secret is
/// derived from (docs/ssm-api.md).
pub async fn create_access_key(
    store: &pw_store::Store,
    server_key: &[u8],
    role: pw_api::server::tokens::Role,
    description: Option<String>,
    now: Timestamp,
) -> Result<CreatedAccessKey, pw_store::StoreError> {
    let digits: String = pw_store::ids::random_bytes(8)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let id = format!("PWAK{digits}");
    store
        .create_access_key(&pw_store::AccessKeyRecord {
            id: id.clone(),
            role: role.as_str().to_owned(),
            description,
            created_at: now,
            revoked_at: None,
        })
        .await?;
    let secret = ssm::sigv4::derive_secret(server_key, &id);
    Ok(CreatedAccessKey { id, secret })
}

/// Creates an API token in `store` and returns it with its secret (`patchwarden server
/// token create` uses this on the server host, without HTTP).
pub async fn create_token(
    store: &Store,
    role: pw_api::server::tokens::Role,
    name: Option<String>,
    now: Timestamp,
) -> Result<pw_api::server::tokens::TokenCreated, pw_store::StoreError> {
    api::create_token_in(store, role, name, now).await
}

/// The request id: the client's `x-request-id` when it is short and plain, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The longest request target (path and query) the server reads; longer ones are answered
/// 414 with the error body (docs/api.md).
pub const MAX_URI_BYTES: usize = 8192;

async fn request_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic())
        })
        .map_or_else(pw_store::ids::guid, ToOwned::to_owned);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().clone();
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    if let Some(axum::extract::ConnectInfo(guard::Peer(peer))) = request
        .extensions()
        .get::<axum::extract::ConnectInfo<guard::Peer>>()
        .copied()
    {
        request
            .extensions_mut()
            .insert(guard::ClientAddr(peer.ip()));
    }
    let target_len = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    let mut response = if target_len > MAX_URI_BYTES {
        // Answered here, with the error body, below hyper's own limit (64 KiB), which
        // answers 414 without one.
        let mut response = axum::http::StatusCode::URI_TOO_LONG.into_response();
        response
            .extensions_mut()
            .insert(PendingError(Arc::new(ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "the request target (path and query) is {target_len} bytes; the server takes at most {MAX_URI_BYTES}"
                ),
            ))));
        response
    } else {
        next.run(request).await
    };
    let status = response.status();
    let pending = response.extensions_mut().remove::<PendingError>();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| {
            // The SSM face answers its own errors in AWS's JSON shape.
            value.as_bytes().starts_with(b"application/json")
                || value.as_bytes().starts_with(b"application/x-amz-json")
        });
    let error = match pending {
        Some(PendingError(error)) => Some(error),
        None if (status.is_client_error() || status.is_server_error()) && !is_json => {
            let code = ErrorCode::from_http_status(status.as_u16());
            let message = match code {
                ErrorCode::NotFound if status.as_u16() == 405 => {
                    "method not allowed on this path".to_owned()
                }
                ErrorCode::NotFound => "no such path".to_owned(),
                ErrorCode::PayloadTooLarge => format!(
                    "the body is larger than {} bytes",
                    state.settings().body_limit
                ),
                _ => status.canonical_reason().unwrap_or("error").to_owned(),
            };
            Some(Arc::new(ApiError::new(code, message)))
        }
        None => None,
    };
    if let Some(error) = error {
        if status.is_server_error() {
            tracing::error!(request_id, %method, route, status = status.as_u16(), code = %error.code,
                detail = error.detail.as_deref().unwrap_or(""), "request failed");
        } else {
            tracing::debug!(request_id, %method, route, status = status.as_u16(), code = %error.code, message = error.message, "request refused");
        }
        let mut replaced = (status, axum::Json(error.body(&request_id))).into_response();
        replaced.headers_mut().extend(
            response
                .headers()
                .iter()
                .filter(|(name, _)| {
                    *name == header::WWW_AUTHENTICATE || *name == header::RETRY_AFTER
                })
                .map(|(n, v)| (n.clone(), v.clone())),
        );
        response = replaced;
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let elapsed = started.elapsed();
    let metrics = state.metrics();
    metrics.count(
        "pw_http_requests_total",
        format!("route=\"{}\",status=\"{}\"", label(&route), status.as_u16()),
        1,
    );
    metrics.observe(
        "pw_http_request_duration_seconds",
        format!("route=\"{}\"", label(&route)),
        elapsed,
    );
    tracing::debug!(request_id, %method, route, status = status.as_u16(), elapsed_ms = elapsed.as_millis() as u64, "request");
    response
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let limit = state.settings().body_limit;
    Router::new()
        .merge(meta::routes())
        .merge(distribution::routes())
        .nest("/api/v1", api::routes().merge(agent::routes()))
        .merge(ssm::routes())
        .merge(console::routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct ListenSettings {
    pub addr: SocketAddr,
    pub tls: Option<TlsFiles>,
}

/// Serves until `shutdown` resolves, then stops accepting, ends long polls, waits for
/// requests in flight, and flushes check-ins. Background loops run alongside.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    tls: Option<TlsFiles>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), std::io::Error> {
    state
        .inner
        .tls
        .store(tls.is_some(), std::sync::atomic::Ordering::Relaxed);
    let app = router(state.clone()).into_make_service_with_connect_info::<guard::Peer>();
    let background = tokio::spawn({
        let state = state.clone();
        async move { state.run_background().await }
    });
    let signal_state = state.clone();
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down");
        signal_state.shutdown();
    };
    let result = match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
        }
        Some(files) => {
            let config = tls::server_config(&files).map_err(std::io::Error::other)?;
            let listener = tls::TlsListener::new(listener, config, state.shutdown_rx());
            axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
        }
    };
    state.shutdown();
    if let Err(error) = background.await {
        tracing::error!(error = %error, "background loops panicked");
    }
    if let Err(error) = state.flush_check_ins().await {
        tracing::warn!(error = %error, "failed to write the last check-ins");
    }
    result
}
