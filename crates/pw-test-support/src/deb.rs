//! Debian fixtures: small real `.deb` files built with `dpkg-deb`, a local apt repository
//! with suites whose Release files carry the origins real Debian and Ubuntu archives use,
//! and a root directory where apt and dpkg really install.
//!
//! The repository is written here rather than by `apt-ftparchive`: the `Packages` entries
//! are the packages' control fields plus `Filename`, `Size` and `SHA256`, and the Release
//! file lists the index with its SHA256, which is all apt needs for a `[trusted=yes]`
//! `file:` source. Only `dpkg-deb` (from dpkg) and `apt-get` are needed, both present on any
//! Debian or Ubuntu machine.
//!
//! The root is driven the way `pw_pkgmgr::apt` drives any alternative root (see
//! `docs/apt.md`): apt's `Dir` points into it and dpkg runs with `--root` and
//! `--force-script-chrootless`, so maintainer scripts run on the host with `DPKG_ROOT` set.
//! The scripts this module writes honour `DPKG_ROOT`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pw_core::repo::{Checksum, ChecksumKind};
use pw_pkgmgr::Root;
use pw_pkgmgr::command::CommandSpec;

use crate::{FixtureError, io_error, run_checked};

/// What a package's `postinst` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Postinst {
    /// No maintainer script.
    None,
    /// Exits 1 on configure: dpkg leaves the package `half-configured`.
    Fail,
    /// Asks for a reboot as update-notifier's hook does: creates
    /// `$DPKG_ROOT/var/run/reboot-required` and appends the package to `.pkgs`.
    RequestReboot,
}

/// A binary package to build.
#[derive(Debug, Clone)]
pub struct DebSpec {
    pub name: String,
    pub version: String,
    /// `amd64` by default; `all` for architecture-independent packages.
    pub arch: String,
    pub priority: Option<String>,
    pub section: Option<String>,
    pub depends: Option<String>,
    pub postinst: Postinst,
    /// Ubuntu's `Phased-Update-Percentage`, written into the repository's index (not into
    /// the package).
    pub phased: Option<u8>,
}

impl DebSpec {
    /// An `amd64` package of priority `optional`, section `misc`, with no script.
    pub fn new(name: &str, version: &str) -> DebSpec {
        DebSpec {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: "amd64".to_owned(),
            priority: Some("optional".to_owned()),
            section: Some("misc".to_owned()),
            depends: None,
            postinst: Postinst::None,
            phased: None,
        }
    }

    /// Marks the version phased at `percentage` in the repository's index.
    #[must_use]
    pub fn phased(mut self, percentage: u8) -> DebSpec {
        self.phased = Some(percentage);
        self
    }

    #[must_use]
    pub fn arch(mut self, arch: &str) -> DebSpec {
        self.arch = arch.to_owned();
        self
    }

    #[must_use]
    pub fn priority(mut self, priority: Option<&str>) -> DebSpec {
        self.priority = priority.map(str::to_owned);
        self
    }

    #[must_use]
    pub fn section(mut self, section: &str) -> DebSpec {
        self.section = Some(section.to_owned());
        self
    }

    #[must_use]
    pub fn depends(mut self, depends: &str) -> DebSpec {
        self.depends = Some(depends.to_owned());
        self
    }

    #[must_use]
    pub fn postinst(mut self, postinst: Postinst) -> DebSpec {
        self.postinst = postinst;
        self
    }

    /// The control file's text.
    pub fn control(&self) -> String {
        let mut text = format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\n",
            self.name, self.version, self.arch
        );
        text.push_str("Maintainer: Patchwarden Tests <tests@patchwarden.invalid>\n");
        if let Some(priority) = &self.priority {
            let _ = writeln!(text, "Priority: {priority}");
        }
        if let Some(section) = &self.section {
            let _ = writeln!(text, "Section: {section}");
        }
        if let Some(depends) = &self.depends {
            let _ = writeln!(text, "Depends: {depends}");
        }
        let _ = write!(
            text,
            "Description: test package {}\n fixture built by pw-test-support\n",
            self.name
        );
        text
    }

    /// The file name Debian would give the .deb (epoch left out).
    pub fn file_name(&self) -> String {
        let version = self
            .version
            .split_once(':')
            .map_or(self.version.as_str(), |(_, rest)| rest);
        format!("{}_{}_{}.deb", self.name, version, self.arch)
    }
}

/// A built .deb: its spec and where it is.
#[derive(Debug, Clone)]
pub struct BuiltDeb {
    pub spec: DebSpec,
    pub path: PathBuf,
}

fn write(path: &Path, contents: &str) -> Result<(), FixtureError> {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).map_err(io_error(parent))?;
    }
    fs_err::write(path, contents).map_err(io_error(path))
}

