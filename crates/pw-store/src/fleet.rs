//! The fleet at a glance: every node in exactly one state, counted and listed by one SQL
//! predicate, so that a count and the list it links to always agree. Lists page by keyset
//! (hostname, id), never by offset.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::access::node_from_row;
use crate::{
    NodeRecord, Store, StoreError, get_i64, get_opt_i64, get_opt_str, get_opt_ts, get_str,
    to_micros,
};

/// The one state of a node, first match wins (docs/console.md): a node that never reported
/// is never counted as compliant, nor is one whose last report is older than the stale age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeState {
    /// Enrolled, no compliance report yet.
    NeverReported,
    /// The latest report is older than the stale age.
    Stale,
    /// The latest report has failed patches.
    FailedLastOperation,
    /// Installed, waiting for a reboot.
    PendingReboot,
    /// Missing or rejected-installed patches.
    NonCompliant,
    Compliant,
}

impl NodeState {
    pub const ALL: [NodeState; 6] = [
        NodeState::Compliant,
        NodeState::NonCompliant,
        NodeState::PendingReboot,
        NodeState::FailedLastOperation,
        NodeState::Stale,
        NodeState::NeverReported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::NeverReported => "never_reported",
            NodeState::Stale => "stale",
            NodeState::FailedLastOperation => "failed",
            NodeState::PendingReboot => "pending_reboot",
            NodeState::NonCompliant => "non_compliant",
            NodeState::Compliant => "compliant",
        }
    }

    pub fn parse(text: &str) -> Option<NodeState> {
        NodeState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Nodes whose latest report has a `patch_refs` row for `?` (a CVE, an advisory or a package).
const REF_SQL: &str = "n.id IN (SELECT p.node_id FROM patch_refs p WHERE p.ref = ?)";

/// The state predicate: `$1` is the stale instant (micros); reads `n` (nodes) and `r` (the
/// node's latest report in `node_latest`, left-joined).
const STATE_SQL: &str = "CASE \
     WHEN r.report_id IS NULL THEN 'never_reported' \
     WHEN r.reported_at < $1 THEN 'stale' \
     WHEN r.failed > 0 THEN 'failed' \
     WHEN r.installed_pending_reboot > 0 THEN 'pending_reboot' \
     WHEN r.status <> 'COMPLIANT' THEN 'non_compliant' \
     ELSE 'compliant' END";

/// Which nodes a fleet query selects; `None` selects all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetFilter {
    pub state: Option<NodeState>,
    pub patch_group: Option<String>,
    pub operating_system: Option<String>,
    /// Hostnames starting with this text.
    pub hostname_prefix: Option<String>,
    /// The highest non-compliant severity of the latest report (`CRITICAL`, ..., or `NONE`).
    pub severity: Option<String>,
    /// Nodes whose latest report names this CVE or advisory id (any state).
    pub reference: Option<String>,
    /// Nodes whose latest report has this package (by name) Missing, Failed or installed
    /// pending a reboot.
    pub package: Option<String>,
    /// Nodes with this tag (key, value).
    pub tag: Option<(String, String)>,
}

/// A node with the parts of its latest report the fleet views show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRow {
    pub node: NodeRecord,
    pub patch_group: Option<String>,
    pub state: NodeState,
    pub report_id: Option<i64>,
    pub reported_at: Option<Timestamp>,
    pub operation: Option<String>,
    pub baseline_id: Option<String>,
    pub missing: i64,
    pub failed: i64,
    pub pending_reboot: i64,
    /// Why the node waits for a reboot: the packages installed without one.
    pub reboot_why: Option<String>,
    /// Since when it has been waiting: the first report pending a reboot after one that was
    /// not.
    pub reboot_since: Option<Timestamp>,
    pub critical: i64,
    pub security: i64,
    pub other: i64,
    pub severity: Option<String>,
    /// The node's last report of each operation.
    pub last_scan_at: Option<Timestamp>,
    pub last_install_at: Option<Timestamp>,
}

/// The WHERE clause of `filter` (without the state) and its text binds, numbered from `$2`.
fn where_clause(filter: &FleetFilter, with_state: bool) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut binds = Vec::new();
    let mut add = |sql: &str, value: String| {
        binds.push(value);
        clauses.push(sql.replace('?', &format!("${}", binds.len() + 1)));
    };
    if with_state && let Some(state) = filter.state {
        add(&format!("({STATE_SQL}) = ?"), state.as_str().to_owned());
    }
    if let Some(group) = &filter.patch_group {
        add("n.patch_group = ?", group.clone());
    }
    if let Some(os) = &filter.operating_system {
        add("n.operating_system = ?", os.clone());
    }
    if let Some(prefix) = &filter.hostname_prefix {
        // A range, not LIKE: no escaping, and it uses the hostname index.
        add("n.hostname >= ?", prefix.clone());
        add("n.hostname < ?", format!("{prefix}\u{10ffff}"));
    }
    if let Some(severity) = &filter.severity {
        add(
            "COALESCE(r.non_compliant_severity, 'NONE') = ?",
            severity.clone(),
        );
    }
    if let Some(reference) = &filter.reference {
        add(REF_SQL, reference.trim().to_ascii_uppercase());
    }
    if let Some(package) = &filter.package {
        add(REF_SQL, crate::compliance::package_ref(package));
    }
    if let Some((key, value)) = &filter.tag {
        // Tags are stored as a JSON list of [key, value] pairs: the pair's text must occur in
        // it. `replace` compares exactly (case-sensitive, no wildcards) on both databases,
        // where LIKE would not.
        let pair = serde_json::to_string(&(key, value)).unwrap_or_default();
        add("replace(n.tags_json, ?, '') <> n.tags_json", pair);
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, binds)
}

