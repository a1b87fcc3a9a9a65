//! [`Verifier`]: a subject token and a requested role in, a [`Grant`] or a precise refusal out.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use rsa::RsaPublicKey;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::jwks::JwksCache;
use super::jwt::{parse_unverified, UnverifiedToken};
use super::policy::{TrustPolicies, TrustPolicy};
use super::{ExchangeError, Grant};

/// How keys are fetched and times are judged.
#[derive(Clone, Debug)]
pub struct JwksOptions {
    /// `--danger-allow-http-jwks`: plain http to a loopback IP is accepted.
    pub allow_http_loopback: bool,
    /// Timeout of one JWKS fetch (connect and whole request). Default 5 s.
    pub timeout: Duration,
    /// Largest JWKS body accepted; larger is refused without buffering it. Default 64 KiB.
    pub max_bytes: usize,
    /// A fetch (e.g. on an unknown `kid`) happens at most this often per URL. Default 60 s.
    pub min_refetch_interval: Duration,
    /// How long fetched keys are trusted before a refetch. Default 15 min.
    pub cache_ttl: Duration,
    /// Clock skew allowed for `exp`, `nbf`, `iat`. Default 60 s.
    pub leeway: Duration,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            allow_http_loopback: false,
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            min_refetch_interval: Duration::from_secs(60),
            cache_ttl: Duration::from_secs(15 * 60),
            leeway: Duration::from_secs(60),
        }
    }
}

struct Inner {
    policies: TrustPolicies,
    opts: JwksOptions,
    jwks: JwksCache,
}

/// The policies and the JWKS cache. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("policies", &self.inner.policies.names())
            .finish_non_exhaustive()
    }
}

/// A NumericDate claim (seconds since the epoch, integer or fraction) as a `SystemTime`.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<SystemTime>, ExchangeError> {
    let Some(v) = claims.get(name) else {
        return Ok(None);
    };
    let secs = v
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1.0e12)
        .ok_or_else(|| {
            ExchangeError::request(
                "malformed",
                format!("the {name} claim is not a NumericDate"),
            )
        })?;
    Ok(UNIX_EPOCH.checked_add(Duration::from_secs_f64(secs)))
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
fn audience_matches(claims: &Map<String, Value>, audience: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(audience)),
        _ => false,
    }
}

/// A claim pattern matches a string, a number or boolean (as JSON text), or any element of an array.
fn claim_matches(value: Option<&Value>, re: &regex::Regex) -> bool {
    fn scalar(v: &Value, re: &regex::Regex) -> bool {
        match v {
            Value::String(s) => re.is_match(s),
            Value::Number(n) => re.is_match(&n.to_string()),
            Value::Bool(b) => re.is_match(if *b { "true" } else { "false" }),
            _ => false,
        }
    }
    match value {
        Some(Value::Array(items)) => items.iter().any(|v| scalar(v, re)),
        Some(v) => scalar(v, re),
        None => false,
    }
}

fn policy_matches(p: &TrustPolicy, subject: &str, claims: &Map<String, Value>) -> bool {
    p.subject.is_match(subject)
        && p.claims
            .iter()
            .all(|(name, re)| claim_matches(claims.get(name), re))
}

