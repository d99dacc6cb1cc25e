//! The console's pages: each reads through `crate::service` and renders a template.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use pw_api::evaluation::PatchJson;
use pw_api::server::fleet::{FleetNode, FleetOverview, RunningExecution};
use pw_store::{FleetFilter, NodeRecord, NodeState, ReportRecord, ids};

use super::{
    CSS_PATH, ConsoleError, HTMX_PATH, LOGIN_COOKIE, SESSION_COOKIE, Viewer, constant_time_eq,
    cookie, set_cookie,
};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Params, serde_urlencoded_pairs};
use crate::service::fleet;
use crate::service::stored_json;

/// Instants as pages print them: UTC, to the second.
pub(crate) trait When {
    fn when(&self) -> String;
    /// The UTC day alone (`2026-12-03`), for release and approval dates.
    fn day(&self) -> String;
    /// How long before `now`, in the largest whole unit (`40 s`, `5 min`, `3 h`, `2 d`).
    fn age(&self, now: &jiff::Timestamp) -> String;
}

impl When for jiff::Timestamp {
    fn when(&self) -> String {
        self.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
    }

    fn day(&self) -> String {
        self.strftime("%Y-%m-%d").to_string()
    }

    fn age(&self, now: &jiff::Timestamp) -> String {
        let seconds = now.duration_since(*self).as_secs().max(0);
        match seconds {
            0..60 => format!("{seconds} s"),
            60..3_600 => format!("{} min", seconds / 60),
            3_600..86_400 => format!("{} h", seconds / 3_600),
            _ => format!("{} d", seconds / 86_400),
        }
    }
}

/// Who is signed in, as the page header shows it.
struct UserView {
    token_id: String,
    role: &'static str,
    csrf: String,
}

fn user(viewer: &Viewer) -> Option<UserView> {
    Some(UserView {
        token_id: viewer.token_id.clone(),
        role: viewer.role.as_str(),
        csrf: viewer.csrf.clone(),
    })
}

fn render(template: &impl Template) -> Result<Html<String>, ConsoleError> {
    template
        .render()
        .map(Html)
        .map_err(|error| ConsoleError::Api(ApiError::internal(error)))
}

/// Percent-encodes a query value.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn label(state: NodeState) -> &'static str {
    match state {
        NodeState::Compliant => "Compliant",
        NodeState::NonCompliant => "Non-compliant",
        NodeState::PendingReboot => "Pending reboot",
        NodeState::FailedLastOperation => "Failed last operation",
        NodeState::Stale => "Stale (no recent report)",
        NodeState::NeverReported => "Never reported",
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    status: String,
    message: &'a str,
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: None,
        status: status.to_string(),
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_owned()).into_response(),
    }
}

// --- Sign-in and sign-out -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    message: Option<&'a str>,
    form_token: String,
    next: String,
}

/// Only a path on this server (never `//host` or a scheme) is followed after sign-in.
fn local_path(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

fn login_page(state: &AppState, message: Option<&str>, next: &str, status: StatusCode) -> Response {
    let form_token = ids::secret("pwf_");
    let page = LoginPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: None,
        message,
        form_token: form_token.clone(),
        next: local_path(next),
    };
    match render(&page) {
        Ok(html) => (
            status,
            [(
                header::SET_COOKIE,
                set_cookie(state, LOGIN_COOKIE, &form_token, 3600),
            )],
            html,
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

pub(crate) async fn login_form(State(state): State<AppState>, params: Params) -> Response {
    let next = params
        .0
        .iter()
        .find(|(k, _)| k == "next")
        .map_or("/", |(_, v)| v.as_str())
        .to_owned();
    login_page(&state, None, &next, StatusCode::OK)
}

fn form(body: &[u8]) -> Result<Vec<(String, String)>, ConsoleError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ConsoleError::Api(ApiError::bad_request("the form is not UTF-8")))?;
    Ok(serde_urlencoded_pairs(text)?)
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(crate) async fn login(
    State(state): State<AppState>,
    crate::guard::Client(client): crate::guard::Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let pairs = form(&body)?;
    let next = field(&pairs, "next").unwrap_or("/").to_owned();
    if let Err(error) = state.auth_allowed(client) {
        return Ok(login_page(
            &state,
            Some(&error.message),
            &next,
            StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    // The form must come from a sign-in page this browser loaded (login CSRF).
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    let sent = field(&pairs, "form").unwrap_or("");
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), sent.as_bytes()) {
        return Ok(login_page(
            &state,
            Some("The sign-in form expired; try again."),
            &next,
            StatusCode::FORBIDDEN,
        ));
    }
    let secret = field(&pairs, "token").unwrap_or("").trim();
    let token = if secret.starts_with(crate::auth::TOKEN_PREFIX) {
        state
            .store()
            .token_by_hash(&ids::hash_secret(secret))
            .await?
    } else {
        None
    };
    let Some(token) = token else {
        state
            .metrics()
            .count("pw_console_sign_in_failures_total", String::new(), 1);
        state.auth_failed(client);
        return Ok(login_page(
            &state,
            Some("That is not a valid API token."),
            &next,
            StatusCode::UNAUTHORIZED,
        ));
    };
    let session = ids::secret("pws_");
    let csrf = ids::secret("pwc_");
    let now = state.now();
    let ttl = state.settings().console_session_ttl;
    let expires = now
        .checked_add(jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::ZERO))
        .unwrap_or(now);
    state
        .store()
        .create_console_session(&ids::hash_secret(&session), &token.id, &csrf, now, expires)
        .await?;
    state
        .store()
        .audit(
            now,
            &format!("token:{}", token.id),
            "console.sign_in",
            None,
            None,
        )
        .await?;
    let mut response = Redirect::to(&local_path(&next)).into_response();
    let headers = response.headers_mut();
    for cookie in [
        set_cookie(&state, SESSION_COOKIE, &session, ttl.as_secs()),
        set_cookie(&state, LOGIN_COOKIE, "", 0),
    ] {
        if let Ok(value) = cookie.parse() {
            headers.append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let pairs = form(&body)?;
    viewer.check_csrf(field(&pairs, "csrf"))?;
    state
        .store()
        .delete_console_session(&viewer.id_hash)
        .await?;
    state
        .store()
        .audit(state.now(), &viewer.actor(), "console.sign_out", None, None)
        .await?;
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&state, SESSION_COOKIE, "", 0),
        )],
        Redirect::to("/login"),
    )
        .into_response())
}

