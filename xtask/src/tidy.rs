//! Tidy checks: architecture invariants that a test can see in the source tree.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "test_data")
            {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("xtask"), &mut files);
    let missing: Vec<_> = files
        .iter()
        .filter(|path| !fs_err::read_to_string(path).unwrap().starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` doc: {missing:#?}"
    );
}

#[test]
fn core_does_no_io_and_has_no_serde() {
    let root = workspace_root();
    let manifest = fs_err::read_to_string(root.join("crates/pw-core/Cargo.toml")).unwrap();
    for banned in [
        "tokio",
        "sqlx",
        "reqwest",
        "ureq",
        "axum",
        "serde",
        "fs-err",
        "tracing-subscriber",
    ] {
        let needle = format!("\n{banned}");
        assert!(
            !manifest.contains(&needle),
            "pw-core must not depend on {banned}"
        );
    }
    let mut files = Vec::new();
    rust_files(&root.join("crates/pw-core/src"), &mut files);
    for path in files {
        let text = fs_err::read_to_string(&path).unwrap();
        for banned in [
            "std::fs",
            "std::process",
            "std::env",
            "SystemTime::now",
            "Timestamp::now",
            "Zoned::now",
            "std::net",
        ] {
            assert!(
                !text.contains(banned),
                "{} uses {banned}: pw-core does no I/O",
                path.display()
            );
        }
        assert!(
            !text.contains("derive(Serialize") && !text.contains("Deserialize)"),
            "{} derives serde: wire types live in pw-api",
            path.display()
        );
    }
}
