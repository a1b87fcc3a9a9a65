//! Verification of IdP tokens (issue 6, seed 003) against `snowpat-testkit`'s identity provider,
//! over HTTP on loopback: the accepted shape, every refusal with its variant and reason, header
//! key URLs ignored, JWKS refetch limits, key rotation, the JWKS size cap and the https rule.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::SecretString;
use serde_json::{json, Value};
use snowpat_core::config::{ExchangeConfig, ExchangePolicyConfig};
use snowpat_core::exchange::{
    parse_scope, ExchangeError, JwksOptions, PolicyError, TrustPolicies, Verifier,
};
use snowpat_testkit::TestIdp;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn policy(idp: &TestIdp, name: &str, roles: &[&str]) -> ExchangePolicyConfig {
    ExchangePolicyConfig {
        name: name.into(),
        issuer: idp.issuer(),
        jwks_url: idp.jwks_url(),
        audience: "snowpat".into(),
        subject: "[a-z0-9._-]+@example\\.com".into(),
        claims: [("groups".to_string(), "data-agents".to_string())].into(),
        user_claim: "preferred_username".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        max_lifetime: "1d".into(),
    }
}

fn loopback_opts() -> JwksOptions {
    JwksOptions {
        allow_http_loopback: true,
        ..JwksOptions::default()
    }
}

fn verifier(policies: Vec<ExchangePolicyConfig>, opts: JwksOptions) -> Verifier {
    let cfg = ExchangeConfig {
        policy: policies,
        ..ExchangeConfig::default()
    };
    let trust = TrustPolicies::from_config(&cfg, &opts).expect("valid policies");
    Verifier::new(trust, opts)
}

