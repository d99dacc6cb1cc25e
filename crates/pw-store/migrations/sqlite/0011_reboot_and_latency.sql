-- Why each node waits for a reboot (the packages an install put on without one), kept with
-- its latest counts; when each patch a node's latest report names became approved; and every
-- package an install put on with its release, from which patch latency (release to
-- installed) is measured. Reports stored before this have none of these.
ALTER TABLE node_latest ADD COLUMN reboot_why TEXT;
ALTER TABLE patch_refs ADD COLUMN approved_at BIGINT;
CREATE TABLE patch_installs (
    node_id TEXT NOT NULL,
    report_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    arch TEXT NOT NULL,
    version TEXT NOT NULL,
    -- The patch's severity as reports give it; `None` when it has none.
    severity TEXT NOT NULL,
    released BIGINT NOT NULL,
    installed_at BIGINT NOT NULL,
    PRIMARY KEY (report_id, name, arch)
);
CREATE INDEX patch_installs_at ON patch_installs (installed_at);
