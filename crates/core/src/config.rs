//! `snowpat.toml` (`shared/spec/interfaces.md`): the wire structs, with unknown keys refused.
//!
//! The loader (file, line and key named in errors) and validated types belong to this module;
//! sections owned by other modules (`[tenants]`) are declared here so the file has one schema.

use serde::Deserialize;

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub connection: Option<ConnectionConfig>,
    #[serde(default)]
    pub blueprint: Option<BlueprintsConfig>,
    #[serde(default)]
    pub tenants: Option<TenantsConfig>,
    /// `[exchange]` with its `[[exchange.policy]]` tables (`serve`, `exchange`).
    #[serde(default)]
    pub exchange: Option<ExchangeConfig>,
    /// `[scheduler]`: the rotation scheduler inside `serve`.
    #[serde(default)]
    pub scheduler: Option<SchedulerConfig>,
}

/// `[connection]`: url/account, user, role, token_file | private_key_file, or profile = "NAME".
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    pub url: Option<String>,
    pub account: Option<String>,
    pub user: Option<String>,
    pub role: Option<String>,
    pub token_file: Option<String>,
    pub private_key_file: Option<String>,
    pub profile: Option<String>,
}

/// `[blueprint.*]` tables.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueprintsConfig {
    #[serde(rename = "multi-tenant", default)]
    pub multi_tenant: Option<MultiTenantConfig>,
    #[serde(rename = "cli-single-role", default)]
    pub cli_single_role: Option<CliSingleRoleConfig>,
    #[serde(rename = "admin-runtime", default)]
    pub admin_runtime: Option<AdminRuntimeConfig>,
    #[serde(rename = "token-exchange", default)]
    pub token_exchange: Option<TokenExchangeConfig>,
}

/// `[blueprint.cli-single-role]` (seed 001): person users barred from PATs, service users
/// allowed, and the `<PERSON>_CLI` pairing of `snowpat cli-user`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CliSingleRoleConfig {
    /// Where the two policies live.
    pub database: String,
    pub schema: String,
    /// Set `FOR ALL PERSON USERS`: no PROGRAMMATIC_ACCESS_TOKEN.
    pub person_policy: String,
    pub person_methods: Vec<String>,
    /// Set `FOR ALL SERVICE USERS`: PATs allowed.
    pub service_policy: String,
    pub service_methods: Vec<String>,
    /// PAT_POLICY NETWORK_POLICY_EVALUATION of the service policy.
    pub network_policy_evaluation: String,
    /// A user-level policy given to the applying identity first when the account-level change
    /// would bar its own authentication method (none: such an apply is refused).
    pub keep_access_policy: Option<String>,
    /// `cli-user`: the paired service user and role (`{person}` = the folded person name).
    pub cli_user: String,
    pub cli_role: String,
    /// `cli-user`: the PAT's name, lifetime and rotation grace.
    pub token: String,
    pub days: u32,
    pub grace_hours: u32,
    /// `cli-user`: default sink (`file:~/.snowflake/{person}_cli.token` style; `{id}` = person).
    pub sink: Option<String>,
}

impl Default for CliSingleRoleConfig {
    fn default() -> Self {
        Self {
            database: "SNOWPAT".into(),
            schema: "POLICIES".into(),
            person_policy: "PERSON_USERS_NO_PAT".into(),
            person_methods: ["SAML", "OAUTH", "KEYPAIR", "WORKLOAD_IDENTITY", "PASSWORD"]
                .map(String::from)
                .to_vec(),
            service_policy: "SERVICE_USERS_PAT_ALLOWED".into(),
            service_methods: [
                "PROGRAMMATIC_ACCESS_TOKEN",
                "KEYPAIR",
                "OAUTH",
                "WORKLOAD_IDENTITY",
            ]
            .map(String::from)
            .to_vec(),
            network_policy_evaluation: "ENFORCED_REQUIRED".into(),
            keep_access_policy: None,
            cli_user: "{person}_CLI".into(),
            cli_role: "{person}_CLI_ROLE".into(),
            token: "CORTEX_CLI_TOKEN".into(),
            days: 30,
            grace_hours: 24,
            sink: None,
        }
    }
}

