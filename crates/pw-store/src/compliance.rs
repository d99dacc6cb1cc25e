//! Compliance history: one row per report, appended, never overwritten. Each node points
//! at its latest report; retention prunes old rows but never a node's latest.

use jiff::Timestamp;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{
    ComplianceCounts, NewReport, NodeRecord, ReportRecord, Store, StoreError, found, get_i64,
    get_opt_str, get_opt_ts, get_str, get_ts, opt_micros, to_micros,
};

const REPORT_COLUMNS: &str = "r.id, r.node_id, r.reported_at, r.operation, r.baseline_id, r.patch_group, r.execution_id, \
     r.command_id, r.operation_start, r.operation_end, r.evaluated_at, r.status, r.installed, r.installed_other, \
     r.installed_rejected, r.installed_pending_reboot, r.not_applicable, r.missing, r.failed, r.critical_non_compliant, \
     r.security_non_compliant, r.other_non_compliant, r.non_compliant_severity, r.release";

fn report_from_row(row: &AnyRow) -> Result<ReportRecord, StoreError> {
    Ok(ReportRecord {
        id: get_i64(row, "id")?,
        node_id: get_str(row, "node_id")?,
        reported_at: get_ts(row, "reported_at")?,
        operation: get_str(row, "operation")?,
        baseline_id: get_opt_str(row, "baseline_id")?,
        patch_group: get_opt_str(row, "patch_group")?,
        execution_id: get_opt_str(row, "execution_id")?,
        command_id: get_opt_str(row, "command_id")?,
        operation_start: get_opt_ts(row, "operation_start")?,
        operation_end: get_opt_ts(row, "operation_end")?,
        evaluated_at: get_opt_ts(row, "evaluated_at")?,
        status: get_str(row, "status")?,
        counts: ComplianceCounts {
            installed: get_i64(row, "installed")?,
            installed_other: get_i64(row, "installed_other")?,
            installed_rejected: get_i64(row, "installed_rejected")?,
            installed_pending_reboot: get_i64(row, "installed_pending_reboot")?,
            not_applicable: get_i64(row, "not_applicable")?,
            missing: get_i64(row, "missing")?,
            failed: get_i64(row, "failed")?,
            critical_non_compliant: get_i64(row, "critical_non_compliant")?,
            security_non_compliant: get_i64(row, "security_non_compliant")?,
            other_non_compliant: get_i64(row, "other_non_compliant")?,
        },
        non_compliant_severity: get_opt_str(row, "non_compliant_severity")?,
        release: get_opt_str(row, "release")?,
    })
}

