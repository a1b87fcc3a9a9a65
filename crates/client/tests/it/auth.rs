//! PAT and key-pair JWT authentication (protocols §1.2, §3) against the emulator.

use std::time::{Duration, Instant};

use snowpat_client::{Client, Credential, KeyPair, Statement};

use crate::harness::{submissions, test_retry, Emu};

async fn with_key() -> Emu {
    Emu::start_with(|c| {
        c.admin_key_file = Some(
            c.admin_token_file
                .clone()
                .unwrap()
                .with_file_name("admin.pem"),
        )
    })
    .await
}

fn key_pair(emu: &Emu) -> KeyPair {
    let path = emu.config.admin_key_file.as_ref().unwrap();
    KeyPair::from_file(&emu.config.account, "admin", path).unwrap()
}

#[tokio::test]
async fn protocols_3_key_pair_and_pat_both_authenticate() {
    let emu = with_key().await;
    let mark = emu.log_mark().await;
    let by_pat = emu.admin().build().unwrap();
    let by_key = Client::builder(emu.base(), Credential::KeyPair(key_pair(&emu)))
        .retry(test_retry())
        .build()
        .unwrap();
    for client in [&by_pat, &by_key] {
        let result = client
            .execute(&Statement::new("SELECT CURRENT_USER()"))
            .await
            .unwrap();
        assert_eq!(
            result.rows()[0].get::<String>("CURRENT_USER()").unwrap(),
            "ADMIN"
        );
    }
    let lines = emu.log(mark).await;
    let auths: Vec<&str> = submissions(&lines)
        .iter()
        .filter_map(|l| l["auth"].as_str())
        .collect();
    assert_eq!(auths, ["pat", "keypair"]);
}

#[tokio::test]
async fn protocols_3_1_a_key_pair_session_outlives_one_jwt_by_renewing_it() {
    let emu = with_key().await;
    // JWTs of 3 s, renewed when under 2 s remain: a 7 s session needs several.
    let pair = key_pair(&emu).with_lifetime(Duration::from_secs(3), Duration::from_secs(2));
    let client = Client::builder(emu.base(), Credential::KeyPair(pair))
        .retry(test_retry())
        .build()
        .unwrap();
    let mark = emu.log_mark().await;
    let started = Instant::now();
    let mut runs = 0;
    while started.elapsed() < Duration::from_secs(7) {
        let result = client
            .execute(&Statement::new("SELECT CURRENT_USER()"))
            .await
            .unwrap();
        assert_eq!(
            result.rows()[0].get::<String>("current_user()").unwrap(),
            "ADMIN"
        );
        runs += 1;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(runs >= 10);
    let lines = emu.log(mark).await;
    // Renewal happened before expiry: not one request was refused (no 401, no re-authentication).
    assert!(lines.iter().all(|l| l["status"] != 401), "{lines:?}");
    assert_eq!(submissions(&lines).len(), runs);
}

#[tokio::test]
async fn protocols_3_2_a_key_for_the_wrong_user_is_390144() {
    let emu = with_key().await;
    let path = emu.config.admin_key_file.as_ref().unwrap();
    let wrong = KeyPair::from_file(&emu.config.account, "SOMEONE_ELSE", path).unwrap();
    let client = Client::builder(emu.base(), Credential::KeyPair(wrong))
        .retry(test_retry())
        .build()
        .unwrap();
    let mark = emu.log_mark().await;
    let error = client
        .execute(&Statement::new("SELECT 1"))
        .await
        .unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.status, 401);
    assert_eq!(api.code.as_deref(), Some("390144"));
    // A key pair re-authenticates once with a fresh JWT, then fails (protocols §9).
    assert_eq!(error.retries(), 1);
    assert_eq!(submissions(&emu.log(mark).await).len(), 2);
}

/// snowflake-behaviour §6.9: the account clock moves, JWTs stay valid (they are checked against
/// real time), and what the client reports about time is the server's.
#[tokio::test]
async fn behaviour_6_9_server_time_not_local_time() {
    let emu = with_key().await;
    let client = Client::builder(emu.base(), Credential::KeyPair(key_pair(&emu)))
        .retry(test_retry())
        .build()
        .unwrap();
    let before = client
        .execute(&Statement::new("SELECT CURRENT_TIMESTAMP()"))
        .await
        .unwrap();
    emu.advance_clock(2 * 86_400).await;
    let after = client
        .execute(&Statement::new("SELECT CURRENT_TIMESTAMP()"))
        .await
        .expect("a fresh JWT is valid whatever the account clock says");
    let then: snowpat_client::ServerTime = before.rows()[0].get("CURRENT_TIMESTAMP()").unwrap();
    let now: snowpat_client::ServerTime = after.rows()[0].get("CURRENT_TIMESTAMP()").unwrap();
    let moved = now.epoch_millis() - then.epoch_millis();
    assert!(
        (2 * 86_400_000..2 * 86_400_000 + 60_000).contains(&moved),
        "server time moved by {moved} ms"
    );
    let created =
        after.created_on().unwrap().epoch_millis() - before.created_on().unwrap().epoch_millis();
    assert!(
        created >= 2 * 86_400_000,
        "createdOn is on the account clock: {created} ms"
    );
}
