-- Console sessions: the browser holds a random session id in an HttpOnly cookie; the
-- database holds its sha256, the API token it was opened with (revoking the token ends the
-- session), the CSRF token of its forms, and when it expires.
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
