//! `snowpat audit`: read the account's users, tokens, network policies and the grants of the roles
//! tokens are restricted to, and report what is risky, each finding with the SQL that fixes it
//! (rendered from `snowpat_sql::ast::Statement`, never assembled by hand).
//!
//! Coverage comes first: an audit reports how many users it saw and how many users' tokens it
//! could read, and an `unreadable` finding for each user (or list) it could not inspect, so an
//! audit run by a role that sees nothing never looks clean (`interfaces.md` `audit`).
//!
//! Expiry windows use server time (`SELECT CURRENT_TIMESTAMP()`), never the local clock
//! (`snowflake-behaviour.md` §6.2: tokens are non-expired by the server's clock).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use snowpat_client::{Client, ResultSet, ServerTime, Statement as Wire};
use snowpat_sql::ast::{
    AddPat, AlterUserAction, Expr, GrantTarget, Ident, ObjectKind, ObjectName, Privileges,
    Property, Select, SelectItem, ShowFilter, ShowGrantsTarget, Statement, Value,
};

/// The 15-token limit per user (§6.2); a user at or above [`NEAR_LIMIT`] is reported.
pub const TOKEN_LIMIT: usize = 15;
/// Tokens held at which a user is "near the limit".
pub const NEAR_LIMIT: usize = 12;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// `critical`, `high`, `medium`, `low`, `info`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Parses `critical|high|medium|low|info` (case-insensitive).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "info" => Some(Self::Info),
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

/// What kind of problem a finding is: the SARIF rule id.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A user or list the auditing role could not read.
    Unreadable,
    /// A PAT with no ROLE_RESTRICTION: it acts with any role the user has.
    UnrestrictedPat,
    /// A PERSON user allowed to (and holding) PATs.
    PersonUserPat,
    /// A SERVICE user with tokens and no network policy.
    ServiceUserNoNetworkPolicy,
    /// A SERVICE user whose effective authentication policy has
    /// `NETWORK_POLICY_EVALUATION = NOT_ENFORCED`: no network policy applies to its tokens.
    ServiceUserNetworkNotEnforced,
    /// A token expiring within the window.
    TokenExpiringSoon,
    /// A token expired but still listed (counts against nothing, but is clutter and evidence).
    TokenExpiredListed,
    /// A user at or above 12 of the 15 tokens.
    NearTokenLimit,
    /// A role tokens are restricted to that is over-privileged.
    OverPrivilegedRestrictedRole,
    /// An authentication or network policy owned by a role that applies it (or that tokens run
    /// as): that role can loosen the policy that constrains the users it manages.
    PolicyOwnedByApplyingRole,
    /// A PERSON user whose effective authentication policy allows PATs where the account (or
    /// `--person-pats-barred`) bars them (§5.9.5).
    PersonUserPatAllowed,
    /// An automation role that can mint PATs for users outside the store's tenants.
    AutomationMintsOutsideTenants,
}

impl Rule {
    /// Every rule, for SARIF's rule list.
    pub const ALL: [Rule; 12] = [
        Rule::Unreadable,
        Rule::UnrestrictedPat,
        Rule::PersonUserPat,
        Rule::ServiceUserNoNetworkPolicy,
        Rule::ServiceUserNetworkNotEnforced,
        Rule::TokenExpiringSoon,
        Rule::TokenExpiredListed,
        Rule::NearTokenLimit,
        Rule::OverPrivilegedRestrictedRole,
        Rule::PolicyOwnedByApplyingRole,
        Rule::PersonUserPatAllowed,
        Rule::AutomationMintsOutsideTenants,
    ];

    /// The kebab-case id.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Rule::Unreadable => "unreadable",
            Rule::UnrestrictedPat => "unrestricted-pat",
            Rule::PersonUserPat => "person-user-pat",
            Rule::ServiceUserNoNetworkPolicy => "service-user-no-network-policy",
            Rule::ServiceUserNetworkNotEnforced => "service-user-network-not-enforced",
            Rule::TokenExpiringSoon => "token-expiring-soon",
            Rule::TokenExpiredListed => "token-expired-listed",
            Rule::NearTokenLimit => "near-token-limit",
            Rule::OverPrivilegedRestrictedRole => "over-privileged-restricted-role",
            Rule::PolicyOwnedByApplyingRole => "policy-owned-by-applying-role",
            Rule::PersonUserPatAllowed => "person-user-pat-allowed",
            Rule::AutomationMintsOutsideTenants => "automation-mints-outside-tenants",
        }
    }

    /// One line on what the rule checks.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Rule::Unreadable => "The auditing role could not inspect this object; the audit does not cover it.",
            Rule::UnrestrictedPat => "A programmatic access token without ROLE_RESTRICTION acts with every role of its user.",
            Rule::PersonUserPat => "A PERSON user holds programmatic access tokens; people should sign in interactively.",
            Rule::ServiceUserNoNetworkPolicy => "A SERVICE user with tokens is not under a network policy (§6.5).",
            Rule::ServiceUserNetworkNotEnforced => "A SERVICE user's authentication policy sets NETWORK_POLICY_EVALUATION = NOT_ENFORCED: network policies do not apply to its tokens (§6.5).",
            Rule::TokenExpiringSoon => "A token expires within the audit window; rotate it before it does.",
            Rule::TokenExpiredListed => "An expired token is still listed; remove it.",
            Rule::NearTokenLimit => "The user holds 12 or more of the 15 tokens a user may hold (§6.2).",
            Rule::OverPrivilegedRestrictedRole => "A role that tokens are restricted to is over-privileged (ACCOUNTADMIN, SECURITYADMIN, MANAGE GRANTS, or owns an authentication policy).",
            Rule::PolicyOwnedByApplyingRole => "A policy is owned by a role that applies it (or that tokens run as), so that role can loosen the policy that constrains the users it manages.",
            Rule::PersonUserPatAllowed => "A PERSON user's effective authentication policy allows programmatic access tokens although the account bars them for person users (§5.9.5).",
            Rule::AutomationMintsOutsideTenants => "An automation role can mint programmatic access tokens for users that are not tenants in the store (OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on them, or account-wide grants).",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// The object: `USER X`, `PAT X.T`, `ROLE R`, `AUTHENTICATION POLICY P`.
    pub object: String,
    /// Why it matters.
    pub why: String,
    /// SQL that fixes it (rendered statements; may be empty when no statement can, e.g.
    /// `unreadable`, whose fix is a grant to the auditing role).
    pub fix: Vec<String>,
}

/// What the audit managed to read.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize)]
pub struct Coverage {
    /// The source of token data: `ACCOUNT_USAGE.CREDENTIALS` or `SHOW USER PATS`.
    pub source: String,
    /// Users listed by SHOW USERS.
    pub users_seen: usize,
    /// Users whose tokens were read.
    pub users_inspected: usize,
    /// Tokens read.
    pub tokens_read: usize,
    /// Users (or lists) not readable.
    pub unreadable: Vec<String>,
    /// The server time the windows were computed from (RFC 3339).
    pub server_time: String,
}

/// The result of an audit.
#[derive(Clone, Debug, Default, Eq, PartialEq, Serialize)]
pub struct Report {
    pub coverage: Coverage,
    /// Sorted most severe first, then by rule and object.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The most severe finding's severity.
    #[must_use]
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Whether a finding at or above `threshold` exists (`--fail-on`, exit 4).
    #[must_use]
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }
}

