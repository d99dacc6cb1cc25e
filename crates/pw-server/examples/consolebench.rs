//! Console benchmark: seeds a store with a generated fleet (N nodes in G patch groups, each
//! with a latest report of I patch items and D days of history before it), then measures the
//! server time of the console's pages (the router called in-process, as the listener calls
//! it) and their weight gzipped, on SQLite or `--database postgres://...`.
//!
//! ```sh
//! cargo run --release -p pw-server --example consolebench -- --nodes 10000 --items 1000 --days 90
//! cargo run --release -p pw-server --example consolebench -- --database postgres://postgres@127.0.0.1/test
//! ```
//!
//! The fleet is deterministic: node k is in group k % G; 1% never reported, 2% report stale,
//! 3% failed, 5% wait for a reboot, 40% miss patches. Items: 30% carry an advisory and a CVE
//! from a pool of 2,000 (so a CVE is on ~15% of nodes), the rest none.

#![expect(
    clippy::print_stdout,
    reason = "the results are the output of this program"
)]

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use jiff::{SignedDuration, Timestamp};
use pw_api::server::tokens::Role;
use pw_server::{AppState, ServerSettings, SystemClock};
use pw_store::{
    ActivationRecord, ComplianceCounts, NewReport, NodeFacts, Store, StoreSettings, ids,
};
use tower::ServiceExt as _;

struct Options {
    nodes: usize,
    items: usize,
    days: usize,
    groups: usize,
    samples: usize,
    database: Option<String>,
    keep: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        nodes: 10_000,
        items: 1_000,
        days: 90,
        groups: 20,
        samples: 30,
        database: None,
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |text: String| {
            text.parse::<usize>()
                .map_err(|_| format!("{flag}: `{text}` is not a number"))
        };
        match flag.as_str() {
            "--nodes" => options.nodes = number(value()?)?.max(1),
            "--items" => options.items = number(value()?)?,
            "--days" => options.days = number(value()?)?.max(1),
            "--groups" => options.groups = number(value()?)?.max(1),
            "--samples" => options.samples = number(value()?)?.max(1),
            "--database" => options.database = Some(value()?),
            "--keep" => options.keep = true,
            other => {
                return Err(format!(
                    "unknown flag `{other}`; flags: --nodes --items --days --groups --samples --database --keep"
                ));
            }
        }
    }
    Ok(options)
}

/// Reports written at once while seeding.
const WRITERS: usize = 4;

/// What node `k` looks like in the latest report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Never,
    Stale,
    Failed,
    Reboot,
    Missing,
    Fine,
}

fn shape(k: usize) -> Shape {
    match k % 100 {
        0 => Shape::Never,
        1..=2 => Shape::Stale,
        3..=5 => Shape::Failed,
        6..=10 => Shape::Reboot,
        11..=50 => Shape::Missing,
        _ => Shape::Fine,
    }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The items of node `k`'s report in `week`, as the server stores them, and their counts.
/// Each week (the node's patch day) 40 of the 1,000 items move to new versions.
fn items(k: usize, count: usize, week: usize) -> (String, ComplianceCounts) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (k as u64 + 1));
    let mut counts = ComplianceCounts::default();
    let mut out = String::with_capacity(count * 240);
    out.push('[');
    for i in 0..count {
        let security = rng.below(10) < 3;
        let state = match (shape(k), i) {
            (Shape::Failed, 0) => "Failed",
            (Shape::Reboot, 0) => "InstalledPendingReboot",
            (Shape::Missing | Shape::Failed, 1..=4) => "Missing",
            _ if rng.below(4) == 0 => "NotApplicable",
            _ => "Installed",
        };
        match state {
            "Failed" => counts.failed += 1,
            "InstalledPendingReboot" => counts.installed_pending_reboot += 1,
            "Missing" => counts.missing += 1,
            "NotApplicable" => counts.not_applicable += 1,
            _ => counts.installed += 1,
        }
        let (classification, severity, cves, advisories) = if security {
            let cve = rng.below(2_000);
            (
                "\"Security\"",
                "\"Important\"",
                format!("[\"CVE-2025-{cve:05}\"]"),
                format!("[\"ALAS2-2025-{cve:05}\"]"),
            )
        } else {
            ("\"Bugfix\"", "null", "[]".to_owned(), "[]".to_owned())
        };
        if i > 0 {
            out.push(',');
        }
        // A week moves 1 in 25 items to their next release.
        let release = 1 + (week + i % 25) / 25;
        out.push_str(&format!(
            "{{\"name\":\"package-{i:04}\",\"arch\":\"x86_64\",\"state\":\"{state}\",\"installed\":\"1.{i}-{release}.amzn2\",\
             \"target\":\"1.{i}-{}.amzn2\",\"compliance_level\":\"HIGH\",\"classification\":{classification},\
             \"severity\":{severity},\"cves\":{cves},\"advisories\":{advisories},\"reboot_suggested\":false,\
             \"reason\":\"approved by rule 1 (Security, Critical, Important) 7 days after release\"}}",
            release + 1
        ));
    }
    out.push(']');
    counts.critical_non_compliant = counts.missing + counts.failed;
    counts.security_non_compliant = counts.missing + counts.failed;
    (out, counts)
}

