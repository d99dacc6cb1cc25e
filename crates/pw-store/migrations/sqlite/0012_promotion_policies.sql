-- Promotion policies (from a staging baseline to a production one): the server rejects in
-- production what broke staging as staging's reports arrive, and may approve what stayed
-- healthy on enough staging nodes for a soak time. One policy per (from, to); its settings as
-- JSON (pw-api PromotionSpec); what it has done, with its evidence, in promotion_changes.
CREATE TABLE promotion_policies (
    id TEXT PRIMARY KEY,
    from_baseline TEXT NOT NULL,
    to_baseline TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_run_at BIGINT,
    last_error TEXT,
    UNIQUE (from_baseline, to_baseline)
);
CREATE TABLE promotion_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    list TEXT NOT NULL,
    entry TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence_json TEXT NOT NULL
);
CREATE INDEX promotion_changes_policy ON promotion_changes (policy_id, id);