/// Audit options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Tokens expiring within this window are reported (default 14 days).
    pub expiry_window: Duration,
    /// Read tokens from `SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS` when the role may (one query for
    /// the whole account), else per user with SHOW USER PATS. `false` forces the latter.
    pub use_account_usage: bool,
    /// Whether PERSON users must not be able to use PATs (seed 001's pairing: a no-PAT policy
    /// for person users). `None`: barred when the account-level policy that governs person users
    /// (the PERSON_USERS slot, else the account-wide one) leaves PROGRAMMATIC_ACCESS_TOKEN out.
    pub person_pats_barred: Option<bool>,
    /// The automation roles and the store's tenants: each role's minting reach is checked
    /// against the tenants' users. `None`: not checked.
    pub automation: Option<Automation>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            expiry_window: Duration::days(14),
            use_account_usage: true,
            person_pats_barred: None,
            automation: None,
        }
    }
}

/// The automation roles whose reach is audited and the users they may legitimately mint for.
#[derive(Clone, Debug, Default)]
pub struct Automation {
    /// Roles (names as stored, e.g. `AUTOMATION_ROLE`).
    pub roles: Vec<String>,
    /// The users of the store's tenants.
    pub tenant_users: BTreeSet<String>,
    /// Users the roles may also reach without a finding (the automation user itself).
    pub also_allowed: BTreeSet<String>,
}

/// Errors that stop an audit before it can report anything.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// `SELECT CURRENT_TIMESTAMP()` failed: without server time no window can be computed.
    #[error("cannot read the server time: {0}")]
    ServerTime(#[source] snowpat_client::Error),
    /// The answer to `SELECT CURRENT_TIMESTAMP()` had no timestamp.
    #[error("the server time could not be parsed")]
    ServerTimeShape,
}

struct Token {
    name: String,
    role_restriction: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    status: String,
}

fn render(s: &Statement) -> String {
    format!("{s};")
}

fn wire(s: &Statement) -> Wire {
    Wire::new(s.to_string())
}

fn text(row: &snowpat_client::Row, col: &str) -> Option<String> {
    row.get::<Option<String>>(col)
        .ok()
        .flatten()
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("null"))
}

/// Reads the server time.
async fn server_now(client: &Client) -> Result<DateTime<Utc>, AuditError> {
    let select = Statement::Select(Select {
        items: vec![SelectItem {
            expr: Expr::Function {
                name: "CURRENT_TIMESTAMP".into(),
                args: vec![],
            },
            alias: Some(Ident::new("NOW")),
        }],
        from: None,
        filter: vec![],
    });
    let rs = client
        .execute(&wire(&select))
        .await
        .map_err(AuditError::ServerTime)?;
    rs.first()
        .and_then(|r| r.get::<ServerTime>("NOW").ok())
        .map(|t| t.as_datetime())
        .ok_or(AuditError::ServerTimeShape)
}

fn unreadable(object: String, what: &str, err: &snowpat_client::Error) -> Finding {
    let code = err
        .api()
        .and_then(|a| a.code.clone())
        .unwrap_or_else(|| "?".into());
    Finding {
        rule: Rule::Unreadable,
        severity: Severity::High,
        object,
        why: format!(
            "{what} could not be read (code {code}); the audit does not cover it, so a clean report would not mean it is clean. Grant the auditing role MANAGE GRANTS or OWNERSHIP on the user, or run as SECURITYADMIN."
        ),
        fix: vec![],
    }
}

/// Runs the audit with the client's identity.
///
/// # Errors
/// Only when the server time cannot be read; every other failure becomes an `unreadable` finding.
pub async fn run(client: &Client, options: &Options) -> Result<Report, AuditError> {
    let now = server_now(client).await?;
    let mut report = Report {
        coverage: Coverage {
            source: "SHOW USER PATS".into(),
            server_time: now.to_rfc3339(),
            ..Coverage::default()
        },
        findings: vec![],
    };

    // 1. Users.
    let users = match client
        .execute(&wire(&Statement::ShowUsers {
            terse: false,
            filter: ShowFilter::default(),
        }))
        .await
    {
        Ok(rs) => rs,
        Err(e) => {
            report.coverage.unreadable.push("SHOW USERS".into());
            report
                .findings
                .push(unreadable("ACCOUNT USERS".into(), "The list of users", &e));
            sort(&mut report.findings);
            return Ok(report);
        }
    };
    visibility(&mut report, client, users.len()).await;
    let owners: BTreeMap<String, String> = users
        .rows()
        .iter()
        .filter_map(|r| Some((text(r, "name")?, text(r, "owner")?)))
        .collect();
    let users: Vec<(String, String)> = users
        .rows()
        .iter()
        .filter_map(|r| {
            let name = text(r, "name")?;
            let ty = text(r, "type").unwrap_or_else(|| "PERSON".into());
            Some((name, ty.to_ascii_uppercase()))
        })
        .collect();
    report.coverage.users_seen = users.len();

    // One query for every token of the account, where the role may read the view.
    let mut from_view = if options.use_account_usage {
        credentials(client).await
    } else {
        None
    };
    if from_view.is_some() {
        report.coverage.source = "ACCOUNT_USAGE.CREDENTIALS".into();
    }

    // role restriction -> users whose tokens run as it
    let mut restricted_roles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();

    for (user, user_type) in &users {
        let uid = Ident::new(user.clone());
        // Tokens come from ACCOUNT_USAGE.CREDENTIALS when it was readable, else SHOW USER PATS.
        let tokens = if let Some(view) = from_view.as_mut() {
            view.remove(user).unwrap_or_default()
        } else {
            match client
                .execute(&wire(&Statement::ShowUserPats {
                    for_user: Some(uid.clone()),
                }))
                .await
            {
                Ok(rs) => parse_tokens(&rs),
                Err(e) => {
                    report.coverage.unreadable.push(user.clone());
                    report.findings.push(unreadable(
                        format!("USER {user}"),
                        &format!("The tokens of user {user}"),
                        &e,
                    ));
                    continue;
                }
            }
        };
        report.coverage.users_inspected += 1;
        report.coverage.tokens_read += tokens.len();
        user_findings(
            &mut report.findings,
            client,
            user,
            user_type,
            &tokens,
            now,
            options,
        )
        .await;
        for t in &tokens {
            if let Some(r) = &t.role_restriction {
                restricted_roles
                    .entry(r.clone())
                    .or_default()
                    .insert(user.clone());
            }
        }
    }

    // 2. Roles tokens are restricted to.
    for (role, holders) in &restricted_roles {
        role_findings(&mut report, client, role, holders).await;
    }

    // 3. Policies: who may use PATs, and who owns the policies they apply.
    let mut policies = Policies::default();
    let attached = attachments(&mut report, client, &users, &owners).await;
    let slots = account_slots(&mut report, client).await;
    person_pat_findings(
        &mut report,
        client,
        &mut policies,
        &attached,
        &slots,
        options,
    )
    .await;
    policy_owner_findings(&mut report, client, &mut policies, &attached, &slots).await;

    // 4. Automation roles' reach.
    if let Some(automation) = &options.automation {
        automation_findings(&mut report, client, &mut policies, automation).await;
    }

    sort(&mut report.findings);
    let mut seen = BTreeSet::new();
    report
        .findings
        .retain(|f| seen.insert((f.rule, f.object.clone())));
    Ok(report)
}

