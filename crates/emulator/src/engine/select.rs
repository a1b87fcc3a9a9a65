//! The SELECT subset (§5.18): session functions, literals and
//! `SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS`.

use chrono::{DateTime, Utc};
use snowpat_sql::ast::{Expr, Select};

use super::{errors, unchanged};
use super::{Account, Cell, Column, ColumnType, ResultSet, Session, SqlError};

fn unknown_function(name: &str) -> SqlError {
    SqlError::new(
        "002140",
        "42601",
        format!("SQL compilation error:\nUnknown function {name}"),
    )
}

fn invalid_identifier(name: &str) -> SqlError {
    SqlError::new(
        "000904",
        "42000",
        format!("SQL compilation error: error line 1 at position 7\ninvalid identifier '{name}'"),
    )
}

fn number_type(n: &str) -> ColumnType {
    let digits = n.trim_start_matches(['-', '+']);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let scale = u32::try_from(frac.len()).unwrap_or(0);
    let precision = u32::try_from(int.len()).unwrap_or(1).max(1) + scale;
    ColumnType::Fixed { precision, scale }
}

/// The columns of `SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS` ([40]).
const CREDENTIAL_COLUMNS: &[(&str, ColumnType)] = &[
    (
        "CREDENTIAL_ID",
        ColumnType::Fixed {
            precision: 38,
            scale: 0,
        },
    ),
    ("NAME", ColumnType::Text),
    ("USER_NAME", ColumnType::Text),
    ("TYPE", ColumnType::Text),
    ("DOMAIN", ColumnType::Text),
    ("COMMENT", ColumnType::Text),
    ("STATUS", ColumnType::Text),
    ("ADDITIONAL_DETAILS", ColumnType::Variant),
    ("CREATED_BY", ColumnType::Text),
    ("LAST_ALTERED_BY", ColumnType::Text),
    ("CREATED_ON", ColumnType::TimestampLtz),
    ("LAST_USED_ON", ColumnType::TimestampLtz),
    ("LAST_ALTERED", ColumnType::TimestampLtz),
    ("EXPIRATION_DATE", ColumnType::TimestampLtz),
];

/// The column name Snowflake gives an unaliased expression: its text, upper-cased.
fn column_name(e: &Expr) -> String {
    match e {
        Expr::Wildcard => "*".into(),
        Expr::Number(n) => n.clone(),
        Expr::String(v) => format!("'{}'", v.replace('\'', "''")).to_uppercase(),
        Expr::Bool(b) => b.to_string().to_uppercase(),
        Expr::Null => "NULL".into(),
        Expr::Column(c) => c.as_str().to_uppercase(),
        Expr::Function { name, args } => {
            let args: Vec<String> = args.iter().map(column_name).collect();
            format!("{}({})", name.to_uppercase(), args.join(", "))
        }
    }
}

fn cell_text(c: &Cell) -> Option<String> {
    match c {
        Cell::Null => None,
        Cell::Text(s) | Cell::Number(s) => Some(s.clone()),
        Cell::Bool(b) => Some(b.to_string()),
        Cell::Timestamp(t) => Some(t.to_rfc3339()),
    }
}