// --- Overview ---------------------------------------------------------------------------------

struct StateRow {
    key: &'static str,
    label: &'static str,
    nodes: u64,
    selected: bool,
}

fn state_rows(
    counts: &[pw_api::server::fleet::StateCount],
    selected: Option<NodeState>,
) -> Vec<StateRow> {
    NodeState::ALL
        .iter()
        .map(|state| StateRow {
            key: state.as_str(),
            label: label(*state),
            nodes: counts
                .iter()
                .find(|c| c.state == state.as_str())
                .map_or(0, |c| c.nodes),
            selected: selected == Some(*state),
        })
        .collect()
}

/// A stacked bar of the states, drawn on the server (no script, no inline style).
fn state_chart(rows: &[StateRow]) -> String {
    let total: u64 = rows.iter().map(|r| r.nodes).sum();
    let width = 600.0_f64;
    let mut x = 0.0_f64;
    let mut svg = String::from(
        "<svg class=\"chart\" width=\"600\" height=\"24\" viewBox=\"0 0 600 24\" role=\"img\" aria-label=\"nodes by state\">",
    );
    if total == 0 {
        svg.push_str(
            "<rect class=\"never_reported\" x=\"0\" y=\"0\" width=\"600\" height=\"24\"/>",
        );
    }
    for row in rows.iter().filter(|r| r.nodes > 0) {
        let w = width * (row.nodes as f64) / (total as f64);
        svg.push_str(&format!(
            "<rect class=\"{}\" x=\"{x:.1}\" y=\"0\" width=\"{w:.1}\" height=\"24\"><title>{}: {}</title></rect>",
            row.key, row.label, row.nodes
        ));
        x += w;
    }
    svg.push_str("</svg>");
    svg
}

struct Cell {
    nodes: u64,
    href: String,
}

struct GroupRow {
    name: Option<String>,
    cells: Vec<Cell>,
}

/// The severity columns, highest first: the compliance levels, then `NONE` (nothing missing
/// or never reported).
fn severities() -> Vec<&'static str> {
    pw_core::baseline::ComplianceLevel::ALL
        .iter()
        .map(|level| level.as_str())
        .chain(["NONE"])
        .collect()
}

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    overview: FleetOverview,
    states: Vec<StateRow>,
    chart: String,
    severities: Vec<&'static str>,
    groups: Vec<GroupRow>,
    running: String,
}

#[derive(Template)]
#[template(path = "console/running.html")]
struct RunningFragment<'a> {
    running: &'a [RunningExecution],
}

pub(crate) async fn overview(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Html<String>, ConsoleError> {
    let overview = fleet::overview(&state).await?;
    let states = state_rows(&overview.states, None);
    let chart = state_chart(&states);
    let groups = overview
        .patch_groups
        .iter()
        .map(|group| GroupRow {
            name: group.patch_group.clone(),
            cells: severities()
                .into_iter()
                .map(|severity| {
                    let nodes = group
                        .severities
                        .iter()
                        .find(|s| s.severity == *severity)
                        .map_or(0, |s| s.nodes);
                    let mut href = format!("/nodes?severity={severity}");
                    if let Some(name) = &group.patch_group {
                        href.push_str(&format!("&patch_group={}", url_encode(name)));
                    }
                    Cell { nodes, href }
                })
                .collect(),
        })
        .collect();
    let running = render(&RunningFragment {
        running: &overview.running,
    })?
    .0;
    render(&OverviewPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        overview,
        states,
        chart,
        severities: severities(),
        groups,
        running,
    })
}

/// The running executions, refreshed by htmx every few seconds.
pub(crate) async fn running(
    State(state): State<AppState>,
    _viewer: Viewer,
) -> Result<Html<String>, ConsoleError> {
    let overview = fleet::overview(&state).await?;
    render(&RunningFragment {
        running: &overview.running,
    })
}

// --- Nodes --------------------------------------------------------------------------------------

/// The filter's fields as the form shows them.
#[derive(Default)]
struct FilterView {
    patch_group: String,
    os: String,
    hostname: String,
    severity: String,
    reference: String,
    package: String,
    tag: String,
}

#[derive(Template)]
#[template(path = "console/nodes.html")]
struct NodesPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    states: Vec<StateRow>,
    filter: FilterView,
    total: u64,
    query: String,
    nodes: Vec<FleetNode>,
    next: Option<String>,
    now: jiff::Timestamp,
}

/// The query string of `params` without paging (`?a=b&...`, or empty).
fn filter_query(params: &Params) -> String {
    let pairs: Vec<String> = params
        .0
        .iter()
        .filter(|(k, v)| k != "after" && k != "limit" && !v.is_empty())
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

fn filter_of(params: &Params) -> Result<FleetFilter, ConsoleError> {
    Ok(fleet::filter_from(&params.0)?)
}

pub(crate) async fn nodes(
    State(state): State<AppState>,
    viewer: Viewer,
    params: Params,
) -> Result<Html<String>, ConsoleError> {
    let filter = filter_of(&params)?;
    let after = params
        .0
        .iter()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.as_str());
    let counts = fleet::state_counts(&state, &filter).await?;
    let total = match filter.state {
        Some(selected) => counts
            .iter()
            .find(|c| c.state == selected.as_str())
            .map_or(0, |c| c.nodes),
        None => counts.iter().map(|c| c.nodes).sum(),
    };
    let (rows, next) = fleet::nodes_page(&state, &filter, after, 100).await?;
    let query = filter_query(&params);
    let next = next.map(|cursor| {
        let sep = if query.is_empty() { "?" } else { "&" };
        format!("/nodes{query}{sep}after={cursor}")
    });
    let view = FilterView {
        patch_group: filter.patch_group.clone().unwrap_or_default(),
        os: filter.operating_system.clone().unwrap_or_default(),
        hostname: filter.hostname_prefix.clone().unwrap_or_default(),
        severity: filter.severity.clone().unwrap_or_default(),
        reference: filter.reference.clone().unwrap_or_default(),
        package: filter.package.clone().unwrap_or_default(),
        tag: filter
            .tag
            .as_ref()
            .map(|(k, v)| format!("{k}={v}"))
            .unwrap_or_default(),
    };
    render(&NodesPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        states: state_rows(&counts, filter.state),
        filter: view,
        total,
        query,
        nodes: rows.iter().map(fleet::node_to_wire).collect(),
        next,
        now: state.now(),
    })
}

