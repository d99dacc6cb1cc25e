//! Baselines, default baselines and patch-group registrations: every rule of these operations,
//! for every face (native API, SSM API). Callers pass a validated core baseline; these
//! functions check what depends on the stored state, write, and audit.

use pw_api::baseline::to_toml;
use pw_core::baseline::{Baseline, OperatingSystem};
use pw_store::{BaselineRecord, PatchGroupRecord, ids};

use crate::AppState;
use crate::error::ApiError;
use crate::resolve::predefined;

/// A baseline as found by id: stored (with its record) or built-in.
pub(crate) struct FoundBaseline {
    pub(crate) record: Option<BaselineRecord>,
    pub(crate) baseline: Baseline,
}

impl FoundBaseline {
    pub(crate) fn predefined(&self) -> bool {
        self.record.is_none()
    }
}

fn refuse_builtin_name(baseline: &Baseline) -> Result<(), ApiError> {
    if predefined(&baseline.name).is_some() {
        return Err(ApiError::conflict(format!(
            "`{}` is the name of a built-in baseline",
            baseline.name
        )));
    }
    Ok(())
}

/// Stores a new baseline under a fresh `pb-` id.
pub(crate) async fn create(
    state: &AppState,
    actor: &str,
    baseline: &Baseline,
) -> Result<BaselineRecord, ApiError> {
    refuse_builtin_name(baseline)?;
    let now = state.now();
    let record = BaselineRecord {
        id: ids::short_id("pb-"),
        name: baseline.name.clone(),
        operating_system: baseline.operating_system.as_str().to_owned(),
        description: baseline.description.clone(),
        toml: to_toml(baseline),
        created_at: now,
        updated_at: now,
    };
    state.store().create_baseline(&record).await?;
    state
        .store()
        .audit(now, actor, "baseline.create", Some(&record.id), None)
        .await?;
    Ok(record)
}

/// A baseline by id; `NotFound` when there is none.
pub(crate) async fn get(state: &AppState, id: &str) -> Result<FoundBaseline, ApiError> {
    if let Some((_, baseline)) = predefined(id) {
        return Ok(FoundBaseline {
            record: None,
            baseline,
        });
    }
    let record = state
        .store()
        .baseline(id)
        .await?
        .ok_or_else(|| ApiError::not_found("baseline", id))?;
    let baseline = crate::resolve::parse_stored(id, &record.toml)?;
    Ok(FoundBaseline {
        record: Some(record),
        baseline,
    })
}

/// Replaces a stored baseline (same id).
pub(crate) async fn update(
    state: &AppState,
    actor: &str,
    id: &str,
    baseline: &Baseline,
) -> Result<BaselineRecord, ApiError> {
    if predefined(id).is_some() {
        return Err(ApiError::conflict(format!(
            "`{id}` is a built-in baseline and cannot change"
        )));
    }
    refuse_builtin_name(baseline)?;
    let now = state.now();
    let record = state
        .store()
        .update_baseline(
            id,
            &baseline.name,
            baseline.operating_system.as_str(),
            baseline.description.as_deref(),
            &to_toml(baseline),
            now,
        )
        .await?;
    state
        .store()
        .audit(now, actor, "baseline.update", Some(id), None)
        .await?;
    Ok(record)
}

/// Deletes a stored baseline that is not registered anywhere.
pub(crate) async fn delete(state: &AppState, actor: &str, id: &str) -> Result<(), ApiError> {
    if predefined(id).is_some() {
        return Err(ApiError::in_use(format!(
            "`{id}` is a built-in baseline and cannot be deleted"
        )));
    }
    let policies = crate::service::promotions::using_baseline(state, id).await?;
    if !policies.is_empty() {
        return Err(ApiError::in_use(format!(
            "baseline `{id}` is used by promotion policies {}: delete them first",
            policies.join(", ")
        )));
    }
    state.store().delete_baseline(id).await?;
    state
        .store()
        .audit(state.now(), actor, "baseline.delete", Some(id), None)
        .await?;
    Ok(())
}

