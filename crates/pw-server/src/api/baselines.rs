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
use pw_store::{BaselineRecord, PatchGroupRecord, ids};

use crate::AppState;
use crate::auth::{Admin, Operator, ReadOnly};
use crate::error::{ApiError, chain};
use crate::extract::{ApiJson, Params, TextBody};
use crate::resolve::{Registrations, predefined};

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
    if predefined(&loaded.baseline.name).is_some() {
        return Err(ApiError::conflict(format!(
            "`{}` is the name of a built-in baseline",
            loaded.baseline.name
        )));
    }
    let now = state.now();
    let record = BaselineRecord {
        id: ids::short_id("pb-"),
        name: loaded.baseline.name.clone(),
        operating_system: loaded.baseline.operating_system.as_str().to_owned(),
        description: loaded.baseline.description.clone(),
        toml: to_toml(&loaded.baseline),
        created_at: now,
        updated_at: now,
    };
    state.store().create_baseline(&record).await?;
    state
        .store()
        .audit(
            now,
            &caller.actor(),
            "baseline.create",
            Some(&record.id),
            None,
        )
        .await?;
    let registrations = Registrations::load(state.store()).await?;
    Ok((
        StatusCode::CREATED,
        Json(BaselineDetail {
            summary: summary(&record, &registrations),
            toml: record.toml.clone(),
            patch_groups: Vec::new(),
            expired_exceptions: expired_exceptions(&loaded.baseline, now),
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
    let (summary, baseline, text) = if let Some((os, baseline)) = predefined(&id) {
        (
            predefined_summary(&id, os, &registrations),
            baseline.clone(),
            to_toml(&baseline),
        )
    } else {
        let record = state
            .store()
            .baseline(&id)
            .await?
            .ok_or_else(|| ApiError::not_found("baseline", &id))?;
        let baseline = crate::resolve::parse_stored(&id, &record.toml)?;
        (summary(&record, &registrations), baseline, record.toml)
    };
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
    if predefined(&id).is_some() {
        return Err(ApiError::conflict(format!(
            "`{id}` is a built-in baseline and cannot change"
        )));
    }
    let loaded = read_baseline(&text)?;
    if predefined(&loaded.baseline.name).is_some() {
        return Err(ApiError::conflict(format!(
            "`{}` is the name of a built-in baseline",
            loaded.baseline.name
        )));
    }
    let now = state.now();
    let record = state
        .store()
        .update_baseline(
            &id,
            &loaded.baseline.name,
            loaded.baseline.operating_system.as_str(),
            loaded.baseline.description.as_deref(),
            &to_toml(&loaded.baseline),
            now,
        )
        .await?;
    state
        .store()
        .audit(now, &caller.actor(), "baseline.update", Some(&id), None)
        .await?;
    let registrations = Registrations::load(state.store()).await?;
    Ok(Json(BaselineDetail {
        summary: summary(&record, &registrations),
        toml: record.toml.clone(),
        patch_groups: registrations.groups_of(&id),
        expired_exceptions: expired_exceptions(&loaded.baseline, now),
        warnings: loaded.warnings,
    }))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if predefined(&id).is_some() {
        return Err(ApiError::conflict(format!(
            "`{id}` is a built-in baseline and cannot be deleted"
        )));
    }
    state.store().delete_baseline(&id).await?;
    state
        .store()
        .audit(
            state.now(),
            &caller.actor(),
            "baseline.delete",
            Some(&id),
            None,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The operating system of a baseline id (stored or built-in); `field` names the request
/// field for the error.
async fn baseline_os(state: &AppState, field: &str, id: &str) -> Result<OperatingSystem, ApiError> {
    if let Some((os, _)) = predefined(id) {
        return Ok(os);
    }
    let record = state
        .store()
        .baseline(id)
        .await?
        .ok_or_else(|| ApiError::field(field, format!("baseline `{id}` does not exist")))?;
    OperatingSystem::parse(&record.operating_system).ok_or_else(|| {
        ApiError::internal(format!(
            "stored baseline `{id}` has an unknown operating system"
        ))
    })
}

fn parse_os(field: &str, text: &str) -> Result<OperatingSystem, ApiError> {
    OperatingSystem::parse(text).ok_or_else(|| {
        let names: Vec<_> = OperatingSystem::ALL.iter().map(|os| os.as_str()).collect();
        ApiError::field(
            field,
            format!("`{text}` is not one of {}", names.join(", ")),
        )
    })
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
    let baseline_os = baseline_os(&state, "baseline_id", &body.baseline_id).await?;
    if baseline_os != os {
        return Err(ApiError::field(
            "baseline_id",
            format!(
                "baseline `{}` is for {}, not {}",
                body.baseline_id,
                baseline_os.as_str(),
                os.as_str()
            ),
        ));
    }
    let now = state.now();
    if predefined(&body.baseline_id).is_some() {
        state.store().clear_default_baseline(os.as_str()).await?;
    } else {
        state
            .store()
            .set_default_baseline(os.as_str(), &body.baseline_id, now)
            .await?;
    }
    state
        .store()
        .audit(
            now,
            &caller.actor(),
            "default_baseline.register",
            Some(os.as_str()),
            None,
        )
        .await?;
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
    state.store().clear_default_baseline(os.as_str()).await?;
    state
        .store()
        .audit(
            state.now(),
            &caller.actor(),
            "default_baseline.clear",
            Some(os.as_str()),
            None,
        )
        .await?;
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

/// `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`, 1-256 characters (ssm-reference §6.4).
fn valid_patch_group(group: &str) -> bool {
    let n = group.chars().count();
    (1..=256).contains(&n)
        && group.chars().all(|c| {
            c.is_alphabetic() || c.is_numeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
        })
}

pub(crate) async fn register_patch_group(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ApiJson(body): ApiJson<RegisterPatchGroup>,
) -> Result<(StatusCode, Json<PatchGroupRegistration>), ApiError> {
    if !valid_patch_group(&body.patch_group) {
        return Err(ApiError::field(
            "patch_group",
            "must be 1 to 256 letters, digits, spaces or `_.:/=+-@`",
        ));
    }
    let os = baseline_os(&state, "baseline_id", &body.baseline_id).await?;
    let record = PatchGroupRecord {
        patch_group: body.patch_group,
        operating_system: os.as_str().to_owned(),
        baseline_id: body.baseline_id,
    };
    let now = state.now();
    state.store().register_patch_group(&record, now).await?;
    state
        .store()
        .audit(
            now,
            &caller.actor(),
            "patch_group.register",
            Some(&record.patch_group),
            None,
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
    if !state
        .store()
        .deregister_patch_group(group, os.as_str())
        .await?
    {
        return Err(ApiError::not_found(
            "patch group registration",
            &format!("{group} ({})", os.as_str()),
        ));
    }
    state
        .store()
        .audit(
            state.now(),
            &caller.actor(),
            "patch_group.deregister",
            Some(group),
            None,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
