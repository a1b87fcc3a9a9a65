//! Credential verification: PATs (§6.6, checks in order), key-pair JWTs (protocols §3.2),
//! passwords, and bearer-token type detection (protocols §1.3); OAuth tokens are checked in
//! `oauth` (protocols §5, §6).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::catalog::{later, PatStatus, User};
use super::errors;
use super::{
    Account, AuthContext, AuthError, AuthMethod, Channel, Credential, Now, Session, TokenType,
};

/// Failed password logins before a temporary lock (§5.2).
const LOCK_AFTER_FAILURES: u32 = 5;
const LOCK_MINUTES: i64 = 15;
/// Clock skew allowed on a JWT's `iat` (protocols §3.2).
const JWT_SKEW_SECS: i64 = 60;
/// A key-pair JWT is valid at most one hour after issue (protocols §3.1).
const JWT_MAX_LIFETIME_SECS: i64 = 3600;

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Strips PEM armour and whitespace from a public key, leaving base64 DER.
pub(crate) fn normalize_public_key(key: &str) -> String {
    key.lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn decode_key(key_b64: &str) -> Option<(Vec<u8>, RsaPublicKey)> {
    let der = STANDARD.decode(normalize_public_key(key_b64)).ok()?;
    let key = RsaPublicKey::from_public_key_der(&der).ok()?;
    Some((der, key))
}

/// `SHA256:` + base64(sha256(DER SubjectPublicKeyInfo)) (protocols §3.1).
pub(crate) fn fingerprint(key_b64: &str) -> Option<String> {
    let (der, _) = decode_key(key_b64)?;
    Some(format!("SHA256:{}", STANDARD.encode(Sha256::digest(&der))))
}

pub(crate) fn b64url_json(part: &str) -> Option<serde_json::Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A JWT-looking token: three non-empty base64url segments whose payload is a JSON object.
fn jwt_payload(token: &str) -> Option<serde_json::Value> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let payload = b64url_json(parts[1])?;
    payload.is_object().then_some(payload)
}

/// Seconds from a numeric claim; values above 10^11 are milliseconds (protocols §3.2).
pub(crate) fn claim_secs(v: Option<&serde_json::Value>) -> Option<i64> {
    let n = v?.as_f64()?;
    let n = if n > 1e11 { n / 1000.0 } else { n };
    if n.is_finite() {
        Some(n as i64)
    } else {
        None
    }
}

/// Resolves a requested role as sent: `"x"` is exact; otherwise the exact name if it exists,
/// else upper case (§1.1; protocols §1.4).
pub(crate) fn resolve_requested_role(account: &Account, role: &str) -> String {
    let r = role.trim();
    if r.len() >= 2 && r.starts_with('"') && r.ends_with('"') {
        return r[1..r.len() - 1].replace("\"\"", "\"");
    }
    if account.catalog.role_id(r).is_some() {
        return r.to_owned();
    }
    r.to_uppercase()
}

impl Account {
    /// Verifies a credential and opens a session (§6.6; protocols §1.3, §3.2).
    pub fn authenticate(
        &mut self,
        credential: &Credential,
        context: &AuthContext,
        now: Now,
    ) -> Result<Session, AuthError> {
        self.purge_expired_pats(now.account);
        match credential {
            Credential::Bearer { token, token_type } => {
                let token = token.expose_secret();
                match token_type {
                    Some(TokenType::ProgrammaticAccessToken) => {
                        self.authenticate_pat(token, context, now)
                    }
                    Some(TokenType::KeypairJwt) => self.authenticate_jwt(token, context, now),
                    // OAuth is validated only as OAuth: a PAT sent as OAUTH fails (protocols §1.2).
                    Some(TokenType::OAuth) => self.authenticate_oauth(token, context, now),
                    None => match jwt_payload(token) {
                        Some(payload) => {
                            let iss = payload.get("iss").and_then(|v| v.as_str()).unwrap_or("");
                            if self.issuer_matches_account(iss) {
                                self.authenticate_jwt(token, context, now)
                            } else if self.is_external_oauth_issuer(iss) {
                                // protocols §1.3 step 1: External OAuth.
                                self.authenticate_oauth(token, context, now)
                            } else {
                                Err(errors::jwt_invalid())
                            }
                        }
                        // protocols §1.3 step 2: an access token issued at /oauth/token-request.
                        None if self.is_issued_access_token(token) => {
                            self.authenticate_oauth(token, context, now)
                        }
                        None => self.authenticate_pat(token, context, now),
                    },
                }
            }
            Credential::Password { password } => {
                let secret = password.expose_secret();
                if self.find_pat(secret).is_some() {
                    return self.authenticate_pat(secret, context, now);
                }
                self.authenticate_password(secret, context, now)
            }
        }
    }

