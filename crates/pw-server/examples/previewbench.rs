//! Preview benchmark: N nodes with uploaded inventories (an Amazon Linux 2-sized host each:
//! 400 installed packages, the compact catalog of their repositories), then previews of the
//! whole fleet through the server's router in-process: in one request with every patch
//! listed, in one request with Missing and Failed only, and as `plan`'s impact asks (Missing
//! and Failed, pages of 500 nodes). Prints the time, the responses' size and the process's
//! peak memory (server and client: the client parses each response) during each; on SQLite,
//! or `--database postgres://...`.
//!
//! ```sh
//! cargo run --release -p pw-server --example previewbench -- --nodes 10000
//! ```
//!
//! The inventories are deterministic. Node k has 380 packages every node has and 20 of its
//! own from a pool of 600; each at one of the first three of its five available releases.
//! A third of the names have an advisory per later release (security, Important or
//! Critical, one CVE each), so a node misses a few dozen patches.

#![expect(
    clippy::print_stdout,
    reason = "the results are the output of this program"
)]

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use jiff::{SignedDuration, Timestamp};
use pw_api::server::agent::{
    AdvisoryJson, AdvisoryPackageJson, AvailablePackageJson, CatalogJson, InstalledPackageJson,
    InventoryUpload, NodeFacts as WireFacts, PreviewRequest, PreviewResponse, ReferenceJson,
};
use pw_api::server::tokens::Role;
use pw_api::server::windows::TargetFilter;
use pw_server::{AppState, ServerSettings, SystemClock};
use pw_store::{ActivationRecord, InventoryRecord, NodeFacts, Store, StoreSettings, ids};
use tower::ServiceExt as _;

struct Options {
    nodes: usize,
    database: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        nodes: 10_000,
        database: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--nodes" => {
                let text = value()?;
                options.nodes = text
                    .parse::<usize>()
                    .map_err(|_| format!("--nodes: `{text}` is not a number"))?
                    .max(1);
            }
            "--database" => options.database = Some(value()?),
            other => return Err(format!("unknown flag `{other}`; flags: --nodes --database")),
        }
    }
    Ok(options)
}

/// The names node `k` has installed: 380 shared, 20 of its own.
fn installed_names(k: usize) -> impl Iterator<Item = usize> {
    (0..380).chain((0..20).map(move |j| 380 + (k * 7 + j * 31) % 600))
}

fn inventory(k: usize, now: Timestamp) -> InventoryUpload {
    let day = 86_400;
    let base = now.as_second() - 400 * day;
    let mut packages = Vec::new();
    let mut available = Vec::new();
    let mut advisories = Vec::new();
    for n in installed_names(k) {
        let name = format!("pkg-{n:04}");
        packages.push(InstalledPackageJson {
            name: name.clone(),
            epoch: 0,
            version: "1.0".to_owned(),
            release: format!("{}.amzn2", 1 + (k + n) % 3),
            arch: "x86_64".to_owned(),
            install_time: None,
        });
        for release in 1..=5_i64 {
            let built = base + (release * 60 + n as i64 % 60) * day;
            available.push(AvailablePackageJson {
                name: name.clone(),
                epoch: 0,
                version: "1.0".to_owned(),
                release: format!("{release}.amzn2"),
                arch: "x86_64".to_owned(),
                build_time: Some(built),
            });
            if n % 3 == 0 && release > 1 {
                let issued = Timestamp::from_second(built).ok();
                advisories.push(AdvisoryJson {
                    id: format!("ALAS2-2025-{n:04}-{release}"),
                    kind: "security".to_owned(),
                    severity: Some(if n % 2 == 0 { "Critical" } else { "Important" }.to_owned()),
                    issued,
                    updated: issued,
                    reboot_suggested: false,
                    references: vec![ReferenceJson {
                        kind: "cve".to_owned(),
                        id: format!("CVE-2025-{n:04}{release}"),
                    }],
                    packages: vec![AdvisoryPackageJson {
                        name: name.clone(),
                        epoch: 0,
                        version: "1.0".to_owned(),
                        release: format!("{release}.amzn2"),
                        arch: "x86_64".to_owned(),
                        reboot_suggested: false,
                    }],
                });
            }
        }
    }
    InventoryUpload {
        captured_at: now,
        facts: WireFacts {
            hostname: format!("host-{k:05}"),
            operating_system: "AMAZON_LINUX_2".to_owned(),
            product: "AmazonLinux2".to_owned(),
            agent_version: "1.0.0".to_owned(),
            arch: Some("x86_64".to_owned()),
            machine_id: None,
        },
        packages,
        pending_reboot: Vec::new(),
        last_boot_at: None,
        catalog: Some(CatalogJson {
            packages: available,
            advisories,
        }),
        apt: None,
    }
}