impl Store {
    /// Appends a report and makes it the node's latest. Returns its id.
    pub async fn append_report(&self, report: &NewReport) -> Result<i64, StoreError> {
        let digest = crate::ids::hex(&Sha256::digest(report.items_json.as_bytes()));
        let report_zstd = compress(&report.report_json)?;
        let mut tx = self.begin_write().await?;
        let previous: Option<Option<String>> = sqlx::query_scalar(
            "SELECT r.items_digest FROM nodes n LEFT JOIN compliance_reports r ON r.id = n.latest_report_id \
             WHERE n.id = $1",
        )
        .bind(report.node_id.as_str())
        .fetch_optional(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        let unchanged = previous.flatten().as_deref() == Some(digest.as_str());
        store_items(&mut tx, &digest, &report.items_json, report.reported_at).await?;
        let counts = &report.counts;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO compliance_reports (node_id, reported_at, operation, baseline_id, patch_group, execution_id, \
             command_id, operation_start, operation_end, evaluated_at, status, installed, installed_other, installed_rejected, \
             installed_pending_reboot, not_applicable, missing, failed, critical_non_compliant, security_non_compliant, \
             other_non_compliant, non_compliant_severity, items_json, report_json, release, items_digest, report_zstd) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, '', '', $23, \
             $24, $25) \
             RETURNING id",
        )
        .bind(report.node_id.as_str())
        .bind(to_micros(report.reported_at))
        .bind(report.operation.as_str())
        .bind(report.baseline_id.as_deref())
        .bind(report.patch_group.as_deref())
        .bind(report.execution_id.as_deref())
        .bind(report.command_id.as_deref())
        .bind(opt_micros(report.operation_start))
        .bind(opt_micros(report.operation_end))
        .bind(opt_micros(report.evaluated_at))
        .bind(report.status.as_str())
        .bind(counts.installed)
        .bind(counts.installed_other)
        .bind(counts.installed_rejected)
        .bind(counts.installed_pending_reboot)
        .bind(counts.not_applicable)
        .bind(counts.missing)
        .bind(counts.failed)
        .bind(counts.critical_non_compliant)
        .bind(counts.security_non_compliant)
        .bind(counts.other_non_compliant)
        .bind(report.non_compliant_severity.as_deref())
        .bind(report.release.as_deref())
        .bind(digest.as_str())
        .bind(report_zstd)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        let updated = sqlx::query("UPDATE nodes SET latest_report_id = $2 WHERE id = $1")
            .bind(report.node_id.as_str())
            .bind(id)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?
            .rows_affected();
        found(updated, "node", &report.node_id)?;
        sqlx::query(
            "INSERT INTO node_latest (node_id, report_id, reported_at, operation, baseline_id, status, missing, failed, \
             installed_pending_reboot, critical_non_compliant, security_non_compliant, other_non_compliant, \
             non_compliant_severity, reboot_why, critical_since, reboot_since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14, CASE WHEN $10 > 0 THEN $3 ELSE NULL END, CASE WHEN $9 > 0 THEN $3 ELSE NULL END) \
             ON CONFLICT (node_id) DO UPDATE SET report_id = excluded.report_id, reported_at = excluded.reported_at, \
             operation = excluded.operation, baseline_id = excluded.baseline_id, status = excluded.status, \
             missing = excluded.missing, failed = excluded.failed, \
             installed_pending_reboot = excluded.installed_pending_reboot, \
             critical_non_compliant = excluded.critical_non_compliant, \
             security_non_compliant = excluded.security_non_compliant, \
             other_non_compliant = excluded.other_non_compliant, \
             non_compliant_severity = excluded.non_compliant_severity, reboot_why = excluded.reboot_why, \
             critical_since = CASE WHEN excluded.critical_non_compliant = 0 THEN NULL \
                 WHEN node_latest.critical_non_compliant > 0 AND node_latest.critical_since IS NOT NULL \
                 THEN node_latest.critical_since ELSE excluded.critical_since END, \
             reboot_since = CASE WHEN excluded.installed_pending_reboot = 0 THEN NULL \
                 WHEN node_latest.installed_pending_reboot > 0 AND node_latest.reboot_since IS NOT NULL \
                 THEN node_latest.reboot_since ELSE excluded.reboot_since END",
        )
        .bind(report.node_id.as_str())
        .bind(id)
        .bind(to_micros(report.reported_at))
        .bind(report.operation.as_str())
        .bind(report.baseline_id.as_deref())
        .bind(report.status.as_str())
        .bind(counts.missing)
        .bind(counts.failed)
        .bind(counts.installed_pending_reboot)
        .bind(counts.critical_non_compliant)
        .bind(counts.security_non_compliant)
        .bind(counts.other_non_compliant)
        .bind(report.non_compliant_severity.as_deref())
        .bind(report.reboot_why.as_deref())
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        // The rows of `patch_refs` come from the items alone: the same items, the same rows.
        if !unchanged {
            write_patch_refs(&mut tx, &report.node_id, id, &report.items_json).await?;
        }
        for install in &report.installs {
            sqlx::query(
                "INSERT INTO patch_installs (node_id, report_id, name, arch, version, severity, released, installed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(report.node_id.as_str())
            .bind(id)
            .bind(install.name.as_str())
            .bind(install.arch.as_str())
            .bind(install.version.as_str())
            .bind(install.severity.as_str())
            .bind(to_micros(install.released))
            .bind(to_micros(install.installed_at))
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The patches of the nodes' latest reports that name `reference` (a CVE or advisory
    /// id, any case): (node, package name, arch, state, reason), by hostname.
    pub async fn patch_refs(
        &self,
        reference: &str,
    ) -> Result<Vec<(NodeRecord, PatchRef)>, StoreError> {
        let columns = crate::access::node_columns_of("n");
        let rows = sqlx::query(&format!(
            "SELECT {columns}, p.name AS ref_name, p.arch AS ref_arch, p.state AS ref_state, p.reason AS ref_reason, \
             p.approved_at AS ref_approved_at \
             FROM patch_refs p JOIN nodes n ON n.id = p.node_id \
             WHERE p.ref = $1 ORDER BY n.hostname, n.id, p.name, p.arch"
        ))
        .bind(reference.trim().to_ascii_uppercase())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| {
                Ok((
                    crate::access::node_from_row(row)?,
                    PatchRef {
                        name: get_str(row, "ref_name")?,
                        arch: get_str(row, "ref_arch")?,
                        state: get_str(row, "ref_state")?,
                        reason: get_str(row, "ref_reason")?,
                        approved_at: get_opt_ts(row, "ref_approved_at")?,
                    },
                ))
            })
            .collect()
    }

    /// One report (without items).
    pub async fn report(&self, id: i64) -> Result<Option<ReportRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM compliance_reports r WHERE r.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(report_from_row).transpose()
    }

