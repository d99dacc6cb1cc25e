//! Package identities: name, epoch, version, release and architecture.
//!
//! [`Nevra::parse`] reads every common spelling of an rpm package:
//!
//! | form                            | example                                      |
//! |---------------------------------|----------------------------------------------|
//! | `name-version-release.arch`     | `dbus-1.12.28-1.amzn2023.0.1.x86_64`         |
//! | `name-epoch:version-release.arch` | `dbus-1:1.12.28-1.amzn2023.0.1.x86_64`     |
//! | `epoch:name-version-release.arch` | `1:dbus-1.12.28-1.amzn2023.0.1.x86_64`     |
//! | any of the above without `.arch` | `dbus-1:1.12.28-1.amzn2023.0.1`             |
//! | `name.arch:[epoch:]version-release` (SSM's title form) | `dbus.x86_64:1:1.12.28-1.amzn2023.0.1` |
//! | a file name, `….arch.rpm`        | `dbus-1.12.28-1.amzn2023.0.1.x86_64.rpm`     |
//!
//! Telling the architecture from the release: the text after the last `.` is the architecture
//! when it is a known rpm architecture ([`is_known_arch`]); otherwise it belongs to the release
//! and the architecture is empty. A file name ending in `.rpm` always carries an architecture, so
//! there the last component is taken whatever it is (unless it contains a `-`). See
//! `docs/versions.md`.

use std::fmt;

use crate::version::rpm::{Evr, EvrParseError};

/// One rpm package identity. An empty `arch` means "not given".
///
/// Equality and hashing are field by field, with [`Evr`]'s normalised equality for the version
/// (so `foo-1.01-1.x86_64` equals `foo-1.1-1.x86_64`); the ordering is by name, then EVR, then
/// architecture.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nevra {
    pub name: String,
    pub evr: Evr,
    pub arch: String,
}

/// Why a string is not a package identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NevraParseError {
    #[error("package identity is empty")]
    Empty,
    #[error("package identity `{text}` contains whitespace or a control character")]
    BadCharacter { text: String },
    #[error("package identity `{text}` has no release (expected `name-version-release[.arch]`)")]
    MissingRelease { text: String },
    #[error("package identity `{text}` has no version (expected `name-version-release[.arch]`)")]
    MissingVersion { text: String },
    #[error("package identity `{text}` has an empty name")]
    EmptyName { text: String },
    #[error("package identity `{text}` gives the epoch twice")]
    TwoEpochs { text: String },
    #[error("package identity `{text}` has a `:` in its name")]
    ColonInName { text: String },
    #[error("package identity `{text}`: {source}")]
    Evr { text: String, source: EvrParseError },
    #[error("package identity `{text}` has a `-` in its version, which rpm does not allow")]
    DashInVersion { text: String },
}

/// Architectures that [`Nevra::parse`] recognises after the last `.`.
pub const KNOWN_ARCHES: &[&str] = &[
    "noarch",
    "src",
    "nosrc", // not machine architectures, but rpm's
    "x86_64",
    "x86_64_v2",
    "x86_64_v3",
    "x86_64_v4",
    "amd64",
    "ia32e",
    "i386",
    "i486",
    "i586",
    "i686",
    "athlon",
    "geode",
    "pentium3",
    "pentium4",
    "ia64",
    "aarch64",
    "arm64",
    "armv5tel",
    "armv6l",
    "armv6hl",
    "armv7l",
    "armv7hl",
    "armv7hnl",
    "armv8l",
    "armv8hl",
    "ppc",
    "ppc64",
    "ppc64le",
    "ppc64p7",
    "ppc64iseries",
    "ppc64pseries",
    "s390",
    "s390x",
    "sparc",
    "sparcv8",
    "sparcv9",
    "sparc64",
    "sparc64v",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "mipsr6",
    "mipsr6el",
    "mips64r6",
    "mips64r6el",
    "riscv64",
    "loongarch64",
    "alpha",
    "alphaev5",
    "alphaev56",
    "alphaev6",
    "alphaev67",
    "sh3",
    "sh4",
    "sh4a",
    "m68k",
    "e2k",
];

/// True when `arch` is one of [`KNOWN_ARCHES`].
pub fn is_known_arch(arch: &str) -> bool {
    KNOWN_ARCHES.contains(&arch)
}

impl Nevra {
    /// Builds an identity from its parts.
    pub fn new(name: impl Into<String>, evr: Evr, arch: impl Into<String>) -> Nevra {
        Nevra {
            name: name.into(),
            evr,
            arch: arch.into(),
        }
    }

