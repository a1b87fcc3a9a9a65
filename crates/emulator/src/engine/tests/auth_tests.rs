//! Credential verification (§6.6, protocols §1.3 and §3.2) and session roles (§4.1, §6.7).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

use super::*;

/// SVC with a loopback network policy, role R, one restricted token T; answers its secret.
fn svc_with_token() -> (Account, Session, String) {
    let mut a = account();
    let mut sess = admin(&a);
    service_user(&mut a, &mut sess);
    let secret = secret_of(&sql(
        &mut a,
        &mut sess,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = 'r'",
    ));
    (a, sess, secret)
}

fn err(r: Result<Session, AuthError>) -> AuthError {
    match r {
        Ok(s) => panic!("unexpected session {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn admin_token_through_internal_session_authenticates() {
    let mut a = account();
    let mut sess = admin(&a);
    let r = sql(
        &mut a,
        &mut sess,
        "ALTER USER ADMIN ADD PAT EMULATOR_ADMIN DAYS_TO_EXPIRY = 365",
    );
    let secret = secret_of(&r);
    let s = pat_login(&mut a, &secret, now()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.user_name, "ADMIN");
    assert_eq!(s.primary_role, "ACCOUNTADMIN");
    assert!(matches!(
        s.auth,
        AuthMethod::Pat {
            role_restriction: None,
            ..
        }
    ));
    // rotation with zero grace on restart (interfaces.md)
    let r = sql(
        &mut a,
        &mut sess,
        "ALTER USER ADMIN ROTATE PAT EMULATOR_ADMIN EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 0",
    );
    assert_eq!(err(pat_login(&mut a, &secret, now())).code, "394400");
    assert!(pat_login(&mut a, &secret_of(&r), now()).is_ok());
}

#[test]
fn conformance_078_079_person_user_needs_network_policy_or_bypass() {
    let mut a = account_with(false, PatSessionRules::Observed);
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE USER p TYPE = PERSON");
    let plain = secret_of(&sql(&mut a, &mut sess, "ALTER USER p ADD PAT t1"));
    let bypass = secret_of(&sql(
        &mut a,
        &mut sess,
        "ALTER USER p ADD PAT t2 MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = 60",
    ));
    let e = err(pat_login(&mut a, &plain, now()));
    assert_eq!(
        (e.http_status, e.code.as_str(), e.message.as_str()),
        (401, "390432", "Fail : Network policy is required.")
    );
    let half = Now {
        account: t0() + Duration::minutes(30),
        real: t0(),
    };
    let late = Now {
        account: t0() + Duration::minutes(61),
        real: t0(),
    };
    assert!(pat_login(&mut a, &bypass, half).is_ok());
    assert_eq!(err(pat_login(&mut a, &bypass, late)).code, "390432");
    // the SHOW column counts the bypass window down
    let show = ok_at(&mut a, &mut sess, show_pats(Some("P")), half);
    let i = row_named(&show, "T2").unwrap_or(99);
    assert_eq!(
        text_at(&show, i, "mins_to_bypass_network_policy_requirement").as_deref(),
        Some("30")
    );
}

#[test]
fn conformance_080_081_082_network_policy_evaluation() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE ROLE r");
    sql(&mut a, &mut sess, "CREATE USER svc TYPE = SERVICE");
    sql(&mut a, &mut sess, "GRANT ROLE r TO USER svc");
    sql(&mut a, &mut sess, "CREATE DATABASE d");
    sql(
        &mut a,
        &mut sess,
        "CREATE NETWORK RULE ten TYPE = IPV4 VALUE_LIST = ('10.0.0.0/8') MODE = INGRESS",
    );
    sql(
        &mut a,
        &mut sess,
        "CREATE NETWORK POLICY np_ten ALLOWED_NETWORK_RULE_LIST = ('d.public.ten')",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET NETWORK_POLICY = np_ten",
    );
    let secret = secret_of(&sql(
        &mut a,
        &mut sess,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = r",
    ));
    assert_eq!(err(pat_login(&mut a, &secret, now())).code, "099918");
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (NETWORK_POLICY_EVALUATION = NOT_ENFORCED)",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY p",
    );
    assert!(pat_login(&mut a, &secret, now()).is_ok());
    // 82: ENFORCED_NOT_REQUIRED without any network policy
    sql(&mut a, &mut sess, "ALTER ACCOUNT UNSET NETWORK_POLICY");
    sql(&mut a, &mut sess, "ALTER USER svc UNSET NETWORK_POLICY");
    sql(
        &mut a,
        &mut sess,
        "ALTER AUTHENTICATION POLICY p SET PAT_POLICY = (NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED)",
    );
    assert!(pat_login(&mut a, &secret, now()).is_ok());
}

