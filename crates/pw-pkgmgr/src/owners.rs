//! Which installed package owns a file: `rpm -qf` in the root, or dpkg's file lists. Used to
//! say which package an update left running processes on (a library replaced on disk while
//! a process still maps the old one).

use std::time::Duration;

use crate::command::{self, CommandSpec};
use crate::root::Root;

/// The name of the rpm package that owns `path` in `root`, if any.
pub fn rpm_owner(root: &Root, path: &str) -> Option<String> {
    let spec = CommandSpec::new("rpm")
        .args(root.rpm_args())
        .args(["-qf", "--queryformat", "%{NAME}\n", "--", path])
        .timeout(Duration::from_secs(30));
    let output = command::run(&spec).ok()?;
    if !output.success() {
        return None;
    }
    let name = output.stdout_tail(4096);
    let name = name.lines().next()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// The name of the Debian package that owns `path` in `root`, from dpkg's `*.list` files.
pub fn deb_owner(root: &Root, path: &str) -> Option<String> {
    let info = root.join("var/lib/dpkg/info");
    for entry in fs_err::read_dir(&info).ok()? {
        let Ok(entry) = entry else { continue };
        let file = entry.path();
        if file.extension().is_none_or(|ext| ext != "list") {
            continue;
        }
        let Ok(text) = fs_err::read_to_string(&file) else {
            continue;
        };
        if text.lines().any(|line| line == path) {
            let stem = file.file_stem()?.to_string_lossy().into_owned();
            // `name:arch.list` for multi-arch packages.
            return Some(stem.split(':').next().unwrap_or(&stem).to_owned());
        }
    }
    None
}
