//! `cargo xtask dist`: the shipped artifacts in `target/dist/` (docs/packaging.md).
//!
//! For each target (default `x86_64-unknown-linux-gnu.2.17`; `--target T` repeats, or
//! `PATCHWARDEN_DIST_TARGETS="a b"`): `cargo zigbuild --release` against that glibc, the
//! line tables split into `patchwarden-VERSION-ARCH-linux-gnu.debug`, the binary checked
//! (no symbol version above the floor, only the allowed shared libraries, the standard
//! loader), then `patchwarden-VERSION-ARCH-linux-gnu.tar.gz` and the .rpm/.deb packages
//! (packaging/build-packages.sh, nfpm), and `SHA256SUMS` over everything.
//!
//! Tools: `cargo-zigbuild` and `zig` (PyPI `ziglang`), `nfpm`, binutils. `.ci/deps`
//! installs them under `/opt/pw-tools`, which is put on `PATH` here when it exists.

#![expect(
    clippy::disallowed_methods,
    reason = "xtask is a binary's settings and a developer tool: it reads PATH and starts the build tools"
)]

use std::path::Path;
use std::process::Command;

use crate::openapi::workspace_root;

/// The glibc every shipped binary starts on: RHEL/CentOS 7, Amazon Linux 2 and later.
pub(crate) const GLIBC_FLOOR: &str = "2.17";
const DEFAULT_TARGET: &str = "x86_64-unknown-linux-gnu.2.17";
/// Shared libraries a shipped binary may need (all part of glibc, plus libgcc_s).
const ALLOWED_NEEDED: [&str; 7] = [
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libgcc_s.so.1",
    "ld-linux-x86-64.so.2",
];
const TOOLS_DIR: &str = "/opt/pw-tools";

pub(crate) fn run(args: &[&str]) -> Result<String, String> {
    let mut targets: Vec<String> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match *arg {
            "--target" => targets.push(
                iter.next()
                    .ok_or("--target needs a value (x86_64-unknown-linux-gnu.2.17)")?
                    .to_string(),
            ),
            other => return Err(format!("dist: unknown argument `{other}`")),
        }
    }
    if targets.is_empty() {
        targets = std::env::var("PATCHWARDEN_DIST_TARGETS")
            .ok()
            .map(|list| list.split_whitespace().map(str::to_owned).collect())
            .filter(|list: &Vec<String>| !list.is_empty())
            .unwrap_or_else(|| vec![DEFAULT_TARGET.to_owned()]);
    }
    let root = workspace_root();
    let out = root.join("target/dist");
    if out.try_exists().unwrap_or(false) {
        fs_err::remove_dir_all(&out).map_err(|e| e.to_string())?;
    }
    fs_err::create_dir_all(&out).map_err(|e| e.to_string())?;
    let version = workspace_version(&root)?;
    let path = tool_path();
    let mut made = Vec::new();
    for target in &targets {
        let (triple, floor) = match target.rsplit_once(".2.") {
            Some((triple, minor)) => (triple.to_owned(), format!("2.{minor}")),
            None => {
                return Err(format!(
                    "target `{target}` names no glibc version (x86_64-unknown-linux-gnu.{GLIBC_FLOOR})"
                ));
            }
        };
        let arch = triple.split('-').next().unwrap_or("x86_64").to_owned();
        say(&format!(
            "building {target} (release profile: fat LTO, a few minutes)"
        ));
        let mut build = command("cargo", &path);
        build
            .args([
                "zigbuild",
                "--release",
                "--locked",
                "-p",
                "pw-cli",
                "--bin",
                "patchwarden",
            ])
            .args(["--target", target])
            .env("PATCHWARDEN_GLIBC_FLOOR", &floor)
            .current_dir(&root);
        status(&mut build)?;
        let built = root.join(format!("target/{triple}/release/patchwarden"));
        let stem = format!("patchwarden-{version}-{arch}-linux-gnu");
        let stage = out.join(&stem);
        fs_err::create_dir_all(&stage).map_err(|e| e.to_string())?;
        let binary = stage.join("patchwarden");
        fs_err::copy(&built, &binary).map_err(|e| e.to_string())?;
        split_debug(&binary, &out.join(format!("{stem}.debug")), &path)?;
        check_binary(&binary, &floor, &path)?;
        say(&format!(
            "{}: {} bytes, needs glibc <= {floor}",
            binary.display(),
            fs_err::metadata(&binary).map_err(|e| e.to_string())?.len()
        ));
        // The tarball: binary, units, example configs, installer, README.
        for (from, to) in [
            (
                "packaging/systemd/patchwarden-agent.service",
                "systemd/patchwarden-agent.service",
            ),
            (
                "packaging/systemd/patchwarden-server.service",
                "systemd/patchwarden-server.service",
            ),
            ("packaging/config/agent.toml", "config/agent.toml"),
            ("packaging/config/server.toml", "config/server.toml"),
            ("packaging/install.sh", "install.sh"),
            ("README.md", "README.md"),
            ("docs/packaging.md", "docs/packaging.md"),
        ] {
            let target_path = stage.join(to);
            if let Some(parent) = target_path.parent() {
                fs_err::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            fs_err::copy(root.join(from), &target_path).map_err(|e| e.to_string())?;
        }
        let tarball = format!("{stem}.tar.gz");
        let mut tar = command("tar", &path);
        tar.args([
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-czf",
            &tarball,
            &stem,
        ])
        .current_dir(&out);
        status(&mut tar)?;
        made.push(tarball);
        // The packages: nfpm, through the script the package tests use as well.
        let deb_arch = match arch.as_str() {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let mut packages = command("sh", &path);
        packages
            .arg(root.join("packaging/build-packages.sh"))
            .arg(&binary)
            .arg(&version)
            .arg(&out)
            .env("PW_ARCH", deb_arch)
            .current_dir(&root);
        status(&mut packages)?;
        fs_err::remove_dir_all(&stage).map_err(|e| e.to_string())?;
    }
    let mut sums = command("sh", &path);
    sums.args([
        "-c",
        "sha256sum -- *.tar.gz *.rpm *.deb *.debug > SHA256SUMS",
    ])
    .current_dir(&out);
    status(&mut sums)?;
    let listing: Vec<String> = fs_err::read_dir(&out)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    Ok(format!("{} holds: {}", out.display(), {
        let mut sorted = listing;
        sorted.sort();
        sorted.join(", ")
    }))
}

fn workspace_version(root: &Path) -> Result<String, String> {
    let manifest = fs_err::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(value) = line.strip_prefix("version = ") {
            return Ok(value.trim_matches('"').to_owned());
        }
    }
    Err("no version in [workspace.package] of Cargo.toml".to_owned())
}

