//! Whether a reboot is required: we reboot only when something needs it, unlike the original,
//! which reboots whenever anything was installed.
//!
//! A reboot is required when an install operation installed a package whose name is on the
//! reboot list (the kernel, the C library, systemd, dbus, firmware and microcode), a
//! package whose advisory sets `reboot_suggested`, or when packages installed by earlier
//! NoReboot operations still wait for one.

use pw_core::evaluate::PatchItem;
use pw_core::nevra::Nevra;

pub(crate) use pw_core::reboot::name_matches;

/// The reasons a reboot is required after installing `installed` (with their evaluation
/// items, which carry `reboot_suggested`) while `pending` waited from earlier operations.
pub fn reboot_reasons(
    installed: &[Nevra],
    items: &[PatchItem],
    pending: &[Nevra],
    extra_packages: &[String],
) -> Vec<String> {
    let mut reasons = Vec::new();
    for nevra in installed {
        if let Some(pattern) = pw_core::reboot::rpm_cause(&nevra.name)
            .map(|(pattern, _)| pattern)
            .or_else(|| {
                extra_packages
                    .iter()
                    .map(String::as_str)
                    .find(|p| name_matches(p, &nevra.name))
            })
        {
            reasons.push(format!(
                "{nevra} was installed and `{pattern}` needs a reboot"
            ));
            continue;
        }
        if items
            .iter()
            .any(|i| i.name == nevra.name && i.arch == nevra.arch && i.reboot_suggested)
        {
            reasons.push(format!(
                "{nevra} was installed and its advisory suggests a reboot"
            ));
        }
    }
    for nevra in pending {
        reasons.push(format!("{nevra} was installed earlier without a reboot"));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Nevra {
        Nevra::parse(text).unwrap()
    }

    #[test]
    fn only_reboot_packages_or_suggestions_or_pending_need_one() {
        assert!(reboot_reasons(&[n("curl-7.2-1.x86_64")], &[], &[], &[]).is_empty());
        assert_eq!(
            reboot_reasons(&[n("kernel-4.14.2-1.x86_64")], &[], &[], &[]).len(),
            1
        );
        assert_eq!(
            reboot_reasons(&[n("glibc-common-2.26-1.x86_64")], &[], &[], &[]).len(),
            1
        );
        assert_eq!(
            reboot_reasons(&[n("curl-7.2-1.x86_64")], &[], &[], &["curl".to_owned()]).len(),
            1
        );
        assert_eq!(
            reboot_reasons(&[], &[], &[n("openssl-1.0-2.x86_64")], &[]).len(),
            1
        );
    }
}
