//! The multi-tenant blueprint (seed 000) against an in-process emulator: the plan on a fresh
//! account, convergence from partial states, `allowed_cidrs = ["none"]`, `--seed-compat`, the
//! privilege preflight, and the automation identity provisioning a deployment user
//! (`snowflake-behaviour.md` §4.3: ALTER USER SET AUTHENTICATION POLICY).

use secrecy::SecretString;
use snowpat_client::{BaseUrl, Client, Credential, KeyPair, Statement};
use snowpat_core::blueprints::multi_tenant::{MultiTenant, Options};
use snowpat_core::blueprints::{bootstrap_multi_tenant, BlueprintError, FileSink};
use snowpat_core::config::{Config, MultiTenantConfig};
use snowpat_core::plan::Plan;
use snowpat_emulator::server::{self, Running};

struct Emu {
    _running: Running,
    dir: tempfile::TempDir,
    admin: Client,
    url: String,
}

async fn emulator() -> Emu {
    let dir = tempfile::tempdir().unwrap();
    let config = server::Config {
        listen: ([127, 0, 0, 1], 0).into(),
        admin_token_file: Some(dir.path().join("admin.token")),
        ..server::Config::default()
    };
    let running = server::spawn(config).await.unwrap();
    let url = running.url();
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let admin = Client::builder(
        BaseUrl::parse(&url).unwrap(),
        Credential::pat(SecretString::from(token.trim().to_string())),
    )
    .build()
    .unwrap();
    Emu {
        _running: running,
        dir,
        admin,
        url,
    }
}

fn blueprint(tweak: impl FnOnce(&mut MultiTenantConfig), seed_compat: bool) -> MultiTenant {
    let mut config = MultiTenantConfig {
        allowed_cidrs: vec!["127.0.0.0/8".into()],
        ..MultiTenantConfig::default()
    };
    tweak(&mut config);
    MultiTenant::new(config, Options { seed_compat }).unwrap()
}

async fn plan_of(emu: &Emu, bp: &MultiTenant) -> Plan {
    bootstrap_multi_tenant(&emu.admin, bp, false, None)
        .await
        .unwrap()
        .plan
}

fn sql(plan: &Plan) -> String {
    plan.to_string()
}

#[tokio::test]
async fn fresh_account_gets_every_seed_step_and_a_second_plan_is_empty() {
    let emu = emulator().await;
    let bp = blueprint(|_| {}, false);
    let plan = plan_of(&emu, &bp).await;
    let text = sql(&plan);
    assert_eq!(plan.changes().count(), 20, "{text}");
    // §4.3: APPLY on the policy object only; the per-user grant comes with provisioning.
    assert!(
        !text.contains("APPLY AUTHENTICATION POLICY ON ACCOUNT"),
        "{text}"
    );
    assert!(
        text.contains("GRANT APPLY ON AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY TO ROLE AUTOMATION_ROLE"),
        "{text}"
    );
    assert!(
        text.contains("NETWORK_POLICY = SNOWPAT_DEPLOYMENT_NETWORK_POLICY"),
        "{text}"
    );
    assert!(
        text.contains("GRANT OWNERSHIP ON NETWORK POLICY SNOWPAT_DEPLOYMENT_NETWORK_POLICY TO ROLE AUTOMATION_ROLE"),
        "{text}"
    );
    let sink = FileSink(emu.dir.path().join("k.p8"));
    let applied = bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&sink))
        .await
        .unwrap();
    assert_eq!(applied.plan.changes().count(), 20);
    assert!(plan_of(&emu, &bp).await.is_empty());
}

#[tokio::test]
async fn none_reproduces_the_seeds_network_policy_evaluation() {
    let emu = emulator().await;
    let bp = blueprint(|c| c.allowed_cidrs = vec!["none".into()], false);
    let text = sql(&plan_of(&emu, &bp).await);
    assert_eq!(
        text.matches("NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED")
            .count(),
        2,
        "{text}"
    );
    assert!(!text.contains("ENFORCED_REQUIRED,"), "{text}");
    assert!(
        !text.contains("NETWORK RULE")
            && !text.contains("NETWORK POLICY ")
            && !text.contains("NETWORK_POLICY ="),
        "{text}"
    );
}

