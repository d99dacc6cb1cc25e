//! Baseline file formats: the native TOML file (`version = "1"`) and the AWS JSON shape
//! (`aws ssm get-patch-baseline` output, `create-patch-baseline` input), both converted to
//! and from [`pw_core::baseline::Baseline`].

use std::collections::BTreeMap;

use jiff::civil::Date;
use pw_core::baseline::{
    Approval, Baseline, BaselineError, BaselineWarning, ComplianceLevel, Exception, Filter,
    FilterGroup, FilterKey, OperatingSystem, RejectedAction, RelativeDate, Rule,
};
use pw_core::release::{ReleasePolicy, ReleaseSelection, ReleaseVersion};
use serde::{Deserialize, Serialize};

/// A baseline file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineFormatError {
    #[error("invalid TOML baseline")]
    Toml(#[source] toml::de::Error),
    #[error("invalid JSON baseline")]
    Json(#[source] serde_json::Error),
    #[error("invalid baseline: {0}")]
    Invalid(#[from] BaselineError),
    #[error("unsupported baseline file version {0}; this Patchwarden reads version \"1\"")]
    UnsupportedVersion(String),
    #[error("the baseline file has no `version = \"1\"` line")]
    MissingVersion,
}

/// A parsed baseline and the remarks made while reading it (unknown keys, entries that
/// have no effect).
#[derive(Debug)]
pub struct LoadedBaseline {
    pub baseline: Baseline,
    pub warnings: Vec<String>,
}

/// Reads a baseline from either format: JSON when the text starts with `{`, else TOML.
pub fn parse_baseline(text: &str) -> Result<LoadedBaseline, BaselineFormatError> {
    if text.trim_start().starts_with('{') {
        parse_aws_json(text)
    } else {
        parse_toml(text)
    }
}

// ---------------------------------------------------------------------------------------
// Native TOML format.

/// The native file, tagged on `version`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum BaselineFile {
    #[serde(rename = "1")]
    V1(BaselineFileV1),
}

/// Version 1 of the native baseline file. See docs/baselines.md.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BaselineFileV1 {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub operating_system: String,
    #[serde(skip_serializing_if = "FiltersV1::is_empty")]
    pub global_filters: FiltersV1,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleV1>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approved_patches: Vec<ExceptionV1>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_patches_compliance_level: Option<String>,
    pub approved_patches_enable_non_security: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected_patches: Vec<ExceptionV1>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_patches_action: Option<String>,
    /// Amazon Linux 2023: which release the hosts evaluate and install against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseV1>,
}

/// The `[release]` table (docs/releases.md).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleaseV1 {
    /// Exactly this release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// The newest release dated at least this many days before the instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_after_days: Option<i64>,
    /// The newest release dated up to this date (`YYYY-MM-DD` or `first-of-month[-N]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_until_date: Option<String>,
    /// Never move to these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reject: Vec<String>,
    /// Releases staging ran without trouble (`patchwarden promote` adds them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verified: Vec<String>,
    /// Only verified releases are eligible.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_verified: bool,
}

impl ReleaseV1 {
    fn to_core(&self) -> Result<ReleasePolicy, BaselineError> {
        let version = |text: &str, field: String| {
            ReleaseVersion::parse(text)
                .map_err(|error| BaselineError::new(field, error.to_string()))
        };
        let list = |texts: &[String], field: &str| -> Result<Vec<ReleaseVersion>, BaselineError> {
            texts
                .iter()
                .enumerate()
                .map(|(i, text)| version(text, format!("{field}[{i}]")))
                .collect()
        };
        let selection = match (&self.pin, self.approve_after_days, &self.approve_until_date) {
            (Some(pin), None, None) => {
                ReleaseSelection::Pin(version(pin, "release.pin".to_owned())?)
            }
            (None, None, None) if self.require_verified => {
                ReleaseSelection::Newest(Approval::Immediate)
            }
            (None, None, None) => {
                return Err(BaselineError::new(
                    "release",
                    "give pin, approve_after_days or approve_until_date (or require_verified)",
                ));
            }
            (None, after, until) => {
                ReleaseSelection::Newest(approval(after, until.as_deref(), "release")?)
            }
            (Some(_), _, _) => {
                return Err(BaselineError::new(
                    "release",
                    "give pin, approve_after_days or approve_until_date, only one of them",
                ));
            }
        };
        Ok(ReleasePolicy {
            selection,
            reject: list(&self.reject, "release.reject")?,
            verified: list(&self.verified, "release.verified")?,
            require_verified: self.require_verified,
        })
    }

