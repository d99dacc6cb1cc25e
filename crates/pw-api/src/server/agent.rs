//! The agent protocol: enrollment, long-polled commands, acknowledgements, results and
//! uploads. Every request after enrollment carries `Authorization: Bearer <credential>`; a
//! node sees only its own commands and writes only its own reports.
//!
//! Exactly-once installs: a command is handed out (possibly again, when the answer to a
//! poll was lost), but the agent runs it only after `POST .../ack` answered
//! `proceed: true`. The server says `proceed` once per command and node, and repeats that
//! answer for a repeated ack (the answer itself may be lost); the agent also remembers the
//! ids it has started, so a redelivered command never runs twice.

use jiff::Timestamp;
use pw_core::apt::Origin;
use pw_core::evaluate::apt::{AptAvailable, AptInstalled};
use pw_core::nevra::Nevra;
use pw_core::repo::{Advisory, AdvisoryPackage, Collection, Package, Reference};
use pw_core::version::deb::DebVersion;
use pw_core::version::rpm::Evr;
use serde::{Deserialize, Serialize};

use crate::evaluation::SummaryJson;
use crate::server::tokens::Tag;
use crate::server::windows::{RebootOption, TaskOperation};

/// What an agent says about its host, at enrollment and with every inventory upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NodeFacts {
    pub hostname: String,
    /// `AMAZON_LINUX_2`, `REDHAT_ENTERPRISE_LINUX`, ...
    pub operating_system: String,
    /// `AmazonLinux2`, `RedhatEnterpriseLinux9.4`, ...
    pub product: String,
    #[serde(default)]
    pub agent_version: String,
    #[serde(default)]
    pub arch: Option<String>,
    /// `/etc/machine-id`, when the agent wants re-enrollment of a host to be recognisable.
    #[serde(default)]
    pub machine_id: Option<String>,
}

/// `POST /api/v1/agent/enroll` (no credential: the activation code is the proof).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnrollRequest {
    pub activation_code: String,
    pub facts: NodeFacts,
    /// Tags the host declares for itself (for example its patch group).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::TAGS_MAX)))]
    pub tags: Vec<Tag>,
}

/// The answer to an enrollment. The credential is shown this once; the agent stores it
/// with mode 0600 (`pw_client::credential::save`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnrollResponse {
    pub node_id: String,
    pub credential: String,
    /// How long a poll may wait for commands (the server's maximum), in seconds.
    #[serde(default)]
    pub max_poll_wait_seconds: u32,
}

/// What a command asks the agent to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// Run a patch operation: scan or install, per [`PatchCommand`].
    Patch,
    /// A kind this agent does not know: acknowledge it and report it failed.
    #[serde(other)]
    Unknown,
}

/// One command for one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentCommand {
    pub id: String,
    pub kind: CommandKind,
    pub created_at: Timestamp,
    /// How many times this command has been handed out (1 the first time).
    #[serde(default)]
    pub delivery: u32,
    #[serde(default)]
    pub patch: Option<PatchCommand>,
}

/// A scan or install with a frozen baseline. Every node of one window execution receives the
/// same evaluation instant, so they all decide against one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PatchCommand {
    pub operation: TaskOperation,
    pub baseline_id: String,
    /// The baseline as native TOML, as it was when the execution started.
    pub baseline_toml: String,
    /// The evaluation instant (approval delays are measured against it).
    pub evaluation_instant: Timestamp,
    /// The snapshot id (the window execution id, or the command id for ad-hoc commands).
    pub snapshot_id: String,
    #[serde(default)]
    pub patch_group: Option<String>,
    #[serde(default)]
    pub reboot_option: RebootOption,
    #[serde(default)]
    pub install_override_list: Vec<String>,
    #[serde(default)]
    pub execution_id: Option<String>,
    #[serde(default)]
    pub invocation_id: Option<String>,
    /// Amazon Linux 2023: the release the baseline's `[release]` chose for this execution,
    /// from the releases the server knew when it started (docs/releases.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Why the baseline's `[release]` chose none (no release known or eligible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_note: Option<String>,
    /// Checks to run after installing (the task's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<crate::server::windows::HealthCheck>,
    /// A rollback: put back exactly these versions (what an earlier install replaced,
    /// `install.replaced` of its report) instead of installing the baseline's targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollback: Vec<String>,
}

/// `POST /api/v1/nodes/{id}/rollback`: put back what a window execution's install replaced on
/// the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub execution_id: String,
    #[serde(default)]
    pub reboot_option: RebootOption,
}

