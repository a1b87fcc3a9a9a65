//! `[[exchange.policy]]` validated: anchored regexes, checked URLs, folded roles, parsed lifetimes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use sha2::{Digest, Sha256};

use super::verify::JwksOptions;
use crate::config::{ExchangeConfig, ExchangePolicyConfig};

/// Why the trust policies (or the file holding them) cannot be used. The text names the policy,
/// the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A key of `[exchange]` or of one `[[exchange.policy]]` is unusable.
    #[error("{}{key}: {message}; fix: {fix}", policy.as_ref().map(|p| format!("[[exchange.policy]] {p:?}: ")).unwrap_or_else(|| "[exchange] ".into()))]
    Invalid {
        /// The policy's name (`None` for a key of `[exchange]` itself).
        policy: Option<String>,
        key: String,
        message: String,
        fix: String,
    },
    /// The config file is not owned by the service's user, or others can write it.
    #[error("{path}: {message}; fix: {fix}")]
    Permissions {
        path: String,
        message: String,
        fix: String,
    },
}

/// One validated policy.
#[derive(Clone, Debug)]
pub struct TrustPolicy {
    pub name: String,
    pub issuer: String,
    pub jwks_url: String,
    pub audience: String,
    /// `^(?:subject)$`.
    pub subject: Regex,
    /// Claim name → `^(?:pattern)$`.
    pub claims: BTreeMap<String, Regex>,
    pub user_claim: String,
    /// Folded to upper case.
    pub roles: Vec<String>,
    pub max_lifetime: Duration,
    /// The config text of the patterns, for the fingerprint.
    sources: (String, BTreeMap<String, String>),
}

/// Validated trust policies, in file order (the first matching policy of an issuer wins).
#[derive(Clone, Debug)]
pub struct TrustPolicies {
    policies: Vec<TrustPolicy>,
    fingerprint: [u8; 32],
}

/// Compiled-program size cap for one policy pattern (the `regex` crate's own limit is 10 MiB).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// `^(?:pattern)$`, compiled with a size cap.
fn anchored(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// Whether `url` may serve keys or name an issuer: https, or http to a loopback IP literal when
/// `allow_http_loopback`.
pub(crate) fn url_allowed(url: &str, allow_http_loopback: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = parsed.host_str().unwrap_or_default();
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let loopback = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                Err(format!("{url:?} is plain http; only https is accepted"))
            } else if !allow_http_loopback {
                Err(format!(
                    "{url:?} is plain http on loopback, accepted only with --danger-allow-http-jwks"
                ))
            } else {
                Ok(())
            }
        }
        other => Err(format!(
            "{url:?} has scheme {other:?}; only https is accepted"
        )),
    }
}

impl TrustPolicies {
    /// Validates `[exchange]` and every `[[exchange.policy]]`. Errors name the policy, the key and
    /// the fix: a bad regex, an unknown mode, a non-https URL, empty roles, an unparseable
    /// lifetime, a duplicate name, or policies of one issuer with different JWKS URLs.
    pub fn from_config(cfg: &ExchangeConfig, opts: &JwksOptions) -> Result<Self, PolicyError> {
        let top = |key: &str, message: String, fix: &str| PolicyError::Invalid {
            policy: None,
            key: key.into(),
            message,
            fix: fix.into(),
        };
        if !matches!(cfg.mode.as_str(), "as-user" | "delegated") {
            return Err(top(
                "mode",
                format!("unknown mode {:?}", cfg.mode),
                "set mode = \"as-user\" (External OAuth) or mode = \"delegated\"",
            ));
        }
        if crate::tenants::parse_duration(&cfg.reuse_while).is_none() {
            return Err(top(
                "reuse_while",
                format!("{:?} is not a duration", cfg.reuse_while),
                "write a number with a unit: 30m, 6h, 1d",
            ));
        }
        let mut policies: Vec<TrustPolicy> = Vec::with_capacity(cfg.policy.len());
        for p in &cfg.policy {
            let policy = Self::one(p, opts)?;
            if policies.iter().any(|q| q.name == policy.name) {
                return Err(PolicyError::Invalid {
                    policy: Some(p.name.clone()),
                    key: "name".into(),
                    message: "another policy has the same name".into(),
                    fix: "give each [[exchange.policy]] a distinct name".into(),
                });
            }
            if let Some(q) = policies
                .iter()
                .find(|q| q.issuer == policy.issuer && q.jwks_url != policy.jwks_url)
            {
                return Err(PolicyError::Invalid {
                    policy: Some(p.name.clone()),
                    key: "jwks_url".into(),
                    message: format!(
                        "policy {:?} has the same issuer with jwks_url {:?}",
                        q.name, q.jwks_url
                    ),
                    fix: "one issuer has one key set: use the same jwks_url in every policy of an issuer".into(),
                });
            }
            policies.push(policy);
        }
        let fingerprint = Self::digest(&policies);
        Ok(Self {
            policies,
            fingerprint,
        })
    }

