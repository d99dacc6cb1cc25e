//! What the rpm backend holds of the host's repositories between loading them and evaluating:
//! every enabled repository's catalog in compact form (pw-core's `repo::compact`), and on
//! demand the values of the names the host has installed (docs/agent.md, "Memory").
//!
//! An evaluation needs full values only for installed names: every item of the report is an
//! installed (name, arch). The rest of the catalog counts only in the summary's NotApplicable
//! count: the approved, available versions of names the host does not have. That count is taken
//! by `Snapshot::count` (the approval pass of `Snapshot::build`), over the other names in parts
//! ([`HostCatalog::not_applicable_elsewhere`]): a baseline's entries for one name depend only
//! on that name's packages and listings and on advisory-level properties, and the package
//! manager's visibility rules (`crate::visibility`) decide per name as well. So the report is
//! the one the whole catalog gives, while at most two parts of it exist as values at a time.

use std::collections::{HashMap, HashSet};

use pw_core::baseline::Baseline;
use pw_core::evaluate::{Catalog, Context, Snapshot};
use pw_core::repo::compact::{CompactCatalog, NameClasses};
use pw_core::repo::{Advisory, Package};
use pw_pkgmgr::repo_cache::{CachedRepository, RepositoryConfig};

use crate::visibility::{Hidden, Visibility};

/// How many package and listing records one part of a NotApplicable count materializes, at
/// most about: two parts are in memory at once, about 1.5 MB each at this size (an Amazon
/// Linux 2 sized catalog is 43 parts).
const PART_RECORDS: usize = 2048;

/// Maps of names, looked up once per package and listing of the catalog.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The compact catalogs of a host's repositories, in the order the configuration gives them.
pub(crate) struct HostCatalog {
    /// The configuration the visibility rules come from (its repository list is not used:
    /// `repositories` holds the loaded ones).
    config: RepositoryConfig,
    repositories: Vec<(CachedRepository, CompactCatalog)>,
}

/// Values of some names of a [`HostCatalog`], after the package manager's visibility rules.
pub(crate) struct Materialized {
    pub(crate) packages: Vec<Package>,
    pub(crate) advisories: Vec<Advisory>,
    pub(crate) hidden: Hidden,
}