/// The operating system of a baseline id (stored or built-in); `field` names the request
/// field for the error.
pub(crate) async fn baseline_os(
    state: &AppState,
    field: &str,
    id: &str,
) -> Result<OperatingSystem, ApiError> {
    if let Some((os, _)) = predefined(id) {
        return Ok(os);
    }
    let record = state
        .store()
        .baseline(id)
        .await?
        .ok_or_else(|| ApiError::missing_reference(field, "baseline", id))?;
    OperatingSystem::parse(&record.operating_system).ok_or_else(|| {
        ApiError::internal(format!(
            "stored baseline `{id}` has an unknown operating system"
        ))
    })
}

/// Parses an operating system name, naming `field` and the allowed values on error.
pub(crate) fn parse_os(field: &str, text: &str) -> Result<OperatingSystem, ApiError> {
    OperatingSystem::parse(text).ok_or_else(|| {
        let names: Vec<_> = OperatingSystem::ALL.iter().map(|os| os.as_str()).collect();
        ApiError::field(
            field,
            format!("`{text}` is not one of {}", names.join(", ")),
        )
    })
}

/// Makes `baseline_id` the default of its operating system (a built-in id returns to the
/// built-in default). Returns the operating system.
pub(crate) async fn register_default(
    state: &AppState,
    actor: &str,
    os: Option<OperatingSystem>,
    baseline_id: &str,
) -> Result<OperatingSystem, ApiError> {
    let baseline_os = baseline_os(state, "baseline_id", baseline_id).await?;
    if let Some(os) = os
        && baseline_os != os
    {
        return Err(ApiError::field(
            "baseline_id",
            format!(
                "baseline `{baseline_id}` is for {}, not {}",
                baseline_os.as_str(),
                os.as_str()
            ),
        ));
    }
    let now = state.now();
    if predefined(baseline_id).is_some() {
        state
            .store()
            .clear_default_baseline(baseline_os.as_str())
            .await?;
    } else {
        state
            .store()
            .set_default_baseline(baseline_os.as_str(), baseline_id, now)
            .await?;
    }
    state
        .store()
        .audit(
            now,
            actor,
            "default_baseline.register",
            Some(baseline_os.as_str()),
            None,
        )
        .await?;
    Ok(baseline_os)
}

/// Returns an operating system to its built-in default.
pub(crate) async fn clear_default(
    state: &AppState,
    actor: &str,
    os: OperatingSystem,
) -> Result<(), ApiError> {
    state.store().clear_default_baseline(os.as_str()).await?;
    state
        .store()
        .audit(
            state.now(),
            actor,
            "default_baseline.clear",
            Some(os.as_str()),
            None,
        )
        .await?;
    Ok(())
}

/// A patch group name: `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`, 1-256 characters (ssm-reference
/// §6.4); a `patch_group` field error otherwise.
pub(crate) fn check_patch_group(group: &str) -> Result<(), ApiError> {
    let n = group.chars().count();
    let valid = (1..=256).contains(&n)
        && group.chars().all(|c| {
            c.is_alphabetic() || c.is_numeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
        });
    if valid {
        Ok(())
    } else {
        Err(ApiError::field(
            "patch_group",
            "must be 1 to 256 letters, digits, spaces or `_.:/=+-@`",
        ))
    }
}

/// Registers `baseline_id` for `group` and the baseline's operating system.
pub(crate) async fn register_patch_group(
    state: &AppState,
    actor: &str,
    group: &str,
    baseline_id: &str,
) -> Result<PatchGroupRecord, ApiError> {
    check_patch_group(group)?;
    let os = baseline_os(state, "baseline_id", baseline_id).await?;
    let record = PatchGroupRecord {
        patch_group: group.to_owned(),
        operating_system: os.as_str().to_owned(),
        baseline_id: baseline_id.to_owned(),
    };
    let now = state.now();
    state.store().register_patch_group(&record, now).await?;
    state
        .store()
        .audit(now, actor, "patch_group.register", Some(group), None)
        .await?;
    Ok(record)
}