    fn one(p: &ExchangePolicyConfig, opts: &JwksOptions) -> Result<TrustPolicy, PolicyError> {
        let err = |key: &str, message: String, fix: &str| PolicyError::Invalid {
            policy: Some(p.name.clone()),
            key: key.into(),
            message,
            fix: fix.into(),
        };
        if p.name.trim().is_empty() {
            return Err(err(
                "name",
                "the name is empty".into(),
                "name each policy (it appears in audit events)",
            ));
        }
        if p.issuer.is_empty() {
            return Err(err(
                "issuer",
                "the issuer is empty".into(),
                "set issuer to the IdP's exact `iss` value",
            ));
        }
        url_allowed(&p.issuer, opts.allow_http_loopback).map_err(|m| {
            err(
                "issuer",
                m,
                "use the IdP's https issuer (http only on loopback with --danger-allow-http-jwks)",
            )
        })?;
        url_allowed(&p.jwks_url, opts.allow_http_loopback).map_err(|m| {
            err(
                "jwks_url",
                m,
                "use the IdP's https JWKS URL (http only on loopback with --danger-allow-http-jwks)",
            )
        })?;
        if p.audience.is_empty() {
            return Err(err(
                "audience",
                "the audience is empty".into(),
                "set audience to the `aud` value the IdP puts in tokens for snowpat",
            ));
        }
        let subject = anchored(&p.subject).map_err(|m| {
            err(
                "subject",
                format!("not a valid regex: {m}"),
                "write a regex in the syntax of the Rust `regex` crate (it is anchored for you)",
            )
        })?;
        let mut claims = BTreeMap::new();
        for (name, pattern) in &p.claims {
            let re = anchored(pattern).map_err(|m| {
                err(
                    &format!("claims.{name}"),
                    format!("not a valid regex: {m}"),
                    "write a regex in the syntax of the Rust `regex` crate (it is anchored for you)",
                )
            })?;
            claims.insert(name.clone(), re);
        }
        if p.user_claim.is_empty() {
            return Err(err(
                "user_claim",
                "the user claim is empty".into(),
                "name the claim holding the Snowflake LOGIN_NAME, e.g. preferred_username",
            ));
        }
        if p.roles.is_empty() {
            return Err(err(
                "roles",
                "no roles".into(),
                "list the roles this policy may grant, e.g. roles = [\"ANALYST_ROLE\"]",
            ));
        }
        let mut roles = Vec::with_capacity(p.roles.len());
        for role in &p.roles {
            let folded = super::fold_role(role).ok_or_else(|| {
                err(
                    "roles",
                    format!("{role:?} is not an unquoted role name"),
                    "use letters, digits, _ and $ (starting with a letter or _)",
                )
            })?;
            if !roles.contains(&folded) {
                roles.push(folded);
            }
        }
        let max_lifetime = crate::tenants::parse_duration(&p.max_lifetime)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                err(
                    "max_lifetime",
                    format!("{:?} is not a positive duration", p.max_lifetime),
                    "write a number with a unit: 30m, 12h, 1d",
                )
            })?;
        Ok(TrustPolicy {
            name: p.name.clone(),
            issuer: p.issuer.clone(),
            jwks_url: p.jwks_url.clone(),
            audience: p.audience.clone(),
            subject,
            claims,
            user_claim: p.user_claim.clone(),
            roles,
            max_lifetime,
            sources: (p.subject.clone(), p.claims.clone()),
        })
    }

    /// Length-prefixed fields of every policy, in order.
    fn digest(policies: &[TrustPolicy]) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut field = |s: &str| {
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        };
        field("snowpat-trust-policies-v1");
        for p in policies {
            field(&p.name);
            field(&p.issuer);
            field(&p.jwks_url);
            field(&p.audience);
            field(&p.sources.0);
            field(&p.sources.1.len().to_string());
            for (k, v) in &p.sources.1 {
                field(k);
                field(v);
            }
            field(&p.user_claim);
            field(&p.roles.len().to_string());
            for r in &p.roles {
                field(r);
            }
            field(&p.max_lifetime.as_secs().to_string());
        }
        h.finalize().into()
    }

    /// SHA-256 over the canonical policy set: any policy change gives a new value (cache flush key).
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The policy names, in file order.
    pub fn names(&self) -> Vec<String> {
        self.policies.iter().map(|p| p.name.clone()).collect()
    }

    /// The policies, in file order.
    pub fn policies(&self) -> &[TrustPolicy] {
        &self.policies
    }

    /// One policy by name.
    pub fn get(&self, name: &str) -> Option<&TrustPolicy> {
        self.policies.iter().find(|p| p.name == name)
    }
}

