//! `patchwarden agent scan|install`: one operation on this host (or an installroot),
//! standalone, against a baseline file or the built-in default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use jiff::Timestamp;
use pw_agent::override_list::OverrideList;
use pw_agent::{AgentExit, AgentSettings, Hooks, OperationKind, RebootOption};
use pw_api::server::agent::NodeFacts;
use pw_core::baseline::{OperatingSystem, default_baseline};
use pw_pkgmgr::hooks::ShellCommand;
use pw_pkgmgr::{PackageManager, Root};

use crate::commands::evaluate::{load_baseline, parse_at, parse_os_arg, render_table};
use crate::config_file::{self, AgentConfig};
use crate::exit_code;
use crate::printer::Printer;

/// Subcommands of `patchwarden agent`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AgentCommand {
    /// Evaluate this host and report; never changes it.
    Scan(AgentArgs),
    /// Install the approved missing patches, re-scan, report, reboot if required.
    Install(AgentArgs),
    /// Enroll this host with a server (stores the credential in the state directory).
    Enroll(EnrollArgs),
    /// Serve the server: poll for commands and run them.
    Run(RunArgs),
    /// Is this host enrolled, when did it last reach its server, what did it last do.
    Status(StatusArgs),
    /// Read-only differential: evaluate this host with the baseline equivalent to the
    /// package manager's own security and bugfix query, run that query, print every
    /// difference with the agent's reason. Exit 0 when they agree, 40 when not.
    Compare(CompareArgs),
}

/// `agent compare`.
#[derive(Debug, clap::Args)]
pub(crate) struct CompareArgs {
    /// Evaluation instant (RFC 3339); defaults to now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    host: HostArgs,
}

/// Options shared by `agent scan` and `agent install`.
#[derive(Debug, clap::Args)]
pub(crate) struct AgentArgs {
    /// Baseline file (native TOML or AWS JSON).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "default_baseline",
        required_unless_present = "default_baseline"
    )]
    baseline: Option<PathBuf>,
    /// Use the built-in default baseline of the host's operating system.
    #[arg(long)]
    default_baseline: bool,
    /// The host's patch group (recorded in the report).
    #[arg(long, value_name = "NAME")]
    patch_group: Option<String>,
    /// `RebootIfNeeded` (default: only when something installed needs it) or `NoReboot`.
    #[arg(long, value_name = "OPTION", default_value = "RebootIfNeeded")]
    reboot_option: String,
    /// Install these patches instead of the baseline's (YAML `patches: - id: ... title: ...`).
    #[arg(long, value_name = "FILE")]
    install_override: Option<PathBuf>,
    /// Also write the report (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Evaluation instant (RFC 3339); defaults to now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also list NotApplicable items.
    #[arg(long)]
    include_not_applicable: bool,
    /// Amazon Linux 2023: the release list (`releasemd.xml`: a path, file:// or http(s)://
    /// URL) the baseline's `[release]` chooses from; a pinned release needs none. Under a
    /// server, the server's list is used.
    #[arg(long, value_name = "LOCATION")]
    release_metadata: Option<String>,
    #[command(flatten)]
    host: HostArgs,
}