/// Claims that the default policy accepts for ANALYST_ROLE.
fn claims(idp: &TestIdp) -> Value {
    let now = now_secs();
    json!({
        "iss": idp.issuer(),
        "aud": "snowpat",
        "sub": "alice@example.com",
        "groups": ["staff", "data-agents"],
        "preferred_username": "ALICE",
        "scp": ["session:role:ANALYST_ROLE"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    })
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    if let Some(map) = base.as_object_mut() {
        map.remove(key);
    }
    base
}

async fn verify(
    v: &Verifier,
    token: &str,
    role: &str,
) -> Result<snowpat_core::exchange::Grant, ExchangeError> {
    v.verify(
        &SecretString::from(token.to_string()),
        role,
        SystemTime::now(),
    )
    .await
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn valid_token_gives_the_grant_of_its_policy() {
    let idp = TestIdp::start().await;
    let v = verifier(
        vec![policy(&idp, "agents", &["analyst_role"])],
        loopback_opts(),
    );
    let c = claims(&idp);
    let exp = c["exp"].as_u64().unwrap();
    let role = parse_scope("session:role:analyst_role").unwrap();
    let grant = verify(&v, &idp.mint(c.clone()), &role)
        .await
        .expect("accepted");
    assert_eq!(grant.policy, "agents");
    assert_eq!(grant.issuer, idp.issuer());
    assert_eq!(grant.subject, "alice@example.com");
    assert_eq!(grant.user, "ALICE");
    assert_eq!(grant.role, "ANALYST_ROLE");
    assert_eq!(grant.max_lifetime, Duration::from_secs(86_400));
    assert_eq!(
        grant.subject_expires_at,
        UNIX_EPOCH + Duration::from_secs(exp)
    );

    // aud as an array, scope as a space-separated string, groups as a string.
    let c2 = with(c.clone(), "aud", json!(["other", "snowpat"]));
    let c2 = with(
        without(c2, "scp"),
        "scope",
        json!("openid session:role:analyst_role"),
    );
    let c2 = with(c2, "groups", json!("data-agents"));
    verify(&v, &idp.mint(c2), "ANALYST_ROLE")
        .await
        .expect("accepted");

    // Within the clock-skew leeway (60 s) on both sides.
    let n = now_secs();
    let skew = with(with(c.clone(), "exp", json!(n - 30)), "nbf", json!(n + 30));
    verify(
        &v,
        &idp.mint(with(skew, "iat", json!(n + 30))),
        "ANALYST_ROLE",
    )
    .await
    .expect("within leeway");
    assert_eq!(idp.jwks_requests(), 1, "keys cached after the first fetch");
}

/// Asserts the error's variant (by its RFC 6749 code) and reason.
fn refused(r: Result<snowpat_core::exchange::Grant, ExchangeError>, code: &str, reason: &str) {
    let e = match r {
        Ok(g) => panic!("expected {code}/{reason}, got a grant for {}", g.subject),
        Err(e) => e,
    };
    let variant_ok = match code {
        "invalid_request" => matches!(e, ExchangeError::InvalidRequest(_)),
        "invalid_grant" => matches!(e, ExchangeError::InvalidGrant(_)),
        "invalid_scope" => matches!(e, ExchangeError::InvalidScope(_)),
        "unauthorized_client" => matches!(e, ExchangeError::UnauthorizedClient(_)),
        "temporarily_unavailable" => matches!(e, ExchangeError::Unavailable(_)),
        _ => false,
    };
    assert!(variant_ok, "expected {code}, got {e:?}");
    assert_eq!(e.oauth_error(), code, "{e}");
    assert_eq!(e.reason(), reason, "{e}");
}

#[tokio::test]
async fn refusals_of_issue_6_each_with_its_variant_and_reason() {
    let idp = TestIdp::start().await;
    let other = TestIdp::start().await;
    let v = verifier(
        vec![policy(&idp, "agents", &["ANALYST_ROLE", "AUDITOR_ROLE"])],
        loopback_opts(),
    );
    let c = claims(&idp);
    let n = now_secs();
    let r = "ANALYST_ROLE";

    // The baseline is accepted, so each refusal below is due to its one change.
    verify(&v, &idp.mint(c.clone()), r).await.expect("baseline");

    // alg none: unsigned.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": idp.kid()})),
        b64(&c)
    );
    refused(verify(&v, &none, r).await, "invalid_grant", "alg_none");
    let none = format!("{}.{}.", b64(&json!({"alg": "None"})), b64(&c));
    refused(verify(&v, &none, r).await, "invalid_grant", "alg_none");
    // HS256 keyed with the public key.
    let hs = idp.mint_hs256_with_public_key(c.clone());
    refused(verify(&v, &hs, r).await, "invalid_grant", "alg_hmac");
    // Any other alg, even with a valid RSA signature under it.
    for alg in ["RS512", "PS256", "ES256", "rs256"] {
        let t = idp.mint_with_header(json!({"alg": alg, "kid": idp.kid()}), c.clone());
        refused(verify(&v, &t, r).await, "invalid_grant", "alg_not_allowed");
    }
    // Wrong or missing iss.
    let t = idp.mint(with(c.clone(), "iss", json!("https://evil.example.com")));
    refused(verify(&v, &t, r).await, "invalid_grant", "wrong_issuer");
    let t = idp.mint(without(c.clone(), "iss"));
    refused(verify(&v, &t, r).await, "invalid_grant", "wrong_issuer");
    // Wrong aud (string, array, missing).
    for aud in [json!("other"), json!(["a", "b"]), json!(null)] {
        let t = idp.mint(with(c.clone(), "aud", aud));
        refused(verify(&v, &t, r).await, "invalid_grant", "wrong_audience");
    }
    // Expired beyond the leeway; no exp at all.
    let t = idp.mint(with(c.clone(), "exp", json!(n - 120)));
    refused(verify(&v, &t, r).await, "invalid_grant", "expired");
    let t = idp.mint(without(c.clone(), "exp"));
    refused(verify(&v, &t, r).await, "invalid_grant", "missing_claim");
    // Not yet valid (nbf, or iat in the future) beyond the leeway.
    let t = idp.mint(with(c.clone(), "nbf", json!(n + 3600)));
    refused(verify(&v, &t, r).await, "invalid_grant", "not_yet_valid");
    let t = idp.mint(with(c.clone(), "iat", json!(n + 3600)));
    refused(verify(&v, &t, r).await, "invalid_grant", "not_yet_valid");
    // Unknown kid; no kid.
    let t = idp.mint_with_header(json!({"alg": "RS256", "kid": "no-such-key"}), c.clone());
    refused(verify(&v, &t, r).await, "invalid_grant", "unknown_kid");
    let t = idp.mint_with_header(json!({"alg": "RS256"}), c.clone());
    refused(verify(&v, &t, r).await, "invalid_grant", "unknown_kid");
    // Bad signature: another key under the right kid; a tampered payload; a truncated signature.
    let t = other.mint_with_header(json!({"alg": "RS256", "kid": idp.kid()}), c.clone());
    refused(verify(&v, &t, r).await, "invalid_grant", "bad_signature");
    let good = idp.mint(c.clone());
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&with(
            c.clone(),
            "preferred_username",
            json!("ACCOUNTADMIN_USER")
        )),
        parts[2]
    );
    refused(
        verify(&v, &tampered, r).await,
        "invalid_grant",
        "bad_signature",
    );
    let sig = URL_SAFE_NO_PAD
        .decode(parts[2])
        .expect("base64url signature");
    let truncated = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(&sig[..sig.len() - 1])
    );
    refused(
        verify(&v, &truncated, r).await,
        "invalid_grant",
        "bad_signature",
    );
    // Oversized: refused before parsing.
    let big = format!("{}.{}.{}", parts[0], "A".repeat(17 * 1024), parts[2]);
    refused(verify(&v, &big, r).await, "invalid_request", "oversized");
    // Malformed.
    for bad in [
        "",
        "not-a-jwt",
        "a.b.c",
        "a.b.c.d.e",
        "....",
        &format!("{}.e30", parts[0]),
    ] {
        refused(verify(&v, bad, r).await, "invalid_request", "malformed");
    }
    let t = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode("[1,2]"),
        parts[2]
    );
    refused(verify(&v, &t, r).await, "invalid_request", "malformed");
    // A role outside the policy (even though the token's scope names it).
    let t = idp.mint(with(c.clone(), "scp", json!(["session:role:ACCOUNTADMIN"])));
    refused(
        verify(&v, &t, "ACCOUNTADMIN").await,
        "invalid_scope",
        "role_not_allowed",
    );
    // A role in the policy but outside the token's own scope; no scope at all.
    refused(
        verify(&v, &idp.mint(c.clone()), "AUDITOR_ROLE").await,
        "invalid_scope",
        "role_not_in_token_scope",
    );
    let t = idp.mint(without(c.clone(), "scp"));
    refused(
        verify(&v, &t, r).await,
        "invalid_scope",
        "role_not_in_token_scope",
    );
    // No policy matches the subject, or the claims (missing, not matching, not anchored).
    for (key, value) in [
        ("sub", json!("mallory@evil.com")),
        ("sub", json!("alice@example.com.evil.com")),
        ("groups", json!(["staff"])),
        ("groups", json!("data-agents-admin")),
        ("groups", json!(null)),
    ] {
        let t = idp.mint(with(c.clone(), key, value));
        refused(verify(&v, &t, r).await, "unauthorized_client", "no_policy");
    }
    // The user claim must be a non-empty string.
    for value in [json!(""), json!(42), json!(["ALICE"]), json!(null)] {
        let t = idp.mint(with(c.clone(), "preferred_username", value));
        refused(verify(&v, &t, r).await, "invalid_grant", "bad_user_claim");
    }
    // The token never appears in the error text.
    let e = verify(&v, &idp.mint(with(c.clone(), "exp", json!(n - 120))), r)
        .await
        .unwrap_err();
    assert!(!e.to_string().contains(parts[2]));
}

