//! `snowpat cli-config`: write or update one `connections.toml` entry for the Snowflake CLI
//! (`authenticator = "PROGRAMMATIC_ACCESS_TOKEN"` + `token_file_path`) or for Cortex Code CLI (the
//! form seed 001 documents: the PAT in `password`, no `authenticator`).
//!
//! The file's other entries and comments are kept (`toml_edit`), and it is written atomically
//! (temporary file in the same directory, fsync, rename) with mode 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use toml_edit::{value, DocumentMut, Item, Table};

/// Which client reads the entry.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ClientKind {
    /// Snowflake CLI (`snow`): token in a file.
    Snow,
    /// Cortex Code CLI (`cortex`): token as `password`.
    Cortex,
}

/// Where the connection points (from the context's connection).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Endpoint {
    pub account: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub protocol: Option<String>,
}

/// How the token reaches the client.
pub enum TokenRef {
    /// `token_file_path = PATH` (Snowflake CLI).
    File(PathBuf),
    /// `password = "<secret>"` written into the file (Cortex Code CLI with `--inline-secret`).
    Inline(SecretString),
}

/// One entry to write.
pub struct Entry {
    pub name: String,
    pub client: ClientKind,
    pub endpoint: Endpoint,
    pub user: String,
    pub role: String,
    pub token: TokenRef,
}

/// Errors of reading, editing or writing the file.
#[derive(Debug, thiserror::Error)]
pub enum CliConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("[{0}] exists and is not a table")]
    NotATable(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Cortex Code CLI reads the token from `password` only; pass --inline-secret to write it into the file")]
    CortexNeedsInline,
}

/// The default file: `$SNOWFLAKE_HOME/connections.toml`, else `~/.snowflake/connections.toml`.
#[must_use]
pub fn default_path(snowflake_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    if let Some(sh) = snowflake_home.filter(|s| !s.is_empty()) {
        return Some(Path::new(sh).join("connections.toml"));
    }
    home.filter(|s| !s.is_empty())
        .map(|h| Path::new(h).join(".snowflake").join("connections.toml"))
}

/// Keys this command owns in an entry; others the user added (warehouse, database...) are kept.
const OWNED: &[&str] = &[
    "account",
    "host",
    "port",
    "protocol",
    "user",
    "role",
    "authenticator",
    "token_file_path",
    "password",
    "token",
];

/// Applies `entry` to the document text `existing` and returns the new text.
///
/// # Errors
/// When `existing` is not TOML, or `[name]` is something other than a table.
pub fn upsert(existing: &str, entry: &Entry, path: &Path) -> Result<String, CliConfigError> {
    let mut doc: DocumentMut =
        existing
            .parse()
            .map_err(|e: toml_edit::TomlError| CliConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
    if !doc.contains_key(&entry.name) {
        doc.insert(&entry.name, Item::Table(Table::new()));
    }
    let table = doc
        .get_mut(&entry.name)
        .and_then(Item::as_table_mut)
        .ok_or_else(|| CliConfigError::NotATable(entry.name.clone()))?;
    for key in OWNED {
        table.remove(key);
    }
    table.insert("account", value(entry.endpoint.account.as_str()));
    if let Some(host) = &entry.endpoint.host {
        table.insert("host", value(host.as_str()));
    }
    if let Some(port) = entry.endpoint.port {
        table.insert("port", value(i64::from(port)));
    }
    if let Some(protocol) = &entry.endpoint.protocol {
        table.insert("protocol", value(protocol.as_str()));
    }
    table.insert("user", value(entry.user.as_str()));
    table.insert("role", value(entry.role.as_str()));
    match (&entry.client, &entry.token) {
        (ClientKind::Snow, TokenRef::File(p)) => {
            table.insert("authenticator", value("PROGRAMMATIC_ACCESS_TOKEN"));
            table.insert("token_file_path", value(p.to_string_lossy().as_ref()));
        }
        (ClientKind::Snow, TokenRef::Inline(secret)) => {
            table.insert("authenticator", value("PROGRAMMATIC_ACCESS_TOKEN"));
            table.insert("token", value(secret.expose_secret()));
        }
        (ClientKind::Cortex, TokenRef::Inline(secret)) => {
            table.insert("password", value(secret.expose_secret()));
        }
        (ClientKind::Cortex, TokenRef::File(_)) => return Err(CliConfigError::CortexNeedsInline),
    }
    Ok(doc.to_string())
}

/// Writes `contents` to `path` atomically with mode 0600: a temporary file in the same directory
/// (created 0600), fsync, rename, fsync of the directory. Creates the directory (0700) if needed.
///
/// # Errors
/// Any I/O failure, with the path.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), CliConfigError> {
    let err = |source| CliConfigError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir).map_err(err)?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "connections.toml".into());
    let tmp = dir.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Reads `path` (empty when it does not exist), applies `entry`, writes it back atomically 0600.
