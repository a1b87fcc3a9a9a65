//! The typed statement tree for the Snowflake access-control subset that snowpat speaks
//! (`shared/spec/snowflake-behaviour.md` §5).
//!
//! Names in the tree are already *resolved*: an unquoted identifier has been folded to upper case,
//! a quoted one keeps its case, and a role named by a string literal (`ROLE_RESTRICTION = 'r'`) has
//! been resolved like an unquoted identifier (§1.2). The tree therefore says what Snowflake will
//! look up, not how the text spelled it; rendering (`Display`) picks a spelling that parses back to
//! the same tree and can never break out of its position.
//!
//! Property lists whose members Snowflake adds to every release (CREATE USER, authentication
//! policies, integrations, ...) are kept as ordered [`Property`] lists with typed [`Value`]s; the
//! statement *kinds*, their targets and the PAT operations are fully typed.

use std::fmt;

/// A resolved identifier: the exact name Snowflake stores (`id` → `ID`, `"id"` → `id`).
///
/// Construct with [`Ident::new`] from a resolved name; the renderer quotes it when it must.
#[derive(Clone, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Ident(String);

impl Ident {
    /// An identifier whose stored name is exactly `name` (no folding is applied here).
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The stored name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stored name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<&str> for Ident {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

/// A possibly qualified name: `name`, `schema.name` or `db.schema.name`.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct ObjectName(pub Vec<Ident>);

impl ObjectName {
    /// A one-part name.
    pub fn simple(name: impl Into<String>) -> Self {
        Self(vec![Ident::new(name)])
    }

    /// The last part (the object's own name).
    pub fn name(&self) -> &Ident {
        // Invariant: the parser and every constructor produce at least one part.
        &self.0[self.0.len() - 1]
    }
}

/// A literal or name on the right-hand side of `PROPERTY = value`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `'text'` or `$$text$$`: the content after escape processing.
    String(String),
    /// An integer or decimal number, as written (`90`, `-1`, `1.5`).
    Number(String),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `NULL`.
    Null,
    /// A bare (possibly qualified) name: `SERVICE`, `ENFORCED_REQUIRED`, `db.schema.rule`.
    Name(ObjectName),
    /// `( v, v, ... )`, possibly empty.
    List(Vec<Value>),
    /// `( KEY = v  KEY = v ... )`: nested properties (`PAT_POLICY = (...)`).
    Properties(Vec<Property>),
}

/// `NAME = value`. The name is resolved like an identifier (upper case unless quoted).
#[derive(Clone, Debug, PartialEq)]
pub struct Property {
    pub name: Ident,
    pub value: Value,
}

impl Property {
    pub fn new(name: &str, value: Value) -> Self {
        Self {
            name: Ident::new(name),
            value,
        }
    }
}

/// One statement of the subset.
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    // ---- users ----
    /// `CREATE [OR REPLACE] USER [IF NOT EXISTS] name [props]`
    CreateUser {
        or_replace: bool,
        if_not_exists: bool,
        name: Ident,
        properties: Vec<Property>,
    },
    /// `ALTER USER [IF EXISTS] [name] <action>`; `user` is `None` only for the PAT forms that omit
    /// the user (the session user, §5.12).
    AlterUser {
        if_exists: bool,
        user: Option<Ident>,
        action: AlterUserAction,
    },
    /// `DROP USER [IF EXISTS] name`
    DropUser { if_exists: bool, name: Ident },
    /// `{DESC | DESCRIBE} USER name`
    DescribeUser { name: Ident },

    // ---- roles and grants ----
    /// `CREATE [OR REPLACE] ROLE [IF NOT EXISTS] name [COMMENT = '...']`
    CreateRole {
        or_replace: bool,
        if_not_exists: bool,
        name: Ident,
        comment: Option<String>,
    },
    /// `DROP ROLE [IF EXISTS] name`
    DropRole { if_exists: bool, name: Ident },
    /// `GRANT ROLE role TO {ROLE r | USER u} [WITH GRANT OPTION]`
    GrantRole {
        role: Ident,
        to: Grantee,
        with_grant_option: bool,
    },
    /// `REVOKE [GRANT OPTION FOR] ROLE role FROM {ROLE r | USER u} [RESTRICT | CASCADE]`
    RevokeRole {
        grant_option_for: bool,
        role: Ident,
        from: Grantee,
        behavior: Option<DropBehavior>,
    },
    /// `GRANT DATABASE ROLE db.role TO {ROLE r | USER u}` (a grant to a user parses; the emulator
    /// refuses it with 099945).
    GrantDatabaseRole { role: ObjectName, to: Grantee },
    /// `REVOKE DATABASE ROLE db.role FROM {ROLE r | USER u}`
    RevokeDatabaseRole { role: ObjectName, from: Grantee },
    /// `GRANT OWNERSHIP ON ... TO ROLE r [{REVOKE | COPY} CURRENT GRANTS]`
    GrantOwnership {
        on: OwnershipTarget,
        to_role: Ident,
        current_grants: Option<CurrentGrants>,
    },
    /// `GRANT privileges ON target TO [ROLE] r [WITH GRANT OPTION]`
    GrantPrivileges {
        privileges: Privileges,
        on: GrantTarget,
        to_role: Ident,
        with_grant_option: bool,
    },
    /// `REVOKE [GRANT OPTION FOR] privileges ON target FROM [ROLE] r [RESTRICT | CASCADE]`
    RevokePrivileges {
        grant_option_for: bool,
        privileges: Privileges,
        on: GrantTarget,
        from_role: Ident,
        behavior: Option<DropBehavior>,
    },