/// How to reach and treat this host: shared by every agent subcommand. Each option given
/// here wins over the agent config file, which wins over the built-in default.
#[derive(Debug, clap::Args)]
pub(crate) struct HostArgs {
    /// Agent config file [default: /etc/patchwarden/agent.toml when it exists].
    #[arg(long, value_name = "FILE", env = "PATCHWARDEN_AGENT_CONFIG")]
    config: Option<PathBuf>,
    /// Read no agent config file, not even the default one.
    #[arg(long, conflicts_with = "config")]
    no_config: bool,
    /// Operate on this root directory instead of `/` (`dnf --installroot`, `rpm --root`).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Where the agent keeps its state (and, once enrolled, its credential) [default:
    /// /var/lib/patchwarden-agent].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Operating system, instead of reading `/etc/os-release` under the root.
    #[arg(long, value_name = "OS")]
    os: Option<String>,
    /// Product string (`AmazonLinux2`, `RedhatEnterpriseLinux9.4`), instead of detecting it.
    #[arg(long, value_name = "NAME")]
    product: Option<String>,
    /// `dnf` or `yum`, instead of detecting it.
    #[arg(long, value_name = "PROGRAM")]
    package_manager: Option<String>,
    /// `--releasever` for the package manager.
    #[arg(long, value_name = "VERSION")]
    releasever: Option<String>,
    /// Do not ask the package manager to refresh its metadata cache first.
    #[arg(long)]
    no_refresh: bool,
    /// Shell command run before installing; if it fails, nothing is installed.
    #[arg(long, value_name = "COMMAND")]
    pre_install_hook: Option<String>,
    /// Shell command run after installing.
    #[arg(long, value_name = "COMMAND")]
    post_install_hook: Option<String>,
    /// Shell command run at the end, whatever happened.
    #[arg(long, value_name = "COMMAND")]
    on_exit_hook: Option<String>,
    /// A command health checks may name, as NAME=COMMAND (repeatable; adds to
    /// `[health_commands]` of the config file).
    #[arg(long = "health-command", value_name = "NAME=COMMAND", value_parser = health_command)]
    health_commands: Vec<(String, String)>,
    /// Time limit of each hook, in seconds [default: 600].
    #[arg(long, value_name = "SECONDS")]
    hook_timeout: Option<u64>,
    /// The command that reboots the host [default: systemctl reboot].
    #[arg(long, value_name = "COMMAND")]
    reboot_command: Option<String>,
    /// More package names (or `prefix*`) whose update needs a reboot.
    #[arg(long = "reboot-package", value_name = "NAME")]
    reboot_packages: Vec<String>,
    /// Directory holding `stat` for the boot time (tests point it elsewhere).
    #[arg(long, value_name = "DIR", default_value = "/proc", hide = true)]
    proc_dir: PathBuf,
}

/// `agent enroll`.
#[derive(Debug, clap::Args)]
pub(crate) struct EnrollArgs {
    /// The server's URL (`https://patchwarden.example:8440`) [default: `server` in the
    /// config file].
    #[arg(long, value_name = "URL", env = "PATCHWARDEN_SERVER")]
    server: Option<String>,
    /// An activation code created by an administrator (or `PATCHWARDEN_ACTIVATION_CODE`,
    /// which keeps it out of the process list).
    #[arg(
        long,
        value_name = "CODE",
        env = "PATCHWARDEN_ACTIVATION_CODE",
        hide_env_values = true
    )]
    activation_code: String,
    /// A tag for this host, `KEY=VALUE` (repeat; `Patch Group=AL2-PRD` picks the baseline).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    #[command(flatten)]
    host: HostArgs,
}

/// `agent run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The server's URL; with `--activation-code`, enrolls first when not enrolled yet.
    #[arg(long, value_name = "URL", env = "PATCHWARDEN_SERVER")]
    server: Option<String>,
    /// Activation code for the first start (ignored once enrolled).
    #[arg(
        long,
        visible_alias = "activation",
        value_name = "CODE",
        env = "PATCHWARDEN_ACTIVATION_CODE",
        hide_env_values = true
    )]
    activation_code: Option<String>,
    /// A tag for this host at enrollment, `KEY=VALUE` (repeat).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// Handle one poll's commands, then exit.
    #[arg(long)]
    once: bool,
    /// Never install: Install commands are refused (answered failed, nothing changed); scans
    /// run. For hosts that are only watched, such as a workstation trying Patchwarden.
    #[arg(long)]
    scan_only: bool,
    /// How long one poll waits for commands, in seconds [default: 30].
    #[arg(long, value_name = "SECONDS")]
    poll_wait: Option<u64>,
    /// Read the host and upload its inventory (for previews) at start and then every this
    /// many hours, besides after every command; 0: only after commands [default: 12].
    #[arg(long, value_name = "HOURS")]
    inventory_interval: Option<u64>,
    #[command(flatten)]
    host: HostArgs,
}

/// `agent status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// Agent config file [default: /etc/patchwarden/agent.toml when it exists].
    #[arg(long, value_name = "FILE", env = "PATCHWARDEN_AGENT_CONFIG")]
    config: Option<PathBuf>,
    /// The agent's state directory [default: from the config file, else
    /// /var/lib/patchwarden-agent].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Where the agent keeps its state when neither a flag nor the config file says.
