//! Release versions of versioned repositories (Amazon Linux 2023): which release a host
//! evaluates and installs against.
//!
//! An AL2023 host is locked to one immutable, dated release of its repositories
//! (`2023.9.20251117`): `/etc/dnf/vars/releasever` when set, else the version of the installed
//! `system-release` package. New advisories only appear in the metadata of newer releases, so
//! "which updates" has a second knob, "which release". A baseline's [`ReleasePolicy`] says
//! which release its hosts move to; [`ReleasePolicy::choose`] picks it from the releases the
//! server learned (Amazon's release metadata, [`crate::repo::releasemd`]) at the execution's
//! instant, and [`plan`] says what a host on some release does about it.
//!
//! Decisions (docs/releases.md):
//! - The release date is the date in the version (`2023.9.20251117` is 2025-11-17), read as
//!   00:00 UTC of that day. `approve_after_days = N` takes releases whose date is at least N
//!   whole days before the instant; `approve_until_date = D` (or a rolling
//!   `first-of-month[-N]`) takes releases dated on or before D.
//! - Of the eligible releases (not rejected; verified ones only under `require_verified`), the
//!   newest is chosen. A pin chooses exactly its release.
//! - A host never moves backwards: a host on a newer release than the chosen one evaluates
//!   against its own release and is reported as ahead.
//! - The lock moves with an install when the baseline takes the release as a whole (it has
//!   approval rules); a baseline that approves individual patches only (strategy 4) installs
//!   them from the newer release and leaves the lock where it was.

use std::cmp::Ordering;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;

use crate::baseline::{Approval, Baseline};

/// A release version: `MAJOR.MINOR.YYYYMMDD`, optionally followed by `.N` (a re-spin of the
/// same day). Ordered, compared and hashed by major, minor, date and re-spin (so
/// `2023.09.20251117` is `2023.9.20251117`); the text is kept as given for display.
#[derive(Debug, Clone)]
pub struct ReleaseVersion {
    major: u32,
    minor: u32,
    date: Date,
    respin: u32,
    text: String,
}

/// A text that is not a release version; says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a release version (MAJOR.MINOR.YYYYMMDD, like 2023.9.20251117): {reason}")]
pub struct ReleaseVersionError {
    pub text: String,
    pub reason: &'static str,
}

impl ReleaseVersion {
    /// Parses `2023.9.20251117` or `2023.9.20251117.1`.
    pub fn parse(text: &str) -> Result<ReleaseVersion, ReleaseVersionError> {
        let error = |reason| ReleaseVersionError {
            text: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        let parts: Vec<&str> = trimmed.split('.').collect();
        if !(3..=4).contains(&parts.len()) {
            return Err(error("it needs three or four dot-separated parts"));
        }
        let number = |part: &str| -> Option<u32> {
            (!part.is_empty() && part.len() <= 9 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse().ok())
                .flatten()
        };
        let major = number(parts[0]).ok_or_else(|| error("the major version is not a number"))?;
        let minor = number(parts[1]).ok_or_else(|| error("the minor version is not a number"))?;
        let stamp = parts[2];
        if stamp.len() != 8 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error("the third part is not a date YYYYMMDD"));
        }
        let year: i16 = stamp[0..4].parse().map_err(|_| error("bad year"))?;
        let month: i8 = stamp[4..6].parse().map_err(|_| error("bad month"))?;
        let day: i8 = stamp[6..8].parse().map_err(|_| error("bad day"))?;
        let date = Date::new(year, month, day).map_err(|_| error("the date does not exist"))?;
        let respin = match parts.get(3) {
            None => 0,
            Some(part) => number(part).ok_or_else(|| error("the fourth part is not a number"))?,
        };
        Ok(ReleaseVersion {
            major,
            minor,
            date,
            respin,
            text: trimmed.to_owned(),
        })
    }

    /// The release date: the date in the version.
    pub fn date(&self) -> Date {
        self.date
    }

    /// When the release counts as published: 00:00 UTC of its date.
    pub fn published(&self) -> Timestamp {
        self.date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    pub fn major(&self) -> u32 {
        self.major
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for ReleaseVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ReleaseVersion {}

impl std::hash::Hash for ReleaseVersion {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.major, self.minor, self.date, self.respin).hash(state);
    }
}