/// `GET /api/v1/agent/commands?wait=N`: the commands to run now (empty after the wait).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CommandsResponse {
    pub commands: Vec<AgentCommand>,
}

/// The answer to `POST /api/v1/agent/commands/{id}/ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AckResponse {
    /// Run the command now. False when it was cancelled, timed out, or the window's cutoff
    /// has passed; the agent then drops it without reporting.
    pub proceed: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// How a command ended on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommandOutcome {
    Success,
    Failed,
    #[serde(other)]
    Unknown,
}

/// `POST /api/v1/agent/commands/{id}/result`. Idempotent: the first result counts; a
/// repeated post answers with the state already recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CommandResult {
    pub outcome: CommandOutcome,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// The compliance report uploaded for this command, if any.
    #[serde(default)]
    pub report_id: Option<i64>,
    #[serde(default)]
    pub summary: Option<SummaryJson>,
}

/// The state of a command as the server records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Waiting to be handed out.
    Pending,
    /// Handed out, not acknowledged yet (handed out again if not acknowledged in time).
    Delivered,
    /// The node said it runs it.
    Acknowledged,
    Succeeded,
    Failed,
    Cancelled,
    /// Not acknowledged or not finished in time.
    TimedOut,
    #[serde(other)]
    Unknown,
}

impl CommandState {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandState::Pending => "pending",
            CommandState::Delivered => "delivered",
            CommandState::Acknowledged => "acknowledged",
            CommandState::Succeeded => "succeeded",
            CommandState::Failed => "failed",
            CommandState::Cancelled => "cancelled",
            CommandState::TimedOut => "timed_out",
            CommandState::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> CommandState {
        match text {
            "pending" => CommandState::Pending,
            "delivered" => CommandState::Delivered,
            "acknowledged" => CommandState::Acknowledged,
            "succeeded" => CommandState::Succeeded,
            "failed" => CommandState::Failed,
            "cancelled" => CommandState::Cancelled,
            "timed_out" => CommandState::TimedOut,
            _ => CommandState::Unknown,
        }
    }
}

/// The answer to a result post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ResultAccepted {
    pub state: CommandState,
}

/// A command as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CommandInfo {
    pub id: String,
    pub node_id: String,
    pub kind: CommandKind,
    pub state: CommandState,
    pub created_at: Timestamp,
    #[serde(default)]
    pub delivered_at: Option<Timestamp>,
    #[serde(default)]
    pub deliveries: u32,
    #[serde(default)]
    pub acknowledged_at: Option<Timestamp>,
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    #[serde(default)]
    pub invocation_id: Option<String>,
    #[serde(default)]
    pub result: Option<CommandResult>,
    #[serde(default)]
    pub patch: Option<PatchCommand>,
}

/// `POST /api/v1/nodes/{id}/commands`: run a patch operation on one node now, with the
/// baseline that applies to it (or `baseline_id`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CreateNodeCommand {
    pub operation: TaskOperation,
    #[serde(default)]
    pub baseline_id: Option<String>,
    #[serde(default)]
    pub reboot_option: RebootOption,
    #[serde(default)]
    pub install_override_list: Vec<String>,
}

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InstalledPackageJson {
    pub name: String,
    #[serde(default)]
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub arch: String,
    #[serde(default)]
    pub install_time: Option<Timestamp>,
}

/// An available package of the compact catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AvailablePackageJson {
    pub name: String,
    #[serde(default)]
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub arch: String,
    /// Seconds since the epoch.
    #[serde(default)]
    pub build_time: Option<i64>,
}

/// A package listed by an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AdvisoryPackageJson {
    pub name: String,
    #[serde(default)]
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub arch: String,
    #[serde(default)]
    pub reboot_suggested: bool,
}

/// A reference of an advisory (`cve`, `bugzilla`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReferenceJson {
    pub kind: String,
    pub id: String,
}

/// An advisory of the compact catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AdvisoryJson {
    pub id: String,
    /// `security`, `bugfix`, ... as written.
    pub kind: String,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub issued: Option<Timestamp>,
    #[serde(default)]
    pub updated: Option<Timestamp>,
    #[serde(default)]
    pub reboot_suggested: bool,
    #[serde(default)]
    pub references: Vec<ReferenceJson>,
    pub packages: Vec<AdvisoryPackageJson>,
}

/// The part of a node's repositories that matters for its installed packages: every
/// available version of every installed name, and every advisory that lists one of them.
/// The server builds preview snapshots from it (docs/server.md, "Preview").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CatalogJson {
    pub packages: Vec<AvailablePackageJson>,
    pub advisories: Vec<AdvisoryJson>,
}

