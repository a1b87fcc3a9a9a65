//! OAuth: security integrations' semantics (snowflake-behaviour.md §5.14), External OAuth bearer
//! JWTs (protocols §5), and Snowflake OAuth as account state — authorization codes, grants,
//! access and refresh tokens (protocols §6).
//!
//! * Integrations are catalog objects (`Kind::Integration`, `Body::Properties`); this module
//!   validates and normalises their properties at CREATE/ALTER and reads them back as typed views
//!   with the defaults of protocols §5.2 and §6.4.
//! * Client secrets of `TYPE = OAUTH` integrations live in [`OAuthState`], keyed by the
//!   integration's object id (so `CREATE OR REPLACE` issues new credentials and kills every grant
//!   of the old object); `SYSTEM$SHOW_OAUTH_CLIENT_SECRETS` reads them.
//! * Codes, access tokens and refresh tokens are opaque URL-safe strings without `.`, generated
//!   with `OsRng`; only their SHA-256 digests are stored. Codes live 600 s, access tokens 600 s,
//!   refresh tokens OAUTH_REFRESH_TOKEN_VALIDITY, all on the account clock (§6.9).
//! * A grant (one code exchange) is a token family with a generation counter. With single-use
//!   refresh tokens every refresh spends the presented refresh token, bumps the generation and
//!   issues a new pair; access tokens of older generations stop working. Presenting a spent
//!   refresh token revokes the whole family (protocols §6.4).
//! * External OAuth JWTs are checked against real time (§6.9), in the order of protocols §5.4:
//!   RS256/384/512 with EXTERNAL_OAUTH_RSA_PUBLIC_KEY(_2), or RS*/ES256/384/512 with a key of the
//!   integration's JWKS; the engine never fetches — the server hands it the key sets it fetched
//!   from loopback URLs ([`JwksKeys`], `server/jwks.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::OsRng;
use rand::RngCore;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha384, Sha512};
use snowpat_sql::ast::{Property, Value};
use subtle::ConstantTimeEq;

use super::auth::{b64url_json, claim_secs, resolve_requested_role, sha256_hex};
use super::catalog::{later, Body, Kind, Object, Target, User};
use super::{errors, props};
use super::{Account, AuthContext, AuthError, AuthMethod, Credential, Now, Session, SqlError};

/// Privileged roles blocked by default for both kinds of OAuth (protocols §5.2, §6.4).
pub(crate) const PRIVILEGED_ROLES: [&str; 4] = [
    "ACCOUNTADMIN",
    "ORGADMIN",
    "GLOBALORGADMIN",
    "SECURITYADMIN",
];
/// Skew allowed on `exp`/`nbf` of External OAuth JWTs (protocols §5.4 step 4).
const JWT_SKEW_SECS: i64 = 60;
/// Authorization codes live 600 s (protocols §6.1).
pub const CODE_LIFETIME_SECS: i64 = 600;
/// Access tokens live 600 s (protocols §6.4).
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 600;
/// OAUTH_REFRESH_TOKEN_VALIDITY default and range for custom clients (protocols §6.4).
const REFRESH_VALIDITY_DEFAULT: i64 = 7_776_000;
const REFRESH_VALIDITY_MIN: i64 = 86_400;
/// Expired records are kept this long so that an expired token answers `390318`, not `390303`.
const KEEP_EXPIRED_SECS: i64 = 86_400;
/// Longest `state` (protocols §6.1).
const MAX_STATE_LEN: usize = 2048;

// ---------------------------------------------------------------------------------------------
// Stored state
// ---------------------------------------------------------------------------------------------

/// A secret kept in the clear because SQL must show it (`SYSTEM$SHOW_OAUTH_CLIENT_SECRETS`);
/// never printed by `Debug`.
#[derive(Clone, Deserialize, Eq, PartialEq, Serialize)]
#[serde(transparent)]
struct Opaque(String);

impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Client credentials of one `TYPE = OAUTH` integration.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct ClientCredentials {
    client_id: String,
    secret: Opaque,
    secret_2: Opaque,
}

/// An authorization code, stored by digest.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct AuthCode {
    integration: u64,
    user_id: u64,
    role: String,
    refresh: bool,
    redirect_uri: String,
    challenge: Option<String>,
    expires_at: DateTime<Utc>,
    /// Set once exchanged (the grant it created), so a second use revokes that grant.
    used_by: Option<u64>,
    used: bool,
}

/// One code exchange: a family of access and refresh tokens.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Grant {
    integration: u64,
    user_id: u64,
    role: String,
    single_use: bool,
    generation: u64,
    revoked: bool,
    created_on: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
enum TokenKind {
    Access,
    Refresh,
}

/// An issued token, stored by digest.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct TokenRecord {
    kind: TokenKind,
    grant: u64,
    generation: u64,
    expires_at: DateTime<Utc>,
    /// A single-use refresh token that was already exchanged.
    spent: bool,
}

/// Snowflake OAuth state of the account (persisted with it).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct OAuthState {
    #[serde(default)]
    clients: BTreeMap<u64, ClientCredentials>,
    #[serde(default)]
    codes: BTreeMap<String, AuthCode>,
    #[serde(default)]
    grants: BTreeMap<u64, Grant>,
    #[serde(default)]
    tokens: BTreeMap<String, TokenRecord>,
    #[serde(default)]
    next_grant: u64,
}

impl OAuthState {
    fn purge(&mut self, t: DateTime<Utc>) {
        let keep = Duration::seconds(KEEP_EXPIRED_SECS);
        self.codes.retain(|_, c| later(c.expires_at, keep) > t);
        self.tokens.retain(|_, r| later(r.expires_at, keep) > t);
        let live: std::collections::BTreeSet<u64> = self.tokens.values().map(|r| r.grant).collect();
        self.grants.retain(|id, _| live.contains(id));
    }
}

fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

// ---------------------------------------------------------------------------------------------
// Integration properties (§5.14)
// ---------------------------------------------------------------------------------------------

fn bad_value(value: &str, property: &str) -> SqlError {
    errors::invalid_value(value, property)
}

fn list_text(items: &[String]) -> String {
    items.join(",")
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Role names of a list property, resolved like identifiers (§1.2).
fn role_list(p: &Property) -> Result<Vec<String>, SqlError> {
    props::list(p)?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(props::resolve_literal_name(s)),
            Value::Name(n) if n.0.len() == 1 => Ok(n.name().as_str().to_owned()),
            _ => Err(bad_value(&props::value_text(v), p.name.as_str())),
        })
        .collect()
}

fn one_of(p: &Property, allowed: &[&str]) -> Result<String, SqlError> {
    let v = props::keyword(p)?;
    if allowed.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(bad_value(&v, p.name.as_str()))
    }
}

