//! SHOW USERS, ROLES, GRANTS and the other object lists (§5.17).

use std::collections::BTreeSet;

use snowpat_sql::ast::{ShowFilter, ShowGrantsTarget, ShowKind, ShowScope};

use super::catalog::{Body, Grantee, Kind, Target};
use super::{errors, unchanged};
use super::{Account, Cell, Column, ColumnType, ResultSet, Session, SqlError};

pub(crate) fn ts_col(name: &str) -> Column {
    Column {
        name: name.into(),
        ty: ColumnType::TimestampLtz,
        nullable: true,
    }
}

fn num_col(name: &str) -> Column {
    Column {
        name: name.into(),
        ty: ColumnType::Fixed {
            precision: 38,
            scale: 0,
        },
        nullable: true,
    }
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn opt(s: &Option<String>) -> Cell {
    s.clone().map(Cell::Text).unwrap_or(Cell::Null)
}

fn tf(b: bool) -> Cell {
    Cell::Text(if b { "true" } else { "false" }.into())
}

fn yn(b: bool) -> Cell {
    Cell::Text(if b { "Y" } else { "N" }.into())
}

/// SQL LIKE, case-insensitive, with `%` and `_` (and `\\` escapes); linear-space dynamic
/// programming, so no pattern can make it slow.
pub(crate) fn like(pattern: &str, s: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern
        .to_lowercase()
        .chars()
        .collect::<Vec<_>>()
        .into_iter();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                if toks.last() != Some(&Tok::Any) {
                    toks.push(Tok::Any);
                }
            }
            '_' => toks.push(Tok::One),
            '\\' => toks.push(Tok::Lit(chars.next().unwrap_or('\\'))),
            c => toks.push(Tok::Lit(c)),
        }
    }
    let text: Vec<char> = s.to_lowercase().chars().collect();
    // m[j]: the first i tokens match the first j characters.
    let mut m = vec![false; text.len() + 1];
    m[0] = true;
    for tok in toks {
        let mut next = vec![false; text.len() + 1];
        match tok {
            Tok::Any => {
                let mut seen = false;
                for j in 0..=text.len() {
                    seen |= m[j];
                    next[j] = seen;
                }
            }
            Tok::One => {
                let n = text.len();
                next[1..=n].copy_from_slice(&m[..n]);
            }
            Tok::Lit(c) => {
                for j in 1..=text.len() {
                    next[j] = m[j - 1] && text[j - 1] == c;
                }
            }
        }
        m = next;
    }
    m[text.len()]
}

/// Sorts rows by name and applies LIKE, STARTS WITH, LIMIT ... FROM (§5.17).
pub(crate) fn apply_filter(mut rows: Vec<(String, Vec<Cell>)>, f: &ShowFilter) -> Vec<Vec<Cell>> {
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter()
        .filter(|(n, _)| f.like.as_ref().is_none_or(|p| like(p, n)))
        .filter(|(n, _)| {
            f.starts_with
                .as_ref()
                .is_none_or(|p| n.starts_with(p.as_str()))
        })
        .filter(|(n, _)| {
            f.from
                .as_ref()
                .is_none_or(|from| n.as_str() >= from.as_str())
        })
        .take(
            f.limit
                .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)),
        )
        .map(|(_, r)| r)
        .collect()
}

fn result(columns: Vec<Column>, rows: Vec<Vec<Cell>>) -> ResultSet {
    unchanged(ResultSet {
        columns,
        rows,
        changed: false,
        carries_secret: false,
    })
}

fn text_cols(names: &[&str]) -> Vec<Column> {
    names.iter().map(|n| Column::text(n)).collect()
}