#[tokio::test]
async fn header_key_urls_are_ignored() {
    let idp = TestIdp::start().await;
    let attacker = TestIdp::start().await;
    let v = verifier(
        vec![policy(&idp, "agents", &["ANALYST_ROLE"])],
        loopback_opts(),
    );
    let c = claims(&idp);
    // Signed with the attacker's key, pointing at the attacker's JWKS in every way a header can.
    let x5c = attacker.public_key_der_b64();
    let header = |kid: String| {
        json!({
            "alg": "RS256",
            "kid": kid,
            "jku": attacker.jwks_url(),
            "x5u": attacker.jwks_url(),
            "x5c": [x5c],
            "jwk": {"kty": "RSA", "kid": attacker.kid()},
        })
    };
    let t = attacker.mint_with_header(header(attacker.kid()), c.clone());
    refused(
        verify(&v, &t, "ANALYST_ROLE").await,
        "invalid_grant",
        "unknown_kid",
    );
    let t = attacker.mint_with_header(header(idp.kid()), c.clone());
    refused(
        verify(&v, &t, "ANALYST_ROLE").await,
        "invalid_grant",
        "bad_signature",
    );
    assert_eq!(
        attacker.jwks_requests(),
        0,
        "the attacker's JWKS was never fetched"
    );
    assert!(idp.jwks_requests() >= 1);
    // The same headers on a token signed by the real key are harmless.
    let t = idp.mint_with_header(header(idp.kid()), c);
    verify(&v, &t, "ANALYST_ROLE").await.expect("accepted");
    assert_eq!(attacker.jwks_requests(), 0);
}