const CSV_COLUMNS: [&str; 21] = [
    "id",
    "hostname",
    "operating_system",
    "patch_group",
    "state",
    "baseline_id",
    "severity",
    "missing",
    "critical_non_compliant",
    "security_non_compliant",
    "other_non_compliant",
    "failed",
    "pending_reboot",
    "reboot_why",
    "reboot_since",
    "last_report_at",
    "last_operation",
    "last_scan_at",
    "last_install_at",
    "last_seen_at",
    "agent_version",
];

fn nodes_csv_text(nodes: &[FleetNode]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let time = |v: &Option<jiff::Timestamp>| v.map(|t| t.to_string()).unwrap_or_default();
    for node in nodes {
        let cells = [
            node.id.clone(),
            node.hostname.clone(),
            node.operating_system.clone(),
            text(&node.patch_group),
            node.state.clone(),
            text(&node.baseline_id),
            text(&node.severity),
            node.missing.to_string(),
            node.critical_non_compliant.to_string(),
            node.security_non_compliant.to_string(),
            node.other_non_compliant.to_string(),
            node.failed.to_string(),
            node.pending_reboot.to_string(),
            text(&node.reboot_why),
            time(&node.reboot_since),
            time(&node.last_report_at),
            text(&node.last_operation),
            time(&node.last_scan_at),
            time(&node.last_install_at),
            time(&node.last_seen_at),
            node.agent_version.clone(),
        ];
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            crate::api::compliance::csv_field(&mut out, cell);
        }
        out.push_str("\r\n");
    }
    out
}

async fn export_nodes(state: &AppState, params: &Params) -> Result<Vec<FleetNode>, ConsoleError> {
    let filter = filter_of(params)?;
    Ok(fleet::all_nodes(state, &filter)
        .await?
        .iter()
        .map(fleet::node_to_wire)
        .collect())
}

pub(crate) async fn nodes_csv(
    State(state): State<AppState>,
    _viewer: Viewer,
    params: Params,
) -> Result<Response, ConsoleError> {
    let nodes = export_nodes(&state, &params).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"nodes.csv\"",
            ),
        ],
        nodes_csv_text(&nodes),
    )
        .into_response())
}

pub(crate) async fn nodes_json(
    State(state): State<AppState>,
    _viewer: Viewer,
    params: Params,
) -> Result<Response, ConsoleError> {
    let nodes = export_nodes(&state, &params).await?;
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"nodes.json\"",
        )],
        axum::Json(nodes),
    )
        .into_response())
}

// --- One node -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/node.html")]
struct NodePage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    node: NodeRecord,
    report: Option<ReportRecord>,
    items: Vec<PatchJson>,
    history: Vec<ReportRecord>,
    operations: Vec<OperationRow>,
    next_window: Option<NextWindow>,
    /// Why the node waits for a reboot, from its latest report.
    reboot_why: Option<String>,
}

/// What the next window that patches a node would install there.
struct NextWindow {
    name: String,
    opens: String,
    baseline: String,
    /// The patches it would install (the preview's `Missing`), or why there is no preview.
    patches: Vec<PatchJson>,
    error: Option<String>,
}

/// One command a node was given, as the node page lists it.
struct OperationRow {
    created: String,
    operation: String,
    state: String,
    deliveries: u32,
    finished: String,
    outcome: String,
}

/// The wire spelling of a serde enum (`Succeeded`, `Install`).
fn spelled<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(ToOwned::to_owned))
        .unwrap_or_default()
}

pub(crate) async fn node(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    let node = state
        .store()
        .node(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("node", &id))?;
    let (report, items) = match node.latest_report_id {
        None => (None, Vec::new()),
        Some(report_id) => {
            let report = state.store().report(report_id).await?;
            let items: Vec<PatchJson> = match state.store().report_items(report_id).await? {
                Some(text) => stored_json("report items", &text)?,
                None => Vec::new(),
            };
            (report, items)
        }
    };
    let history = state.store().node_history(&id, None, None, 30).await?;
    let mut operations = Vec::new();
    for record in state.store().node_commands(&id, 30).await? {
        let info = crate::api::nodes::command_to_wire(&record)?;
        let outcome = info.result.as_ref().map_or_else(String::new, |r| {
            let mut text = spelled(&r.outcome);
            if let Some(message) = &r.message {
                text.push_str(": ");
                text.push_str(message);
            }
            text
        });
        operations.push(OperationRow {
            created: info.created_at.when(),
            operation: info
                .patch
                .as_ref()
                .map_or_else(|| spelled(&info.kind), |p| p.operation.as_str().to_owned()),
            state: spelled(&info.state),
            deliveries: info.deliveries,
            finished: info.completed_at.map(|t| t.when()).unwrap_or_default(),
            outcome,
        });
    }
    let next_window = match crate::service::preview::next_window_for(&state, &node).await? {
        None => None,
        Some((name, opens)) => {
            let request = pw_api::server::agent::PreviewRequest {
                baseline_id: None,
                node_ids: vec![node.id.clone()],
                targets: Vec::new(),
                at: Some(opens),
                include_not_applicable: false,
                states: Vec::new(),
                limit: None,
                after: None,
            };
            let preview = crate::service::preview::preview(&state, &request).await?;
            let found = preview.nodes.into_iter().next();
            let (baseline, patches, error) = match found {
                Some(p) => (
                    p.baseline_id.unwrap_or_default(),
                    p.evaluation.map_or_else(Vec::new, |e| {
                        e.patches
                            .into_iter()
                            .filter(|patch| patch.state == "Missing")
                            .collect()
                    }),
                    p.error,
                ),
                None => (String::new(), Vec::new(), None),
            };
            Some(NextWindow {
                name,
                opens: opens.when(),
                baseline,
                patches,
                error,
            })
        }
    };
    render(&NodePage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        reboot_why: crate::service::compliance::reboot_why(&items, &[]),
        next_window,
        node,
        report,
        items,
        history,
        operations,
    })
}