impl Account {
    pub(crate) fn show_users(
        &self,
        s: &Session,
        terse: bool,
        filter: &ShowFilter,
    ) -> Result<ResultSet, SqlError> {
        let roles = self.effective_roles(s);
        let all = self.manage_grants(&roles);
        let mut rows = Vec::new();
        for u in self.catalog.users.values() {
            if !all && !self.catalog.holds_any(&roles, Target::User(u.id)) {
                continue;
            }
            let has_pat = self.catalog.pats.iter().any(|p| p.user_id == u.id);
            let has_rsa = u.rsa_public_key.is_some() || u.rsa_public_key_2.is_some();
            let row = if terse {
                vec![
                    text(&u.name),
                    Cell::Timestamp(u.created_on),
                    opt(&u.display_name),
                    opt(&u.first_name),
                    opt(&u.last_name),
                    opt(&u.email),
                    Cell::Null,
                    opt(&u.comment),
                    tf(u.password_digest.is_some()),
                    tf(has_rsa),
                    opt(&u.user_type),
                    tf(false),
                    tf(has_pat),
                    tf(false),
                    tf(false),
                ]
            } else {
                vec![
                    text(&u.name),
                    Cell::Timestamp(u.created_on),
                    text(&u.login_name),
                    opt(&u.display_name),
                    opt(&u.first_name),
                    opt(&u.last_name),
                    opt(&u.email),
                    opt(&u.mins_to_unlock),
                    opt(&u.days_to_expiry),
                    opt(&u.comment),
                    tf(u.disabled),
                    tf(u.must_change_password),
                    tf(false),
                    opt(&u.default_warehouse),
                    opt(&u.default_namespace),
                    opt(&u.default_role),
                    if u.default_secondary_all {
                        text("[\"ALL\"]")
                    } else {
                        text("[]")
                    },
                    tf(false),
                    Cell::Null,
                    opt(&u.mins_to_bypass_mfa),
                    text(self.catalog.opt_role_name(u.owner)),
                    u.last_success_login
                        .map(Cell::Timestamp)
                        .unwrap_or(Cell::Null),
                    Cell::Null,
                    u.locked_until.map(Cell::Timestamp).unwrap_or(Cell::Null),
                    tf(u.password_digest.is_some()),
                    tf(has_rsa),
                    opt(&u.user_type),
                    tf(false),
                    tf(has_pat),
                    tf(false),
                ]
            };
            rows.push((u.name.clone(), row));
        }
        let columns = if terse {
            let mut c = text_cols(&["name"]);
            c.push(ts_col("created_on"));
            c.extend(text_cols(&[
                "display_name",
                "first_name",
                "last_name",
                "email",
                "org_identity",
                "comment",
                "has_password",
                "has_rsa_public_key",
                "type",
                "has_mfa",
                "has_pat",
                "has_federated_workload_authentication",
                "is_from_organization_user",
            ]));
            c
        } else {
            let mut c = text_cols(&["name"]);
            c.push(ts_col("created_on"));
            c.extend(text_cols(&[
                "login_name",
                "display_name",
                "first_name",
                "last_name",
                "email",
                "mins_to_unlock",
                "days_to_expiry",
                "comment",
                "disabled",
                "must_change_password",
                "snowflake_lock",
                "default_warehouse",
                "default_namespace",
                "default_role",
                "default_secondary_roles",
                "ext_authn_duo",
                "ext_authn_uid",
                "mins_to_bypass_mfa",
                "owner",
            ]));
            c.extend([
                ts_col("last_success_login"),
                ts_col("expires_at_time"),
                ts_col("locked_until_time"),
            ]);
            c.extend(text_cols(&[
                "has_password",
                "has_rsa_public_key",
                "type",
                "has_mfa",
                "has_pat",
                "has_federated_workload_authentication",
            ]));
            c
        };
        Ok(result(columns, apply_filter(rows, filter)))
    }