async fn seed(
    store: &Store,
    nodes: usize,
    now: Timestamp,
) -> Result<usize, Box<dyn std::error::Error>> {
    let code = ids::secret("pwa_");
    store
        .create_activation(
            &ActivationRecord {
                id: ids::short_id("act-"),
                description: None,
                tags: Vec::new(),
                expires_at: now.checked_add(SignedDuration::from_hours(1))?,
                max_uses: i64::try_from(nodes)?,
                uses: 0,
                created_at: now,
                allow_node_tags: true,
            },
            &ids::hash_secret(&code),
        )
        .await?;
    let mut bytes = 0;
    for k in 0..nodes {
        let id = ids::short_id("mi-");
        let facts = NodeFacts {
            hostname: format!("host-{k:05}"),
            operating_system: "AMAZON_LINUX_2".to_owned(),
            product: "AmazonLinux2".to_owned(),
            agent_version: "1.0.0".to_owned(),
            arch: Some("x86_64".to_owned()),
            machine_id: None,
        };
        store
            .enroll_node(
                &ids::hash_secret(&code),
                &id,
                &ids::hash_secret(&ids::secret("pwn_")),
                &facts,
                &[
                    ("Patch Group".to_owned(), format!("group-{:02}", k % 20)),
                    ("Fleet".to_owned(), "bench".to_owned()),
                ],
                now,
            )
            .await?
            .map_err(|refusal| format!("enrollment refused: {refusal:?}"))?;
        let json = serde_json::to_string(&inventory(k, now))?;
        bytes += json.len();
        store
            .put_inventory(
                &InventoryRecord {
                    node_id: id,
                    captured_at: now,
                    uploaded_at: now,
                    inventory_json: json,
                },
                &facts,
            )
            .await?;
    }
    Ok(bytes)
}

/// A memory figure of this process in MiB, from `/proc/self/status`: `VmRSS` (now) or
/// `VmHWM` (the peak since the last `reset_peak`).
fn memory_mib(field: &str) -> f64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Starts a new peak: the kernel's high-water mark of resident memory goes back to now.
fn reset_peak() {
    let _ = fs_err::write("/proc/self/clear_refs", "5");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let schema = format!("pw_preview_{}", ids::short_id("").to_lowercase());
    let settings = match &options.database {
        Some(url) => StoreSettings {
            url: url.clone(),
            max_connections: Some(16),
            schema: Some(schema.clone()),
        },
        None => StoreSettings::sqlite(&dir.path().join("preview.db")),
    };
    runtime.block_on(async {
        let store = Store::connect(&settings).await?;
        let now = Timestamp::now();
        let token = pw_server::create_token(&store, Role::ReadOnly, None, now)
            .await?
            .token;
        let started = Instant::now();
        let bytes = seed(&store, options.nodes, now).await?;
        println!(
            "seeded {} nodes with inventories in {:.1} s: {:.0} KB of inventory JSON per node",
            options.nodes,
            started.elapsed().as_secs_f64(),
            bytes as f64 / options.nodes as f64 / 1e3
        );
        store.optimize().await?;
        let state = AppState::new(store, Arc::new(SystemClock), ServerSettings::default());
        let fleet = vec![TargetFilter {
            key: "tag:Fleet".to_owned(),
            values: vec!["bench".to_owned()],
        }];
        let request = |states: &[&str], limit: Option<u32>| PreviewRequest {
            baseline_id: None,
            node_ids: Vec::new(),
            targets: fleet.clone(),
            at: Some(now),
            include_not_applicable: false,
            states: states.iter().map(|s| (*s).to_owned()).collect(),
            limit,
            after: None,
        };
        // Smallest first: the allocator keeps what a case freed, so a case's peak starts
        // from the RSS the one before left.
        let cases = [
            (
                "plan's impact: Missing and Failed, pages of 500 nodes",
                request(&["Missing", "Failed"], Some(500)),
            ),
            (
                "every node, Missing and Failed listed, one request",
                request(&["Missing", "Failed"], None),
            ),
            (
                "every node, every patch listed, one request",
                request(&[], None),
            ),
        ];
        println!(
            "backend: {}; {} nodes",
            if options.database.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            },
            options.nodes
        );
        println!(
            "| preview | requests | time s | response MB | RSS before MiB | peak during MiB | nodes evaluated | patches listed |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (name, mut request) in cases {
            let before = memory_mib("VmRSS");
            reset_peak();
            let started = Instant::now();
            let (mut requests, mut bytes, mut evaluated, mut listed) = (0, 0, 0, 0);
            loop {
                let response = pw_server::router(state.clone())
                    .oneshot(
                        Request::builder()
                            .method("POST")
                            .uri("/api/v1/preview")
                            .header("authorization", format!("Bearer {token}"))
                            .header("content-type", "application/json")
                            .body(Body::from(serde_json::to_vec(&request)?))?,
                    )
                    .await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                if !status.is_success() {
                    return Err(
                        format!("{name}: {status}: {}", String::from_utf8_lossy(&body)).into(),
                    );
                }
                requests += 1;
                bytes += body.len();
                let parsed: PreviewResponse = serde_json::from_slice(&body)?;
                drop(body);
                evaluated += parsed
                    .nodes
                    .iter()
                    .filter(|n| n.evaluation.is_some())
                    .count();
                listed += parsed
                    .nodes
                    .iter()
                    .filter_map(|n| n.evaluation.as_ref())
                    .map(|e| e.patches.len())
                    .sum::<usize>();
                match parsed.next {
                    Some(next) => request.after = Some(next),
                    None => break,
                }
            }
            let elapsed = started.elapsed().as_secs_f64();
            println!(
                "| {name} | {requests} | {elapsed:.1} | {:.1} | {before:.0} | {:.0} | {evaluated} | {listed} |",
                bytes as f64 / 1e6,
                memory_mib("VmHWM")
            );
        }
        if options.database.is_some() {
            state.store().drop_schema(&schema).await?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