    // ---- containers ----
    /// `CREATE [OR REPLACE] DATABASE [IF NOT EXISTS] name [COMMENT = '...']`
    CreateDatabase {
        or_replace: bool,
        if_not_exists: bool,
        name: Ident,
        comment: Option<String>,
    },
    /// `DROP DATABASE [IF EXISTS] name`
    DropDatabase { if_exists: bool, name: Ident },
    /// `CREATE [OR REPLACE] SCHEMA [IF NOT EXISTS] [db.]name [COMMENT = '...']`
    CreateSchema {
        or_replace: bool,
        if_not_exists: bool,
        name: ObjectName,
        comment: Option<String>,
    },
    /// `DROP SCHEMA [IF EXISTS] [db.]name`
    DropSchema { if_exists: bool, name: ObjectName },

    // ---- authentication policies ----
    /// `CREATE [OR REPLACE | OR ALTER] AUTHENTICATION POLICY [IF NOT EXISTS] name [props]`
    CreateAuthenticationPolicy {
        create: CreateMode,
        if_not_exists: bool,
        name: ObjectName,
        properties: Vec<Property>,
    },
    /// `ALTER AUTHENTICATION POLICY [IF EXISTS] name {RENAME TO n | SET props | UNSET names}`
    AlterAuthenticationPolicy {
        if_exists: bool,
        name: ObjectName,
        action: AlterPolicyAction,
    },
    /// `DROP AUTHENTICATION POLICY [IF EXISTS] name`
    DropAuthenticationPolicy { if_exists: bool, name: ObjectName },
    /// `{DESC | DESCRIBE} AUTHENTICATION POLICY name`
    DescribeAuthenticationPolicy { name: ObjectName },
    /// `SHOW AUTHENTICATION POLICIES [LIKE] [IN ...] [ON ...] [STARTS WITH] [LIMIT]`
    ShowAuthenticationPolicies {
        filter: ShowFilter,
        scope: Option<ShowScope>,
        on: Option<PolicyOn>,
    },

    // ---- account ----
    /// `ALTER ACCOUNT ...`
    AlterAccount(AlterAccountAction),

    // ---- network rules and policies ----
    /// `CREATE [OR REPLACE] NETWORK RULE [IF NOT EXISTS] name props` (TYPE, VALUE_LIST, MODE, COMMENT)
    CreateNetworkRule {
        or_replace: bool,
        if_not_exists: bool,
        name: ObjectName,
        properties: Vec<Property>,
    },
    /// `DROP NETWORK RULE [IF EXISTS] name`
    DropNetworkRule { if_exists: bool, name: ObjectName },
    /// `CREATE [OR REPLACE] NETWORK POLICY [IF NOT EXISTS] name props`
    CreateNetworkPolicy {
        or_replace: bool,
        if_not_exists: bool,
        name: Ident,
        properties: Vec<Property>,
    },
    /// `ALTER NETWORK POLICY [IF EXISTS] name SET props`
    AlterNetworkPolicy {
        if_exists: bool,
        name: Ident,
        properties: Vec<Property>,
    },
    /// `DROP NETWORK POLICY [IF EXISTS] name`
    DropNetworkPolicy { if_exists: bool, name: Ident },

    // ---- PATs (SHOW; the ALTER USER forms are AlterUserAction) ----
    /// `SHOW USER {PROGRAMMATIC ACCESS TOKENS | PATS} [FOR USER name]`
    ShowUserPats { for_user: Option<Ident> },

