//! Previews (`POST /api/v1/preview`, the console's node page): what each node would get from
//! a baseline, computed from the inventories agents uploaded (their installed packages and
//! the compact catalog of their repositories; for Debian and Ubuntu the installed debs and
//! their available versions), with the same core evaluation the agent runs. No node is
//! contacted.

use std::sync::Arc;

use jiff::Timestamp;
use pw_api::evaluation::EvaluationJson;
use pw_api::server::agent::{
    AptInventoryJson, InventoryUpload, NodePreview, PreviewRequest, PreviewResponse,
};
use pw_core::baseline::{Baseline, Family, OperatingSystem};
use pw_core::evaluate::apt::{AptContext, AptHost, DebTarget, evaluate_apt};
use pw_core::evaluate::{Catalog, Context, EvaluateOptions, InstalledPackage, Snapshot};
use pw_core::nevra::Nevra;
use pw_store::NodeRecord;

use crate::AppState;
use crate::error::ApiError;
use crate::resolve::{Registrations, baseline_text, matches, parse_stored, validate_filters};
use crate::service::fleet::PATCH_STATES;
use crate::service::stored_json;

/// Evaluates one node (CPU work: runs on the blocking pool).
fn evaluate_node(
    baseline: &Baseline,
    inventory: &InventoryUpload,
    at: Timestamp,
    include_not_applicable: bool,
) -> Result<EvaluationJson, String> {
    let os = OperatingSystem::parse(&inventory.facts.operating_system).ok_or_else(|| {
        format!(
            "operating system `{}` is not supported",
            inventory.facts.operating_system
        )
    })?;
    if os != baseline.operating_system {
        return Err(format!(
            "baseline `{}` is for {}, the node runs {}",
            baseline.name,
            baseline.operating_system.as_str(),
            os.as_str()
        ));
    }
    let options = EvaluateOptions {
        include_not_applicable,
    };
    if let Some(apt) = &inventory.apt {
        return evaluate_apt_node(baseline, os, inventory, apt, at, &options);
    }
    if os.family() == Family::Apt {
        return Err(
            "the node's inventory has no apt packages (agent too old, or no repository data)"
                .to_owned(),
        );
    }
    let catalog = inventory.catalog.as_ref().ok_or_else(|| {
        "the node's inventory has no catalog (agent too old, or no repository data)".to_owned()
    })?;
    let (packages, advisories) = catalog.to_core();
    let installed: Vec<InstalledPackage> = inventory
        .packages
        .iter()
        .map(|package| InstalledPackage {
            nevra: package.nevra(),
            install_time: package.install_time,
        })
        .collect();
    let pending: Vec<Nevra> = inventory
        .pending_reboot
        .iter()
        .filter_map(|text| Nevra::parse(text).ok())
        .collect();
    let context = Context {
        product: inventory.facts.product.clone(),
        family: os.family_for_product(&inventory.facts.product),
        now: at,
    };
    let snapshot = Snapshot::build(
        baseline,
        Catalog {
            packages: &packages,
            advisories: &advisories,
        },
        context,
    );
    let evaluation = snapshot.evaluate(&installed, &pending, &options);
    Ok(EvaluationJson::from_core(&evaluation))
}

/// Evaluates a Debian or Ubuntu node with `evaluate_apt`, as its agent does.
fn evaluate_apt_node(
    baseline: &Baseline,
    os: OperatingSystem,
    inventory: &InventoryUpload,
    apt: &AptInventoryJson,
    at: Timestamp,
    options: &EvaluateOptions,
) -> Result<EvaluationJson, String> {
    if os.family() != Family::Apt {
        return Err(format!(
            "the node's inventory has apt packages, but the node runs {}",
            os.as_str()
        ));
    }
    let (installed, available) = apt
        .to_core()
        .map_err(|error| format!("the node's inventory is invalid: {error}"))?;
    // `name:arch=version`, as the agent keeps them.
    let pending: Vec<DebTarget> = inventory
        .pending_reboot
        .iter()
        .filter_map(|key| DebTarget::parse_key(key))
        .collect();
    let evaluation = evaluate_apt(
        baseline,
        AptHost {
            installed: &installed,
            available: &available,
            pending_reboot: &pending,
        },
        &AptContext {
            product: inventory.facts.product.clone(),
            native_arch: apt.native_arch.clone(),
            now: at,
        },
        options,
    );
    Ok(EvaluationJson::from_core(&evaluation))
}

