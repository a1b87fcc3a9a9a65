//! Crash safety of `snowpat tenant provision` (issue 5, "Must show"; protocols §2.8 idempotent
//! resubmission; `interfaces.md` lifecycle and exit codes).
//!
//! For each crash point of `snowpat_core::tenants::crash`, the real `snowpat` binary (the tests'
//! build carries the `test-hooks` feature) provisions 200 tenants from a file with concurrency
//! against an in-process emulator and a SQLite store file, and `SNOWPAT_CRASH_AT=POINT:137`
//! aborts it at the 137th time a task reaches the point, with many other tenants in flight. Then:
//! the run died (SIGABRT); reruns converge within two; a further run mints nothing; every tenant
//! has exactly one live PAT, whose secret is in its file sink (0600), matches the store's
//! SHA-256 and authenticates as the tenant's user; the account's deployment users are exactly
//! the store's tenants; every ADD/ROTATE the emulator executed was journaled before it was sent,
//! and every token it minted is either the live one whose secret we hold or no longer live.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Instant;

use common::{stderr, stdout, Emulator};
use secrecy::SecretString;
use serde_json::{json, Value};
use snowpat_core::store::{JournalState, SqliteStore, Store};
use snowpat_core::tenants::crash::Point;
use snowpat_core::tenants::secret_sha256;

const TENANTS: usize = 200;
const CRASH_HIT: u64 = 137;
const CONCURRENCY: &str = "32";

struct Work {
    emu: Emulator,
    dir: tempfile::TempDir,
    /// The automation identity (it owns the deployment users, so it is the one that sees their
    /// PATs).
    automation: snowpat_client::Client,
}

impl Work {
    /// `bootstrap multi-tenant --apply` as ADMIN (key-pair automation identity, network policy
    /// allowing loopback), then a snowpat.toml naming the automation identity it printed.
    fn start() -> Self {
        let emu = Emulator::start();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let blueprint = "[blueprint.multi-tenant]\nallowed_cidrs = [\"127.0.0.1/32\"]\n";
        std::fs::write(dir.path().join("snowpat.toml"), blueprint).unwrap();
        let key = format!("file:{}", dir.path().join("automation.p8").display());
        let out = emu.snowpat(
            dir.path(),
            &["bootstrap", "multi-tenant", "--apply", "--sink", &key],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let snippet = &text[text.find("[connection]").expect("a [connection] snippet")..];
        std::fs::write(
            dir.path().join("snowpat.toml"),
            format!("{snippet}\n{blueprint}"),
        )
        .unwrap();
        let ids: Vec<String> = (0..TENANTS).map(|i| format!("t{i:03}")).collect();
        std::fs::write(dir.path().join("tenants.txt"), ids.join("\n")).unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
        let key = snowpat_client::KeyPair::from_file(
            "EMULATOR",
            "AUTOMATION_USER",
            &dir.path().join("automation.p8"),
        )
        .unwrap();
        let automation = snowpat_client::Client::builder(
            snowpat_client::BaseUrl::parse(&emu.url).unwrap(),
            snowpat_client::Credential::KeyPair(key),
        )
        .role("AUTOMATION_ROLE")
        .build()
        .unwrap();
        Self {
            emu,
            dir,
            automation,
        }
    }

    fn store_path(&self) -> PathBuf {
        self.dir.path().join("state/snowpat.db")
    }

    fn secret_file(&self, tenant: &str) -> PathBuf {
        self.dir.path().join(format!("secrets/{tenant}.token"))
    }

    /// `snowpat --output json tenant provision --from tenants.txt` as the automation identity.
    fn provision(&self, crash_at: Option<&str>) -> Output {
        let sink = format!("file:{}/secrets/{{id}}.token", self.dir.path().display());
        self.snowpat(
            &[
                "tenant",
                "provision",
                "--from",
                "tenants.txt",
                "--sink",
                &sink,
                "--concurrency",
                CONCURRENCY,
            ],
            crash_at,
        )
    }

    /// `snowpat --store ... --output json ARGS` as the automation identity (snowpat.toml).
    fn snowpat(&self, args: &[&str], crash_at: Option<&str>) -> Output {
        let store = format!("sqlite:{}", self.store_path().display());
        let mut command = Command::new(env!("CARGO_BIN_EXE_snowpat"));
        command
            .args(["--store", &store, "--output", "json"])
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path());
        if let Some(at) = crash_at {
            command.env("SNOWPAT_CRASH_AT", at);
        }
        command.output().unwrap()
    }