    fn from_core(policy: &ReleasePolicy) -> ReleaseV1 {
        let (pin, approve_after_days, approve_until_date) = match &policy.selection {
            ReleaseSelection::Pin(pin) => (Some(pin.to_string()), None, None),
            ReleaseSelection::Newest(approval) => {
                let (after, until) = approval_fields(*approval);
                (None, after, until)
            }
        };
        let texts = |list: &[ReleaseVersion]| list.iter().map(ToString::to_string).collect();
        ReleaseV1 {
            pin,
            approve_after_days,
            approve_until_date,
            reject: texts(&policy.reject),
            verified: texts(&policy.verified),
            require_verified: policy.require_verified,
        }
    }
}

/// Filters as keys of a table: `classification = ["Security"]`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FiltersV1 {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<Vec<String>>,
}

impl FiltersV1 {
    fn is_empty(&self) -> bool {
        self.product.is_none()
            && self.classification.is_none()
            && self.severity.is_none()
            && self.priority.is_none()
            && self.section.is_none()
    }

    fn to_core(&self) -> FilterGroup {
        let mut filters = Vec::new();
        for (key, values) in [
            (FilterKey::Product, &self.product),
            (FilterKey::Classification, &self.classification),
            (FilterKey::Severity, &self.severity),
            (FilterKey::Priority, &self.priority),
            (FilterKey::Section, &self.section),
        ] {
            if let Some(values) = values {
                filters.push(Filter {
                    key,
                    values: values.clone(),
                });
            }
        }
        FilterGroup { filters }
    }

    fn from_core(group: &FilterGroup) -> FiltersV1 {
        let get = |key| group.get(key).map(|f: &Filter| f.values.clone());
        FiltersV1 {
            product: get(FilterKey::Product),
            classification: get(FilterKey::Classification),
            severity: get(FilterKey::Severity),
            priority: get(FilterKey::Priority),
            section: get(FilterKey::Section),
        }
    }
}

/// One approval rule of the native file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleV1 {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_after_days: Option<i64>,
    /// `YYYY-MM-DD`, or a rolling date: `first-of-month` (this month) or
    /// `first-of-month-N` (N months earlier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_until_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_level: Option<String>,
    pub enable_non_security: bool,
}

/// An approved or rejected entry with optional bookkeeping.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExceptionV1 {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Last day (UTC) the entry applies, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

fn parse_os(text: &str, field: &str) -> Result<OperatingSystem, BaselineError> {
    OperatingSystem::parse(text).ok_or_else(|| {
        let names: Vec<_> = OperatingSystem::ALL.iter().map(|o| o.as_str()).collect();
        BaselineError::new(
            field,
            format!(
                "`{text}` is not a supported operating system; use one of {}",
                names.join(", ")
            ),
        )
    })
}

fn parse_level(text: Option<&str>, field: &str) -> Result<ComplianceLevel, BaselineError> {
    match text {
        None => Ok(ComplianceLevel::Unspecified),
        Some(text) => ComplianceLevel::parse(text).ok_or_else(|| {
            BaselineError::new(
                field,
                format!(
                    "`{text}` is not a compliance level; use CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or UNSPECIFIED"
                ),
            )
        }),
    }
}

fn parse_action(text: Option<&str>, field: &str) -> Result<RejectedAction, BaselineError> {
    match text.map(str::trim) {
        None => Ok(RejectedAction::AllowAsDependency),
        Some(t) if t.eq_ignore_ascii_case("ALLOW_AS_DEPENDENCY") => {
            Ok(RejectedAction::AllowAsDependency)
        }
        Some(t) if t.eq_ignore_ascii_case("BLOCK") => Ok(RejectedAction::Block),
        Some(t) => Err(BaselineError::new(
            field,
            format!("`{t}` is not valid; use ALLOW_AS_DEPENDENCY or BLOCK"),
        )),
    }
}

