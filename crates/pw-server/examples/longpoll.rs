//! Long polls at fleet scale, against a server running as its own process: enrolls N agents
//! over HTTP, then has every one of them hold `GET /api/v1/agent/commands?wait=W` open at
//! once and poll again as soon as an answer comes, for S seconds. Prints the polls answered
//! per second, how late each answer came after its wait ran out (p50/p99/max), the server's
//! resident memory before and while the polls are held (from `/proc/PID/status`), and so the
//! memory per held poll.
//!
//! ```sh
//! longpoll --server http://127.0.0.1:8080 --pid 1234 --token pwt_... --agents 18000 --seconds 75
//! ```
//!
//! Raw HTTP/1.1 over tokio sockets, one connection per agent, spread over the source
//! addresses 127.0.0.1 to 127.0.0.8 (one source address has about 28,000 ephemeral ports).
//! Loopback only; bounded by `--seconds`.

#![expect(
    clippy::print_stdout,
    reason = "the results are the output of this program"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pw_api::server::agent::{EnrollRequest, NodeFacts};
use pw_api::server::tokens::CreateActivation;
use pw_client::{Client, ClientSettings};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

struct Options {
    server: String,
    pid: u32,
    token: String,
    agents: usize,
    seconds: u64,
    wait: u64,
    /// Open the connections and send nothing (what a connection costs without a request).
    idle: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        server: String::new(),
        pid: 0,
        token: String::new(),
        agents: 1000,
        seconds: 75,
        wait: 30,
        idle: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--idle" {
            options.idle = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |text: &str| {
            text.parse::<u64>()
                .map_err(|_| format!("{flag}: `{text}` is not a number"))
        };
        match flag.as_str() {
            "--server" => options.server = value,
            "--pid" => options.pid = u32::try_from(number(&value)?).map_err(|e| e.to_string())?,
            "--token" => options.token = value,
            "--agents" => options.agents = usize::try_from(number(&value)?).unwrap_or(1),
            "--seconds" => options.seconds = number(&value)?,
            "--wait" => options.wait = number(&value)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.server.is_empty() || options.token.is_empty() || options.pid == 0 {
        return Err("--server, --pid and --token are required".to_owned());
    }
    Ok(options)
}

/// The server's resident memory in KiB (`VmRSS`) and its open file count.
fn server_memory(pid: u32) -> (u64, usize) {
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

/// Enrolls `n` agents with `threads` blocking clients; returns their credentials.
fn enroll(options: &Options, threads: usize) -> Vec<String> {
    let admin = Client::new(ClientSettings::new(&options.server).with_secret(&options.token))
        .expect("client");
    let code = admin
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: Some(24),
            max_uses: Some(u32::try_from(options.agents).unwrap_or(u32::MAX)),
            description: Some("longpoll bench".to_owned()),
            tags: Vec::new(),
        })
        .expect("activation code")
        .code;
    let per_thread = options.agents.div_ceil(threads);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (server, code) = (options.server.clone(), code.clone());
            let count = per_thread.min(options.agents.saturating_sub(t * per_thread));
            std::thread::spawn(move || {
                let anonymous = Client::new(ClientSettings::new(&server)).expect("client");
                (0..count)
                    .map(|i| {
                        anonymous
                            .enroll(&EnrollRequest {
                                activation_code: code.clone(),
                                facts: NodeFacts {
                                    hostname: format!("lp-{t}-{i}"),
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

/// Reads one HTTP/1.1 response (headers, then `Content-Length` bytes); returns its status.
async fn read_response(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> Option<u16> {
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
    Some(status)
}

#[derive(Default)]
struct Tally {
    polls: AtomicU64,
    errors: AtomicU64,
    held: AtomicU64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let started = Instant::now();
    let credentials = enroll(&options, 8);
    println!(
        "enrolled {} agents in {:.1} s",
        credentials.len(),
        started.elapsed().as_secs_f64()
    );
    let (idle_rss, idle_fds) = server_memory(options.pid);
    let address: SocketAddr = options
        .server
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("--server must be http://IP:PORT: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let tally = Arc::new(Tally::default());
    let polling = Instant::now();
    let lateness: Vec<u64> = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(options.seconds);
        let mut tasks = Vec::with_capacity(credentials.len());
        for (index, credential) in credentials.into_iter().enumerate() {
            let tally = tally.clone();
            let (wait, idle) = (options.wait, options.idle);
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (index % 8) as u8));
            tasks.push(tokio::spawn(async move {
                let mut late = Vec::new();
                let socket = tokio::net::TcpSocket::new_v4().ok()?;
                socket.bind(SocketAddr::new(source, 0)).ok()?;
                let mut stream = socket.connect(address).await.ok()?;
                if idle {
                    tally.held.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep_until(deadline.into()).await;
                    return Some(late);
                }
                let request = format!(
                    "GET /api/v1/agent/commands?wait={wait} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {credential}\r\n\r\n"
                );
                let mut buffer = Vec::with_capacity(1024);
                let mut first = true;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if stream.write_all(request.as_bytes()).await.is_err() {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        return Some(late);
                    }
                    if first {
                        tally.held.fetch_add(1, Ordering::Relaxed);
                        first = false;
                    }
                    match read_response(&mut stream, &mut buffer).await {
                        Some(200) => {
                            tally.polls.fetch_add(1, Ordering::Relaxed);
                            let elapsed = sent.elapsed();
                            late.push(
                                elapsed
                                    .saturating_sub(Duration::from_secs(wait))
                                    .as_micros() as u64,
                            );
                        }
                        _ => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            return Some(late);
                        }
                    }
                }
                Some(late)
            }));
        }
        // Every agent has sent its first poll and none is answered yet: the server holds
        // them all.
        let held_by = Instant::now() + Duration::from_secs(options.wait.saturating_sub(5).max(1));
        while tally.held.load(Ordering::Relaxed) < tasks.len() as u64 && Instant::now() < held_by
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Until the server has accepted them all (or 10 s).
        let settle = Instant::now() + Duration::from_secs(10);
        while server_memory(options.pid).1 < tasks.len() && Instant::now() < settle {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (held_rss, held_fds) = server_memory(options.pid);
        let held = tally.held.load(Ordering::Relaxed);
        println!(
            "server: idle {} MiB ({idle_fds} fds); {held} {} held: {} MiB ({held_fds} fds); {:.1} KiB each",
            idle_rss / 1024,
            if options.idle { "idle connections" } else { "polls" },
            held_rss / 1024,
            held_rss.saturating_sub(idle_rss) as f64 / held.max(1) as f64
        );
        let mut all = Vec::new();
        for task in tasks {
            if let Ok(Some(late)) = task.await {
                all.extend(late);
            }
        }
        all
    });
    let mut lateness = lateness;
    lateness.sort_unstable();
    let percentile = |p: f64| {
        lateness
            .get(((lateness.len() as f64 * p) as usize).min(lateness.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    let polls = tally.polls.load(Ordering::Relaxed);
    // Each agent stops after the poll that outlives `--seconds`, so the run is longer.
    let elapsed = polling.elapsed().as_secs_f64();
    println!(
        "{polls} long polls answered in {elapsed:.1} s: {:.0} polls/s; answered after the wait by p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} errors",
        polls as f64 / elapsed,
        percentile(0.5),
        percentile(0.99),
        lateness.last().map_or(0.0, |us| *us as f64 / 1000.0),
        tally.errors.load(Ordering::Relaxed)
    );
    Ok(())
}
