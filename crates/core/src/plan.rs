//! A plan: the ordered statements a blueprint or command will send, each with the role it runs
//! as and whether it only reads (`interfaces.md`, `bootstrap --plan` / `--apply`).
//!
//! Statements stay typed [`snowpat_sql::ast::Statement`] values until they are sent; `--plan`
//! prints them through the same renderer, with secret literals shown as `'***'`.

use std::fmt;

use snowpat_client::{Client, ResultSet};
use snowpat_sql::ast::{AlterUserAction, Property, Statement, Value};

/// One statement of a plan.
#[derive(Clone, Debug)]
pub struct Step {
    pub statement: Statement,
    /// The role the statement runs as (`None`: the connection's default role).
    pub role: Option<String>,
    /// True for SHOW / DESCRIBE / SELECT.
    pub read: bool,
    /// Why the step is in the plan (printed as a comment).
    pub reason: String,
}

impl Step {
    /// A statement that changes the account.
    pub fn change(role: &str, reason: impl Into<String>, statement: Statement) -> Self {
        Self {
            statement,
            role: Some(role.to_string()),
            read: false,
            reason: reason.into(),
        }
    }

    /// A read.
    pub fn read(role: Option<&str>, statement: Statement) -> Self {
        Self {
            statement,
            role: role.map(str::to_string),
            read: true,
            reason: String::new(),
        }
    }

    /// The statement with secret literals replaced by `'***'`.
    pub fn redacted(&self) -> Statement {
        redact(&self.statement)
    }
}

/// Properties whose values are secrets or key material and are never printed.
const SECRET_PROPERTIES: &[&str] = &[
    "SECRET_STRING",
    "RSA_PUBLIC_KEY",
    "RSA_PUBLIC_KEY_2",
    "PASSWORD",
];

fn redact_props(props: &[Property]) -> Vec<Property> {
    props
        .iter()
        .map(|p| {
            if SECRET_PROPERTIES.contains(&p.name.as_str()) {
                Property::new(p.name.as_str(), Value::String("***".into()))
            } else {
                p.clone()
            }
        })
        .collect()
}

/// `statement` with every secret-bearing property shown as `'***'`.
pub fn redact(statement: &Statement) -> Statement {
    let mut s = statement.clone();
    match &mut s {
        Statement::CreateSecret { properties, .. }
        | Statement::AlterSecret { properties, .. }
        | Statement::CreateUser { properties, .. } => *properties = redact_props(properties),
        Statement::AlterUser {
            action: AlterUserAction::Set(properties),
            ..
        } => *properties = redact_props(properties),
        _ => {}
    }
    s
}

/// An ordered list of steps.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// The steps that change the account.
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| !s.read)
    }

    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes().next().is_none()
    }

    /// Sends the steps in order; stops at the first failure.
    pub async fn apply(&self, client: &Client) -> Result<Vec<ResultSet>, PlanError> {
        let mut out = Vec::with_capacity(self.steps.len());
        for (index, step) in self.steps.iter().enumerate() {
            out.push(execute(client, step).await.map_err(|source| PlanError {
                index,
                statement: step.redacted().to_string(),
                source,
            })?);
        }
        Ok(out)
    }
}

/// Sends one step as its role.
pub async fn execute(client: &Client, step: &Step) -> Result<ResultSet, snowpat_client::Error> {
    let mut statement = snowpat_client::Statement::new(step.statement.to_string());
    if let Some(role) = &step.role {
        statement = statement.role(role.clone());
    }
    tracing::debug!(read = step.read, role = ?step.role, "sending plan step");
    client.execute(&statement).await
}

/// A step that failed, with the redacted statement.
#[derive(Debug, thiserror::Error)]
#[error("step {} failed: {statement}: {source}", index + 1)]
pub struct PlanError {
    pub index: usize,
    pub statement: String,
    #[source]
    pub source: snowpat_client::Error,
}

impl fmt::Display for Plan {
    /// `-- [role] reason` then the redacted SQL, for every change.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in self.changes() {
            let role = step.role.as_deref().unwrap_or("(default role)");
            writeln!(f, "-- as {role}: {}", step.reason)?;
            writeln!(f, "{};", step.redacted())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snowpat_sql::ast::{Ident, ObjectName};

    #[test]
    fn secrets_and_key_material_print_as_stars() {
        let plan = Plan {
            steps: vec![
                Step::change(
                    "ACCOUNTADMIN",
                    "key",
                    Statement::AlterUser {
                        if_exists: false,
                        user: Some(Ident::new("U")),
                        action: AlterUserAction::Set(vec![Property::new(
                            "RSA_PUBLIC_KEY",
                            Value::String("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA".into()),
                        )]),
                    },
                ),
                Step::change(
                    "R",
                    "secret",
                    Statement::CreateSecret {
                        or_replace: false,
                        if_not_exists: false,
                        name: ObjectName::simple("S"),
                        properties: vec![
                            Property::new(
                                "TYPE",
                                Value::Name(ObjectName::simple("GENERIC_STRING")),
                            ),
                            Property::new("SECRET_STRING", Value::String("hunter2-secret".into())),
                        ],
                    },
                ),
                Step::read(
                    None,
                    Statement::ShowUsers {
                        terse: false,
                        filter: Default::default(),
                    },
                ),
            ],
        };
        let text = plan.to_string();
        assert!(!text.contains("MIIBIjAN"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(text.matches("'***'").count(), 2, "{text}");
        assert!(text.contains("-- as ACCOUNTADMIN: key"));
        assert!(
            !text.contains("SHOW USERS"),
            "reads are not printed as changes"
        );
        assert_eq!(plan.changes().count(), 2);
        // The statement that is sent keeps its value.
        assert!(plan.steps[0].statement.to_string().contains("MIIBIjAN"));
    }
}
