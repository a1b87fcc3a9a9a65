//! Where a minted secret goes (`interfaces.md` "Sinks"): `file:PATH`, `dotenv:PATH:VAR`,
//! `exec:COMMAND`, `snowflake-secret:DB.SCHEMA.NAME`, `stdout` (explicit only). `{id}` expands to
//! the tenant id. A spec is parsed (and its directory checked) before anything is sent; the secret
//! travels as a [`SecretString`] and reaches exactly one sink and no log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use snowpat_sql::ast::{Ident, ObjectName, Property, Statement, Value};

/// Sink parsing and delivery failures. None carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("unknown sink {0:?}: use file:PATH, dotenv:PATH:VAR, exec:COMMAND, snowflake-secret:DB.SCHEMA.NAME or stdout")]
    Unknown(String),
    #[error("sink {0:?} has an empty path")]
    EmptyPath(String),
    #[error("dotenv sink {0:?}: write dotenv:PATH:VAR with VAR matching [A-Za-z_][A-Za-z0-9_]*")]
    DotenvVar(String),
    #[error("exec sink {0:?}: {1}")]
    Exec(String, String),
    #[error("snowflake-secret sink {0:?}: name it DB.SCHEMA.NAME with each part matching [A-Za-z0-9_$]+")]
    SecretName(String),
    #[error("{path}: {problem}")]
    Unsafe { path: String, problem: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("exec sink {command}: {problem}")]
    NotDelivered { command: String, problem: String },
    #[error("snowflake-secret sink {name}: {source}")]
    Snowflake {
        name: String,
        #[source]
        source: snowpat_client::Error,
    },
}

/// A parsed sink spec, `{id}` not yet expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkSpec {
    raw: String,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    File(String),
    Dotenv(String, String),
    Exec(Vec<String>),
    SnowflakeSecret([String; 3]),
    Stdout,
}

/// A sink for one tenant (`{id}` expanded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    File(PathBuf),
    Dotenv { path: PathBuf, var: String },
    Exec(Vec<String>),
    SnowflakeSecret(ObjectName),
    Stdout,
}

/// How long an `exec:` command may take.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(30);

impl SinkSpec {
    /// Parses a spec; nothing is touched.
    pub fn parse(spec: &str) -> Result<Self, SinkError> {
        let raw = spec.to_owned();
        let kind = if spec == "stdout" {
            Kind::Stdout
        } else if let Some(path) = spec.strip_prefix("file:") {
            if path.is_empty() {
                return Err(SinkError::EmptyPath(raw));
            }
            Kind::File(path.to_owned())
        } else if let Some(rest) = spec.strip_prefix("dotenv:") {
            let (path, var) = rest
                .rsplit_once(':')
                .ok_or_else(|| SinkError::DotenvVar(raw.clone()))?;
            let mut chars = var.chars();
            let valid = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(SinkError::DotenvVar(raw));
            }
            if path.is_empty() {
                return Err(SinkError::EmptyPath(raw));
            }
            Kind::Dotenv(path.to_owned(), var.to_owned())
        } else if let Some(command) = spec.strip_prefix("exec:") {
            let argv = split_argv(command).map_err(|p| SinkError::Exec(raw.clone(), p))?;
            if argv.is_empty() {
                return Err(SinkError::Exec(raw, "no command".into()));
            }
            if argv.iter().any(|a| a.contains("{id}") && a != "{id}") {
                return Err(SinkError::Exec(
                    raw,
                    "{id} may only appear as a whole argument".into(),
                ));
            }
            Kind::Exec(argv)
        } else if let Some(name) = spec.strip_prefix("snowflake-secret:") {
            let parts: Vec<&str> = name.split('.').collect();
            let ok = |p: &str| {
                (!p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                    || p == "{id}"
                    || (p.contains("{id}")
                        && p.replace("{id}", "")
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_'))
            };
            match parts.as_slice() {
                [d, s, n] if ok(d) && ok(s) && ok(n) => Kind::SnowflakeSecret([
                    d.to_ascii_uppercase(),
                    s.to_ascii_uppercase(),
                    n.to_ascii_uppercase().replace("{ID}", "{id}"),
                ]),
                _ => return Err(SinkError::SecretName(raw)),
            }
        } else {
            return Err(SinkError::Unknown(raw));
        };
        Ok(Self { raw, kind })
    }

    /// The spec as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The sink for one tenant.
    pub fn for_tenant(&self, id: &str) -> Sink {
        let x = |s: &str| s.replace("{id}", id);
        match &self.kind {
            Kind::File(p) => Sink::File(PathBuf::from(x(p))),
            Kind::Dotenv(p, v) => Sink::Dotenv {
                path: PathBuf::from(x(p)),
                var: v.clone(),
            },
            Kind::Exec(argv) => Sink::Exec(argv.iter().map(|a| x(a)).collect()),
            Kind::SnowflakeSecret(parts) => {
                Sink::SnowflakeSecret(ObjectName(parts.iter().map(|p| Ident::new(x(p))).collect()))
            }
            Kind::Stdout => Sink::Stdout,
        }
    }
}

/// Splits a command into argv without a shell: blanks separate words; `'...'` and `"..."` quote
/// (no escapes inside single quotes; `\"` and `\\` inside double quotes).
fn split_argv(command: &str) -> Result<Vec<String>, String> {
    let mut argv = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    argv.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        argv.push(word);
    }
    Ok(argv)
}

