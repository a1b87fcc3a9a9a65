//! The cli-single-role (seed 001), admin-runtime (seed 002) and token-exchange (seed 003)
//! blueprints against an in-process emulator: fresh plans, convergence after hand-made drift,
//! second applies that only read (the request log's `executed`), the lockout guard, the
//! `cli-user` pairing, and the transient CREATE SERVICE grant under scripted faults.

use std::os::unix::fs::PermissionsExt;

use secrecy::SecretString;
use serde_json::{json, Value};
use snowpat_client::{BaseUrl, Client, Credential, Statement};
use snowpat_core::blueprints::admin_runtime::{
    bootstrap_admin_runtime, sorted_grants, AdminRuntime,
};
use snowpat_core::blueprints::cli_single_role::{
    bootstrap_cli_single_role, CliSingleRole, CliUsers,
};
use snowpat_core::blueprints::token_exchange::{bootstrap_token_exchange, TokenExchange};
use snowpat_core::blueprints::{AuthMethod, BlueprintError};
use snowpat_core::config::{AdminRuntimeConfig, CliSingleRoleConfig, TokenExchangeConfig};
use snowpat_core::sinks::Sink;
use snowpat_emulator::server::{self, Running};

struct Emu {
    _running: Running,
    dir: tempfile::TempDir,
    admin: Client,
    url: String,
    control: String,
    http: reqwest::Client,
}

async fn emulator() -> Emu {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = server::Config {
        listen: ([127, 0, 0, 1], 0).into(),
        admin_token_file: Some(dir.path().join("admin.token")),
        control_token_file: Some(dir.path().join("control.token")),
        ..server::Config::default()
    };
    let running = server::spawn(config).await.unwrap();
    let url = running.url();
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let control = std::fs::read_to_string(dir.path().join("control.token"))
        .unwrap()
        .trim()
        .to_string();
    Emu {
        _running: running,
        admin: pat_client(&url, &SecretString::from(token.trim().to_string())),
        dir,
        url,
        control,
        http: reqwest::Client::new(),
    }
}

fn pat_client(url: &str, secret: &SecretString) -> Client {
    Client::builder(
        BaseUrl::parse(url).unwrap(),
        Credential::pat(secret.clone()),
    )
    .build()
    .unwrap()
}

impl Emu {
    async fn sql(&self, statement: &str) -> snowpat_client::ResultSet {
        self.admin
            .execute(&Statement::new(statement).role("ACCOUNTADMIN"))
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"))
    }

    async fn sql_as(&self, role: &str, statement: &str) -> snowpat_client::ResultSet {
        self.admin
            .execute(&Statement::new(statement).role(role))
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"))
    }

