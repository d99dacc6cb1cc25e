//! Processes left on deleted code, read from the real `/proc`: a Python process loads a copy
//! of a real shared library, the copy is deleted (as an update replaces a library), and the
//! scan names the process, the file and the owner the caller resolves.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::Stdio;

#[test]
fn a_process_mapping_a_deleted_library_is_found_in_proc() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("libz-copy.so.1");
    fs_err::copy("/lib/x86_64-linux-gnu/libz.so.1", &library).unwrap();
    #[expect(
        clippy::disallowed_methods,
        reason = "a long-running child the test controls, not a command the product runs"
    )]
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import ctypes, sys, time\nctypes.CDLL(sys.argv[1])\nprint('ready', flush=True)\ntime.sleep(60)",
            library.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    fs_err::remove_file(&library).unwrap();

    let wanted = library.to_str().unwrap().to_owned();
    let owner = |path: &str| (path == wanted).then(|| "zlib".to_owned());
    let found = pw_agent::stale::scan(Path::new("/proc"), &owner);
    let _ = child.kill();
    let _ = child.wait();
    let service = found
        .iter()
        .find(|s| s.pids.contains(&child.id()))
        .unwrap_or_else(|| panic!("pid {} not found in {found:#?}", child.id()));
    assert!(service.files.contains(&wanted), "{service:?}");
    assert_eq!(service.packages, ["zlib"]);
    assert!(service.command.starts_with("python"), "{service:?}");
}