fn parse_date(text: &str, field: &str) -> Result<Date, BaselineError> {
    let trimmed = text.trim();
    if trimmed.len() != 10 {
        return Err(BaselineError::new(
            field,
            format!("`{text}` is not a date of the form YYYY-MM-DD"),
        ));
    }
    trimmed.parse::<Date>().map_err(|error| {
        BaselineError::new(
            field,
            format!("`{text}` is not a date of the form YYYY-MM-DD: {error}"),
        )
    })
}

/// Parses `approve_until_date`: a date or a rolling `first-of-month[-N]`.
fn parse_until(text: &str, field: &str) -> Result<Approval, BaselineError> {
    let trimmed = text.trim();
    if let Some(rest) = trimmed.strip_prefix("first-of-month") {
        let months_ago = if rest.is_empty() {
            Some(0)
        } else {
            rest.strip_prefix('-').and_then(|n| n.parse::<u8>().ok())
        };
        return match months_ago {
            Some(months_ago) if months_ago <= 24 => {
                Ok(Approval::UntilRelative(RelativeDate::FirstOfMonth {
                    months_ago,
                }))
            }
            _ => Err(BaselineError::new(
                field,
                format!(
                    "`{text}`: a rolling date is `first-of-month` or `first-of-month-N` with N from 1 to 24"
                ),
            )),
        };
    }
    parse_date(trimmed, field).map(Approval::UntilDate)
}

fn approval(
    after_days: Option<i64>,
    until: Option<&str>,
    path: &str,
) -> Result<Approval, BaselineError> {
    match (after_days, until) {
        (Some(_), Some(_)) => Err(BaselineError::new(
            path,
            "give approve_after_days or approve_until_date, not both",
        )),
        (Some(days), None) => u16::try_from(days)
            .ok()
            .filter(|d| *d <= pw_core::baseline::MAX_APPROVE_AFTER_DAYS)
            .map(Approval::AfterDays)
            .ok_or_else(|| {
                BaselineError::new(
                    format!("{path}.approve_after_days"),
                    format!("{days} is out of range 0..=360"),
                )
            }),
        (None, Some(until)) => parse_until(until, &format!("{path}.approve_until_date")),
        (None, None) => Ok(Approval::Immediate),
    }
}

fn exception(entry: &ExceptionV1, path: &str) -> Result<Exception, BaselineError> {
    Ok(Exception {
        entry: entry.id.clone(),
        owner: entry.owner.clone(),
        reason: entry.reason.clone(),
        expires: entry
            .expires
            .as_deref()
            .map(|d| parse_date(d, &format!("{path}.expires")))
            .transpose()?,
    })
}