const FROM: &str = "FROM nodes n LEFT JOIN node_latest r ON r.node_id = n.id";

fn fleet_row(row: &AnyRow) -> Result<FleetRow, StoreError> {
    let state_text = get_str(row, "fleet_state")?;
    let state = NodeState::parse(&state_text).ok_or_else(|| StoreError::Corrupt {
        what: "fleet state".to_owned(),
        detail: state_text.clone(),
    })?;
    let count =
        |name: &str| -> Result<i64, StoreError> { Ok(get_opt_i64(row, name)?.unwrap_or(0)) };
    Ok(FleetRow {
        node: node_from_row(row)?,
        patch_group: get_opt_str(row, "patch_group")?,
        state,
        report_id: get_opt_i64(row, "report_id")?,
        reported_at: get_opt_ts(row, "report_at")?,
        operation: get_opt_str(row, "report_operation")?,
        baseline_id: get_opt_str(row, "report_baseline")?,
        missing: count("report_missing")?,
        failed: count("report_failed")?,
        pending_reboot: count("report_pending_reboot")?,
        reboot_why: get_opt_str(row, "report_reboot_why")?,
        reboot_since: get_opt_ts(row, "report_reboot_since")?,
        critical: count("report_critical")?,
        security: count("report_security")?,
        other: count("report_other")?,
        severity: get_opt_str(row, "report_severity")?,
        last_scan_at: get_opt_ts(row, "last_scan_at")?,
        last_install_at: get_opt_ts(row, "last_install_at")?,
    })
}

impl Store {
    /// How many nodes `filter` selects in each state (the filter's own state ignored);
    /// `stale_before`: reports older than this make a node stale.
    pub async fn fleet_counts(
        &self,
        stale_before: Timestamp,
        filter: &FleetFilter,
    ) -> Result<Vec<(NodeState, i64)>, StoreError> {
        let (clause, binds) = where_clause(filter, false);
        let sql = format!(
            "SELECT fleet_state, COUNT(*) AS n FROM (SELECT {STATE_SQL} AS fleet_state {FROM}{clause}) s GROUP BY fleet_state"
        );
        let mut query = sqlx::query(&sql).bind(to_micros(stale_before));
        for bind in &binds {
            query = query.bind(bind.as_str());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(StoreError::db)?;
        let mut out: Vec<(NodeState, i64)> = NodeState::ALL.iter().map(|s| (*s, 0)).collect();
        for row in &rows {
            let state = get_str(row, "fleet_state")?;
            if let Some(slot) = out.iter_mut().find(|(s, _)| s.as_str() == state) {
                slot.1 = get_i64(row, "n")?;
            }
        }
        Ok(out)
    }

    /// Nodes per (patch group, highest non-compliant severity of the latest report; `NONE`
    /// when it has none or never reported).
    pub async fn fleet_severities(&self) -> Result<Vec<(Option<String>, String, i64)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT n.patch_group AS patch_group, COALESCE(r.non_compliant_severity, 'NONE') AS severity, COUNT(*) AS n \
             {FROM} GROUP BY n.patch_group, COALESCE(r.non_compliant_severity, 'NONE') ORDER BY 1, 2"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| {
                Ok((
                    get_opt_str(row, "patch_group")?,
                    get_str(row, "severity")?,
                    get_i64(row, "n")?,
                ))
            })
            .collect()
    }

    /// One page of the nodes `filter` selects, by hostname then id, after `after` (the
    /// (hostname, id) of the previous page's last row), at most `limit`.
    pub async fn fleet_page(
        &self,
        stale_before: Timestamp,
        filter: &FleetFilter,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<FleetRow>, StoreError> {
        let (mut clause, mut binds) = where_clause(filter, true);
        if let Some((hostname, id)) = after {
            let first = binds.len() + 2;
            let keyset = format!(
                "(n.hostname > ${first} OR (n.hostname = ${first} AND n.id > ${}))",
                first + 1
            );
            clause = if clause.is_empty() {
                format!(" WHERE {keyset}")
            } else {
                format!("{clause} AND {keyset}")
            };
            binds.push(hostname.to_owned());
            binds.push(id.to_owned());
        }
        let columns = crate::access::node_columns_of("n");
        let sql = format!(
            "SELECT {columns}, n.patch_group AS patch_group, {STATE_SQL} AS fleet_state, r.report_id AS report_id, \
             r.reported_at AS report_at, r.operation AS report_operation, r.baseline_id AS report_baseline, \
             r.missing AS report_missing, r.failed AS report_failed, \
             r.installed_pending_reboot AS report_pending_reboot, r.reboot_why AS report_reboot_why, \
             r.reboot_since AS report_reboot_since, \
             r.critical_non_compliant AS report_critical, \
             r.security_non_compliant AS report_security, r.other_non_compliant AS report_other, \
             r.non_compliant_severity AS report_severity, \
             (SELECT MAX(c.reported_at) FROM compliance_reports c WHERE c.node_id = n.id AND c.operation = 'Scan') AS last_scan_at, \
             (SELECT MAX(c.reported_at) FROM compliance_reports c WHERE c.node_id = n.id AND c.operation = 'Install') AS last_install_at \
             {FROM}{clause} ORDER BY n.hostname, n.id LIMIT ${}",
            binds.len() + 2
        );
        let mut query = sqlx::query(&sql).bind(to_micros(stale_before));
        for bind in &binds {
            query = query.bind(bind.as_str());
        }
        let rows = query
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db)?;
        rows.iter().map(fleet_row).collect()
    }
}