    pub(crate) fn show_roles(
        &self,
        s: &Session,
        terse: bool,
        filter: &ShowFilter,
    ) -> Result<ResultSet, SqlError> {
        let effective = self.effective_roles(s);
        let default_role = self
            .catalog
            .users
            .get(&s.user_id)
            .and_then(|u| u.default_role.clone());
        let mut rows = Vec::new();
        // How many distinct grantees (users, or else roles) hold `role`.
        let grantees = |role, users: bool| {
            self.catalog
                .role_grants
                .iter()
                .filter(|g| g.role == role && matches!(g.to, Grantee::User(_)) == users)
                .map(|g| g.to)
                .collect::<BTreeSet<_>>()
                .len()
        };
        for r in self.catalog.roles.values().filter(|r| r.database.is_none()) {
            let users = grantees(r.id, true);
            let to_roles = grantees(r.id, false);
            let granted = self
                .catalog
                .role_grants
                .iter()
                .filter(|g| g.to == Grantee::Role(r.id))
                .map(|g| g.role)
                .collect::<BTreeSet<_>>()
                .len();
            let row = if terse {
                vec![Cell::Timestamp(r.created_on), text(&r.name)]
            } else {
                vec![
                    Cell::Timestamp(r.created_on),
                    text(&r.name),
                    yn(default_role.as_deref() == Some(r.name.as_str())),
                    yn(s.primary_role == r.name),
                    yn(s.primary_role != r.name && effective.contains(&r.id)),
                    Cell::Number(users.to_string()),
                    Cell::Number(to_roles.to_string()),
                    Cell::Number(granted.to_string()),
                    text(self.catalog.opt_role_name(r.owner)),
                    text(r.comment.clone().unwrap_or_default()),
                ]
            };
            rows.push((r.name.clone(), row));
        }
        let mut columns = vec![ts_col("created_on"), Column::text("name")];
        if !terse {
            columns.extend(text_cols(&["is_default", "is_current", "is_inherited"]));
            columns.extend([
                num_col("assigned_to_users"),
                num_col("granted_to_roles"),
                num_col("granted_roles"),
            ]);
            columns.extend(text_cols(&["owner", "comment"]));
        }
        Ok(result(columns, apply_filter(rows, filter)))
    }

    fn role_visible(&self, s: &Session, role: u64) -> bool {
        let roles = self.effective_roles(s);
        roles.contains(&role)
            || self.catalog.owns(&roles, Target::Role(role))
            || self.manage_grants(&roles)
    }

    /// One row of SHOW GRANTS TO ROLE / ON (8 columns; `with_type` adds granted_by_role_type).
    #[allow(clippy::too_many_arguments)]
    fn grant_row(
        &self,
        created: chrono::DateTime<chrono::Utc>,
        privilege: &str,
        target: Target,
        granted_to: &str,
        grantee: String,
        grant_option: bool,
        granted_by: Option<u64>,
        with_type: bool,
    ) -> Vec<Cell> {
        let (kind, name) = self.catalog.target_info(target, &self.name);
        let mut row = vec![
            Cell::Timestamp(created),
            text(privilege),
            text(kind.granted_on()),
            text(name),
            text(granted_to),
            text(grantee),
            tf(grant_option),
            text(self.catalog.opt_role_name(granted_by)),
        ];
        if with_type {
            row.push(text(if granted_by.is_some() { "ROLE" } else { "" }));
        }
        row
    }

    fn grant_columns(with_type: bool) -> Vec<Column> {
        let mut c = vec![ts_col("created_on")];
        c.extend(text_cols(&[
            "privilege",
            "granted_on",
            "name",
            "granted_to",
            "grantee_name",
            "grant_option",
            "granted_by",
        ]));
        if with_type {
            c.push(Column::text("granted_by_role_type"));
        }
        c
    }

    fn targets_owned_by(&self, role: u64) -> Vec<(chrono::DateTime<chrono::Utc>, Target)> {
        let c = &self.catalog;
        let mut out: Vec<(chrono::DateTime<chrono::Utc>, Target)> = Vec::new();
        out.extend(
            c.users
                .values()
                .filter(|u| u.owner == Some(role))
                .map(|u| (u.created_on, Target::User(u.id))),
        );
        out.extend(
            c.roles
                .values()
                .filter(|r| r.owner == Some(role))
                .map(|r| (r.created_on, Target::Role(r.id))),
        );
        out.extend(
            c.objects
                .values()
                .filter(|o| o.owner == Some(role))
                .map(|o| (o.created_on, Target::Object(o.id))),
        );
        out
    }