/// SHOW USERS lists only the users the role has a privilege on: unless the auditing role is
/// ACCOUNTADMIN or SECURITYADMIN (or inherits one) or holds MANAGE GRANTS, users may be missing
/// from the list, and the report says so instead of looking clean.
/// Likewise SHOW AUTHENTICATION POLICIES lists every policy only to a role with APPLY
/// AUTHENTICATION POLICY on the account (§4.3); without it the policy rules are incomplete.
async fn visibility(report: &mut Report, client: &Client, listed: usize) {
    let current = Statement::Select(Select {
        items: vec![SelectItem {
            expr: Expr::Function {
                name: "CURRENT_ROLE".into(),
                args: vec![],
            },
            alias: Some(Ident::new("ROLE")),
        }],
        from: None,
        filter: vec![],
    });
    let role = match client.execute(&wire(&current)).await {
        Ok(rs) => rs.first().and_then(|r| text(r, "ROLE")),
        Err(_) => None,
    };
    let powerful = ["ACCOUNTADMIN", "SECURITYADMIN"];
    let (full, policies_visible) = match &role {
        Some(r) if powerful.contains(&r.as_str()) => (true, true),
        Some(r) => match client
            .execute(&wire(&Statement::ShowGrants(ShowGrantsTarget::ToRole(
                Ident::new(r.clone()),
            ))))
            .await
        {
            Ok(rs) => {
                let admin = rs.rows().iter().any(|g| {
                    let privilege = text(g, "privilege").unwrap_or_default();
                    let on = text(g, "granted_on").unwrap_or_default();
                    let name = text(g, "name").unwrap_or_default();
                    on.eq_ignore_ascii_case("ROLE")
                        && privilege.eq_ignore_ascii_case("USAGE")
                        && powerful.contains(&name.as_str())
                });
                let account_privilege = |wanted: &str| {
                    rs.rows().iter().any(|g| {
                        text(g, "privilege").is_some_and(|p| p.eq_ignore_ascii_case(wanted))
                            && text(g, "granted_on")
                                .is_some_and(|o| o.eq_ignore_ascii_case("ACCOUNT"))
                    })
                };
                (
                    admin || account_privilege("MANAGE GRANTS"),
                    admin || account_privilege("APPLY AUTHENTICATION POLICY"),
                )
            }
            Err(_) => (false, false),
        },
        None => (false, false),
    };
    let who = role.clone().unwrap_or_else(|| "the current role".into());
    if !policies_visible {
        report
            .coverage
            .unreadable
            .push(format!("authentication policies not visible to {who}"));
        report.findings.push(Finding {
            rule: Rule::Unreadable,
            severity: Severity::High,
            object: "ACCOUNT AUTHENTICATION POLICIES".into(),
            why: format!(
                "The auditing role {who} holds no APPLY AUTHENTICATION POLICY on the account; SHOW AUTHENTICATION POLICIES lists only the policies it has a privilege on, so policies that allow or bar PATs may be missing and the policy rules of this audit are incomplete. Run it as SECURITYADMIN."
            ),
            fix: vec![],
        });
    }

    if !full {
        report
            .coverage
            .unreadable
            .push(format!("users not visible to {who}"));
        report.findings.push(Finding {
            rule: Rule::Unreadable,
            severity: Severity::High,
            object: "ACCOUNT USERS".into(),
            why: format!(
                "The auditing role {who} holds neither MANAGE GRANTS nor ACCOUNTADMIN/SECURITYADMIN; SHOW USERS lists only users it has privileges on ({listed} listed), so users and their tokens may be missing from this audit. Run it as SECURITYADMIN, or grant MANAGE GRANTS to the auditing role."
            ),
            fix: vec![],
        });
    }
}

fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.rule.cmp(&b.rule))
            .then(a.object.cmp(&b.object))
    });
}

/// `SELECT * FROM SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS WHERE TYPE = 'PAT'` grouped by user, or
/// `None` when the role may not read the view (then SHOW USER PATS per user).
async fn credentials(client: &Client) -> Option<BTreeMap<String, Vec<Token>>> {
    let select = Statement::Select(Select {
        items: vec![SelectItem {
            expr: Expr::Wildcard,
            alias: None,
        }],
        from: Some(ObjectName(vec![
            Ident::new("SNOWFLAKE"),
            Ident::new("ACCOUNT_USAGE"),
            Ident::new("CREDENTIALS"),
        ])),
        filter: vec![(Ident::new("TYPE"), Expr::String("PAT".into()))],
    });
    let rs = match client.execute(&wire(&select)).await {
        Ok(rs) => rs,
        Err(e) => {
            tracing::debug!(
                "ACCOUNT_USAGE.CREDENTIALS not readable, falling back to SHOW USER PATS: {e}"
            );
            return None;
        }
    };
    let mut by_user: BTreeMap<String, Vec<Token>> = BTreeMap::new();
    for r in rs.rows() {
        let (Some(name), Some(user)) = (text(r, "NAME"), text(r, "USER_NAME")) else {
            continue;
        };
        if text(r, "DELETED_ON").is_some() {
            continue;
        }
        let details: serde_json::Value = text(r, "ADDITIONAL_DETAILS")
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or(serde_json::Value::Null);
        by_user.entry(user).or_default().push(Token {
            name,
            role_restriction: details
                .get("ROLE_RESTRICTION")
                .and_then(serde_json::Value::as_str)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            expires_at: r
                .get::<Option<ServerTime>>("EXPIRATION_DATE")
                .ok()
                .flatten()
                .map(|t| t.as_datetime()),
            status: text(r, "STATUS").unwrap_or_default().to_ascii_uppercase(),
        });
    }
    Some(by_user)
}

fn parse_tokens(rs: &ResultSet) -> Vec<Token> {
    rs.rows()
        .iter()
        .filter_map(|r| {
            Some(Token {
                name: text(r, "name")?,
                role_restriction: text(r, "role_restriction"),
                expires_at: r
                    .get::<Option<ServerTime>>("expires_at")
                    .ok()
                    .flatten()
                    .map(|t| t.as_datetime()),
                status: text(r, "status").unwrap_or_default().to_ascii_uppercase(),
            })
        })
        .collect()
}

fn alter_user(user: &str, action: AlterUserAction) -> Statement {
    Statement::AlterUser {
        if_exists: false,
        user: Some(Ident::new(user)),
        action,
    }
}