#[tokio::test]
async fn apply_converges_from_partial_states() {
    for done in [2, 6, 9, 13, 16, 17] {
        let emu = emulator().await;
        let bp = blueprint(|_| {}, false);
        let full = plan_of(&emu, &bp).await;
        // Only the first `done` statements of a previous apply got through (the last one, the
        // key, needs the sink, so partial runs stop before it).
        let partial = Plan {
            steps: full.steps.iter().take(done).cloned().collect(),
        };
        partial.apply(&emu.admin).await.unwrap();
        let remaining = plan_of(&emu, &bp).await;
        assert_eq!(
            remaining.changes().count(),
            20 - done,
            "after {done}:\n{remaining}"
        );
        let sink = FileSink(emu.dir.path().join("k.p8"));
        bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&sink))
            .await
            .unwrap();
        assert!(plan_of(&emu, &bp).await.is_empty(), "after {done}");
    }
}

/// The automation identity creates a deployment user and sets the strict policy on it: with APPLY
/// (default) and with OWNERSHIP of the policy (`--seed-compat`).
#[tokio::test]
async fn automation_identity_applies_the_deployment_policy_in_both_modes() {
    for seed_compat in [false, true] {
        let emu = emulator().await;
        let bp = blueprint(|_| {}, seed_compat);
        let text = sql(&plan_of(&emu, &bp).await);
        assert_eq!(
            text.contains("GRANT OWNERSHIP ON AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY TO ROLE AUTOMATION_ROLE"),
            seed_compat,
            "{text}"
        );
        assert!(
            !text.contains("APPLY AUTHENTICATION POLICY ON ACCOUNT"),
            "{text}"
        );
        let key = emu.dir.path().join("k.p8");
        bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&FileSink(key.clone())))
            .await
            .unwrap();
        let auto = emu.admin.with_credential(Credential::KeyPair(
            KeyPair::from_file("EMULATOR", "AUTOMATION_USER", &key).unwrap(),
        ));
        for statement in [
            "CREATE USER IF NOT EXISTS DEPLOYMENT_0001 TYPE = SERVICE DEFAULT_ROLE = CORTEX_REST_API_ROLE NETWORK_POLICY = SNOWPAT_DEPLOYMENT_NETWORK_POLICY",
            "GRANT ROLE CORTEX_REST_API_ROLE TO USER DEPLOYMENT_0001",
            "GRANT APPLY AUTHENTICATION POLICY ON USER DEPLOYMENT_0001 TO ROLE AUTOMATION_ROLE",
            "ALTER USER DEPLOYMENT_0001 SET AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY",
            "ALTER USER DEPLOYMENT_0001 ADD PROGRAMMATIC ACCESS TOKEN DEPLOYMENT_0001_PAT ROLE_RESTRICTION = 'CORTEX_REST_API_ROLE' DAYS_TO_EXPIRY = 90",
        ] {
            auto.execute(&Statement::new(statement).role("AUTOMATION_ROLE"))
                .await
                .unwrap_or_else(|e| panic!("seed_compat={seed_compat}: {statement}: {e}"));
        }
        // Without OWNERSHIP the automation role cannot weaken the deployment policy.
        let weaken = auto
            .execute(
                &Statement::new(
                    "ALTER AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY SET \
                     PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
                )
                .role("AUTOMATION_ROLE"),
            )
            .await;
        assert_eq!(weaken.is_ok(), seed_compat, "seed_compat={seed_compat}");
        // §4.3: no account-wide APPLY AUTHENTICATION POLICY, so users the automation role does
        // not own keep their policy: ADMIN, and the automation user itself.
        for user in ["ADMIN", "AUTOMATION_USER"] {
            let statement = format!(
                "ALTER USER {user} SET AUTHENTICATION POLICY \
                 SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY FORCE"
            );
            let err = auto
                .execute(&Statement::new(statement).role("AUTOMATION_ROLE"))
                .await
                .expect_err("the automation role re-policied a user it does not own");
            let code = err.api().and_then(|a| a.code.clone()).unwrap_or_default();
            assert!(
                code == "003001" || code == "002003",
                "seed_compat={seed_compat} {user}: {err}"
            );
        }
    }
}