/// `PUT /api/v1/agent/inventory`: the host's packages after a scan; replaces the previous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InventoryUpload {
    pub captured_at: Timestamp,
    pub facts: NodeFacts,
    pub packages: Vec<InstalledPackageJson>,
    /// Packages installed by an install without reboot, not rebooted since (NEVRA strings).
    #[serde(default)]
    pub pending_reboot: Vec<String>,
    #[serde(default)]
    pub last_boot_at: Option<Timestamp>,
    #[serde(default)]
    pub catalog: Option<CatalogJson>,
    /// What apt hosts (Debian, Ubuntu) evaluate instead of `packages` and `catalog`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apt: Option<AptInventoryJson>,
}

impl InstalledPackageJson {
    pub fn from_core(nevra: &Nevra, install_time: Option<Timestamp>) -> InstalledPackageJson {
        InstalledPackageJson {
            name: nevra.name.clone(),
            epoch: nevra.evr.epoch,
            version: nevra.evr.version.clone(),
            release: nevra.evr.release.clone(),
            arch: nevra.arch.clone(),
            install_time,
        }
    }

    pub fn nevra(&self) -> Nevra {
        Nevra::new(
            self.name.clone(),
            Evr::new(self.epoch, self.version.clone(), self.release.clone()),
            self.arch.clone(),
        )
    }
}

impl CatalogJson {
    /// The compact catalog of a host: the available versions of every installed name, and
    /// the advisories listing any of them (their package lists cut to those names).
    pub fn subset<'a>(
        packages: &[Package],
        advisories: &[Advisory],
        installed_names: impl IntoIterator<Item = &'a str>,
    ) -> CatalogJson {
        let names: std::collections::HashSet<&str> = installed_names.into_iter().collect();
        let packages = packages
            .iter()
            .filter(|package| names.contains(package.nevra.name.as_str()))
            .map(|package| AvailablePackageJson {
                name: package.nevra.name.clone(),
                epoch: package.nevra.evr.epoch,
                version: package.nevra.evr.version.clone(),
                release: package.nevra.evr.release.clone(),
                arch: package.nevra.arch.clone(),
                build_time: package.build_time,
            })
            .collect();
        let advisories = advisories
            .iter()
            .filter_map(|advisory| {
                let listed: Vec<AdvisoryPackageJson> = advisory
                    .packages
                    .iter()
                    .filter(|listed| names.contains(listed.nevra.name.as_str()))
                    .map(|listed| AdvisoryPackageJson {
                        name: listed.nevra.name.clone(),
                        epoch: listed.nevra.evr.epoch,
                        version: listed.nevra.evr.version.clone(),
                        release: listed.nevra.evr.release.clone(),
                        arch: listed.nevra.arch.clone(),
                        reboot_suggested: listed.reboot_suggested,
                    })
                    .collect();
                (!listed.is_empty()).then(|| AdvisoryJson {
                    id: advisory.id.clone(),
                    kind: advisory.kind.clone(),
                    severity: advisory.severity.clone(),
                    issued: advisory.issued,
                    updated: advisory.updated,
                    reboot_suggested: advisory.reboot_suggested,
                    references: advisory
                        .references
                        .iter()
                        .map(|reference| ReferenceJson {
                            kind: reference.kind.clone(),
                            id: reference.id.clone(),
                        })
                        .collect(),
                    packages: listed,
                })
            })
            .collect();
        CatalogJson {
            packages,
            advisories,
        }
    }

    /// Back to core values, for `Snapshot::build`. Packages carry no dependencies, so
    /// BLOCK's dependency checks see none (docs/server.md, "Preview").
    pub fn to_core(&self) -> (Vec<Package>, Vec<Advisory>) {
        let packages = self
            .packages
            .iter()
            .map(|package| {
                let nevra = Nevra::new(
                    package.name.clone(),
                    Evr::new(
                        package.epoch,
                        package.version.clone(),
                        package.release.clone(),
                    ),
                    package.arch.clone(),
                );
                let mut core = Package::new(nevra, String::new());
                core.build_time = package.build_time;
                core
            })
            .collect();
        let advisories = self
            .advisories
            .iter()
            .map(|advisory| Advisory {
                id: advisory.id.clone(),
                kind: advisory.kind.clone(),
                status: None,
                severity: advisory.severity.clone(),
                title: None,
                issued: advisory.issued,
                updated: advisory.updated,
                references: advisory
                    .references
                    .iter()
                    .map(|reference| Reference {
                        kind: reference.kind.clone(),
                        id: reference.id.clone(),
                        href: None,
                        title: None,
                    })
                    .collect(),
                packages: advisory
                    .packages
                    .iter()
                    .map(|listed| AdvisoryPackage {
                        nevra: Nevra::new(
                            listed.name.clone(),
                            Evr::new(listed.epoch, listed.version.clone(), listed.release.clone()),
                            listed.arch.clone(),
                        ),
                        filename: None,
                        reboot_suggested: listed.reboot_suggested,
                        source_rpm: None,
                        collection: 0,
                    })
                    .collect(),
                description: None,
                reboot_suggested: advisory.reboot_suggested,
                collections: vec![Collection::default()],
            })
            .collect();
        (packages, advisories)
    }
}

