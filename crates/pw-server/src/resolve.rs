//! Which baseline applies to a node, the text of a baseline by id (stored or built-in),
//! and which nodes a window target selects.

use std::collections::HashMap;

use pw_api::server::windows::TargetFilter;
use pw_core::baseline::{
    Baseline, OperatingSystem, default_baseline, default_baseline_name, patch_group,
};
use pw_store::{NodeRecord, PatchGroupRecord, Store};

use crate::error::ApiError;

/// Registrations read once per operation.
#[derive(Debug, Default)]
pub(crate) struct Registrations {
    /// (patch group, OS) → baseline id.
    patch_groups: HashMap<(String, String), String>,
    /// OS → baseline id.
    defaults: HashMap<String, String>,
}

impl Registrations {
    pub(crate) async fn load(store: &Store) -> Result<Registrations, ApiError> {
        let patch_groups = store
            .patch_groups()
            .await?
            .into_iter()
            .map(
                |PatchGroupRecord {
                     patch_group,
                     operating_system,
                     baseline_id,
                 }| ((patch_group, operating_system), baseline_id),
            )
            .collect();
        let defaults = store.default_baselines().await?.into_iter().collect();
        Ok(Registrations {
            patch_groups,
            defaults,
        })
    }

    /// The default baseline id of an OS: registered, else built-in.
    pub(crate) fn default_for(&self, os: OperatingSystem) -> String {
        self.defaults
            .get(os.as_str())
            .cloned()
            .unwrap_or_else(|| default_baseline_name(os).to_owned())
    }

    /// Whether `os`'s default is the built-in one.
    pub(crate) fn default_is_predefined(&self, os: OperatingSystem) -> bool {
        !self.defaults.contains_key(os.as_str())
    }

    /// (patch group, baseline id) for a node: its group's registration for its OS, else
    /// its OS's default (ssm-reference §6.4).
    pub(crate) fn for_node(&self, node: &NodeRecord) -> Result<(Option<String>, String), ApiError> {
        let group = node_patch_group(node);
        let os = OperatingSystem::parse(&node.operating_system).ok_or_else(|| {
            ApiError::bad_request(format!(
                "node `{}` has operating system `{}`, which no baseline supports",
                node.id, node.operating_system
            ))
        })?;
        if let Some(group) = &group
            && let Some(id) = self
                .patch_groups
                .get(&(group.clone(), os.as_str().to_owned()))
        {
            return Ok((Some(group.clone()), id.clone()));
        }
        Ok((group, self.default_for(os)))
    }

    /// Patch groups a baseline is registered for.
    pub(crate) fn groups_of(&self, baseline_id: &str) -> Vec<String> {
        let mut groups: Vec<String> = self
            .patch_groups
            .iter()
            .filter(|(_, id)| id.as_str() == baseline_id)
            .map(|((group, _), _)| group.clone())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }

    pub(crate) fn is_default(&self, baseline_id: &str) -> bool {
        self.defaults.values().any(|id| id == baseline_id)
    }
}

