//! SSM operations on patch baselines, default baselines, patch groups and tags: translated to
//! and from the service layer (`crate::service::baselines`).
//!
//! Identifiers: stored baselines keep their `pb-` ids; the built-in default baselines appear
//! as AWS-owned baselines named `AWS-<System>DefaultPatchBaseline` with an ARN id
//! `arn:aws:ssm:REGION:ACCOUNT:patchbaseline/pb-<17 hex>` (a stable hash of the name; any
//! region is accepted back).

use jiff::Timestamp;
use pw_api::baseline::AwsPatchBaseline;
use pw_core::baseline::{Baseline, OperatingSystem, default_baseline_name};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{Input, Principal, SsmError, epoch, key_values, paged};
use crate::AppState;
use crate::resolve::{Registrations, predefined};
use crate::service::baselines as service;

/// The operations this face answers.
pub(crate) const OPERATIONS: &[&str] = &[
    "CreatePatchBaseline",
    "GetPatchBaseline",
    "UpdatePatchBaseline",
    "DeletePatchBaseline",
    "DescribePatchBaselines",
    "RegisterDefaultPatchBaseline",
    "GetDefaultPatchBaseline",
    "RegisterPatchBaselineForPatchGroup",
    "DeregisterPatchBaselineForPatchGroup",
    "GetPatchBaselineForPatchGroup",
    "DescribePatchGroups",
    "AddTagsToResource",
    "ListTagsForResource",
    "RemoveTagsFromResource",
    "DescribeEffectivePatchesForPatchBaseline",
    "DescribeAvailablePatches",
];

/// The account id in ARNs.
const ACCOUNT: &str = "000000000000";

/// AWS's name of the built-in default baseline of `os`.
fn aws_name(os: OperatingSystem) -> String {
    let system = match os {
        OperatingSystem::AmazonLinux => "AmazonLinux",
        OperatingSystem::AmazonLinux2 => "AmazonLinux2",
        OperatingSystem::AmazonLinux2022 => "AmazonLinux2022",
        OperatingSystem::AmazonLinux2023 => "AmazonLinux2023",
        OperatingSystem::RedhatEnterpriseLinux => "RedHat",
        OperatingSystem::Centos => "CentOS",
        OperatingSystem::OracleLinux => "OracleLinux",
        OperatingSystem::RockyLinux => "RockyLinux",
        OperatingSystem::AlmaLinux => "AlmaLinux",
        OperatingSystem::Debian => "Debian",
        OperatingSystem::Ubuntu => "Ubuntu",
    };
    format!("AWS-{system}DefaultPatchBaseline")
}

