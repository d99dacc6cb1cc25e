//! rpm-md repositories: rpms in a directory, metadata by createrepo_c, and an updateinfo
//! (security, bugfix and enhancement advisories) added with `modifyrepo_c --mdtype=updateinfo`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use pw_core::nevra::Nevra;
use pw_pkgmgr::command::CommandSpec;

use crate::rpm_builder::BuiltRpm;
use crate::{FixtureError, io_error, run_checked};

/// Which primary metadata the repository publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metadata {
    /// `primary.xml.gz` (and filelists, other): what dnf repositories publish.
    Xml,
    /// The XML files plus `primary_db` (`*-primary.sqlite.bz2`), createrepo_c's default.
    XmlAndSqlite,
    /// Only the sqlite databases, as some Amazon Linux 2 repositories publish; the XML
    /// entries are removed from `repomd.xml` after createrepo_c. dnf cannot read these.
    SqliteOnly,
}

/// The `type` attribute of an `<update>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdvisoryKind {
    Security,
    Bugfix,
    Enhancement,
    Newpackage,
}

impl AdvisoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AdvisoryKind::Security => "security",
            AdvisoryKind::Bugfix => "bugfix",
            AdvisoryKind::Enhancement => "enhancement",
            AdvisoryKind::Newpackage => "newpackage",
        }
    }
}

/// One `<update>` of updateinfo.xml.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdvisorySpec {
    pub id: String,
    pub kind: AdvisoryKind,
    /// `Critical`, `Important`, `Moderate`, `Low`, or none.
    pub severity: Option<String>,
    pub title: String,
    pub issued: Timestamp,
    pub updated: Option<Timestamp>,
    pub cves: Vec<String>,
    pub bugzillas: Vec<String>,
    /// Written as `<reboot_suggested>True</reboot_suggested>` in every `<package>`, where
    /// libsolv (and so dnf) reads it.
    pub reboot_suggested: bool,
    pub packages: Vec<Nevra>,
}

impl AdvisorySpec {
    pub fn new(id: &str, kind: AdvisoryKind, issued: Timestamp) -> AdvisorySpec {
        AdvisorySpec {
            id: id.to_owned(),
            kind,
            severity: None,
            title: format!("{id} fixture advisory"),
            issued,
            updated: None,
            cves: Vec::new(),
            bugzillas: Vec::new(),
            reboot_suggested: false,
            packages: Vec::new(),
        }
    }

    #[must_use]
    pub fn severity(mut self, severity: &str) -> AdvisorySpec {
        self.severity = Some(severity.to_owned());
        self
    }

    #[must_use]
    pub fn updated(mut self, at: Timestamp) -> AdvisorySpec {
        self.updated = Some(at);
        self
    }

    #[must_use]
    pub fn cve(mut self, id: &str) -> AdvisorySpec {
        self.cves.push(id.to_owned());
        self
    }

    #[must_use]
    pub fn bugzilla(mut self, id: &str) -> AdvisorySpec {
        self.bugzillas.push(id.to_owned());
        self
    }

    #[must_use]
    pub fn reboot_suggested(mut self) -> AdvisorySpec {
        self.reboot_suggested = true;
        self
    }

    #[must_use]
    pub fn package(mut self, nevra: Nevra) -> AdvisorySpec {
        self.packages.push(nevra);
        self
    }
}

/// What goes into one repository.
#[derive(Debug, Clone)]
pub struct RepoBuilder {
    rpms: Vec<BuiltRpm>,
    advisories: Vec<AdvisorySpec>,
    metadata: Metadata,
}

impl Default for RepoBuilder {
    fn default() -> RepoBuilder {
        RepoBuilder::new()
    }
}

impl RepoBuilder {
    pub fn new() -> RepoBuilder {
        RepoBuilder {
            rpms: Vec::new(),
            advisories: Vec::new(),
            metadata: Metadata::Xml,
        }
    }

    #[must_use]
    pub fn rpms<'a>(mut self, rpms: impl IntoIterator<Item = &'a BuiltRpm>) -> RepoBuilder {
        self.rpms.extend(rpms.into_iter().cloned());
        self
    }

    #[must_use]
    pub fn advisory(mut self, advisory: AdvisorySpec) -> RepoBuilder {
        self.advisories.push(advisory);
        self
    }

    #[must_use]
    pub fn metadata(mut self, metadata: Metadata) -> RepoBuilder {
        self.metadata = metadata;
        self
    }

    /// Writes the repository into `dir` (created if needed; it should be empty).
    pub fn build(&self, dir: &Path) -> Result<Repo, FixtureError> {
        fs_err::create_dir_all(dir).map_err(io_error(dir))?;
        let mut rpms = Vec::with_capacity(self.rpms.len());
        for rpm in &self.rpms {
            let to = dir.join(rpm.file_name());
            // A hard link is instant; fall back to a copy across file systems.
            if fs_err::hard_link(&rpm.path, &to).is_err() {
                fs_err::copy(&rpm.path, &to).map_err(io_error(&rpm.path))?;
            }
            rpms.push(BuiltRpm {
                nevra: rpm.nevra.clone(),
                path: to,
            });
        }
        let mut createrepo = CommandSpec::new("createrepo_c")
            .arg("--quiet")
            .timeout(Duration::from_secs(300));
        if self.metadata == Metadata::Xml {
            createrepo = createrepo.arg("--no-database");
        }
        run_checked(&createrepo.arg(dir))?;
        if self.metadata == Metadata::SqliteOnly {
            strip_xml_metadata(&dir.join("repodata"))?;
        }
        if !self.advisories.is_empty() {
            let scratch = tempfile::tempdir().map_err(io_error(std::env::temp_dir()))?;
            let updateinfo = scratch.path().join("updateinfo.xml");
            fs_err::write(&updateinfo, updateinfo_xml(&self.advisories))
                .map_err(io_error(&updateinfo))?;
            run_checked(
                &CommandSpec::new("modifyrepo_c")
                    .arg("--mdtype=updateinfo")
                    .arg(&updateinfo)
                    .arg(dir.join("repodata"))
                    .timeout(Duration::from_secs(300)),
            )?;
        }
        Ok(Repo {
            dir: dir.to_owned(),
            rpms,
        })
    }
}