impl HostCatalog {
    pub(crate) fn new(config: RepositoryConfig) -> HostCatalog {
        HostCatalog {
            config,
            repositories: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, repository: CachedRepository, catalog: CompactCatalog) {
        self.repositories.push((repository, catalog));
    }

    /// The packages and advisories of the names `keep` selects, as the package manager sees
    /// them (excludes, priorities, versionlock), in the order a load of values would give.
    pub(crate) fn materialize(
        &self,
        mut keep: impl FnMut(&str) -> bool,
        notes: &mut Vec<String>,
    ) -> Materialized {
        let classes: Vec<NameClasses> = self
            .repositories
            .iter()
            .map(|(_, catalog)| catalog.classify_names(|name| keep(name).then_some(0)))
            .collect();
        self.materialize_class(&classes, 0, true, notes)
    }

    /// Under BLOCK: the names, other than `installed`, of the packages that provide what a
    /// package of an installed name requires (by their name or a provide), once each.
    /// `Snapshot::build` indexes the providers of every capability, and a target is held back
    /// when every provider of one of its requirements is rejected: with the values of these
    /// names beside the installed ones, every provider of every requirement it looks at is
    /// there, and the decision is the whole catalog's (docs/agent.md, "Memory").
    pub(crate) fn dependency_providers(&self, installed: &HashSet<&str>) -> Vec<String> {
        let values = self.materialize(|name| installed.contains(name), &mut Vec::new());
        let capabilities: HashSet<&str> = values
            .packages
            .iter()
            .flat_map(|package| &package.requires)
            .map(|requirement| requirement.name.as_str())
            .filter(|name| pw_core::evaluate::is_checked_requirement(name))
            .collect();
        let mut seen: HashSet<&str> = installed.clone();
        let mut names = Vec::new();
        for (_, catalog) in &self.repositories {
            for name in catalog.providers_of(capabilities.iter().copied()) {
                if seen.insert(name) {
                    names.push(name.to_owned());
                }
            }
        }
        names
    }

    /// The values of the names in `class` (`classes` has one entry per repository), with the
    /// packages' provides and requires or without.
    fn materialize_class(
        &self,
        classes: &[NameClasses],
        class: u32,
        dependencies: bool,
        notes: &mut Vec<String>,
    ) -> Materialized {
        let mut filter = Visibility::new(&self.config);
        let mut packages = Vec::new();
        let mut advisories = Vec::new();
        for ((repository, catalog), classes) in self.repositories.iter().zip(classes) {
            let (some, listing) = catalog.materialize_class(classes, class, dependencies);
            packages.extend(filter.repository(repository, some));
            advisories.extend(listing);
        }
        let packages = filter.finish(packages, notes);
        Materialized {
            packages,
            advisories,
            hidden: filter.into_hidden(),
        }
    }

    /// The number of (name, arch) of names not in `installed` that `baseline` approves a
    /// version of that the repositories offer: the NotApplicable items an evaluation of the
    /// installed names alone leaves out (see the module documentation).
    pub(crate) fn not_applicable_elsewhere(
        &self,
        baseline: &Baseline,
        context: &Context,
        installed: &HashSet<&str>,
    ) -> usize {
        self.not_applicable_in_parts(baseline, context, installed, PART_RECORDS)
    }

    /// [`HostCatalog::not_applicable_elsewhere`] with parts of about `part_records` records.
    fn not_applicable_in_parts(
        &self,
        baseline: &Baseline,
        context: &Context,
        installed: &HashSet<&str>,
        part_records: usize,
    ) -> usize {
        // Without approvals of packages no advisory lists, a name no advisory lists has no
        // entry: only listed names are counted.
        let unlisted = Snapshot::approves_unlisted(baseline, context);
        let catalogs = || self.repositories.iter().map(|(_, catalog)| catalog);
        let names = catalogs().flat_map(|catalog| catalog.listed_names());
        let names: Box<dyn Iterator<Item = &str>> = if unlisted {
            Box::new(names.chain(catalogs().flat_map(|catalog| catalog.package_names())))
        } else {
            Box::new(names)
        };
        // Parts are filled with names in the order the advisories list them: the names of one
        // advisory (an update's subpackages) mostly land in one part, so each advisory is
        // made into a value about once, not once per part.
        let mut counted: Map<&str, u32> = Map::default();
        let mut order = Vec::new();
        for name in names {
            if !installed.contains(name) && !counted.contains_key(name) {
                counted.insert(name, 0);
                order.push(name);
            }
        }
        let records: usize = catalogs()
            .map(|catalog| catalog.package_count() + catalog.listing_count())
            .sum();
        let parts = records
            .div_ceil(part_records.max(1))
            .clamp(1, order.len().max(1));
        let per_part = order.len().div_ceil(parts).max(1);
        for (index, name) in order.iter().enumerate() {
            counted.insert(
                name,
                u32::try_from(index / per_part).unwrap_or(u32::MAX - 2),
            );
        }
        let classes: Vec<NameClasses> = catalogs()
            .map(|catalog| catalog.classify_names(|name| counted.get(name).copied()))
            .collect();
        let parts = u32::try_from(parts).unwrap_or(u32::MAX - 2);
        let count_part = |part: u32| {
            // Counting approvals reads no provides or requires.
            let values = self.materialize_class(&classes, part, false, &mut Vec::new());
            if values.packages.is_empty() {
                return 0;
            }
            Snapshot::count(
                baseline,
                Catalog {
                    packages: &values.packages,
                    advisories: &values.advisories,
                },
                context,
            )
        };
        // Two at a time, odd and even parts: the host's second core has nothing else to do
        // by now, and two parts in memory are still a few MB.
        std::thread::scope(|scope| {
            let odd = scope.spawn(|| (1..parts).step_by(2).map(count_part).sum::<usize>());
            let even: usize = (0..parts).step_by(2).map(count_part).sum();
            even + odd
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use jiff::Timestamp;
    use pw_core::baseline::{
        Approval, ComplianceLevel, Exception, Family, Filter, FilterGroup, FilterKey,
        OperatingSystem, RejectedAction, Rule, default_baseline,
    };
    use pw_core::evaluate::{EvaluateOptions, Evaluation, InstalledPackage, Reason};
    use pw_core::nevra::Nevra;
    use pw_core::repo::{AdvisoryPackage, Dependency, Reference};
    use pw_core::version::rpm::Evr;
    use pw_pkgmgr::yum_config::{PrioritiesPlugin, VersionLock};

    use super::*;

    /// A small deterministic generator (xorshift), so the catalog is the same every run.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    const ARCHES: [&str; 3] = ["x86_64", "noarch", "i686"];

    fn nevra(name: usize, arch: usize, version: u64, epoch: u32) -> Nevra {
        Nevra {
            name: format!("pkg{name}"),
            evr: Evr {
                epoch,
                version: format!("1.{version}"),
                release: format!("{}.amzn2", version % 3 + 1),
            },
            arch: ARCHES[arch].to_owned(),
        }
    }

    fn dependency(name: &str) -> Dependency {
        Dependency {
            name: name.to_owned(),
            flags: None,
            evr: None,
        }
    }

    /// Two repositories of 120 names with several versions each, advisories of every kind
    /// listing some of them (and versions no repository has), and a host with 40 of the names
    /// installed (some at versions no repository has) plus a few of its own.
    fn world(seed: u64) -> (HostCatalog, Vec<InstalledPackage>) {
        let mut random = Random(seed);
        let repository = |id: &str, priority: u32, exclude: &[&str]| CachedRepository {
            id: id.to_owned(),
            config_file: PathBuf::from(format!("/etc/yum.repos.d/{id}.repo")),
            cache: None,
            priority,
            exclude: exclude.iter().map(|e| (*e).to_owned()).collect(),
            includepkgs: Vec::new(),
        };
        let config = RepositoryConfig {
            repositories: Vec::new(),
            main_file: Some(PathBuf::from("/etc/yum.conf")),
            main_exclude: vec!["pkg7".to_owned()],
            priorities: Some(PrioritiesPlugin {
                only_samearch: false,
                check_obsoletes: false,
            }),
            versionlock: Some(VersionLock {
                file: PathBuf::from("/etc/yum/pluginconf.d/versionlock.list"),
                locks: vec!["0:pkg5-1.2-3.amzn2.*".to_owned()],
                excludes: vec!["0:pkg9-1.3-1.amzn2.*".to_owned()],
            }),
            notes: Vec::new(),
        };
        let mut host = HostCatalog::new(config);
        let mut installed = Vec::new();
        for (index, (id, priority, exclude)) in
            [("core", 10, &["pkg1*"][..]), ("extras", 99, &[][..])]
                .into_iter()
                .enumerate()
        {
            let mut catalog = CompactCatalog::new();
            let mut offered = Vec::new();
            for name in 0..120 {
                // Some names only in one repository (priorities hide the other's).
                if (name + index) % 5 == 0 {
                    continue;
                }
                let arch = name % 3;
                for version in 0..=random.below(6) {
                    let epoch = u32::from(name % 17 == 0);
                    let mut package =
                        Package::new(nevra(name, arch, version, epoch), String::new());
                    package.build_time = Some(1_700_000_000 + random.below(20_000_000) as i64);
                    // Capabilities `cap0`..`cap29`, and names, required and provided.
                    for _ in 0..random.below(3) {
                        let capability = match random.below(4) {
                            0 => format!("pkg{}", random.below(120)),
                            1 => "rpmlib(CompressedFileNames)".to_owned(),
                            _ => format!("cap{}", random.below(30)),
                        };
                        package.requires.push(dependency(&capability));
                    }
                    if random.below(3) == 0 {
                        let capability = format!("cap{}", random.below(30));
                        package.provides.push(dependency(&capability));
                    }
                    package.provides.push(dependency(&format!("pkg{name}")));
                    catalog.push_package(&package);
                    offered.push(package.nevra);
                }
            }
            for number in 0..40 {
                let listed: Vec<AdvisoryPackage> = (0..=random.below(4))
                    .map(|_| {
                        let nevra = if random.below(8) == 0 {
                            // A version no repository has.
                            nevra(random.below(120) as usize, 0, 9, 0)
                        } else {
                            offered[random.below(offered.len() as u64) as usize].clone()
                        };
                        AdvisoryPackage {
                            nevra,
                            filename: None,
                            reboot_suggested: random.below(5) == 0,
                            source_rpm: None,
                            collection: 0,
                        }
                    })
                    .collect();
                let kind = ["security", "bugfix", "enhancement"][random.below(3) as usize];
                let severity =
                    ["Critical", "Important", "Medium", "Low", ""][random.below(5) as usize];
                let updated: Timestamp =
                    Timestamp::from_second(1_700_000_000 + random.below(20_000_000) as i64)
                        .unwrap();
                catalog.push_advisory(Advisory {
                    id: format!("ALAS-{id}-{number}"),
                    kind: kind.to_owned(),
                    status: None,
                    severity: (!severity.is_empty()).then(|| severity.to_owned()),
                    title: None,
                    issued: Some(updated),
                    updated: (random.below(4) != 0).then_some(updated),
                    references: vec![Reference {
                        kind: "cve".to_owned(),
                        id: format!("CVE-2024-{}", random.below(50)),
                        href: None,
                        title: None,
                    }],
                    packages: listed,
                    description: None,
                    reboot_suggested: false,
                    collections: Vec::new(),
                });
            }
            if index == 0 {
                for name in (0..120).step_by(3) {
                    installed.push(InstalledPackage {
                        nevra: nevra(name, name % 3, random.below(3), u32::from(name % 17 == 0)),
                        install_time: None,
                    });
                }
                installed.push(InstalledPackage {
                    nevra: nevra(500, 0, 1, 0),
                    install_time: None,
                });
            }
            host.push(repository(id, priority, exclude), catalog);
        }
        (host, installed)
    }

    fn rule(classifications: &[&str], approval: Approval, non_security: bool) -> Rule {
        Rule {
            filters: FilterGroup {
                filters: vec![Filter {
                    key: FilterKey::Classification,
                    values: classifications.iter().map(|c| (*c).to_owned()).collect(),
                }],
            },
            approval,
            compliance_level: ComplianceLevel::High,
            enable_non_security: non_security,
        }
    }

    fn baselines() -> Vec<Baseline> {
        let default = default_baseline(OperatingSystem::AmazonLinux2);
        let mut non_security = default.clone();
        non_security.rules = vec![
            rule(&["Security"], Approval::AfterDays(7), false),
            rule(&["*"], Approval::AfterDays(30), true),
        ];
        let mut exceptions = default.clone();
        exceptions.approved = vec![Exception::new("pkg2*"), Exception::new("ALAS-extras-3")];
        exceptions.approved_enable_non_security = true;
        exceptions.rejected = vec![Exception::new("pkg4*"), Exception::new("pkg11")];
        exceptions.rejected_action = RejectedAction::AllowAsDependency;
        let mut everything = default.clone();
        everything.rules = vec![rule(&["*"], Approval::Immediate, true)];
        let mut block = everything.clone();
        block.rejected = ["pkg4*", "pkg2?", "pkg1?.x86_64"]
            .into_iter()
            .map(Exception::new)
            .collect();
        block.rejected_action = RejectedAction::Block;
        vec![default, non_security, exceptions, everything, block]
    }

    fn evaluate(
        host: &HostCatalog,
        baseline: &Baseline,
        installed: &[InstalledPackage],
        focused: bool,
        part_records: usize,
    ) -> Evaluation {
        let context = Context {
            product: "AmazonLinux2".to_owned(),
            family: Family::Yum,
            now: "2024-06-01T00:00:00Z".parse().unwrap(),
        };
        // Focused, as the backend under BLOCK: the installed names and the providers of what
        // they require (for the other baselines, the extra names must change nothing).
        let installed_names: HashSet<&str> =
            installed.iter().map(|p| p.nevra.name.as_str()).collect();
        let providers = host.dependency_providers(&installed_names);
        let mut names = installed_names.clone();
        names.extend(providers.iter().map(String::as_str));
        assert!(
            names.len() > installed_names.len(),
            "providers not installed"
        );
        let values = host.materialize(|name| !focused || names.contains(name), &mut Vec::new());
        let snapshot = Snapshot::build(
            baseline,
            Catalog {
                packages: &values.packages,
                advisories: &values.advisories,
            },
            context.clone(),
        );
        let mut evaluation = snapshot.evaluate(installed, &[], &EvaluateOptions::default());
        if focused {
            let elsewhere = host.not_applicable_in_parts(baseline, &context, &names, part_records);
            evaluation = evaluation.with_more_not_applicable(elsewhere);
        }
        values.hidden.explain(&mut evaluation);
        evaluation
    }

    /// The report of the installed names (with the providers BLOCK looks at) plus the count of
    /// the rest in parts is the report of the whole catalog, item for item, for baselines with
    /// and without non-security approvals, exceptions, rejections and BLOCK, through excludes,
    /// priorities and versionlock.
    #[test]
    fn installed_names_and_a_count_in_parts_give_the_whole_catalogs_report() {
        let mut blocked = 0;
        for seed in [7, 1234, 99_991] {
            let (host, installed) = world(seed);
            for (index, baseline) in baselines().iter().enumerate() {
                let whole = evaluate(&host, baseline, &installed, false, 0);
                blocked += whole
                    .items
                    .iter()
                    .filter(|item| {
                        matches!(item.reason, Reason::BlockedByRejectedDependency { .. })
                    })
                    .count();
                assert!(
                    whole.summary.not_applicable > 0,
                    "baseline {index}: something to count"
                );
                for part_records in [1, 50, 10_000] {
                    let focused = evaluate(&host, baseline, &installed, true, part_records);
                    assert_eq!(
                        focused, whole,
                        "seed {seed}, baseline {index}, parts of {part_records} records"
                    );
                }
            }
        }
        assert!(blocked > 0, "BLOCK held some target back");
    }
}