async fn user_findings(
    out: &mut Vec<Finding>,
    client: &Client,
    user: &str,
    user_type: &str,
    tokens: &[Token],
    now: DateTime<Utc>,
    options: &Options,
) {
    let live: Vec<&Token> = tokens
        .iter()
        .filter(|t| t.status != "EXPIRED" && t.expires_at.is_none_or(|e| e > now))
        .collect();
    for t in tokens {
        let object = format!("PAT {user}.{}", t.name);
        let remove = render(&alter_user(
            user,
            AlterUserAction::RemovePat {
                if_exists: true,
                name: Ident::new(t.name.clone()),
            },
        ));
        let expired = t.status == "EXPIRED" || t.expires_at.is_some_and(|e| e <= now);
        if expired {
            out.push(Finding {
                rule: Rule::TokenExpiredListed,
                severity: Severity::Low,
                object,
                why: "The token has expired but is still listed; remove it so the list shows only usable credentials.".into(),
                fix: vec![remove],
            });
            continue;
        }
        if t.role_restriction.is_none() {
            let add = render(&alter_user(
                user,
                AlterUserAction::AddPat(AddPat {
                    if_not_exists: false,
                    name: Ident::new(format!("{}_RESTRICTED", t.name)),
                    role_restriction: Some(Ident::new("<ROLE>")),
                    ..AddPat::default()
                }),
            ));
            out.push(Finding {
                rule: Rule::UnrestrictedPat,
                severity: Severity::High,
                object: object.clone(),
                why: "The token has no ROLE_RESTRICTION: whoever holds it can act with every role granted to the user, including roles granted later. A restriction cannot be added to an existing token: add a restricted one, move the consumer, remove this one.".into(),
                fix: vec![add, remove.clone()],
            });
        }
        if let Some(exp) = t.expires_at {
            if exp - now <= options.expiry_window {
                let rotate = render(&alter_user(
                    user,
                    AlterUserAction::RotatePat {
                        if_exists: false,
                        name: Ident::new(t.name.clone()),
                        expire_rotated_token_after_hours: Some(24),
                    },
                ));
                out.push(Finding {
                    rule: Rule::TokenExpiringSoon,
                    severity: Severity::Medium,
                    object,
                    why: format!(
                        "The token expires at {} (server time), within the {}-day window; its consumer will start failing with 394400.",
                        exp.to_rfc3339(),
                        options.expiry_window.num_days()
                    ),
                    fix: vec![rotate],
                });
            }
        }
    }
    if live.len() >= NEAR_LIMIT {
        out.push(Finding {
            rule: Rule::NearTokenLimit,
            severity: Severity::Medium,
            object: format!("USER {user}"),
            why: format!(
                "The user holds {} non-expired tokens of the {TOKEN_LIMIT} allowed (disabled and rotated ones count); the next ADD PAT may fail with 099903.",
                live.len()
            ),
            fix: vec![],
        });
    }
    if live.is_empty() {
        return;
    }
    if user_type == "PERSON" {
        let policy = ObjectName::simple(format!("{user}_NO_PAT"));
        out.push(Finding {
            rule: Rule::PersonUserPat,
            severity: Severity::Medium,
            object: format!("USER {user}"),
            why: "A PERSON user holds programmatic access tokens: a long-lived secret for a human, outside MFA. Use a SERVICE user for automation, and an authentication policy without PROGRAMMATIC_ACCESS_TOKEN for people.".into(),
            fix: vec![
                render(&Statement::CreateAuthenticationPolicy {
                    create: snowpat_sql::ast::CreateMode::Create,
                    if_not_exists: true,
                    name: policy.clone(),
                    properties: vec![Property::new(
                        "AUTHENTICATION_METHODS",
                        Value::List(vec![
                            Value::String("PASSWORD".into()),
                            Value::String("SAML".into()),
                        ]),
                    )],
                }),
                render(&alter_user(
                    user,
                    AlterUserAction::SetAuthenticationPolicy {
                        policy,
                        force: false,
                    },
                )),
            ],
        });
    }
    if user_type == "SERVICE" {
        match not_enforced_policy(client, user).await {
            Ok(Some(policy)) => out.push(Finding {
                rule: Rule::ServiceUserNetworkNotEnforced,
                severity: Severity::High,
                object: format!("USER {user}"),
                why: format!("The authentication policy {policy} in effect for this SERVICE user sets NETWORK_POLICY_EVALUATION = NOT_ENFORCED: its tokens work from any address, network policy or not (§6.5)."),
                fix: vec![render(&Statement::AlterAuthenticationPolicy {
                    if_exists: false,
                    name: parse_name(&policy),
                    action: snowpat_sql::ast::AlterPolicyAction::Set(vec![Property::new(
                        "PAT_POLICY",
                        Value::Properties(vec![Property::new(
                            "NETWORK_POLICY_EVALUATION",
                            Value::Name(ObjectName::simple("ENFORCED_REQUIRED")),
                        )]),
                    )]),
                })],
            }),
            Ok(None) => {}
            Err(e) => out.push(unreadable(
                format!("USER {user}"),
                &format!("The authentication policy of user {user}"),
                &e,
            )),
        }
        match client
            .execute(&wire(&Statement::DescribeUser {
                name: Ident::new(user),
            }))
            .await
        {
            Ok(rs) => {
                let np = rs.rows().iter().find_map(|r| {
                    let prop = text(r, "property")?;
                    if prop.eq_ignore_ascii_case("NETWORK_POLICY") {
                        Some(text(r, "value"))
                    } else {
                        None
                    }
                });
                if np.flatten().is_none() {
                    out.push(Finding {
                        rule: Rule::ServiceUserNoNetworkPolicy,
                        severity: Severity::High,
                        object: format!("USER {user}"),
                        why: "A SERVICE user with tokens has no network policy of its own: a leaked secret works from any address the account policy allows (§6.5).".into(),
                        fix: vec![render(&alter_user(
                            user,
                            AlterUserAction::Set(vec![Property::new(
                                "NETWORK_POLICY",
                                Value::Name(ObjectName::simple("<NETWORK_POLICY>")),
                            )]),
                        ))],
                    });
                }
            }
            Err(e) => out.push(unreadable(
                format!("USER {user}"),
                &format!("The properties of user {user}"),
                &e,
            )),
        }
    }
}

async fn role_findings(
    report: &mut Report,
    client: &Client,
    role: &str,
    holders: &BTreeSet<String>,
) {
    let holders_text = holders.iter().cloned().collect::<Vec<_>>().join(", ");
    if role == "ACCOUNTADMIN" || role == "SECURITYADMIN" || role == "ORGADMIN" {
        report.findings.push(Finding {
            rule: Rule::OverPrivilegedRestrictedRole,
            severity: Severity::Critical,
            object: format!("ROLE {role}"),
            why: format!("Tokens of {holders_text} are restricted to {role}: a leaked secret administers the account. Restrict tokens to a least-privilege role."),
            fix: vec![],
        });
        return;
    }
    // The role and every role it inherits (grants of USAGE on ROLE), as far as they go.
    let mut queue = vec![role.to_owned()];
    let mut visited: BTreeSet<String> = BTreeSet::from([role.to_owned()]);
    while let Some(current) = queue.pop() {
        let grants = match client
            .execute(&wire(&Statement::ShowGrants(ShowGrantsTarget::ToRole(
                Ident::new(current.clone()),
            ))))
            .await
        {
            Ok(rs) => rs,
            Err(e) => {
                report.coverage.unreadable.push(format!("ROLE {current}"));
                report.findings.push(unreadable(
                    format!("ROLE {current}"),
                    &format!("The grants of role {current}"),
                    &e,
                ));
                continue;
            }
        };
        let subject = if current == role {
            format!("{role} (tokens of {holders_text})")
        } else {
            format!("{role} (tokens of {holders_text}), through {current},")
        };
        let rid = Ident::new(current.clone());
        for g in grants.rows() {
            let privilege = text(g, "privilege")
                .unwrap_or_default()
                .to_ascii_uppercase();
            let on = text(g, "granted_on")
                .unwrap_or_default()
                .to_ascii_uppercase()
                .replace('_', " ");
            let name = text(g, "name").unwrap_or_default();
            if on == "ROLE" && privilege == "USAGE" {
                if name == "ACCOUNTADMIN" || name == "SECURITYADMIN" {
                    report.findings.push(Finding {
                        rule: Rule::OverPrivilegedRestrictedRole,
                        severity: Severity::Critical,
                        object: format!("ROLE {role}"),
                        why: format!(
                            "{subject} inherits {name}: a leaked secret administers the account."
                        ),
                        fix: vec![render(&Statement::RevokeRole {
                            grant_option_for: false,
                            role: Ident::new(name.clone()),
                            from: snowpat_sql::ast::Grantee::Role(rid.clone()),
                            behavior: None,
                        })],
                    });
                } else if !SYSTEM_ROLES.contains(&name.as_str()) && visited.insert(name.clone()) {
                    queue.push(name.clone());
                }
            }
            if privilege == "MANAGE GRANTS" {
                report.findings.push(Finding {
                    rule: Rule::OverPrivilegedRestrictedRole,
                    severity: Severity::Critical,
                    object: format!("ROLE {role}"),
                    why: format!(
                        "{subject} holds MANAGE GRANTS: a leaked secret can grant itself anything."
                    ),
                    fix: vec![render(&Statement::RevokePrivileges {
                        grant_option_for: false,
                        privileges: Privileges::List(vec!["MANAGE GRANTS".into()]),
                        on: GrantTarget::Account,
                        from_role: rid.clone(),
                        behavior: None,
                    })],
                });
            }
            if privilege == "OWNERSHIP" && on == "AUTHENTICATION POLICY" {
                report.findings.push(Finding {
                    rule: Rule::PolicyOwnedByApplyingRole,
                    severity: Severity::High,
                    object: format!("AUTHENTICATION POLICY {name}"),
                    why: format!("The policy is owned by {current}, whose privileges tokens of {holders_text} run with (restricted to {role}): a leaked token can loosen the policy that constrains it. Transfer ownership to a policy-admin role."),
                    fix: vec![render(&Statement::GrantOwnership {
                        on: snowpat_sql::ast::OwnershipTarget::Object {
                            kind: ObjectKind::AuthenticationPolicy,
                            name: parse_name(&name),
                        },
                        to_role: Ident::new("ACCOUNTADMIN"),
                        current_grants: Some(snowpat_sql::ast::CurrentGrants::Copy),
                    })],
                });
            }
        }
    }
}

