//! The store backends the shared test suite runs against: SQLite in a temp dir, and PostgreSQL
//! from `SNOWPAT_TEST_POSTGRES_URL` or, when that is unset, a throwaway cluster this test process
//! starts itself (`initdb` + `pg_ctl` on a Unix socket in a temp dir, run as `postgres` when the
//! tests run as root) and that a watchdog stops and deletes once the process exits. Each test gets
//! its own schema, so tests run in parallel on one database. Without PostgreSQL the PostgreSQL
//! tests are skipped with a message, except under `CI=true`, where they fail.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;

use snowpat_core::store::{PgStore, SqliteStore, Store};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Connection;
use tempfile::TempDir;

/// A database a test may open several handles (separate pools: separate processes' view) on.
#[allow(async_fn_in_trait)]
pub trait Backend: Send + Sync + 'static {
    type S: Store + Clone;
    /// `sqlite` or `postgres`.
    const NAME: &'static str;
    /// Whether two processes may open a fresh database at the same instant. sqlx's SQLite
    /// migrator takes no lock, so the second of two simultaneous first opens fails with
    /// `UNIQUE constraint failed: _sqlx_migrations.version` (a reopen then succeeds); the
    /// PostgreSQL migrator holds an advisory lock.
    const CONCURRENT_FIRST_OPEN: bool;
    /// A new handle (its own connection pool, migrations run again) onto the same database.
    async fn open(&self) -> Self::S;
    /// The migration versions recorded as applied, in order.
    async fn applied_migrations(&self) -> Vec<i64>;
    /// The migration directory this backend embeds.
    fn migrations_dir(&self) -> PathBuf;
    /// A `--store` URL naming this database.
    fn url(&self) -> String;
}

pub struct Sqlite {
    dir: TempDir,
}

pub fn sqlite() -> Sqlite {
    Sqlite {
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

impl Sqlite {
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }
}

impl Backend for Sqlite {
    type S = SqliteStore;
    const NAME: &'static str = "sqlite";
    const CONCURRENT_FIRST_OPEN: bool = false;

    async fn open(&self) -> SqliteStore {
        SqliteStore::open_path(&self.path())
            .await
            .expect("open sqlite store")
    }

    async fn applied_migrations(&self) -> Vec<i64> {
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite:{}", self.path().display()))
                .await
                .expect("sqlite connection");
        let versions = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&mut conn)
        .await
        .expect("migrations table");
        let _ = conn.close().await;
        versions
    }

    fn migrations_dir(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
    }

    fn url(&self) -> String {
        format!("sqlite:{}", self.path().display())
    }
}

pub struct Postgres {
    options: PgConnectOptions,
    base_url: &'static str,
    pub schema: String,
}

impl Postgres {
    /// Connect options with this test's schema first on the search path.
    pub fn options(&self) -> PgConnectOptions {
        self.options
            .clone()
            .options([("search_path", self.schema.as_str())])
    }
}

impl Backend for Postgres {
    type S = PgStore;
    const NAME: &'static str = "postgres";
    const CONCURRENT_FIRST_OPEN: bool = true;

    async fn open(&self) -> PgStore {
        PgStore::open_with(self.options())
            .await
            .expect("open postgres store")
    }

    async fn applied_migrations(&self) -> Vec<i64> {
        let mut conn = sqlx::PgConnection::connect_with(&self.options())
            .await
            .expect("postgres connection");
        let versions = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&mut conn)
        .await
        .expect("migrations table");
        let _ = conn.close().await;
        versions
    }

    fn migrations_dir(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres")
    }

    fn url(&self) -> String {
        let separator = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.base_url, self.schema
        )
    }
}

/// A fresh schema on the test PostgreSQL, or None (skipped, with a message) when there is none
/// and `CI` is not `true`.
pub async fn postgres() -> Option<Postgres> {
    let url = match server() {
        Ok(url) => url,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and no PostgreSQL for the store tests: {why}");
            }
            eprintln!("skipping a PostgreSQL store test: {why}");
            return None;
        }
    };
    let options = PgConnectOptions::from_str(url).expect("SNOWPAT_TEST_POSTGRES_URL parses");
    let schema = format!("snowpat_test_{}", uuid::Uuid::new_v4().simple());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&admin)
        .await
        .expect("create the test schema");
    admin.close().await;
    Some(Postgres {
        options,
        base_url: url,
        schema,
    })
}

/// The test PostgreSQL's URL: `SNOWPAT_TEST_POSTGRES_URL`, or a cluster started once per test
/// process.
fn server() -> Result<&'static str, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| match std::env::var("SNOWPAT_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Ok(url),
            _ => start_cluster(),
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// The directory holding `initdb` and `pg_ctl`: on PATH, or the newest /usr/lib/postgresql/*/bin.
fn bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// `program args...`, as the `postgres` OS user when running as root (PostgreSQL refuses root).
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn start_cluster() -> Result<String, String> {
    let bin = bin_dir().ok_or(
        "SNOWPAT_TEST_POSTGRES_URL is unset and no initdb/pg_ctl was found (install PostgreSQL)",
    )?;
    let root = rustix::process::geteuid().is_root();
    // Under /tmp, not $TMPDIR: the `postgres` user must reach it, and a socket path has at most
    // 107 bytes.
    let dir = tempfile::Builder::new()
        .prefix("snowpat-pg-")
        .tempdir_in("/tmp")
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    if root {
        let uid = uid_of("postgres")
            .ok_or("running as root and there is no `postgres` user to own the test cluster")?;
        std::os::unix::fs::chown(&dir, Some(uid), None).map_err(|e| format!("chown: {e}"))?;
    }
    let data = dir.join("data");
    let log = dir.join("log");
    let quiet = |mut c: Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut initdb = quiet(as_owner(root, &bin.join("initdb")));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "snowpat", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    let status = initdb.status().map_err(|e| format!("initdb: {e}"))?;
    if !status.success() {
        return Err(format!("initdb failed ({status})"));
    }
    let mut pg_ctl = quiet(as_owner(root, &bin.join("pg_ctl")));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .arg("-w")
        .arg("-o")
        .arg(format!(
            "-c listen_addresses='' -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=500",
            dir.display()
        ))
        .arg("start");
    let status = pg_ctl.status().map_err(|e| format!("pg_ctl: {e}"))?;
    if !status.success() {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!("pg_ctl start failed ({status}): {log}"));
    }
    watchdog(root, &bin, &dir);
    Ok(format!(
        "postgres://snowpat@localhost/postgres?host={}",
        dir.display()
    ))
}

/// Stops the cluster and deletes its directory once this test process has exited.
fn watchdog(root: bool, bin: &Path, dir: &Path) {
    let pg_ctl = bin.join("pg_ctl");
    let stop = format!(
        "{}'{}' -D '{}/data' -m immediate stop",
        if root { "runuser -u postgres -- " } else { "" },
        pg_ctl.display(),
        dir.display()
    );
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop}; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn uid_of(user: &str) -> Option<u32> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == user).then_some(())?;
        fields.nth(1)?.parse::<u32>().ok()
    })
}