#[tokio::test]
async fn unknown_kid_spray_does_not_hammer_the_idp() {
    let idp = TestIdp::start().await;
    let c = claims(&idp);
    let spray = |v: Verifier, n: usize| {
        let c = c.clone();
        let idp_header = |kid: String| json!({"alg": "RS256", "kid": kid});
        let tokens: Vec<String> = (0..n)
            .map(|i| idp.mint_with_header(idp_header(format!("random-{i}")), c.clone()))
            .collect();
        async move {
            let mut tasks = Vec::new();
            for t in tokens {
                let v = v.clone();
                tasks.push(tokio::spawn(async move {
                    v.verify(&SecretString::from(t), "ANALYST_ROLE", SystemTime::now())
                        .await
                }));
            }
            for task in tasks {
                refused(task.await.expect("task"), "invalid_grant", "unknown_kid");
            }
        }
    };

    // Default interval (60 s): one fetch for the valid token, none for 100 random kids.
    let v = verifier(
        vec![policy(&idp, "agents", &["ANALYST_ROLE"])],
        loopback_opts(),
    );
    verify(&v, &idp.mint(c.clone()), "ANALYST_ROLE")
        .await
        .expect("valid");
    assert_eq!(idp.jwks_requests(), 1);
    spray(v.clone(), 100).await;
    assert_eq!(
        idp.jwks_requests(),
        1,
        "no refetch within min_refetch_interval"
    );

    // A short interval: at most one refetch per interval while spraying for ~1 s.
    let before = idp.jwks_requests();
    let opts = JwksOptions {
        min_refetch_interval: Duration::from_millis(300),
        ..loopback_opts()
    };
    let v = verifier(vec![policy(&idp, "agents", &["ANALYST_ROLE"])], opts);
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(1000) {
        spray(v.clone(), 20).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fetched = idp.jwks_requests() - before;
    let bound = (start.elapsed().as_millis() / 300) as usize + 1;
    assert!(
        fetched >= 2,
        "refetches do happen after the interval: {fetched}"
    );
    assert!(
        fetched <= bound,
        "{fetched} fetches in {:?} (bound {bound})",
        start.elapsed()
    );
}

#[tokio::test]
async fn concurrent_first_fetches_are_coalesced() {
    let idp = TestIdp::start().await;
    let v = verifier(
        vec![policy(&idp, "agents", &["ANALYST_ROLE"])],
        loopback_opts(),
    );
    let token = idp.mint(claims(&idp));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (v, t) = (v.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            v.verify(&SecretString::from(t), "ANALYST_ROLE", SystemTime::now())
                .await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("accepted");
    }
    assert_eq!(idp.jwks_requests(), 1);
}

#[tokio::test]
async fn key_rotation_at_the_idp_is_picked_up_by_refetch() {
    let idp = TestIdp::start().await;
    let opts = JwksOptions {
        min_refetch_interval: Duration::from_millis(100),
        ..loopback_opts()
    };
    let v = verifier(vec![policy(&idp, "agents", &["ANALYST_ROLE"])], opts);
    let c = claims(&idp);
    let old = idp.mint(c.clone());
    verify(&v, &old, "ANALYST_ROLE").await.expect("old key");
    idp.rotate_key().await;
    idp.retire_old_keys();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let new = idp.mint(c.clone());
    verify(&v, &new, "ANALYST_ROLE")
        .await
        .expect("new key after refetch");
    assert_eq!(idp.jwks_requests(), 2);
    // The old key was retired at the IdP and is gone from the refetched set.
    let old_again = idp.mint_with_header(json!({"alg": "RS256", "kid": "testidp-1-retired"}), c);
    refused(
        verify(&v, &old_again, "ANALYST_ROLE").await,
        "invalid_grant",
        "unknown_kid",
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    refused(
        verify(&v, &old, "ANALYST_ROLE").await,
        "invalid_grant",
        "unknown_kid",
    );
}

#[tokio::test]
async fn jwks_over_the_size_cap_is_refused() {
    let idp = TestIdp::start().await;
    let c = claims(&idp);
    // Default cap 64 KiB: a 70 KiB document is refused.
    let v = verifier(
        vec![policy(&idp, "agents", &["ANALYST_ROLE"])],
        loopback_opts(),
    );
    let padding = "x".repeat(70 * 1024);
    idp.set_jwks_body(Some(
        format!(r#"{{"keys":[],"pad":"{padding}"}}"#).into_bytes(),
    ));
    let e = verify(&v, &idp.mint(c.clone()), "ANALYST_ROLE")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("over 65536 bytes"), "{e}");
    refused(Err(e), "temporarily_unavailable", "jwks_unavailable");
    // A cap below the real document's size refuses the real keys too.
    idp.set_jwks_body(None);
    let opts = JwksOptions {
        max_bytes: 256,
        ..loopback_opts()
    };
    let v = verifier(vec![policy(&idp, "agents", &["ANALYST_ROLE"])], opts);
    refused(
        verify(&v, &idp.mint(c.clone()), "ANALYST_ROLE").await,
        "temporarily_unavailable",
        "jwks_unavailable",
    );
    // Garbage is not keys.
    let v = verifier(
        vec![policy(&idp, "agents", &["ANALYST_ROLE"])],
        loopback_opts(),
    );
    idp.set_jwks_body(Some(b"<html>".to_vec()));
    refused(
        verify(&v, &idp.mint(c), "ANALYST_ROLE").await,
        "temporarily_unavailable",
        "jwks_unavailable",
    );
}

#[tokio::test]
async fn unreachable_jwks_is_temporarily_unavailable() {
    let idp = TestIdp::start().await;
    let c = claims(&idp);
    let token = idp.mint(c);
    let v = verifier(
        vec![policy(&idp, "agents", &["ANALYST_ROLE"])],
        loopback_opts(),
    );
    drop(idp);
    tokio::time::sleep(Duration::from_millis(50)).await;
    refused(
        verify(&v, &token, "ANALYST_ROLE").await,
        "temporarily_unavailable",
        "jwks_unavailable",
    );
}

#[tokio::test]
async fn https_only_unless_loopback_is_explicitly_allowed() {
    let idp = TestIdp::start().await;
    let cfg = |p: ExchangePolicyConfig| ExchangeConfig {
        policy: vec![p],
        ..ExchangeConfig::default()
    };
    // The TestIdp's loopback http URL needs --danger-allow-http-jwks.
    let e = TrustPolicies::from_config(
        &cfg(policy(&idp, "agents", &["R"])),
        &JwksOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(&e, PolicyError::Invalid { key, .. } if key == "issuer" || key == "jwks_url"));
    assert!(e.to_string().contains("--danger-allow-http-jwks"), "{e}");
    // Plain http to a non-loopback host is refused even when loopback http is allowed.
    let mut p = policy(&idp, "agents", &["R"]);
    p.jwks_url = "http://idp.example.com/jwks.json".into();
    let e = TrustPolicies::from_config(&cfg(p), &loopback_opts()).unwrap_err();
    assert!(
        matches!(&e, PolicyError::Invalid { key, policy: Some(n), .. } if key == "jwks_url" && n == "agents")
    );
    assert!(e.to_string().contains("only https"), "{e}");
    // https is accepted without the flag.
    let mut p = policy(&idp, "agents", &["R"]);
    p.issuer = "https://idp.example.com".into();
    p.jwks_url = "https://idp.example.com/jwks.json".into();
    TrustPolicies::from_config(&cfg(p), &JwksOptions::default()).expect("https accepted");
}

#[tokio::test]
async fn first_matching_policy_of_an_issuer_wins() {
    let idp = TestIdp::start().await;
    let mut admins = policy(&idp, "admins", &["ADMIN_ROLE"]);
    admins.subject = "alice@example\\.com".into();
    let everyone = policy(&idp, "everyone", &["ANALYST_ROLE"]);
    let v = verifier(vec![admins, everyone], loopback_opts());
    let c = with(
        claims(&idp),
        "scp",
        json!(["session:role:ANALYST_ROLE", "session:role:ADMIN_ROLE"]),
    );
    let g = verify(&v, &idp.mint(c.clone()), "ADMIN_ROLE")
        .await
        .expect("alice is admin");
    assert_eq!(g.policy, "admins");
    // The first matching policy decides, even when a later one would grant the role.
    refused(
        verify(&v, &idp.mint(c.clone()), "ANALYST_ROLE").await,
        "invalid_scope",
        "role_not_allowed",
    );
    let bob = with(c, "sub", json!("bob@example.com"));
    let g = verify(&v, &idp.mint(bob.clone()), "ANALYST_ROLE")
        .await
        .expect("bob");
    assert_eq!(g.policy, "everyone");
    refused(
        verify(&v, &idp.mint(bob), "ADMIN_ROLE").await,
        "invalid_scope",
        "role_not_allowed",
    );
}

#[test]
fn snowpat_toml_exchange_section_as_interfaces_md_shows_it() {
    let text = r#"
[exchange]
listen = "127.0.0.1:8650"
mode = "as-user"
token_name = "SNOWPAT_{role}"
days = 1
grace_hours = 1
reuse_while = "6h"

[[exchange.policy]]
name = "agents"
issuer = "https://idp.example.com"
jwks_url = "https://idp.example.com/jwks.json"
audience = "snowpat"
subject = "^[a-z0-9._-]+@example\\.com$"
claims = { groups = "^data-agents$" }
user_claim = "preferred_username"
roles = ["ANALYST_ROLE"]
max_lifetime = "1d"

[scheduler]
margin = "7d"
interval = "5m"
"#;
    let config = snowpat_core::config::Config::parse(text, "snowpat.toml").expect("valid");
    let exchange = config.exchange.expect("[exchange]");
    assert_eq!(exchange.policy.len(), 1);
    assert_eq!(exchange.policy[0].claims["groups"], "^data-agents$");
    let scheduler = config.scheduler.expect("[scheduler]");
    assert_eq!(
        (scheduler.margin.as_str(), scheduler.interval.as_str()),
        ("7d", "5m")
    );
    let trust = TrustPolicies::from_config(&exchange, &JwksOptions::default()).expect("policies");
    assert_eq!(trust.names(), ["agents"]);

    // Defaults of a bare [exchange].
    let config = snowpat_core::config::Config::parse("[exchange]\n", "snowpat.toml").unwrap();
    let e = config.exchange.unwrap();
    assert_eq!(
        (
            e.listen.as_str(),
            e.mode.as_str(),
            e.token_name.as_str(),
            e.days,
            e.grace_hours,
            e.reuse_while.as_str()
        ),
        ("127.0.0.1:8650", "as-user", "SNOWPAT_{role}", 1, 1, "6h")
    );

    // Unknown keys are refused with the file, the line and the key.
    let bad = text.replace(
        "max_lifetime = \"1d\"",
        "max_lifetime = \"1d\"\njku_allowed = true",
    );
    let e = snowpat_core::config::Config::parse(&bad, "snowpat.toml").unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.contains("snowpat.toml:20") && shown.contains("jku_allowed"),
        "{shown}"
    );
    // A policy missing a required key is refused too.
    let bad = text.replace("user_claim = \"preferred_username\"\n", "");
    let e = snowpat_core::config::Config::parse(&bad, "snowpat.toml").unwrap_err();
    assert!(e.to_string().contains("user_claim"), "{e}");
}

/// A JWKS endpoint that streams a chunked body forever (no Content-Length): the cap must stop the
/// read at 64 KiB instead of buffering it. Returns the URL and a counter of bytes it sent.
async fn endless_jwks() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let sent = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("1000\r\n{}\r\n", " ".repeat(4096));
                // Up to 64 MiB, unless the client hangs up first.
                for _ in 0..16_384 {
                    if stream.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    counter.fetch_add(4096, Ordering::SeqCst);
                }
            });
        }
    });
    (url, sent)
}