#[test]
fn conformance_083_methods_exclude_pats() {
    let (mut a, mut sess, secret) = svc_with_token();
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY kp AUTHENTICATION_METHODS = ('KEYPAIR')",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY kp",
    );
    assert_eq!(err(pat_login(&mut a, &secret, now())).code, "390202");
}

#[test]
fn conformance_084_restriction_revoked_or_dropped() {
    let (mut a, mut sess, secret) = svc_with_token();
    sql(&mut a, &mut sess, "REVOKE ROLE r FROM USER svc");
    assert_eq!(err(pat_login(&mut a, &secret, now())).code, "394400");
    let show = ok(&mut a, &mut sess, show_pats(Some("SVC")));
    assert_eq!(text_at(&show, 0, "status").as_deref(), Some("ACTIVE"));
    sql(&mut a, &mut sess, "GRANT ROLE r TO USER svc");
    assert!(pat_login(&mut a, &secret, now()).is_ok());
    sql(&mut a, &mut sess, "DROP ROLE r");
    assert_eq!(err(pat_login(&mut a, &secret, now())).code, "394400");
}

#[test]
fn conformance_085_blocked_role() {
    let (mut a, mut sess, secret) = svc_with_token();
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY p",
    );
    let unrestricted = secret_of(&sql(&mut a, &mut sess, "ALTER USER svc ADD PAT u"));
    sql(
        &mut a,
        &mut sess,
        "ALTER AUTHENTICATION POLICY p SET PAT_POLICY = (BLOCKED_ROLES_LIST = ('R'))",
    );
    assert_eq!(err(pat_login(&mut a, &secret, now())).code, "394400");
    assert!(pat_login(&mut a, &unrestricted, now()).is_ok());
}

#[test]
fn conformance_086_max_expiry_lowered() {
    let mut a = account();
    let mut sess = admin(&a);
    service_user(&mut a, &mut sess);
    let secret = secret_of(&sql(
        &mut a,
        &mut sess,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = r DAYS_TO_EXPIRY = 90",
    ));
    assert!(pat_login(&mut a, &secret, now()).is_ok());
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (MAX_EXPIRY_IN_DAYS = 30)",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY p",
    );
    assert_eq!(err(pat_login(&mut a, &secret, now())).code, "394400");
}

/// §6.4 + §6.6 step 9: ROTATE moves expires_at to now + DAYS_TO_EXPIRY and keeps created_on, so
/// a rotated 365-day token must still authenticate; the MAX_EXPIRY_IN_DAYS check compares the
/// lifetime the secret was issued with (§5.9.3), which lowering MAX still catches (row 86).
#[test]
fn conformance_086_rotated_max_lifetime_token_authenticates_until_max_lowered() {
    fn sql_at(a: &mut Account, sess: &mut Session, text: &str, n: Now) -> ResultSet {
        run_at(a, sess, text, n).unwrap_or_else(|e| panic!("{text} failed: {e}"))
    }
    let mut a = account();
    let mut sess = admin(&a);
    service_user(&mut a, &mut sess);
    let first = secret_of(&sql(
        &mut a,
        &mut sess,
        "ALTER USER svc ADD PAT t ROLE_RESTRICTION = r DAYS_TO_EXPIRY = 365",
    ));
    assert!(pat_login(&mut a, &first, now()).is_ok());
    // rotate a day later: the new secret expires 366 days after created_on
    let rotated = secret_of(&sql_at(
        &mut a,
        &mut sess,
        "ALTER USER svc ROTATE PAT t EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 0",
        at(24),
    ));
    assert_ne!(rotated, first);
    assert!(pat_login(&mut a, &rotated, at(25)).is_ok());
    assert_eq!(err(pat_login(&mut a, &first, at(25))).code, "394400");
    sql_at(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (MAX_EXPIRY_IN_DAYS = 30)",
        at(25),
    );
    sql_at(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY p",
        at(25),
    );
    assert_eq!(err(pat_login(&mut a, &rotated, at(26))).code, "394400");
}