    fn grants_to_role_rows(&self, rid: u64) -> Vec<Vec<Cell>> {
        let grantee = self.catalog.role_name(rid);
        let mut rows = Vec::new();
        for (created, target) in self.targets_owned_by(rid) {
            rows.push(self.grant_row(
                created,
                "OWNERSHIP",
                target,
                "ROLE",
                grantee.clone(),
                true,
                Some(rid),
                false,
            ));
        }
        for g in self.catalog.priv_grants.iter().filter(|g| g.role == rid) {
            rows.push(self.grant_row(
                g.created_on,
                &g.privilege,
                g.target,
                "ROLE",
                grantee.clone(),
                g.grant_option,
                g.granted_by,
                false,
            ));
        }
        let mut seen = BTreeSet::new();
        for g in self
            .catalog
            .role_grants
            .iter()
            .filter(|g| g.to == Grantee::Role(rid))
        {
            if !seen.insert(g.role) {
                continue;
            }
            rows.push(self.grant_row(
                g.created_on,
                "USAGE",
                Target::Role(g.role),
                "ROLE",
                grantee.clone(),
                g.grant_option,
                g.granted_by,
                false,
            ));
        }
        rows
    }

    pub(crate) fn show_grants(
        &self,
        s: &Session,
        target: &ShowGrantsTarget,
    ) -> Result<ResultSet, SqlError> {
        match target {
            ShowGrantsTarget::CurrentUser => self.show_grants_to_user(s, &s.user_name.clone()),
            ShowGrantsTarget::ToUser(u) => self.show_grants_to_user(s, u.as_str()),
            ShowGrantsTarget::ToRole(r) => {
                let rid = self
                    .catalog
                    .role_id(r.as_str())
                    .ok_or_else(|| errors::not_found(Kind::Role, r.as_str()))?;
                if !self.role_visible(s, rid) {
                    return Err(errors::insufficient(Kind::Role, r.as_str()));
                }
                Ok(result(
                    Self::grant_columns(false),
                    self.grants_to_role_rows(rid),
                ))
            }
            ShowGrantsTarget::ToDatabaseRole(name) => {
                let parts: Vec<&str> = name.0.iter().map(|i| i.as_str()).collect();
                let (db, role) = match parts.as_slice() {
                    [db, role] => (*db, *role),
                    _ => return Err(errors::syntax(&parts.join("."))),
                };
                let rid = self.catalog.database_role_id(db, role).ok_or_else(|| {
                    errors::not_found(Kind::DatabaseRole, &format!("{db}.{role}"))
                })?;
                Ok(result(
                    Self::grant_columns(false),
                    self.grants_to_role_rows(rid),
                ))
            }
            ShowGrantsTarget::OfRole(r) => {
                let rid = self
                    .catalog
                    .role_id(r.as_str())
                    .ok_or_else(|| errors::not_found(Kind::Role, r.as_str()))?;
                if !self.role_visible(s, rid) {
                    return Err(errors::insufficient(Kind::Role, r.as_str()));
                }
                let rows = self
                    .catalog
                    .role_grants
                    .iter()
                    .filter(|g| g.role == rid)
                    .map(|g| {
                        let (to, name) = match g.to {
                            Grantee::Role(p) => ("ROLE", self.catalog.role_name(p)),
                            Grantee::User(u) => ("USER", self.catalog.user_display(u)),
                        };
                        vec![
                            Cell::Timestamp(g.created_on),
                            text(self.catalog.role_name(rid)),
                            text(to),
                            text(name),
                            text(self.catalog.opt_role_name(g.granted_by)),
                        ]
                    })
                    .collect();
                let mut cols = vec![ts_col("created_on")];
                cols.extend(text_cols(&[
                    "role",
                    "granted_to",
                    "grantee_name",
                    "granted_by",
                ]));
                Ok(result(cols, rows))
            }
            ShowGrantsTarget::OnAccount => {
                let rows = self
                    .catalog
                    .priv_grants
                    .iter()
                    .filter(|g| g.target == Target::Account)
                    .map(|g| {
                        self.grant_row(
                            g.created_on,
                            &g.privilege,
                            g.target,
                            "ROLE",
                            self.catalog.role_name(g.role),
                            g.grant_option,
                            g.granted_by,
                            true,
                        )
                    })
                    .collect();
                Ok(result(Self::grant_columns(true), rows))
            }
            ShowGrantsTarget::On { kind, name } => {
                let target = self.resolve_target(s, *kind, name, "SHOW GRANTS")?;
                let roles = self.effective_roles(s);
                if !matches!(target, Target::Account | Target::User(_) | Target::Role(_))
                    && !self.catalog.holds_any(&roles, target)
                    && !self.manage_grants(&roles)
                {
                    return Err(self.denied(&roles, target));
                }
                let mut rows = Vec::new();
                if let Some(owner) = self.catalog.owner_of(target) {
                    let created = match target {
                        Target::User(id) => self.catalog.users.get(&id).map(|u| u.created_on),
                        Target::Role(id) => self.catalog.roles.get(&id).map(|r| r.created_on),
                        Target::Object(id) => self.catalog.objects.get(&id).map(|o| o.created_on),
                        Target::Account => None,
                    }
                    .unwrap_or_default();
                    rows.push(self.grant_row(
                        created,
                        "OWNERSHIP",
                        target,
                        "ROLE",
                        self.catalog.role_name(owner),
                        true,
                        Some(owner),
                        true,
                    ));
                }
                for g in self
                    .catalog
                    .priv_grants
                    .iter()
                    .filter(|g| g.target == target)
                {
                    rows.push(self.grant_row(
                        g.created_on,
                        &g.privilege,
                        target,
                        "ROLE",
                        self.catalog.role_name(g.role),
                        g.grant_option,
                        g.granted_by,
                        true,
                    ));
                }
                if let Target::Role(rid) = target {
                    let mut seen = BTreeSet::new();
                    for g in self.catalog.role_grants.iter().filter(|g| g.role == rid) {
                        if !seen.insert(g.to) {
                            continue;
                        }
                        let (to, name) = match g.to {
                            Grantee::Role(p) => ("ROLE", self.catalog.role_name(p)),
                            Grantee::User(u) => ("USER", self.catalog.user_display(u)),
                        };
                        rows.push(self.grant_row(
                            g.created_on,
                            "USAGE",
                            target,
                            to,
                            name,
                            g.grant_option,
                            g.granted_by,
                            true,
                        ));
                    }
                }
                Ok(result(Self::grant_columns(true), rows))
            }
        }
    }

