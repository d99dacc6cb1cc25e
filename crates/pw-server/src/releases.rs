//! Releases of versioned repositories (Amazon Linux 2023): learning them and choosing one per
//! execution.
//!
//! The server learns releases from Amazon's release metadata (`releasemd.xml`, the file
//! `dnf check-release-update` reads) at a configurable URL or mirror, every
//! [`ServerSettings::release_refresh_interval`](crate::ServerSettings), on demand
//! (`POST /releases/refresh`), or from an operator's import (`POST /releases/import`, for
//! servers without internet access). Each release keeps the instant it was first learned. A
//! window execution chooses among the releases learned before it was created, at its
//! evaluation instant, so every host of one execution gets the same release even when a newer
//! one is learned while it runs.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use pw_api::server::releases::{ImportReleases, LearnedRelease, RefreshOutcome, ReleasesResponse};
use pw_core::baseline::OperatingSystem;
use pw_core::release::{ReleasePolicy, ReleaseVersion};
use pw_store::ReleaseRecord;

use pw_api::server::error::ErrorCode;

use crate::AppState;
use crate::auth::{Operator, ReadOnly};
use crate::error::{ApiError, chain};
use crate::extract::ApiJson;

/// The operating system whose repositories are versioned.
pub(crate) const OS: OperatingSystem = OperatingSystem::AmazonLinux2023;

/// At most this many releases per import.
const MAX_IMPORT: usize = 10_000;

/// Fetches the configured release metadata and records what is new. `Ok(None)` when no URL
/// is configured.
pub(crate) async fn refresh(state: &AppState) -> Result<Option<RefreshOutcome>, ApiError> {
    let Some(url) = state.settings().release_metadata_url.clone() else {
        return Ok(None);
    };
    let location = url.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        pw_repo::load_releases(&location, Duration::from_secs(60))
    })
    .await
    .map_err(|error| ApiError::internal(format!("release fetch task failed: {error}")))?
    .map_err(|error| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!("the release metadata at {url}: {}", chain(&error)),
        )
    })?;
    let diagnostics: Vec<String> = parsed.diagnostics.iter().map(ToString::to_string).collect();
    let learned = learn(state, &parsed.value, &format!("releasemd:{url}")).await?;
    Ok(Some(RefreshOutcome {
        source: url,
        releases: parsed.value.len(),
        new: learned,
        diagnostics,
    }))
}

async fn learn(
    state: &AppState,
    releases: &[ReleaseVersion],
    source: &str,
) -> Result<usize, ApiError> {
    let rows: Vec<(String, String)> = releases
        .iter()
        .map(|release| (release.to_string(), release.date().to_string()))
        .collect();
    let new = state
        .store()
        .learn_releases(OS.as_str(), &rows, source, state.now())
        .await?;
    if new > 0 {
        tracing::info!(new, source, "learned new releases");
    }
    Ok(new)
}

/// The background loop: refreshes at start and then every interval, when a URL is set.
pub(crate) async fn run(state: AppState) {
    if state.settings().release_metadata_url.is_none() {
        return;
    }
    let mut shutdown = state.shutdown_rx();
    loop {
        // A slow or unreachable mirror must not hold up a shutdown.
        tokio::select! {
            result = refresh(&state) => {
                if let Err(error) = result {
                    tracing::warn!(error = %error.message, "release metadata refresh failed; the releases learned earlier are used");
                }
            }
            _ = shutdown.changed() => break,
        }
        tokio::select! {
            () = tokio::time::sleep(state.settings().release_refresh_interval) => {}
            _ = shutdown.changed() => break,
        }
    }
}

/// The `[release]` of a baseline given as native TOML (`None` without one, or when the text
/// is invalid: the agent reports that itself).
pub(crate) fn release_policy(baseline_toml: &str) -> Option<ReleasePolicy> {
    pw_api::baseline::parse_toml(baseline_toml)
        .ok()
        .and_then(|loaded| loaded.baseline.release)
}