    /// `<ACCOUNT>.<USER>.SHA256:` with this account (case-insensitive).
    fn issuer_matches_account(&self, iss: &str) -> bool {
        let Some((prefix, _)) = iss.split_once(".SHA256:") else {
            return false;
        };
        match prefix.split_once('.') {
            Some((account, user)) => account.eq_ignore_ascii_case(&self.name) && !user.is_empty(),
            None => false,
        }
    }

    /// The index of the token whose digest equals the secret's (§6.6 step 1): looked up by
    /// digest (the secret itself is never a key; SHA-256 hides it), then the stored digest is
    /// compared with the computed one in constant time.
    fn find_pat(&self, secret: &str) -> Option<usize> {
        let digest = hex::encode(Sha256::digest(secret.as_bytes()));
        let i = self.catalog.pat_by_digest(&digest)?;
        let stored = self.catalog.pats.get(i)?;
        bool::from(stored.digest.as_bytes().ct_eq(digest.as_bytes())).then_some(i)
    }

    /// Network policy enforcement for a user (§5.11): 099918 when the address is not allowed.
    pub(crate) fn enforce_network_policy(
        &self,
        u: &User,
        context: &AuthContext,
    ) -> Result<(), AuthError> {
        if let Some(np) = self.user_network_policy(u) {
            if !self.network_allows(np, context.peer) {
                return Err(errors::ip_not_allowed(
                    &context.peer.to_canonical().to_string(),
                ));
            }
        }
        Ok(())
    }

    /// The requested role check of §6.6 step 10 for sessions without a restriction.
    fn role_for_session(
        &self,
        user: &User,
        context: &AuthContext,
    ) -> Result<Option<String>, AuthError> {
        let Some(requested) = context
            .requested_role
            .as_deref()
            .filter(|r| !r.trim().is_empty())
        else {
            return Ok(None);
        };
        let role = resolve_requested_role(self, requested);
        if self.catalog.user_has_role(user.id, &role) {
            Ok(Some(role))
        } else {
            Err(match context.channel {
                Channel::Driver => errors::connect_string_role(&role),
                _ => errors::role_not_available(&role),
            })
        }
    }