impl Ord for ReleaseVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.date, self.respin).cmp(&(
            other.major,
            other.minor,
            other.date,
            other.respin,
        ))
    }
}

impl PartialOrd for ReleaseVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How a baseline picks its release (beside pinning one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseSelection {
    /// Exactly this release.
    Pin(ReleaseVersion),
    /// The newest eligible release the approval admits: `AfterDays`, `UntilDate`,
    /// `UntilRelative`, or `Immediate` (the newest eligible release, whatever its age).
    Newest(Approval),
}

/// A baseline's `[release]` table: which release its hosts evaluate and install against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasePolicy {
    pub selection: ReleaseSelection,
    /// Never move to these.
    pub reject: Vec<ReleaseVersion>,
    /// Releases a staging environment ran without trouble (`patchwarden promote` adds them).
    pub verified: Vec<ReleaseVersion>,
    /// Only verified releases are eligible.
    pub require_verified: bool,
}

/// Why no release was chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoRelease {
    #[error("no release is known yet (import or fetch the release metadata)")]
    NoneKnown,
    #[error(
        "none of the {known} known releases is eligible at {instant} ({why}); hosts stay on their own release"
    )]
    NoneEligible {
        known: usize,
        instant: Timestamp,
        why: String,
    },
    #[error("the pinned release {0} is rejected")]
    PinRejected(String),
    #[error("the pinned release {0} is not verified, and the baseline requires verified releases")]
    PinNotVerified(String),
}

impl ReleasePolicy {
    /// The release hosts move to at `instant`, of the `known` ones (any order, duplicates
    /// allowed). A pin needs no list.
    pub fn choose(
        &self,
        known: &[ReleaseVersion],
        instant: Timestamp,
    ) -> Result<ReleaseVersion, NoRelease> {
        if let ReleaseSelection::Pin(pin) = &self.selection {
            if self.reject.contains(pin) {
                return Err(NoRelease::PinRejected(pin.to_string()));
            }
            if self.require_verified && !self.verified.contains(pin) {
                return Err(NoRelease::PinNotVerified(pin.to_string()));
            }
            return Ok(pin.clone());
        }
        let ReleaseSelection::Newest(approval) = self.selection else {
            unreachable!("handled above")
        };
        let candidates_from_verified = self.require_verified && !self.verified.is_empty();
        if known.is_empty() && !candidates_from_verified {
            return Err(NoRelease::NoneKnown);
        }
        // Under `require_verified`, the verified list is the candidate list (a verified
        // release is known by definition: a host ran it).
        let candidates: Vec<&ReleaseVersion> = if self.require_verified {
            // Verified releases the server knows (when it knows any: an execution chooses
            // among the releases learned before it opened).
            self.verified
                .iter()
                .filter(|release| known.is_empty() || known.contains(release))
                .collect()
        } else {
            known.iter().collect()
        };
        let chosen = candidates
            .into_iter()
            .filter(|release| !self.reject.contains(release))
            .filter(|release| admits(approval, release, instant))
            .max();
        chosen.cloned().ok_or_else(|| NoRelease::NoneEligible {
            known: known.len(),
            instant,
            why: self.describe(instant),
        })
    }

    /// The selection in words, at `instant` (for messages and reports).
    pub fn describe(&self, instant: Timestamp) -> String {
        let mut text = match &self.selection {
            ReleaseSelection::Pin(pin) => format!("pinned to {pin}"),
            ReleaseSelection::Newest(Approval::AfterDays(days)) => {
                format!("the newest release at least {days} days old")
            }
            ReleaseSelection::Newest(Approval::UntilDate(date)) => {
                format!("the newest release dated up to {date}")
            }
            ReleaseSelection::Newest(Approval::UntilRelative(relative)) => {
                format!(
                    "the newest release dated up to {}",
                    relative.resolve(instant)
                )
            }
            ReleaseSelection::Newest(Approval::Immediate) => "the newest release".to_owned(),
        };
        if self.require_verified {
            text.push_str(", verified ones only");
        }
        if !self.reject.is_empty() {
            text.push_str(&format!(", {} rejected", self.reject.len()));
        }
        text
    }
}

