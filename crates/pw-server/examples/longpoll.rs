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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{address, connect, enroll, read_response, send, server_memory};

#[path = "common/mod.rs"]
mod common;

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

#[derive(Default)]
struct Tally {
    polls: AtomicU64,
    errors: AtomicU64,
    held: AtomicU64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let started = Instant::now();
    let credentials = enroll(
        &options.server,
        &options.token,
        options.agents,
        Vec::new(),
        8,
    );
    println!(
        "enrolled {} agents in {:.1} s",
        credentials.len(),
        started.elapsed().as_secs_f64()
    );
    let (idle_rss, idle_fds) = server_memory(options.pid);
    let address = address(&options.server)?;
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
            tasks.push(tokio::spawn(async move {
                let mut late = Vec::new();
                let mut stream = connect(address, index).await?;
                if idle {
                    tally.held.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep_until(deadline.into()).await;
                    return Some(late);
                }
                let path = format!("/api/v1/agent/commands?wait={wait}");
                let mut buffer = Vec::with_capacity(1024);
                let mut first = true;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if send(&mut stream, "GET", &path, &credential, None).await.is_err() {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        return Some(late);
                    }
                    if first {
                        tally.held.fetch_add(1, Ordering::Relaxed);
                        first = false;
                    }
                    match read_response(&mut stream, &mut buffer).await {
                        Some((200, _)) => {
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
