//! Loading over HTTP from a tiny file server on 127.0.0.1:0.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use pw_repo::{RepoError, load, load_dir};

use crate::fixture;

/// Serves files under `root` over HTTP/1.1 on a loopback port until the test process ends.
/// `/broken/...` answers 500. Returns the base URL.
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
                .to_owned();
            let mut stream = reader.into_inner();
            let relative = path.trim_start_matches('/');
            let body = if relative.split('/').any(|segment| segment == "..")
                || relative.starts_with("broken")
            {
                None
            } else {
                fs_err::read(root.join(relative)).ok()
            };
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
                None if relative.starts_with("broken") => {
                    b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
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
fn loads_over_http() {
    let base = serve(fixture(""));
    for name in ["al2", "al2023", "rhel8"] {
        let over_http = load(&format!("{base}/{name}")).unwrap();
        let from_dir = load_dir(&fixture(name)).unwrap();
        assert_eq!(over_http.packages, from_dir.packages, "{name}");
        assert_eq!(over_http.advisories, from_dir.advisories, "{name}");
        assert_eq!(over_http.primary_source, from_dir.primary_source, "{name}");
    }
    // A trailing slash makes no difference.
    assert_eq!(load(&format!("{base}/al2023/")).unwrap().packages.len(), 4);
}

#[test]
fn http_errors_name_the_url() {
    let base = serve(fixture(""));
    let error = load(&format!("{base}/missing")).unwrap_err();
    assert!(matches!(error, RepoError::Download { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!("failed to download {base}/missing/repodata/repomd.xml")
    );
    let error = load(&format!("{base}/broken")).unwrap_err();
    assert!(matches!(error, RepoError::Download { .. }), "{error}");
}