impl BaselineFileV1 {
    /// Converts to a validated core baseline.
    pub fn to_core(&self) -> Result<(Baseline, Vec<BaselineWarning>), BaselineError> {
        let os = parse_os(&self.operating_system, "operating_system")?;
        let mut rules = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let path = format!("rules[{index}]");
            let filters = FiltersV1 {
                product: rule.product.clone(),
                classification: rule.classification.clone(),
                severity: rule.severity.clone(),
                priority: rule.priority.clone(),
                section: rule.section.clone(),
            };
            rules.push(Rule {
                filters: filters.to_core(),
                approval: approval(
                    rule.approve_after_days,
                    rule.approve_until_date.as_deref(),
                    &path,
                )?,
                compliance_level: parse_level(
                    rule.compliance_level.as_deref(),
                    &format!("{path}.compliance_level"),
                )?,
                enable_non_security: rule.enable_non_security,
            });
        }
        let mut baseline = Baseline {
            name: self.name.clone(),
            description: self.description.clone(),
            operating_system: os,
            global_filters: self.global_filters.to_core(),
            rules,
            approved: self
                .approved_patches
                .iter()
                .enumerate()
                .map(|(i, e)| exception(e, &format!("approved_patches[{i}]")))
                .collect::<Result<_, _>>()?,
            approved_compliance_level: parse_level(
                self.approved_patches_compliance_level.as_deref(),
                "approved_patches_compliance_level",
            )?,
            approved_enable_non_security: self.approved_patches_enable_non_security,
            rejected: self
                .rejected_patches
                .iter()
                .enumerate()
                .map(|(i, e)| exception(e, &format!("rejected_patches[{i}]")))
                .collect::<Result<_, _>>()?,
            rejected_action: parse_action(
                self.rejected_patches_action.as_deref(),
                "rejected_patches_action",
            )?,
            release: self.release.as_ref().map(ReleaseV1::to_core).transpose()?,
        };
        let warnings = baseline.validate()?;
        Ok((baseline, warnings))
    }

    /// The native representation of a core baseline.
    pub fn from_core(baseline: &Baseline) -> BaselineFileV1 {
        let exceptions = |list: &[Exception]| {
            list.iter()
                .map(|e| ExceptionV1 {
                    id: e.entry.clone(),
                    owner: e.owner.clone(),
                    reason: e.reason.clone(),
                    expires: e.expires.map(|d| d.to_string()),
                })
                .collect()
        };
        BaselineFileV1 {
            name: baseline.name.clone(),
            description: baseline.description.clone(),
            operating_system: baseline.operating_system.as_str().to_owned(),
            global_filters: FiltersV1::from_core(&baseline.global_filters),
            rules: baseline
                .rules
                .iter()
                .map(|rule| {
                    let filters = FiltersV1::from_core(&rule.filters);
                    let (after, until) = approval_fields(rule.approval);
                    RuleV1 {
                        product: filters.product,
                        classification: filters.classification,
                        severity: filters.severity,
                        priority: filters.priority,
                        section: filters.section,
                        approve_after_days: after,
                        approve_until_date: until,
                        compliance_level: Some(rule.compliance_level.as_str().to_owned()),
                        enable_non_security: rule.enable_non_security,
                    }
                })
                .collect(),
            approved_patches: exceptions(&baseline.approved),
            approved_patches_compliance_level: Some(
                baseline.approved_compliance_level.as_str().to_owned(),
            ),
            approved_patches_enable_non_security: baseline.approved_enable_non_security,
            rejected_patches: exceptions(&baseline.rejected),
            rejected_patches_action: Some(baseline.rejected_action.as_str().to_owned()),
            release: baseline.release.as_ref().map(ReleaseV1::from_core),
        }
    }
}

fn approval_fields(approval: Approval) -> (Option<i64>, Option<String>) {
    match approval {
        Approval::AfterDays(days) => (Some(i64::from(days)), None),
        Approval::UntilDate(date) => (None, Some(date.to_string())),
        Approval::UntilRelative(RelativeDate::FirstOfMonth { months_ago: 0 }) => {
            (None, Some("first-of-month".to_owned()))
        }
        Approval::UntilRelative(RelativeDate::FirstOfMonth { months_ago }) => {
            (None, Some(format!("first-of-month-{months_ago}")))
        }
        Approval::Immediate => (None, None),
    }
}

/// Parses the native TOML format; unknown keys become warnings.
pub fn parse_toml(text: &str) -> Result<LoadedBaseline, BaselineFormatError> {
    // The version decides the shape; read it first, then the body with unknown-key tracking
    // (an internally tagged enum would buffer the body and hide unknown keys).
    #[derive(Deserialize)]
    struct Version {
        version: Option<toml::Value>,
    }
    let probe: Version = toml::from_str(text).map_err(BaselineFormatError::Toml)?;
    match probe.version {
        Some(toml::Value::String(v)) if v == "1" => {}
        Some(other) => return Err(BaselineFormatError::UnsupportedVersion(other.to_string())),
        None => return Err(BaselineFormatError::MissingVersion),
    }
    let mut unknown = Vec::new();
    let deserializer = toml::Deserializer::new(text);
    let v1: BaselineFileV1 = serde_ignored::deserialize(deserializer, |path| {
        let path = path.to_string();
        if path != "version" {
            unknown.push(path);
        }
    })
    .map_err(BaselineFormatError::Toml)?;
    let (baseline, remarks) = v1.to_core()?;
    let mut warnings: Vec<String> = unknown
        .into_iter()
        .map(|key| format!("unknown key `{key}` ignored"))
        .collect();
    warnings.extend(remarks.iter().map(ToString::to_string));
    Ok(LoadedBaseline { baseline, warnings })
}