// --- One CVE or advisory ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/reference.html")]
struct ReferencePage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    id: String,
    id_query: String,
    state: Option<String>,
    report: Option<pw_api::server::fleet::ReferenceReport>,
    total_rows: usize,
    next: Option<String>,
}

/// Rows of a CVE or advisory page.
const REFERENCE_PAGE: usize = 200;

fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .0
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

pub(crate) async fn reference(
    State(state): State<AppState>,
    viewer: Viewer,
    params: Params,
) -> Result<Html<String>, ConsoleError> {
    let id = param(&params, "id").unwrap_or("").to_owned();
    let only = param(&params, "state");
    let from = match param(&params, "from") {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::field("from", "must be a row number"))?,
    };
    let mut report = if id.is_empty() {
        None
    } else {
        Some(fleet::reference(&state, &id, only).await?)
    };
    // The page shows REFERENCE_PAGE rows at a time; the counts and the CSV cover all.
    let mut next = None;
    let mut total_rows = 0;
    if let Some(report) = &mut report {
        total_rows = report.rows.len();
        let end = (from + REFERENCE_PAGE).min(total_rows);
        report.rows = report.rows.drain(from.min(end)..end).collect();
        if end < total_rows {
            let state_query =
                only.map_or_else(String::new, |s| format!("&state={}", url_encode(s)));
            next = Some(format!(
                "/patches?id={}{state_query}&from={end}",
                url_encode(&id)
            ));
        }
    }
    render(&ReferencePage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        id_query: url_encode(&id),
        id,
        state: only.map(ToOwned::to_owned),
        report,
        total_rows,
        next,
    })
}

pub(crate) async fn reference_csv(
    State(state): State<AppState>,
    _viewer: Viewer,
    params: Params,
) -> Result<Response, ConsoleError> {
    let id = param(&params, "id").unwrap_or("");
    let report = fleet::reference(&state, id, param(&params, "state")).await?;
    let mut out = String::from(
        "reference,node_id,hostname,operating_system,patch_group,package,state,reason,approved_at\r\n",
    );
    for row in &report.rows {
        let approved = row.approved_at.map(|t| t.to_string()).unwrap_or_default();
        let cells = [
            report.reference.as_str(),
            row.node_id.as_str(),
            row.hostname.as_str(),
            row.operating_system.as_str(),
            row.patch_group.as_deref().unwrap_or(""),
            row.package.as_str(),
            row.state.as_str(),
            row.reason.as_str(),
            &approved,
        ];
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            crate::api::compliance::csv_field(&mut out, cell);
        }
        out.push_str("\r\n");
    }
    let disposition = format!(
        "attachment; filename=\"{}.csv\"",
        report
            .reference
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        out,
    )
        .into_response())
}

// --- Windows and executions ---------------------------------------------------------------------

struct WindowRow {
    id: String,
    name: String,
    schedule: String,
    offset: Option<u8>,
    zone: String,
    duration: u8,
    cutoff: u8,
    enabled: bool,
    /// (opening, last task start), UTC.
    openings: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/windows.html")]
struct WindowsPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    windows: Vec<WindowRow>,
    can_act: bool,
    csrf: String,
}

fn minute(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M").to_string()
}