#[tokio::test]
async fn preflight_names_the_roles_the_identity_lacks_and_nothing_is_changed() {
    let emu = emulator().await;
    for s in [
        "CREATE USER LIMITED TYPE = SERVICE DEFAULT_ROLE = PUBLIC",
        "CREATE ROLE LIMITED_ROLE",
        "GRANT ROLE LIMITED_ROLE TO USER LIMITED",
    ] {
        emu.admin.execute(&Statement::new(s)).await.unwrap();
    }
    let rs = emu
        .admin
        .execute(&Statement::new(
            "ALTER USER LIMITED ADD PAT P ROLE_RESTRICTION = 'LIMITED_ROLE'",
        ))
        .await
        .unwrap();
    let secret = rs.first().unwrap().secret("token_secret").unwrap();
    let limited = Client::builder(BaseUrl::parse(&emu.url).unwrap(), Credential::pat(secret))
        .build()
        .unwrap();
    let bp = blueprint(|_| {}, false);
    let err = bootstrap_multi_tenant(
        &limited,
        &bp,
        true,
        Some(&FileSink(emu.dir.path().join("k"))),
    )
    .await
    .expect_err("preflight refuses");
    match err {
        BlueprintError::Preflight(m) => {
            assert!(
                m.contains("SECURITYADMIN") && m.contains("ACCOUNTADMIN"),
                "{m}"
            )
        }
        other => panic!("{other}"),
    }
    assert!(!emu.dir.path().join("k").exists());
    assert_eq!(plan_of(&emu, &bp).await.changes().count(), 20);
}

