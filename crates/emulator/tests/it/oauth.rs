//! OAuth over HTTP: External OAuth bearer JWTs from a test identity provider (protocols §5,
//! snowflake-behaviour.md §10 rows 58–59, §6.7 S4/S5) and Snowflake OAuth — authorization code
//! with PKCE, token exchange, refresh with and without single-use rotation (protocols §6).
//!
//! The identity provider is this file: an RSA key pair generated per test and RS256/384/512 JWTs
//! signed here. Every refusal is asserted with its code.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::RngCore;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::harness::{answer, column, secret_of, sql_bearer, Answer, Emulator};

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "https://emulator.snowflakecomputing.com";
const REDIRECT: &str = "https://app.example/callback";

// ------------------------------------------------------------------------------------------------
// Test identity provider (External OAuth).

struct Idp {
    key: RsaPrivateKey,
    /// Base64 DER SubjectPublicKeyInfo, as EXTERNAL_OAUTH_RSA_PUBLIC_KEY wants it.
    public_b64: String,
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now_secs() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit")
}

/// HMAC-SHA256 (RFC 2104), for the forged HS256 token.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > 64 {
        Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([ipad.as_slice(), message].concat());
    Sha256::digest([opad.as_slice(), inner.as_slice()].concat()).to_vec()
}

impl Idp {
    fn new() -> Self {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key");
        let der = key
            .to_public_key()
            .to_public_key_der()
            .expect("public key DER");
        Self {
            key,
            public_b64: STANDARD.encode(der.as_bytes()),
        }
    }

    fn signing_input(alg: &str, claims: &Value) -> String {
        let header = json!({ "alg": alg, "typ": "JWT" });
        format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        )
    }

    /// A JWT signed with this provider's key (RS256, RS384 or RS512).
    fn sign_with(&self, alg: &str, claims: &Value) -> String {
        let input = Self::signing_input(alg, claims);
        let signature = match alg {
            "RS384" => SigningKey::<Sha384>::new(self.key.clone())
                .sign(input.as_bytes())
                .to_vec(),
            "RS512" => SigningKey::<Sha512>::new(self.key.clone())
                .sign(input.as_bytes())
                .to_vec(),
            _ => SigningKey::<Sha256>::new(self.key.clone())
                .sign(input.as_bytes())
                .to_vec(),
        };
        format!("{input}.{}", b64url(&signature))
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with("RS256", claims)
    }
}

/// Claims for `name` with scope `scp`, valid now for an hour.
fn claims(name: &str, scp: &[&str]) -> Value {
    let now = now_secs();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "scp": scp,
        "name": name,
    })
}

async fn sql_oauth(emu: &Emulator, token: &str, statement: &str) -> (u16, Value) {
    sql_bearer(emu, token, Some("OAUTH"), statement).await
}

/// `USE ...; SELECT CURRENT_ROLE()` as a two-statement request (USE needs one, protocols §2.6).
async fn use_then_role(emu: &Emulator, token: &str, use_statement: &str) -> (u16, Value) {
    let body = json!({
        "statement": format!("{use_statement}; SELECT CURRENT_ROLE()"),
        "parameters": { "MULTI_STATEMENT_COUNT": "2" },
    });
    let a = post_oauth(emu, token, &body).await;
    (a.status, a.json)
}

/// `POST /api/v2/statements` with an OAuth bearer token and the request body `body`.
async fn post_oauth(emu: &Emulator, token: &str, body: &Value) -> Answer {
    answer(
        emu.client
            .post(format!("{}/api/v2/statements", emu.url))
            .bearer_auth(token)
            .header("X-Snowflake-Authorization-Token-Type", "OAUTH")
            .json(body)
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

#[track_caller]
fn assert_auth_error(status: u16, body: &Value, code: &str) {
    assert_eq!(status, 401, "expected 401 {code}: {body}");
    assert_eq!(body["code"], code, "{body}");
}

/// An emulator with an External OAuth integration trusting `idp`, and user ANALYST_USER
/// (LOGIN_NAME `analyst@example.com`) holding role ANALYST (its default role) and role OTHER.
async fn external_setup(idp: &Idp, extra: &str) -> Emulator {
    let emu = Emulator::start().await;
    emu.admin_ok(&format!(
        "CREATE SECURITY INTEGRATION idp TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
         EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = '{ISSUER}' \
         EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{}' \
         EXTERNAL_OAUTH_AUDIENCE_LIST = ('https://custom.audience.example') \
         EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = 'name' \
         EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'LOGIN_NAME' {extra}",
        idp.public_b64
    ))
    .await;
    for statement in [
        "CREATE USER analyst_user LOGIN_NAME = 'analyst@example.com' TYPE = PERSON",
        "CREATE ROLE analyst",
        "CREATE ROLE other",
        "CREATE ROLE ungranted",
        "GRANT ROLE analyst TO USER analyst_user",
        "GRANT ROLE other TO USER analyst_user",
        "ALTER USER analyst_user SET DEFAULT_ROLE = analyst",
    ] {
        emu.admin_ok(statement).await;
    }
    emu
}

// ------------------------------------------------------------------------------------------------
// External OAuth: conformance rows 58 and 59.

#[tokio::test]
async fn conformance_058_external_oauth_session_add_pat_without_restriction_is_099420() {
    let idp = Idp::new();
    let emu = external_setup(&idp, "").await;
    let token = idp.sign(&claims("analyst@example.com", &["session:role:ANALYST"]));
    let (status, body) = sql_oauth(&emu, &token, "SELECT CURRENT_USER(), CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ANALYST_USER", "ANALYST"]]));
    let (status, body) = sql_oauth(&emu, &token, "ALTER USER ADD PAT p").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099420", "{body}");
    assert_eq!(
        body["message"],
        "Programmatic access tokens created in an OAuth session require a role restriction."
    );
    let lines = emu.control_log(0).await;
    let last = lines.last().expect("log line");
    assert_eq!(last["auth"], "oauth", "{last}");
    assert_eq!(last["executed"], false, "{last}");
    let (_, show) = emu
        .sql(&emu.admin(), "SHOW USER PATS FOR USER analyst_user")
        .await;
    assert_eq!(show["data"], json!([]), "{show}");
}

#[tokio::test]
async fn conformance_059_external_oauth_session_add_pat_restricted_to_session_role_succeeds() {
    let idp = Idp::new();
    let emu = external_setup(&idp, "").await;
    let token = idp.sign(&claims("analyst@example.com", &["session:role:ANALYST"]));
    let (status, body) = sql_oauth(
        &emu,
        &token,
        "ALTER USER ADD PAT p ROLE_RESTRICTION = 'ANALYST'",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let secret = secret_of(&body);
    assert!(secret.len() >= 40);
    // The new PAT works and is restricted to ANALYST.
    let (status, body) = emu.sql(&secret, "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ANALYST"]]));
    // S5: a restriction other than CURRENT_ROLE() is 099421.
    let (status, body) = sql_oauth(
        &emu,
        &token,
        "ALTER USER ADD PAT q ROLE_RESTRICTION = 'OTHER'",
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099421", "{body}");
    assert_eq!(
        body["message"],
        "The specified role restriction OTHER does not match the session role ANALYST."
    );
}

