//! One package at one exact version, in the terms of a baseline's family: how a report's
//! target is read, how a patch-list entry names exactly that version, how lists and an
//! install's record match it. The one place rpm and apt differ for promotion and for install
//! records.

use std::fmt;

use crate::baseline::Family;
use crate::evaluate::apt::DebTarget;
use crate::nevra::Nevra;
use crate::pattern::PatternSet;
use crate::version::deb::DebVersion;
use crate::version::rpm::Evr;

/// A package at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exact {
    /// yum and dnf: entry `name-[epoch:]version-release.arch` (rpm's `nvra` / `nevra`).
    Rpm(Nevra),
    /// apt (Debian, Ubuntu): entry `name.arch:version` (apt's `nav`), the version as apt
    /// shows it (with its epoch when not 0).
    Apt {
        name: String,
        arch: String,
        version: DebVersion,
    },
}

/// A target that is not a version of its family.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}.{arch}: target `{target}` is not {what}")]
pub struct BadTarget {
    pub name: String,
    pub arch: String,
    pub target: String,
    what: &'static str,
}

impl Exact {
    /// Reads a report item's (name, arch, target) in `family`'s terms.
    pub fn parse(family: Family, name: &str, arch: &str, target: &str) -> Result<Exact, BadTarget> {
        let bad = |what| BadTarget {
            name: name.to_owned(),
            arch: arch.to_owned(),
            target: target.to_owned(),
            what,
        };
        match family {
            Family::Yum | Family::Dnf => {
                let evr = Evr::parse(target).map_err(|_| bad("an rpm version"))?;
                Ok(Exact::Rpm(Nevra::new(name, evr, arch)))
            }
            Family::Apt => {
                let version = DebVersion::parse(target).map_err(|_| bad("a Debian version"))?;
                Ok(Exact::Apt {
                    name: name.to_owned(),
                    arch: arch.to_owned(),
                    version,
                })
            }
        }
    }

    /// The patch-list entry that names exactly this version.
    pub fn entry(&self) -> String {
        self.to_string()
    }

    /// Whether an entry of `list` matches this version, as the evaluator matches it.
    pub fn matched_by(&self, list: &PatternSet) -> bool {
        match self {
            Exact::Rpm(nevra) => list.matches_rpm(nevra).is_some(),
            Exact::Apt {
                name,
                arch,
                version,
            } => list.matches_apt(name, &version.to_string(), arch).is_some(),
        }
    }

    /// Whether `key`, one of a report's `install.installed` (the agent writes rpm packages as
    /// `name-[epoch:]version-release.arch`, Debian ones as `name:arch=version`), is this
    /// version.
    pub fn is_install_key(&self, key: &str) -> bool {
        match self {
            Exact::Rpm(nevra) => Nevra::parse(key).is_ok_and(|k| k == *nevra),
            Exact::Apt {
                name,
                arch,
                version,
            } => DebTarget::parse_key(key)
                .is_some_and(|k| k.name == *name && k.arch == *arch && k.version == *version),
        }
    }
}

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exact::Rpm(nevra) => write!(f, "{nevra}"),
            Exact::Apt {
                name,
                arch,
                version,
            } => write!(f, "{name}.{arch}:{version}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_and_apt_entries_and_install_keys() {
        let rpm = Exact::parse(Family::Dnf, "bash", "x86_64", "5.2.15-3.amzn2023").unwrap();
        assert_eq!(rpm.entry(), "bash-5.2.15-3.amzn2023.x86_64");
        assert!(rpm.is_install_key("bash-5.2.15-3.amzn2023.x86_64"));
        assert!(!rpm.is_install_key("bash-5.2.15-4.amzn2023.x86_64"));
        let apt = Exact::parse(Family::Apt, "openssl", "amd64", "1:3.0.15-1~deb12u1").unwrap();
        assert_eq!(apt.entry(), "openssl.amd64:1:3.0.15-1~deb12u1");
        assert!(apt.is_install_key("openssl:amd64=1:3.0.15-1~deb12u1"));
        assert!(!apt.is_install_key("openssl:arm64=1:3.0.15-1~deb12u1"));
        let error = Exact::parse(Family::Yum, "bash", "x86_64", "").unwrap_err();
        assert_eq!(
            error.to_string(),
            "bash.x86_64: target `` is not an rpm version"
        );
    }
}
