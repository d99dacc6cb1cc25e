//! Build facts for `patchwarden --version` (src/version.rs): the git commit, the target, and
//! the glibc floor that `cargo xtask dist` builds for.
#![expect(
    clippy::disallowed_methods,
    reason = "a build script reads cargo's environment and asks git; the runtime rules are not for it"
)]

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=PATCHWARDEN_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=PATCHWARDEN_GLIBC_FLOOR");
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let git_dir = Path::new(&manifest_dir).join("../../.git");
    for watched in ["HEAD", "refs/heads", "packed-refs"] {
        let path = git_dir.join(watched);
        if path.try_exists().unwrap_or(false) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let commit = std::env::var("PATCHWARDEN_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git_commit(&manifest_dir))
        .unwrap_or_else(|| "unknown".to_owned());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    let glibc = match std::env::var("PATCHWARDEN_GLIBC_FLOOR") {
        Ok(floor) if !floor.is_empty() => format!(">= {floor}"),
        _ => "of the build host (development build; `cargo xtask dist` builds for 2.17)".to_owned(),
    };
    println!("cargo:rustc-env=PW_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=PW_BUILD_TARGET={target}");
    println!("cargo:rustc-env=PW_BUILD_GLIBC={glibc}");
}

fn git_commit(dir: &str) -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(dir)
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}