/// Decodes an `EXTERNAL_OAUTH_RSA_PUBLIC_KEY` value: base64 DER SubjectPublicKeyInfo without PEM
/// armour (protocols §5.4 step 3).
fn decode_rsa_key(text: &str) -> Option<RsaPublicKey> {
    if text.contains("-----") {
        return None;
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(compact).ok()?;
    RsaPublicKey::from_public_key_der(&der).ok()
}

/// The stored, normalised text of one OAuth-related integration property (CREATE/ALTER).
/// `None` for properties this module does not interpret.
pub(crate) fn stored_value(p: &Property) -> Result<Option<String>, SqlError> {
    let name = p.name.as_str();
    let v = match name {
        "ENABLED"
        | "OAUTH_ISSUE_REFRESH_TOKENS"
        | "OAUTH_ENFORCE_PKCE"
        | "OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED"
        | "OAUTH_ALLOW_NON_TLS_REDIRECT_URI" => props::boolean(p)?.to_string(),
        "EXTERNAL_OAUTH_TYPE" => one_of(p, &["OKTA", "AZURE", "PING_FEDERATE", "CUSTOM"])?,
        "EXTERNAL_OAUTH_ISSUER" => {
            let s = props::string(p)?;
            if s.is_empty() {
                return Err(bad_value("''", name));
            }
            s
        }
        "EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM" | "EXTERNAL_OAUTH_AUDIENCE_LIST" => {
            let items = props::string_list(p)?;
            if items.iter().any(|i| i.is_empty() || i.contains(',')) {
                return Err(bad_value(&props::value_text(&p.value), name));
            }
            list_text(&items)
        }
        "EXTERNAL_OAUTH_JWS_KEYS_URL" => list_text(&props::string_list(p)?),
        "EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE" => {
            one_of(p, &["LOGIN_NAME", "EMAIL_ADDRESS"])?
        }
        "EXTERNAL_OAUTH_RSA_PUBLIC_KEY" | "EXTERNAL_OAUTH_RSA_PUBLIC_KEY_2" => {
            let s = props::string(p)?;
            if decode_rsa_key(&s).is_none() {
                return Err(bad_value("<key>", name));
            }
            s.chars().filter(|c| !c.is_whitespace()).collect()
        }
        "EXTERNAL_OAUTH_BLOCKED_ROLES_LIST"
        | "EXTERNAL_OAUTH_ALLOWED_ROLES_LIST"
        | "PRE_AUTHORIZED_ROLES_LIST"
        | "BLOCKED_ROLES_LIST" => list_text(&role_list(p)?),
        "EXTERNAL_OAUTH_ANY_ROLE_MODE" => {
            one_of(p, &["DISABLE", "ENABLE", "ENABLE_FOR_PRIVILEGE"])?
        }
        "EXTERNAL_OAUTH_SCOPE_DELIMITER" => {
            let s = props::string(p)?;
            if s.chars().count() != 1 {
                return Err(bad_value(&s, name));
            }
            s
        }
        "EXTERNAL_OAUTH_SCOPE_MAPPING_ATTRIBUTE" => {
            let s = props::string(p)?;
            if s != "scp" && s != "scope" {
                return Err(bad_value(&s, name));
            }
            s
        }
        "OAUTH_CLIENT" => one_of(p, &["CUSTOM"])?,
        "OAUTH_CLIENT_TYPE" => one_of(p, &["CONFIDENTIAL", "PUBLIC"])?,
        "OAUTH_REDIRECT_URI" => {
            let s = props::string(p)?;
            if !(s.starts_with("https://") || s.starts_with("http://")) {
                return Err(bad_value(&s, name));
            }
            s
        }
        "OAUTH_ALTERNATE_REDIRECT_URIS" => list_text(&props::string_list(p)?),
        "OAUTH_REFRESH_TOKEN_VALIDITY" => {
            let n = props::integer(p)?;
            if !(REFRESH_VALIDITY_MIN..=REFRESH_VALIDITY_DEFAULT).contains(&n) {
                return Err(bad_value(&n.to_string(), name));
            }
            n.to_string()
        }
        "OAUTH_USE_SECONDARY_ROLES" => one_of(p, &["IMPLICIT", "NONE"])?,
        _ => return Ok(None),
    };
    Ok(Some(v))
}

fn get<'a>(list: &'a [(String, String)], key: &str) -> Option<&'a str> {
    list.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn flag(list: &[(String, String)], key: &str, default: bool) -> bool {
    get(list, key).map_or(default, |v| v.eq_ignore_ascii_case("true"))
}