    /// The items (JSON array of pw-api `PatchJson`) of one report.
    pub async fn report_items(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT r.items_json, i.body FROM compliance_reports r \
             LEFT JOIN report_items i ON i.digest = r.items_digest WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.map(|row| items_of(&row, id)).transpose()
    }

    /// The whole report (JSON of pw-api `OperationReport`, as the agent uploaded it) of one
    /// report.
    pub async fn report_json(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT r.items_json, r.report_json, r.report_zstd, i.body FROM compliance_reports r \
             LEFT JOIN report_items i ON i.digest = r.items_digest WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let packed: Option<Vec<u8>> = row.try_get("report_zstd").map_err(StoreError::db)?;
        let Some(packed) = packed else {
            // Written before migration 16: kept whole.
            return Ok(Some(get_str(&row, "report_json")?));
        };
        let text = decompress(&packed, id, "report")?;
        let mut value: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| corrupt(id, "report", &error))?;
        // The patches are kept once, as the items: put them back when they were left out.
        if let Some(patches) = value.get_mut("patches")
            && patches.as_array().is_some_and(Vec::is_empty)
        {
            let items = items_of(&row, id)?;
            *patches =
                serde_json::from_str(&items).map_err(|error| corrupt(id, "items", &error))?;
        }
        Ok(Some(value.to_string()))
    }

    /// The latest report of every node that has one.
    pub async fn latest_reports(&self) -> Result<Vec<ReportRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM nodes n JOIN compliance_reports r ON r.id = n.latest_report_id ORDER BY r.node_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(report_from_row).collect()
    }

    /// A node's reports in `[from, to)`, newest first, at most `limit`.
    pub async fn node_history(
        &self,
        node_id: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        limit: i64,
    ) -> Result<Vec<ReportRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM compliance_reports r WHERE r.node_id = $1 AND r.reported_at >= $2 AND r.reported_at < $3 \
             ORDER BY r.reported_at DESC, r.id DESC LIMIT $4"
        ))
        .bind(node_id)
        .bind(from.map_or(i64::MIN, to_micros))
        .bind(to.map_or(i64::MAX, to_micros))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(report_from_row).collect()
    }

    /// Patch latency: for every package an install put on at or after `since`, its severity
    /// and the seconds from its release to its install, by severity.
    pub async fn patch_latencies(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT severity, installed_at - released AS micros FROM patch_installs \
             WHERE installed_at >= $1 ORDER BY severity",
        )
        .bind(to_micros(since))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| {
                Ok((
                    get_str(row, "severity")?,
                    get_i64(row, "micros")? / 1_000_000,
                ))
            })
            .collect()
    }

    /// Deletes reports older than `before`, except each node's latest, and the item sets no
    /// report names any more. Returns how many reports.
    pub async fn prune_reports(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(
            "DELETE FROM compliance_reports WHERE reported_at < $1 \
             AND id NOT IN (SELECT latest_report_id FROM nodes WHERE latest_report_id IS NOT NULL)",
        )
        .bind(to_micros(before))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        // Install records go with their reports.
        sqlx::query("DELETE FROM patch_installs WHERE installed_at < $1")
            .bind(to_micros(before))
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        // Item sets used in the last two hours stay even when no committed report names
        // them: a report being written on another replica may (migration 16).
        let idle = before
            .checked_sub(jiff::SignedDuration::from_hours(2))
            .unwrap_or(before);
        sqlx::query(
            "DELETE FROM report_items WHERE last_used_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM compliance_reports r WHERE r.items_digest = report_items.digest)",
        )
        .bind(to_micros(idle))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// What compliance history takes: reports, distinct item sets, and the item sets' bytes
    /// as stored (compressed) and as uploaded.
    pub async fn history_footprint(&self) -> Result<HistoryFootprint, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM compliance_reports) AS reports, COUNT(*) AS item_sets, \
             CAST(COALESCE(SUM(LENGTH(body)), 0) AS BIGINT) AS stored, CAST(COALESCE(SUM(raw_len), 0) AS BIGINT) AS raw \
             FROM report_items",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db)?;
        // The tables of history with their indexes (and on PostgreSQL their TOAST).
        let sql = match self.backend {
            crate::Backend::Sqlite => {
                "SELECT CAST(COALESCE(SUM(pgsize), 0) AS BIGINT) FROM dbstat WHERE name IN \
                 (SELECT name FROM sqlite_schema WHERE tbl_name IN ('compliance_reports', 'report_items'))"
            }
            crate::Backend::Postgres => {
                "SELECT CAST(pg_total_relation_size('compliance_reports') + pg_total_relation_size('report_items') AS BIGINT)"
            }
        };
        let table_bytes: i64 = sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db)?;
        Ok(HistoryFootprint {
            table_bytes,
            reports: get_i64(&row, "reports")?,
            item_sets: get_i64(&row, "item_sets")?,
            items_stored_bytes: get_i64(&row, "stored")?,
            items_raw_bytes: get_i64(&row, "raw")?,
        })
    }
}

