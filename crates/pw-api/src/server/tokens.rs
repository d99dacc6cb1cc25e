//! API tokens and their roles, activation codes for agent enrollment.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What an API token may do. Ordered: `ReadOnly < Operator < Admin`; a role may do
/// everything the lower ones may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Read everything; change nothing.
    ReadOnly,
    /// Also run things: windows, executions, tags, previews.
    Operator,
    /// Also baselines' registrations, tokens, activation codes, deletions.
    Admin,
}

impl Role {
    /// The spelling used on the command line and the wire (`read-only`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses `read-only`, `operator` or `admin`.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "read-only" | "readonly" | "read_only" => Some(Role::ReadOnly),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CreateToken {
    pub role: Role,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::NAME_MAX)))]
    pub name: Option<String>,
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TokenInfo {
    pub id: String,
    pub role: Role,
    #[serde(default)]
    pub name: Option<String>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

/// The answer to creating a token: the secret is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TokenCreated {
    pub info: TokenInfo,
    pub token: String,
}

/// `POST /api/v1/activations`: an activation code agents enroll with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CreateActivation {
    /// How long the code is valid, in hours (1 to 8760; default 24).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = *crate::limits::EXPIRES_IN_HOURS.start(), max = *crate::limits::EXPIRES_IN_HOURS.end())))]
    pub expires_in_hours: Option<u32>,
    /// How many hosts may enroll with it (1 to 100000; default 1).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = *crate::limits::MAX_USES.start(), max = *crate::limits::MAX_USES.end())))]
    pub max_uses: Option<u32>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::DESCRIPTION_MAX)))]
    pub description: Option<String>,
    /// Tags given to every host that enrolls with this code. They bind: a host may repeat
    /// one with the same value, and its enrollment is refused if it declares another value.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::TAGS_MAX)))]
    pub tags: Vec<Tag>,
    /// Whether a host enrolling with this code may declare tags of its own, for keys the code
    /// does not set (default true). False: the code's tags are the host's only tags.
    #[serde(default = "yes")]
    pub allow_node_tags: bool,
}

fn yes() -> bool {
    true
}

/// An activation code as listed (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ActivationInfo {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    pub expires_at: Timestamp,
    pub max_uses: u32,
    pub uses: u32,
    pub created_at: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Whether hosts enrolling with the code may declare tags of their own.
    #[serde(default = "yes")]
    pub allow_node_tags: bool,
}

/// The answer to creating an activation code: the code is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ActivationCreated {
    pub info: ActivationInfo,
    pub code: String,
}

/// A tag: key and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Tag {
    #[cfg_attr(feature = "schema", schemars(length(min = *crate::limits::TAG_KEY.start(), max = *crate::limits::TAG_KEY.end()), pattern(crate::limits::TAG_KEY_PATTERN)))]
    pub key: String,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::TAG_VALUE_MAX), pattern(crate::limits::TAG_VALUE_PATTERN)))]
    pub value: String,
}
