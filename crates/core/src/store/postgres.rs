//! `postgres://...` / `postgresql://...`: the PostgreSQL store (runtime queries, embedded
//! migrations from `migrations/postgres/`, one pool shared by every task of the process).
//!
//! Several processes (`snowpat serve` replicas, a cron `tenant rotate-due`) may share one
//! database. Cross-process mint locks are rows of `exchange_locks` taken with one
//! `INSERT ... ON CONFLICT DO UPDATE ... WHERE` statement: PostgreSQL locks the conflicting row
//! and re-evaluates the `WHERE` (same holder, or lease run out) against its latest committed
//! version, so two sessions never both hold a lease, and a crashed holder's lease is taken over
//! once it has run out — the semantics of the SQLite store. Migrations take PostgreSQL's
//! advisory lock (sqlx's migrator), so two processes starting at once migrate once.
//!
//! The URL's password (if any) never appears in an error or in `Debug` output; prefer
//! `PGPASSWORD` or `~/.pgpass`, which libpq-style option resolution reads as well.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};

use super::{
    stamp, ExchangeTokenRecord, JournalEntry, JournalState, RemovalRecord, Store, StoreError,
    TenantRecord, TokenRecord,
};

/// The PostgreSQL implementation of [`Store`].
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connect options hold the password: show only the pool's size.
        f.debug_struct("PgStore")
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

/// True for the URL schemes the PostgreSQL store accepts.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with any password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The authority ends at the first '/', '?' or '#'; userinfo is before its last '@'.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some(at) = authority.rfind('@') else {
        return redact_query(url);
    };
    let (userinfo, host) = authority.split_at(at);
    let user = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => userinfo.to_owned(),
    };
    redact_query(&format!("{scheme}://{user}{host}{tail}"))
}

/// A `password=` query parameter replaced by `***`.
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

impl PgStore {
    /// Opens `postgres://...` (or `postgresql://...`) and migrates it.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if !is_postgres_url(url) {
            return Err(StoreError::Url(redact_url(url)));
        }
        let options =
            PgConnectOptions::from_str(url).map_err(|_| StoreError::Url(redact_url(url)))?;
        Self::open_with(options).await
    }

    /// Opens the database `options` describe (for callers that set a schema search path or a
    /// socket directory in code) and migrates it.
    pub async fn open_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        // One direct connection first: a refused connection or a wrong password fails at once
        // with its cause, instead of after the pool's 30 s of retries.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