    /// Moves the emulator's account clock forward (control API).
    fn advance_clock(&self, seconds: i64) {
        let control = std::fs::read_to_string(self.emu.path("control.token")).unwrap();
        let status = self.emu.runtime.block_on(async {
            reqwest::Client::new()
                .post(format!("{}/emulator/v1/clock", self.emu.url))
                .bearer_auth(control.trim())
                .json(&json!({ "advance_seconds": seconds }))
                .send()
                .await
                .unwrap()
                .status()
        });
        assert_eq!(status.as_u16(), 200);
    }

    /// One statement as ADMIN, its rows keyed by column name.
    fn admin_rows(&self, sql: &str) -> Vec<HashMap<String, Value>> {
        let body = self.emu.admin_sql(sql);
        let names: Vec<String> = body["resultSetMetaData"]["rowType"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_ascii_lowercase())
            .collect();
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                names
                    .iter()
                    .cloned()
                    .zip(row.as_array().unwrap().iter().cloned())
                    .collect()
            })
            .collect()
    }

    /// `SHOW USER PATS FOR USER u` as the automation identity: (name, status) pairs.
    fn pats(&self, user: &str) -> Vec<(String, String)> {
        let statement = snowpat_client::Statement::new(format!("SHOW USER PATS FOR USER {user}"));
        let result = self
            .emu
            .runtime
            .block_on(self.automation.execute(&statement))
            .unwrap();
        result
            .rows()
            .iter()
            .map(|r| (r.get("name").unwrap(), r.get("status").unwrap()))
            .collect()
    }

    /// `SELECT CURRENT_USER()` with a PAT secret: the user, or the HTTP status and code.
    fn whoami(&self, secret: &str) -> Result<String, (u16, String)> {
        self.emu.runtime.block_on(async {
            let r = reqwest::Client::new()
                .post(format!("{}/api/v2/statements", self.emu.url))
                .bearer_auth(secret)
                .header(
                    "X-Snowflake-Authorization-Token-Type",
                    "PROGRAMMATIC_ACCESS_TOKEN",
                )
                .json(&json!({"statement": "SELECT CURRENT_USER()"}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            if status == 200 {
                Ok(body["data"][0][0].as_str().unwrap_or_default().to_owned())
            } else {
                Err((status, body["code"].as_str().unwrap_or_default().to_owned()))
            }
        })
    }
}

/// What one crash point's run came to.
#[derive(Debug)]
struct Figures {
    point: &'static str,
    reruns: usize,
    /// ADD/ROTATE statements journaled but not completed when the process died.
    pending_at_crash: usize,
    /// ADD/ROTATE executions the emulator logged, over the crashed run and the reruns.
    executed_mints: usize,
    /// Resubmissions (`retry=true`) answered with the stored result: the same secret again.
    replays: usize,
    /// Resubmissions that executed because the original never reached the emulator.
    fresh_resubmissions: usize,
    recovered: usize,
    reminted: usize,
    orphans: usize,
    seconds: f64,
}

fn actions(output: &Output) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in stdout(output).lines() {
        let value: Value = serde_json::from_str(line).expect("a JSON line");
        let action = value["action"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| "error".to_owned());
        *counts.entry(action).or_insert(0) += 1;
    }
    counts
}

fn is_mint(line: &Value) -> bool {
    matches!(
        line["statement_kind"].as_str(),
        Some("ALTER USER ADD PAT" | "ALTER USER ROTATE PAT")
    )
}

