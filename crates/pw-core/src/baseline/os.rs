//! Operating systems a baseline can be written for, and the package-manager family of each.

use std::fmt;

/// The `OperatingSystem` of a baseline (Linux values of the original API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperatingSystem {
    AmazonLinux,
    AmazonLinux2,
    AmazonLinux2022,
    AmazonLinux2023,
    RedhatEnterpriseLinux,
    Centos,
    OracleLinux,
    RockyLinux,
    AlmaLinux,
    Debian,
    Ubuntu,
}

/// How a family of systems decides and installs patches (ssm-reference §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// yum: Amazon Linux 1 and 2, RHEL/CentOS/Oracle 7.
    Yum,
    /// dnf: Amazon Linux 2022/2023, RHEL 8+, Rocky, Alma, Oracle 8+.
    Dnf,
    /// apt: Debian and Ubuntu.
    Apt,
}

impl OperatingSystem {
    pub const ALL: [OperatingSystem; 11] = [
        OperatingSystem::AmazonLinux,
        OperatingSystem::AmazonLinux2,
        OperatingSystem::AmazonLinux2022,
        OperatingSystem::AmazonLinux2023,
        OperatingSystem::RedhatEnterpriseLinux,
        OperatingSystem::Centos,
        OperatingSystem::OracleLinux,
        OperatingSystem::RockyLinux,
        OperatingSystem::AlmaLinux,
        OperatingSystem::Debian,
        OperatingSystem::Ubuntu,
    ];

    /// The API spelling: `AMAZON_LINUX_2`, `REDHAT_ENTERPRISE_LINUX`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            OperatingSystem::AmazonLinux => "AMAZON_LINUX",
            OperatingSystem::AmazonLinux2 => "AMAZON_LINUX_2",
            OperatingSystem::AmazonLinux2022 => "AMAZON_LINUX_2022",
            OperatingSystem::AmazonLinux2023 => "AMAZON_LINUX_2023",
            OperatingSystem::RedhatEnterpriseLinux => "REDHAT_ENTERPRISE_LINUX",
            OperatingSystem::Centos => "CENTOS",
            OperatingSystem::OracleLinux => "ORACLE_LINUX",
            OperatingSystem::RockyLinux => "ROCKY_LINUX",
            OperatingSystem::AlmaLinux => "ALMA_LINUX",
            OperatingSystem::Debian => "DEBIAN",
            OperatingSystem::Ubuntu => "UBUNTU",
        }
    }

    /// Parses the API spelling in any case, also accepting `-` for `_`.
    pub fn parse(text: &str) -> Option<OperatingSystem> {
        let wanted = text.trim().replace('-', "_");
        OperatingSystem::ALL
            .into_iter()
            .find(|os| os.as_str().eq_ignore_ascii_case(&wanted))
    }

    /// The family, for the default product of this operating system. RHEL-like systems are
    /// dnf from version 8 on; use [`OperatingSystem::family_for_product`] when the product
    /// (for example `RedhatEnterpriseLinux7.9`) is known.
    pub fn family(self) -> Family {
        match self {
            OperatingSystem::AmazonLinux | OperatingSystem::AmazonLinux2 => Family::Yum,
            OperatingSystem::Debian | OperatingSystem::Ubuntu => Family::Apt,
            _ => Family::Dnf,
        }
    }

    /// The family of a host with this operating system and product string: RHEL, CentOS
    /// and Oracle Linux 7 and older use yum.
    pub fn family_for_product(self, product: &str) -> Family {
        let family = self.family();
        if family != Family::Dnf {
            return family;
        }
        let major = product
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        match (self, major) {
            (
                OperatingSystem::RedhatEnterpriseLinux
                | OperatingSystem::Centos
                | OperatingSystem::OracleLinux,
                Some(major),
            ) if major <= 7 => Family::Yum,
            _ => family,
        }
    }
}

impl fmt::Display for OperatingSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