pub(crate) async fn preview(
    state: &AppState,
    request: &PreviewRequest,
) -> Result<PreviewResponse, ApiError> {
    if request.node_ids.is_empty() && request.targets.is_empty() {
        return Err(ApiError::field(
            "node_ids",
            "name nodes, or select them with `targets`",
        ));
    }
    if !request.targets.is_empty() {
        validate_filters("targets", &request.targets, false)?;
    }
    let at = request.at.unwrap_or_else(|| state.now());
    let registrations = Registrations::load(state.store()).await?;
    let all = state.store().nodes().await?;
    let mut nodes: Vec<NodeRecord> = Vec::new();
    for id in &request.node_ids {
        let node = all
            .iter()
            .find(|node| node.id == *id)
            .ok_or_else(|| ApiError::field("node_ids", format!("node `{id}` does not exist")))?;
        nodes.push(node.clone());
    }
    if !request.targets.is_empty() {
        nodes.extend(
            all.iter()
                .filter(|node| {
                    matches(node, &request.targets) && !request.node_ids.contains(&node.id)
                })
                .cloned(),
        );
    }
    if let Some(id) = &request.baseline_id
        && baseline_text(state.store(), id).await?.is_none()
    {
        return Err(ApiError::field(
            "baseline_id",
            format!("baseline `{id}` does not exist"),
        ));
    }
    let states = wanted_states(&request.states)?;
    // A page: in node id order, from `after`.
    let mut next = None;
    match (request.limit, &request.after) {
        (None, None) => {}
        (None, Some(_)) => return Err(ApiError::field("after", "goes with `limit`")),
        (Some(limit @ 1..=1000), after) => {
            nodes.sort_by(|a, b| a.id.cmp(&b.id));
            nodes.dedup_by(|a, b| a.id == b.id);
            if let Some(after) = after {
                nodes.retain(|node| node.id.as_str() > after.as_str());
            }
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            if nodes.len() > limit {
                nodes.truncate(limit);
                next = nodes.last().map(|node| node.id.clone());
            }
        }
        (Some(_), _) => return Err(ApiError::field("limit", "must be 1 to 1000")),
    }
    // Each baseline is read and parsed once, however many nodes it applies to.
    let mut baselines: std::collections::HashMap<String, Arc<Baseline>> =
        std::collections::HashMap::new();
    let mut jobs = Vec::with_capacity(nodes.len());
    for node in nodes {
        let baseline_id = match &request.baseline_id {
            Some(id) => Ok(id.clone()),
            None => registrations
                .for_node(&node)
                .map(|(_, id)| id)
                .map_err(|error| error.message),
        };
        let baseline = match &baseline_id {
            Ok(id) => match baselines.get(id) {
                Some(baseline) => Ok(Arc::clone(baseline)),
                None => {
                    let text = baseline_text(state.store(), id)
                        .await?
                        .ok_or_else(|| ApiError::internal(format!("baseline `{id}` vanished")))?;
                    let baseline = Arc::new(parse_stored(id, &text)?);
                    baselines.insert(id.clone(), Arc::clone(&baseline));
                    Ok(baseline)
                }
            },
            Err(error) => Err(error.clone()),
        };
        jobs.push((node, baseline_id.ok(), baseline));
    }
    // Nodes are evaluated a few at a time, one per core: each reads its inventory, and
    // parses and evaluates it on the blocking pool, keeping only the patches asked for.
    let limit = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let include = request.include_not_applicable;
    let states = Arc::new(states);
    let mut previews: Vec<Option<NodePreview>> = vec![None; jobs.len()];
    let mut running = tokio::task::JoinSet::new();
    let mut jobs = jobs.into_iter().enumerate();
    loop {
        while running.len() < limit {
            let Some((index, (node, baseline_id, baseline))) = jobs.next() else {
                break;
            };
            let store = state.store().clone();
            let states = Arc::clone(&states);
            running.spawn(async move {
                let preview =
                    preview_node(&store, node, baseline_id, baseline, at, include, states).await;
                (index, preview)
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let (index, preview) = done.map_err(ApiError::internal)?;
        previews[index] = Some(preview?);
    }
    let previews = previews.into_iter().flatten().collect();
    Ok(PreviewResponse {
        evaluated_at: at,
        nodes: previews,
        next,
    })
}

/// The patch states a preview lists: those asked for, as the evaluation spells them; every
/// state when none are.
fn wanted_states(asked: &[String]) -> Result<Vec<&'static str>, ApiError> {
    asked
        .iter()
        .enumerate()
        .map(|(index, state)| {
            PATCH_STATES
                .into_iter()
                .find(|known| known.eq_ignore_ascii_case(state.trim()))
                .ok_or_else(|| {
                    ApiError::field(
                        format!("states[{index}]"),
                        format!(
                            "`{state}` is not a patch state: use one of {}",
                            PATCH_STATES.join(", ")
                        ),
                    )
                })
        })
        .collect()
}

/// One node's preview: its inventory read, then parsed and evaluated on the blocking pool.
async fn preview_node(
    store: &pw_store::Store,
    node: NodeRecord,
    baseline_id: Option<String>,
    baseline: Result<Arc<Baseline>, String>,
    at: Timestamp,
    include_not_applicable: bool,
    states: Arc<Vec<&'static str>>,
) -> Result<NodePreview, ApiError> {
    let inventory = store.inventory(&node.id).await?;
    let mut preview = NodePreview {
        node_id: node.id,
        hostname: node.hostname,
        baseline_id,
        evaluation: None,
        error: None,
        inventory_at: inventory.as_ref().map(|inventory| inventory.captured_at),
    };
    let outcome = match (baseline, inventory) {
        (Err(error), _) => Err(error),
        (_, None) => Err("the node has not uploaded an inventory yet".to_owned()),
        (Ok(baseline), Some(inventory)) => tokio::task::spawn_blocking(move || {
            let upload: InventoryUpload = stored_json("inventory", &inventory.inventory_json)
                .map_err(|error| error.detail.unwrap_or(error.message))?;
            drop(inventory);
            let mut evaluation = evaluate_node(&baseline, &upload, at, include_not_applicable)?;
            if !states.is_empty() {
                evaluation
                    .patches
                    .retain(|patch| states.contains(&patch.state.as_str()));
            }
            Ok(evaluation)
        })
        .await
        .map_err(ApiError::internal)?,
    };
    match outcome {
        Ok(evaluation) => preview.evaluation = Some(evaluation),
        Err(error) => preview.error = Some(error),
    }
    Ok(preview)
}

/// The nodes each task of a window runs on now, as an execution opened now would resolve
/// them: (task, its nodes).
pub(crate) async fn window_task_nodes(
    state: &AppState,
    window: &pw_store::WindowRecord,
    nodes: &[NodeRecord],
) -> Result<Vec<(pw_api::server::windows::TaskSpec, Vec<NodeRecord>)>, ApiError> {
    use pw_api::server::windows::{TaskSpec, WindowSpec, WindowTargetSpec};
    use pw_store::WindowPart;
    let spec: WindowSpec = stored_json("window", &window.spec_json)?;
    let mut targets = std::collections::HashMap::new();
    for part in state
        .store()
        .window_parts(WindowPart::Target, &window.id)
        .await?
    {
        let target: WindowTargetSpec = stored_json("window target", &part.spec_json)?;
        targets.insert(part.id, target);
    }
    let mut out = Vec::new();
    for part in state
        .store()
        .window_parts(WindowPart::Task, &window.id)
        .await?
    {
        let task: TaskSpec = stored_json("window task", &part.spec_json)?;
        let selected =
            crate::resolve::task_nodes(&task, &targets, nodes, spec.allow_unassociated_targets);
        let reached = selected
            .into_iter()
            .map(|(index, _, _)| nodes[index].clone())
            .collect();
        out.push((task, reached));
    }
    Ok(out)
}

/// The next opening of a window that would patch `node`: an enabled window with a task that
/// runs on the node. Returns (window name, opening).
pub(crate) async fn next_window_for(
    state: &AppState,
    node: &NodeRecord,
) -> Result<Option<(String, Timestamp)>, ApiError> {
    use pw_api::server::windows::WindowSpec;
    let now = state.now();
    let mut best: Option<(String, Timestamp)> = None;
    let nodes = std::slice::from_ref(node);
    for record in state.store().windows().await? {
        if !record.enabled {
            continue;
        }
        let reaches = window_task_nodes(state, &record, nodes)
            .await?
            .iter()
            .any(|(_, reached)| !reached.is_empty());
        if !reaches {
            continue;
        }
        let spec: WindowSpec = stored_json("window", &record.spec_json)?;
        if let Some(opening) = crate::service::windows::next_opening(&record, &spec, now)?
            && best.as_ref().is_none_or(|(_, at)| opening < *at)
        {
            best = Some((record.name.clone(), opening));
        }
    }
    Ok(best)
}

/// The nodes a baseline-edit impact evaluates at most, by hostname: each is two evaluations.
pub(crate) const IMPACT_NODES: usize = 100;

/// A line diff of two texts (longest common subsequence of lines; baselines are short).
pub(crate) fn line_diff(before: &str, after: &str) -> Vec<pw_api::server::baselines::DiffLine> {
    use pw_api::server::baselines::DiffLine;
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    // lengths[i][j]: the LCS of a[i..] and b[j..].
    let mut lengths = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lengths[i][j] = if a[i] == b[j] {
                lengths[i + 1][j + 1] + 1
            } else {
                lengths[i + 1][j].max(lengths[i][j + 1])
            };
        }
    }
    let line = |change: &str, text: &str| DiffLine {
        change: change.to_owned(),
        text: text.to_owned(),
    };
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(line("same", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lengths[i + 1][j] >= lengths[i][j + 1]) {
            // A replaced line reads as removed, then added.
            out.push(line("removed", a[i]));
            i += 1;
        } else {
            out.push(line("added", b[j]));
            j += 1;
        }
    }
    out
}