// ------------------------------------------------------------------------------------------------
// External OAuth: acceptance and detection.

#[tokio::test]
async fn external_oauth_token_is_detected_without_a_type_header_and_accepts_rs384_rs512_and_role_any(
) {
    let idp = Idp::new();
    let emu = external_setup(&idp, "").await;
    let c = claims("ANALYST@EXAMPLE.COM", &["session:role:ANALYST"]);
    // protocols §1.3: iss equals an enabled integration's issuer → OAUTH.
    let (status, body) = sql_bearer(&emu, &idp.sign(&c), None, "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ANALYST"]]));
    for alg in ["RS384", "RS512"] {
        let (status, body) = sql_oauth(&emu, &idp.sign_with(alg, &c), "SELECT 1").await;
        assert_eq!(status, 200, "{alg}: {body}");
    }
    // `session:role-any` → DEFAULT_ROLE.
    let any = claims("analyst@example.com", &["session:role-any"]);
    let (status, body) = sql_oauth(&emu, &idp.sign(&any), "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ANALYST"]]));
    // An audience-list value is accepted as well as the account URL; `scope` as a string too
    // when the mapping attribute says so (checked in the delimiter test).
    let mut custom = c.clone();
    custom["aud"] = json!(["https://other", "https://custom.audience.example"]);
    let (status, body) = sql_oauth(&emu, &idp.sign(&custom), "SELECT 1").await;
    assert_eq!(status, 200, "{body}");
    // No secondary roles in an OAuth session.
    let (status, body) = use_then_role(&emu, &idp.sign(&c), "USE SECONDARY ROLES ALL").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099919", "{body}");
}

#[tokio::test]
async fn external_oauth_second_key_email_mapping_and_scope_delimiter() {
    let idp = Idp::new();
    let idp2 = Idp::new();
    let emu = Emulator::start().await;
    emu.admin_ok(&format!(
        "CREATE SECURITY INTEGRATION idp2 TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
         EXTERNAL_OAUTH_TYPE = OKTA EXTERNAL_OAUTH_ISSUER = '{ISSUER}' \
         EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{}' EXTERNAL_OAUTH_RSA_PUBLIC_KEY_2 = '{}' \
         EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = ('upn', 'email') \
         EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'EMAIL_ADDRESS' \
         EXTERNAL_OAUTH_SCOPE_MAPPING_ATTRIBUTE = 'scope' EXTERNAL_OAUTH_SCOPE_DELIMITER = ' '",
        idp.public_b64, idp2.public_b64
    ))
    .await;
    emu.admin_ok("CREATE USER eve EMAIL = 'Eve@Example.com' TYPE = PERSON")
        .await;
    emu.admin_ok("CREATE ROLE reader").await;
    emu.admin_ok("GRANT ROLE reader TO USER eve").await;
    let now = now_secs();
    let c = json!({
        "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
        "email": "eve@example.com", "scope": "openid session:role:READER",
    });
    let (status, body) = sql_oauth(
        &emu,
        &idp2.sign(&c),
        "SELECT CURRENT_USER(), CURRENT_ROLE()",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["EVE", "READER"]]));
    // `scp` is not the mapping attribute here: no role → invalid.
    let mut scp = c.clone();
    scp.as_object_mut().expect("object").remove("scope");
    scp["scp"] = json!(["session:role:READER"]);
    let (status, body) = sql_oauth(&emu, &idp.sign(&scp), "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
}

#[tokio::test]
async fn external_oauth_use_role_follows_any_role_mode() {
    let idp = Idp::new();
    let c = claims("analyst@example.com", &["session:role:ANALYST"]);
    // Default DISABLE: USE ROLE is refused.
    let emu = external_setup(&idp, "").await;
    let (status, body) = use_then_role(&emu, &idp.sign(&c), "USE ROLE other").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099920", "{body}");
    // ... and so is another role in the request (protocols §1.4): 400 390186.
    let a = post_oauth(
        &emu,
        &idp.sign(&c),
        &json!({ "statement": "SELECT 1", "role": "OTHER" }),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.json);
    assert_eq!(a.json["code"], "390186", "{}", a.json);
    // ENABLE: a granted role may be used.
    let emu = external_setup(&idp, "EXTERNAL_OAUTH_ANY_ROLE_MODE = 'ENABLE'").await;
    let (status, body) = use_then_role(&emu, &idp.sign(&c), "USE ROLE other").await;
    assert_eq!(status, 200, "{body}");
    // ... but never a role the user lacks.
    let (status, body) = use_then_role(&emu, &idp.sign(&c), "USE ROLE ungranted").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "003013", "{body}");
}

// ------------------------------------------------------------------------------------------------
// External OAuth: every refusal, with its code.