    async fn log(&self, since: u64) -> Vec<Value> {
        let text = self
            .http
            .get(format!("{}/emulator/v1/log?since={since}", self.url))
            .bearer_auth(&self.control)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["seq"].as_u64().unwrap_or(0) > since)
            .collect()
    }

    async fn mark(&self) -> u64 {
        self.log(0)
            .await
            .iter()
            .filter_map(|l| l["seq"].as_u64())
            .max()
            .unwrap_or(0)
    }

    async fn fault(&self, kind: &str, code: &str, times: u32) {
        let status = self
            .http
            .post(format!("{}/emulator/v1/faults", self.url))
            .bearer_auth(&self.control)
            .json(&json!({"statement_kind": kind, "code": code, "times": times}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }

    /// `SELECT CURRENT_ROLE()` with a PAT: Ok(role) or Err(code).
    async fn role_of(&self, secret: &SecretString) -> Result<String, String> {
        match pat_client(&self.url, secret)
            .execute(&Statement::new("SELECT CURRENT_ROLE()"))
            .await
        {
            Ok(rs) => Ok(rs.first().unwrap().get_at::<String>(0).unwrap()),
            Err(e) => Err(e.api().and_then(|a| a.code.clone()).unwrap_or_default()),
        }
    }

    /// An ADMIN-created PERSON user granted ACCOUNTADMIN, with an unrestricted PAT.
    async fn person_admin(&self, name: &str) -> SecretString {
        self.sql(&format!(
            "CREATE USER {name} TYPE = PERSON DEFAULT_ROLE = ACCOUNTADMIN"
        ))
        .await;
        self.sql(&format!("GRANT ROLE ACCOUNTADMIN TO USER {name}"))
            .await;
        let rs = self
            .sql(&format!(
                "ALTER USER {name} ADD PAT OPS_PAT DAYS_TO_EXPIRY = 30"
            ))
            .await;
        rs.first().unwrap().secret("token_secret").unwrap()
    }
}

/// Every logged request is a read that changed nothing.
fn assert_only_reads(lines: &[Value]) {
    assert!(!lines.is_empty(), "expected some reads");
    for l in lines {
        let kind = l["statement_kind"].as_str().unwrap_or("");
        assert!(
            kind.starts_with("SELECT") || kind.starts_with("SHOW") || kind.starts_with("DESC"),
            "not a read: {l}"
        );
        assert_eq!(l["executed"], json!(false), "{l}");
    }
}

fn code(err: &BlueprintError) -> String {
    err.client_error()
        .and_then(|e| e.api())
        .and_then(|a| a.code.clone())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// cli-single-role (seed 001)

fn single_role(tweak: impl FnOnce(&mut CliSingleRoleConfig)) -> CliSingleRole {
    let mut config = CliSingleRoleConfig::default();
    tweak(&mut config);
    CliSingleRole::new(config).unwrap()
}

/// Seed 001: person users can neither generate nor use PATs, service users can
/// (`snowflake-behaviour.md` §10 #107); a second apply only reads (request log).
#[tokio::test]
async fn cli_single_role_bars_person_pats_allows_service_pats_and_a_second_apply_only_reads() {
    let emu = emulator().await;
    let bp = single_role(|_| {});
    let plan = bootstrap_cli_single_role(&emu.admin, &bp, false, AuthMethod::Pat)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    assert_eq!(plan.changes().count(), 6, "{text}");
    assert!(text.contains("CREATE AUTHENTICATION POLICY IF NOT EXISTS SNOWPAT.POLICIES.PERSON_USERS_NO_PAT AUTHENTICATION_METHODS = ('SAML', 'OAUTH', 'KEYPAIR', 'WORKLOAD_IDENTITY', 'PASSWORD')"), "{text}");
    assert!(
        text.contains("PAT_POLICY = (NETWORK_POLICY_EVALUATION = ENFORCED_REQUIRED)"),
        "{text}"
    );
    assert!(text.contains("ALTER ACCOUNT SET AUTHENTICATION POLICY SNOWPAT.POLICIES.PERSON_USERS_NO_PAT FOR ALL PERSON USERS"), "{text}");
    assert!(text.contains("ALTER ACCOUNT SET AUTHENTICATION POLICY SNOWPAT.POLICIES.SERVICE_USERS_PAT_ALLOWED FOR ALL SERVICE USERS"), "{text}");
    assert!(!text.contains(" FORCE"), "{text}");
    // ADMIN keeps its user-level policy (interfaces.md), so it is not locked out.
    let applied = bootstrap_cli_single_role(&emu.admin, &bp, true, AuthMethod::Pat)
        .await
        .unwrap();
    assert!(applied.applied);

    emu.sql("CREATE USER MIGUEL TYPE = PERSON").await;
    emu.sql("CREATE USER SVC TYPE = SERVICE").await;
    emu.sql("CREATE ROLE SVC_ROLE").await;
    emu.sql("GRANT ROLE SVC_ROLE TO USER SVC").await;
    let person = emu
        .admin
        .execute(&Statement::new("ALTER USER MIGUEL ADD PAT P").role("ACCOUNTADMIN"))
        .await
        .expect_err("a person user cannot get a PAT");
    assert_eq!(
        person.api().and_then(|a| a.code.clone()).as_deref(),
        Some("099910")
    );
    emu.sql("ALTER USER SVC ADD PAT P ROLE_RESTRICTION = 'SVC_ROLE'")
        .await;

    let mark = emu.mark().await;
    let again = bootstrap_cli_single_role(&emu.admin, &bp, true, AuthMethod::Pat)
        .await
        .unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan);
    assert_only_reads(&emu.log(mark).await);
}

/// The guard: a PERSON admin authenticating with a PAT and holding no user-level policy would
/// lose its own access to `FOR ALL PERSON USERS`; refused with only reads sent. With
/// `keep_access_policy` the plan first gives it a user-level policy, and it stays in.
#[tokio::test]
async fn cli_single_role_refuses_to_lock_out_the_applying_identity_unless_it_keeps_a_policy() {
    let emu = emulator().await;
    let secret = emu.person_admin("OPS").await;
    let other = emu.person_admin("OTHER").await;
    let ops = pat_client(&emu.url, &secret);
    let bp = single_role(|_| {});
    let mark = emu.mark().await;
    let err = bootstrap_cli_single_role(&ops, &bp, true, AuthMethod::Pat)
        .await
        .expect_err("lockout refused");
    match &err {
        BlueprintError::Lockout(m) => {
            assert!(
                m.contains("OPS") && m.contains("PROGRAMMATIC_ACCESS_TOKEN"),
                "{m}"
            );
            assert!(m.contains("keep_access_policy"), "{m}");
        }
        other => panic!("{other}"),
    }
    assert_only_reads(&emu.log(mark).await);
    // The same identity by key pair would not be cut off (KEYPAIR stays allowed).
    let plan = bootstrap_cli_single_role(&ops, &bp, false, AuthMethod::KeyPair)
        .await
        .unwrap()
        .plan;
    assert_eq!(plan.changes().count(), 6, "{plan}");

    let keep = single_role(|c| c.keep_access_policy = Some("OPS_KEEP_ACCESS".into()));
    let outcome = bootstrap_cli_single_role(&ops, &keep, true, AuthMethod::Pat)
        .await
        .unwrap();
    let text = outcome.plan.to_string();
    assert!(
        text.contains("ALTER USER OPS SET AUTHENTICATION POLICY SNOWPAT.POLICIES.OPS_KEEP_ACCESS"),
        "{text}"
    );
    let set_user = text.find("ALTER USER OPS SET").unwrap();
    let set_person = text.find("FOR ALL PERSON USERS").unwrap();
    assert!(
        set_user < set_person,
        "the user-level policy comes first:\n{text}"
    );
    // OPS still gets in with its PAT, and a rerun has nothing to do.
    assert_eq!(emu.role_of(&secret).await, Ok("ACCOUNTADMIN".to_string()));
    let again = bootstrap_cli_single_role(&ops, &keep, false, AuthMethod::Pat)
        .await
        .unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan);
    // Another person user (no user-level policy) can no longer use its PAT (§6.6 step 6).
    assert_eq!(emu.role_of(&other).await, Err("390202".to_string()));
}