/// The effective authentication policy of a SERVICE user (its own, else the account's
/// SERVICE_USERS slot, else the account's), when it sets NETWORK_POLICY_EVALUATION = NOT_ENFORCED.
async fn not_enforced_policy(
    client: &Client,
    user: &str,
) -> Result<Option<String>, snowpat_client::Error> {
    let show = |on| Statement::ShowAuthenticationPolicies {
        filter: ShowFilter::default(),
        scope: None,
        on: Some(on),
    };
    let qualified = |r: &snowpat_client::Row| {
        let name = text(r, "name")?;
        Some(
            match (text(r, "database_name"), text(r, "schema_name")) {
                (Some(d), Some(s)) => vec![d, s, name],
                _ => vec![name],
            }
            .into_iter()
            .map(|p| snowpat_sql::render::quote_ident(&p))
            .collect::<Vec<_>>()
            .join("."),
        )
    };
    let own = client
        .execute(&wire(&show(snowpat_sql::ast::PolicyOn::User(Ident::new(
            user,
        )))))
        .await?;
    let policy = match own.first().and_then(qualified) {
        Some(p) => Some(p),
        None => {
            let account = client
                .execute(&wire(&show(snowpat_sql::ast::PolicyOn::Account)))
                .await?;
            let pick = |scope: &str| {
                account.rows().iter().find_map(|r| {
                    let options = text(r, "options").unwrap_or_default();
                    if options.contains(scope) {
                        qualified(r)
                    } else {
                        None
                    }
                })
            };
            pick("SERVICE_USERS").or_else(|| pick("\"ACCOUNT\""))
        }
    };
    let Some(policy) = policy else {
        return Ok(None);
    };
    let described = client
        .execute(&wire(&Statement::DescribeAuthenticationPolicy {
            name: parse_name(&policy),
        }))
        .await?;
    let not_enforced = described.rows().iter().any(|r| {
        text(r, "property").is_some_and(|p| p.eq_ignore_ascii_case("PAT_POLICY"))
            && text(r, "value").is_some_and(|v| {
                v.to_ascii_uppercase()
                    .contains("NETWORK_POLICY_EVALUATION=NOT_ENFORCED")
            })
    });
    Ok(not_enforced.then_some(policy))
}

fn parse_name(name: &str) -> ObjectName {
    ObjectName(
        name.split('.')
            .map(|p| Ident::new(p.trim_matches('"')))
            .collect(),
    )
}

// ---- policies and automation reach ----

/// The system roles (§3.1): never walked into when following a role's inheritance.
const SYSTEM_ROLES: [&str; 6] = [
    "ACCOUNTADMIN",
    "SECURITYADMIN",
    "USERADMIN",
    "SYSADMIN",
    "ORGADMIN",
    "PUBLIC",
];
/// Roles that administer the account anyway: owning a policy they apply is their job.
const ADMIN_ROLES: [&str; 3] = ["ACCOUNTADMIN", "SECURITYADMIN", "ORGADMIN"];
/// MODIFY PROGRAMMATIC AUTHENTICATION METHODS: mint, rotate, remove a user's PATs (§4.3).
const MPAM: &str = "MODIFY PROGRAMMATIC AUTHENTICATION METHODS";
/// The methods of the no-PAT policy a fix creates (seed 001's `person_users_no_pat`).
const NO_PAT_METHODS: [&str; 5] = ["SAML", "OAUTH", "KEYPAIR", "WORKLOAD_IDENTITY", "PASSWORD"];

/// What one user is attached to.
struct Attached {
    user: String,
    /// `PERSON` (also for TYPE NULL), `SERVICE`, ...
    user_type: String,
    owner: Option<String>,
    /// The user-level authentication policy: qualified name and owner role.
    auth_policy: Option<(String, String)>,
    /// The user-level network policy.
    network_policy: Option<String>,
}

/// The account-level authentication policy slots (§5.9.5): qualified name and owner role.
#[derive(Default)]
struct Slots {
    account: Option<(String, String)>,
    person: Option<(String, String)>,
    service: Option<(String, String)>,
}

#[derive(Clone)]
struct Grant {
    privilege: String,
    /// `granted_on` with `_` as blanks (`AUTHENTICATION POLICY`).
    on: String,
    name: String,
}

/// Reads done once per audit: policies' methods and roles' grants.
#[derive(Default)]
struct Policies {
    /// Policy → whether its AUTHENTICATION_METHODS allow PATs; `None` when unreadable.
    allows_pat: BTreeMap<String, Option<bool>>,
    /// Role → its grants, or the error code that refused them.
    grants: BTreeMap<String, Result<Vec<Grant>, String>>,
}

fn code_of(err: &snowpat_client::Error) -> String {
    err.api()
        .and_then(|a| a.code.clone())
        .unwrap_or_else(|| "?".into())
}

/// `DB.SCHEMA.NAME` of a SHOW AUTHENTICATION POLICIES row, each part quoted when it must be.
fn qualified_policy(r: &snowpat_client::Row) -> Option<String> {
    let name = text(r, "name")?;
    Some(
        match (text(r, "database_name"), text(r, "schema_name")) {
            (Some(d), Some(s)) => vec![d, s, name],
            _ => vec![name],
        }
        .into_iter()
        .map(|p| snowpat_sql::render::quote_ident(&p))
        .collect::<Vec<_>>()
        .join("."),
    )
}

