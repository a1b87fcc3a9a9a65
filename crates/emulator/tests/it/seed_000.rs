//! Seed 000 ("Cross-Role PAT Issuance in Snowflake"), reproduced through the SQL API as written:
//! the four setup steps, each sent verbatim as ONE multi-statement request as ADMIN; the
//! per-deployment provisioning exactly as the seed's `CortexPATProvisioner` sends it (one
//! statement per request, `"role": "AUTOMATION_ROLE"`, the automation PAT, the PAT type header);
//! Cortex calls with the deployment PAT; rotation with grace, revocation and disabling; and each
//! error of the seed's Troubleshooting section in its situation (`snowflake-behaviour.md` §6.3,
//! §6.7 S3, §4.2, §9).

use serde_json::{json, Value};

use crate::harness::{column, Emulator};

const HOUR: i64 = 3_600;

/// The database standing in for `<your_database>` / `<db>`.
const DB: &str = "SEED_DB";

const STEP_1: &str = "USE ROLE SECURITYADMIN;
CREATE ROLE IF NOT EXISTS CORTEX_REST_API_ROLE
COMMENT = 'Runtime role for Cortex REST API access only';
GRANT DATABASE ROLE SNOWFLAKE.CORTEX_REST_API_USER
TO ROLE CORTEX_REST_API_ROLE;";

const STEP_2: &str = "USE ROLE SECURITYADMIN;
CREATE ROLE IF NOT EXISTS AUTOMATION_ROLE
COMMENT = 'Control plane role for provisioning deployment users and PATs';
GRANT CREATE USER ON ACCOUNT TO ROLE AUTOMATION_ROLE;
-- OWNERSHIP allows AUTOMATION_ROLE to GRANT/REVOKE the runtime role
GRANT OWNERSHIP ON ROLE CORTEX_REST_API_ROLE
TO ROLE AUTOMATION_ROLE COPY CURRENT GRANTS;";

const STEP_3: &str = "USE ROLE ACCOUNTADMIN;
USE DATABASE <your_database>;
USE SCHEMA PUBLIC;
-- Strict policy for deployment users (role restriction required)
CREATE AUTHENTICATION POLICY IF NOT EXISTS deployment_auth_policy
PAT_POLICY = (
NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED,
MAX_EXPIRY_IN_DAYS = 365,
DEFAULT_EXPIRY_IN_DAYS = 90,
REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = TRUE,
BLOCKED_ROLES_LIST = ('ACCOUNTADMIN', 'SYSADMIN', 'SECURITYADMIN')
);
-- Relaxed policy for automation user (no role restriction required)
CREATE AUTHENTICATION POLICY IF NOT EXISTS automation_auth_policy
PAT_POLICY = (
NETWORK_POLICY_EVALUATION = ENFORCED_NOT_REQUIRED,
MAX_EXPIRY_IN_DAYS = 365,
DEFAULT_EXPIRY_IN_DAYS = 90,
REQUIRE_ROLE_RESTRICTION_FOR_SERVICE_USERS = FALSE,
BLOCKED_ROLES_LIST = ('ACCOUNTADMIN', 'SYSADMIN', 'SECURITYADMIN')
);
-- Give automation role ownership of the deployment policy
GRANT OWNERSHIP ON AUTHENTICATION POLICY deployment_auth_policy
TO ROLE AUTOMATION_ROLE;";

const STEP_4: &str = "USE ROLE ACCOUNTADMIN;
CREATE USER IF NOT EXISTS AUTOMATION_USER
TYPE = SERVICE
DEFAULT_ROLE = AUTOMATION_ROLE;
GRANT ROLE AUTOMATION_ROLE TO USER AUTOMATION_USER;
ALTER USER AUTOMATION_USER
SET AUTHENTICATION POLICY <db>.<schema>.automation_auth_policy;
-- Issue unrestricted PAT (allowed by automation_auth_policy)
ALTER USER AUTOMATION_USER
ADD PROGRAMMATIC ACCESS TOKEN automation_pat
DAYS_TO_EXPIRY = 90
COMMENT = 'Control plane PAT - no role restriction';
-- >>> SAVE THIS TOKEN SECRET IMMEDIATELY <<<";

/// The seed's text with its placeholders filled in.
fn fill(text: &str) -> String {
    text.replace("<your_database>", DB)
        .replace("<db>", DB)
        .replace("<schema>", "PUBLIC")
}