/// The node's patch group from its tags.
pub(crate) fn node_patch_group(node: &NodeRecord) -> Option<String> {
    patch_group(node.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map(ToOwned::to_owned)
}

/// The built-in baseline with this id (its name), if it is one.
pub(crate) fn predefined(id: &str) -> Option<(OperatingSystem, Baseline)> {
    OperatingSystem::ALL
        .into_iter()
        .find(|os| default_baseline_name(*os) == id)
        .map(|os| (os, default_baseline(os)))
}

/// A baseline's native TOML text by id, stored or built-in.
pub(crate) async fn baseline_text(store: &Store, id: &str) -> Result<Option<String>, ApiError> {
    if let Some((_, baseline)) = predefined(id) {
        return Ok(Some(pw_api::baseline::to_toml(&baseline)));
    }
    Ok(store.baseline(id).await?.map(|record| record.toml))
}

/// Parses stored baseline text (written by this server, so errors are internal).
pub(crate) fn parse_stored(id: &str, text: &str) -> Result<Baseline, ApiError> {
    pw_api::baseline::parse_toml(text)
        .map(|loaded| loaded.baseline)
        .map_err(|error| {
            ApiError::internal(format!(
                "stored baseline `{id}` is unreadable: {}",
                crate::error::chain(&error)
            ))
        })
}

/// Validates a window target's filters (ssm-reference §7.3): 1-5 entries, 1-50 values.
pub(crate) fn validate_filters(
    field: &str,
    filters: &[TargetFilter],
    allow_window_targets: bool,
) -> Result<(), ApiError> {
    if filters.is_empty() || filters.len() > 5 {
        return Err(ApiError::field(field, "expected 1 to 5 entries"));
    }
    for (index, filter) in filters.iter().enumerate() {
        let here = format!("{field}[{index}]");
        if filter.values.is_empty() || filter.values.len() > 50 {
            return Err(ApiError::field(
                format!("{here}.values"),
                "expected 1 to 50 values",
            ));
        }
        let key = filter.key.as_str();
        let known = matches!(key, "InstanceIds" | "NodeIds" | "tag-key")
            || (key.starts_with("tag:") && key.len() > 4)
            || (allow_window_targets && key == "WindowTargetIds");
        if !known {
            let expected = if allow_window_targets {
                "expected `WindowTargetIds`, `InstanceIds`, `NodeIds`, `tag:<key>` or `tag-key`"
            } else {
                "expected `InstanceIds`, `NodeIds`, `tag:<key>` or `tag-key`"
            };
            return Err(ApiError::field(
                format!("{here}.key"),
                format!("`{key}` is not a target key: {expected}"),
            ));
        }
    }
    Ok(())
}

/// Whether a node matches every entry (AND) with one of its values (OR).
pub(crate) fn matches(node: &NodeRecord, filters: &[TargetFilter]) -> bool {
    filters.iter().all(|filter| {
        let key = filter.key.as_str();
        if key == "InstanceIds" || key == "NodeIds" {
            filter.values.contains(&node.id)
        } else if key == "tag-key" {
            filter
                .values
                .iter()
                .any(|value| node.tags.iter().any(|(k, _)| k == value))
        } else if let Some(tag) = key.strip_prefix("tag:") {
            node.tags
                .iter()
                .any(|(k, v)| k == tag && filter.values.iter().any(|value| value == v))
        } else {
            false
        }
    })
}

/// The nodes a task runs on: (node index, window target id, owner information), grouped by
/// the task's targets in the order the task lists them, nodes in node order within a
/// target; a node in several targets belongs to the first. The runner runs the groups one
/// after another (ssm-reference §7.3: "its task invocations occur sequentially"). Node ids
/// given directly count only when the window allows unassociated targets.
pub(crate) fn task_nodes(
    task: &pw_api::server::windows::TaskSpec,
    targets: &HashMap<String, pw_api::server::windows::WindowTargetSpec>,
    nodes: &[NodeRecord],
    allow_unassociated_targets: bool,
) -> Vec<(usize, Option<String>, Option<String>)> {
    let mut selected = Vec::new();
    let mut taken = std::collections::HashSet::new();
    for filter in &task.targets {
        match filter.key.as_str() {
            "WindowTargetIds" => {
                for target_id in &filter.values {
                    let Some(target) = targets.get(target_id) else {
                        continue;
                    };
                    for (index, node) in nodes.iter().enumerate() {
                        if matches(node, &target.targets) && taken.insert(index) {
                            selected.push((
                                index,
                                Some(target_id.clone()),
                                target.owner_information.clone(),
                            ));
                        }
                    }
                }
            }
            _ if allow_unassociated_targets => {
                for node_id in &filter.values {
                    if let Some(index) = nodes.iter().position(|node| node.id == *node_id)
                        && taken.insert(index)
                    {
                        selected.push((index, None, None));
                    }
                }
            }
            _ => {}
        }
    }
    selected
}
