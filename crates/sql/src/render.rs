//! Statements → text: the one quoting layer.
//!
//! Every name goes through [`quote_ident`] and every text through [`quote_string`], so whatever a
//! name or comment contains (quotes, `;`, `--`, `$$`, new lines, NUL, non-ASCII) it stays inside
//! its position: the rendered text lexes as exactly one statement and parses back to the same tree.

use std::fmt::{self, Display, Formatter, Write as _};

use crate::ast::*;
use crate::lexer::{is_ident_continue, is_reserved};

/// Words that are not reserved by Snowflake but that this grammar reads as keywords in some
/// name positions (`ALTER USER ADD PAT ...`, `IF NOT EXISTS`, `SELECT CURRENT_ROLE`): names
/// spelled like them are quoted, which is always harmless.
const QUOTED_KEYWORDS: &[&str] = &[
    "ADD",
    "ROTATE",
    "MODIFY",
    "REMOVE",
    "PAT",
    "PATS",
    "PROGRAMMATIC",
    "IF",
    "ROLE",
    "USER",
    "FORCE",
    "RESTRICT",
    "CASCADE",
    "COPY",
    "TERSE",
    "LIMIT",
    "STARTS",
    "PRIVILEGES",
    "OWNERSHIP",
    "SPECIFICATION",
    "TRANSACTION",
    "WORK",
    "NONE",
    "SECONDARY",
    "IDENTIFIER",
    "CURRENT_ROLE",
    "RENAME",
    "UNSET",
];

/// Whether `name` can be written without quotes and still mean exactly `name` (§1.1).
fn is_bare(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_uppercase() || first == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !is_reserved(name)
        && !QUOTED_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// The spelling of the identifier whose stored name is `name`: bare when it is a valid unquoted
/// identifier, all upper case and not a keyword, otherwise double-quoted with `""` for `"`.
pub fn quote_ident(name: &str) -> String {
    if is_bare(name) {
        name.to_string()
    } else {
        force_quote_ident(name)
    }
}

fn force_quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A single-quoted string literal whose content is exactly `s`: `\` is written `\\`, `'` is
/// written `''`, and new line, carriage return, tab and NUL are written `\n`, `\r`, `\t`, `\000`
/// (so a rendered statement stays on one line); everything else is written as is.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\000"),
            other => out.push(other),
        }
    }
    out.push('\'');
    out
}

/// A specification body: `$$...$$` when the content allows it, else a quoted string.
fn quote_body(s: &str) -> String {
    if s.contains("$$") || s.ends_with('$') {
        quote_string(s)
    } else {
        format!("$${s}$$")
    }
}

/// Whether `s` is a number the lexer reads back as one token (with an optional leading `-`):
/// `\d+(\.\d+)?([eE][+-]?\d+)?`.
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let bytes = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == bytes.len()
}

/// A number as written, or (when the text is not a number) a string literal: never raw text.
fn number(s: &str) -> String {
    if is_number(s) {
        s.to_string()
    } else {
        quote_string(s)
    }
}

/// A privilege word list (`MODIFY PROGRAMMATIC AUTHENTICATION METHODS`); a word that is not a
/// plain keyword is written double-quoted, which the parser refuses: it can never escape.
fn privilege(p: &str) -> String {
    p.split(' ')
        .map(|w| {
            let plain = w
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && w.chars().all(is_ident_continue)
                && !w.eq_ignore_ascii_case("ON");
            if plain {
                w.to_string()
            } else {
                force_quote_ident(w)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Display for Ident {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&quote_ident(self.as_str()))
    }
}

impl Display for ObjectName {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char('.')?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => f.write_str(&quote_string(s)),
            Value::Number(n) => f.write_str(&number(n)),
            Value::Bool(true) => f.write_str("TRUE"),
            Value::Bool(false) => f.write_str("FALSE"),
            Value::Null => f.write_str("NULL"),
            Value::Name(n) => write!(f, "{n}"),
            Value::List(items) => write!(f, "({})", Joined(items, ", ")),
            Value::Properties(props) => write!(f, "({})", Joined(props, ", ")),
        }
    }
}