pub(crate) async fn windows(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Html<String>, ConsoleError> {
    let now = state.now();
    let mut rows = Vec::new();
    for record in state.store().windows().await? {
        let spec: pw_api::server::windows::WindowSpec = stored_json("window", &record.spec_json)?;
        let openings = if record.enabled {
            crate::service::windows::scheduled_window(&spec, record.schedule_anchor_at)?
                .occurrences_after(now)
                .take(5)
                .map(|o| {
                    (
                        minute(o.start().timestamp()),
                        minute(o.last_task_start().timestamp()),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        rows.push(WindowRow {
            id: record.id.clone(),
            name: spec.name.clone(),
            schedule: spec.schedule.clone(),
            offset: spec.schedule_offset,
            zone: spec
                .schedule_timezone
                .clone()
                .unwrap_or_else(|| "UTC".to_owned()),
            duration: spec.duration_hours,
            cutoff: spec.cutoff_hours,
            enabled: record.enabled,
            openings,
        });
    }
    render(&WindowsPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        windows: rows,
        can_act: viewer.can_act(),
        csrf: viewer.csrf.clone(),
    })
}

/// The checks of every console action: the role, then the form's CSRF token.
fn action(viewer: &Viewer, body: &[u8]) -> Result<(), ConsoleError> {
    viewer.require(pw_api::server::tokens::Role::Operator)?;
    let pairs = form(body)?;
    viewer.check_csrf(field(&pairs, "csrf"))
}

pub(crate) async fn run_window(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    action(&viewer, &body)?;
    let record = crate::service::windows::load(&state, &id).await?;
    let execution =
        crate::scheduler::run_now(&state, &record, &viewer.actor(), state.now()).await?;
    Ok(Redirect::to(&format!("/executions/{execution}")).into_response())
}

async fn set_enabled(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    body: &[u8],
    enabled: bool,
) -> Result<Response, ConsoleError> {
    action(viewer, body)?;
    crate::service::windows::set_enabled(state, &viewer.actor(), id, enabled).await?;
    Ok(Redirect::to("/windows").into_response())
}

pub(crate) async fn enable_window(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    set_enabled(&state, &viewer, &id, &body, true).await
}

pub(crate) async fn disable_window(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    set_enabled(&state, &viewer, &id, &body, false).await
}

struct ExecutionRow {
    id: String,
    window: String,
    status: &'static str,
    scheduled_at: String,
    started_at: String,
    ended_at: String,
    details: String,
}

#[derive(Template)]
#[template(path = "console/executions.html")]
struct ExecutionsPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    window_name: Option<String>,
    executions: Vec<ExecutionRow>,
}

async fn window_names(
    state: &AppState,
) -> Result<std::collections::HashMap<String, String>, ConsoleError> {
    Ok(state
        .store()
        .windows()
        .await?
        .into_iter()
        .map(|w| (w.id, w.name))
        .collect())
}

pub(crate) async fn executions(
    State(state): State<AppState>,
    viewer: Viewer,
    params: Params,
) -> Result<Html<String>, ConsoleError> {
    let window = param(&params, "window");
    let names = window_names(&state).await?;
    let records = state.store().executions(window, 200).await?;
    let time = |t: Option<jiff::Timestamp>| t.map(minute).unwrap_or_default();
    render(&ExecutionsPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        window_name: window.map(|w| names.get(w).cloned().unwrap_or_else(|| w.to_owned())),
        executions: records
            .iter()
            .map(|r| ExecutionRow {
                id: r.id.clone(),
                window: names.get(&r.window_id).cloned().unwrap_or_default(),
                status: pw_api::server::windows::ExecutionStatus::parse(&r.status).as_str(),
                scheduled_at: minute(r.scheduled_at),
                started_at: time(r.started_at),
                ended_at: time(r.ended_at),
                details: r.status_details.clone().unwrap_or_default(),
            })
            .collect(),
    })
}

struct InvocationRow {
    node_id: String,
    hostname: String,
    status: &'static str,
    details: String,
    started: String,
    ended: String,
}

struct TaskView {
    priority: u32,
    operation: &'static str,
    status: &'static str,
    targets: u64,
    running: u64,
    concurrency: u64,
    errors: u64,
    error_threshold: u64,
    by_status: Vec<(&'static str, u64)>,
    invocations: Vec<InvocationRow>,
}

#[derive(Template)]
#[template(path = "console/progress.html")]
struct ProgressFragment {
    execution: pw_api::server::windows::Execution,
    finished: bool,
    tasks: Vec<TaskView>,
    can_act: bool,
    csrf: String,
}

#[derive(Template)]
#[template(path = "console/execution.html")]
struct ExecutionPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    window_name: String,
    progress: String,
}

async fn progress_of(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
) -> Result<ProgressFragment, ConsoleError> {
    use pw_api::server::windows::ExecutionStatus;
    let execution = crate::service::executions::load(state, id).await?;
    let hostnames: std::collections::HashMap<String, String> = state
        .store()
        .nodes()
        .await?
        .into_iter()
        .map(|n| (n.id, n.hostname))
        .collect();
    let time = |t: Option<jiff::Timestamp>| t.map(minute).unwrap_or_default();
    let tasks = execution
        .tasks
        .iter()
        .map(|task| {
            let statuses = [
                ExecutionStatus::Pending,
                ExecutionStatus::InProgress,
                ExecutionStatus::Success,
                ExecutionStatus::Failed,
                ExecutionStatus::TimedOut,
                ExecutionStatus::Cancelling,
                ExecutionStatus::Cancelled,
            ];
            let count = |status: ExecutionStatus| {
                task.invocations
                    .iter()
                    .filter(|i| i.status == status)
                    .count() as u64
            };
            TaskView {
                priority: task.priority,
                operation: task.operation.as_str(),
                status: task.status.as_str(),
                targets: task.targets,
                running: count(ExecutionStatus::InProgress),
                concurrency: task.concurrency,
                errors: count(ExecutionStatus::Failed) + count(ExecutionStatus::TimedOut),
                error_threshold: task.error_threshold,
                by_status: statuses
                    .iter()
                    .map(|s| (s.as_str(), count(*s)))
                    .filter(|(_, n)| *n > 0)
                    .collect(),
                invocations: task
                    .invocations
                    .iter()
                    .map(|i| InvocationRow {
                        node_id: i.node_id.clone(),
                        hostname: hostnames
                            .get(&i.node_id)
                            .cloned()
                            .unwrap_or_else(|| i.node_id.clone()),
                        status: i.status.as_str(),
                        details: i.status_details.clone().unwrap_or_default(),
                        started: time(i.started_at),
                        ended: time(i.ended_at),
                    })
                    .collect(),
            }
        })
        .collect();
    let finished = crate::runner::is_final_status(execution.status.as_str());
    Ok(ProgressFragment {
        execution,
        finished,
        tasks,
        can_act: viewer.can_act(),
        csrf: viewer.csrf.clone(),
    })
}

pub(crate) async fn execution(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    let progress = progress_of(&state, &viewer, &id).await?;
    let names = window_names(&state).await?;
    let window_name = names
        .get(&progress.execution.window_id)
        .cloned()
        .unwrap_or_default();
    render(&ExecutionPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        window_name,
        progress: render(&progress)?.0,
    })
}

/// The live part of an execution's page, fetched by htmx until the execution ends.
pub(crate) async fn progress(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    render(&progress_of(&state, &viewer, &id).await?)
}

pub(crate) async fn cancel_execution(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    action(&viewer, &body)?;
    crate::service::executions::cancel(&state, &viewer.actor(), &id).await?;
    Ok(Redirect::to(&format!("/executions/{id}")).into_response())
}

// --- Audit log ----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    events: Vec<pw_store::AuditEvent>,
    older: Option<i64>,
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    viewer: Viewer,
    params: Params,
) -> Result<Html<String>, ConsoleError> {
    let before = match param(&params, "before") {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| ApiError::field("before", "must be an event id"))?,
        ),
    };
    let page = 200;
    let mut events = state.store().audit_events_before(before, page + 1).await?;
    let more = events.len() > usize::try_from(page).unwrap_or(usize::MAX);
    events.truncate(usize::try_from(page).unwrap_or(usize::MAX));
    let older = if more {
        events.last().map(|e| e.id)
    } else {
        None
    };
    render(&AuditPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        events,
        older,
    })
}

// --- Baselines and patch groups ------------------------------------------------------------------

struct ExceptionRow {
    entry: String,
    owner: String,
    reason: String,
    expires: String,
    expired: bool,
}

struct ExceptionList {
    title: &'static str,
    entries: Vec<ExceptionRow>,
}

struct BaselineView {
    id: String,
    name: String,
    os: &'static str,
    builtin: bool,
    description: Option<String>,
    used_by: Vec<String>,
    rules: Vec<String>,
    lists: Vec<ExceptionList>,
    rejected_action: &'static str,
    toml: String,
}

#[derive(Template)]
#[template(path = "console/baselines.html")]
struct BaselinesPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    baselines: Vec<BaselineView>,
}

