//! A typed, blocking HTTP client over the Patchwarden server: the admin API (used by the
//! CLI and tests) and the agent protocol (used by the agent). One HTTP stack for the
//! workspace: `ureq` with rustls.
//!
//! * [`Client::new`] with [`ClientSettings`]: server URL, bearer secret (API token or node
//!   credential), optional extra CA certificate (PEM), timeout.
//! * Errors: [`ClientError::Api`] carries the server's error body (code, message, request
//!   id, field); [`ClientError::is_retryable`] tells transport trouble and 5xx apart from
//!   refusals.
//! * [`credential`]: the agent's credential file, written with mode 0600.
//!
//! Blocking on purpose: the agent polls one request at a time, and async callers wrap calls
//! in `spawn_blocking`.

pub mod credential;

use std::fmt;
use std::time::Duration;

use pw_api::agent::OperationReport;
use pw_api::server::agent::{
    AckResponse, AgentCommand, CommandInfo, CommandResult, CommandsResponse, CreateNodeCommand,
    EnrollRequest, EnrollResponse, InventoryUpload, PreviewRequest, PreviewResponse,
    ResultAccepted,
};
use pw_api::server::baselines::{
    BaselineDetail, BaselineSummary, DefaultBaseline, PatchGroupRegistration, RegisterDefault,
    RegisterPatchGroup,
};
use pw_api::server::compliance::{
    ComplianceReportUpload, ComplianceSummary, ExportRow, GroupCompliance, NodeCompliance,
    ReportAccepted,
};
use pw_api::server::error::{ErrorBody, ErrorCode};
use pw_api::server::nodes::{NodeSummary, SetTags};
use pw_api::server::tokens::{
    ActivationCreated, ActivationInfo, CreateActivation, CreateToken, Role, Tag, TokenCreated,
    TokenInfo,
};
use pw_api::server::windows::{
    Execution, NextExecutions, TaskSpec, Window, WindowSpec, WindowTarget, WindowTargetSpec,
    WindowTask,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `http://127.0.0.1:8440` or `https://...` (no trailing path needed).
    pub server_url: String,
    /// An API token (`pwt_...`) or a node credential (`pwn_...`).
    pub secret: Option<Secret>,
    /// Trust this CA (PEM) instead of the built-in web roots (self-signed servers).
    pub ca_pem: Option<Vec<u8>>,
    /// An HTTP(S) proxy (`http://proxy:3128`); without one, the `HTTPS_PROXY`/`HTTP_PROXY`/
    /// `NO_PROXY` variables apply.
    pub proxy: Option<String>,
    /// Time for a whole request, long polls excepted (they add their wait). Default 60 s.
    pub timeout: Duration,
}

impl ClientSettings {
    pub fn new(server_url: impl Into<String>) -> ClientSettings {
        ClientSettings {
            server_url: server_url.into(),
            secret: None,
            ca_pem: None,
            proxy: None,
            timeout: Duration::from_secs(60),
        }
    }

    pub fn with_secret(mut self, secret: impl Into<String>) -> ClientSettings {
        self.secret = Some(Secret::new(secret));
        self
    }
}

/// A request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{url}` is not an http:// or https:// URL")]
    BadUrl { url: String },
    #[error("the CA certificate is not usable PEM")]
    BadCa,
    #[error("proxy `{proxy}` is not usable")]
    BadProxy {
        proxy: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("failed to reach {url}")]
    Transport {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{method} {path} refused: {} ({}; request id {})", body.message, body.code, body.request_id)]
    Api {
        method: &'static str,
        path: String,
        status: u16,
        body: ErrorBody,
    },
    #[error("unexpected answer to {method} {path}")]
    Decode {
        method: &'static str,
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The server's error code, for refusals.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { body, .. } => Some(body.code),
            _ => None,
        }
    }

    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: transport errors, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Api { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// A raw answer: status, content type and body text.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// The client. Cheap to clone; connections are pooled.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    secret: Option<Secret>,
    timeout: Duration,
}