/// Builds `spec` into `out_dir` with `dpkg-deb --build` (gzip, files owned by root). The
/// package installs one file, `/usr/share/doc/<name>/version`, holding its version.
pub fn build_deb(
    spec: &DebSpec,
    work_dir: &Path,
    out_dir: &Path,
) -> Result<BuiltDeb, FixtureError> {
    let tree = work_dir.join(format!(
        "{}-{}-{}",
        spec.name,
        spec.version.replace(':', "_"),
        spec.arch
    ));
    write(&tree.join("DEBIAN/control"), &spec.control())?;
    write(
        &tree.join(format!("usr/share/doc/{}/version", spec.name)),
        &format!("{}\n", spec.version),
    )?;
    let script = match spec.postinst {
        Postinst::None => None,
        Postinst::Fail => Some("#!/bin/sh\necho \"postinst of $DPKG_MAINTSCRIPT_PACKAGE fails on purpose\" >&2\nexit 1\n".to_owned()),
        Postinst::RequestReboot => Some(format!(
            "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n  mkdir -p \"$DPKG_ROOT/var/run\"\n  echo '*** System restart required ***' > \"$DPKG_ROOT/var/run/reboot-required\"\n  echo {} >> \"$DPKG_ROOT/var/run/reboot-required.pkgs\"\nfi\n",
            spec.name
        )),
    };
    if let Some(script) = script {
        let path = tree.join("DEBIAN/postinst");
        write(&path, &script)?;
        set_executable(&path)?;
    }
    fs_err::create_dir_all(out_dir).map_err(io_error(out_dir))?;
    let path = out_dir.join(spec.file_name());
    run_checked(
        &CommandSpec::new("dpkg-deb")
            .args(["--root-owner-group", "-Zgzip", "-z1", "--build"])
            .arg(&tree)
            .arg(&path),
    )?;
    Ok(BuiltDeb {
        spec: spec.clone(),
        path,
    })
}

fn set_executable(path: &Path) -> Result<(), FixtureError> {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io_error(path))
}

/// The identity of a suite, as its Release file states it.
#[derive(Debug, Clone)]
pub struct SuiteSpec {
    /// The directory under `dists/` and the name in sources.list (`bookworm-security`).
    pub dist: String,
    pub origin: String,
    pub label: String,
    pub suite: String,
    pub codename: String,
    pub version: Option<String>,
    /// RFC 2822, in the past (apt refuses Release files dated in the future).
    pub date: String,
}

impl SuiteSpec {
    /// Debian 12's main suite: `Origin: Debian`, `Label: Debian`, `Suite: stable`.
    pub fn debian_bookworm() -> SuiteSpec {
        SuiteSpec {
            dist: "bookworm".to_owned(),
            origin: "Debian".to_owned(),
            label: "Debian".to_owned(),
            suite: "stable".to_owned(),
            codename: "bookworm".to_owned(),
            version: Some("12.7".to_owned()),
            date: "Sat, 31 Aug 2024 10:00:00 UTC".to_owned(),
        }
    }

    /// Debian 12's security suite: `Label: Debian-Security`, `Suite: stable-security`.
    pub fn debian_bookworm_security() -> SuiteSpec {
        SuiteSpec {
            dist: "bookworm-security".to_owned(),
            origin: "Debian".to_owned(),
            label: "Debian-Security".to_owned(),
            suite: "stable-security".to_owned(),
            codename: "bookworm-security".to_owned(),
            version: Some("12".to_owned()),
            date: "Mon, 02 Sep 2024 12:00:00 UTC".to_owned(),
        }
    }

    /// Ubuntu 22.04's release pocket (`Suite: jammy`), or `jammy-updates`/`jammy-security`
    /// for `pocket` = `updates`/`security`.
    pub fn ubuntu_jammy(pocket: Option<&str>) -> SuiteSpec {
        let dist = match pocket {
            Some(pocket) => format!("jammy-{pocket}"),
            None => "jammy".to_owned(),
        };
        SuiteSpec {
            dist: dist.clone(),
            origin: "Ubuntu".to_owned(),
            label: "Ubuntu".to_owned(),
            suite: dist,
            codename: "jammy".to_owned(),
            version: Some("22.04".to_owned()),
            date: "Tue, 03 Sep 2024 09:00:00 UTC".to_owned(),
        }
    }
}

/// A local repository: `pool/` with the .debs and `dists/<dist>/` per suite.
#[derive(Debug, Clone)]
pub struct DebRepo {
    pub dir: PathBuf,
    pub suites: Vec<SuiteSpec>,
}

impl DebRepo {
    /// The sources.list lines of this repository (`deb [trusted=yes] file:DIR DIST main`).
    pub fn sources_list(&self) -> String {
        self.suites
            .iter()
            .map(|suite| {
                format!(
                    "deb [trusted=yes] file:{} {} main\n",
                    self.dir.display(),
                    suite.dist
                )
            })
            .collect()
    }
}

