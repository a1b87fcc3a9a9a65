//! Credentials refused at the SQL API's door, each with its documented code
//! (`snowflake-behaviour.md` §6.6, §7; `protocols.md` §1.3, §3.2): a PAT that was removed, has
//! expired, is disabled or is sent as another token type; a key-pair JWT that has expired, is used
//! more than an hour after its `iat`, or is signed by a key whose fingerprint the user does not
//! hold. Each refusal is also checked in the request log: nothing ran.

use serde_json::Value;

use crate::harness::{keypair_jwt_at, sql_bearer, Emulator};

async fn who(emu: &Emulator, token: &str, token_type: Option<&str>) -> (u16, Value) {
    sql_bearer(emu, token, token_type, "SELECT CURRENT_USER()").await
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn refused_pats_answer_401_with_their_codes() {
    let emu = Emulator::start().await;
    let secret = emu.user_with_pat("P1", None).await;
    let pat = Some("PROGRAMMATIC_ACCESS_TOKEN");
    assert_eq!(who(&emu, &secret, pat).await.0, 200);

    // The same PAT declared as another token type is validated only as that type.
    let (status, body) = who(&emu, &secret, Some("OAUTH")).await;
    assert_eq!((status, code(&body)), (401, "390303"), "{body}");
    let (status, body) = who(&emu, &secret, Some("KEYPAIR_JWT")).await;
    assert_eq!((status, code(&body)), (401, "390144"), "{body}");

    // Disabled, then enabled again.
    emu.admin_ok("ALTER USER P1 MODIFY PAT P1_PAT SET DISABLED = TRUE")
        .await;
    let mark = emu.log_mark().await;
    let (status, body) = who(&emu, &secret, pat).await;
    assert_eq!((status, code(&body)), (401, "394400"), "{body}");
    let lines = emu.control_log(mark).await;
    assert!(lines.iter().all(|l| l["executed"] == false), "{lines:?}");
    emu.admin_ok("ALTER USER P1 MODIFY PAT P1_PAT UNSET DISABLED")
        .await;
    assert_eq!(who(&emu, &secret, pat).await.0, 200);

    // Removed.
    let other = emu.user_with_pat("P2", None).await;
    emu.admin_ok("ALTER USER P2 REMOVE PAT P2_PAT").await;
    let (status, body) = who(&emu, &other, pat).await;
    assert_eq!((status, code(&body)), (401, "394400"), "{body}");

    // Expired: P1's token was created with DAYS_TO_EXPIRY = 30.
    emu.advance_clock(31 * 24 * 3600).await;
    let (status, body) = who(&emu, &secret, pat).await;
    assert_eq!((status, code(&body)), (401, "394400"), "{body}");
}

#[tokio::test]
async fn refused_key_pair_jwts_answer_401_390144() {
    let (emu, pem) = Emulator::start_with_admin_key().await;
    let now = chrono::Utc::now().timestamp();
    let statement = "SELECT CURRENT_USER()";

    let fresh = keypair_jwt_at(&pem, "EMULATOR", "ADMIN", now, now + 300);
    assert_eq!(emu.sql_keypair(&fresh, statement).await.0, 200);

    let mark = emu.log_mark().await;
    let expired = keypair_jwt_at(&pem, "EMULATOR", "ADMIN", now - 600, now - 300);
    let (status, body) = emu.sql_keypair(&expired, statement).await;
    assert_eq!((status, code(&body)), (401, "390144"), "expired: {body}");

    // `exp` is still ahead, but the JWT is valid for at most one hour after `iat` (protocols §3.1).
    let stale = keypair_jwt_at(&pem, "EMULATOR", "ADMIN", now - 3700, now + 600);
    let (status, body) = emu.sql_keypair(&stale, statement).await;
    assert_eq!((status, code(&body)), (401, "390144"), "iat + 1 h: {body}");

    // Signed by a key ADMIN does not hold: its fingerprint matches neither RSA_PUBLIC_KEY slot.
    let other = {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key");
        key.to_pkcs8_pem(LineEnding::LF).expect("PEM").to_string()
    };
    let foreign = keypair_jwt_at(&other, "EMULATOR", "ADMIN", now, now + 300);
    let (status, body) = emu.sql_keypair(&foreign, statement).await;
    assert_eq!(
        (status, code(&body)),
        (401, "390144"),
        "fingerprint: {body}"
    );

    let lines = emu.control_log(mark).await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l["executed"] == false), "{lines:?}");
}
