//! Patch baselines: approval rules, exceptions, defaults per operating system.
//!
//! A [`Baseline`] is validated on construction ([`Baseline::validate`]): every limit and
//! allowed value of the original API is enforced with a message naming the field, and case
//! is normalised (filter values are stored in their canonical spelling), so evaluation never
//! has to care how a user typed `security` or `CRITICAL`.

mod defaults;
mod os;

use std::fmt;

use jiff::civil::Date;

pub use crate::baseline::defaults::{
    default_baseline, default_baseline_name, default_baseline_names,
};
pub use crate::baseline::os::{Family, OperatingSystem};

/// How much a missing patch matters, from the baseline's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ComplianceLevel {
    #[default]
    Unspecified,
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl ComplianceLevel {
    pub const ALL: [ComplianceLevel; 6] = [
        ComplianceLevel::Critical,
        ComplianceLevel::High,
        ComplianceLevel::Medium,
        ComplianceLevel::Low,
        ComplianceLevel::Informational,
        ComplianceLevel::Unspecified,
    ];

    /// The API spelling: `CRITICAL`, `HIGH`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceLevel::Critical => "CRITICAL",
            ComplianceLevel::High => "HIGH",
            ComplianceLevel::Medium => "MEDIUM",
            ComplianceLevel::Low => "LOW",
            ComplianceLevel::Informational => "INFORMATIONAL",
            ComplianceLevel::Unspecified => "UNSPECIFIED",
        }
    }

    /// Parses any case of the API spelling.
    pub fn parse(text: &str) -> Option<ComplianceLevel> {
        ComplianceLevel::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for ComplianceLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key of a patch filter that may appear in a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilterKey {
    Product,
    Classification,
    Severity,
    Priority,
    Section,
}

impl FilterKey {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterKey::Product => "PRODUCT",
            FilterKey::Classification => "CLASSIFICATION",
            FilterKey::Severity => "SEVERITY",
            FilterKey::Priority => "PRIORITY",
            FilterKey::Section => "SECTION",
        }
    }

    pub fn parse(text: &str) -> Option<FilterKey> {
        [
            FilterKey::Product,
            FilterKey::Classification,
            FilterKey::Severity,
            FilterKey::Priority,
            FilterKey::Section,
        ]
        .into_iter()
        .find(|key| key.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for FilterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One filter: a key and the values it accepts (`*` accepts everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub key: FilterKey,
    /// Canonical spellings (for example `Security`, `Critical`), or `*`.
    pub values: Vec<String>,
}

impl Filter {
    /// Whether this filter accepts `value` (`None`: the package has no such property).
    ///
    /// Values were canonicalised on input, so this compares case-insensitively only to be
    /// forgiving about metadata spelled oddly (`moderate`, `SECURITY`).
    pub fn accepts(&self, value: Option<&str>) -> bool {
        if self.values.iter().any(|v| v == "*") {
            return true;
        }
        let Some(value) = value else { return false };
        self.values.iter().any(|v| {
            v.eq_ignore_ascii_case(value)
                || (self.key == FilterKey::Severity && severity_alias(v, value))
        })
    }
}

/// `Medium` and `Moderate` name the same severity (Amazon Linux 2023 and RHEL say
/// `Moderate`; the API's value list says `Medium`).
fn severity_alias(filter_value: &str, value: &str) -> bool {
    let medium = |s: &str| s.eq_ignore_ascii_case("medium") || s.eq_ignore_ascii_case("moderate");
    medium(filter_value) && medium(value)
}

/// All filters must accept (AND); an empty group accepts everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterGroup {
    pub filters: Vec<Filter>,
}

/// The properties a filter group looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatchProperties<'a> {
    pub product: Option<&'a str>,
    pub classification: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub section: Option<&'a str>,
}

