//! `/releases`: the releases of versioned repositories (Amazon Linux 2023) the server has
//! learned, and how it learns them (docs/releases.md).

use jiff::Timestamp;

/// Amazon's release list for Amazon Linux 2023 (what `dnf check-release-update` reads).
pub const AMAZON_RELEASE_METADATA_URL: &str =
    "https://cdn.amazonlinux.com/al2023/core/releasemd.xml";
use serde::{Deserialize, Serialize};

/// `GET /api/v1/releases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReleasesResponse {
    /// `AMAZON_LINUX_2023`.
    pub operating_system: String,
    /// Where the server fetches `releasemd.xml` from; null when it only takes imports.
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// Newest first.
    pub releases: Vec<LearnedRelease>,
}

/// One learned release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LearnedRelease {
    /// `2023.9.20251117`.
    pub version: String,
    /// `YYYY-MM-DD`: the date in the version.
    pub release_date: String,
    /// When the server first learned it (an execution chooses among releases learned before
    /// it was created).
    pub learned_at: Timestamp,
    /// `releasemd:URL` or `import:ACTOR`.
    pub source: String,
}

/// `POST /api/v1/releases/import`: release versions to record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportReleases {
    pub versions: Vec<String>,
}

/// The answer to an import or a refresh.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RefreshOutcome {
    /// The URL fetched, or `import:ACTOR`.
    pub source: String,
    /// Releases read.
    pub releases: usize,
    /// Of those, releases the server did not know yet.
    pub new: usize,
    /// Malformed entries of the metadata, skipped.
    #[serde(default)]
    pub diagnostics: Vec<String>,
}
