//! Debian versions (`[epoch:]upstream[-revision]`) and their ordering, identical to dpkg.
//!
//! The semantics, re-implemented from Debian Policy §5.6.12 and dpkg's documented behaviour:
//!
//! * Epochs compare numerically (missing = 0), then the upstream versions, then the revisions
//!   (missing = empty, which equals `0`).
//! * A version string alternates non-digit and digit runs. Non-digit runs compare character by
//!   character where `~` sorts before everything (even the end), then the end of the run, then
//!   letters (by ASCII), then every other character (by ASCII). Digit runs compare numerically,
//!   an empty run counting as 0.
//!
//! Parsing follows dpkg's `parseversion`: surrounding whitespace is ignored; an empty string,
//! embedded whitespace, an empty or non-numeric or too large epoch, nothing after the epoch's
//! colon, an empty upstream version and an empty revision after `-` are errors. Characters that
//! Debian Policy does not allow are errors here too (dpkg only warns about them). An upstream
//! version that does not start with a digit is accepted, as dpkg accepts it with a warning;
//! [`DebVersion::upstream_starts_with_digit`] reports it. See `docs/versions.md`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// The largest epoch dpkg accepts (`INT_MAX`).
pub const MAX_EPOCH: u32 = i32::MAX.unsigned_abs();

/// A parsed Debian package version. Ordering and equality are dpkg's (`1.0` equals `1.0-0` and
/// `0:1.00`); [`Hash`] hashes a normalised form, so it agrees with [`Eq`].
///
/// ```
/// use pw_core::version::deb::DebVersion;
///
/// let older = DebVersion::parse("1.2.3~rc1-1")?;
/// let newer = DebVersion::parse("1.2.3-1")?;
/// assert!(older < newer);
/// assert_eq!(DebVersion::parse("1:2.0-1ubuntu0.1")?.epoch(), 1);
/// # Ok::<(), pw_core::version::deb::DebVersionError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DebVersion {
    epoch: u32,
    upstream: String,
    revision: String,
}

/// Why a string is not a valid Debian version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebVersionError {
    #[error("debian version is empty")]
    Empty,
    #[error("debian version `{text}` has embedded whitespace")]
    EmbeddedWhitespace { text: String },
    #[error("debian version `{text}` has an empty epoch before `:`")]
    EpochEmpty { text: String },
    #[error("epoch `{epoch}` in debian version `{text}` is not a number")]
    EpochNotNumber { text: String, epoch: String },
    #[error("epoch `{epoch}` in debian version `{text}` is too large (at most 2147483647)")]
    EpochTooLarge { text: String, epoch: String },
    #[error("debian version `{text}` has nothing after the epoch's `:`")]
    NothingAfterColon { text: String },
    #[error("debian version `{text}` has an empty upstream version")]
    UpstreamEmpty { text: String },
    #[error("debian version `{text}` has an empty revision after `-`")]
    RevisionEmpty { text: String },
    #[error(
        "debian version `{text}` has the character `{character}` in its upstream version \
         (allowed: letters, digits and `.+~-:`)"
    )]
    InvalidUpstreamCharacter { text: String, character: char },
    #[error(
        "debian version `{text}` has the character `{character}` in its revision \
         (allowed: letters, digits and `.+~`)"
    )]
    InvalidRevisionCharacter { text: String, character: char },
}

impl DebVersion {
    /// Parses `[epoch:]upstream[-revision]` as dpkg does: the epoch ends at the first `:`, the
    /// revision starts after the last `-`. See the module documentation for what is rejected.
    pub fn parse(text: &str) -> Result<DebVersion, DebVersionError> {
        let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.is_empty() {
            return Err(DebVersionError::Empty);
        }
        let owned = || trimmed.to_owned();
        if trimmed.bytes().any(|byte| byte.is_ascii_whitespace()) {
            return Err(DebVersionError::EmbeddedWhitespace { text: owned() });
        }
        let (epoch, rest) = match trimmed.split_once(':') {
            Some((epoch_text, rest)) => {
                let epoch = parse_epoch(trimmed, epoch_text)?;
                if rest.is_empty() {
                    return Err(DebVersionError::NothingAfterColon { text: owned() });
                }
                (epoch, rest)
            }
            None => (0, trimmed),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((_, "")) => return Err(DebVersionError::RevisionEmpty { text: owned() }),
            Some((upstream, revision)) => (upstream, revision),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(DebVersionError::UpstreamEmpty { text: owned() });
        }
        if let Some(character) = upstream
            .chars()
            .find(|&c| !c.is_ascii_alphanumeric() && !".+~-:".contains(c))
        {
            return Err(DebVersionError::InvalidUpstreamCharacter {
                text: owned(),
                character,
            });
        }
        if let Some(character) = revision
            .chars()
            .find(|&c| !c.is_ascii_alphanumeric() && !".+~".contains(c))
        {
            return Err(DebVersionError::InvalidRevisionCharacter {
                text: owned(),
                character,
            });
        }
        Ok(DebVersion {
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }

    /// The epoch; 0 when the version has none.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream version (between the epoch's `:` and the last `-`).
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The Debian revision (after the last `-`); empty when the version has none.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// False for versions dpkg warns about ("version number does not start with digit"); they
    /// are still accepted and ordered.
    pub fn upstream_starts_with_digit(&self) -> bool {
        self.upstream
            .bytes()
            .next()
            .is_some_and(|byte| byte.is_ascii_digit())
    }
}

fn parse_epoch(text: &str, epoch_text: &str) -> Result<u32, DebVersionError> {
    // dpkg reads the epoch with strtol, which also accepts a leading `+`.
    let digits = epoch_text.strip_prefix('+').unwrap_or(epoch_text);
    if epoch_text.is_empty() {
        return Err(DebVersionError::EpochEmpty {
            text: text.to_owned(),
        });
    }
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(DebVersionError::EpochNotNumber {
            text: text.to_owned(),
            epoch: epoch_text.to_owned(),
        });
    }
    match digits.parse::<u32>() {
        Ok(epoch) if epoch <= MAX_EPOCH => Ok(epoch),
        _ => Err(DebVersionError::EpochTooLarge {
            text: text.to_owned(),
            epoch: epoch_text.to_owned(),
        }),
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &DebVersion) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &DebVersion) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &DebVersion) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for DebVersion {}

