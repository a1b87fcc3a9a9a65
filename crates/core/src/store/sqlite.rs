//! `sqlite:PATH`: the SQLite store (runtime queries, embedded migrations, file 0600).

use std::path::Path;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use super::{
    stamp, ExchangeTokenRecord, JournalEntry, JournalState, RemovalRecord, Store, StoreError,
    TenantRecord, TokenRecord,
};

/// The SQLite implementation of [`Store`].
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite:PATH` (creating the parent directory and the file, 0600) and migrates it.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let path = url
            .strip_prefix("sqlite:")
            .map(|p| p.strip_prefix("//").unwrap_or(p))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| StoreError::Url(url.to_owned()))?;
        Self::open_path(Path::new(path)).await
    }

    /// Opens the database file at `path`.
    pub async fn open_path(path: &Path) -> Result<Self, StoreError> {
        prepare_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with synchronous=NORMAL: a commit is in the WAL (the OS has it) before the
            // statement it journals is sent, so it survives the process dying at any point (the
            // crash model of the journal); only the fsync per commit is saved, which a bulk run
            // of thousands of commits would otherwise wait for. After a power loss the last
            // commits may be missing: the rerun then finds a live token whose secret it cannot
            // prove it holds and replaces it with no grace, so no unknown secret stays alive.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }
}

fn prepare_file(path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    Ok(())
}

fn tenant_row(row: &sqlx::sqlite::SqliteRow) -> Result<TenantRecord, sqlx::Error> {
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

fn exchange_token_row(row: &sqlx::sqlite::SqliteRow) -> Result<ExchangeTokenRecord, sqlx::Error> {
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

fn removal_row(row: &sqlx::sqlite::SqliteRow) -> Result<RemovalRecord, sqlx::Error> {
    Ok(RemovalRecord {
        user: row.try_get("user_name")?,
        object_name: row.try_get("object_name")?,
        deadline: row.try_get("deadline")?,
        mode: row.try_get("mode")?,
    })
}

impl Store for SqliteStore {
    async fn upsert_tenant(&self, t: &TenantRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenants (id, user_name, token_name, role, status, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT(id) DO UPDATE SET user_name = excluded.user_name, \
             token_name = excluded.token_name, role = excluded.role, status = excluded.status, \
             updated_at = excluded.updated_at",
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
        let row = sqlx::query("SELECT * FROM tenants WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(tenant_row).transpose()?)
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM tenants ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(tenant_row).collect::<Result<_, _>>()?)
    }

    async fn set_tenant_status(&self, id: &str, status: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET status = ?, updated_at = ? WHERE id = ?")
            .bind(status)
            .bind(stamp())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR REPLACE INTO tokens (tenant, name, role, expires_at, secret_sha256, sink, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        let rows = sqlx::query("SELECT * FROM tokens WHERE tenant = ? ORDER BY name")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TokenRecord {
                    tenant: row.try_get("tenant")?,
                    name: row.try_get("name")?,
                    role: row.try_get("role")?,
                    expires_at: row.try_get("expires_at")?,
                    secret_sha256: row.try_get("secret_sha256")?,
                    sink: row.try_get("sink")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    async fn delete_tokens(&self, tenant: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM tokens WHERE tenant = ?")
            .bind(tenant)
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
        // One INSERT of all rows (one statement, one commit); their seqs are assigned in the
        // order of the VALUES rows.
        let now = stamp();
        let request_id = request_id.to_string();
        let rows = vec!["(?, ?, ?, ?, 'pending', ?, ?)"; entries.len()].join(", ");
        let sql = format!(
            "INSERT INTO journal (tenant, kind, request_id, statement, state, created_at, updated_at) \
             VALUES {rows} RETURNING seq"
        );
        let mut query = sqlx::query(&sql);
        for (kind, statement) in entries {
            query = query
                .bind(tenant)
                .bind(*kind)
                .bind(&request_id)
                .bind(*statement)
                .bind(&now)
                .bind(&now);
        }
        let mut seqs = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>("seq"))
            .collect::<Result<Vec<i64>, sqlx::Error>>()?;
        seqs.sort_unstable();
        Ok(seqs)
    }

    async fn journal_finish_batch(
        &self,
        seqs: &[i64],
        state: JournalState,
    ) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let marks = vec!["?"; seqs.len()].join(", ");
        let sql = format!("UPDATE journal SET state = ?, updated_at = ? WHERE seq IN ({marks})");
        let mut query = sqlx::query(&sql).bind(state.as_str()).bind(stamp());
        for seq in seqs {
            query = query.bind(seq);
        }
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn exchange_try_lock(
        &self,
        key: &str,
        holder: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        // One statement: insert, or take over when the row is ours or its lease ran out.
        let done = sqlx::query(
            "INSERT INTO exchange_locks (lock_key, holder, lease_until) VALUES (?, ?, ?) \
             ON CONFLICT(lock_key) DO UPDATE SET holder = excluded.holder, \
             lease_until = excluded.lease_until \
             WHERE exchange_locks.holder = excluded.holder OR exchange_locks.lease_until < ?",
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
        sqlx::query("DELETE FROM exchange_locks WHERE lock_key = ? AND holder = ?")
            .bind(key)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_exchange_token(&self, t: &ExchangeTokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR REPLACE INTO exchange_tokens (user_name, token_name, role, policy, mode, \
             minted_at, expires_at, secret_sha256, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            sqlx::query("SELECT * FROM exchange_tokens WHERE user_name = ? AND token_name = ?")
                .bind(user)
                .bind(token_name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.as_ref().map(exchange_token_row).transpose()?)
    }

    async fn exchange_tokens(&self) -> Result<Vec<ExchangeTokenRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM exchange_tokens ORDER BY user_name, token_name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(exchange_token_row)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_exchange_token(&self, user: &str, token_name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM exchange_tokens WHERE user_name = ? AND token_name = ?")
            .bind(user)
            .bind(token_name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn schedule_removal(&self, r: &RemovalRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR REPLACE INTO exchange_removals (user_name, object_name, deadline, mode, \
             state, updated_at) VALUES (?, ?, ?, ?, 'pending', ?)",
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
            "UPDATE exchange_removals SET object_name = ?, updated_at = ? \
             WHERE user_name = ? AND object_name = ? AND state = 'pending'",
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
            "SELECT * FROM exchange_removals WHERE state = 'pending' AND deadline <= ? \
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
            "UPDATE exchange_removals SET state = 'done', updated_at = ? \
             WHERE user_name = ? AND object_name = ?",
        )
        .bind(stamp())
        .bind(user)
        .bind(object_name)
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
        let now = stamp();
        let done = sqlx::query(
            "INSERT INTO journal (tenant, kind, request_id, statement, state, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        )
        .bind(tenant)
        .bind(kind)
        .bind(request_id.to_string())
        .bind(statement)
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(done.last_insert_rowid())
    }

    async fn journal_finish(&self, seq: i64, state: JournalState) -> Result<(), StoreError> {
        sqlx::query("UPDATE journal SET state = ?, updated_at = ? WHERE seq = ?")
            .bind(state.as_str())
            .bind(stamp())
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn journal(&self, tenant: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM journal WHERE tenant = ? ORDER BY seq")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let request_id: String = row.try_get("request_id")?;
                let state: String = row.try_get("state")?;
                Ok(JournalEntry {
                    seq: row.try_get("seq")?,
                    tenant: row.try_get("tenant")?,
                    kind: row.try_get("kind")?,
                    request_id: uuid::Uuid::parse_str(&request_id)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    statement: row.try_get("statement")?,
                    state: JournalState::parse(&state),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