/// Checks the whole property set of an integration after CREATE or ALTER (required properties
/// and combinations of §5.14).
pub(crate) fn check_integration(list: &[(String, String)]) -> Result<(), SqlError> {
    let require = |key: &str| {
        if get(list, key).is_some() {
            Ok(())
        } else {
            Err(errors::syntax(key))
        }
    };
    let forbid = |prefix: &str| match list.iter().find(|(k, _)| k.starts_with(prefix)) {
        Some((k, _)) => Err(errors::syntax(k)),
        None => Ok(()),
    };
    match get(list, "TYPE") {
        Some("EXTERNAL_OAUTH") => {
            for key in [
                "ENABLED",
                "EXTERNAL_OAUTH_TYPE",
                "EXTERNAL_OAUTH_ISSUER",
                "EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM",
                "EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE",
            ] {
                require(key)?;
            }
            forbid("OAUTH_")?;
            for key in ["PRE_AUTHORIZED_ROLES_LIST", "BLOCKED_ROLES_LIST"] {
                if get(list, key).is_some() {
                    return Err(errors::syntax(key));
                }
            }
            if get(list, "EXTERNAL_OAUTH_RSA_PUBLIC_KEY").is_none()
                && get(list, "EXTERNAL_OAUTH_JWS_KEYS_URL").is_none()
            {
                return Err(errors::syntax("EXTERNAL_OAUTH_RSA_PUBLIC_KEY"));
            }
            if get(list, "EXTERNAL_OAUTH_RSA_PUBLIC_KEY").is_some()
                && get(list, "EXTERNAL_OAUTH_JWS_KEYS_URL").is_some()
            {
                return Err(errors::syntax("EXTERNAL_OAUTH_JWS_KEYS_URL"));
            }
            if let Some(urls) = get(list, "EXTERNAL_OAUTH_JWS_KEYS_URL") {
                let max = if get(list, "EXTERNAL_OAUTH_TYPE") == Some("AZURE") {
                    3
                } else {
                    1
                };
                if split_list(urls).len() > max {
                    return Err(bad_value(urls, "EXTERNAL_OAUTH_JWS_KEYS_URL"));
                }
            }
            if let (Some(blocked), Some(allowed)) = (
                get(list, "EXTERNAL_OAUTH_BLOCKED_ROLES_LIST"),
                get(list, "EXTERNAL_OAUTH_ALLOWED_ROLES_LIST"),
            ) {
                if !blocked.is_empty() && !allowed.is_empty() {
                    return Err(errors::syntax("EXTERNAL_OAUTH_ALLOWED_ROLES_LIST"));
                }
            }
        }
        Some("OAUTH") => {
            for key in ["OAUTH_CLIENT", "OAUTH_CLIENT_TYPE", "OAUTH_REDIRECT_URI"] {
                require(key)?;
            }
            forbid("EXTERNAL_OAUTH_")?;
            if let Some(uri) = get(list, "OAUTH_REDIRECT_URI") {
                if uri.starts_with("http://")
                    && !flag(list, "OAUTH_ALLOW_NON_TLS_REDIRECT_URI", false)
                {
                    return Err(bad_value(uri, "OAUTH_REDIRECT_URI"));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// External OAuth integration, with the defaults of protocols §5.2.
struct ExternalIntegration {
    id: u64,
    name: String,
    keys: Vec<RsaPublicKey>,
    /// EXTERNAL_OAUTH_JWS_KEYS_URL values (up to 3 for AZURE, protocols §5.2).
    jwks_urls: Vec<String>,
    audiences: Vec<String>,
    claims: Vec<String>,
    by_email: bool,
    any_role_mode: String,
    blocked: Vec<String>,
    allowed: Vec<String>,
    delimiter: String,
    scope_attribute: String,
}

/// Snowflake OAuth client, with the defaults of protocols §6.4.
struct OAuthClient {
    id: u64,
    name: String,
    public: bool,
    redirect_uri: String,
    alternates: Vec<String>,
    issue_refresh: bool,
    refresh_validity: i64,
    enforce_pkce: bool,
    single_use_required: bool,
    blocked: Vec<String>,
}

fn integration_props(o: &Object) -> Option<&[(String, String)]> {
    match (&o.kind, &o.body) {
        (Kind::Integration, Body::Properties(p)) => Some(p.as_slice()),
        _ => None,
    }
}

impl Account {
    fn privileged_blocked(&self, parameter: &str) -> bool {
        self.catalog
            .account_parameters
            .iter()
            .find(|(k, _)| k == parameter)
            .is_none_or(|(_, v)| !v.eq_ignore_ascii_case("false"))
    }

    /// An integration's blocked roles: its `list` property, plus the privileged roles unless the
    /// account parameter `add_privileged` is FALSE.
    fn blocked_roles(
        &self,
        p: &[(String, String)],
        list: &str,
        add_privileged: &str,
    ) -> Vec<String> {
        let mut blocked = split_list(get(p, list).unwrap_or(""));
        if self.privileged_blocked(add_privileged) {
            blocked.extend(PRIVILEGED_ROLES.iter().map(|r| (*r).to_owned()));
        }
        blocked
    }

    fn external_integration(&self, o: &Object) -> Option<ExternalIntegration> {
        let p = integration_props(o)?;
        if get(p, "TYPE") != Some("EXTERNAL_OAUTH") {
            return None;
        }
        let blocked = self.blocked_roles(
            p,
            "EXTERNAL_OAUTH_BLOCKED_ROLES_LIST",
            "EXTERNAL_OAUTH_ADD_PRIVILEGED_ROLES_TO_BLOCKED_LIST",
        );
        Some(ExternalIntegration {
            id: o.id,
            name: o.name().to_owned(),
            keys: [
                "EXTERNAL_OAUTH_RSA_PUBLIC_KEY",
                "EXTERNAL_OAUTH_RSA_PUBLIC_KEY_2",
            ]
            .iter()
            .filter_map(|k| get(p, k))
            .filter_map(decode_rsa_key)
            .collect(),
            jwks_urls: split_list(get(p, "EXTERNAL_OAUTH_JWS_KEYS_URL").unwrap_or("")),
            audiences: split_list(get(p, "EXTERNAL_OAUTH_AUDIENCE_LIST").unwrap_or("")),
            claims: split_list(get(p, "EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM").unwrap_or("")),
            by_email: get(p, "EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE")
                == Some("EMAIL_ADDRESS"),
            any_role_mode: get(p, "EXTERNAL_OAUTH_ANY_ROLE_MODE")
                .unwrap_or("DISABLE")
                .to_owned(),
            blocked,
            allowed: split_list(get(p, "EXTERNAL_OAUTH_ALLOWED_ROLES_LIST").unwrap_or("")),
            delimiter: get(p, "EXTERNAL_OAUTH_SCOPE_DELIMITER")
                .unwrap_or(",")
                .to_owned(),
            scope_attribute: get(p, "EXTERNAL_OAUTH_SCOPE_MAPPING_ATTRIBUTE")
                .unwrap_or("scp")
                .to_owned(),
        })
    }

    fn oauth_client(&self, o: &Object) -> Option<OAuthClient> {
        let p = integration_props(o)?;
        if get(p, "TYPE") != Some("OAUTH") {
            return None;
        }
        let blocked = self.blocked_roles(
            p,
            "BLOCKED_ROLES_LIST",
            "OAUTH_ADD_PRIVILEGED_ROLES_TO_BLOCKED_LIST",
        );
        Some(OAuthClient {
            id: o.id,
            name: o.name().to_owned(),
            public: get(p, "OAUTH_CLIENT_TYPE") == Some("PUBLIC"),
            redirect_uri: get(p, "OAUTH_REDIRECT_URI").unwrap_or("").to_owned(),
            alternates: split_list(get(p, "OAUTH_ALTERNATE_REDIRECT_URIS").unwrap_or("")),
            issue_refresh: flag(p, "OAUTH_ISSUE_REFRESH_TOKENS", true),
            refresh_validity: get(p, "OAUTH_REFRESH_TOKEN_VALIDITY")
                .and_then(|v| v.parse().ok())
                .unwrap_or(REFRESH_VALIDITY_DEFAULT),
            enforce_pkce: flag(p, "OAUTH_ENFORCE_PKCE", false),
            single_use_required: flag(p, "OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED", false),
            blocked,
        })
    }

    fn enabled(o: &Object) -> bool {
        integration_props(o).is_some_and(|p| flag(p, "ENABLED", false))
    }

    /// Enabled External OAuth integrations whose issuer equals `iss` exactly (§5.4 step 2).
    fn external_by_issuer(&self, iss: &str) -> Vec<ExternalIntegration> {
        self.catalog
            .objects
            .values()
            .filter(|o| Self::enabled(o))
            .filter(|o| {
                integration_props(o).is_some_and(|p| {
                    get(p, "TYPE") == Some("EXTERNAL_OAUTH")
                        && get(p, "EXTERNAL_OAUTH_ISSUER") == Some(iss)
                })
            })
            .filter_map(|o| self.external_integration(o))
            .collect()
    }

    /// Forgets expired codes and tokens, and the credentials of dropped integrations.
    fn purge_oauth(&mut self, t: DateTime<Utc>) {
        self.oauth.purge(t);
        let objects = &self.catalog.objects;
        self.oauth.clients.retain(|id, _| objects.contains_key(id));
    }

    /// The JWKS URLs of the enabled External OAuth integrations whose issuer is the (unverified)
    /// `iss` of `token`, so that the server can fetch the loopback ones before authenticating
    /// (protocols §5.4 steps 2–3). Empty for anything that is not such a JWT.
    pub fn external_oauth_jwks_urls(&self, token: &str) -> Vec<String> {
        let Some(iss) = jwt_issuer(token) else {
            return Vec::new();
        };
        let mut urls: Vec<String> = self
            .external_by_issuer(&iss)
            .into_iter()
            .flat_map(|i| i.jwks_urls)
            .collect();
        urls.sort();
        urls.dedup();
        urls
    }

    /// Whether `iss` is the issuer of an enabled External OAuth integration (protocols §1.3).
    pub(crate) fn is_external_oauth_issuer(&self, iss: &str) -> bool {
        !self.external_by_issuer(iss).is_empty()
    }

    /// Generates client credentials for a new `TYPE = OAUTH` integration and records the client
    /// id among its properties (shown by DESCRIBE).
    pub(crate) fn register_oauth_client(&mut self, id: u64) {
        let Some(o) = self.catalog.objects.get_mut(&id) else {
            return;
        };
        let Body::Properties(list) = &mut o.body else {
            return;
        };
        if get(list, "TYPE") != Some("OAUTH") {
            return;
        }
        let client_id = random_secret(24);
        list.retain(|(k, _)| k != "OAUTH_CLIENT_ID");
        list.push(("OAUTH_CLIENT_ID".to_owned(), client_id.clone()));
        self.oauth.clients.insert(
            id,
            ClientCredentials {
                client_id,
                secret: Opaque(random_secret(32)),
                secret_2: Opaque(random_secret(32)),
            },
        );
    }

    /// `SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('<NAME>')`: the JSON text of §5.14. Only the owner of
    /// the integration may read it.
    pub(crate) fn show_oauth_client_secrets(
        &self,
        s: &Session,
        name: &str,
    ) -> Result<String, SqlError> {
        let resolved = props::resolve_literal_name(name);
        let id = self
            .catalog
            .object_id(Kind::Integration, std::slice::from_ref(&resolved))
            .ok_or_else(|| errors::not_found(Kind::Integration, &resolved))?;
        let roles = self.effective_roles(s);
        if !self.catalog.owns(&roles, Target::Object(id)) {
            return Err(self.denied(&roles, Target::Object(id)));
        }
        let creds = self
            .oauth
            .clients
            .get(&id)
            .ok_or_else(|| errors::invalid_value(&resolved, "OAUTH_CLIENT"))?;
        Ok(serde_json::json!({
            "OAUTH_CLIENT_ID": creds.client_id,
            "OAUTH_CLIENT_SECRET": creds.secret.0,
            "OAUTH_CLIENT_SECRET_2": creds.secret_2.0,
        })
        .to_string())
    }

    /// USE ROLE in an OAuth session (protocols §5.4): refused unless the External OAuth
    /// integration's ANY_ROLE_MODE allows it; never a blocked role.
    pub(crate) fn oauth_use_role(&self, s: &Session, role: &str) -> Result<(), SqlError> {
        if role == s.primary_role {
            return Ok(());
        }
        let integration = s
            .oauth_integration
            .and_then(|id| self.catalog.objects.get(&id))
            .and_then(|o| self.external_integration(o));
        let Some(ext) = integration else {
            return Err(oauth_role_fixed());
        };
        let allowed = match ext.any_role_mode.as_str() {
            "ENABLE" => true,
            "ENABLE_FOR_PRIVILEGE" => {
                let roles = self.catalog.user_role_closure(s.user_id);
                self.catalog
                    .holds(&roles, "USE_ANY_ROLE", Target::Object(ext.id))
            }
            _ => false,
        };
        if !allowed
            || ext.blocked.iter().any(|b| b == role)
            || (!ext.allowed.is_empty() && !ext.allowed.iter().any(|a| a == role))
        {
            return Err(oauth_role_fixed());
        }
        Ok(())
    }
}

/// `USE ROLE` refused in an OAuth session whose role the token fixes [E].
pub(crate) fn oauth_role_fixed() -> SqlError {
    SqlError::new(
        "099920",
        "0A000",
        "The session role is fixed by the OAuth access token's scope.",
    )
}

/// 401 `390318` (protocols §6.5; snowflake-behaviour.md §7).
pub(crate) fn oauth_expired() -> AuthError {
    AuthError::new(
        401,
        "390318",
        "OAuth access token expired. Please use a valid OAuth access token.",
    )
}

// ---------------------------------------------------------------------------------------------
// Bearer authentication (protocols §1.3, §5.4, §6.5)
// ---------------------------------------------------------------------------------------------

fn verify_rs(alg: &str, key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(signature) = Signature::try_from(signature) else {
        return false;
    };
    let signature = &signature;
    match alg {
        "RS256" => VerifyingKey::<Sha256>::new(key.clone())
            .verify(message, signature)
            .is_ok(),
        "RS384" => VerifyingKey::<Sha384>::new(key.clone())
            .verify(message, signature)
            .is_ok(),
        "RS512" => VerifyingKey::<Sha512>::new(key.clone())
            .verify(message, signature)
            .is_ok(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON Web Key Sets (protocols §5.4 steps 1 and 3)
// ---------------------------------------------------------------------------------------------

/// The public part of one JWK: RSA (`n`, `e`) or EC (`crv` P-256/P-384/P-521, `x`, `y`).
#[derive(Clone)]
enum JwkPublic {
    Rsa(Box<RsaPublicKey>),
    P256(Box<p256::ecdsa::VerifyingKey>),
    P384(Box<p384::ecdsa::VerifyingKey>),
    P521(Box<p521::ecdsa::VerifyingKey>),
}

/// One verification key of a JWKS (RFC 7517), as the engine uses it.
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    /// The JWK's own `alg`, when it states one: the key is then used for that algorithm only.
    alg: Option<String>,
    key: JwkPublic,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kty = match self.key {
            JwkPublic::Rsa(_) => "RSA",
            JwkPublic::P256(_) => "EC P-256",
            JwkPublic::P384(_) => "EC P-384",
            JwkPublic::P521(_) => "EC P-521",
        };
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("kty", &kty)
            .finish()
    }
}

impl Jwk {
    /// The key id (`kid`), if the JWK has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `signature` is a valid JWS signature of `message` by this key under `alg`
    /// (RS256/384/512 PKCS#1 v1.5; ES256/384/512 as the raw `r‖s` of RFC 7518 §3.4).
    fn verify(&self, alg: &str, message: &[u8], signature: &[u8]) -> bool {
        if self.alg.as_deref().is_some_and(|a| a != alg) {
            return false;
        }
        match (&self.key, alg) {
            (JwkPublic::Rsa(k), _) => verify_rs(alg, k, message, signature),
            (JwkPublic::P256(k), "ES256") => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify(message, &sig).is_ok()),
            (JwkPublic::P384(k), "ES384") => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify(message, &sig).is_ok()),
            (JwkPublic::P521(k), "ES512") => p521::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify(message, &sig).is_ok()),
            _ => false,
        }
    }
}

/// Why a JWKS document was not usable.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the JWKS is not a JSON object with a `keys` array")]
    NotAKeySet,
    #[error("the JWKS holds no usable RSA or EC signing key")]
    NoUsableKey,
}

fn b64url_bytes(v: Option<&serde_json::Value>) -> Option<Vec<u8>> {
    let text = v?.as_str()?;
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// Big-endian `bytes` left-padded with zeros to `len` (JWK EC coordinates are fixed width, but
/// some producers drop leading zeros); `None` when longer.
fn left_pad(bytes: &[u8], len: usize) -> Option<Vec<u8>> {
    if bytes.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - bytes.len()];
    out.extend_from_slice(bytes);
    Some(out)
}

/// SEC1 uncompressed point `04 ‖ x ‖ y`.
fn sec1_point(jwk: &serde_json::Value, len: usize) -> Option<Vec<u8>> {
    let x = left_pad(&b64url_bytes(jwk.get("x"))?, len)?;
    let y = left_pad(&b64url_bytes(jwk.get("y"))?, len)?;
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(4);
    point.extend(x);
    point.extend(y);
    Some(point)
}

/// One JWK object → a key; `None` for keys that cannot verify JWS signatures (other `kty`,
/// `use` other than `sig`, bad numbers or points).
fn parse_jwk(jwk: &serde_json::Value) -> Option<Jwk> {
    if jwk
        .get("use")
        .and_then(|u| u.as_str())
        .is_some_and(|u| u != "sig")
    {
        return None;
    }
    let key = match jwk.get("kty")?.as_str()? {
        "RSA" => {
            let n = rsa::BigUint::from_bytes_be(&b64url_bytes(jwk.get("n"))?);
            let e = rsa::BigUint::from_bytes_be(&b64url_bytes(jwk.get("e"))?);
            JwkPublic::Rsa(Box::new(RsaPublicKey::new(n, e).ok()?))
        }
        "EC" => match jwk.get("crv")?.as_str()? {
            "P-256" => JwkPublic::P256(Box::new(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1_point(jwk, 32)?).ok()?,
            )),
            "P-384" => JwkPublic::P384(Box::new(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1_point(jwk, 48)?).ok()?,
            )),
            "P-521" => JwkPublic::P521(Box::new(
                p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1_point(jwk, 66)?).ok()?,
            )),
            _ => return None,
        },
        _ => return None,
    };
    Some(Jwk {
        kid: jwk.get("kid").and_then(|k| k.as_str()).map(str::to_owned),
        alg: jwk.get("alg").and_then(|a| a.as_str()).map(str::to_owned),
        key,
    })
}