    /// PAT authentication, checks in the order of §6.6.
    fn authenticate_pat(
        &mut self,
        secret: &str,
        context: &AuthContext,
        now: Now,
    ) -> Result<Session, AuthError> {
        let t = now.account;
        // 1. secret
        let idx = self.find_pat(secret).ok_or_else(errors::pat_invalid)?;
        let pat = self.catalog.pats[idx].clone();
        // 2. user exists
        let user = self
            .catalog
            .users
            .get(&pat.user_id)
            .cloned()
            .ok_or_else(errors::pat_invalid)?;
        // 3. login name
        if let Some(login) = context.login_name.as_deref() {
            let login = login.trim();
            if !login.eq_ignore_ascii_case(&user.login_name)
                && !login.eq_ignore_ascii_case(&user.name)
            {
                return Err(errors::pat_invalid());
            }
        }
        // 4. status (a disabled user cannot log in even if a token was re-enabled meanwhile)
        if pat.status(t) != PatStatus::Active || user.disabled {
            return Err(errors::pat_invalid());
        }
        let policy = self.effective_auth_policy(&user);
        let pp = &policy.pat_policy;
        // 5. network policy (§6.5)
        if pp.network_policy_evaluation != "NOT_ENFORCED" {
            let requirement = pp.network_policy_evaluation == "ENFORCED_REQUIRED"
                && (user.is_service() || user.is_person());
            if requirement && !self.subject_to_network_policy(&user) {
                let bypass = user.is_person() && pat.bypass_until.is_some_and(|b| t < b);
                if !bypass {
                    return Err(errors::auth_network_policy_required());
                }
            }
            self.enforce_network_policy(&user, context)?;
        }
        // 6. methods
        if !policy.allows("PROGRAMMATIC_ACCESS_TOKEN") {
            return Err(errors::policy_rejects());
        }
        // 7. role restriction still valid
        if let Some(r) = &pat.role_restriction {
            if self.catalog.role_id(r).is_none()
                || !self.catalog.user_has_role(user.id, r)
                || pp.blocked_roles_list.iter().any(|b| b == r)
            {
                return Err(errors::pat_invalid());
            }
        } else {
            // 8. restriction now required
            let service_like =
                user.is_service() || user.user_type.as_deref() == Some("SERVICE_AGENT");
            if (service_like && pp.require_role_restriction_for_service_users)
                || (user.is_person() && pp.require_role_restriction_for_person_users)
            {
                return Err(errors::pat_invalid());
            }
        }
        // 9. lifetime above MAX_EXPIRY_IN_DAYS (§6.6 step 9, §5.9.3): the lifetime the secret was
        // issued with, i.e. the token's DAYS_TO_EXPIRY (§6.1). Not `expires_at - created_on`:
        // ROTATE (§6.4) moves expires_at to now + DAYS_TO_EXPIRY and keeps created_on, so that
        // difference grows with every rotation although the secret's lifetime does not.
        if pat.days_to_expiry > pp.max_expiry_in_days {
            return Err(errors::pat_invalid());
        }
        // 10. requested role
        let role = match &pat.role_restriction {
            Some(r) => {
                if let Some(requested) = context
                    .requested_role
                    .as_deref()
                    .filter(|x| !x.trim().is_empty())
                {
                    let requested = resolve_requested_role(self, requested);
                    if requested != *r {
                        return Err(match context.channel {
                            Channel::Driver => errors::pat_invalid(),
                            _ => errors::role_not_available(&requested),
                        });
                    }
                }
                Some(r.clone())
            }
            None => self.role_for_session(&user, context)?,
        };
        // 11. session
        self.catalog
            .pats
            .update_unindexed(idx, |p| p.last_used_on = Some(t));
        self.catalog
            .users
            .update_unindexed(&user.id, |u| u.last_success_login = Some(t));
        Ok(self.open_session(
            user.id,
            AuthMethod::Pat {
                token_id: pat.id,
                role_restriction: pat.role_restriction.clone(),
            },
            role,
        ))
    }

