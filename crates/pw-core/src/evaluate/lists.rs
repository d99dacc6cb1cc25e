//! Approved and rejected lists as the evaluator uses them: active exceptions only, matched
//! against packages (name patterns) and advisories (advisory, CVE and Bugzilla IDs).

use jiff::Timestamp;

use crate::baseline::Exception;
use crate::nevra::Nevra;
use crate::pattern::{PatchEntry, PatternSet};
use crate::repo::Advisory;

/// The active entries of one list.
#[derive(Debug)]
pub(crate) struct ExceptionList<'a> {
    patterns: PatternSet,
    entries: Vec<&'a Exception>,
}

impl<'a> ExceptionList<'a> {
    pub(crate) fn new(exceptions: &'a [Exception], now: Timestamp) -> ExceptionList<'a> {
        let entries: Vec<&Exception> = exceptions.iter().filter(|e| e.is_active(now)).collect();
        let patterns = PatternSet::new(entries.iter().map(|e| PatchEntry::parse(&e.entry)));
        ExceptionList { patterns, entries }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry whose package pattern matches `nevra`.
    pub(crate) fn match_package(&self, nevra: &Nevra) -> Option<&'a str> {
        if self.entries.is_empty() {
            return None;
        }
        let index = self.patterns.matches_rpm(nevra)?;
        Some(self.entries[index].entry.as_str())
    }

    /// The first entry whose package pattern matches a Debian package (apt's six forms).
    pub(crate) fn match_deb(&self, name: &str, version: &str, arch: &str) -> Option<&'a str> {
        if self.entries.is_empty() {
            return None;
        }
        let index = self.patterns.matches_apt(name, version, arch)?;
        Some(self.entries[index].entry.as_str())
    }

    /// The first entry naming `advisory` by its ID or one of its CVE or Bugzilla references.
    pub(crate) fn match_advisory(&self, advisory: &Advisory) -> Option<&'a str> {
        if self.entries.is_empty() {
            return None;
        }
        let index = self.patterns.matches_advisory(
            &advisory.id,
            advisory
                .references
                .iter()
                .map(|r| (r.kind.as_str(), r.id.as_str())),
        )?;
        Some(self.entries[index].entry.as_str())
    }
}