fn tenant_row(row: &PgRow) -> Result<TenantRecord, sqlx::Error> {
    Ok(TenantRecord {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        token_name: row.try_get("token_name")?,
        role: row.try_get("role")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn token_row(row: &PgRow) -> Result<TokenRecord, sqlx::Error> {
    Ok(TokenRecord {
        tenant: row.try_get("tenant")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        expires_at: row.try_get("expires_at")?,
        secret_sha256: row.try_get("secret_sha256")?,
        sink: row.try_get("sink")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn journal_row(row: &PgRow) -> Result<JournalEntry, sqlx::Error> {
    let state: String = row.try_get("state")?;
    Ok(JournalEntry {
        seq: row.try_get("seq")?,
        tenant: row.try_get("tenant")?,
        kind: row.try_get("kind")?,
        request_id: row.try_get("request_id")?,
        statement: row.try_get("statement")?,
        state: JournalState::parse(&state),
    })
}

fn exchange_token_row(row: &PgRow) -> Result<ExchangeTokenRecord, sqlx::Error> {
    Ok(ExchangeTokenRecord {
        user: row.try_get("user_name")?,
        token_name: row.try_get("token_name")?,
        role: row.try_get("role")?,
        policy: row.try_get("policy")?,
        mode: row.try_get("mode")?,
        minted_at: row.try_get("minted_at")?,
        expires_at: row.try_get("expires_at")?,
        secret_sha256: row.try_get("secret_sha256")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn removal_row(row: &PgRow) -> Result<RemovalRecord, sqlx::Error> {
    Ok(RemovalRecord {
        user: row.try_get("user_name")?,
        object_name: row.try_get("object_name")?,
        deadline: row.try_get("deadline")?,
        mode: row.try_get("mode")?,
    })
}

const INSERT_JOURNAL: &str = "INSERT INTO journal \
     (tenant, kind, request_id, statement, state, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, 'pending', $5, $5) RETURNING seq";

impl Store for PgStore {
    async fn upsert_tenant(&self, t: &TenantRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenants (id, user_name, token_name, role, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET user_name = EXCLUDED.user_name, \
             token_name = EXCLUDED.token_name, role = EXCLUDED.role, status = EXCLUDED.status, \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(&t.id)
        .bind(&t.user)
        .bind(&t.token_name)
        .bind(&t.role)
        .bind(&t.status)
        .bind(&t.created_at)
        .bind(&t.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn tenant(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(tenant_row).transpose()?)
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        // COLLATE "C": byte order, as SQLite's default BINARY collation sorts.
        let rows = sqlx::query("SELECT * FROM tenants ORDER BY id COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(tenant_row).collect::<Result<_, _>>()?)
    }

    async fn set_tenant_status(&self, id: &str, status: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(stamp())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (tenant, name, role, expires_at, secret_sha256, sink, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant, name) DO UPDATE SET role = EXCLUDED.role, \
             expires_at = EXCLUDED.expires_at, secret_sha256 = EXCLUDED.secret_sha256, \
             sink = EXCLUDED.sink, updated_at = EXCLUDED.updated_at",
        )
        .bind(&t.tenant)
        .bind(&t.name)
        .bind(&t.role)
        .bind(&t.expires_at)
        .bind(&t.secret_sha256)
        .bind(&t.sink)
        .bind(&t.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn tokens(&self, tenant: &str) -> Result<Vec<TokenRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM tokens WHERE tenant = $1 ORDER BY name COLLATE \"C\"")
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(token_row).collect::<Result<_, _>>()?)
    }

    async fn delete_tokens(&self, tenant: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM tokens WHERE tenant = $1")
            .bind(tenant)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn journal_begin(
        &self,
        tenant: &str,
        kind: &str,
        request_id: uuid::Uuid,
        statement: Option<&str>,
    ) -> Result<i64, StoreError> {
        let seq: i64 = sqlx::query_scalar(INSERT_JOURNAL)
            .bind(tenant)
            .bind(kind)
            .bind(request_id)
            .bind(statement)
            .bind(stamp())
            .fetch_one(&self.pool)
            .await?;
        Ok(seq)
    }

    async fn journal_finish(&self, seq: i64, state: JournalState) -> Result<(), StoreError> {
        sqlx::query("UPDATE journal SET state = $1, updated_at = $2 WHERE seq = $3")
            .bind(state.as_str())
            .bind(stamp())
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn journal(&self, tenant: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM journal WHERE tenant = $1 ORDER BY seq")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(journal_row).collect::<Result<_, _>>()?)
    }

    async fn exchange_try_lock(
        &self,
        key: &str,
        holder: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        // One statement: insert, or (row locked) take over when the row is ours or its lease ran
        // out. A concurrent inserter of the same key waits for this one to commit, then
        // re-checks the WHERE against the committed row.
        let done = sqlx::query(
            "INSERT INTO exchange_locks (lock_key, holder, lease_until) VALUES ($1, $2, $3) \
             ON CONFLICT (lock_key) DO UPDATE SET holder = EXCLUDED.holder, \
             lease_until = EXCLUDED.lease_until \
             WHERE exchange_locks.holder = EXCLUDED.holder OR exchange_locks.lease_until < $4",
        )
        .bind(key)
        .bind(holder)
        .bind(lease_until_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn exchange_unlock(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM exchange_locks WHERE lock_key = $1 AND holder = $2")
            .bind(key)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_exchange_token(&self, t: &ExchangeTokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO exchange_tokens (user_name, token_name, role, policy, mode, minted_at, \
             expires_at, secret_sha256, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (user_name, token_name) DO UPDATE SET role = EXCLUDED.role, \
             policy = EXCLUDED.policy, mode = EXCLUDED.mode, minted_at = EXCLUDED.minted_at, \
             expires_at = EXCLUDED.expires_at, secret_sha256 = EXCLUDED.secret_sha256, \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(&t.user)
        .bind(&t.token_name)
        .bind(&t.role)
        .bind(&t.policy)
        .bind(&t.mode)
        .bind(t.minted_at)
        .bind(t.expires_at)
        .bind(&t.secret_sha256)
        .bind(&t.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn exchange_token(
        &self,
        user: &str,
        token_name: &str,
    ) -> Result<Option<ExchangeTokenRecord>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM exchange_tokens WHERE user_name = $1 AND token_name = $2")
                .bind(user)
                .bind(token_name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.as_ref().map(exchange_token_row).transpose()?)
    }

    async fn exchange_tokens(&self) -> Result<Vec<ExchangeTokenRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM exchange_tokens ORDER BY user_name COLLATE \"C\", token_name COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(exchange_token_row)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_exchange_token(&self, user: &str, token_name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM exchange_tokens WHERE user_name = $1 AND token_name = $2")
            .bind(user)
            .bind(token_name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn schedule_removal(&self, r: &RemovalRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO exchange_removals (user_name, object_name, deadline, mode, state, \
             updated_at) VALUES ($1, $2, $3, $4, 'pending', $5) \
             ON CONFLICT (user_name, object_name) DO UPDATE SET deadline = EXCLUDED.deadline, \
             mode = EXCLUDED.mode, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
        )
        .bind(&r.user)
        .bind(&r.object_name)
        .bind(r.deadline)
        .bind(&r.mode)
        .bind(stamp())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn rename_removal(&self, user: &str, from: &str, to: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE exchange_removals SET object_name = $1, updated_at = $2 \
             WHERE user_name = $3 AND object_name = $4 AND state = 'pending'",
        )
        .bind(to)
        .bind(stamp())
        .bind(user)
        .bind(from)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn due_removals(&self, now_ms: i64) -> Result<Vec<RemovalRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM exchange_removals WHERE state = 'pending' AND deadline <= $1 \
             ORDER BY deadline",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(removal_row).collect::<Result<_, _>>()?)
    }

    async fn pending_removals(&self) -> Result<Vec<RemovalRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM exchange_removals WHERE state = 'pending' ORDER BY deadline",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(removal_row).collect::<Result<_, _>>()?)
    }

    async fn finish_removal(&self, user: &str, object_name: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE exchange_removals SET state = 'done', updated_at = $1 \
             WHERE user_name = $2 AND object_name = $3",
        )
        .bind(stamp())
        .bind(user)
        .bind(object_name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn journal_begin_batch(
        &self,
        tenant: &str,
        request_id: uuid::Uuid,
        entries: &[(&str, Option<&str>)],
    ) -> Result<Vec<i64>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // One INSERT of all rows (one statement, one commit), in the entries' order, so their
        // seqs ascend in that order.
        let kinds: Vec<&str> = entries.iter().map(|(kind, _)| *kind).collect();
        let statements: Vec<Option<&str>> = entries.iter().map(|(_, s)| *s).collect();
        let mut seqs: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO journal \
             (tenant, kind, request_id, statement, state, created_at, updated_at) \
             SELECT $1, e.kind, $2, e.statement, 'pending', $3, $3 \
             FROM UNNEST($4::text[], $5::text[]) WITH ORDINALITY AS e(kind, statement, n) \
             ORDER BY e.n RETURNING seq",
        )
        .bind(tenant)
        .bind(request_id)
        .bind(stamp())
        .bind(&kinds)
        .bind(&statements)
        .fetch_all(&self.pool)
        .await?;
        seqs.sort_unstable();
        Ok(seqs)
    }

    async fn journal_finish_batch(
        &self,
        seqs: &[i64],
        state: JournalState,
    ) -> Result<(), StoreError> {
        // One statement is one transaction.
        sqlx::query("UPDATE journal SET state = $1, updated_at = $2 WHERE seq = ANY($3)")
            .bind(state.as_str())
            .bind(stamp())
            .bind(seqs)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://snow:p%40ss@db.example:5432/snowpat?sslmode=require"),
            "postgres://snow:***@db.example:5432/snowpat?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/snowpat?user=u&password=hunter2"),
            "postgresql://db/snowpat?user=u&password=***"
        );
        assert_eq!(
            redact_url("postgres://u@/snowpat?host=/run/pg"),
            "postgres://u@/snowpat?host=/run/pg"
        );
        assert_eq!(redact_url("sqlite:/x.db"), "sqlite:/x.db");
    }
}
