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