/// Writes a baseline in the native TOML format.
pub fn to_toml(baseline: &Baseline) -> String {
    let file = BaselineFile::V1(BaselineFileV1::from_core(baseline));
    toml::to_string(&file).unwrap_or_else(|error| format!("# could not serialise: {error}\n"))
}

// ---------------------------------------------------------------------------------------
// AWS JSON shape.

/// `{"Key": "CLASSIFICATION", "Values": ["Security"]}`
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AwsPatchFilter {
    pub key: String,
    pub values: Vec<String>,
}

/// `{"PatchFilters": [...]}`
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AwsPatchFilterGroup {
    pub patch_filters: Vec<AwsPatchFilter>,
}

/// One `PatchRule`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AwsPatchRule {
    pub patch_filter_group: AwsPatchFilterGroup,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_after_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_until_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_non_security: Option<bool>,
}

/// `{"PatchRules": [...]}`
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AwsPatchRuleGroup {
    pub patch_rules: Vec<AwsPatchRule>,
}

/// The fields of `get-patch-baseline` output and `create-patch-baseline` input that a
/// baseline is made of. Other keys (`BaselineId`, `PatchGroups`, `CreatedDate`, `Tags`,
/// `ClientToken`, ...) are accepted and ignored.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AwsPatchBaseline {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_id: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_filters: Option<AwsPatchFilterGroup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_rules: Option<AwsPatchRuleGroup>,
    pub approved_patches: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_patches_compliance_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_patches_enable_non_security: Option<bool>,
    pub rejected_patches: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_patches_action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<serde_json::Value>,
}

fn aws_group(group: &AwsPatchFilterGroup, path: &str) -> Result<FilterGroup, BaselineError> {
    let mut filters = Vec::new();
    for (index, filter) in group.patch_filters.iter().enumerate() {
        let key = FilterKey::parse(&filter.key).ok_or_else(|| {
            BaselineError::new(
                format!("{path}.PatchFilters[{index}].Key"),
                format!(
                    "`{}` is not a baseline filter key; use PRODUCT, CLASSIFICATION, SEVERITY, PRIORITY or SECTION",
                    filter.key
                ),
            )
        })?;
        filters.push(Filter {
            key,
            values: filter.values.clone(),
        });
    }
    Ok(FilterGroup { filters })
}

fn to_aws_group(group: &FilterGroup) -> AwsPatchFilterGroup {
    AwsPatchFilterGroup {
        patch_filters: group
            .filters
            .iter()
            .map(|f| AwsPatchFilter {
                key: f.key.as_str().to_owned(),
                values: f.values.clone(),
            })
            .collect(),
    }
}