#[tokio::test]
async fn an_endless_chunked_jwks_is_cut_at_the_cap() {
    let idp = TestIdp::start().await;
    let (url, sent) = endless_jwks().await;
    let mut p = policy(&idp, "agents", &["ANALYST_ROLE"]);
    p.jwks_url = url;
    let v = verifier(vec![p], loopback_opts());
    let started = std::time::Instant::now();
    let e = verify(&v, &idp.mint(claims(&idp)), "ANALYST_ROLE")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("over 65536 bytes"), "{e}");
    refused(Err(e), "temporarily_unavailable", "jwks_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let total = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        total < 8 * 1024 * 1024,
        "the client hung up early, {total} bytes sent"
    );
}

/// The service calls `verify` from axum handlers on a multi-threaded runtime: the verifier is
/// Send + Sync + Clone and its future is Send.
#[test]
fn verifier_and_its_future_are_send() {
    fn send<T: Send>(_: &T) {}
    fn sync_clone<T: Send + Sync + Clone + 'static>() {}
    sync_clone::<Verifier>();
    let cfg = ExchangeConfig::default();
    let v = Verifier::new(
        TrustPolicies::from_config(&cfg, &JwksOptions::default()).unwrap(),
        JwksOptions::default(),
    );
    let token = SecretString::from("x".to_string());
    let fut = v.verify(&token, "R", SystemTime::now());
    send(&fut);
}

