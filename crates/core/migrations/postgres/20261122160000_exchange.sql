-- The exchange service (`snowpat serve` / `snowpat exchange`) on PostgreSQL: PATs it manages,
-- cross-process mint locks, and journalled removals of tokens whose policy lifetime is shorter
-- than Snowflake's one-day minimum. Mirrors ../20261122160000_exchange.sql. Never a secret: only
-- SHA-256 digests.

-- One row per Snowflake PAT object the exchange minted (user, token name `SNOWPAT_{role}`).
CREATE TABLE IF NOT EXISTS exchange_tokens (
    user_name      TEXT NOT NULL,
    token_name     TEXT NOT NULL,
    role           TEXT NOT NULL,
    policy         TEXT NOT NULL,
    mode           TEXT NOT NULL,
    -- Server time (unix ms) of the last ADD or ROTATE: rotations are never closer than the grace.
    minted_at      BIGINT NOT NULL,
    -- Server time (unix ms) at which Snowflake expires the current secret.
    expires_at     BIGINT,
    secret_sha256  TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (user_name, token_name)
);

-- A lease per PAT object: the `serve` process holding it is the only one that may ADD or ROTATE.
-- Taken with one INSERT ... ON CONFLICT DO UPDATE ... WHERE, which locks the row, so two
-- processes never both hold it.
CREATE TABLE IF NOT EXISTS exchange_locks (
    lock_key    TEXT PRIMARY KEY NOT NULL,
    holder      TEXT NOT NULL,
    -- Local unix milliseconds after which the lease may be taken over (a crashed holder).
    lease_until BIGINT NOT NULL
);

-- Tokens to remove at a deadline (policy max_lifetime shorter than one day), kept until done so
-- a restart still removes them.
CREATE TABLE IF NOT EXISTS exchange_removals (
    user_name    TEXT NOT NULL,
    object_name  TEXT NOT NULL,
    -- Server time (unix ms).
    deadline     BIGINT NOT NULL,
    mode         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (user_name, object_name)
);

CREATE INDEX IF NOT EXISTS exchange_removals_state ON exchange_removals (state, deadline);