fn admits(approval: Approval, release: &ReleaseVersion, instant: Timestamp) -> bool {
    match approval {
        Approval::Immediate => true,
        Approval::AfterDays(days) => release
            .published()
            .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(days)))
            .is_ok_and(|approved_at| approved_at <= instant),
        Approval::UntilDate(date) => release.date() <= date,
        Approval::UntilRelative(relative) => release.date() <= relative.resolve(instant),
    }
}

/// The release a host is locked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostLock {
    /// Locked to this release (`/etc/dnf/vars/releasever`, else `system-release`).
    Release(ReleaseVersion),
    /// `releasever=latest`: the host follows the newest release.
    Latest,
    /// Neither the lock file nor `system-release` says (or what they say is not a release).
    Unknown,
}

impl fmt::Display for HostLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostLock::Release(release) => release.fmt(f),
            HostLock::Latest => f.write_str("latest"),
            HostLock::Unknown => f.write_str("unknown"),
        }
    }
}

impl HostLock {
    /// Reads a releasever value (`2023.9.20251117`, `latest`, anything else is unknown).
    pub fn parse(text: &str) -> HostLock {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("latest") {
            return HostLock::Latest;
        }
        ReleaseVersion::parse(trimmed).map_or(HostLock::Unknown, HostLock::Release)
    }
}

/// What a host does about the chosen release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleasePlan {
    /// The host is on the chosen release already.
    Current(ReleaseVersion),
    /// The host evaluates against the chosen release (newer than its lock, or its lock is
    /// `latest` or unknown); an install may move its lock there ([`lock_follows`]).
    Move { from: HostLock, to: ReleaseVersion },
    /// The host is on a newer release than the chosen one: it evaluates against its own and is
    /// never downgraded.
    Ahead {
        current: ReleaseVersion,
        approved: ReleaseVersion,
    },
}

impl ReleasePlan {
    /// The release whose metadata the host evaluates against.
    pub fn evaluate_against(&self) -> &ReleaseVersion {
        match self {
            ReleasePlan::Current(release) => release,
            ReleasePlan::Move { to, .. } => to,
            ReleasePlan::Ahead { current, .. } => current,
        }
    }

    /// `current`, `move` or `ahead`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReleasePlan::Current(_) => "current",
            ReleasePlan::Move { .. } => "move",
            ReleasePlan::Ahead { .. } => "ahead",
        }
    }
}

/// What a host locked to `lock` does when its baseline chose `chosen`.
pub fn plan(lock: &HostLock, chosen: &ReleaseVersion) -> ReleasePlan {
    match lock {
        HostLock::Release(current) => match current.cmp(chosen) {
            Ordering::Equal => ReleasePlan::Current(current.clone()),
            Ordering::Greater => ReleasePlan::Ahead {
                current: current.clone(),
                approved: chosen.clone(),
            },
            Ordering::Less => ReleasePlan::Move {
                from: lock.clone(),
                to: chosen.clone(),
            },
        },
        HostLock::Latest | HostLock::Unknown => ReleasePlan::Move {
            from: lock.clone(),
            to: chosen.clone(),
        },
    }
}