/// The fuzz target's entry point over its seed corpus, every prefix of each seed and every
/// single-byte flip: refusals, never a panic (a quick stand-in for `.ci/fuzz` in plain tests).
#[test]
fn fuzz_entry_point_survives_the_seed_corpus_and_its_mutations() {
    use snowpat_core::exchange::fuzz_verify;
    let policy = ExchangePolicyConfig {
        name: "agents".into(),
        issuer: "https://idp.example.com".into(),
        jwks_url: "https://idp.example.com/jwks.json".into(),
        audience: "snowpat".into(),
        subject: "[a-z0-9._-]+@example\\.com".into(),
        claims: [("groups".to_string(), "data-agents|ops-[0-9]+".to_string())].into(),
        user_claim: "preferred_username".into(),
        roles: vec!["ANALYST_ROLE".into(), "OPS_ROLE".into()],
        max_lifetime: "1d".into(),
    };
    let cfg = ExchangeConfig {
        policy: vec![policy],
        ..ExchangeConfig::default()
    };
    let trust = TrustPolicies::from_config(&cfg, &JwksOptions::default()).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/exchange_token");
    let mut seeds = 0;
    let mut granted = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        seeds += 1;
        if fuzz_verify(&trust, &bytes, "ANALYST_ROLE", now).is_ok() {
            granted += 1;
        }
        for end in 0..bytes.len() {
            let _ = fuzz_verify(&trust, &bytes[..end], "ANALYST_ROLE", now);
        }
        for i in 0..bytes.len() {
            let mut m = bytes.clone();
            m[i] ^= 0x5a;
            let _ = fuzz_verify(&trust, &m, "OPS_ROLE", now);
        }
    }
    assert!(
        seeds >= 5,
        "the seed corpus is in fuzz/corpus/exchange_token"
    );
    // The well-formed seed reaches the end of the claim rules (the entry point skips the
    // signature verdict), so fuzzing explores every stage.
    assert_eq!(granted, 1);
}