/// Removes the registration of `group` for `os`; `NotFound` when there is none.
pub(crate) async fn deregister_patch_group(
    state: &AppState,
    actor: &str,
    group: &str,
    os: OperatingSystem,
) -> Result<(), ApiError> {
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
            actor,
            "patch_group.deregister",
            Some(group),
            None,
        )
        .await?;
    Ok(())
}

/// One version a baseline approves, for listings (`DescribeEffectivePatchesForPatchBaseline`).
#[derive(Debug, Clone)]
pub(crate) struct EffectivePatch {
    pub(crate) name: String,
    pub(crate) arch: String,
    pub(crate) evr: pw_core::version::rpm::Evr,
    pub(crate) classification: Option<String>,
    pub(crate) severity: Option<String>,
    pub(crate) advisories: Vec<String>,
    pub(crate) cves: Vec<String>,
    pub(crate) compliance_level: pw_core::baseline::ComplianceLevel,
    /// Approved by an approved-patches entry rather than a rule.
    pub(crate) explicit: bool,
}

/// What the server knows of the repositories of one product: the union of the catalogs
/// its nodes uploaded with their inventories (the part of the repositories their installed
/// packages need; rpm systems).
#[derive(Debug, Default)]
pub(crate) struct KnownCatalog {
    pub(crate) product: String,
    pub(crate) packages: Vec<pw_core::repo::Package>,
    pub(crate) advisories: Vec<pw_core::repo::Advisory>,
    seen_packages: std::collections::HashSet<pw_core::nevra::Nevra>,
    seen_advisories: std::collections::HashSet<String>,
}

impl KnownCatalog {
    /// Adds what is not in the catalog yet.
    fn add(
        &mut self,
        packages: Vec<pw_core::repo::Package>,
        advisories: Vec<pw_core::repo::Advisory>,
    ) {
        for package in packages {
            if self.seen_packages.insert(package.nevra.clone()) {
                self.packages.push(package);
            }
        }
        for advisory in advisories {
            if self.seen_advisories.insert(advisory.id.clone()) {
                self.advisories.push(advisory);
            }
        }
    }
}

/// The known catalogs, one per (operating system, product), of `os` or of every system.
pub(crate) async fn known_catalogs(
    state: &AppState,
    os: Option<OperatingSystem>,
) -> Result<Vec<KnownCatalog>, ApiError> {
    let mut catalogs: std::collections::BTreeMap<(String, String), KnownCatalog> =
        std::collections::BTreeMap::new();
    for node in state.store().nodes().await? {
        if os.is_some_and(|os| node.operating_system != os.as_str()) {
            continue;
        }
        let Some(record) = state.store().inventory(&node.id).await? else {
            continue;
        };
        let upload: pw_api::server::agent::InventoryUpload =
            crate::service::stored_json("inventory", &record.inventory_json)?;
        let Some(catalog) = &upload.catalog else {
            continue;
        };
        let product = upload.facts.product.clone();
        let (packages, advisories) = catalog.to_core();
        catalogs
            .entry((node.operating_system.clone(), product.clone()))
            .or_insert_with(|| KnownCatalog {
                product,
                ..KnownCatalog::default()
            })
            .add(packages, advisories);
    }
    Ok(catalogs.into_values().collect())
}

/// One version an advisory of a known catalog lists and the catalog offers
/// (`DescribeAvailablePatches`).
#[derive(Debug, Clone)]
pub(crate) struct AvailablePatch {
    pub(crate) product: String,
    pub(crate) name: String,
    pub(crate) arch: String,
    pub(crate) evr: pw_core::version::rpm::Evr,
    /// Of the first advisory listing the version, as baseline filters see it.
    pub(crate) classification: String,
    pub(crate) severity: String,
    /// The first advisory's release instant (what approval delays count from).
    pub(crate) released: jiff::Timestamp,
    pub(crate) advisories: Vec<String>,
    pub(crate) cves: Vec<String>,
    pub(crate) bugzillas: Vec<String>,
}

