//! What the fleet-scale benchmarks (`longpoll`, `fanout`) share: enrolling simulated agents
//! over HTTP, raw HTTP/1.1 exchanges on one connection per agent, and the server's memory.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use pw_api::server::agent::{EnrollRequest, NodeFacts};
use pw_api::server::tokens::{CreateActivation, Tag};
use pw_client::{Client, ClientSettings};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The server's resident memory in KiB (`VmRSS`) and its open file count.
pub(crate) fn server_memory(pid: u32) -> (u64, usize) {
    let status = fs_err::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0);
    let fds = fs_err::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    (rss, fds)
}

/// Enrolls `agents` nodes with `threads` blocking clients, with an activation code that sets
/// `tags`; returns their credentials.
pub(crate) fn enroll(
    server: &str,
    admin_token: &str,
    agents: usize,
    tags: Vec<Tag>,
    threads: usize,
) -> Vec<String> {
    let admin = Client::new(ClientSettings::new(server).with_secret(admin_token)).expect("client");
    let code = admin
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: Some(24),
            max_uses: Some(u32::try_from(agents).unwrap_or(u32::MAX)),
            description: Some("fleet-scale bench".to_owned()),
            tags,
        })
        .expect("activation code")
        .code;
    let per_thread = agents.div_ceil(threads);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (server, code) = (server.to_owned(), code.clone());
            let count = per_thread.min(agents.saturating_sub(t * per_thread));
            std::thread::spawn(move || {
                let anonymous = Client::new(ClientSettings::new(&server)).expect("client");
                (0..count)
                    .map(|i| {
                        anonymous
                            .enroll(&EnrollRequest {
                                activation_code: code.clone(),
                                facts: NodeFacts {
                                    hostname: format!("bench-{t}-{i}"),
                                    operating_system: "AMAZON_LINUX_2".to_owned(),
                                    product: "AmazonLinux2".to_owned(),
                                    agent_version: "bench".to_owned(),
                                    ..Default::default()
                                },
                                tags: Vec::new(),
                            })
                            .expect("enroll")
                            .credential
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("enrolling thread"))
        .collect()
}

/// The server's address from `http://IP:PORT`.
pub(crate) fn address(server: &str) -> Result<SocketAddr, String> {
    server
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("--server must be http://IP:PORT: {e}"))
}

/// A connection for agent `index`, from one of the source addresses 127.0.0.1 to 127.0.0.8
/// (one source address has about 28,000 ephemeral ports).
pub(crate) async fn connect(address: SocketAddr, index: usize) -> Option<tokio::net::TcpStream> {
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (index % 8) as u8));
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(source, 0)).ok()?;
    socket.connect(address).await.ok()
}

/// Reads one HTTP/1.1 response (headers, then `Content-Length` bytes) into `buffer`; returns
/// its status and where its body is in `buffer`.
pub(crate) async fn read_response(
    stream: &mut tokio::net::TcpStream,
    buffer: &mut Vec<u8>,
) -> Option<(u16, std::ops::Range<usize>)> {
    buffer.clear();
    let mut chunk = [0_u8; 4096];
    let header_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some((status, header_end..header_end + length))
}

/// Sends one request with `credential`, and a JSON body when given.
pub(crate) async fn send(
    stream: &mut tokio::net::TcpStream,
    method: &str,
    path: &str,
    credential: &str,
    body: Option<&str>,
) -> std::io::Result<()> {
    let request = match body {
        Some(body) => format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {credential}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        None => format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {credential}\r\n\r\n"
        ),
    };
    stream.write_all(request.as_bytes()).await
}
