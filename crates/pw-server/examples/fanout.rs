//! A maintenance window's fan-out at fleet scale, against a server running as its own process:
//! enrolls N agents over HTTP (tagged `Fleet=fanout` by their activation code), registers a
//! window whose target is that tag and a Scan task at `--concurrency` (default `10%`), has
//! every agent hold a long poll, then starts the window (`run now`) and measures:
//! - from the start to every invocation handed out, and to the execution's end;
//! - that no invocation is handed out twice (each command id seen once, `delivery` 1);
//! - how many invocations were running at once at most (the concurrency the runner kept);
//! - the server's resident memory at the end.
//!
//! Each simulated agent answers like the real one: acknowledge, "run" for a random time in
//! `--min-ms`..`--max-ms`, post a SUCCESS result, poll again.
//!
//! ```sh
//! fanout --server http://127.0.0.1:8080 --pid 1234 --token pwt_... --agents 10000
//! ```
//!
//! Raw HTTP/1.1 over tokio sockets, one connection per agent. Loopback only; bounded by
//! `--timeout` seconds.

#![expect(
    clippy::print_stdout,
    reason = "the results are the output of this program"
)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{address, connect, enroll, read_response, send, server_memory};
use pw_api::server::agent::CommandsResponse;
use pw_api::server::tokens::Tag;
use pw_api::server::windows::ExecutionStatus;
use pw_client::{Client, ClientSettings};

#[path = "common/mod.rs"]
mod common;

