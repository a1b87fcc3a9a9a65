//! `snowpat audit` against an in-process emulator: an account built with each problem finds
//! exactly those findings; an auditing role that can see little is reported as coverage gaps and
//! `unreadable` findings, never as clean (`interfaces.md` audit; snowflake-behaviour §6.2, §6.5).

use std::time::Duration;

use secrecy::SecretString;
use snowpat_client::{BaseUrl, Client, Credential, RetryPolicy, Statement};
use snowpat_core::audit::{self, Automation, Finding, Options, Report, Rule, Severity};
use snowpat_emulator::server::{self, Config, Running};
use tempfile::TempDir;

struct Env {
    _running: Running,
    _dir: TempDir,
    url: String,
    control: String,
    admin: Client,
}

async fn start() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        admin_token_file: Some(dir.path().join("admin.token")),
        control_token_file: Some(dir.path().join("control.token")),
        ..Config::default()
    };
    let running = server::spawn(config).await.expect("emulator starts");
    let url = running.url();
    let admin_pat = std::fs::read_to_string(dir.path().join("admin.token")).expect("admin token");
    let control = std::fs::read_to_string(dir.path().join("control.token")).expect("control");
    let admin = client(&url, admin_pat.trim());
    Env {
        _running: running,
        _dir: dir,
        url,
        control: control.trim().to_owned(),
        admin,
    }
}

fn client(url: &str, pat: &str) -> Client {
    Client::builder(
        BaseUrl::parse(url).expect("url"),
        Credential::pat(SecretString::from(pat.to_owned())),
    )
    .retry(RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
    })
    .build()
    .expect("client")
}

