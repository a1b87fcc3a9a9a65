//! Credentials and the bearer token each one presents (protocols §1.2, §3).
//!
//! Every request carries `Authorization: Bearer <token>` (set through reqwest's `bearer_auth`,
//! which marks the header sensitive) and `X-Snowflake-Authorization-Token-Type` naming the
//! credential: `PROGRAMMATIC_ACCESS_TOKEN`, `KEYPAIR_JWT` or `OAUTH`. The type header is always
//! sent (protocols §1.2: "snowpat MUST always send the type header matching the credential").
//!
//! Key-pair JWTs (protocols §3.1) are RS256-signed with a PKCS#8 (or PKCS#1) PEM RSA key; the
//! issuer carries `SHA256:` + base64(SHA-256(DER SubjectPublicKeyInfo)). A JWT lives
//! [`KeyPair::DEFAULT_LIFETIME`] (59 minutes, under Snowflake's one-hour cap) and is renewed once
//! less than [`KeyPair::DEFAULT_RENEW_BEFORE`] remains, so no request ever carries an expiring
//! token. `iat`/`exp` come from the local real-time clock: Snowflake checks signed credentials
//! against real time (snowflake-behaviour §6.9); this is the only use of the local clock.
//! Encrypted private keys are not supported.

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::account::jwt_account;
use crate::error::AuthError;

/// `X-Snowflake-Authorization-Token-Type` (protocols §1.2).
pub const TOKEN_TYPE_HEADER: &str = "X-Snowflake-Authorization-Token-Type";

/// What the client authenticates with.
#[expect(
    clippy::large_enum_variant,
    reason = "one credential per client, never moved in a hot loop"
)]
pub enum Credential {
    /// A programmatic access token's secret.
    Pat(SecretString),
    /// An RSA key pair; short-lived JWTs are signed and renewed from it.
    KeyPair(KeyPair),
    /// An OAuth access token (External or Snowflake OAuth).
    OAuth(SecretString),
}

impl Credential {
    /// A PAT secret.
    #[must_use]
    pub fn pat(secret: SecretString) -> Self {
        Self::Pat(secret)
    }

    /// An OAuth access token.
    #[must_use]
    pub fn oauth(token: SecretString) -> Self {
        Self::OAuth(token)
    }

    /// A PAT read from a file (surrounding whitespace trimmed).
    pub fn pat_from_file(path: &Path) -> Result<Self, AuthError> {
        read_token_file(path).map(Self::Pat)
    }

    /// The `X-Snowflake-Authorization-Token-Type` value for this credential.
    #[must_use]
    pub fn token_type(&self) -> &'static str {
        match self {
            Self::Pat(_) => "PROGRAMMATIC_ACCESS_TOKEN",
            Self::KeyPair(_) => "KEYPAIR_JWT",
            Self::OAuth(_) => "OAUTH",
        }
    }

    /// The bearer token to send now (a cached or freshly signed JWT for key pairs).
    pub(crate) fn bearer(&self) -> Result<SecretString, AuthError> {
        match self {
            Self::Pat(secret) | Self::OAuth(secret) => Ok(secret.clone()),
            Self::KeyPair(pair) => pair.token(),
        }
    }

    /// Whether a refused token can be replaced by a new one without the caller (key pairs).
    pub(crate) fn renewable(&self) -> bool {
        matches!(self, Self::KeyPair(_))
    }

    /// Forgets a cached token so the next request signs a new one.
    pub(crate) fn invalidate(&self) {
        if let Self::KeyPair(pair) = self {
            pair.invalidate();
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pat(_) => f.write_str("Credential::Pat(****)"),
            Self::OAuth(_) => f.write_str("Credential::OAuth(****)"),
            Self::KeyPair(pair) => f.debug_tuple("Credential::KeyPair").field(pair).finish(),
        }
    }
}

/// Reads a token file: the whole file, trimmed.
pub(crate) fn read_token_file(path: &Path) -> Result<SecretString, AuthError> {
    let mut text = std::fs::read_to_string(path).map_err(|source| AuthError::TokenFile {
        path: path.to_path_buf(),
        source,
    })?;
    let trimmed = text.trim();
    let secret = (!trimmed.is_empty()).then(|| SecretString::from(trimmed));
    text.zeroize();
    secret.ok_or_else(|| AuthError::EmptyToken(path.to_path_buf()))
}