/// `[A, B]` (DESCRIBE's rendering, §5.9.2) → `["A", "B"]`.
fn parse_list(value: &str) -> Vec<String> {
    value
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|m| {
            m.trim()
                .trim_matches('\'')
                .trim_matches('"')
                .to_ascii_uppercase()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

impl Policies {
    /// Whether `policy`'s AUTHENTICATION_METHODS contain ALL or PROGRAMMATIC_ACCESS_TOKEN
    /// (§6.3 step 4, §6.6 step 6). `None` (and an `unreadable` finding) when it cannot be read.
    async fn allows_pat(
        &mut self,
        report: &mut Report,
        client: &Client,
        policy: &str,
    ) -> Option<bool> {
        if let Some(known) = self.allows_pat.get(policy) {
            return *known;
        }
        let described = client
            .execute(&wire(&Statement::DescribeAuthenticationPolicy {
                name: parse_name(policy),
            }))
            .await;
        let answer = match described {
            Ok(rs) => rs.rows().iter().find_map(|r| {
                let property = text(r, "property")?;
                if !property.eq_ignore_ascii_case("AUTHENTICATION_METHODS") {
                    return None;
                }
                let methods = parse_list(&text(r, "value").unwrap_or_default());
                Some(
                    methods
                        .iter()
                        .any(|m| m == "ALL" || m == "PROGRAMMATIC_ACCESS_TOKEN"),
                )
            }),
            Err(e) => {
                report.findings.push(unreadable(
                    format!("AUTHENTICATION POLICY {policy}"),
                    &format!("The methods of authentication policy {policy}"),
                    &e,
                ));
                None
            }
        };
        self.allows_pat.insert(policy.to_owned(), answer);
        answer
    }

    /// SHOW GRANTS TO ROLE `role`, once per audit.
    async fn grants(&mut self, client: &Client, role: &str) -> Result<Vec<Grant>, String> {
        if let Some(known) = self.grants.get(role) {
            return known.clone();
        }
        let answer = match client
            .execute(&wire(&Statement::ShowGrants(ShowGrantsTarget::ToRole(
                Ident::new(role),
            ))))
            .await
        {
            Ok(rs) => Ok(rs
                .rows()
                .iter()
                .map(|g| Grant {
                    privilege: text(g, "privilege")
                        .unwrap_or_default()
                        .to_ascii_uppercase(),
                    on: text(g, "granted_on")
                        .unwrap_or_default()
                        .to_ascii_uppercase()
                        .replace('_', " "),
                    name: text(g, "name").unwrap_or_default(),
                })
                .collect()),
            Err(e) => Err(code_of(&e)),
        };
        self.grants.insert(role.to_owned(), answer.clone());
        answer
    }
}

/// Users whose policies are read at once (two reads each).
const CONCURRENT_USERS: usize = 16;

/// Each user's own authentication and network policy (SHOW AUTHENTICATION POLICIES ON USER,
/// DESCRIBE USER), [`CONCURRENT_USERS`] users at a time; a user that cannot be read gets an
/// `unreadable` finding.
async fn attachments(
    report: &mut Report,
    client: &Client,
    users: &[(String, String)],
    owners: &BTreeMap<String, String>,
) -> Vec<Attached> {
    type Answer = Result<ResultSet, snowpat_client::Error>;
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENT_USERS));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (user, _)) in users.iter().enumerate() {
        let client = client.clone();
        let gate = gate.clone();
        let uid = Ident::new(user.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok();
            let policy: Answer = client
                .execute(&wire(&Statement::ShowAuthenticationPolicies {
                    filter: ShowFilter::default(),
                    scope: None,
                    on: Some(snowpat_sql::ast::PolicyOn::User(uid.clone())),
                }))
                .await;
            let described: Answer = client
                .execute(&wire(&Statement::DescribeUser { name: uid }))
                .await;
            (index, policy, described)
        });
    }
    let mut answers: Vec<Option<(Answer, Answer)>> = (0..users.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, policy, described)) => {
                if let Some(slot) = answers.get_mut(index) {
                    *slot = Some((policy, described));
                }
            }
            Err(e) => tracing::warn!("a policy read did not finish: {e}"),
        }
    }
    let mut out = Vec::with_capacity(users.len());
    for ((user, user_type), answer) in users.iter().zip(answers) {
        let Some((policy, described)) = answer else {
            report.coverage.unreadable.push(format!("USER {user}"));
            report.findings.push(Finding {
                rule: Rule::Unreadable,
                severity: Severity::High,
                object: format!("USER {user}"),
                why: format!(
                    "The policies of user {user} could not be read; the audit does not cover them."
                ),
                fix: vec![],
            });
            continue;
        };
        let auth_policy = match policy {
            Ok(rs) => rs
                .first()
                .and_then(|r| Some((qualified_policy(r)?, text(r, "owner").unwrap_or_default()))),
            Err(e) => {
                report.findings.push(unreadable(
                    format!("USER {user}"),
                    &format!("The authentication policy of user {user}"),
                    &e,
                ));
                None
            }
        };
        let network_policy = match described {
            Ok(rs) => rs.rows().iter().find_map(|r| {
                let property = text(r, "property")?;
                if property.eq_ignore_ascii_case("NETWORK_POLICY") {
                    text(r, "value")
                } else {
                    None
                }
            }),
            Err(e) => {
                report.findings.push(unreadable(
                    format!("USER {user}"),
                    &format!("The properties of user {user}"),
                    &e,
                ));
                None
            }
        };
        out.push(Attached {
            user: user.clone(),
            user_type: user_type.clone(),
            owner: owners.get(user).cloned(),
            auth_policy,
            network_policy,
        });
    }
    out
}

/// SHOW AUTHENTICATION POLICIES ON ACCOUNT: which policy holds which slot (`target_scopes`,
/// §5.9.2). Whether a slot was set with FORCE is not shown by any documented output.
async fn account_slots(report: &mut Report, client: &Client) -> Slots {
    let mut slots = Slots::default();
    let rs = match client
        .execute(&wire(&Statement::ShowAuthenticationPolicies {
            filter: ShowFilter::default(),
            scope: None,
            on: Some(snowpat_sql::ast::PolicyOn::Account),
        }))
        .await
    {
        Ok(rs) => rs,
        Err(e) => {
            report
                .coverage
                .unreadable
                .push("ACCOUNT AUTHENTICATION POLICIES".into());
            report.findings.push(unreadable(
                "ACCOUNT AUTHENTICATION POLICIES".into(),
                "The account-level authentication policies",
                &e,
            ));
            return slots;
        }
    };
    for r in rs.rows() {
        let Some(policy) = qualified_policy(r) else {
            continue;
        };
        let owner = text(r, "owner").unwrap_or_default();
        let options: serde_json::Value = text(r, "options")
            .and_then(|o| serde_json::from_str(&o).ok())
            .unwrap_or(serde_json::Value::Null);
        let scopes: Vec<String> = options
            .get("target_scopes")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_ascii_uppercase))
                    .collect()
            })
            .unwrap_or_default();
        for scope in scopes {
            let slot = Some((policy.clone(), owner.clone()));
            match scope.as_str() {
                "ACCOUNT" => slots.account = slot,
                "PERSON_USERS" => slots.person = slot,
                "SERVICE_USERS" => slots.service = slot,
                _ => {}
            }
        }
    }
    slots
}

