//! The trust side of the token exchange (issue 6, seed 003): an identity provider's JWT in, a
//! verified [`Grant`] out. This module never calls Snowflake; `snowpat-server` turns a grant into
//! a PAT.
//!
//! * [`TrustPolicies`]: the `[[exchange.policy]]` tables of `snowpat.toml`, validated (anchored
//!   regexes, https JWKS URLs, roles folded, lifetimes parsed); errors name the policy, the key and
//!   the fix. [`check_config_file_permissions`] refuses a config file others could edit.
//! * [`Verifier`]: RS256 only; header `jku`, `x5u`, `x5c` are ignored, keys come only from the
//!   policy's `jwks_url` (fetched with a timeout and a size cap, cached, refetched on an unknown
//!   `kid` at a limited rate, concurrent fetches coalesced); issuer exact, audience, `exp`/`nbf`/
//!   `iat` with leeway, subject and claim patterns, the user claim, and the requested role both in
//!   the policy and in the token's own scope.
//! * [`parse_unverified`]: the sync, allocation-bounded parser of a compact JWS (header, claims,
//!   signature), the entry point of the `exchange_token` fuzz target.
//!
//! **Policy order.** Several policies may share an issuer (they must then share its `jwks_url`).
//! The first policy in file order whose audience, subject and claim patterns all match the token
//! wins; its roles, user claim and lifetime apply.

mod jwks;
mod jwt;
mod policy;
mod verify;

pub use jwt::{parse_unverified, UnverifiedToken, MAX_TOKEN_BYTES};
pub use policy::{check_config_file_permissions, PolicyError, TrustPolicies, TrustPolicy};
#[doc(hidden)]
pub use verify::fuzz_verify;
pub use verify::{JwksOptions, Verifier};

use std::time::{Duration, SystemTime};

/// What a successful verification grants: who, under which policy, which role, for how long.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The matching policy's name.
    pub policy: String,
    /// The token's `iss` (equal to the policy's issuer).
    pub issuer: String,
    /// The token's `sub`.
    pub subject: String,
    /// The Snowflake LOGIN_NAME, from the policy's `user_claim`.
    pub user: String,
    /// The granted role, folded to upper case.
    pub role: String,
    /// The policy's `max_lifetime`.
    pub max_lifetime: Duration,
    /// The subject token's `exp`.
    pub subject_expires_at: SystemTime,
}

/// Why an exchange was refused. Each variant maps to an RFC 6749 error code and HTTP status; the
/// text is the `error_description`, and starts with a short stable reason (`"expired: ..."`),
/// which [`ExchangeError::reason`] returns for audit events and metrics.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// 400 `invalid_request`: malformed or oversized token, wrong parameter types.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 `invalid_grant`: signature, alg, kid, iss, aud, exp, nbf.
    #[error("{0}")]
    InvalidGrant(String),
    /// 400 `invalid_scope`: role outside the policy or outside the token's scope.
    #[error("{0}")]
    InvalidScope(String),
    /// 403 `unauthorized_client`: no policy matches the subject or claims.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// 503 `temporarily_unavailable`: the JWKS is unreachable.
    #[error("{0}")]
    Unavailable(String),
}

/// The stable reasons this module produces (the prefix of each error text).
const REASONS: &[&str] = &[
    "alg_none",
    "alg_hmac",
    "alg_not_allowed",
    "unsupported_header",
    "bad_signature",
    "unknown_kid",
    "wrong_issuer",
    "wrong_audience",
    "expired",
    "not_yet_valid",
    "missing_claim",
    "bad_user_claim",
    "malformed",
    "oversized",
    "no_policy",
    "role_not_allowed",
    "role_not_in_token_scope",
    "bad_scope",
    "jwks_unavailable",
];

impl ExchangeError {
    pub(crate) fn request(reason: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::InvalidRequest(format!("{reason}: {detail}"))
    }
    pub(crate) fn grant(reason: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::InvalidGrant(format!("{reason}: {detail}"))
    }
    pub(crate) fn scope(reason: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::InvalidScope(format!("{reason}: {detail}"))
    }
    pub(crate) fn unauthorized(reason: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::UnauthorizedClient(format!("{reason}: {detail}"))
    }
    pub(crate) fn unavailable(detail: impl std::fmt::Display) -> Self {
        Self::Unavailable(format!("jwks_unavailable: {detail}"))
    }

