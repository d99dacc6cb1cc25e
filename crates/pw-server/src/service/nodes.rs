//! Nodes: their tags (which pick their patch group).

use pw_api::server::tokens::Tag;

use crate::AppState;
use crate::error::ApiError;

/// Tags to the store's pairs, validated: keys 1-128 characters of SSM's TagKey set and not
/// `aws:`, values up to 256 characters without control characters, unique keys, at most 50
/// tags.
pub(crate) fn tags_from_wire(field: &str, tags: &[Tag]) -> Result<Vec<(String, String)>, ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::field(field, "at most 50 tags"));
    }
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for (index, tag) in tags.iter().enumerate() {
        if tag.key.is_empty() || tag.key.chars().count() > 128 {
            return Err(ApiError::field(
                format!("{field}[{index}].key"),
                "must be 1 to 128 characters",
            ));
        }
        // SSM's TagKey: letters, digits, spaces and `_.:/=+-@`; `aws:` is reserved.
        let key_ok = tag.key.chars().all(|c| {
            c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
        });
        if !key_ok {
            return Err(ApiError::field(
                format!("{field}[{index}].key"),
                "may hold letters, digits, spaces and `_ . : / = + - @` only",
            ));
        }
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::field(
                format!("{field}[{index}].key"),
                "the `aws:` prefix is reserved",
            ));
        }
        if tag.value.chars().any(char::is_control) {
            return Err(ApiError::field(
                format!("{field}[{index}].value"),
                "must not contain control characters",
            ));
        }
        if tag.value.chars().count() > 256 {
            return Err(ApiError::field(
                format!("{field}[{index}].value"),
                "must be at most 256 characters",
            ));
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