/// A rule in words: its filters, when it approves, at which level.
fn rule_text(rule: &pw_core::baseline::Rule) -> String {
    use pw_core::baseline::{Approval, RelativeDate};
    let filters: Vec<String> = rule
        .filters
        .filters
        .iter()
        .map(|f| format!("{} in {}", f.key.as_str(), f.values.join(", ")))
        .collect();
    let when = match rule.approval {
        Approval::AfterDays(days) => format!("approved {days} days after release"),
        Approval::UntilDate(date) => format!("approved when released up to {date}"),
        Approval::UntilRelative(RelativeDate::FirstOfMonth { months_ago: 0 }) => {
            "approved when released up to the first of this month (moves by itself)".to_owned()
        }
        Approval::UntilRelative(RelativeDate::FirstOfMonth { months_ago }) => format!(
            "approved when released up to the first of the month {months_ago} month(s) ago (moves by itself)"
        ),
        Approval::Immediate => "approved at once".to_owned(),
    };
    let mut text = format!(
        "{}: {when}; missing reported as {}",
        if filters.is_empty() {
            "every patch".to_owned()
        } else {
            filters.join(" and ")
        },
        rule.compliance_level.as_str()
    );
    if rule.enable_non_security {
        text.push_str("; non-security updates included");
    }
    text
}

fn exception_rows(
    list: &[pw_core::baseline::Exception],
    today: jiff::civil::Date,
) -> Vec<ExceptionRow> {
    list.iter()
        .map(|e| ExceptionRow {
            entry: e.entry.clone(),
            owner: e.owner.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            expires: e.expires.map(|d| d.to_string()).unwrap_or_default(),
            expired: e.expires.is_some_and(|d| d < today),
        })
        .collect()
}

pub(crate) async fn baselines(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Html<String>, ConsoleError> {
    use pw_core::baseline::{OperatingSystem, default_baseline_name};
    let registrations = crate::resolve::Registrations::load(state.store()).await?;
    let today = state.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let systems: std::collections::HashSet<String> = state
        .store()
        .nodes()
        .await?
        .into_iter()
        .map(|n| n.operating_system)
        .collect();
    let mut ids: Vec<(String, bool)> = state
        .store()
        .baselines()
        .await?
        .into_iter()
        .map(|b| (b.id, false))
        .collect();
    ids.extend(
        OperatingSystem::ALL
            .iter()
            .map(|os| (default_baseline_name(*os).to_owned(), true)),
    );
    let mut views = Vec::new();
    for (id, builtin) in ids {
        let found = crate::service::baselines::get(&state, &id).await?;
        let baseline = &found.baseline;
        let mut used_by: Vec<String> = registrations
            .groups_of(&id)
            .into_iter()
            .map(|g| format!("patch group {g}"))
            .collect();
        let os = baseline.operating_system;
        if registrations.default_for(os) == id {
            used_by.push(format!("default for {}", os.as_str()));
        }
        // A built-in baseline is shown where it matters: registered for a patch group, or the
        // default of a system the fleet runs (there is one per system).
        let in_fleet = systems.contains(os.as_str());
        if builtin && registrations.groups_of(&id).is_empty() && !in_fleet {
            continue;
        }
        views.push(BaselineView {
            name: baseline.name.clone(),
            os: baseline.operating_system.as_str(),
            builtin,
            description: baseline.description.clone(),
            used_by,
            rules: baseline.rules.iter().map(rule_text).collect(),
            lists: vec![
                ExceptionList {
                    title: "Approved patches",
                    entries: exception_rows(&baseline.approved, today),
                },
                ExceptionList {
                    title: "Rejected patches",
                    entries: exception_rows(&baseline.rejected, today),
                },
            ],
            rejected_action: baseline.rejected_action.as_str(),
            toml: crate::resolve::baseline_text(state.store(), &id)
                .await?
                .unwrap_or_default(),
            id,
        });
    }
    render(&BaselinesPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        baselines: views,
    })
}

// --- Trends -------------------------------------------------------------------------------------

struct TrendRow {
    name: Option<String>,
    chart: String,
    first: String,
    last: String,
}

struct DebtRow {
    node_id: String,
    hostname: String,
    patch_group: Option<String>,
    critical: i64,
    since: String,
    days: i64,
}

#[derive(Template)]
#[template(path = "console/trends.html")]
struct TrendsPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    days: i64,
    critical_days: i64,
    groups: Vec<TrendRow>,
    debt: Vec<DebtRow>,
    latency: Vec<fleet::Latency>,
}

/// A line of percentages over `days` days, drawn on the server; a missing day is a gap.
fn trend_chart(points: &[(i64, f64)], first_day: i64, days: i64) -> String {
    // 3 px of margin on every side, so the dots at the edges show whole.
    let (width, height) = (354.0_f64, 42.0_f64);
    let x = |day: i64| 3.0 + width * ((day - first_day) as f64) / ((days - 1).max(1) as f64);
    let y = |percent: f64| 3.0 + height - height * percent / 100.0;
    let mut svg = format!(
        "<svg class=\"trend\" width=\"360\" height=\"48\" viewBox=\"0 0 360 48\" role=\"img\" aria-label=\"percent compliant per day\"><line x1=\"0\" y1=\"{:.1}\" x2=\"360\" y2=\"{:.1}\"/>",
        y(100.0),
        y(100.0)
    );
    let mut run: Vec<String> = Vec::new();
    let mut previous: Option<i64> = None;
    let flush = |run: &mut Vec<String>, svg: &mut String| {
        if !run.is_empty() {
            svg.push_str(&format!("<polyline points=\"{}\"/>", run.join(" ")));
            run.clear();
        }
    };
    for (day, percent) in points {
        if previous.is_some_and(|p| *day != p + 1) {
            flush(&mut run, &mut svg);
        }
        run.push(format!("{:.1},{:.1}", x(*day), y(*percent)));
        previous = Some(*day);
    }
    flush(&mut run, &mut svg);
    // A dot per day, so a day between gaps (or the only day) shows too.
    for (day, percent) in points {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\"><title>{percent:.0}%</title></circle>",
            x(*day),
            y(*percent)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn number_param(
    params: &Params,
    key: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConsoleError> {
    match param(params, key) {
        None => Ok(default),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ConsoleError::Api(ApiError::field(
                    key,
                    format!("must be {} to {}", range.start(), range.end()),
                ))
            }),
    }
}

pub(crate) async fn trends(
    State(state): State<AppState>,
    viewer: Viewer,
    params: Params,
) -> Result<Html<String>, ConsoleError> {
    let days = number_param(&params, "days", 30, 2..=366)?;
    let critical_days = number_param(&params, "critical_days", 7, 0..=3650)?;
    let now = state.now();
    let today = now.as_second().div_euclid(86_400);
    let first_day = today - days + 1;
    let since = jiff::Timestamp::from_second(first_day * 86_400)
        .map_err(|e| ConsoleError::Api(ApiError::internal(e)))?;
    let mut by_group: std::collections::BTreeMap<Option<String>, Vec<(i64, f64)>> =
        std::collections::BTreeMap::new();
    for point in state.store().compliance_trend(since).await? {
        let percent = 100.0 * point.compliant as f64 / point.reported.max(1) as f64;
        by_group
            .entry(point.patch_group)
            .or_default()
            .push((point.day, percent));
    }
    let groups = by_group
        .into_iter()
        .map(|(name, points)| TrendRow {
            chart: trend_chart(&points, first_day, days),
            first: points
                .first()
                .map_or_else(String::new, |p| format!("{:.0}%", p.1)),
            last: points
                .last()
                .map_or_else(String::new, |p| format!("{:.0}%", p.1)),
            name,
        })
        .collect();
    let debt = state
        .store()
        .critical_debt()
        .await?
        .into_iter()
        .map(|d| {
            let age = now.duration_since(d.since).as_hours().div_euclid(24);
            (d, age)
        })
        .filter(|(_, age)| *age >= critical_days)
        .map(|(d, age)| DebtRow {
            node_id: d.node_id,
            hostname: d.hostname,
            patch_group: d.patch_group,
            critical: d.critical,
            since: d.since.when(),
            days: age,
        })
        .collect();
    let latency = fleet::patch_latency(&state, since).await?;
    render(&TrendsPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        days,
        critical_days,
        groups,
        debt,
        latency,
    })
}

