//! `cargo run -p xtask -- openapi`: regenerates `components.schemas` of
//! `crates/pw-server/openapi.json` from the wire types of pw-api (`schemars`, pw-api's
//! `schema` feature), keeping everything else of the file (the hand-written `paths`, `info`,
//! security schemes) as it is. The output is deterministic: keys sorted at every level,
//! two-space indentation, one trailing newline.

use std::path::{Path, PathBuf};

use pw_api::{agent, server};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value};

/// The command that rewrites the file; named by every message that asks for it.
pub(crate) const REGENERATE: &str = "cargo run -p xtask -- openapi";

/// The file, relative to the workspace root.
pub(crate) const OPENAPI_FILE: &str = "crates/pw-server/openapi.json";

/// Where referenceable schemas live in an OpenAPI document.
const SCHEMAS_POINTER: &str = "/components/schemas";

/// The workspace root (the parent of `xtask/`).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Every request and answer body of the API, by the name `paths` refers to it with. Types
/// these refer to (enums, nested structs) are added by the generator. A body type that a
/// path refers to must be listed here, or generation fails naming it.
fn body_schemas(generator: &mut SchemaGenerator) {
    // Admin API.
    generator.subschema_for::<server::error::ErrorBody>();
    generator.subschema_for::<server::baselines::BaselineSummary>();
    generator.subschema_for::<server::baselines::BaselineDetail>();
    generator.subschema_for::<server::baselines::DefaultBaseline>();
    generator.subschema_for::<server::baselines::RegisterDefault>();
    generator.subschema_for::<server::baselines::PatchGroupRegistration>();
    generator.subschema_for::<server::baselines::RegisterPatchGroup>();
    generator.subschema_for::<server::nodes::NodeSummary>();
    generator.subschema_for::<server::nodes::SetTags>();
    generator.subschema_for::<server::agent::CommandInfo>();
    generator.subschema_for::<server::agent::CreateNodeCommand>();
    generator.subschema_for::<server::compliance::ComplianceSummary>();
    generator.subschema_for::<server::compliance::NodeCompliance>();
    generator.subschema_for::<server::compliance::GroupCompliance>();
    generator.subschema_for::<server::compliance::ExportRow>();
    generator.subschema_for::<server::fleet::FleetOverview>();
    generator.subschema_for::<server::fleet::FleetNodePage>();
    generator.subschema_for::<server::fleet::ReferenceReport>();
    generator.subschema_for::<server::baselines::BaselineImpact>();
    generator.subschema_for::<server::promotion::PromotionSpec>();
    generator.subschema_for::<server::promotion::PromotionPolicy>();
    generator.subschema_for::<server::promotion::PromotionRun>();
    generator.subschema_for::<server::promotion::PromotionOutlook>();
    generator.subschema_for::<server::webhooks::WebhookSpec>();
    generator.subschema_for::<server::webhooks::WebhookUpdate>();
    generator.subschema_for::<server::agent::RollbackRequest>();
    generator.subschema_for::<server::webhooks::Webhook>();
    generator.subschema_for::<server::webhooks::WebhookDelivery>();
    generator.subschema_for::<agent::OperationReport>();
    generator.subschema_for::<server::agent::PreviewRequest>();
    generator.subschema_for::<server::agent::PreviewResponse>();
    generator.subschema_for::<server::releases::ReleasesResponse>();
    generator.subschema_for::<server::releases::ImportReleases>();
    generator.subschema_for::<server::releases::RefreshOutcome>();
    generator.subschema_for::<server::windows::WindowSpec>();
    generator.subschema_for::<server::windows::Window>();
    generator.subschema_for::<server::windows::NextExecutions>();
    generator.subschema_for::<server::windows::WindowTargetSpec>();
    generator.subschema_for::<server::windows::WindowTarget>();
    generator.subschema_for::<server::windows::TaskSpec>();
    generator.subschema_for::<server::windows::WindowTask>();
    generator.subschema_for::<server::windows::Execution>();
    generator.subschema_for::<server::tokens::CreateToken>();
    generator.subschema_for::<server::tokens::TokenInfo>();
    generator.subschema_for::<server::tokens::TokenCreated>();
    generator.subschema_for::<server::tokens::CreateActivation>();
    generator.subschema_for::<server::tokens::ActivationInfo>();
    generator.subschema_for::<server::tokens::ActivationCreated>();
    // Agent protocol (`/api/v1/agent/...`); `InventoryUpload` is also an admin answer.
    generator.subschema_for::<server::agent::EnrollRequest>();
    generator.subschema_for::<server::agent::EnrollResponse>();
    generator.subschema_for::<server::agent::CommandsResponse>();
    generator.subschema_for::<server::agent::AckResponse>();
    generator.subschema_for::<server::agent::CommandResult>();
    generator.subschema_for::<server::agent::ResultAccepted>();
    generator.subschema_for::<server::agent::InventoryUpload>();
    generator.subschema_for::<server::compliance::ComplianceReportUpload>();
    generator.subschema_for::<server::compliance::ReportAccepted>();
}

