//! dpkg's log (`/var/log/dpkg.log` and its rotated copies): when each package version
//! reached the `installed` state.
//!
//! dpkg writes one line per state change, in local time without a zone:
//! `2024-08-10 09:44:53 status installed openssl:amd64 3.0.14-1~deb12u1`. The caller passes
//! the host's time zone to turn these into instants.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// The instants at which package versions became `installed`, from one or more logs.
#[derive(Debug, Clone, Default)]
pub struct DpkgLogInstalls {
    /// (name, arch) → (version text, instant), in the order read.
    entries: HashMap<(String, String), Vec<(String, Timestamp)>>,
    lines: u64,
}

impl DpkgLogInstalls {
    pub fn new() -> DpkgLogInstalls {
        DpkgLogInstalls::default()
    }

    /// Reads one log's text. Lines that are not `status installed` entries are ignored, and
    /// so are malformed ones: a log is a best-effort source.
    pub fn add_log(&mut self, text: &str, time_zone: &TimeZone) {
        for line in text.lines() {
            let Some((date, rest)) = line.split_once(' ') else {
                continue;
            };
            let Some((time, rest)) = rest.split_once(' ') else {
                continue;
            };
            let Some(rest) = rest.strip_prefix("status installed ") else {
                continue;
            };
            let mut words = rest.split_ascii_whitespace();
            let (Some(package), Some(version), None) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let Ok(civil) = format!("{date}T{time}").parse::<DateTime>() else {
                continue;
            };
            let Ok(instant) = time_zone.to_ambiguous_timestamp(civil).compatible() else {
                continue;
            };
            let (name, arch) = package.split_once(':').unwrap_or((package, ""));
            self.entries
                .entry((name.to_owned(), arch.to_owned()))
                .or_default()
                .push((version.to_owned(), instant));
            self.lines += 1;
        }
    }

    /// The number of `status installed` lines read.
    pub fn len(&self) -> u64 {
        self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The latest instant at which `name:arch` reached `installed` at exactly `version` (as
    /// dpkg prints it). Log lines without an architecture (dpkg before 1.16) match any.
    pub fn installed_at(&self, name: &str, arch: &str, version: &str) -> Option<Timestamp> {
        let key = |arch: &str| (name.to_owned(), arch.to_owned());
        [key(arch), key("")]
            .iter()
            .filter_map(|k| self.entries.get(k))
            .flatten()
            .filter(|(logged, _)| logged == version)
            .map(|(_, instant)| *instant)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_are_found_by_exact_version() {
        let log = "\
2024-08-10 09:44:53 startup packages configure
2024-08-10 09:44:53 status half-configured openssl:amd64 3.0.14-1~deb12u1
2024-08-10 09:44:53 status installed openssl:amd64 3.0.14-1~deb12u1
2024-09-01 10:00:00 status installed openssl:amd64 3.0.14-1~deb12u2
2024-09-02 10:00:00 status installed tzdata:all 2024a-0+deb12u1
garbage
2024-13-02 10:00:00 status installed broken:all 1
2019-01-01 00:00:00 status installed old 1.0
";
        let mut installs = DpkgLogInstalls::new();
        installs.add_log(log, &TimeZone::fixed(jiff::tz::offset(2)));
        assert_eq!(installs.len(), 4);
        let at = |name, arch, version| {
            installs
                .installed_at(name, arch, version)
                .map(|t| t.to_string())
        };
        assert_eq!(
            at("openssl", "amd64", "3.0.14-1~deb12u1").as_deref(),
            Some("2024-08-10T07:44:53Z")
        );
        assert_eq!(
            at("openssl", "amd64", "3.0.14-1~deb12u2").as_deref(),
            Some("2024-09-01T08:00:00Z")
        );
        assert_eq!(at("openssl", "amd64", "3.0.14-1"), None);
        assert_eq!(
            at("tzdata", "all", "2024a-0+deb12u1").as_deref(),
            Some("2024-09-02T08:00:00Z")
        );
        assert_eq!(
            at("old", "amd64", "1.0").as_deref(),
            Some("2018-12-31T22:00:00Z")
        );
    }
}