#[test]
fn unknown_keys_are_refused_with_file_line_and_key() {
    let err = Config::parse(
        "[connection]\nurl = \"http://127.0.0.1:1\"\n\n[blueprint.multi-tenant]\nschemas = \"X\"\n",
        "snowpat.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("snowpat.toml:5:"), "{err}");
    assert!(err.contains("schemas"), "{err}");
    let bad = Config::parse(
        "[blueprint.multi-tenant]\nallowed_cidrs = [\"10.0.0.0/33\"]\n",
        "snowpat.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("allowed_cidrs"), "{bad}");
    let auth = Config::parse(
        "[blueprint.multi-tenant]\nautomation_auth = \"password\"\n",
        "snowpat.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(auth.contains("automation_auth"), "{auth}");
    let ok = Config::parse("[blueprint.multi-tenant]\ndatabase = \"D\"\n", "x").unwrap();
    assert_eq!(ok.multi_tenant().database, "D");
    assert_eq!(ok.multi_tenant().schema, "POLICIES");
}

#[tokio::test]
async fn existing_roles_are_required_and_never_created() {
    let emu = emulator().await;
    let bp = blueprint(|c| c.existing_roles = true, false);
    let err = bootstrap_multi_tenant(&emu.admin, &bp, false, None)
        .await
        .expect_err("missing roles refused");
    assert!(
        matches!(&err, BlueprintError::Preflight(m) if m.contains("CORTEX_REST_API_ROLE") && m.contains("AUTOMATION_ROLE")),
        "{err}"
    );
    for s in [
        "CREATE ROLE CORTEX_REST_API_ROLE",
        "CREATE ROLE AUTOMATION_ROLE",
    ] {
        emu.admin.execute(&Statement::new(s)).await.unwrap();
    }
    let text = sql(&plan_of(&emu, &bp).await);
    assert!(!text.contains("CREATE ROLE"), "{text}");
    assert!(
        text.contains("GRANT CREATE USER ON ACCOUNT TO ROLE AUTOMATION_ROLE"),
        "{text}"
    );
}

#[tokio::test]
async fn a_changed_allowed_cidrs_list_replaces_the_network_rule() {
    let emu = emulator().await;
    let bp = blueprint(|_| {}, false);
    let sink = FileSink(emu.dir.path().join("k.p8"));
    bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&sink))
        .await
        .unwrap();
    let wider = blueprint(
        |c| c.allowed_cidrs = vec!["127.0.0.0/8".into(), "10.0.0.0/8".into()],
        false,
    );
    let plan = plan_of(&emu, &wider).await;
    let text = sql(&plan);
    assert_eq!(plan.changes().count(), 1, "{text}");
    assert!(
        text.contains("CREATE OR REPLACE NETWORK RULE SNOWPAT.POLICIES.SNOWPAT_DEPLOYMENT_INGRESS"),
        "{text}"
    );
    bootstrap_multi_tenant(&emu.admin, &wider, true, Some(&sink))
        .await
        .unwrap();
    assert!(plan_of(&emu, &wider).await.is_empty());
}

#[tokio::test]
async fn leaving_seed_compat_takes_the_policy_back_from_the_automation_role() {
    let emu = emulator().await;
    let sink = FileSink(emu.dir.path().join("k.p8"));
    let compat = blueprint(|_| {}, true);
    bootstrap_multi_tenant(&emu.admin, &compat, true, Some(&sink))
        .await
        .unwrap();
    assert!(plan_of(&emu, &compat).await.is_empty());
    let strict = blueprint(|_| {}, false);
    let plan = plan_of(&emu, &strict).await;
    let text = sql(&plan);
    assert!(text.contains("GRANT OWNERSHIP ON AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY TO ROLE ACCOUNTADMIN"), "{text}");
    assert!(
        text.contains("GRANT APPLY ON AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY TO ROLE AUTOMATION_ROLE"),
        "{text}"
    );
    bootstrap_multi_tenant(&emu.admin, &strict, true, Some(&sink))
        .await
        .unwrap();
    assert!(plan_of(&emu, &strict).await.is_empty());
    let auto = emu.admin.with_credential(Credential::KeyPair(
        KeyPair::from_file("EMULATOR", "AUTOMATION_USER", &sink.0).unwrap(),
    ));
    let weaken = auto
        .execute(
            &Statement::new(
                "ALTER AUTHENTICATION POLICY SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY SET \
                 PAT_POLICY = (REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE)",
            )
            .role("AUTOMATION_ROLE"),
        )
        .await;
    assert!(weaken.is_err());
}

/// Drift (§4.3): an account-wide APPLY AUTHENTICATION POLICY granted by hand is revoked on the next
/// apply; a detached network policy on the automation user is attached again.
#[tokio::test]
async fn account_wide_apply_and_a_detached_network_policy_are_drift() {
    let emu = emulator().await;
    let bp = blueprint(|_| {}, false);
    let sink = FileSink(emu.dir.path().join("k.p8"));
    bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&sink))
        .await
        .unwrap();
    for s in [
        "GRANT APPLY AUTHENTICATION POLICY ON ACCOUNT TO ROLE AUTOMATION_ROLE",
        "GRANT OWNERSHIP ON NETWORK POLICY SNOWPAT_DEPLOYMENT_NETWORK_POLICY TO ROLE ACCOUNTADMIN",
        "ALTER USER AUTOMATION_USER UNSET NETWORK_POLICY",
        "GRANT OWNERSHIP ON NETWORK POLICY SNOWPAT_DEPLOYMENT_NETWORK_POLICY TO ROLE AUTOMATION_ROLE",
    ] {
        emu.admin
            .execute(&Statement::new(s).role("ACCOUNTADMIN"))
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    let plan = plan_of(&emu, &bp).await;
    let text = sql(&plan);
    assert_eq!(plan.changes().count(), 4, "{text}");
    assert!(
        text.contains("REVOKE APPLY AUTHENTICATION POLICY ON ACCOUNT FROM ROLE AUTOMATION_ROLE"),
        "{text}"
    );
    assert!(
        text.contains(
            "ALTER USER AUTOMATION_USER SET NETWORK_POLICY = SNOWPAT_DEPLOYMENT_NETWORK_POLICY"
        ),
        "{text}"
    );
    bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&sink))
        .await
        .unwrap();
    assert!(plan_of(&emu, &bp).await.is_empty());
}

async fn opens_as_automation(emu: &Emu, pem: &SecretString) -> bool {
    let key = KeyPair::from_pem("EMULATOR", "AUTOMATION_USER", pem).unwrap();
    emu.admin
        .with_credential(Credential::KeyPair(key))
        .execute(&Statement::new("SELECT CURRENT_USER()").role("AUTOMATION_ROLE"))
        .await
        .is_ok()
}

fn pem_of(path: &std::path::Path) -> SecretString {
    SecretString::from(std::fs::read_to_string(path).unwrap())
}