/// A built repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub dir: PathBuf,
    pub rpms: Vec<BuiltRpm>,
}

impl Repo {
    /// `file:///…`, for a `baseurl=`.
    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    pub fn repomd(&self) -> PathBuf {
        self.dir.join("repodata/repomd.xml")
    }
}

/// Removes the XML primary, filelists and other entries (and files), leaving the `_db` ones.
fn strip_xml_metadata(repodata: &Path) -> Result<(), FixtureError> {
    let repomd_path = repodata.join("repomd.xml");
    let repomd = fs_err::read_to_string(&repomd_path).map_err(io_error(&repomd_path))?;
    let mut kept = String::with_capacity(repomd.len());
    let mut rest = repomd.as_str();
    while let Some(start) = rest.find("<data type=\"") {
        kept.push_str(&rest[..start]);
        let block_end = rest[start..]
            .find("</data>")
            .map(|end| start + end + "</data>".len())
            .ok_or_else(|| {
                FixtureError::Invalid(format!("{} has an unclosed <data>", repomd_path.display()))
            })?;
        let block = &rest[start..block_end];
        let is_xml = ["primary", "filelists", "other"]
            .iter()
            .any(|kind| block.starts_with(&format!("<data type=\"{kind}\">")));
        if is_xml {
            if let Some(href) = block
                .split("href=\"")
                .nth(1)
                .and_then(|h| h.split('"').next())
            {
                let file = repodata.join(href.trim_start_matches("repodata/"));
                fs_err::remove_file(&file).map_err(io_error(&file))?;
            }
            // Drop the indentation before the block too.
            while kept.ends_with([' ', '\n']) {
                kept.pop();
            }
            kept.push('\n');
        } else {
            kept.push_str(block);
        }
        rest = &rest[block_end..];
    }
    kept.push_str(rest);
    fs_err::write(&repomd_path, kept).map_err(io_error(&repomd_path))?;
    Ok(())
}

/// updateinfo.xml in the format Fedora, RHEL and Amazon Linux publish and libsolv reads.
pub fn updateinfo_xml(advisories: &[AdvisorySpec]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n");
    for advisory in advisories {
        let _ = writeln!(
            xml,
            "  <update from=\"fixtures@example.invalid\" status=\"final\" type=\"{}\" version=\"2.0\">",
            advisory.kind.as_str()
        );
        let _ = writeln!(xml, "    <id>{}</id>", escape(&advisory.id));
        let _ = writeln!(xml, "    <title>{}</title>", escape(&advisory.title));
        if let Some(severity) = &advisory.severity {
            let _ = writeln!(xml, "    <severity>{}</severity>", escape(severity));
        }
        let _ = writeln!(xml, "    <release>Patchwarden fixtures</release>");
        let _ = writeln!(xml, "    <issued date=\"{}\"/>", date(advisory.issued));
        if let Some(updated) = advisory.updated {
            let _ = writeln!(xml, "    <updated date=\"{}\"/>", date(updated));
        }
        let _ = writeln!(xml, "    <summary>{}</summary>", escape(&advisory.title));
        let _ = writeln!(
            xml,
            "    <description>{}</description>",
            escape(&advisory.title)
        );
        xml.push_str("    <references>\n");
        for cve in &advisory.cves {
            let cve = escape(cve);
            let _ = writeln!(
                xml,
                "      <reference href=\"https://www.cve.org/CVERecord?id={cve}\" id=\"{cve}\" type=\"cve\" title=\"{cve}\"/>"
            );
        }
        for bug in &advisory.bugzillas {
            let bug = escape(bug);
            let _ = writeln!(
                xml,
                "      <reference href=\"https://bugzilla.example.invalid/show_bug.cgi?id={bug}\" id=\"{bug}\" type=\"bugzilla\" title=\"bug {bug}\"/>"
            );
        }
        xml.push_str("    </references>\n    <pkglist>\n      <collection short=\"fixtures\">\n        <name>Patchwarden fixtures</name>\n");
        for package in &advisory.packages {
            let evr = &package.evr;
            let _ = writeln!(
                xml,
                "        <package name=\"{name}\" version=\"{version}\" release=\"{release}\" epoch=\"{epoch}\" arch=\"{arch}\" src=\"{name}-{version}-{release}.src.rpm\">",
                name = escape(&package.name),
                version = escape(&evr.version),
                release = escape(&evr.release),
                epoch = evr.epoch,
                arch = escape(&package.arch),
            );
            let _ = writeln!(
                xml,
                "          <filename>{}-{}-{}.{}.rpm</filename>",
                escape(&package.name),
                escape(&evr.version),
                escape(&evr.release),
                escape(&package.arch)
            );
            if advisory.reboot_suggested {
                xml.push_str("          <reboot_suggested>True</reboot_suggested>\n");
            }
            xml.push_str("        </package>\n");
        }
        xml.push_str("      </collection>\n    </pkglist>\n  </update>\n");
    }
    xml.push_str("</updates>\n");
    xml
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the usual updateinfo date form.
fn date(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