#[test]
fn conformance_087_restriction_requirement_flipped() {
    let mut a = account();
    let mut sess = admin(&a);
    service_user(&mut a, &mut sess);
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY p PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET AUTHENTICATION POLICY p",
    );
    let secret = secret_of(&sql(&mut a, &mut sess, "ALTER USER svc ADD PAT u"));
    assert!(pat_login(&mut a, &secret, now()).is_ok());
    sql(
        &mut a,
        &mut sess,
        "ALTER AUTHENTICATION POLICY p SET PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = TRUE)",
    );
    assert_eq!(err(pat_login(&mut a, &secret, now())).code, "394400");
}

#[test]
fn conformance_089_090_requested_role_with_restriction() {
    let (mut a, mut sess, secret) = svc_with_token();
    sql(&mut a, &mut sess, "CREATE ROLE other");
    sql(&mut a, &mut sess, "GRANT ROLE other TO USER svc");
    let tok = bearer(&secret, Some(TokenType::ProgrammaticAccessToken));
    let e = err(a.authenticate(&tok, &ctx(Some("OTHER"), Channel::Driver), now()));
    assert_eq!(e.code, "394400");
    let e = err(a.authenticate(&tok, &ctx(Some("OTHER"), Channel::SqlApi), now()));
    assert_eq!((e.http_status, e.code.as_str()), (400, "390186"));
    let s = a
        .authenticate(&tok, &ctx(Some("R"), Channel::SqlApi), now())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.primary_role, "R");
}

#[test]
fn conformance_091_restricted_session_roles() {
    let (mut a, mut sess, secret) = svc_with_token();
    sql(&mut a, &mut sess, "CREATE ROLE other");
    sql(&mut a, &mut sess, "GRANT ROLE other TO USER svc");
    sql(
        &mut a,
        &mut sess,
        "ALTER USER svc SET DEFAULT_SECONDARY_ROLES = ('ALL')",
    );
    let mut s = pat_login(&mut a, &secret, now()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!s.secondary_roles_all);
    let r = sql(&mut a, &mut s, "SELECT CURRENT_ROLE()");
    assert_eq!(text_at(&r, 0, "CURRENT_ROLE()").as_deref(), Some("R"));
    assert_eq!(sql_code(&mut a, &mut s, "USE ROLE other"), "099920");
    assert_eq!(
        sql_code(&mut a, &mut s, "USE SECONDARY ROLES ALL"),
        "099919"
    );
    let r = sql(&mut a, &mut s, "SELECT CURRENT_AVAILABLE_ROLES()");
    assert_eq!(
        text_at(&r, 0, "CURRENT_AVAILABLE_ROLES()").as_deref(),
        Some("[\"PUBLIC\",\"R\"]")
    );
}

#[test]
fn conformance_092_unrestricted_session_default_role_and_secondary() {
    let mut a = account();
    let mut sess = admin(&a);
    sql(&mut a, &mut sess, "CREATE ROLE analyst");
    sql(&mut a, &mut sess, "CREATE ROLE extra");
    sql(
        &mut a,
        &mut sess,
        "CREATE USER u DEFAULT_ROLE = analyst DEFAULT_SECONDARY_ROLES = ('ALL')",
    );
    sql(&mut a, &mut sess, "GRANT ROLE analyst TO USER u");
    sql(&mut a, &mut sess, "GRANT ROLE extra TO USER u");
    give_network_policy(&mut a, &mut sess, "U");
    let secret = secret_of(&sql(&mut a, &mut sess, "ALTER USER u ADD PAT t"));
    let mut s = pat_login(&mut a, &secret, now()).unwrap_or_else(|e| panic!("{e}"));
    let r = sql(&mut a, &mut s, "SELECT CURRENT_ROLE()");
    assert_eq!(text_at(&r, 0, "CURRENT_ROLE()").as_deref(), Some("ANALYST"));
    assert!(s.secondary_roles_all);
    let r = sql(&mut a, &mut s, "SELECT CURRENT_SECONDARY_ROLES()");
    assert!(text_at(&r, 0, "CURRENT_SECONDARY_ROLES()")
        .unwrap_or_default()
        .contains("EXTRA"));
    // default role not granted → PUBLIC
    sql(&mut a, &mut sess, "REVOKE ROLE analyst FROM USER u");
    let s = pat_login(&mut a, &secret, now()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.primary_role, "PUBLIC");
    // a requested role not granted → 390186 / 099926
    let tok = bearer(&secret, None);
    assert_eq!(
        err(a.authenticate(&tok, &ctx(Some("ANALYST"), Channel::SqlApi), now())).code,
        "390186"
    );
    assert_eq!(
        err(a.authenticate(&tok, &ctx(Some("ANALYST"), Channel::Driver), now())).code,
        "099926"
    );
}

