//! Which packages take effect only after a reboot, and why: one list per package family, each
//! entry with its cause. The agent decides reboots with it; the server explains a node's
//! reboot debt with it (docs/agent.md, "Reboots").

use std::fmt;

/// Why an update waits for a reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebootCause {
    /// A kernel image or its modules.
    Kernel,
    /// The C library, mapped by every running process.
    CLibrary,
    /// systemd, which runs as pid 1.
    Systemd,
    /// The D-Bus daemon, which cannot restart under a running system.
    DBus,
    /// Firmware loaded at boot.
    Firmware,
    /// CPU microcode, loaded at boot.
    Microcode,
    /// The package's advisory suggests a reboot (`reboot_suggested`).
    Advisory,
    /// Services still run code the update deleted (their libraries or programs).
    StaleServices,
    /// Named by the node's own configuration (`reboot_packages`), or installed by an earlier
    /// operation that did not reboot for a reason no longer known.
    Other,
}

impl RebootCause {
    /// How a reason reads to an operator.
    pub fn as_str(self) -> &'static str {
        match self {
            RebootCause::Kernel => "kernel",
            RebootCause::CLibrary => "C library",
            RebootCause::Systemd => "systemd",
            RebootCause::DBus => "D-Bus",
            RebootCause::Firmware => "firmware",
            RebootCause::Microcode => "microcode",
            RebootCause::Advisory => "advisory suggests a reboot",
            RebootCause::StaleServices => "services on deleted libraries",
            RebootCause::Other => "other",
        }
    }
}

impl fmt::Display for RebootCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// rpm package names (exact, or a prefix when the pattern ends in `*`) whose update needs a
/// reboot, with the cause.
pub const RPM_REBOOT_PACKAGES: &[(&str, RebootCause)] = &[
    ("kernel", RebootCause::Kernel),
    ("kernel-*", RebootCause::Kernel),
    ("glibc", RebootCause::CLibrary),
    ("glibc-*", RebootCause::CLibrary),
    ("systemd", RebootCause::Systemd),
    ("systemd-*", RebootCause::Systemd),
    ("dbus", RebootCause::DBus),
    ("dbus-*", RebootCause::DBus),
    ("linux-firmware", RebootCause::Firmware),
    ("microcode_ctl", RebootCause::Microcode),
];

/// Debian and Ubuntu package names (exact, or a prefix when the pattern ends in `*`): kernel
/// images and modules, CPU microcode, the C library, systemd and the D-Bus daemon.
pub const DEB_REBOOT_PACKAGES: &[(&str, RebootCause)] = &[
    ("linux-image-*", RebootCause::Kernel),
    ("linux-modules-*", RebootCause::Kernel),
    ("linux-signed-image-*", RebootCause::Kernel),
    ("linux-objects-*", RebootCause::Kernel),
    ("linux-base", RebootCause::Kernel),
    ("intel-microcode", RebootCause::Microcode),
    ("amd64-microcode", RebootCause::Microcode),
    ("libc6", RebootCause::CLibrary),
    ("systemd", RebootCause::Systemd),
    ("systemd-sysv", RebootCause::Systemd),
    ("libsystemd0", RebootCause::Systemd),
    ("dbus", RebootCause::DBus),
    ("dbus-daemon", RebootCause::DBus),
];

/// `name` is `pattern`, or starts with its prefix when it ends in `*`.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn lookup(list: &[(&'static str, RebootCause)], name: &str) -> Option<(&'static str, RebootCause)> {
    list.iter()
        .copied()
        .find(|(pattern, _)| name_matches(pattern, name))
}

/// Why an rpm package's update needs a reboot, with the list entry that says so.
pub fn rpm_cause(name: &str) -> Option<(&'static str, RebootCause)> {
    lookup(RPM_REBOOT_PACKAGES, name)
}

/// Why a Debian package's update needs a reboot, with the list entry that says so.
pub fn deb_cause(name: &str) -> Option<(&'static str, RebootCause)> {
    lookup(DEB_REBOOT_PACKAGES, name)
}

/// The cause of either family (for explaining reports whose family is not at hand: the two
/// lists do not name the same package differently).
pub fn cause(name: &str) -> Option<RebootCause> {
    rpm_cause(name)
        .or_else(|| deb_cause(name))
        .map(|(_, cause)| cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_names_its_own_packages() {
        assert_eq!(
            rpm_cause("kernel-tools"),
            Some(("kernel-*", RebootCause::Kernel))
        );
        assert_eq!(
            rpm_cause("glibc-common").map(|c| c.1),
            Some(RebootCause::CLibrary)
        );
        assert_eq!(rpm_cause("curl"), None);
        assert_eq!(rpm_cause("libc6"), None);
        assert_eq!(deb_cause("libc6").map(|c| c.1), Some(RebootCause::CLibrary));
        assert_eq!(
            deb_cause("linux-image-6.1.0-27-amd64").map(|c| c.1),
            Some(RebootCause::Kernel)
        );
        // Debian's list is exact where rpm's takes prefixes: dbus-x11 is a client library.
        assert_eq!(deb_cause("dbus-x11"), None);
        assert_eq!(rpm_cause("dbus-libs").map(|c| c.1), Some(RebootCause::DBus));
        assert_eq!(cause("intel-microcode"), Some(RebootCause::Microcode));
        assert_eq!(cause("openssl"), None);
    }

    #[test]
    fn patterns_are_exact_or_prefixes() {
        assert!(name_matches("kernel", "kernel"));
        assert!(!name_matches("kernel", "kernel-headers"));
        assert!(name_matches("kernel-*", "kernel-headers"));
        assert!(!name_matches("kernel-*", "kernel"));
    }
}