/// Schemas with no Rust type: bodies the server builds with `serde_json::json!`.
fn hand_written_schemas() -> Map<String, Value> {
    let mut schemas = Map::new();
    schemas.insert(
        "Health".to_owned(),
        serde_json::json!({
            "description": "The answer of `GET /healthz` (`{\"status\": \"ok\"}`), built by \
                            `pw_server::meta`; written by hand in `xtask/src/openapi.rs`.",
            "type": "object",
            "required": ["status"],
            "properties": { "status": { "type": "string", "const": "ok" } }
        }),
    );
    schemas
}

/// The generated `components.schemas`: every body type and what it refers to, plus the
/// hand-written ones. Fails when two types would share a name.
pub(crate) fn schemas() -> Result<Map<String, Value>, String> {
    let settings = SchemaSettings::draft2020_12().with(|settings| {
        settings.definitions_path = SCHEMAS_POINTER.into();
    });
    let mut generator = SchemaGenerator::new(settings);
    body_schemas(&mut generator);
    let mut schemas = generator.take_definitions(true);
    // schemars names a second type with an already used name `Name2`: the document would
    // then name a type that does not exist.
    if let Some(name) = schemas
        .keys()
        .find(|name| name.ends_with(|c: char| c.is_ascii_digit()))
    {
        return Err(format!(
            "two wire types share a schema name (schemars called one `{name}`): give one a \
             `#[cfg_attr(feature = \"schema\", schemars(rename = \"...\"))]`"
        ));
    }
    for (name, schema) in hand_written_schemas() {
        if schemas.insert(name.clone(), schema).is_some() {
            return Err(format!(
                "the hand-written schema `{name}` in xtask/src/openapi.rs is also a wire type: \
                 remove it from `hand_written_schemas`"
            ));
        }
    }
    Ok(schemas)
}

/// The document `current` (the text of the checked-in file) with its `components.schemas`
/// regenerated, as the text to write.
pub(crate) fn render(current: &str) -> Result<String, String> {
    let mut document: Value = serde_json::from_str(current)
        .map_err(|error| format!("{OPENAPI_FILE} is not JSON: {error}"))?;
    let components = document
        .as_object_mut()
        .ok_or_else(|| format!("{OPENAPI_FILE}: the document is not an object"))?
        .entry("components")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| format!("{OPENAPI_FILE}: `components` is not an object"))?;
    components.insert("schemas".to_owned(), Value::Object(schemas()?));
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        complete_operations(paths);
    }
    let missing = unresolved_refs(&document);
    if !missing.is_empty() {
        return Err(format!(
            "{OPENAPI_FILE} refers to schemas no wire type generates: {}; add the type to \
             `body_schemas` in xtask/src/openapi.rs (or fix the `$ref`)",
            missing.join(", ")
        ));
    }
    let mut text = serde_json::to_string_pretty(&sorted(document))
        .map_err(|error| format!("cannot write {OPENAPI_FILE}: {error}"))?;
    text.push('\n');
    Ok(text)
}

