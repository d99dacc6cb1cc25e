-- Access keys of the SSM-compatible API (SigV4). The secret is not stored: it is derived from
-- the key id with the server's key (docs/ssm-api.md), so this table holds nothing secret.
CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Tags of baselines and maintenance windows (SSM's AddTagsToResource); a node's tags live on
-- the node.
CREATE TABLE resource_tags (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, tag_key)
);

-- Idempotency tokens of SSM creates (`ClientToken`): a retried create with the same token and
-- the same request answers the first result.
CREATE TABLE client_tokens (
    operation TEXT NOT NULL,
    token TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (operation, token)
);
