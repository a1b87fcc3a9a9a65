//! Connection profiles in the Snowflake CLI's format and with its precedence.
//!
//! - Directory: `$SNOWFLAKE_HOME` when set, else `~/.snowflake` when it exists, else
//!   `$XDG_CONFIG_HOME/snowflake` (`~/.config/snowflake`).
//! - `connections.toml`: one table per named connection (`[myconn]`). When this file exists, the
//!   `[connections.*]` tables of `config.toml` are ignored (the Snowflake CLI's rule); otherwise
//!   they are read.
//! - The name: the one asked for, else `$SNOWFLAKE_DEFAULT_CONNECTION_NAME`, else
//!   `default_connection_name` of `config.toml` (or of `connections.toml`), else `default`.
//! - Precedence of a key (the Snowflake CLI's): `SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>` (which can
//!   also define a profile alone), then the file, then the generic `SNOWFLAKE_<KEY>` variables
//!   (`SNOWFLAKE_USER`, ...), which only fill keys the profile lacks. `SNOWFLAKE_TOKEN` (a PAT
//!   secret, as SnowClaw's `.env` holds it) is such a generic variable: it is used when the
//!   profile names neither `token` nor `token_file_path`. Flags and snowpat's own variables rank
//!   above all of this; the CLI layers them (`interfaces.md`).
//! - Keys: `account`, `user`, `role`, `warehouse`, `database`, `schema`, `host`, `port`,
//!   `protocol`, `authenticator` (`PROGRAMMATIC_ACCESS_TOKEN`, `SNOWFLAKE_JWT`, `OAUTH`; inferred
//!   from the key material when absent), `token`, `token_file_path`, `private_key_file` /
//!   `private_key_path`. Other keys are ignored. Encrypted private keys
//!   (`private_key_file_pwd`) are not supported.
//!
//! Nothing here touches the real home directory unless [`Environment::process`] is used: tests
//! pass their own [`Environment`].

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::account::BaseUrl;
use crate::auth::{read_token_file, Credential, KeyPair};
use crate::client::{Client, ClientBuilder};
use crate::error::{ConfigError, Error};

/// The environment profiles are resolved in: variables and the home directory.
#[derive(Clone, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
    home: Option<PathBuf>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Variables may hold tokens: names only.
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Environment")
            .field("vars", &names)
            .field("home", &self.home)
            .finish()
    }
}

impl Environment {
    /// The process environment and `$HOME`.
    #[must_use]
    pub fn process() -> Self {
        let vars: HashMap<String, String> = std::env::vars().collect();
        let home = vars.get("HOME").map(PathBuf::from);
        Self { vars, home }
    }

    /// An explicit environment (tests).
    #[must_use]
    pub fn new(home: Option<PathBuf>, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            vars: vars.into_iter().collect(),
            home,
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The Snowflake configuration directory.
    #[must_use]
    pub fn snowflake_home(&self) -> Option<PathBuf> {
        if let Some(dir) = self.var("SNOWFLAKE_HOME") {
            return Some(self.expand(dir));
        }
        let home = self.home.as_ref()?;
        let dot = home.join(".snowflake");
        if dot.is_dir() {
            return Some(dot);
        }
        let config = self
            .var("XDG_CONFIG_HOME")
            .map_or_else(|| home.join(".config"), PathBuf::from);
        Some(config.join("snowflake"))
    }

    fn expand(&self, path: &str) -> PathBuf {
        match (path.strip_prefix("~/"), &self.home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(path),
        }
    }
}

/// How a profile authenticates.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Authenticator {
    /// `PROGRAMMATIC_ACCESS_TOKEN`.
    Pat,
    /// `SNOWFLAKE_JWT`.
    KeyPair,
    /// `OAUTH`.
    OAuth,
}

/// A resolved connection profile. `Debug` never shows the token.
#[derive(Clone, Default)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// `account`.
    pub account: Option<String>,
    /// `user`.
    pub user: Option<String>,
    /// `role`.
    pub role: Option<String>,
    /// `warehouse`.
    pub warehouse: Option<String>,
    /// `database`.
    pub database: Option<String>,
    /// `schema`.
    pub schema: Option<String>,
    /// `host`.
    pub host: Option<String>,
    /// `port`.
    pub port: Option<u16>,
    /// `protocol` (`https`, or `http` for a loopback host).
    pub protocol: Option<String>,
    /// `authenticator`, as written.
    pub authenticator: Option<String>,
    /// `token` or `$SNOWFLAKE_TOKEN`.
    pub token: Option<SecretString>,
    /// `token_file_path`.
    pub token_file_path: Option<PathBuf>,
    /// `private_key_file` / `private_key_path`.
    pub private_key_file: Option<PathBuf>,
    /// Whether `private_key_file_pwd` was given (unsupported).
    pub encrypted_key: bool,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("account", &self.account)
            .field("user", &self.user)
            .field("role", &self.role)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("protocol", &self.protocol)
            .field("authenticator", &self.authenticator)
            .field("token", &self.token.as_ref().map(|_| "****"))
            .field("token_file_path", &self.token_file_path)
            .field("private_key_file", &self.private_key_file)
            .finish_non_exhaustive()
    }
}

