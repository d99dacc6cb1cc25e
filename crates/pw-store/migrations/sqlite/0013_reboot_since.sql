-- Since when each node has been waiting for a reboot: the first report with packages pending
-- a reboot after the last report with none (NULL when the latest has none). Nodes already
-- waiting count from their latest report.
ALTER TABLE node_latest ADD COLUMN reboot_since BIGINT;
UPDATE node_latest SET reboot_since = reported_at WHERE installed_pending_reboot > 0;