/// Parses a JWKS document (RFC 7517 §5): its usable RSA and EC signing keys. Keys of other
/// types are skipped; a set with none at all is an error.
pub fn parse_jwks(bytes: &[u8]) -> Result<Vec<Jwk>, JwksError> {
    let doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| JwksError::NotAKeySet)?;
    let keys = doc
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or(JwksError::NotAKeySet)?;
    let parsed: Vec<Jwk> = keys.iter().filter_map(parse_jwk).collect();
    if parsed.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(parsed)
}

/// The key sets the server fetched, by JWKS URL, handed to the engine with each authentication
/// ([`AuthContext::jwks`]). The engine never fetches: with no entry for a URL, no key of that
/// URL verifies anything (protocols §5.4 step 3: only loopback URLs are ever fetched).
#[derive(Clone, Default)]
pub struct JwksKeys {
    sets: BTreeMap<String, Arc<Vec<Jwk>>>,
}

impl fmt::Debug for JwksKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.sets.iter().map(|(u, k)| (u, k.len())))
            .finish()
    }
}

impl JwksKeys {
    /// Records the key set fetched from `url`.
    pub fn insert(&mut self, url: &str, keys: Arc<Vec<Jwk>>) {
        self.sets.insert(url.to_owned(), keys);
    }

    /// The keys of `url` a JWT may be checked with: the one whose `kid` matches when the JWT
    /// names one (RFC 7515 §4.1.4), else every key of the set.
    fn keys_for<'a>(&'a self, url: &str, kid: Option<&'a str>) -> impl Iterator<Item = &'a Jwk> {
        self.sets
            .get(url)
            .into_iter()
            .flat_map(|set| set.iter())
            .filter(move |k| kid.is_none() || k.kid.as_deref() == kid)
    }
}

