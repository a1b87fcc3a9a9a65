//! The one table of Snowflake codes snowpat knows: code → title, cause, fix and class.
//!
//! Shared by the client's typed errors ([`crate::ApiError::info`]), CLI hints after errors and
//! `snowpat explain` (`architecture.md`: "One table of Snowflake error codes"). Sources:
//! `snowflake-behaviour.md` §7 and §9, `protocols.md` §2.5, §2.6, §2.8, §2.9 and §3.2.
//!
//! Callers branch on [`CodeClass`], the SQL state and the HTTP status, never on message text. A
//! code missing from the table is a generic failure of its class ([`class_of`]).

/// What kind of outcome a code stands for.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum CodeClass {
    /// The statement ran (`090001`).
    Success,
    /// Still running, poll the handle (`333334`).
    Pending,
    /// The credential was refused; obtain or present another one (HTTP 401).
    Authentication,
    /// Authenticated, but not allowed (SQL access control, 42501, role not available).
    Authorization,
    /// The request itself is wrong (payload, parameters, unsupported command).
    Request,
    /// The statement failed to compile or to run (syntax, missing or existing objects, values).
    Statement,
    /// A named object, handle or token does not exist (or is not visible to the caller).
    NotFound,
    /// A documented limit was reached (15 tokens per user).
    Limit,
    /// Too many requests; retried with backoff.
    RateLimited,
    /// The service is unavailable or failed internally; retried with backoff.
    Unavailable,
    /// The statement ran out of time or was canceled.
    Canceled,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct CodeInfo {
    /// Six-digit code as Snowflake writes it (`003001`).
    pub code: &'static str,
    /// Its class.
    pub class: CodeClass,
    /// Short title.
    pub title: &'static str,
    /// Why it happens.
    pub cause: &'static str,
    /// What to do about it.
    pub fix: &'static str,
}

impl std::fmt::Display for CodeInfo {
    /// `003001 Insufficient privileges` then `cause:` and `fix:` lines (for `snowpat explain`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}\ncause: {}\nfix: {}",
            self.code, self.title, self.cause, self.fix
        )
    }
}

const fn row(
    code: &'static str,
    class: CodeClass,
    title: &'static str,
    cause: &'static str,
    fix: &'static str,
) -> CodeInfo {
    CodeInfo {
        code,
        class,
        title,
        cause,
        fix,
    }
}

use CodeClass::{
    Authentication, Authorization, Canceled, Limit, NotFound, Pending, RateLimited, Request,
    Statement, Success, Unavailable,
};