fn no_pat_policy_fix(user_level: Option<&str>, user: &str) -> Vec<String> {
    let policy = ObjectName::simple("PERSON_USERS_NO_PAT");
    let mut fix = vec![
        render(&Statement::CreateAuthenticationPolicy {
            create: snowpat_sql::ast::CreateMode::Create,
            if_not_exists: true,
            name: policy.clone(),
            properties: vec![Property::new(
                "AUTHENTICATION_METHODS",
                Value::List(
                    NO_PAT_METHODS
                        .iter()
                        .map(|m| Value::String((*m).into()))
                        .collect(),
                ),
            )],
        }),
        render(&Statement::AlterAccount(
            snowpat_sql::ast::AlterAccountAction::SetAuthenticationPolicy {
                policy,
                scope: snowpat_sql::ast::PolicyScope::PersonUsers,
                force: true,
            },
        )),
    ];
    if user_level.is_some() {
        fix.push(render(&alter_user(
            user,
            AlterUserAction::UnsetAuthenticationPolicy,
        )));
    }
    fix
}

/// §5.9.5 for PERSON users (TYPE PERSON or NULL): the user-level policy, else the account's
/// PERSON_USERS slot, else the account-wide slot, else the built-in defaults (every method).
/// FORCE (which would put an account slot above the user-level policy) is not visible in SHOW
/// output, so a user-level policy is taken to win, and the finding says so.
async fn person_pat_findings(
    report: &mut Report,
    client: &Client,
    policies: &mut Policies,
    attached: &[Attached],
    slots: &Slots,
    options: &Options,
) {
    let governing = slots.person.as_ref().or(slots.account.as_ref());
    let slot_allows = match governing {
        None => Some(true),
        Some((p, _)) => policies.allows_pat(report, client, p).await,
    };
    let barred = options
        .person_pats_barred
        .unwrap_or(slot_allows == Some(false));
    if !barred {
        return;
    }
    let bar = match (governing, slot_allows) {
        (Some((p, _)), Some(false)) => format!("the account-level policy {p} bars programmatic access tokens for person users"),
        _ => "the blueprint bars programmatic access tokens for person users (seed 001: only SERVICE users may hold them)".into(),
    };
    for a in attached.iter().filter(|a| a.user_type == "PERSON") {
        let (source, allows) = match (&a.auth_policy, governing) {
            (Some((p, _)), _) => (
                format!("its own user-level policy {p}, which overrides the account-level one unless that was set with FORCE (which SHOW does not reveal)"),
                policies.allows_pat(report, client, p).await,
            ),
            (None, Some((p, _))) => (format!("the account-level policy {p}"), slot_allows),
            (None, None) => (
                "no authentication policy at all: the built-in defaults allow every method (§5.9.4)".into(),
                Some(true),
            ),
        };
        if allows != Some(true) {
            continue;
        }
        let user_level = a.auth_policy.as_ref().map(|(p, _)| p.as_str());
        let fix = if user_level.is_some() && slot_allows == Some(false) {
            vec![render(&alter_user(
                &a.user,
                AlterUserAction::UnsetAuthenticationPolicy,
            ))]
        } else {
            no_pat_policy_fix(user_level, &a.user)
        };
        report.findings.push(Finding {
            rule: Rule::PersonUserPatAllowed,
            severity: Severity::High,
            object: format!("USER {}", a.user),
            why: format!(
                "{bar}, but PERSON user {} may still generate and use them: its effective authentication policy is {source}, and its AUTHENTICATION_METHODS include PROGRAMMATIC_ACCESS_TOKEN (or ALL). A person can then mint a token without ROLE_RESTRICTION that acts with all of their roles.",
                a.user
            ),
            fix,
        });
    }
}

/// A policy owned by a (non-administrative) role that also applies it: for an authentication
/// policy, the owner holds APPLY AUTHENTICATION POLICY on the account or on a user the policy is
/// attached to, or owns such a user (§4.3); for a network policy, the owner owns a user it is
/// attached to (attaching needs both ownerships, §4.3). The owner can then ALTER the policy that
/// constrains the users it manages.
async fn policy_owner_findings(
    report: &mut Report,
    client: &Client,
    policies: &mut Policies,
    attached: &[Attached],
    slots: &Slots,
) {
    let owner_of = |user: &str| {
        attached
            .iter()
            .find(|a| a.user == user)
            .and_then(|a| a.owner.clone())
    };
    // Authentication policies: name → (owner, users it is attached to, attached to the account).
    let mut auth: BTreeMap<String, (String, Vec<String>, bool)> = BTreeMap::new();
    for a in attached {
        if let Some((p, owner)) = &a.auth_policy {
            auth.entry(p.clone())
                .or_insert_with(|| (owner.clone(), vec![], false))
                .1
                .push(a.user.clone());
        }
    }
    for (p, owner) in [&slots.account, &slots.person, &slots.service]
        .into_iter()
        .flatten()
    {
        auth.entry(p.clone())
            .or_insert_with(|| (owner.clone(), vec![], false))
            .2 = true;
    }
    for (policy, (owner, users, on_account)) in &auth {
        if owner.is_empty() || ADMIN_ROLES.contains(&owner.as_str()) {
            continue;
        }
        let owned_user = users
            .iter()
            .find(|u| owner_of(u).as_deref() == Some(owner.as_str()));
        let grants = policies.grants(client, owner).await.unwrap_or_default();
        let apply_grant = grants.iter().find(|g| {
            g.privilege == "APPLY AUTHENTICATION POLICY"
                && (g.on == "ACCOUNT" || (g.on == "USER" && users.contains(&g.name)))
        });
        let how = match (owned_user, apply_grant) {
            (Some(u), _) => format!("owns user {u}, to which the policy is attached"),
            (None, Some(g)) if g.on == "ACCOUNT" => {
                "holds APPLY AUTHENTICATION POLICY on the account".to_owned()
            }
            (None, Some(g)) => format!("holds APPLY AUTHENTICATION POLICY on user {}", g.name),
            (None, None) => continue,
        };
        let scope = match (users.is_empty(), on_account) {
            (false, true) => format!("users {} and the account", users.join(", ")),
            (false, false) => format!("users {}", users.join(", ")),
            (true, _) => "the account".into(),
        };
        report.findings.push(Finding {
            rule: Rule::PolicyOwnedByApplyingRole,
            severity: Severity::High,
            object: format!("AUTHENTICATION POLICY {policy}"),
            why: format!(
                "The policy (applied to {scope}) is owned by {owner}, which {how}: {owner} can ALTER it (drop REQUIRE_ROLE_RESTRICTION, widen AUTHENTICATION_METHODS or NETWORK_POLICY_EVALUATION) for every user it constrains. Keep OWNERSHIP with a policy-admin role and give {owner} APPLY only (seed 000 hands over OWNERSHIP; snowpat's blueprint does not unless --seed-compat)."
            ),
            fix: vec![
                render(&Statement::GrantOwnership {
                    on: snowpat_sql::ast::OwnershipTarget::Object {
                        kind: ObjectKind::AuthenticationPolicy,
                        name: parse_name(policy),
                    },
                    to_role: Ident::new("ACCOUNTADMIN"),
                    current_grants: Some(snowpat_sql::ast::CurrentGrants::Copy),
                }),
                render(&Statement::GrantPrivileges {
                    privileges: Privileges::List(vec!["APPLY".into()]),
                    on: GrantTarget::Object {
                        kind: ObjectKind::AuthenticationPolicy,
                        name: parse_name(policy),
                    },
                    to_role: Ident::new(owner.clone()),
                    with_grant_option: false,
                }),
            ],
        });
    }

    // Network policies attached to users: name → users.
    let mut network: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in attached {
        if let Some(np) = &a.network_policy {
            network.entry(np.clone()).or_default().push(a.user.clone());
        }
    }
    for (np, users) in &network {
        let owner = match client
            .execute(&wire(&Statement::ShowGrants(ShowGrantsTarget::On {
                kind: ObjectKind::NetworkPolicy,
                name: parse_name(np),
            })))
            .await
        {
            Ok(rs) => rs.rows().iter().find_map(|g| {
                let privilege = text(g, "privilege")?;
                if privilege.eq_ignore_ascii_case("OWNERSHIP") {
                    text(g, "grantee_name")
                } else {
                    None
                }
            }),
            Err(e) => {
                report.findings.push(unreadable(
                    format!("NETWORK POLICY {np}"),
                    &format!("The owner of network policy {np}"),
                    &e,
                ));
                None
            }
        };
        let Some(owner) = owner else { continue };
        if ADMIN_ROLES.contains(&owner.as_str()) {
            continue;
        }
        let owned: Vec<&String> = users
            .iter()
            .filter(|u| owner_of(u).as_deref() == Some(owner.as_str()))
            .collect();
        if owned.is_empty() {
            continue;
        }
        report.findings.push(Finding {
            rule: Rule::PolicyOwnedByApplyingRole,
            severity: Severity::Low,
            object: format!("NETWORK POLICY {np}"),
            why: format!(
                "The network policy (on users {}) is owned by {owner}, which attaches it to the users it owns ({}): {owner} can ALTER it, e.g. add ALLOWED_IP_LIST entries, for every user it covers. The multi-tenant blueprint accepts this because attaching a user-level network policy needs OWNERSHIP of it and no narrower privilege exists (§4.3); it cannot edit the network rules, which it does not own. To remove the risk, transfer ownership and attach the policy with the owning role.",
                users.join(", "),
                owned.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", ")
            ),
            fix: vec![render(&Statement::GrantOwnership {
                on: snowpat_sql::ast::OwnershipTarget::Object {
                    kind: ObjectKind::NetworkPolicy,
                    name: parse_name(np),
                },
                to_role: Ident::new("SECURITYADMIN"),
                current_grants: Some(snowpat_sql::ast::CurrentGrants::Copy),
            })],
        });
    }
}