const KEYS: &[&str] = &[
    "account",
    "user",
    "role",
    "warehouse",
    "database",
    "schema",
    "host",
    "port",
    "protocol",
    "authenticator",
    "token",
    "token_file_path",
    "private_key_file",
    "private_key_path",
    "private_key_file_pwd",
];

impl Profile {
    /// Loads profile `name` (or the default one) from the Snowflake configuration directory.
    pub fn load(env: &Environment, name: Option<&str>) -> Result<Self, ConfigError> {
        let dir = env.snowflake_home();
        let connections = match &dir {
            Some(dir) => read_toml(&dir.join("connections.toml"))?,
            None => None,
        };
        let config = match &dir {
            Some(dir) => read_toml(&dir.join("config.toml"))?,
            None => None,
        };
        let name = match name {
            Some(n) => n.to_owned(),
            None => env
                .var("SNOWFLAKE_DEFAULT_CONNECTION_NAME")
                .map(str::to_owned)
                .or_else(|| string_at(config.as_ref(), "default_connection_name"))
                .or_else(|| string_at(connections.as_ref(), "default_connection_name"))
                .unwrap_or_else(|| "default".to_owned()),
        };
        let table = match &connections {
            Some(file) => file.get(&name).and_then(toml::Value::as_table).cloned(),
            None => config
                .as_ref()
                .and_then(|c| c.get("connections"))
                .and_then(toml::Value::as_table)
                .and_then(|c| c.get(&name))
                .and_then(toml::Value::as_table)
                .cloned(),
        };
        let mut values: HashMap<String, String> = HashMap::new();
        if let Some(table) = &table {
            for (key, value) in table {
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                values.insert(key.to_ascii_lowercase(), text);
            }
        }
        let prefix = format!("SNOWFLAKE_CONNECTIONS_{}_", name.to_ascii_uppercase());
        let mut from_env = false;
        for key in KEYS {
            if let Some(v) = env.var(&format!("{prefix}{}", key.to_ascii_uppercase())) {
                values.insert((*key).to_owned(), v.to_owned());
                from_env = true;
            }
        }
        if table.is_none() && !from_env {
            return Err(ConfigError::NoProfile(name));
        }
        let has_token = values.contains_key("token") || values.contains_key("token_file_path");
        for key in KEYS {
            let generic = format!("SNOWFLAKE_{}", key.to_ascii_uppercase());
            let fills_token = matches!(*key, "token" | "token_file_path");
            if values.contains_key(*key) || (fills_token && has_token) {
                continue;
            }
            if let Some(v) = env.var(&generic) {
                values.insert((*key).to_owned(), v.to_owned());
            }
        }
        Self::from_values(&name, &mut values, env)
    }

    fn from_values(
        name: &str,
        values: &mut HashMap<String, String>,
        env: &Environment,
    ) -> Result<Self, ConfigError> {
        let port = match values.remove("port") {
            Some(p) => Some(p.trim().parse::<u16>().map_err(|_| ConfigError::Profile {
                profile: name.to_owned(),
                key: "port".into(),
                why: "not a port number".into(),
            })?),
            None => None,
        };
        let private_key_file = values
            .remove("private_key_file")
            .or_else(|| values.remove("private_key_path"))
            .map(|p| env.expand(&p));
        Ok(Self {
            name: name.to_owned(),
            account: values.remove("account"),
            user: values.remove("user"),
            role: values.remove("role"),
            warehouse: values.remove("warehouse"),
            database: values.remove("database"),
            schema: values.remove("schema"),
            host: values.remove("host"),
            port,
            protocol: values.remove("protocol"),
            authenticator: values.remove("authenticator"),
            token: values.remove("token").map(SecretString::from),
            token_file_path: values.remove("token_file_path").map(|p| env.expand(&p)),
            private_key_file,
            encrypted_key: values.remove("private_key_file_pwd").is_some(),
        })
    }