/// What compliance history takes (`Store::history_footprint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryFootprint {
    /// The bytes of the history's tables (reports and item sets) with their indexes.
    pub table_bytes: i64,
    pub reports: i64,
    /// Distinct item sets (reports whose items did not change share one).
    pub item_sets: i64,
    /// The item sets' bytes as stored (zstd).
    pub items_stored_bytes: i64,
    /// The same item sets' bytes as uploaded (JSON).
    pub items_raw_bytes: i64,
}

/// zstd level for stored reports and items: written once, read now and then.
const LEVEL: i32 = 3;

fn compress(text: &str) -> Result<Vec<u8>, StoreError> {
    zstd::stream::encode_all(text.as_bytes(), LEVEL).map_err(|error| StoreError::Corrupt {
        what: "report".to_owned(),
        detail: format!("compressing failed: {error}"),
    })
}

fn decompress(bytes: &[u8], id: i64, what: &str) -> Result<String, StoreError> {
    let plain = zstd::stream::decode_all(bytes).map_err(|error| corrupt(id, what, &error))?;
    String::from_utf8(plain).map_err(|error| corrupt(id, what, &error))
}

fn corrupt(id: i64, what: &str, error: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: format!("{what} of report {id}"),
        detail: error.to_string(),
    }
}

/// The items of a report row read with `items_json` and the shared `body` (NULL for rows
/// written before migration 16).
fn items_of(row: &AnyRow, id: i64) -> Result<String, StoreError> {
    let body: Option<Vec<u8>> = row.try_get("body").map_err(StoreError::db)?;
    match body {
        Some(body) => decompress(&body, id, "items"),
        None => get_str(row, "items_json"),
    }
}