#[tokio::test]
async fn jwks_redirects_are_not_followed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let idp = TestIdp::start().await;
    let attacker = TestIdp::start().await;
    // A JWKS URL that answers 302 to the attacker's JWKS.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let target = attacker.jwks_url();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    let mut p = policy(&idp, "agents", &["ANALYST_ROLE"]);
    p.jwks_url = url;
    let v = verifier(vec![p], loopback_opts());
    let t = attacker.mint_with_header(json!({"alg": "RS256", "kid": attacker.kid()}), claims(&idp));
    let e = verify(&v, &t, "ANALYST_ROLE").await.unwrap_err();
    assert!(e.to_string().contains("302"), "{e}");
    refused(Err(e), "temporarily_unavailable", "jwks_unavailable");
    assert_eq!(attacker.jwks_requests(), 0);
}

#[tokio::test]
async fn keys_are_refetched_after_the_cache_ttl_and_failures_are_rate_limited() {
    let idp = TestIdp::start().await;
    let opts = JwksOptions {
        cache_ttl: Duration::from_millis(300),
        min_refetch_interval: Duration::from_millis(200),
        ..loopback_opts()
    };
    let v = verifier(vec![policy(&idp, "agents", &["ANALYST_ROLE"])], opts);
    let t = idp.mint(claims(&idp));
    verify(&v, &t, "ANALYST_ROLE").await.expect("first");
    verify(&v, &t, "ANALYST_ROLE").await.expect("cached");
    assert_eq!(idp.jwks_requests(), 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    verify(&v, &t, "ANALYST_ROLE").await.expect("after the TTL");
    assert_eq!(idp.jwks_requests(), 2);
    // The IdP breaks: one failed fetch, then no retry within the interval.
    tokio::time::sleep(Duration::from_millis(350)).await;
    idp.set_jwks_body(Some(b"not json".to_vec()));
    for _ in 0..20 {
        refused(
            verify(&v, &t, "ANALYST_ROLE").await,
            "temporarily_unavailable",
            "jwks_unavailable",
        );
    }
    assert_eq!(idp.jwks_requests(), 3);
    // It recovers: the next fetch after the interval succeeds.
    idp.set_jwks_body(None);
    tokio::time::sleep(Duration::from_millis(250)).await;
    verify(&v, &t, "ANALYST_ROLE").await.expect("recovered");
    assert_eq!(idp.jwks_requests(), 4);
}