/// The minting reach of each automation role, through the roles it inherits: OWNERSHIP or MPAM
/// on a user that is not one of the store's tenants (§4.3: either lets it ADD, ROTATE and
/// REMOVE that user's PATs), and account-wide grants that reach every user (MANAGE GRANTS, or
/// inheriting ACCOUNTADMIN, SECURITYADMIN or USERADMIN).
async fn automation_findings(
    report: &mut Report,
    client: &Client,
    policies: &mut Policies,
    automation: &Automation,
) {
    for role in &automation.roles {
        let mut queue = vec![(role.clone(), role.clone())];
        let mut visited: BTreeSet<String> = BTreeSet::from([role.clone()]);
        while let Some((current, via)) = queue.pop() {
            let grants = match policies.grants(client, &current).await {
                Ok(g) => g,
                // §9: the role does not exist (or is invisible): no automation role to audit.
                Err(code) if code == "002003" && current == *role => break,
                Err(code) => {
                    report.coverage.unreadable.push(format!("ROLE {current}"));
                    report.findings.push(Finding {
                        rule: Rule::Unreadable,
                        severity: Severity::High,
                        object: format!("ROLE {current}"),
                        why: format!("The grants of role {current} could not be read (code {code}); the automation role's reach is not covered. Run the audit as SECURITYADMIN."),
                        fix: vec![],
                    });
                    continue;
                }
            };
            let chain = if via == current {
                current.clone()
            } else {
                format!("{via} (through {current})")
            };
            for g in &grants {
                if g.on == "ROLE" && g.privilege == "USAGE" {
                    let inherited = g.name.as_str();
                    let severity = match inherited {
                        "ACCOUNTADMIN" | "SECURITYADMIN" => Some(Severity::Critical),
                        "USERADMIN" => Some(Severity::High),
                        _ => None,
                    };
                    match severity {
                        Some(severity) => report.findings.push(Finding {
                            rule: Rule::AutomationMintsOutsideTenants,
                            severity,
                            object: format!("ROLE {role}"),
                            why: format!("Automation role {chain} inherits {inherited}, which reaches users far beyond the store's tenants: whoever holds the automation credential can mint tokens for them."),
                            fix: vec![render(&Statement::RevokeRole {
                                grant_option_for: false,
                                role: Ident::new(inherited),
                                from: snowpat_sql::ast::Grantee::Role(Ident::new(current.clone())),
                                behavior: None,
                            })],
                        }),
                        None => {
                            if visited.insert(inherited.to_owned()) {
                                queue.push((inherited.to_owned(), role.clone()));
                            }
                        }
                    }
                    continue;
                }
                if g.privilege == "MANAGE GRANTS" {
                    report.findings.push(Finding {
                        rule: Rule::AutomationMintsOutsideTenants,
                        severity: Severity::Critical,
                        object: format!("ROLE {role}"),
                        why: format!("Automation role {chain} holds MANAGE GRANTS: it can grant itself MODIFY PROGRAMMATIC AUTHENTICATION METHODS on any user and mint tokens for every user of the account."),
                        fix: vec![render(&Statement::RevokePrivileges {
                            grant_option_for: false,
                            privileges: Privileges::List(vec!["MANAGE GRANTS".into()]),
                            on: GrantTarget::Account,
                            from_role: Ident::new(current.clone()),
                            behavior: None,
                        })],
                    });
                    continue;
                }
                let mints = g.privilege == MPAM || g.privilege == "OWNERSHIP";
                if g.on != "USER"
                    || !mints
                    || automation.tenant_users.contains(&g.name)
                    || automation.also_allowed.contains(&g.name)
                {
                    continue;
                }
                let fix = if g.privilege == MPAM {
                    render(&Statement::RevokePrivileges {
                        grant_option_for: false,
                        privileges: Privileges::List(vec![MPAM.into()]),
                        on: GrantTarget::Object {
                            kind: ObjectKind::User,
                            name: ObjectName::simple(g.name.clone()),
                        },
                        from_role: Ident::new(current.clone()),
                        behavior: None,
                    })
                } else {
                    render(&Statement::GrantOwnership {
                        on: snowpat_sql::ast::OwnershipTarget::Object {
                            kind: ObjectKind::User,
                            name: ObjectName::simple(g.name.clone()),
                        },
                        to_role: Ident::new("USERADMIN"),
                        current_grants: Some(snowpat_sql::ast::CurrentGrants::Copy),
                    })
                };
                report.findings.push(Finding {
                    rule: Rule::AutomationMintsOutsideTenants,
                    severity: Severity::High,
                    object: format!("USER {}", g.name),
                    why: format!(
                        "Automation role {chain} holds {} on user {}, which is not a tenant in the store ({} tenant users): whoever holds the automation credential can add, rotate and remove that user's tokens.",
                        g.privilege,
                        g.name,
                        automation.tenant_users.len()
                    ),
                    fix: vec![fix],
                });
            }
        }
    }
}