fn report(
    node: &str,
    group: &str,
    at: Timestamp,
    items: String,
    counts: ComplianceCounts,
) -> NewReport {
    let bad = counts.missing + counts.failed + counts.installed_pending_reboot > 0;
    let reboot_why = (counts.installed_pending_reboot > 0)
        .then(|| "installed without a reboot: kernel.x86_64".to_owned());
    NewReport {
        node_id: node.to_owned(),
        reported_at: at,
        operation: "Scan".to_owned(),
        baseline_id: Some("patchwarden-AmazonLinux2Default".to_owned()),
        patch_group: Some(group.to_owned()),
        execution_id: None,
        command_id: None,
        operation_start: Some(at),
        operation_end: Some(at),
        evaluated_at: Some(at),
        status: if bad { "NON_COMPLIANT" } else { "COMPLIANT" }.to_owned(),
        non_compliant_severity: (counts.missing + counts.failed > 0).then(|| "CRITICAL".to_owned()),
        items_json: items,
        // As the server keeps an upload: the patches left out (they are the items).
        report_json: serde_json::json!({
            "operation_id": format!("op-{node}-{}", at.as_second()),
            "operation": "Scan",
            "started_at": at.to_string(),
            "ended_at": at.to_string(),
            "host": {"hostname": node, "operating_system": "AMAZON_LINUX_2",
                     "product": "AmazonLinux2", "agent_version": "1.0.0"},
            "patch_group": group,
            "baseline": "patchwarden-AmazonLinux2Default",
            "reboot_option": "RebootIfNeeded",
            "notes": [],
            "summary": {
                "baseline": "patchwarden-AmazonLinux2Default", "evaluated_at": at.to_string(),
                "installed": counts.installed, "installed_other": 0, "installed_rejected": 0,
                "installed_pending_reboot": counts.installed_pending_reboot,
                "not_applicable": counts.not_applicable, "missing": counts.missing,
                "failed": counts.failed, "critical_non_compliant": counts.critical_non_compliant,
                "security_non_compliant": counts.security_non_compliant,
                "other_non_compliant": 0,
                "non_compliant_severity": null,
                "status": if bad { "NON_COMPLIANT" } else { "COMPLIANT" },
            },
            "patches": [],
        })
        .to_string(),
        release: None,
        counts,
        reboot_why,
        installs: Vec::new(),
    }
}