// --- Run a window: the preview first ----------------------------------------------------------

struct RunRow {
    node_id: String,
    hostname: String,
    baseline: Option<String>,
    install: Option<usize>,
    note: String,
}

struct RunTask {
    priority: u32,
    operation: &'static str,
    nodes: usize,
    max_concurrency: String,
    max_errors: String,
    rows: Vec<RunRow>,
    more: usize,
}

#[derive(Template)]
#[template(path = "console/run.html")]
struct RunPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    id: String,
    name: String,
    tasks: Vec<RunTask>,
    can_act: bool,
    csrf: String,
}

/// The most nodes per task the run preview evaluates.
const RUN_PREVIEW_NODES: usize = 200;

pub(crate) async fn run_preview(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    use pw_api::server::windows::TaskOperation;
    let record = crate::service::windows::load(&state, &id).await?;
    let nodes = state.store().nodes().await?;
    let mut tasks = Vec::new();
    for (task, reached) in
        crate::service::preview::window_task_nodes(&state, &record, &nodes).await?
    {
        let shown: Vec<&NodeRecord> = reached.iter().take(RUN_PREVIEW_NODES).collect();
        let previews = if task.operation == TaskOperation::Install && !shown.is_empty() {
            let request = pw_api::server::agent::PreviewRequest {
                baseline_id: task.baseline_override.clone(),
                node_ids: shown.iter().map(|n| n.id.clone()).collect(),
                targets: Vec::new(),
                at: None,
                include_not_applicable: false,
                states: Vec::new(),
                limit: None,
                after: None,
            };
            crate::service::preview::preview(&state, &request)
                .await?
                .nodes
        } else {
            Vec::new()
        };
        let rows = shown
            .iter()
            .map(|node| {
                let preview = previews.iter().find(|p| p.node_id == node.id);
                RunRow {
                    node_id: node.id.clone(),
                    hostname: node.hostname.clone(),
                    baseline: preview.and_then(|p| p.baseline_id.clone()),
                    install: preview.and_then(|p| {
                        p.evaluation.as_ref().map(|e| {
                            e.patches
                                .iter()
                                .filter(|patch| patch.state == "Missing")
                                .count()
                        })
                    }),
                    note: match (task.operation, preview) {
                        (TaskOperation::Scan, _) => "scan only: nothing is installed".to_owned(),
                        (_, Some(p)) => p.error.clone().unwrap_or_default(),
                        (_, None) => String::new(),
                    },
                }
            })
            .collect();
        tasks.push(RunTask {
            priority: task.priority,
            operation: task.operation.as_str(),
            nodes: reached.len(),
            max_concurrency: task.max_concurrency.clone(),
            max_errors: task.max_errors.clone(),
            more: reached.len().saturating_sub(RUN_PREVIEW_NODES),
            rows,
        });
    }
    render(&RunPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        id,
        name: record.name.clone(),
        tasks,
        can_act: viewer.can_act(),
        csrf: viewer.csrf.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trend_line_breaks_at_days_without_reports() {
        let chart = trend_chart(&[(10, 50.0), (11, 100.0), (13, 0.0)], 10, 4);
        assert_eq!(chart.matches("<polyline").count(), 2, "{chart}");
        assert_eq!(chart.matches("<circle").count(), 3, "{chart}");
        // 100% is at the top margin, 0% at the bottom one.
        assert!(chart.contains("cy=\"3.0\""), "{chart}");
        assert!(chart.contains("cy=\"45.0\""), "{chart}");
    }

    #[test]
    fn ages_use_the_largest_whole_unit() {
        let now: jiff::Timestamp = "2025-03-10T12:00:00Z".parse().unwrap();
        let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap().age(&now);
        assert_eq!(at("2025-03-10T11:59:20Z"), "40 s");
        assert_eq!(at("2025-03-10T11:55:00Z"), "5 min");
        assert_eq!(at("2025-03-10T09:00:00Z"), "3 h");
        assert_eq!(at("2025-03-08T12:00:00Z"), "2 d");
    }
}

// --- Editing a baseline -------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/baseline_edit.html")]
struct BaselineEditPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    can_act: bool,
    id: String,
    name: String,
    /// The text in the editor: the stored definition, or the draft being previewed.
    draft: String,
    /// What is wrong with the draft, when it cannot be read.
    error: Option<String>,
    impact: Option<pw_api::server::baselines::BaselineImpact>,
    /// Nodes of the impact with at least one change.
    changed_nodes: usize,
}

