//! Load generator: starts the real server on `127.0.0.1:0` (SQLite in a temporary directory,
//! or `--database postgres://...`), enrolls N simulated agents over real HTTP, then drives
//! polls (`wait=0`) and compliance report uploads from T client threads for S seconds, and
//! prints sustained requests per second and latency percentiles.
//!
//! ```sh
//! cargo run --release -p pw-server --example loadgen -- --agents 2000 --seconds 20 --threads 32
//! cargo run --release -p pw-server --example loadgen -- --database postgres://postgres@127.0.0.1/test
//! ```
//!
//! Only loopback traffic; the run is bounded by `--seconds`.

#![expect(
    clippy::print_stdout,
    reason = "the results are the output of this program"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use pw_api::evaluation::{PatchJson, SummaryJson};
use pw_api::server::agent::{EnrollRequest, NodeFacts};
use pw_api::server::compliance::ComplianceReportUpload;
use pw_api::server::tokens::{CreateActivation, Role};
use pw_client::{Client, ClientSettings};
use pw_server::{AppState, ServerSettings, SystemClock};
use pw_store::{Store, StoreSettings, ids};

struct Options {
    agents: usize,
    seconds: u64,
    threads: usize,
    report_every: usize,
    database: Option<String>,
    auth_cache_seconds: u64,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        agents: 1000,
        seconds: 10,
        threads: 32,
        report_every: 100,
        database: None,
        auth_cache_seconds: 120,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |text: String| {
            text.parse::<usize>()
                .map_err(|_| format!("{flag}: `{text}` is not a number"))
        };
        match flag.as_str() {
            "--agents" => options.agents = number(value()?)?,
            "--seconds" => options.seconds = number(value()?)? as u64,
            "--threads" => options.threads = number(value()?)?.max(1),
            "--report-every" => options.report_every = number(value()?)?,
            "--database" => options.database = Some(value()?),
            "--auth-cache-seconds" => options.auth_cache_seconds = number(value()?)? as u64,
            other => {
                return Err(format!(
                    "unknown flag `{other}`; flags: --agents --seconds --threads --report-every --database --auth-cache-seconds"
                ));
            }
        }
    }
    Ok(options)
}

