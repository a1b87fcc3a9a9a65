-- snowpat state store on PostgreSQL: tenants, token metadata (never a secret), and the statement
-- journal. Mirrors ../0001_tenants.sql. Timestamps the records carry as RFC 3339 text (bookkeeping
-- stamps with nanoseconds, Snowflake's server-time `expires_at` as Snowflake printed it) stay
-- text so a record reads back exactly as written.
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
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    request_id  UUID NOT NULL,
    statement   TEXT,
    state       TEXT NOT NULL
                CHECK (state IN ('pending', 'done', 'failed', 'superseded')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS journal_tenant_state ON journal (tenant, state);