    // ---- secrets and integrations ----
    /// `CREATE [OR REPLACE] SECRET [IF NOT EXISTS] name TYPE = ... SECRET_STRING = '...' [COMMENT]`
    CreateSecret {
        or_replace: bool,
        if_not_exists: bool,
        name: ObjectName,
        properties: Vec<Property>,
    },
    /// `ALTER SECRET [IF EXISTS] name SET props`
    AlterSecret {
        if_exists: bool,
        name: ObjectName,
        properties: Vec<Property>,
    },
    /// `DROP SECRET [IF EXISTS] name`
    DropSecret { if_exists: bool, name: ObjectName },
    /// `{DESC | DESCRIBE} SECRET name`
    DescribeSecret { name: ObjectName },
    /// `CREATE [OR REPLACE] SECURITY INTEGRATION [IF NOT EXISTS] name props`
    CreateSecurityIntegration {
        or_replace: bool,
        if_not_exists: bool,
        name: Ident,
        properties: Vec<Property>,
    },
    /// `ALTER [SECURITY] INTEGRATION [IF EXISTS] name SET props`
    AlterIntegration {
        if_exists: bool,
        name: Ident,
        properties: Vec<Property>,
    },
    /// `DROP [SECURITY] INTEGRATION [IF EXISTS] name`
    DropIntegration { if_exists: bool, name: Ident },

    // ---- objects of the admin/runtime pattern and MCP servers (§5.20, §5.21) ----
    /// `CREATE [OR REPLACE] {STAGE | IMAGE REPOSITORY | COMPUTE POOL | EXTERNAL ACCESS INTEGRATION
    /// | SERVICE | MCP SERVER} [IF NOT EXISTS] name [IN COMPUTE POOL p] [FROM SPECIFICATION $$..$$]
    /// [props]`
    CreateObject {
        kind: ObjectKind,
        or_replace: bool,
        if_not_exists: bool,
        name: ObjectName,
        /// `IN COMPUTE POOL p` (services only).
        in_compute_pool: Option<Ident>,
        /// `FROM SPECIFICATION $$...$$` (services, MCP servers).
        specification: Option<String>,
        properties: Vec<Property>,
    },
    /// `DROP <kind> [IF EXISTS] name` for the kinds of [`Statement::CreateObject`].
    DropObject {
        kind: ObjectKind,
        if_exists: bool,
        name: ObjectName,
    },

    // ---- session ----
    /// `USE ...`
    Use(UseTarget),
    /// `ALTER SESSION SET p = v ...` (an accepted no-op, stored for SHOW PARAMETERS)
    AlterSessionSet(Vec<Property>),
    /// `ALTER SESSION UNSET p, ...`
    AlterSessionUnset(Vec<Ident>),

    // ---- SHOW ----
    /// `SHOW [TERSE] USERS [LIKE] [STARTS WITH] [LIMIT [FROM]]`
    ShowUsers { terse: bool, filter: ShowFilter },
    /// `SHOW [TERSE] ROLES [LIKE] [STARTS WITH] [LIMIT [FROM]]`
    ShowRoles { terse: bool, filter: ShowFilter },
    /// `SHOW GRANTS ...`
    ShowGrants(ShowGrantsTarget),
    /// `SHOW {DATABASES | SCHEMAS | NETWORK POLICIES | NETWORK RULES | SECRETS | INTEGRATIONS |
    /// SECURITY INTEGRATIONS | ...} [LIKE ...] [IN ...]`
    ShowObjects {
        kind: ShowKind,
        filter: ShowFilter,
        scope: Option<ShowScope>,
    },

    // ---- queries ----
    /// `SELECT item [, item] [FROM name] [WHERE col = 'lit' [AND ...]]`
    Select(Select),

    // ---- transaction control (parsed so the SQL API can refuse it as a single statement) ----
    /// `BEGIN [TRANSACTION]` / `START TRANSACTION`
    Begin,
    /// `COMMIT`
    Commit,
    /// `ROLLBACK`
    Rollback,
}

/// How a CREATE treats an existing object.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CreateMode {
    /// `CREATE`
    Create,
    /// `CREATE OR REPLACE`
    OrReplace,
    /// `CREATE OR ALTER`
    OrAlter,
}