/// `pb-` and 17 hex digits of the built-in baseline of `os`: stable across servers.
fn builtin_short_id(os: OperatingSystem) -> String {
    let digest = Sha256::digest(default_baseline_name(os).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("pb-{}", &hex[..17])
}

fn builtin_arn(os: OperatingSystem, region: &str) -> String {
    format!(
        "arn:aws:ssm:{region}:{ACCOUNT}:patchbaseline/{}",
        builtin_short_id(os)
    )
}

/// The SSM id of a native baseline id.
pub(crate) fn ssm_id(native: &str, region: &str) -> String {
    match predefined(native) {
        Some((os, _)) => builtin_arn(os, region),
        None => native.to_owned(),
    }
}

/// The native id of an SSM baseline id (a `pb-` id, or an ARN ending in one).
fn native_id(ssm: &str) -> String {
    let short = ssm.rsplit('/').next().unwrap_or(ssm);
    OperatingSystem::ALL
        .into_iter()
        .find(|os| builtin_short_id(*os) == short || aws_name(*os) == ssm)
        .map_or_else(
            || short.to_owned(),
            |os| default_baseline_name(os).to_owned(),
        )
}

fn baseline_id_member(input: &Input, member: &str) -> Result<String, SsmError> {
    let id = input.required(member, 20..=128)?;
    let short = id.rsplit('/').next().unwrap_or(&id);
    let ok = short.len() == 20
        && short.starts_with("pb-")
        && short[3..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(SsmError::validation(format!(
            "1 validation error detected: Value '{id}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-:/]{{20,128}}$",
            super::camel(member)
        )));
    }
    Ok(native_id(&id))
}

fn parse_os_member(input: &Input) -> Result<OperatingSystem, SsmError> {
    let text = input
        .string("OperatingSystem", false, 1..=64)?
        .unwrap_or_else(|| "WINDOWS".to_owned());
    OperatingSystem::parse(&text).ok_or_else(|| {
        let names: Vec<&str> = OperatingSystem::ALL.iter().map(|os| os.as_str()).collect();
        SsmError::validation(format!(
            "OperatingSystem {text} is not supported by Patchwarden; use one of {}",
            names.join(", ")
        ))
    })
}

/// Members the baseline shape has; `Tags`, `ClientToken` and `BaselineId`/`Replace` are
/// handled by the operations.
const BASELINE_MEMBERS: &[&str] = &[
    "Name",
    "OperatingSystem",
    "GlobalFilters",
    "ApprovalRules",
    "ApprovedPatches",
    "ApprovedPatchesComplianceLevel",
    "ApprovedPatchesEnableNonSecurity",
    "RejectedPatches",
    "RejectedPatchesAction",
    "Description",
];

/// Baseline members kept and answered back, not used: `Sources` (the host's own repositories
/// are what Patchwarden evaluates) and `AvailableSecurityUpdatesComplianceStatus` (Windows).
const KEPT_BASELINE_MEMBERS: &[&str] = &["Sources", "AvailableSecurityUpdatesComplianceStatus"];

/// Checks the kept baseline members against the model.
fn check_kept(input: &Input) -> Result<(), SsmError> {
    super::check_enum(
        input.get("AvailableSecurityUpdatesComplianceStatus"),
        "availableSecurityUpdatesComplianceStatus",
        &["COMPLIANT", "NON_COMPLIANT"],
    )?;
    let Some(sources) = input.get("Sources") else {
        return Ok(());
    };
    let sources = sources
        .as_array()
        .ok_or_else(|| SsmError::new("SerializationException", "Sources must be a list"))?;
    if sources.len() > 20 {
        return Err(SsmError::validation(
            "1 validation error detected: Value at 'sources' failed to satisfy constraint: Member must have length less than or equal to 20",
        ));
    }
    for (i, source) in sources.iter().enumerate() {
        let path = format!("sources.{}", i + 1);
        let name = source.get("Name");
        super::check_string(name, &format!("{path}.member.name"), true, 3..=50)?;
        if let Some(name) = name.and_then(Value::as_str)
            && !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        {
            return Err(SsmError::validation(format!(
                "1 validation error detected: Value '{name}' at '{path}.member.name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{{3,50}}$"
            )));
        }
        super::check_string(
            source.get("Configuration"),
            &format!("{path}.member.configuration"),
            true,
            1..=1024,
        )?;
        let products = source.get("Products").and_then(Value::as_array);
        let ok = products.is_some_and(|p| {
            (1..=20).contains(&p.len())
                && p.iter().all(|v| {
                    v.as_str()
                        .is_some_and(|t| (1..=128).contains(&t.chars().count()))
                })
        });
        if !ok {
            return Err(SsmError::validation(format!(
                "{path}.member.products: 1 to 20 products of 1 to 128 characters are required"
            )));
        }
    }
    Ok(())
}

/// The kept members over the wire map of a baseline (`Sources` always present).
async fn with_kept(
    state: &AppState,
    id: &str,
    mut map: Map<String, Value>,
) -> Result<Map<String, Value>, SsmError> {
    for (key, value) in super::kept_members(state, "PatchBaseline", id).await? {
        map.insert(key, value);
    }
    map.entry("Sources").or_insert_with(|| json!([]));
    Ok(map)
}

/// A core baseline from the baseline members of `members`.
fn to_core(members: &Map<String, Value>) -> Result<Baseline, SsmError> {
    if let Some(Value::String(os)) = members.get("OperatingSystem")
        && OperatingSystem::parse(os).is_none()
    {
        return Err(SsmError::validation(format!(
            "OperatingSystem {os} is not supported by Patchwarden (Linux systems only)"
        )));
    }
    let shape: AwsPatchBaseline = serde_json::from_value(Value::Object(members.clone()))
        .map_err(|error| SsmError::new("SerializationException", error.to_string()))?;
    let (baseline, _warnings) = shape
        .to_core()
        .map_err(|error| SsmError::validation(error.to_string()))?;
    Ok(baseline)
}

/// The SSM shape of a baseline (GetPatchBaseline's members).
fn to_wire(baseline: &Baseline, now: Timestamp) -> Map<String, Value> {
    let Value::Object(mut map) =
        serde_json::to_value(AwsPatchBaseline::from_core(baseline, now)).unwrap_or_default()
    else {
        return Map::new();
    };
    map.entry("GlobalFilters")
        .or_insert_with(|| json!({"PatchFilters": []}));
    map.entry("ApprovalRules")
        .or_insert_with(|| json!({"PatchRules": []}));
    map.entry("Sources").or_insert_with(|| json!([]));
    map.entry("ApprovedPatchesComplianceLevel")
        .or_insert_with(|| json!("UNSPECIFIED"));
    map.entry("ApprovedPatchesEnableNonSecurity")
        .or_insert_with(|| json!(false));
    map.entry("RejectedPatchesAction")
        .or_insert_with(|| json!("ALLOW_AS_DEPENDENCY"));
    map
}

pub(crate) async fn dispatch(
    state: &AppState,
    principal: &Principal,
    operation: &str,
    input: &Input,
) -> Result<Value, SsmError> {
    match operation {
        "CreatePatchBaseline" => create(state, principal, input).await,
        "GetPatchBaseline" => get(state, principal, input).await,
        "UpdatePatchBaseline" => update(state, principal, input).await,
        "DeletePatchBaseline" => {
            let id = baseline_id_member(input, "BaselineId")?;
            service::delete(state, &principal.actor(), &id).await?;
            state
                .store()
                .remove_resource_tags("PatchBaseline", &id, None)
                .await?;
            super::keep_members(state, "PatchBaseline", &id, &Map::new()).await?;
            Ok(json!({"BaselineId": ssm_id(&id, &principal.region)}))
        }
        "DescribePatchBaselines" => describe(state, principal, input).await,
        "RegisterDefaultPatchBaseline" => {
            let id = baseline_id_member(input, "BaselineId")?;
            service::register_default(state, &principal.actor(), None, &id).await?;
            Ok(json!({"BaselineId": ssm_id(&id, &principal.region)}))
        }
        "GetDefaultPatchBaseline" => {
            let os = parse_os_member(input)?;
            let registrations = Registrations::load(state.store()).await?;
            Ok(json!({
                "BaselineId": ssm_id(&registrations.default_for(os), &principal.region),
                "OperatingSystem": os.as_str(),
            }))
        }
        "RegisterPatchBaselineForPatchGroup" => {
            let id = baseline_id_member(input, "BaselineId")?;
            let group = input.required("PatchGroup", 1..=256)?;
            service::register_patch_group(state, &principal.actor(), &group, &id).await?;
            Ok(json!({"BaselineId": ssm_id(&id, &principal.region), "PatchGroup": group}))
        }
        "DeregisterPatchBaselineForPatchGroup" => {
            let id = baseline_id_member(input, "BaselineId")?;
            let group = input.required("PatchGroup", 1..=256)?;
            let os = service::baseline_os(state, "BaselineId", &id).await?;
            let registrations = Registrations::load(state.store()).await?;
            if !registrations.groups_of(&id).contains(&group) {
                return Err(SsmError::does_not_exist(format!(
                    "Patch Baseline {} is not registered for patch group {group}.",
                    ssm_id(&id, &principal.region)
                )));
            }
            service::deregister_patch_group(state, &principal.actor(), &group, os).await?;
            Ok(json!({"BaselineId": ssm_id(&id, &principal.region), "PatchGroup": group}))
        }
        "GetPatchBaselineForPatchGroup" => {
            let group = input.required("PatchGroup", 1..=256)?;
            let os = parse_os_member(input)?;
            let records = state.store().patch_groups().await?;
            let id = match records
                .iter()
                .find(|r| r.patch_group == group && r.operating_system == os.as_str())
            {
                Some(record) => record.baseline_id.clone(),
                None => Registrations::load(state.store()).await?.default_for(os),
            };
            Ok(json!({
                "BaselineId": ssm_id(&id, &principal.region),
                "PatchGroup": group,
                "OperatingSystem": os.as_str(),
            }))
        }
        "DescribePatchGroups" => describe_patch_groups(state, principal, input).await,
        "DescribeEffectivePatchesForPatchBaseline" => {
            let id = baseline_id_member(input, "BaselineId")?;
            let max = input.max_results(1..=100, 100)?;
            let found = service::get(state, &id).await?;
            let patches = service::effective_patches(state, &found.baseline).await?;
            let items: Vec<Value> = patches
                .iter()
                .map(|p| {
                    let mut patch = Map::new();
                    patch.insert(
                        "Id".to_owned(),
                        json!(format!("{}.{}:{}", p.name, p.arch, p.evr)),
                    );
                    patch.insert("Name".to_owned(), json!(p.name));
                    patch.insert("Arch".to_owned(), json!(p.arch));
                    patch.insert("Epoch".to_owned(), json!(p.evr.epoch));
                    patch.insert("Version".to_owned(), json!(p.evr.version));
                    patch.insert("Release".to_owned(), json!(p.evr.release));
                    patch.insert(
                        "Title".to_owned(),
                        json!(format!("{}-{}.{}", p.name, p.evr, p.arch)),
                    );
                    if let Some(c) = &p.classification {
                        patch.insert("Classification".to_owned(), json!(c));
                    }
                    if let Some(s) = &p.severity {
                        patch.insert("Severity".to_owned(), json!(s));
                    }
                    patch.insert("AdvisoryIds".to_owned(), json!(p.advisories));
                    patch.insert("CVEIds".to_owned(), json!(p.cves));
                    json!({
                        "Patch": patch,
                        "PatchStatus": {
                            "DeploymentStatus": if p.explicit { "EXPLICIT_APPROVED" } else { "APPROVED" },
                            "ComplianceLevel": p.compliance_level.as_str(),
                        },
                    })
                })
                .collect();
            paged(&items, input, max, "EffectivePatches")
        }
        "DescribeAvailablePatches" => available_patches(state, input).await,
        "AddTagsToResource" | "ListTagsForResource" | "RemoveTagsFromResource" => {
            tags(state, principal, operation, input).await
        }
        _ => Err(SsmError::new(
            "UnknownOperationException",
            format!("{operation} is not supported"),
        )),
    }
}

/// The tags of a create or of `AddTagsToResource` (`required`), checked as a resource's tags
/// are: keys 1 to 128 and values at most 256 characters, both present, no key twice, no
/// `aws:` prefix, at most 50 (`TooManyTagsError`).
pub(crate) fn tag_list(
    input: &Input,
    member: &str,
    required: bool,
) -> Result<Vec<(String, String)>, SsmError> {
    let Some(value) = input.get(member) else {
        if required {
            return Err(SsmError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                super::camel(member)
            )));
        }
        return Ok(Vec::new());
    };
    let items = value.as_array().ok_or_else(|| {
        SsmError::new("SerializationException", format!("{member} must be a list"))
    })?;
    if items.len() > 1000 {
        return Err(SsmError::validation(format!("{member}: at most 1000 tags")));
    }
    let mut tags: Vec<(String, String)> = Vec::with_capacity(items.len());
    for tag in items {
        let (Some(key), Some(value)) = (
            tag.get("Key").and_then(Value::as_str),
            tag.get("Value").and_then(Value::as_str),
        ) else {
            return Err(SsmError::validation(format!(
                "{member}: every tag needs a Key and a Value (strings)"
            )));
        };
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(SsmError::validation(format!(
                "tag `{key}`: keys are 1 to 128 characters, values at most 256"
            )));
        }
        if key.starts_with("aws:") {
            return Err(SsmError::validation(format!(
                "tag `{key}`: keys starting with aws: are reserved"
            )));
        }
        if tags.iter().any(|(k, _)| k == key) {
            return Err(SsmError::validation(format!(
                "{member}: the key `{key}` is given twice"
            )));
        }
        tags.push((key.to_owned(), value.to_owned()));
    }
    merged(Vec::new(), tags)
}

