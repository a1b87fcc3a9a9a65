//! A fresh default `bootstrap multi-tenant` account, audited: exactly the findings the
//! blueprint is expected to leave (`interfaces.md` audit; issue 7 "Must show").
//!
//! The account is the emulator's with ADMIN authenticating by key pair (`--admin-key-file`), so
//! ADMIN holds no PAT and every finding is the blueprint's. The only non-default setting is
//! `allowed_cidrs = ["127.0.0.1/32"]`: the blueprint's network policy must admit the address the
//! automation identity connects from, as in `quickstart`.
//!
//! When the blueprint changes, update [`AFTER_BOOTSTRAP`] and [`AFTER_TENANTS`]: they are the
//! whole expected lists.

use std::sync::Arc;

use snowpat_client::{BaseUrl, Client, Credential, KeyPair};
use snowpat_core::audit::{self, Automation, Options, Rule, Severity};
use snowpat_core::blueprints::multi_tenant::{MultiTenant, Options as BlueprintOptions};
use snowpat_core::blueprints::{bootstrap_multi_tenant, FileSink};
use snowpat_core::config::{MultiTenantConfig, TenantsConfig};
use snowpat_core::sinks::SinkSpec;
use snowpat_core::store::{SqliteStore, Store};
use snowpat_core::tenants::{Settings, TenantId, Tenants};
use snowpat_emulator::server::{self, Config};

/// Right after `bootstrap multi-tenant --apply`: nothing. The automation user authenticates by
/// key pair (no PAT), its network policy is attached by ACCOUNTADMIN, the deployment policy is
/// owned by ACCOUNTADMIN (the automation role holds APPLY on it only).
const AFTER_BOOTSTRAP: &[(Rule, Severity, &str)] = &[];

/// After two tenants: the automation role owns the network policy and attaches it to the
/// deployment users it creates and owns, the blueprint's documented trade-off (no narrower
/// privilege can attach a user-level network policy, `snowflake-behaviour.md` §4.3): low.
const AFTER_TENANTS: &[(Rule, Severity, &str)] = &[(
    Rule::PolicyOwnedByApplyingRole,
    Severity::Low,
    "NETWORK POLICY SNOWPAT_DEPLOYMENT_NETWORK_POLICY",
)];

fn expected(list: &[(Rule, Severity, &str)]) -> Vec<(Rule, Severity, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(r, s, o)| (*r, *s, (*o).to_owned()))
        .collect();
    v.sort();
    v
}

fn observed(report: &audit::Report) -> Vec<(Rule, Severity, String)> {
    let mut v: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.rule, f.severity, f.object.clone()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_fresh_default_bootstrap_leaves_exactly_the_expected_findings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let admin_key = dir.path().join("admin.p8");
    let config = Config {
        admin_key_file: Some(admin_key.clone()),
        ..Config::default()
    };
    let account = config.account.clone();
    let running = server::spawn(config).await.expect("emulator starts");
    let url = running.url();
    let admin = Client::builder(
        BaseUrl::parse(&url).expect("url"),
        Credential::KeyPair(KeyPair::from_file(&account, "ADMIN", &admin_key).expect("key")),
    )
    .build()
    .expect("client");

    let blueprint = MultiTenant::new(
        MultiTenantConfig {
            allowed_cidrs: vec!["127.0.0.1/32".into()],
            ..MultiTenantConfig::default()
        },
        BlueprintOptions::default(),
    )
    .expect("blueprint");
    let key_file = dir.path().join("automation.p8");
    bootstrap_multi_tenant(&admin, &blueprint, true, Some(&FileSink(key_file.clone())))
        .await
        .expect("bootstrap applies");

    let store = Arc::new(
        SqliteStore::open_path(&dir.path().join("state.db"))
            .await
            .expect("store"),
    );
    let options = |tenant_users: Vec<String>| Options {
        automation: Some(Automation {
            roles: vec![blueprint.config.automation_role.clone()],
            tenant_users: tenant_users.into_iter().collect(),
            also_allowed: [blueprint.config.automation_user.clone()].into(),
        }),
        ..Options::default()
    };

    let report = audit::run(&admin, &options(vec![])).await.expect("audit");
    assert_eq!(observed(&report), expected(AFTER_BOOTSTRAP), "{report:#?}");
    assert!(
        report.coverage.unreadable.is_empty(),
        "{:?}",
        report.coverage
    );
    assert_eq!(report.coverage.tokens_read, 0);

    // Two tenants, provisioned by the automation identity the blueprint created.
    let automation = Client::builder(
        BaseUrl::parse(&url).expect("url"),
        Credential::KeyPair(
            KeyPair::from_file(&account, &blueprint.config.automation_user, &key_file)
                .expect("automation key"),
        ),
    )
    .role(blueprint.config.automation_role.clone())
    .build()
    .expect("client");
    let tenants = Tenants::new(
        automation,
        store.clone(),
        Settings {
            tenants: TenantsConfig::default(),
            blueprint: blueprint.config.clone(),
        },
    );
    let sink =
        SinkSpec::parse(&format!("file:{}/{{id}}.token", dir.path().display())).expect("sink");
    for id in TenantId::parse_all(&["ACME", "GLOBEX"]).expect("ids") {
        tenants.provision(&id, &sink, 90).await.expect("provision");
    }
    let tenant_users: Vec<String> = store
        .tenants()
        .await
        .expect("tenants")
        .into_iter()
        .map(|t| t.user)
        .collect();
    assert_eq!(tenant_users.len(), 2);

    let report = audit::run(&admin, &options(tenant_users.clone()))
        .await
        .expect("audit");
    assert_eq!(observed(&report), expected(AFTER_TENANTS), "{report:#?}");
    assert!(report.worst() <= Some(Severity::Low));
    assert!(
        report.coverage.unreadable.is_empty(),
        "{:?}",
        report.coverage
    );
    assert_eq!(report.coverage.tokens_read, 2);

    // The same account with a store that does not know the tenants: the automation role's
    // ownership and MPAM on both deployment users are reach outside the store's tenants.
    let strangers = audit::run(&admin, &options(vec![])).await.expect("audit");
    let outside: Vec<String> = strangers
        .findings
        .iter()
        .filter(|f| f.rule == Rule::AutomationMintsOutsideTenants)
        .map(|f| f.object.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut want: Vec<String> = tenant_users.iter().map(|u| format!("USER {u}")).collect();
    want.sort();
    assert_eq!(outside, want);
    running.shutdown().await;
}