/// The unverified `iss` of a compact JWS, if it is one.
fn jwt_issuer(token: &str) -> Option<String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    let payload = b64url_json(parts[1])?;
    payload.get("iss")?.as_str().map(str::to_owned)
}

/// The unverified `kid` of a compact JWS header, if any.
pub fn jwt_kid(token: &str) -> Option<String> {
    let header = b64url_json(token.split('.').next()?)?;
    header.get("kid")?.as_str().map(str::to_owned)
}

/// The strings of a claim that is a string or an array of strings.
fn strings_of(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

impl Account {
    /// Bearer token presented (or detected) as OAUTH: an External OAuth JWT or an access token
    /// issued by `/oauth/token-request`.
    pub(crate) fn authenticate_oauth(
        &mut self,
        token: &str,
        context: &AuthContext,
        now: Now,
    ) -> Result<Session, AuthError> {
        if token.contains('.') {
            self.authenticate_external(token, context, now)
        } else {
            self.authenticate_access_token(token, context, now)
        }
    }

    /// Whether `token` is an access token this account issued (protocols §1.3 step 2).
    pub(crate) fn is_issued_access_token(&self, token: &str) -> bool {
        self.oauth
            .tokens
            .get(&sha256_hex(token.as_bytes()))
            .is_some_and(|r| r.kind == TokenKind::Access)
    }

    /// External OAuth, checks in the order of protocols §5.4.
    fn authenticate_external(
        &mut self,
        token: &str,
        context: &AuthContext,
        now: Now,
    ) -> Result<Session, AuthError> {
        let invalid = errors::oauth_invalid;
        // 1. compact JWS, RS256/384/512 or ES256/384/512 (ES keys come only from a JWKS)
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(invalid());
        }
        let header = b64url_json(parts[0]).ok_or_else(invalid)?;
        let alg = header
            .get("alg")
            .and_then(|a| a.as_str())
            .ok_or_else(invalid)?
            .to_owned();
        if !["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"].contains(&alg.as_str()) {
            return Err(invalid());
        }
        let payload = b64url_json(parts[1])
            .filter(|p| p.is_object())
            .ok_or_else(invalid)?;
        // 2. issuer of an enabled integration
        let iss = payload
            .get("iss")
            .and_then(|v| v.as_str())
            .ok_or_else(invalid)?;
        let candidates = self.external_by_issuer(iss);
        if candidates.is_empty() {
            return Err(invalid());
        }
        // 3. signature with key 1 or 2, or a key of the integration's JWKS as the server fetched
        //    it (loopback URLs only; `kid` selects when the JWT names one)
        let sig_bytes = URL_SAFE_NO_PAD
            .decode(parts[2].trim_end_matches('='))
            .map_err(|_| invalid())?;
        let message = format!("{}.{}", parts[0], parts[1]);
        let kid = header.get("kid").and_then(|k| k.as_str());
        let ext = candidates
            .into_iter()
            .find(|i| {
                i.keys
                    .iter()
                    .any(|k| verify_rs(&alg, k, message.as_bytes(), &sig_bytes))
                    || i.jwks_urls.iter().any(|url| {
                        context
                            .jwks
                            .keys_for(url, kid)
                            .any(|k| k.verify(&alg, message.as_bytes(), &sig_bytes))
                    })
            })
            .ok_or_else(invalid)?;
        // 4. exp / nbf against real time, 60 s skew (iat required, protocols §5.3)
        let real = now.real.timestamp();
        let exp = claim_secs(payload.get("exp")).ok_or_else(invalid)?;
        claim_secs(payload.get("iat")).ok_or_else(invalid)?;
        if real >= exp.saturating_add(JWT_SKEW_SECS) {
            return Err(oauth_expired());
        }
        if let Some(nbf) = payload.get("nbf") {
            let nbf = claim_secs(Some(nbf)).ok_or_else(invalid)?;
            if nbf > real.saturating_add(JWT_SKEW_SECS) {
                return Err(invalid());
            }
        }
        // 5. audience
        let account_url = format!("https://{}.snowflakecomputing.com", self.name);
        let aud = strings_of(payload.get("aud"));
        let aud_ok = aud.iter().any(|a| {
            let a = a.trim_end_matches('/');
            a.eq_ignore_ascii_case(&account_url) || ext.audiences.iter().any(|x| x == a)
        });
        if !aud_ok {
            return Err(invalid());
        }
        // 6. user from the mapping claim(s)
        let values: Vec<String> = ext
            .claims
            .iter()
            .flat_map(|c| strings_of(payload.get(c.as_str())))
            .collect();
        let user = self
            .catalog
            .users
            .values()
            .find(|u| {
                values.iter().any(|v| {
                    if ext.by_email {
                        u.email
                            .as_deref()
                            .is_some_and(|e| e.eq_ignore_ascii_case(v))
                    } else {
                        u.login_name.eq_ignore_ascii_case(v)
                    }
                })
            })
            .cloned()
            .ok_or_else(invalid)?;
        if user.disabled {
            return Err(invalid());
        }
        // 7. role from the scopes
        let scopes: Vec<String> = match payload.get(ext.scope_attribute.as_str()) {
            Some(serde_json::Value::String(s)) => s
                .split(ext.delimiter.as_str())
                .flat_map(|x| x.split_whitespace())
                .map(str::to_owned)
                .collect(),
            other => strings_of(other),
        };
        let role = if let Some(r) = scopes.iter().find_map(|s| s.strip_prefix("session:role:")) {
            resolve_scope_role(self, r)
        } else if scopes.iter().any(|s| s == "session:role-any") {
            default_role(self, &user)
        } else {
            return Err(invalid());
        };
        if !self.catalog.user_has_role(user.id, &role)
            || ext.blocked.contains(&role)
            || (!ext.allowed.is_empty() && !ext.allowed.contains(&role))
        {
            return Err(invalid());
        }
        // 8. authentication policy, then network policy
        self.oauth_policies(&user, &ext.name, context)?;
        let role = self.oauth_requested_role(&user, role, context, Some(&ext))?;
        if let Some(u) = self.catalog.users.get_mut(&user.id) {
            u.last_success_login = Some(now.account);
        }
        let mut session = self.open_session(user.id, AuthMethod::OAuth, Some(role));
        session.secondary_roles_all = false;
        session.oauth_integration = Some(ext.id);
        Ok(session)
    }

    /// Authentication policy (OAUTH and the integration) then network policy (§5.4 step 8).
    fn oauth_policies(
        &self,
        user: &User,
        integration: &str,
        context: &AuthContext,
    ) -> Result<(), AuthError> {
        let policy = self.effective_auth_policy(user);
        let integration_ok = policy
            .security_integrations
            .iter()
            .any(|i| i == "ALL" || i == integration);
        if !policy.allows("OAUTH") || !integration_ok {
            return Err(errors::policy_rejects());
        }
        self.enforce_network_policy(user, context)
    }

    /// A requested role (SQL API `role`, `X-Snowflake-Role`) in an OAuth session: the token's
    /// role, or with ANY_ROLE_MODE another granted, unblocked role.
    fn oauth_requested_role(
        &self,
        user: &User,
        token_role: String,
        context: &AuthContext,
        ext: Option<&ExternalIntegration>,
    ) -> Result<String, AuthError> {
        let Some(requested) = context
            .requested_role
            .as_deref()
            .filter(|r| !r.trim().is_empty())
        else {
            return Ok(token_role);
        };
        let requested = resolve_requested_role(self, requested);
        if requested == token_role {
            return Ok(token_role);
        }
        let any = ext.is_some_and(|e| match e.any_role_mode.as_str() {
            "ENABLE" => true,
            "ENABLE_FOR_PRIVILEGE" => self.catalog.holds(
                &self.catalog.user_role_closure(user.id),
                "USE_ANY_ROLE",
                Target::Object(e.id),
            ),
            _ => false,
        });
        let permitted = any
            && self.catalog.user_has_role(user.id, &requested)
            && ext.is_some_and(|e| {
                !e.blocked.contains(&requested)
                    && (e.allowed.is_empty() || e.allowed.contains(&requested))
            });
        if permitted {
            Ok(requested)
        } else {
            Err(errors::role_not_available(&requested))
        }
    }

    /// A Snowflake OAuth access token (protocols §6.5).
    fn authenticate_access_token(
        &mut self,
        token: &str,
        context: &AuthContext,
        now: Now,
    ) -> Result<Session, AuthError> {
        let invalid = errors::oauth_invalid;
        let t = now.account;
        self.purge_oauth(t);
        let record = self
            .oauth
            .tokens
            .get(&sha256_hex(token.as_bytes()))
            .filter(|r| r.kind == TokenKind::Access)
            .cloned()
            .ok_or_else(invalid)?;
        let grant = self
            .oauth
            .grants
            .get(&record.grant)
            .cloned()
            .ok_or_else(invalid)?;
        if grant.revoked || (grant.single_use && record.generation != grant.generation) {
            return Err(invalid());
        }
        if t >= record.expires_at {
            return Err(oauth_expired());
        }
        let client = self
            .catalog
            .objects
            .get(&grant.integration)
            .filter(|o| Self::enabled(o))
            .and_then(|o| self.oauth_client(o))
            .ok_or_else(invalid)?;
        let user = self
            .catalog
            .users
            .get(&grant.user_id)
            .cloned()
            .filter(|u| !u.disabled)
            .ok_or_else(invalid)?;
        if !self.catalog.user_has_role(user.id, &grant.role) || client.blocked.contains(&grant.role)
        {
            return Err(invalid());
        }
        self.oauth_policies(&user, &client.name, context)?;
        let role = self.oauth_requested_role(&user, grant.role.clone(), context, None)?;
        if let Some(u) = self.catalog.users.get_mut(&user.id) {
            u.last_success_login = Some(t);
        }
        let mut session = self.open_session(user.id, AuthMethod::OAuth, Some(role));
        session.secondary_roles_all = false;
        session.oauth_integration = Some(client.id);
        Ok(session)
    }
}

