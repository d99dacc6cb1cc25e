-- The CVE and advisory ids of each node's latest report, one row per (node, id, package):
-- "which nodes miss CVE-X" is one indexed query, whatever the fleet's size. Rewritten with
-- each report; filled here from the latest reports already stored.
CREATE TABLE patch_refs (
    node_id TEXT NOT NULL,
    report_id BIGINT NOT NULL,
    ref TEXT NOT NULL,
    name TEXT NOT NULL,
    arch TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (node_id, ref, name, arch)
);
CREATE INDEX patch_refs_ref ON patch_refs (ref, node_id);
INSERT OR IGNORE INTO patch_refs (node_id, report_id, ref, name, arch, state, reason)
SELECT n.id, r.id, UPPER(c.value), json_extract(p.value, '$.name'), json_extract(p.value, '$.arch'),
       json_extract(p.value, '$.state'), COALESCE(json_extract(p.value, '$.reason'), '')
FROM nodes n
JOIN compliance_reports r ON r.id = n.latest_report_id
JOIN json_each(r.items_json) p
JOIN json_each(COALESCE(json_extract(p.value, '$.cves'), '[]')) c
WHERE json_type(p.value) = 'object' AND json_extract(p.value, '$.name') IS NOT NULL;
INSERT OR IGNORE INTO patch_refs (node_id, report_id, ref, name, arch, state, reason)
SELECT n.id, r.id, UPPER(a.value), json_extract(p.value, '$.name'), json_extract(p.value, '$.arch'),
       json_extract(p.value, '$.state'), COALESCE(json_extract(p.value, '$.reason'), '')
FROM nodes n
JOIN compliance_reports r ON r.id = n.latest_report_id
JOIN json_each(r.items_json) p
JOIN json_each(COALESCE(json_extract(p.value, '$.advisories'), '[]')) a
WHERE json_type(p.value) = 'object' AND json_extract(p.value, '$.name') IS NOT NULL;