/// The release `policy` chooses at `instant` among `known`: `(release, why none)`.
pub(crate) fn choose_among(
    policy: &ReleasePolicy,
    known: &[ReleaseRecord],
    instant: Timestamp,
) -> (Option<String>, Option<String>) {
    let known: Vec<ReleaseVersion> = known
        .iter()
        .filter_map(|record| ReleaseVersion::parse(&record.version).ok())
        .collect();
    match policy.choose(&known, instant) {
        Ok(release) => (Some(release.to_string()), None),
        Err(why) => (None, Some(why.to_string())),
    }
}

/// [`choose_among`] the releases learned by `learned_by`; both `None` when the baseline has
/// no `[release]`.
pub(crate) async fn choose(
    state: &AppState,
    baseline_toml: &str,
    instant: Timestamp,
    learned_by: Option<Timestamp>,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let Some(policy) = release_policy(baseline_toml) else {
        return Ok((None, None));
    };
    let known = state.store().releases(OS.as_str(), learned_by).await?;
    Ok(choose_among(&policy, &known, instant))
}

/// `GET /releases`: the learned releases, newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: ReadOnly,
) -> Result<Json<ReleasesResponse>, ApiError> {
    let mut records = state.store().releases(OS.as_str(), None).await?;
    records.sort_by(|a, b| {
        let key = |v: &str| ReleaseVersion::parse(v).ok();
        key(&b.version).cmp(&key(&a.version))
    });
    Ok(Json(ReleasesResponse {
        operating_system: OS.as_str().to_owned(),
        metadata_url: state.settings().release_metadata_url.clone(),
        releases: records
            .into_iter()
            .map(|record| LearnedRelease {
                version: record.version,
                release_date: record.release_date,
                learned_at: record.learned_at,
                source: record.source,
            })
            .collect(),
    }))
}

/// `POST /releases/import`: releases given by an operator (`patchwarden release import
/// releasemd.xml` sends the versions of a file it read).
pub(crate) async fn import(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ApiJson(body): ApiJson<ImportReleases>,
) -> Result<Json<RefreshOutcome>, ApiError> {
    if body.versions.len() > MAX_IMPORT {
        return Err(ApiError::field(
            "versions",
            format!("at most {MAX_IMPORT} releases per import"),
        ));
    }
    let mut releases = Vec::with_capacity(body.versions.len());
    for (index, text) in body.versions.iter().enumerate() {
        let release = ReleaseVersion::parse(text)
            .map_err(|error| ApiError::field(format!("versions[{index}]"), error.to_string()))?;
        releases.push(release);
    }
    let source = format!("import:{}", caller.actor());
    let new = learn(&state, &releases, &source).await?;
    state
        .store()
        .audit(
            state.now(),
            &caller.actor(),
            "release.import",
            Some(OS.as_str()),
            Some(&serde_json::json!({"releases": releases.len(), "new": new}).to_string()),
        )
        .await?;
    Ok(Json(RefreshOutcome {
        source,
        releases: releases.len(),
        new,
        diagnostics: Vec::new(),
    }))
}

/// `POST /releases/refresh`: fetches the configured release metadata now.
pub(crate) async fn refresh_now(
    State(state): State<AppState>,
    Operator(caller): Operator,
) -> Result<Json<RefreshOutcome>, ApiError> {
    let outcome = refresh(&state).await?.ok_or_else(|| {
        ApiError::field(
            "release_metadata_url",
            "the server has no release metadata URL configured (server.toml `release_metadata_url`); import releases instead",
        )
    })?;
    state
        .store()
        .audit(
            state.now(),
            &caller.actor(),
            "release.refresh",
            Some(OS.as_str()),
            Some(
                &serde_json::json!({"source": outcome.source, "releases": outcome.releases, "new": outcome.new})
                    .to_string(),
            ),
        )
        .await?;
    Ok(Json(outcome))
}