struct Options {
    server: String,
    pid: u32,
    /// More replicas on the same database (`--replica URL --replica-pid PID`): agent i
    /// polls server i mod (replicas + 1).
    replicas: Vec<(String, u32)>,
    token: String,
    agents: usize,
    concurrency: String,
    min_ms: u64,
    max_ms: u64,
    timeout: u64,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        server: String::new(),
        pid: 0,
        replicas: Vec::new(),
        token: String::new(),
        agents: 1000,
        concurrency: "10%".to_owned(),
        min_ms: 500,
        max_ms: 3000,
        timeout: 600,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |text: &str| {
            text.parse::<u64>()
                .map_err(|_| format!("{flag}: `{text}` is not a number"))
        };
        match flag.as_str() {
            "--server" => options.server = value,
            "--pid" => options.pid = u32::try_from(number(&value)?).map_err(|e| e.to_string())?,
            "--replica" => options.replicas.push((value, 0)),
            "--replica-pid" => {
                let pid = u32::try_from(number(&value)?).map_err(|e| e.to_string())?;
                match options.replicas.last_mut() {
                    Some(replica) => replica.1 = pid,
                    None => return Err("--replica-pid follows a --replica".to_owned()),
                }
            }
            "--token" => options.token = value,
            "--agents" => options.agents = usize::try_from(number(&value)?).unwrap_or(1),
            "--concurrency" => options.concurrency = value,
            "--min-ms" => options.min_ms = number(&value)?,
            "--max-ms" => options.max_ms = number(&value)?,
            "--timeout" => options.timeout = number(&value)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.server.is_empty() || options.token.is_empty() || options.pid == 0 {
        return Err("--server, --pid and --token are required".to_owned());
    }
    if options.max_ms < options.min_ms {
        return Err("--max-ms must not be below --min-ms".to_owned());
    }
    Ok(options)
}

/// What the agents saw, together.
#[derive(Default)]
struct Tally {
    polling: AtomicU64,
    running: AtomicU64,
    most_running: AtomicU64,
    results: AtomicU64,
    errors: AtomicU64,
    /// Command ids seen, and ids seen again (or with `delivery` above 1).
    seen: Mutex<(HashSet<String>, Vec<String>)>,
    /// When the last new command arrived, in ms after the start.
    last_delivery_ms: AtomicU64,
}

/// A window on `Fleet=fanout` with one Scan task; returns its id.
fn window(admin: &Client, concurrency: &str) -> Result<String, Box<dyn std::error::Error>> {
    let window = admin.create_window(&serde_json::from_value(serde_json::json!({
        "name": "fanout-bench", "schedule": "cron(0 3 ? * SUN *)",
        "duration_hours": 4, "cutoff_hours": 1, "enabled": false}))?)?;
    let target = admin.create_window_target(
        &window.id,
        &serde_json::from_value(
            serde_json::json!({"targets": [{"key": "tag:Fleet", "values": ["fanout"]}]}),
        )?,
    )?;
    admin.create_window_task(
        &window.id,
        &serde_json::from_value(serde_json::json!({"operation": "Scan",
            "targets": [{"key": "WindowTargetIds", "values": [target.id]}],
            "max_concurrency": concurrency, "max_errors": "100%"}))?,
    )?;
    Ok(window.id)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let started = Instant::now();
    let tag = Tag {
        key: "Fleet".to_owned(),
        value: "fanout".to_owned(),
    };
    let credentials = enroll(
        &options.server,
        &options.token,
        options.agents,
        vec![tag],
        8,
    );
    println!(
        "enrolled {} agents in {:.1} s",
        credentials.len(),
        started.elapsed().as_secs_f64()
    );
    let admin = Client::new(ClientSettings::new(&options.server).with_secret(&options.token))?;
    let window_id = window(&admin, &options.concurrency)?;
    let mut addresses = vec![address(&options.server)?];
    for (replica, _) in &options.replicas {
        addresses.push(address(replica)?);
    }
    let pids: Vec<u32> = std::iter::once(options.pid)
        .chain(options.replicas.iter().map(|(_, pid)| *pid))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let origin = Arc::new(Mutex::new(None::<Instant>));
    let (min_ms, max_ms) = (options.min_ms, options.max_ms);
    let mut tasks = Vec::with_capacity(credentials.len());
    for (index, credential) in credentials.into_iter().enumerate() {
        let (tally, stop, origin) = (tally.clone(), stop.clone(), origin.clone());
        let address = addresses[index % addresses.len()];
        tasks.push(runtime.spawn(async move {
            let Some(mut stream) = connect(address, index).await else {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let mut random = (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut buffer = Vec::with_capacity(2048);
            let mut first = true;
            while !stop.load(Ordering::Relaxed) {
                let path = "/api/v1/agent/commands?wait=20";
                if send(&mut stream, "GET", path, &credential, None)
                    .await
                    .is_err()
                {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if first {
                    tally.polling.fetch_add(1, Ordering::Relaxed);
                    first = false;
                }
                let Some((200, body)) = read_response(&mut stream, &mut buffer).await else {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let Ok(response) = serde_json::from_slice::<CommandsResponse>(&buffer[body]) else {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                for command in response.commands {
                    {
                        let mut seen = tally.seen.lock().expect("tally");
                        if !seen.0.insert(command.id.clone()) || command.delivery > 1 {
                            seen.1.push(command.id.clone());
                        }
                    }
                    if let Some(at) = *origin.lock().expect("origin") {
                        tally
                            .last_delivery_ms
                            .fetch_max(at.elapsed().as_millis() as u64, Ordering::Relaxed);
                    }
                    let ack = format!("/api/v1/agent/commands/{}/ack", command.id);
                    if send(&mut stream, "POST", &ack, &credential, Some("null"))
                        .await
                        .is_err()
                        || !matches!(
                            read_response(&mut stream, &mut buffer).await,
                            Some((200, _))
                        )
                    {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    let now_running = tally.running.fetch_add(1, Ordering::Relaxed) + 1;
                    tally.most_running.fetch_max(now_running, Ordering::Relaxed);
                    random ^= random << 13;
                    random ^= random >> 7;
                    random ^= random << 17;
                    let delay = min_ms + random % (max_ms - min_ms + 1);
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    tally.running.fetch_sub(1, Ordering::Relaxed);
                    let result = format!("/api/v1/agent/commands/{}/result", command.id);
                    let sent = send(
                        &mut stream,
                        "POST",
                        &result,
                        &credential,
                        Some(r#"{"outcome":"success"}"#),
                    )
                    .await;
                    if sent.is_err()
                        || !matches!(
                            read_response(&mut stream, &mut buffer).await,
                            Some((200, _))
                        )
                    {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    tally.results.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Every agent holds a poll before the window starts.
    let ready_by = Instant::now() + Duration::from_secs(60);
    while (tally.polling.load(Ordering::Relaxed) as usize) < tasks.len()
        && Instant::now() < ready_by
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let load = fs_err::read_to_string("/proc/loadavg").unwrap_or_default();
    let rss = || -> Vec<u64> { pids.iter().map(|pid| server_memory(*pid).0).collect() };
    let idle_rss = rss();
    let start = Instant::now();
    *origin.lock().expect("origin") = Some(start);
    let execution = admin.run_window(&window_id)?;
    let deadline = start + Duration::from_secs(options.timeout);
    let mut ended = None;
    let mut peak_rss = idle_rss.clone();
    while Instant::now() < deadline {
        for (peak, now) in peak_rss.iter_mut().zip(rss()) {
            *peak = (*peak).max(now);
        }
        let status = admin.execution(&execution.id)?.status;
        if !matches!(
            status,
            ExecutionStatus::Pending | ExecutionStatus::InProgress | ExecutionStatus::Cancelling
        ) {
            ended = Some((start.elapsed(), status));
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, Ordering::Relaxed);
    let seen = tally.seen.lock().expect("tally");
    println!(
        "load average before the start: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{} invocations handed out, {} twice; {} results posted; at most {} running at once; {} agent errors",
        seen.0.len(),
        seen.1.len(),
        tally.results.load(Ordering::Relaxed),
        tally.most_running.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed)
    );
    println!(
        "last invocation handed out {:.1} s after the start",
        tally.last_delivery_ms.load(Ordering::Relaxed) as f64 / 1000.0
    );
    match ended {
        Some((after, status)) => println!(
            "execution {} {} after {:.1} s",
            execution.id,
            status.as_str(),
            after.as_secs_f64()
        ),
        None => println!(
            "execution {} did not end within {} s",
            execution.id, options.timeout
        ),
    }
    for (index, (idle, peak)) in idle_rss.iter().zip(&peak_rss).enumerate() {
        println!(
            "server {}: {} MiB before the start, at most {} MiB during it",
            index + 1,
            idle / 1024,
            peak / 1024
        );
    }
    Ok(())
}