    /// The authenticator: as written, or inferred (a private key → key pair; else a PAT).
    pub fn authenticator(&self) -> Result<Authenticator, ConfigError> {
        match self
            .authenticator
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("PROGRAMMATIC_ACCESS_TOKEN") => Ok(Authenticator::Pat),
            Some("SNOWFLAKE_JWT") => Ok(Authenticator::KeyPair),
            Some("OAUTH") => Ok(Authenticator::OAuth),
            None if self.private_key_file.is_some() => Ok(Authenticator::KeyPair),
            None => Ok(Authenticator::Pat),
            Some(other) => Err(ConfigError::Authenticator {
                profile: self.name.clone(),
                authenticator: other.to_owned(),
            }),
        }
    }

    /// The base URL: `host`/`port`/`protocol` when `host` is set, else from `account`.
    pub fn base_url(&self) -> Result<BaseUrl, ConfigError> {
        if let Some(host) = &self.host {
            return BaseUrl::from_parts(host, self.port, self.protocol.as_deref());
        }
        match &self.account {
            Some(account) => BaseUrl::from_account(account),
            None => Err(ConfigError::Missing {
                profile: self.name.clone(),
                key: "account",
            }),
        }
    }

    /// The credential the profile describes (reads token and key files).
    pub fn credential(&self) -> Result<Credential, Error> {
        let token = || -> Result<SecretString, Error> {
            if let Some(token) = &self.token {
                return Ok(token.clone());
            }
            match &self.token_file_path {
                Some(path) => Ok(read_token_file(path)?),
                None => Err(ConfigError::Missing {
                    profile: self.name.clone(),
                    key: "token",
                }
                .into()),
            }
        };
        match self.authenticator()? {
            Authenticator::Pat => Ok(Credential::Pat(token()?)),
            Authenticator::OAuth => Ok(Credential::OAuth(token()?)),
            Authenticator::KeyPair => {
                if self.encrypted_key {
                    return Err(crate::error::AuthError::EncryptedKey.into());
                }
                let missing = |key| ConfigError::Missing {
                    profile: self.name.clone(),
                    key,
                };
                let path = self
                    .private_key_file
                    .as_deref()
                    .ok_or_else(|| missing("private_key_file"))?;
                let account = self.account.as_deref().ok_or_else(|| missing("account"))?;
                let user = self.user.as_deref().ok_or_else(|| missing("user"))?;
                Ok(Credential::KeyPair(KeyPair::from_file(
                    account, user, path,
                )?))
            }
        }
    }

    /// A client builder for this profile (base URL, credential, role, warehouse, database,
    /// schema).
    pub fn client_builder(&self) -> Result<ClientBuilder, Error> {
        let mut builder = Client::builder(self.base_url()?, self.credential()?);
        if let Some(role) = &self.role {
            builder = builder.role(role);
        }
        if let Some(warehouse) = &self.warehouse {
            builder = builder.warehouse(warehouse);
        }
        if let Some(database) = &self.database {
            builder = builder.database(database);
        }
        if let Some(schema) = &self.schema {
            builder = builder.schema(schema);
        }
        Ok(builder)
    }
}

fn read_toml(path: &Path) -> Result<Option<toml::Table>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    text.parse::<toml::Table>().map(Some).map_err(|e| {
        // The parser's Display quotes the offending line, which may hold a token: report the
        // message and the line number only.
        let line = e.span().map(|span| {
            text.get(..span.start)
                .map_or(0, |before| before.lines().count().max(1))
        });
        let message = match line {
            Some(line) => format!("{} (line {line})", e.message()),
            None => e.message().to_owned(),
        };
        ConfigError::Toml {
            path: path.to_path_buf(),
            message,
        }
    })
}