async fn seed(
    store: &Store,
    options: &Options,
    now: Timestamp,
) -> Result<Seeded, Box<dyn std::error::Error>> {
    let code = ids::secret("pwa_");
    store
        .create_activation(
            &ActivationRecord {
                id: ids::short_id("act-"),
                description: None,
                tags: Vec::new(),
                expires_at: now.checked_add(SignedDuration::from_hours(1))?,
                max_uses: i64::try_from(options.nodes)?,
                uses: 0,
                created_at: now,
                allow_node_tags: true,
            },
            &ids::hash_secret(&code),
        )
        .await?;
    let mut nodes = Vec::with_capacity(options.nodes);
    for k in 0..options.nodes {
        let id = ids::short_id("mi-");
        let group = format!("group-{:02}", k % options.groups);
        store
            .enroll_node(
                &ids::hash_secret(&code),
                &id,
                &ids::hash_secret(&ids::secret("pwn_")),
                &NodeFacts {
                    hostname: format!("host-{k:05}"),
                    operating_system: "AMAZON_LINUX_2".to_owned(),
                    product: "AmazonLinux2".to_owned(),
                    agent_version: "1.0.0".to_owned(),
                    arch: Some("x86_64".to_owned()),
                    machine_id: None,
                },
                &[("Patch Group".to_owned(), group)],
                now,
            )
            .await?
            .map_err(|refusal| format!("enrollment refused: {refusal:?}"))?;
        nodes.push(id);
    }
    // One report a day before the latest, each with its items, as agents upload them. A
    // node's items change on its patch day (once a week, k % 7); on the other days they
    // repeat the day before's.
    // Four writers at once, as a server's requests come: the hashing and compression run
    // beside another report's transaction.
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let nodes = nodes.clone();
        let done = Arc::clone(&done);
        let (count, days, groups) = (options.items, options.days, options.groups);
        writers.spawn(async move {
            let mut uploaded = 0_usize;
            for (k, id) in nodes.iter().enumerate().skip(w).step_by(WRITERS) {
                if shape(k) == Shape::Never {
                    continue;
                }
                let group = format!("group-{:02}", k % groups);
                let mut week_items: Option<(usize, String, ComplianceCounts)> = None;
                for day in (1..days).rev() {
                    let at = now
                        .checked_sub(SignedDuration::from_hours(24 * day as i64))
                        .map_err(|e| e.to_string())?;
                    let week = (days - day + k % 7) / 7;
                    let (items_json, counts) = match week_items.take() {
                        Some((w, items_json, counts)) if w == week => (items_json, counts),
                        _ => items(k, count, week),
                    };
                    uploaded += items_json.len();
                    let mut new = report(id, &group, at, items_json, counts.clone());
                    store.append_report(&new).await.map_err(|e| e.to_string())?;
                    week_items = Some((week, std::mem::take(&mut new.items_json), counts));
                }
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if n.is_multiple_of(1000) {
                    println!(
                        "  history of {n} nodes in {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            Ok::<_, String>(uploaded)
        });
    }
    let mut uploaded = 0_usize;
    while let Some(result) = writers.join_next().await {
        uploaded += result??;
    }
    let history = started.elapsed();
    let started = Instant::now();
    for (k, id) in nodes.iter().enumerate() {
        let at = match shape(k) {
            Shape::Never => continue,
            Shape::Stale => now.checked_sub(SignedDuration::from_hours(24 * 5))?,
            _ => now.checked_sub(SignedDuration::from_hours(3))?,
        };
        let group = format!("group-{:02}", k % options.groups);
        let (items_json, counts) = items(k, options.items, (options.days + k % 7) / 7);
        uploaded += items_json.len();
        store
            .append_report(&report(id, &group, at, items_json, counts))
            .await?;
    }
    println!(
        "seeded {} nodes: {} days of history in {:.1} s, latest reports of {} items in {:.1} s",
        options.nodes,
        options.days,
        history.as_secs_f64(),
        options.items,
        started.elapsed().as_secs_f64()
    );
    Ok(Seeded { nodes, uploaded })
}

/// The seeded fleet: node ids, and the bytes of items uploaded.
struct Seeded {
    nodes: Vec<String>,
    uploaded: usize,
}

/// GETs `path` with a console session cookie (`pw_session=...`) or an API token (`pwt_...`).
async fn get(
    state: &AppState,
    path: &str,
    credential: &str,
) -> Result<(u16, Vec<u8>), Box<dyn std::error::Error>> {
    let (header, value) = if credential.starts_with("pwt_") {
        ("authorization", format!("Bearer {credential}"))
    } else {
        ("cookie", credential.to_owned())
    };
    let request = Request::builder()
        .uri(path)
        .header(header, value)
        .body(Body::empty())?;
    let response = pw_server::router(state.clone()).oneshot(request).await?;
    let status = response.status().as_u16();
    Ok((
        status,
        response.into_body().collect().await?.to_bytes().to_vec(),
    ))
}

async fn sign_in(state: &AppState, token: &str) -> Result<String, Box<dyn std::error::Error>> {
    let login = pw_server::router(state.clone())
        .oneshot(Request::builder().uri("/login").body(Body::empty())?)
        .await?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("no login cookie")?
        .to_owned();
    let form = cookie.trim_start_matches("pw_login=").to_owned();
    let response = pw_server::router(state.clone())
        .oneshot(
            Request::builder()
                .method("POST")
                .uri("/login")
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!("form={form}&token={token}")))?,
        )
        .await?;
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pw_session="))
        .and_then(|v| v.split(';').next())
        .ok_or("sign-in failed")?
        .to_owned();
    Ok(session)
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().map_or(0, |v| v.len())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let schema = format!("pw_console_{}", ids::short_id("").to_lowercase());
    let settings = match &options.database {
        Some(url) => StoreSettings {
            url: url.clone(),
            max_connections: Some(16),
            schema: Some(schema.clone()),
        },
        None => StoreSettings::sqlite(&dir.path().join("console.db")),
    };
    runtime.block_on(async {
        let store = Store::connect(&settings).await?;
        let now = Timestamp::now();
        let token = pw_server::create_token(&store, Role::ReadOnly, None, now)
            .await?
            .token;
        let seeded = seed(&store, &options, now).await?;
        let nodes = &seeded.nodes;
        store.optimize().await?;
        let footprint = store.history_footprint().await?;
        let size = store.size_bytes().await?;
        let node_days = (options.nodes * options.days) as f64;
        println!(
            "history: {} reports, {} distinct item sets; items uploaded {:.1} MB, stored {:.1} MB \
             (zstd of {:.1} MB); history's tables {:.1} MB: {:.2} KB per node per day \
             (items as uploaded: {:.1} KB per node per day); the whole store {:.1} MB",
            footprint.reports,
            footprint.item_sets,
            seeded.uploaded as f64 / 1e6,
            footprint.items_stored_bytes as f64 / 1e6,
            footprint.items_raw_bytes as f64 / 1e6,
            footprint.table_bytes as f64 / 1e6,
            footprint.table_bytes as f64 / node_days / 1e3,
            seeded.uploaded as f64 / node_days / 1e3,
            size as f64 / 1e6,
        );
        let past_report = store
            .node_history(&nodes[11], None, None, 100)
            .await?
            .get(30)
            .map_or(0, |r| r.id);
        let state = AppState::new(store, Arc::new(SystemClock), ServerSettings::default());
        let cookie = sign_in(&state, &token).await?;
        let assets = {
            let (_, css) = get(&state, "/assets/console.css", "").await?;
            let (_, js) = get(&state, "/assets/htmx-2.0.11.min.js", "").await?;
            gzip_len(&css) + gzip_len(&js)
        };
        let pages = [
            ("overview", "/".to_owned()),
            (
                "nodes, state filter",
                "/nodes?state=non_compliant".to_owned(),
            ),
            (
                "nodes, group and severity",
                "/nodes?patch_group=group-03&severity=CRITICAL".to_owned(),
            ),
            (
                "node (latest report, history)",
                format!("/nodes/{}", nodes[11]),
            ),
            ("CVE view", "/patches?id=CVE-2025-00042".to_owned()),
            (
                "CVE view, missing only",
                "/patches?id=CVE-2025-00042&state=Missing".to_owned(),
            ),
            ("API: fleet summary", "/api/v1/fleet".to_owned()),
            (
                "API: summary by patch group",
                "/api/v1/compliance/patch-groups".to_owned(),
            ),
            (
                "API: a node's patches (1,000)",
                format!("/api/v1/compliance/nodes/{}", nodes[11]),
            ),
            (
                "API: a node's history (90 reports)",
                format!("/api/v1/compliance/nodes/{}/history", nodes[11]),
            ),
            (
                "API: a past report's patches",
                format!("/api/v1/compliance/reports/{past_report}"),
            ),
        ];
        println!(
            "backend: {}; {} nodes, {} items each, {} days of history; {} samples per page",
            if options.database.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            },
            options.nodes,
            options.items,
            options.days,
            options.samples
        );
        println!("| page | p50 ms | p95 ms | HTML KB | gzip KB (with CSS and JS) |");
        println!("|---|---|---|---|---|");
        for (name, path) in pages {
            let mut times = Vec::with_capacity(options.samples);
            let mut body = Vec::new();
            let credential = if path.starts_with("/api/") {
                &token
            } else {
                &cookie
            };
            for _ in 0..options.samples {
                let started = Instant::now();
                let (status, bytes) = get(&state, &path, credential).await?;
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                if status != 200 {
                    return Err(format!("{path}: {status}").into());
                }
                body = bytes;
            }
            times.sort_by(f64::total_cmp);
            println!(
                "| {name} | {:.1} | {:.1} | {:.0} | {:.1} |",
                percentile(&times, 0.5),
                percentile(&times, 0.95),
                body.len() as f64 / 1024.0,
                (gzip_len(&body) + assets) as f64 / 1024.0
            );
        }
        // Retention at its steady state: the hourly pass drops a day of reports.
        let before = now.checked_sub(SignedDuration::from_hours(24 * (options.days as i64 - 1) - 1))?;
        let started = Instant::now();
        let pruned = state.store().prune_reports(before).await?;
        let footprint = state.store().history_footprint().await?;
        println!(
            "retention: pruned the oldest day ({pruned} reports) in {:.2} s; {} distinct item sets left",
            started.elapsed().as_secs_f64(),
            footprint.item_sets
        );
        if options.keep {
            println!(
                "kept: schema {schema} (PostgreSQL) or {} (SQLite)",
                dir.path().display()
            );
            std::mem::forget(dir);
        } else if options.database.is_some() {
            state.store().drop_schema(&schema).await?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
