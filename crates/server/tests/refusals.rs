//! Every refusal of issue 6 over HTTP, each with its RFC 6749 error, its stable reason, and the
//! emulator's request log unchanged (nothing reached Snowflake); `user_mismatch` reaches Snowflake
//! only to read CURRENT_USER() and changes nothing; form errors, body size, rate limits.

mod common;

use serde_json::{json, Value};
use snowpat_server::ratelimit::RateLimit;
use snowpat_server::Options;

use common::{now_secs, Env, ROLE};

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

#[tokio::test]
async fn token_refusals_answer_precise_errors_and_send_nothing_to_snowflake() {
    let env = Env::start().await;
    let service = env.serve(&env.exchange_config("as-user")).await;
    let good = env.claims("alice@example.com");
    let now = now_secs();
    let good_token = env.idp.mint(good.clone());
    // Another signature's first character: still base64url, no longer the signature.
    let cut = good_token.rfind('.').expect("three parts") + 1;
    let first = &good_token[cut..=cut];
    let bad_signature = format!(
        "{}{}{}",
        &good_token[..cut],
        if first == "A" { "B" } else { "A" },
        &good_token[cut + 1..]
    );
    let cases: Vec<(&str, String, &str, u16, &str, &str)> = vec![
        (
            "alg none",
            env.idp
                .mint_with_header(json!({"alg": "none", "typ": "JWT"}), good.clone()),
            ROLE,
            400,
            "invalid_grant",
            "alg_none",
        ),
        (
            "HS256 keyed with the public key",
            env.idp.mint_hs256_with_public_key(good.clone()),
            ROLE,
            400,
            "invalid_grant",
            "alg_hmac",
        ),
        (
            "wrong iss",
            env.idp
                .mint(with(good.clone(), "iss", json!("https://evil.example"))),
            ROLE,
            400,
            "invalid_grant",
            "wrong_issuer",
        ),
        (
            "wrong aud",
            env.idp
                .mint(with(good.clone(), "aud", json!("someone-else"))),
            ROLE,
            400,
            "invalid_grant",
            "wrong_audience",
        ),
        (
            "expired",
            env.idp.mint(with(
                with(good.clone(), "exp", json!(now - 3600)),
                "iat",
                json!(now - 7200),
            )),
            ROLE,
            400,
            "invalid_grant",
            "expired",
        ),
        (
            "not yet valid",
            env.idp.mint(with(good.clone(), "nbf", json!(now + 3600))),
            ROLE,
            400,
            "invalid_grant",
            "not_yet_valid",
        ),
        (
            "unknown kid",
            env.idp.mint_with_header(
                json!({"alg": "RS256", "typ": "JWT", "kid": "not-a-published-kid"}),
                good.clone(),
            ),
            ROLE,
            400,
            "invalid_grant",
            "unknown_kid",
        ),
        (
            "bad signature",
            bad_signature,
            ROLE,
            400,
            "invalid_grant",
            "bad_signature",
        ),
        (
            "oversized",
            format!("{}.{}.{}", "a".repeat(9000), "b".repeat(9000), "c"),
            ROLE,
            400,
            "invalid_request",
            "oversized",
        ),
        (
            "malformed",
            "not-a-jwt".into(),
            ROLE,
            400,
            "invalid_request",
            "malformed",
        ),
        (
            "role outside the policy",
            env.idp.mint(with(
                good.clone(),
                "scp",
                json!(["session:role:OTHER_ROLE"]),
            )),
            "OTHER_ROLE",
            400,
            "invalid_scope",
            "role_not_allowed",
        ),
        (
            "role outside the token's scope",
            env.idp.mint(with(
                good.clone(),
                "scp",
                json!(["session:role:OTHER_ROLE"]),
            )),
            ROLE,
            400,
            "invalid_scope",
            "role_not_in_token_scope",
        ),
        (
            "no policy matches the subject",
            env.idp
                .mint(with(good.clone(), "sub", json!("eve@evil.example"))),
            ROLE,
            403,
            "unauthorized_client",
            "no_policy",
        ),
        (
            "no policy matches the claims",
            env.idp
                .mint(with(good.clone(), "groups", json!(["contractors"]))),
            ROLE,
            403,
            "unauthorized_client",
            "no_policy",
        ),
    ];
    let mark = env.log_mark().await;
    for (what, token, role, status, error, reason) in &cases {
        let a = service.exchange(&env.http, token, role).await;
        assert_eq!(a.status, *status, "{what}: {}", a.json);
        assert_eq!(a.json["error"], *error, "{what}: {}", a.json);
        let description = a.json["error_description"].as_str().unwrap_or_default();
        assert!(
            description.starts_with(&format!("{reason}:")),
            "{what}: {description}"
        );
        assert!(a.json.get("access_token").is_none(), "{what}");
    }
    assert_eq!(
        env.log(mark).await,
        Vec::<Value>::new(),
        "no refusal reached Snowflake"
    );
    let audit = service.audit.lines();
    assert_eq!(audit.len(), cases.len());
    for (line, (what, token, _, _, _, reason)) in audit.iter().zip(&cases) {
        assert_eq!(line["decision"], "refused", "{what}");
        assert_eq!(line["reason"], *reason, "{what}");
        assert!(!service.audit.text().contains(token.as_str()), "{what}");
    }
    // The good token still works after all that.
    let a = service.exchange(&env.http, &good_token, ROLE).await;
    assert_eq!(a.status, 200, "{}", a.json);
}

