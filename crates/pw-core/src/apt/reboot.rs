//! Reboot detection on Debian and Ubuntu.
//!
//! Packages that need a reboot ask for one by writing `/var/run/reboot-required` (and their
//! name into `/var/run/reboot-required.pkgs`) from their maintainer scripts, through
//! `update-notifier-common` or `needrestart` hooks or on their own. Not every system has
//! those hooks (a minimal Debian has none), so an install of a package that
//! [`needs_reboot`] also counts. See `docs/apt.md`.

/// Whether a new version of this package takes effect only after a reboot: kernel images
/// and modules, CPU microcode, the C library, systemd (pid 1) and the D-Bus daemon
/// ([`crate::reboot::DEB_REBOOT_PACKAGES`]).
pub fn needs_reboot(name: &str) -> bool {
    crate::reboot::deb_cause(name).is_some()
}

/// The package names of a `reboot-required.pkgs` file: one per line, blank lines ignored,
/// duplicates removed, in order of first appearance.
pub fn parse_reboot_required_pkgs(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        let name = line.trim();
        if !name.is_empty() && !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reboot_packages() {
        assert!(needs_reboot("linux-image-6.1.0-25-amd64"));
        assert!(needs_reboot("libc6"));
        assert!(!needs_reboot("libc6-dev"));
        assert!(!needs_reboot("openssl"));
        assert_eq!(
            parse_reboot_required_pkgs("libc6\n\n linux-base \nlibc6\n"),
            ["libc6", "linux-base"]
        );
    }
}