/// Sends one setup step as ONE multi-statement request (MULTI_STATEMENT_COUNT = 0) as ADMIN.
async fn step(emu: &Emulator, text: &str) -> (u16, Value) {
    emu.sql_multi(&emu.admin(), &fill(text), 0).await
}

/// Sends a step and insists on success.
async fn step_ok(emu: &Emulator, text: &str) -> Value {
    let (status, body) = step(emu, text).await;
    assert_eq!(status, 200, "{text}\n{body}");
    body
}

/// The `token_secret` found in a multi-statement request's child results (GET each handle).
async fn secret_from_children(emu: &Emulator, body: &Value) -> String {
    let handles = body["statementHandles"]
        .as_array()
        .expect("statementHandles");
    for handle in handles {
        let handle = handle.as_str().expect("handle");
        let child = emu.get_statement(&emu.admin(), handle, "").await;
        assert_eq!(child.status, 200, "{}", child.json);
        let columns = child.json["resultSetMetaData"]["rowType"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(i) = columns
            .iter()
            .position(|c| c["name"].as_str() == Some("token_secret"))
        {
            return child.json["data"][0][i]
                .as_str()
                .expect("secret cell")
                .to_owned();
        }
    }
    panic!("no child result carries token_secret: {body}")
}

/// Runs the four setup steps as written and returns the automation PAT's secret.
async fn setup(emu: &Emulator) -> String {
    emu.admin_ok(&format!("CREATE DATABASE {DB}")).await;
    step_ok(emu, STEP_1).await;
    step_ok(emu, STEP_2).await;
    step_ok(emu, STEP_3).await;
    let body = step_ok(emu, STEP_4).await;
    secret_from_children(emu, &body).await
}

/// The seed's `CortexPATProvisioner._execute`: one statement, the role in the body, the PAT and
/// its type header.
struct Provisioner<'a> {
    emu: &'a Emulator,
    automation_pat: String,
    role: &'static str,
}

impl<'a> Provisioner<'a> {
    async fn execute(&self, sql: &str) -> (u16, Value) {
        let response = self
            .emu
            .client
            .post(format!("{}/api/v2/statements", self.emu.url))
            .header("Authorization", format!("Bearer {}", self.automation_pat))
            .header(
                "X-Snowflake-Authorization-Token-Type",
                "PROGRAMMATIC_ACCESS_TOKEN",
            )
            .header("Content-Type", "application/json")
            .body(json!({ "statement": sql, "role": self.role }).to_string())
            .send()
            .await
            .expect("request sent");
        let a = crate::harness::answer(response).await;
        (a.status, a.json)
    }

    async fn execute_ok(&self, sql: &str) -> Value {
        let (status, body) = self.execute(sql).await;
        assert_eq!(status, 200, "{sql}: {body}");
        body
    }

    /// The automation user's session (AUTOMATION_ROLE) with its PAT `automation_pat`.
    fn automation(emu: &'a Emulator, automation_pat: String) -> Self {
        Self {
            emu,
            automation_pat,
            role: "AUTOMATION_ROLE",
        }
    }

    /// `provision_deployment`, statement 1: the SERVICE user DEPLOYMENT_<id>.
    async fn create_deployment_user(&self, id: &str) {
        self.execute_ok(&format!(
            "CREATE USER IF NOT EXISTS DEPLOYMENT_{id} TYPE = SERVICE DEFAULT_ROLE = CORTEX_REST_API_ROLE"
        ))
        .await;
    }

    /// `provision_deployment`, statements 1–4 (everything before the ADD).
    async fn prepare_deployment(&self, id: &str, auth_policy_fqn: &str) {
        let user = format!("DEPLOYMENT_{id}");
        self.create_deployment_user(id).await;
        self.execute_ok(&format!("GRANT ROLE CORTEX_REST_API_ROLE TO USER {user}"))
            .await;
        self.execute_ok(&format!(
            "ALTER USER {user} SET AUTHENTICATION POLICY {auth_policy_fqn}"
        ))
        .await;
        self.execute_ok(&format!(
            "GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER {user} TO ROLE {}",
            self.role
        ))
        .await;
    }