/// The patches whose state or target differ between two evaluations of one node.
fn patch_changes(
    before: &EvaluationJson,
    after: &EvaluationJson,
) -> Vec<pw_api::server::baselines::PatchChange> {
    use std::collections::BTreeMap;
    let key = |p: &pw_api::evaluation::PatchJson| format!("{}.{}", p.name, p.arch);
    let old: BTreeMap<String, &pw_api::evaluation::PatchJson> =
        before.patches.iter().map(|p| (key(p), p)).collect();
    let new: BTreeMap<String, &pw_api::evaluation::PatchJson> =
        after.patches.iter().map(|p| (key(p), p)).collect();
    let mut packages: Vec<&String> = old.keys().chain(new.keys()).collect();
    packages.sort();
    packages.dedup();
    packages
        .into_iter()
        .filter_map(|package| {
            let (was, is) = (old.get(package), new.get(package));
            let same = match (was, is) {
                (Some(a), Some(b)) => a.state == b.state && a.target == b.target,
                _ => false,
            };
            (!same).then(|| pw_api::server::baselines::PatchChange {
                package: package.clone(),
                before_state: was.map(|p| p.state.clone()),
                before_target: was.and_then(|p| p.target.clone()),
                after_state: is.map(|p| p.state.clone()),
                after_target: is.and_then(|p| p.target.clone()),
                after_reason: is.map_or_else(
                    || "not listed under the draft".to_owned(),
                    |p| p.reason.clone(),
                ),
            })
        })
        .collect()
}

