//! `patchwarden repo inspect`: repository summaries (directory, file:// and http://) and the
//! `--updateinfo FILE --json` interface.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::patchwarden;

fn repodata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pw-core/test_data/repodata")
        .join(name)
}

fn run(args: &[&str]) -> (u8, String, String) {
    let output = patchwarden(args, None);
    let code = output
        .status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .unwrap_or(255);
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("patchwarden prints UTF-8");
    (code, text(output.stdout), text(output.stderr))
}

fn json_of(args: &[&str]) -> Value {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{args:?}: {error}: {stdout}"))
}

#[test]
fn updateinfo_json_has_exactly_the_documented_keys() {
    let file = repodata("al2/repodata/updateinfo.xml.gz");
    let advisories = json_of(&[
        "repo",
        "inspect",
        "--updateinfo",
        file.to_str().unwrap(),
        "--json",
    ]);
    let advisories = advisories.as_array().unwrap();
    assert_eq!(advisories.len(), 3);
    assert_eq!(
        advisories[0],
        json!({
            "id": "ALAS2-2023-2350",
            "type": "security",
            "status": "final",
            "severity": "important",
            "title": "Amazon Linux 2 - ALAS2-2023-2350: important priority package update for kernel",
            "issued": "2023-11-16T21:59:00Z",
            "updated": "2023-11-21T23:06:00Z",
            "references": [
                {"type": "cve", "id": "CVE-2023-45871"},
                {"type": "cve", "id": "CVE-2023-5717"}
            ],
            "packages": [
                {"name": "kernel", "epoch": "0", "version": "4.14.355", "release": "2.amzn2", "arch": "x86_64"}
            ],
            "reboot_suggested": true
        })
    );
    let bash = &advisories[2];
    assert_eq!(bash["severity"], Value::Null);
    assert_eq!(bash["updated"], Value::Null);
    assert_eq!(bash["packages"][0]["epoch"], "0");
    assert_eq!(bash["reboot_suggested"], false);
    assert_eq!(advisories[1]["packages"][0]["epoch"], "1");
}

#[test]
fn updateinfo_accepts_plain_files_and_reports_diagnostics_on_stderr() {
    let file = repodata("sources/rhel8/updateinfo.xml");
    let (code, stdout, stderr) = run(&[
        "repo",
        "inspect",
        "--updateinfo",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let advisories: Value = serde_json::from_str(&stdout).unwrap();
    let sudo = advisories
        .as_array()
        .unwrap()
        .iter()
        .find(|advisory| advisory["id"] == "RHBA-2021:2600")
        .unwrap();
    assert_eq!(sudo["issued"], "2021-07-01T08:00:00Z");
    assert_eq!(sudo["updated"], Value::Null);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("warning: updateinfo.xml (line 47"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unparsable updated date \"not a date\""),
        "{stderr}"
    );
    let kernel = advisories
        .as_array()
        .unwrap()
        .iter()
        .find(|advisory| advisory["id"] == "RHSA-2021:2570")
        .unwrap();
    assert_eq!(kernel["reboot_suggested"], true);
}

#[test]
fn updateinfo_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.xml");
    fs_err::write(&path, "<updates>\n<update type=\"security\">\n<id>X").unwrap();
    let (code, stdout, stderr) = run(&[
        "repo",
        "inspect",
        "--updateinfo",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!("failed to parse {}", path.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("(line 3, byte 40): document is truncated: it ends inside <id>"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "repo",
        "inspect",
        "--updateinfo",
        "/nonexistent/updateinfo.xml",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/updateinfo.xml"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, _) = run(&["repo", "inspect"]);
    assert_eq!(code, 2);
    let (code, _, _) = run(&["repo", "inspect", "somewhere", "--updateinfo", "file.xml"]);
    assert_eq!(code, 2);
}

#[test]
fn repository_summary_text() {
    let root = repodata("al2");
    let (code, stdout, stderr) = run(&["repo", "inspect", root.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let expected = format!(
        "repository:   {}\nrevision:     1700000000\nrecords:      primary_db, filelists_db, other_db, updateinfo\npackages:     5 (from primary_db)\nadvisories:   3\n  by type:     bugfix 1, security 2\n  by severity: important 1, medium 1, none 1\ndiagnostics:  0\n",
        root.display()
    );
    assert_eq!(stdout, expected);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn repository_summary_json_from_a_file_url() {
    let root = repodata("rhel8").canonicalize().unwrap();
    let url = format!("file://{}", root.display());
    let summary = json_of(&["repo", "inspect", &url, "--json"]);
    assert_eq!(summary["revision"], "1700000000");
    assert_eq!(summary["primary_source"], "primary");
    assert_eq!(summary["packages"], 4);
    assert_eq!(summary["advisories"], 3);
    assert_eq!(
        summary["advisories_by_type"],
        json!({"bugfix": 1, "security": 2})
    );
    assert_eq!(
        summary["advisories_by_severity"],
        json!({"important": 1, "moderate": 1, "none": 1})
    );
    assert_eq!(summary["diagnostics"].as_array().unwrap().len(), 1);
    assert_eq!(
        summary["records"][0],
        json!({"type": "primary", "location": "repodata/primary.xml.gz".replace(".gz", ".xz")})
    );
}

/// Serves `root` over HTTP on 127.0.0.1:0 until the test process ends; returns the base URL.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|read| read > 2) {
                header.clear();
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_owned();
            let body = if path.split('/').any(|segment| segment == "..") {
                None
            } else {
                fs_err::read(root.join(&path)).ok()
            };
            let mut stream = reader.into_inner();
            let response = match body {
                Some(body) => {
                    let mut response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    response.extend_from_slice(&body);
                    response
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    format!("http://{address}")
}

#[test]
fn repository_over_http() {
    let base = serve(repodata(""));
    let summary = json_of(&["repo", "inspect", &format!("{base}/al2023"), "--json"]);
    assert_eq!(summary["packages"], 4);
    assert_eq!(
        summary["advisories_by_severity"],
        json!({"critical": 1, "low": 1, "none": 1})
    );
    assert_eq!(
        summary["advisories_by_type"],
        json!({"enhancement": 1, "security": 2})
    );
    let (code, _, stderr) = run(&["repo", "inspect", &format!("{base}/nothing-here")]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!(
            "failed to download {base}/nothing-here/repodata/repomd.xml"
        )),
        "{stderr}"
    );
}