async fn key_slots(emu: &Emu) -> Vec<(String, String)> {
    let rs = emu
        .admin
        .execute(&Statement::new("DESCRIBE USER AUTOMATION_USER").role("ACCOUNTADMIN"))
        .await
        .unwrap();
    rs.rows()
        .iter()
        .filter_map(|r| {
            let p: String = r.get("property").ok()?;
            let v: Option<String> = r.get("value").ok()?;
            let v = v.unwrap_or_default();
            (p.ends_with("_FP") && !v.is_empty() && v != "null").then_some((p, v))
        })
        .collect()
}

/// `--rotate-automation-key`: the new key goes to the free slot, reaches the sink, is verified,
/// then the old slot is unset; the old private key stops working; slots alternate; the plan
/// still sees a key (no re-mint).
#[tokio::test]
async fn rotate_automation_key_alternates_slots_verifies_and_retires_the_old_key() {
    let emu = emulator().await;
    let bp = blueprint(|_| {}, false);
    let sink = FileSink(emu.dir.path().join("k.p8"));
    bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&sink))
        .await
        .unwrap();
    let first = pem_of(&sink.0);
    let done = bp.rotate_automation_key(&emu.admin, &sink).await.unwrap();
    assert_eq!(
        (done.action, done.slot, done.unset),
        ("rotated", "RSA_PUBLIC_KEY_2", Some("RSA_PUBLIC_KEY"))
    );
    let second = pem_of(&sink.0);
    assert!(opens_as_automation(&emu, &second).await);
    assert!(!opens_as_automation(&emu, &first).await, "old key retired");
    assert_eq!(
        key_slots(&emu).await,
        vec![("RSA_PUBLIC_KEY_2_FP".to_string(), done.fingerprint.clone())]
    );
    let outcome = bootstrap_multi_tenant(&emu.admin, &bp, false, Some(&sink))
        .await
        .unwrap();
    assert!(outcome.plan.is_empty(), "{}", outcome.plan);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    let again = bp.rotate_automation_key(&emu.admin, &sink).await.unwrap();
    assert_eq!(
        (again.action, again.slot, again.unset),
        ("rotated", "RSA_PUBLIC_KEY", Some("RSA_PUBLIC_KEY_2"))
    );
    assert!(!opens_as_automation(&emu, &second).await);
    assert!(opens_as_automation(&emu, &pem_of(&sink.0)).await);
}

/// Crash points of the rotation, reproduced by hand: a new public key set but never delivered,
/// and a key delivered but the old slot not yet unset. The two leave the same state (the sink's
/// key in one slot, another key in the other): the rerun verifies the sink's key, unsets the
/// other slot and rotates from there, ending with one slot whose private key is in the sink.
#[tokio::test]
async fn rotate_automation_key_converges_after_a_crash_at_either_point() {
    let emu = emulator().await;
    let bp = blueprint(|_| {}, false);
    let sink = FileSink(emu.dir.path().join("k.p8"));
    bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&sink))
        .await
        .unwrap();
    // Crash after SET RSA_PUBLIC_KEY_2, before the sink write: that private key is gone.
    let (_lost, public) = snowpat_core::blueprints::generate_key().unwrap();
    emu.admin
        .execute(
            &Statement::new(format!(
                "ALTER USER AUTOMATION_USER SET RSA_PUBLIC_KEY_2 = '{public}'"
            ))
            .role("ACCOUNTADMIN"),
        )
        .await
        .unwrap();
    let original = pem_of(&sink.0);
    let done = bp.rotate_automation_key(&emu.admin, &sink).await.unwrap();
    assert!(done.action.contains("interrupted"), "{done:?}");
    assert_eq!(
        (done.slot, done.unset),
        ("RSA_PUBLIC_KEY_2", Some("RSA_PUBLIC_KEY"))
    );
    assert_eq!(key_slots(&emu).await.len(), 1);
    assert!(opens_as_automation(&emu, &pem_of(&sink.0)).await);
    assert!(!opens_as_automation(&emu, &original).await);

    // Crash after the sink write, before the old slot is unset.
    let (private, public) = snowpat_core::blueprints::generate_key().unwrap();
    emu.admin
        .execute(
            &Statement::new(format!(
                "ALTER USER AUTOMATION_USER SET RSA_PUBLIC_KEY = '{public}'"
            ))
            .role("ACCOUNTADMIN"),
        )
        .await
        .unwrap();
    sink.write(&private).unwrap();
    let done = bp.rotate_automation_key(&emu.admin, &sink).await.unwrap();
    assert!(done.action.contains("interrupted"), "{done:?}");
    assert_eq!(
        (done.slot, done.unset),
        ("RSA_PUBLIC_KEY_2", Some("RSA_PUBLIC_KEY"))
    );
    let slots = key_slots(&emu).await;
    assert_eq!(slots.len(), 1, "{slots:?}");
    assert_eq!(slots[0].1, done.fingerprint);
    assert!(opens_as_automation(&emu, &pem_of(&sink.0)).await);
    assert!(!opens_as_automation(&emu, &private).await);
    // A plain rerun rotates again: one slot, the sink's key.
    let done = bp.rotate_automation_key(&emu.admin, &sink).await.unwrap();
    assert_eq!(done.action, "rotated");
    assert_eq!(key_slots(&emu).await.len(), 1);
}

