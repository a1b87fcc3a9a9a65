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