/// A console session that is open: its API token's id and role, and its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub token_id: String,
    pub role: String,
    pub csrf: String,
    pub expires_at: Timestamp,
}

impl Store {
    /// Opens a console session (expired ones are removed on the way).
    pub async fn create_console_session(
        &self,
        id_hash: &str,
        token_id: &str,
        csrf: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
            .bind(to_micros(now))
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, token_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(token_id)
        .bind(csrf)
        .bind(to_micros(now))
        .bind(to_micros(expires_at))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// The open session whose id hashes to `id_hash`: not expired at `now`, its token not
    /// revoked.
    pub async fn console_session(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let row = sqlx::query(
            "SELECT s.token_id AS token_id, t.role AS role, s.csrf AS csrf, s.expires_at AS expires_at \
             FROM console_sessions s JOIN api_tokens t ON t.id = s.token_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
        )
        .bind(id_hash)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.map(|row| {
            Ok(ConsoleSession {
                token_id: get_str(&row, "token_id")?,
                role: get_str(&row, "role")?,
                csrf: get_str(&row, "csrf")?,
                expires_at: crate::get_ts(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    /// Ends a console session.
    pub async fn delete_console_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        tx.commit().await
    }
}

/// One day of one patch group's compliance: the nodes that reported that UTC day (each by its
/// last report of the day) and how many of them were compliant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendPoint {
    pub patch_group: Option<String>,
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    pub compliant: i64,
    pub reported: i64,
}

/// A node whose latest report misses critical patches, and since when it has (the first
/// report after its last report without any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalDebt {
    pub node_id: String,
    pub hostname: String,
    pub patch_group: Option<String>,
    pub critical: i64,
    pub since: Timestamp,
}

const DAY_MICROS: i64 = 86_400_000_000;

impl Store {
    /// Compliance per patch group and day, from `since` on.
    pub async fn compliance_trend(&self, since: Timestamp) -> Result<Vec<TrendPoint>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT r.patch_group AS patch_group, r.reported_at / {DAY_MICROS} AS day, \
             CAST(SUM(CASE WHEN r.status = 'COMPLIANT' THEN 1 ELSE 0 END) AS BIGINT) AS compliant, COUNT(*) AS reported \
             FROM compliance_reports r JOIN ( \
                 SELECT MAX(id) AS id FROM compliance_reports WHERE reported_at >= $1 \
                 GROUP BY node_id, reported_at / {DAY_MICROS}) last ON last.id = r.id \
             GROUP BY r.patch_group, r.reported_at / {DAY_MICROS} ORDER BY 1, 2"
        ))
        .bind(to_micros(since))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| {
                Ok(TrendPoint {
                    patch_group: get_opt_str(row, "patch_group")?,
                    day: get_i64(row, "day")?,
                    compliant: get_i64(row, "compliant")?,
                    reported: get_i64(row, "reported")?,
                })
            })
            .collect()
    }

    /// Nodes whose latest report misses critical patches, longest first.
    pub async fn critical_debt(&self) -> Result<Vec<CriticalDebt>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.id AS id, n.hostname AS hostname, n.patch_group AS patch_group, \
             r.critical_non_compliant AS critical, r.critical_since AS since \
             FROM nodes n JOIN node_latest r ON r.node_id = n.id \
             WHERE r.critical_non_compliant > 0 ORDER BY r.critical_since, n.hostname, n.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| {
                Ok(CriticalDebt {
                    node_id: get_str(row, "id")?,
                    hostname: get_str(row, "hostname")?,
                    patch_group: get_opt_str(row, "patch_group")?,
                    critical: get_i64(row, "critical")?,
                    since: crate::get_ts(row, "since")?,
                })
            })
            .collect()
    }

    /// Reboot debt: how many nodes wait for a reboot (by their latest report), and since when
    /// the longest has.
    pub async fn reboot_debt(&self) -> Result<(i64, Option<Timestamp>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(reboot_since) AS oldest FROM node_latest \
             WHERE installed_pending_reboot > 0",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::db)?;
        Ok((get_i64(&row, "n")?, get_opt_ts(&row, "oldest")?))
    }
}