impl std::fmt::Display for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::File(p) => write!(f, "file:{}", p.display()),
            Sink::Dotenv { path, var } => write!(f, "dotenv:{}:{var}", path.display()),
            Sink::Exec(argv) => {
                // Quoted so that the stored form parses back to the same argv.
                let words: Vec<String> = argv.iter().map(|a| quote_word(a)).collect();
                write!(f, "exec:{}", words.join(" "))
            }
            Sink::SnowflakeSecret(name) => {
                let parts: Vec<&str> = name.0.iter().map(Ident::as_str).collect();
                write!(f, "snowflake-secret:{}", parts.join("."))
            }
            Sink::Stdout => f.write_str("stdout"),
        }
    }
}

fn quote_word(word: &str) -> String {
    if !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '"')
    {
        return word.to_owned();
    }
    if !word.contains('\'') {
        return format!("'{word}'");
    }
    let escaped = word.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

impl Sink {
    /// Checks what can be checked before a secret exists: the target directory of a file or
    /// dotenv sink exists, is no symlink, and is not writable by group or others; the target
    /// itself is no symlink.
    pub fn preflight(&self) -> Result<(), SinkError> {
        match self {
            Sink::File(path) | Sink::Dotenv { path, .. } => check_target(path),
            _ => Ok(()),
        }
    }