/// Whether an install under `baseline` moves the host's lock to the release it evaluated
/// against: when the baseline takes the release as a whole (it has approval rules). A
/// baseline that approves individual patches only takes those packages from the newer release
/// and the lock stays. Either way the lock moves only when no approved patch failed.
pub fn lock_follows(baseline: &Baseline) -> bool {
    !baseline.rules.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::RelativeDate;

    fn v(text: &str) -> ReleaseVersion {
        ReleaseVersion::parse(text).unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn policy(selection: ReleaseSelection) -> ReleasePolicy {
        ReleasePolicy {
            selection,
            reject: Vec::new(),
            verified: Vec::new(),
            require_verified: false,
        }
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(v("2023.9.20251117").date(), Date::constant(2025, 11, 17));
        assert!(v("2023.9.20251117") < v("2023.9.20251117.1"));
        assert!(v("2023.9.20251201") > v("2023.9.20251117"));
        assert!(v("2023.10.20250101") > v("2023.9.20251231"));
        for bad in [
            "2023.9",
            "2023.9.2025111",
            "2023.9.20251131",
            "latest",
            "2023.x.20251117",
            "2023.9.20251117.1.2",
            "",
        ] {
            assert!(ReleaseVersion::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(v("2023.09.20251117"), v("2023.9.20251117"));
        assert_eq!(v("2023.9.20251117.0"), v("2023.9.20251117"));
        let error = ReleaseVersion::parse("2023.9.20251131").unwrap_err();
        assert!(
            error.to_string().contains("the date does not exist"),
            "{error}"
        );
    }

    #[test]
    fn approve_after_days_takes_the_newest_old_enough() {
        let known = [
            v("2023.9.20251101"),
            v("2023.9.20251117"),
            v("2023.9.20251201"),
        ];
        let p = policy(ReleaseSelection::Newest(Approval::AfterDays(7)));
        // 2025-11-24T00:00Z is exactly 7 days after 2025-11-17.
        assert_eq!(
            p.choose(&known, at("2025-11-23T23:59:59Z")).unwrap(),
            v("2023.9.20251101")
        );
        assert_eq!(
            p.choose(&known, at("2025-11-24T00:00:00Z")).unwrap(),
            v("2023.9.20251117")
        );
        assert_eq!(
            p.choose(&known, at("2025-12-08T00:00:00Z")).unwrap(),
            v("2023.9.20251201")
        );
        assert!(matches!(
            p.choose(&known, at("2025-11-01T00:00:00Z")),
            Err(NoRelease::NoneEligible { .. })
        ));
        assert_eq!(
            p.choose(&[], at("2025-11-01T00:00:00Z")),
            Err(NoRelease::NoneKnown)
        );
    }

    #[test]
    fn reject_and_verified_narrow_the_choice() {
        let known = [
            v("2023.9.20251101"),
            v("2023.9.20251117"),
            v("2023.9.20251201"),
        ];
        let mut p = policy(ReleaseSelection::Newest(Approval::Immediate));
        p.reject = vec![v("2023.9.20251201")];
        assert_eq!(
            p.choose(&known, at("2026-01-01T00:00:00Z")).unwrap(),
            v("2023.9.20251117")
        );
        p.require_verified = true;
        // A verified release the server does not know (learned too late) is not chosen.
        p.verified = vec![v("2023.9.20251101"), v("2023.9.20251231")];
        assert_eq!(
            p.choose(&known, at("2026-01-01T00:00:00Z")).unwrap(),
            v("2023.9.20251101")
        );
        p.selection = ReleaseSelection::Pin(v("2023.9.20251117"));
        assert_eq!(
            p.choose(&known, at("2026-01-01T00:00:00Z")),
            Err(NoRelease::PinNotVerified("2023.9.20251117".to_owned()))
        );
        p.require_verified = false;
        p.selection = ReleaseSelection::Pin(v("2023.9.20251201"));
        assert_eq!(
            p.choose(&known, at("2026-01-01T00:00:00Z")),
            Err(NoRelease::PinRejected("2023.9.20251201".to_owned()))
        );
    }

    #[test]
    fn rolling_cutoff_applies_to_release_dates() {
        let known = [
            v("2023.9.20260301"),
            v("2023.9.20260315"),
            v("2023.9.20260401"),
        ];
        let stg = policy(ReleaseSelection::Newest(Approval::UntilRelative(
            RelativeDate::FirstOfMonth { months_ago: 0 },
        )));
        let prd = policy(ReleaseSelection::Newest(Approval::UntilRelative(
            RelativeDate::FirstOfMonth { months_ago: 1 },
        )));
        let april = at("2026-04-10T02:00:00Z");
        assert_eq!(stg.choose(&known, april).unwrap(), v("2023.9.20260401"));
        assert_eq!(prd.choose(&known, april).unwrap(), v("2023.9.20260301"));
    }

    #[test]
    fn hosts_never_move_backwards() {
        let chosen = v("2023.9.20251117");
        assert_eq!(
            plan(&HostLock::Release(v("2023.9.20251101")), &chosen).as_str(),
            "move"
        );
        assert_eq!(
            plan(&HostLock::Release(chosen.clone()), &chosen).as_str(),
            "current"
        );
        let ahead = plan(&HostLock::Release(v("2023.9.20251201")), &chosen);
        assert_eq!(ahead.evaluate_against(), &v("2023.9.20251201"));
        assert_eq!(plan(&HostLock::Latest, &chosen).evaluate_against(), &chosen);
        assert_eq!(HostLock::parse(" latest\n"), HostLock::Latest);
        assert_eq!(HostLock::parse("2"), HostLock::Unknown);
    }
}