/// What saving `draft` over the stored baseline `id` would change: the text diff, and per
/// node the baseline applies to (the first [`IMPACT_NODES`] by hostname), the patches whose
/// state or target would change, evaluated now from the inventories the nodes uploaded.
pub(crate) async fn baseline_impact(
    state: &AppState,
    id: &str,
    draft: Baseline,
    warnings: Vec<String>,
) -> Result<pw_api::server::baselines::BaselineImpact, ApiError> {
    use pw_api::server::baselines::{BaselineImpact, NodeImpact};
    let found = crate::service::baselines::get(state, id).await?;
    if found.predefined() {
        return Err(ApiError::conflict(format!(
            "`{id}` is a built-in baseline and cannot change"
        )));
    }
    let current = found.baseline;
    let diff = line_diff(
        &pw_api::baseline::to_toml(&current),
        &pw_api::baseline::to_toml(&draft),
    );
    let at = state.now();
    let registrations = Registrations::load(state.store()).await?;
    let mut nodes: Vec<NodeRecord> = state
        .store()
        .nodes()
        .await?
        .into_iter()
        .filter(|node| registrations.for_node(node).is_ok_and(|(_, b)| b == id))
        .collect();
    nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname).then_with(|| a.id.cmp(&b.id)));
    let nodes_total = nodes.len() as u64;
    let current = std::sync::Arc::new(current);
    let draft = std::sync::Arc::new(draft);
    let mut impacts = Vec::new();
    for node in nodes.into_iter().take(IMPACT_NODES) {
        let mut impact = NodeImpact {
            node_id: node.id.clone(),
            hostname: node.hostname.clone(),
            error: None,
            changes: Vec::new(),
        };
        match state.store().inventory(&node.id).await? {
            None => impact.error = Some("the node has not uploaded an inventory yet".to_owned()),
            Some(inventory) => {
                let upload: InventoryUpload = stored_json("inventory", &inventory.inventory_json)?;
                let (current, draft) = (current.clone(), draft.clone());
                let outcome = tokio::task::spawn_blocking(move || {
                    let before = evaluate_node(&current, &upload, at, false)?;
                    let after = evaluate_node(&draft, &upload, at, false)?;
                    Ok::<_, String>(patch_changes(&before, &after))
                })
                .await
                .map_err(ApiError::internal)?;
                match outcome {
                    Ok(changes) => impact.changes = changes,
                    Err(error) => impact.error = Some(error),
                }
            }
        }
        impacts.push(impact);
    }
    Ok(BaselineImpact {
        baseline_id: id.to_owned(),
        evaluated_at: at,
        diff,
        warnings,
        nodes_total,
        nodes: impacts,
    })
}

#[cfg(test)]
mod tests {
    use super::line_diff;

    #[test]
    fn line_diff_keeps_common_lines_and_marks_the_rest() {
        let diff = line_diff("a\nb\nc\n", "a\nc\nd\n");
        let got: Vec<(String, String)> = diff.into_iter().map(|l| (l.change, l.text)).collect();
        let want = [
            ("same", "a"),
            ("removed", "b"),
            ("same", "c"),
            ("added", "d"),
        ];
        assert_eq!(
            got,
            want.map(|(c, t)| (c.to_owned(), t.to_owned())).to_vec()
        );
        assert!(line_diff("", "").is_empty());
        let replaced: Vec<String> = line_diff("x\n", "y\n")
            .into_iter()
            .map(|l| l.change)
            .collect();
        assert_eq!(replaced, ["removed", "added"]);
    }
}