/// What an `ALTER USER` does.
#[derive(Clone, Debug, PartialEq)]
pub enum AlterUserAction {
    /// `RENAME TO new`
    Rename(Ident),
    /// `SET p = v ...` (every user property; NETWORK_POLICY and TYPE included)
    Set(Vec<Property>),
    /// `UNSET p, ...`
    Unset(Vec<Ident>),
    /// `SET AUTHENTICATION POLICY name [FORCE]`
    SetAuthenticationPolicy { policy: ObjectName, force: bool },
    /// `UNSET AUTHENTICATION POLICY`
    UnsetAuthenticationPolicy,
    /// `ADD {PROGRAMMATIC ACCESS TOKEN | PAT} [IF NOT EXISTS] name ...`
    AddPat(AddPat),
    /// `ROTATE {PROGRAMMATIC ACCESS TOKEN | PAT} [IF EXISTS] name [EXPIRE_ROTATED_TOKEN_AFTER_HOURS = n]`
    RotatePat {
        if_exists: bool,
        name: Ident,
        expire_rotated_token_after_hours: Option<i64>,
    },
    /// `MODIFY {PROGRAMMATIC ACCESS TOKEN | PAT} [IF EXISTS] name {RENAME TO | SET | UNSET}`
    ModifyPat {
        if_exists: bool,
        name: Ident,
        change: ModifyPat,
    },
    /// `REMOVE {PROGRAMMATIC ACCESS TOKEN | PAT} [IF EXISTS] name`
    RemovePat { if_exists: bool, name: Ident },
}

/// `ADD PAT` options (§5.12.1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AddPat {
    pub if_not_exists: bool,
    pub name: Ident,
    /// Resolved role name, whether written `'r'` or `r`.
    pub role_restriction: Option<Ident>,
    pub days_to_expiry: Option<i64>,
    pub mins_to_bypass_network_policy_requirement: Option<i64>,
    pub comment: Option<String>,
}

/// The three forms of `MODIFY PAT`.
#[derive(Clone, Debug, PartialEq)]
pub enum ModifyPat {
    /// `RENAME TO new`
    Rename(Ident),
    /// `SET [DISABLED = b] [MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT = n] [COMMENT = 's']`
    Set {
        disabled: Option<bool>,
        mins_to_bypass_network_policy_requirement: Option<i64>,
        comment: Option<String>,
    },
    /// `UNSET item, ...`
    Unset(Vec<PatProperty>),
}

/// The PAT properties that `MODIFY ... UNSET` accepts.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PatProperty {
    Disabled,
    MinsToBypassNetworkPolicyRequirement,
    Comment,
}

/// A grant's recipient.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Grantee {
    Role(Ident),
    User(Ident),
}

/// `RESTRICT` or `CASCADE`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum DropBehavior {
    Restrict,
    Cascade,
}

/// `REVOKE CURRENT GRANTS` or `COPY CURRENT GRANTS`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CurrentGrants {
    Revoke,
    Copy,
}

/// The kinds of object that grants, ownership and DROP can name.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum ObjectKind {
    Account,
    User,
    Role,
    Database,
    Schema,
    AuthenticationPolicy,
    NetworkPolicy,
    NetworkRule,
    Secret,
    /// `INTEGRATION` (security and external access integrations share the namespace)
    Integration,
    Stage,
    ImageRepository,
    ComputePool,
    /// Created with `CREATE EXTERNAL ACCESS INTEGRATION`; granted as `INTEGRATION`.
    ExternalAccessIntegration,
    Service,
    McpServer,
    Warehouse,
}

impl ObjectKind {
    /// The keyword(s) Snowflake uses for this kind in statements (`AUTHENTICATION POLICY`).
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Account => "ACCOUNT",
            Self::User => "USER",
            Self::Role => "ROLE",
            Self::Database => "DATABASE",
            Self::Schema => "SCHEMA",
            Self::AuthenticationPolicy => "AUTHENTICATION POLICY",
            Self::NetworkPolicy => "NETWORK POLICY",
            Self::NetworkRule => "NETWORK RULE",
            Self::Secret => "SECRET",
            Self::Integration => "INTEGRATION",
            Self::Stage => "STAGE",
            Self::ImageRepository => "IMAGE REPOSITORY",
            Self::ComputePool => "COMPUTE POOL",
            Self::ExternalAccessIntegration => "EXTERNAL ACCESS INTEGRATION",
            Self::Service => "SERVICE",
            Self::McpServer => "MCP SERVER",
            Self::Warehouse => "WAREHOUSE",
        }
    }

    /// The value SHOW GRANTS prints in `granted_on` (`AUTHENTICATION_POLICY`).
    pub fn granted_on(self) -> &'static str {
        match self {
            Self::Account => "ACCOUNT",
            Self::User => "USER",
            Self::Role => "ROLE",
            Self::Database => "DATABASE",
            Self::Schema => "SCHEMA",
            Self::AuthenticationPolicy => "AUTHENTICATION_POLICY",
            Self::NetworkPolicy => "NETWORK_POLICY",
            Self::NetworkRule => "NETWORK_RULE",
            Self::Secret => "SECRET",
            Self::Integration | Self::ExternalAccessIntegration => "INTEGRATION",
            Self::Stage => "STAGE",
            Self::ImageRepository => "IMAGE_REPOSITORY",
            Self::ComputePool => "COMPUTE_POOL",
            Self::Service => "SERVICE",
            Self::McpServer => "MCP_SERVER",
            Self::Warehouse => "WAREHOUSE",
        }
    }
}