/// `PATH` with the CI tool directories first (cargo-zigbuild, the venv's zig and nfpm).
fn tool_path() -> String {
    let mut parts = Vec::new();
    for dir in [format!("{TOOLS_DIR}/bin"), format!("{TOOLS_DIR}/venv/bin")] {
        if Path::new(&dir).is_dir() {
            parts.push(dir);
        }
    }
    if let Ok(path) = std::env::var("PATH") {
        parts.push(path);
    }
    parts.join(":")
}

fn command(program: &str, path: &str) -> Command {
    let mut command = Command::new(program);
    command.env("PATH", path);
    command
}

fn status(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .map_err(|e| format!("{shown}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown}: {status}"))
    }
}

fn output(command: &mut Command) -> Result<String, String> {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|e| format!("{shown}: could not start: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{shown}: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Moves the line tables and the symbol table into `debug_file` and links it from the
/// binary (gdb and systemd-coredump find it by the debuglink); the shipped binary is
/// stripped as distributions strip theirs (lintian's `unstripped-binary-or-object`).
fn split_debug(binary: &Path, debug_file: &Path, path: &str) -> Result<(), String> {
    status(
        command("objcopy", path)
            .arg("--only-keep-debug")
            .arg(binary)
            .arg(debug_file),
    )?;
    status(
        command("objcopy", path)
            .arg("--strip-unneeded")
            .arg("--remove-section=.comment")
            .arg(format!("--add-gnu-debuglink={}", debug_file.display()))
            .arg(binary),
    )
}

/// The checks every shipped binary passes: no versioned symbol newer than `floor`, only
/// glibc's libraries and libgcc_s, and the standard x86_64 loader.
pub(crate) fn check_binary(binary: &Path, floor: &str, path: &str) -> Result<(), String> {
    let versions = output(command("readelf", path).args(["-W", "-V"]).arg(binary))?;
    let newest = newest_glibc(&versions).ok_or("no GLIBC_ symbol versions found")?;
    if compare_versions(&newest, floor) == std::cmp::Ordering::Greater {
        return Err(format!(
            "{} needs GLIBC_{newest}, newer than the floor {floor}",
            binary.display()
        ));
    }
    let dynamic = output(
        command("readelf", path)
            .args(["-W", "-d", "-l"])
            .arg(binary),
    )?;
    for line in dynamic.lines().filter(|l| l.contains("(NEEDED)")) {
        let library = line
            .split('[')
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .unwrap_or(line);
        if !ALLOWED_NEEDED.contains(&library) {
            return Err(format!(
                "{} needs `{library}`, which is not part of glibc",
                binary.display()
            ));
        }
    }
    if binary.to_string_lossy().contains("x86_64")
        && !dynamic.contains("[Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]")
    {
        return Err(format!(
            "{}: the interpreter is not /lib64/ld-linux-x86-64.so.2",
            binary.display()
        ));
    }
    Ok(())
}

/// The highest `GLIBC_x.y[.z]` in readelf's output.
pub(crate) fn newest_glibc(readelf: &str) -> Option<String> {
    let mut newest: Option<String> = None;
    for word in readelf.split(|c: char| c.is_whitespace() || c == ':') {
        if let Some(version) = word.strip_prefix("GLIBC_")
            && version.chars().next().is_some_and(|c| c.is_ascii_digit())
            && newest
                .as_deref()
                .is_none_or(|n| compare_versions(version, n) == std::cmp::Ordering::Greater)
        {
            newest = Some(version.to_owned());
        }
    }
    newest
}

fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parts(a).cmp(&parts(b))
}

fn say(message: &str) {
    crate::say(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_glibc_version_is_found() {
        let text = "  0x0010:   Name: GLIBC_2.2.5  Flags: none\n  Name: GLIBC_2.17\n  Name: GLIBC_2.3.4 GLIBC_PRIVATE";
        assert_eq!(newest_glibc(text).as_deref(), Some("2.17"));
        assert_eq!(
            compare_versions("2.34", "2.17"),
            std::cmp::Ordering::Greater
        );
        assert_eq!(compare_versions("2.3.4", "2.17"), std::cmp::Ordering::Less);
    }
}