/// A role named in a scope: the exact name if it exists, else upper case.
fn resolve_scope_role(account: &Account, role: &str) -> String {
    if account.catalog.role_id(role).is_some() {
        role.to_owned()
    } else {
        role.to_uppercase()
    }
}

fn default_role(account: &Account, user: &User) -> String {
    user.default_role
        .clone()
        .filter(|r| account.catalog.user_has_role(user.id, r))
        .unwrap_or_else(|| "PUBLIC".to_owned())
}

// ---------------------------------------------------------------------------------------------
// Snowflake OAuth endpoints (protocols §6.1–§6.4)
// ---------------------------------------------------------------------------------------------

/// An OAuth protocol error: HTTP status, RFC 6749 `error`, message (protocols §6.2 envelope).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OAuthError {
    pub http_status: u16,
    pub error: &'static str,
    pub message: String,
}

impl OAuthError {
    fn new(http_status: u16, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            http_status,
            error,
            message: message.into(),
        }
    }

    fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", message)
    }

    fn invalid_client() -> Self {
        Self::new(401, "invalid_client", "This is an invalid client.")
    }

    fn invalid_grant(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_grant", message)
    }

    fn invalid_scope(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_scope", message)
    }

    /// The end user could not be authenticated at the authorization endpoint (401).
    fn login_required(message: impl Into<String>) -> Self {
        Self::new(401, "login_required", message)
    }

    /// `{"data": null, "message", "code": null, "success": false, "error"}` (protocols §6.2).
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "data": null,
            "message": self.message,
            "code": null,
            "success": false,
            "error": self.error,
        })
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl std::error::Error for OAuthError {}

/// The query of `GET /oauth/authorize`.
#[derive(Clone, Debug, Default)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub response_type: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
}

/// The form of `POST /oauth/token-request` plus the Basic client credentials, if any.
#[derive(Default)]
pub struct TokenRequest {
    pub basic: Option<(String, SecretString)>,
    pub form: BTreeMap<String, String>,
}

impl TokenRequest {
    /// Form field `field`, or `invalid_request` "<field> is required." (RFC 6749 §5.2).
    fn required(&self, field: &str) -> Result<&String, OAuthError> {
        self.form
            .get(field)
            .ok_or_else(|| OAuthError::invalid_request(format!("{field} is required.")))
    }
}