/// `GRANT OWNERSHIP ON` target.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnershipTarget {
    /// `ON <kind> <name>`
    Object { kind: ObjectKind, name: ObjectName },
    /// `ON ALL <kinds> IN {DATABASE d | SCHEMA s}`
    All {
        kind: ObjectKind,
        in_kind: ObjectKind,
        in_name: ObjectName,
    },
}

/// `ALL [PRIVILEGES]` or a list of privilege names.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Privileges {
    All,
    /// Each privilege as its canonical upper-case words joined by single spaces
    /// (`MODIFY PROGRAMMATIC AUTHENTICATION METHODS`, `CREATE AUTHENTICATION POLICY`).
    List(Vec<String>),
}

/// `ON ACCOUNT` or `ON <kind> <name>` in GRANT/REVOKE privileges.
#[derive(Clone, Debug, PartialEq)]
pub enum GrantTarget {
    Account,
    Object { kind: ObjectKind, name: ObjectName },
}

/// `ALTER AUTHENTICATION POLICY` actions.
#[derive(Clone, Debug, PartialEq)]
pub enum AlterPolicyAction {
    Rename(ObjectName),
    Set(Vec<Property>),
    Unset(Vec<Ident>),
}

/// `ALTER ACCOUNT` actions.
#[derive(Clone, Debug, PartialEq)]
pub enum AlterAccountAction {
    /// `SET AUTHENTICATION POLICY p [FOR ALL {PERSON | SERVICE} USERS] [FORCE]`
    SetAuthenticationPolicy {
        policy: ObjectName,
        scope: PolicyScope,
        force: bool,
    },
    /// `UNSET AUTHENTICATION POLICY [FOR ALL {PERSON | SERVICE} USERS]`
    UnsetAuthenticationPolicy { scope: PolicyScope },
    /// `SET NETWORK_POLICY = name`
    SetNetworkPolicy(Ident),
    /// `UNSET NETWORK_POLICY`
    UnsetNetworkPolicy,
    /// `SET p = v ...` (account parameters other than the above)
    SetParameters(Vec<Property>),
    /// `UNSET p, ...`
    UnsetParameters(Vec<Ident>),
}

/// The account-level authentication policy slots.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum PolicyScope {
    /// The account-wide slot.
    Account,
    /// `FOR ALL PERSON USERS`
    PersonUsers,
    /// `FOR ALL SERVICE USERS`
    ServiceUsers,
}

/// `LIKE`, `STARTS WITH`, `LIMIT n [FROM 's']` of a SHOW.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShowFilter {
    pub like: Option<String>,
    pub starts_with: Option<String>,
    pub limit: Option<u64>,
    pub from: Option<String>,
}

/// `IN {ACCOUNT | DATABASE d | SCHEMA s}` of a SHOW.
#[derive(Clone, Debug, PartialEq)]
pub enum ShowScope {
    Account,
    Database(Ident),
    Schema(ObjectName),
}

/// `ON {ACCOUNT | USER u}` of SHOW AUTHENTICATION POLICIES.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyOn {
    Account,
    User(Ident),
}

/// What `SHOW GRANTS` lists.
#[derive(Clone, Debug, PartialEq)]
pub enum ShowGrantsTarget {
    /// `SHOW GRANTS` (= to the current user)
    CurrentUser,
    /// `SHOW GRANTS ON ACCOUNT`
    OnAccount,
    /// `SHOW GRANTS ON <kind> <name>`
    On { kind: ObjectKind, name: ObjectName },
    /// `SHOW GRANTS TO ROLE r`
    ToRole(Ident),
    /// `SHOW GRANTS TO USER u`
    ToUser(Ident),
    /// `SHOW GRANTS OF ROLE r`
    OfRole(Ident),
    /// `SHOW GRANTS TO DATABASE ROLE db.r` / `OF DATABASE ROLE db.r`
    ToDatabaseRole(ObjectName),
}

