-- Patchwarden schema, version 1 (SQLite). Append-only: never edit a released migration;
-- add a new file. Times are microseconds since the Unix epoch (BIGINT); booleans are 0/1;
-- JSON documents are TEXT written by pw-server from pw-api types.

CREATE TABLE baselines (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    operating_system TEXT NOT NULL,
    description TEXT,
    toml TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE default_baselines (
    operating_system TEXT PRIMARY KEY,
    baseline_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE patch_groups (
    patch_group TEXT NOT NULL,
    operating_system TEXT NOT NULL,
    baseline_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (patch_group, operating_system)
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT,
    role TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE activations (
    id TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    description TEXT,
    tags_json TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    max_uses BIGINT NOT NULL,
    uses BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    operating_system TEXT NOT NULL,
    product TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    arch TEXT,
    machine_id TEXT,
    tags_json TEXT NOT NULL,
    credential_hash TEXT NOT NULL UNIQUE,
    activation_id TEXT,
    enrolled_at BIGINT NOT NULL,
    last_seen_at BIGINT,
    inventory_at BIGINT,
    latest_report_id BIGINT
);

CREATE TABLE inventories (
    node_id TEXT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    captured_at BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    inventory_json TEXT NOT NULL
);

CREATE TABLE compliance_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id TEXT NOT NULL,
    reported_at BIGINT NOT NULL,
    operation TEXT NOT NULL,
    baseline_id TEXT,
    patch_group TEXT,
    execution_id TEXT,
    command_id TEXT,
    operation_start BIGINT,
    operation_end BIGINT,
    evaluated_at BIGINT,
    status TEXT NOT NULL,
    installed BIGINT NOT NULL,
    installed_other BIGINT NOT NULL,
    installed_rejected BIGINT NOT NULL,
    installed_pending_reboot BIGINT NOT NULL,
    not_applicable BIGINT NOT NULL,
    missing BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    critical_non_compliant BIGINT NOT NULL,
    security_non_compliant BIGINT NOT NULL,
    other_non_compliant BIGINT NOT NULL,
    non_compliant_severity TEXT,
    items_json TEXT NOT NULL,
    report_json TEXT NOT NULL
);
CREATE INDEX compliance_reports_node ON compliance_reports (node_id, reported_at);

CREATE TABLE windows (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    spec_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    schedule_anchor_at BIGINT NOT NULL,
    next_execution_at BIGINT
);
CREATE INDEX windows_due ON windows (enabled, next_execution_at);

CREATE TABLE window_targets (
    id TEXT PRIMARY KEY,
    window_id TEXT NOT NULL REFERENCES windows (id) ON DELETE CASCADE,
    spec_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX window_targets_window ON window_targets (window_id);

CREATE TABLE window_tasks (
    id TEXT PRIMARY KEY,
    window_id TEXT NOT NULL REFERENCES windows (id) ON DELETE CASCADE,
    priority BIGINT NOT NULL,
    spec_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX window_tasks_window ON window_tasks (window_id);

CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    window_id TEXT NOT NULL,
    status TEXT NOT NULL,
    status_details TEXT,
    scheduled_at BIGINT NOT NULL,
    started_at BIGINT,
    ended_at BIGINT,
    window_end_at BIGINT,
    last_task_start_at BIGINT,
    evaluation_instant BIGINT,
    cancel_requested BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (window_id, scheduled_at)
);
CREATE INDEX executions_status ON executions (status);

CREATE TABLE execution_baselines (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    baseline_id TEXT NOT NULL,
    toml TEXT NOT NULL,
    PRIMARY KEY (execution_id, baseline_id)
);

CREATE TABLE task_executions (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    priority BIGINT NOT NULL,
    operation TEXT NOT NULL,
    status TEXT NOT NULL,
    status_details TEXT,
    started_at BIGINT,
    ended_at BIGINT,
    targets BIGINT NOT NULL,
    concurrency BIGINT NOT NULL,
    error_threshold BIGINT NOT NULL,
    outcome TEXT,
    spec_json TEXT NOT NULL
);
CREATE INDEX task_executions_execution ON task_executions (execution_id);

CREATE TABLE invocations (
    id TEXT PRIMARY KEY,
    task_execution_id TEXT NOT NULL REFERENCES task_executions (id) ON DELETE CASCADE,
    execution_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_details TEXT,
    command_id TEXT,
    baseline_id TEXT,
    patch_group TEXT,
    window_target_id TEXT,
    owner_information TEXT,
    started_at BIGINT,
    ended_at BIGINT
);
CREATE INDEX invocations_task ON invocations (task_execution_id, seq);

CREATE TABLE agent_commands (
    id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    deliveries BIGINT NOT NULL,
    acknowledged_at BIGINT,
    completed_at BIGINT,
    ack_deadline_at BIGINT,
    finish_deadline_at BIGINT,
    result_json TEXT,
    invocation_id TEXT
);
CREATE INDEX agent_commands_node ON agent_commands (node_id, state);
CREATE INDEX agent_commands_created ON agent_commands (created_at);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    details_json TEXT
);
