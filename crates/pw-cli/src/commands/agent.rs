//! `patchwarden agent scan|install`: one operation on this host (or an installroot),
//! standalone, against a baseline file or the built-in default.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use jiff::Timestamp;
use pw_agent::override_list::OverrideList;
use pw_agent::{AgentExit, AgentSettings, Hooks, OperationKind, RebootOption};
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
}

/// Options shared by `agent scan` and `agent install`.
#[derive(Debug, clap::Args)]
pub(crate) struct AgentArgs {
    /// Baseline file (native TOML or AWS JSON).
    #[arg(long, value_name = "FILE", conflicts_with = "default_baseline", required_unless_present = "default_baseline")]
    baseline: Option<PathBuf>,
    /// Use the built-in default baseline of the host's operating system.
    #[arg(long)]
    default_baseline: bool,
    /// The host's patch group (recorded in the report).
    #[arg(long, value_name = "NAME")]
    patch_group: Option<String>,
    /// Operate on this root directory instead of `/` (`dnf --installroot`, `rpm --root`).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// `RebootIfNeeded` (default: only when something installed needs it) or `NoReboot`.
    #[arg(long, value_name = "OPTION", default_value = "RebootIfNeeded")]
    reboot_option: String,
    /// Install these patches instead of the baseline's (YAML `patches: - id: ... title: ...`).
    #[arg(long, value_name = "FILE")]
    install_override: Option<PathBuf>,
    /// Where the agent keeps its state.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/patchwarden")]
    state_dir: PathBuf,
    /// Also write the report (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Evaluation instant (RFC 3339); defaults to now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
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
    /// Also list NotApplicable items.
    #[arg(long)]
    include_not_applicable: bool,
}

fn usage(printer: &Printer, message: &str) -> anyhow::Result<u8> {
    printer.error(message);
    Ok(exit_code::USAGE)
}

pub(crate) fn run(command: AgentCommand, printer: &Printer) -> anyhow::Result<u8> {
    let (kind, args) = match command {
        AgentCommand::Scan(args) => (OperationKind::Scan, args),
        AgentCommand::Install(args) => (OperationKind::Install, args),
    };
    let Some(reboot_option) = RebootOption::parse(&args.reboot_option) else {
        return usage(printer, &format!("--reboot-option `{}`: use RebootIfNeeded or NoReboot", args.reboot_option));
    };
    let root = match &args.root {
        None => Root::host(),
        Some(dir) => {
            let absolute = std::path::absolute(dir).with_context(|| format!("failed to resolve `{}`", dir.display()))?;
            match Root::new(absolute) {
                Ok(root) => root,
                Err(error) => return usage(printer, &format!("--root: {error}")),
            }
        }
    };
    let os = match args.os.as_deref().map(parse_os_arg).transpose() {
        Ok(os) => os,
        Err(message) => return usage(printer, &message),
    };
    let package_manager = match args.package_manager.as_deref() {
        None => None,
        Some("dnf") => Some(PackageManager::Dnf),
        Some("yum") => Some(PackageManager::Yum),
        Some(other) => return usage(printer, &format!("--package-manager `{other}`: use dnf or yum")),
    };
    let now = match parse_at(args.at.as_deref()) {
        Ok(now) => now,
        Err(message) => return usage(printer, &message),
    };
    let pinned = args.at.is_some();
    let baseline = match &args.baseline {
        Some(path) => load_baseline(path, printer)?,
        None => {
            let os = match os {
                Some(os) => os,
                None => {
                    let host = pw_pkgmgr::host::host_os(&root).context("failed to detect the operating system for `--default-baseline`")?;
                    match OperatingSystem::parse(host.operating_system) {
                        Some(os) => os,
                        None => return usage(printer, &format!("no default baseline for `{}`", host.operating_system)),
                    }
                }
            };
            default_baseline(os)
        }
    };
    let hook = |command: &Option<String>| {
        command.as_ref().map(|c| ShellCommand {
            command: c.clone(),
            timeout: Duration::from_secs(args.hook_timeout),
        })
    };
    let install_override = match &args.install_override {
        None => None,
        Some(path) => {
            let text = fs_err::read_to_string(path)?;
            let list = OverrideList::parse(&text).with_context(|| format!("failed to read `{}`", path.display()))?;
            Some((path.display().to_string(), list))
        }
    };
    let mut settings = AgentSettings::new(baseline);
    settings.root = root;
    settings.state_dir = args.state_dir.clone();
    settings.proc_dir = args.proc_dir.clone();
    settings.operating_system = os;
    settings.product = args.product.clone();
    settings.package_manager = package_manager;
    settings.releasever = args.releasever.clone();
    settings.patch_group = args.patch_group.clone();
    settings.reboot_option = reboot_option;
    settings.install_override = install_override;
    settings.hooks = Hooks {
        pre_install: hook(&args.pre_install_hook),
        post_install: hook(&args.post_install_hook),
        on_exit: hook(&args.on_exit_hook),
    };
    settings.reboot_command = ShellCommand {
        command: args.reboot_command.clone(),
        timeout: Duration::from_secs(120),
    };
    settings.reboot_packages = args.reboot_packages.clone();
    settings.refresh = !args.no_refresh;
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
            printer.line(&format!("reboot requested (`{}`): {}", reboot.command, reboot.reasons.join("; ")));
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