    /// `provision_deployment`'s ADD statement.
    fn add_statement(id: &str, days_to_expiry: u32) -> String {
        format!(
            "ALTER USER DEPLOYMENT_{id} ADD PROGRAMMATIC ACCESS TOKEN DEPLOYMENT_{id}_PAT \
             ROLE_RESTRICTION = 'CORTEX_REST_API_ROLE' DAYS_TO_EXPIRY = {days_to_expiry} \
             COMMENT = 'Deployment {id}'"
        )
    }

    async fn provision_deployment(&self, id: &str, auth_policy_fqn: &str) -> String {
        self.prepare_deployment(id, auth_policy_fqn).await;
        let result = self.execute_ok(&Self::add_statement(id, 90)).await;
        result["data"][0][1]
            .as_str()
            .expect("token_secret in data[0][1]")
            .to_owned()
    }

    async fn rotate_pat(&self, id: &str, grace_hours: u32) -> String {
        let result = self
            .execute_ok(&format!(
                "ALTER USER DEPLOYMENT_{id} ROTATE PROGRAMMATIC ACCESS TOKEN DEPLOYMENT_{id}_PAT \
                 EXPIRE_ROTATED_TOKEN_AFTER_HOURS = {grace_hours}"
            ))
            .await;
        result["data"][0][1]
            .as_str()
            .expect("token_secret in data[0][1]")
            .to_owned()
    }

    async fn revoke_deployment(&self, id: &str) {
        self.execute_ok(&format!(
            "ALTER USER DEPLOYMENT_{id} REMOVE PROGRAMMATIC ACCESS TOKEN DEPLOYMENT_{id}_PAT"
        ))
        .await;
    }

    async fn disable_deployment(&self, id: &str) {
        self.execute_ok(&format!("ALTER USER DEPLOYMENT_{id} SET DISABLED = TRUE"))
            .await;
    }
}

fn policy_fqn() -> String {
    format!("{DB}.PUBLIC.DEPLOYMENT_AUTH_POLICY")
}

/// The seed's curl calls: (inference:complete status, v1/messages status, last body).
async fn cortex_calls(emu: &Emulator, token: &str, id: &str) -> (u16, u16, Value) {
    let hello = format!("Hello from deployment {id}");
    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for (path, body) in [
        (
            "inference:complete",
            json!({"model": "claude-sonnet-4-5", "stream": false,
                   "messages": [{"role": "user", "content": hello}]}),
        ),
        (
            "v1/messages",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
                   "messages": [{"role": "user", "content": hello}]}),
        ),
    ] {
        let response = emu
            .client
            .post(format!("{}/api/v2/cortex/{path}", emu.url))
            .header("Authorization", format!("Bearer {token}"))
            .header(
                "X-Snowflake-Authorization-Token-Type",
                "PROGRAMMATIC_ACCESS_TOKEN",
            )
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent");
        let a = crate::harness::answer(response).await;
        statuses.push(a.status);
        last = a.json;
    }
    (statuses[0], statuses[1], last)
}

/// Asserts both Cortex endpoints refuse `token` with 401 `394400`.
async fn assert_cortex_refused(emu: &Emulator, token: &str) {
    let (complete, messages, body) = cortex_calls(emu, token, "0001").await;
    assert_eq!((complete, messages), (401, 401), "{body}");
    assert_eq!(body["code"], "394400", "{body}");
}