impl Hash for DebVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.epoch.hash(state);
        hash_normalised(self.upstream.as_bytes(), state);
        hash_normalised(self.revision.as_bytes(), state);
    }
}

impl fmt::Display for DebVersion {
    /// `[epoch:]upstream[-revision]`. The epoch is written when it is not 0, and also when the
    /// upstream version contains a `:` (otherwise the text would not parse back to this value).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 || self.upstream.contains(':') {
            write!(formatter, "{}:", self.epoch)?;
        }
        formatter.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(formatter, "-{}", self.revision)?;
        }
        Ok(())
    }
}

/// Compares two upstream versions (or two revisions) as dpkg does; works on any string.
///
/// ```
/// use std::cmp::Ordering;
/// use pw_core::version::deb::verrevcmp;
///
/// assert_eq!(verrevcmp("1.0~beta", "1.0"), Ordering::Less);
/// assert_eq!(verrevcmp("1.0a", "1.0+"), Ordering::Less);
/// assert_eq!(verrevcmp("1.010", "1.9"), Ordering::Greater);
/// ```
pub fn verrevcmp(left: &str, right: &str) -> Ordering {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    if left == right {
        return Ordering::Equal;
    }
    let (mut i, mut j) = (0, 0);
    while i < left.len() || j < right.len() {
        // The non-digit run, character by character; the end of the run weighs 0.
        loop {
            let left_byte = left.get(i).copied().filter(|byte| !byte.is_ascii_digit());
            let right_byte = right.get(j).copied().filter(|byte| !byte.is_ascii_digit());
            if left_byte.is_none() && right_byte.is_none() {
                break;
            }
            let (left_weight, right_weight) = (weight(left_byte), weight(right_byte));
            if left_weight != right_weight {
                return left_weight.cmp(&right_weight);
            }
            // Equal weights with one side at the end of its run cannot happen: only the end
            // weighs 0. So both sides have a byte here.
            i += 1;
            j += 1;
        }
        // The digit run, numerically.
        let left_digits = digit_run(left, i);
        let right_digits = digit_run(right, j);
        i += left_digits.len();
        j += right_digits.len();
        let ordering = compare_numbers(left_digits, right_digits);
        if ordering.is_ne() {
            return ordering;
        }
    }
    Ordering::Equal
}

/// The weight of one character of a non-digit run; `None` is the end of the run.
#[inline]
fn weight(byte: Option<u8>) -> i32 {
    match byte {
        None => 0,
        Some(b'~') => -1,
        Some(letter) if letter.is_ascii_alphabetic() => i32::from(letter),
        // dpkg reads characters as (signed) `char`, so bytes above 127 weigh less than ASCII
        // punctuation; mirror that so that even non-ASCII input orders the same.
        Some(other) => i32::from(other.cast_signed()) + 256,
    }
}

#[inline]
fn digit_run(bytes: &[u8], start: usize) -> &[u8] {
    let rest = bytes.get(start..).unwrap_or_default();
    let length = rest
        .iter()
        .position(|byte| !byte.is_ascii_digit())
        .unwrap_or(rest.len());
    &rest[..length]
}

#[inline]
fn compare_numbers(left: &[u8], right: &[u8]) -> Ordering {
    let left = strip_leading_zeros(left);
    let right = strip_leading_zeros(right);
    left.len().cmp(&right.len()).then_with(|| left.cmp(right))
}

#[inline]
fn strip_leading_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|&digit| digit != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

/// Feeds the (non-digit run, number) pairs of `bytes` to `state`, so that strings that
/// [`verrevcmp`] finds equal hash alike. The one degenerate case: a string made only of zeros
/// (`0`, `00`) equals the empty string.
fn hash_normalised<H: Hasher>(bytes: &[u8], state: &mut H) {
    if bytes.iter().all(|&byte| byte == b'0') {
        state.write_u8(b'$');
        return;
    }
    let mut start = 0;
    while start < bytes.len() {
        let non_digits = bytes[start..]
            .iter()
            .position(u8::is_ascii_digit)
            .unwrap_or(bytes.len() - start);
        state.write_usize(non_digits);
        state.write(&bytes[start..start + non_digits]);
        start += non_digits;
        let digits = digit_run(bytes, start);
        start += digits.len();
        let number = strip_leading_zeros(digits);
        state.write_usize(number.len());
        state.write(number);
    }
    state.write_u8(b'$');
}
