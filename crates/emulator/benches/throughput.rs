//! SQL API throughput and latency of the emulator over loopback (prints figures; no harness).
//!
//! A realistic provisioning mix per unit of work — CREATE USER, GRANT ROLE, ALTER USER ADD PAT,
//! SHOW USER PATS, SELECT CURRENT_ROLE() — at concurrency 1 and 32, then single-statement latency
//! (p50/p99) of SELECT CURRENT_ROLE(). A last phase provisions a large account (2,000 users with
//! PATs, or `SNOWPAT_BENCH_USERS`) and measures the same figures on top of it: a statement must
//! cost about the same there as on a fresh account.
//!
//!     cargo bench -p snowpat-emulator --bench throughput [--profile dev]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use snowpat_emulator::server::{self, Config};

struct Bench {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Bench {
    async fn sql(&self, statement: &str) {
        let response = self
            .client
            .post(format!("{}/api/v2/statements", self.url))
            .bearer_auth(&self.token)
            .header(
                "X-Snowflake-Authorization-Token-Type",
                "PROGRAMMATIC_ACCESS_TOKEN",
            )
            .json(&json!({ "statement": statement }))
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert!(status.is_success(), "{statement}: {status} {body}");
    }

    /// One unit of the mix: five statements.
    async fn mix(&self, name: &str) {
        self.sql(&format!("CREATE USER {name} TYPE = PERSON")).await;
        self.sql(&format!("GRANT ROLE BENCH_ROLE TO USER {name}"))
            .await;
        self.sql(&format!(
            "ALTER USER {name} ADD PAT {name}_PAT ROLE_RESTRICTION = 'BENCH_ROLE' DAYS_TO_EXPIRY = 30"
        ))
        .await;
        self.sql(&format!("SHOW USER PATS FOR USER {name}")).await;
        self.sql("SELECT CURRENT_ROLE()").await;
    }
}

async fn throughput(bench: &Arc<Bench>, concurrency: usize, units_per_task: usize, tag: &str) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let bench = bench.clone();
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            for u in 0..units_per_task {
                bench.mix(&format!("BENCH_{tag}_{t}_{u}")).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let elapsed = start.elapsed();
    let statements = concurrency * units_per_task * 5;
    if tag == "WARM" {
        return;
    }
    let on = if tag.starts_with("ON_") {
        " on the large account"
    } else {
        ""
    };
    println!(
        "mix, concurrency {concurrency:>2}: {statements:>5} statements ({} users{on}) in {:>6.2} s = {:>7.1} statements/s",
        concurrency * units_per_task,
        elapsed.as_secs_f64(),
        statements as f64 / elapsed.as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Sequential single-statement latency.
async fn latency(bench: &Bench, label: &str) {
    let mut samples = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let start = Instant::now();
        bench.sql("SELECT CURRENT_ROLE()").await;
        samples.push(start.elapsed());
    }
    samples.sort();
    println!(
        "SELECT CURRENT_ROLE(), sequential, {label}: p50 {:.3} ms, p99 {:.3} ms ({} samples)",
        percentile(&samples, 0.50).as_secs_f64() * 1000.0,
        percentile(&samples, 0.99).as_secs_f64() * 1000.0,
        samples.len()
    );
}

/// A fresh emulator (so every phase starts from the same account size) and a client.
async fn fresh() -> (Arc<Bench>, server::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        admin_token_file: Some(dir.path().join("admin.token")),
        ..Config::default()
    };
    let running = server::spawn(config).await.expect("emulator");
    let token = std::fs::read_to_string(dir.path().join("admin.token")).expect("token");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let bench = Arc::new(Bench {
        client,
        url: running.url(),
        token,
    });
    bench.sql("CREATE ROLE BENCH_ROLE").await;
    (bench, running, dir)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!(
            "snowpat-emulator SQL API over loopback; each phase on a fresh account; \
             mix = CREATE USER, GRANT ROLE, ADD PAT, SHOW USER PATS, SELECT CURRENT_ROLE()"
        );
        let (bench, running, _dir) = fresh().await;
        latency(&bench, "fresh account").await;
        throughput(&bench, 1, 5, "WARM").await;
        running.shutdown().await;
        for (concurrency, units) in [(1, 64), (32, 2), (1, 320), (32, 10)] {
            let (bench, running, _dir) = fresh().await;
            throughput(&bench, concurrency, units, "RUN").await;
            if concurrency == 32 && units == 10 {
                latency(&bench, "after 320 users with PATs").await;
            }
            running.shutdown().await;
        }
        // A large account: provision, then the same figures on top of it.
        let users: usize = std::env::var("SNOWPAT_BENCH_USERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000);
        let (bench, running, _dir) = fresh().await;
        throughput(&bench, 32, users.div_ceil(32), "BIG").await;
        let label = format!("after {} users with PATs", users.div_ceil(32) * 32);
        latency(&bench, &label).await;
        throughput(&bench, 1, 64, "ON_BIG").await;
        throughput(&bench, 32, 2, "ON_BIG32").await;
        running.shutdown().await;
    });
}
