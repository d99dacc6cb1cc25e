//! The web console's handlers: sign-in, sessions and CSRF, the headers every page carries,
//! counts that equal the lists they link to, nodes that never reported, escaping, exports.

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use http_body_util::BodyExt as _;
use pw_api::server::tokens::Role;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::TestServer;

/// A response as the browser sees it.
struct Page {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(ToOwned::to_owned)
    }

    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The rows of the first table body on the page.
    fn rows(&self) -> usize {
        let Some(start) = self.body.find("<tbody>") else {
            return 0;
        };
        let end = self.body[start..].find("</tbody>").unwrap() + start;
        self.body[start..end].matches("<tr").count()
    }
}

async fn browse(
    server: &TestServer,
    method: &str,
    path: &str,
    cookies: &str,
    form: Option<&str>,
) -> Page {
    let mut request = Request::builder().method(method).uri(path);
    if !cookies.is_empty() {
        request = request.header("cookie", cookies);
    }
    if form.is_some() {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    let request = request
        .body(Body::from(form.unwrap_or("").to_owned()))
        .unwrap();
    let response = pw_server::router(server.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The `name=value` part of a Set-Cookie header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn form_value(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

/// Signs in with `token`; returns the session cookie pair.
async fn sign_in(server: &TestServer, token: &str) -> String {
    let login = browse(server, "GET", "/login", "", None).await;
    assert_eq!(login.status, 200);
    let login_cookie = pair(&login.cookie("pw_login").unwrap());
    let form_token = form_value(&login.body, "form");
    let signed = browse(
        server,
        "POST",
        "/login",
        &login_cookie,
        Some(&format!("form={form_token}&next=%2Fnodes&token={token}")),
    )
    .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.location(), "/nodes");
    let session = signed.cookie("pw_session").unwrap();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    pair(&session)
}

async fn upload(server: &TestServer, credential: &str, body: Value) {
    let (status, value) = server
        .call(
            "POST",
            "/api/v1/agent/reports",
            Some(credential),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{value}");
}

#[tokio::test]
async fn sign_in_sessions_csrf_and_headers() {
    let server = TestServer::sqlite().await;
    // Not signed in: every page sends the browser to the sign-in form, and says where from.
    let page = browse(&server, "GET", "/nodes?state=stale", "", None).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), "/login?next=%2Fnodes%3Fstate%3Dstale");
    let login = browse(&server, "GET", "/login", "", None).await;
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        !login.body.contains("<script>"),
        "no inline script: {}",
        login.body
    );

    // A form that did not come from this browser's sign-in page is refused (login CSRF), and
    // a wrong token is refused without a session.
    let admin = server.admin.clone();
    let forged = browse(
        &server,
        "POST",
        "/login",
        "pw_login=guess",
        Some(&format!("form=other&token={admin}")),
    )
    .await;
    assert_eq!(forged.status, 403);
    assert!(forged.cookie("pw_session").is_none());
    let login_cookie = pair(&login.cookie("pw_login").unwrap());
    let form_token = form_value(&login.body, "form");
    let wrong = browse(
        &server,
        "POST",
        "/login",
        &login_cookie,
        Some(&format!("form={form_token}&token=pwt_wrong")),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.cookie("pw_session").is_none());
    // A `next` that leaves the server is not followed.
    let elsewhere = browse(
        &server,
        "POST",
        "/login",
        &login_cookie,
        Some(&format!(
            "form={form_token}&next=%2F%2Fevil.example&token={admin}"
        )),
    )
    .await;
    assert_eq!(elsewhere.location(), "/");

    // Forms are small: a large body is refused before anything reads it.
    let big = format!("form={form_token}&token={}", "x".repeat(100_000));
    let refused = browse(&server, "POST", "/login", &login_cookie, Some(&big)).await;
    assert_eq!(refused.status, 413);

    let session = sign_in(&server, &admin).await;
    let overview = browse(&server, "GET", "/", &session, None).await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(overview.body.contains("Nodes by state"));
    assert_eq!(
        overview.headers["x-frame-options"].to_str().unwrap(),
        "DENY"
    );
    let csrf = form_value(&overview.body, "csrf");

    // Sign-out is a POST with the session's CSRF token; without it, refused.
    let refused = browse(&server, "POST", "/logout", &session, Some("")).await;
    assert_eq!(refused.status, 403);
    let refused = browse(&server, "POST", "/logout", &session, Some("csrf=pwc_guess")).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        browse(&server, "GET", "/", &session, None).await.status,
        200
    );
    let out = browse(
        &server,
        "POST",
        "/logout",
        &session,
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(out.status, 303);
    assert_eq!(
        browse(&server, "GET", "/", &session, None).await.status,
        303
    );

    // Revoking the token ends its sessions; a read-only token may sign in and read.
    let reader = server.token(Role::ReadOnly).await;
    let session = sign_in(&server, &reader).await;
    assert_eq!(
        browse(&server, "GET", "/nodes", &session, None)
            .await
            .status,
        200
    );
    let tokens = server.admin("GET", "/api/v1/tokens", None).await;
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "read-only")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .admin("DELETE", &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(
        browse(&server, "GET", "/nodes", &session, None)
            .await
            .status,
        303
    );
    server.finish().await;
}

#[tokio::test]
async fn counts_equal_their_lists_and_hostile_values_are_escaped() {
    let server = TestServer::sqlite().await;
    let hostile = "<script>alert(1)</script>";
    let (_never, _) = server
        .enroll("never-1", "AMAZON_LINUX_2", &[("Patch Group", hostile)])
        .await;
    let (_ok, ok_credential) = server
        .enroll("ok-1", "AMAZON_LINUX_2", &[("Patch Group", "web")])
        .await;
    let (missing, missing_credential) = server
        .enroll("=cmd|calc", "AMAZON_LINUX_2", &[("Patch Group", "web")])
        .await;
    upload(&server, &ok_credential, crate::api::report("Scan", 0, 2)).await;
    let mut body = crate::api::report("Scan", 2, 1);
    body["report"]["patches"][0]["reason"] = json!("<img src=x onerror=alert(1)>");
    upload(&server, &missing_credential, body).await;
    let session = sign_in(&server, &server.admin.clone()).await;

    let fleet = server.admin("GET", "/api/v1/fleet", None).await;
    assert_eq!(fleet["nodes"], 3);
    let overview = browse(&server, "GET", "/", &session, None).await;
    for state in fleet["states"].as_array().unwrap() {
        let name = state["state"].as_str().unwrap();
        let count = state["nodes"].as_u64().unwrap();
        // The overview links the count to the list, which has exactly that many rows,
        // and the JSON API lists the same nodes.
        assert!(
            overview
                .body
                .contains(&format!("<a href=\"/nodes?state={name}\">{count}</a>")),
            "{name} {count}: {}",
            overview.body
        );
        let list = browse(
            &server,
            "GET",
            &format!("/nodes?state={name}"),
            &session,
            None,
        )
        .await;
        assert_eq!(list.rows() as u64, count, "{name}: {}", list.body);
        let api = server
            .admin("GET", &format!("/api/v1/fleet/nodes?state={name}"), None)
            .await;
        assert_eq!(
            api["nodes"].as_array().unwrap().len() as u64,
            count,
            "{name}"
        );
    }
    // A node that never reported is never counted as compliant.
    let states: Vec<(String, u64)> = fleet["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["state"].as_str().unwrap().to_owned(),
                s["nodes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        states.contains(&("never_reported".to_owned(), 1)),
        "{states:?}"
    );
    assert!(states.contains(&("compliant".to_owned(), 1)), "{states:?}");
    assert!(
        states.contains(&("non_compliant".to_owned(), 1)),
        "{states:?}"
    );

    // Hostile values are escaped wherever they appear.
    let all = browse(&server, "GET", "/nodes", &session, None).await;
    assert!(!overview.body.contains(hostile) && !all.body.contains(hostile));
    assert!(
        overview.body.contains("&#60;script&#62;"),
        "{}",
        overview.body
    );
    let node = browse(&server, "GET", &format!("/nodes/{missing}"), &session, None).await;
    assert_eq!(node.status, 200, "{}", node.body);
    assert!(!node.body.contains("<img src=x"), "{}", node.body);
    assert!(node.body.contains("&#60;img src=x"), "{}", node.body);
    let never = browse(
        &server,
        "GET",
        "/nodes?state=never_reported",
        &session,
        None,
    )
    .await;
    assert!(never.body.contains("never"), "{}", never.body);

    // Trends: a line per patch group; the node missing critical patches is listed.
    let trends = browse(&server, "GET", "/trends?critical_days=0", &session, None).await;
    assert_eq!(trends.status, 200, "{}", trends.body);
    assert!(trends.body.contains("<polyline"), "{}", trends.body);
    assert!(trends.body.contains("=cmd|calc"), "{}", trends.body);
    assert_eq!(
        browse(&server, "GET", "/trends?days=0", &session, None)
            .await
            .status,
        400
    );

    // The node list filters by a CVE of the latest report and by tag.
    let by_cve = browse(
        &server,
        "GET",
        "/nodes?reference=cve-2025-0001",
        &session,
        None,
    )
    .await;
    assert_eq!(by_cve.rows(), 1, "{}", by_cve.body);
    let by_tag = browse(
        &server,
        "GET",
        "/nodes?tag=Patch%20Group%3Dweb",
        &session,
        None,
    )
    .await;
    assert_eq!(by_tag.rows(), 2, "{}", by_tag.body);
    let (status, _) = server
        .call(
            "GET",
            "/api/v1/fleet/nodes?tag=no-equals-sign",
            Some(&server.admin.clone()),
            None,
        )
        .await;
    assert_eq!(status, 400);

    // One CVE across the fleet: nodes by worst state, each count linking to exactly its rows.
    let cve = server
        .admin("GET", "/api/v1/fleet/references/cve-2025-0001", None)
        .await;
    assert_eq!(cve["reference"], "CVE-2025-0001");
    let missing_nodes = cve["nodes_by_state"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "Missing")
        .unwrap()["nodes"]
        .clone();
    assert_eq!(missing_nodes, 1, "{cve}");
    let page = browse(&server, "GET", "/patches?id=CVE-2025-0001", &session, None).await;
    assert!(
        page.body
            .contains("<a href=\"/patches?id=CVE-2025-0001&amp;state=Missing\">1</a>"),
        "{}",
        page.body
    );
    let only = browse(
        &server,
        "GET",
        "/patches?id=CVE-2025-0001&state=Missing",
        &session,
        None,
    )
    .await;
    assert_eq!(
        only.body.matches("<td>pkg1.x86_64</td>").count(),
        1,
        "{}",
        only.body
    );
    let none = browse(
        &server,
        "GET",
        "/patches?id=CVE-2025-0001&state=Installed",
        &session,
        None,
    )
    .await;
    assert!(!none.body.contains("pkg1.x86_64"), "{}", none.body);
    let csv = browse(
        &server,
        "GET",
        "/patches.csv?id=CVE-2025-0000",
        &session,
        None,
    )
    .await;
    assert_eq!(csv.body.lines().count(), 2, "{}", csv.body);
    assert!(
        !csv.body.contains("&#60;") && csv.body.contains("<img src=x"),
        "CSV is not HTML"
    );

    // Pages of the JSON API walk every node once; the console's exports hold all of them,
    // formulas neutralised.
    let first = server
        .admin("GET", "/api/v1/fleet/nodes?limit=2", None)
        .await;
    assert_eq!(first["nodes"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let second = server
        .admin(
            "GET",
            &format!("/api/v1/fleet/nodes?limit=2&after={next}"),
            None,
        )
        .await;
    assert_eq!(second["nodes"].as_array().unwrap().len(), 1);
    assert!(second["next"].is_null());
    let csv = browse(&server, "GET", "/nodes.csv?patch_group=web", &session, None).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.body.lines().count(), 3, "{}", csv.body);
    assert!(csv.body.contains(",'=cmd|calc,"), "{}", csv.body);
    let json = browse(&server, "GET", "/nodes.json", &session, None).await;
    let json: Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
    // A filter that is not one is a 400 that names it, on both faces.
    let (status, value) = server
        .call(
            "GET",
            "/api/v1/fleet/nodes?state=happy",
            Some(&server.admin.clone()),
            None,
        )
        .await;
    assert_eq!(status, 400, "{value}");
    assert_eq!(
        browse(&server, "GET", "/nodes?state=happy", &session, None)
            .await
            .status,
        400
    );
    server.finish().await;
}

#[tokio::test]
async fn assets_are_embedded_and_pinned() {
    let server = TestServer::sqlite().await;
    let htmx = browse(&server, "GET", "/assets/htmx-2.0.11.min.js", "", None).await;
    assert_eq!(htmx.status, 200);
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(htmx.body.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let readme = include_str!("../../assets/vendor/README.md");
    assert!(
        readme.contains(&hex),
        "the vendored htmx's sha256 {hex} is not in its README"
    );
    let css = browse(&server, "GET", "/assets/console.css", "", None).await;
    assert_eq!(css.status, 200);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    server.finish().await;
}

/// Windows and executions: an operator runs a window and cancels its execution from the
/// console; a read-only viewer sees no such controls and its POSTs are refused; a POST
/// without the session's CSRF token is refused.
#[tokio::test]
async fn windows_run_and_cancel_with_roles_and_csrf() {
    let server = TestServer::sqlite().await;
    let (node_id, _) = server
        .enroll("n1", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    let window = server
        .admin(
            "POST",
            "/api/v1/windows",
            Some(json!({"name": "patching", "schedule": "cron(0 3 ? * SUN *)", "duration_hours": 3, "cutoff_hours": 1})),
        )
        .await;
    let window_id = window["id"].as_str().unwrap().to_owned();
    let target = server
        .admin(
            "POST",
            &format!("/api/v1/windows/{window_id}/targets"),
            Some(json!({"targets": [{"key": "tag:Env", "values": ["prod"]}]})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .admin(
            "POST",
            &format!("/api/v1/windows/{window_id}/tasks"),
            Some(json!({"operation": "Scan", "targets": [{"key": "WindowTargetIds", "values": [target]}]})),
        )
        .await;

    let reader = server.token(Role::ReadOnly).await;
    let read_session = sign_in(&server, &reader).await;
    let page = browse(&server, "GET", "/windows", &read_session, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("patching"));
    assert!(
        !page.body.contains("Run now"),
        "read-only sees no write controls"
    );
    let overview = browse(&server, "GET", "/", &read_session, None).await;
    let reader_csrf = form_value(&overview.body, "csrf");
    let refused = browse(
        &server,
        "POST",
        &format!("/windows/{window_id}/run"),
        &read_session,
        Some(&format!("csrf={reader_csrf}")),
    )
    .await;
    assert_eq!(refused.status, 403);

    let session = sign_in(&server, &server.admin.clone()).await;
    let page = browse(&server, "GET", "/windows", &session, None).await;
    assert!(page.body.contains("Run now"));
    let csrf = form_value(&page.body, "csrf");
    // Running is previewed first: the nodes each task reaches and what they would get.
    let preview = browse(
        &server,
        "GET",
        &format!("/windows/{window_id}/run"),
        &session,
        None,
    )
    .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.body.contains("Run patching now?"),
        "{}",
        preview.body
    );
    assert!(preview.body.contains("Scan on 1 nodes"), "{}", preview.body);
    assert!(preview.body.contains("scan only"), "{}", preview.body);
    let forged = browse(
        &server,
        "POST",
        &format!("/windows/{window_id}/run"),
        &session,
        Some(""),
    )
    .await;
    assert_eq!(forged.status, 403, "no CSRF token");
    assert!(
        server
            .admin("GET", "/api/v1/executions", None)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let ran = browse(
        &server,
        "POST",
        &format!("/windows/{window_id}/run"),
        &session,
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(ran.status, 303, "{}", ran.body);
    let execution_page = ran.location().to_owned();
    assert!(
        execution_page.starts_with("/executions/"),
        "{execution_page}"
    );
    let page = browse(&server, "GET", &execution_page, &session, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("hx-get=\"/fragments/executions/"),
        "live while running"
    );
    assert!(page.body.contains("Cancel"));
    let id = execution_page.trim_start_matches("/executions/");
    let list = browse(
        &server,
        "GET",
        &format!("/executions?window={window_id}"),
        &session,
        None,
    )
    .await;
    assert!(list.body.contains(id), "{}", list.body);
    let cancelled = browse(
        &server,
        "POST",
        &format!("{execution_page}/cancel"),
        &session,
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let execution = server
        .admin("GET", &format!("/api/v1/executions/{id}"), None)
        .await;
    assert!(
        ["CANCELLING", "CANCELLED"].contains(&execution["status"].as_str().unwrap()),
        "{execution}"
    );
    // The node's operations log names the command the run created; the audit log names
    // the run and the cancel; the baselines page shows what nodes use.
    server
        .admin(
            "POST",
            &format!("/api/v1/nodes/{node_id}/commands"),
            Some(json!({"operation": "Scan"})),
        )
        .await;
    let node_page = browse(&server, "GET", &format!("/nodes/{node_id}"), &session, None).await;
    assert!(
        node_page.body.contains("<h2>Operations</h2>"),
        "{}",
        node_page.body
    );
    assert!(node_page.body.contains("Scan"), "{}", node_page.body);
    let audit = browse(&server, "GET", "/audit", &session, None).await;
    assert!(audit.body.contains("execution.cancel"), "{}", audit.body);
    assert!(audit.body.contains("console.sign_in"), "{}", audit.body);
    let baselines = browse(&server, "GET", "/baselines", &session, None).await;
    assert_eq!(baselines.status, 200, "{}", baselines.body);
    assert!(
        baselines.body.contains("default for AMAZON_LINUX_2"),
        "{}",
        baselines.body
    );
    assert!(
        !baselines.body.contains("default for UBUNTU"),
        "no Ubuntu nodes"
    );

    // Disable, then enable, from the console.
    let disabled = browse(
        &server,
        "POST",
        &format!("/windows/{window_id}/disable"),
        &session,
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(disabled.status, 303);
    let window = server
        .admin("GET", &format!("/api/v1/windows/{window_id}"), None)
        .await;
    assert_eq!(window["spec"]["enabled"], false, "{window}");
    server.finish().await;
}

#[tokio::test]
async fn dates_reboot_reasons_approvals_and_latency() {
    let server = TestServer::sqlite().await;
    let (node, credential) = server
        .enroll("web-1", "AMAZON_LINUX_2", &[("Patch Group", "web")])
        .await;
    let mut body = crate::api::report("Install", 0, 1);
    body["report"]["patches"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "name": "kernel", "arch": "x86_64", "state": "InstalledPendingReboot",
            "installed": "5.10.1-1", "target": "5.10.1-1", "compliance_level": "CRITICAL",
            "classification": "Security", "severity": "Critical", "cves": ["CVE-2025-7777"],
            "advisories": ["ALAS2-2025-7"], "reason": "approved by rule 1 via ALAS2-2025-7",
            "released": "2025-01-01T00:00:00Z", "approved_at": "2025-01-03T00:00:00Z"
        }));
    body["report"]["summary"]["installed_pending_reboot"] = json!(1);
    body["report"]["install"] = json!({
        "requested": ["kernel-5.10.1-1.x86_64"], "installed": ["kernel-5.10.1-1.x86_64"], "failed": []
    });
    upload(&server, &credential, body).await;
    let session = sign_in(&server, &server.admin.clone()).await;

    // The list and the node say why the node waits for a reboot.
    let why = "kernel: kernel.x86_64";
    let list = browse(
        &server,
        "GET",
        "/nodes?state=pending_reboot",
        &session,
        None,
    )
    .await;
    assert_eq!(list.rows(), 1, "{}", list.body);
    assert!(list.body.contains(why), "{}", list.body);
    let csv = browse(&server, "GET", "/nodes.csv", &session, None).await;
    assert!(csv.body.contains(why), "{}", csv.body);
    // Nodes where a package is not in place, by name; a package in place selects none.
    let kernel = browse(&server, "GET", "/nodes?package=kernel", &session, None).await;
    assert_eq!(kernel.rows(), 1, "{}", kernel.body);
    let ok = browse(&server, "GET", "/nodes?package=ok0", &session, None).await;
    assert_eq!(ok.rows(), 0, "{}", ok.body);
    let api = server
        .admin("GET", "/api/v1/fleet/nodes?package=kernel", None)
        .await;
    assert_eq!(api["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(api["nodes"][0]["reboot_since"], "2025-01-06T00:00:00Z");
    // Reboot debt and the fleet's states are Prometheus gauges.
    let (status, metrics) = server.call_text("GET", "/metrics", None, None).await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(metrics.contains("pw_reboot_pending_nodes 1\n"), "{metrics}");
    assert!(
        metrics.contains("pw_reboot_pending_oldest_seconds 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pw_fleet_nodes{state=\"pending_reboot\"} 1\n"),
        "{metrics}"
    );
    let page = browse(&server, "GET", &format!("/nodes/{node}"), &session, None).await;
    assert!(
        page.body.contains(&format!("Pending reboot: {why}")),
        "{}",
        page.body
    );
    // Each patch's release and approval dates.
    assert!(
        page.body
            .contains("<td class=\"v\">2025-01-01</td><td class=\"v\">2025-01-03</td>"),
        "{}",
        page.body
    );
    // The CVE view says where the patch is approved, and since when.
    let cve = browse(&server, "GET", "/patches?id=CVE-2025-7777", &session, None).await;
    assert!(
        cve.body.contains(
            "<tr><td>web</td><td>approved by rule 1 via ALAS2-2025-7</td>\n<td class=\"v\">2025-01-03</td><td class=\"num\">1</td></tr>"
        ),
        "{}",
        cve.body
    );
    let api = server
        .admin("GET", "/api/v1/fleet/references/CVE-2025-7777", None)
        .await;
    assert_eq!(api["approvals"][0]["approved_at"], "2025-01-03T00:00:00Z");
    assert_eq!(api["rows"][0]["approved_at"], "2025-01-03T00:00:00Z");
    // Patch latency: the install came 5 days after the release.
    let trends = browse(&server, "GET", "/trends", &session, None).await;
    assert!(
        trends.body.contains(
            "<tr><td>Critical</td><td class=\"num\">1</td><td class=\"num\">5.0</td><td class=\"num\">5.0</td></tr>"
        ),
        "{}",
        trends.body
    );
}

/// Percent-encodes a form value.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_baseline_edit_shows_its_diff_and_each_nodes_changes_before_it_is_saved() {
    let server = TestServer::sqlite().await;
    let (_node, credential) = server
        .enroll("web-1", "AMAZON_LINUX_2", &[("Patch Group", "web")])
        .await;
    let (status, value) = server
        .call(
            "PUT",
            "/api/v1/agent/inventory",
            Some(&credential),
            Some(crate::agent::inventory()),
        )
        .await;
    assert_eq!(status, 204, "{value}");
    let stored = crate::support::baseline_toml("web-sec", "AMAZON_LINUX_2");
    let created = server
        .admin(
            "POST",
            "/api/v1/baselines",
            Some(Value::String(stored.clone())),
        )
        .await;
    let id = created["summary"]["id"].as_str().unwrap().to_owned();
    server
        .admin(
            "POST",
            "/api/v1/patch-groups",
            Some(json!({"patch_group": "web", "baseline_id": id})),
        )
        .await;
    // The draft approves security patches at once instead of after 7 days.
    let draft = stored.replace("approve_after_days = 7", "approve_after_days = 0");
    let session = sign_in(&server, &server.admin.clone()).await;
    let editor = browse(
        &server,
        "GET",
        &format!("/baselines/{id}/edit"),
        &session,
        None,
    )
    .await;
    assert_eq!(editor.status, 200, "{}", editor.body);
    let csrf = form_value(&editor.body, "csrf");
    let path = format!("/baselines/{id}/edit");
    let preview = browse(
        &server,
        "POST",
        &path,
        &session,
        Some(&format!(
            "csrf={csrf}&step=preview&toml={}",
            encoded(&draft)
        )),
    )
    .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview
            .body
            .contains("<span class=\"diff-removed\">- approve_after_days = 7</span>"),
        "{}",
        preview.body
    );
    assert!(
        preview
            .body
            .contains("<span class=\"diff-added\">+ approve_after_days = 0</span>"),
        "{}",
        preview.body
    );
    // openssl: the 7-day rule targets -24 (released a month ago); the draft targets -26
    // (released yesterday).
    assert!(
        preview.body.contains(
            "<td>openssl.x86_64</td>\n<td>Missing 1:1.0.2k-24.amzn2</td>\n<td>Missing 1:1.0.2k-26.amzn2</td>"
        ),
        "{}",
        preview.body
    );
    assert!(preview.body.contains("1 of 1 evaluated nodes would change"));
    // The API gives the same impact.
    let (status, impact) = server
        .call_text(
            "POST",
            &format!("/api/v1/baselines/{id}/impact"),
            Some(&server.admin.clone()),
            Some(&draft),
        )
        .await;
    assert_eq!(status, 200, "{impact}");
    assert_eq!(
        impact["nodes"][0]["changes"][0]["after_target"],
        "1:1.0.2k-26.amzn2"
    );
    // Nothing is saved by a preview.
    let unchanged = server
        .admin("GET", &format!("/api/v1/baselines/{id}"), None)
        .await;
    assert!(
        unchanged["toml"]
            .as_str()
            .unwrap()
            .contains("approve_after_days = 7")
    );
    // A draft that is not a baseline is named, and nothing is evaluated.
    let broken = browse(
        &server,
        "POST",
        &path,
        &session,
        Some(&format!(
            "csrf={csrf}&step=preview&toml={}",
            encoded("version = \"1\"\nname = 3\n")
        )),
    )
    .await;
    assert_eq!(broken.status, 200, "{}", broken.body);
    assert!(
        broken.body.contains("The draft is not a valid baseline"),
        "{}",
        broken.body
    );
    // A read-only viewer previews but cannot save; a form without its CSRF token is refused.
    let reader = server.token(Role::ReadOnly).await;
    let read_session = sign_in(&server, &reader).await;
    let read_editor = browse(&server, "GET", &path, &read_session, None).await;
    let read_csrf = form_value(&read_editor.body, "csrf");
    let read_preview = browse(
        &server,
        "POST",
        &path,
        &read_session,
        Some(&format!(
            "csrf={read_csrf}&step=preview&toml={}",
            encoded(&draft)
        )),
    )
    .await;
    assert_eq!(read_preview.status, 200);
    assert!(!read_preview.body.contains("value=\"save\""));
    let refused = browse(
        &server,
        "POST",
        &path,
        &read_session,
        Some(&format!(
            "csrf={read_csrf}&step=save&toml={}",
            encoded(&draft)
        )),
    )
    .await;
    assert_eq!(refused.status, 403);
    let forged = browse(
        &server,
        "POST",
        &path,
        &session,
        Some(&format!("step=save&toml={}", encoded(&draft))),
    )
    .await;
    assert_eq!(forged.status, 403);
    // Saving stores the previewed text and is audited.
    let saved = browse(
        &server,
        "POST",
        &path,
        &session,
        Some(&format!("csrf={csrf}&step=save&toml={}", encoded(&draft))),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let after = server
        .admin("GET", &format!("/api/v1/baselines/{id}"), None)
        .await;
    assert!(
        after["toml"]
            .as_str()
            .unwrap()
            .contains("approve_after_days = 0")
    );
    // Built-in baselines cannot be edited.
    let builtin = browse(
        &server,
        "GET",
        "/baselines/patchwarden-AmazonLinux2Default/edit",
        &session,
        None,
    )
    .await;
    assert_eq!(builtin.status, 409);
}

#[tokio::test]
async fn promotion_screen_shows_what_prd_will_get_and_what_was_rejected() {
    use crate::promotions::{baseline, install_report, post_report};
    let server = TestServer::sqlite().await;
    let stg = baseline(&server, "AL2-STG").await;
    let _prd = baseline(&server, "AL2-PRD").await;
    let policy = server
        .admin(
            "POST",
            "/api/v1/promotions",
            Some(json!({"from": "AL2-STG", "to": "AL2-PRD",
                        "approve_when_healthy": {"nodes": 1, "soak": "2d"}})),
        )
        .await;
    let id = policy["id"].as_str().unwrap().to_owned();
    let hostile = "<b>stg</b>";
    let (_, failing) = server
        .enroll(hostile, "AMAZON_LINUX_2", &[("Patch Group", "AL2-STG")])
        .await;
    post_report(&server, &failing, install_report(&stg, "curl", "Failed")).await;
    let (_, healthy) = server
        .enroll("stg-2", "AMAZON_LINUX_2", &[("Patch Group", "AL2-STG")])
        .await;
    post_report(
        &server,
        &healthy,
        install_report(&stg, "openssl", "Installed"),
    )
    .await;

    let session = sign_in(&server, &server.admin.clone()).await;
    let page = browse(&server, "GET", "/promotions", &session, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    // What PRD will get, and when: openssl two days after its install.
    assert!(
        page.body.contains(
            "<tr><td><code>openssl-1.1-1.x86_64</code></td><td class=\"num\">1</td>\n<td>2025-01-08 00:00:00 UTC</td></tr>"
        ),
        "{}",
        page.body
    );
    // What was rejected because it failed on STG: who, why, evidence (escaped).
    assert!(
        page.body.contains("<code>curl-1.1-1.x86_64</code>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("failed on STG node(s) &#60;b&#62;stg&#60;/b&#62; at"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(hostile));
    assert!(
        page.body.contains("/nodes?hostname=%3Cb%3Estg%3C%2Fb%3E"),
        "{}",
        page.body
    );
    // An operator runs it now; a read-only viewer sees no button and is refused.
    let csrf = form_value(&page.body, "csrf");
    let path = format!("/promotions/{id}/run");
    let ran = browse(
        &server,
        "POST",
        &path,
        &session,
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(ran.status, 303, "{}", ran.body);
    let reader = server.token(Role::ReadOnly).await;
    let read_session = sign_in(&server, &reader).await;
    let read_page = browse(&server, "GET", "/promotions", &read_session, None).await;
    assert!(!read_page.body.contains("Run now"));
    let read_csrf = form_value(&read_page.body, "csrf");
    let refused = browse(
        &server,
        "POST",
        &path,
        &read_session,
        Some(&format!("csrf={read_csrf}")),
    )
    .await;
    assert_eq!(refused.status, 403);
    // Two days on (a new session: sessions last 8 hours), the next run approves it.
    server.clock.advance(jiff::SignedDuration::from_hours(48));
    let session = sign_in(&server, &server.admin.clone()).await;
    let page = browse(&server, "GET", "/promotions", &session, None).await;
    assert!(page.body.contains("at the next run"), "{}", page.body);
    let csrf = form_value(&page.body, "csrf");
    let ran = browse(
        &server,
        "POST",
        &path,
        &session,
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(ran.status, 303);
    assert_eq!(ran.location(), format!("/promotions#{id}"));
    let page = browse(&server, "GET", "/promotions", &session, None).await;
    assert!(
        page.body
            .contains("<td>approve</td><td><code>openssl-1.1-1.x86_64</code></td>"),
        "{}",
        page.body
    );
}
