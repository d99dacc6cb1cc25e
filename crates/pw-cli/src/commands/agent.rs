//! `patchwarden agent scan|install`: one operation on this host (or an installroot),
//! standalone, against a baseline file or the built-in default.

use std::path::PathBuf;
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
    #[command(flatten)]
    host: HostArgs,
}

/// How to reach and treat this host: shared by every agent subcommand.
#[derive(Debug, clap::Args)]
pub(crate) struct HostArgs {
    /// Operate on this root directory instead of `/` (`dnf --installroot`, `rpm --root`).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Where the agent keeps its state (and, once enrolled, its credential).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/patchwarden")]
    state_dir: PathBuf,
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
    /// Time limit of each hook, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    hook_timeout: u64,
    /// The command that reboots the host.
    #[arg(long, value_name = "COMMAND", default_value = pw_pkgmgr::hooks::DEFAULT_REBOOT_COMMAND)]
    reboot_command: String,
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
    /// The server's URL (`https://patchwarden.example:8440`).
    #[arg(long, value_name = "URL", env = "PATCHWARDEN_SERVER")]
    server: String,
    /// An activation code created by an administrator.
    #[arg(long, value_name = "CODE")]
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
    #[arg(long, visible_alias = "activation", value_name = "CODE")]
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
    /// How long one poll waits for commands, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    poll_wait: u64,
    /// Read the host and upload its inventory (for previews) at start and then every this
    /// many hours, besides after every command; 0: only after commands.
    #[arg(long, value_name = "HOURS", default_value_t = 12)]
    inventory_interval: u64,
    #[command(flatten)]
    host: HostArgs,
}

fn usage(printer: &Printer, message: &str) -> anyhow::Result<u8> {
    printer.error(message);
    Ok(exit_code::USAGE)
}

/// Host settings resolved from the command line; `Err` carries a usage message.
struct Host {
    root: Root,
    os: Option<OperatingSystem>,
    package_manager: Option<PackageManager>,
}

fn resolve_host(host: &HostArgs) -> anyhow::Result<Result<Host, String>> {
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
    let hook = |command: &Option<String>| {
        command.as_ref().map(|c| ShellCommand {
            command: c.clone(),
            timeout: Duration::from_secs(host_args.hook_timeout),
        })
    };
    let mut settings = AgentSettings::new(baseline);
    settings.root = host.root.clone();
    settings.state_dir = host_args.state_dir.clone();
    settings.proc_dir = host_args.proc_dir.clone();
    settings.operating_system = host.os;
    settings.product = host_args.product.clone();
    settings.package_manager = host.package_manager;
    settings.releasever = host_args.releasever.clone();
    settings.hooks = Hooks {
        pre_install: hook(&host_args.pre_install_hook),
        post_install: hook(&host_args.post_install_hook),
        on_exit: hook(&host_args.on_exit_hook),
    };
    settings.reboot_command = ShellCommand {
        command: host_args.reboot_command.clone(),
        timeout: Duration::from_secs(120),
    };
    settings.reboot_packages = host_args.reboot_packages.clone();
    settings.refresh = !host_args.no_refresh;
    settings
}

pub(crate) fn run(command: AgentCommand, printer: &Printer) -> anyhow::Result<u8> {
    let (kind, args) = match command {
        AgentCommand::Scan(args) => (OperationKind::Scan, args),
        AgentCommand::Install(args) => (OperationKind::Install, args),
        AgentCommand::Enroll(args) => return enroll(&args, printer),
        AgentCommand::Run(args) => return serve(&args, printer),
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
    let host = match resolve_host(&args.host)? {
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
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        arch: Some(std::env::consts::ARCH.to_owned()),
        machine_id,
    }
}

fn enroll(args: &EnrollArgs, printer: &Printer) -> anyhow::Result<u8> {
    let host = match resolve_host(&args.host)? {
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
    let stored = pw_agent::daemon::enroll(
        &args.server,
        &args.activation_code,
        facts(&args.host, &host, os),
        tags,
        &args.host.state_dir,
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
    let host = match resolve_host(&args.host)? {
        Ok(host) => host,
        Err(message) => return usage(printer, &message),
    };
    let os = match host_os(&host)? {
        Ok(os) => os,
        Err(message) => return usage(printer, &message),
    };
    let credential_path = args.host.state_dir.join(pw_agent::daemon::CREDENTIAL_FILE);
    let enrolled = pw_client::credential::exists(&credential_path)
        .context("failed to read the agent credential")?;
    if !enrolled {
        let (Some(server), Some(code)) = (&args.server, &args.activation_code) else {
            return usage(
                printer,
                "not enrolled: give `--server URL --activation-code CODE`, or run `patchwarden agent enroll` first",
            );
        };
        let tags = match parse_tags(&args.tags) {
            Ok(tags) => tags,
            Err(message) => return usage(printer, &message),
        };
        let stored = pw_agent::daemon::enroll(
            server,
            code,
            facts(&args.host, &host, os),
            tags,
            &args.host.state_dir,
            Timestamp::now(),
        )
        .context("enrollment failed")?;
        printer.line(&format!("enrolled as node {}", stored.node_id));
    }
    let (client, stored) = pw_agent::daemon::client(&args.host.state_dir)
        .context("not enrolled; run `patchwarden agent enroll` first")?;
    let facts = facts(&args.host, &host, os);
    // SIGTERM and SIGINT end the loop between polls: a command in progress always finishes
    // and reports first.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))
            .context("failed to install the signal handler")?;
    }
    let mut template = settings_for(&args.host, &host, default_baseline(os));
    template.scan_only = args.scan_only;
    let clock = Timestamp::now;
    let wait = Duration::from_secs(args.poll_wait);
    let mut failures: u32 = 0;
    let inventory_every = Duration::from_secs(args.inventory_interval.saturating_mul(3600));
    let mut inventory_at: Option<std::time::Instant> = None;
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            printer.line("stopping on signal");
            return Ok(exit_code::OK);
        }
        if !args.once
            && args.inventory_interval > 0
            && inventory_at.is_none_or(|at| at.elapsed() >= inventory_every)
        {
            inventory_at = Some(std::time::Instant::now());
            match pw_agent::daemon::refresh_inventory(&client, &facts, &template, &clock) {
                Ok(true) => printer.line("inventory uploaded"),
                Ok(false) => {}
                Err(error) => printer.warn(&format!(
                    "inventory not uploaded ({:#}); retrying in {} h",
                    anyhow::Error::new(error),
                    args.inventory_interval
                )),
            }
        }
        match pw_agent::daemon::poll_once(&client, &facts, &template, wait, &clock) {
            Ok(summary) => {
                failures = 0;
                for id in &summary.ran {
                    printer.line(&format!("ran command {id}"));
                }
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
                let backoff = Duration::from_secs(u64::from(failures.min(6)) * 10);
                printer.warn(&format!(
                    "polling {} failed ({error}); retrying in {}s",
                    stored.server_url,
                    backoff.as_secs()
                ));
                std::thread::sleep(backoff);
            }
        }
    }
}
