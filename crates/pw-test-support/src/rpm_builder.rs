//! Small real `.rpm` files, built by rpmbuild from a generated spec per package.
//!
//! Each package holds one file at a path that includes its version
//! (`/usr/share/pw-fixture/<name>/<version>-<release>.<arch>`), so an install-only package
//! such as `kernel` can have several versions installed side by side. Failing scriptlets are
//! written in rpm's embedded Lua, so they fail for the intended reason even in an installroot
//! that has no `/bin/sh`. Build times are fixed (`SOURCE_DATE_EPOCH`), so the rpms are
//! reproducible and approve-after-days tests control the dates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use pw_core::nevra::Nevra;
use pw_core::version::rpm::Evr;
use pw_pkgmgr::command::CommandSpec;

use crate::{FixtureError, io_error, run_checked};

/// The build time of a spec that sets none: 2024-01-01T00:00:00Z.
pub const DEFAULT_BUILD_TIME_SECONDS: i64 = 1_704_067_200;

/// A scriptlet that fails (`error(...)` in Lua) to make a broken package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scriptlet {
    /// `%pre`: rpm aborts the package; the old version stays installed.
    Pre,
    /// `%post`: rpm reports an error but the new version stays installed.
    Post,
}

/// One package to build.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RpmSpec {
    pub name: String,
    /// `None` writes no `Epoch:` tag (rpm then reports epoch 0).
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub requires: Vec<String>,
    pub provides: Vec<String>,
    pub obsoletes: Vec<String>,
    pub failing_scriptlet: Option<Scriptlet>,
    pub with_file: bool,
    /// Seconds since the epoch.
    pub build_time: i64,
    /// Scriptlets written as given: a section header (`%post -p <lua>`) and its body.
    pub scriptlets: Vec<(String, String)>,
}

impl RpmSpec {
    /// A noarch package from `[epoch:]version-release`, for example `1:2.0-3`.
    pub fn new(name: &str, evr: &str) -> RpmSpec {
        let (epoch, rest) = match evr.split_once(':') {
            Some((epoch, rest)) => (epoch.parse().ok(), rest),
            None => (None, evr),
        };
        let (version, release) = rest.rsplit_once('-').unwrap_or((rest, "1"));
        RpmSpec {
            name: name.to_owned(),
            epoch,
            version: version.to_owned(),
            release: release.to_owned(),
            arch: "noarch".to_owned(),
            requires: Vec::new(),
            provides: Vec::new(),
            obsoletes: Vec::new(),
            failing_scriptlet: None,
            with_file: true,
            build_time: DEFAULT_BUILD_TIME_SECONDS,
            scriptlets: Vec::new(),
        }
    }

    /// Adds a scriptlet: `header` is the section line (`%post -p <lua>`; installroots have
    /// no `/bin/sh`, so Lua is what runs there), `body` its text.
    #[must_use]
    pub fn scriptlet(mut self, header: &str, body: &str) -> RpmSpec {
        self.scriptlets.push((header.to_owned(), body.to_owned()));
        self
    }

    #[must_use]
    pub fn arch(mut self, arch: &str) -> RpmSpec {
        arch.clone_into(&mut self.arch);
        self
    }

    /// Adds a `Requires:` line, for example `foo >= 1.1`.
    #[must_use]
    pub fn requires(mut self, dependency: &str) -> RpmSpec {
        self.requires.push(dependency.to_owned());
        self
    }

    #[must_use]
    pub fn provides(mut self, capability: &str) -> RpmSpec {
        self.provides.push(capability.to_owned());
        self
    }

    /// Adds an `Obsoletes:` line, for example `foo < 2`.
    #[must_use]
    pub fn obsoletes(mut self, capability: &str) -> RpmSpec {
        self.obsoletes.push(capability.to_owned());
        self
    }

    #[must_use]
    pub fn failing(mut self, scriptlet: Scriptlet) -> RpmSpec {
        self.failing_scriptlet = Some(scriptlet);
        self
    }

    /// An empty payload instead of the one versioned file.
    #[must_use]
    pub fn without_file(mut self) -> RpmSpec {
        self.with_file = false;
        self
    }

    #[must_use]
    pub fn build_time(mut self, at: Timestamp) -> RpmSpec {
        self.build_time = at.as_second();
        self
    }

    pub fn nevra(&self) -> Nevra {
        Nevra {
            name: self.name.clone(),
            evr: Evr {
                epoch: self.epoch.unwrap_or(0),
                version: self.version.clone(),
                release: self.release.clone(),
            },
            arch: self.arch.clone(),
        }
    }