/// A lost key file: `--plan` / `--apply` say so and point to `--rotate-automation-key`, which
/// repairs it.
#[tokio::test]
async fn a_lost_automation_key_file_is_noticed_and_rotation_repairs_it() {
    let emu = emulator().await;
    let bp = blueprint(|_| {}, false);
    let sink = FileSink(emu.dir.path().join("k.p8"));
    bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&sink))
        .await
        .unwrap();
    std::fs::remove_file(&sink.0).unwrap();
    for apply in [false, true] {
        let outcome = bootstrap_multi_tenant(&emu.admin, &bp, apply, Some(&sink))
            .await
            .unwrap();
        assert!(outcome.plan.is_empty(), "{}", outcome.plan);
        assert_eq!(outcome.warnings.len(), 1);
        assert!(
            outcome.warnings[0].contains("--rotate-automation-key")
                && outcome.warnings[0].contains("SHA256:"),
            "{:?}",
            outcome.warnings
        );
    }
    // A different key in the file is just as lost.
    let (other, _) = snowpat_core::blueprints::generate_key().unwrap();
    sink.write(&other).unwrap();
    let outcome = bootstrap_multi_tenant(&emu.admin, &bp, false, Some(&sink))
        .await
        .unwrap();
    assert_eq!(outcome.warnings.len(), 1);
    let done = bp.rotate_automation_key(&emu.admin, &sink).await.unwrap();
    assert_eq!(done.action, "rotated");
    assert!(opens_as_automation(&emu, &pem_of(&sink.0)).await);
    let outcome = bootstrap_multi_tenant(&emu.admin, &bp, false, Some(&sink))
        .await
        .unwrap();
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
}

/// Same number of CIDRs, different values: the rule's COMMENT fingerprint shows the drift (SHOW
/// NETWORK RULES has only the entry count); a rule replaced by hand is drift too.
#[tokio::test]
async fn a_changed_cidr_of_the_same_count_replaces_the_network_rule() {
    let emu = emulator().await;
    let bp = blueprint(|_| {}, false);
    let sink = FileSink(emu.dir.path().join("k.p8"));
    bootstrap_multi_tenant(&emu.admin, &bp, true, Some(&sink))
        .await
        .unwrap();
    let moved = blueprint(|c| c.allowed_cidrs = vec!["127.0.0.1/32".into()], false);
    let plan = plan_of(&emu, &moved).await;
    let text = sql(&plan);
    assert_eq!(plan.changes().count(), 1, "{text}");
    assert!(text.contains("CREATE OR REPLACE NETWORK RULE"), "{text}");
    assert!(text.contains("VALUE_LIST = ('127.0.0.1/32')"), "{text}");
    bootstrap_multi_tenant(&emu.admin, &moved, true, Some(&sink))
        .await
        .unwrap();
    assert!(plan_of(&emu, &moved).await.is_empty());
    emu.admin
        .execute(
            &Statement::new(
                "CREATE OR REPLACE NETWORK RULE SNOWPAT.POLICIES.SNOWPAT_DEPLOYMENT_INGRESS \
                 TYPE = IPV4 MODE = INGRESS VALUE_LIST = ('0.0.0.0/0')",
            )
            .role("ACCOUNTADMIN"),
        )
        .await
        .unwrap();
    assert_eq!(plan_of(&emu, &moved).await.changes().count(), 1);
}
