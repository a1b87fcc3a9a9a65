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
    /// An authentication policy owned by a role that applies it (to its own tokens' users).
    PolicyOwnedByApplyingRole,
}

impl Rule {
    /// Every rule, for SARIF's rule list.
    pub const ALL: [Rule; 10] = [
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
            Rule::PolicyOwnedByApplyingRole => "An authentication policy is owned by a role that tokens run as, so a token can loosen its own policy.",
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
}

impl Default for Options {
    fn default() -> Self {
        Self {
            expiry_window: Duration::days(14),
            use_account_usage: true,
        }
    }
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
        if let Some(view) = from_view.as_mut() {
            let tokens = view.remove(user).unwrap_or_default();
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
            continue;
        }
        let pats = match client
            .execute(&wire(&Statement::ShowUserPats {
                for_user: Some(uid.clone()),
            }))
            .await
        {
            Ok(rs) => rs,
            Err(e) => {
                report.coverage.unreadable.push(user.clone());
                report.findings.push(unreadable(
                    format!("USER {user}"),
                    &format!("The tokens of user {user}"),
                    &e,
                ));
                continue;
            }
        };
        report.coverage.users_inspected += 1;
        let tokens = parse_tokens(&pats);
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

    sort(&mut report.findings);
    Ok(report)
}

/// SHOW USERS lists only the users the role has a privilege on: unless the auditing role is
/// ACCOUNTADMIN or SECURITYADMIN (or inherits one) or holds MANAGE GRANTS, users may be missing
/// from the list, and the report says so instead of looking clean.
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
    let full = match &role {
        Some(r) if powerful.contains(&r.as_str()) => true,
        Some(r) => match client
            .execute(&wire(&Statement::ShowGrants(ShowGrantsTarget::ToRole(
                Ident::new(r.clone()),
            ))))
            .await
        {
            Ok(rs) => rs.rows().iter().any(|g| {
                let privilege = text(g, "privilege").unwrap_or_default();
                let on = text(g, "granted_on").unwrap_or_default();
                let name = text(g, "name").unwrap_or_default();
                privilege.eq_ignore_ascii_case("MANAGE GRANTS")
                    || (on.eq_ignore_ascii_case("ROLE")
                        && privilege.eq_ignore_ascii_case("USAGE")
                        && powerful.contains(&name.as_str()))
            }),
            Err(_) => false,
        },
        None => false,
    };
    if !full {
        let who = role.unwrap_or_else(|| "the current role".into());
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
    let grants = match client
        .execute(&wire(&Statement::ShowGrants(ShowGrantsTarget::ToRole(
            Ident::new(role),
        ))))
        .await
    {
        Ok(rs) => rs,
        Err(e) => {
            report.coverage.unreadable.push(format!("ROLE {role}"));
            report.findings.push(unreadable(
                format!("ROLE {role}"),
                &format!("The grants of role {role}"),
                &e,
            ));
            return;
        }
    };
    let rid = Ident::new(role);
    for g in grants.rows() {
        let privilege = text(g, "privilege")
            .unwrap_or_default()
            .to_ascii_uppercase();
        let on = text(g, "granted_on")
            .unwrap_or_default()
            .to_ascii_uppercase()
            .replace('_', " ");
        let name = text(g, "name").unwrap_or_default();
        if on == "ROLE"
            && privilege == "USAGE"
            && (name == "ACCOUNTADMIN" || name == "SECURITYADMIN")
        {
            report.findings.push(Finding {
                rule: Rule::OverPrivilegedRestrictedRole,
                severity: Severity::Critical,
                object: format!("ROLE {role}"),
                why: format!("{role} (tokens of {holders_text}) inherits {name}: a leaked secret administers the account."),
                fix: vec![render(&Statement::RevokeRole {
                    grant_option_for: false,
                    role: Ident::new(name.clone()),
                    from: snowpat_sql::ast::Grantee::Role(rid.clone()),
                    behavior: None,
                })],
            });
        }
        if privilege == "MANAGE GRANTS" {
            report.findings.push(Finding {
                rule: Rule::OverPrivilegedRestrictedRole,
                severity: Severity::Critical,
                object: format!("ROLE {role}"),
                why: format!("{role} (tokens of {holders_text}) holds MANAGE GRANTS: a leaked secret can grant itself anything."),
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
                why: format!("The policy is owned by {role}, the role tokens of {holders_text} run as: a leaked token can loosen the policy that constrains it. Transfer ownership to a policy-admin role."),
                fix: vec![render(&Statement::GrantOwnership {
                    on: snowpat_sql::ast::OwnershipTarget::Object {
                        kind: ObjectKind::AuthenticationPolicy,
                        name: parse_name(&name),
                    },
                    to_role: Ident::new("<POLICY_ADMIN_ROLE>"),
                    current_grants: Some(snowpat_sql::ast::CurrentGrants::Copy),
                })],
            });
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