fn message(body: &Value) -> String {
    body["message"]
        .as_str()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------

/// The whole write-up as written: setup, provisioning, Cortex, rotation with grace, revocation,
/// and disabling a second deployment.
#[tokio::test]
async fn seed_000_works_as_written() {
    let emu = Emulator::start().await;
    let automation_pat = setup(&emu).await;
    let provisioner = Provisioner::automation(&emu, automation_pat);

    let token = provisioner
        .provision_deployment("0001", &policy_fqn())
        .await;
    let (complete, messages, body) = cortex_calls(&emu, &token, "0001").await;
    assert_eq!((complete, messages), (200, 200), "{body}");
    assert_eq!(body["type"], "message", "{body}");

    // What the account now holds (AUTOMATION_ROLE owns the user; ADMIN's roles do not, §4.3).
    let show = provisioner
        .execute_ok("SHOW USER PATS FOR USER DEPLOYMENT_0001")
        .await;
    assert_eq!(
        column(&show, "role_restriction"),
        [json!("CORTEX_REST_API_ROLE")]
    );
    assert_eq!(column(&show, "created_by"), [json!("AUTOMATION_USER")]);
    let users = emu.admin_ok("SHOW USERS LIKE 'DEPLOYMENT_0001'").await;
    assert_eq!(column(&users, "owner"), [json!("AUTOMATION_ROLE")]);

    // Rotate with a 24 h grace: both secrets work until the grace ends.
    let new_token = provisioner.rotate_pat("0001", 24).await;
    assert_ne!(new_token, token);
    emu.advance_clock(23 * HOUR).await;
    let (c, m, body) = cortex_calls(&emu, &new_token, "0001").await;
    assert_eq!((c, m), (200, 200), "{body}");
    let (c, m, body) = cortex_calls(&emu, &token, "0001").await;
    assert_eq!((c, m), (200, 200), "{body}");
    emu.advance_clock(2 * HOUR).await;
    assert_cortex_refused(&emu, &token).await;
    let (c, m, body) = cortex_calls(&emu, &new_token, "0001").await;
    assert_eq!((c, m), (200, 200), "{body}");

    // Revoke (immediate).
    provisioner.revoke_deployment("0001").await;
    assert_cortex_refused(&emu, &new_token).await;

    // A second deployment, then disable the user.
    let second = provisioner
        .provision_deployment("0002", &policy_fqn())
        .await;
    let (c, m, body) = cortex_calls(&emu, &second, "0002").await;
    assert_eq!((c, m), (200, 200), "{body}");
    provisioner.disable_deployment("0002").await;
    assert_cortex_refused(&emu, &second).await;
}

/// Troubleshooting "Role restriction does not match the session role" — the seed's opening
/// problem: an automation PAT restricted to AUTOMATION_ROLE cannot issue a PAT restricted to
/// CORTEX_REST_API_ROLE (§6.7 S3, 099421).
#[tokio::test]
async fn seed_000_troubleshooting_role_restriction_mismatch() {
    let emu = Emulator::start().await;
    setup(&emu).await;
    let body = emu
        .admin_ok(
            "ALTER USER AUTOMATION_USER ADD PROGRAMMATIC ACCESS TOKEN restricted_pat \
             ROLE_RESTRICTION = 'AUTOMATION_ROLE' DAYS_TO_EXPIRY = 90",
        )
        .await;
    let restricted = crate::harness::secret_of(&body);
    let provisioner = Provisioner::automation(&emu, restricted);
    provisioner.prepare_deployment("0001", &policy_fqn()).await;
    let mark = emu.log_mark().await;
    let (status, body) = provisioner
        .execute(&Provisioner::add_statement("0001", 90))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099421", "{body}");
    assert_eq!(body["sqlState"], "42501", "{body}");
    assert!(
        message(&body).contains(
            "The specified role restriction CORTEX_REST_API_ROLE does not match the session role AUTOMATION_ROLE"
        ),
        "{body}"
    );
    let lines = emu.control_log(mark).await;
    assert!(lines.iter().all(|l| l["executed"] == false), "{lines:?}");
    let show = provisioner
        .execute_ok("SHOW USER PATS FOR USER DEPLOYMENT_0001")
        .await;
    assert!(column(&show, "name").is_empty(), "{show}");
}

/// Troubleshooting "Role restriction is required when creating a programmatic access token": the
/// automation user under the strict policy, Step 4 issuing its PAT without a restriction (099904).
#[tokio::test]
async fn seed_000_troubleshooting_role_restriction_required() {
    let emu = Emulator::start().await;
    emu.admin_ok(&format!("CREATE DATABASE {DB}")).await;
    step_ok(&emu, STEP_1).await;
    step_ok(&emu, STEP_2).await;
    step_ok(&emu, STEP_3).await;
    let strict = STEP_4.replace("automation_auth_policy", "deployment_auth_policy");
    let (status, body) = step(&emu, &strict).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099904", "{body}");
    assert_eq!(body["sqlState"], "22023", "{body}");
    assert!(
        message(&body)
            .contains("Role restriction is required when creating a programmatic access token"),
        "{body}"
    );
    let show = emu
        .admin_ok("SHOW USER PATS FOR USER AUTOMATION_USER")
        .await;
    assert!(column(&show, "name").is_empty(), "{show}");
}

/// Troubleshooting "Grant not executed: Insufficient privileges": Step 2 without the ownership
/// transfer, so AUTOMATION_ROLE cannot grant the runtime role (§5.5, 003001).
#[tokio::test]
async fn seed_000_troubleshooting_grant_insufficient_privileges() {
    let emu = Emulator::start().await;
    emu.admin_ok(&format!("CREATE DATABASE {DB}")).await;
    step_ok(&emu, STEP_1).await;
    let without_ownership = STEP_2
        .split_once("-- OWNERSHIP allows")
        .map(|(head, _)| head.to_owned())
        .expect("step 2 has the ownership transfer");
    step_ok(&emu, &without_ownership).await;
    step_ok(&emu, STEP_3).await;
    let automation_pat = {
        let body = step_ok(&emu, STEP_4).await;
        secret_from_children(&emu, &body).await
    };
    let provisioner = Provisioner::automation(&emu, automation_pat);
    provisioner.create_deployment_user("0001").await;
    let (status, body) = provisioner
        .execute("GRANT ROLE CORTEX_REST_API_ROLE TO USER DEPLOYMENT_0001")
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "003001", "{body}");
    assert_eq!(body["sqlState"], "42501", "{body}");
    assert!(
        message(&body).contains("Grant not executed: Insufficient privileges"),
        "{body}"
    );
    let grants = emu
        .admin_ok("SHOW GRANTS OF ROLE CORTEX_REST_API_ROLE")
        .await;
    assert!(
        !column(&grants, "grantee_name").contains(&json!("DEPLOYMENT_0001")),
        "{grants}"
    );
}

