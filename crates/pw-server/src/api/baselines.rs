//! `/baselines`, `/default-baselines`, `/patch-groups`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pw_api::baseline::{BaselineFormatError, LoadedBaseline, parse_baseline, to_aws_json, to_toml};
use pw_api::server::baselines::ExpiredException;
use pw_api::server::baselines::{
    BaselineDetail, BaselineSummary, DefaultBaseline, PatchGroupRegistration, RegisterDefault,
    RegisterPatchGroup,
};
use pw_core::baseline::{OperatingSystem, default_baseline_names};
use pw_store::BaselineRecord;

use crate::AppState;
use crate::auth::{Admin, Operator, ReadOnly};
use crate::error::{ApiError, chain};
use crate::extract::{ApiJson, Params, TextBody};
use crate::resolve::{Registrations, predefined};
use crate::service::baselines::{self as service, parse_os};

fn read_baseline(text: &str) -> Result<LoadedBaseline, ApiError> {
    parse_baseline(text).map_err(|error| match error {
        BaselineFormatError::Invalid(invalid) => ApiError::field(invalid.field, invalid.message),
        other => ApiError::bad_request(chain(&other)),
    })
}

/// The approved and rejected entries of `baseline` that no longer apply at `now`.
fn expired_exceptions(
    baseline: &pw_core::baseline::Baseline,
    now: jiff::Timestamp,
) -> Vec<ExpiredException> {
    [
        ("approved", &baseline.approved),
        ("rejected", &baseline.rejected),
    ]
    .into_iter()
    .flat_map(|(list, entries)| {
        entries.iter().filter_map(move |exception| {
            let expires = exception.expires?;
            (!exception.is_active(now)).then(|| ExpiredException {
                list: list.to_owned(),
                entry: exception.entry.clone(),
                expires,
            })
        })
    })
    .collect()
}

fn summary(record: &BaselineRecord, registrations: &Registrations) -> BaselineSummary {
    BaselineSummary {
        id: record.id.clone(),
        name: record.name.clone(),
        operating_system: record.operating_system.clone(),
        description: record.description.clone(),
        predefined: false,
        default_for_os: registrations.is_default(&record.id),
        created_at: Some(record.created_at),
        updated_at: Some(record.updated_at),
    }
}