///
/// # Errors
/// See [`upsert`] and [`write_atomic`].
pub fn apply(path: &Path, entry: &Entry) -> Result<(), CliConfigError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(CliConfigError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    let text = upsert(&existing, entry, path)?;
    write_atomic(path, &text)
}

/// The mode bits of a file (unix), for the 0600 check on token files.
///
/// # Errors
/// When the file cannot be inspected.
#[cfg(unix)]
pub fn mode(path: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(client: ClientKind, token: TokenRef) -> Entry {
        Entry {
            name: "cli".into(),
            client,
            endpoint: Endpoint {
                account: "ORG-ACCT".into(),
                ..Endpoint::default()
            },
            user: "MIGUEL_CLI".into(),
            role: "MIGUEL_CLI_ROLE".into(),
            token,
        }
    }

    #[test]
    fn upsert_replaces_owned_keys_and_keeps_the_rest() {
        let existing =
            "# top\n[other]\nuser = \"A\" # c\n\n[cli]\nwarehouse = \"WH\"\npassword = \"old\"\n";
        let out = upsert(
            existing,
            &entry(ClientKind::Snow, TokenRef::File(PathBuf::from("/t/pat"))),
            Path::new("c.toml"),
        )
        .unwrap();
        assert!(
            out.starts_with("# top\n[other]\nuser = \"A\" # c\n"),
            "{out}"
        );
        assert!(out.contains("warehouse = \"WH\""));
        assert!(!out.contains("password"));
        assert!(out.contains("authenticator = \"PROGRAMMATIC_ACCESS_TOKEN\""));
        assert!(out.contains("token_file_path = \"/t/pat\""));
    }

    #[test]
    fn cortex_needs_the_secret_inline_and_has_no_authenticator() {
        let err = upsert(
            "",
            &entry(ClientKind::Cortex, TokenRef::File(PathBuf::from("/t"))),
            Path::new("c.toml"),
        );
        assert!(matches!(err, Err(CliConfigError::CortexNeedsInline)));
        let out = upsert(
            "",
            &entry(
                ClientKind::Cortex,
                TokenRef::Inline(SecretString::from("s3cr3t".to_owned())),
            ),
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(
            out,
            "[cli]\naccount = \"ORG-ACCT\"\nuser = \"MIGUEL_CLI\"\nrole = \"MIGUEL_CLI_ROLE\"\npassword = \"s3cr3t\"\n"
        );
    }

    #[test]
    fn invalid_toml_and_non_table_entries_are_refused() {
        let e = entry(ClientKind::Snow, TokenRef::File(PathBuf::from("/t")));
        assert!(matches!(
            upsert("[[", &e, Path::new("c.toml")),
            Err(CliConfigError::Parse { .. })
        ));
        assert!(matches!(
            upsert("cli = 1\n", &e, Path::new("c.toml")),
            Err(CliConfigError::NotATable(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_creates_0600_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("connections.toml");
        write_atomic(&path, "a = 1\n").unwrap();
        write_atomic(&path, "a = 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 2\n");
        assert_eq!(mode(&path).unwrap(), 0o600);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn default_path_honours_snowflake_home() {
        assert_eq!(
            default_path(Some("/sf"), Some("/h")),
            Some(PathBuf::from("/sf/connections.toml"))
        );
        assert_eq!(
            default_path(None, Some("/h")),
            Some(PathBuf::from("/h/.snowflake/connections.toml"))
        );
        assert_eq!(default_path(Some(""), None), None);
    }
}