impl AwsPatchBaseline {
    /// Converts to a validated core baseline. `OperatingSystem` defaults to WINDOWS in the
    /// original API, which we do not patch, so it is required here.
    pub fn to_core(&self) -> Result<(Baseline, Vec<BaselineWarning>), BaselineError> {
        let os = match &self.operating_system {
            Some(os) => parse_os(os, "OperatingSystem")?,
            None => {
                return Err(BaselineError::new(
                    "OperatingSystem",
                    "missing; the original defaults to WINDOWS, which Patchwarden does not patch",
                ));
            }
        };
        let mut rules = Vec::new();
        if let Some(group) = &self.approval_rules {
            for (index, rule) in group.patch_rules.iter().enumerate() {
                let path = format!("ApprovalRules.PatchRules[{index}]");
                rules.push(Rule {
                    filters: aws_group(
                        &rule.patch_filter_group,
                        &format!("{path}.PatchFilterGroup"),
                    )?,
                    approval: approval(
                        rule.approve_after_days,
                        rule.approve_until_date.as_deref(),
                        &path,
                    )?,
                    compliance_level: parse_level(
                        rule.compliance_level.as_deref(),
                        &format!("{path}.ComplianceLevel"),
                    )?,
                    enable_non_security: rule.enable_non_security.unwrap_or(false),
                });
            }
        }
        let mut baseline = Baseline {
            name: self.name.clone(),
            description: self.description.clone(),
            operating_system: os,
            global_filters: match &self.global_filters {
                Some(group) => aws_group(group, "GlobalFilters")?,
                None => FilterGroup::default(),
            },
            rules,
            approved: self.approved_patches.iter().map(Exception::new).collect(),
            approved_compliance_level: parse_level(
                self.approved_patches_compliance_level.as_deref(),
                "ApprovedPatchesComplianceLevel",
            )?,
            approved_enable_non_security: self
                .approved_patches_enable_non_security
                .unwrap_or(false),
            rejected: self.rejected_patches.iter().map(Exception::new).collect(),
            rejected_action: parse_action(
                self.rejected_patches_action.as_deref(),
                "RejectedPatchesAction",
            )?,
            release: None,
        };
        let mut warnings = baseline.validate()?;
        if !self.sources.is_empty() {
            warnings.push(BaselineWarning {
                field: "Sources".to_owned(),
                message:
                    "alternative patch sources are ignored; the host's own repositories are used"
                        .to_owned(),
            });
        }
        Ok((baseline, warnings))
    }

    /// The AWS JSON shape of a core baseline. Rolling dates have no AWS equivalent and are
    /// written as the date they stand for at `now`.
    pub fn from_core(baseline: &Baseline, now: jiff::Timestamp) -> AwsPatchBaseline {
        let rules = baseline
            .rules
            .iter()
            .map(|rule| {
                let approval = match rule.approval {
                    Approval::UntilRelative(relative) => Approval::UntilDate(relative.resolve(now)),
                    other => other,
                };
                let (after, until) = approval_fields(approval);
                AwsPatchRule {
                    patch_filter_group: to_aws_group(&rule.filters),
                    compliance_level: Some(rule.compliance_level.as_str().to_owned()),
                    approve_after_days: after,
                    approve_until_date: until,
                    enable_non_security: Some(rule.enable_non_security),
                }
            })
            .collect();
        AwsPatchBaseline {
            baseline_id: None,
            name: baseline.name.clone(),
            operating_system: Some(baseline.operating_system.as_str().to_owned()),
            global_filters: Some(to_aws_group(&baseline.global_filters)),
            approval_rules: Some(AwsPatchRuleGroup { patch_rules: rules }),
            approved_patches: baseline.approved.iter().map(|e| e.entry.clone()).collect(),
            approved_patches_compliance_level: Some(
                baseline.approved_compliance_level.as_str().to_owned(),
            ),
            approved_patches_enable_non_security: Some(baseline.approved_enable_non_security),
            rejected_patches: baseline.rejected.iter().map(|e| e.entry.clone()).collect(),
            rejected_patches_action: Some(baseline.rejected_action.as_str().to_owned()),
            description: baseline.description.clone(),
            sources: Vec::new(),
        }
    }
}

/// Parses the AWS JSON shape. `BaselineOverride` documents hold an array of baselines;
/// this reads one object.
pub fn parse_aws_json(text: &str) -> Result<LoadedBaseline, BaselineFormatError> {
    let value: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(BaselineFormatError::Json)?;
    // Accept a `{"BaselineIdentity": ..., ...}`-free object as-is; a wrapper such as the
    // output of `get-patch-baseline` is already the flat object.
    let aws: AwsPatchBaseline =
        serde_json::from_value(serde_json::Value::Object(value.into_iter().collect()))
            .map_err(BaselineFormatError::Json)?;
    let (baseline, remarks) = aws.to_core()?;
    Ok(LoadedBaseline {
        baseline,
        warnings: remarks.iter().map(ToString::to_string).collect(),
    })
}

/// Writes a baseline in the AWS JSON shape (pretty-printed).
pub fn to_aws_json(baseline: &Baseline, now: jiff::Timestamp) -> String {
    serde_json::to_string_pretty(&AwsPatchBaseline::from_core(baseline, now))
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
}