/// Builds the packages of each suite and writes the repository into `dir`. All packages
/// are `main`; one `binary-<arch>` index per architecture used (`all` packages go into
/// every index, as Debian does; `amd64` when only `all` is used).
pub fn build_repo(
    dir: &Path,
    suites: &[(SuiteSpec, Vec<DebSpec>)],
) -> Result<DebRepo, FixtureError> {
    let work = dir.join("build");
    let pool = dir.join("pool/main");
    for (suite, packages) in suites {
        let built: Vec<BuiltDeb> = packages
            .iter()
            .map(|spec| build_deb(spec, &work, &pool))
            .collect::<Result<_, _>>()?;
        let mut archs: Vec<&str> = packages
            .iter()
            .map(|p| p.arch.as_str())
            .filter(|a| *a != "all")
            .collect();
        archs.sort_unstable();
        archs.dedup();
        if archs.is_empty() {
            archs.push("amd64");
        }
        let suite_dir = dir.join("dists").join(&suite.dist);
        let mut hashes = String::new();
        for arch in &archs {
            let mut index = String::new();
            for deb in built
                .iter()
                .filter(|deb| deb.spec.arch == *arch || deb.spec.arch == "all")
            {
                let bytes = fs_err::read(&deb.path).map_err(io_error(&deb.path))?;
                index.push_str(&deb.spec.control());
                if let Some(percentage) = deb.spec.phased {
                    let _ = writeln!(index, "Phased-Update-Percentage: {percentage}");
                }
                let _ = write!(
                    index,
                    "Filename: pool/main/{}\nSize: {}\nSHA256: {}\n\n",
                    deb.spec.file_name(),
                    bytes.len(),
                    Checksum::compute(ChecksumKind::Sha256, &bytes)
                );
            }
            let relative = format!("main/binary-{arch}/Packages");
            write(&suite_dir.join(&relative), &index)?;
            let _ = writeln!(
                hashes,
                " {} {} {relative}",
                Checksum::compute(ChecksumKind::Sha256, index.as_bytes()),
                index.len()
            );
        }
        let mut release = format!(
            "Origin: {}\nLabel: {}\nSuite: {}\nCodename: {}\n",
            suite.origin, suite.label, suite.suite, suite.codename
        );
        if let Some(version) = &suite.version {
            let _ = writeln!(release, "Version: {version}");
        }
        let _ = write!(
            release,
            "Date: {}\nArchitectures: {}\nComponents: main\nDescription: Patchwarden test suite {}\nSHA256:\n{hashes}",
            suite.date,
            archs.join(" "),
            suite.dist
        );
        write(&suite_dir.join("Release"), &release)?;
    }
    Ok(DebRepo {
        dir: dir.to_path_buf(),
        suites: suites.iter().map(|(suite, _)| suite.clone()).collect(),
    })
}

/// A root directory with an empty dpkg database and apt pointed at one repository.
#[derive(Debug, Clone)]
pub struct DebRoot {
    pub root: Root,
}

/// Lays out an empty root in `dir` (which must be absolute) with `repo` as its only source.
pub fn deb_root(dir: &Path, repo: &DebRepo) -> Result<DebRoot, FixtureError> {
    for sub in [
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "etc/apt/sources.list.d",
        "etc/apt/trusted.gpg.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "var/lib/dpkg/alternatives",
        "var/log/apt",
        "var/run",
        "usr/share/doc",
    ] {
        let path = dir.join(sub);
        fs_err::create_dir_all(&path).map_err(io_error(&path))?;
    }
    write(&dir.join("var/lib/dpkg/status"), "")?;
    write(&dir.join("var/lib/dpkg/available"), "")?;
    write(&dir.join("etc/apt/sources.list"), &repo.sources_list())?;
    let root = Root::new(dir).map_err(|error| FixtureError::Invalid(error.to_string()))?;
    Ok(DebRoot { root })
}

impl DebRoot {
    /// Installs .deb files straight with dpkg (as a base system would have them), the way
    /// apt calls dpkg for this root.
    pub fn dpkg_install(&self, debs: &[&Path]) -> Result<(), FixtureError> {
        let mut args = vec![std::ffi::OsString::from("-i")];
        args.extend(debs.iter().map(|path| path.as_os_str().to_owned()));
        self.dpkg(args)
    }

    /// `dpkg --configure -a` in the root: what an operator runs after an interrupted dpkg.
    pub fn dpkg_configure_pending(&self) -> Result<(), FixtureError> {
        self.dpkg(["--configure", "-a"].map(std::ffi::OsString::from))
    }

    /// Runs dpkg on this root (its admin directory, its log) with `args`.
    fn dpkg(&self, args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<(), FixtureError> {
        let root = self.root.path();
        let spec = CommandSpec::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .arg(format!(
                "--admindir={}",
                root.join("var/lib/dpkg").display()
            ))
            .arg(format!("--log={}", root.join("var/log/dpkg.log").display()))
            .args(["--force-script-chrootless", "--force-not-root"])
            .args(args);
        run_checked(&spec)?;
        Ok(())
    }

    /// Removes the reboot request files (as a reboot would).
    pub fn clear_reboot_request(&self) -> Result<(), FixtureError> {
        for name in ["var/run/reboot-required", "var/run/reboot-required.pkgs"] {
            let path = self.root.path().join(name);
            match fs_err::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(io_error(&path)(error)),
            }
        }
        Ok(())
    }
}
