//! Nodes: their tags (which pick their patch group).

use pw_api::limits;
use pw_api::server::tokens::Tag;

use crate::AppState;
use crate::error::ApiError;

/// Tags to the store's pairs, validated (`pw_api::limits`): keys of SSM's TagKey set and
/// not `aws:`, values without control characters, unique keys, at most 50 tags.
pub(crate) fn tags_from_wire(field: &str, tags: &[Tag]) -> Result<Vec<(String, String)>, ApiError> {
    if tags.len() > limits::TAGS_MAX {
        return Err(ApiError::field(
            field,
            format!("at most {} tags", limits::TAGS_MAX),
        ));
    }
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for (index, tag) in tags.iter().enumerate() {
        if let Some(problem) = limits::tag_key_problem(&tag.key) {
            return Err(ApiError::field(format!("{field}[{index}].key"), problem));
        }
        if let Some(problem) = limits::tag_value_problem(&tag.value) {
            return Err(ApiError::field(format!("{field}[{index}].value"), problem));
        }
        if pairs.iter().any(|(key, _)| *key == tag.key) {
            return Err(ApiError::field(
                format!("{field}[{index}].key"),
                format!("`{}` appears twice", tag.key),
            ));
        }
        pairs.push((tag.key.clone(), tag.value.clone()));
    }
    pairs.sort();
    Ok(pairs)
}

/// Replaces a node's tags.
pub(crate) async fn set_tags(
    state: &AppState,
    actor: &str,
    id: &str,
    tags: &[(String, String)],
) -> Result<(), ApiError> {
    state.store().set_node_tags(id, tags).await?;
    state
        .store()
        .audit(state.now(), actor, "node.set_tags", Some(id), None)
        .await?;
    Ok(())
}