impl Display for Property {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.name, self.value)
    }
}

/// Items written with a separator.
struct Joined<'a, T>(&'a [T], &'a str);

impl<T: Display> Display for Joined<'_, T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(self.1)?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

/// ` p = v p = v` (with a leading blank) or nothing.
struct Props<'a>(&'a [Property]);

impl Display for Props<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for p in self.0 {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

fn or_replace(b: bool) -> &'static str {
    if b {
        "OR REPLACE "
    } else {
        ""
    }
}

fn if_not_exists(b: bool) -> &'static str {
    if b {
        "IF NOT EXISTS "
    } else {
        ""
    }
}

fn if_exists(b: bool) -> &'static str {
    if b {
        "IF EXISTS "
    } else {
        ""
    }
}

fn comment(c: &Option<String>) -> String {
    c.as_deref()
        .map(|c| format!(" COMMENT = {}", quote_string(c)))
        .unwrap_or_default()
}

fn behavior(b: &Option<DropBehavior>) -> &'static str {
    match b {
        Some(DropBehavior::Restrict) => " RESTRICT",
        Some(DropBehavior::Cascade) => " CASCADE",
        None => "",
    }
}

/// The plural keyword(s) of a kind (`ON ALL SCHEMAS IN DATABASE d`).
fn plural(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Account => "ACCOUNTS",
        ObjectKind::User => "USERS",
        ObjectKind::Role => "ROLES",
        ObjectKind::Database => "DATABASES",
        ObjectKind::Schema => "SCHEMAS",
        ObjectKind::AuthenticationPolicy => "AUTHENTICATION POLICIES",
        ObjectKind::NetworkPolicy => "NETWORK POLICIES",
        ObjectKind::NetworkRule => "NETWORK RULES",
        ObjectKind::Secret => "SECRETS",
        ObjectKind::Integration => "INTEGRATIONS",
        ObjectKind::Stage => "STAGES",
        ObjectKind::ImageRepository => "IMAGE REPOSITORIES",
        ObjectKind::ComputePool => "COMPUTE POOLS",
        ObjectKind::ExternalAccessIntegration => "EXTERNAL ACCESS INTEGRATIONS",
        ObjectKind::Service => "SERVICES",
        ObjectKind::McpServer => "MCP SERVERS",
        ObjectKind::Warehouse => "WAREHOUSES",
    }
}

impl ShowKind {
    /// The keyword(s) after SHOW (`NETWORK POLICIES`).
    pub fn keyword(self) -> &'static str {
        match self {
            ShowKind::Databases => "DATABASES",
            ShowKind::Schemas => "SCHEMAS",
            ShowKind::NetworkPolicies => "NETWORK POLICIES",
            ShowKind::NetworkRules => "NETWORK RULES",
            ShowKind::Secrets => "SECRETS",
            ShowKind::Integrations => "INTEGRATIONS",
            ShowKind::SecurityIntegrations => "SECURITY INTEGRATIONS",
            ShowKind::DatabaseRoles => "DATABASE ROLES",
            ShowKind::Parameters => "PARAMETERS",
            ShowKind::McpServers => "MCP SERVERS",
            ShowKind::Services => "SERVICES",
            ShowKind::ComputePools => "COMPUTE POOLS",
            ShowKind::Stages => "STAGES",
            ShowKind::ImageRepositories => "IMAGE REPOSITORIES",
        }
    }
}

impl Display for Grantee {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Role(r) => write!(f, "ROLE {r}"),
            Grantee::User(u) => write!(f, "USER {u}"),
        }
    }
}

impl Display for Privileges {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Privileges::All => f.write_str("ALL PRIVILEGES"),
            Privileges::List(list) => {
                let rendered: Vec<String> = list.iter().map(|p| privilege(p)).collect();
                f.write_str(&rendered.join(", "))
            }
        }
    }
}