#[tokio::test]
async fn user_mismatch_is_invalid_grant_and_mints_nothing() {
    let env = Env::start().await;
    // The policy maps `email`; the emulator's integration maps `preferred_username`.
    let mut cfg = env.exchange_config("as-user");
    cfg.policy[0].user_claim = "email".into();
    let service = env.serve(&cfg).await;
    let mut claims = env.claims("alice@example.com");
    claims["email"] = json!("alice@example.com");
    claims["preferred_username"] = json!("mallory@example.com");
    let mark = env.log_mark().await;
    let a = service
        .exchange(&env.http, &env.idp.mint(claims), ROLE)
        .await;
    assert_eq!(a.status, 400, "{}", a.json);
    assert_eq!(a.json["error"], "invalid_grant");
    let description = a.json["error_description"].as_str().unwrap_or_default();
    assert!(description.starts_with("user_mismatch:"), "{description}");
    assert!(description.contains("MALLORY"), "{description}");
    let lines = env.log(mark).await;
    assert!(!lines.is_empty(), "CURRENT_USER() was read");
    for line in &lines {
        assert_ne!(line["changed"], true, "{line}");
        let kind = line["statement_kind"].as_str().unwrap_or_default();
        assert!(
            kind == "SELECT" || kind == "DESCRIBE USER",
            "only reads: {line}"
        );
    }
    assert!(env
        .admin_sql("SHOW USER PATS FOR USER mallory")
        .await
        .is_empty());
    assert_eq!(service.audit.lines()[0]["reason"], "user_mismatch");
}

#[tokio::test]
async fn form_errors_body_limit_and_rate_limit() {
    let env = Env::start().await;
    let options = Options {
        rate_limit: RateLimit {
            per_second: 0.001,
            burst: 2.0,
        },
        ..Options::default()
    };
    let service = env
        .serve_with(&env.exchange_config("as-user"), options)
        .await;
    let token = env.token_for("alice@example.com");
    let grant = "urn:ietf:params:oauth:grant-type:token-exchange";
    let jwt = "urn:ietf:params:oauth:token-type:jwt";
    let scope = format!("session:role:{ROLE}");
    let mark = env.log_mark().await;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("grant_type", "client_credentials"),
                ("subject_token", &token),
                ("subject_token_type", jwt),
                ("scope", &scope),
            ],
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", grant),
                ("subject_token_type", jwt),
                ("scope", &scope),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", grant),
                ("subject_token", &token),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:saml2",
                ),
                ("scope", &scope),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", grant),
                ("subject_token", &token),
                ("subject_token_type", jwt),
                ("scope", &scope),
                ("scope", "session:role:OTHER_ROLE"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", grant),
                ("subject_token", &token),
                ("subject_token_type", jwt),
            ],
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", grant),
                ("subject_token", &token),
                ("subject_token_type", jwt),
                ("scope", "session:role-any"),
            ],
            "invalid_scope",
        ),
    ];
    for (form, error) in &cases {
        let a = service.post_form(&env.http, form).await;
        assert_eq!(a.status, 400, "{form:?}: {}", a.json);
        assert_eq!(a.json["error"], *error, "{form:?}: {}", a.json);
    }
    // JSON instead of a form.
    let a = common::answer(
        env.http
            .post(format!("{}/v1/token", service.url))
            .json(&json!({"grant_type": grant, "subject_token": token}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].clone()),
        (400, json!("invalid_request"))
    );
    // Too large a body: 413, read no further.
    let a = common::answer(
        env.http
            .post(format!("{}/v1/token", service.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("subject_token={}", "x".repeat(64 * 1024)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 413, "{}", a.json);
    assert_eq!(a.json["error"], "invalid_request");
    assert!(env.log(mark).await.is_empty());
    // Rate limit: burst 2 for this subject, then 429 with Retry-After.
    for _ in 0..2 {
        let a = service.exchange(&env.http, &token, ROLE).await;
        assert_eq!(a.status, 200, "{}", a.json);
    }
    let a = service.exchange(&env.http, &token, ROLE).await;
    assert_eq!(a.status, 429, "{}", a.json);
    assert_eq!(a.json["error"], "temporarily_unavailable");
    assert!(a.headers.contains_key("retry-after"));
    // Another subject is not limited by alice's bucket.
    let a = service
        .exchange(&env.http, &env.token_for("mallory@example.com"), ROLE)
        .await;
    assert_eq!(a.status, 200, "{}", a.json);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = Env::start().await;
    let options = Options {
        body_timeout: std::time::Duration::from_millis(300),
        ..Options::default()
    };
    let service = env
        .serve_with(&env.exchange_config("as-user"), options)
        .await;
    let addr = service.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/token HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n\
                 grant_type="
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read(&mut response),
    )
    .await
    .expect("answered before the client gave up")
    .unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("body_timeout"), "{text}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
}