/// Every known code, sorted by code.
pub const CODES: &[CodeInfo] = &[
    row("000008", Request, "Statement count mismatch",
        "A multi-statement request held a different number of statements than MULTI_STATEMENT_COUNT said (protocols §2.6).",
        "Send the exact count, or 0 to accept any count."),
    row("000604", Canceled, "SQL execution canceled",
        "The statement was canceled (POST .../cancel, or the server canceled it).",
        "Resubmit if the work is still wanted."),
    row("000630", Canceled, "Statement timeout",
        "The statement exceeded its timeout (STATEMENT_TIMEOUT_IN_SECONDS or the request's `timeout`) and was canceled.",
        "Raise the timeout or make the statement cheaper; resubmitting with the same requestId and retry=true is safe."),
    row("000709", NotFound, "Statement handle not found",
        "The statement handle is unknown, or belongs to another user (protocols §2.8).",
        "Use the handle returned to the same user; handles are not shared across users."),
    row("000900", Request, "Empty SQL statement",
        "The request's `statement` was empty.",
        "Send a statement."),
    row("000904", Statement, "Invalid identifier",
        "The statement names a column or identifier that does not exist.",
        "Check the spelling and quoting of the identifier (unquoted names fold to upper case)."),
    row("001003", Statement, "SQL syntax error",
        "The statement does not parse.",
        "Fix the syntax at the reported line and position."),
    row("002002", Statement, "Object already exists",
        "CREATE of an object whose name is taken.",
        "Use CREATE ... IF NOT EXISTS, CREATE OR REPLACE, or another name."),
    row("002003", NotFound, "Object does not exist or not authorized",
        "The named object does not exist, or the current role cannot see it.",
        "Check the name, and that the role in use has a privilege on the object."),
    row("003001", Authorization, "Insufficient privileges",
        "The role in use lacks the privilege the statement needs (for PATs of another user: OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on the user).",
        "Grant the privilege to the role, or run the statement with a role that has it."),
    row("003013", Authorization, "Requested role not assigned",
        "The requested role is not granted to the executing user.",
        "Grant the role to the user, or request another role."),
    row("004800", Request, "Invalid client policy",
        "An authentication policy's CLIENT_POLICY was given without DRIVERS.",
        "Give CLIENT_POLICY with a DRIVERS entry."),
    row("090001", Success, "Statement executed successfully",
        "The statement ran.",
        "None."),
    row("099413", Authorization, "PAT management in a PAT session",
        "A session authenticated with a programmatic access token of a user tried to manage that user's tokens (snowflake-behaviour §6.7 S1/S2).",
        "Manage the tokens from a key-pair, OAuth or password session, or from another user's session."),
    row("099420", Authorization, "OAuth session needs a role restriction",
        "A token added in an OAuth session must carry ROLE_RESTRICTION (§6.7 S4).",
        "Add ROLE_RESTRICTION = '<current role>'."),
    row("099421", Authorization, "Role restriction does not match the session role",
        "In a PAT-restricted or OAuth session, a new token's ROLE_RESTRICTION must equal the session role (§6.7 S3/S5).",
        "Use the session role as the restriction, or add the token from a key-pair session."),
    row("099901", Statement, "Token name already exists",
        "The user already holds a programmatic access token with that name (any status).",
        "Use ADD PAT IF NOT EXISTS, ROTATE the existing token, or choose another name."),
    row("099902", NotFound, "Token not found",
        "The user holds no programmatic access token with that name.",
        "Check the token name (SHOW USER PATS FOR USER ...), or use IF EXISTS."),
    row("099903", Limit, "Too many tokens",
        "A user may hold at most 15 non-expired programmatic access tokens, disabled and rotated ones included (§6.2).",
        "Remove unused tokens and expired _ROTATED_ objects, then retry."),
    row("099904", Statement, "Role restriction required",
        "The effective authentication policy requires a ROLE_RESTRICTION for this type of user (§6.3 step 8).",
        "Add ROLE_RESTRICTION = '<role>' naming a role granted to the user."),
    row("099905", Authorization, "Role not granted to the user",
        "A token's ROLE_RESTRICTION must name a role granted to the token's user.",
        "GRANT ROLE <role> TO USER <user> first."),
    row("099906", Authorization, "Role blocked by the authentication policy",
        "The ROLE_RESTRICTION names a role in the effective policy's BLOCKED_ROLES_LIST.",
        "Pick a role that is not blocked, or change the authentication policy."),
    row("099907", Request, "DAYS_TO_EXPIRY out of range",
        "DAYS_TO_EXPIRY must be between 1 and the effective MAX_EXPIRY_IN_DAYS.",
        "Use a value inside the range."),
    row("099908", Request, "MINS_TO_BYPASS out of range",
        "MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT must be between 1 and 1440.",
        "Use a value inside the range, or leave it out."),
    row("099909", Request, "EXPIRE_ROTATED_TOKEN_AFTER_HOURS out of range",
        "The grace period must be between 0 and the hours left before the current secret expires.",
        "Use a shorter grace period."),
    row("099910", Authorization, "PATs not allowed by the authentication policy",
        "The user's effective AUTHENTICATION_METHODS does not include PROGRAMMATIC_ACCESS_TOKEN.",
        "Attach an authentication policy allowing PROGRAMMATIC_ACCESS_TOKEN (or ALL) to the user."),
    row("099911", Authorization, "Network policy required to generate a PAT",
        "A SERVICE user must be subject to a network policy with at least one network rule before a token can be added (§6.5).",
        "Attach a network policy with a network rule to the user or the account, or set NETWORK_POLICY_EVALUATION in the authentication policy."),
    row("099912", Request, "Operation not allowed on this token",
        "The token is a _ROTATED_ object or has expired; only disabling or removing it is allowed.",
        "Act on the current token instead, or REMOVE the rotated object."),
    row("099913", Statement, "Policy already attached",
        "A policy of that kind is already attached to the target.",
        "Use FORCE, or UNSET the existing policy first."),
    row("099914", Request, "Policy in use",
        "An attached authentication policy cannot be dropped.",
        "Unset it from every user and the account first."),
    row("099915", Request, "Property not allowed for SERVICE users",
        "SERVICE users cannot have passwords or similar PERSON-only properties.",
        "Remove the property, or change the user's TYPE."),
    row("099918", Authentication, "IP not allowed",
        "The network policy in effect does not allow the client's address.",
        "Add the address to an allowed network rule of the policy."),
    row("099919", Authorization, "Secondary roles unavailable",
        "Sessions authenticated by a role-restricted PAT cannot use secondary roles.",
        "Use the token's role only."),
    row("099920", Authorization, "Session role fixed by the token",
        "A role-restricted PAT fixes the session role; USE ROLE cannot change it.",
        "Use a token restricted to the other role."),
    row("099921", Authentication, "User disabled",
        "The user is disabled; its credentials are refused.",
        "ALTER USER ... SET DISABLED = FALSE (and re-enable its tokens)."),
    row("099922", Authentication, "Missing or malformed Authorization header",
        "The request carried no usable `Authorization: Bearer` header.",
        "Send a credential."),
    row("099926", Authorization, "Role in the connect string not available",
        "The requested role does not exist or is not granted to the user.",
        "Request a granted role, or none."),
    row("099940", Statement, "No current database or schema",
        "The statement needs a current database or schema and the session has none.",
        "Qualify the name, or send `database`/`schema` with the request."),
    row("099941", Request, "System role cannot be changed",
        "System roles cannot be dropped or altered.",
        "Use a custom role."),
    row("099942", Request, "Role grant would create a cycle",
        "Granting the role would make the role hierarchy cyclic.",
        "Grant in the other direction, or not at all."),
    row("099943", Request, "Ownership transfer needs REVOKE or COPY CURRENT GRANTS",
        "GRANT OWNERSHIP on an object with outstanding grants needs an explicit choice.",
        "Add REVOKE CURRENT GRANTS or COPY CURRENT GRANTS."),
    row("099944", Request, "Dependent grants exist",
        "Revoking the privilege would orphan grants made with it.",
        "Add CASCADE."),
    row("099945", Request, "Database roles cannot be granted to users",
        "Database roles are granted to roles, not users.",
        "Grant the database role to an account role, and that role to the user."),
    row("099946", Request, "Invalid property value",
        "A property was given a value it does not accept.",
        "Use a documented value."),
    row("099947", Request, "Request ID reused for a different statement",
        "A retry=true resubmission carried a requestId used before for another statement (protocols §2.8).",
        "Use a fresh requestId for each logical statement."),
    row("100037", Request, "Binding value not recognized",
        "A binding's value does not parse as its declared type.",
        "Send the value in the format protocols §2.4 gives for the type."),
    row("100132", Statement, "Multi-statement request failed",
        "A statement inside a multi-statement request failed; earlier ones ran, later ones did not (protocols §2.6).",
        "Fix the failing statement; check which earlier statements took effect."),
    row("333334", Pending, "Asynchronous execution in progress",
        "The statement is still running (or was submitted with async=true).",
        "Poll GET /api/v2/statements/<handle> until it answers 200 or 422."),
    row("390100", Authentication, "Incorrect username or password",
        "The login name or password is wrong.",
        "Check the credential."),
    row("390112", Authentication, "Session token expired",
        "A driver session token expired (the driver renews it).",
        "Renew the session."),
    row("390114", Authentication, "Authentication token has expired",
        "A driver master token expired (after about 4 hours).",
        "Log in again."),
    row("390142", Request, "Invalid payload",
        "The request body is missing or is not a valid SQL API payload.",
        "Send a JSON body with `statement`; do not retry unchanged."),
    row("390144", Authentication, "JWT token is invalid",
        "The key-pair JWT was refused: wrong account or user in iss/sub, unknown fingerprint, bad signature, or outside its lifetime.",
        "Check ACCOUNT.USER (upper case, account without region), that RSA_PUBLIC_KEY matches the private key (DESC USER RSA_PUBLIC_KEY_FP), and the local clock."),
    row("390186", Authorization, "Role not available",
        "The requested role is not allowed: not granted to the user, or not the PAT's role restriction.",
        "Request the token's restricted role (or none), or grant the role to the user."),
    row("390202", Authentication, "Rejected by the authentication policy",
        "The effective authentication policy does not allow this authentication method.",
        "Add the method (PROGRAMMATIC_ACCESS_TOKEN, KEYPAIR, OAUTH) to AUTHENTICATION_METHODS of the user's policy."),
    row("390303", Authentication, "Invalid OAuth access token",
        "The OAuth token is invalid, or a PAT was sent with token type OAUTH.",
        "Send PATs with X-Snowflake-Authorization-Token-Type: PROGRAMMATIC_ACCESS_TOKEN; obtain a fresh OAuth token."),
    row("390318", Authentication, "OAuth access token expired",
        "The OAuth access token's lifetime ended.",
        "Refresh the OAuth token."),
    row("390432", Authentication, "Network policy is required",
        "The user must be subject to a network policy (with a network rule) to use a PAT (§6.5).",
        "Attach a network policy to the user or the account, or use the token inside its bypass window."),
    row("390503", Unavailable, "Service temporarily unavailable",
        "The service is overloaded or restarting.",
        "Retry with backoff (the client does)."),
    row("390505", RateLimited, "Too many requests",
        "The request rate or the number of concurrent requests is too high.",
        "Retry with jittered exponential backoff and lower the concurrency (the client does)."),
    row("391908", Success, "Partial result set",
        "The response holds only the first partition of the result.",
        "Fetch the other partitions with ?partition=N (the client does)."),
    row("391911", Request, "Command not supported by SQL API",
        "PUT, GET, lone BEGIN/COMMIT, USE or ALTER SESSION are not supported as single statements (protocols §2.6).",
        "Run session statements inside a multi-statement request; use a driver for PUT/GET."),
    row("391922", Request, "Partition out of range",
        "The requested result partition does not exist.",
        "Request partitions 0 .. N-1 from resultSetMetaData.partitionInfo."),
    row("394400", Authentication, "Programmatic access token is invalid",
        "The PAT is unknown, expired, disabled, removed, belongs to another user, or its role restriction no longer holds (§6.6).",
        "Check SHOW USER PATS for its status; rotate or add a new token."),
];