/// The HTTP methods an operation may be under.
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// The error answers an operation may give, from what it takes: a 400 for a parameter or a
/// body the server refuses, 401/403 when it needs a credential, 404 when its path names a
/// resource, 409 for a change that conflicts, 413 for a body over the route's limit, 429 when the
/// caller's address failed to authenticate too often, 503 when
/// the database cannot be reached. Each is the `ErrorBody` the server answers every error
/// with. The SSM face (`/ssm`) has its own error shape and keeps its hand-written answers.
fn error_responses(
    path: &str,
    method: &str,
    operation: &Map<String, Value>,
) -> Vec<(&'static str, &'static str)> {
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|schemes| !schemes.is_empty());
    let has_body = operation.get("requestBody").is_some();
    let has_parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|parameters| !parameters.is_empty());
    let names_resource = path.contains('{');
    let api = path.starts_with("/api/v1/");
    let mut codes = Vec::new();
    if has_body || has_parameters || (api && method != "get") {
        codes.push((
            "400",
            "the request is malformed, or a field is invalid (`field` names it)",
        ));
    }
    if secured || path.ends_with("/agent/enroll") {
        codes.push(("401", "no credential, or one the server does not know"));
        codes.push(("403", "the credential may not do this"));
    }
    if names_resource || method == "delete" || path.starts_with("/packages/") {
        codes.push(("404", "what the path names does not exist"));
    }
    if secured && matches!(method, "post" | "put" | "delete") {
        codes.push(("409", "the change conflicts with the current state (a name in use, a resource others refer to, an execution already open)"));
    }
    if has_body {
        codes.push(("413", "the body is larger than the route accepts"));
    }
    if secured || path.ends_with("/agent/enroll") {
        codes.push((
            "429",
            "too many failed authentications from this address; retry after `Retry-After` seconds",
        ));
    }
    if api {
        codes.push(("503", "the database cannot be reached; retry later"));
    }
    codes
}

/// `get /api/v1/windows/{id}/targets` → `get_windows_by_id_targets`.
fn operation_id(path: &str, method: &str) -> String {
    let mut id = method.to_owned();
    for segment in path.trim_start_matches("/api/v1").split('/') {
        if segment.is_empty() {
            continue;
        }
        id.push('_');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(parameter) => {
                id.push_str("by_");
                id.push_str(parameter);
            }
            None => id.extend(
                segment
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
            ),
        }
    }
    id
}

/// Completes every operation of `paths`: an `operationId`, the error answers
/// ([`error_responses`]) in place of a catch-all `default`, and `links` from each creation
/// (and list) to the operations on what it made, so a client (or a fuzzer's stateful phase)
/// can follow an id from the answer that gave it to the paths that take it.
fn complete_operations(paths: &mut Map<String, Value>) {
    let all: Vec<(String, Vec<String>)> = paths
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| (*method).to_owned())
                .collect();
            (path.clone(), methods)
        })
        .collect();
    let error_body = serde_json::json!({
        "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } }
    });
    for (path, item) in paths.iter_mut() {
        if path.starts_with("/ssm") {
            continue;
        }
        for method in METHODS {
            let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            operation.insert(
                "operationId".to_owned(),
                Value::String(operation_id(path, method)),
            );
            let codes = error_responses(path, method, operation);
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            responses.remove("default");
            for (code, description) in codes {
                responses.insert(
                    code.to_owned(),
                    serde_json::json!({ "description": description, "content": error_body }),
                );
            }
            for (code, response) in responses.iter_mut() {
                if !code.starts_with('2') {
                    continue;
                }
                let answer = response
                    .pointer("/content/application~1json/schema/$ref")
                    .and_then(Value::as_str)
                    .and_then(|reference| reference.rsplit('/').next())
                    .map(ToOwned::to_owned);
                let links = links_from(path, method, answer.as_deref(), &all);
                if links.is_empty() {
                    continue;
                }
                if let Some(response) = response.as_object_mut()
                    && response.get("content").is_some()
                {
                    response.insert("links".to_owned(), Value::Object(links));
                }
            }
        }
    }
}