pub(crate) const DEFAULT_STATE_DIR: &str = "/var/lib/patchwarden-agent";

/// The agent config file named by `--config`, else the packaged one when it exists.
fn load_config(flag: Option<&Path>, none: bool, printer: &Printer) -> anyhow::Result<AgentConfig> {
    let Some((path, explicit)) = config_file::choose(flag, none, config_file::AGENT_CONFIG) else {
        return Ok(AgentConfig::default());
    };
    let config: AgentConfig = config_file::read(&path, explicit, printer)?.unwrap_or_default();
    config_file::check_version(&path, config.version.as_deref())?;
    Ok(config)
}

fn state_dir(flag: Option<&PathBuf>, config: &AgentConfig) -> PathBuf {
    flag.cloned()
        .or_else(|| config.state_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

/// The server connection options of the config file (CA bundle, proxy).
fn connection(config: &AgentConfig) -> anyhow::Result<pw_agent::daemon::Connection> {
    let ca_pem = match &config.ca_cert {
        None => None,
        Some(path) => Some(
            fs_err::read(path)
                .with_context(|| format!("ca_cert `{}` cannot be read", path.display()))?,
        ),
    };
    Ok(pw_agent::daemon::Connection {
        ca_pem,
        proxy: config.proxy.clone(),
    })
}

fn usage(printer: &Printer, message: &str) -> anyhow::Result<u8> {
    printer.error(message);
    Ok(exit_code::USAGE)
}

/// Host settings resolved from the command line and the config file; `Err` carries a usage
/// message.
struct Host {
    root: Root,
    os: Option<OperatingSystem>,
    package_manager: Option<PackageManager>,
    config: AgentConfig,
    state_dir: PathBuf,
}

fn resolve_host(host: &HostArgs, printer: &Printer) -> anyhow::Result<Result<Host, String>> {
    let config = load_config(host.config.as_deref(), host.no_config, printer)?;
    let state_dir = state_dir(host.state_dir.as_ref(), &config);
    let root = match &host.root {
        None => Root::host(),
        Some(dir) => {
            let absolute = std::path::absolute(dir)
                .with_context(|| format!("failed to resolve `{}`", dir.display()))?;
            match Root::new(absolute) {
                Ok(root) => root,
                Err(error) => return Ok(Err(format!("--root: {error}"))),
            }
        }
    };
    let os = match host.os.as_deref().map(parse_os_arg).transpose() {
        Ok(os) => os,
        Err(message) => return Ok(Err(message)),
    };
    let package_manager = match host.package_manager.as_deref() {
        None => None,
        Some("dnf") => Some(PackageManager::Dnf),
        Some("yum") => Some(PackageManager::Yum),
        Some(other) => return Ok(Err(format!("--package-manager `{other}`: use dnf or yum"))),
    };
    Ok(Ok(Host {
        root,
        os,
        package_manager,
        config,
        state_dir,
    }))
}

/// The host's operating system: `--os`, else `/etc/os-release` under the root.
fn host_os(host: &Host) -> anyhow::Result<Result<OperatingSystem, String>> {
    if let Some(os) = host.os {
        return Ok(Ok(os));
    }
    let detected =
        pw_pkgmgr::host::host_os(&host.root).context("failed to detect the operating system")?;
    Ok(
        OperatingSystem::parse(detected.operating_system).ok_or_else(|| {
            format!(
                "unsupported operating system `{}`",
                detected.operating_system
            )
        }),
    )
}

/// Agent settings for `baseline` with everything `HostArgs` says.
fn settings_for(
    host_args: &HostArgs,
    host: &Host,
    baseline: pw_core::baseline::Baseline,
) -> AgentSettings {
    let config = &host.config;
    let hook_timeout = host_args
        .hook_timeout
        .or(config.hook_timeout)
        .unwrap_or(600);
    let hook = |flag: &Option<String>, file: &Option<String>| {
        flag.as_ref()
            .or(file.as_ref())
            .filter(|c| !c.trim().is_empty())
            .map(|c| ShellCommand {
                command: c.clone(),
                timeout: Duration::from_secs(hook_timeout),
            })
    };
    let mut settings = AgentSettings::new(baseline);
    settings.root = host.root.clone();
    settings.state_dir = host.state_dir.clone();
    settings.proc_dir = host_args.proc_dir.clone();
    settings.operating_system = host.os;
    settings.product = host_args.product.clone();
    settings.package_manager = host.package_manager;
    settings.releasever = host_args.releasever.clone();
    settings.hooks = Hooks {
        pre_install: hook(&host_args.pre_install_hook, &config.pre_install_hook),
        post_install: hook(&host_args.post_install_hook, &config.post_install_hook),
        on_exit: hook(&host_args.on_exit_hook, &config.on_exit_hook),
    };
    settings.reboot_command = ShellCommand {
        command: host_args
            .reboot_command
            .clone()
            .or_else(|| config.reboot_command.clone())
            .unwrap_or_else(|| pw_pkgmgr::hooks::DEFAULT_REBOOT_COMMAND.to_owned()),
        timeout: Duration::from_secs(120),
    };
    settings.reboot_packages = if host_args.reboot_packages.is_empty() {
        config.reboot_packages.clone().unwrap_or_default()
    } else {
        host_args.reboot_packages.clone()
    };
    settings.refresh = !host_args.no_refresh;
    settings.health.commands = config.health_commands.clone().unwrap_or_default();
    settings.restart_units = config.restart_units.clone().unwrap_or_default();
    for (name, command) in &host_args.health_commands {
        settings
            .health
            .commands
            .insert(name.clone(), command.clone());
    }
    settings
}

/// `NAME=COMMAND` of `--health-command`.
fn health_command(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, command)) if !name.trim().is_empty() && !command.trim().is_empty() => {
            Ok((name.trim().to_owned(), command.to_owned()))
        }
        _ => Err(format!("`{text}` is not NAME=COMMAND")),
    }
}