    /// Parses any of the forms in the module documentation. The version and the release are
    /// required; the epoch defaults to 0 and the architecture to empty.
    ///
    /// ```
    /// use pw_core::nevra::Nevra;
    ///
    /// let nevra = Nevra::parse("dbus-1:1.12.28-1.amzn2023.0.1.x86_64")?;
    /// assert_eq!((nevra.name.as_str(), nevra.evr.epoch, nevra.arch.as_str()), ("dbus", 1, "x86_64"));
    /// assert_eq!(Nevra::parse("dbus.x86_64:1:1.12.28-1.amzn2023.0.1")?, nevra);
    /// assert_eq!(nevra.to_string(), "dbus-1:1.12.28-1.amzn2023.0.1.x86_64");
    /// # Ok::<(), pw_core::nevra::NevraParseError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Nevra, NevraParseError> {
        let owned = || text.to_owned();
        if text.is_empty() {
            return Err(NevraParseError::Empty);
        }
        if text
            .bytes()
            .any(|byte| byte.is_ascii_whitespace() || byte.is_ascii_control())
        {
            return Err(NevraParseError::BadCharacter { text: owned() });
        }
        let (body, file_name) = match text.strip_suffix(".rpm") {
            Some(body) => (body, true),
            None => (text, false),
        };

        // SSM's title form: `name.arch:[epoch:]version-release`.
        if let Some((head, evr_text)) = body.split_once(':')
            && let Some((name, arch)) = head.rsplit_once('.')
            && is_known_arch(arch)
            && !name.is_empty()
        {
            let evr = Evr::parse(evr_text).map_err(|source| NevraParseError::Evr {
                text: owned(),
                source,
            })?;
            if !evr.has_release() {
                return Err(NevraParseError::MissingRelease { text: owned() });
            }
            // rpm forbids `-` in a version; one here would print as a different identity
            // (`n.a:x-1-2` as `n-x-1-2.a`, name `n-x`). Found by fuzzing.
            if evr.version.contains('-') {
                return Err(NevraParseError::DashInVersion { text: owned() });
            }
            return Ok(Nevra::new(name, evr, arch));
        }

        // A leading `epoch:`.
        let (leading_epoch, body) = match body.split_once(':') {
            Some((epoch, rest))
                if !epoch.is_empty() && epoch.bytes().all(|byte| byte.is_ascii_digit()) =>
            {
                (Some(epoch), rest)
            }
            _ => (None, body),
        };
        let (body, arch) = match body.rsplit_once('.') {
            Some((rest, arch))
                if is_known_arch(arch)
                    || (file_name && !arch.is_empty() && !arch.contains('-')) =>
            {
                (rest, arch)
            }
            _ => (body, ""),
        };
        let Some((rest, release)) = body.rsplit_once('-') else {
            return Err(NevraParseError::MissingRelease { text: owned() });
        };
        let Some((name, version)) = rest.rsplit_once('-') else {
            return Err(NevraParseError::MissingVersion { text: owned() });
        };
        if name.is_empty() {
            return Err(NevraParseError::EmptyName { text: owned() });
        }
        if name.contains(':') {
            return Err(NevraParseError::ColonInName { text: owned() });
        }
        if leading_epoch.is_some() && version.contains(':') {
            return Err(NevraParseError::TwoEpochs { text: owned() });
        }
        let mut evr =
            Evr::parse(&format!("{version}-{release}")).map_err(|source| NevraParseError::Evr {
                text: owned(),
                source,
            })?;
        if let Some(epoch) = leading_epoch {
            evr.epoch = epoch.parse().map_err(|_| NevraParseError::Evr {
                text: owned(),
                source: EvrParseError::EpochTooLarge {
                    text: owned(),
                    epoch: epoch.to_owned(),
                },
            })?;
        }
        Ok(Nevra::new(name, evr, arch))
    }
}

impl Nevra {
    /// `name.arch` (just `name` without an arch): the `Id` of an SSM compliance item.
    pub fn name_arch(&self) -> String {
        if self.arch.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.name, self.arch)
        }
    }

    /// `name.arch:epoch:version-release`, the epoch always written: the `Title` of an SSM
    /// compliance item and its install-override-list form.
    pub fn compliance_title(&self) -> String {
        let mut title = format!(
            "{}:{}:{}",
            self.name_arch(),
            self.evr.epoch,
            self.evr.version
        );
        if self.evr.has_release() {
            title.push('-');
            title.push_str(&self.evr.release);
        }
        title
    }
}

impl fmt::Display for Nevra {
    /// `name-[epoch:]version-release[.arch]`, the epoch only when it is not 0.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}-{}", self.name, self.evr)?;
        if !self.arch.is_empty() {
            write!(formatter, ".{}", self.arch)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod fuzz_findings {
    use super::*;

    /// fuzz/identities: a title form whose version holds a `-` printed as another identity.
    #[test]
    fn a_dash_in_a_title_forms_version_is_refused() {
        let text = "k1.020.0-V.cmz2.x86_64:AL(ASrnel-0(2-.1";
        assert!(matches!(
            Nevra::parse(text),
            Err(NevraParseError::DashInVersion { .. })
        ));
        let fine = Nevra::parse("bash.x86_64:4.2.46-34.amzn2").unwrap();
        assert_eq!(Nevra::parse(&fine.to_string()).unwrap(), fine);
    }
}
