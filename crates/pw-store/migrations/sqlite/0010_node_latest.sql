-- Each node's latest report in a narrow row (the counts, not the items): the fleet views
-- count and page nodes joined with this table alone, never scanning the history. Written
-- with each report; filled here from the reports already stored.
CREATE TABLE node_latest (
    node_id TEXT PRIMARY KEY,
    report_id BIGINT NOT NULL,
    reported_at BIGINT NOT NULL,
    operation TEXT NOT NULL,
    baseline_id TEXT,
    status TEXT NOT NULL,
    missing BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    installed_pending_reboot BIGINT NOT NULL,
    critical_non_compliant BIGINT NOT NULL,
    security_non_compliant BIGINT NOT NULL,
    other_non_compliant BIGINT NOT NULL,
    non_compliant_severity TEXT,
    -- Since when the node has been missing critical patches: the first report with some after
    -- the last report with none (NULL when the latest has none).
    critical_since BIGINT
);
INSERT INTO node_latest (node_id, report_id, reported_at, operation, baseline_id, status, missing, failed,
    installed_pending_reboot, critical_non_compliant, security_non_compliant, other_non_compliant,
    non_compliant_severity)
SELECT n.id, r.id, r.reported_at, r.operation, r.baseline_id, r.status, r.missing, r.failed,
    r.installed_pending_reboot, r.critical_non_compliant, r.security_non_compliant, r.other_non_compliant,
    r.non_compliant_severity
FROM nodes n JOIN compliance_reports r ON r.id = n.latest_report_id;
UPDATE node_latest SET critical_since = (
    SELECT MIN(c.reported_at) FROM compliance_reports c
    WHERE c.node_id = node_latest.node_id AND c.critical_non_compliant > 0
      AND c.reported_at > COALESCE((SELECT MAX(z.reported_at) FROM compliance_reports z
          WHERE z.node_id = node_latest.node_id AND z.critical_non_compliant = 0), -1))
WHERE critical_non_compliant > 0;
