//! The practitioner flows the product automates, run statement by statement (seed 000).

use super::*;

fn all(a: &mut Account, sess: &mut Session, script: &str) -> Vec<ResultSet> {
    script
        .split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| sql(a, sess, t))
        .collect()
}

/// Seed 000: an unrestricted automation PAT provisions deployment users and restricted PATs.
#[test]
fn seed_000_multi_tenant_provisioning() {
    let mut a = account();
    let mut adm = admin(&a);
    all(
        &mut a,
        &mut adm,
        "CREATE DATABASE SNOWPAT;
         USE ROLE SECURITYADMIN;
         CREATE ROLE IF NOT EXISTS CORTEX_REST_API_ROLE COMMENT = 'Runtime role for Cortex REST API access only';
         GRANT DATABASE ROLE SNOWFLAKE.CORTEX_REST_API_USER TO ROLE CORTEX_REST_API_ROLE;
         CREATE ROLE IF NOT EXISTS AUTOMATION_ROLE COMMENT = 'Control plane role';
         GRANT CREATE USER ON ACCOUNT TO ROLE AUTOMATION_ROLE;
         GRANT OWNERSHIP ON ROLE CORTEX_REST_API_ROLE TO ROLE AUTOMATION_ROLE COPY CURRENT GRANTS;
         USE ROLE ACCOUNTADMIN;
         USE DATABASE SNOWPAT;
         USE SCHEMA PUBLIC;
         CREATE AUTHENTICATION POLICY IF NOT EXISTS deployment_auth_policy
           PAT_POLICY = (
             NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED,
             MAX_EXPIRY_IN_DAYS = 365,
             DEFAULT_EXPIRY_IN_DAYS = 90,
             REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = TRUE,
             BLOCKED_ROLES_LIST = ('ACCOUNTADMIN', 'SYSADMIN', 'SECURITYADMIN'));
         CREATE AUTHENTICATION POLICY IF NOT EXISTS automation_auth_policy
           PAT_POLICY = (
             NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED,
             MAX_EXPIRY_IN_DAYS = 365,
             DEFAULT_EXPIRY_IN_DAYS = 90,
             REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE,
             BLOCKED_ROLES_LIST = ('ACCOUNTADMIN', 'SYSADMIN', 'SECURITYADMIN'));
         GRANT OWNERSHIP ON AUTHENTICATION POLICY deployment_auth_policy TO ROLE AUTOMATION_ROLE;
         CREATE USER IF NOT EXISTS AUTOMATION_USER TYPE = SERVICE DEFAULT_ROLE = AUTOMATION_ROLE;
         GRANT ROLE AUTOMATION_ROLE TO USER AUTOMATION_USER;
         ALTER USER AUTOMATION_USER SET AUTHENTICATION POLICY SNOWPAT.PUBLIC.automation_auth_policy",
    );
    let automation = secret_of(&sql(
        &mut a,
        &mut adm,
        "ALTER USER AUTOMATION_USER ADD PROGRAMMATIC ACCESS TOKEN automation_pat DAYS_TO_EXPIRY = 90 COMMENT = 'Control plane PAT - no role restriction'",
    ));
    let mut auto = a
        .authenticate(
            &bearer(&automation, Some(TokenType::ProgrammaticAccessToken)),
            &ctx(Some("AUTOMATION_ROLE"), Channel::SqlApi),
            now(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(auto.primary_role, "AUTOMATION_ROLE");
    all(
        &mut a,
        &mut auto,
        "CREATE USER IF NOT EXISTS DEPLOYMENT_0001 TYPE = SERVICE DEFAULT_ROLE = CORTEX_REST_API_ROLE;
         GRANT ROLE CORTEX_REST_API_ROLE TO USER DEPLOYMENT_0001;
         ALTER USER DEPLOYMENT_0001 SET AUTHENTICATION POLICY SNOWPAT.PUBLIC.deployment_auth_policy;
         GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER DEPLOYMENT_0001 TO ROLE AUTOMATION_ROLE",
    );
    // the strict policy refuses an unrestricted or blocked token
    assert_eq!(
        sql_code(&mut a, &mut auto, "ALTER USER DEPLOYMENT_0001 ADD PAT p0"),
        "099904"
    );
    let r = sql(
        &mut a,
        &mut auto,
        "ALTER USER DEPLOYMENT_0001 ADD PROGRAMMATIC ACCESS TOKEN DEPLOYMENT_0001_PAT ROLE_RESTRICTION = 'CORTEX_REST_API_ROLE' DAYS_TO_EXPIRY = 90",
    );
    let deployment = secret_of(&r);
    let mut dep = a
        .authenticate(&bearer(&deployment, None), &ctx(None, Channel::Rest), now())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dep.primary_role, "CORTEX_REST_API_ROLE");
    assert!(a.cortex_allowed(&dep));
    // the deployment token cannot manage itself (a SERVICE user holds no privilege on itself,
    // which §6.3 checks before the session rules) or create users
    assert_eq!(
        sql_code(
            &mut a,
            &mut dep,
            "ALTER USER ROTATE PAT DEPLOYMENT_0001_PAT"
        ),
        "003001"
    );
    assert_eq!(sql_code(&mut a, &mut dep, "CREATE USER x"), "003001");
    // rotation with a grace period, then revocation
    let r = sql_at(
        &mut a,
        &mut auto,
        "ALTER USER DEPLOYMENT_0001 ROTATE PROGRAMMATIC ACCESS TOKEN DEPLOYMENT_0001_PAT EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 24",
        at(1),
    );
    let new = secret_of(&r);
    assert!(pat_login(&mut a, &deployment, at(24)).is_ok());
    assert_eq!(
        pat_login(&mut a, &deployment, at(26))
            .map(|_| ())
            .unwrap_err()
            .code,
        "394400"
    );
    sql(
        &mut a,
        &mut auto,
        "ALTER USER DEPLOYMENT_0001 REMOVE PROGRAMMATIC ACCESS TOKEN DEPLOYMENT_0001_PAT",
    );
    assert_eq!(
        pat_login(&mut a, &new, at(2)).map(|_| ()).unwrap_err().code,
        "394400"
    );
    // the automation role dropping its own deployment user
    sql(&mut a, &mut auto, "DROP USER DEPLOYMENT_0001");
}

fn sql_at(a: &mut Account, sess: &mut Session, text: &str, n: Now) -> ResultSet {
    match run_at(a, sess, text, n) {
        Ok(r) => r,
        Err(e) => panic!("{text} failed: {e}"),
    }
}