    /// The RFC 6749 error code.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidScope(_) => "invalid_scope",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::Unavailable(_) => "temporarily_unavailable",
        }
    }

    /// The HTTP status of the error response.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_) | Self::InvalidGrant(_) | Self::InvalidScope(_) => 400,
            Self::UnauthorizedClient(_) => 403,
            Self::Unavailable(_) => 503,
        }
    }

    /// A short stable reason (`"alg_none"`, `"expired"`, `"no_policy"`, ...): the prefix of the
    /// text when it is a known reason, else the RFC 6749 code (or `"jwks_unavailable"`).
    pub fn reason(&self) -> &'static str {
        let text = match self {
            Self::InvalidRequest(t)
            | Self::InvalidGrant(t)
            | Self::InvalidScope(t)
            | Self::UnauthorizedClient(t)
            | Self::Unavailable(t) => t,
        };
        let prefix = text.split_once(':').map(|(p, _)| p).unwrap_or(text);
        if let Some(known) = REASONS.iter().find(|r| **r == prefix) {
            return known;
        }
        match self {
            Self::Unavailable(_) => "jwks_unavailable",
            other => other.oauth_error(),
        }
    }
}

/// `session:role:R` → `R`, folded to upper case (RFC 8693 `scope`, one value).
///
/// An empty scope is `invalid_request`; anything other than exactly one `session:role:R` with
/// `R` an unquoted Snowflake identifier is `invalid_scope`.
pub fn parse_scope(scope: &str) -> Result<String, ExchangeError> {
    let scope = scope.trim();
    if scope.is_empty() {
        return Err(ExchangeError::request(
            "malformed",
            "scope is required: session:role:ROLE",
        ));
    }
    if scope.split_ascii_whitespace().count() != 1 {
        return Err(ExchangeError::scope(
            "bad_scope",
            "exactly one scope value is accepted: session:role:ROLE",
        ));
    }
    let role = scope
        .strip_prefix("session:role:")
        .ok_or_else(|| ExchangeError::scope("bad_scope", "the scope must be session:role:ROLE"))?;
    fold_role(role).ok_or_else(|| {
        ExchangeError::scope(
            "bad_scope",
            "the role in session:role:ROLE must be an unquoted identifier (letters, digits, _ and $, at most 255)",
        )
    })
}

/// An unquoted Snowflake identifier folded to upper case, or `None`.
pub(crate) fn fold_role(role: &str) -> Option<String> {
    let mut chars = role.chars();
    let first = chars.next()?;
    let ok = role.len() <= 255
        && (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    ok.then(|| role.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert_eq!(
            parse_scope("session:role:analyst_role").unwrap(),
            "ANALYST_ROLE"
        );
        assert_eq!(parse_scope(" session:role:R1 ").unwrap(), "R1");
        assert_eq!(
            parse_scope("").unwrap_err().oauth_error(),
            "invalid_request"
        );
        for bad in [
            "session:role:",
            "session:role:a b",
            "session:role:\"Quoted\"",
            "role:X",
            "session:role:1X",
            "session:role:X;DROP",
        ] {
            let e = parse_scope(bad).unwrap_err();
            assert_eq!(e.oauth_error(), "invalid_scope", "{bad}");
            assert_eq!(e.reason(), "bad_scope", "{bad}");
        }
    }

    #[test]
    fn reasons_and_codes() {
        let e = ExchangeError::grant("expired", "at 1");
        assert_eq!(
            (e.reason(), e.oauth_error(), e.http_status()),
            ("expired", "invalid_grant", 400)
        );
        let e = ExchangeError::unauthorized("no_policy", "x");
        assert_eq!((e.reason(), e.http_status()), ("no_policy", 403));
        let e = ExchangeError::unavailable("down");
        assert_eq!((e.reason(), e.http_status()), ("jwks_unavailable", 503));
        // Text built elsewhere without a known prefix falls back to the code.
        let e = ExchangeError::InvalidRequest("grant_type: missing".into());
        assert_eq!(e.reason(), "invalid_request");
    }
}