/// Whether the token's own scope (`scp` array or string, or space-separated `scope`) holds
/// `session:role:R` for the folded `role`.
fn token_scope_has_role(claims: &Map<String, Value>, role: &str) -> bool {
    let mut values: Vec<&str> = Vec::new();
    for name in ["scp", "scope"] {
        match claims.get(name) {
            Some(Value::String(s)) => values.extend(s.split_ascii_whitespace()),
            Some(Value::Array(items)) => values.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    values.iter().any(|v| {
        v.strip_prefix("session:role:")
            .and_then(super::fold_role)
            .is_some_and(|r| r == role)
    })
}

impl Verifier {
    pub fn new(policies: TrustPolicies, opts: JwksOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                policies,
                jwks: JwksCache::new(opts.clone()),
                opts,
            }),
        }
    }

    pub fn policies(&self) -> &TrustPolicies {
        &self.inner.policies
    }

    /// Parses and verifies the subject token (RS256 only; header `jku`/`x5u`/`x5c` ignored; keys
    /// only from the matching policy's `jwks_url`), finds the first policy of the token's issuer
    /// whose audience, subject and claim patterns match, and checks that `requested_role` (as
    /// [`super::parse_scope`] returns it) is in the policy's roles AND the token's own scope.
    /// Never calls Snowflake.
    ///
    /// Order: size, syntax, alg, issuer, key, signature, times, audience, policy patterns, user
    /// claim, role. Nothing after the signature check is judged on unauthenticated data.
    pub async fn verify(
        &self,
        subject_token: &SecretString,
        requested_role: &str,
        now: SystemTime,
    ) -> Result<Grant, ExchangeError> {
        let token = parse_unverified(subject_token.expose_secret())?;
        check_header(&token)?;
        let (of_issuer, kid) = issuer_policies(&self.inner.policies, &token)?;
        let jwks_url = of_issuer
            .first()
            .map(|p| p.jwks_url.as_str())
            .unwrap_or_default();
        let key = self.inner.jwks.key(jwks_url, kid).await?;
        check_signature(&token, key)?;
        // From here on the claims are the issuer's.
        judge_claims(
            &of_issuer,
            &token.claims,
            requested_role,
            now,
            self.inner.opts.leeway,
        )
    }
}

/// Header rules: RS256 only (none, HMAC and others refused with distinct reasons); no `crit`.
fn check_header(token: &UnverifiedToken) -> Result<(), ExchangeError> {
    match token.alg.as_str() {
        "RS256" => {}
        a if a.eq_ignore_ascii_case("none") => {
            return Err(ExchangeError::grant(
                "alg_none",
                "unsigned tokens (alg none) are refused",
            ))
        }
        a if a.to_ascii_uppercase().starts_with("HS") => {
            return Err(ExchangeError::grant(
                "alg_hmac",
                "HMAC algorithms are refused: only RS256 with the issuer's JWKS keys",
            ))
        }
        _ => {
            return Err(ExchangeError::grant(
                "alg_not_allowed",
                "only RS256 is accepted",
            ))
        }
    }
    if !token.crit.is_empty() {
        return Err(ExchangeError::grant(
            "unsupported_header",
            "the header lists crit extensions snowpat does not understand",
        ));
    }
    Ok(())
}