/// A package dpkg has on disk, as an apt host uploads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DebInstalledJson {
    pub name: String,
    /// As dpkg records it: `amd64`, `all`, `i386`.
    pub arch: String,
    /// The Debian version (`1:3.0.14-1~deb12u2`).
    pub version: String,
    #[serde(default)]
    pub install_time: Option<Timestamp>,
    /// False when a maintainer script failed (`half-configured`, `unpacked`, ...).
    #[serde(default = "configured_default")]
    pub configured: bool,
}

fn configured_default() -> bool {
    true
}

/// A suite an available version comes from (the fields of its Release file that apt's
/// policy shows), referenced by index from [`DebAvailableJson::origins`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AptOriginJson {
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// The suite (`bookworm-security`): a version from a suite containing `security` is a
    /// security update.
    #[serde(default)]
    pub archive: Option<String>,
    #[serde(default)]
    pub codename: Option<String>,
    #[serde(default)]
    pub component: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
}

/// One available version of a package in the apt inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DebAvailableJson {
    pub name: String,
    pub arch: String,
    pub version: String,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub section: Option<String>,
    /// Indices into [`AptInventoryJson::origins`]: every suite that offers this version.
    #[serde(default)]
    pub origins: Vec<u32>,
    /// When the agent first saw this version (approval delays are measured from it).
    #[serde(default)]
    pub first_seen: Option<Timestamp>,
    /// The package names of each `Pre-Depends`/`Depends` group, kept only for versions newer
    /// than the installed one (BLOCK checks them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends: Vec<Vec<String>>,
    /// Ubuntu's `Phased-Update-Percentage` when the version is phased (0 means Ubuntu halted
    /// its rollout: it is never installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phased_update_percentage: Option<u8>,
}

/// What a Debian or Ubuntu host uploads for previews: its installed packages and the part
/// of its apt lists that `evaluate_apt` looks at for them: every available version of every
/// installed name, and of every package a newer one depends on that is not installed (for
/// BLOCK). Versions of other packages are left out, so a preview counts fewer NotApplicable
/// patches than the agent's own scan (docs/apt.md, "Previews").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AptInventoryJson {
    /// dpkg's native architecture (`amd64`).
    pub native_arch: String,
    pub installed: Vec<DebInstalledJson>,
    pub origins: Vec<AptOriginJson>,
    pub available: Vec<DebAvailableJson>,
}

impl AptOriginJson {
    fn from_core(origin: &Origin) -> AptOriginJson {
        AptOriginJson {
            origin: origin.origin.clone(),
            label: origin.label.clone(),
            archive: origin.archive.clone(),
            codename: origin.codename.clone(),
            component: origin.component.clone(),
            site: origin.site.clone(),
        }
    }

    fn to_core(&self) -> Origin {
        Origin {
            origin: self.origin.clone(),
            label: self.label.clone(),
            archive: self.archive.clone(),
            codename: self.codename.clone(),
            component: self.component.clone(),
            site: self.site.clone(),
        }
    }
}