impl Display for GrantTarget {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            GrantTarget::Account => f.write_str("ACCOUNT"),
            GrantTarget::Object { kind, name } => write!(f, "{} {name}", kind.keyword()),
        }
    }
}

impl Display for OwnershipTarget {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            OwnershipTarget::Object { kind, name } => write!(f, "{} {name}", kind.keyword()),
            OwnershipTarget::All {
                kind,
                in_kind,
                in_name,
            } => write!(
                f,
                "ALL {} IN {} {in_name}",
                plural(*kind),
                in_kind.keyword()
            ),
        }
    }
}

/// `LIKE` part of a filter (leading blank).
struct Like<'a>(&'a ShowFilter);

impl Display for Like<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.0.like {
            write!(f, " LIKE {}", quote_string(l))?;
        }
        Ok(())
    }
}

/// `STARTS WITH`, `LIMIT`, `FROM` part of a filter (leading blank).
struct Tail<'a>(&'a ShowFilter);

impl Display for Tail<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.0.starts_with {
            write!(f, " STARTS WITH {}", quote_string(s))?;
        }
        if let Some(n) = self.0.limit {
            write!(f, " LIMIT {n}")?;
            if let Some(from) = &self.0.from {
                write!(f, " FROM {}", quote_string(from))?;
            }
        }
        Ok(())
    }
}

/// `IN ...` of a SHOW (leading blank).
struct Scope<'a>(&'a Option<ShowScope>);

impl Display for Scope<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => Ok(()),
            Some(ShowScope::Account) => f.write_str(" IN ACCOUNT"),
            Some(ShowScope::Database(d)) => write!(f, " IN DATABASE {d}"),
            Some(ShowScope::Schema(s)) => write!(f, " IN SCHEMA {s}"),
        }
    }
}

fn policy_scope(scope: PolicyScope) -> &'static str {
    match scope {
        PolicyScope::Account => "",
        PolicyScope::PersonUsers => " FOR ALL PERSON USERS",
        PolicyScope::ServiceUsers => " FOR ALL SERVICE USERS",
    }
}

impl Display for AlterUserAction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        const PAT: &str = "PROGRAMMATIC ACCESS TOKEN";
        match self {
            AlterUserAction::Rename(n) => write!(f, "RENAME TO {n}"),
            AlterUserAction::Set(props) => write!(f, "SET{}", Props(props)),
            AlterUserAction::Unset(names) => write!(f, "UNSET {}", Joined(names, ", ")),
            AlterUserAction::SetAuthenticationPolicy { policy, force } => write!(
                f,
                "SET AUTHENTICATION POLICY {policy}{}",
                if *force { " FORCE" } else { "" }
            ),
            AlterUserAction::UnsetAuthenticationPolicy => {
                f.write_str("UNSET AUTHENTICATION POLICY")
            }
            AlterUserAction::AddPat(add) => {
                write!(
                    f,
                    "ADD {PAT} {}{}",
                    if_not_exists(add.if_not_exists),
                    add.name
                )?;
                if let Some(role) = &add.role_restriction {
                    // §1.2: the role as a string literal of its identifier spelling.
                    write!(f, " ROLE_RESTRICTION = {}", quote_string(&role.to_string()))?;
                }
                if let Some(days) = add.days_to_expiry {
                    write!(f, " DAYS_TO_EXPIRY = {days}")?;
                }
                if let Some(mins) = add.mins_to_bypass_network_policy_requirement {
                    write!(f, " MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = {mins}")?;
                }
                f.write_str(&comment(&add.comment))
            }
            AlterUserAction::RotatePat {
                if_exists: ie,
                name,
                expire_rotated_token_after_hours,
            } => {
                write!(f, "ROTATE {PAT} {}{name}", if_exists(*ie))?;
                if let Some(h) = expire_rotated_token_after_hours {
                    write!(f, " EXPIRE_ROTATED_TOKEN_AFTER_HOURS = {h}")?;
                }
                Ok(())
            }
            AlterUserAction::ModifyPat {
                if_exists: ie,
                name,
                change,
            } => {
                write!(f, "MODIFY {PAT} {}{name} ", if_exists(*ie))?;
                match change {
                    ModifyPat::Rename(n) => write!(f, "RENAME TO {n}"),
                    ModifyPat::Set {
                        disabled,
                        mins_to_bypass_network_policy_requirement,
                        comment: c,
                    } => {
                        f.write_str("SET")?;
                        if let Some(d) = disabled {
                            write!(f, " DISABLED = {}", if *d { "TRUE" } else { "FALSE" })?;
                        }
                        if let Some(m) = mins_to_bypass_network_policy_requirement {
                            write!(f, " MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = {m}")?;
                        }
                        f.write_str(&comment(c))
                    }
                    ModifyPat::Unset(items) => {
                        let names: Vec<&str> = items
                            .iter()
                            .map(|p| match p {
                                PatProperty::Disabled => "DISABLED",
                                PatProperty::MinsToBypassNetworkPolicyRequirement => {
                                    "MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT"
                                }
                                PatProperty::Comment => "COMMENT",
                            })
                            .collect();
                        write!(f, "UNSET {}", names.join(", "))
                    }
                }
            }
            AlterUserAction::RemovePat {
                if_exists: ie,
                name,
            } => write!(f, "REMOVE {PAT} {}{name}", if_exists(*ie)),
        }
    }
}

