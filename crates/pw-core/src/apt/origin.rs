//! Where an available package version comes from, as apt's policy sees it (`apt-cache
//! policy`: `o=Debian,a=bookworm-security,n=bookworm,l=Debian-Security,c=main`), and the rule
//! that makes a version a security update.

use std::fmt;

use crate::apt::release::Release;

/// One origin of a package version: the Release file of the suite that lists it, the
/// component and the site it was fetched from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Origin {
    /// `Origin` of the Release file (`o=`).
    pub origin: Option<String>,
    /// `Label` (`l=`).
    pub label: Option<String>,
    /// `Suite`, apt's archive (`a=`): `bookworm-security`, `jammy-updates`.
    pub archive: Option<String>,
    /// `Codename` (`n=`).
    pub codename: Option<String>,
    /// The component (`c=`): `main`, `universe`.
    pub component: Option<String>,
    /// The host the index came from (`deb.debian.org`); `None` for local (`file:`) sources.
    pub site: Option<String>,
}

impl Origin {
    /// The origin of an index listed by `release`, fetched from `site`, in `component`.
    pub fn from_release(release: &Release, site: Option<&str>, component: Option<&str>) -> Origin {
        Origin {
            origin: release.origin.clone(),
            label: release.label.clone(),
            archive: release.suite.clone(),
            codename: release.codename.clone(),
            component: component.map(str::to_owned),
            site: site.filter(|site| !site.is_empty()).map(str::to_owned),
        }
    }

    /// Whether versions from this origin are security updates (ssm-reference §3.6): the
    /// archive contains `security` (`bookworm-security`, `jammy-security`), or the label is
    /// `Debian-Security` (Debian's security archive, whose suite was `stable` up to Debian
    /// 10), or the site is `security.debian.org`.
    pub fn is_security(&self) -> bool {
        let contains_security = |text: &Option<String>| {
            text.as_deref()
                .is_some_and(|text| text.to_ascii_lowercase().contains("security"))
        };
        contains_security(&self.archive)
            || self
                .label
                .as_deref()
                .is_some_and(|label| label.eq_ignore_ascii_case("Debian-Security"))
            || self
                .site
                .as_deref()
                .is_some_and(|site| site.to_ascii_lowercase().contains("security.debian.org"))
    }
}

impl fmt::Display for Origin {
    /// apt's policy spelling: `o=Debian,a=bookworm-security,n=bookworm,l=Debian-Security,c=main,
    /// site=deb.debian.org` (absent parts left out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("o", &self.origin),
            ("a", &self.archive),
            ("n", &self.codename),
            ("l", &self.label),
            ("c", &self.component),
            ("site", &self.site),
        ];
        let mut first = true;
        for (key, value) in parts {
            if let Some(value) = value {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                write!(f, "{key}={value}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(origin: &str, label: &str, archive: &str, site: &str) -> Origin {
        let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        Origin {
            origin: some(origin),
            label: some(label),
            archive: some(archive),
            codename: None,
            component: Some("main".to_owned()),
            site: some(site),
        }
    }

    #[test]
    fn security_by_origin() {
        assert!(
            origin(
                "Debian",
                "Debian-Security",
                "bookworm-security",
                "deb.debian.org"
            )
            .is_security()
        );
        assert!(origin("Debian", "Debian-Security", "stable", "").is_security());
        assert!(origin("Debian", "Debian", "oldstable", "security.debian.org").is_security());
        assert!(origin("Ubuntu", "Ubuntu", "jammy-security", "archive.ubuntu.com").is_security());
        assert!(!origin("Ubuntu", "Ubuntu", "jammy-updates", "archive.ubuntu.com").is_security());
        assert!(!origin("Debian", "Debian", "bookworm", "deb.debian.org").is_security());
        assert!(!origin("", "", "", "").is_security());
        assert_eq!(
            origin(
                "Debian",
                "Debian-Security",
                "bookworm-security",
                "deb.debian.org"
            )
            .to_string(),
            "o=Debian,a=bookworm-security,l=Debian-Security,c=main,site=deb.debian.org"
        );
    }
}
