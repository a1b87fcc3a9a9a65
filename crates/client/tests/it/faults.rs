//! The proof: 1,000 PAT-creating statements against an emulator with
//! `--fault-rate 0.3 --drop-rate 0.2` (seeds 1, 2, 3; attempt cap 20). Every ADD runs exactly once
//! (protocols §2.8: fresh `requestId`, `retry=true` on each retry), every secret authenticates as
//! its user, and no call fails.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use secrecy::SecretString;
use serde_json::Value;
use snowpat_client::{AimdLimiter, Credential, Statement};
use tokio::sync::Semaphore;

use crate::harness::{submissions, Emu};

const USERS: usize = 67;
const TOKENS: usize = 1000;

async fn thousand_pats_under_faults(seed: u64) {
    let emu = Emu::start_with(|c| {
        c.fault_rate = 0.3;
        c.drop_rate = 0.2;
        c.seed = seed;
    })
    .await;
    let admin = emu.admin().build().unwrap();
    let started = Instant::now();

    // Setup: a role, 67 service users granted it (the account's loopback network policy lets
    // SERVICE users hold PATs, snowflake-behaviour §6.5).
    admin
        .execute(&Statement::new("CREATE ROLE PAT_ROLE"))
        .await
        .unwrap();
    let setup: Vec<Statement> = (0..USERS)
        .map(|u| {
            Statement::multi([
                format!("CREATE USER SVC_{u:03} TYPE = SERVICE"),
                format!("GRANT ROLE PAT_ROLE TO USER SVC_{u:03}"),
            ])
        })
        .collect();
    for result in admin.execute_all(setup, 16).await {
        result.unwrap();
    }

    let setup_time = started.elapsed();
    // 1,000 ADDs: T0..T14 per user (the 15-token limit).
    let mark = emu.log_mark().await;
    let plan: Vec<(String, String)> = (0..TOKENS)
        .map(|i| (format!("SVC_{:03}", i / 15), format!("T{}", i % 15)))
        .collect();
    let statements = plan
        .iter()
        .map(|(user, token)| {
            Statement::new(format!(
                "ALTER USER {user} ADD PAT {token} ROLE_RESTRICTION = 'PAT_ROLE' DAYS_TO_EXPIRY = 30"
            ))
        })
        .collect();
    let results = admin.execute_all(statements, 64).await;
    let mut minted: Vec<(String, SecretString)> = Vec::new();
    let mut echoed = 0_usize;
    for ((user, token), result) in plan.iter().zip(results) {
        let result = result.unwrap_or_else(|e| panic!("ADD {user}.{token} failed: {e}"));
        let row = result.first().expect("one row");
        assert_eq!(&row.get::<String>("token_name").unwrap(), token);
        minted.push((user.clone(), row.secret("token_secret").unwrap()));
        echoed += usize::from(result.request_id().is_some());
    }
    assert_eq!(echoed, TOKENS, "every answer echoes its requestId");

    let add_time = started.elapsed() - setup_time;
    // The request log: exactly 1,000 executed ADDs, each requestId executed once; retries and
    // recovered drops happened.
    let lines = emu.log(mark).await;
    let adds: Vec<&Value> = lines
        .iter()
        .filter(|l| l["statement_kind"] == "ALTER USER ADD PAT" && l["executed"] == true)
        .collect();
    assert_eq!(adds.len(), TOKENS, "executed ADDs");
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for line in &adds {
        *per_id
            .entry(line["request_id"].as_str().expect("requestId"))
            .or_default() += 1;
    }
    assert_eq!(per_id.len(), TOKENS, "one requestId per statement");
    assert!(per_id.values().all(|n| *n == 1), "no statement ran twice");
    let retries = submissions(&lines)
        .iter()
        .filter(|l| l["retry"] == true)
        .count();
    let executed_ids: HashSet<&str> = per_id.keys().copied().collect();
    let recovered: HashSet<&str> = submissions(&lines)
        .iter()
        .filter(|l| l["retry"] == true && l["executed"] == false && l["status"] == 200)
        .filter_map(|l| l["request_id"].as_str())
        .filter(|id| executed_ids.contains(id))
        .collect();
    let faulted = lines
        .iter()
        .filter(|l| l["status"] == 429 || l["status"] == 503)
        .count();
    assert!(retries > 0, "retries happened");
    assert!(faulted > 0, "faults happened");
    assert!(
        !recovered.is_empty(),
        "dropped ADDs were recovered by replay"
    );

    // Every secret authenticates as its user (also under faults).
    let gate = Arc::new(Semaphore::new(64));
    let mut checks = tokio::task::JoinSet::new();
    for (user, secret) in minted {
        let client = admin.with_credential(Credential::pat(secret));
        let gate = Arc::clone(&gate);
        checks.spawn(async move {
            let _slot = gate.acquire_owned().await;
            let result = client
                .execute(&Statement::new("SELECT CURRENT_USER()"))
                .await
                .unwrap_or_else(|e| panic!("{user}'s token: {e}"));
            let who: String = result.rows()[0].get("CURRENT_USER()").unwrap();
            assert_eq!(who, user);
        });
    }
    let mut checked = 0;
    while let Some(joined) = checks.join_next().await {
        joined.unwrap();
        checked += 1;
    }
    assert_eq!(checked, TOKENS);
    eprintln!(
        "seed {seed}: {TOKENS} ADDs + {TOKENS} checks in {:.1}s (setup {:.1}s, ADDs {:.1}s); \
         {retries} retried submissions, {} recovered drops, {faulted} faults",
        started.elapsed().as_secs_f64(),
        setup_time.as_secs_f64(),
        add_time.as_secs_f64(),
        recovered.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocols_2_8_thousand_pats_under_faults_seed_1() {
    thousand_pats_under_faults(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocols_2_8_thousand_pats_under_faults_seed_2() {
    thousand_pats_under_faults(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocols_2_8_thousand_pats_under_faults_seed_3() {
    thousand_pats_under_faults(3).await;
}

/// A bulk caller with an AIMD limiter: 429s shrink the limit, successes grow it, nothing fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocols_9_adaptive_concurrency_backs_off_on_429() {
    let emu = Emu::start_with(|c| {
        c.fault_rate = 0.3;
        c.seed = 5;
    })
    .await;
    let limiter = AimdLimiter::new(32, 1, 64);
    let admin = emu.admin().limiter(Arc::clone(&limiter)).build().unwrap();
    let statements = (0..200)
        .map(|i| Statement::new(format!("CREATE ROLE AIMD_{i:03}")))
        .collect();
    for result in admin.execute_all(statements, 64).await {
        result.unwrap();
    }
    assert!(limiter.overloads() > 0, "429s were seen");
    assert!(
        limiter.limit() < 32,
        "the limit came down from 32: {}",
        limiter.limit()
    );
    assert_eq!(limiter.in_flight(), 0, "every permit was returned");
    let shown = admin
        .execute(&Statement::new("SHOW ROLES LIKE 'AIMD_%'"))
        .await
        .unwrap();
    assert_eq!(shown.len(), 200);
}