impl AptInventoryJson {
    /// The inventory of an apt host: `installed`, and of `available` the versions of the
    /// installed names and of the names their newer versions depend on.
    pub fn from_core(
        installed: &[AptInstalled],
        available: &[AptAvailable],
        native_arch: &str,
    ) -> AptInventoryJson {
        use std::collections::{HashMap, HashSet};

        let mut oldest_installed: HashMap<&str, &DebVersion> = HashMap::new();
        for package in installed {
            oldest_installed
                .entry(package.name.as_str())
                .and_modify(|version| {
                    if package.version < **version {
                        *version = &package.version;
                    }
                })
                .or_insert(&package.version);
        }
        let newer = |package: &AptAvailable| {
            oldest_installed
                .get(package.name.as_str())
                .is_some_and(|installed| package.version > **installed)
        };
        let dependencies: HashSet<&str> = available
            .iter()
            .filter(|package| newer(package))
            .flat_map(|package| package.depends.iter().flatten())
            .map(String::as_str)
            .filter(|name| !oldest_installed.contains_key(name))
            .collect();

        let mut origins: Vec<AptOriginJson> = Vec::new();
        let mut origin_index: HashMap<&Origin, u32> = HashMap::new();
        let mut kept = Vec::new();
        for package in available {
            let is_installed = oldest_installed.contains_key(package.name.as_str());
            if !is_installed && !dependencies.contains(package.name.as_str()) {
                continue;
            }
            let indices = package
                .origins
                .iter()
                .map(|origin| {
                    *origin_index.entry(origin).or_insert_with(|| {
                        origins.push(AptOriginJson::from_core(origin));
                        u32::try_from(origins.len() - 1).unwrap_or(u32::MAX)
                    })
                })
                .collect();
            kept.push(DebAvailableJson {
                name: package.name.clone(),
                arch: package.arch.clone(),
                version: package.version.to_string(),
                priority: package.priority.clone(),
                section: package.section.clone(),
                origins: indices,
                first_seen: package.first_seen,
                depends: if is_installed && newer(package) {
                    package.depends.clone()
                } else {
                    Vec::new()
                },
                phased_update_percentage: package.phased_update_percentage,
            });
        }
        AptInventoryJson {
            native_arch: native_arch.to_owned(),
            installed: installed
                .iter()
                .map(|package| DebInstalledJson {
                    name: package.name.clone(),
                    arch: package.arch.clone(),
                    version: package.version.to_string(),
                    install_time: package.install_time,
                    configured: package.configured,
                })
                .collect(),
            origins,
            available: kept,
        }
    }