/// Drift made by hand (a policy's methods widened, a slot unset) shows in the plan and is repaired.
#[tokio::test]
async fn cli_single_role_repairs_drift_made_by_hand() {
    let emu = emulator().await;
    let bp = single_role(|_| {});
    bootstrap_cli_single_role(&emu.admin, &bp, true, AuthMethod::Pat)
        .await
        .unwrap();
    emu.sql("ALTER AUTHENTICATION POLICY SNOWPAT.POLICIES.PERSON_USERS_NO_PAT SET AUTHENTICATION_METHODS = ('PASSWORD', 'PROGRAMMATIC_ACCESS_TOKEN')").await;
    emu.sql("ALTER ACCOUNT UNSET AUTHENTICATION POLICY FOR ALL SERVICE USERS")
        .await;
    emu.sql("ALTER AUTHENTICATION POLICY SNOWPAT.POLICIES.SERVICE_USERS_PAT_ALLOWED SET PAT_POLICY = (NETWORK_POLICY_EVALUATION = NOT_ENFORCED)").await;
    let plan = bootstrap_cli_single_role(&emu.admin, &bp, false, AuthMethod::Pat)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    assert_eq!(plan.changes().count(), 3, "{text}");
    assert!(text.contains("ALTER AUTHENTICATION POLICY SNOWPAT.POLICIES.PERSON_USERS_NO_PAT SET AUTHENTICATION_METHODS"), "{text}");
    assert!(
        text.contains("NETWORK_POLICY_EVALUATION = ENFORCED_REQUIRED"),
        "{text}"
    );
    assert!(text.contains("FOR ALL SERVICE USERS"), "{text}");
    bootstrap_cli_single_role(&emu.admin, &bp, true, AuthMethod::Pat)
        .await
        .unwrap();
    let after = bootstrap_cli_single_role(&emu.admin, &bp, false, AuthMethod::Pat)
        .await
        .unwrap();
    assert!(after.plan.is_empty(), "{}", after.plan);
    // A slot holding some other policy is unset, then set (never FORCE).
    emu.sql("CREATE AUTHENTICATION POLICY SNOWPAT.POLICIES.STRAY")
        .await;
    emu.sql("ALTER ACCOUNT UNSET AUTHENTICATION POLICY FOR ALL PERSON USERS")
        .await;
    emu.sql("ALTER ACCOUNT SET AUTHENTICATION POLICY SNOWPAT.POLICIES.STRAY FOR ALL PERSON USERS")
        .await;
    let plan = bootstrap_cli_single_role(&emu.admin, &bp, true, AuthMethod::Pat)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    assert!(
        text.contains("ALTER ACCOUNT UNSET AUTHENTICATION POLICY FOR ALL PERSON USERS"),
        "{text}"
    );
    let after = bootstrap_cli_single_role(&emu.admin, &bp, false, AuthMethod::Pat)
        .await
        .unwrap();
    assert!(after.plan.is_empty(), "{}", after.plan);
}

#[test]
fn cli_single_role_settings_are_checked() {
    for tweak in [
        (|c: &mut CliSingleRoleConfig| c.person_methods.push("PROGRAMMATIC_ACCESS_TOKEN".into()))
            as fn(&mut CliSingleRoleConfig),
        |c| c.service_methods = vec!["KEYPAIR".into()],
        |c| c.person_methods = vec!["PASSKEY".into()],
        |c| c.network_policy_evaluation = "SOMETIMES".into(),
        |c| c.person_policy = "x; DROP USER y".into(),
    ] {
        let mut config = CliSingleRoleConfig::default();
        tweak(&mut config);
        assert!(matches!(
            CliSingleRole::new(config),
            Err(BlueprintError::Config(_))
        ));
    }
}