/// Makes sure the item set with this digest is stored, and marks it used at `at`. A node
/// whose items did not change finds them there: one indexed read, and a small write at most
/// once an hour.
async fn store_items(
    tx: &mut crate::WriteTx,
    digest: &str,
    items_json: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    const HOUR: i64 = 3_600_000_000;
    let at = to_micros(at);
    let touched = sqlx::query(
        "UPDATE report_items SET last_used_at = $2 WHERE digest = $1 AND last_used_at < $3",
    )
    .bind(digest)
    .bind(at)
    .bind(at.saturating_sub(HOUR))
    .execute(&mut *tx.tx)
    .await
    .map_err(StoreError::db)?
    .rows_affected();
    if touched > 0 {
        return Ok(());
    }
    let present: Option<i64> =
        sqlx::query_scalar("SELECT raw_len FROM report_items WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
    if present.is_some() {
        return Ok(());
    }
    let body = compress(items_json)?;
    sqlx::query(
        "INSERT INTO report_items (digest, body, raw_len, last_used_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (digest) DO UPDATE SET last_used_at = excluded.last_used_at",
    )
    .bind(digest)
    .bind(body)
    .bind(i64::try_from(items_json.len()).unwrap_or(i64::MAX))
    .bind(at)
    .execute(&mut *tx.tx)
    .await
    .map_err(StoreError::db)?;
    Ok(())
}

/// The `patch_refs` id under which a package that is Missing, Failed or pending a reboot is
/// indexed: `PKG:` and its name, upper case (as CVE and advisory ids are kept).
pub fn package_ref(name: &str) -> String {
    format!("PKG:{}", name.trim().to_ascii_uppercase())
}

/// One package of a node's latest report that names a CVE or advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchRef {
    pub name: String,
    pub arch: String,
    pub state: String,
    pub reason: String,
    /// When the patch became approved (reports from agents that predate it have none).
    pub approved_at: Option<Timestamp>,
}

/// Replaces the node's rows of `patch_refs` with the CVE and advisory ids of `items_json`
/// (the report's patches as the server stores them; items that are not objects with a name
/// are skipped).
async fn write_patch_refs(
    tx: &mut crate::WriteTx,
    node_id: &str,
    report_id: i64,
    items_json: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM patch_refs WHERE node_id = $1")
        .bind(node_id)
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
    let items: Vec<serde_json::Value> = serde_json::from_str(items_json).unwrap_or_default();
    let mut rows: Vec<(String, String, String, String, String, Option<i64>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item in &items {
        let text = |key: &str| item.get(key).and_then(serde_json::Value::as_str);
        let (Some(name), Some(arch)) = (text("name"), text("arch")) else {
            continue;
        };
        let state = text("state").unwrap_or("");
        let reason = text("reason").unwrap_or("");
        let approved_at = text("approved_at")
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map(to_micros);
        // Packages that are not where the baseline wants them are indexed by name too, so
        // "which nodes miss openssl" is the same indexed query.
        let package = matches!(state, "Missing" | "Failed" | "InstalledPendingReboot")
            .then(|| package_ref(name));
        let references = ["cves", "advisories"]
            .into_iter()
            .flat_map(|key| {
                item.get(key)
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .filter_map(serde_json::Value::as_str)
            .map(str::to_ascii_uppercase);
        for reference in package.into_iter().chain(references) {
            if seen.insert((reference.clone(), name.to_owned(), arch.to_owned())) {
                rows.push((
                    reference,
                    name.to_owned(),
                    arch.to_owned(),
                    state.to_owned(),
                    reason.to_owned(),
                    approved_at,
                ));
            }
        }
    }
    // Several rows per statement: a report of a thousand patches is a few dozen. Not more
    // per statement: binding costs SQLite time that grows with the square of a statement's
    // parameters (200 rows a statement took a quarter of a report's ingest).
    for chunk in rows.chunks(32) {
        let mut sql = String::from(
            "INSERT INTO patch_refs (node_id, report_id, ref, name, arch, state, reason, approved_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let base = i * 6 + 3;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "($1, $2, ${base}, ${}, ${}, ${}, ${}, ${})",
                base + 1,
                base + 2,
                base + 3,
                base + 4,
                base + 5
            ));
        }
        let mut query = sqlx::query(&sql).bind(node_id).bind(report_id);
        for (reference, name, arch, state, reason, approved_at) in chunk {
            query = query
                .bind(reference.as_str())
                .bind(name.as_str())
                .bind(arch.as_str())
                .bind(state.as_str())
                .bind(reason.as_str())
                .bind(*approved_at);
        }
        query.execute(&mut *tx.tx).await.map_err(StoreError::db)?;
    }
    Ok(())
}