fn predefined_summary(
    name: &str,
    os: OperatingSystem,
    registrations: &Registrations,
) -> BaselineSummary {
    BaselineSummary {
        id: name.to_owned(),
        name: name.to_owned(),
        operating_system: os.as_str().to_owned(),
        description: Some("built-in default baseline".to_owned()),
        predefined: true,
        default_for_os: registrations.default_is_predefined(os),
        created_at: None,
        updated_at: None,
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: ReadOnly,
) -> Result<Json<Vec<BaselineSummary>>, ApiError> {
    let registrations = Registrations::load(state.store()).await?;
    let mut all: Vec<BaselineSummary> = state
        .store()
        .baselines()
        .await?
        .iter()
        .map(|b| summary(b, &registrations))
        .collect();
    all.extend(
        default_baseline_names()
            .into_iter()
            .map(|(name, os)| predefined_summary(name, os, &registrations)),
    );
    Ok(Json(all))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Operator(caller): Operator,
    TextBody(text): TextBody,
) -> Result<(StatusCode, Json<BaselineDetail>), ApiError> {
    let loaded = read_baseline(&text)?;
    let record = service::create(&state, &caller.actor(), &loaded.baseline).await?;
    let registrations = Registrations::load(state.store()).await?;
    Ok((
        StatusCode::CREATED,
        Json(BaselineDetail {
            summary: summary(&record, &registrations),
            toml: record.toml.clone(),
            patch_groups: Vec::new(),
            expired_exceptions: expired_exceptions(&loaded.baseline, state.now()),
            warnings: loaded.warnings,
        }),
    ))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let registrations = Registrations::load(state.store()).await?;
    let found = service::get(&state, &id).await?;
    let (summary, text) = match &found.record {
        None => (
            predefined_summary(&id, found.baseline.operating_system, &registrations),
            to_toml(&found.baseline),
        ),
        Some(record) => (summary(record, &registrations), record.toml.clone()),
    };
    let baseline = found.baseline;
    match params.get("format") {
        None | Some("json") => Ok(Json(BaselineDetail {
            patch_groups: registrations.groups_of(&summary.id),
            summary,
            toml: text,
            warnings: Vec::new(),
            expired_exceptions: expired_exceptions(&baseline, state.now()),
        })
        .into_response()),
        Some("toml") => Ok(([(header::CONTENT_TYPE, "application/toml")], text).into_response()),
        Some("aws-json") => Ok((
            [(header::CONTENT_TYPE, "application/json")],
            to_aws_json(&baseline, state.now()),
        )
            .into_response()),
        Some(other) => Err(ApiError::field(
            "format",
            format!("`{other}` is not one of json, toml, aws-json"),
        )),
    }
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    TextBody(text): TextBody,
) -> Result<Json<BaselineDetail>, ApiError> {
    let loaded = read_baseline(&text)?;
    let record = service::update(&state, &caller.actor(), &id, &loaded.baseline).await?;
    let registrations = Registrations::load(state.store()).await?;
    Ok(Json(BaselineDetail {
        summary: summary(&record, &registrations),
        toml: record.toml.clone(),
        patch_groups: registrations.groups_of(&id),
        expired_exceptions: expired_exceptions(&loaded.baseline, state.now()),
        warnings: loaded.warnings,
    }))
}

/// `POST /api/v1/baselines/{id}/impact`: what saving the draft in the body would change.
pub(crate) async fn impact(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
    TextBody(text): TextBody,
) -> Result<Json<pw_api::server::baselines::BaselineImpact>, ApiError> {
    let loaded = read_baseline(&text)?;
    Ok(Json(
        crate::service::preview::baseline_impact(&state, &id, loaded.baseline, loaded.warnings)
            .await?,
    ))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state, &caller.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_defaults(
    State(state): State<AppState>,
    _caller: ReadOnly,
) -> Result<Json<Vec<DefaultBaseline>>, ApiError> {
    let registrations = Registrations::load(state.store()).await?;
    Ok(Json(
        OperatingSystem::ALL
            .into_iter()
            .map(|os| DefaultBaseline {
                operating_system: os.as_str().to_owned(),
                baseline_id: registrations.default_for(os),
                predefined: registrations.default_is_predefined(os),
            })
            .collect(),
    ))
}

pub(crate) async fn register_default(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(os): Path<String>,
    ApiJson(body): ApiJson<RegisterDefault>,
) -> Result<Json<DefaultBaseline>, ApiError> {
    let os = parse_os("operating_system", &os)?;
    let os =
        service::register_default(&state, &caller.actor(), Some(os), &body.baseline_id).await?;
    Ok(Json(DefaultBaseline {
        operating_system: os.as_str().to_owned(),
        predefined: predefined(&body.baseline_id).is_some(),
        baseline_id: body.baseline_id,
    }))
}

pub(crate) async fn clear_default(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(os): Path<String>,
) -> Result<StatusCode, ApiError> {
    let os = parse_os("operating_system", &os)?;
    service::clear_default(&state, &caller.actor(), os).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_patch_groups(
    State(state): State<AppState>,
    _caller: ReadOnly,
) -> Result<Json<Vec<PatchGroupRegistration>>, ApiError> {
    Ok(Json(
        state
            .store()
            .patch_groups()
            .await?
            .into_iter()
            .map(|record| PatchGroupRegistration {
                patch_group: record.patch_group,
                operating_system: record.operating_system,
                baseline_id: record.baseline_id,
            })
            .collect(),
    ))
}

pub(crate) async fn register_patch_group(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ApiJson(body): ApiJson<RegisterPatchGroup>,
) -> Result<(StatusCode, Json<PatchGroupRegistration>), ApiError> {
    let record = service::register_patch_group(
        &state,
        &caller.actor(),
        &body.patch_group,
        &body.baseline_id,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(PatchGroupRegistration {
            patch_group: record.patch_group,
            operating_system: record.operating_system,
            baseline_id: record.baseline_id,
        }),
    ))
}

pub(crate) async fn deregister_patch_group(
    State(state): State<AppState>,
    Operator(caller): Operator,
    params: Params,
) -> Result<StatusCode, ApiError> {
    let group = params
        .get("patch_group")
        .ok_or_else(|| ApiError::field("patch_group", "is required"))?;
    let os = parse_os(
        "operating_system",
        params.get("operating_system").unwrap_or(""),
    )?;
    service::deregister_patch_group(&state, &caller.actor(), group, os).await?;
    Ok(StatusCode::NO_CONTENT)
}