/// Object lists that `SHOW <kind>` supports beyond users, roles, grants and PATs.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ShowKind {
    Databases,
    Schemas,
    NetworkPolicies,
    NetworkRules,
    Secrets,
    Integrations,
    SecurityIntegrations,
    DatabaseRoles,
    Parameters,
    McpServers,
    Services,
    ComputePools,
    Stages,
    ImageRepositories,
}

/// `USE` targets.
#[derive(Clone, Debug, PartialEq)]
pub enum UseTarget {
    Role(Ident),
    SecondaryRoles(SecondaryRoles),
    Database(Ident),
    Schema(ObjectName),
    Warehouse(Ident),
}

/// `USE SECONDARY ROLES {ALL | NONE}` (named lists are not modelled).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SecondaryRoles {
    All,
    None,
}

/// A minimal SELECT (§5.18).
#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    pub items: Vec<SelectItem>,
    pub from: Option<ObjectName>,
    /// Conjunction of `column = literal` tests (`WHERE type = 'PAT' AND user_name = 'X'`).
    pub filter: Vec<(Ident, Expr)>,
}

/// `expr [AS alias]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectItem {
    pub expr: Expr,
    pub alias: Option<Ident>,
}

/// Expressions of the SELECT subset.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `*`
    Wildcard,
    /// A number as written.
    Number(String),
    /// A string literal's content.
    String(String),
    /// `TRUE` / `FALSE`
    Bool(bool),
    /// `NULL`
    Null,
    /// A column reference.
    Column(Ident),
    /// `NAME(args)`: `CURRENT_USER()`, `CURRENT_ROLE()`, `SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('I')`.
    /// The name is upper case.
    Function { name: String, args: Vec<Expr> },
}

impl Expr {
    /// The column name Snowflake gives this expression when it has no alias: the expression text
    /// upper-cased (`CURRENT_USER()`, `1`).
    pub fn default_column_name(&self) -> String {
        self.to_string().to_uppercase()
    }
}

/// A plain function name followed by nothing: used by the renderer.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::render::fmt_expr(self, f)
    }
}