/// Snowflake writes some codes without leading zeros (`3001`); the table uses six digits.
#[must_use]
pub fn normalize(code: &str) -> String {
    let code = code.trim();
    if !code.is_empty() && code.len() < 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        format!("{code:0>6}")
    } else {
        code.to_owned()
    }
}

/// The row for `code` (`"3001"` and `"003001"` alike), if snowpat knows it.
#[must_use]
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    let code = normalize(code);
    CODES
        .binary_search_by(|row| row.code.cmp(code.as_str()))
        .ok()
        .and_then(|i| CODES.get(i))
}

/// The class of an answer: the table's class for a known code, else the SQL state's class, else
/// the HTTP status's. Message text is never consulted.
#[must_use]
pub fn class_of(status: u16, code: Option<&str>, sql_state: Option<&str>) -> CodeClass {
    if let Some(info) = code.and_then(lookup) {
        return info.class;
    }
    if let Some(state) = sql_state {
        match state.get(..2) {
            Some("00") => return Success,
            Some("02") => return NotFound,
            Some("08" | "28") => return Authentication,
            Some("0A") => return Request,
            Some("22") => return Request,
            Some("54") => return Limit,
            Some("57") => return Canceled,
            Some("42") if state == "42501" => return Authorization,
            Some("42") => return Statement,
            _ => {}
        }
    }
    match status {
        200 => Success,
        202 => Pending,
        401 => Authentication,
        403 => Authorization,
        404 => NotFound,
        408 => Canceled,
        429 => RateLimited,
        500..=599 => Unavailable,
        422 => Statement,
        _ => Request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_six_digits() {
        for pair in CODES.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} then {}",
                pair[0].code,
                pair[1].code
            );
        }
        for row in CODES {
            assert_eq!(row.code.len(), 6, "{}", row.code);
            assert!(!row.title.is_empty() && !row.cause.is_empty() && !row.fix.is_empty());
        }
    }

    #[test]
    fn every_code_the_issue_and_the_catalogue_name_is_known() {
        // snowflake-behaviour §9 (every row) and §7, protocols §2.5/§2.6/§2.8/§2.9/§3.2.
        let wanted = [
            "000904", "001003", "002002", "002003", "003001", "003013", "004800", "099413",
            "099420", "099421", "390432", "390202", "394400", "390186", "099901", "099902",
            "099903", "099904", "099905", "099906", "099907", "099908", "099909", "099910",
            "099911", "099912", "099913", "099914", "099915", "099918", "099919", "099920",
            "099921", "099922", "099926", "099940", "099941", "099942", "099943", "099944",
            "099945", "099946", "390142", "390303", "390144", "390505", "391911", "000709",
            "391922", "000008", "100132", "390114", "390112", "390100", "390318", "090001",
            "333334", "000604", "000630", "000900", "391908", "100037", "099947",
        ];
        for code in wanted {
            assert!(lookup(code).is_some(), "{code} missing from the table");
        }
    }

    #[test]
    fn explain_text_names_code_cause_and_fix() {
        let text = lookup("394400").unwrap().to_string();
        assert!(text.starts_with("394400 Programmatic access token is invalid\ncause: "));
        assert!(text.contains("\nfix: "));
    }

    #[test]
    fn short_codes_are_padded() {
        assert_eq!(normalize("3001"), "003001");
        assert_eq!(lookup("3001").map(|r| r.code), Some("003001"));
        assert_eq!(normalize("ABC"), "ABC");
        assert_eq!(normalize(""), "");
        assert!(lookup("").is_none());
    }

    #[test]
    fn unknown_codes_fall_back_to_sql_state_then_status() {
        assert_eq!(class_of(422, Some("123456"), Some("42501")), Authorization);
        assert_eq!(class_of(422, Some("123456"), Some("42S02")), Statement);
        assert_eq!(class_of(422, Some("123456"), Some("02000")), NotFound);
        assert_eq!(class_of(401, Some("123456"), None), Authentication);
        assert_eq!(class_of(503, None, None), Unavailable);
        assert_eq!(class_of(429, None, None), RateLimited);
        // A known code wins over a contradicting SQL state.
        assert_eq!(class_of(401, Some("394400"), Some("00000")), Authentication);
    }
}
