-- A node's last report of each operation (the console's "last scan", "last install") is one
-- index lookup.
CREATE INDEX compliance_reports_node_operation ON compliance_reports (node_id, operation, reported_at);