impl Statement {
    /// The upper-case statement kind used in the emulator's request log and scripted faults
    /// (`CREATE USER`, `ALTER USER ADD PAT`, `GRANT PRIVILEGES`, `CREATE SERVICE`, `USE ROLE`).
    pub fn kind(&self) -> &'static str {
        use Statement as S;
        match self {
            S::CreateUser { .. } => "CREATE USER",
            S::AlterUser { action, .. } => match action {
                AlterUserAction::AddPat(_) => "ALTER USER ADD PAT",
                AlterUserAction::RotatePat { .. } => "ALTER USER ROTATE PAT",
                AlterUserAction::ModifyPat { .. } => "ALTER USER MODIFY PAT",
                AlterUserAction::RemovePat { .. } => "ALTER USER REMOVE PAT",
                _ => "ALTER USER",
            },
            S::DropUser { .. } => "DROP USER",
            S::DescribeUser { .. } => "DESCRIBE USER",
            S::CreateRole { .. } => "CREATE ROLE",
            S::DropRole { .. } => "DROP ROLE",
            S::GrantRole { .. } => "GRANT ROLE",
            S::RevokeRole { .. } => "REVOKE ROLE",
            S::GrantDatabaseRole { .. } => "GRANT DATABASE ROLE",
            S::RevokeDatabaseRole { .. } => "REVOKE DATABASE ROLE",
            S::GrantOwnership { .. } => "GRANT OWNERSHIP",
            S::GrantPrivileges { .. } => "GRANT PRIVILEGES",
            S::RevokePrivileges { .. } => "REVOKE PRIVILEGES",
            S::CreateDatabase { .. } => "CREATE DATABASE",
            S::DropDatabase { .. } => "DROP DATABASE",
            S::CreateSchema { .. } => "CREATE SCHEMA",
            S::DropSchema { .. } => "DROP SCHEMA",
            S::CreateAuthenticationPolicy { .. } => "CREATE AUTHENTICATION POLICY",
            S::AlterAuthenticationPolicy { .. } => "ALTER AUTHENTICATION POLICY",
            S::DropAuthenticationPolicy { .. } => "DROP AUTHENTICATION POLICY",
            S::DescribeAuthenticationPolicy { .. } => "DESCRIBE AUTHENTICATION POLICY",
            S::ShowAuthenticationPolicies { .. } => "SHOW AUTHENTICATION POLICIES",
            S::AlterAccount(_) => "ALTER ACCOUNT",
            S::CreateNetworkRule { .. } => "CREATE NETWORK RULE",
            S::DropNetworkRule { .. } => "DROP NETWORK RULE",
            S::CreateNetworkPolicy { .. } => "CREATE NETWORK POLICY",
            S::AlterNetworkPolicy { .. } => "ALTER NETWORK POLICY",
            S::DropNetworkPolicy { .. } => "DROP NETWORK POLICY",
            S::ShowUserPats { .. } => "SHOW USER PATS",
            S::CreateSecret { .. } => "CREATE SECRET",
            S::AlterSecret { .. } => "ALTER SECRET",
            S::DropSecret { .. } => "DROP SECRET",
            S::DescribeSecret { .. } => "DESCRIBE SECRET",
            S::CreateSecurityIntegration { .. } => "CREATE SECURITY INTEGRATION",
            S::AlterIntegration { .. } => "ALTER INTEGRATION",
            S::DropIntegration { .. } => "DROP INTEGRATION",
            S::CreateObject { kind, .. } => match kind {
                ObjectKind::Account => "CREATE ACCOUNT",
                ObjectKind::User => "CREATE USER",
                ObjectKind::Role => "CREATE ROLE",
                ObjectKind::Database => "CREATE DATABASE",
                ObjectKind::Schema => "CREATE SCHEMA",
                ObjectKind::AuthenticationPolicy => "CREATE AUTHENTICATION POLICY",
                ObjectKind::NetworkPolicy => "CREATE NETWORK POLICY",
                ObjectKind::NetworkRule => "CREATE NETWORK RULE",
                ObjectKind::Secret => "CREATE SECRET",
                ObjectKind::Integration => "CREATE INTEGRATION",
                ObjectKind::Stage => "CREATE STAGE",
                ObjectKind::ImageRepository => "CREATE IMAGE REPOSITORY",
                ObjectKind::ComputePool => "CREATE COMPUTE POOL",
                ObjectKind::ExternalAccessIntegration => "CREATE EXTERNAL ACCESS INTEGRATION",
                ObjectKind::Service => "CREATE SERVICE",
                ObjectKind::McpServer => "CREATE MCP SERVER",
                ObjectKind::Warehouse => "CREATE WAREHOUSE",
            },
            S::DropObject { kind, .. } => match kind {
                ObjectKind::Account => "DROP ACCOUNT",
                ObjectKind::User => "DROP USER",
                ObjectKind::Role => "DROP ROLE",
                ObjectKind::Database => "DROP DATABASE",
                ObjectKind::Schema => "DROP SCHEMA",
                ObjectKind::AuthenticationPolicy => "DROP AUTHENTICATION POLICY",
                ObjectKind::NetworkPolicy => "DROP NETWORK POLICY",
                ObjectKind::NetworkRule => "DROP NETWORK RULE",
                ObjectKind::Secret => "DROP SECRET",
                ObjectKind::Integration => "DROP INTEGRATION",
                ObjectKind::Stage => "DROP STAGE",
                ObjectKind::ImageRepository => "DROP IMAGE REPOSITORY",
                ObjectKind::ComputePool => "DROP COMPUTE POOL",
                ObjectKind::ExternalAccessIntegration => "DROP EXTERNAL ACCESS INTEGRATION",
                ObjectKind::Service => "DROP SERVICE",
                ObjectKind::McpServer => "DROP MCP SERVER",
                ObjectKind::Warehouse => "DROP WAREHOUSE",
            },
            S::Use(target) => match target {
                UseTarget::Role(_) => "USE ROLE",
                UseTarget::SecondaryRoles(_) => "USE SECONDARY ROLES",
                UseTarget::Database(_) => "USE DATABASE",
                UseTarget::Schema(_) => "USE SCHEMA",
                UseTarget::Warehouse(_) => "USE WAREHOUSE",
            },
            S::AlterSessionSet(_) => "ALTER SESSION SET",
            S::AlterSessionUnset(_) => "ALTER SESSION UNSET",
            S::ShowUsers { .. } => "SHOW USERS",
            S::ShowRoles { .. } => "SHOW ROLES",
            S::ShowGrants(_) => "SHOW GRANTS",
            S::ShowObjects { kind, .. } => match kind {
                ShowKind::Databases => "SHOW DATABASES",
                ShowKind::Schemas => "SHOW SCHEMAS",
                ShowKind::NetworkPolicies => "SHOW NETWORK POLICIES",
                ShowKind::NetworkRules => "SHOW NETWORK RULES",
                ShowKind::Secrets => "SHOW SECRETS",
                ShowKind::Integrations => "SHOW INTEGRATIONS",
                ShowKind::SecurityIntegrations => "SHOW SECURITY INTEGRATIONS",
                ShowKind::DatabaseRoles => "SHOW DATABASE ROLES",
                ShowKind::Parameters => "SHOW PARAMETERS",
                ShowKind::McpServers => "SHOW MCP SERVERS",
                ShowKind::Services => "SHOW SERVICES",
                ShowKind::ComputePools => "SHOW COMPUTE POOLS",
                ShowKind::Stages => "SHOW STAGES",
                ShowKind::ImageRepositories => "SHOW IMAGE REPOSITORIES",
            },
            S::Select(_) => "SELECT",
            S::Begin => "BEGIN",
            S::Commit => "COMMIT",
            S::Rollback => "ROLLBACK",
        }
    }

    /// The main object's name as rendered text (quoted where needed), for the request log: the
    /// user of ALTER USER, the role granted, the grant target, the FROM of a SELECT, ... `None`
    /// when the statement names no object (`ALTER ACCOUNT`, `SHOW USERS`, `BEGIN`). Never a
    /// literal's content.
    pub fn object(&self) -> Option<String> {
        use Statement as S;
        let ident = |i: &Ident| Some(i.to_string());
        let name = |n: &ObjectName| Some(n.to_string());
        match self {
            S::CreateUser { name: n, .. }
            | S::DropUser { name: n, .. }
            | S::DescribeUser { name: n }
            | S::CreateRole { name: n, .. }
            | S::DropRole { name: n, .. }
            | S::CreateDatabase { name: n, .. }
            | S::DropDatabase { name: n, .. }
            | S::CreateNetworkPolicy { name: n, .. }
            | S::AlterNetworkPolicy { name: n, .. }
            | S::DropNetworkPolicy { name: n, .. }
            | S::CreateSecurityIntegration { name: n, .. }
            | S::AlterIntegration { name: n, .. }
            | S::DropIntegration { name: n, .. } => ident(n),
            S::AlterUser { user, .. } => user.as_ref().and_then(ident),
            S::GrantRole { role, .. } | S::RevokeRole { role, .. } => ident(role),
            S::GrantDatabaseRole { role, .. } | S::RevokeDatabaseRole { role, .. } => name(role),
            S::GrantOwnership { on, .. } => match on {
                OwnershipTarget::Object { name: n, .. } => name(n),
                OwnershipTarget::All { in_name, .. } => name(in_name),
            },
            S::GrantPrivileges { on, .. } | S::RevokePrivileges { on, .. } => match on {
                GrantTarget::Account => None,
                GrantTarget::Object { name: n, .. } => name(n),
            },
            S::CreateSchema { name: n, .. }
            | S::DropSchema { name: n, .. }
            | S::CreateAuthenticationPolicy { name: n, .. }
            | S::AlterAuthenticationPolicy { name: n, .. }
            | S::DropAuthenticationPolicy { name: n, .. }
            | S::DescribeAuthenticationPolicy { name: n }
            | S::CreateNetworkRule { name: n, .. }
            | S::DropNetworkRule { name: n, .. }
            | S::CreateSecret { name: n, .. }
            | S::AlterSecret { name: n, .. }
            | S::DropSecret { name: n, .. }
            | S::DescribeSecret { name: n }
            | S::CreateObject { name: n, .. }
            | S::DropObject { name: n, .. } => name(n),
            S::AlterAccount(action) => match action {
                AlterAccountAction::SetAuthenticationPolicy { policy, .. } => name(policy),
                AlterAccountAction::SetNetworkPolicy(p) => ident(p),
                _ => None,
            },
            S::ShowUserPats { for_user } => for_user.as_ref().and_then(ident),
            S::ShowGrants(target) => match target {
                ShowGrantsTarget::CurrentUser | ShowGrantsTarget::OnAccount => None,
                ShowGrantsTarget::On { name: n, .. } | ShowGrantsTarget::ToDatabaseRole(n) => {
                    name(n)
                }
                ShowGrantsTarget::ToRole(i)
                | ShowGrantsTarget::ToUser(i)
                | ShowGrantsTarget::OfRole(i) => ident(i),
            },
            S::Use(target) => match target {
                UseTarget::Role(i) | UseTarget::Database(i) | UseTarget::Warehouse(i) => ident(i),
                UseTarget::Schema(n) => name(n),
                UseTarget::SecondaryRoles(_) => None,
            },
            S::Select(select) => select.from.as_ref().and_then(name),
            S::ShowAuthenticationPolicies { .. }
            | S::AlterSessionSet(_)
            | S::AlterSessionUnset(_)
            | S::ShowUsers { .. }
            | S::ShowRoles { .. }
            | S::ShowObjects { .. }
            | S::Begin
            | S::Commit
            | S::Rollback => None,
        }
    }
}