impl Env {
    async fn sql(&self, sql: &str) -> snowpat_client::ResultSet {
        self.admin
            .execute(&Statement::new(sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn advance_clock(&self, seconds: i64) {
        let status = reqwest::Client::new()
            .post(format!("{}/emulator/v1/clock", self.url))
            .bearer_auth(&self.control)
            .json(&serde_json::json!({ "advance_seconds": seconds }))
            .send()
            .await
            .expect("clock request")
            .status();
        assert!(status.is_success(), "clock advance: {status}");
    }

    /// The audit as ADMIN (ACCOUNTADMIN), default options.
    async fn audit_as_admin(&self) -> Report {
        audit::run(&self.admin, &Options::default())
            .await
            .expect("audit runs")
    }
}

/// Every finding, ADMIN's included (no filter): tests that compare full sets use this.
fn all_pairs(findings: &[Finding]) -> Vec<(Rule, String)> {
    let mut v: Vec<(Rule, String)> = findings
        .iter()
        .map(|f| (f.rule, f.object.clone()))
        .collect();
    v.sort();
    v
}

/// What the emulator's own ADMIN leaves in every audit run with `--admin-token-file`: its PAT
/// `EMULATOR_ADMIN` has no ROLE_RESTRICTION and ADMIN is a PERSON user (`interfaces.md`).
fn admin_token_findings() -> Vec<(Rule, String)> {
    vec![
        (Rule::UnrestrictedPat, "PAT ADMIN.EMULATOR_ADMIN".to_owned()),
        (Rule::PersonUserPat, "USER ADMIN".to_owned()),
    ]
}

const SETUP: &[&str] = &[
    "CREATE DATABASE D",
    "CREATE NETWORK RULE D.PUBLIC.ANYWHERE TYPE = IPV4 MODE = INGRESS VALUE_LIST = ('0.0.0.0/0')",
    "CREATE NETWORK POLICY NP ALLOWED_NETWORK_RULE_LIST = ('D.PUBLIC.ANYWHERE')",
    "CREATE ROLE APP_ROLE",
    "CREATE ROLE GRANTER_ROLE",
    "GRANT MANAGE GRANTS ON ACCOUNT TO ROLE GRANTER_ROLE",
    "CREATE ROLE ADMINISH",
    "GRANT ROLE SECURITYADMIN TO ROLE ADMINISH",
    "CREATE ROLE MIDDLE",
    "GRANT ROLE SECURITYADMIN TO ROLE MIDDLE",
    "CREATE ROLE DEEP",
    "GRANT ROLE MIDDLE TO ROLE DEEP",
    "CREATE ROLE POLICY_ROLE",
    "CREATE AUTHENTICATION POLICY D.PUBLIC.SVC_POLICY",
    "GRANT OWNERSHIP ON AUTHENTICATION POLICY D.PUBLIC.SVC_POLICY TO ROLE POLICY_ROLE",
    // A clean service user: network policy, restricted token, 30 days.
    "CREATE USER SVC_GOOD TYPE = SERVICE NETWORK_POLICY = NP",
    "GRANT ROLE APP_ROLE TO USER SVC_GOOD",
    "ALTER USER SVC_GOOD ADD PAT T1 ROLE_RESTRICTION = 'APP_ROLE' DAYS_TO_EXPIRY = 30",
    // §6.5: a service user without its own network policy (the account's default applies).
    "CREATE USER SVC_NONP TYPE = SERVICE",
    "GRANT ROLE APP_ROLE TO USER SVC_NONP",
    "ALTER USER SVC_NONP ADD PAT T1 ROLE_RESTRICTION = 'APP_ROLE' DAYS_TO_EXPIRY = 30",
    // A person user with an unrestricted token.
    "CREATE USER PERSON_U TYPE = PERSON",
    "GRANT ROLE APP_ROLE TO USER PERSON_U",
    "ALTER USER PERSON_U ADD PAT T1 DAYS_TO_EXPIRY = 30",
    // Expiring within 14 days, and one that will have expired.
    "CREATE USER SVC_EXP TYPE = SERVICE NETWORK_POLICY = NP",
    "GRANT ROLE APP_ROLE TO USER SVC_EXP",
    "ALTER USER SVC_EXP ADD PAT SOON ROLE_RESTRICTION = 'APP_ROLE' DAYS_TO_EXPIRY = 5",
    "ALTER USER SVC_EXP ADD PAT GONE ROLE_RESTRICTION = 'APP_ROLE' DAYS_TO_EXPIRY = 1",
    // Over-privileged restricted roles.
    "CREATE USER SVC_MG TYPE = SERVICE NETWORK_POLICY = NP",
    "GRANT ROLE GRANTER_ROLE TO USER SVC_MG",
    "ALTER USER SVC_MG ADD PAT T1 ROLE_RESTRICTION = 'GRANTER_ROLE' DAYS_TO_EXPIRY = 30",
    "CREATE USER SVC_SA TYPE = SERVICE NETWORK_POLICY = NP",
    "GRANT ROLE ADMINISH TO USER SVC_SA",
    "ALTER USER SVC_SA ADD PAT T1 ROLE_RESTRICTION = 'ADMINISH' DAYS_TO_EXPIRY = 30",
    // Over-privileged two levels down: DEEP inherits MIDDLE, which inherits SECURITYADMIN.
    "CREATE USER SVC_DEEP TYPE = SERVICE NETWORK_POLICY = NP",
    "GRANT ROLE DEEP TO USER SVC_DEEP",
    "ALTER USER SVC_DEEP ADD PAT T1 ROLE_RESTRICTION = 'DEEP' DAYS_TO_EXPIRY = 30",
    "CREATE USER SVC_POL TYPE = SERVICE NETWORK_POLICY = NP",
    "GRANT ROLE POLICY_ROLE TO USER SVC_POL",
    "ALTER USER SVC_POL ADD PAT T1 ROLE_RESTRICTION = 'POLICY_ROLE' DAYS_TO_EXPIRY = 30",
    // §6.5: NETWORK_POLICY_EVALUATION = NOT_ENFORCED in the user's authentication policy.
    "CREATE AUTHENTICATION POLICY D.PUBLIC.LOOSE PAT_POLICY = (NETWORK_POLICY_EVALUATION = NOT_ENFORCED)",
    "CREATE USER SVC_NE TYPE = SERVICE NETWORK_POLICY = NP",
    "ALTER USER SVC_NE SET AUTHENTICATION POLICY D.PUBLIC.LOOSE",
    "GRANT ROLE APP_ROLE TO USER SVC_NE",
    "ALTER USER SVC_NE ADD PAT T1 ROLE_RESTRICTION = 'APP_ROLE' DAYS_TO_EXPIRY = 30",
    // Near the 15-token limit (§6.2).
    "CREATE USER SVC_MANY TYPE = SERVICE NETWORK_POLICY = NP",
    "GRANT ROLE APP_ROLE TO USER SVC_MANY",
];

#[tokio::test]
async fn audit_finds_exactly_the_problems_built_into_the_account() {
    let env = start().await;
    for sql in SETUP {
        env.sql(sql).await;
    }
    for i in 0..12 {
        env.sql(&format!(
            "ALTER USER SVC_MANY ADD PAT T{i} ROLE_RESTRICTION = 'APP_ROLE' DAYS_TO_EXPIRY = 30"
        ))
        .await;
    }
    // Server time moves 2 days: GONE (1 day) has expired, SOON (5 days) has 3 left. The local
    // clock does not move; the audit must use the server's.
    env.advance_clock(2 * 86_400).await;

    let report = env.audit_as_admin().await;
    let got = all_pairs(&report.findings);
    let obj = |s: &str| s.to_owned();
    let mut want = admin_token_findings();
    want.extend([
        (Rule::UnrestrictedPat, obj("PAT PERSON_U.T1")),
        (Rule::PersonUserPat, obj("USER PERSON_U")),
        (Rule::ServiceUserNoNetworkPolicy, obj("USER SVC_NONP")),
        (Rule::ServiceUserNetworkNotEnforced, obj("USER SVC_NE")),
        (Rule::TokenExpiringSoon, obj("PAT SVC_EXP.SOON")),
        (Rule::TokenExpiredListed, obj("PAT SVC_EXP.GONE")),
        (Rule::NearTokenLimit, obj("USER SVC_MANY")),
        (Rule::OverPrivilegedRestrictedRole, obj("ROLE GRANTER_ROLE")),
        (Rule::OverPrivilegedRestrictedRole, obj("ROLE ADMINISH")),
        (Rule::OverPrivilegedRestrictedRole, obj("ROLE DEEP")),
        (
            Rule::PolicyOwnedByApplyingRole,
            obj("AUTHENTICATION POLICY D.PUBLIC.SVC_POLICY"),
        ),
    ]);
    want.sort();
    assert_eq!(got, want, "{report:#?}");

    // ADMIN may read ACCOUNT_USAGE.CREDENTIALS; the per-user SHOW USER PATS path finds the same.
    assert_eq!(report.coverage.source, "ACCOUNT_USAGE.CREDENTIALS");
    let per_user = audit::run(
        &env.admin,
        &Options {
            use_account_usage: false,
            ..Options::default()
        },
    )
    .await
    .expect("audit runs");
    assert_eq!(per_user.coverage.source, "SHOW USER PATS");
    assert_eq!(per_user.findings, report.findings);
    assert_eq!(per_user.coverage.tokens_read, report.coverage.tokens_read);

    // Coverage: every user seen and inspected, nothing unreadable.
    assert!(report.coverage.users_seen >= 10, "{:?}", report.coverage);
    let loose = report
        .findings
        .iter()
        .find(|f| f.rule == Rule::ServiceUserNetworkNotEnforced)
        .expect("NOT_ENFORCED finding");
    assert_eq!(
        loose.fix,
        vec![
            "ALTER AUTHENTICATION POLICY D.PUBLIC.LOOSE SET PAT_POLICY = (NETWORK_POLICY_EVALUATION = ENFORCED_REQUIRED);"
                .to_owned()
        ]
    );
    assert_eq!(report.coverage.users_seen, report.coverage.users_inspected);
    assert!(report.coverage.unreadable.is_empty());
    assert!(report.coverage.tokens_read >= 20);

    let deep = report
        .findings
        .iter()
        .find(|f| f.object == "ROLE DEEP")
        .expect("DEEP finding");
    assert!(deep.why.contains("through MIDDLE"), "{}", deep.why);
    assert_eq!(
        deep.fix,
        vec!["REVOKE ROLE SECURITYADMIN FROM ROLE MIDDLE;".to_owned()]
    );

    // Severity ordering and --fail-on.
    for pair in report.findings.windows(2) {
        assert!(pair[0].severity >= pair[1].severity);
    }
    assert_eq!(report.worst(), Some(Severity::Critical));
    assert!(report.fails(Severity::Critical));

    // Every fix is rendered SQL that the emulator's parser accepts: run the REMOVE of the expired
    // token and re-audit; that finding is gone.
    let gone = report
        .findings
        .iter()
        .find(|f| f.rule == Rule::TokenExpiredListed)
        .expect("expired finding");
    assert_eq!(
        gone.fix,
        vec!["ALTER USER SVC_EXP REMOVE PROGRAMMATIC ACCESS TOKEN IF EXISTS GONE;".to_owned()]
    );
    env.sql(gone.fix[0].trim_end_matches(';')).await;
    let loose_fix = report
        .findings
        .iter()
        .find(|f| f.rule == Rule::ServiceUserNetworkNotEnforced)
        .map(|f| f.fix[0].clone())
        .expect("fix");
    env.sql(loose_fix.trim_end_matches(';')).await;
    let again = env.audit_as_admin().await;
    assert!(!again
        .findings
        .iter()
        .any(|f| f.rule == Rule::ServiceUserNetworkNotEnforced));
    assert!(!again
        .findings
        .iter()
        .any(|f| f.rule == Rule::TokenExpiredListed));
}

#[tokio::test]
async fn a_clean_account_has_no_findings_for_its_users() {
    let env = start().await;
    for sql in &SETUP[..3] {
        env.sql(sql).await;
    }
    env.sql("CREATE ROLE APP_ROLE").await;
    env.sql("CREATE USER SVC_GOOD TYPE = SERVICE NETWORK_POLICY = NP")
        .await;
    env.sql("GRANT ROLE APP_ROLE TO USER SVC_GOOD").await;
    env.sql("ALTER USER SVC_GOOD ADD PAT T1 ROLE_RESTRICTION = 'APP_ROLE' DAYS_TO_EXPIRY = 30")
        .await;
    let report = env.audit_as_admin().await;
    // Only the emulator's own ADMIN token remains, nothing about the users built here.
    let mut want = admin_token_findings();
    want.sort();
    assert_eq!(all_pairs(&report.findings), want, "{report:#?}");
    assert!(report.coverage.unreadable.is_empty());
}

#[tokio::test]
async fn a_role_that_sees_little_is_reported_as_coverage_gaps_not_clean() {
    let env = start().await;
    for sql in [
        "CREATE ROLE APP_ROLE",
        "CREATE USER OTHER TYPE = PERSON",
        "GRANT ROLE APP_ROLE TO USER OTHER",
        "ALTER USER OTHER ADD PAT T1 DAYS_TO_EXPIRY = 30",
        "CREATE ROLE WEAK",
        "CREATE USER AUDITOR TYPE = SERVICE",
        "GRANT ROLE WEAK TO USER AUDITOR",
        // The one user WEAK can see: it owns it.
        "CREATE USER VISIBLE TYPE = PERSON",
        "GRANT ROLE APP_ROLE TO USER VISIBLE",
        "ALTER USER VISIBLE ADD PAT T1 DAYS_TO_EXPIRY = 30",
        "GRANT OWNERSHIP ON USER VISIBLE TO ROLE WEAK",
    ] {
        env.sql(sql).await;
    }
    let minted = env
        .sql("ALTER USER AUDITOR ADD PAT A ROLE_RESTRICTION = 'WEAK' DAYS_TO_EXPIRY = 5")
        .await;
    let secret: String = minted
        .first()
        .expect("row")
        .get("token_secret")
        .expect("token_secret");
    let weak = client(&env.url, &secret);
    let report = audit::run(&weak, &Options::default())
        .await
        .expect("audit runs");
    // Exactly: the two gaps (users, policies), and what it could see of VISIBLE. OTHER's
    // unrestricted token was not seen, and the report says users are missing rather than
    // staying silent.
    let o = |s: &str| s.to_owned();
    let mut want = vec![
        (Rule::Unreadable, o("ACCOUNT USERS")),
        (Rule::Unreadable, o("ACCOUNT AUTHENTICATION POLICIES")),
        (Rule::UnrestrictedPat, o("PAT VISIBLE.T1")),
        (Rule::PersonUserPat, o("USER VISIBLE")),
    ];
    want.sort();
    assert_eq!(all_pairs(&report.findings), want, "{report:#?}");
    assert_eq!(report.coverage.users_seen, 1, "{:?}", report.coverage);
    assert_eq!(report.coverage.users_inspected, 1);
    assert_eq!(report.coverage.tokens_read, 1);
    assert_eq!(report.coverage.source, "SHOW USER PATS");
    assert_eq!(
        report.coverage.unreadable,
        vec![
            "authentication policies not visible to WEAK".to_owned(),
            "users not visible to WEAK".to_owned(),
        ]
    );
    assert!(report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::Unreadable)
        .all(|f| f.severity == Severity::High));
    assert!(report.fails(Severity::High));
}

/// §5.9.5 / seed 001: with a no-PAT policy FOR ALL PERSON USERS, every PERSON (or TYPE NULL)
/// user whose user-level policy allows PATs escapes the bar; SERVICE users and person users
/// without a user-level policy (or with one that also bars PATs) do not.
#[tokio::test]
async fn person_users_allowed_pats_where_the_account_bars_them_are_found_exactly() {
    let env = start().await;
    for sql in [
        "CREATE DATABASE D",
        "CREATE AUTHENTICATION POLICY D.PUBLIC.NO_PAT AUTHENTICATION_METHODS = ('PASSWORD', 'KEYPAIR')",
        "CREATE AUTHENTICATION POLICY D.PUBLIC.ALSO_NO_PAT AUTHENTICATION_METHODS = ('SAML')",
        "CREATE AUTHENTICATION POLICY D.PUBLIC.PAT_OK AUTHENTICATION_METHODS = ('PROGRAMMATIC_ACCESS_TOKEN', 'KEYPAIR')",
        "CREATE AUTHENTICATION POLICY D.PUBLIC.EVERYTHING",
        "ALTER ACCOUNT SET AUTHENTICATION POLICY D.PUBLIC.NO_PAT FOR ALL PERSON USERS",
        "CREATE USER P_BARRED TYPE = PERSON",
        "CREATE USER P_OWN TYPE = PERSON",
        "ALTER USER P_OWN SET AUTHENTICATION POLICY D.PUBLIC.PAT_OK",
        "CREATE USER P_NULL",
        "ALTER USER P_NULL SET AUTHENTICATION POLICY D.PUBLIC.EVERYTHING",
        "CREATE USER P_STRICT TYPE = PERSON",
        "ALTER USER P_STRICT SET AUTHENTICATION POLICY D.PUBLIC.ALSO_NO_PAT",
        "CREATE USER SVC TYPE = SERVICE",
        "ALTER USER SVC SET AUTHENTICATION POLICY D.PUBLIC.PAT_OK",
    ] {
        env.sql(sql).await;
    }
    let report = env.audit_as_admin().await;
    let mut want = admin_token_findings();
    want.extend([
        // ADMIN's user-level EMULATOR_ADMIN_AUTH allows every method (§3.2).
        (Rule::PersonUserPatAllowed, "USER ADMIN".to_owned()),
        (Rule::PersonUserPatAllowed, "USER P_NULL".to_owned()),
        (Rule::PersonUserPatAllowed, "USER P_OWN".to_owned()),
    ]);
    want.sort();
    assert_eq!(all_pairs(&report.findings), want, "{report:#?}");
    let own = report
        .findings
        .iter()
        .find(|f| f.object == "USER P_OWN")
        .expect("P_OWN finding");
    assert_eq!(own.severity, Severity::High);
    assert!(own.why.contains("D.PUBLIC.NO_PAT") && own.why.contains("D.PUBLIC.PAT_OK"));
    assert_eq!(
        own.fix,
        vec!["ALTER USER P_OWN UNSET AUTHENTICATION POLICY;".to_owned()]
    );
    // The fix works: the account's bar now governs P_OWN, and the re-audit drops it.
    env.sql(own.fix[0].trim_end_matches(';')).await;
    let again = env.audit_as_admin().await;
    assert!(!again.findings.iter().any(|f| f.object == "USER P_OWN"));
    assert!(again.findings.iter().any(|f| f.object == "USER P_NULL"));

    // Without a bar in the account, none of this is a finding.
    env.sql("ALTER ACCOUNT UNSET AUTHENTICATION POLICY FOR ALL PERSON USERS")
        .await;
    let unbarred = env.audit_as_admin().await;
    assert_eq!(all_pairs(&unbarred.findings), {
        let mut w = admin_token_findings();
        w.sort();
        w
    });
}

/// A blueprint that bars person PATs (`person_pats_barred`) with no policy in the account:
/// every PERSON user is allowed PATs by the built-in defaults (§5.9.4), and the fix creates the
/// no-PAT policy for all person users, with FORCE so user-level policies cannot override it.
#[tokio::test]
async fn a_bar_without_any_policy_flags_every_person_user_with_the_account_fix() {
    let env = start().await;
    for sql in [
        "CREATE USER PERSON_A TYPE = PERSON",
        "CREATE USER SVC TYPE = SERVICE",
    ] {
        env.sql(sql).await;
    }
    let report = audit::run(
        &env.admin,
        &Options {
            person_pats_barred: Some(true),
            ..Options::default()
        },
    )
    .await
    .expect("audit runs");
    let mut want = admin_token_findings();
    want.extend([
        (Rule::PersonUserPatAllowed, "USER ADMIN".to_owned()),
        (Rule::PersonUserPatAllowed, "USER PERSON_A".to_owned()),
    ]);
    want.sort();
    assert_eq!(all_pairs(&report.findings), want, "{report:#?}");
    let a = report
        .findings
        .iter()
        .find(|f| f.object == "USER PERSON_A")
        .expect("finding");
    assert_eq!(
        a.fix,
        vec![
            "CREATE AUTHENTICATION POLICY IF NOT EXISTS PERSON_USERS_NO_PAT AUTHENTICATION_METHODS = ('SAML', 'OAUTH', 'KEYPAIR', 'WORKLOAD_IDENTITY', 'PASSWORD');".to_owned(),
            "ALTER ACCOUNT SET AUTHENTICATION POLICY PERSON_USERS_NO_PAT FOR ALL PERSON USERS FORCE;".to_owned(),
        ]
    );
    let admin = report
        .findings
        .iter()
        .find(|f| f.rule == Rule::PersonUserPatAllowed && f.object == "USER ADMIN")
        .expect("finding");
    assert!(admin.why.contains("EMULATOR_ADMIN_AUTH"), "{}", admin.why);
    assert!(admin
        .fix
        .contains(&"ALTER USER ADMIN UNSET AUTHENTICATION POLICY;".to_owned()));
}

/// Automation roles that can mint outside the store's tenants (OWNERSHIP or MPAM on a user,
/// directly or through an inherited role; MANAGE GRANTS; USERADMIN), and policies owned by the
/// role that applies them (authentication: owner owns an attached user or holds APPLY
/// AUTHENTICATION POLICY on one; network: owner owns an attached user). Exactly those.
#[tokio::test]
async fn automation_reach_and_policies_owned_by_their_applier_are_found_exactly() {
    let env = start().await;
    for sql in [
        "CREATE DATABASE D",
        "CREATE ROLE AUTO",
        "CREATE ROLE HELPER",
        "GRANT ROLE HELPER TO ROLE AUTO",
        "CREATE ROLE AUTO2",
        "GRANT MANAGE GRANTS ON ACCOUNT TO ROLE AUTO2",
        "CREATE ROLE AUTO3",
        "GRANT ROLE USERADMIN TO ROLE AUTO3",
        "CREATE ROLE APPLIER",
        "CREATE ROLE BYSTANDER",
        "CREATE USER TEN_A TYPE = SERVICE",
        "CREATE USER TEN_B TYPE = SERVICE",
        "CREATE USER OUTSIDER_OWNED TYPE = SERVICE",
        "CREATE USER OUTSIDER_MPAM TYPE = SERVICE",
        "CREATE USER AUTOMATION_SELF TYPE = SERVICE",
        // A network policy attached to a tenant, then both handed to AUTO (§4.3: attaching
        // needs OWNERSHIP of the user and of the policy).
        "CREATE NETWORK RULE D.PUBLIC.LOOP TYPE = IPV4 MODE = INGRESS VALUE_LIST = ('127.0.0.1')",
        "CREATE NETWORK POLICY NP_AUTO ALLOWED_NETWORK_RULE_LIST = ('D.PUBLIC.LOOP')",
        "ALTER USER TEN_A SET NETWORK_POLICY = NP_AUTO",
        "GRANT OWNERSHIP ON NETWORK POLICY NP_AUTO TO ROLE AUTO",
        // Authentication policies: TEN_POLICY owned by AUTO, on a user AUTO owns; AP_POLICY
        // owned by APPLIER, which holds APPLY AUTHENTICATION POLICY on the user it is on;
        // QUIET owned by BYSTANDER, which neither owns nor may apply to its user; ADMIN_OWNED
        // owned by ACCOUNTADMIN.
        "CREATE AUTHENTICATION POLICY D.PUBLIC.TEN_POLICY",
        "ALTER USER TEN_A SET AUTHENTICATION POLICY D.PUBLIC.TEN_POLICY",
        "GRANT OWNERSHIP ON AUTHENTICATION POLICY D.PUBLIC.TEN_POLICY TO ROLE AUTO",
        "CREATE AUTHENTICATION POLICY D.PUBLIC.AP_POLICY",
        "ALTER USER OUTSIDER_MPAM SET AUTHENTICATION POLICY D.PUBLIC.AP_POLICY",
        "GRANT OWNERSHIP ON AUTHENTICATION POLICY D.PUBLIC.AP_POLICY TO ROLE APPLIER",
        "GRANT APPLY AUTHENTICATION POLICY ON USER OUTSIDER_MPAM TO ROLE APPLIER",
        "CREATE AUTHENTICATION POLICY D.PUBLIC.QUIET",
        "ALTER USER TEN_B SET AUTHENTICATION POLICY D.PUBLIC.QUIET",
        "GRANT OWNERSHIP ON AUTHENTICATION POLICY D.PUBLIC.QUIET TO ROLE BYSTANDER",
        "CREATE AUTHENTICATION POLICY D.PUBLIC.ADMIN_OWNED",
        "ALTER USER OUTSIDER_OWNED SET AUTHENTICATION POLICY D.PUBLIC.ADMIN_OWNED",
        // Minting reach.
        "GRANT OWNERSHIP ON USER TEN_A TO ROLE AUTO",
        "GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER TEN_B TO ROLE AUTO",
        "GRANT OWNERSHIP ON USER OUTSIDER_OWNED TO ROLE AUTO",
        "GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER OUTSIDER_MPAM TO ROLE HELPER",
        "GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER AUTOMATION_SELF TO ROLE AUTO",
    ] {
        env.sql(sql).await;
    }
    let options = Options {
        automation: Some(Automation {
            roles: vec![
                "AUTO".into(),
                "AUTO2".into(),
                "AUTO3".into(),
                "NO_SUCH_ROLE".into(),
            ],
            tenant_users: ["TEN_A", "TEN_B"].map(String::from).into(),
            also_allowed: ["AUTOMATION_SELF"].map(String::from).into(),
        }),
        ..Options::default()
    };
    let report = audit::run(&env.admin, &options).await.expect("audit runs");
    let mut want = admin_token_findings();
    let o = |s: &str| s.to_owned();
    want.extend([
        (
            Rule::AutomationMintsOutsideTenants,
            o("USER OUTSIDER_OWNED"),
        ),
        (Rule::AutomationMintsOutsideTenants, o("USER OUTSIDER_MPAM")),
        (Rule::AutomationMintsOutsideTenants, o("ROLE AUTO2")),
        (Rule::AutomationMintsOutsideTenants, o("ROLE AUTO3")),
        (
            Rule::PolicyOwnedByApplyingRole,
            o("AUTHENTICATION POLICY D.PUBLIC.TEN_POLICY"),
        ),
        (
            Rule::PolicyOwnedByApplyingRole,
            o("AUTHENTICATION POLICY D.PUBLIC.AP_POLICY"),
        ),
        (Rule::PolicyOwnedByApplyingRole, o("NETWORK POLICY NP_AUTO")),
    ]);
    want.sort();
    assert_eq!(all_pairs(&report.findings), want, "{report:#?}");

    let find = |object: &str| {
        report
            .findings
            .iter()
            .find(|f| f.object == object)
            .unwrap_or_else(|| panic!("{object}"))
    };
    let via = find("USER OUTSIDER_MPAM");
    assert!(via.why.contains("AUTO (through HELPER)"), "{}", via.why);
    assert_eq!(
        via.fix,
        vec!["REVOKE MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER OUTSIDER_MPAM FROM ROLE HELPER;".to_owned()]
    );
    assert_eq!(find("ROLE AUTO2").severity, Severity::Critical);
    assert_eq!(find("ROLE AUTO3").severity, Severity::High);
    assert_eq!(find("NETWORK POLICY NP_AUTO").severity, Severity::Low);
    assert_eq!(
        find("AUTHENTICATION POLICY D.PUBLIC.TEN_POLICY").fix,
        vec![
            "GRANT OWNERSHIP ON AUTHENTICATION POLICY D.PUBLIC.TEN_POLICY TO ROLE ACCOUNTADMIN COPY CURRENT GRANTS;".to_owned(),
            "GRANT APPLY ON AUTHENTICATION POLICY D.PUBLIC.TEN_POLICY TO ROLE AUTO;".to_owned(),
        ]
    );

    // Every fix parses and runs; afterwards only ADMIN's own findings remain.
    for f in &report.findings {
        if f.object.contains("ADMIN") {
            continue;
        }
        for sql in &f.fix {
            env.sql(sql.trim_end_matches(';')).await;
        }
    }
    let again = audit::run(&env.admin, &options).await.expect("audit runs");
    let mut admin_only = admin_token_findings();
    admin_only.sort();
    assert_eq!(all_pairs(&again.findings), admin_only, "{again:#?}");
}
