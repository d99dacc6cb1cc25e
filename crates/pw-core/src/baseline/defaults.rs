//! The built-in default baselines, one per operating system (ssm-reference §4), under
//! stable names. They assign compliance level `UNSPECIFIED`, like the originals.

use crate::baseline::{
    Approval, Baseline, ComplianceLevel, Filter, FilterGroup, FilterKey, OperatingSystem, Rule,
};

fn filter(key: FilterKey, values: &[&str]) -> Filter {
    Filter {
        key,
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

fn rule(filters: Vec<Filter>, approval: Approval, enable_non_security: bool) -> Rule {
    Rule {
        filters: FilterGroup { filters },
        approval,
        compliance_level: ComplianceLevel::Unspecified,
        enable_non_security,
    }
}

/// Security of the given severities, plus every Bugfix, both after seven days.
fn security_and_bugfix(severities: &[&str]) -> Vec<Rule> {
    vec![
        rule(
            vec![
                filter(FilterKey::Product, &["*"]),
                filter(FilterKey::Classification, &["Security"]),
                filter(FilterKey::Severity, severities),
            ],
            Approval::AfterDays(7),
            false,
        ),
        rule(
            vec![
                filter(FilterKey::Product, &["*"]),
                filter(FilterKey::Classification, &["Bugfix"]),
            ],
            Approval::AfterDays(7),
            false,
        ),
    ]
}

/// The stable name of the default baseline of `os`.
pub fn default_baseline_name(os: OperatingSystem) -> &'static str {
    match os {
        OperatingSystem::AmazonLinux => "patchwarden-AmazonLinuxDefault",
        OperatingSystem::AmazonLinux2 => "patchwarden-AmazonLinux2Default",
        OperatingSystem::AmazonLinux2022 => "patchwarden-AmazonLinux2022Default",
        OperatingSystem::AmazonLinux2023 => "patchwarden-AmazonLinux2023Default",
        OperatingSystem::RedhatEnterpriseLinux => "patchwarden-RedHatDefault",
        OperatingSystem::Centos => "patchwarden-CentOSDefault",
        OperatingSystem::OracleLinux => "patchwarden-OracleLinuxDefault",
        OperatingSystem::RockyLinux => "patchwarden-RockyLinuxDefault",
        OperatingSystem::AlmaLinux => "patchwarden-AlmaLinuxDefault",
        OperatingSystem::Debian => "patchwarden-DebianDefault",
        OperatingSystem::Ubuntu => "patchwarden-UbuntuDefault",
    }
}

/// The names of all built-in baselines, with their operating system.
pub fn default_baseline_names() -> Vec<(&'static str, OperatingSystem)> {
    OperatingSystem::ALL
        .into_iter()
        .map(|os| (default_baseline_name(os), os))
        .collect()
}

/// The built-in default baseline of `os`.
pub fn default_baseline(os: OperatingSystem) -> Baseline {
    let rules = match os {
        OperatingSystem::AmazonLinux
        | OperatingSystem::AmazonLinux2
        | OperatingSystem::AmazonLinux2022
        | OperatingSystem::AmazonLinux2023
        | OperatingSystem::RedhatEnterpriseLinux
        | OperatingSystem::RockyLinux
        | OperatingSystem::AlmaLinux => security_and_bugfix(&["Critical", "Important"]),
        OperatingSystem::OracleLinux => security_and_bugfix(&["Important", "Moderate"]),
        // "All updates including non-security, 7 days": CentOS repositories carry no
        // updateinfo, so the rule has to approve notice-less packages.
        OperatingSystem::Centos => vec![rule(
            vec![
                filter(FilterKey::Product, &["*"]),
                filter(FilterKey::Classification, &["*"]),
                filter(FilterKey::Severity, &["*"]),
            ],
            Approval::AfterDays(7),
            true,
        )],
        // "Immediately approves all operating system security-related patches that have a
        // priority of Required, Important, Standard, Optional, or Extra."
        OperatingSystem::Debian | OperatingSystem::Ubuntu => vec![rule(
            vec![
                filter(FilterKey::Product, &["*"]),
                filter(
                    FilterKey::Priority,
                    &["Required", "Important", "Standard", "Optional", "Extra"],
                ),
            ],
            Approval::Immediate,
            false,
        )],
    };
    let mut baseline = Baseline::empty(default_baseline_name(os), os);
    baseline.description = Some(format!("Built-in default baseline for {os}"));
    baseline.rules = rules;
    baseline
}