impl Account {
    /// A scalar expression without a FROM row.
    fn scalar(
        &self,
        s: &Session,
        e: &Expr,
        t: DateTime<Utc>,
    ) -> Result<(ColumnType, Cell), SqlError> {
        Ok(match e {
            Expr::Number(n) => (number_type(n), Cell::Number(n.clone())),
            Expr::String(v) => (ColumnType::Text, Cell::Text(v.clone())),
            Expr::Bool(b) => (ColumnType::Boolean, Cell::Bool(*b)),
            Expr::Null => (ColumnType::Text, Cell::Null),
            Expr::Wildcard => return Err(errors::syntax("*")),
            Expr::Column(c) => return Err(invalid_identifier(c.as_str())),
            Expr::Function { name, args } => {
                if !args.is_empty() && name.starts_with("CURRENT_") {
                    return Err(errors::syntax(name));
                }
                let text =
                    |v: Option<String>| (ColumnType::Text, v.map(Cell::Text).unwrap_or(Cell::Null));
                match name.as_str() {
                    "CURRENT_USER" => text(Some(s.user_name.clone())),
                    "CURRENT_ROLE" => text(Some(s.primary_role.clone())),
                    "CURRENT_SECONDARY_ROLES" => {
                        let roles: Vec<String> = if s.secondary_roles_all {
                            self.available_role_names(s)
                                .into_iter()
                                .filter(|r| *r != s.primary_role)
                                .collect()
                        } else {
                            Vec::new()
                        };
                        let value = if s.secondary_roles_all { "ALL" } else { "" };
                        text(Some(
                            serde_json::json!({"roles": roles.join(","), "value": value})
                                .to_string(),
                        ))
                    }
                    "CURRENT_AVAILABLE_ROLES" => text(Some(
                        serde_json::Value::from(self.available_role_names(s)).to_string(),
                    )),
                    "CURRENT_DATABASE" => text(s.database.clone()),
                    "CURRENT_SCHEMA" => text(s.schema.clone()),
                    "CURRENT_WAREHOUSE" => text(s.warehouse.clone()),
                    "CURRENT_ACCOUNT" | "CURRENT_ACCOUNT_NAME" => text(Some(self.name.clone())),
                    "CURRENT_TIMESTAMP" | "LOCALTIMESTAMP" | "SYSDATE" => {
                        (ColumnType::TimestampLtz, Cell::Timestamp(t))
                    }
                    "CURRENT_VERSION" => text(Some("9.0.0".into())),
                    "CURRENT_SESSION" => text(Some(s.user_id.to_string())),
                    // §5.14: the client id and both secrets of a Snowflake OAuth integration.
                    "SYSTEM$SHOW_OAUTH_CLIENT_SECRETS" => match args.as_slice() {
                        [Expr::String(integration)] => {
                            text(Some(self.show_oauth_client_secrets(s, integration)?))
                        }
                        _ => return Err(errors::syntax(name)),
                    },
                    _ => return Err(unknown_function(name)),
                }
            }
        })
    }

    pub(crate) fn select(
        &self,
        s: &Session,
        sel: &Select,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let Some(from) = &sel.from else {
            if !sel.filter.is_empty() {
                let (c, _) = &sel.filter[0];
                return Err(invalid_identifier(c.as_str()));
            }
            let mut columns = Vec::new();
            let mut row = Vec::new();
            for item in &sel.items {
                let (ty, cell) = self.scalar(s, &item.expr, t)?;
                let name = item
                    .alias
                    .as_ref()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_else(|| column_name(&item.expr));
                columns.push(Column {
                    name,
                    ty,
                    nullable: matches!(cell, Cell::Null) || !matches!(item.expr, Expr::Number(_)),
                });
                row.push(cell);
            }
            // Client secrets are secrets: stored answers keep them 24 h only (protocols §2.8).
            let carries_secret = sel.items.iter().any(|item| {
                matches!(&item.expr, Expr::Function { name, .. } if name == "SYSTEM$SHOW_OAUTH_CLIENT_SECRETS")
            });
            return Ok(unchanged(ResultSet {
                columns,
                rows: vec![row],
                changed: false,
                carries_secret,
            }));
        };
        let parts: Vec<String> = from.0.iter().map(|i| i.as_str().to_uppercase()).collect();
        let full = match parts.len() {
            3 => parts.clone(),
            2 => vec![
                s.database.clone().unwrap_or_default(),
                parts[0].clone(),
                parts[1].clone(),
            ],
            _ => vec![
                s.database.clone().unwrap_or_default(),
                s.schema.clone().unwrap_or_default(),
                parts[0].clone(),
            ],
        };
        let display = from
            .0
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(".");
        if full != ["SNOWFLAKE", "ACCOUNT_USAGE", "CREDENTIALS"] {
            return Err(SqlError::new(
                "002003",
                "42S02",
                format!(
                    "SQL compilation error:\nObject '{display}' does not exist or not authorized."
                ),
            ));
        }
        let roles = self.effective_roles(s);
        let admin = self
            .catalog
            .role_id("ACCOUNTADMIN")
            .is_some_and(|a| roles.contains(&a));
        if !admin {
            return Err(SqlError::new(
                "002003",
                "42S02",
                format!(
                    "SQL compilation error:\nObject '{display}' does not exist or not authorized."
                ),
            ));
        }
        self.select_credentials(s, sel, t)
    }