fn string_at(table: Option<&toml::Table>, key: &str) -> Option<String> {
    table?.get(key)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn env_in(dir: &Path, vars: &[(&str, &str)]) -> Environment {
        let mut all: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        all.push(("SNOWFLAKE_HOME".into(), dir.display().to_string()));
        Environment::new(Some(dir.join("home")), all)
    }

    #[test]
    fn connections_toml_wins_over_config_toml() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "default_connection_name = \"dev\"\n[connections.dev]\naccount = \"from-config\"\nuser = \"c\"\ntoken = \"t1\"\n",
        )
        .unwrap();
        let env = env_in(dir.path(), &[]);
        let p = Profile::load(&env, None).unwrap();
        assert_eq!(p.account.as_deref(), Some("from-config"));

        std::fs::write(
            dir.path().join("connections.toml"),
            "[dev]\naccount = \"myorg-dev\"\nuser = \"svc\"\nrole = \"R\"\ntoken_file_path = \"tok\"\n[other]\nhost = \"127.0.0.1\"\nport = 8080\nprotocol = \"http\"\ntoken = \"zz\"\n",
        )
        .unwrap();
        let p = Profile::load(&env, None).unwrap();
        assert_eq!(p.name, "dev", "default_connection_name from config.toml");
        assert_eq!(p.account.as_deref(), Some("myorg-dev"));
        assert_eq!(p.role.as_deref(), Some("R"));
        assert_eq!(
            p.base_url().unwrap().to_string(),
            "https://myorg-dev.snowflakecomputing.com/"
        );
        assert_eq!(p.authenticator().unwrap(), Authenticator::Pat);

        let other = Profile::load(&env, Some("other")).unwrap();
        assert_eq!(
            other.base_url().unwrap().to_string(),
            "http://127.0.0.1:8080/"
        );
        assert!(matches!(
            Profile::load(&env, Some("missing")),
            Err(ConfigError::NoProfile(_))
        ));
        let debug = format!("{other:?}");
        assert!(!debug.contains("zz"), "{debug}");
    }

    #[test]
    fn environment_overrides_and_snowflake_token() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("connections.toml"),
            "default_connection_name = \"a\"\n[a]\naccount = \"x\"\nuser = \"u\"\ntoken = \"file-token\"\n",
        )
        .unwrap();
        let env = env_in(
            dir.path(),
            &[
                ("SNOWFLAKE_CONNECTIONS_A_ROLE", "ENV_ROLE"),
                ("SNOWFLAKE_CONNECTIONS_A_PRIVATE_KEY_FILE", "~/k.pem"),
                ("SNOWFLAKE_TOKEN", "env-token"),
                ("SNOWFLAKE_USER", "generic-user"),
                ("SNOWFLAKE_WAREHOUSE", "generic-wh"),
                ("SNOWFLAKE_CONNECTIONS_ONLYENV_ACCOUNT", "org-only"),
            ],
        );
        let p = Profile::load(&env, None).unwrap();
        assert_eq!(
            p.role.as_deref(),
            Some("ENV_ROLE"),
            "named variable over file"
        );
        assert_eq!(
            p.private_key_file,
            Some(dir.path().join("home").join("k.pem"))
        );
        assert_eq!(p.authenticator().unwrap(), Authenticator::KeyPair);
        assert_eq!(p.user.as_deref(), Some("u"), "file over generic variable");
        assert_eq!(
            p.warehouse.as_deref(),
            Some("generic-wh"),
            "generic fills a gap"
        );
        assert_eq!(
            p.token.as_ref().unwrap().expose_secret(),
            "file-token",
            "the profile's own token wins over SNOWFLAKE_TOKEN"
        );
        let only = Profile::load(&env, Some("onlyenv")).unwrap();
        assert_eq!(only.account.as_deref(), Some("org-only"));
        assert_eq!(
            only.token.as_ref().unwrap().expose_secret(),
            "env-token",
            "SNOWFLAKE_TOKEN when the profile names no token"
        );

        let env = env_in(
            dir.path(),
            &[
                ("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "onlyenv"),
                ("SNOWFLAKE_CONNECTIONS_ONLYENV_ACCOUNT", "o"),
            ],
        );
        assert_eq!(Profile::load(&env, None).unwrap().name, "onlyenv");
    }

    #[test]
    fn token_files_authenticators_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "  secret-from-file\n").unwrap();
        std::fs::write(
            dir.path().join("connections.toml"),
            format!(
                "[pat]\naccount = \"a\"\ntoken_file_path = \"{}\"\nauthenticator = \"programmatic_access_token\"\n[oauth]\naccount = \"a\"\ntoken = \"o\"\nauthenticator = \"OAUTH\"\n[pw]\naccount = \"a\"\nauthenticator = \"snowflake\"\n[enc]\naccount = \"a\"\nuser = \"u\"\nprivate_key_file = \"k\"\nprivate_key_file_pwd = \"x\"\n",
                dir.path().join("tok").display()
            ),
        )
        .unwrap();
        let env = env_in(dir.path(), &[]);
        let pat = Profile::load(&env, Some("pat"))
            .unwrap()
            .credential()
            .unwrap();
        assert_eq!(pat.token_type(), "PROGRAMMATIC_ACCESS_TOKEN");
        assert_eq!(pat.bearer().unwrap().expose_secret(), "secret-from-file");
        let oauth = Profile::load(&env, Some("oauth"))
            .unwrap()
            .credential()
            .unwrap();
        assert_eq!(oauth.token_type(), "OAUTH");
        assert!(Profile::load(&env, Some("pw"))
            .unwrap()
            .credential()
            .is_err());
        assert!(Profile::load(&env, Some("enc"))
            .unwrap()
            .credential()
            .is_err());

        std::fs::write(
            dir.path().join("connections.toml"),
            "[x]\ntoken = \"unterminated-secret\n",
        )
        .unwrap();
        let error = Profile::load(&env, Some("x")).unwrap_err().to_string();
        assert!(!error.contains("unterminated-secret"), "{error}");
    }
}
