//! The file-system root the package manager works on: `/` on a real host, or an installroot
//! (`dnf --installroot`, `rpm --root`) for tests and containers.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// An absolute directory that stands for `/` of the managed system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root(PathBuf);

#[derive(Debug, thiserror::Error)]
#[error("the root directory must be an absolute path, not `{0}`")]
pub struct RelativeRootError(PathBuf);

impl Root {
    /// The running system itself; no `--root`/`--installroot` flag is passed.
    pub fn host() -> Root {
        Root(PathBuf::from("/"))
    }

    pub fn new(path: impl Into<PathBuf>) -> Result<Root, RelativeRootError> {
        let path = path.into();
        if !path.is_absolute() {
            return Err(RelativeRootError(path));
        }
        Ok(Root(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// True for `/`: commands then run without any root flag.
    pub fn is_host(&self) -> bool {
        self.0.components().all(|c| c == Component::RootDir)
    }

    /// Where a path of the managed system (`/etc/os-release`) lives on this machine.
    pub fn join(&self, system_path: impl AsRef<Path>) -> PathBuf {
        let relative: PathBuf = system_path
            .as_ref()
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        self.0.join(relative)
    }

    /// `--root DIR` for rpm, nothing for the host.
    pub(crate) fn rpm_args(&self) -> Vec<OsString> {
        if self.is_host() {
            Vec::new()
        } else {
            vec!["--root".into(), self.0.clone().into_os_string()]
        }
    }

    /// `--installroot=DIR` for dnf and yum, nothing for the host.
    pub(crate) fn installroot_args(&self) -> Vec<OsString> {
        if self.is_host() {
            Vec::new()
        } else {
            let mut arg = OsString::from("--installroot=");
            arg.push(&self.0);
            vec![arg]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_paths_inside_the_root() {
        let root = Root::new("/srv/root").unwrap();
        assert_eq!(
            root.join("/etc/os-release"),
            Path::new("/srv/root/etc/os-release")
        );
        assert_eq!(root.join("var/lib"), Path::new("/srv/root/var/lib"));
        assert_eq!(
            Root::host().join("/etc/os-release"),
            Path::new("/etc/os-release")
        );
        assert!(Root::host().is_host());
        assert!(!root.is_host());
        assert!(Root::new("relative").is_err());
    }
}
