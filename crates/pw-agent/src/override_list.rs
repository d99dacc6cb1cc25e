//! Install override lists: the patches an install operation installs instead of the
//! baseline's Missing ones (ssm-reference §2.2). The file is the original's YAML shape,
//!
//! ```yaml
//! patches:
//!     - id: 'bind*.x86_64'
//!       title: '32:9.8.2-0.62.rc1.57.amzn1'
//!     - id: 'openssl.x86_64'
//! ```
//!
//! or the same structure as JSON. `id` matches `name.arch`, `title` matches
//! `name.arch:epoch:version-release` or the bare `epoch:version-release`; both take `*`, `?`
//! and `[...]` wildcards, case-insensitively.

use pw_core::nevra::Nevra;
use pw_core::pattern::PatternSet;

/// One entry of an override list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideEntry {
    pub id: String,
    pub title: Option<String>,
}

/// A parsed override list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OverrideList {
    pub entries: Vec<OverrideEntry>,
}

/// An override list that cannot be read; names the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("install override list, line {line}: {message}")]
pub struct OverrideListError {
    pub line: usize,
    pub message: String,
}

fn unquote(text: &str) -> String {
    let t = text.trim();
    let stripped = t
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| t.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
    stripped.unwrap_or(t).to_owned()
}

impl OverrideList {
    /// Parses the YAML shape (or JSON, when the text starts with `{`).
    pub fn parse(text: &str) -> Result<OverrideList, OverrideListError> {
        if text.trim_start().starts_with('{') {
            return Self::parse_json(text);
        }
        let mut entries: Vec<OverrideEntry> = Vec::new();
        let mut seen_patches = false;
        let mut current: Option<OverrideEntry> = None;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.split(" #").next().unwrap_or("").trim_end();
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if trimmed == "patches:" {
                seen_patches = true;
                continue;
            }
            if !seen_patches {
                return Err(OverrideListError {
                    line: line_no,
                    message: format!("expected `patches:`, found `{trimmed}`"),
                });
            }
            let mut rest = trimmed;
            if let Some(after) = rest.strip_prefix('-') {
                if let Some(entry) = current.take() {
                    entries.push(entry);
                }
                current = Some(OverrideEntry {
                    id: String::new(),
                    title: None,
                });
                rest = after.trim();
                if rest.is_empty() {
                    continue;
                }
            }
            let Some((key, value)) = rest.split_once(':') else {
                return Err(OverrideListError {
                    line: line_no,
                    message: format!("expected `id: ...` or `title: ...`, found `{rest}`"),
                });
            };
            let Some(entry) = current.as_mut() else {
                return Err(OverrideListError {
                    line: line_no,
                    message: "a key outside a `-` list item".to_owned(),
                });
            };
            match key.trim() {
                "id" => entry.id = unquote(value),
                "title" => entry.title = Some(unquote(value)),
                other => {
                    return Err(OverrideListError {
                        line: line_no,
                        message: format!("unknown key `{other}`; use `id` and `title`"),
                    });
                }
            }
        }
        if let Some(entry) = current.take() {
            entries.push(entry);
        }
        Self::check(entries)
    }

    fn parse_json(text: &str) -> Result<OverrideList, OverrideListError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|error| OverrideListError {
                line: error.line(),
                message: error.to_string(),
            })?;
        let patches = value
            .get("patches")
            .and_then(|p| p.as_array())
            .ok_or_else(|| OverrideListError {
                line: 1,
                message: "expected an object with a `patches` array".to_owned(),
            })?;
        let entries = patches
            .iter()
            .map(|p| OverrideEntry {
                id: p
                    .get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                title: p.get("title").and_then(|v| v.as_str()).map(str::to_owned),
            })
            .collect();
        Self::check(entries)
    }

    fn check(entries: Vec<OverrideEntry>) -> Result<OverrideList, OverrideListError> {
        if let Some(index) = entries.iter().position(|e| e.id.trim().is_empty()) {
            return Err(OverrideListError {
                line: 0,
                message: format!("entry {} has no `id`", index + 1),
            });
        }
        Ok(OverrideList { entries })
    }

    /// Whether `nevra` is on the list. Each pattern is tested against every string form of
    /// the package (the same forms approved lists use), so `openssl.x86_64`, `openssl*` and
    /// `bind.x86_64:32:9.8.2-0.62.rc1.57.amzn1` all work.
    pub fn matches(&self, nevra: &Nevra) -> bool {
        self.entries.iter().any(|entry| {
            PatternSet::parse([entry.id.as_str()])
                .matches_rpm(nevra)
                .is_some()
                && entry
                    .title
                    .as_deref()
                    .is_none_or(|t| PatternSet::parse([t]).matches_rpm(nevra).is_some())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_shapes() {
        let yaml = "patches:\n    -\n        id: 'bind*.x86_64'\n        title: '32:9.8.2-0.62.rc1.57.amzn1'\n    - id: \"openssl.x86_64\"\n";
        let list = OverrideList::parse(yaml).unwrap();
        assert_eq!(list.entries.len(), 2);
        assert!(
            list.matches(&Nevra::parse("bind-libs-32:9.8.2-0.62.rc1.57.amzn1.x86_64").unwrap())
        );
        assert!(!list.matches(&Nevra::parse("bind-libs-32:9.8.3-1.amzn1.x86_64").unwrap()));
        assert!(list.matches(&Nevra::parse("openssl-1.0.2k-26.x86_64").unwrap()));
        let json = r#"{"patches": [{"id": "openssl.x86_64"}]}"#;
        assert_eq!(OverrideList::parse(json).unwrap().entries.len(), 1);
        let error = OverrideList::parse("patches:\n  - name: x\n").unwrap_err();
        assert_eq!(error.line, 2);
    }
}