impl Display for AlterAccountAction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AlterAccountAction::SetAuthenticationPolicy {
                policy,
                scope,
                force,
            } => write!(
                f,
                "SET AUTHENTICATION POLICY {policy}{}{}",
                policy_scope(*scope),
                if *force { " FORCE" } else { "" }
            ),
            AlterAccountAction::UnsetAuthenticationPolicy { scope } => {
                write!(f, "UNSET AUTHENTICATION POLICY{}", policy_scope(*scope))
            }
            AlterAccountAction::SetNetworkPolicy(p) => write!(f, "SET NETWORK_POLICY = {p}"),
            AlterAccountAction::UnsetNetworkPolicy => f.write_str("UNSET NETWORK_POLICY"),
            AlterAccountAction::SetParameters(props) => write!(f, "SET{}", Props(props)),
            AlterAccountAction::UnsetParameters(names) => {
                write!(f, "UNSET {}", Joined(names, ", "))
            }
        }
    }
}

impl Display for ShowGrantsTarget {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ShowGrantsTarget::CurrentUser => f.write_str("SHOW GRANTS"),
            ShowGrantsTarget::OnAccount => f.write_str("SHOW GRANTS ON ACCOUNT"),
            ShowGrantsTarget::On { kind, name } => {
                write!(f, "SHOW GRANTS ON {} {name}", kind.keyword())
            }
            ShowGrantsTarget::ToRole(r) => write!(f, "SHOW GRANTS TO ROLE {r}"),
            ShowGrantsTarget::ToUser(u) => write!(f, "SHOW GRANTS TO USER {u}"),
            ShowGrantsTarget::OfRole(r) => write!(f, "SHOW GRANTS OF ROLE {r}"),
            ShowGrantsTarget::ToDatabaseRole(r) => write!(f, "SHOW GRANTS TO DATABASE ROLE {r}"),
        }
    }
}

impl Display for UseTarget {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            UseTarget::Role(r) => write!(f, "USE ROLE {r}"),
            UseTarget::SecondaryRoles(SecondaryRoles::All) => {
                f.write_str("USE SECONDARY ROLES ALL")
            }
            UseTarget::SecondaryRoles(SecondaryRoles::None) => {
                f.write_str("USE SECONDARY ROLES NONE")
            }
            UseTarget::Database(d) => write!(f, "USE DATABASE {d}"),
            UseTarget::Schema(s) => write!(f, "USE SCHEMA {s}"),
            UseTarget::Warehouse(w) => write!(f, "USE WAREHOUSE {w}"),
        }
    }
}