#[tokio::test]
async fn external_oauth_refusals_have_their_codes() {
    let idp = Idp::new();
    let emu = external_setup(&idp, "EXTERNAL_OAUTH_BLOCKED_ROLES_LIST = ('OTHER')").await;
    emu.admin_ok("GRANT ROLE accountadmin TO USER analyst_user")
        .await;
    let good = claims("analyst@example.com", &["session:role:ANALYST"]);
    let (status, body) = sql_oauth(&emu, &idp.sign(&good), "SELECT 1").await;
    assert_eq!(status, 200, "control: {body}");

    // alg none (unsigned).
    let none = format!("{}.", Idp::signing_input("none", &good));
    let (status, body) = sql_oauth(&emu, &none, "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    let none_sig = format!("{}.AAAA", Idp::signing_input("none", &good));
    let (status, body) = sql_oauth(&emu, &none_sig, "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    // Without a type header, alg none with our issuer is still detected as OAuth → 390303.
    let (status, body) = sql_bearer(&emu, &none_sig, None, "SELECT 1").await;
    assert_auth_error(status, &body, "390303");

    // HS256 "signed" with the public key (base64 text and DER) as the HMAC secret.
    let input = Idp::signing_input("HS256", &good);
    let der = STANDARD.decode(&idp.public_b64).expect("der");
    for secret in [idp.public_b64.as_bytes().to_vec(), der] {
        let forged = format!(
            "{input}.{}",
            b64url(&hmac_sha256(&secret, input.as_bytes()))
        );
        let (status, body) = sql_oauth(&emu, &forged, "SELECT 1").await;
        assert_auth_error(status, &body, "390303");
    }

    // Bad signature: signed by another key.
    let stranger = Idp::new();
    let (status, body) = sql_oauth(&emu, &stranger.sign(&good), "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    // Bad signature: payload altered after signing.
    let signed = idp.sign(&good);
    let parts: Vec<&str> = signed.split('.').collect();
    let mut altered = good.clone();
    altered["scp"] = json!(["session:role:OTHER"]);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64url(altered.to_string().as_bytes()),
        parts[2]
    );
    let (status, body) = sql_oauth(&emu, &tampered, "SELECT 1").await;
    assert_auth_error(status, &body, "390303");

    let variant = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        idp.sign(&c)
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong aud",
            variant(&|c| c["aud"] = json!("https://elsewhere.snowflakecomputing.com")),
            "390303",
        ),
        (
            "missing aud",
            variant(&|c| c["aud"] = Value::Null),
            "390303",
        ),
        (
            "wrong iss (case differs)",
            variant(&|c| c["iss"] = json!("https://IDP.example")),
            "390303",
        ),
        (
            "expired beyond skew",
            variant(&|c| {
                c["iat"] = json!(now_secs() - 7200);
                c["exp"] = json!(now_secs() - 120);
            }),
            "390318",
        ),
        (
            "not yet valid",
            variant(&|c| c["nbf"] = json!(now_secs() + 600)),
            "390303",
        ),
        (
            "unknown user",
            variant(&|c| c["name"] = json!("nobody@example.com")),
            "390303",
        ),
        (
            "role not granted",
            variant(&|c| c["scp"] = json!(["session:role:UNGRANTED"])),
            "390303",
        ),
        (
            "blocked role from the list",
            variant(&|c| c["scp"] = json!(["session:role:OTHER"])),
            "390303",
        ),
        (
            "privileged role blocked by default",
            variant(&|c| c["scp"] = json!(["session:role:ACCOUNTADMIN"])),
            "390303",
        ),
        (
            "no role scope",
            variant(&|c| c["scp"] = json!(["openid"])),
            "390303",
        ),
    ];
    for (what, token, code) in &cases {
        let (status, body) = sql_oauth(&emu, token, "SELECT 1").await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["code"], *code, "{what}: {body}");
    }
    // Within the 60 s skew an expired token still passes.
    let recent = variant(&|c| c["exp"] = json!(now_secs() - 10));
    let (status, body) = sql_oauth(&emu, &recent, "SELECT 1").await;
    assert_eq!(status, 200, "{body}");

    // Wrong issuer without a type header: not ours, not a key-pair JWT → 390144 (§1.3).
    let (status, body) = sql_bearer(
        &emu,
        &variant(&|c| c["iss"] = json!("https://other.example")),
        None,
        "SELECT 1",
    )
    .await;
    assert_auth_error(status, &body, "390144");

    // A disabled user, then a disabled integration.
    emu.admin_ok("ALTER USER analyst_user SET DISABLED = TRUE")
        .await;
    let (status, body) = sql_oauth(&emu, &idp.sign(&good), "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    emu.admin_ok("ALTER USER analyst_user SET DISABLED = FALSE")
        .await;
    emu.admin_ok("ALTER SECURITY INTEGRATION idp SET ENABLED = FALSE")
        .await;
    let (status, body) = sql_oauth(&emu, &idp.sign(&good), "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
}

#[tokio::test]
async fn external_oauth_respects_authentication_policy_and_allowed_roles() {
    let idp = Idp::new();
    let emu = external_setup(&idp, "EXTERNAL_OAUTH_ALLOWED_ROLES_LIST = ('OTHER')").await;
    let analyst = claims("analyst@example.com", &["session:role:ANALYST"]);
    let other = claims("analyst@example.com", &["session:role:OTHER"]);
    let (status, body) = sql_oauth(&emu, &idp.sign(&analyst), "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    let (status, body) = sql_oauth(&emu, &idp.sign(&other), "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["OTHER"]]));
    emu.admin_ok("CREATE DATABASE pol").await;
    emu.admin_ok("CREATE SCHEMA pol.s").await;
    emu.admin_ok(
        "CREATE AUTHENTICATION POLICY pol.s.no_oauth AUTHENTICATION_METHODS = ('PASSWORD', 'PROGRAMMATIC_ACCESS_TOKEN')",
    )
    .await;
    emu.admin_ok("ALTER USER analyst_user SET AUTHENTICATION POLICY pol.s.no_oauth")
        .await;
    let (status, body) = sql_oauth(&emu, &idp.sign(&other), "SELECT 1").await;
    assert_auth_error(status, &body, "390202");
}