/// The policies of the token's (allowlisted) issuer, in file order, and the header's `kid`.
fn issuer_policies<'a, 't>(
    policies: &'a TrustPolicies,
    token: &'t UnverifiedToken,
) -> Result<(Vec<&'a TrustPolicy>, &'t str), ExchangeError> {
    let iss = string_claim(&token.claims, "iss")
        .ok_or_else(|| ExchangeError::grant("wrong_issuer", "the token has no iss"))?;
    let of_issuer: Vec<&TrustPolicy> = policies
        .policies()
        .iter()
        .filter(|p| p.issuer == iss)
        .collect();
    if of_issuer.is_empty() {
        return Err(ExchangeError::grant(
            "wrong_issuer",
            "the issuer is not on the allowlist of any policy",
        ));
    }
    let kid = token
        .kid
        .as_deref()
        .ok_or_else(|| ExchangeError::grant("unknown_kid", "the token header has no kid"))?;
    Ok((of_issuer, kid))
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over the signing input.
fn check_signature(token: &UnverifiedToken, key: RsaPublicKey) -> Result<(), ExchangeError> {
    let bad = || ExchangeError::grant("bad_signature", "the signature does not verify");
    let signature = Signature::try_from(token.signature.as_slice()).map_err(|_| bad())?;
    VerifyingKey::<Sha256>::new(key)
        .verify(&token.signing_input, &signature)
        .map_err(|_| bad())
}

/// Times, audience, policy patterns (first match wins), user claim and role, on claims whose
/// signature has been verified against the key of `of_issuer`'s JWKS.
fn judge_claims(
    of_issuer: &[&TrustPolicy],
    claims: &Map<String, Value>,
    requested_role: &str,
    now: SystemTime,
    leeway: Duration,
) -> Result<Grant, ExchangeError> {
    let iss = string_claim(claims, "iss").unwrap_or_default();
    let exp = numeric_date(claims, "exp")?
        .ok_or_else(|| ExchangeError::grant("missing_claim", "the token has no exp"))?;
    if exp.checked_add(leeway).is_none_or(|limit| now > limit) {
        return Err(ExchangeError::grant(
            "expired",
            format!("the token expired at {} (now {})", unix(exp), unix(now)),
        ));
    }
    let skewed_now = now.checked_add(leeway).unwrap_or(now);
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if nbf > skewed_now {
            return Err(ExchangeError::grant(
                "not_yet_valid",
                format!(
                    "the token is not valid before {} (now {})",
                    unix(nbf),
                    unix(now)
                ),
            ));
        }
    }
    if let Some(iat) = numeric_date(claims, "iat")? {
        if iat > skewed_now {
            return Err(ExchangeError::grant(
                "not_yet_valid",
                format!(
                    "the token was issued in the future ({} > now {})",
                    unix(iat),
                    unix(now)
                ),
            ));
        }
    }
    let with_audience: Vec<&&TrustPolicy> = of_issuer
        .iter()
        .filter(|p| p.issuer == iss && audience_matches(claims, &p.audience))
        .collect();
    if with_audience.is_empty() {
        return Err(ExchangeError::grant(
            "wrong_audience",
            "the token's aud does not name this service",
        ));
    }
    let subject = string_claim(claims, "sub")
        .ok_or_else(|| ExchangeError::grant("missing_claim", "the token has no string sub"))?;
    let policy = with_audience
        .iter()
        .find(|p| policy_matches(p, subject, claims))
        .ok_or_else(|| {
            ExchangeError::unauthorized(
                "no_policy",
                "no trust policy matches the token's subject and claims",
            )
        })?;
    let user = string_claim(claims, &policy.user_claim)
        .filter(|u| !u.is_empty() && u.len() <= 255 && !u.chars().any(char::is_control))
        .ok_or_else(|| {
            ExchangeError::grant(
                "bad_user_claim",
                format!(
                    "the {} claim must be a non-empty string (the Snowflake user)",
                    policy.user_claim
                ),
            )
        })?;
    let role = requested_role.to_ascii_uppercase();
    if !policy.roles.contains(&role) {
        return Err(ExchangeError::scope(
            "role_not_allowed",
            format!("policy {:?} does not grant role {role}", policy.name),
        ));
    }
    if !token_scope_has_role(claims, &role) {
        return Err(ExchangeError::scope(
            "role_not_in_token_scope",
            format!("the token's scope does not contain session:role:{role}"),
        ));
    }
    Ok(Grant {
        policy: policy.name.clone(),
        issuer: iss.to_string(),
        subject: subject.to_string(),
        user: user.to_string(),
        role,
        max_lifetime: policy.max_lifetime,
        subject_expires_at: exp,
    })
}

/// The sync path of [`Verifier::verify`] on arbitrary bytes, for the `exchange_token` fuzz
/// target: parse, header rules, issuer lookup, the signature check against a fixed 2048-bit
/// modulus, then the claim rules as if the signature had verified (so fuzzing reaches them).
/// Must never panic. Not a verification API: it grants on unsigned claims.
#[doc(hidden)]
pub fn fuzz_verify(
    policies: &TrustPolicies,
    data: &[u8],
    requested_role: &str,
    now: SystemTime,
) -> Result<Grant, ExchangeError> {
    let text = String::from_utf8_lossy(data);
    let token = parse_unverified(&text)?;
    check_header(&token)?;
    let (of_issuer, _kid) = issuer_policies(policies, &token)?;
    // An odd 2048-bit modulus: the signature math runs on any input, and never verifies.
    let mut n = vec![0xc5u8; 256];
    n[255] |= 1;
    if let Ok(key) = RsaPublicKey::new(rsa::BigUint::from_bytes_be(&n), 65_537u32.into()) {
        // The verdict is ignored so the claim rules below are reached too.
        let _ = check_signature(&token, key);
    }
    judge_claims(
        &of_issuer,
        &token.claims,
        requested_role,
        now,
        Duration::from_secs(60),
    )
}