impl FilterGroup {
    pub fn accepts(&self, props: &PatchProperties<'_>) -> bool {
        self.filters.iter().all(|filter| {
            let value = match filter.key {
                FilterKey::Product => props.product,
                FilterKey::Classification => props.classification,
                FilterKey::Severity => props.severity,
                FilterKey::Priority => props.priority,
                FilterKey::Section => props.section,
            };
            filter.accepts(value)
        })
    }

    pub fn get(&self, key: FilterKey) -> Option<&Filter> {
        self.filters.iter().find(|f| f.key == key)
    }
}

/// When a rule approves a patch, measured against the patch's release time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Approved once the release is strictly more than this many days old (0..=360).
    AfterDays(u16),
    /// Approved when released on or before this date (the whole day, in UTC).
    UntilDate(Date),
    /// A rolling cut-off date, computed from the evaluation instant (beyond the original).
    UntilRelative(RelativeDate),
    /// No delay: approved as soon as it is published. The only form for Debian and Ubuntu
    /// in the original, where rules carry neither `ApproveAfterDays` nor `ApproveUntilDate`.
    Immediate,
}

/// A date computed from the evaluation instant, in UTC: "the first day of this month",
/// "the first day of last month", ... Used for rolling cut-off dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativeDate {
    /// The first day of the month `months_ago` months before the evaluation instant's month
    /// (0 = this month).
    FirstOfMonth { months_ago: u8 },
}

impl RelativeDate {
    /// The concrete date this stands for at `now`.
    pub fn resolve(self, now: jiff::Timestamp) -> Date {
        match self {
            RelativeDate::FirstOfMonth { months_ago } => {
                let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
                let first = today.first_of_month();
                first
                    .checked_sub(jiff::Span::new().months(i64::from(months_ago)))
                    .unwrap_or(first)
            }
        }
    }
}

/// One approval rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub filters: FilterGroup,
    pub approval: Approval,
    pub compliance_level: ComplianceLevel,
    pub enable_non_security: bool,
}

/// What happens to packages on the rejected list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RejectedAction {
    /// Installed only as a dependency of another package; reported `InstalledOther`.
    #[default]
    AllowAsDependency,
    /// Never installed, nor anything that needs it; installed ones are `InstalledRejected`.
    Block,
}

impl RejectedAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectedAction::AllowAsDependency => "ALLOW_AS_DEPENDENCY",
            RejectedAction::Block => "BLOCK",
        }
    }
}

/// An approved or rejected entry, with the optional bookkeeping operators attach to
/// exceptions (owner, reason, expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub entry: String,
    pub owner: Option<String>,
    pub reason: Option<String>,
    /// The last day (UTC) the exception applies; it stops applying the day after.
    pub expires: Option<Date>,
}

impl Exception {
    pub fn new(entry: impl Into<String>) -> Exception {
        Exception {
            entry: entry.into(),
            owner: None,
            reason: None,
            expires: None,
        }
    }

    /// Whether the exception still applies at `now`.
    pub fn is_active(&self, now: jiff::Timestamp) -> bool {
        match self.expires {
            None => true,
            Some(last_day) => now.to_zoned(jiff::tz::TimeZone::UTC).date() <= last_day,
        }
    }
}

/// A patch baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    pub name: String,
    pub description: Option<String>,
    pub operating_system: OperatingSystem,
    pub global_filters: FilterGroup,
    pub rules: Vec<Rule>,
    pub approved: Vec<Exception>,
    pub approved_compliance_level: ComplianceLevel,
    pub approved_enable_non_security: bool,
    pub rejected: Vec<Exception>,
    pub rejected_action: RejectedAction,
    /// Which release of versioned repositories its hosts evaluate and install against
    /// (Amazon Linux 2023 only); `None`: every host stays on its own lock.
    pub release: Option<crate::release::ReleasePolicy>,
}

/// A baseline that does not respect the limits; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BaselineError {
    /// The offending field, as a path (`rules[2].filters[0].values[1]`).
    pub field: String,
    pub message: String,
}

