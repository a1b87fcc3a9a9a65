//! The MCP SERVER object as the MCP endpoint sees it (`snowflake-behaviour.md` §5.21, protocols §8):
//! lookup by the URL's database, schema and name, and the USAGE check of the caller's session.

use super::catalog::{Body, Kind, Target};
use super::{Account, Session};

/// Why an MCP server cannot be used by a session.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum McpAccessError {
    /// No such MCP server (or the caller cannot see it: the same answer).
    NotFound(String),
    /// The session's roles hold neither USAGE nor OWNERSHIP on it.
    NoUsage(String),
}

impl McpAccessError {
    /// The message for the JSON-RPC error (protocols §8: `-32603`).
    pub fn message(&self) -> String {
        match self {
            Self::NotFound(name) => format!(
                "SQL compilation error:\nMCP server '{name}' does not exist or not authorized."
            ),
            Self::NoUsage(name) => format!(
                "SQL access control error:\nInsufficient privileges to operate on MCP server '{name}'"
            ),
        }
    }
}

/// A URL path segment as an identifier: `"x"` is exact; otherwise the exact name if it exists,
/// else upper case (§1.1).
fn resolve<'a>(segment: &str, exists: impl Fn(&str) -> bool + 'a) -> String {
    let s = segment.trim();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        return s[1..s.len() - 1].replace("\"\"", "\"");
    }
    if exists(s) {
        return s.to_owned();
    }
    s.to_uppercase()
}

impl Account {
    /// The `FROM SPECIFICATION` text of MCP server `database.schema.name`, if the session's
    /// effective roles hold USAGE (or OWNERSHIP) on it (protocols §8).
    pub fn mcp_server_specification(
        &self,
        session: &Session,
        database: &str,
        schema: &str,
        name: &str,
    ) -> Result<String, McpAccessError> {
        let find = |db: &str, sc: &str, n: &str| {
            self.catalog.object_by_path(
                Kind::McpServer,
                &[db.to_owned(), sc.to_owned(), n.to_owned()],
            )
        };
        let db = resolve(database, |d| {
            self.catalog
                .objects
                .values()
                .any(|o| o.path.first().is_some_and(|p| p == d))
        });
        let sc = resolve(schema, |s| {
            self.catalog
                .objects
                .values()
                .any(|o| o.path.len() >= 2 && o.path[0] == db && o.path[1] == s)
        });
        let n = resolve(name, |n| find(&db, &sc, n).is_some());
        let full = format!("{db}.{sc}.{n}");
        let object = find(&db, &sc, &n).ok_or_else(|| McpAccessError::NotFound(full.clone()))?;
        let roles = self.effective_roles(session);
        if !self
            .catalog
            .holds(&roles, "USAGE", Target::Object(object.id))
        {
            return Err(McpAccessError::NoUsage(full));
        }
        let spec = match &object.body {
            Body::Properties(props) => props
                .iter()
                .find(|(k, _)| k == "SPECIFICATION")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        Ok(spec)
    }
}
