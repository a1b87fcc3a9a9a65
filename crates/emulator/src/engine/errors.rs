//! Constructors for the error catalogue of `snowflake-behaviour.md` §9, so that every code,
//! sqlState and message text is written in exactly one place.

use super::catalog::Kind;
use super::error::{AuthError, SqlError};

const COMPILATION: &str = "SQL compilation error:\n";
const ACCESS: &str = "SQL access control error:\n";

/// `001003` syntax error naming the unexpected token.
pub(crate) fn syntax(token: &str) -> SqlError {
    SqlError::new(
        "001003",
        "42000",
        format!("{COMPILATION}syntax error line 1 at position 0 unexpected '{token}'."),
    )
}

/// `002002` already exists.
pub(crate) fn already_exists(name: &str) -> SqlError {
    SqlError::new(
        "002002",
        "42710",
        format!("{COMPILATION}Object '{name}' already exists."),
    )
}

/// `002003` does not exist or not authorized.
pub(crate) fn not_found(kind: Kind, name: &str) -> SqlError {
    SqlError::new(
        "002003",
        "42S02",
        format!(
            "{COMPILATION}{} '{name}' does not exist or not authorized.",
            kind.title()
        ),
    )
}

/// `002003` for a role named in BLOCKED_ROLES_LIST (§5.9.3).
pub(crate) fn blocked_role_missing(name: &str) -> SqlError {
    SqlError::new(
        "002003",
        "42S02",
        format!("{COMPILATION}Role '{name}' does not exist."),
    )
}

/// `003001` insufficient privileges.
pub(crate) fn insufficient(kind: Kind, name: &str) -> SqlError {
    SqlError::new(
        "003001",
        "42501",
        format!(
            "{ACCESS}Insufficient privileges to operate on {} '{name}'",
            kind.noun()
        ),
    )
}

/// `003001` for GRANT/REVOKE ROLE (§5.5).
pub(crate) fn grant_not_executed() -> SqlError {
    SqlError::new(
        "003001",
        "42501",
        format!("{ACCESS}Grant not executed: Insufficient privileges."),
    )
}

/// `003013` USE ROLE of a role not granted.
pub(crate) fn role_not_assigned(role: &str) -> SqlError {
    SqlError::new(
        "003013",
        "42501",
        format!(
            "{ACCESS}Requested role '{role}' is not assigned to the executing user.  Specify another role to activate."
        ),
    )
}

/// `004800` CLIENT_POLICY without DRIVERS.
pub(crate) fn client_policy_without_drivers(client: &str) -> SqlError {
    SqlError::new(
        "004800",
        "22023",
        format!(
            "Authentication policy can not contain CLIENT_POLICY of '{client}' without including 'DRIVERS' in CLIENT_TYPES."
        ),
    )
}

pub(crate) fn pat_same_user_session() -> SqlError {
    SqlError::new(
        "099413",
        "42501",
        "Programmatic access tokens cannot be modified in a session authenticated with a programmatic access token for the same user.",
    )
}

pub(crate) fn oauth_requires_restriction() -> SqlError {
    SqlError::new(
        "099420",
        "42501",
        "Programmatic access tokens created in an OAuth session require a role restriction.",
    )
}

pub(crate) fn restriction_mismatch(given: &str, session_role: &str) -> SqlError {
    SqlError::new(
        "099421",
        "42501",
        format!(
            "The specified role restriction {given} does not match the session role {session_role}."
        ),
    )
}

pub(crate) fn pat_exists(name: &str) -> SqlError {
    SqlError::new(
        "099901",
        "42710",
        format!("Programmatic access token {name} already exists."),
    )
}

pub(crate) fn pat_not_found(name: &str) -> SqlError {
    SqlError::new(
        "099902",
        "02000",
        format!("Programmatic access token {name} not found"),
    )
}

pub(crate) fn pat_limit(user: &str) -> SqlError {
    SqlError::new(
        "099903",
        "54000",
        format!("Maximum number of programmatic access tokens (15) reached for user {user}."),
    )
}

pub(crate) fn restriction_required() -> SqlError {
    SqlError::new(
        "099904",
        "22023",
        "Role restriction is required when creating a programmatic access token",
    )
}

pub(crate) fn role_not_granted_to_user(role: &str, user: &str) -> SqlError {
    SqlError::new(
        "099905",
        "42501",
        format!("Role {role} is not granted to user {user}"),
    )
}

pub(crate) fn role_blocked(role: &str) -> SqlError {
    SqlError::new(
        "099906",
        "42501",
        format!(
            "Role {role} is blocked by the authentication policy and cannot be used as a role restriction."
        ),
    )
}

pub(crate) fn days_out_of_range(max: i64) -> SqlError {
    SqlError::new(
        "099907",
        "22023",
        format!("DAYS_TO_EXPIRY must be between 1 and {max}."),
    )
}

pub(crate) fn mins_out_of_range() -> SqlError {
    SqlError::new(
        "099908",
        "22023",
        "MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT must be between 1 and 1440.",
    )
}

pub(crate) fn hours_out_of_range(max: i64) -> SqlError {
    SqlError::new(
        "099909",
        "22023",
        format!("EXPIRE_ROTATED_TOKEN_AFTER_HOURS must be between 0 and {max}."),
    )
}

