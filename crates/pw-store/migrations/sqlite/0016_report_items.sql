-- Compliance history kept small (docs/server.md, "History and retention"). A report's items
-- are stored once per distinct content (sha256 of their JSON), compressed with zstd, and
-- shared by every report that repeats them: a node whose patches did not change since its
-- last report adds a row of counts, not another copy of its items. The report as uploaded
-- is kept compressed, without its items. Rows written before keep both in items_json and
-- report_json; new rows leave those empty.
-- last_used_at: when a report last named the items; retention deletes items no report
-- names, and only if they were not used in the last two hours (a report being written on
-- another replica may be about to name them).
CREATE TABLE report_items (
    digest TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    raw_len BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
ALTER TABLE compliance_reports ADD COLUMN items_digest TEXT;
ALTER TABLE compliance_reports ADD COLUMN report_zstd BLOB;
CREATE INDEX compliance_reports_items_digest ON compliance_reports (items_digest);