async fn edit_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    draft: Option<String>,
) -> Result<Response, ConsoleError> {
    let found = crate::service::baselines::get(state, id).await?;
    if found.predefined() {
        return Err(ApiError::conflict(format!(
            "`{id}` is a built-in baseline and cannot change; copy it into a baseline of your own"
        ))
        .into());
    }
    let stored = crate::resolve::baseline_text(state.store(), id)
        .await?
        .unwrap_or_default();
    let (mut error, mut impact) = (None, None);
    if let Some(text) = &draft {
        match pw_api::baseline::parse_toml(text) {
            Err(problem) => {
                // Shown above the editor, with the draft kept (a 200: error statuses get the
                // API's JSON body).
                error = Some(crate::error::chain(&problem));
            }
            Ok(loaded) => {
                impact = Some(
                    crate::service::preview::baseline_impact(
                        state,
                        id,
                        loaded.baseline,
                        loaded.warnings,
                    )
                    .await?,
                );
            }
        }
    }
    let changed_nodes = impact.as_ref().map_or(0, |i| {
        i.nodes.iter().filter(|n| !n.changes.is_empty()).count()
    });
    let page = render(&BaselineEditPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(viewer),
        can_act: viewer.can_act(),
        id: id.to_owned(),
        name: found.baseline.name.clone(),
        draft: draft.unwrap_or(stored),
        error,
        impact,
        changed_nodes,
    })?;
    Ok(page.into_response())
}

pub(crate) async fn edit_baseline(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    edit_page(&state, &viewer, &id, None).await
}

/// `step=preview` shows the diff and each node's changes; `step=save` (operator) stores the
/// draft exactly as previewed.
pub(crate) async fn edit_baseline_step(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let pairs = form(&body)?;
    viewer.check_csrf(field(&pairs, "csrf"))?;
    let draft = pairs
        .iter()
        .find(|(k, _)| k == "toml")
        .map(|(_, v)| v.replace("\r\n", "\n"))
        .unwrap_or_default();
    match field(&pairs, "step") {
        Some("save") => {
            viewer.require(pw_api::server::tokens::Role::Operator)?;
            let loaded = pw_api::baseline::parse_toml(&draft).map_err(|problem| {
                ApiError::bad_request(format!(
                    "the draft is not a valid baseline: {}",
                    crate::error::chain(&problem)
                ))
            })?;
            crate::service::baselines::update(&state, &viewer.actor(), &id, &loaded.baseline)
                .await?;
            Ok(Redirect::to(&format!("/baselines#{}", url_encode(&id))).into_response())
        }
        _ => edit_page(&state, &viewer, &id, Some(draft)).await,
    }
}

// --- Promotion ----------------------------------------------------------------------------------

/// One promotion policy as the page shows it.
struct PolicyView {
    id: String,
    from_name: String,
    to_name: String,
    patch_group: Option<String>,
    reject_failures: bool,
    approves: bool,
    approval: String,
    last_run_at: Option<jiff::Timestamp>,
    last_error: Option<String>,
    pending: Vec<pw_api::server::promotion::PendingApproval>,
    nodes_read: u64,
    outlook_error: Option<String>,
    changes: Vec<ChangeView>,
}

/// A change a policy made, with links to its evidence.
struct ChangeView {
    at: jiff::Timestamp,
    list: String,
    entry: String,
    reason: String,
    /// (link to the node list filtered by hostname, hostname).
    nodes: Vec<(String, String)>,
    reports: Vec<i64>,
}

#[derive(Template)]
#[template(path = "console/promotions.html")]
struct PromotionsPage<'a> {
    css: &'a str,
    htmx: &'a str,
    user: Option<UserView>,
    can_act: bool,
    now: jiff::Timestamp,
    policies: Vec<PolicyView>,
}

pub(crate) async fn promotions(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Html<String>, ConsoleError> {
    use crate::service::promotions as service;
    let name_of = |id: &str| {
        let state = state.clone();
        let id = id.to_owned();
        async move {
            crate::service::baselines::get(&state, &id)
                .await
                .map_or(id, |found| found.baseline.name)
        }
    };
    let mut policies = Vec::new();
    for policy in service::list(&state).await? {
        let (pending, nodes_read, outlook_error) = match service::outlook(&state, &policy.id).await
        {
            Ok(outlook) => (outlook.pending, outlook.nodes_read, None),
            Err(error) => (Vec::new(), 0, Some(error.message)),
        };
        let approval = match &policy.spec.approve_when_healthy {
            None => "no".to_owned(),
            Some(h) => {
                let mut text = format!("on {} node(s)", h.nodes.unwrap_or(1));
                if let Some(percent) = h.percent {
                    text.push_str(&format!(" and {percent}% of the staging nodes"));
                }
                if let Some(soak) = &h.soak {
                    text.push_str(&format!(", each for {soak}"));
                }
                text
            }
        };
        policies.push(PolicyView {
            from_name: name_of(&policy.from_baseline_id).await,
            to_name: name_of(&policy.to_baseline_id).await,
            id: policy.id,
            patch_group: policy.spec.patch_group.clone(),
            reject_failures: policy.spec.reject_failures,
            approves: policy.spec.approve_when_healthy.is_some(),
            approval,
            last_run_at: policy.last_run_at,
            last_error: policy.last_error,
            pending,
            nodes_read,
            outlook_error,
            changes: policy
                .changes
                .into_iter()
                .map(|c| ChangeView {
                    nodes: c
                        .evidence
                        .nodes
                        .iter()
                        .map(|n| (format!("/nodes?hostname={}", url_encode(n)), n.clone()))
                        .collect(),
                    reports: c.evidence.reports,
                    at: c.at,
                    list: c.list,
                    entry: c.entry,
                    reason: c.reason,
                })
                .collect(),
        });
    }
    render(&PromotionsPage {
        css: CSS_PATH,
        htmx: HTMX_PATH,
        user: user(&viewer),
        can_act: viewer.can_act(),
        now: state.now(),
        policies,
    })
}

pub(crate) async fn run_promotion(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    action(&viewer, &body)?;
    crate::service::promotions::run(&state, &id, false).await?;
    Ok(Redirect::to(&format!("/promotions#{}", url_encode(&id))).into_response())
}