const MAX_BODY: u64 = 512 << 20;

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A query string from pairs (`?a=1&b=2`), or empty.
pub fn query(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

impl Client {
    pub fn new(settings: ClientSettings) -> Result<Client, ClientError> {
        let base = settings.server_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::BadUrl {
                url: settings.server_url,
            });
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(pem) = &settings.ca_pem {
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(pem) {
                if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
                    certs.push(cert);
                }
            }
            if certs.is_empty() {
                return Err(ClientError::BadCa);
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let proxy = match &settings.proxy {
            None => ureq::Proxy::try_from_env(),
            Some(text) => Some(
                ureq::Proxy::new(text).map_err(|source| ClientError::BadProxy {
                    proxy: text.clone(),
                    source: Box::new(source),
                })?,
            ),
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(proxy)
            .tls_config(tls.build())
            .user_agent(concat!("patchwarden-client/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(8)
            .build();
        Ok(Client {
            agent: config.new_agent(),
            base,
            secret: settings.secret,
            timeout: settings.timeout,
        })
    }

    /// The same client with another bearer secret.
    pub fn with_secret(&self, secret: impl Into<String>) -> Client {
        Client {
            secret: Some(Secret::new(secret)),
            ..self.clone()
        }
    }

    /// The server URL.
    pub fn server_url(&self) -> &str {
        &self.base
    }

    /// Sends a request and returns the raw answer, whatever its status.
    pub fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        timeout: Option<Duration>,
    ) -> Result<RawResponse, ClientError> {
        let url = format!("{}{path}", self.base);
        let transport = |source: ureq::Error| ClientError::Transport {
            url: url.clone(),
            source: Box::new(source),
        };
        let timeout = Some(timeout.unwrap_or(self.timeout));
        let auth = self
            .secret
            .as_ref()
            .map(|secret| format!("Bearer {}", secret.expose()));
        let response = match method {
            Method::Get | Method::Delete => {
                let mut request = if method == Method::Get {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                request = request.config().timeout_global(timeout).build();
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.call()
            }
            Method::Post | Method::Put => {
                let mut request = if method == Method::Post {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                request = request.config().timeout_global(timeout).build();
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                let (content_type, bytes) = body.unwrap_or(("application/json", Vec::new()));
                request.content_type(content_type).send(&bytes[..])
            }
        }
        .map_err(transport)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .map(ToOwned::to_owned);
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(transport)?;
        Ok(RawResponse {
            status,
            content_type,
            body,
        })
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        timeout: Option<Duration>,
    ) -> Result<T, ClientError> {
        let text = self.call_text(method, path, body, timeout)?;
        let text = if text.is_empty() {
            "null"
        } else {
            text.as_str()
        };
        serde_json::from_str(text).map_err(|source| ClientError::Decode {
            method: method.as_str(),
            path: path.to_owned(),
            source,
        })
    }

    fn call_text(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        timeout: Option<Duration>,
    ) -> Result<String, ClientError> {
        let response = self.raw(method, path, body, timeout)?;
        if (200..300).contains(&response.status) {
            return Ok(response.body);
        }
        let body =
            serde_json::from_str::<ErrorBody>(&response.body).unwrap_or_else(|_| ErrorBody {
                code: ErrorCode::from_http_status(response.status),
                message: format!("HTTP {}", response.status),
                request_id: String::new(),
                field: None,
            });
        Err(ClientError::Api {
            method: method.as_str(),
            path: path.to_owned(),
            status: response.status,
            body,
        })
    }

    fn json_body<B: Serialize>(body: &B) -> Option<(&'static str, Vec<u8>)> {
        Some((
            "application/json",
            serde_json::to_vec(body).unwrap_or_default(),
        ))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(Method::Get, path, None, None)
    }

    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(Method::Post, path, Self::json_body(body), None)
    }

    fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(Method::Put, path, Self::json_body(body), None)
    }

    fn delete(&self, path: &str) -> Result<(), ClientError> {
        self.call_text(Method::Delete, path, None, None).map(|_| ())
    }

    // ---- meta ------------------------------------------------------------------------

    /// `GET /healthz`.
    pub fn health(&self) -> Result<(), ClientError> {
        self.call_text(Method::Get, "/healthz", None, None)
            .map(|_| ())
    }

    /// `GET /metrics` (Prometheus text).
    pub fn metrics(&self) -> Result<String, ClientError> {
        self.call_text(Method::Get, "/metrics", None, None)
    }

    // ---- baselines -------------------------------------------------------------------

    pub fn baselines(&self) -> Result<Vec<BaselineSummary>, ClientError> {
        self.get("/api/v1/baselines")
    }

    /// Creates a baseline from its file text (native TOML or AWS JSON).
    pub fn create_baseline(&self, text: &str) -> Result<BaselineDetail, ClientError> {
        let content_type = if text.trim_start().starts_with('{') {
            "application/json"
        } else {
            "application/toml"
        };
        self.call(
            Method::Post,
            "/api/v1/baselines",
            Some((content_type, text.as_bytes().to_vec())),
            None,
        )
    }

    pub fn update_baseline(&self, id: &str, text: &str) -> Result<BaselineDetail, ClientError> {
        let content_type = if text.trim_start().starts_with('{') {
            "application/json"
        } else {
            "application/toml"
        };
        self.call(
            Method::Put,
            &format!("/api/v1/baselines/{}", encode(id)),
            Some((content_type, text.as_bytes().to_vec())),
            None,
        )
    }

    pub fn baseline(&self, id: &str) -> Result<BaselineDetail, ClientError> {
        self.get(&format!("/api/v1/baselines/{}", encode(id)))
    }

    /// A baseline's file text: `format` is `toml` or `aws-json`.
    pub fn baseline_text(&self, id: &str, format: &str) -> Result<String, ClientError> {
        self.call_text(
            Method::Get,
            &format!(
                "/api/v1/baselines/{}{}",
                encode(id),
                query(&[("format", format)])
            ),
            None,
            None,
        )
    }

    pub fn delete_baseline(&self, id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/baselines/{}", encode(id)))
    }

    pub fn default_baselines(&self) -> Result<Vec<DefaultBaseline>, ClientError> {
        self.get("/api/v1/default-baselines")
    }

    pub fn register_default_baseline(
        &self,
        operating_system: &str,
        baseline_id: &str,
    ) -> Result<DefaultBaseline, ClientError> {
        self.put(
            &format!("/api/v1/default-baselines/{}", encode(operating_system)),
            &RegisterDefault {
                baseline_id: baseline_id.to_owned(),
            },
        )
    }

    pub fn patch_groups(&self) -> Result<Vec<PatchGroupRegistration>, ClientError> {
        self.get("/api/v1/patch-groups")
    }

    pub fn register_patch_group(
        &self,
        patch_group: &str,
        baseline_id: &str,
    ) -> Result<PatchGroupRegistration, ClientError> {
        self.post(
            "/api/v1/patch-groups",
            &RegisterPatchGroup {
                patch_group: patch_group.to_owned(),
                baseline_id: baseline_id.to_owned(),
            },
        )
    }

    pub fn deregister_patch_group(
        &self,
        patch_group: &str,
        operating_system: &str,
    ) -> Result<(), ClientError> {
        self.delete(&format!(
            "/api/v1/patch-groups{}",
            query(&[
                ("patch_group", patch_group),
                ("operating_system", operating_system)
            ])
        ))
    }

    // ---- nodes -----------------------------------------------------------------------

    /// Nodes; `filters` as query pairs (`tag`, `os`, `patch_group`).
    pub fn nodes(&self, filters: &[(&str, &str)]) -> Result<Vec<NodeSummary>, ClientError> {
        self.get(&format!("/api/v1/nodes{}", query(filters)))
    }

    pub fn node(&self, id: &str) -> Result<NodeSummary, ClientError> {
        self.get(&format!("/api/v1/nodes/{}", encode(id)))
    }

    pub fn delete_node(&self, id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/nodes/{}", encode(id)))
    }

    pub fn set_node_tags(&self, id: &str, tags: Vec<Tag>) -> Result<NodeSummary, ClientError> {
        self.put(
            &format!("/api/v1/nodes/{}/tags", encode(id)),
            &SetTags { tags },
        )
    }

    pub fn node_inventory(&self, id: &str) -> Result<InventoryUpload, ClientError> {
        self.get(&format!("/api/v1/nodes/{}/inventory", encode(id)))
    }

    pub fn node_commands(&self, id: &str) -> Result<Vec<CommandInfo>, ClientError> {
        self.get(&format!("/api/v1/nodes/{}/commands", encode(id)))
    }

    pub fn create_node_command(
        &self,
        id: &str,
        command: &CreateNodeCommand,
    ) -> Result<CommandInfo, ClientError> {
        self.post(&format!("/api/v1/nodes/{}/commands", encode(id)), command)
    }

    /// Queues a rollback of what execution `request.execution_id` installed on node `id`.
    pub fn rollback_node(
        &self,
        id: &str,
        request: &pw_api::server::agent::RollbackRequest,
    ) -> Result<CommandInfo, ClientError> {
        self.post(&format!("/api/v1/nodes/{}/rollback", encode(id)), request)
    }

    // ---- compliance ------------------------------------------------------------------

    /// Node summaries; `filters` as query pairs (`filter=missing:GreaterThan:0`, `status`,
    /// `baseline_id`, `patch_group`, `tag`).
    pub fn compliance_nodes(
        &self,
        filters: &[(&str, &str)],
    ) -> Result<Vec<ComplianceSummary>, ClientError> {
        self.get(&format!("/api/v1/compliance/nodes{}", query(filters)))
    }

    /// A node's latest items; `filters`: `state`, `classification`, `severity`.
    pub fn node_compliance(
        &self,
        id: &str,
        filters: &[(&str, &str)],
    ) -> Result<NodeCompliance, ClientError> {
        self.get(&format!(
            "/api/v1/compliance/nodes/{}{}",
            encode(id),
            query(filters)
        ))
    }

    /// A node's history; `filters`: `from`, `to`, `limit`.
    pub fn node_compliance_history(
        &self,
        id: &str,
        filters: &[(&str, &str)],
    ) -> Result<Vec<ComplianceSummary>, ClientError> {
        self.get(&format!(
            "/api/v1/compliance/nodes/{}/history{}",
            encode(id),
            query(filters)
        ))
    }

    /// One stored report whole (`report_id` from a summary), as the agent uploaded it.
    pub fn compliance_report(&self, report_id: i64) -> Result<OperationReport, ClientError> {
        self.get(&format!("/api/v1/compliance/reports/{report_id}"))
    }

    pub fn compliance_patch_groups(&self) -> Result<Vec<GroupCompliance>, ClientError> {
        self.get("/api/v1/compliance/patch-groups")
    }

    pub fn compliance_baselines(&self) -> Result<Vec<GroupCompliance>, ClientError> {
        self.get("/api/v1/compliance/baselines")
    }

    /// Export as JSON rows.
    pub fn compliance_export(
        &self,
        filters: &[(&str, &str)],
    ) -> Result<Vec<ExportRow>, ClientError> {
        let mut pairs = filters.to_vec();
        pairs.push(("format", "json"));
        self.get(&format!("/api/v1/compliance/export{}", query(&pairs)))
    }

    /// Export as CSV text.
    pub fn compliance_export_csv(&self, filters: &[(&str, &str)]) -> Result<String, ClientError> {
        let mut pairs = filters.to_vec();
        pairs.push(("format", "csv"));
        self.call_text(
            Method::Get,
            &format!("/api/v1/compliance/export{}", query(&pairs)),
            None,
            None,
        )
    }

    pub fn preview(&self, request: &PreviewRequest) -> Result<PreviewResponse, ClientError> {
        self.post("/api/v1/preview", request)
    }

    // ---- releases (Amazon Linux 2023) --------------------------------------------------

    pub fn releases(&self) -> Result<pw_api::server::releases::ReleasesResponse, ClientError> {
        self.get("/api/v1/releases")
    }

    pub fn import_releases(
        &self,
        versions: Vec<String>,
    ) -> Result<pw_api::server::releases::RefreshOutcome, ClientError> {
        self.post(
            "/api/v1/releases/import",
            &pw_api::server::releases::ImportReleases { versions },
        )
    }

    pub fn refresh_releases(
        &self,
    ) -> Result<pw_api::server::releases::RefreshOutcome, ClientError> {
        self.post("/api/v1/releases/refresh", &serde_json::json!({}))
    }

    // ---- windows and executions ------------------------------------------------------

    pub fn webhooks(&self) -> Result<Vec<pw_api::server::webhooks::Webhook>, ClientError> {
        self.get("/api/v1/webhooks")
    }

    pub fn create_webhook(
        &self,
        spec: &pw_api::server::webhooks::WebhookSpec,
    ) -> Result<pw_api::server::webhooks::Webhook, ClientError> {
        self.post("/api/v1/webhooks", spec)
    }

    /// Replaces a webhook's settings (its secret only when the update has one).
    pub fn update_webhook(
        &self,
        id: &str,
        update: &pw_api::server::webhooks::WebhookUpdate,
    ) -> Result<pw_api::server::webhooks::Webhook, ClientError> {
        self.put(&format!("/api/v1/webhooks/{}", encode(id)), update)
    }

    pub fn delete_webhook(&self, id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/webhooks/{}", encode(id)))
    }

    pub fn webhook_deliveries(
        &self,
        id: &str,
    ) -> Result<Vec<pw_api::server::webhooks::WebhookDelivery>, ClientError> {
        self.get(&format!("/api/v1/webhooks/{}/deliveries", encode(id)))
    }

    pub fn promotions(
        &self,
    ) -> Result<Vec<pw_api::server::promotion::PromotionPolicy>, ClientError> {
        self.get("/api/v1/promotions")
    }

    pub fn promotion(
        &self,
        id: &str,
    ) -> Result<pw_api::server::promotion::PromotionPolicy, ClientError> {
        self.get(&format!("/api/v1/promotions/{}", encode(id)))
    }

    pub fn create_promotion(
        &self,
        spec: &pw_api::server::promotion::PromotionSpec,
    ) -> Result<pw_api::server::promotion::PromotionPolicy, ClientError> {
        self.post("/api/v1/promotions", spec)
    }

    pub fn update_promotion(
        &self,
        id: &str,
        spec: &pw_api::server::promotion::PromotionSpec,
    ) -> Result<pw_api::server::promotion::PromotionPolicy, ClientError> {
        self.put(&format!("/api/v1/promotions/{}", encode(id)), spec)
    }

    pub fn delete_promotion(&self, id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/promotions/{}", encode(id)))
    }

    pub fn run_promotion(
        &self,
        id: &str,
        dry_run: bool,
    ) -> Result<pw_api::server::promotion::PromotionRun, ClientError> {
        self.post(
            &format!("/api/v1/promotions/{}/run?dry_run={dry_run}", encode(id)),
            &serde_json::Value::Null,
        )
    }

    pub fn windows(&self) -> Result<Vec<Window>, ClientError> {
        self.get("/api/v1/windows")
    }

    pub fn create_window(&self, spec: &WindowSpec) -> Result<Window, ClientError> {
        self.post("/api/v1/windows", spec)
    }

    pub fn update_window(&self, id: &str, spec: &WindowSpec) -> Result<Window, ClientError> {
        self.put(&format!("/api/v1/windows/{}", encode(id)), spec)
    }

    pub fn window(&self, id: &str) -> Result<Window, ClientError> {
        self.get(&format!("/api/v1/windows/{}", encode(id)))
    }

    pub fn delete_window(&self, id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/windows/{}", encode(id)))
    }

    pub fn set_window_enabled(&self, id: &str, enabled: bool) -> Result<Window, ClientError> {
        let action = if enabled { "enable" } else { "disable" };
        self.post(
            &format!("/api/v1/windows/{}/{action}", encode(id)),
            &serde_json::Value::Null,
        )
    }

    pub fn next_executions(&self, id: &str, count: u32) -> Result<NextExecutions, ClientError> {
        self.get(&format!(
            "/api/v1/windows/{}/next{}",
            encode(id),
            query(&[("count", &count.to_string())])
        ))
    }

    pub fn create_window_target(
        &self,
        window_id: &str,
        spec: &WindowTargetSpec,
    ) -> Result<WindowTarget, ClientError> {
        self.post(
            &format!("/api/v1/windows/{}/targets", encode(window_id)),
            spec,
        )
    }

    pub fn window_targets(&self, window_id: &str) -> Result<Vec<WindowTarget>, ClientError> {
        self.get(&format!("/api/v1/windows/{}/targets", encode(window_id)))
    }

    pub fn delete_window_target(
        &self,
        window_id: &str,
        target_id: &str,
    ) -> Result<(), ClientError> {
        self.delete(&format!(
            "/api/v1/windows/{}/targets/{}",
            encode(window_id),
            encode(target_id)
        ))
    }

    pub fn create_window_task(
        &self,
        window_id: &str,
        spec: &TaskSpec,
    ) -> Result<WindowTask, ClientError> {
        self.post(
            &format!("/api/v1/windows/{}/tasks", encode(window_id)),
            spec,
        )
    }

    pub fn window_tasks(&self, window_id: &str) -> Result<Vec<WindowTask>, ClientError> {
        self.get(&format!("/api/v1/windows/{}/tasks", encode(window_id)))
    }

    pub fn delete_window_task(&self, window_id: &str, task_id: &str) -> Result<(), ClientError> {
        self.delete(&format!(
            "/api/v1/windows/{}/tasks/{}",
            encode(window_id),
            encode(task_id)
        ))
    }

    pub fn executions(&self, window_id: Option<&str>) -> Result<Vec<Execution>, ClientError> {
        let pairs: Vec<(&str, &str)> = window_id.map(|id| ("window_id", id)).into_iter().collect();
        self.get(&format!("/api/v1/executions{}", query(&pairs)))
    }

    pub fn execution(&self, id: &str) -> Result<Execution, ClientError> {
        self.get(&format!("/api/v1/executions/{}", encode(id)))
    }

    /// Opens an execution of a window now (`POST /api/v1/windows/{id}/run`).
    pub fn run_window(&self, id: &str) -> Result<Execution, ClientError> {
        self.post(
            &format!("/api/v1/windows/{}/run", encode(id)),
            &serde_json::Value::Null,
        )
    }

    pub fn cancel_execution(&self, id: &str) -> Result<Execution, ClientError> {
        self.post(
            &format!("/api/v1/executions/{}/cancel", encode(id)),
            &serde_json::Value::Null,
        )
    }

    // ---- tokens and activation codes -------------------------------------------------

    pub fn create_token(
        &self,
        role: Role,
        name: Option<&str>,
    ) -> Result<TokenCreated, ClientError> {
        self.post(
            "/api/v1/tokens",
            &CreateToken {
                role,
                name: name.map(ToOwned::to_owned),
            },
        )
    }

    pub fn tokens(&self) -> Result<Vec<TokenInfo>, ClientError> {
        self.get("/api/v1/tokens")
    }

    pub fn revoke_token(&self, id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/tokens/{}", encode(id)))
    }

    pub fn create_activation(
        &self,
        request: &CreateActivation,
    ) -> Result<ActivationCreated, ClientError> {
        self.post("/api/v1/activations", request)
    }

    pub fn activations(&self) -> Result<Vec<ActivationInfo>, ClientError> {
        self.get("/api/v1/activations")
    }

    pub fn delete_activation(&self, id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/api/v1/activations/{}", encode(id)))
    }

    // ---- agent protocol --------------------------------------------------------------

    /// Enrolls with an activation code (needs no secret); the answer holds the node's
    /// credential, to be saved with [`credential::save`].
    pub fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse, ClientError> {
        self.post("/api/v1/agent/enroll", request)
    }

    /// Long-polls for this node's commands: returns at once when some wait, else after at
    /// most `wait` (capped by the server) with none.
    pub fn poll_commands(&self, wait: Duration) -> Result<Vec<AgentCommand>, ClientError> {
        let path = format!(
            "/api/v1/agent/commands{}",
            query(&[("wait", &wait.as_secs().to_string())])
        );
        let response: CommandsResponse =
            self.call(Method::Get, &path, None, Some(self.timeout + wait))?;
        Ok(response.commands)
    }

    /// Asks to run a command. Run it only when `proceed` is true, and only once per id.
    pub fn acknowledge_command(&self, id: &str) -> Result<AckResponse, ClientError> {
        self.post(
            &format!("/api/v1/agent/commands/{}/ack", encode(id)),
            &serde_json::Value::Null,
        )
    }

    /// Reports how a command ended (idempotent).
    pub fn post_command_result(
        &self,
        id: &str,
        result: &CommandResult,
    ) -> Result<ResultAccepted, ClientError> {
        self.post(
            &format!("/api/v1/agent/commands/{}/result", encode(id)),
            result,
        )
    }

    /// Replaces the node's inventory (after each scan).
    pub fn put_inventory(&self, inventory: &InventoryUpload) -> Result<(), ClientError> {
        self.call_text(
            Method::Put,
            "/api/v1/agent/inventory",
            Self::json_body(inventory),
            None,
        )
        .map(|_| ())
    }

    /// Appends a compliance report.
    pub fn post_report(
        &self,
        report: &ComplianceReportUpload,
    ) -> Result<ReportAccepted, ClientError> {
        self.post("/api/v1/agent/reports", report)
    }
}