    fn select_credentials(
        &self,
        s: &Session,
        sel: &Select,
        t: DateTime<Utc>,
    ) -> Result<ResultSet, SqlError> {
        let col_index = |name: &str| {
            CREDENTIAL_COLUMNS
                .iter()
                .position(|(c, _)| c.eq_ignore_ascii_case(name))
        };
        let mut all_rows: Vec<Vec<Cell>> = Vec::new();
        for p in &self.catalog.pats {
            if !self.catalog.users.contains_key(&p.user_id) {
                continue;
            }
            let details = serde_json::json!({
                "MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT": p.bypass_until.filter(|b| *b > t).map(|b| ((b - t).num_seconds() + 59) / 60),
                "ROLE_RESTRICTION": p.role_restriction,
                "ROTATED_TO": p.rotated_to,
            });
            all_rows.push(vec![
                Cell::Number(p.id.to_string()),
                Cell::Text(p.name.clone()),
                Cell::Text(self.catalog.user_display(p.user_id)),
                Cell::Text("PAT".into()),
                Cell::Text("USER".into()),
                p.comment.clone().map(Cell::Text).unwrap_or(Cell::Null),
                Cell::Text(p.status(t).as_str().into()),
                Cell::Text(details.to_string()),
                Cell::Text(self.catalog.user_display(p.created_by)),
                Cell::Text(self.catalog.user_display(p.created_by)),
                Cell::Timestamp(p.created_on),
                p.last_used_on.map(Cell::Timestamp).unwrap_or(Cell::Null),
                Cell::Timestamp(p.created_on),
                Cell::Timestamp(p.expires_at),
            ]);
        }
        // WHERE col = literal AND ...
        let mut filters = Vec::new();
        for (col, expr) in &sel.filter {
            let idx = col_index(col.as_str()).ok_or_else(|| invalid_identifier(col.as_str()))?;
            let want = match expr {
                Expr::String(v) | Expr::Number(v) => Some(v.clone()),
                Expr::Bool(b) => Some(b.to_string()),
                Expr::Null => None,
                Expr::Function { .. } => {
                    let (_, c) = self.scalar(s, expr, t)?;
                    cell_text(&c)
                }
                other => return Err(errors::syntax(&other.to_string())),
            };
            filters.push((idx, want));
        }
        all_rows.retain(|r| {
            filters
                .iter()
                .all(|(i, want)| want.is_some() && cell_text(&r[*i]) == *want)
        });
        all_rows.sort_by(|a, b| cell_text(&a[0]).cmp(&cell_text(&b[0])));
        // Projection.
        let mut columns = Vec::new();
        let mut getters: Vec<Result<usize, Cell>> = Vec::new();
        for item in &sel.items {
            match &item.expr {
                Expr::Wildcard => {
                    for (i, (name, ty)) in CREDENTIAL_COLUMNS.iter().enumerate() {
                        columns.push(Column {
                            name: (*name).to_owned(),
                            ty: *ty,
                            nullable: true,
                        });
                        getters.push(Ok(i));
                    }
                }
                Expr::Column(c) => {
                    let i = col_index(c.as_str()).ok_or_else(|| invalid_identifier(c.as_str()))?;
                    columns.push(Column {
                        name: item
                            .alias
                            .as_ref()
                            .map(|a| a.as_str().to_owned())
                            .unwrap_or_else(|| CREDENTIAL_COLUMNS[i].0.to_owned()),
                        ty: CREDENTIAL_COLUMNS[i].1,
                        nullable: true,
                    });
                    getters.push(Ok(i));
                }
                other => {
                    let (ty, cell) = self.scalar(s, other, t)?;
                    columns.push(Column {
                        name: item
                            .alias
                            .as_ref()
                            .map(|a| a.as_str().to_owned())
                            .unwrap_or_else(|| column_name(other)),
                        ty,
                        nullable: true,
                    });
                    getters.push(Err(cell));
                }
            }
        }
        let rows = all_rows
            .iter()
            .map(|r| {
                getters
                    .iter()
                    .map(|g| match g {
                        Ok(i) => r[*i].clone(),
                        Err(c) => c.clone(),
                    })
                    .collect()
            })
            .collect();
        Ok(unchanged(ResultSet {
            columns,
            rows,
            changed: false,
            carries_secret: false,
        }))
    }
}