/// Refuses (`PolicyError::Permissions`) a file not owned by the current (effective) uid, or
/// writable by its group or by others. Symlinks are followed: the target is what gets read.
pub fn check_config_file_permissions(path: &Path) -> Result<(), PolicyError> {
    use std::os::unix::fs::MetadataExt;
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| PolicyError::Permissions {
        path: shown.clone(),
        message: format!("cannot read its metadata: {e}"),
        fix: "pass an existing snowpat.toml with --config".into(),
    })?;
    let uid = rustix::process::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(PolicyError::Permissions {
            path: shown,
            message: format!(
                "owned by uid {}, but the service runs as uid {uid}",
                meta.uid()
            ),
            fix: format!("chown {uid} the file (it holds the trust policies)"),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(PolicyError::Permissions {
            path: shown,
            message: format!("mode {mode:04o} lets the group or others write the trust policies"),
            fix: "chmod go-w the file (e.g. chmod 600)".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ExchangePolicyConfig {
        ExchangePolicyConfig {
            name: "agents".into(),
            issuer: "https://idp.example.com".into(),
            jwks_url: "https://idp.example.com/jwks.json".into(),
            audience: "snowpat".into(),
            subject: "[a-z]+@example\\.com".into(),
            claims: [("groups".to_string(), "data-agents".to_string())].into(),
            user_claim: "preferred_username".into(),
            roles: vec!["analyst_role".into()],
            max_lifetime: "1d".into(),
        }
    }

    fn load(p: ExchangePolicyConfig) -> Result<TrustPolicies, PolicyError> {
        let cfg = ExchangeConfig {
            policy: vec![p],
            ..ExchangeConfig::default()
        };
        TrustPolicies::from_config(&cfg, &JwksOptions::default())
    }

    fn refused(p: ExchangePolicyConfig, key: &str) -> String {
        let e = load(p).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(&e, PolicyError::Invalid { key: k, policy: Some(n), .. } if k == key && n == "agents"),
            "{text}"
        );
        assert!(
            text.contains("agents") && text.contains(key) && text.contains("fix:"),
            "{text}"
        );
        text
    }

    #[test]
    fn valid_policy_is_anchored_and_folded() {
        let p = load(policy()).unwrap();
        let a = &p.policies()[0];
        assert_eq!(a.roles, ["ANALYST_ROLE"]);
        assert!(a.subject.is_match("bob@example.com"));
        assert!(!a.subject.is_match("xbob@example.com.evil"));
        assert!(!a.claims["groups"].is_match("data-agents-x"));
        assert_eq!(a.max_lifetime, Duration::from_secs(86_400));
        assert_eq!(p.names(), ["agents"]);
    }

    #[test]
    fn invalid_policies_name_policy_key_and_fix() {
        let mut p = policy();
        p.subject = "(".into();
        refused(p, "subject");
        let mut p = policy();
        p.claims.insert("groups".into(), "[".into());
        refused(p, "claims.groups");
        let mut p = policy();
        p.jwks_url = "http://idp.example.com/jwks".into();
        assert!(refused(p, "jwks_url").contains("only https"));
        let mut p = policy();
        p.jwks_url = "http://127.0.0.1:9/jwks".into();
        assert!(refused(p, "jwks_url").contains("--danger-allow-http-jwks"));
        let mut p = policy();
        p.roles.clear();
        refused(p, "roles");
        let mut p = policy();
        p.max_lifetime = "one day".into();
        refused(p, "max_lifetime");
        let mut p = policy();
        p.issuer = "ftp://idp".into();
        refused(p, "issuer");

        let cfg = ExchangeConfig {
            mode: "sideways".into(),
            ..ExchangeConfig::default()
        };
        let e = TrustPolicies::from_config(&cfg, &JwksOptions::default()).unwrap_err();
        assert!(e.to_string().contains("mode") && e.to_string().contains("fix:"));
    }

    #[test]
    fn http_loopback_only_when_allowed() {
        assert!(url_allowed("http://127.0.0.1:80/j", true).is_ok());
        assert!(url_allowed("http://[::1]:80/j", true).is_ok());
        assert!(url_allowed("http://localhost/j", true).is_err());
        assert!(url_allowed("http://10.0.0.1/j", true).is_err());
        assert!(url_allowed("http://127.0.0.1/j", false).is_err());
        assert!(url_allowed("https://idp.example.com/j", false).is_ok());
    }

    #[test]
    fn fingerprint_changes_with_any_field() {
        let base = load(policy()).unwrap().fingerprint();
        assert_eq!(base, load(policy()).unwrap().fingerprint());
        let mut p = policy();
        p.roles.push("OTHER".into());
        assert_ne!(base, load(p).unwrap().fingerprint());
        let mut p = policy();
        p.claims.insert("team".into(), "x".into());
        assert_ne!(base, load(p).unwrap().fingerprint());
        let mut p = policy();
        p.max_lifetime = "12h".into();
        assert_ne!(base, load(p).unwrap().fingerprint());
    }

    #[test]
    fn config_file_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snowpat.toml");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_config_file_permissions(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert!(matches!(
            check_config_file_permissions(&path),
            Err(PolicyError::Permissions { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o646)).unwrap();
        assert!(check_config_file_permissions(&path)
            .unwrap_err()
            .to_string()
            .contains("chmod"));
        assert!(check_config_file_permissions(&dir.path().join("missing")).is_err());
    }
}