/// An RSA key pair for key-pair JWT authentication (protocols §3).
pub struct KeyPair {
    account: String,
    user: String,
    key: SigningKey<Sha256>,
    fingerprint: String,
    lifetime: Duration,
    renew_before: Duration,
    cache: Mutex<Option<CachedJwt>>,
}

struct CachedJwt {
    token: SecretString,
    expires_at: u64,
}

impl KeyPair {
    /// 59 minutes, as Snowflake's sample generator (protocols §3.1); Snowflake caps JWTs at one hour.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(59 * 60);
    /// Renew once less than this remains.
    pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

    /// From a PEM private key (`BEGIN PRIVATE KEY`, or `BEGIN RSA PRIVATE KEY`).
    /// `account` is the account identifier (its JWT part is derived per protocols §3.1).
    pub fn from_pem(account: &str, user: &str, pem: &SecretString) -> Result<Self, AuthError> {
        let text = pem.expose_secret();
        if text.contains("ENCRYPTED") {
            return Err(AuthError::EncryptedKey);
        }
        let key = RsaPrivateKey::from_pkcs8_pem(text)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(text))
            .map_err(|_| AuthError::InvalidKey)?;
        Self::from_key(account, user, key)
    }

    /// From a PEM private key file.
    pub fn from_file(account: &str, user: &str, path: &Path) -> Result<Self, AuthError> {
        let pem = std::fs::read_to_string(path).map_err(|source| AuthError::KeyFile {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_pem(account, user, &SecretString::from(pem))
    }

    /// From a parsed key.
    pub fn from_key(account: &str, user: &str, key: RsaPrivateKey) -> Result<Self, AuthError> {
        let account = jwt_account(account);
        let user = user.trim().to_ascii_uppercase();
        if account.is_empty() {
            return Err(AuthError::InvalidClaim {
                what: "account",
                value: account,
            });
        }
        if user.is_empty() || user.contains('.') {
            return Err(AuthError::InvalidClaim {
                what: "user",
                value: user,
            });
        }
        let der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| AuthError::InvalidKey)?;
        let fingerprint = format!("SHA256:{}", STANDARD.encode(Sha256::digest(der.as_bytes())));
        Ok(Self {
            account,
            user,
            key: SigningKey::<Sha256>::new(key),
            fingerprint,
            lifetime: Self::DEFAULT_LIFETIME,
            renew_before: Self::DEFAULT_RENEW_BEFORE,
            cache: Mutex::new(None),
        })
    }

    /// Sets the JWT lifetime (capped at one hour) and the renewal margin (at most the lifetime).
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration, renew_before: Duration) -> Self {
        self.lifetime = lifetime.clamp(Duration::from_secs(1), Duration::from_secs(3600));
        self.renew_before = renew_before.min(self.lifetime);
        self
    }

    /// `SHA256:<base64>` of the public key; equals DESC USER `RSA_PUBLIC_KEY_FP`.
    #[must_use]
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// `iss`: `<ACCOUNT>.<USER>.SHA256:<fp>`.
    #[must_use]
    pub fn issuer(&self) -> String {
        format!("{}.{}.{}", self.account, self.user, self.fingerprint)
    }

    /// `sub`: `<ACCOUNT>.<USER>`.
    #[must_use]
    pub fn subject(&self) -> String {
        format!("{}.{}", self.account, self.user)
    }

    /// Signs a JWT issued at `iat` (seconds since the epoch) that expires after the lifetime.
    pub fn sign_at(&self, iat: u64) -> Result<SecretString, AuthError> {
        let exp = iat.saturating_add(self.lifetime.as_secs());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": self.issuer(),
            "sub": self.subject(),
            "iat": iat,
            "exp": exp,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature = self
            .key
            .try_sign(signing_input.as_bytes())
            .map_err(|_| AuthError::Signing)?;
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        Ok(SecretString::from(format!("{signing_input}.{signature}")))
    }

    /// The current JWT, signed anew when none is cached or less than the renewal margin remains.
    pub(crate) fn token(&self) -> Result<SecretString, AuthError> {
        let now = unix_now()?;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cached) = cache.as_ref() {
            if cached.expires_at.saturating_sub(now) > self.renew_before.as_secs() {
                return Ok(cached.token.clone());
            }
        }
        let token = self.sign_at(now)?;
        tracing::debug!(
            lifetime_s = self.lifetime.as_secs(),
            "signed a new key-pair JWT"
        );
        *cache = Some(CachedJwt {
            token: token.clone(),
            expires_at: now.saturating_add(self.lifetime.as_secs()),
        });
        Ok(token)
    }

    fn invalidate(&self) {
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("subject", &self.subject())
            .field("fingerprint", &self.fingerprint)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// Seconds since the epoch on the local real-time clock (for JWT claims only).
fn unix_now() -> Result<u64, AuthError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| AuthError::Clock)
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::signature::Verifier;

    use super::*;

    fn test_key() -> RsaPrivateKey {
        let mut rng = rand::thread_rng();
        RsaPrivateKey::new(&mut rng, 1024).unwrap()
    }

    #[test]
    fn protocols_3_1_claims_fingerprint_and_signature() {
        let key = test_key();
        let public = key.to_public_key();
        let der = public.to_public_key_der().unwrap();
        let expected_fp = format!("SHA256:{}", STANDARD.encode(Sha256::digest(der.as_bytes())));
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let pair = KeyPair::from_pem(
            "xy12345.us-east-2.aws",
            "svc_user",
            &SecretString::from(pem.as_str()),
        )
        .unwrap();
        assert_eq!(pair.fingerprint(), expected_fp);
        assert_eq!(pair.subject(), "XY12345.SVC_USER");
        assert_eq!(pair.issuer(), format!("XY12345.SVC_USER.{expected_fp}"));

        let jwt = pair.sign_at(1_767_225_600).unwrap();
        let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iat"], 1_767_225_600_u64);
        assert_eq!(claims["exp"], 1_767_225_600_u64 + 59 * 60);
        assert_eq!(claims["sub"], "XY12345.SVC_USER");
        let signature =
            Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
        VerifyingKey::<Sha256>::new(public)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();
        // Debug shows neither the key nor a token.
        let debug = format!("{:?}", Credential::KeyPair(pair));
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }

    #[test]
    fn protocols_3_1_tokens_are_cached_then_renewed() {
        let pair = KeyPair::from_key("EMULATOR", "admin", test_key())
            .unwrap()
            .with_lifetime(Duration::from_secs(600), Duration::from_secs(60));
        let a = pair.token().unwrap();
        let b = pair.token().unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret(), "cached while fresh");
        // A margin as long as the lifetime renews on every call (different iat or same iat:
        // compare after invalidation, which must sign again).
        pair.invalidate();
        assert!(pair.cache.lock().unwrap().is_none());
        let _ = pair.token().unwrap();
        assert!(pair.cache.lock().unwrap().is_some());

        let always = KeyPair::from_key("EMULATOR", "admin", test_key())
            .unwrap()
            .with_lifetime(Duration::from_secs(2), Duration::from_secs(2));
        let first = always.token().unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        let second = always.token().unwrap();
        assert_ne!(first.expose_secret(), second.expose_secret(), "renewed");
    }

    #[test]
    fn protocols_3_1_lifetime_is_capped_at_one_hour() {
        let pair = KeyPair::from_key("EMULATOR", "admin", test_key())
            .unwrap()
            .with_lifetime(Duration::from_secs(7200), Duration::from_secs(9000));
        let jwt = pair.sign_at(1000).unwrap();
        let claims = jwt.expose_secret().split('.').nth(1).unwrap().to_owned();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["exp"], 1000 + 3600);
        assert_eq!(pair.renew_before, Duration::from_secs(3600));
    }

    #[test]
    fn encrypted_and_garbage_keys_are_refused_by_kind() {
        let encrypted = SecretString::from(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        assert!(matches!(
            KeyPair::from_pem("a", "u", &encrypted),
            Err(AuthError::EncryptedKey)
        ));
        assert!(matches!(
            KeyPair::from_pem("a", "u", &SecretString::from("nope")),
            Err(AuthError::InvalidKey)
        ));
    }

    #[test]
    fn protocols_1_2_token_types() {
        assert_eq!(
            Credential::pat(SecretString::from("x")).token_type(),
            "PROGRAMMATIC_ACCESS_TOKEN"
        );
        assert_eq!(
            Credential::oauth(SecretString::from("x")).token_type(),
            "OAUTH"
        );
        assert_eq!(
            format!("{:?}", Credential::pat(SecretString::from("hunter2"))),
            "Credential::Pat(****)"
        );
    }
}
