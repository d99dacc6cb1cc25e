//! The web console at `/`: server-rendered HTML (askama templates checked at compile time)
//! from the same service functions as the JSON API (`crate::service`), htmx for the live
//! parts, every asset embedded in the binary. See docs/console.md.
//!
//! Security: sign-in with an API token opens a session (an HttpOnly, SameSite=Strict cookie,
//! `Secure` under TLS, stored hashed, ended by sign-out, expiry or revoking the token); every
//! POST carries the session's CSRF token; every page is sent with a Content-Security-Policy
//! that allows no inline script and no framing; templates escape everything they print.

mod pages;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pw_api::server::tokens::Role;
use pw_store::ids;

use crate::AppState;
use crate::error::ApiError;

/// The session cookie.
const SESSION_COOKIE: &str = "pw_session";
/// The cookie that ties the sign-in form to the browser that fetched it (login CSRF).
const LOGIN_COOKIE: &str = "pw_login";

/// htmx, vendored (assets/vendor/README.md).
pub(crate) const HTMX_PATH: &str = "/assets/htmx-2.0.11.min.js";
const HTMX: &[u8] = include_bytes!("../../assets/vendor/htmx-2.0.11.min.js");
pub(crate) const CSS_PATH: &str = "/assets/console.css";
const CSS: &str = include_str!("../../assets/console/console.css");

/// The largest form the console reads.
const FORM_LIMIT: usize = 16 * 1024;
/// The largest baseline edit the console reads (the definition as TOML, and the form around it).
const BASELINE_FORM_LIMIT: usize = 512 * 1024;

/// What every console response says about itself.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/nodes", get(pages::nodes))
        .route("/nodes.csv", get(pages::nodes_csv))
        .route("/nodes.json", get(pages::nodes_json))
        .route("/nodes/{id}", get(pages::node))
        .route("/patches", get(pages::reference))
        .route("/patches.csv", get(pages::reference_csv))
        .route("/fragments/running", get(pages::running))
        .route("/windows", get(pages::windows))
        .route(
            "/windows/{id}/run",
            get(pages::run_preview).post(pages::run_window),
        )
        .route("/windows/{id}/enable", post(pages::enable_window))
        .route("/windows/{id}/disable", post(pages::disable_window))
        .route("/executions", get(pages::executions))
        .route("/executions/{id}", get(pages::execution))
        .route("/executions/{id}/cancel", post(pages::cancel_execution))
        .route("/fragments/executions/{id}", get(pages::progress))
        .route("/audit", get(pages::audit))
        .route("/trends", get(pages::trends))
        .route("/baselines", get(pages::baselines))
        .route("/promotions", get(pages::promotions))
        .route("/promotions/{id}/run", post(pages::run_promotion))
        .route(
            "/baselines/{id}/edit",
            get(pages::edit_baseline)
                .post(pages::edit_baseline_step)
                // A baseline's text is larger than a form; only a signed-in viewer gets here.
                .layer(axum::extract::DefaultBodyLimit::max(BASELINE_FORM_LIMIT)),
        )
        .route(HTMX_PATH, get(htmx))
        .route(CSS_PATH, get(css))
        // Console forms are small; the sign-in form is read before anyone is authenticated.
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // The file names carry the version: cache for a day.
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

async fn htmx() -> Response {
    asset("text/javascript; charset=utf-8", HTMX)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS.as_bytes())
}

/// The signed-in user of a console request.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub(crate) token_id: String,
    pub(crate) role: Role,
    pub(crate) csrf: String,
    id_hash: String,
}

impl Viewer {
    pub(crate) fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }

    /// Whether the viewer may act (run, cancel, enable): operator and admin.
    pub(crate) fn can_act(&self) -> bool {
        self.role >= Role::Operator
    }

    /// Refuses an action to a role that may not take it, as the API does.
    pub(crate) fn require(&self, role: Role) -> Result<(), ConsoleError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(format!(
                "this needs the {} role; the token you signed in with is {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }

    /// Refuses a state-changing request whose form does not carry this session's CSRF
    /// token.
    pub(crate) fn check_csrf(&self, sent: Option<&str>) -> Result<(), ConsoleError> {
        match sent {
            Some(token) if constant_time_eq(token.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(ConsoleError::Forbidden(
                "the form is stale or came from another site (CSRF token missing or wrong): reload the page".to_owned(),
            )),
        }
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie's value from the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure under TLS.
pub(crate) fn set_cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> String {
    cookie_text(name, value, max_age, state.serves_tls())
}

fn cookie_text(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}")
}

/// A console error: a page that says what went wrong (never a bare 500 for a user mistake).
#[derive(Debug)]
pub(crate) enum ConsoleError {
    /// Not signed in (or the session ended): to the sign-in page.
    SignIn(String),
    Forbidden(String),
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(error: ApiError) -> ConsoleError {
        ConsoleError::Api(error)
    }
}

impl From<pw_store::StoreError> for ConsoleError {
    fn from(error: pw_store::StoreError) -> ConsoleError {
        ConsoleError::Api(ApiError::from(error))
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::SignIn(next) => {
                let target = if next.is_empty() || next == "/" {
                    "/login".to_owned()
                } else {
                    format!("/login?next={}", pages::url_encode(&next))
                };
                Redirect::to(&target).into_response()
            }
            ConsoleError::Forbidden(message) => {
                pages::error_page(StatusCode::FORBIDDEN, &message).into_response()
            }
            ConsoleError::Api(error) => {
                let status = StatusCode::from_u16(error.code.http_status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if status.is_server_error()
                    && let Some(detail) = &error.detail
                {
                    tracing::error!(error = %detail, "console page failed");
                }
                pages::error_page(status, &error.message).into_response()
            }
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let here = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let Some(session) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(ConsoleError::SignIn(here));
        };
        let id_hash = ids::hash_secret(session);
        let Some(found) = state.store().console_session(&id_hash, state.now()).await? else {
            return Err(ConsoleError::SignIn(here));
        };
        let role = Role::parse(&found.role).ok_or_else(|| {
            ConsoleError::Api(ApiError::internal(format!(
                "token {} has an unknown role",
                found.token_id
            )))
        })?;
        Ok(Viewer {
            token_id: found.token_id,
            role,
            csrf: found.csrf,
            id_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_strict_and_secure_under_tls() {
        let plain = cookie_text(SESSION_COOKIE, "pws_x", 60, false);
        assert_eq!(
            plain,
            "pw_session=pws_x; HttpOnly; SameSite=Strict; Path=/; Max-Age=60"
        );
        assert!(cookie_text(SESSION_COOKIE, "pws_x", 60, true).ends_with("; Secure"));
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; pw_session=pws_y"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("pws_y"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "pw"), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
