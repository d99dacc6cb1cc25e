//! RPM epoch:version-release values and their ordering, identical to rpm's `rpmvercmp`.
//!
//! [`rpmvercmp`] compares one version (or release) string the way librpm 4.18 does, and
//! [`Evr`]'s [`Ord`] is librpm's `rpmverCmp`: epoch, then version, then release, where a
//! missing release sorts before any release. [`Evr::dependency_cmp`] is the looser comparison
//! rpm uses for dependency ranges, where the release is compared only when both sides have one.
//!
//! The comparison works on byte slices and never allocates. The semantics, re-implemented from
//! their description (not from rpm's source):
//!
//! * A version is a sequence of tokens. ASCII letters form alphabetic runs, ASCII digits form
//!   numeric runs, `~` and `^` are tokens of their own, and every other byte only separates
//!   tokens (`1.0`, `1_0`, `1+0` and `1.0.` are all equal).
//! * Two strings compare token by token. Numeric runs compare as numbers of any length (leading
//!   zeros ignored), alphabetic runs compare byte-wise (`B` < `a`), and a numeric run is newer
//!   than an alphabetic one.
//! * When one side has no more tokens: `~` on the other side sorts *before* the end (`1.0~rc1` <
//!   `1.0`), `^` sorts *after* the end (`1.0^git1` > `1.0`) but before any letter or digit
//!   (`1.0^git1` < `1.0.1`), and a letter or digit sorts after the end (`1.0a` > `1.0`).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// An rpm epoch, version and release.
///
/// A missing epoch is 0. The release may be empty, meaning "no release" (as in a dependency
/// such as `foo >= 1.2`). The ordering ([`Ord`]) is librpm's `rpmverCmp`: epochs numerically,
/// then versions with [`rpmvercmp`], then releases with [`rpmvercmp`], where a missing release
/// sorts before any present one. It is a total order, and equality follows it: `1.01` equals
/// `1.1`, `0:1.0-1` equals `1.0-1`. [`Hash`] hashes a normalised form, so it agrees with [`Eq`].
/// Use [`Evr::dependency_cmp`] for dependency ranges, where a missing release matches any.
///
/// ```
/// use pw_core::version::rpm::Evr;
///
/// let installed = Evr::parse("1.0-1.el8")?;
/// let candidate = Evr::parse("1:0.9-1.el8")?;
/// assert!(candidate > installed);
/// assert_eq!(Evr::parse("1.01-1")?, Evr::parse("0:1.1-1")?);
/// assert_eq!(candidate.to_string(), "1:0.9-1.el8");
/// # Ok::<(), pw_core::version::rpm::EvrParseError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Evr {
    pub epoch: u32,
    pub version: String,
    pub release: String,
}

/// Why a string is not a valid `[epoch:]version[-release]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvrParseError {
    #[error("rpm version is empty")]
    Empty,
    #[error("rpm version `{text}` contains whitespace or a control character")]
    BadCharacter { text: String },
    #[error("epoch `{epoch}` in rpm version `{text}` is not a number")]
    EpochNotNumber { text: String, epoch: String },
    #[error("epoch `{epoch}` in rpm version `{text}` is too large (at most 4294967295)")]
    EpochTooLarge { text: String, epoch: String },
    #[error("rpm version `{text}` has more than one `:`")]
    ExtraColon { text: String },
    #[error("rpm version `{text}` has an empty version part")]
    EmptyVersion { text: String },
    #[error("rpm version `{text}` has an empty release after `-`")]
    EmptyRelease { text: String },
}

impl Evr {
    /// Builds an EVR from its parts; an empty `release` means "no release".
    pub fn new(epoch: u32, version: impl Into<String>, release: impl Into<String>) -> Evr {
        Evr {
            epoch,
            version: version.into(),
            release: release.into(),
        }
    }

