//! Statements per second through snowpat-client against the in-process emulator, at concurrency
//! 1, 8 and 64, one statement per request and batched in multi-statement requests
//! (protocols §2.6), with no added latency and with `--latency-ms 20` (a nearby region).
//!
//! The workload is `SELECT CURRENT_USER()`: it leaves the account as it was, so the figures
//! measure the request path (auth, JSON, HTTP, retries bookkeeping) and not the emulator's cost
//! of a growing catalog. "Batched" sends ten statements per multi-statement request and reads the
//! parent answer only (children stay fetchable by handle).
//!
//! Run: `cargo bench -p snowpat-client --bench statements --profile dev` (debug, as this machine
//! asks), or `cargo bench -p snowpat-client --bench statements` for release figures. Arguments:
//! `--quick` runs fewer statements.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use secrecy::SecretString;
use snowpat_client::{BaseUrl, Client, Credential, RetryPolicy, Statement};
use snowpat_emulator::server::{self, Config};

const BATCH: usize = 10;

struct Run {
    latency_ms: u64,
    concurrency: usize,
    batched: bool,
    statements: usize,
}

async fn measure(run: &Run) -> Result<f64, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let config = Config {
        admin_token_file: Some(dir.path().join("admin.token")),
        latency_ms: run.latency_ms,
        ..Config::default()
    };
    let running = server::spawn(config).await?;
    let token = std::fs::read_to_string(dir.path().join("admin.token"))?;
    let client = Client::builder(
        BaseUrl::parse(&running.url())?,
        Credential::pat(SecretString::from(token.trim())),
    )
    .retry(RetryPolicy::with_max_attempts(20))
    .build()?;

    let names: Vec<String> = (0..run.statements)
        .map(|_| "SELECT CURRENT_USER()".to_owned())
        .collect();
    let requests: Vec<Statement> = if run.batched {
        names.chunks(BATCH).map(Statement::multi).collect()
    } else {
        names.iter().map(Statement::new).collect()
    };
    let started = Instant::now();
    let results = client.execute_all(requests, run.concurrency).await;
    let elapsed = started.elapsed();
    for result in results {
        result?;
    }
    running.shutdown().await;
    Ok(rate(run.statements, elapsed))
}

#[allow(clippy::cast_precision_loss, reason = "statement counts are small")]
fn rate(statements: usize, elapsed: Duration) -> f64 {
    statements as f64 / elapsed.as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 1 } else { 4 };
    println!(
        "snowpat-client statements/s against the in-process emulator ({} build), batches of {BATCH}",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!("| latency | concurrency | single statements/s | batched statements/s |");
    println!("|---:|---:|---:|---:|");
    for latency_ms in [0, 20] {
        for concurrency in [1, 8, 64] {
            // Fewer statements when each request waits out the latency one at a time.
            let statements = match (latency_ms, concurrency) {
                (0, _) => 250 * scale,
                (_, 1) => 50 * scale,
                _ => 200 * scale,
            };
            let single = measure(&Run {
                latency_ms,
                concurrency,
                batched: false,
                statements,
            })
            .await?;
            let batched = measure(&Run {
                latency_ms,
                concurrency,
                batched: true,
                statements,
            })
            .await?;
            println!("| {latency_ms} ms | {concurrency} | {single:.0} | {batched:.0} |");
        }
    }
    Ok(())
}