#[tokio::test]
async fn external_oauth_integration_properties_are_validated() {
    let idp = Idp::new();
    let emu = Emulator::start().await;
    let admin = emu.admin();
    let base = format!(
        "CREATE SECURITY INTEGRATION x TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
         EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = '{ISSUER}' \
         EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = 'sub' \
         EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'LOGIN_NAME'"
    );
    let cases = [
        (format!("{base} EXTERNAL_OAUTH_RSA_PUBLIC_KEY = 'bm90IGEga2V5'"), "099946"),
        (
            format!(
                "{base} EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '-----BEGIN PUBLIC KEY-----{}-----END PUBLIC KEY-----'",
                idp.public_b64
            ),
            "099946",
        ),
        (
            format!(
                "{base} EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{}' EXTERNAL_OAUTH_ANY_ROLE_MODE = 'SOMETIMES'",
                idp.public_b64
            ),
            "099946",
        ),
        (
            format!(
                "{base} EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{}' EXTERNAL_OAUTH_SCOPE_MAPPING_ATTRIBUTE = 'roles'",
                idp.public_b64
            ),
            "099946",
        ),
        // No key at all.
        (base.clone(), "001003"),
        // Missing issuer.
        (
            base.replace(&format!("EXTERNAL_OAUTH_ISSUER = '{ISSUER}'"), "")
                + &format!(" EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{}'", idp.public_b64),
            "001003",
        ),
        // A Snowflake OAuth property on an External OAuth integration.
        (
            format!(
                "{base} EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{}' OAUTH_REDIRECT_URI = 'https://x'",
                idp.public_b64
            ),
            "001003",
        ),
    ];
    for (statement, code) in &cases {
        let (status, body) = emu.sql(&admin, statement).await;
        assert_eq!(status, 422, "{statement}: {body}");
        assert_eq!(body["code"], *code, "{statement}: {body}");
    }
    emu.admin_ok(&format!(
        "{base} EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{}'",
        idp.public_b64
    ))
    .await;
    let show = emu.admin_ok("SHOW SECURITY INTEGRATIONS").await;
    assert_eq!(column(&show, "name"), vec![json!("X")]);
    assert_eq!(column(&show, "type"), vec![json!("EXTERNAL_OAUTH")]);
    assert_eq!(column(&show, "enabled"), vec![json!("true")]);
    // ALTER is validated too.
    let (status, body) = emu
        .sql(
            &admin,
            "ALTER SECURITY INTEGRATION x SET EXTERNAL_OAUTH_SCOPE_DELIMITER = ',,'",
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099946", "{body}");
}

// ------------------------------------------------------------------------------------------------
// Snowflake OAuth helpers.

/// A client that does not follow redirects (the 302 of /oauth/authorize is the answer).
fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Client {
    id: String,
    secret: String,
}

/// Creates a CONFIDENTIAL client `APP` (plus `extra` properties) and reads its credentials with
/// `SYSTEM$SHOW_OAUTH_CLIENT_SECRETS`.
async fn create_client(emu: &Emulator, name: &str, extra: &str) -> Client {
    emu.admin_ok(&format!(
        "CREATE SECURITY INTEGRATION {name} TYPE = OAUTH OAUTH_CLIENT = CUSTOM \
         OAUTH_CLIENT_TYPE = 'CONFIDENTIAL' OAUTH_REDIRECT_URI = '{REDIRECT}' ENABLED = TRUE {extra}"
    ))
    .await;
    let body = emu
        .admin_ok(&format!(
            "SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('{name}')"
        ))
        .await;
    let text = body["data"][0][0].as_str().expect("JSON text");
    let secrets: Value = serde_json::from_str(text).expect("JSON");
    let client = Client {
        id: secrets["OAUTH_CLIENT_ID"].as_str().expect("id").to_owned(),
        secret: secrets["OAUTH_CLIENT_SECRET"]
            .as_str()
            .expect("secret")
            .to_owned(),
    };
    assert_ne!(
        secrets["OAUTH_CLIENT_SECRET"],
        secrets["OAUTH_CLIENT_SECRET_2"]
    );
    assert!(!client.id.contains('.') && !client.secret.is_empty());
    client
}

/// User ALICE (default role ANALYST, also granted OTHER, and ACCOUNTADMIN) with an unrestricted
/// PAT; returns the PAT.
async fn end_user(emu: &Emulator) -> String {
    let pat = emu.user_with_pat("ALICE", None).await;
    for statement in [
        "CREATE ROLE IF NOT EXISTS analyst",
        "CREATE ROLE IF NOT EXISTS other",
        "GRANT ROLE analyst TO USER alice",
        "GRANT ROLE other TO USER alice",
        "GRANT ROLE accountadmin TO USER alice",
        "ALTER USER alice SET DEFAULT_ROLE = analyst",
    ] {
        emu.admin_ok(statement).await;
    }
    pat
}

fn pkce() -> (String, String) {
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = b64url(&bytes);
    let challenge = b64url(&Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn enc(s: &str) -> String {
    snowpat_emulator::engine::percent_encode(s)
}

/// GET /oauth/authorize with `params` and the end user's bearer credential (if any) → answer and
/// Location header.
async fn authorize(
    emu: &Emulator,
    params: &[(&str, &str)],
    bearer: Option<&str>,
) -> (u16, Option<String>, Value) {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let mut request =
        no_redirect_client().get(format!("{}/oauth/authorize?{}", emu.url, query.join("&")));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let a = answer(request.send().await.expect("authorize sent")).await;
    let location = a
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (a.status, location, a.json)
}

/// The `code` (and `state`) of a redirect location.
fn query_param(location: &str, name: &str) -> Option<String> {
    let (_, query) = location.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| snowpat_emulator::engine::percent_decode(v).expect("decodes"))
    })
}