/// Links from the answer of `method path`: a creation (POST on a collection) answers the new
/// resource, whose `id` the paths below it take; a list (GET on a collection) answers
/// resources, the first one's `id` likewise. Other path parameters come from the request.
fn links_from(
    path: &str,
    method: &str,
    answer: Option<&str>,
    all: &[(String, Vec<String>)],
) -> Map<String, Value> {
    let mut links = Map::new();
    // Creations of secrets answer `{info, token|code}`.
    let id = if answer.is_some_and(|name| name.ends_with("Created")) {
        "info/id"
    } else {
        "id"
    };
    let pointer = match method {
        "post" => format!("$response.body#/{id}"),
        "get" => format!("$response.body#/0/{id}"),
        _ => return links,
    };
    // Running a window opens an execution.
    if method == "post" && path.ends_with("/run") && answer == Some("Execution") {
        for (target, target_method) in [
            ("/api/v1/executions/{id}", "get"),
            ("/api/v1/executions/{id}/cancel", "post"),
        ] {
            links.insert(
                operation_id(target, target_method),
                serde_json::json!({
                    "operationId": operation_id(target, target_method),
                    "parameters": { "id": "$response.body#/id" },
                }),
            );
        }
        return links;
    }
    if path.ends_with('}') {
        return links;
    }
    let prefix = format!("{path}/{{");
    let known = path_parameters(path);
    for (target, methods) in all {
        let Some(rest) = target.strip_prefix(&prefix) else {
            continue;
        };
        let Some((new_parameter, _)) = rest.split_once('}') else {
            continue;
        };
        if path_parameters(target)
            .iter()
            .any(|name| name != new_parameter && !known.contains(name))
        {
            continue;
        }
        for target_method in methods {
            let mut parameters = Map::new();
            parameters.insert(new_parameter.to_owned(), Value::String(pointer.clone()));
            for name in &known {
                parameters.insert(name.clone(), Value::String(format!("$request.path.{name}")));
            }
            links.insert(
                operation_id(target, target_method),
                serde_json::json!({
                    "operationId": operation_id(target, target_method),
                    "parameters": parameters,
                }),
            );
        }
    }
    links
}

/// The `{name}`s of a path template.
fn path_parameters(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Reads the file, regenerates it and writes it back when it changed. Answers whether it
/// changed.
pub(crate) fn write() -> Result<bool, String> {
    let path = workspace_root().join(OPENAPI_FILE);
    let current = fs_err::read_to_string(&path).map_err(|error| error.to_string())?;
    let rendered = render(&current)?;
    if rendered == current {
        return Ok(false);
    }
    fs_err::write(&path, rendered).map_err(|error| error.to_string())?;
    Ok(true)
}

/// `value` with the keys of every object in sorted order, whatever map serde_json was built
/// with (`preserve_order` keeps insertion order).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Every `$ref` anywhere in `document`, in document order.
pub(crate) fn refs(document: &Value) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(reference)) => out.push(reference.clone()),
                        _ => walk(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(document, &mut out);
    out
}

/// The `$ref`s of `document` that do not point at something in it (sorted, deduplicated).
pub(crate) fn unresolved_refs(document: &Value) -> Vec<String> {
    let mut missing: Vec<String> = refs(document)
        .into_iter()
        .filter(|reference| {
            reference
                .strip_prefix('#')
                .is_none_or(|pointer| document.pointer(pointer).is_none())
        })
        .collect();
    missing.sort();
    missing.dedup();
    missing
}