/// Troubleshooting "Role X is not granted to user Y": the GRANT ROLE step skipped before the ADD
/// (§6.3 step 7, 099905).
#[tokio::test]
async fn seed_000_troubleshooting_role_not_granted() {
    let emu = Emulator::start().await;
    let automation_pat = setup(&emu).await;
    let provisioner = Provisioner::automation(&emu, automation_pat);
    provisioner.create_deployment_user("0001").await;
    provisioner
        .execute_ok(&format!(
            "ALTER USER DEPLOYMENT_0001 SET AUTHENTICATION POLICY {}",
            policy_fqn()
        ))
        .await;
    provisioner
        .execute_ok(
            "GRANT MODIFY PROGRAMMATIC AUTHENTICATION METHODS ON USER DEPLOYMENT_0001 TO ROLE AUTOMATION_ROLE",
        )
        .await;
    let (status, body) = provisioner
        .execute(&Provisioner::add_statement("0001", 90))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "099905", "{body}");
    assert_eq!(body["sqlState"], "42501", "{body}");
    assert!(
        message(&body).contains("Role CORTEX_REST_API_ROLE is not granted to user DEPLOYMENT_0001"),
        "{body}"
    );
}

/// Troubleshooting "Authentication policy does not exist or not authorized": Step 3 without the
/// ownership transfer of the deployment policy, so AUTOMATION_ROLE cannot attach it (§4.2, 002003).
#[tokio::test]
async fn seed_000_troubleshooting_policy_not_authorized() {
    let emu = Emulator::start().await;
    emu.admin_ok(&format!("CREATE DATABASE {DB}")).await;
    step_ok(&emu, STEP_1).await;
    step_ok(&emu, STEP_2).await;
    let without_ownership = STEP_3
        .split_once("-- Give automation role ownership")
        .map(|(head, _)| head.to_owned())
        .expect("step 3 has the ownership transfer");
    step_ok(&emu, &without_ownership).await;
    let automation_pat = {
        let body = step_ok(&emu, STEP_4).await;
        secret_from_children(&emu, &body).await
    };
    let provisioner = Provisioner::automation(&emu, automation_pat);
    provisioner.create_deployment_user("0001").await;
    provisioner
        .execute_ok("GRANT ROLE CORTEX_REST_API_ROLE TO USER DEPLOYMENT_0001")
        .await;
    let (status, body) = provisioner
        .execute(&format!(
            "ALTER USER DEPLOYMENT_0001 SET AUTHENTICATION POLICY {}",
            policy_fqn()
        ))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "002003", "{body}");
    assert_eq!(body["sqlState"], "42S02", "{body}");
    let text = message(&body).to_ascii_lowercase();
    assert!(
        text.contains("authentication policy") && text.contains("does not exist or not authorized"),
        "{body}"
    );
}
