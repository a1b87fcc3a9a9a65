-- snowpat state store: tenants, token metadata (never a secret), and the statement journal.
CREATE TABLE IF NOT EXISTS tenants (
    id          TEXT PRIMARY KEY NOT NULL,
    user_name   TEXT NOT NULL,
    token_name  TEXT NOT NULL,
    role        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS tokens (
    tenant         TEXT NOT NULL,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    expires_at     TEXT,
    secret_sha256  TEXT NOT NULL,
    sink           TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE IF NOT EXISTS journal (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    statement   TEXT,
    state       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS journal_tenant_state ON journal (tenant, state);
