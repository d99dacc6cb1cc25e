//! Installroots: a temporary directory with its own rpm database and a dnf configuration that
//! sees only the fixture repositories, so `dnf --installroot` and `rpm --root` never touch
//! the host.
//!
//! dnf reads `etc/dnf/dnf.conf` and `etc/yum.repos.d/` from inside the installroot when
//! they exist there, and always keeps its cache, logs and locks inside it. The rpm database
//! lives wherever the host's rpm puts it relative to a root: on Debian that is
//! `~/.rpmdb` (so `<root>/root/.rpmdb` when running as root), on Red Hat systems
//! `/var/lib/rpm`. rpm and dnf agree on it, which is all the tests need.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pw_pkgmgr::command::CommandSpec;
use pw_pkgmgr::{PackageManager, Root, Settings};

use crate::repo_builder::Repo;
use crate::rpm_builder::BuiltRpm;
use crate::{FixtureError, io_error, run_checked};

/// The dnf configuration written into every installroot: upstream dnf's defaults for the
/// options that change what gets installed (Debian's host dnf.conf sets `best=False`), and no
/// signature checks, since fixture packages are unsigned.
pub const DNF_CONF: &str = "\
# Written by pw-test-support.
[main]
gpgcheck=0
installonly_limit=3
clean_requirements_on_remove=True
best=True
skip_if_unavailable=False
keepcache=False
";

/// A temporary installroot, removed when dropped.
#[derive(Debug)]
pub struct InstallRoot {
    dir: tempfile::TempDir,
}

impl InstallRoot {
    /// An empty root with an initialised rpm database and [`DNF_CONF`].
    pub fn new() -> Result<InstallRoot, FixtureError> {
        let dir = tempfile::Builder::new()
            .prefix("pw-installroot-")
            .tempdir()
            .map_err(io_error(std::env::temp_dir()))?;
        let root = InstallRoot { dir };
        root.write_file("/etc/dnf/dnf.conf", DNF_CONF)?;
        let repos_dir = root.path().join("etc/yum.repos.d");
        fs_err::create_dir_all(&repos_dir).map_err(io_error(&repos_dir))?;
        run_checked(&root.rpm().arg("--initdb"))?;
        Ok(root)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn root(&self) -> Root {
        Root::new(self.dir.path()).expect("temporary directories are absolute")
    }

    /// dnf settings for this root, with `--releasever=1` (an installroot has no
    /// `system-release` package to detect it from) and a one-minute lock wait.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::new(PackageManager::Dnf, self.root());
        settings.releasever = Some("1".to_owned());
        settings.lock_wait.timeout = Duration::from_secs(60);
        settings.timeouts.kill_grace = Duration::from_secs(5);
        settings
    }

    /// Writes a file at a path of the managed system (`/etc/os-release`).
    pub fn write_file(&self, system_path: &str, contents: &str) -> Result<PathBuf, FixtureError> {
        let path = self.root().join(system_path);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(io_error(parent))?;
        }
        fs_err::write(&path, contents).map_err(io_error(&path))?;
        Ok(path)
    }

    /// Adds `/etc/yum.repos.d/<id>.repo` pointing at `repo`.
    pub fn add_repo(&self, id: &str, repo: &Repo) -> Result<PathBuf, FixtureError> {
        self.write_file(
            &format!("/etc/yum.repos.d/{id}.repo"),
            &format!(
                "[{id}]\nname=fixture repository {id}\nbaseurl={}\nenabled=1\ngpgcheck=0\n",
                repo.url()
            ),
        )
    }

    /// Installs packages with `rpm --root R -U`, dependencies checked (list them together).
    pub fn rpm_install(&self, rpms: &[&BuiltRpm]) -> Result<(), FixtureError> {
        if rpms.is_empty() {
            return Ok(());
        }
        run_checked(
            &self
                .rpm()
                .arg("-U")
                .args(rpms.iter().map(|rpm| rpm.path.as_os_str())),
        )?;
        Ok(())
    }

    /// A new root with the same contents (rpm database, configuration, dnf cache), for
    /// running two tools on the same starting state.
    pub fn duplicate(&self) -> Result<InstallRoot, FixtureError> {
        let dir = tempfile::Builder::new()
            .prefix("pw-installroot-")
            .tempdir()
            .map_err(io_error(std::env::temp_dir()))?;
        let mut source = self.path().as_os_str().to_owned();
        source.push("/.");
        run_checked(
            &CommandSpec::new("cp")
                .arg("-a")
                .arg(source)
                .arg(dir.path())
                .timeout(Duration::from_secs(300)),
        )?;
        Ok(InstallRoot { dir })
    }

    fn rpm(&self) -> CommandSpec {
        CommandSpec::new("rpm")
            .arg("--root")
            .arg(self.path())
            .timeout(Duration::from_secs(300))
    }
}