/// `cli-user add | rotate | remove`: the pairing's PAT works only as its role; rotation keeps
/// the old secret for the grace; remove kills every secret and drops user and role.
#[tokio::test]
async fn cli_user_pairs_a_person_with_a_single_role_service_user() {
    let emu = emulator().await;
    bootstrap_cli_single_role(&emu.admin, &single_role(|_| {}), true, AuthMethod::Pat)
        .await
        .unwrap();
    emu.sql("CREATE USER MIGUEL TYPE = PERSON").await;
    let users = CliUsers {
        client: emu.admin.clone(),
        config: CliSingleRoleConfig::default(),
    };
    let file = emu.dir.path().join("miguel_cli.token");
    let sink = Sink::File(file.clone());
    let added = users.add("miguel", &sink).await.unwrap();
    assert_eq!(added.action, "created");
    assert_eq!(added.pairing.user, "MIGUEL_CLI");
    assert_eq!(added.pairing.role, "MIGUEL_CLI_ROLE");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let first = SecretString::from(std::fs::read_to_string(&file).unwrap().trim().to_string());
    assert_eq!(emu.role_of(&first).await, Ok("MIGUEL_CLI_ROLE".into()));
    let rs = emu.sql("SHOW USER PATS FOR USER MIGUEL_CLI").await;
    assert_eq!(
        rs.first()
            .unwrap()
            .get::<String>("role_restriction")
            .unwrap(),
        "MIGUEL_CLI_ROLE"
    );
    // A second add changes nothing.
    let mark = emu.mark().await;
    assert_eq!(
        users.add("MIGUEL", &sink).await.unwrap().action,
        "unchanged"
    );
    assert!(emu
        .log(mark)
        .await
        .iter()
        .all(|l| l["executed"] == json!(false)));

    let rotated = users.rotate("miguel", &sink, 24).await.unwrap();
    assert_eq!(rotated.action, "rotated");
    let second = SecretString::from(std::fs::read_to_string(&file).unwrap().trim().to_string());
    assert_eq!(emu.role_of(&second).await, Ok("MIGUEL_CLI_ROLE".into()));
    assert_eq!(
        emu.role_of(&first).await,
        Ok("MIGUEL_CLI_ROLE".into()),
        "grace"
    );

    let removed = users.remove("miguel").await.unwrap();
    assert_eq!(removed.action, "removed");
    for secret in [&first, &second] {
        assert_eq!(emu.role_of(secret).await, Err("394400".into()));
    }
    assert!(emu.sql("SHOW USERS LIKE 'MIGUEL_CLI'").await.is_empty());
    assert!(emu
        .sql("SHOW ROLES LIKE 'MIGUEL_CLI_ROLE'")
        .await
        .is_empty());
    // Removing again is a no-op; a missing person is refused before any change.
    users.remove("miguel").await.unwrap();
    let mark = emu.mark().await;
    let err = users
        .add("nobody", &sink)
        .await
        .expect_err("no such person");
    assert!(matches!(err, BlueprintError::NotFound(_)), "{err}");
    assert_only_reads(&emu.log(mark).await);
    assert!(matches!(
        users.add("x; DROP USER y", &sink).await,
        Err(BlueprintError::Config(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// admin-runtime (seed 002)

fn admin_runtime(tweak: impl FnOnce(&mut AdminRuntimeConfig)) -> AdminRuntime {
    let mut config = AdminRuntimeConfig::default();
    tweak(&mut config);
    AdminRuntime::new(config, None).unwrap()
}

async fn runtime_grants(emu: &Emu) -> Vec<(String, String, String)> {
    sorted_grants(&emu.sql("SHOW GRANTS TO ROLE SNOWCLAW_RUNTIME_ROLE").await)
}

fn seed_list(bp: &AdminRuntime) -> Vec<(String, String, String)> {
    let mut list = bp.runtime_grants();
    list.sort();
    list
}

/// The runtime role ends with exactly seed 002's grants (SHOW GRANTS TO ROLE compared with the
/// list), the runtime user holds only the runtime role and a PAT restricted to it, the service is
/// owned by the runtime role, and a second apply only reads.
#[tokio::test]
async fn admin_runtime_grants_exactly_the_seeds_list_and_a_second_apply_only_reads() {
    let emu = emulator().await;
    let bp = admin_runtime(|_| {});
    let plan = bootstrap_admin_runtime(&emu.admin, &bp, false)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    assert!(text.contains("SECRET_STRING = '***'"), "{text}");
    assert!(text.contains("GRANT CREATE SERVICE ON SCHEMA SNOWCLAW_DB.SNOWCLAW_SCHEMA TO ROLE SNOWCLAW_RUNTIME_ROLE"), "{text}");
    assert!(
        text.contains("-- as SNOWCLAW_RUNTIME_ROLE: the service"),
        "{text}"
    );
    assert!(text.contains("REVOKE CREATE SERVICE ON SCHEMA SNOWCLAW_DB.SNOWCLAW_SCHEMA FROM ROLE SNOWCLAW_RUNTIME_ROLE"), "{text}");
    bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .unwrap();

    assert_eq!(runtime_grants(&emu).await, seed_list(&bp));
    let roles: Vec<String> = {
        let rs = emu.sql("SHOW GRANTS TO USER SNOWCLAW_RUNTIME_USER").await;
        rs.rows()
            .iter()
            .map(|r| r.get::<String>("role").unwrap())
            .collect()
    };
    assert_eq!(roles, vec!["SNOWCLAW_RUNTIME_ROLE".to_string()]);
    let pats = emu
        .sql("SHOW USER PATS FOR USER SNOWCLAW_RUNTIME_USER")
        .await;
    assert_eq!(pats.len(), 1);
    assert_eq!(
        pats.first()
            .unwrap()
            .get::<String>("role_restriction")
            .unwrap(),
        "SNOWCLAW_RUNTIME_ROLE"
    );
    let secrets = emu
        .sql("SHOW SECRETS IN SCHEMA SNOWCLAW_DB.SNOWCLAW_SCHEMA")
        .await;
    assert_eq!(
        secrets.first().unwrap().get::<String>("name").unwrap(),
        "SNOWCLAW_SF_TOKEN"
    );
    let services = emu
        .sql("SHOW SERVICES IN SCHEMA SNOWCLAW_DB.SNOWCLAW_SCHEMA")
        .await;
    assert_eq!(
        services.first().unwrap().get::<String>("owner").unwrap(),
        "SNOWCLAW_RUNTIME_ROLE"
    );

    let mark = emu.mark().await;
    let again = bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan);
    assert_only_reads(&emu.log(mark).await);
}

/// Seed 002's finally: a scripted fault on CREATE SERVICE (POST /emulator/v1/faults) fails the
/// apply, and the transient CREATE SERVICE grant is still revoked (SHOW GRANTS and the request
/// log); the next apply converges.
#[tokio::test]
async fn admin_runtime_revokes_the_transient_create_service_grant_even_when_create_service_fails() {
    let emu = emulator().await;
    let bp = admin_runtime(|_| {});
    let mark = emu.mark().await;
    emu.fault("CREATE SERVICE", "003001", 1).await;
    let err = bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .expect_err("CREATE SERVICE fails");
    assert_eq!(code(&err), "003001", "{err}");
    let log = emu.log(mark).await;
    let grants = runtime_grants(&emu).await;
    assert!(
        !grants.iter().any(|(p, _, _)| p == "CREATE SERVICE"),
        "{grants:?}"
    );
    let kinds: Vec<(String, bool, String)> = log
        .iter()
        .map(|l| {
            (
                l["statement_kind"].as_str().unwrap_or("").to_string(),
                l["executed"] == json!(true),
                l["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let create = kinds
        .iter()
        .position(|(k, _, _)| k == "CREATE SERVICE")
        .expect("CREATE SERVICE was sent");
    assert!(!kinds[create].1, "{:?}", kinds[create]);
    assert_eq!(kinds[create].2, "003001");
    assert!(
        kinds[..create]
            .iter()
            .any(|(k, executed, _)| k == "GRANT PRIVILEGES" && *executed),
        "{kinds:?}"
    );
    let after = &kinds[create + 1..];
    assert_eq!(
        after.len(),
        1,
        "only the finally step after the failure: {after:?}"
    );
    assert_eq!(after[0].0, "REVOKE PRIVILEGES");
    assert!(after[0].1, "the revoke changed the account");

    bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .unwrap();
    assert_eq!(runtime_grants(&emu).await, seed_list(&bp));
    let again = bootstrap_admin_runtime(&emu.admin, &bp, false)
        .await
        .unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan);
}

/// Hand-made drift: an extra privilege and a missing one on the runtime role, a leftover
/// transient grant, an extra role on the runtime user, and the stored secret dropped. The plan
/// names each; the apply repairs them (rotating the PAT with no grace, since its secret is gone).
#[tokio::test]
async fn admin_runtime_repairs_hand_made_drift() {
    let emu = emulator().await;
    let bp = admin_runtime(|_| {});
    bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .unwrap();
    for s in [
        "GRANT CREATE NETWORK RULE ON SCHEMA SNOWCLAW_DB.SNOWCLAW_SCHEMA TO ROLE SNOWCLAW_RUNTIME_ROLE",
        "REVOKE WRITE ON STAGE SNOWCLAW_DB.SNOWCLAW_SCHEMA.SNOWCLAW_STATE_STAGE FROM ROLE SNOWCLAW_RUNTIME_ROLE",
        "GRANT CREATE SERVICE ON SCHEMA SNOWCLAW_DB.SNOWCLAW_SCHEMA TO ROLE SNOWCLAW_RUNTIME_ROLE",
        "GRANT ROLE SNOWCLAW_ADMIN_ROLE TO USER SNOWCLAW_RUNTIME_USER",
    ] {
        emu.sql(s).await;
    }
    emu.sql_as(
        "SNOWCLAW_ADMIN_ROLE",
        "DROP SECRET SNOWCLAW_DB.SNOWCLAW_SCHEMA.SNOWCLAW_SF_TOKEN",
    )
    .await;
    let plan = bootstrap_admin_runtime(&emu.admin, &bp, false)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    for expected in [
        "REVOKE CREATE NETWORK RULE ON SCHEMA SNOWCLAW_DB.SNOWCLAW_SCHEMA FROM ROLE SNOWCLAW_RUNTIME_ROLE",
        "GRANT WRITE ON STAGE SNOWCLAW_DB.SNOWCLAW_SCHEMA.SNOWCLAW_STATE_STAGE TO ROLE SNOWCLAW_RUNTIME_ROLE",
        "REVOKE CREATE SERVICE ON SCHEMA SNOWCLAW_DB.SNOWCLAW_SCHEMA FROM ROLE SNOWCLAW_RUNTIME_ROLE",
        "REVOKE ROLE SNOWCLAW_ADMIN_ROLE FROM USER SNOWCLAW_RUNTIME_USER",
        "ROTATE PROGRAMMATIC ACCESS TOKEN SNOWCLAW_RUNTIME_PAT EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 0",
        "CREATE SECRET SNOWCLAW_DB.SNOWCLAW_SCHEMA.SNOWCLAW_SF_TOKEN",
        "GRANT READ ON SECRET SNOWCLAW_DB.SNOWCLAW_SCHEMA.SNOWCLAW_SF_TOKEN TO ROLE SNOWCLAW_RUNTIME_ROLE",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
    bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .unwrap();
    assert_eq!(runtime_grants(&emu).await, seed_list(&bp));
    let again = bootstrap_admin_runtime(&emu.admin, &bp, false)
        .await
        .unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan);
    // A secret overwritten by hand no longer carries the live PAT's mark: rotate and store.
    emu.sql_as(
        "SNOWCLAW_ADMIN_ROLE",
        "ALTER SECRET SNOWCLAW_DB.SNOWCLAW_SCHEMA.SNOWCLAW_SF_TOKEN SET SECRET_STRING = 'stale' COMMENT = 'by hand'",
    )
    .await;
    let plan = bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    assert!(text.contains("ROTATE PROGRAMMATIC ACCESS TOKEN"), "{text}");
    assert!(
        text.contains(
            "ALTER SECRET SNOWCLAW_DB.SNOWCLAW_SCHEMA.SNOWCLAW_SF_TOKEN SET SECRET_STRING = '***'"
        ),
        "{text}"
    );
    assert!(!text.contains("'stale'"), "{text}");
    assert!(
        !text.contains("GRANT READ ON SECRET"),
        "ALTER SECRET keeps the grant:\n{text}"
    );
    let again = bootstrap_admin_runtime(&emu.admin, &bp, false)
        .await
        .unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan);
}

/// `existing_roles = true` (seed 002 steps 1-2 done by an administrator): the preflight names
/// every missing piece with only reads sent; once the seed's SQL has run, no role is created.
#[tokio::test]
async fn admin_runtime_with_existing_roles_names_what_is_missing_and_creates_no_role() {
    let emu = emulator().await;
    let bp = admin_runtime(|c| c.existing_roles = true);
    for s in [
        "CREATE ROLE SNOWCLAW_RUNTIME_ROLE",
        "CREATE ROLE SNOWCLAW_ADMIN_ROLE",
        "GRANT ROLE SNOWCLAW_ADMIN_ROLE TO USER ADMIN",
        "GRANT CREATE DATABASE ON ACCOUNT TO ROLE SNOWCLAW_ADMIN_ROLE",
        "GRANT MANAGE GRANTS ON ACCOUNT TO ROLE SNOWCLAW_ADMIN_ROLE",
        "GRANT CREATE COMPUTE POOL ON ACCOUNT TO ROLE SNOWCLAW_ADMIN_ROLE",
    ] {
        emu.sql(s).await;
    }
    let mark = emu.mark().await;
    let err = bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .expect_err("preflight refuses");
    let message = err.to_string();
    for missing in [
        "GRANT ROLE SNOWCLAW_RUNTIME_ROLE TO ROLE SNOWCLAW_ADMIN_ROLE",
        "GRANT CREATE INTEGRATION ON ACCOUNT",
        "GRANT BIND SERVICE ENDPOINT ON ACCOUNT",
    ] {
        assert!(message.contains(missing), "{missing}: {message}");
    }
    assert!(!message.contains("CREATE DATABASE ON"), "{message}");
    assert_only_reads(&emu.log(mark).await);
    for s in [
        "GRANT ROLE SNOWCLAW_RUNTIME_ROLE TO ROLE SNOWCLAW_ADMIN_ROLE",
        "GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE SNOWCLAW_ADMIN_ROLE",
        "GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE SNOWCLAW_ADMIN_ROLE",
    ] {
        emu.sql(s).await;
    }
    // Seed 002's admin PAT is restricted to the admin role: such a session cannot switch to
    // USERADMIN or the runtime role, and the preflight says so before any change.
    emu.sql("CREATE USER CLAW TYPE = PERSON").await;
    emu.sql("GRANT ROLE SNOWCLAW_ADMIN_ROLE TO USER CLAW").await;
    let rs = emu
        .sql("ALTER USER CLAW ADD PAT SNOWCLAW_ADMIN_PAT ROLE_RESTRICTION = 'SNOWCLAW_ADMIN_ROLE' DAYS_TO_EXPIRY = 1")
        .await;
    let restricted = pat_client(
        &emu.url,
        &rs.first().unwrap().secret("token_secret").unwrap(),
    );
    let mark = emu.mark().await;
    let err = bootstrap_admin_runtime(&restricted, &bp, true)
        .await
        .expect_err("a restricted session cannot run the plan");
    let message = err.to_string();
    assert!(
        message.contains("USERADMIN") && message.contains("SNOWCLAW_RUNTIME_ROLE"),
        "{message}"
    );
    assert_only_reads(&emu.log(mark).await);
    let outcome = bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .unwrap();
    let text = outcome.plan.to_string();
    assert!(!text.contains("CREATE ROLE"), "{text}");
    assert!(!text.contains("-- as ACCOUNTADMIN"), "{text}");
    assert_eq!(runtime_grants(&emu).await, seed_list(&bp));
    let db = emu.sql("SHOW DATABASES LIKE 'SNOWCLAW_DB'").await;
    assert_eq!(
        db.first().unwrap().get::<String>("owner").unwrap(),
        "SNOWCLAW_ADMIN_ROLE"
    );
}

#[test]
fn admin_runtime_sink_must_be_a_snowflake_secret_next_to_the_service() {
    for bad in [
        "file:/tmp/x",
        "stdout",
        "snowflake-secret:OTHER.S.N",
        "snowflake-secret:x",
    ] {
        assert!(
            matches!(
                AdminRuntime::new(AdminRuntimeConfig::default(), Some(bad)),
                Err(BlueprintError::Config(_))
            ),
            "{bad}"
        );
    }
    let ok = AdminRuntime::new(
        AdminRuntimeConfig::default(),
        Some("snowflake-secret:SNOWCLAW_DB.SNOWCLAW_SCHEMA.MY_TOKEN"),
    )
    .unwrap();
    assert_eq!(ok.names.secret[2], "MY_TOKEN");
    assert!(ok
        .specification()
        .contains("SNOWCLAW_DB.SNOWCLAW_SCHEMA.MY_TOKEN"));
}

// ---------------------------------------------------------------------------------------------
// token-exchange (seed 003)

/// A test identity provider: an RSA key and RS256 JWTs (`protocols.md` §5.3).
struct Idp {
    key: rsa::RsaPrivateKey,
    public_b64: String,
}

impl Idp {
    fn new() -> Self {
        use base64::Engine as _;
        use rsa::pkcs8::EncodePublicKey as _;
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let der = key.to_public_key().to_public_key_der().unwrap();
        Self {
            public_b64: base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
            key,
        }
    }

    fn jwt(&self, name: &str, role: &str) -> SecretString {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        use rsa::signature::{SignatureEncoding as _, Signer as _};
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = json!({"alg": "RS256", "typ": "JWT"});
        let claims = json!({
            "iss": "https://idp.example",
            "aud": "snowpat-test",
            "iat": now,
            "exp": now + 600,
            "scp": [format!("session:role:{role}")],
            "name": name,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(self.key.clone())
            .sign(input.as_bytes())
            .to_vec();
        SecretString::from(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

fn token_exchange(idp: &Idp, tweak: impl FnOnce(&mut TokenExchangeConfig)) -> TokenExchange {
    let mut config = TokenExchangeConfig {
        issuer: "https://idp.example".into(),
        rsa_public_key: Some(idp.public_b64.clone()),
        audience: vec!["snowpat-test".into()],
        roles: vec!["ANALYST_ROLE".into()],
        grant_to_users: vec!["KEVIN".into()],
        ..TokenExchangeConfig::default()
    };
    tweak(&mut config);
    TokenExchange::new(config).unwrap()
}

/// Seed 003 end to end on the account side: after the apply, an IdP JWT opens a session as the
/// user its `name` claim maps to, under the allowed role, and that session mints the seed's
/// role-restricted PAT; a role outside the allowed list is refused; a second apply only reads.
#[tokio::test]
async fn token_exchange_integration_lets_idp_jwts_open_sessions_and_mint_restricted_pats() {
    let emu = emulator().await;
    let idp = Idp::new();
    emu.sql("CREATE USER KEVIN LOGIN_NAME = 'kevin@example.com' TYPE = PERSON")
        .await;
    emu.sql("CREATE ROLE OTHER_ROLE").await;
    emu.sql("GRANT ROLE OTHER_ROLE TO USER KEVIN").await;
    let bp = token_exchange(&idp, |_| {});
    let plan = bootstrap_token_exchange(&emu.admin, &bp, false)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    assert_eq!(plan.changes().count(), 3, "{text}");
    for expected in [
        "CREATE ROLE IF NOT EXISTS ANALYST_ROLE",
        "GRANT ROLE ANALYST_ROLE TO USER KEVIN",
        "CREATE SECURITY INTEGRATION IF NOT EXISTS SNOWPAT_EXTERNAL_OAUTH TYPE = EXTERNAL_OAUTH ENABLED = TRUE EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = 'https://idp.example'",
        "EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = 'name'",
        "EXTERNAL_OAUTH_ALLOWED_ROLES_LIST = ('ANALYST_ROLE')",
        "EXTERNAL_OAUTH_ANY_ROLE_MODE = DISABLE",
        "EXTERNAL_OAUTH_AUDIENCE_LIST = ('snowpat-test')",
    ] {
        assert!(text.contains(expected), "{expected}:\n{text}");
    }
    bootstrap_token_exchange(&emu.admin, &bp, true)
        .await
        .unwrap();

    let session = emu.admin.with_credential(Credential::oauth(
        idp.jwt("kevin@example.com", "ANALYST_ROLE"),
    ));
    let rs = session
        .execute(&Statement::new(
            "SELECT CURRENT_USER() AS U, CURRENT_ROLE() AS R",
        ))
        .await
        .unwrap();
    let row = rs.first().unwrap();
    assert_eq!(row.get::<String>("U").unwrap(), "KEVIN");
    assert_eq!(row.get::<String>("R").unwrap(), "ANALYST_ROLE");
    let minted = session
        .execute(&Statement::new(
            "ALTER USER ADD PAT MCP_PAT ROLE_RESTRICTION = 'ANALYST_ROLE' DAYS_TO_EXPIRY = 1",
        ))
        .await
        .unwrap();
    let pat = minted.first().unwrap().secret("token_secret").unwrap();
    assert_eq!(emu.role_of(&pat).await, Ok("ANALYST_ROLE".into()));
    // OTHER_ROLE is granted to KEVIN but not in the allowed list.
    let other = emu
        .admin
        .with_credential(Credential::oauth(
            idp.jwt("kevin@example.com", "OTHER_ROLE"),
        ))
        .execute(&Statement::new("SELECT CURRENT_ROLE()"))
        .await
        .expect_err("a role outside EXTERNAL_OAUTH_ALLOWED_ROLES_LIST");
    assert_eq!(other.api().map(|a| a.status), Some(401), "{other}");

    let mark = emu.mark().await;
    let again = bootstrap_token_exchange(&emu.admin, &bp, true)
        .await
        .unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan);
    assert_only_reads(&emu.log(mark).await);
}

/// Drift: a disabled integration and a revoked role grant are repaired; a changed setting
/// (any-role mode, as the seed's toolkit had it) re-sets the integration's properties.
#[tokio::test]
async fn token_exchange_repairs_drift_and_follows_configuration_changes() {
    let emu = emulator().await;
    let idp = Idp::new();
    emu.sql("CREATE USER KEVIN LOGIN_NAME = 'kevin@example.com' TYPE = PERSON")
        .await;
    let bp = token_exchange(&idp, |_| {});
    bootstrap_token_exchange(&emu.admin, &bp, true)
        .await
        .unwrap();
    emu.sql("ALTER SECURITY INTEGRATION SNOWPAT_EXTERNAL_OAUTH SET ENABLED = FALSE")
        .await;
    emu.sql("REVOKE ROLE ANALYST_ROLE FROM USER KEVIN").await;
    let plan = bootstrap_token_exchange(&emu.admin, &bp, false)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    assert_eq!(plan.changes().count(), 2, "{text}");
    assert!(
        text.contains("ALTER INTEGRATION SNOWPAT_EXTERNAL_OAUTH SET ENABLED = TRUE"),
        "{text}"
    );
    assert!(
        text.contains("GRANT ROLE ANALYST_ROLE TO USER KEVIN"),
        "{text}"
    );
    bootstrap_token_exchange(&emu.admin, &bp, true)
        .await
        .unwrap();
    assert!(bootstrap_token_exchange(&emu.admin, &bp, false)
        .await
        .unwrap()
        .plan
        .is_empty());

    let enable = token_exchange(&idp, |c| c.any_role_mode = "ENABLE".into());
    let plan = bootstrap_token_exchange(&emu.admin, &enable, true)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    assert!(
        text.contains("EXTERNAL_OAUTH_ANY_ROLE_MODE = ENABLE"),
        "{text}"
    );
    assert!(
        text.contains("COMMENT = 'snowpat token-exchange sha256:"),
        "{text}"
    );
    assert!(bootstrap_token_exchange(&emu.admin, &enable, false)
        .await
        .unwrap()
        .plan
        .is_empty());
}

#[test]
fn token_exchange_settings_are_checked() {
    let idp = Idp::new();
    for tweak in [
        (|c: &mut TokenExchangeConfig| c.jwks_url = Some("https://idp.example/jwks".into()))
            as fn(&mut TokenExchangeConfig),
        |c| c.rsa_public_key = None,
        |c| c.rsa_public_key = Some("bm90IGEga2V5".into()),
        |c| c.roles = vec!["ACCOUNTADMIN".into()],
        |c| c.roles = vec![],
        |c| c.any_role_mode = "ALWAYS".into(),
        |c| c.issuer = "idp".into(),
        |c| c.oauth_type = "GITHUB".into(),
    ] {
        let mut config = TokenExchangeConfig {
            issuer: "https://idp.example".into(),
            rsa_public_key: Some(idp.public_b64.clone()),
            ..TokenExchangeConfig::default()
        };
        tweak(&mut config);
        assert!(matches!(
            TokenExchange::new(config),
            Err(BlueprintError::Config(_))
        ));
    }
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        idp.public_b64
    );
    let jwks = TokenExchange::new(TokenExchangeConfig {
        issuer: "https://idp.example".into(),
        jwks_url: Some("https://idp.example/jwks.json".into()),
        ..TokenExchangeConfig::default()
    })
    .unwrap();
    assert!(jwks
        .properties
        .iter()
        .any(|p| p.name.as_str() == "EXTERNAL_OAUTH_JWS_KEYS_URL"));
    let from_pem = TokenExchange::new(TokenExchangeConfig {
        issuer: "https://idp.example".into(),
        rsa_public_key: Some(pem),
        ..TokenExchangeConfig::default()
    })
    .unwrap();
    assert_eq!(
        from_pem.fingerprint(),
        token_exchange(&idp, |c| {
            c.audience.clear();
            c.grant_to_users.clear();
        })
        .fingerprint()
    );
}

// ---------------------------------------------------------------------------------------------
// Convergence from partial states: an apply interrupted after its first `done` statements.

#[tokio::test]
async fn every_seed_blueprint_converges_after_an_apply_interrupted_at_any_step() {
    // admin-runtime: every prefix, including the one that stops between the PAT and its secret.
    let (total, pat_at) = {
        let emu = emulator().await;
        let bp = admin_runtime(|_| {});
        let steps = bootstrap_admin_runtime(&emu.admin, &bp, false)
            .await
            .unwrap()
            .plan
            .steps;
        let pat_at = steps
            .iter()
            .position(|s| s.statement.kind() == "ALTER USER ADD PAT")
            .unwrap();
        (steps.len(), pat_at)
    };
    // `pat_at + 1`: the PAT exists, its secret was never stored.
    for done in [
        3,
        9,
        14,
        pat_at,
        pat_at + 1,
        pat_at + 3,
        total - 2,
        total - 1,
    ] {
        let emu = emulator().await;
        let bp = admin_runtime(|_| {});
        let available = vec![
            "ACCOUNTADMIN".to_string(),
            "USERADMIN".to_string(),
            "SECURITYADMIN".to_string(),
        ];
        let o = bp.observe(&emu.admin, &available).await.unwrap();
        let full = bp.plan(&o);
        let partial = snowpat_core::plan::Plan {
            steps: full.steps.iter().take(done).cloned().collect(),
        };
        snowpat_core::blueprints::admin_runtime::apply(&emu.admin, &bp, &partial)
            .await
            .unwrap_or_else(|e| panic!("prefix {done}: {e}"));
        bootstrap_admin_runtime(&emu.admin, &bp, true)
            .await
            .unwrap_or_else(|e| panic!("after {done}: {e}"));
        let after = bootstrap_admin_runtime(&emu.admin, &bp, false)
            .await
            .unwrap();
        assert!(after.plan.is_empty(), "after {done}:\n{}", after.plan);
        assert_eq!(runtime_grants(&emu).await, seed_list(&bp), "after {done}");
        let pats = emu
            .sql("SHOW USER PATS FOR USER SNOWCLAW_RUNTIME_USER")
            .await;
        let active = pats
            .rows()
            .iter()
            .filter(|r| r.get::<String>("status").unwrap() == "ACTIVE")
            .count();
        assert_eq!(active, 1, "after {done}: one live runtime PAT");
    }
    // cli-single-role: every prefix.
    for done in 1..6 {
        let emu = emulator().await;
        let bp = single_role(|_| {});
        let o = bp.observe(&emu.admin).await.unwrap();
        let full = bp.plan(&o, AuthMethod::Pat).unwrap();
        let partial = snowpat_core::plan::Plan {
            steps: full.steps.iter().take(done).cloned().collect(),
        };
        partial.apply(&emu.admin).await.unwrap();
        let remaining = bootstrap_cli_single_role(&emu.admin, &bp, true, AuthMethod::Pat)
            .await
            .unwrap();
        assert_eq!(
            remaining.plan.changes().count(),
            6 - done,
            "{}",
            remaining.plan
        );
        let after = bootstrap_cli_single_role(&emu.admin, &bp, false, AuthMethod::Pat)
            .await
            .unwrap();
        assert!(after.plan.is_empty(), "after {done}:\n{}", after.plan);
    }
}

/// The guard also covers repairs: with the slots in place but the person policy widened by hand
/// to allow PATs, a PERSON admin on a PAT applying the repair would cut itself off.
#[tokio::test]
async fn cli_single_role_lockout_guard_covers_a_policy_repair() {
    let emu = emulator().await;
    let bp = single_role(|_| {});
    bootstrap_cli_single_role(&emu.admin, &bp, true, AuthMethod::Pat)
        .await
        .unwrap();
    emu.sql("ALTER AUTHENTICATION POLICY SNOWPAT.POLICIES.PERSON_USERS_NO_PAT SET AUTHENTICATION_METHODS = ('PASSWORD', 'KEYPAIR', 'PROGRAMMATIC_ACCESS_TOKEN')").await;
    let secret = emu.person_admin("OPS").await;
    let ops = pat_client(&emu.url, &secret);
    let mark = emu.mark().await;
    let err = bootstrap_cli_single_role(&ops, &bp, true, AuthMethod::Pat)
        .await
        .expect_err("the repair would bar OPS's PAT");
    assert!(matches!(err, BlueprintError::Lockout(_)), "{err}");
    assert_only_reads(&emu.log(mark).await);
    let keep = single_role(|c| c.keep_access_policy = Some("OPS_KEEP".into()));
    let plan = bootstrap_cli_single_role(&ops, &keep, true, AuthMethod::Pat)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    let keep_at = text
        .find("ALTER USER OPS SET AUTHENTICATION POLICY")
        .unwrap();
    let repair_at = text.find("ALTER AUTHENTICATION POLICY").unwrap();
    assert!(keep_at < repair_at, "{text}");
    assert_eq!(emu.role_of(&secret).await, Ok("ACCOUNTADMIN".into()));
}

/// `admin_user` (seed 002's `<your_user>`) gets the admin role along with the applying user, once.
#[tokio::test]
async fn admin_runtime_grants_the_admin_role_to_admin_user_and_the_applier() {
    let emu = emulator().await;
    emu.sql("CREATE USER DEV TYPE = PERSON").await;
    let bp = admin_runtime(|c| c.admin_user = Some("dev".into()));
    let plan = bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .unwrap()
        .plan;
    let text = plan.to_string();
    assert!(
        text.contains("GRANT ROLE SNOWCLAW_ADMIN_ROLE TO USER ADMIN"),
        "{text}"
    );
    assert!(
        text.contains("GRANT ROLE SNOWCLAW_ADMIN_ROLE TO USER DEV"),
        "{text}"
    );
    let again = bootstrap_admin_runtime(&emu.admin, &bp, false)
        .await
        .unwrap();
    assert!(again.plan.is_empty(), "{}", again.plan);
}

/// A scripted fault on the runtime PAT's ADD: nothing after it runs (no empty secret is stored,
/// no service is attempted), and the next apply converges with one live PAT.
#[tokio::test]
async fn admin_runtime_stops_before_the_secret_when_the_pat_cannot_be_minted() {
    let emu = emulator().await;
    let bp = admin_runtime(|_| {});
    emu.fault("ALTER USER ADD PAT", "003001", 1).await;
    let mark = emu.mark().await;
    let err = bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .expect_err("ADD PAT fails");
    assert_eq!(code(&err), "003001", "{err}");
    let log = emu.log(mark).await;
    let add = log
        .iter()
        .position(|l| l["statement_kind"] == "ALTER USER ADD PAT")
        .unwrap();
    assert!(
        log[add + 1..]
            .iter()
            .all(|l| l["statement_kind"] != "CREATE SECRET"
                && l["statement_kind"] != "CREATE SERVICE"),
        "{:?}",
        &log[add..]
    );
    bootstrap_admin_runtime(&emu.admin, &bp, true)
        .await
        .unwrap();
    assert_eq!(runtime_grants(&emu).await, seed_list(&bp));
    let pats = emu
        .sql("SHOW USER PATS FOR USER SNOWCLAW_RUNTIME_USER")
        .await;
    assert_eq!(pats.len(), 1);
}