/// `[blueprint.admin-runtime]` (seed 002, SnowClaw): admin and runtime roles, the runtime role's
/// exact grants, a runtime service user and its PAT stored as a Snowflake SECRET.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminRuntimeConfig {
    /// Object name prefix (`{prefix}_db`, `{prefix}_pool`, ...).
    pub prefix: String,
    pub admin_role: String,
    pub runtime_role: String,
    /// true: both roles were created by an administrator beforehand (the seed's step 1–2).
    pub existing_roles: bool,
    /// The user that receives the admin role (seed: `<your_user>`); none: no grant.
    pub admin_user: Option<String>,
    pub runtime_user: String,
    pub runtime_token: String,
    pub days: u32,
    /// Egress hosts of the network rule wrapped by the external access integration.
    pub egress_hosts: Vec<String>,
    /// The service specification (`FROM SPECIFICATION $$...$$`); `{db}`, `{schema}`, `{repo}`
    /// and `{secret}` are filled in.
    pub service_spec: String,
}

impl Default for AdminRuntimeConfig {
    fn default() -> Self {
        Self {
            prefix: "SNOWCLAW".into(),
            admin_role: "SNOWCLAW_ADMIN_ROLE".into(),
            runtime_role: "SNOWCLAW_RUNTIME_ROLE".into(),
            existing_roles: false,
            admin_user: None,
            runtime_user: "SNOWCLAW_RUNTIME_USER".into(),
            runtime_token: "SNOWCLAW_RUNTIME_PAT".into(),
            days: 90,
            egress_hosts: vec!["api.github.com:443".into()],
            service_spec: "spec:\n  containers:\n  - name: openclaw\n    image: /{db}/{schema}/{repo}/openclaw:latest\n    secrets:\n    - snowflakeSecret: {secret}\n      secretKeyRef: secret_string\n      envVarName: SNOWFLAKE_TOKEN\n  endpoints:\n  - name: gateway\n    port: 18789\n    public: true\n".into(),
        }
    }
}

/// `[blueprint.token-exchange]` (seed 003): the External OAuth security integration that lets
/// IdP-issued JWTs open Snowflake sessions, and the roles it may grant.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenExchangeConfig {
    pub integration: String,
    /// `OKTA`, `AZURE`, `PING_FEDERATE` or `CUSTOM`.
    pub oauth_type: String,
    pub issuer: String,
    /// Exactly one of `jwks_url` and `rsa_public_key` (base64 DER, or a PEM file path with
    /// `rsa_public_key_file`).
    pub jwks_url: Option<String>,
    pub rsa_public_key: Option<String>,
    pub rsa_public_key_file: Option<String>,
    /// `EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM`.
    pub user_claim: String,
    /// `LOGIN_NAME` or `EMAIL_ADDRESS`.
    pub user_attribute: String,
    pub audience: Vec<String>,
    /// Roles created (unless `existing_roles`) and put in EXTERNAL_OAUTH_ALLOWED_ROLES_LIST.
    pub roles: Vec<String>,
    pub existing_roles: bool,
    /// `DISABLE`, `ENABLE` or `ENABLE_FOR_PRIVILEGE` (the seed's toolkit uses `ENABLE`).
    pub any_role_mode: String,
    /// User names (not login names) granted the roles; none: grants are made elsewhere.
    pub grant_to_users: Vec<String>,
}

impl Default for TokenExchangeConfig {
    fn default() -> Self {
        Self {
            integration: "SNOWPAT_EXTERNAL_OAUTH".into(),
            oauth_type: "CUSTOM".into(),
            issuer: String::new(),
            jwks_url: None,
            rsa_public_key: None,
            rsa_public_key_file: None,
            user_claim: "name".into(),
            user_attribute: "LOGIN_NAME".into(),
            audience: Vec::new(),
            roles: vec!["ANALYST_ROLE".into()],
            existing_roles: false,
            any_role_mode: "DISABLE".into(),
            grant_to_users: Vec::new(),
        }
    }
}