#[test]
fn conformance_093_094_token_type_header() {
    let (mut a, _sess, secret) = svc_with_token();
    let e = err(a.authenticate(
        &bearer(&secret, Some(TokenType::OAuth)),
        &ctx(None, Channel::SqlApi),
        now(),
    ));
    assert_eq!((e.http_status, e.code.as_str()), (401, "390303"));
    assert!(a
        .authenticate(&bearer(&secret, None), &ctx(None, Channel::SqlApi), now())
        .is_ok());
    assert!(pat_login(&mut a, &secret, now()).is_ok());
    assert_eq!(err(pat_login(&mut a, "not-a-token", now())).code, "394400");
    // a JWT-looking token whose issuer is not a key-pair issuer
    let fake = format!(
        "{}.{}.sig",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(br#"{"iss":"https://idp"}"#)
    );
    assert_eq!(
        err(a.authenticate(&bearer(&fake, None), &ctx(None, Channel::SqlApi), now())).code,
        "390144"
    );
}

#[test]
fn pat_login_name_and_password_channel() {
    let (mut a, _sess, secret) = svc_with_token();
    let pw = Credential::Password {
        password: SecretString::from(secret.clone()),
    };
    let mut c = ctx(None, Channel::Driver);
    c.login_name = Some("svc".into());
    assert!(a.authenticate(&pw, &c, now()).is_ok());
    c.login_name = Some("ADMIN".into());
    assert_eq!(err(a.authenticate(&pw, &c, now())).code, "394400");
}

struct Keys {
    private: RsaPrivateKey,
    public_b64: String,
    fp: String,
}

fn keys() -> Keys {
    let private =
        RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap_or_else(|e| panic!("{e}"));
    let der = private
        .to_public_key()
        .to_public_key_der()
        .unwrap_or_else(|e| panic!("{e}"));
    let der = der.as_bytes().to_vec();
    Keys {
        private,
        public_b64: STANDARD.encode(&der),
        fp: format!("SHA256:{}", STANDARD.encode(Sha256::digest(&der))),
    }
}

fn jwt(k: &Keys, alg: &str, iss: &str, sub: &str, iat: i64, exp: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(serde_json::json!({"alg": alg, "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD
        .encode(serde_json::json!({"iss": iss, "sub": sub, "iat": iat, "exp": exp}).to_string());
    let msg = format!("{header}.{payload}");
    let sig = SigningKey::<Sha256>::new(k.private.clone()).sign(msg.as_bytes());
    format!("{msg}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

#[test]
fn keypair_jwt_validation() {
    let mut a = account();
    let mut sess = admin(&a);
    let k = keys();
    sql(
        &mut a,
        &mut sess,
        &format!("ALTER USER ADMIN SET RSA_PUBLIC_KEY = '{}'", k.public_b64),
    );
    let iss = format!("EMULATOR.ADMIN.{}", k.fp);
    let real = t0().timestamp();
    let good = jwt(&k, "RS256", &iss, "EMULATOR.ADMIN", real, real + 3540);
    let c = ctx(None, Channel::SqlApi);
    // detected without a header, and with KEYPAIR_JWT
    let s = a
        .authenticate(&bearer(&good, None), &c, now())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (s.user_name.as_str(), s.primary_role.as_str()),
        ("ADMIN", "ACCOUNTADMIN")
    );
    assert_eq!(s.auth, AuthMethod::KeyPair);
    assert!(a
        .authenticate(&bearer(&good, Some(TokenType::KeypairJwt)), &c, now())
        .is_ok());
    // the account clock does not matter, real time does
    assert!(a.authenticate(&bearer(&good, None), &c, at(1000)).is_ok());
    let later = Now {
        account: t0(),
        real: t0() + Duration::seconds(3541),
    };
    assert_eq!(
        err(a.authenticate(&bearer(&good, None), &c, later)).code,
        "390144"
    );
    // one-hour rule, future iat, wrong sub, HS256, tampered signature
    let long = jwt(
        &k,
        "RS256",
        &iss,
        "EMULATOR.ADMIN",
        real - 3601,
        real + 86400,
    );
    let future = jwt(&k, "RS256", &iss, "EMULATOR.ADMIN", real + 120, real + 600);
    let skew = jwt(&k, "RS256", &iss, "EMULATOR.ADMIN", real + 30, real + 600);
    let bad_sub = jwt(&k, "RS256", &iss, "EMULATOR.OTHER", real, real + 60);
    let hs = jwt(&k, "HS256", &iss, "EMULATOR.ADMIN", real, real + 60);
    for bad in [long, future, bad_sub, hs, format!("{good}x")] {
        assert_eq!(
            err(a.authenticate(&bearer(&bad, None), &c, now())).code,
            "390144"
        );
    }
    assert!(a.authenticate(&bearer(&skew, None), &c, now()).is_ok());
    // milliseconds are accepted
    let ms = jwt(
        &k,
        "RS256",
        &iss,
        "EMULATOR.ADMIN",
        real * 1000,
        (real + 60) * 1000,
    );
    assert!(a.authenticate(&bearer(&ms, None), &c, now()).is_ok());
    // a JWT sent as a PAT is a PAT failure
    assert_eq!(
        err(a.authenticate(
            &bearer(&good, Some(TokenType::ProgrammaticAccessToken)),
            &c,
            now()
        ))
        .code,
        "394400"
    );
    // DESCRIBE USER shows the fingerprint
    let d = sql(&mut a, &mut sess, "DESCRIBE USER admin");
    let i = (0..d.rows.len())
        .find(|i| text_at(&d, *i, "property").as_deref() == Some("RSA_PUBLIC_KEY_FP"))
        .unwrap_or(99);
    assert_eq!(text_at(&d, i, "value"), Some(k.fp.clone()));
    // disabled users get 099921; key-pair sessions honour authentication policies
    sql(&mut a, &mut sess, "CREATE USER kp");
    sql(&mut a, &mut sess, &format!("ALTER USER kp SET RSA_PUBLIC_KEY_2 = '-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----'", k.public_b64));
    let kp_iss = format!("EMULATOR.KP.{}", k.fp);
    let kp = jwt(&k, "RS256", &kp_iss, "EMULATOR.KP", real, real + 60);
    assert!(a.authenticate(&bearer(&kp, None), &c, now()).is_ok());
    sql(&mut a, &mut sess, "CREATE DATABASE d");
    sql(
        &mut a,
        &mut sess,
        "CREATE AUTHENTICATION POLICY pw AUTHENTICATION_METHODS = ('PASSWORD')",
    );
    sql(
        &mut a,
        &mut sess,
        "ALTER USER kp SET AUTHENTICATION POLICY pw",
    );
    assert_eq!(
        err(a.authenticate(&bearer(&kp, None), &c, now())).code,
        "390202"
    );
    sql(&mut a, &mut sess, "ALTER USER kp SET DISABLED = TRUE");
    assert_eq!(
        err(a.authenticate(&bearer(&kp, None), &c, now())).code,
        "099921"
    );
}

#[test]
fn password_login_and_lockout_leaves_pats_active() {
    let (mut a, mut sess, secret) = svc_with_token();
    sql(&mut a, &mut sess, "CREATE USER pu PASSWORD = 'pw1'");
    let mut c = ctx(None, Channel::Driver);
    c.login_name = Some("PU".into());
    let good = Credential::Password {
        password: SecretString::from("pw1".to_owned()),
    };
    let bad = Credential::Password {
        password: SecretString::from("nope".to_owned()),
    };
    assert!(a.authenticate(&good, &c, now()).is_ok());
    for _ in 0..5 {
        assert_eq!(err(a.authenticate(&bad, &c, now())).code, "390100");
    }
    assert_eq!(err(a.authenticate(&good, &c, now())).code, "390100");
    // 98: a lock does not touch PATs
    assert!(pat_login(&mut a, &secret, now()).is_ok());
}