/// The standard authorization request: PKCE, refresh_token and a role scope.
async fn get_code(emu: &Emulator, client: &Client, pat: &str, scope: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let (status, location, body) = authorize(
        emu,
        &[
            ("client_id", &client.id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("state", "xyz-123"),
            ("scope", scope),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        Some(pat),
    )
    .await;
    assert_eq!(status, 302, "{body}");
    let location = location.expect("Location");
    assert!(
        location.starts_with(&format!("{REDIRECT}?code=")),
        "{location}"
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz-123"));
    (query_param(&location, "code").expect("code"), verifier)
}

/// POST /oauth/token-request with Basic client credentials.
async fn token_request(emu: &Emulator, client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let a = answer(
        emu.client
            .post(format!("{}/oauth/token-request", emu.url))
            .basic_auth(&client.id, Some(&client.secret))
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .body(body.join("&"))
            .send()
            .await
            .expect("token request sent"),
    )
    .await;
    (a.status, a.json)
}

async fn exchange(
    emu: &Emulator,
    client: &Client,
    code: &str,
    verifier: &str,
    single_use: bool,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    if single_use {
        form.push(("enable_single_use_refresh_tokens", "true"));
    }
    token_request(emu, client, &form).await
}

async fn refresh(emu: &Emulator, client: &Client, refresh_token: &str) -> (u16, Value) {
    token_request(
        emu,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

#[track_caller]
fn assert_oauth_error(status: u16, body: &Value, http: u16, error: &str) {
    assert_eq!(status, http, "expected {http} {error}: {body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["code"], Value::Null, "{body}");
    assert!(body["message"].is_string(), "{body}");
}

fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {body}"))
}

// ------------------------------------------------------------------------------------------------
// Snowflake OAuth: the full flow.

#[tokio::test]
async fn snowflake_oauth_code_pkce_token_and_sql_api() {
    let emu = Emulator::start().await;
    let client = create_client(&emu, "app", "").await;
    let pat = end_user(&emu).await;
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token session:role:OTHER").await;
    let (status, body) = exchange(&emu, &client, &code, &verifier, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["refresh_token_expires_in"], 7_776_000);
    assert_eq!(body["scope"], "refresh_token session:role:OTHER");
    assert_eq!(body["username"], "ALICE");
    assert_eq!(body["idpInitiated"], false);
    let access = text(&body, "access_token");
    assert!(!access.contains('.'));
    // Type OAUTH, and detected without the header (protocols §1.3 step 2).
    for token_type in [Some("OAUTH"), None] {
        let (status, body) = sql_bearer(
            &emu,
            access,
            token_type,
            "SELECT CURRENT_USER(), CURRENT_ROLE()",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], json!([["ALICE", "OTHER"]]));
    }
    // The same token declared as a PAT is not a PAT.
    let (status, body) =
        sql_bearer(&emu, access, Some("PROGRAMMATIC_ACCESS_TOKEN"), "SELECT 1").await;
    assert_auth_error(status, &body, "394400");
    // A PAT declared as OAUTH is refused with 390303 (protocols §1.2).
    let (status, body) = sql_oauth(&emu, &pat, "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    // The session is an OAuth session: S4 applies; USE ROLE is refused.
    let (status, body) = sql_oauth(&emu, access, "ALTER USER ADD PAT p").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099420");
    let (status, body) = use_then_role(&emu, access, "USE ROLE analyst").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099920");
    // Cortex accepts the access token.
    let a = answer(
        emu.client
            .get(format!("{}/api/v2/cortex/models", emu.url))
            .bearer_auth(access)
            .header("X-Snowflake-Authorization-Token-Type", "OAUTH")
            .send()
            .await
            .expect("cortex"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    // Expiry on the account clock: 600 s → 390318.
    emu.advance_clock(601).await;
    let (status, body) = sql_oauth(&emu, access, "SELECT 1").await;
    assert_auth_error(status, &body, "390318");
}

#[tokio::test]
async fn snowflake_oauth_refresh_without_rotation_keeps_the_refresh_token() {
    let emu = Emulator::start().await;
    let client = create_client(&emu, "app", "").await;
    let pat = end_user(&emu).await;
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    let (status, body) = exchange(&emu, &client, &code, &verifier, false).await;
    assert_eq!(status, 200, "{body}");
    // No role scope → the default role.
    assert_eq!(body["scope"], "refresh_token session:role:ANALYST");
    let first_access = text(&body, "access_token").to_owned();
    let refresh_token = text(&body, "refresh_token").to_owned();
    let (status, r1) = refresh(&emu, &client, &refresh_token).await;
    assert_eq!(status, 200, "{r1}");
    assert!(r1.get("refresh_token").is_none(), "{r1}");
    assert_eq!(r1["token_type"], "Bearer");
    assert_eq!(r1["expires_in"], 600);
    assert_eq!(r1["idpInitiated"], false);
    let (status, r2) = refresh(&emu, &client, &refresh_token).await;
    assert_eq!(status, 200, "{r2}");
    for access in [
        first_access.as_str(),
        text(&r1, "access_token"),
        text(&r2, "access_token"),
    ] {
        let (status, body) = sql_oauth(&emu, access, "SELECT CURRENT_ROLE()").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], json!([["ANALYST"]]));
    }
    // After the access lifetime, refresh still works (90-day refresh validity).
    emu.advance_clock(3600).await;
    let (status, body) = sql_oauth(&emu, &first_access, "SELECT 1").await;
    assert_auth_error(status, &body, "390318");
    let (status, r3) = refresh(&emu, &client, &refresh_token).await;
    assert_eq!(status, 200, "{r3}");
    let (status, body) = sql_oauth(&emu, text(&r3, "access_token"), "SELECT 1").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn snowflake_oauth_single_use_rotation_and_reuse_kills_the_family() {
    let emu = Emulator::start().await;
    let client = create_client(&emu, "app", "").await;
    let pat = end_user(&emu).await;
    let (code, verifier) =
        get_code(&emu, &client, &pat, "refresh_token session:role:ANALYST").await;
    let (status, body) = exchange(&emu, &client, &code, &verifier, true).await;
    assert_eq!(status, 200, "{body}");
    let access0 = text(&body, "access_token").to_owned();
    let refresh0 = text(&body, "refresh_token").to_owned();

    // Rotation: a new pair; the previous access token is invalid (390303).
    let (status, r1) = refresh(&emu, &client, &refresh0).await;
    assert_eq!(status, 200, "{r1}");
    let access1 = text(&r1, "access_token").to_owned();
    let refresh1 = text(&r1, "refresh_token").to_owned();
    assert_ne!(refresh1, refresh0);
    assert_eq!(r1["refresh_token_expires_in"], 7_776_000);
    let (status, body) = sql_oauth(&emu, &access0, "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    let (status, body) = sql_oauth(&emu, &access1, "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ANALYST"]]));

    // One more rotation, then replay the spent refresh0.
    let (status, r2) = refresh(&emu, &client, &refresh1).await;
    assert_eq!(status, 200, "{r2}");
    let access2 = text(&r2, "access_token").to_owned();
    let refresh2 = text(&r2, "refresh_token").to_owned();
    let (status, body) = sql_oauth(&emu, &access2, "SELECT 1").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = refresh(&emu, &client, &refresh0).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
    // The whole family is dead: the current access token and the current refresh token.
    let (status, body) = sql_oauth(&emu, &access2, "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    let (status, body) = refresh(&emu, &client, &refresh2).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
}

#[tokio::test]
async fn snowflake_oauth_rotation_required_by_the_integration() {
    let emu = Emulator::start().await;
    let client = create_client(
        &emu,
        "app",
        "OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED = TRUE OAUTH_REFRESH_TOKEN_VALIDITY = 86400",
    )
    .await;
    let pat = end_user(&emu).await;
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    let (status, body) = exchange(&emu, &client, &code, &verifier, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_token_expires_in"], 86_400);
    let refresh0 = text(&body, "refresh_token").to_owned();
    let (status, r1) = refresh(&emu, &client, &refresh0).await;
    assert_eq!(status, 200, "{r1}");
    assert!(r1["refresh_token"].is_string(), "{r1}");
    let (status, body) = refresh(&emu, &client, &refresh0).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
    // Refresh validity runs on the account clock.
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    let (_, body) = exchange(&emu, &client, &code, &verifier, false).await;
    let fresh = text(&body, "refresh_token").to_owned();
    emu.advance_clock(86_401).await;
    let (status, body) = refresh(&emu, &client, &fresh).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
}

// ------------------------------------------------------------------------------------------------
// Snowflake OAuth: refusals.

#[tokio::test]
async fn snowflake_oauth_wrong_verifier_reused_code_and_wrong_redirect() {
    let emu = Emulator::start().await;
    let client = create_client(&emu, "app", "").await;
    let pat = end_user(&emu).await;

    // Wrong verifier → invalid_grant, and the code is spent.
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    let (other_verifier, _) = pkce();
    let (status, body) = exchange(&emu, &client, &code, &other_verifier, false).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
    let (status, body) = exchange(&emu, &client, &code, &verifier, false).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
    // Missing verifier when a challenge was sent.
    let (code, _) = get_code(&emu, &client, &pat, "refresh_token").await;
    let (status, body) = token_request(
        &emu,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_oauth_error(status, &body, 400, "invalid_grant");

    // Reused code → invalid_grant, and the tokens of the first exchange are revoked.
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    let (status, first) = exchange(&emu, &client, &code, &verifier, false).await;
    assert_eq!(status, 200, "{first}");
    let (status, body) = exchange(&emu, &client, &code, &verifier, false).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
    let (status, body) = sql_oauth(&emu, text(&first, "access_token"), "SELECT 1").await;
    assert_auth_error(status, &body, "390303");

    // redirect_uri at the token endpoint must be the one of the authorization request.
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    let (status, body) = token_request(
        &emu,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://app.example/other"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_oauth_error(status, &body, 400, "invalid_grant");

    // Wrong redirect_uri at the authorization endpoint: no redirect, 400 invalid_request.
    let (_, challenge) = pkce();
    let (status, location, body) = authorize(
        &emu,
        &[
            ("client_id", &client.id),
            ("response_type", "code"),
            ("redirect_uri", "https://evil.example/callback"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        Some(&pat),
    )
    .await;
    assert!(location.is_none());
    assert_oauth_error(status, &body, 400, "invalid_request");
    // Its query string is ignored when matching.
    let with_query = format!("{REDIRECT}?tenant=7");
    let (status, location, body) = authorize(
        &emu,
        &[
            ("client_id", &client.id),
            ("response_type", "code"),
            ("redirect_uri", &with_query),
        ],
        Some(&pat),
    )
    .await;
    assert_eq!(status, 302, "{body}");
    assert!(location
        .expect("Location")
        .starts_with(&format!("{with_query}&code=")));
}

#[tokio::test]
async fn snowflake_oauth_authorization_endpoint_refusals() {
    let emu = Emulator::start().await;
    let client = create_client(&emu, "app", "").await;
    let pat = end_user(&emu).await;
    let bob = emu.user_with_pat("BOB", None).await;
    let base = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, String)> = vec![
            ("client_id", client.id.clone()),
            ("response_type", "code".into()),
            ("redirect_uri", REDIRECT.into()),
        ];
        p.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        p
    };
    let run = |params: Vec<(&'static str, String)>, bearer: Option<String>| {
        let emu = &emu;
        async move {
            let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            authorize(emu, &refs, bearer.as_deref()).await
        }
    };
    // No end-user credential → 401.
    let (status, _, body) = run(base(&[]), None).await;
    assert_oauth_error(status, &body, 401, "login_required");
    // A bad credential → 401.
    let (status, _, body) = run(base(&[]), Some("not-a-token".into())).await;
    assert_oauth_error(status, &body, 401, "login_required");
    // login_hint naming another user.
    let (status, _, body) = run(base(&[("login_hint", "BOB")]), Some(pat.clone())).await;
    assert_oauth_error(status, &body, 400, "invalid_request");
    let (status, _, body) = run(base(&[("login_hint", "alice")]), Some(pat.clone())).await;
    assert_eq!(status, 302, "{body}");
    // Bob cannot take Alice's role; privileged roles are blocked by default.
    let (status, _, body) = run(base(&[("scope", "session:role:OTHER")]), Some(bob)).await;
    assert_oauth_error(status, &body, 400, "invalid_scope");
    let (status, _, body) = run(
        base(&[("scope", "session:role:ACCOUNTADMIN")]),
        Some(pat.clone()),
    )
    .await;
    assert_oauth_error(status, &body, 400, "invalid_scope");
    // Unknown scope names are rejected before authentication.
    let (status, _, body) = run(base(&[("scope", "openid")]), None).await;
    assert_oauth_error(status, &body, 400, "invalid_scope");
    // Unknown client, wrong response type, plain PKCE, long state.
    let mut unknown = base(&[]);
    unknown[0].1 = "nobody".into();
    let (status, _, body) = run(unknown, Some(pat.clone())).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    let mut token_type = base(&[]);
    token_type[1].1 = "token".into();
    let (status, _, body) = run(token_type, Some(pat.clone())).await;
    assert_oauth_error(status, &body, 400, "unsupported_response_type");
    let (status, _, body) = run(
        base(&[
            ("code_challenge", "abc"),
            ("code_challenge_method", "plain"),
        ]),
        Some(pat.clone()),
    )
    .await;
    assert_oauth_error(status, &body, 400, "invalid_request");
    let mut long_state = base(&[]);
    long_state.push(("state", "s".repeat(2049)));
    let (status, _, body) = run(long_state, Some(pat.clone())).await;
    assert_oauth_error(status, &body, 400, "invalid_request");
    // role-encoded scope.
    emu.admin_ok("CREATE ROLE \"Mixed Role\"").await;
    emu.admin_ok("GRANT ROLE \"Mixed Role\" TO USER alice")
        .await;
    let (status, location, body) = run(
        base(&[("scope", "session:role-encoded:Mixed%20Role")]),
        Some(pat.clone()),
    )
    .await;
    assert_eq!(status, 302, "{body}");
    let code = query_param(&location.expect("Location"), "code").expect("code");
    let (status, body) = token_request(
        &emu,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let (status, body) =
        sql_oauth(&emu, text(&body, "access_token"), "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["Mixed Role"]]));
}

#[tokio::test]
async fn snowflake_oauth_token_endpoint_refusals() {
    let emu = Emulator::start().await;
    let client = create_client(&emu, "app", "OAUTH_ENFORCE_PKCE = TRUE").await;
    let pat = end_user(&emu).await;
    // PKCE enforced: an authorization request without a challenge is refused.
    let (status, _, body) = authorize(
        &emu,
        &[
            ("client_id", &client.id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
        ],
        Some(&pat),
    )
    .await;
    assert_oauth_error(status, &body, 400, "invalid_request");
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    // Wrong client secret → 401 invalid_client.
    let wrong = Client {
        id: client.id.clone(),
        secret: "wrong".into(),
    };
    let (status, body) = exchange(&emu, &wrong, &code, &verifier, false).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    // A CONFIDENTIAL client cannot authenticate with client_id alone.
    let a = answer(
        emu.client
            .post(format!("{}/oauth/token-request", emu.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&client_id={}&code={}&redirect_uri={}&code_verifier={}",
                enc(&client.id),
                enc(&code),
                enc(REDIRECT),
                enc(&verifier)
            ))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_oauth_error(a.status, &a.json, 401, "invalid_client");
    // Unsupported grant type; missing grant type.
    let (status, body) = token_request(&emu, &client, &[("grant_type", "password")]).await;
    assert_oauth_error(status, &body, 400, "unsupported_grant_type");
    let (status, body) = token_request(&emu, &client, &[("code", &code)]).await;
    assert_oauth_error(status, &body, 400, "invalid_request");
    // An unknown refresh token.
    let (status, body) = refresh(&emu, &client, "nope").await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
    // The code is still good after those refusals, and dies after 600 s.
    let (status, body) = exchange(&emu, &client, &code, &verifier, false).await;
    assert_eq!(status, 200, "{body}");
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    emu.advance_clock(601).await;
    let (status, body) = exchange(&emu, &client, &code, &verifier, false).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
}

#[tokio::test]
async fn snowflake_oauth_public_client_and_password_end_user() {
    let emu = Emulator::start().await;
    emu.admin_ok(
        "CREATE SECURITY INTEGRATION pub TYPE = OAUTH OAUTH_CLIENT = CUSTOM \
         OAUTH_CLIENT_TYPE = 'PUBLIC' OAUTH_REDIRECT_URI = 'http://127.0.0.1:9/cb' \
         OAUTH_ALLOW_NON_TLS_REDIRECT_URI = TRUE ENABLED = TRUE",
    )
    .await;
    let body = emu
        .admin_ok("SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('PUB')")
        .await;
    let secrets: Value =
        serde_json::from_str(body["data"][0][0].as_str().expect("text")).expect("JSON");
    let client_id = secrets["OAUTH_CLIENT_ID"].as_str().expect("id").to_owned();
    emu.admin_ok("CREATE USER carol PASSWORD = 'Correct-Horse-9' TYPE = PERSON")
        .await;
    let (verifier, challenge) = pkce();
    let query = format!(
        "client_id={}&response_type=code&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
        enc(&client_id),
        enc("http://127.0.0.1:9/cb")
    );
    let url = format!("{}/oauth/authorize?{query}", emu.url);
    let a = answer(
        no_redirect_client()
            .get(&url)
            .basic_auth("carol", Some("wrong"))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_oauth_error(a.status, &a.json, 401, "login_required");
    let response = no_redirect_client()
        .get(&url)
        .basic_auth("carol", Some("Correct-Horse-9"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let code = query_param(&location, "code").expect("code");
    let a = answer(
        emu.client
            .post(format!("{}/oauth/token-request", emu.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&client_id={}&code={}&redirect_uri={}&code_verifier={verifier}",
                enc(&client_id),
                enc(&code),
                enc("http://127.0.0.1:9/cb")
            ))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["username"], "CAROL");
    assert_eq!(a.json["scope"], "session:role:PUBLIC");
    let (status, body) =
        sql_oauth(&emu, text(&a.json, "access_token"), "SELECT CURRENT_USER()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["CAROL"]]));
}

#[tokio::test]
async fn snowflake_oauth_integration_rules_and_secrets_visibility() {
    let emu = Emulator::start().await;
    let admin = emu.admin();
    for (statement, code) in [
        (
            "CREATE SECURITY INTEGRATION a TYPE = OAUTH OAUTH_CLIENT = CUSTOM OAUTH_CLIENT_TYPE = 'CONFIDENTIAL'",
            "001003",
        ),
        (
            "CREATE SECURITY INTEGRATION a TYPE = OAUTH OAUTH_CLIENT = CUSTOM OAUTH_CLIENT_TYPE = 'SECRETIVE' OAUTH_REDIRECT_URI = 'https://x'",
            "099946",
        ),
        (
            "CREATE SECURITY INTEGRATION a TYPE = OAUTH OAUTH_CLIENT = CUSTOM OAUTH_CLIENT_TYPE = 'PUBLIC' OAUTH_REDIRECT_URI = 'http://x'",
            "099946",
        ),
        (
            "CREATE SECURITY INTEGRATION a TYPE = OAUTH OAUTH_CLIENT = CUSTOM OAUTH_CLIENT_TYPE = 'PUBLIC' OAUTH_REDIRECT_URI = 'https://x' OAUTH_REFRESH_TOKEN_VALIDITY = 60",
            "099946",
        ),
    ] {
        let (status, body) = emu.sql(&admin, statement).await;
        assert_eq!(status, 422, "{statement}: {body}");
        assert_eq!(body["code"], code, "{statement}: {body}");
    }
    let first = create_client(&emu, "app", "").await;
    // Secrets are the owner's business.
    let bob = emu.user_with_pat("BOB", None).await;
    let (status, body) = emu
        .sql(&bob, "SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('APP')")
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "002003", "{body}");
    // CREATE OR REPLACE issues new credentials; the old ones stop working.
    emu.admin_ok(&format!(
        "CREATE OR REPLACE SECURITY INTEGRATION app TYPE = OAUTH OAUTH_CLIENT = CUSTOM \
         OAUTH_CLIENT_TYPE = 'CONFIDENTIAL' OAUTH_REDIRECT_URI = '{REDIRECT}' ENABLED = TRUE"
    ))
    .await;
    let body = emu
        .admin_ok("SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('APP')")
        .await;
    assert!(!body["data"][0][0]
        .as_str()
        .expect("text")
        .contains(&first.secret));
    let (status, body) = refresh(&emu, &first, "x").await;
    assert_oauth_error(status, &body, 401, "invalid_client");
}

#[tokio::test]
async fn snowflake_oauth_tokens_survive_a_restart_with_state() {
    let emu = Emulator::start_with(|c| {
        c.state = Some(
            c.admin_token_file
                .clone()
                .expect("dir")
                .with_file_name("state.json"),
        )
    })
    .await;
    let client = create_client(&emu, "app", "").await;
    let pat = end_user(&emu).await;
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    let (status, body) = exchange(&emu, &client, &code, &verifier, true).await;
    assert_eq!(status, 200, "{body}");
    let access = text(&body, "access_token").to_owned();
    let refresh0 = text(&body, "refresh_token").to_owned();
    let emu = emu.restart().await;
    let (status, body) = sql_oauth(&emu, &access, "SELECT CURRENT_USER()").await;
    assert_eq!(status, 200, "{body}");
    let (status, r1) = refresh(&emu, &client, &refresh0).await;
    assert_eq!(status, 200, "{r1}");
    let emu = emu.restart().await;
    // The spent token is still known as spent after a restart.
    let (status, body) = refresh(&emu, &client, &refresh0).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
    let (status, body) = sql_oauth(&emu, text(&r1, "access_token"), "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
}

#[tokio::test]
async fn snowflake_oauth_disable_or_drop_integration_kills_tokens_and_oauth_cannot_sign_in() {
    let emu = Emulator::start().await;
    let client = create_client(&emu, "app", "").await;
    let pat = end_user(&emu).await;
    let (code, verifier) = get_code(&emu, &client, &pat, "refresh_token").await;
    let (status, body) = exchange(&emu, &client, &code, &verifier, false).await;
    assert_eq!(status, 200, "{body}");
    let access = text(&body, "access_token").to_owned();
    let refresh_token = text(&body, "refresh_token").to_owned();
    // An OAuth access token is not an end-user sign-in at the authorization endpoint.
    let (status, _, body) = authorize(
        &emu,
        &[
            ("client_id", &client.id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
        ],
        Some(&access),
    )
    .await;
    assert_oauth_error(status, &body, 401, "login_required");
    let mark = emu.log_mark().await;
    let (status, body) = sql_oauth(&emu, &access, "SELECT 1").await;
    assert_eq!(status, 200, "{body}");
    let lines = emu.control_log(mark).await;
    assert!(lines.iter().any(|l| l["auth"] == "oauth"), "{lines:?}");
    // Disabled: the access token and the client are refused; enabled again, they work.
    emu.admin_ok("ALTER SECURITY INTEGRATION app SET ENABLED = FALSE")
        .await;
    let (status, body) = sql_oauth(&emu, &access, "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    let (status, body) = refresh(&emu, &client, &refresh_token).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    emu.admin_ok("ALTER SECURITY INTEGRATION app SET ENABLED = TRUE")
        .await;
    let (status, body) = sql_oauth(&emu, &access, "SELECT 1").await;
    assert_eq!(status, 200, "{body}");
    // Dropped: gone for good, and so are its secrets.
    emu.admin_ok("DROP INTEGRATION app").await;
    let (status, body) = sql_oauth(&emu, &access, "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    let (status, body) = refresh(&emu, &client, &refresh_token).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    let (status, body) = emu
        .sql(
            &emu.admin(),
            "SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('APP')",
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "002003", "{body}");
}

#[tokio::test]
async fn external_oauth_privileged_default_and_enable_for_privilege() {
    let idp = Idp::new();
    let emu = external_setup(
        &idp,
        "EXTERNAL_OAUTH_ANY_ROLE_MODE = 'ENABLE_FOR_PRIVILEGE'",
    )
    .await;
    emu.admin_ok("GRANT ROLE accountadmin TO USER analyst_user")
        .await;
    let admin_scope = claims("analyst@example.com", &["session:role:ACCOUNTADMIN"]);
    let (status, body) = sql_oauth(&emu, &idp.sign(&admin_scope), "SELECT 1").await;
    assert_auth_error(status, &body, "390303");
    // The account parameter lifts the privileged-role default (protocols §5.2).
    emu.admin_ok("ALTER ACCOUNT SET EXTERNAL_OAUTH_ADD_PRIVILEGED_ROLES_TO_BLOCKED_LIST = FALSE")
        .await;
    let (status, body) = sql_oauth(&emu, &idp.sign(&admin_scope), "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ACCOUNTADMIN"]]));
    // ENABLE_FOR_PRIVILEGE: USE ROLE needs USE_ANY_ROLE on the integration.
    emu.admin_ok("REVOKE ROLE accountadmin FROM USER analyst_user")
        .await;
    let c = claims("analyst@example.com", &["session:role:ANALYST"]);
    let (status, body) = use_then_role(&emu, &idp.sign(&c), "USE ROLE other").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099920", "{body}");
    emu.admin_ok("GRANT USE_ANY_ROLE ON INTEGRATION idp TO ROLE analyst")
        .await;
    let (status, body) = use_then_role(&emu, &idp.sign(&c), "USE ROLE other").await;
    assert_eq!(status, 200, "{body}");
    // The requested-role header follows the same rule.
    let a = post_oauth(
        &emu,
        &idp.sign(&c),
        &json!({ "statement": "SELECT CURRENT_ROLE()", "role": "OTHER" }),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["data"], json!([["OTHER"]]));
}

/// POST to a driver endpoint (protocols §4) with an uncompressed JSON body.
async fn driver_post(emu: &Emulator, path: &str, token: Option<&str>, body: &Value) -> Value {
    let a = answer(
        emu.client
            .post(format!("{}{path}", emu.url))
            .header("Content-Type", "application/json")
            .header("Accept", "application/snowflake")
            .header(
                "Authorization",
                format!("Snowflake Token=\"{}\"", token.unwrap_or("None")),
            )
            .json(body)
            .send()
            .await
            .expect("driver request"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    a.json
}

async fn driver_oauth_login(emu: &Emulator, token: &str) -> Value {
    let body = json!({"data": {
        "CLIENT_APP_ID": "PythonConnector", "CLIENT_APP_VERSION": "3.18.0",
        "ACCOUNT_NAME": "EMULATOR", "LOGIN_NAME": "analyst@example.com",
        "AUTHENTICATOR": "OAUTH", "TOKEN": token,
        "CLIENT_ENVIRONMENT": {"APPLICATION": "PythonConnector"},
        "SESSION_PARAMETERS": {},
    }});
    let path = format!(
        "/session/v1/login-request?request_id={}",
        uuid::Uuid::new_v4()
    );
    driver_post(emu, &path, None, &body).await
}

#[tokio::test]
async fn external_oauth_driver_login_and_use_role() {
    let idp = Idp::new();
    let emu = external_setup(&idp, "").await;
    let good = claims("analyst@example.com", &["session:role:ANALYST"]);
    let login = driver_oauth_login(&emu, &idp.sign(&good)).await;
    assert_eq!(login["success"], true, "{login}");
    let session = login["data"]["token"].as_str().expect("session token");
    let query = |sql: &str| {
        json!({"sqlText": sql, "asyncExec": false, "sequenceId": 1, "parameters": {},
               "bindings": null, "isInternal": false, "describeOnly": false})
    };
    let path = format!(
        "/queries/v1/query-request?requestId={}",
        uuid::Uuid::new_v4()
    );
    let answer = driver_post(&emu, &path, Some(session), &query("SELECT CURRENT_ROLE()")).await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["data"]["rowset"], json!([["ANALYST"]]), "{answer}");
    // USE ROLE in the same (driver) session is refused with ANY_ROLE_MODE DISABLE.
    let path = format!(
        "/queries/v1/query-request?requestId={}",
        uuid::Uuid::new_v4()
    );
    let answer = driver_post(&emu, &path, Some(session), &query("USE ROLE other")).await;
    assert_eq!(answer["success"], false, "{answer}");
    assert_eq!(answer["code"], "099920", "{answer}");
    // Expired and invalid tokens: success false with 390318 / 390303.
    let mut expired = good.clone();
    expired["iat"] = json!(now_secs() - 7200);
    expired["exp"] = json!(now_secs() - 3600);
    let login = driver_oauth_login(&emu, &idp.sign(&expired)).await;
    assert_eq!(login["success"], false, "{login}");
    assert_eq!(login["code"], "390318", "{login}");
    let login = driver_oauth_login(&emu, &Idp::new().sign(&good)).await;
    assert_eq!(login["success"], false, "{login}");
    assert_eq!(login["code"], "390303", "{login}");
}

#[tokio::test]
async fn snowflake_oauth_alternate_redirect_uri_is_accepted() {
    let emu = Emulator::start().await;
    let alternate = "https://alt.example/cb";
    let client = create_client(
        &emu,
        "app",
        &format!("OAUTH_ALTERNATE_REDIRECT_URIS = ('{alternate}')"),
    )
    .await;
    let pat = end_user(&emu).await;
    let (verifier, challenge) = pkce();
    let (status, location, body) = authorize(
        &emu,
        &[
            ("client_id", &client.id),
            ("response_type", "code"),
            ("redirect_uri", alternate),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        Some(&pat),
    )
    .await;
    assert_eq!(status, 302, "{body}");
    let code = query_param(&location.expect("Location"), "code").expect("code");
    let (status, body) = token_request(
        &emu,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", alternate),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["username"], "ALICE");
}

#[tokio::test]
async fn snowflake_oauth_issue_refresh_tokens_false_issues_none() {
    let emu = Emulator::start().await;
    let client = create_client(&emu, "app", "OAUTH_ISSUE_REFRESH_TOKENS = FALSE").await;
    let pat = end_user(&emu).await;
    let (code, verifier) =
        get_code(&emu, &client, &pat, "refresh_token session:role:ANALYST").await;
    let (status, body) = exchange(&emu, &client, &code, &verifier, true).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("refresh_token_expires_in").is_none(), "{body}");
    assert_eq!(body["scope"], "session:role:ANALYST");
    let (status, body) =
        sql_oauth(&emu, text(&body, "access_token"), "SELECT CURRENT_ROLE()").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([["ANALYST"]]));
}
