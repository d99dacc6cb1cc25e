//! Enrollment at scale: `GET /install.sh` (the one-line installer, packaging/install.sh,
//! with this server's URL written in) and `GET /packages/...` (the agent packages of the
//! server's packages directory, with `SHA256SUMS` that install.sh checks them against).
//! No authentication, like `/healthz`: the script and the packages hold no secret; the
//! activation code the operator passes to the script is what enrolls a node.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sha2::{Digest as _, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// The installer, embedded at build time.
const INSTALL_SH: &str = include_str!("../../../packaging/install.sh");
/// The placeholder in install.sh that becomes this server's URL.
const URL_PLACEHOLDER: &str = "@PATCHWARDEN_SERVER_URL@";
/// File names the packages directory may serve.
const SERVED_SUFFIXES: [&str; 3] = [".rpm", ".deb", ".tar.gz"];

/// What the server distributes, set from `server.toml` or the command line.
#[derive(Debug, Clone, Default)]
pub struct Distribution {
    /// The directory of packages served under `/packages/` (none: `/packages/` is 404).
    pub packages_dir: Option<PathBuf>,
    /// The URL install.sh tells nodes to use; default: the scheme and `Host` of the request.
    pub public_url: Option<String>,
    /// The listener speaks TLS (the scheme of URLs made from `Host`).
    pub tls: bool,
    /// sha256 of each served file, keyed by name and checked against its size and mtime.
    digests: Arc<Digests>,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/install.sh", get(install_sh))
        .route("/packages/SHA256SUMS", get(sha256sums))
        .route("/packages/{file}", get(package))
}

/// A URL safe to write into a shell script between double quotes.
fn shell_safe_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && url
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:/[]%~".contains(&b))
}

async fn install_sh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let distribution = &state.settings().distribution;
    let url = match &distribution.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "no Host header: set `public_url` in server.toml for install.sh",
                    )
                })?;
            let scheme = if distribution.tls { "https" } else { "http" };
            format!("{scheme}://{host}")
        }
    };
    if !shell_safe_url(&url) {
        return Err(ApiError::bad_request(format!(
            "`{url}` is not a URL install.sh can use; set `public_url` in server.toml"
        )));
    }
    Ok((
        [(header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8")],
        INSTALL_SH.replace(URL_PLACEHOLDER, &url),
    ))
}

fn packages_dir(state: &AppState) -> Result<PathBuf, ApiError> {
    state
        .settings()
        .distribution
        .packages_dir
        .clone()
        .ok_or_else(|| {
            ApiError::new(
                pw_api::server::error::ErrorCode::NotFound,
                "this server distributes no packages: set `packages_dir` in server.toml (or `--packages-dir`) and put the agent packages there",
            )
        })
}

/// A name this module serves: a plain file name with a package suffix.
fn servable(name: &str) -> bool {
    !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~-".contains(&b))
        && SERVED_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

type Digests = Mutex<HashMap<String, (u64, SystemTime, String)>>;

/// A panic while holding the lock leaves a consistent map: only inserts happen.
fn lock(cache: &Digests) -> std::sync::MutexGuard<'_, HashMap<String, (u64, SystemTime, String)>> {
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn digest_of(cache: &Digests, path: &Path, name: &str) -> std::io::Result<Option<String>> {
    let meta = fs_err::metadata(path)?;
    if !meta.is_file() {
        return Ok(None);
    }
    let modified = meta.modified()?;
    if let Some((len, mtime, digest)) = lock(cache).get(name)
        && *len == meta.len()
        && *mtime == modified
    {
        return Ok(Some(digest.clone()));
    }
    let mut hasher = Sha256::new();
    let mut file = fs_err::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    let digest = format!("{:x}", hasher.finalize());
    lock(cache).insert(name.to_owned(), (meta.len(), modified, digest.clone()));
    Ok(Some(digest))
}

async fn sha256sums(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let dir = packages_dir(&state)?;
    let cache = Arc::clone(&state.settings().distribution.digests);
    let text = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut names: Vec<String> = fs_err::read_dir(&dir)?
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| servable(name))
            .collect();
        names.sort();
        let mut text = String::new();
        for name in names {
            if let Some(digest) = digest_of(&cache, &dir.join(&name), &name)? {
                text.push_str(&format!("{digest}  {name}\n"));
            }
        }
        Ok(text)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|error| ApiError::internal(format!("packages directory: {error}")))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text))
}

async fn package(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let dir = packages_dir(&state)?;
    if !servable(&file) {
        return Err(ApiError::not_found("package", &file));
    }
    let bytes = match tokio::fs::read(dir.join(&file)).await {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found("package", &file));
        }
        Err(error) => return Err(ApiError::internal(format!("{file}: {error}"))),
    };
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_package_names_are_served() {
        assert!(servable("patchwarden_0.1.0_amd64.deb"));
        assert!(servable("patchwarden-0.1.0-1.x86_64.rpm"));
        assert!(servable("patchwarden-0.1.0+up1-x86_64-linux-gnu.tar.gz"));
        assert!(!servable("../etc/passwd.rpm"));
        assert!(!servable(".hidden.rpm"));
        assert!(!servable("SHA256SUMS"));
        assert!(!servable("notes.txt"));
    }

    #[test]
    fn urls_with_shell_syntax_are_refused() {
        assert!(shell_safe_url("https://pw.example:8440"));
        assert!(shell_safe_url("http://[::1]:8440"));
        assert!(!shell_safe_url("http://x\";reboot;\""));
        assert!(!shell_safe_url("http://$(id)"));
        assert!(!shell_safe_url("ftp://x"));
    }

    #[test]
    fn the_installer_carries_the_placeholder() {
        assert!(INSTALL_SH.contains(URL_PLACEHOLDER));
        assert!(INSTALL_SH.starts_with("#!/bin/sh"));
    }
}