pub(crate) fn run(command: AgentCommand, printer: &Printer) -> anyhow::Result<u8> {
    let (kind, args) = match command {
        AgentCommand::Scan(args) => (OperationKind::Scan, args),
        AgentCommand::Install(args) => (OperationKind::Install, args),
        AgentCommand::Enroll(args) => return enroll(&args, printer),
        AgentCommand::Run(args) => return serve(&args, printer),
        AgentCommand::Status(args) => return status(&args, printer),
        AgentCommand::Compare(args) => return compare(&args, printer),
    };
    let Some(reboot_option) = RebootOption::parse(&args.reboot_option) else {
        return usage(
            printer,
            &format!(
                "--reboot-option `{}`: use RebootIfNeeded or NoReboot",
                args.reboot_option
            ),
        );
    };
    let host = match resolve_host(&args.host, printer)? {
        Ok(host) => host,
        Err(message) => return usage(printer, &message),
    };
    let now = match parse_at(args.at.as_deref()) {
        Ok(now) => now,
        Err(message) => return usage(printer, &message),
    };
    let pinned = args.at.is_some();
    let baseline = match &args.baseline {
        Some(path) => load_baseline(path, printer)?,
        None => match host_os(&host)? {
            Ok(os) => default_baseline(os),
            Err(message) => return usage(printer, &message),
        },
    };
    let install_override = match &args.install_override {
        None => None,
        Some(path) => {
            let text = fs_err::read_to_string(path)?;
            let list = OverrideList::parse(&text)
                .with_context(|| format!("failed to read `{}`", path.display()))?;
            Some((path.display().to_string(), list))
        }
    };
    let mut settings = settings_for(&args.host, &host, baseline);
    settings.patch_group = args.patch_group.clone();
    settings.reboot_option = reboot_option;
    settings.install_override = install_override;
    settings.include_not_applicable = args.include_not_applicable;
    settings.chosen_release = match &settings.baseline.release {
        None => None,
        Some(policy) => {
            let known = match &args.release_metadata {
                None => Vec::new(),
                Some(location) => {
                    let location = if location.contains("://") {
                        location.clone()
                    } else {
                        std::path::absolute(location)?.display().to_string()
                    };
                    let parsed = pw_repo::load_releases(&location, Duration::from_secs(60))
                        .with_context(|| format!("cannot read the release list {location}"))?;
                    for diagnostic in &parsed.diagnostics {
                        printer.warn(&diagnostic.to_string());
                    }
                    parsed.value
                }
            };
            Some(
                policy
                    .choose(&known, now)
                    .map_err(|why| match (&why, &args.release_metadata) {
                        (pw_core::release::NoRelease::NoneKnown, None) => format!(
                            "{why}: give --release-metadata (the releasemd.xml of Amazon or a mirror)"
                        ),
                        _ => why.to_string(),
                    }),
            )
        }
    };

    let clock = move || if pinned { now } else { Timestamp::now() };
    let outcome = pw_agent::run(&settings, kind, &clock).context("the operation could not run")?;
    let json = serde_json::to_string_pretty(&outcome.report)?;
    if let Some(path) = &args.report {
        pw_agent::state::write_atomic(path, format!("{json}\n").as_bytes())
            .with_context(|| format!("failed to write the report to `{}`", path.display()))?;
    }
    if args.json {
        printer.line(&json);
    } else {
        printer.raw(&render_table(&outcome.evaluation));
        for note in &outcome.report.notes {
            printer.warn(note);
        }
        if let Some(reboot) = &outcome.report.reboot {
            printer.line(&format!(
                "reboot requested (`{}`): {}",
                reboot.command,
                reboot.reasons.join("; ")
            ));
        }
    }
    Ok(match outcome.exit {
        AgentExit::Success => exit_code::OK,
        AgentExit::PreInstallHookFailed => exit_code::PRE_INSTALL_HOOK_FAILED,
        AgentExit::InstallFailures => exit_code::INSTALL_FAILURES,
        AgentExit::RebootRequested => exit_code::REBOOT_REQUESTED,
        AgentExit::RebootRequestedWithFailures => exit_code::REBOOT_REQUESTED_WITH_FAILURES,
    })
}