    /// Key-pair JWT authentication (protocols §3.2).
    fn authenticate_jwt(
        &mut self,
        token: &str,
        context: &AuthContext,
        now: Now,
    ) -> Result<Session, AuthError> {
        let invalid = errors::jwt_invalid;
        // 1. compact JWS, RS256 only
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err(invalid());
        }
        let header = b64url_json(parts[0]).ok_or_else(invalid)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("RS256") {
            return Err(invalid());
        }
        let payload = b64url_json(parts[1]).ok_or_else(invalid)?;
        // 2. iss / sub
        let iss = payload
            .get("iss")
            .and_then(|v| v.as_str())
            .ok_or_else(invalid)?;
        let sub = payload
            .get("sub")
            .and_then(|v| v.as_str())
            .ok_or_else(invalid)?;
        let (prefix, fp) = iss.split_once(".SHA256:").ok_or_else(invalid)?;
        let (account, user_name) = prefix.split_once('.').ok_or_else(invalid)?;
        if !account.eq_ignore_ascii_case(&self.name) || !sub.eq_ignore_ascii_case(prefix) {
            return Err(invalid());
        }
        // 3. user exists and is not disabled
        let user = self
            .catalog
            .users
            .values()
            .find(|u| u.name == user_name)
            .or_else(|| {
                self.catalog
                    .users
                    .values()
                    .find(|u| u.name.eq_ignore_ascii_case(user_name))
            })
            .cloned()
            .ok_or_else(invalid)?;
        if user.disabled {
            return Err(errors::user_disabled());
        }
        // 4. fingerprint and signature
        let fp = format!("SHA256:{fp}");
        let key = [&user.rsa_public_key, &user.rsa_public_key_2]
            .into_iter()
            .flatten()
            .filter_map(|k| decode_key(k))
            .find(|(der, _)| format!("SHA256:{}", STANDARD.encode(Sha256::digest(der))) == fp)
            .map(|(_, key)| key)
            .ok_or_else(invalid)?;
        let sig_bytes = URL_SAFE_NO_PAD
            .decode(parts[2].trim_end_matches('='))
            .map_err(|_| invalid())?;
        let signature = Signature::try_from(sig_bytes.as_slice()).map_err(|_| invalid())?;
        let message = format!("{}.{}", parts[0], parts[1]);
        VerifyingKey::<Sha256>::new(key)
            .verify(message.as_bytes(), &signature)
            .map_err(|_| invalid())?;
        // 5. iat / exp against real time
        let iat = claim_secs(payload.get("iat")).ok_or_else(invalid)?;
        let exp = claim_secs(payload.get("exp")).ok_or_else(invalid)?;
        let real = now.real.timestamp();
        if iat > real.saturating_add(JWT_SKEW_SECS)
            || real >= exp.min(iat.saturating_add(JWT_MAX_LIFETIME_SECS))
        {
            return Err(invalid());
        }
        // 6. network policy, then authentication policy (§5.10)
        self.enforce_network_policy(&user, context)?;
        if !self.effective_auth_policy(&user).allows("KEYPAIR") {
            return Err(errors::policy_rejects());
        }
        let role = self.role_for_session(&user, context)?;
        self.catalog
            .users
            .update_unindexed(&user.id, |u| u.last_success_login = Some(now.account));
        Ok(self.open_session(user.id, AuthMethod::KeyPair, role))
    }

    /// Password login (driver): 390100 on a bad name or password; 5 failures lock the user.
    fn authenticate_password(
        &mut self,
        password: &str,
        context: &AuthContext,
        now: Now,
    ) -> Result<Session, AuthError> {
        let t: DateTime<Utc> = now.account;
        let login = context.login_name.as_deref().unwrap_or("").trim();
        let Some(user) = self
            .catalog
            .users
            .values()
            .find(|u| {
                u.login_name.eq_ignore_ascii_case(login) || u.name.eq_ignore_ascii_case(login)
            })
            .cloned()
        else {
            return Err(errors::bad_password());
        };
        if user.locked_until.is_some_and(|l| t < l) {
            return Err(errors::bad_password());
        }
        let digest = sha256_hex(password.as_bytes());
        let ok = user
            .password_digest
            .as_deref()
            .is_some_and(|d| bool::from(d.as_bytes().ct_eq(digest.as_bytes())));
        if !ok {
            self.catalog.users.update_unindexed(&user.id, |u| {
                u.failed_logins += 1;
                if u.failed_logins >= LOCK_AFTER_FAILURES {
                    u.locked_until = Some(later(t, Duration::minutes(LOCK_MINUTES)));
                    u.failed_logins = 0;
                }
            });
            return Err(errors::bad_password());
        }
        if user.disabled {
            return Err(errors::user_disabled());
        }
        self.enforce_network_policy(&user, context)?;
        if !self.effective_auth_policy(&user).allows("PASSWORD") {
            return Err(errors::policy_rejects());
        }
        let role = self.role_for_session(&user, context)?;
        self.catalog.users.update_unindexed(&user.id, |u| {
            u.failed_logins = 0;
            u.last_success_login = Some(t);
        });
        Ok(self.open_session(user.id, AuthMethod::Password, role))
    }
}