    fn show_grants_to_user(&self, s: &Session, user: &str) -> Result<ResultSet, SqlError> {
        let uid = self
            .catalog
            .user_id(user)
            .ok_or_else(|| errors::not_found(Kind::User, user))?;
        let roles = self.effective_roles(s);
        if uid != s.user_id
            && !self.catalog.owns(&roles, Target::User(uid))
            && !self.manage_grants(&roles)
        {
            return Err(errors::insufficient(Kind::User, user));
        }
        let rows = self
            .catalog
            .role_grants
            .iter()
            .filter(|g| g.to == Grantee::User(uid))
            .map(|g| {
                let role = self.catalog.role_name(g.role);
                vec![
                    Cell::Timestamp(g.created_on),
                    text("USAGE"),
                    text("ROLE"),
                    text(role.clone()),
                    text(role),
                    text("USER"),
                    text(user),
                    tf(false),
                    text(self.catalog.opt_role_name(g.granted_by)),
                ]
            })
            .collect();
        let mut cols = vec![ts_col("created_on")];
        cols.extend(text_cols(&[
            "privilege",
            "granted_on",
            "name",
            "role",
            "granted_to",
            "grantee_name",
            "grant_option",
            "granted_by",
        ]));
        Ok(result(cols, rows))
    }

    pub(crate) fn show_objects(
        &self,
        s: &Session,
        kind: ShowKind,
        filter: &ShowFilter,
        scope: Option<&ShowScope>,
    ) -> Result<ResultSet, SqlError> {
        let roles = self.effective_roles(s);
        let all = self.manage_grants(&roles);
        if kind == ShowKind::Parameters {
            let mut rows: Vec<(String, Vec<Cell>)> = Vec::new();
            for (k, v) in &s.parameters {
                rows.push((
                    k.clone(),
                    vec![
                        text(k),
                        text(v),
                        text(""),
                        text("SESSION"),
                        text(""),
                        text("STRING"),
                    ],
                ));
            }
            for (k, v) in &self.catalog.account_parameters {
                if !rows.iter().any(|(n, _)| n == k) {
                    rows.push((
                        k.clone(),
                        vec![
                            text(k),
                            text(v),
                            text(""),
                            text("ACCOUNT"),
                            text(""),
                            text("STRING"),
                        ],
                    ));
                }
            }
            return Ok(result(
                text_cols(&["key", "value", "default", "level", "description", "type"]),
                apply_filter(rows, filter),
            ));
        }
        if kind == ShowKind::DatabaseRoles {
            let db = match scope {
                Some(ShowScope::Database(d)) => d.as_str().to_owned(),
                _ => s
                    .database
                    .clone()
                    .ok_or_else(|| errors::no_current("SHOW DATABASE ROLES", "database"))?,
            };
            let rows = self
                .catalog
                .roles
                .values()
                .filter(|r| r.database.as_deref() == Some(db.as_str()))
                .map(|r| {
                    (
                        r.name.clone(),
                        vec![
                            Cell::Timestamp(r.created_on),
                            text(&r.name),
                            yn(false),
                            yn(false),
                            yn(false),
                            Cell::Number(
                                self.catalog
                                    .role_grants
                                    .iter()
                                    .filter(|g| g.role == r.id)
                                    .count()
                                    .to_string(),
                            ),
                            text(self.catalog.opt_role_name(r.owner)),
                            text(r.comment.clone().unwrap_or_default()),
                        ],
                    )
                })
                .collect();
            let mut cols = vec![ts_col("created_on")];
            cols.extend(text_cols(&[
                "name",
                "is_default",
                "is_current",
                "is_inherited",
            ]));
            cols.push(num_col("granted_to_roles"));
            cols.extend(text_cols(&["owner", "comment"]));
            return Ok(result(cols, apply_filter(rows, filter)));
        }
        let k = match kind {
            ShowKind::Databases => Kind::Database,
            ShowKind::Schemas => Kind::Schema,
            ShowKind::NetworkPolicies => Kind::NetworkPolicy,
            ShowKind::NetworkRules => Kind::NetworkRule,
            ShowKind::Secrets => Kind::Secret,
            ShowKind::Integrations | ShowKind::SecurityIntegrations => Kind::Integration,
            ShowKind::McpServers => Kind::McpServer,
            ShowKind::Services => Kind::Service,
            ShowKind::ComputePools => Kind::ComputePool,
            ShowKind::Stages => Kind::Stage,
            ShowKind::ImageRepositories => Kind::ImageRepository,
            ShowKind::Parameters | ShowKind::DatabaseRoles => Kind::Account,
        };
        let prefix: Option<Vec<String>> = match scope {
            None | Some(ShowScope::Account) => match k {
                Kind::Schema => s.database.clone().map(|d| vec![d]),
                _ => None,
            },
            Some(ShowScope::Database(d)) => Some(vec![d.as_str().to_owned()]),
            Some(ShowScope::Schema(n)) => Some(self.schema_path(s, n, "SHOW")?),
        };
        let in_container = k == Kind::Schema || k.schema_level();
        let mut rows = Vec::new();
        for o in self.catalog.objects.values().filter(|o| o.kind == k) {
            if let Some(p) = &prefix {
                if !o.path.starts_with(p) {
                    continue;
                }
            }
            if !all && !self.catalog.holds_any(&roles, Target::Object(o.id)) {
                continue;
            }
            // SHOW INTEGRATIONS and SHOW NETWORK POLICIES have their own documented layouts.
            match &o.body {
                Body::Properties(p) if k == Kind::Integration => {
                    let get = |key: &str| p.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                    let row = vec![
                        text(o.name()),
                        text(get("TYPE").unwrap_or_else(|| "EXTERNAL_ACCESS".into())),
                        text(if get("TYPE").is_some() {
                            "SECURITY"
                        } else {
                            "EXTERNAL_ACCESS"
                        }),
                        text(
                            get("ENABLED")
                                .unwrap_or_else(|| "false".into())
                                .to_lowercase(),
                        ),
                        opt(&o.comment),
                        Cell::Timestamp(o.created_on),
                    ];
                    rows.push((o.name().to_owned(), row));
                    continue;
                }
                Body::NetworkPolicy(np) => {
                    let row = vec![
                        Cell::Timestamp(o.created_on),
                        text(o.name()),
                        text(o.comment.clone().unwrap_or_default()),
                        Cell::Number(np.allowed_ips.len().to_string()),
                        Cell::Number(np.blocked_ips.len().to_string()),
                        Cell::Number(np.allowed_rules.len().to_string()),
                        Cell::Number(np.blocked_rules.len().to_string()),
                    ];
                    rows.push((o.name().to_owned(), row));
                    continue;
                }
                _ => {}
            }
            let mut row = vec![Cell::Timestamp(o.created_on), text(o.name())];
            if in_container {
                row.push(text(o.path[0].clone()));
                if k.schema_level() {
                    row.push(text(o.path[1].clone()));
                }
            }
            row.push(text(self.catalog.opt_role_name(o.owner)));
            row.push(text(o.comment.clone().unwrap_or_default()));
            match &o.body {
                Body::NetworkRule(r) => {
                    row.push(text(&r.rule_type));
                    row.push(text(&r.mode));
                    row.push(Cell::Number(r.values.len().to_string()));
                }
                Body::Secret { secret_type, .. } => row.push(text(secret_type)),
                _ => {}
            }
            rows.push((o.name().to_owned(), row));
        }
        if k == Kind::Integration {
            let mut cols = text_cols(&["name", "type", "category", "enabled", "comment"]);
            cols.push(ts_col("created_on"));
            return Ok(result(cols, apply_filter(rows, filter)));
        }
        if k == Kind::NetworkPolicy {
            let cols = vec![
                ts_col("created_on"),
                Column::text("name"),
                Column::text("comment"),
                num_col("entries_in_allowed_ip_list"),
                num_col("entries_in_blocked_ip_list"),
                num_col("entries_in_allowed_network_rules"),
                num_col("entries_in_blocked_network_rules"),
            ];
            return Ok(result(cols, apply_filter(rows, filter)));
        }
        let mut cols = vec![ts_col("created_on"), Column::text("name")];
        if in_container {
            cols.push(Column::text("database_name"));
            if k.schema_level() {
                cols.push(Column::text("schema_name"));
            }
        }
        cols.extend(text_cols(&["owner", "comment"]));
        match k {
            Kind::NetworkRule => {
                cols.extend(text_cols(&["type", "mode"]));
                cols.push(num_col("entries_in_valuelist"));
            }
            Kind::Secret => cols.push(Column::text("secret_type")),
            _ => {}
        }
        Ok(result(cols, apply_filter(rows, filter)))
    }
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn like_is_case_insensitive_with_wildcards_and_escapes() {
        assert!(like("analyst", "ANALYST"));
        assert!(like("a%t", "ANALYST"));
        assert!(like("_NALYS_", "analyst"));
        assert!(!like("a_", "abc"));
        assert!(like("%", ""));
        assert!(like("a\\_b", "a_b"));
        assert!(!like("a\\_b", "axb"));
        assert!(like("a\"b", "a\"b"));
        let long = "a".repeat(5000);
        assert!(!like(&format!("{}b", "%".repeat(200)), &long));
        assert!(like(&"%a".repeat(100), &long));
    }
}