/// Facts the server records about this host.
fn facts(host_args: &HostArgs, host: &Host, os: OperatingSystem) -> NodeFacts {
    let detected = pw_pkgmgr::host::host_os(&host.root).ok();
    let product = host_args
        .product
        .clone()
        .or_else(|| detected.as_ref().map(|d| d.product.clone()))
        .unwrap_or_else(|| crate::commands::evaluate::default_product(os).to_owned());
    // /etc/hostname under the root; the running kernel's name for the host itself; an
    // installroot without one is named after its directory.
    let read = |path: std::path::PathBuf| {
        fs_err::read_to_string(path)
            .map(|h| h.trim().to_owned())
            .unwrap_or_default()
    };
    let mut hostname = read(host.root.join("/etc/hostname"));
    if hostname.is_empty() && host.root.is_host() {
        hostname = read(std::path::PathBuf::from("/proc/sys/kernel/hostname"));
    }
    if hostname.is_empty() {
        hostname = host.root.path().file_name().map_or_else(
            || "unnamed-host".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
    }
    let machine_id = fs_err::read_to_string(host.root.join("/etc/machine-id"))
        .ok()
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty());
    NodeFacts {
        hostname,
        operating_system: os.as_str().to_owned(),
        product,
        agent_version: crate::version::VERSION.to_owned(),
        arch: Some(std::env::consts::ARCH.to_owned()),
        machine_id,
    }
}

fn enroll(args: &EnrollArgs, printer: &Printer) -> anyhow::Result<u8> {
    let host = match resolve_host(&args.host, printer)? {
        Ok(host) => host,
        Err(message) => return usage(printer, &message),
    };
    let os = match host_os(&host)? {
        Ok(os) => os,
        Err(message) => return usage(printer, &message),
    };
    let tags = match parse_tags(&args.tags) {
        Ok(tags) => tags,
        Err(message) => return usage(printer, &message),
    };
    let Some(server) = args.server.clone().or_else(|| host.config.server.clone()) else {
        return usage(
            printer,
            "no server: give `--server URL` or set `server` in the agent config file",
        );
    };
    let stored = pw_agent::daemon::enroll_with(
        &connection(&host.config)?,
        &server,
        &args.activation_code,
        facts(&args.host, &host, os),
        tags,
        &host.state_dir,
        Timestamp::now(),
    )
    .context("enrollment failed")?;
    printer.line(&format!("enrolled as node {}", stored.node_id));
    Ok(exit_code::OK)
}

