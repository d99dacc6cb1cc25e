//! `patchwarden evaluate`: offline evaluation of a baseline against an inventory file and
//! repositories. No host is touched; the same engine as the agent decides.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use jiff::Timestamp;
use pw_api::evaluation::EvaluationJson;
use pw_core::baseline::{Baseline, OperatingSystem, default_baseline};
use pw_core::evaluate::{
    Catalog, Context, EvaluateOptions, Evaluation, InstalledPackage, Snapshot,
};

use crate::exit_code;
use crate::printer::Printer;

/// Arguments of `patchwarden evaluate`.
#[derive(Debug, clap::Args)]
pub(crate) struct EvaluateArgs {
    /// Baseline file: native TOML (`version = "1"`) or AWS JSON (`get-patch-baseline` output).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "default_baseline",
        required_unless_present = "default_baseline"
    )]
    baseline: Option<PathBuf>,
    /// Use the built-in default baseline of this operating system (`AMAZON_LINUX_2`, ...).
    #[arg(long, value_name = "OS")]
    default_baseline: Option<String>,
    /// Repository: a directory, `file://` or `http(s)://` URL. Repeat for several.
    #[arg(long = "repo", value_name = "PATH_OR_URL", required = true)]
    repos: Vec<String>,
    /// Installed packages: `rpm -qa --queryformat '%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{INSTALLTIME}\n'` output.
    #[arg(long, value_name = "FILE")]
    inventory: PathBuf,
    /// Evaluation instant (RFC 3339); defaults to now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Product string of the host (`AmazonLinux2`, `RedhatEnterpriseLinux9.4`); defaults
    /// to the operating system's.
    #[arg(long, value_name = "NAME")]
    product: Option<String>,
    /// Also list NotApplicable items (approved but not installed); they are always counted.
    #[arg(long)]
    include_not_applicable: bool,
    /// Print JSON: `{"summary": {...}, "patches": [...]}`.
    #[arg(long)]
    json: bool,
}

/// The default product string of an operating system.
pub(crate) fn default_product(os: OperatingSystem) -> &'static str {
    match os {
        OperatingSystem::AmazonLinux => "AmazonLinux2018.03",
        OperatingSystem::AmazonLinux2 => "AmazonLinux2",
        OperatingSystem::AmazonLinux2022 => "AmazonLinux2022",
        OperatingSystem::AmazonLinux2023 => "AmazonLinux2023",
        OperatingSystem::RedhatEnterpriseLinux => "RedhatEnterpriseLinux9",
        OperatingSystem::Centos => "CentOS7",
        OperatingSystem::OracleLinux => "OracleLinux9",
        OperatingSystem::RockyLinux => "RockyLinux9",
        OperatingSystem::AlmaLinux => "AlmaLinux9",
        OperatingSystem::Debian => "Debian12",
        OperatingSystem::Ubuntu => "Ubuntu22.04",
    }
}

/// Reads a baseline file (either format), printing its warnings.
pub(crate) fn load_baseline(path: &std::path::Path, printer: &Printer) -> anyhow::Result<Baseline> {
    let text = fs_err::read_to_string(path)?;
    let loaded = pw_api::baseline::parse_baseline(&text)
        .with_context(|| format!("failed to read baseline `{}`", path.display()))?;
    for warning in &loaded.warnings {
        printer.warn(&format!("{}: {warning}", path.display()));
    }
    Ok(loaded.baseline)
}

/// Parses `--default-baseline OS`.
pub(crate) fn parse_os_arg(text: &str) -> Result<OperatingSystem, String> {
    OperatingSystem::parse(text).ok_or_else(|| {
        let names: Vec<_> = OperatingSystem::ALL.iter().map(|o| o.as_str()).collect();
        format!(
            "`{text}` is not a supported operating system; use one of {}",
            names.join(", ")
        )
    })
}

