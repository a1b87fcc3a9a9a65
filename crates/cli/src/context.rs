//! What every command gets: the connection, the loaded `snowpat.toml`, the store location and the
//! output format. Built once in `main` from flags, environment, `snowpat.toml` and
//! `connections.toml`, in that precedence (`interfaces.md` "connection and global flags").

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use snowpat_client::profile::{Environment, Profile};
use snowpat_client::{BaseUrl, Client, Credential, KeyPair};
use snowpat_core::config::Config;

use crate::CliError;

/// `--output text|json`.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// The global flags (each also read from its environment variable; flags win).
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct GlobalArgs {
    /// Base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, env = "SNOWPAT_URL")]
    pub url: Option<String>,
    /// ORG-ACCOUNT → https://ORG-ACCOUNT.snowflakecomputing.com.
    #[arg(long, global = true, env = "SNOWFLAKE_ACCOUNT")]
    pub account: Option<String>,
    #[arg(long, global = true, env = "SNOWFLAKE_USER")]
    pub user: Option<String>,
    /// A file holding a PAT secret (SNOWFLAKE_TOKEN may hold the secret itself).
    #[arg(long, global = true, env = "SNOWPAT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Key-pair JWT authentication, with --user.
    #[arg(long, global = true, env = "SNOWFLAKE_PRIVATE_KEY_FILE")]
    pub private_key_file: Option<PathBuf>,
    #[arg(long, global = true, env = "SNOWFLAKE_ROLE")]
    pub role: Option<String>,
    /// A profile from ~/.snowflake/connections.toml.
    #[arg(long, global = true)]
    pub connection: Option<String>,
    /// sqlite:PATH, or postgres://USER@HOST/DATABASE (postgresql:// too); the database
    /// password comes from PGPASSWORD or ~/.pgpass, never from the command line.
    #[arg(long, global = true)]
    pub store: Option<String>,
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// snowpat.toml (default ./snowpat.toml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// More logging on stderr (-v debug, -vv trace); RUST_LOG wins.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The resolved global context of one invocation.
pub(crate) struct Context {
    /// The connection as the configured identity.
    pub client: Client,
    /// `snowpat.toml` (defaults when absent).
    pub config: Config,
    /// `--store` (`sqlite:PATH` or `postgres://...`).
    pub store_url: String,
    pub output: OutputFormat,
    /// The base URL, for printed snippets.
    pub url: String,
    /// The credential's token type (`PROGRAMMATIC_ACCESS_TOKEN`, `KEYPAIR_JWT`, `OAUTH`): how the
    /// applying identity authenticates, for lockout checks.
    pub token_type: &'static str,
    /// What `client` was built from, to build it again with another default role.
    connection: Connection,
}

/// The resolved connection: where, and the credential's source (read again on each build, so
/// no secret is kept here beyond what the environment already held).
#[derive(Clone)]
struct Connection {
    base: BaseUrl,
    account: Option<String>,
    user: Option<String>,
    token_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    env_token: Option<SecretString>,
    profile: Option<Profile>,
}

impl Connection {
    fn credential(&self) -> Result<Credential, CliError> {
        if let Some(path) = &self.token_file {
            Credential::pat_from_file(path)
                .map_err(|e| CliError::Usage(format!("--token-file {}: {e}", path.display())))
        } else if let Some(path) = &self.key_file {
            let user = self.user.clone().ok_or_else(|| {
                CliError::Usage("--private-key-file needs --user (or SNOWFLAKE_USER)".into())
            })?;
            let account = self.account.clone().unwrap_or_else(|| "EMULATOR".into());
            Ok(Credential::KeyPair(
                KeyPair::from_file(&account, &user, path).map_err(|e| {
                    CliError::Usage(format!("--private-key-file {}: {e}", path.display()))
                })?,
            ))
        } else if let Some(token) = &self.env_token {
            Ok(Credential::pat(token.clone()))
        } else if let Some(p) = &self.profile {
            p.credential()
                .map_err(|e| CliError::Usage(format!("connection profile: {e}")))
        } else {
            Err(CliError::Usage(
                "no credential: give --token-file PATH or --private-key-file PATH (or \
                 SNOWPAT_TOKEN_FILE, SNOWFLAKE_TOKEN, SNOWFLAKE_PRIVATE_KEY_FILE)"
                    .into(),
            ))
        }
    }

    fn client(&self, role: Option<&str>) -> Result<(Client, &'static str), CliError> {
        let credential = self.credential()?;
        let token_type = credential.token_type();
        let mut builder = Client::builder(self.base.clone(), credential);
        if let Some(role) = role {
            builder = builder.role(role);
        }
        let client = builder
            .build()
            .map_err(|e| CliError::Usage(format!("connection: {e}")))?;
        Ok((client, token_type))
    }
}

/// A value that looks like a secret rather than a path: refuse it before anything is sent.
fn refuse_secret_value(flag: &str, path: &Path) -> Result<(), CliError> {
    let text = path.to_string_lossy();
    if path.exists() {
        return Ok(());
    }
    let looks_secret = text.len() >= 32
        && !text.contains('/')
        && !text.contains('.')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+=".contains(c));
    let looks_pem = text.contains("-----BEGIN");
    if looks_secret || looks_pem {
        return Err(CliError::Usage(format!(
            "{flag} takes a path, and this value looks like a secret; secrets are never accepted \
             as command-line values (they leak to ps and shell history): put it in a file, or \
             use the environment"
        )));
    }
    Err(CliError::Usage(format!("{flag} {}: no such file", text)))
}

/// Loads `snowpat.toml` only (commands that need no connection).
pub(crate) fn load_config(args: &GlobalArgs) -> Result<Config, CliError> {
    Config::discover(args.config.as_deref()).map_err(|e| CliError::Usage(e.to_string()))
}

/// Refuses a `--store` URL that carries a password (argv leaks to ps and shell history) or names
/// no known backend, before anything is opened; the message never echoes the password.
pub(crate) fn check_store_url(url: &str) -> Result<(), CliError> {
    let redacted = snowpat_core::store::redact_url(url);
    if redacted != url {
        return Err(CliError::Usage(format!(
            "--store {redacted}: a database password is never accepted on the command line \
             (it leaks to ps and shell history): set PGPASSWORD or use ~/.pgpass"
        )));
    }
    if !url.starts_with("sqlite:") && !snowpat_core::store::is_postgres_url(url) {
        return Err(CliError::Usage(format!(
            "--store {url}: use sqlite:PATH or postgres://USER@HOST/DATABASE"
        )));
    }
    Ok(())
}

/// Opens the store `--store` names: SQLite or PostgreSQL by the URL's scheme.
pub(crate) async fn open_store(
    url: &str,
) -> Result<snowpat_core::store::AnyStore, snowpat_core::store::StoreError> {
    snowpat_core::store::AnyStore::open(url).await
}

/// The default store: `sqlite:<data dir>/snowpat/state.db`.
fn default_store() -> String {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    format!("sqlite:{}", base.join("snowpat").join("state.db").display())
}

impl Context {
    /// Resolves the connection: flags, then environment (both through clap), then
    /// `[connection]` of snowpat.toml, then the connections.toml profile.
    pub(crate) fn build(args: &GlobalArgs) -> Result<Self, CliError> {
        let config = load_config(args)?;
        let file = config.connection.clone().unwrap_or_default();
        if let Some(store) = &args.store {
            check_store_url(store)?;
        }
        if let Some(p) = &args.token_file {
            refuse_secret_value("--token-file", p)?;
        }
        if let Some(p) = &args.private_key_file {
            refuse_secret_value("--private-key-file", p)?;
        }
        let profile_name = args.connection.clone().or(file.profile.clone());
        let mut url = args.url.clone().or(file.url.clone());
        let mut account = args.account.clone().or(file.account.clone());
        let mut user = args.user.clone().or(file.user.clone());
        let mut role = args.role.clone().or(file.role.clone());
        let mut token_file = args
            .token_file
            .clone()
            .or(file.token_file.clone().map(PathBuf::from));
        let mut key_file = args
            .private_key_file
            .clone()
            .or(file.private_key_file.clone().map(PathBuf::from));
        let env_token = std::env::var("SNOWFLAKE_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(SecretString::from);
        let mut profile: Option<Profile> = None;
        let need_profile = profile_name.is_some()
            || (url.is_none() && account.is_none())
            || (token_file.is_none() && key_file.is_none() && env_token.is_none());
        if need_profile {
            match Profile::load(&Environment::process(), profile_name.as_deref()) {
                Ok(p) => profile = Some(p),
                Err(e) if profile_name.is_some() => {
                    return Err(CliError::Usage(format!("connection profile: {e}")))
                }
                Err(e) => tracing::debug!("no default connection profile: {e}"),
            }
        }
        if let Some(p) = &profile {
            account = account.or(p.account.clone());
            user = user.or(p.user.clone());
            role = role.or(p.role.clone());
            token_file = token_file.or(p.token_file_path.clone());
            key_file = key_file.or(p.private_key_file.clone());
        }
        let base =
            match (&url, &account, &profile) {
                (Some(u), _, _) => BaseUrl::parse(u),
                (None, Some(a), _) => BaseUrl::from_account(a),
                (None, None, Some(p)) => p.base_url(),
                (None, None, None) => return Err(CliError::Usage(
                    "no connection: give --url or --account (or SNOWPAT_URL / SNOWFLAKE_ACCOUNT, \
                     [connection] in snowpat.toml, or --connection NAME)"
                        .into(),
                )),
            }
            .map_err(|e| CliError::Usage(format!("connection: {e}")))?;
        if url.is_none() {
            url = Some(base.to_string());
        }
        let connection = Connection {
            base,
            account,
            user,
            token_file,
            key_file,
            env_token,
            profile,
        };
        let (client, token_type) = connection.client(role.as_deref())?;
        Ok(Self {
            client,
            config,
            store_url: args.store.clone().unwrap_or_else(default_store),
            output: args.output,
            url: url.unwrap_or_default(),
            token_type,
            connection,
        })
    }

    /// The same connection with another default role (every request carries it unless it names
    /// its own): e.g. the automation role, so that what a tenant command's sink creates is owned
    /// by it too.
    pub(crate) fn client_with_role(&self, role: &str) -> Result<Client, CliError> {
        Ok(self.connection.client(Some(role))?.0)
    }
}