fn parse_tags(texts: &[String]) -> Result<Vec<pw_api::server::tokens::Tag>, String> {
    texts
        .iter()
        .map(|tag| {
            let (key, value) = tag
                .split_once('=')
                .ok_or_else(|| format!("--tag `{tag}`: expected KEY=VALUE"))?;
            Ok(pw_api::server::tokens::Tag {
                key: key.to_owned(),
                value: value.to_owned(),
            })
        })
        .collect()
}

fn serve(args: &RunArgs, printer: &Printer) -> anyhow::Result<u8> {
    // Configuration problems exit with EX_CONFIG (78): the service manager does not restart
    // an agent that cannot work until someone changes something (RestartPreventExitStatus).
    let host = match resolve_host(&args.host, printer) {
        Ok(Ok(host)) => host,
        Ok(Err(message)) => return usage(printer, &message),
        Err(error) => {
            printer.error(&format!("{error:#}"));
            return Ok(exit_code::CONFIG);
        }
    };
    let os = match host_os(&host)? {
        Ok(os) => os,
        Err(message) => return usage(printer, &message),
    };
    let connection = match connection(&host.config) {
        Ok(connection) => connection,
        Err(error) => {
            printer.error(&format!("{error:#}"));
            return Ok(exit_code::CONFIG);
        }
    };
    let credential_path = host.state_dir.join(pw_agent::daemon::CREDENTIAL_FILE);
    let enrolled = pw_client::credential::exists(&credential_path)
        .context("failed to read the agent credential")?;
    if !enrolled {
        let server = args.server.clone().or_else(|| host.config.server.clone());
        let (Some(server), Some(code)) = (server, &args.activation_code) else {
            printer.error(&format!(
                "not enrolled (no {}): run `patchwarden agent enroll --activation-code CODE`, or give `--server URL --activation-code CODE`",
                credential_path.display()
            ));
            return Ok(exit_code::CONFIG);
        };
        let tags = match parse_tags(&args.tags) {
            Ok(tags) => tags,
            Err(message) => return usage(printer, &message),
        };
        let stored = pw_agent::daemon::enroll_with(
            &connection,
            &server,
            code,
            facts(&args.host, &host, os),
            tags,
            &host.state_dir,
            Timestamp::now(),
        )
        .context("enrollment failed")?;
        printer.line(&format!("enrolled as node {}", stored.node_id));
    }
    let (client, stored) = match pw_agent::daemon::client_with(&connection, &host.state_dir) {
        Ok(pair) => pair,
        Err(error) => {
            printer.error(&format!(
                "{:#}",
                anyhow::Error::new(error).context("the agent credential cannot be used")
            ));
            return Ok(exit_code::CONFIG);
        }
    };
    let facts = facts(&args.host, &host, os);
    // SIGTERM and SIGINT end the loop between polls: a command in progress always finishes
    // and reports first.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))
            .context("failed to install the signal handler")?;
    }
    let mut template = settings_for(&args.host, &host, default_baseline(os));
    template.scan_only = args.scan_only || host.config.scan_only.unwrap_or(false);
    let clock = Timestamp::now;
    let wait = Duration::from_secs(args.poll_wait.or(host.config.poll_wait).unwrap_or(30));
    let inventory_interval = args
        .inventory_interval
        .or(host.config.inventory_interval)
        .unwrap_or(12);
    let mut failures: u32 = 0;
    let inventory_every = Duration::from_secs(inventory_interval.saturating_mul(3600));
    let mut inventory_at: Option<std::time::Instant> = None;
    let store = pw_agent::state::StateStore::new(&host.state_dir);
    let mut daemon_status = pw_api::agent::DaemonStatus {
        version: 1,
        agent_version: crate::version::VERSION.to_owned(),
        pid: std::process::id(),
        started_at: Timestamp::now().to_string(),
        ..pw_api::agent::DaemonStatus::default()
    };
    let write_status = |status: &pw_api::agent::DaemonStatus| {
        if let Err(error) = store.save_daemon_status(status) {
            tracing::debug!(%error, "daemon.json not written");
        }
    };
    write_status(&daemon_status);
    crate::notify::ready(&format!(
        "node {} polling {}",
        stored.node_id, stored.server_url
    ));
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            crate::notify::stopping();
            printer.line("stopping on signal");
            return Ok(exit_code::OK);
        }
        if !args.once
            && inventory_interval > 0
            && inventory_at.is_none_or(|at| at.elapsed() >= inventory_every)
        {
            inventory_at = Some(std::time::Instant::now());
            match pw_agent::daemon::refresh_inventory(&client, &facts, &template, &clock) {
                Ok(true) => printer.line("inventory uploaded"),
                Ok(false) => {}
                Err(error) => printer.warn(&format!(
                    "inventory not uploaded ({:#}); retrying in {} h",
                    anyhow::Error::new(error),
                    inventory_interval
                )),
            }
        }
        match pw_agent::daemon::poll_once(&client, &facts, &template, wait, &clock) {
            Ok(summary) => {
                if failures > 0 {
                    printer.line(&format!("reconnected to {}", stored.server_url));
                }
                failures = 0;
                for id in &summary.resumed {
                    printer.line(&format!("answered command {id} left by an earlier run"));
                }
                for id in &summary.ran {
                    printer.line(&format!("ran command {id}"));
                }
                daemon_status.last_poll_at = Some(Timestamp::now().to_string());
                daemon_status.last_error = None;
                daemon_status.last_error_at = None;
                if let Some(id) = summary.ran.last() {
                    daemon_status.last_command = Some(id.clone());
                }
                write_status(&daemon_status);
                if args.once {
                    return Ok(exit_code::OK);
                }
            }
            Err(error) => {
                if args.once {
                    return Err(anyhow::Error::new(error)
                        .context(format!("polling {} failed", stored.server_url)));
                }
                failures = failures.saturating_add(1);
                daemon_status.last_error = Some(format!("{error}: {}", error_sources(&error)));
                daemon_status.last_error_at = Some(Timestamp::now().to_string());
                write_status(&daemon_status);
                let random = {
                    use std::hash::{BuildHasher as _, Hasher as _};
                    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
                    hasher.write_u32(failures);
                    hasher.finish()
                };
                let backoff = pw_agent::daemon::retry_delay(failures, random);
                printer.warn(&format!(
                    "talking to {} failed: {error}: {}; retrying in {:.1}s",
                    stored.server_url,
                    error_sources(&error),
                    backoff.as_secs_f64()
                ));
                // In short steps, so that SIGTERM is not kept waiting by a long backoff.
                let until = std::time::Instant::now() + backoff;
                while std::time::Instant::now() < until
                    && !stop.load(std::sync::atomic::Ordering::Relaxed)
                {
                    std::thread::sleep(
                        Duration::from_millis(250).min(until - std::time::Instant::now()),
                    );
                }
            }
        }
    }
}

