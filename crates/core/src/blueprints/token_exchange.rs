//! The token-exchange blueprint (seed 003, `[blueprint.token-exchange]`): the External OAuth
//! security integration through which an IdP-issued JWT opens a Snowflake session as the user it
//! names (`protocols.md` §5), and the roles such sessions may use — the account side of seed
//! 003's "JWT → Snowflake session → role-restricted PAT" exchange.
//!
//! * The integration (`snowflake-behaviour.md` §5.14): issuer, either a JWKS URL or an RSA public
//!   key (base64 DER, PEM armour stripped), the user mapping claim and attribute, the audience
//!   list, `EXTERNAL_OAUTH_ALLOWED_ROLES_LIST` = the blueprint's roles (so a token cannot open a
//!   session under any other role; Snowflake's privileged roles stay blocked by default,
//!   `protocols.md` §5.2), and `EXTERNAL_OAUTH_ANY_ROLE_MODE` (`DISABLE` by default; the seed's
//!   toolkit integration used `ENABLE`, which lets a session `USE ROLE` beyond the token's scope,
//!   so it is opt-in). CREATE INTEGRATION is ACCOUNTADMIN's by default (§4.3).
//! * The roles (USERADMIN, or `existing_roles = true`), and optionally their grants to the users
//!   the tokens map to (`grant_to_users`, SECURITYADMIN).
//! * Drift: the spec offers no DESCRIBE for integrations, so the integration's COMMENT carries a
//!   SHA-256 fingerprint of the properties snowpat set. A changed configuration (or a comment
//!   changed by hand) makes the plan `ALTER INTEGRATION ... SET` every property again; a disabled
//!   integration is enabled again (SHOW INTEGRATIONS shows `enabled`); missing roles and role
//!   grants are created again. A property altered by hand *without* touching the comment is not
//!   visible through SHOW and is not detected.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use snowpat_client::Client;
use snowpat_sql::ast::{Grantee, Property, ShowGrantsTarget, ShowKind, Statement, Value};

use super::common::{available_roles, col, ident, like, name_value, names, read, require_roles};
use super::{BlueprintError, Outcome};
use crate::config::TokenExchangeConfig;
use crate::plan::{Plan, Step};

const ACCOUNTADMIN: &str = "ACCOUNTADMIN";
const USERADMIN: &str = "USERADMIN";
const SECURITYADMIN: &str = "SECURITYADMIN";
const FINGERPRINT: &str = "snowpat token-exchange sha256:";
const OAUTH_TYPES: [&str; 4] = ["OKTA", "AZURE", "PING_FEDERATE", "CUSTOM"];
const ANY_ROLE_MODES: [&str; 3] = ["DISABLE", "ENABLE", "ENABLE_FOR_PRIVILEGE"];
const PRIVILEGED: [&str; 4] = [
    "ACCOUNTADMIN",
    "ORGADMIN",
    "GLOBALORGADMIN",
    "SECURITYADMIN",
];

/// The blueprint with validated settings.
#[derive(Clone, Debug)]
pub struct TokenExchange {
    pub config: TokenExchangeConfig,
    pub integration: String,
    pub roles: Vec<String>,
    pub users: Vec<String>,
    /// The integration's properties except ENABLED and COMMENT, in order.
    pub properties: Vec<Property>,
}

/// What the reads found.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub roles: BTreeSet<String>,
    /// (role, user) grants found.
    pub grants: BTreeSet<(String, String)>,
    /// (type, enabled, comment) of the integration.
    pub integration: Option<(String, bool, String)>,
}

fn strip_pem(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect()
}

