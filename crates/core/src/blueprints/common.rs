//! Reads and small builders shared by the blueprints: every read is a typed SHOW / DESCRIBE /
//! SELECT sent through [`crate::plan::execute`], and the preflight names what the applying
//! identity lacks before any change is sent.

use snowpat_client::{Client, ResultSet};
use snowpat_sql::ast::{
    Expr, Ident, ObjectName, Select, SelectItem, ShowFilter, ShowGrantsTarget, Statement, Value,
};

use super::BlueprintError;
use crate::plan::{execute, Step};

pub(crate) fn ident(s: &str) -> Ident {
    Ident::new(s)
}

pub(crate) fn like(s: &str) -> ShowFilter {
    ShowFilter {
        like: Some(s.to_string()),
        ..ShowFilter::default()
    }
}

pub(crate) fn name_value(s: &str) -> Value {
    Value::Name(ObjectName::simple(s))
}

pub(crate) fn string_list<S: AsRef<str>>(items: &[S]) -> Value {
    Value::List(
        items
            .iter()
            .map(|s| Value::String(s.as_ref().to_string()))
            .collect(),
    )
}

/// A text cell (empty when NULL or missing).
pub(crate) fn col(rs: &ResultSet, row: usize, name: &str) -> String {
    rs.rows()
        .get(row)
        .and_then(|r| r.get::<Option<String>>(name).ok().flatten())
        .unwrap_or_default()
}

/// The `name` column of every row.
pub(crate) fn names(rs: &ResultSet) -> Vec<String> {
    (0..rs.len()).map(|i| col(rs, i, "name")).collect()
}

/// (privilege, granted_on, name) of SHOW GRANTS rows.
pub(crate) fn grants(rs: &ResultSet) -> Vec<(String, String, String)> {
    (0..rs.len())
        .map(|i| {
            (
                col(rs, i, "privilege"),
                col(rs, i, "granted_on"),
                col(rs, i, "name"),
            )
        })
        .collect()
}

/// One read as `role` (`None`: the connection's role).
pub(crate) async fn read(
    client: &Client,
    role: Option<&str>,
    statement: Statement,
) -> Result<ResultSet, BlueprintError> {
    Ok(execute(client, &Step::read(role, statement)).await?)
}

/// `SHOW GRANTS TO ROLE r` as (privilege, granted_on, name).
pub(crate) async fn grants_to_role(
    client: &Client,
    as_role: Option<&str>,
    role: &str,
) -> Result<Vec<(String, String, String)>, BlueprintError> {
    let rs = read(
        client,
        as_role,
        Statement::ShowGrants(ShowGrantsTarget::ToRole(ident(role))),
    )
    .await?;
    Ok(grants(&rs))
}

fn select_function(name: &str, alias: &str) -> Statement {
    Statement::Select(Select {
        items: vec![SelectItem {
            expr: Expr::Function {
                name: name.into(),
                args: vec![],
            },
            alias: Some(ident(alias)),
        }],
        from: None,
        filter: vec![],
    })
}

/// `SELECT CURRENT_USER()`.
pub(crate) async fn current_user(client: &Client) -> Result<String, BlueprintError> {
    let rs = read(client, None, select_function("CURRENT_USER", "U")).await?;
    Ok(col(&rs, 0, "U"))
}

/// `SELECT CURRENT_AVAILABLE_ROLES()` (the roles the applying identity may run steps as).
pub(crate) async fn available_roles(client: &Client) -> Result<Vec<String>, BlueprintError> {
    let rs = read(
        client,
        None,
        select_function("CURRENT_AVAILABLE_ROLES", "ROLES"),
    )
    .await?;
    Ok(serde_json::from_str(&col(&rs, 0, "ROLES")).unwrap_or_default())
}

/// Refuses (naming them) when any of `needed` (role, what it is needed for) is not available.
pub(crate) fn require_roles(
    available: &[String],
    needed: &[(&str, &str)],
) -> Result<(), BlueprintError> {
    let missing: Vec<String> = needed
        .iter()
        .filter(|(r, _)| !available.iter().any(|a| a.eq_ignore_ascii_case(r)))
        .map(|(r, why)| format!("{r} (for {why})"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(BlueprintError::Preflight(format!(
        "the applying identity cannot use role(s) {}; it has {}",
        missing.join(", "),
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    )))
}

/// A DESCRIBE list value (`[A, B]`) as upper-case items.
pub(crate) fn list_items(text: &str) -> Vec<String> {
    text.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| {
            s.trim()
                .trim_matches('\'')
                .trim_matches('"')
                .to_ascii_uppercase()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Same items, order ignored, case-insensitive.
pub(crate) fn same_set(a: &[String], b: &[String]) -> bool {
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_uppercase()).collect();
        v.sort();
        v.dedup();
        v
    };
    norm(a) == norm(b)
}

/// `^[A-Za-z0-9_]{1,64}$`, folded to upper case (the rule of tenant ids, `interfaces.md`).
pub fn fold_name(text: &str, what: &str) -> Result<String, BlueprintError> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(BlueprintError::Config(format!(
            "{what} {text:?} must match ^[A-Za-z0-9_]{{1,64}}$"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_lists_and_names() {
        assert_eq!(list_items("[SAML, OAUTH]"), vec!["SAML", "OAUTH"]);
        assert!(list_items("[]").is_empty());
        assert!(same_set(
            &["a".into(), "B".into()],
            &["B".into(), "A".into(), "a".into()]
        ));
        assert!(!same_set(&["A".into()], &["A".into(), "B".into()]));
        assert_eq!(fold_name("miguel", "person").unwrap(), "MIGUEL");
        for bad in ["", "x; DROP USER y", "é", &"a".repeat(65)] {
            assert!(fold_name(bad, "person").is_err(), "{bad}");
        }
    }
}