    /// Delivers `secret`. `Stdout` delivers nothing here: the caller prints it.
    pub async fn deliver(
        &self,
        secret: &SecretString,
        client: &snowpat_client::Client,
    ) -> Result<(), SinkError> {
        match self {
            Sink::File(path) => {
                let mut content = secret.expose_secret().as_bytes().to_vec();
                content.push(b'\n');
                let result = write_private_file(path, &content);
                zeroize::Zeroize::zeroize(&mut content);
                result
            }
            Sink::Dotenv { path, var } => {
                check_target(path)?;
                let existing = match std::fs::read_to_string(path) {
                    Ok(text) => text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                    Err(source) => {
                        return Err(SinkError::Io {
                            path: path.display().to_string(),
                            source,
                        })
                    }
                };
                let mut out = String::new();
                let mut replaced = false;
                let prefix = format!("{var}=");
                for line in existing.lines() {
                    let trimmed = line.trim_start();
                    let bare = trimmed.strip_prefix("export ").unwrap_or(trimmed);
                    if bare.starts_with(&prefix) {
                        if !replaced {
                            out.push_str(&prefix);
                            out.push_str(secret.expose_secret());
                            out.push('\n');
                            replaced = true;
                        }
                    } else {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
                if !replaced {
                    out.push_str(&prefix);
                    out.push_str(secret.expose_secret());
                    out.push('\n');
                }
                let mut bytes = out.into_bytes();
                let result = write_private_file(path, &bytes);
                zeroize::Zeroize::zeroize(&mut bytes);
                result
            }
            Sink::Exec(argv) => exec(argv, secret).await,
            Sink::SnowflakeSecret(name) => {
                let statement = Statement::CreateSecret {
                    or_replace: true,
                    if_not_exists: false,
                    name: name.clone(),
                    properties: vec![
                        Property::new("TYPE", Value::Name(ObjectName::simple("GENERIC_STRING"))),
                        Property::new(
                            "SECRET_STRING",
                            Value::String(secret.expose_secret().to_owned()),
                        ),
                    ],
                };
                let request = snowpat_client::Statement::new(statement.to_string());
                drop(statement);
                client
                    .execute(&request)
                    .await
                    .map(|_| ())
                    .map_err(|source| SinkError::Snowflake {
                        name: self.to_string(),
                        source,
                    })
            }
            Sink::Stdout => Ok(()),
        }
    }
}

fn unsafe_path(path: &Path, problem: &str) -> SinkError {
    SinkError::Unsafe {
        path: path.display().to_string(),
        problem: problem.to_owned(),
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn check_target(path: &Path) -> Result<(), SinkError> {
    let dir = parent_of(path);
    let meta = std::fs::symlink_metadata(dir).map_err(|_| {
        unsafe_path(
            dir,
            "the directory does not exist; create it (mode 0700) first",
        )
    })?;
    if meta.file_type().is_symlink() {
        return Err(unsafe_path(
            dir,
            "the directory is a symlink; name the real directory",
        ));
    }
    if !meta.is_dir() {
        return Err(unsafe_path(dir, "not a directory"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(unsafe_path(
                dir,
                "the directory is writable by group or others; chmod go-w it",
            ));
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return Err(unsafe_path(
                path,
                "the target is a symlink; refusing to follow it",
            ));
        }
    }
    Ok(())
}

/// Writes `content` under the file rules of `interfaces.md`: the directory exists, is no symlink
/// and is not writable by group or others, the target is no symlink; a temp file 0600 with
/// O_EXCL|O_NOFOLLOW in the same directory is written, fsynced, renamed into place, and the
/// directory fsynced. The one writer of secret-bearing files (sinks, key files, the OAuth cache).
///
/// # Errors
/// [`SinkError::Unsafe`] when a rule is broken, [`SinkError::Io`] on an I/O failure.
pub fn write_private_file(path: &Path, content: &[u8]) -> Result<(), SinkError> {
    check_target(path)?;
    let dir = parent_of(path);
    let io = |source| SinkError::Io {
        path: path.display().to_string(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| unsafe_path(path, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let tmp = dir.join(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(O_NOFOLLOW);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    let written = file
        .write_all(content)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().map_err(io)?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
const O_NOFOLLOW: i32 = 0o400_000;
#[cfg(all(unix, not(target_os = "linux")))]
const O_NOFOLLOW: i32 = 0x100;

async fn exec(argv: &[String], secret: &SecretString) -> Result<(), SinkError> {
    use tokio::io::AsyncWriteExt;
    let command = argv.first().cloned().unwrap_or_default();
    let fail = |problem: String| SinkError::NotDelivered {
        command: command.clone(),
        problem,
    };
    let mut child = tokio::process::Command::new(&command)
        .args(argv.iter().skip(1))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let mut line = secret.expose_secret().as_bytes().to_vec();
        line.push(b'\n');
        let written = stdin.write_all(&line).await;
        zeroize::Zeroize::zeroize(&mut line);
        written.map_err(|e| fail(format!("cannot write its stdin: {e}")))?;
    }
    match tokio::time::timeout(EXEC_TIMEOUT, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(fail(format!("exited with {status}; not delivered"))),
        Ok(Err(e)) => Err(fail(format!("cannot wait for it: {e}"))),
        Err(_) => {
            let _ = child.kill().await;
            Err(fail(format!(
                "timed out after {}s; not delivered",
                EXEC_TIMEOUT.as_secs()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_kinds_and_errors() {
        assert!(matches!(
            SinkSpec::parse("file:secrets/{id}.token").map(|s| s.for_tenant("A")),
            Ok(Sink::File(p)) if p == Path::new("secrets/A.token")
        ));
        assert_eq!(
            SinkSpec::parse("dotenv:/x/a:b/.env:MY_VAR")
                .unwrap()
                .for_tenant("A"),
            Sink::Dotenv {
                path: PathBuf::from("/x/a:b/.env"),
                var: "MY_VAR".into()
            }
        );
        assert_eq!(
            SinkSpec::parse("exec:store-secret --name '{id}' \"a b\"")
                .unwrap()
                .for_tenant("T1"),
            Sink::Exec(vec![
                "store-secret".into(),
                "--name".into(),
                "T1".into(),
                "a b".into()
            ])
        );
        assert!(SinkSpec::parse("exec:cmd --name={id}").is_err());
        // The stored (displayed) form parses back to the same argv.
        let exec = Sink::Exec(vec![
            "cmd".into(),
            "a b".into(),
            "it's".into(),
            String::new(),
        ]);
        assert_eq!(
            SinkSpec::parse(&exec.to_string()).unwrap().for_tenant("X"),
            exec
        );
        assert!(SinkSpec::parse("exec:").is_err());
        assert!(SinkSpec::parse("exec:cmd 'open").is_err());
        assert!(SinkSpec::parse("dotenv:path:1BAD").is_err());
        assert!(SinkSpec::parse("dotenv:path").is_err());
        assert!(SinkSpec::parse("file:").is_err());
        assert!(SinkSpec::parse("ftp://x").is_err());
        assert!(SinkSpec::parse("STDOUT").is_err());
        assert!(SinkSpec::parse("snowflake-secret:db.s").is_err());
        assert!(SinkSpec::parse("snowflake-secret:db.s.n;drop").is_err());
        assert_eq!(
            SinkSpec::parse("snowflake-secret:db.s.tok_{id}")
                .unwrap()
                .for_tenant("X")
                .to_string(),
            "snowflake-secret:DB.S.TOK_X"
        );
    }
}