/// `[blueprint.multi-tenant]` (seed 000). Defaults as `interfaces.md` lists them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiTenantConfig {
    pub database: String,
    pub schema: String,
    pub runtime_role: String,
    pub automation_role: String,
    pub automation_user: String,
    pub deployment_policy: String,
    pub automation_policy: String,
    /// `"keypair"` (default) or `"pat"`.
    pub automation_auth: String,
    /// CIDRs for the network rule and policy, or `["none"]` to reproduce the seed exactly.
    pub allowed_cidrs: Vec<String>,
    pub existing_roles: bool,
}

impl Default for MultiTenantConfig {
    fn default() -> Self {
        Self {
            database: "SNOWPAT".into(),
            schema: "POLICIES".into(),
            runtime_role: "CORTEX_REST_API_ROLE".into(),
            automation_role: "AUTOMATION_ROLE".into(),
            automation_user: "AUTOMATION_USER".into(),
            deployment_policy: "DEPLOYMENT_AUTH_POLICY".into(),
            automation_policy: "AUTOMATION_AUTH_POLICY".into(),
            automation_auth: "keypair".into(),
            allowed_cidrs: vec!["10.0.0.0/8".into()],
            existing_roles: false,
        }
    }
}

/// `[tenants]`: naming templates, token lifetime, rotation grace and the default sink.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantsConfig {
    /// User name template, `{id}` = the folded tenant id.
    pub user: String,
    /// Token name template.
    pub token: String,
    pub days: u32,
    pub grace_hours: u32,
    /// Default sink (`file:secrets/{id}.token`); none means `--sink` is required.
    pub sink: Option<String>,
}

impl Default for TenantsConfig {
    fn default() -> Self {
        Self {
            user: "DEPLOYMENT_{id}".into(),
            token: "DEPLOYMENT_{id}_PAT".into(),
            days: 90,
            grace_hours: 24,
            sink: None,
        }
    }
}

/// `[exchange]`: the token exchange (`serve`, `exchange`). Defaults as `interfaces.md` lists them.
///
/// The trust policies are validated (regexes compiled, URLs checked) by
/// [`crate::exchange::TrustPolicies::from_config`], which names the policy, the key and the fix.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExchangeConfig {
    /// Bind address of `serve` (127.0.0.1 by default).
    pub listen: String,
    /// `"as-user"` (External OAuth, seed 003) or `"delegated"`.
    pub mode: String,
    /// PAT name template, `{role}` = the granted role: one token per user and role.
    pub token_name: String,
    pub days: u32,
    pub grace_hours: u32,
    /// Hand the same token out again while it has this much life left (`6h`).
    pub reuse_while: String,
    /// `[[exchange.policy]]`, in file order (the first matching policy of an issuer wins).
    #[serde(default)]
    pub policy: Vec<ExchangePolicyConfig>,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8650".into(),
            mode: "as-user".into(),
            token_name: "SNOWPAT_{role}".into(),
            days: 1,
            grace_hours: 1,
            reuse_while: "6h".into(),
            policy: Vec::new(),
        }
    }
}

/// `[[exchange.policy]]`: one trust policy. Every key is required except `claims`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangePolicyConfig {
    pub name: String,
    /// Exact match against `iss`: the allowlist.
    pub issuer: String,
    /// The only place keys come from (https; loopback http only with `--danger-allow-http-jwks`).
    pub jwks_url: String,
    /// Must appear in `aud` (a string or an array).
    pub audience: String,
    /// Regex on `sub`, anchored by the loader.
    pub subject: String,
    /// Claim name → regex, anchored by the loader; an array claim matches if any element does.
    #[serde(default)]
    pub claims: std::collections::BTreeMap<String, String>,
    /// The claim whose (string) value is the Snowflake LOGIN_NAME.
    pub user_claim: String,
    /// Roles this policy may grant (folded to upper case by the loader).
    pub roles: Vec<String>,
    /// Longest lifetime of a token handed out under this policy (`1d`, `12h`, `30m`).
    pub max_lifetime: String,
}

/// `[scheduler]`: rotate managed PATs `margin` before expiry, checking every `interval`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    pub margin: String,
    pub interval: String,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            margin: "7d".into(),
            interval: "5m".into(),
        }
    }
}

