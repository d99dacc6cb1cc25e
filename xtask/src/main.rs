//! `cargo run -p xtask`: repository maintenance. The tidy checks are `#[test]`s in `tidy.rs`
//! so that the normal test run enforces them; so are the OpenAPI checks
//! (`openapi_checks.rs`).
//!
//! Commands:
//! * `openapi`: regenerate `components.schemas` of `crates/pw-server/openapi.json` from the
//!   pw-api wire types (`openapi.rs`).
//! * `openapi --check`: fail when the file is not what `openapi` would write.
//! * `dist [--target T]...`: the shipped binary, tarball and packages in `target/dist/`
//!   (`dist.rs`, docs/packaging.md).

mod dist;
mod openapi;
#[cfg(test)]
mod openapi_checks;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["openapi"] => openapi::write().map(|changed| {
            if changed {
                format!("{} regenerated", openapi::OPENAPI_FILE)
            } else {
                format!("{} is up to date", openapi::OPENAPI_FILE)
            }
        }),
        ["openapi", "--check"] => check(),
        ["dist", rest @ ..] => dist::run(rest),
        _ => Err(format!(
            "unknown command: {}\nusage: cargo xtask openapi [--check] | cargo xtask dist [--target T]...",
            args.join(" ")
        )),
    };
    match result {
        Ok(message) => {
            say(&message);
            ExitCode::SUCCESS
        }
        Err(message) => {
            say(&format!("error: {message}"));
            ExitCode::FAILURE
        }
    }
}

fn check() -> Result<String, String> {
    let path = openapi::workspace_root().join(openapi::OPENAPI_FILE);
    let current = fs_err::read_to_string(&path).map_err(|error| error.to_string())?;
    if openapi::render(&current)? == current {
        Ok(format!("{} is up to date", openapi::OPENAPI_FILE))
    } else {
        Err(format!(
            "{} is out of date: run `{}`",
            openapi::OPENAPI_FILE,
            openapi::REGENERATE
        ))
    }
}

#[expect(
    clippy::print_stderr,
    reason = "xtask is a developer tool; its messages go to the terminal"
)]
pub(crate) fn say(message: &str) {
    eprintln!("{message}");
}