/// Codes, verifiers and tokens are secrets: `Debug` shows the form's names only.
impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("basic", &self.basic.as_ref().map(|(id, _)| id))
            .field("form", &self.form.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// RFC 3986 percent-decoding (`+` stays `+`); `None` on a bad escape or non-UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encoding of everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `redirect_uri` without its query string (protocols §6.1).
fn without_query(uri: &str) -> &str {
    uri.split(['?', '#']).next().unwrap_or(uri)
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Parsed `scope` of an authorization request.
struct Scopes {
    refresh: bool,
    role: Option<String>,
}

fn parse_scopes(scope: Option<&str>) -> Result<Scopes, OAuthError> {
    let mut out = Scopes {
        refresh: false,
        role: None,
    };
    for s in scope.unwrap_or("").split_whitespace() {
        if s == "refresh_token" {
            out.refresh = true;
        } else if let Some(r) = s.strip_prefix("session:role:") {
            if r.is_empty() || out.role.is_some() {
                return Err(OAuthError::invalid_scope(format!("Invalid scope {s}.")));
            }
            out.role = Some(r.to_owned());
        } else if let Some(r) = s.strip_prefix("session:role-encoded:") {
            let decoded = percent_decode(r)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| OAuthError::invalid_scope(format!("Invalid scope {s}.")))?;
            if out.role.is_some() {
                return Err(OAuthError::invalid_scope(format!("Invalid scope {s}.")));
            }
            out.role = Some(decoded);
        } else {
            return Err(OAuthError::invalid_scope(format!("Invalid scope {s}.")));
        }
    }
    Ok(out)
}

impl Account {
    /// Enabled Snowflake OAuth client by client id.
    fn client_by_id(&self, client_id: &str) -> Option<OAuthClient> {
        let (id, _) = self
            .oauth
            .clients
            .iter()
            .find(|(_, c)| bool::from(c.client_id.as_bytes().ct_eq(client_id.as_bytes())))?;
        let o = self.catalog.objects.get(id).filter(|o| Self::enabled(o))?;
        self.oauth_client(o)
    }

    /// `GET /oauth/authorize` (protocols §6.1): validates the request, authenticates the end user
    /// with `credential`, and answers the redirect location carrying a fresh code.
    pub fn oauth_authorize(
        &mut self,
        req: &AuthorizeRequest,
        credential: Option<&Credential>,
        context: &AuthContext,
        now: Now,
    ) -> Result<String, OAuthError> {
        let t = now.account;
        self.purge_oauth(t);
        let client_id = req
            .client_id
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("client_id is required."))?;
        let client = self
            .client_by_id(client_id)
            .ok_or_else(OAuthError::invalid_client)?;
        let redirect_uri = req
            .redirect_uri
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required."))?;
        let base = without_query(redirect_uri);
        if base != without_query(&client.redirect_uri)
            && !client
                .alternates
                .iter()
                .any(|a| a == redirect_uri || a == base)
        {
            return Err(OAuthError::invalid_request(
                "The redirect_uri does not match the integration's OAUTH_REDIRECT_URI.",
            ));
        }
        match req.response_type.as_deref() {
            Some("code") => {}
            None => return Err(OAuthError::invalid_request("response_type is required.")),
            Some(_) => {
                return Err(OAuthError::new(
                    400,
                    "unsupported_response_type",
                    "Only response_type=code is supported.",
                ))
            }
        }
        if let Some(state) = &req.state {
            if state.len() > MAX_STATE_LEN || !state.is_ascii() {
                return Err(OAuthError::invalid_request(
                    "state must be at most 2048 ASCII characters.",
                ));
            }
        }
        let scopes = parse_scopes(req.scope.as_deref())?;
        let challenge = match (&req.code_challenge, req.code_challenge_method.as_deref()) {
            (Some(c), Some("S256")) => {
                let ok = URL_SAFE_NO_PAD.decode(c).is_ok_and(|d| d.len() == 32);
                if !ok {
                    return Err(OAuthError::invalid_request("Invalid code_challenge."));
                }
                Some(c.clone())
            }
            (Some(_), _) | (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "code_challenge and code_challenge_method=S256 must be sent together.",
                ))
            }
            (None, None) => None,
        };
        if challenge.is_none() && client.enforce_pkce {
            return Err(OAuthError::invalid_request(
                "PKCE is required by this integration.",
            ));
        }
        // End-user authentication [E].
        let credential = credential.ok_or_else(|| {
            OAuthError::login_required("The end user must authenticate (Authorization header).")
        })?;
        let session = self
            .authenticate(credential, context, now)
            .map_err(|e| OAuthError::login_required(e.message))?;
        // The end user signs in with a password, a PAT or a key-pair JWT, not with an OAuth
        // token (protocols §6.1 [E]).
        if session.auth == AuthMethod::OAuth {
            return Err(OAuthError::login_required(
                "An OAuth token cannot sign in at the authorization endpoint.",
            ));
        }
        let user = self
            .catalog
            .users
            .get(&session.user_id)
            .cloned()
            .ok_or_else(|| OAuthError::login_required("Unknown user."))?;
        if let Some(hint) = req.login_hint.as_deref() {
            if !hint.eq_ignore_ascii_case(&user.login_name)
                && !hint.eq_ignore_ascii_case(&user.name)
            {
                return Err(OAuthError::invalid_request(
                    "The login_hint does not name the authenticated user.",
                ));
            }
        }
        let role = match &scopes.role {
            Some(r) => r.clone(),
            None => default_role(self, &user),
        };
        if !self.catalog.user_has_role(user.id, &role) || client.blocked.contains(&role) {
            return Err(OAuthError::invalid_scope(format!(
                "Role {role} is not authorized for this client."
            )));
        }
        let code = random_secret(32);
        self.oauth.codes.insert(
            sha256_hex(code.as_bytes()),
            AuthCode {
                integration: client.id,
                user_id: user.id,
                role,
                refresh: scopes.refresh && client.issue_refresh,
                redirect_uri: redirect_uri.to_owned(),
                challenge,
                expires_at: later(t, Duration::seconds(CODE_LIFETIME_SECS)),
                used_by: None,
                used: false,
            },
        );
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        let mut location = format!("{redirect_uri}{sep}code={}", percent_encode(&code));
        if let Some(state) = &req.state {
            location.push_str(&format!("&state={}", percent_encode(state)));
        }
        Ok(location)
    }

    /// `POST /oauth/token-request` (protocols §6.2–§6.4): the JSON body of a 200 answer.
    pub fn oauth_token(
        &mut self,
        req: &TokenRequest,
        now: Now,
    ) -> Result<serde_json::Value, OAuthError> {
        let t = now.account;
        self.purge_oauth(t);
        // Client authentication.
        let client = match &req.basic {
            Some((id, secret)) => {
                let client = self
                    .client_by_id(id)
                    .ok_or_else(OAuthError::invalid_client)?;
                let creds = self
                    .oauth
                    .clients
                    .get(&client.id)
                    .ok_or_else(OAuthError::invalid_client)?;
                let given = secret.expose_secret().as_bytes();
                let ok = bool::from(creds.secret.0.as_bytes().ct_eq(given))
                    | bool::from(creds.secret_2.0.as_bytes().ct_eq(given));
                if !ok {
                    return Err(OAuthError::invalid_client());
                }
                client
            }
            None => {
                let id = req
                    .form
                    .get("client_id")
                    .ok_or_else(OAuthError::invalid_client)?;
                let client = self
                    .client_by_id(id)
                    .ok_or_else(OAuthError::invalid_client)?;
                if !client.public {
                    return Err(OAuthError::invalid_client());
                }
                client
            }
        };
        if let Some(id) = req.form.get("client_id") {
            let same = self
                .oauth
                .clients
                .get(&client.id)
                .is_some_and(|c| c.client_id == *id);
            if !same {
                return Err(OAuthError::invalid_client());
            }
        }
        match req.form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => self.exchange_code(&client, req, t),
            Some("refresh_token") => self.refresh(&client, req, t),
            Some(_) => Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                "The grant type is not supported.",
            )),
            None => Err(OAuthError::invalid_request("grant_type is required.")),
        }
    }

    fn issue(
        &mut self,
        kind: TokenKind,
        grant: u64,
        generation: u64,
        expires_at: DateTime<Utc>,
    ) -> String {
        let token = random_secret(48);
        self.oauth.tokens.insert(
            sha256_hex(token.as_bytes()),
            TokenRecord {
                kind,
                grant,
                generation,
                expires_at,
                spent: false,
            },
        );
        token
    }

    fn revoke_grant(&mut self, grant: u64) {
        if let Some(g) = self.oauth.grants.get_mut(&grant) {
            g.revoked = true;
        }
    }

    fn exchange_code(
        &mut self,
        client: &OAuthClient,
        req: &TokenRequest,
        t: DateTime<Utc>,
    ) -> Result<serde_json::Value, OAuthError> {
        let code = req.required("code")?;
        let redirect_uri = req.required("redirect_uri")?;
        let key = sha256_hex(code.as_bytes());
        let bad_code = || OAuthError::invalid_grant("The authorization code is invalid.");
        let stored = self.oauth.codes.get(&key).cloned().ok_or_else(bad_code)?;
        if stored.integration != client.id {
            return Err(bad_code());
        }
        if stored.used {
            // A code used twice: revoke what the first use issued (RFC 6749 §4.1.2).
            if let Some(g) = stored.used_by {
                self.revoke_grant(g);
            }
            return Err(bad_code());
        }
        // Single use: consumed by this attempt whatever follows.
        if let Some(c) = self.oauth.codes.get_mut(&key) {
            c.used = true;
        }
        if t >= stored.expires_at {
            return Err(OAuthError::invalid_grant("The authorization code expired."));
        }
        if *redirect_uri != stored.redirect_uri {
            return Err(OAuthError::invalid_grant(
                "The redirect_uri does not match the authorization request.",
            ));
        }
        if let Some(challenge) = &stored.challenge {
            let verifier = req
                .form
                .get("code_verifier")
                .ok_or_else(|| OAuthError::invalid_grant("code_verifier is required."))?;
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !valid_verifier(verifier)
                || !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
            {
                return Err(OAuthError::invalid_grant("The code_verifier is invalid."));
            }
        }
        let user = self
            .catalog
            .users
            .get(&stored.user_id)
            .cloned()
            .filter(|u| !u.disabled)
            .ok_or_else(|| OAuthError::invalid_grant("The user is not available."))?;
        let single_use = client.single_use_required
            || req
                .form
                .get("enable_single_use_refresh_tokens")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        self.oauth.next_grant += 1;
        let grant_id = self.oauth.next_grant;
        self.oauth.grants.insert(
            grant_id,
            Grant {
                integration: client.id,
                user_id: user.id,
                role: stored.role.clone(),
                single_use,
                generation: 0,
                revoked: false,
                created_on: t,
            },
        );
        if let Some(c) = self.oauth.codes.get_mut(&key) {
            c.used_by = Some(grant_id);
        }
        let access = self.issue(
            TokenKind::Access,
            grant_id,
            0,
            later(t, Duration::seconds(ACCESS_TOKEN_LIFETIME_SECS)),
        );
        let mut body = serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME_SECS,
        });
        let mut scope = format!("session:role:{}", stored.role);
        if stored.refresh {
            let refresh = self.issue(
                TokenKind::Refresh,
                grant_id,
                0,
                later(t, Duration::seconds(client.refresh_validity)),
            );
            body["refresh_token"] = refresh.into();
            body["refresh_token_expires_in"] = client.refresh_validity.into();
            scope = format!("refresh_token {scope}");
        }
        body["scope"] = scope.into();
        body["username"] = user.name.into();
        body["idpInitiated"] = false.into();
        Ok(body)
    }

    fn refresh(
        &mut self,
        client: &OAuthClient,
        req: &TokenRequest,
        t: DateTime<Utc>,
    ) -> Result<serde_json::Value, OAuthError> {
        let token = req.required("refresh_token")?;
        let key = sha256_hex(token.as_bytes());
        let bad = || OAuthError::invalid_grant("The refresh token is invalid.");
        let record = self
            .oauth
            .tokens
            .get(&key)
            .filter(|r| r.kind == TokenKind::Refresh)
            .cloned()
            .ok_or_else(bad)?;
        let grant = self
            .oauth
            .grants
            .get(&record.grant)
            .cloned()
            .ok_or_else(bad)?;
        if grant.integration != client.id || grant.revoked {
            return Err(bad());
        }
        if grant.single_use && (record.spent || record.generation != grant.generation) {
            // Reuse of a spent refresh token: the whole family dies (protocols §6.4).
            self.revoke_grant(record.grant);
            return Err(bad());
        }
        if t >= record.expires_at {
            return Err(OAuthError::invalid_grant("The refresh token expired."));
        }
        if let Some(scope) = req.form.get("scope") {
            let asked = parse_scopes(Some(scope))?;
            if asked.role.as_ref().is_some_and(|r| *r != grant.role) {
                return Err(OAuthError::invalid_scope(
                    "The scope exceeds the original grant.",
                ));
            }
        }
        let user_ok = self
            .catalog
            .users
            .get(&grant.user_id)
            .is_some_and(|u| !u.disabled)
            && self.catalog.user_has_role(grant.user_id, &grant.role)
            && !client.blocked.contains(&grant.role);
        if !user_ok {
            return Err(OAuthError::invalid_grant(
                "The user or role of this grant is no longer available.",
            ));
        }
        let mut generation = grant.generation;
        let mut body = serde_json::json!({});
        if grant.single_use {
            generation += 1;
            if let Some(r) = self.oauth.tokens.get_mut(&key) {
                r.spent = true;
            }
            if let Some(g) = self.oauth.grants.get_mut(&record.grant) {
                g.generation = generation;
            }
            let refresh = self.issue(
                TokenKind::Refresh,
                record.grant,
                generation,
                later(t, Duration::seconds(client.refresh_validity)),
            );
            body["refresh_token"] = refresh.into();
            body["refresh_token_expires_in"] = client.refresh_validity.into();
        }
        let access = self.issue(
            TokenKind::Access,
            record.grant,
            generation,
            later(t, Duration::seconds(ACCESS_TOKEN_LIFETIME_SECS)),
        );
        body["access_token"] = access.into();
        body["token_type"] = "Bearer".into();
        body["expires_in"] = ACCESS_TOKEN_LIFETIME_SECS.into();
        body["idpInitiated"] = false.into();
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_coding_round_trips() {
        let s = "a b/c?d=é&\"x\"";
        assert_eq!(percent_decode(&percent_encode(s)).as_deref(), Some(s));
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ZZ"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("%é"), None);
    }

    #[test]
    fn scopes_parse_roles_and_refresh() {
        let s = parse_scopes(Some("refresh_token session:role-encoded:My%20Role")).unwrap();
        assert!(s.refresh);
        assert_eq!(s.role.as_deref(), Some("My Role"));
        assert!(parse_scopes(Some("session:role:A session:role:B")).is_err());
        assert!(parse_scopes(Some("openid")).is_err());
        assert!(parse_scopes(None).unwrap().role.is_none());
    }

    #[test]
    fn redirect_query_is_ignored_and_verifier_checked() {
        assert_eq!(without_query("https://x/cb?a=1"), "https://x/cb");
        assert!(valid_verifier(&"a".repeat(43)));
        assert!(!valid_verifier(&"a".repeat(42)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn token_requests_do_not_print_their_secrets() {
        let mut form = BTreeMap::new();
        form.insert("refresh_token".to_owned(), "rt-hush".to_owned());
        let req = TokenRequest {
            basic: Some(("client".into(), SecretString::from("cs-hush"))),
            form,
        };
        let text = format!("{req:?}");
        assert!(text.contains("refresh_token") && text.contains("client"));
        assert!(!text.contains("hush"));
    }

    #[test]
    fn protocols_5_4_jwks_parsing_keeps_rsa_and_ec_signing_keys_only() {
        use p256::ecdsa::signature::Signer;
        let sk = p256::ecdsa::SigningKey::random(&mut OsRng);
        let point = sk.verifying_key().to_encoded_point(false);
        let bytes = point.as_bytes();
        // A usable EC key, an `enc` key, an `oct` key and a broken RSA key.
        let doc = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec", "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]),
             "y": URL_SAFE_NO_PAD.encode(&bytes[33..])},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
             "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]), "y": URL_SAFE_NO_PAD.encode(&bytes[33..])},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "bad", "n": "", "e": "AQAB"},
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid(), Some("ec"));
        let sig: p256::ecdsa::Signature = sk.sign(b"a.b");
        assert!(keys[0].verify("ES256", b"a.b", &sig.to_bytes()));
        assert!(!keys[0].verify("ES384", b"a.b", &sig.to_bytes()));
        assert!(!keys[0].verify("HS256", b"a.b", &sig.to_bytes()));
        assert!(!keys[0].verify("ES256", b"a.c", &sig.to_bytes()));
        assert!(matches!(
            parse_jwks(br#"{"keys": [{"kty": "oct", "k": "AA"}]}"#),
            Err(JwksError::NoUsableKey)
        ));
        assert!(matches!(parse_jwks(b"[]"), Err(JwksError::NotAKeySet)));
        assert!(!format!("{keys:?}").contains(&URL_SAFE_NO_PAD.encode(&bytes[1..33])));
    }

    #[test]
    fn client_secrets_are_redacted_in_debug() {
        let c = ClientCredentials {
            client_id: "id".into(),
            secret: Opaque("hush".into()),
            secret_2: Opaque("hush2".into()),
        };
        assert!(!format!("{c:?}").contains("hush"));
    }
}
