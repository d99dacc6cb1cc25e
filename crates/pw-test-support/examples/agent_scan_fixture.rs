//! Builds the host of `bench/agent-scan/run.sh`: an installroot with a few hundred real
//! packages installed, and a repository with newer versions of most of them and an updateinfo.
//!
//! Usage: `agent_scan_fixture OUT_DIR [--packages N]` (default 300). Writes:
//!
//! * `OUT_DIR/rpms/`: every built package (`pwbench-NNN`, noarch, one small file each);
//! * `OUT_DIR/repo/`: all of them, createrepo_c metadata, an updateinfo;
//! * `OUT_DIR/root/`: an installroot with version 1.0-1 of every package installed (rpm
//!   database, `etc/dnf/dnf.conf`, `etc/yum.repos.d/bench.repo` pointing at the repository),
//!   ready for `dnf --installroot` and `patchwarden agent --root`.
//!
//! Package `i` has `i % 4` updates (1.1-1, 1.2-1, 1.3-1, built a month apart), so a quarter of
//! the packages are current. Updates are grouped into advisories of up to five packages, of
//! mixed type and severity (security Critical, Important, Moderate and Low, bugfix,
//! enhancement) with CVE references; every tenth update has no advisory.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use pw_pkgmgr::command::{self, CommandSpec};
use pw_test_support::install_root::DNF_CONF;
use pw_test_support::{AdvisoryKind, AdvisorySpec, RepoBuilder, RpmSpec, build_rpms};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut out: Option<PathBuf> = None;
    let mut n_packages: usize = 300;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--packages" => n_packages = args.next().ok_or("--packages needs a value")?.parse()?,
            _ if out.is_none() => out = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument `{arg}`").into()),
        }
    }
    let out = std::path::absolute(out.ok_or("usage: agent_scan_fixture OUT_DIR [--packages N]")?)?;
    let at = |date: &str| -> Result<Timestamp, jiff::Error> { format!("{date}T00:00:00Z").parse() };
    let dates = ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"];
    let name = |index: usize| format!("pwbench-{index:03}");

    let mut specs = Vec::new();
    // updates[k]: the packages that have version 1.k-1.
    let mut updates: Vec<Vec<usize>> = vec![Vec::new(); 4];
    for index in 0..n_packages {
        specs.push(RpmSpec::new(&name(index), "1.0-1").build_time(at(dates[0])?));
        for step in 1..=(index % 4) {
            specs.push(
                RpmSpec::new(&name(index), &format!("1.{step}-1")).build_time(at(dates[step])?),
            );
            updates[step].push(index);
        }
    }

    let kinds: [(AdvisoryKind, Option<&str>); 6] = [
        (AdvisoryKind::Security, Some("Critical")),
        (AdvisoryKind::Security, Some("Important")),
        (AdvisoryKind::Security, Some("Moderate")),
        (AdvisoryKind::Security, Some("Low")),
        (AdvisoryKind::Bugfix, None),
        (AdvisoryKind::Enhancement, None),
    ];
    let mut advisories = Vec::new();
    let mut n_listed = 0;
    for (step, indices) in updates.iter().enumerate().skip(1) {
        let with_advisory: Vec<usize> = indices.iter().copied().filter(|i| i % 10 != 9).collect();
        for chunk in with_advisory.chunks(5) {
            let number = advisories.len() + 1;
            let (kind, severity) = kinds[number % kinds.len()];
            let mut advisory =
                AdvisorySpec::new(&format!("PWB-2024-{number:04}"), kind, at(dates[step])?)
                    .updated(at(dates[step])?);
            if let Some(severity) = severity {
                advisory = advisory.severity(severity);
            }
            if kind == AdvisoryKind::Security {
                advisory = advisory
                    .cve(&format!("CVE-2024-{:05}", 10_000 + 2 * number))
                    .cve(&format!("CVE-2024-{:05}", 10_001 + 2 * number));
            }
            for &index in chunk {
                advisory =
                    advisory.package(RpmSpec::new(&name(index), &format!("1.{step}-1")).nevra());
                n_listed += 1;
            }
            advisories.push(advisory);
        }
    }

    let rpms = build_rpms(&specs, &out.join("rpms"))?;
    let repo = advisories
        .iter()
        .cloned()
        .fold(RepoBuilder::new().rpms(&rpms), RepoBuilder::advisory)
        .build(&out.join("repo"))?;

    let root = out.join("root");
    fs_err::create_dir_all(root.join("etc/dnf"))?;
    fs_err::create_dir_all(root.join("etc/yum.repos.d"))?;
    fs_err::write(root.join("etc/dnf/dnf.conf"), DNF_CONF)?;
    fs_err::write(
        root.join("etc/yum.repos.d/bench.repo"),
        format!(
            "[bench]\nname=agent scan benchmark\nbaseurl={}\nenabled=1\ngpgcheck=0\n",
            repo.url()
        ),
    )?;
    let rpm = |extra: &[std::ffi::OsString]| -> Result<(), Box<dyn std::error::Error>> {
        let spec = CommandSpec::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(extra)
            .timeout(Duration::from_secs(600));
        command::run(&spec)?.check()?;
        Ok(())
    };
    rpm(&["--initdb".into()])?;
    let old: Vec<std::ffi::OsString> = rpms
        .iter()
        .filter(|rpm| rpm.nevra.evr.version == "1.0")
        .map(|rpm| rpm.path.clone().into_os_string())
        .collect();
    let mut install = vec!["-U".into()];
    install.extend(old.iter().cloned());
    rpm(&install)?;

    let mut stdout = io::stdout().lock();
    writeln!(stdout, "installed\t{}", old.len())?;
    writeln!(stdout, "repository_packages\t{}", rpms.len())?;
    writeln!(stdout, "advisories\t{}", advisories.len())?;
    writeln!(stdout, "advisory_packages\t{n_listed}")?;
    writeln!(stdout, "root\t{}", root.display())?;
    Ok(())
}