/// Every version the known catalogs offer that an advisory lists, per product, ordered by
/// product, name, arch and version.
pub(crate) async fn available_patches(state: &AppState) -> Result<Vec<AvailablePatch>, ApiError> {
    use pw_core::evaluate::{advisory_properties, advisory_release_time};
    let mut out = Vec::new();
    for known in known_catalogs(state, None).await? {
        let offered: std::collections::HashSet<&pw_core::nevra::Nevra> =
            known.packages.iter().map(|p| &p.nevra).collect();
        let mut by_nevra: std::collections::BTreeMap<
            (&str, &str, &pw_core::version::rpm::Evr),
            AvailablePatch,
        > = std::collections::BTreeMap::new();
        for advisory in &known.advisories {
            let (classification, severity) = advisory_properties(advisory);
            let references = |kind: &str| -> Vec<String> {
                advisory
                    .references
                    .iter()
                    .filter(|r| r.kind.eq_ignore_ascii_case(kind) && !r.id.is_empty())
                    .map(|r| r.id.clone())
                    .collect()
            };
            for listed in &advisory.packages {
                let nevra = &listed.nevra;
                if !offered.contains(nevra) {
                    continue;
                }
                let patch = by_nevra
                    .entry((nevra.name.as_str(), nevra.arch.as_str(), &nevra.evr))
                    .or_insert_with(|| AvailablePatch {
                        product: known.product.clone(),
                        name: nevra.name.clone(),
                        arch: nevra.arch.clone(),
                        evr: nevra.evr.clone(),
                        classification: classification.clone(),
                        severity: severity.clone(),
                        released: advisory_release_time(advisory),
                        advisories: Vec::new(),
                        cves: Vec::new(),
                        bugzillas: Vec::new(),
                    });
                if !patch.advisories.contains(&advisory.id) {
                    patch.advisories.push(advisory.id.clone());
                }
                for cve in references("cve") {
                    if !patch.cves.contains(&cve) {
                        patch.cves.push(cve);
                    }
                }
                for bug in references("bugzilla") {
                    if !patch.bugzillas.contains(&bug) {
                        patch.bugzillas.push(bug);
                    }
                }
            }
        }
        out.extend(by_nevra.into_values());
    }
    Ok(out)
}

/// Every version `baseline` approves now among the repositories the server knows: the
/// catalogs of the inventories nodes of its operating system uploaded (rpm systems).
pub(crate) async fn effective_patches(
    state: &AppState,
    baseline: &Baseline,
) -> Result<Vec<EffectivePatch>, ApiError> {
    use pw_core::evaluate::{Approver, Catalog, Context, Snapshot};
    let os = baseline.operating_system;
    if os.family() == pw_core::baseline::Family::Apt {
        return Ok(Vec::new());
    }
    let mut merged = KnownCatalog::default();
    for known in known_catalogs(state, Some(os)).await? {
        if merged.product.is_empty() {
            merged.product = known.product;
        }
        merged.add(known.packages, known.advisories);
    }
    let KnownCatalog {
        product,
        packages,
        advisories,
        ..
    } = merged;
    let snapshot = Snapshot::build(
        baseline,
        Catalog {
            packages: &packages,
            advisories: &advisories,
        },
        Context {
            family: os.family_for_product(&product),
            product,
            now: state.now(),
        },
    );
    let mut out = Vec::new();
    for (name, entry) in snapshot.entries() {
        for candidate in &entry.approved {
            out.push(EffectivePatch {
                name: name.to_owned(),
                arch: entry.arch.clone(),
                evr: candidate.evr.clone(),
                classification: candidate.classification.clone(),
                severity: candidate.severity.clone(),
                advisories: candidate.advisories.clone(),
                cves: candidate.cves.clone(),
                compliance_level: candidate.compliance_level,
                explicit: matches!(candidate.approver, Approver::Entry(_)),
            });
        }
    }
    Ok(out)
}