fn report_upload() -> ComplianceReportUpload {
    let patches: Vec<PatchJson> = (0..50)
        .map(|i| PatchJson {
            name: format!("package-{i}"),
            arch: "x86_64".to_owned(),
            state: if i < 3 { "Missing" } else { "Installed" }.to_owned(),
            installed: Some("1.0-1".to_owned()),
            target: Some("1.1-1".to_owned()),
            compliance_level: "HIGH".to_owned(),
            classification: Some("Security".to_owned()),
            severity: Some("Important".to_owned()),
            cves: vec![format!("CVE-2025-{i:04}")],
            advisories: vec![format!("ALAS2-2025-{i}")],
            reboot_suggested: false,
            reason: "rule 0".to_owned(),
            released: None,
            approved_at: None,
        })
        .collect();
    let summary = SummaryJson {
        baseline: "patchwarden-AmazonLinux2Default".to_owned(),
        evaluated_at: "2025-01-06T00:00:00Z".to_owned(),
        installed: 47,
        installed_other: 0,
        installed_rejected: 0,
        installed_pending_reboot: 0,
        not_applicable: 0,
        missing: 3,
        failed: 0,
        critical_non_compliant: 0,
        security_non_compliant: 3,
        other_non_compliant: 0,
        non_compliant_severity: Some("HIGH".to_owned()),
        status: "NON_COMPLIANT".to_owned(),
    };
    let report = pw_api::agent::OperationReport {
        operation_id: "load".to_owned(),
        operation: "Scan".to_owned(),
        started_at: "2025-01-06T00:00:00Z".to_owned(),
        ended_at: "2025-01-06T00:00:05Z".to_owned(),
        host: pw_api::agent::HostFacts {
            hostname: None,
            operating_system: "AMAZON_LINUX_2".to_owned(),
            product: "AmazonLinux2".to_owned(),
            boot_time: None,
            agent_version: "load".to_owned(),
            release: None,
        },
        patch_group: None,
        baseline: "patchwarden-AmazonLinux2Default".to_owned(),
        reboot_option: "RebootIfNeeded".to_owned(),
        install_override_list: None,
        last_no_reboot_install_time: None,
        install: None,
        reboot: None,
        notes: Vec::new(),
        release: None,
        summary,
        patches,
    };
    ComplianceReportUpload {
        command_id: None,
        execution_id: None,
        baseline_id: None,
        report,
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let schema = format!("pw_load_{}", ids::short_id("").to_lowercase());
    let settings = match &options.database {
        Some(url) => StoreSettings {
            url: url.clone(),
            max_connections: Some(16),
            schema: Some(schema.clone()),
        },
        None => StoreSettings::sqlite(&dir.path().join("load.db")),
    };
    let (url, admin, stop, server) = runtime.block_on(async {
        let store = Store::connect(&settings).await?;
        let admin = pw_server::create_token(&store, Role::Admin, None, jiff::Timestamp::now())
            .await?
            .token;
        let server_settings = ServerSettings {
            auth_cache_ttl: Duration::from_secs(options.auth_cache_seconds),
            ..ServerSettings::default()
        };
        let state = AppState::new(store, Arc::new(SystemClock), server_settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(pw_server::serve(state, listener, None, async move {
            let _ = stopped.await;
        }));
        Ok::<_, Box<dyn std::error::Error>>((url, admin, stop, server))
    })?;
    let admin_client = Client::new(ClientSettings::new(&url).with_secret(admin))?;
    let code = admin_client
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: Some(2),
            max_uses: Some(u32::try_from(options.agents)?),
            description: Some("load generator".to_owned()),
            tags: Vec::new(),
        })?
        .code;

    let started = Instant::now();
    let mut credentials = Vec::with_capacity(options.agents);
    std::thread::scope(|scope| -> Result<(), String> {
        let chunks: Vec<Vec<usize>> = (0..options.threads)
            .map(|t| (t..options.agents).step_by(options.threads).collect())
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (url, code) = (url.clone(), code.clone());
                scope.spawn(move || -> Result<Vec<String>, String> {
                    let client =
                        Client::new(ClientSettings::new(&url)).map_err(|e| e.to_string())?;
                    chunk
                        .into_iter()
                        .map(|i| {
                            let facts = NodeFacts {
                                hostname: format!("load-{i:06}"),
                                operating_system: "AMAZON_LINUX_2".to_owned(),
                                product: "AmazonLinux2".to_owned(),
                                agent_version: "load".to_owned(),
                                arch: Some("x86_64".to_owned()),
                                machine_id: None,
                            };
                            client
                                .enroll(&EnrollRequest {
                                    activation_code: code.clone(),
                                    facts,
                                    tags: Vec::new(),
                                })
                                .map(|enrolled| enrolled.credential)
                                .map_err(|e| e.to_string())
                        })
                        .collect()
                })
            })
            .collect();
        for handle in handles {
            credentials.extend(
                handle
                    .join()
                    .map_err(|_| "an enrolling thread panicked".to_owned())??,
            );
        }
        Ok(())
    })?;
    println!(
        "enrolled {} agents in {:.1} s",
        credentials.len(),
        started.elapsed().as_secs_f64()
    );

    let report = report_upload();
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let results: Vec<(Vec<u32>, Vec<u32>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..options.threads)
            .map(|t| {
                let mine: Vec<String> = credentials
                    .iter()
                    .skip(t)
                    .step_by(options.threads)
                    .cloned()
                    .collect();
                let (url, report) = (url.clone(), &report);
                let report_every = options.report_every;
                scope.spawn(move || {
                    let base = Client::new(ClientSettings::new(&url)).expect("the URL is valid");
                    let clients: Vec<Client> = mine
                        .iter()
                        .map(|credential| base.with_secret(credential))
                        .collect();
                    let (mut polls, mut reports, mut errors) = (Vec::new(), Vec::new(), 0usize);
                    let mut n = 0usize;
                    while Instant::now() < deadline && !clients.is_empty() {
                        let client = &clients[n % clients.len()];
                        n += 1;
                        let begun = Instant::now();
                        let is_report = report_every > 0 && n.is_multiple_of(report_every);
                        let outcome = if is_report {
                            client.post_report(report).map(|_| ())
                        } else {
                            client.poll_commands(Duration::ZERO).map(|_| ())
                        };
                        let micros = u32::try_from(begun.elapsed().as_micros()).unwrap_or(u32::MAX);
                        match (outcome, is_report) {
                            (Ok(()), false) => polls.push(micros),
                            (Ok(()), true) => reports.push(micros),
                            (Err(_), _) => errors += 1,
                        }
                    }
                    (polls, reports, errors)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a load thread panicked"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut polls: Vec<u32> = results
        .iter()
        .flat_map(|(p, _, _)| p.iter().copied())
        .collect();
    let mut reports: Vec<u32> = results
        .iter()
        .flat_map(|(_, r, _)| r.iter().copied())
        .collect();
    let errors: usize = results.iter().map(|(_, _, e)| e).sum();
    polls.sort_unstable();
    reports.sort_unstable();
    let backend = if options.database.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    println!(
        "{backend}: {} agents, {} threads, {:.0} s: {:.0} polls/s (p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms), {:.0} reports/s (p50 {:.2} ms, p99 {:.2} ms), {errors} errors",
        options.agents,
        options.threads,
        elapsed,
        polls.len() as f64 / elapsed,
        percentile(&polls, 0.5),
        percentile(&polls, 0.99),
        percentile(&polls, 0.999),
        reports.len() as f64 / elapsed,
        percentile(&reports, 0.5),
        percentile(&reports, 0.99),
    );
    let _ = stop.send(());
    runtime.block_on(async {
        let _ = server.await;
        if options.database.is_some() {
            let store = Store::connect(&settings).await?;
            store.drop_schema(&schema).await?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