/// Parses `--at`, defaulting to now.
pub(crate) fn parse_at(at: Option<&str>) -> Result<Timestamp, String> {
    match at {
        None => Ok(Timestamp::now()),
        Some(text) => text
            .parse::<Timestamp>()
            .map_err(|error| format!("--at `{text}` is not an RFC 3339 instant: {error}")),
    }
}

pub(crate) fn run(args: &EvaluateArgs, printer: &Printer) -> anyhow::Result<u8> {
    let baseline = match (&args.baseline, &args.default_baseline) {
        (Some(path), _) => load_baseline(path, printer)?,
        (None, Some(os)) => match parse_os_arg(os) {
            Ok(os) => default_baseline(os),
            Err(message) => {
                printer.error(&message);
                return Ok(exit_code::USAGE);
            }
        },
        (None, None) => anyhow::bail!("give `--baseline FILE` or `--default-baseline OS`"),
    };
    let now = match parse_at(args.at.as_deref()) {
        Ok(now) => now,
        Err(message) => {
            printer.error(&message);
            return Ok(exit_code::USAGE);
        }
    };
    let inventory_text = fs_err::read_to_string(&args.inventory)?;
    let installed: Vec<InstalledPackage> = pw_pkgmgr::rpm::parse_rpm_inventory(&inventory_text)
        .with_context(|| format!("failed to read inventory `{}`", args.inventory.display()))?;

    let mut packages = Vec::new();
    let mut advisories = Vec::new();
    for location in &args.repos {
        let repository = pw_repo::load(location)
            .with_context(|| format!("failed to read repository `{location}`"))?;
        for diagnostic in &repository.diagnostics {
            printer.warn(&format!("{location}: {diagnostic}"));
        }
        packages.extend(repository.packages);
        advisories.extend(repository.advisories);
    }

    let os = baseline.operating_system;
    let product = args
        .product
        .clone()
        .unwrap_or_else(|| default_product(os).to_owned());
    let family = os.family_for_product(&product);
    let snapshot = Snapshot::build(
        &baseline,
        Catalog {
            packages: &packages,
            advisories: &advisories,
        },
        Context {
            product,
            family,
            now,
        },
    );
    let evaluation = snapshot.evaluate(
        &installed,
        &[],
        &EvaluateOptions {
            include_not_applicable: args.include_not_applicable,
        },
    );
    if args.json {
        let json = serde_json::to_string_pretty(&EvaluationJson::from_core(&evaluation))?;
        printer.line(&json);
    } else {
        printer.raw(&render_table(&evaluation));
    }
    Ok(exit_code::OK)
}

/// The human table: one line per item, then the summary.
pub(crate) fn render_table(evaluation: &Evaluation) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "STATE".to_owned(),
        "PACKAGE".to_owned(),
        "INSTALLED".to_owned(),
        "TARGET".to_owned(),
        "WHY".to_owned(),
    ]];
    for item in &evaluation.items {
        rows.push([
            item.state.to_string(),
            item.id(),
            item.installed
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
            item.target
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
            item.reason.to_string(),
        ]);
    }
    let mut widths = [0usize; 4];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (width, cell) in widths.iter().zip(row.iter()) {
            let _ = write!(out, "{cell:<width$}  ");
        }
        let _ = writeln!(out, "{}", row[4]);
    }
    let s = &evaluation.summary;
    let _ = writeln!(
        out,
        "\n{}: {} installed, {} installed other, {} installed rejected, {} pending reboot, {} missing, {} failed, {} not applicable (baseline `{}`, at {})",
        s.status.as_str(),
        s.installed,
        s.installed_other,
        s.installed_rejected,
        s.installed_pending_reboot,
        s.missing,
        s.failed,
        s.not_applicable,
        evaluation.baseline,
        evaluation.evaluated_at,
    );
    if s.status == pw_core::evaluate::SummaryStatus::NonCompliant {
        let _ = writeln!(
            out,
            "non-compliant: {} critical, {} security, {} other; highest severity {}",
            s.critical_non_compliant,
            s.security_non_compliant,
            s.other_non_compliant,
            s.non_compliant_severity.map_or("-", |l| l.as_str()),
        );
    }
    out
}