    /// Parses `[epoch:]version[-release]`.
    ///
    /// The epoch is the digits before the first `:`. The release is what follows the last `-`
    /// (as rpm splits it), so `1.0-2-3` is version `1.0-2`, release `3`. Rejected: an empty
    /// string, whitespace or control characters anywhere, a non-numeric or too large epoch, a
    /// second `:`, an empty version, and an empty release after `-`.
    pub fn parse(text: &str) -> Result<Evr, EvrParseError> {
        if text.is_empty() {
            return Err(EvrParseError::Empty);
        }
        if text
            .bytes()
            .any(|byte| byte.is_ascii_whitespace() || byte.is_ascii_control())
        {
            return Err(EvrParseError::BadCharacter {
                text: text.to_owned(),
            });
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch_text, rest)) => (parse_epoch(text, epoch_text)?, rest),
            None => (0, text),
        };
        if rest.contains(':') {
            return Err(EvrParseError::ExtraColon {
                text: text.to_owned(),
            });
        }
        let (version, release) = match rest.rsplit_once('-') {
            Some((_, "")) => {
                return Err(EvrParseError::EmptyRelease {
                    text: text.to_owned(),
                });
            }
            Some((version, release)) => (version, release),
            None => (rest, ""),
        };
        if version.is_empty() {
            return Err(EvrParseError::EmptyVersion {
                text: text.to_owned(),
            });
        }
        Ok(Evr::new(epoch, version, release))
    }

    /// True when the release is present (not empty).
    pub fn has_release(&self) -> bool {
        !self.release.is_empty()
    }

    /// The comparison rpm uses for dependency ranges (`rpmdsCompare`): epoch, version, and the
    /// release only when *both* sides have one, so `1.2` compares equal to `1.2-3`.
    ///
    /// This is not a total order (`1.2-1` = `1.2` = `1.2-2`, yet `1.2-1` < `1.2-2`), which is
    /// why it is not [`Ord`]; use it to decide whether a versioned dependency is satisfied, never
    /// to sort.
    pub fn dependency_cmp(&self, other: &Evr) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| {
                if self.has_release() && other.has_release() {
                    rpmvercmp(&self.release, &other.release)
                } else {
                    Ordering::Equal
                }
            })
    }
}

fn parse_epoch(text: &str, epoch_text: &str) -> Result<u32, EvrParseError> {
    if epoch_text.is_empty() || !epoch_text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(EvrParseError::EpochNotNumber {
            text: text.to_owned(),
            epoch: epoch_text.to_owned(),
        });
    }
    epoch_text
        .parse::<u32>()
        .map_err(|_| EvrParseError::EpochTooLarge {
            text: text.to_owned(),
            epoch: epoch_text.to_owned(),
        })
}

impl Ord for Evr {
    fn cmp(&self, other: &Evr) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (self.has_release(), other.has_release()) {
                (true, true) => rpmvercmp(&self.release, &other.release),
                (left, right) => left.cmp(&right),
            })
    }
}

impl PartialOrd for Evr {
    fn partial_cmp(&self, other: &Evr) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Evr {
    fn eq(&self, other: &Evr) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Evr {}

impl Hash for Evr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.epoch.hash(state);
        hash_normalised(self.version.as_bytes(), state);
        self.has_release().hash(state);
        hash_normalised(self.release.as_bytes(), state);
    }
}

impl fmt::Display for Evr {
    /// `[epoch:]version[-release]`, the epoch only when it is not 0.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(formatter, "{}:", self.epoch)?;
        }
        formatter.write_str(&self.version)?;
        if self.has_release() {
            write!(formatter, "-{}", self.release)?;
        }
        Ok(())
    }
}

/// Compares two version (or release) strings segment by segment, exactly as rpm 4.18's
/// `rpmvercmp` does (see the module documentation for the rules).
///
/// One deliberate difference: a NUL byte, which ends a C string, is an ordinary separator here.
///
/// ```
/// use std::cmp::Ordering;
/// use pw_core::version::rpm::rpmvercmp;
///
/// assert_eq!(rpmvercmp("1.0~rc1", "1.0"), Ordering::Less);
/// assert_eq!(rpmvercmp("1.0^git1", "1.0"), Ordering::Greater);
/// assert_eq!(rpmvercmp("1.010", "1.9"), Ordering::Greater);
/// assert_eq!(rpmvercmp("1.01", "1.1"), Ordering::Equal);
/// ```
pub fn rpmvercmp(left: &str, right: &str) -> Ordering {
    rpmvercmp_bytes(left.as_bytes(), right.as_bytes())
}