pub(crate) fn pats_not_allowed(user: &str) -> SqlError {
    SqlError::new(
        "099910",
        "42501",
        format!(
            "The authentication policy for user {user} does not allow programmatic access tokens."
        ),
    )
}

pub(crate) fn network_policy_required() -> SqlError {
    SqlError::new("099911", "42501", "Network policy is required.")
}

pub(crate) fn pat_operation_not_allowed(name: &str) -> SqlError {
    SqlError::new(
        "099912",
        "0A000",
        format!("Operation not allowed on programmatic access token {name}."),
    )
}

pub(crate) fn policy_attached(target: &str) -> SqlError {
    SqlError::new(
        "099913",
        "42710",
        format!("A policy is already attached to {target}. Use FORCE or UNSET it first."),
    )
}

pub(crate) fn policy_in_use(name: &str) -> SqlError {
    SqlError::new(
        "099914",
        "0A000",
        format!("Authentication policy {name} is attached and cannot be dropped."),
    )
}

pub(crate) fn service_property(property: &str) -> SqlError {
    SqlError::new(
        "099915",
        "22023",
        format!("Property {property} cannot be set for a user with TYPE = SERVICE."),
    )
}

pub(crate) fn secondary_roles_unavailable() -> SqlError {
    SqlError::new(
        "099919",
        "0A000",
        "Secondary roles are not available in this session.",
    )
}

pub(crate) fn session_role_fixed() -> SqlError {
    SqlError::new(
        "099920",
        "0A000",
        "The session role is fixed by the programmatic access token's role restriction.",
    )
}

pub(crate) fn no_current(statement: &str, what: &str) -> SqlError {
    SqlError::new(
        "099940",
        "22000",
        format!("Cannot perform {statement}. This session does not have a current {what}."),
    )
}

pub(crate) fn system_role(role: &str) -> SqlError {
    SqlError::new(
        "099941",
        "0A000",
        format!("System role {role} cannot be dropped or changed."),
    )
}

pub(crate) fn role_cycle(role: &str, parent: &str) -> SqlError {
    SqlError::new(
        "099942",
        "42501",
        format!("Granting role {role} to role {parent} would create a cycle."),
    )
}

pub(crate) fn ownership_needs_clause(name: &str) -> SqlError {
    SqlError::new(
        "099943",
        "0A000",
        format!("Ownership transfer requires REVOKE or COPY CURRENT GRANTS for {name}."),
    )
}

pub(crate) fn dependent_grants(privilege: &str) -> SqlError {
    SqlError::new(
        "099944",
        "2BP01",
        format!("Dependent grants of privilege {privilege} exist; use CASCADE."),
    )
}

pub(crate) fn database_role_to_user() -> SqlError {
    SqlError::new(
        "099945",
        "0A000",
        "Database roles cannot be granted to users.",
    )
}

pub(crate) fn invalid_value(value: &str, property: &str) -> SqlError {
    SqlError::new(
        "099946",
        "22023",
        format!("Invalid value {value} for property {property}."),
    )
}

pub(crate) fn service_ownership() -> SqlError {
    SqlError::new(
        "099948",
        "0A000",
        "Ownership of a service cannot be transferred.",
    )
}

// ---- authentication (§6.6, §7) ----

pub(crate) fn pat_invalid() -> AuthError {
    AuthError::new(401, "394400", "Programmatic access token is invalid.")
}

pub(crate) fn jwt_invalid() -> AuthError {
    AuthError::new(401, "390144", "JWT token is invalid.")
}

pub(crate) fn oauth_invalid() -> AuthError {
    AuthError::new(
        401,
        "390303",
        "Invalid OAuth access token. Please use a valid OAuth access token.",
    )
}

pub(crate) fn auth_network_policy_required() -> AuthError {
    AuthError::new(401, "390432", "Fail : Network policy is required.")
}

pub(crate) fn ip_not_allowed(addr: &str) -> AuthError {
    AuthError::new(
        401,
        "099918",
        format!(
            "IP {addr} is not allowed to access Snowflake.  Contact your local security administrator."
        ),
    )
}

pub(crate) fn policy_rejects() -> AuthError {
    AuthError::new(
        401,
        "390202",
        "Authentication attempt rejected by the current authentication policy.",
    )
}

pub(crate) fn user_disabled() -> AuthError {
    AuthError::new(
        401,
        "099921",
        "User access disabled. Contact your local system administrator.",
    )
}

pub(crate) fn role_not_available(role: &str) -> AuthError {
    AuthError::new(
        400,
        "390186",
        format!(
            "Role '{role}' specified in the connect string is not granted to this user. Contact your local system administrator, or attempt to login with another role, e.g. PUBLIC."
        ),
    )
}

pub(crate) fn connect_string_role(role: &str) -> AuthError {
    AuthError::new(
        401,
        "099926",
        format!("Role '{role}' specified in the connect string does not exist or not authorized."),
    )
}

pub(crate) fn bad_password() -> AuthError {
    AuthError::new(
        401,
        "390100",
        "Incorrect username or password was specified.",
    )
}