/// `agent status`: what an operator on the host asks first.
fn status(args: &StatusArgs, printer: &Printer) -> anyhow::Result<u8> {
    let config = load_config(args.config.as_deref(), false, printer)?;
    let dir = state_dir(args.state_dir.as_ref(), &config);
    let credential_path = dir.join(pw_agent::daemon::CREDENTIAL_FILE);
    let credential = if pw_client::credential::exists(&credential_path)? {
        Some(
            pw_client::credential::load(&credential_path)
                .with_context(|| format!("failed to read {}", credential_path.display()))?,
        )
    } else {
        None
    };
    let store = pw_agent::state::StateStore::new(&dir);
    let state = store.load()?;
    let daemon = store.load_daemon_status()?;
    let boot = pw_pkgmgr::host::boot_time(Path::new("/proc")).ok();
    let pending = pw_agent::state::pending_reboot(&state, boot);
    let value = serde_json::json!({
        "version": crate::version::VERSION,
        "state_dir": dir,
        "enrolled": credential.is_some(),
        "node_id": credential.as_ref().map(|c| c.node_id.clone()),
        "server": credential.as_ref().map(|c| c.server_url.clone()).or(config.server.clone()),
        "enrolled_at": credential.as_ref().and_then(|c| c.enrolled_at),
        "daemon": daemon,
        "last_operation": state.last_operation,
        "operation_in_progress": state.in_progress,
        "pending_reboot": pending,
    });
    if args.json {
        printer.line(&serde_json::to_string_pretty(&value)?);
        return Ok(exit_code::OK);
    }
    let text = |key: &str| match &value[key] {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    printer.line(&format!("version:         {}", crate::version::long()));
    printer.line(&format!("state directory: {}", dir.display()));
    match &credential {
        Some(c) => printer.line(&format!(
            "enrolled:        yes, node {} on {}",
            c.node_id, c.server_url
        )),
        None => printer.line(&format!(
            "enrolled:        no (no {}); server in config: {}",
            credential_path.display(),
            text("server")
        )),
    }
    match &daemon {
        None => printer.line("agent run:       never ran with this state directory"),
        Some(d) => {
            printer.line(&format!(
                "agent run:       pid {} ({}), started {}",
                d.pid, d.agent_version, d.started_at
            ));
            printer.line(&format!(
                "last poll:       {}",
                d.last_poll_at.as_deref().unwrap_or("never")
            ));
            if let Some(error) = &d.last_error {
                printer.line(&format!(
                    "last error:      {} at {}",
                    error,
                    d.last_error_at.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    match &state.last_operation {
        None => printer.line("last operation:  none"),
        Some(op) => printer.line(&format!(
            "last operation:  {} {} started {}, ended {}",
            op.operation,
            op.id,
            op.started_at,
            op.ended_at.as_deref().unwrap_or("-")
        )),
    }
    if let Some(op) = &state.in_progress {
        printer.line(&format!(
            "in progress:     {} {} since {} (if no agent is running, it was interrupted; the next operation recovers it)",
            op.operation, op.id, op.started_at
        ));
    }
    if pending.is_empty() {
        printer.line("pending reboot:  no");
    } else {
        printer.line(&format!("pending reboot:  yes, for {}", pending.join(", ")));
    }
    Ok(exit_code::OK)
}

fn error_sources(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

/// `agent compare`: the agent against the host's own package manager.
fn compare(args: &CompareArgs, printer: &Printer) -> anyhow::Result<u8> {
    let host = match resolve_host(&args.host, printer)? {
        Ok(host) => host,
        Err(message) => return usage(printer, &message),
    };
    let os = match host_os(&host)? {
        Ok(os) => os,
        Err(message) => return usage(printer, &message),
    };
    let now = match parse_at(args.at.as_deref()) {
        Ok(now) => now,
        Err(message) => return usage(printer, &message),
    };
    let pinned = args.at.is_some();
    let mut settings = settings_for(&args.host, &host, default_baseline(os));
    settings.operating_system = Some(os);
    let clock = move || if pinned { now } else { Timestamp::now() };
    let comparison =
        pw_agent::compare(&settings, &clock).context("the comparison could not run")?;
    if args.json {
        let value = serde_json::json!({
            "query": comparison.query,
            "baseline": comparison.baseline_toml,
            "agreed": comparison.agreed.iter().map(|(p, v)| serde_json::json!({"package": p, "version": v})).collect::<Vec<_>>(),
            "differences": comparison.differences.iter().map(|d| serde_json::json!({
                "package": d.package, "agent": d.ours, "package_manager": d.theirs, "why": d.why,
            })).collect::<Vec<_>>(),
            "notes": comparison.notes,
        });
        printer.line(&serde_json::to_string_pretty(&value)?);
    } else {
        printer.line(&format!("package manager: {}", comparison.query));
        printer.line(&format!(
            "agreed on {} update(s); {} difference(s)",
            comparison.agreed.len(),
            comparison.differences.len()
        ));
        if !comparison.differences.is_empty() {
            let mut table =
                crate::table::Table::new(&["PACKAGE", "AGENT", "PACKAGE MANAGER", "WHY (AGENT)"]);
            for d in &comparison.differences {
                table.row(vec![
                    d.package.clone(),
                    d.ours.clone().unwrap_or_else(|| "-".to_owned()),
                    d.theirs.clone().unwrap_or_else(|| "-".to_owned()),
                    d.why.clone(),
                ]);
            }
            printer.raw(&table.render());
        }
        for note in &comparison.notes {
            printer.warn(note);
        }
    }
    Ok(if comparison.differences.is_empty() {
        exit_code::OK
    } else {
        exit_code::DIFFERENT
    })
}