/// [`rpmvercmp`] on bytes; non-ASCII bytes are separators.
pub fn rpmvercmp_bytes(left: &[u8], right: &[u8]) -> Ordering {
    // Skip the common prefix, backing up to just after its last non-alphanumeric byte: every
    // token before that point is identical on both sides, and the comparison of what follows
    // starts from the same state as it would after walking the prefix.
    let common = common_prefix_length(left, right);
    if common == left.len() && common == right.len() {
        return Ordering::Equal;
    }
    let restart = left[..common]
        .iter()
        .rposition(|byte| !byte.is_ascii_alphanumeric())
        .map_or(0, |index| index + 1);
    let mut left = &left[restart..];
    let mut right = &right[restart..];
    loop {
        left = skip_separators(left);
        right = skip_separators(right);
        let (left_first, right_first) = (left.first().copied(), right.first().copied());
        // `~` sorts before anything, the end included.
        match (left_first == Some(b'~'), right_first == Some(b'~')) {
            (true, true) => {
                left = &left[1..];
                right = &right[1..];
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        // `^` sorts after the end but before a letter or digit.
        if left_first == Some(b'^') || right_first == Some(b'^') {
            match (left_first, right_first) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(b'^'), Some(b'^')) => {
                    left = &left[1..];
                    right = &right[1..];
                    continue;
                }
                (Some(b'^'), Some(_)) => return Ordering::Less,
                (Some(_), Some(_)) => return Ordering::Greater,
            }
        }
        let (Some(left_first), Some(right_first)) = (left_first, right_first) else {
            break;
        };
        if left_first.is_ascii_digit() {
            if !right_first.is_ascii_digit() {
                // A numeric segment is newer than an alphabetic one.
                return Ordering::Greater;
            }
            let left_end = run_length(left, u8::is_ascii_digit);
            let right_end = run_length(right, u8::is_ascii_digit);
            let ordering = compare_numbers(&left[..left_end], &right[..right_end]);
            if ordering.is_ne() {
                return ordering;
            }
            left = &left[left_end..];
            right = &right[right_end..];
        } else {
            if !right_first.is_ascii_alphabetic() {
                return Ordering::Less;
            }
            let left_end = run_length(left, u8::is_ascii_alphabetic);
            let right_end = run_length(right, u8::is_ascii_alphabetic);
            let ordering = compare_bytes(&left[..left_end], &right[..right_end]);
            if ordering.is_ne() {
                return ordering;
            }
            left = &left[left_end..];
            right = &right[right_end..];
        }
    }
    // Whichever side still has a letter or digit left is newer.
    (!left.is_empty()).cmp(&!right.is_empty())
}

/// True for bytes that only separate segments: everything but ASCII letters, digits, `~`, `^`.
#[inline]
fn is_separator(byte: u8) -> bool {
    !byte.is_ascii_alphanumeric() && byte != b'~' && byte != b'^'
}

#[inline]
fn skip_separators(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&byte| !is_separator(byte))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[inline]
fn run_length(bytes: &[u8], belongs: fn(&u8) -> bool) -> usize {
    bytes
        .iter()
        .position(|byte| !belongs(byte))
        .unwrap_or(bytes.len())
}

/// Compares two runs of ASCII digits as numbers of any size.
#[inline]
fn compare_numbers(left: &[u8], right: &[u8]) -> Ordering {
    let left = strip_leading_zeros(left);
    let right = strip_leading_zeros(right);
    left.len()
        .cmp(&right.len())
        .then_with(|| compare_bytes(left, right))
}

/// `left.cmp(right)` for the short slices of a version, without a call to `memcmp`.
#[inline]
fn compare_bytes(left: &[u8], right: &[u8]) -> Ordering {
    let common = common_prefix_length(left, right);
    match (left.get(common), right.get(common)) {
        (Some(left_byte), Some(right_byte)) => left_byte.cmp(right_byte),
        _ => left.len().cmp(&right.len()),
    }
}

#[inline]
fn common_prefix_length(left: &[u8], right: &[u8]) -> usize {
    left.iter()
        .zip(right)
        .take_while(|(left_byte, right_byte)| left_byte == right_byte)
        .count()
}

#[inline]
fn strip_leading_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|&digit| digit != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

/// Feeds the token sequence of a version to `state`, so that two strings for which
/// [`rpmvercmp_bytes`] returns `Equal` (and only those, up to collisions) hash alike.
fn hash_normalised<H: Hasher>(bytes: &[u8], state: &mut H) {
    let mut rest = skip_separators(bytes);
    while let Some(&first) = rest.first() {
        let length = if first.is_ascii_digit() {
            let end = run_length(rest, u8::is_ascii_digit);
            let digits = strip_leading_zeros(&rest[..end]);
            state.write_u8(b'0');
            state.write_usize(digits.len());
            state.write(digits);
            end
        } else if first.is_ascii_alphabetic() {
            let end = run_length(rest, u8::is_ascii_alphabetic);
            state.write_u8(b'a');
            state.write_usize(end);
            state.write(&rest[..end]);
            end
        } else {
            // `~` or `^`.
            state.write_u8(first);
            1
        };
        rest = skip_separators(&rest[length..]);
    }
    state.write_u8(b'$');
}