/// Why `snowpat.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Syntax error or unknown key; `line` is 1-based when the parser gave a span.
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        path: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: String,
        key: String,
        message: String,
    },
}

impl Config {
    /// Loads `path`; unknown keys and bad values are refused with the file, line and key named.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// `--config PATH` if given, else `./snowpat.toml` if present, else the defaults.
    pub fn discover(explicit: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        match explicit {
            Some(path) => Self::load(path),
            None => {
                let default = std::path::Path::new("snowpat.toml");
                if default.is_file() {
                    Self::load(default)
                } else {
                    Ok(Self::default())
                }
            }
        }
    }

    /// Parses the text of a `snowpat.toml` named `path` in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            line: e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().trim().to_string(),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_string(),
            key: key.to_string(),
            message,
        };
        if let Some(mt) = self
            .blueprint
            .as_ref()
            .and_then(|b| b.multi_tenant.as_ref())
        {
            mt.auth()
                .map_err(|m| invalid("blueprint.multi-tenant.automation_auth", m))?;
            mt.cidrs()
                .map_err(|m| invalid("blueprint.multi-tenant.allowed_cidrs", m))?;
        }
        if let Some(c) = &self.connection {
            if c.token_file.is_some() && c.private_key_file.is_some() {
                return Err(invalid(
                    "connection",
                    "token_file and private_key_file are exclusive".into(),
                ));
            }
        }
        Ok(())
    }

    /// `[blueprint.multi-tenant]`, defaults when absent.
    pub fn multi_tenant(&self) -> MultiTenantConfig {
        self.blueprint
            .as_ref()
            .and_then(|b| b.multi_tenant.clone())
            .unwrap_or_default()
    }

    /// `[blueprint.cli-single-role]`, defaults when absent.
    pub fn cli_single_role(&self) -> CliSingleRoleConfig {
        self.blueprint
            .as_ref()
            .and_then(|b| b.cli_single_role.clone())
            .unwrap_or_default()
    }

    /// `[blueprint.admin-runtime]`, defaults when absent.
    pub fn admin_runtime(&self) -> AdminRuntimeConfig {
        self.blueprint
            .as_ref()
            .and_then(|b| b.admin_runtime.clone())
            .unwrap_or_default()
    }

    /// `[blueprint.token-exchange]`, defaults when absent.
    pub fn token_exchange(&self) -> TokenExchangeConfig {
        self.blueprint
            .as_ref()
            .and_then(|b| b.token_exchange.clone())
            .unwrap_or_default()
    }
}

/// How the automation identity authenticates.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum AutomationAuth {
    /// An RSA key pair generated by snowpat (default).
    KeyPair,
    /// Seed 000's unrestricted PAT (opt-in).
    Pat,
}

impl MultiTenantConfig {
    /// The validated `automation_auth`.
    pub fn auth(&self) -> Result<AutomationAuth, String> {
        match self.automation_auth.as_str() {
            "keypair" => Ok(AutomationAuth::KeyPair),
            "pat" => Ok(AutomationAuth::Pat),
            other => Err(format!("expected \"keypair\" or \"pat\", got {other:?}")),
        }
    }

    /// The validated CIDRs; `None` for `["none"]` (the seed's ENFORCED_NOT_REQUIRED, no rule).
    pub fn cidrs(&self) -> Result<Option<Vec<String>>, String> {
        if self.allowed_cidrs.len() == 1 && self.allowed_cidrs[0].eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        if self.allowed_cidrs.is_empty() {
            return Err("at least one CIDR, or [\"none\"]".into());
        }
        for cidr in &self.allowed_cidrs {
            let (ip, bits) = cidr
                .split_once('/')
                .ok_or_else(|| format!("{cidr:?} is not an IPv4 CIDR (a.b.c.d/n)"))?;
            let ok = ip.parse::<std::net::Ipv4Addr>().is_ok()
                && bits.parse::<u8>().map(|b| b <= 32).unwrap_or(false);
            if !ok {
                return Err(format!("{cidr:?} is not an IPv4 CIDR (a.b.c.d/n)"));
            }
        }
        Ok(Some(self.allowed_cidrs.clone()))
    }
}