impl BaselineError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> BaselineError {
        BaselineError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A non-fatal remark about a valid baseline (an entry that can never match, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineWarning {
    pub field: String,
    pub message: String,
}

impl fmt::Display for BaselineWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

pub const MAX_RULES: usize = 10;
pub const MAX_FILTERS: usize = 4;
pub const MAX_FILTER_VALUES: usize = 20;
pub const MAX_FILTER_VALUE_LEN: usize = 64;
pub const MAX_PATCH_ENTRIES: usize = 50;
pub const MAX_PATCH_ENTRY_LEN: usize = 100;
pub const MAX_APPROVE_AFTER_DAYS: u16 = 360;
/// SSM's `BaselineDescription` limit, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// The limit of an exception's `owner` and `reason` (native fields; SSM has none).
pub const MAX_EXCEPTION_TEXT_LEN: usize = 1024;

const CLASSIFICATIONS: [&str; 5] = [
    "Security",
    "Bugfix",
    "Enhancement",
    "Recommended",
    "Newpackage",
];
const SEVERITIES: [&str; 6] = ["Critical", "Important", "Medium", "Moderate", "Low", "None"];
const PRIORITIES: [&str; 5] = ["Required", "Important", "Standard", "Optional", "Extra"];

impl Baseline {
    /// An empty baseline for `operating_system`: no rules, no exceptions.
    pub fn empty(name: impl Into<String>, operating_system: OperatingSystem) -> Baseline {
        Baseline {
            name: name.into(),
            description: None,
            operating_system,
            global_filters: FilterGroup::default(),
            rules: Vec::new(),
            approved: Vec::new(),
            approved_compliance_level: ComplianceLevel::Unspecified,
            approved_enable_non_security: false,
            rejected: Vec::new(),
            rejected_action: RejectedAction::AllowAsDependency,
            release: None,
        }
    }

    /// Checks every limit and allowed value, canonicalises filter values in place, and
    /// returns remarks about entries that are valid but have no effect.
    pub fn validate(&mut self) -> Result<Vec<BaselineWarning>, BaselineError> {
        let mut warnings = Vec::new();
        let name_ok = (3..=128).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !name_ok {
            return Err(BaselineError::new(
                "name",
                format!(
                    "`{}` must be 3 to 128 characters of letters, digits, `_`, `-` and `.`",
                    self.name
                ),
            ));
        }
        if let Some(description) = &self.description
            && description.chars().count() > MAX_DESCRIPTION_LEN
        {
            return Err(BaselineError::new(
                "description",
                format!(
                    "{} characters given, at most {MAX_DESCRIPTION_LEN} allowed",
                    description.chars().count()
                ),
            ));
        }
        let family = self.operating_system.family();
        canonicalise_group(&mut self.global_filters, family, "global_filters")?;
        if self.rules.len() > MAX_RULES {
            return Err(BaselineError::new(
                "rules",
                format!(
                    "{} rules given, at most {MAX_RULES} allowed",
                    self.rules.len()
                ),
            ));
        }
        for (index, rule) in self.rules.iter_mut().enumerate() {
            let path = format!("rules[{index}]");
            canonicalise_group(&mut rule.filters, family, &format!("{path}.filters"))?;
            if rule.filters.filters.is_empty() {
                return Err(BaselineError::new(
                    format!("{path}.filters"),
                    "a rule needs at least one filter (use PRODUCT `*` to match everything)",
                ));
            }
            match rule.approval {
                Approval::AfterDays(days) if days > MAX_APPROVE_AFTER_DAYS => {
                    return Err(BaselineError::new(
                        format!("{path}.approve_after_days"),
                        format!("{days} is out of range 0..={MAX_APPROVE_AFTER_DAYS}"),
                    ));
                }
                Approval::Immediate if family != Family::Apt => {
                    return Err(BaselineError::new(
                        path,
                        "a rule needs either approve_after_days or approve_until_date",
                    ));
                }
                _ => {}
            }
        }
        for (list, entries, field) in [
            ("approved", &self.approved, "approved_patches"),
            ("rejected", &self.rejected, "rejected_patches"),
        ] {
            if entries.len() > MAX_PATCH_ENTRIES {
                return Err(BaselineError::new(
                    field,
                    format!(
                        "{} entries given, at most {MAX_PATCH_ENTRIES} allowed",
                        entries.len()
                    ),
                ));
            }
            for (index, exception) in entries.iter().enumerate() {
                for (key, text) in [("owner", &exception.owner), ("reason", &exception.reason)] {
                    if let Some(text) = text
                        && text.chars().count() > MAX_EXCEPTION_TEXT_LEN
                    {
                        return Err(BaselineError::new(
                            format!("{field}[{index}].{key}"),
                            format!("at most {MAX_EXCEPTION_TEXT_LEN} characters allowed"),
                        ));
                    }
                }
                let entry = exception.entry.trim();
                if entry.is_empty() || entry.len() > MAX_PATCH_ENTRY_LEN {
                    return Err(BaselineError::new(
                        format!("{field}[{index}]"),
                        format!("entries must be 1 to {MAX_PATCH_ENTRY_LEN} characters"),
                    ));
                }
                if list == "rejected"
                    && family != Family::Apt
                    && crate::pattern::PatchEntry::parse(entry).is_identifier()
                {
                    warnings.push(BaselineWarning {
                        field: format!("{field}[{index}]"),
                        message: format!(
                            "`{entry}` is an advisory, CVE or Bugzilla ID; rejected lists match \
                             package names only, so it has no effect (reject the package versions instead)"
                        ),
                    });
                }
            }
        }
        if let Some(release) = &self.release {
            validate_release(release, self.operating_system)?;
        }
        for exception in self.approved.iter_mut().chain(self.rejected.iter_mut()) {
            let trimmed = exception.entry.trim();
            if trimmed.len() != exception.entry.len() {
                exception.entry = trimmed.to_owned();
            }
        }
        Ok(warnings)
    }
}

/// Releases listed in `[release] reject` or `verified`, at most.
pub const MAX_RELEASE_ENTRIES: usize = 100;

fn validate_release(
    release: &crate::release::ReleasePolicy,
    os: OperatingSystem,
) -> Result<(), BaselineError> {
    use crate::release::ReleaseSelection;
    if os != OperatingSystem::AmazonLinux2023 {
        return Err(BaselineError::new(
            "release",
            format!(
                "release versions apply to AMAZON_LINUX_2023 only (its repositories are versioned); \
                 this baseline is for {os}"
            ),
        ));
    }
    match &release.selection {
        ReleaseSelection::Newest(Approval::AfterDays(days)) if *days > MAX_APPROVE_AFTER_DAYS => {
            return Err(BaselineError::new(
                "release.approve_after_days",
                format!("{days} is out of range 0..={MAX_APPROVE_AFTER_DAYS}"),
            ));
        }
        ReleaseSelection::Pin(pin) if release.reject.contains(pin) => {
            return Err(BaselineError::new(
                "release.pin",
                format!("{pin} is also in release.reject"),
            ));
        }
        _ => {}
    }
    for (field, list) in [
        ("release.reject", &release.reject),
        ("release.verified", &release.verified),
    ] {
        if list.len() > MAX_RELEASE_ENTRIES {
            return Err(BaselineError::new(
                field,
                format!(
                    "{} entries given, at most {MAX_RELEASE_ENTRIES} allowed",
                    list.len()
                ),
            ));
        }
    }
    Ok(())
}

fn canonicalise_group(
    group: &mut FilterGroup,
    family: Family,
    path: &str,
) -> Result<(), BaselineError> {
    if group.filters.len() > MAX_FILTERS {
        return Err(BaselineError::new(
            path,
            format!(
                "{} filters given, at most {MAX_FILTERS} allowed",
                group.filters.len()
            ),
        ));
    }
    let mut seen = Vec::new();
    for (index, filter) in group.filters.iter_mut().enumerate() {
        let fpath = format!("{path}[{index}]");
        let allowed_keys: &[FilterKey] = match family {
            Family::Apt => &[FilterKey::Product, FilterKey::Priority, FilterKey::Section],
            Family::Yum | Family::Dnf => &[
                FilterKey::Product,
                FilterKey::Classification,
                FilterKey::Severity,
            ],
        };
        if !allowed_keys.contains(&filter.key) {
            let names: Vec<_> = allowed_keys.iter().map(|k| k.as_str()).collect();
            return Err(BaselineError::new(
                format!("{fpath}.key"),
                format!(
                    "{} is not a valid filter for this operating system; use one of {}",
                    filter.key,
                    names.join(", ")
                ),
            ));
        }
        if seen.contains(&filter.key) {
            return Err(BaselineError::new(
                format!("{fpath}.key"),
                format!("{} appears twice in one filter group", filter.key),
            ));
        }
        seen.push(filter.key);
        if filter.values.is_empty() || filter.values.len() > MAX_FILTER_VALUES {
            return Err(BaselineError::new(
                format!("{fpath}.values"),
                format!("a filter needs 1 to {MAX_FILTER_VALUES} values"),
            ));
        }
        for (vindex, value) in filter.values.iter_mut().enumerate() {
            let vpath = format!("{fpath}.values[{vindex}]");
            let trimmed = value.trim();
            if trimmed.is_empty() || trimmed.len() > MAX_FILTER_VALUE_LEN {
                return Err(BaselineError::new(
                    vpath,
                    format!("values must be 1 to {MAX_FILTER_VALUE_LEN} characters"),
                ));
            }
            if trimmed == "*" {
                *value = "*".to_owned();
                continue;
            }
            let allowed: Option<&[&str]> = match filter.key {
                FilterKey::Classification => Some(&CLASSIFICATIONS),
                FilterKey::Severity => Some(&SEVERITIES),
                FilterKey::Priority => Some(&PRIORITIES),
                FilterKey::Product | FilterKey::Section => None,
            };
            *value = match allowed {
                None => trimmed.to_owned(),
                Some(list) => match list.iter().find(|v| v.eq_ignore_ascii_case(trimmed)) {
                    Some(canonical) => (*canonical).to_owned(),
                    None => {
                        return Err(BaselineError::new(
                            vpath,
                            format!(
                                "`{trimmed}` is not a valid {} value; use one of {}, or `*`",
                                filter.key,
                                list.join(", ")
                            ),
                        ));
                    }
                },
            };
        }
    }
    Ok(())
}

/// Which baseline applies to a host: the one registered for its patch group and operating
/// system, else the default for its operating system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineChoice<'a> {
    /// Registered for the host's patch group (named) and operating system.
    PatchGroup { group: &'a str, baseline: &'a str },
    /// The operating system's default; `group` is the tag value when there was one that
    /// had no registration.
    Default { group: Option<&'a str> },
}

/// The host's patch group from its tags: `Patch Group`, else `PatchGroup` (keys are
/// case-sensitive, as in the original).
pub fn patch_group<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<&'a str> {
    let mut fallback = None;
    for (key, value) in tags {
        if key == "Patch Group" {
            return Some(value);
        }
        if key == "PatchGroup" {
            fallback = Some(value);
        }
    }
    fallback
}

/// Resolves the baseline for a host. `registrations` lists (patch group, operating system,
/// baseline name).
pub fn resolve_baseline<'a>(
    group: Option<&'a str>,
    os: OperatingSystem,
    registrations: &'a [(String, OperatingSystem, String)],
) -> BaselineChoice<'a> {
    if let Some(group) = group
        && let Some((_, _, baseline)) = registrations
            .iter()
            .find(|(g, o, _)| g == group && *o == os)
    {
        return BaselineChoice::PatchGroup { group, baseline };
    }
    BaselineChoice::Default { group }
}