    /// The file name rpmbuild gives the package (the epoch is not part of it).
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name, self.version, self.release, self.arch
        )
    }

    fn validate(&self) -> Result<(), FixtureError> {
        // Only the name may contain `-`; versions and releases never do.
        let fields = [
            (self.name.as_str(), true),
            (self.version.as_str(), false),
            (self.release.as_str(), false),
            (self.arch.as_str(), false),
        ];
        let bad = fields
            .into_iter()
            .find(|&(field, dash)| {
                field.is_empty()
                    || !field.chars().all(|c| {
                        c.is_ascii_alphanumeric() || "._+~^".contains(c) || (dash && c == '-')
                    })
            })
            .map(|(field, _)| field);
        if let Some(field) = bad {
            return Err(FixtureError::Invalid(format!(
                "rpm spec field `{field}` of {} is empty or has characters a spec file cannot take",
                self.name
            )));
        }
        if let Some(line) = self
            .requires
            .iter()
            .chain(&self.provides)
            .chain(&self.obsoletes)
            .find(|l| l.contains(['\n', '\r']))
        {
            return Err(FixtureError::Invalid(format!(
                "dependency `{line}` of {} spans several lines",
                self.name
            )));
        }
        Ok(())
    }

    /// The spec file text.
    pub fn spec_text(&self) -> String {
        let mut text = String::new();
        text.push_str(&format!("Name: {}\n", self.name));
        if let Some(epoch) = self.epoch {
            text.push_str(&format!("Epoch: {epoch}\n"));
        }
        text.push_str(&format!(
            "Version: {}\nRelease: {}\n",
            self.version, self.release
        ));
        text.push_str(&format!(
            "Summary: Patchwarden test fixture {}\n",
            self.name
        ));
        text.push_str("License: Apache-2.0\n");
        text.push_str(&format!("BuildArch: {}\n", self.arch));
        for dependency in &self.requires {
            text.push_str(&format!("Requires: {dependency}\n"));
        }
        for capability in &self.provides {
            text.push_str(&format!("Provides: {capability}\n"));
        }
        for capability in &self.obsoletes {
            text.push_str(&format!("Obsoletes: {capability}\n"));
        }
        text.push_str("\n%description\nA package built by pw-test-support for tests.\n\n");
        let file = format!(
            "/usr/share/pw-fixture/{}/{}-{}.{}",
            self.name, self.version, self.release, self.arch
        );
        if self.with_file {
            text.push_str(&format!(
                "%install\nmkdir -p %{{buildroot}}{dir}\necho '{nevra}' > %{{buildroot}}{file}\n\n%files\n{file}\n",
                dir = file.rsplit_once('/').map_or("", |(dir, _)| dir),
                nevra = pw_pkgmgr::rpm::nevra_spec(&self.nevra()),
            ));
        } else {
            text.push_str("%files\n");
        }
        match self.failing_scriptlet {
            None => {}
            Some(Scriptlet::Pre) => {
                text.push_str(
                    "\n%pre -p <lua>\nerror(\"pw-test-support: this %pre fails on purpose\")\n",
                );
            }
            Some(Scriptlet::Post) => {
                text.push_str(
                    "\n%post -p <lua>\nerror(\"pw-test-support: this %post fails on purpose\")\n",
                );
            }
        }
        for (header, body) in &self.scriptlets {
            text.push_str(&format!("\n{header}\n{body}\n"));
        }
        text
    }
}

/// A built package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltRpm {
    pub nevra: Nevra,
    pub path: PathBuf,
}

impl BuiltRpm {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Builds `specs` into `out_dir`, one rpmbuild run per distinct build time (rpmbuild takes the
/// time from the environment, once per run). About 60-80 ms per package on our machines.
pub fn build_rpms(specs: &[RpmSpec], out_dir: &Path) -> Result<Vec<BuiltRpm>, FixtureError> {
    for spec in specs {
        spec.validate()?;
    }
    fs_err::create_dir_all(out_dir).map_err(io_error(out_dir))?;
    let top = tempfile::tempdir().map_err(io_error(std::env::temp_dir()))?;
    let spec_dir = top.path().join("SPECS");
    fs_err::create_dir_all(&spec_dir).map_err(io_error(&spec_dir))?;

    let mut by_time: BTreeMap<i64, Vec<PathBuf>> = BTreeMap::new();
    for (index, spec) in specs.iter().enumerate() {
        let path = spec_dir.join(format!("{index:03}-{}.spec", spec.name));
        fs_err::write(&path, spec.spec_text()).map_err(io_error(&path))?;
        by_time.entry(spec.build_time).or_default().push(path);
    }
    for (build_time, spec_files) in by_time {
        let mut topdir_define = std::ffi::OsString::from("_topdir ");
        topdir_define.push(top.path());
        let command = CommandSpec::new("rpmbuild")
            .arg("-bb")
            .arg("--quiet")
            .arg("--define")
            .arg(topdir_define)
            .args(["--define", "use_source_date_epoch_as_buildtime 1"])
            .args(["--define", "clamp_mtime_to_source_date_epoch 1"])
            // Skip the post-install brp scripts (strip, compress, ...): nothing to do for us.
            .args(["--define", "__os_install_post %{nil}"])
            .args(spec_files)
            .env("SOURCE_DATE_EPOCH", build_time.to_string())
            .timeout(Duration::from_secs(300));
        run_checked(&command)?;
    }

    let mut built = Vec::with_capacity(specs.len());
    for spec in specs {
        let from = top
            .path()
            .join("RPMS")
            .join(&spec.arch)
            .join(spec.file_name());
        let to = out_dir.join(spec.file_name());
        fs_err::copy(&from, &to).map_err(io_error(&from))?;
        built.push(BuiltRpm {
            nevra: spec.nevra(),
            path: to,
        });
    }
    Ok(built)
}
