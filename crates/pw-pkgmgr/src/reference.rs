//! What the host's own package manager would update, asked in its own terms, for
//! `patchwarden agent compare`: the differential an operator runs on a new OS version or a
//! release image. Nothing decides on these answers; they are only compared with pw-core's.
//!
//! * dnf: `dnf -q -C updateinfo list --updates --sec-severity=Critical
//!   --sec-severity=Important --bugfix` (the advisories of newer versions of installed
//!   packages, `ADVISORY  TYPE/SEVERITY  NEVRA` per line) and `dnf -q -C repoquery --upgrades
//!   --qf '<tab-separated NEVRA>'` (every upgrade the repositories offer, a machine format we
//!   choose); per (name, arch) the newest listed version that is offered, which is what `dnf
//!   upgrade-minimal` with the same filters installs (dnf 4.14;
//!   `crates/pw-agent/tests/it/differential.rs`). (`repoquery`'s own advisory filters select
//!   by package name and then return the newest upgrade, listed or not, like `dnf upgrade
//!   --bugfix`; they cannot answer this.)
//! * yum 3: `yum -q -C updateinfo list updates --sec-severity=Critical
//!   --sec-severity=Important --bugfix`, the same listing; per (name, arch) the newest listed
//!   version. Taken from yum 3.4.3's documented output, not run here (Debian has no yum);
//!   the release checklist runs it on Amazon Linux 2.
//!
//! The advisory listings have no machine format in either tool, so they are parsed: the one
//! place the agent reads the package managers' human output, and only to compare.

use std::collections::BTreeMap;

use pw_core::nevra::Nevra;

use crate::command::{self, CommandError, CommandSpec};
use crate::install::package_manager_command;
use crate::{PackageManager, Settings};

/// The queries' argv for this host: the advisory listing, then (dnf) the offered upgrades.
pub fn reference_commands(settings: &Settings) -> Vec<CommandSpec> {
    let base = || {
        package_manager_command(settings)
            .arg("-q")
            .arg("-C")
            .timeout(settings.timeouts.refresh)
    };
    let filters = [
        "--sec-severity=Critical",
        "--sec-severity=Important",
        "--bugfix",
    ];
    match settings.package_manager {
        PackageManager::Dnf => vec![
            base()
                .args(["updateinfo", "list", "--updates"])
                .args(filters),
            base().args([
                "repoquery",
                "--upgrades",
                "--qf",
                "%{name}\\t%{epoch}\\t%{version}\\t%{release}\\t%{arch}\\n",
            ]),
        ],
        PackageManager::Yum => vec![base().args(["updateinfo", "list", "updates"]).args(filters)],
    }
}

/// `name.arch` → the version the package manager would update to.
pub fn reference_updates(settings: &Settings) -> Result<BTreeMap<String, Nevra>, CommandError> {
    let mut outputs = Vec::new();
    for spec in reference_commands(settings) {
        let output = command::run(&spec)?.check()?;
        outputs.push(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let listed = parse_updateinfo_list(&outputs[0]);
    Ok(match outputs.get(1) {
        None => newest_per_package(listed),
        Some(offered) => {
            let offered = parse_repoquery(offered);
            newest_per_package(listed.into_iter().filter(|n| offered.contains(n)).collect())
        }
    })
}

fn newest_per_package(nevras: Vec<Nevra>) -> BTreeMap<String, Nevra> {
    let mut found = BTreeMap::new();
    for nevra in nevras {
        keep_newest(&mut found, nevra);
    }
    found
}

/// Lines `name TAB epoch TAB version TAB release TAB arch`; others are skipped.
pub fn parse_repoquery(text: &str) -> Vec<Nevra> {
    let mut found = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, epoch, version, release, arch] = fields[..] else {
            continue;
        };
        let epoch = if epoch.is_empty() || epoch == "(none)" {
            "0"
        } else {
            epoch
        };
        if let Ok(nevra) = Nevra::parse(&format!("{name}-{epoch}:{version}-{release}.{arch}")) {
            found.push(nevra);
        }
    }
    found
}

/// `updateinfo list` lines of dnf and yum 3: `ADVISORY  TYPE[/SEVERITY]  NEVRA`. Headers
/// ("Loaded plugins: ..."), the "updateinfo list done" trailer and anything without three
/// fields whose last is a NEVRA are skipped.
pub fn parse_updateinfo_list(text: &str) -> Vec<Nevra> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [_advisory, _kind, package] = fields[..] else {
                return None;
            };
            Nevra::parse(package).ok()
        })
        .collect()
}

fn keep_newest(found: &mut BTreeMap<String, Nevra>, nevra: Nevra) {
    let key = format!("{}.{}", nevra.name, nevra.arch);
    match found.get(&key) {
        Some(existing) if existing.evr >= nevra.evr => {}
        _ => {
            found.insert(key, nevra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repoquery_lines() {
        let found = newest_per_package(parse_repoquery(
            "alpha\t0\t1.2\t1\tnoarch\npi\t1\t1.1\t1\tnoarch\nnoise\nalpha\t0\t1.1\t1\tnoarch\n",
        ));
        assert_eq!(found["alpha.noarch"].to_string(), "alpha-1.2-1.noarch");
        assert_eq!(found["pi.noarch"].evr.to_string(), "1:1.1-1");
    }

    /// The shape yum 3.4.3 prints (Amazon Linux 2), trailer included.
    #[test]
    fn yum_updateinfo_lines() {
        let text = "Loaded plugins: extras_suggestions, langpacks, priorities, update-motd\n\
ALAS2-2023-2001 important/Sec. openssl-libs-1:1.0.2k-24.amzn2.0.7.x86_64\n\
ALAS2-2023-2002 critical/Sec.  openssl-libs-1:1.0.2k-24.amzn2.0.8.x86_64\n\
ALAS2-2023-2100 bugfix         tzdata-2023c-1.amzn2.0.1.noarch\n\
updateinfo list done\n";
        let found = newest_per_package(parse_updateinfo_list(text));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found["openssl-libs.x86_64"].evr.to_string(),
            "1:1.0.2k-24.amzn2.0.8"
        );
        assert_eq!(found["tzdata.noarch"].evr.to_string(), "2023c-1.amzn2.0.1");
    }
}