fn crash_and_converge(point: Point) -> Figures {
    let started = Instant::now();
    let work = Work::start();
    let before = work.emu.last_seq();

    // The run dies where it was told to, with tenants left in flight.
    let at = format!("{}:{CRASH_HIT}", point.name());
    let crashed = work.provision(Some(&at));
    assert_eq!(
        crashed.status.signal(),
        Some(6),
        "{at}: the run must abort (SIGABRT); status {:?}\n{}",
        crashed.status,
        stderr(&crashed)
    );
    assert!(
        stderr(&crashed).contains(&format!("test-hooks crash at {}", point.name())),
        "{}",
        stderr(&crashed)
    );
    let minted_before_rerun = work.emu.log(before).iter().filter(|l| is_mint(l)).count();
    // Requests other tasks had started may have died with the process before reaching it.
    assert!(
        minted_before_rerun > 0 && minted_before_rerun < TENANTS,
        "{at}: the crash came mid-run ({minted_before_rerun} mints received)"
    );

    let runtime = &work.emu.runtime;
    let store = Arc::new(
        runtime
            .block_on(SqliteStore::open(&format!(
                "sqlite:{}",
                work.store_path().display()
            )))
            .unwrap(),
    );
    let mut pending_at_crash = 0;
    for tenant in runtime.block_on(store.tenants()).unwrap() {
        pending_at_crash += runtime
            .block_on(store.journal(&tenant.id))
            .unwrap()
            .iter()
            .filter(|e| e.state == JournalState::Pending && e.statement.is_some())
            .count();
    }
    assert!(
        pending_at_crash > 0,
        "{at}: no token statement was in flight"
    );

    // Reruns converge within two.
    let mut reruns = 0;
    let mut recovered = 0;
    let mut reminted = 0;
    loop {
        reruns += 1;
        let rerun = work.provision(None);
        let counts = actions(&rerun);
        recovered += counts.get("recovered").copied().unwrap_or(0);
        reminted += counts.get("reminted").copied().unwrap_or(0);
        if rerun.status.success() {
            assert_eq!(counts.values().sum::<usize>(), TENANTS, "{counts:?}");
            break;
        }
        assert!(
            reruns < 2,
            "{at}: no convergence after two reruns: {:?} {counts:?}\n{}",
            rerun.status,
            stderr(&rerun)
        );
    }
    assert!(
        recovered > 0,
        "{at}: the crashed tenants' secrets came back by resubmission"
    );

    // Converged means a further run changes no token.
    let mark = work.emu.last_seq();
    let again = work.provision(None);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        actions(&again),
        BTreeMap::from([("unchanged".to_owned(), TENANTS)])
    );
    assert!(
        !work
            .emu
            .log(mark)
            .iter()
            .any(|l| is_mint(l) && l["executed"] == json!(true)),
        "{at}: the converged run minted a token"
    );

    // The account: deployment users are exactly the store's tenants.
    let tenants = runtime.block_on(store.tenants()).unwrap();
    assert_eq!(tenants.len(), TENANTS);
    let in_store: HashSet<String> = tenants.iter().map(|t| t.user.clone()).collect();
    let in_account: HashSet<String> = work
        .admin_rows("SHOW USERS LIKE 'DEPLOYMENT_%'")
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    let orphans = in_account.difference(&in_store).count();
    assert_eq!(orphans, 0, "{at}: users without a tenant");
    assert_eq!(in_account, in_store, "{at}: tenants without a user");

    // The request log: every executed mint was journaled before it was sent.
    let log = work.emu.log(before);
    let mut journaled: HashSet<String> = HashSet::new();
    let mut journaled_mints: HashSet<String> = HashSet::new();
    let mut pending = 0;
    for tenant in &tenants {
        for entry in runtime.block_on(store.journal(&tenant.id)).unwrap() {
            journaled.insert(entry.request_id.to_string());
            if entry.statement.is_some() {
                journaled_mints.insert(entry.request_id.to_string());
            }
            if entry.state == JournalState::Pending {
                pending += 1;
            }
        }
    }
    let executed: Vec<&Value> = log
        .iter()
        .filter(|l| is_mint(l) && l["executed"] == json!(true))
        .collect();
    for line in &executed {
        let id = line["request_id"].as_str().unwrap_or_default();
        assert!(
            journaled.contains(id),
            "{at}: a token was minted by an unjournaled request: {line}"
        );
    }
    let resubmitted = |l: &&Value| {
        l["retry"] == json!(true)
            && journaled_mints.contains(l["request_id"].as_str().unwrap_or_default())
    };
    let replays = log
        .iter()
        .filter(resubmitted)
        .filter(|l| l["executed"] == json!(false) && l["status"] == json!(200))
        .count();
    let fresh_resubmissions = log
        .iter()
        .filter(resubmitted)
        .filter(|l| l["executed"] == json!(true))
        .count();
    let mut mints_per_user: HashMap<String, usize> = HashMap::new();
    for line in &executed {
        *mints_per_user
            .entry(line["object"].as_str().unwrap_or_default().to_owned())
            .or_insert(0) += 1;
    }

    // Every tenant: one live PAT, its secret in the sink, in the store, and authenticating.
    for tenant in &tenants {
        let pats = work.pats(&tenant.user);
        let live: Vec<&String> = pats
            .iter()
            .filter(|(_, status)| status == "ACTIVE")
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            live,
            [&tenant.token_name],
            "{at}: {}: {pats:?}",
            tenant.user
        );
        // Any other token minted for the user is no longer live (rotated with no grace).
        let minted = mints_per_user.get(&tenant.user).copied().unwrap_or(0);
        assert!(minted >= 1, "{at}: {} has no executed mint", tenant.user);

        let path = work.secret_file(&tenant.id);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
        let secret = std::fs::read_to_string(&path).unwrap();
        let secret = secret.trim_end();
        let records = runtime.block_on(store.tokens(&tenant.id)).unwrap();
        assert_eq!(records.len(), 1, "{at}: {records:?}");
        assert_eq!(
            records[0].secret_sha256,
            secret_sha256(&SecretString::from(secret.to_owned())),
            "{at}: {} store and sink disagree",
            tenant.id
        );
        assert_eq!(work.whoami(secret), Ok(tenant.user.clone()), "{at}");
    }
    // No secret left behind outside its sink: only the 200 token files.
    let files: Vec<String> = std::fs::read_dir(work.dir.path().join("secrets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".token"))
        .collect();
    assert!(files.is_empty(), "{at}: stray files {files:?}");
    assert_eq!(pending, 0, "{at}: journal entries left pending");

    Figures {
        point: point.name(),
        reruns,
        pending_at_crash,
        executed_mints: executed.len(),
        replays,
        fresh_resubmissions,
        recovered,
        reminted,
        orphans,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn report(figures: &Figures) {
    eprintln!(
        "crash figures {}: {:.1}s, {} reruns, {} token statements pending at the crash, {figures:?}",
        figures.point, figures.seconds, figures.reruns, figures.pending_at_crash
    );
    assert!(figures.reruns <= 2, "{figures:?}");
    assert_eq!(figures.orphans, 0, "{figures:?}");
    // Exactly one token per tenant: each crashed ADD came back by resubmission, none was lost.
    assert_eq!(figures.executed_mints, TENANTS, "{figures:?}");
    assert_eq!(figures.reminted, 0, "{figures:?}");
    assert_eq!(
        figures.recovered,
        figures.replays + figures.fresh_resubmissions,
        "{figures:?}"
    );
}

#[test]
fn crash_after_send_converges_with_one_live_known_pat_per_tenant() {
    report(&crash_and_converge(Point::AfterSend));
}

#[test]
fn crash_after_response_converges_with_one_live_known_pat_per_tenant() {
    report(&crash_and_converge(Point::AfterResponse));
}

#[test]
fn crash_after_sink_write_converges_with_one_live_known_pat_per_tenant() {
    report(&crash_and_converge(Point::AfterSinkWrite));
}

#[test]
fn crash_before_journal_commit_converges_with_one_live_known_pat_per_tenant() {
    report(&crash_and_converge(Point::BeforeJournalCommit));
}

/// Rotation passes the same points: `rotate-due` aborted at each, then rerun, rotates every due
/// tenant exactly once and delivers every new secret (the crashed rotation's by resubmission, not
/// by rotating again, which would leave the sink with a secret that dies after its grace).
#[test]
fn crash_during_rotate_due_is_recovered_by_the_rerun_at_every_point() {
    const ROTATING: usize = 30;
    for point in Point::ALL {
        let work = Work::start();
        let ids: Vec<String> = (0..ROTATING).map(|i| format!("r{i:02}")).collect();
        std::fs::write(work.dir.path().join("tenants.txt"), ids.join("\n")).unwrap();
        let sink = format!("file:{}/secrets/{{id}}.token", work.dir.path().display());
        let provision = work.snowpat(
            &[
                "tenant",
                "provision",
                "--from",
                "tenants.txt",
                "--sink",
                &sink,
                "--days",
                "2",
            ],
            None,
        );
        assert!(provision.status.success(), "{}", stderr(&provision));
        // A day on, every token has under 36 hours left.
        work.advance_clock(24 * 3600 + 60);
        let before = work.emu.last_seq();
        let at = format!("{}:10", point.name());
        let crashed = work.snowpat(&["rotate-due", "--within", "36h"], Some(&at));
        assert_eq!(
            crashed.status.signal(),
            Some(6),
            "{at}: {}",
            stderr(&crashed)
        );
        let rerun = work.snowpat(&["rotate-due", "--within", "36h"], None);
        assert!(rerun.status.success(), "{at}: {}", stderr(&rerun));
        let counts = actions(&rerun);
        assert_eq!(counts.get("recovered"), Some(&1), "{at}: {counts:?}");
        assert_eq!(
            counts.get("rotated"),
            Some(&(ROTATING - 10)),
            "{at}: {counts:?}"
        );
        let again = work.snowpat(&["rotate-due", "--within", "36h"], None);
        assert!(again.status.success(), "{at}: {}", stderr(&again));
        assert!(stdout(&again).trim().is_empty(), "{at}: {}", stdout(&again));

        let rotations = work
            .emu
            .log(before)
            .iter()
            .filter(|l| {
                l["statement_kind"] == json!("ALTER USER ROTATE PAT")
                    && l["executed"] == json!(true)
            })
            .count();
        assert_eq!(
            rotations, ROTATING,
            "{at}: each due token rotated exactly once"
        );
        let store = work
            .emu
            .runtime
            .block_on(SqliteStore::open(&format!(
                "sqlite:{}",
                work.store_path().display()
            )))
            .unwrap();
        for tenant in work.emu.runtime.block_on(store.tenants()).unwrap() {
            let secret = std::fs::read_to_string(work.secret_file(&tenant.id)).unwrap();
            let secret = secret.trim_end();
            let records = work.emu.runtime.block_on(store.tokens(&tenant.id)).unwrap();
            assert_eq!(
                records[0].secret_sha256,
                secret_sha256(&SecretString::from(secret.to_owned())),
                "{at}: {}",
                tenant.id
            );
            assert_eq!(work.whoami(secret), Ok(tenant.user.clone()), "{at}");
            // Past the old secret's grace, the sink's secret still works: it is the new one.
            let pats = work.pats(&tenant.user);
            assert!(
                pats.contains(&(tenant.token_name.clone(), "ACTIVE".to_owned())),
                "{at}: {pats:?}"
            );
        }
        work.advance_clock(25 * 3600);
        for id in &ids {
            let secret = std::fs::read_to_string(work.secret_file(&id.to_uppercase())).unwrap();
            assert!(work.whoami(secret.trim_end()).is_ok(), "{at}: {id}");
        }
    }
}

#[test]
fn crash_point_names_parse_and_the_test_build_carries_the_hooks() {
    use snowpat_core::tenants::crash::parse_target;
    for point in Point::ALL {
        assert_eq!(parse_target(point.name()), Some((point, 1)));
        assert_eq!(
            parse_target(&format!("{}:137", point.name())),
            Some((point, 137))
        );
    }
    assert_eq!(parse_target("after_send:0"), None);
    assert_eq!(parse_target("after_lunch:1"), None);
    assert!(snowpat_core::tenants::crash::available());
}

/// The benchmark runner (bench/tenants.sh, not run in CI at its real size) still works end to
/// end: both sides provision 3 tenants on their own emulators and the table comes out.
#[test]
fn bench_runner_smoke_with_three_tenants() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/tenants.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args(["3", "0"])
        .env("SNOWPAT_BIN", env!("CARGO_BIN_EXE_snowpat"))
        .env_remove("SNOWPAT_CRASH_AT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n(the runner needs python3 with requests: pip install -r interop/requirements.txt)",
        stderr(&out)
    );
    let table = stdout(&out);
    for row in ["seed 000 class (python)", "snowpat defaults", "speedup"] {
        assert!(table.contains(row), "{row} in {table}");
    }
}