impl Display for SelectItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if let Some(a) = &self.alias {
            write!(f, " AS {a}")?;
        }
        Ok(())
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "SELECT {}", Joined(&self.items, ", "))?;
        if let Some(from) = &self.from {
            write!(f, " FROM {from}")?;
        }
        for (i, (col, value)) in self.filter.iter().enumerate() {
            let sep = if i == 0 { " WHERE" } else { " AND" };
            write!(f, "{sep} {col} = {value}")?;
        }
        Ok(())
    }
}

pub(crate) fn fmt_expr(expr: &Expr, f: &mut Formatter<'_>) -> fmt::Result {
    match expr {
        Expr::Wildcard => f.write_char('*'),
        Expr::Number(n) => f.write_str(&number(n)),
        Expr::String(s) => f.write_str(&quote_string(s)),
        Expr::Bool(true) => f.write_str("TRUE"),
        Expr::Bool(false) => f.write_str("FALSE"),
        Expr::Null => f.write_str("NULL"),
        Expr::Column(c) => write!(f, "{c}"),
        Expr::Function { name, args } => {
            let plain = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '$');
            if plain {
                f.write_str(name)?;
            } else {
                f.write_str(&force_quote_ident(name))?;
            }
            write!(f, "({})", Joined(args, ", "))
        }
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use Statement as S;
        match self {
            S::CreateUser {
                or_replace: r,
                if_not_exists: i,
                name,
                properties,
            } => write!(
                f,
                "CREATE {}USER {}{name}{}",
                or_replace(*r),
                if_not_exists(*i),
                Props(properties)
            ),
            S::AlterUser {
                if_exists: i,
                user,
                action,
            } => {
                write!(f, "ALTER USER {}", if_exists(*i))?;
                if let Some(u) = user {
                    write!(f, "{u} ")?;
                }
                write!(f, "{action}")
            }
            S::DropUser { if_exists: i, name } => write!(f, "DROP USER {}{name}", if_exists(*i)),
            S::DescribeUser { name } => write!(f, "DESCRIBE USER {name}"),
            S::CreateRole {
                or_replace: r,
                if_not_exists: i,
                name,
                comment: c,
            } => write!(
                f,
                "CREATE {}ROLE {}{name}{}",
                or_replace(*r),
                if_not_exists(*i),
                comment(c)
            ),
            S::DropRole { if_exists: i, name } => write!(f, "DROP ROLE {}{name}", if_exists(*i)),
            S::GrantRole {
                role,
                to,
                with_grant_option,
            } => write!(
                f,
                "GRANT ROLE {role} TO {to}{}",
                if *with_grant_option {
                    " WITH GRANT OPTION"
                } else {
                    ""
                }
            ),
            S::RevokeRole {
                grant_option_for,
                role,
                from,
                behavior: b,
            } => write!(
                f,
                "REVOKE {}ROLE {role} FROM {from}{}",
                if *grant_option_for {
                    "GRANT OPTION FOR "
                } else {
                    ""
                },
                behavior(b)
            ),
            S::GrantDatabaseRole { role, to } => write!(f, "GRANT DATABASE ROLE {role} TO {to}"),
            S::RevokeDatabaseRole { role, from } => {
                write!(f, "REVOKE DATABASE ROLE {role} FROM {from}")
            }
            S::GrantOwnership {
                on,
                to_role,
                current_grants,
            } => {
                write!(f, "GRANT OWNERSHIP ON {on} TO ROLE {to_role}")?;
                match current_grants {
                    Some(CurrentGrants::Revoke) => f.write_str(" REVOKE CURRENT GRANTS"),
                    Some(CurrentGrants::Copy) => f.write_str(" COPY CURRENT GRANTS"),
                    None => Ok(()),
                }
            }
            S::GrantPrivileges {
                privileges,
                on,
                to_role,
                with_grant_option,
            } => write!(
                f,
                "GRANT {privileges} ON {on} TO ROLE {to_role}{}",
                if *with_grant_option {
                    " WITH GRANT OPTION"
                } else {
                    ""
                }
            ),
            S::RevokePrivileges {
                grant_option_for,
                privileges,
                on,
                from_role,
                behavior: b,
            } => write!(
                f,
                "REVOKE {}{privileges} ON {on} FROM ROLE {from_role}{}",
                if *grant_option_for {
                    "GRANT OPTION FOR "
                } else {
                    ""
                },
                behavior(b)
            ),
            S::CreateDatabase {
                or_replace: r,
                if_not_exists: i,
                name,
                comment: c,
            } => write!(
                f,
                "CREATE {}DATABASE {}{name}{}",
                or_replace(*r),
                if_not_exists(*i),
                comment(c)
            ),
            S::DropDatabase { if_exists: i, name } => {
                write!(f, "DROP DATABASE {}{name}", if_exists(*i))
            }
            S::CreateSchema {
                or_replace: r,
                if_not_exists: i,
                name,
                comment: c,
            } => write!(
                f,
                "CREATE {}SCHEMA {}{name}{}",
                or_replace(*r),
                if_not_exists(*i),
                comment(c)
            ),
            S::DropSchema { if_exists: i, name } => {
                write!(f, "DROP SCHEMA {}{name}", if_exists(*i))
            }
            S::CreateAuthenticationPolicy {
                create,
                if_not_exists: i,
                name,
                properties,
            } => {
                let mode = match create {
                    CreateMode::Create => "",
                    CreateMode::OrReplace => "OR REPLACE ",
                    CreateMode::OrAlter => "OR ALTER ",
                };
                write!(
                    f,
                    "CREATE {mode}AUTHENTICATION POLICY {}{name}{}",
                    if_not_exists(*i),
                    Props(properties)
                )
            }
            S::AlterAuthenticationPolicy {
                if_exists: i,
                name,
                action,
            } => {
                write!(f, "ALTER AUTHENTICATION POLICY {}{name} ", if_exists(*i))?;
                match action {
                    AlterPolicyAction::Rename(n) => write!(f, "RENAME TO {n}"),
                    AlterPolicyAction::Set(props) => write!(f, "SET{}", Props(props)),
                    AlterPolicyAction::Unset(names) => write!(f, "UNSET {}", Joined(names, ", ")),
                }
            }
            S::DropAuthenticationPolicy { if_exists: i, name } => {
                write!(f, "DROP AUTHENTICATION POLICY {}{name}", if_exists(*i))
            }
            S::DescribeAuthenticationPolicy { name } => {
                write!(f, "DESCRIBE AUTHENTICATION POLICY {name}")
            }
            S::ShowAuthenticationPolicies { filter, scope, on } => {
                write!(
                    f,
                    "SHOW AUTHENTICATION POLICIES{}{}",
                    Like(filter),
                    Scope(scope)
                )?;
                match on {
                    None => {}
                    Some(PolicyOn::Account) => f.write_str(" ON ACCOUNT")?,
                    Some(PolicyOn::User(u)) => write!(f, " ON USER {u}")?,
                }
                write!(f, "{}", Tail(filter))
            }
            S::AlterAccount(action) => write!(f, "ALTER ACCOUNT {action}"),
            S::CreateNetworkRule {
                or_replace: r,
                if_not_exists: i,
                name,
                properties,
            } => write!(
                f,
                "CREATE {}NETWORK RULE {}{name}{}",
                or_replace(*r),
                if_not_exists(*i),
                Props(properties)
            ),
            S::DropNetworkRule { if_exists: i, name } => {
                write!(f, "DROP NETWORK RULE {}{name}", if_exists(*i))
            }
            S::CreateNetworkPolicy {
                or_replace: r,
                if_not_exists: i,
                name,
                properties,
            } => write!(
                f,
                "CREATE {}NETWORK POLICY {}{name}{}",
                or_replace(*r),
                if_not_exists(*i),
                Props(properties)
            ),
            S::AlterNetworkPolicy {
                if_exists: i,
                name,
                properties,
            } => write!(
                f,
                "ALTER NETWORK POLICY {}{name} SET{}",
                if_exists(*i),
                Props(properties)
            ),
            S::DropNetworkPolicy { if_exists: i, name } => {
                write!(f, "DROP NETWORK POLICY {}{name}", if_exists(*i))
            }
            S::ShowUserPats { for_user } => {
                f.write_str("SHOW USER PROGRAMMATIC ACCESS TOKENS")?;
                if let Some(u) = for_user {
                    write!(f, " FOR USER {u}")?;
                }
                Ok(())
            }
            S::CreateSecret {
                or_replace: r,
                if_not_exists: i,
                name,
                properties,
            } => write!(
                f,
                "CREATE {}SECRET {}{name}{}",
                or_replace(*r),
                if_not_exists(*i),
                Props(properties)
            ),
            S::AlterSecret {
                if_exists: i,
                name,
                properties,
            } => write!(
                f,
                "ALTER SECRET {}{name} SET{}",
                if_exists(*i),
                Props(properties)
            ),
            S::DropSecret { if_exists: i, name } => {
                write!(f, "DROP SECRET {}{name}", if_exists(*i))
            }
            S::DescribeSecret { name } => write!(f, "DESCRIBE SECRET {name}"),
            S::CreateSecurityIntegration {
                or_replace: r,
                if_not_exists: i,
                name,
                properties,
            } => write!(
                f,
                "CREATE {}SECURITY INTEGRATION {}{name}{}",
                or_replace(*r),
                if_not_exists(*i),
                Props(properties)
            ),
            S::AlterIntegration {
                if_exists: i,
                name,
                properties,
            } => write!(
                f,
                "ALTER INTEGRATION {}{name} SET{}",
                if_exists(*i),
                Props(properties)
            ),
            S::DropIntegration { if_exists: i, name } => {
                write!(f, "DROP INTEGRATION {}{name}", if_exists(*i))
            }
            S::CreateObject {
                kind,
                or_replace: r,
                if_not_exists: i,
                name,
                in_compute_pool,
                specification,
                properties,
            } => {
                write!(
                    f,
                    "CREATE {}{} {}{name}",
                    or_replace(*r),
                    kind.keyword(),
                    if_not_exists(*i)
                )?;
                if let Some(pool) = in_compute_pool {
                    write!(f, " IN COMPUTE POOL {pool}")?;
                }
                if let Some(spec) = specification {
                    write!(f, " FROM SPECIFICATION {}", quote_body(spec))?;
                }
                write!(f, "{}", Props(properties))
            }
            S::DropObject {
                kind,
                if_exists: i,
                name,
            } => write!(f, "DROP {} {}{name}", kind.keyword(), if_exists(*i)),
            S::Use(target) => write!(f, "{target}"),
            S::AlterSessionSet(props) => write!(f, "ALTER SESSION SET{}", Props(props)),
            S::AlterSessionUnset(names) => {
                write!(f, "ALTER SESSION UNSET {}", Joined(names, ", "))
            }
            S::ShowUsers { terse, filter } => write!(
                f,
                "SHOW {}USERS{}{}",
                if *terse { "TERSE " } else { "" },
                Like(filter),
                Tail(filter)
            ),
            S::ShowRoles { terse, filter } => write!(
                f,
                "SHOW {}ROLES{}{}",
                if *terse { "TERSE " } else { "" },
                Like(filter),
                Tail(filter)
            ),
            S::ShowGrants(target) => write!(f, "{target}"),
            S::ShowObjects {
                kind,
                filter,
                scope,
            } => write!(
                f,
                "SHOW {}{}{}{}",
                kind.keyword(),
                Like(filter),
                Scope(scope),
                Tail(filter)
            ),
            S::Select(select) => write!(f, "{select}"),
            S::Begin => f.write_str("BEGIN"),
            S::Commit => f.write_str("COMMIT"),
            S::Rollback => f.write_str("ROLLBACK"),
        }
    }
}