    /// Back to core values, for `evaluate_apt`. Errors name the field: an unparsable
    /// version or an origin index out of range.
    pub fn to_core(&self) -> Result<(Vec<AptInstalled>, Vec<AptAvailable>), String> {
        let version = |text: &str, field: String| {
            DebVersion::parse(text).map_err(|error| format!("{field}: {error}"))
        };
        let installed = self
            .installed
            .iter()
            .enumerate()
            .map(|(index, package)| {
                Ok(AptInstalled {
                    name: package.name.clone(),
                    arch: package.arch.clone(),
                    version: version(&package.version, format!("apt.installed[{index}].version"))?,
                    install_time: package.install_time,
                    configured: package.configured,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let origins: Vec<Origin> = self.origins.iter().map(AptOriginJson::to_core).collect();
        let available = self
            .available
            .iter()
            .enumerate()
            .map(|(index, package)| {
                let package_origins = package
                    .origins
                    .iter()
                    .map(|&origin| {
                        usize::try_from(origin)
                            .ok()
                            .and_then(|origin| origins.get(origin))
                            .cloned()
                            .ok_or_else(|| {
                                format!(
                                    "apt.available[{index}].origins: {origin} is not an index of `apt.origins` ({} entries)",
                                    origins.len()
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(AptAvailable {
                    name: package.name.clone(),
                    arch: package.arch.clone(),
                    version: version(
                        &package.version,
                        format!("apt.available[{index}].version"),
                    )?,
                    priority: package.priority.clone(),
                    section: package.section.clone(),
                    origins: package_origins,
                    first_seen: package.first_seen,
                    depends: package.depends.clone(),
                    phased_update_percentage: package.phased_update_percentage,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok((installed, available))
    }
}

/// `POST /api/v1/preview`: what each node would get from a baseline (or from the baseline
/// that applies to it), from the inventories the agents uploaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PreviewRequest {
    /// A stored or built-in baseline; when absent, each node's own baseline.
    #[serde(default)]
    pub baseline_id: Option<String>,
    /// Nodes by id; when empty, `targets` selects them.
    #[serde(default)]
    pub node_ids: Vec<String>,
    /// Target filters as for window targets (`tag:Env`, `tag-key`, `InstanceIds`).
    #[serde(default)]
    pub targets: Vec<crate::server::windows::TargetFilter>,
    /// The evaluation instant; now when absent.
    #[serde(default)]
    pub at: Option<Timestamp>,
    /// Also list NotApplicable items.
    #[serde(default)]
    pub include_not_applicable: bool,
    /// List only the patches in these states (`Missing`, `Failed`, ...); every state when
    /// empty. The counts cover every patch either way. `plan`'s impact asks for `Missing`
    /// and `Failed`: a fleet's preview then lists what would be installed, not every
    /// installed package of every node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// At most this many nodes (1 to 1,000), in node id order from `after`; the response's
    /// `next` continues. Every selected node at once when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// One node's preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NodePreview {
    pub node_id: String,
    pub hostname: String,
    #[serde(default)]
    pub baseline_id: Option<String>,
    /// Null when the node has not uploaded an inventory with a catalog yet (`error` says so).
    #[serde(default)]
    pub evaluation: Option<crate::evaluation::EvaluationJson>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub inventory_at: Option<Timestamp>,
}

/// The answer to a preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PreviewResponse {
    pub evaluated_at: Timestamp,
    pub nodes: Vec<NodePreview>,
    /// With `limit`: the `after` of the next page, null on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The agent's credential file (`credential.json`, mode 0600), written after enrollment
/// and read at every start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentCredential {
    /// Format version of this file.
    #[serde(default = "credential_version")]
    pub version: u32,
    pub server_url: String,
    pub node_id: String,
    pub credential: String,
    #[serde(default)]
    pub enrolled_at: Option<Timestamp>,
}

fn credential_version() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(archive: &str) -> Origin {
        Origin {
            origin: Some("Debian".to_owned()),
            label: Some("Debian".to_owned()),
            archive: Some(archive.to_owned()),
            codename: Some("bookworm".to_owned()),
            component: Some("main".to_owned()),
            site: None,
        }
    }

    fn available(name: &str, version: &str, archive: &str, depends: &[&str]) -> AptAvailable {
        AptAvailable {
            name: name.to_owned(),
            arch: "amd64".to_owned(),
            version: DebVersion::parse(version).unwrap(),
            priority: Some("optional".to_owned()),
            section: Some("net".to_owned()),
            origins: vec![origin(archive)],
            first_seen: Some("2024-09-01T00:00:00Z".parse().unwrap()),
            depends: depends.iter().map(|d| vec![(*d).to_owned()]).collect(),
            phased_update_percentage: None,
        }
    }

    #[test]
    fn apt_inventory_keeps_what_evaluation_needs_and_round_trips() {
        let installed = vec![AptInstalled {
            name: "curl".to_owned(),
            arch: "amd64".to_owned(),
            version: DebVersion::parse("7.1-1").unwrap(),
            install_time: None,
            configured: true,
        }];
        let all = vec![
            available("curl", "7.1-1", "bookworm", &["libc6"]),
            available("curl", "1:7.3-1", "bookworm-security", &["libcurl4"]),
            available("libcurl4", "7.3-1", "bookworm", &["libc6"]),
            available("unrelated", "1.0-1", "bookworm", &[]),
        ];
        let json = AptInventoryJson::from_core(&installed, &all, "amd64");
        // Two suites, each written once.
        assert_eq!(json.origins.len(), 2);
        let text = serde_json::to_string(&json).unwrap();
        let back: AptInventoryJson = serde_json::from_str(&text).unwrap();
        assert_eq!(back, json);
        let (core_installed, core_available) = back.to_core().unwrap();
        assert_eq!(core_installed, installed);
        // The installed name and what its newer version depends on; depends only where
        // BLOCK looks (versions newer than the installed one).
        let mut expected = vec![all[0].clone(), all[1].clone(), all[2].clone()];
        expected[0].depends.clear();
        expected[2].depends.clear();
        assert_eq!(core_available, expected);

        let mut bad = json.clone();
        bad.available[1].origins = vec![7];
        assert_eq!(
            bad.to_core().unwrap_err(),
            "apt.available[1].origins: 7 is not an index of `apt.origins` (2 entries)"
        );
        bad.installed[0].version = "x y".to_owned();
        assert!(
            bad.to_core()
                .unwrap_err()
                .starts_with("apt.installed[0].version: ")
        );
    }

    #[test]
    fn an_inventory_without_apt_still_reads() {
        let text = r#"{"captured_at":"2024-10-01T00:00:00Z",
            "facts":{"hostname":"h","operating_system":"AMAZON_LINUX_2023","product":"AmazonLinux2023"},
            "packages":[]}"#;
        let upload: InventoryUpload = serde_json::from_str(text).unwrap();
        assert_eq!(upload.apt, None);
        assert!(!serde_json::to_string(&upload).unwrap().contains("\"apt\""));
    }
}