impl TokenExchange {
    /// Validates the settings; `rsa_public_key_file` is read here.
    pub fn new(config: TokenExchangeConfig) -> Result<Self, BlueprintError> {
        let bad = |m: String| BlueprintError::Config(format!("[blueprint.token-exchange] {m}"));
        let integration = super::common::fold_name(&config.integration, "integration")?;
        let oauth_type = config.oauth_type.to_ascii_uppercase();
        if !OAUTH_TYPES.contains(&oauth_type.as_str()) {
            return Err(bad(format!(
                "oauth_type: one of {}",
                OAUTH_TYPES.join(", ")
            )));
        }
        let any = config.any_role_mode.to_ascii_uppercase();
        if !ANY_ROLE_MODES.contains(&any.as_str()) {
            return Err(bad(format!(
                "any_role_mode: one of {}",
                ANY_ROLE_MODES.join(", ")
            )));
        }
        if !(config.issuer.starts_with("https://") || config.issuer.starts_with("http://")) {
            return Err(bad("issuer: the IdP's issuer URL (exact `iss`)".into()));
        }
        let attribute = config.user_attribute.to_ascii_uppercase();
        if !["LOGIN_NAME", "EMAIL_ADDRESS"].contains(&attribute.as_str()) {
            return Err(bad("user_attribute: LOGIN_NAME or EMAIL_ADDRESS".into()));
        }
        if config.user_claim.is_empty() {
            return Err(bad("user_claim: the JWT claim naming the user".into()));
        }
        let key = match (&config.rsa_public_key, &config.rsa_public_key_file) {
            (Some(k), None) => Some(strip_pem(k)),
            (None, Some(path)) => {
                Some(strip_pem(&std::fs::read_to_string(path).map_err(|e| {
                    bad(format!("rsa_public_key_file {path}: {e}"))
                })?))
            }
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(bad(
                    "rsa_public_key and rsa_public_key_file are exclusive".into()
                ))
            }
        };
        let key_source = match (&config.jwks_url, key) {
            (Some(url), None) => {
                if !url.starts_with("https://") && !url.starts_with("http://") {
                    return Err(bad("jwks_url: an http(s) URL".into()));
                }
                Property::new("EXTERNAL_OAUTH_JWS_KEYS_URL", Value::String(url.clone()))
            }
            (None, Some(k)) => {
                use base64::Engine as _;
                let der = base64::engine::general_purpose::STANDARD
                    .decode(&k)
                    .map_err(|_| {
                        bad("rsa_public_key: base64 DER (or PEM) of an RSA public key".into())
                    })?;
                use rsa::pkcs8::DecodePublicKey as _;
                rsa::RsaPublicKey::from_public_key_der(&der)
                    .map_err(|_| bad("rsa_public_key: not an RSA public key".into()))?;
                Property::new("EXTERNAL_OAUTH_RSA_PUBLIC_KEY", Value::String(k))
            }
            _ => {
                return Err(bad(
                    "exactly one of jwks_url and rsa_public_key (or rsa_public_key_file)".into(),
                ))
            }
        };
        if config.roles.is_empty() {
            return Err(bad("roles: at least one role sessions may use".into()));
        }
        let mut roles = Vec::new();
        for r in &config.roles {
            let r = super::common::fold_name(r, "role")?;
            if PRIVILEGED.contains(&r.as_str()) {
                return Err(bad(format!(
                    "roles: {r} is blocked for External OAuth sessions (protocols §5.2)"
                )));
            }
            roles.push(r);
        }
        let users = config
            .grant_to_users
            .iter()
            .map(|u| super::common::fold_name(u, "grant_to_users"))
            .collect::<Result<Vec<_>, _>>()?;
        let strings =
            |v: &[String]| Value::List(v.iter().map(|s| Value::String(s.clone())).collect());
        let mut properties = vec![
            Property::new("EXTERNAL_OAUTH_TYPE", name_value(&oauth_type)),
            Property::new(
                "EXTERNAL_OAUTH_ISSUER",
                Value::String(config.issuer.clone()),
            ),
            key_source,
            Property::new(
                "EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM",
                Value::String(config.user_claim.clone()),
            ),
            Property::new(
                "EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE",
                Value::String(attribute),
            ),
            Property::new("EXTERNAL_OAUTH_ALLOWED_ROLES_LIST", strings(&roles)),
            Property::new("EXTERNAL_OAUTH_ANY_ROLE_MODE", name_value(&any)),
        ];
        if !config.audience.is_empty() {
            properties.push(Property::new(
                "EXTERNAL_OAUTH_AUDIENCE_LIST",
                strings(&config.audience),
            ));
        }
        Ok(Self {
            integration,
            roles,
            users,
            properties,
            config,
        })
    }

    /// The COMMENT that fingerprints [`Self::properties`].
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for p in &self.properties {
            h.update(p.name.as_str().as_bytes());
            h.update(b"=");
            h.update(p.value.to_string().as_bytes());
            h.update(b"\n");
        }
        format!("{FINGERPRINT}{}", hex::encode(h.finalize()))
    }

    /// Preflight: the roles the plan runs as; with `existing_roles`, the roles must exist.
    pub fn preflight(&self, available: &[String], o: &Observed) -> Result<(), BlueprintError> {
        require_roles(
            available,
            &[
                (ACCOUNTADMIN, "CREATE SECURITY INTEGRATION"),
                (USERADMIN, "CREATE ROLE"),
                (SECURITYADMIN, "GRANT ROLE"),
            ],
        )?;
        if self.config.existing_roles {
            let missing: Vec<&str> = self
                .roles
                .iter()
                .filter(|r| !o.roles.contains(*r))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(BlueprintError::Preflight(format!(
                    "existing_roles = true but role(s) {} do not exist",
                    missing.join(", ")
                )));
            }
        }
        if let Some((kind, _, _)) = &o.integration {
            if !kind.eq_ignore_ascii_case("EXTERNAL_OAUTH") {
                return Err(BlueprintError::Preflight(format!(
                    "integration {} exists with TYPE {kind}; choose another name",
                    self.integration
                )));
            }
        }
        Ok(())
    }

    /// Reads the account (SHOW only), as ACCOUNTADMIN.
    pub async fn observe(
        &self,
        client: &Client,
        available: &[String],
    ) -> Result<Observed, BlueprintError> {
        let mut o = Observed::default();
        if !available.iter().any(|a| a == ACCOUNTADMIN) {
            return Ok(o);
        }
        let r = Some(ACCOUNTADMIN);
        for role in &self.roles {
            let rs = read(
                client,
                r,
                Statement::ShowRoles {
                    terse: false,
                    filter: like(role),
                },
            )
            .await?;
            if !names(&rs).contains(role) {
                continue;
            }
            o.roles.insert(role.clone());
            let rs = read(
                client,
                r,
                Statement::ShowGrants(ShowGrantsTarget::OfRole(ident(role))),
            )
            .await?;
            for i in 0..rs.len() {
                if col(&rs, i, "granted_to") == "USER" {
                    o.grants.insert((role.clone(), col(&rs, i, "grantee_name")));
                }
            }
        }
        let rs = read(
            client,
            r,
            Statement::ShowObjects {
                kind: ShowKind::SecurityIntegrations,
                filter: like(&self.integration),
                scope: None,
            },
        )
        .await?;
        if let Some(i) = names(&rs).iter().position(|n| *n == self.integration) {
            o.integration = Some((
                col(&rs, i, "type"),
                col(&rs, i, "enabled").eq_ignore_ascii_case("true"),
                col(&rs, i, "comment"),
            ));
        }
        Ok(o)
    }

    /// The changes.
    pub fn plan(&self, o: &Observed) -> Plan {
        let mut steps = Vec::new();
        if !self.config.existing_roles {
            for role in &self.roles {
                if !o.roles.contains(role) {
                    steps.push(Step::change(
                        USERADMIN,
                        "a role External OAuth sessions may use (seed 003)",
                        Statement::CreateRole {
                            or_replace: false,
                            if_not_exists: true,
                            name: ident(role),
                            comment: Some("snowpat token-exchange".into()),
                        },
                    ));
                }
            }
        }
        for role in &self.roles {
            for user in &self.users {
                if !o.grants.contains(&(role.clone(), user.clone())) {
                    steps.push(Step::change(
                        SECURITYADMIN,
                        "the role for a user the IdP's tokens map to",
                        Statement::GrantRole {
                            role: ident(role),
                            to: Grantee::User(ident(user)),
                            with_grant_option: false,
                        },
                    ));
                }
            }
        }
        let comment = Property::new("COMMENT", Value::String(self.fingerprint()));
        match &o.integration {
            None => {
                let mut properties = vec![
                    Property::new("TYPE", name_value("EXTERNAL_OAUTH")),
                    Property::new("ENABLED", Value::Bool(true)),
                ];
                properties.extend(self.properties.iter().cloned());
                properties.push(comment);
                steps.push(Step::change(
                    ACCOUNTADMIN,
                    "External OAuth: IdP JWTs open sessions as the user they name (seed 003)",
                    Statement::CreateSecurityIntegration {
                        or_replace: false,
                        if_not_exists: true,
                        name: ident(&self.integration),
                        properties,
                    },
                ));
            }
            Some((_, enabled, current)) => {
                let mut drift = Vec::new();
                if !enabled {
                    drift.push(Property::new("ENABLED", Value::Bool(true)));
                }
                if *current != self.fingerprint() {
                    drift.extend(self.properties.iter().cloned());
                    drift.push(comment);
                }
                if !drift.is_empty() {
                    steps.push(Step::change(
                        ACCOUNTADMIN,
                        "drift: the integration differs from [blueprint.token-exchange]",
                        Statement::AlterIntegration {
                            if_exists: false,
                            name: ident(&self.integration),
                            properties: drift,
                        },
                    ));
                }
            }
        }
        Plan { steps }
    }
}

/// `bootstrap token-exchange`: read, preflight, plan; with `apply` send.
pub async fn bootstrap_token_exchange(
    client: &Client,
    blueprint: &TokenExchange,
    apply: bool,
) -> Result<Outcome, BlueprintError> {
    let available = available_roles(client).await?;
    let observed = blueprint.observe(client, &available).await?;
    blueprint.preflight(&available, &observed)?;
    let plan = blueprint.plan(&observed);
    if apply {
        plan.apply(client).await?;
    }
    Ok(Outcome {
        plan,
        applied: apply,
        delivered: None,
        warnings: Vec::new(),
    })
}
