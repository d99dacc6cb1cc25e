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
INSERT INTO patch_refs (node_id, report_id, ref, name, arch, state, reason)
SELECT n.id, r.id, UPPER(c.value), p.value ->> 'name', p.value ->> 'arch', p.value ->> 'state',
       COALESCE(p.value ->> 'reason', '')
FROM nodes n
JOIN compliance_reports r ON r.id = n.latest_report_id
CROSS JOIN LATERAL jsonb_array_elements(r.items_json::jsonb) p
CROSS JOIN LATERAL jsonb_array_elements_text(
    CASE WHEN jsonb_typeof(p.value) = 'object' AND jsonb_typeof(p.value -> 'cves') = 'array'
         THEN p.value -> 'cves' ELSE '[]'::jsonb END) c
WHERE jsonb_typeof(p.value) = 'object' AND p.value ->> 'name' IS NOT NULL
ON CONFLICT DO NOTHING;
INSERT INTO patch_refs (node_id, report_id, ref, name, arch, state, reason)
SELECT n.id, r.id, UPPER(a.value), p.value ->> 'name', p.value ->> 'arch', p.value ->> 'state',
       COALESCE(p.value ->> 'reason', '')
FROM nodes n
JOIN compliance_reports r ON r.id = n.latest_report_id
CROSS JOIN LATERAL jsonb_array_elements(r.items_json::jsonb) p
CROSS JOIN LATERAL jsonb_array_elements_text(
    CASE WHEN jsonb_typeof(p.value) = 'object' AND jsonb_typeof(p.value -> 'advisories') = 'array'
         THEN p.value -> 'advisories' ELSE '[]'::jsonb END) a
WHERE jsonb_typeof(p.value) = 'object' AND p.value ->> 'name' IS NOT NULL
ON CONFLICT DO NOTHING;