async fn create(state: &AppState, principal: &Principal, input: &Input) -> Result<Value, SsmError> {
    input.required("Name", 3..=128)?;
    if let Some(id) = super::earlier_result(state, "CreatePatchBaseline", input).await? {
        return Ok(json!({"BaselineId": id}));
    }
    parse_os_member(input)?;
    let tags = tag_list(input, "Tags", false)?;
    let members: Map<String, Value> = input
        .0
        .iter()
        .filter(|(k, _)| BASELINE_MEMBERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    check_kept(input)?;
    let baseline = to_core(&members)?;
    let record = service::create(state, &principal.actor(), &baseline).await?;
    let kept = super::lay_over(Map::new(), input, KEPT_BASELINE_MEMBERS, true);
    super::keep_members(state, "PatchBaseline", &record.id, &kept).await?;
    if !tags.is_empty() {
        state
            .store()
            .add_resource_tags("PatchBaseline", &record.id, &tags)
            .await?;
    }
    super::record_result(state, "CreatePatchBaseline", input, &record.id).await?;
    Ok(json!({"BaselineId": record.id}))
}

async fn get(state: &AppState, principal: &Principal, input: &Input) -> Result<Value, SsmError> {
    let id = baseline_id_member(input, "BaselineId")?;
    let found = service::get(state, &id).await?;
    let registrations = Registrations::load(state.store()).await?;
    let mut map = to_wire(&found.baseline, state.now());
    map.insert(
        "BaselineId".to_owned(),
        json!(ssm_id(&id, &principal.region)),
    );
    if found.predefined() {
        map.insert(
            "Name".to_owned(),
            json!(aws_name(found.baseline.operating_system)),
        );
    }
    map.insert(
        "PatchGroups".to_owned(),
        json!(registrations.groups_of(&id)),
    );
    if let Some(record) = &found.record {
        map.insert("CreatedDate".to_owned(), epoch(record.created_at));
        map.insert("ModifiedDate".to_owned(), epoch(record.updated_at));
    }
    Ok(Value::Object(with_kept(state, &id, map).await?))
}

async fn update(state: &AppState, principal: &Principal, input: &Input) -> Result<Value, SsmError> {
    let id = baseline_id_member(input, "BaselineId")?;
    let replace = super::check_bool(input.get("Replace"), "Replace")?.unwrap_or(false);
    check_kept(input)?;
    let found = service::get(state, &id).await?;
    if found.predefined() {
        return Err(SsmError::new(
            "AccessDeniedException",
            "an AWS-owned baseline cannot be updated",
        ));
    }
    let old = &found.baseline;
    // Start from the stored baseline (or, with Replace, from nothing but its system) and lay
    // the given members over it.
    let mut members = if replace {
        let mut map = Map::new();
        map.insert(
            "OperatingSystem".to_owned(),
            json!(old.operating_system.as_str()),
        );
        map
    } else {
        to_wire(old, state.now())
    };
    for member in BASELINE_MEMBERS {
        if *member == "OperatingSystem" {
            continue;
        }
        if let Some(value) = input.0.get(*member) {
            if value.is_null() {
                members.remove(*member);
            } else {
                members.insert((*member).to_owned(), value.clone());
            }
        }
    }
    if replace && !input.has("Name") {
        return Err(SsmError::validation(
            "Name is required when Replace is true",
        ));
    }
    let mut baseline = to_core(&members)?;
    // What the SSM shape cannot say survives an update that does not touch it: rolling
    // until-dates of rules, exceptions' owner/reason/expiry, and the release table.
    if !replace {
        if !input.has("ApprovalRules") {
            baseline.rules = old.rules.clone();
        }
        if !input.has("ApprovedPatches") {
            baseline.approved = old.approved.clone();
        }
        if !input.has("RejectedPatches") {
            baseline.rejected = old.rejected.clone();
        }
    }
    baseline.release = old.release.clone();
    let record = service::update(state, &principal.actor(), &id, &baseline).await?;
    let old_kept = super::kept_members(state, "PatchBaseline", &id).await?;
    let kept = super::lay_over(old_kept, input, KEPT_BASELINE_MEMBERS, replace);
    super::keep_members(state, "PatchBaseline", &id, &kept).await?;
    let mut map = to_wire(&baseline, state.now());
    map.insert("BaselineId".to_owned(), json!(id));
    map.insert("CreatedDate".to_owned(), epoch(record.created_at));
    map.insert("ModifiedDate".to_owned(), epoch(record.updated_at));
    Ok(Value::Object(with_kept(state, &id, map).await?))
}

/// One `BaselineIdentity`.
fn identity(id: &str, name: &str, os: &str, description: Option<&str>, default: bool) -> Value {
    let mut map = Map::new();
    map.insert("BaselineId".to_owned(), json!(id));
    map.insert("BaselineName".to_owned(), json!(name));
    map.insert("OperatingSystem".to_owned(), json!(os));
    if let Some(description) = description {
        map.insert("BaselineDescription".to_owned(), json!(description));
    }
    map.insert("DefaultBaseline".to_owned(), json!(default));
    Value::Object(map)
}

/// Every baseline as (owner, identity), built-in ones first.
async fn identities(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<(&'static str, String, Value)>, SsmError> {
    let registrations = Registrations::load(state.store()).await?;
    let mut all = Vec::new();
    for os in OperatingSystem::ALL {
        let native = default_baseline_name(os);
        all.push((
            "AWS",
            native.to_owned(),
            identity(
                &builtin_arn(os, &principal.region),
                &aws_name(os),
                os.as_str(),
                Some("Default patch baseline of Patchwarden (the built-in rules of the original)"),
                registrations.default_is_predefined(os),
            ),
        ));
    }
    for record in state.store().baselines().await? {
        all.push((
            "Self",
            record.id.clone(),
            identity(
                &record.id,
                &record.name,
                &record.operating_system,
                record.description.as_deref(),
                registrations.is_default(&record.id),
            ),
        ));
    }
    Ok(all)
}

fn filters(input: &Input, allowed: &[&str]) -> Result<Vec<(String, Vec<String>)>, SsmError> {
    if input.get("Filters").is_some_and(|v| !v.is_array()) {
        return Err(SsmError::new(
            "SerializationException",
            "Filters must be a list",
        ));
    }
    let filters = key_values(input.get("Filters"), "Key", "Values");
    if let Some((key, _)) = filters
        .iter()
        .find(|(key, _)| !allowed.contains(&key.as_str()))
    {
        return Err(SsmError::validation(format!(
            "filter key `{key}` is not supported; use one of {}",
            allowed.join(", ")
        )));
    }
    Ok(filters)
}

async fn describe(
    state: &AppState,
    principal: &Principal,
    input: &Input,
) -> Result<Value, SsmError> {
    let max = input.max_results(1..=100, 100)?;
    let filters = filters(input, &["NAME_PREFIX", "OWNER", "OPERATING_SYSTEM"])?;
    let items: Vec<Value> = identities(state, principal)
        .await?
        .into_iter()
        .filter(|(owner, _, identity)| {
            filters.iter().all(|(key, values)| {
                let field = |name: &str| identity.get(name).and_then(Value::as_str).unwrap_or("");
                values.is_empty()
                    || values.iter().any(|v| match key.as_str() {
                        "NAME_PREFIX" => field("BaselineName").starts_with(v.as_str()),
                        "OWNER" => owner.eq_ignore_ascii_case(v),
                        _ => field("OperatingSystem") == v,
                    })
            })
        })
        .map(|(_, _, identity)| identity)
        .collect();
    paged(&items, input, max, "BaselineIdentities")
}

async fn describe_patch_groups(
    state: &AppState,
    principal: &Principal,
    input: &Input,
) -> Result<Value, SsmError> {
    let max = input.max_results(1..=100, 100)?;
    let filters = filters(input, &["NAME_PREFIX", "OPERATING_SYSTEM"])?;
    let identities = identities(state, principal).await?;
    let mut records = state.store().patch_groups().await?;
    records.sort_by(|a, b| {
        (&a.patch_group, &a.operating_system).cmp(&(&b.patch_group, &b.operating_system))
    });
    let items: Vec<Value> = records
        .iter()
        .filter(|record| {
            filters.iter().all(|(key, values)| {
                values.is_empty()
                    || values.iter().any(|v| match key.as_str() {
                        "NAME_PREFIX" => record.patch_group.starts_with(v.as_str()),
                        _ => record.operating_system == *v,
                    })
            })
        })
        .filter_map(|record| {
            let identity = identities
                .iter()
                .find(|(_, native, _)| *native == record.baseline_id)?;
            Some(json!({"PatchGroup": record.patch_group, "BaselineIdentity": identity.2}))
        })
        .collect();
    paged(&items, input, max, "Mappings")
}

/// `tags` with `new` laid over them (a key given again takes the new value), checked: at
/// most 50, each key and value as the native API checks them
/// (`crate::service::nodes::tags_from_wire`).
fn merged(
    mut tags: Vec<(String, String)>,
    new: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, SsmError> {
    for (key, value) in new {
        match tags.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => tags.push((key, value)),
        }
    }
    if tags.len() > 50 {
        return Err(SsmError::new(
            "TooManyTagsError",
            "a resource has at most 50 tags",
        ));
    }
    let wire: Vec<pw_api::server::tokens::Tag> = tags
        .into_iter()
        .map(|(key, value)| pw_api::server::tokens::Tag { key, value })
        .collect();
    Ok(crate::service::nodes::tags_from_wire("Tags", &wire)?)
}

fn tag_list_output(tags: Vec<(String, String)>) -> Value {
    let list: Vec<Value> = tags
        .into_iter()
        .map(|(key, value)| json!({"Key": key, "Value": value}))
        .collect();
    json!({ "TagList": list })
}

/// Tags of a managed node: its own tags (the `Patch Group` tag picks its patch group).
async fn node_tags(
    state: &AppState,
    principal: &Principal,
    operation: &str,
    input: &Input,
    node: pw_store::NodeRecord,
) -> Result<Value, SsmError> {
    let tags = match operation {
        "AddTagsToResource" => merged(node.tags, tag_list(input, "Tags", true)?)?,
        "RemoveTagsFromResource" => {
            let keys = tag_keys(input)?;
            let mut tags = node.tags;
            tags.retain(|(k, _)| !keys.contains(k));
            tags
        }
        _ => return Ok(tag_list_output(node.tags)),
    };
    crate::service::nodes::set_tags(state, &principal.actor(), &node.id, &tags).await?;
    Ok(json!({}))
}

async fn tags(
    state: &AppState,
    principal: &Principal,
    operation: &str,
    input: &Input,
) -> Result<Value, SsmError> {
    let kind = input.required("ResourceType", 1..=64)?;
    let id = input.required("ResourceId", 1..=256)?;
    let store = state.store();
    let native = match kind.as_str() {
        "PatchBaseline" => {
            let native = native_id(&id);
            if predefined(&native).is_some() {
                return Err(SsmError::new(
                    "InvalidResourceId",
                    "AWS-owned baselines carry no tags",
                ));
            }
            if store.baseline(&native).await?.is_none() {
                return Err(SsmError::new(
                    "InvalidResourceId",
                    format!("baseline {id} does not exist"),
                ));
            }
            native
        }
        "MaintenanceWindow" => {
            if store.window(&id).await?.is_none() {
                return Err(SsmError::new(
                    "InvalidResourceId",
                    format!("window {id} does not exist"),
                ));
            }
            id.clone()
        }
        "ManagedInstance" => {
            let node = store.node(&id).await?.ok_or_else(|| {
                SsmError::new("InvalidResourceId", format!("node {id} does not exist"))
            })?;
            return node_tags(state, principal, operation, input, node).await;
        }
        other => {
            return Err(SsmError::new(
                "InvalidResourceType",
                format!(
                    "tags of {other} resources are not supported here (PatchBaseline and MaintenanceWindow are)"
                ),
            ));
        }
    };
    match operation {
        "AddTagsToResource" => {
            let tags = tag_list(input, "Tags", true)?;
            merged(store.resource_tags(&kind, &native).await?, tags.clone())?;
            store.add_resource_tags(&kind, &native, &tags).await?;
            Ok(json!({}))
        }
        "RemoveTagsFromResource" => {
            let keys = tag_keys(input)?;
            store
                .remove_resource_tags(&kind, &native, Some(&keys))
                .await?;
            Ok(json!({}))
        }
        _ => Ok(tag_list_output(store.resource_tags(&kind, &native).await?)),
    }
}

/// The keys `DescribeAvailablePatches` filters Linux patches by.
const AVAILABLE_KEYS: [&str; 12] = [
    "PRODUCT",
    "NAME",
    "CLASSIFICATION",
    "SEVERITY",
    "EPOCH",
    "VERSION",
    "RELEASE",
    "ARCH",
    "ADVISORY_ID",
    "CVE_ID",
    "BUGZILLA_ID",
    "REPOSITORY",
];

/// `DescribeAvailablePatches`: the versions the known catalogs offer that an advisory lists
/// (`service::available_patches`), filtered as SSM filters Linux patches.
async fn available_patches(state: &AppState, input: &Input) -> Result<Value, SsmError> {
    let max = input.max_results(1..=100, 100)?;
    let filters = key_values(input.get("Filters"), "Key", "Values");
    if filters.len() > 5 {
        return Err(SsmError::validation(
            "1 validation error detected: Value at 'filters' failed to satisfy constraint: Member must have length less than or equal to 5",
        ));
    }
    for (key, values) in &filters {
        if !AVAILABLE_KEYS.contains(&key.as_str()) {
            return Err(SsmError::validation(format!(
                "Filters: key {key:?} is not supported; Linux patches are filtered by {}",
                AVAILABLE_KEYS.join(", ")
            )));
        }
        if key == "REPOSITORY" {
            return Err(SsmError::validation(
                "Filters: REPOSITORY is not supported: the catalogs nodes upload do not say which repository offers a version",
            ));
        }
        if let Some(bad) = values
            .iter()
            .find(|v| v.is_empty() || v.chars().count() > 256)
        {
            return Err(SsmError::validation(format!(
                "Filters: value {bad:?} of {key}: values are 1 to 256 characters"
            )));
        }
    }
    let patches = service::available_patches(state).await?;
    let items: Vec<Value> = patches
        .iter()
        .filter(|p| {
            filters
                .iter()
                .all(|(key, values)| available_filter_matches(p, key, values))
        })
        .map(|p| {
            let mut patch = Map::new();
            patch.insert(
                "Id".to_owned(),
                json!(format!("{}.{}:{}", p.name, p.arch, p.evr)),
            );
            patch.insert("ReleaseDate".to_owned(), epoch(p.released));
            patch.insert(
                "Title".to_owned(),
                json!(format!("{}-{}.{}", p.name, p.evr, p.arch)),
            );
            patch.insert("Product".to_owned(), json!(p.product));
            patch.insert("Classification".to_owned(), json!(p.classification));
            patch.insert("Severity".to_owned(), json!(p.severity));
            patch.insert("Name".to_owned(), json!(p.name));
            patch.insert("Epoch".to_owned(), json!(p.evr.epoch));
            patch.insert("Version".to_owned(), json!(p.evr.version));
            patch.insert("Release".to_owned(), json!(p.evr.release));
            patch.insert("Arch".to_owned(), json!(p.arch));
            patch.insert("AdvisoryIds".to_owned(), json!(p.advisories));
            patch.insert("CVEIds".to_owned(), json!(p.cves));
            patch.insert("BugzillaIds".to_owned(), json!(p.bugzillas));
            Value::Object(patch)
        })
        .collect();
    paged(&items, input, max, "Patches")
}

/// Whether one filter of `DescribeAvailablePatches` matches: `*` matches anything; product,
/// classification, severity and ids compare without case; `AmazonLinux2.0` names
/// `AmazonLinux2` as SSM's samples do.
fn available_filter_matches(patch: &service::AvailablePatch, key: &str, values: &[String]) -> bool {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    values.iter().any(|value| {
        value == "*"
            || match key {
                "PRODUCT" => {
                    same(value, &patch.product)
                        || value
                            .strip_suffix(".0")
                            .is_some_and(|v| same(v, &patch.product))
                }
                "NAME" => *value == patch.name,
                "CLASSIFICATION" => same(value, &patch.classification),
                "SEVERITY" => same(value, &patch.severity),
                "EPOCH" => value.parse::<u32>().ok() == Some(patch.evr.epoch),
                "VERSION" => *value == patch.evr.version,
                "RELEASE" => *value == patch.evr.release,
                "ARCH" => *value == patch.arch,
                "ADVISORY_ID" => patch.advisories.iter().any(|a| same(a, value)),
                "CVE_ID" => patch.cves.iter().any(|c| same(c, value)),
                "BUGZILLA_ID" => patch.bugzillas.iter().any(|b| same(b, value)),
                _ => false,
            }
    })
}

/// `TagKeys` of `RemoveTagsFromResource`: required, each key 1 to 128 characters.
fn tag_keys(input: &Input) -> Result<Vec<String>, SsmError> {
    let list = input.get("TagKeys").ok_or_else(|| {
        SsmError::validation(
            "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let keys = list
        .as_array()
        .ok_or_else(|| SsmError::new("SerializationException", "TagKeys must be a list"))?;
    keys.iter()
        .map(|key| match key.as_str() {
            Some(text) if (1..=128).contains(&text.chars().count()) => Ok(text.to_owned()),
            Some(text) => Err(SsmError::validation(format!(
                "TagKeys: `{text}` is not 1 to 128 characters"
            ))),
            None => Err(SsmError::new(
                "SerializationException",
                "TagKeys must be a list of strings",
            )),
        })
        .collect()
}
