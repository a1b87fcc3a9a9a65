//! `snowpat cli-config --connection NAME --user U --role R --token-file PATH [--client snow|cortex]
//! [--inline-secret] [--allow-unrestricted] [--file PATH]`: write or update one connections.toml
//! entry (`snowpat_core::cli_config`).
//!
//! `--connection`, `--user`, `--role` and `--token-file` are the global flags, here naming the
//! entry and its identity; the connection used to check the token (SHOW USER PATS FOR USER U) is
//! built from `--url`/`--account`, `SNOWFLAKE_TOKEN` or `--admin-token-file`, and snowpat.toml.
//! Secrets come only from files (the token file), never from argv.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use secrecy::SecretString;
use snowpat_core::cli_config::{self, ClientKind, Endpoint, Entry, TokenRef};
use snowpat_sql::ast::{Ident, Statement};

use crate::context::{Context, GlobalArgs};
use crate::CliError;

#[derive(Clone, Copy, Debug, Eq, PartialEq, clap::ValueEnum)]
pub(crate) enum ClientArg {
    /// Snowflake CLI: authenticator = PROGRAMMATIC_ACCESS_TOKEN + token_file_path.
    Snow,
    /// Cortex Code CLI: the PAT as `password` (needs --inline-secret).
    Cortex,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CliConfigArgs {
    /// Which client reads the entry.
    #[arg(long, value_enum, default_value_t = ClientArg::Snow)]
    pub client: ClientArg,
    /// Write the secret itself into connections.toml (Cortex Code CLI needs it; a warning).
    #[arg(long)]
    pub inline_secret: bool,
    /// Accept a token without ROLE_RESTRICTION.
    #[arg(long)]
    pub allow_unrestricted: bool,
    /// The connections.toml to edit (default $SNOWFLAKE_HOME/connections.toml, else
    /// ~/.snowflake/connections.toml).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// A tenant of the multi-tenant blueprint: its user, the runtime role and its file sink
    /// (instead of --user/--role/--token-file, which are then ignored: they may come from the
    /// environment for the checking connection).
    #[arg(long)]
    pub tenant: Option<String>,
    /// The PAT file of the identity that checks the token (else SNOWFLAKE_TOKEN / snowpat.toml).
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
}

pub(crate) fn endpoint(
    url: &str,
    account: Option<&str>,
    server_account: Option<String>,
) -> Endpoint {
    let parsed = reqwest::Url::parse(url).ok();
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned));
    let account = account
        .map(str::to_owned)
        .or_else(|| {
            host.as_deref()
                .and_then(|h| h.strip_suffix(".snowflakecomputing.com"))
                .map(|h| h.split('.').next().unwrap_or(h).to_owned())
        })
        .or(server_account)
        .unwrap_or_default();
    let is_default_https = parsed
        .as_ref()
        .is_some_and(|u| u.scheme() == "https" && u.port().is_none());
    Endpoint {
        account,
        host,
        port: parsed
            .as_ref()
            .and_then(|u| u.port_or_known_default())
            .filter(|_| !is_default_https),
        protocol: parsed
            .as_ref()
            .map(|u| u.scheme().to_owned())
            .filter(|_| !is_default_https),
    }
}

/// An unquoted name folds to upper case (§1.2); `"x"` keeps its case.
fn fold(name: &str) -> Ident {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if plain {
        Ident::new(name.to_ascii_uppercase())
    } else {
        Ident::new(name.trim_matches('"'))
    }
}

/// `--tenant ID`: the tenant's user (`[tenants] user`), the blueprint's runtime role, and the
/// file its secret goes to (the sink recorded in the store, else `[tenants] sink`).
fn tenant_entry(
    ctx: &Context,
    id: &str,
    runtime: &tokio::runtime::Runtime,
) -> Result<(String, String, PathBuf), CliError> {
    use snowpat_core::sinks::Sink;
    use snowpat_core::tenants::{Settings, TenantId, Tenants};
    let id = TenantId::parse(id).map_err(|e| CliError::Usage(e.to_string()))?;
    let settings = Settings {
        tenants: ctx.config.tenants.clone().unwrap_or_default(),
        blueprint: ctx.config.multi_tenant(),
    };
    let user = settings.user(&id);
    let role = settings.blueprint.runtime_role.to_ascii_uppercase();
    let sink = runtime.block_on(async {
        let store = crate::context::open_store(&ctx.store_url)
            .await
            .map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
        let tenants = Tenants::new(ctx.client.clone(), std::sync::Arc::new(store), settings);
        tenants
            .sink_of(&id, None)
            .await
            .map_err(|e| CliError::Usage(e.to_string()))
    })?;
    match sink {
        Sink::File(path) => Ok((user, role, path)),
        other => Err(CliError::Usage(format!(
            "tenant {}: its secret goes to {other}, not a file; cli-config needs a token file \
             (give --user/--role/--token-file)",
            id.as_str()
        ))),
    }
}

#[cfg(unix)]
fn check_token_file(path: &std::path::Path) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = cli_config::mode(path)
        .map_err(|e| CliError::Usage(format!("--token-file {}: {e}", path.display())))?;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
            CliError::Usage(format!(
                "--token-file {} is mode {mode:o}, readable by others, and cannot be fixed: {e}",
                path.display()
            ))
        })?;
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: {} was mode {mode:o}; set to 600",
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_token_file(_path: &std::path::Path) -> Result<(), CliError> {
    Ok(())
}

pub(crate) fn run(
    args: &CliConfigArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode, CliError> {
    let name = global
        .connection
        .clone()
        .ok_or_else(|| CliError::Usage("cli-config needs --connection NAME".into()))?;
    // The checking connection: the global flags minus those that name the entry.
    let mut admin = global.clone();
    admin.connection = None;
    admin.user = None;
    admin.role = None;
    // --token-file names the entry's token here; the checking identity's file comes from
    // --admin-token-file or SNOWPAT_TOKEN_FILE (read directly: the flag shadows the variable).
    admin.token_file = args
        .admin_token_file
        .clone()
        .or_else(|| std::env::var_os("SNOWPAT_TOKEN_FILE").map(PathBuf::from));
    let ctx = Context::build(&admin)?;

    let (user, role, token_file) = match &args.tenant {
        Some(id) => tenant_entry(&ctx, id, runtime)?,
        None => match (
            global.user.clone(),
            global.role.clone(),
            global.token_file.clone(),
        ) {
            (Some(u), Some(r), Some(t)) => (u, r, t),
            _ => {
                return Err(CliError::Usage(
                    "cli-config needs --tenant ID, or --user U --role R --token-file PATH".into(),
                ))
            }
        },
    };
    if !token_file.is_file() {
        return Err(CliError::Usage(format!(
            "--token-file {}: no such file (secrets are read from files only)",
            token_file.display()
        )));
    }
    if args.client == ClientArg::Cortex && !args.inline_secret {
        return Err(CliError::Usage(
            "Cortex Code CLI reads the PAT from `password` in connections.toml: pass \
             --inline-secret to write the secret into the file"
                .into(),
        ));
    }
    check_token_file(&token_file)?;
    let path = match &args.file {
        Some(p) => p.clone(),
        None => cli_config::default_path(
            std::env::var("SNOWFLAKE_HOME").ok().as_deref(),
            std::env::var("HOME").ok().as_deref(),
        )
        .ok_or_else(|| CliError::Usage("no HOME or SNOWFLAKE_HOME: give --file PATH".into()))?,
    };

    let user_ident = fold(&user);
    let role_ident = fold(&role);
    let pats = Statement::ShowUserPats {
        for_user: Some(user_ident.clone()),
    };
    let account_q = Statement::Select(snowpat_sql::ast::Select {
        items: vec![snowpat_sql::ast::SelectItem {
            expr: snowpat_sql::ast::Expr::Function {
                name: "CURRENT_ACCOUNT".into(),
                args: vec![],
            },
            alias: Some(Ident::new("ACCOUNT")),
        }],
        from: None,
        filter: vec![],
    });
    let (pats, server_account) = runtime.block_on(async {
        let pats = ctx
            .client
            .execute(&snowpat_client::Statement::new(pats.to_string()))
            .await;
        let account = ctx
            .client
            .execute(&snowpat_client::Statement::new(account_q.to_string()))
            .await
            .ok()
            .and_then(|rs| rs.first().and_then(|r| r.get::<String>("ACCOUNT").ok()));
        (pats, account)
    });
    let pats = pats.map_err(CliError::Snowflake)?;
    // Tokens of the user that are usable (not expired); each must be restricted to --role.
    let live: Vec<(String, Option<String>)> = pats
        .rows()
        .iter()
        .filter_map(|r| {
            let status = r.get::<Option<String>>("status").ok().flatten();
            if status.as_deref() == Some("EXPIRED") {
                return None;
            }
            Some((
                r.get::<String>("name").ok()?,
                r.get::<Option<String>>("role_restriction").ok().flatten(),
            ))
        })
        .collect();
    if live.is_empty() {
        return Err(CliError::Usage(format!(
            "user {user} holds no usable programmatic access token"
        )));
    }
    let unrestricted: Vec<&str> = live
        .iter()
        .filter(|(_, r)| r.as_deref().is_none_or(str::is_empty))
        .map(|(n, _)| n.as_str())
        .collect();
    if !unrestricted.is_empty() && !args.allow_unrestricted {
        return Err(CliError::Usage(format!(
            "user {user} holds tokens without ROLE_RESTRICTION ({}); such a token acts with every \
             role of the user, so the entry's role = {role} would not bind it. Remove them, or \
             pass --allow-unrestricted",
            unrestricted.join(", ")
        )));
    }
    if !live
        .iter()
        .any(|(_, r)| r.as_deref() == Some(role_ident.as_str()))
        && unrestricted.is_empty()
    {
        return Err(CliError::Usage(format!(
            "no token of user {user} is restricted to role {role}"
        )));
    }

    let endpoint = endpoint(&ctx.url, global.account.as_deref(), server_account);
    let token = if args.inline_secret {
        let secret = std::fs::read_to_string(&token_file)
            .map_err(|e| CliError::Usage(format!("--token-file {}: {e}", token_file.display())))?;
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: the secret is written into {} (mode 600); anyone who can read it can use the token",
            path.display()
        );
        TokenRef::Inline(SecretString::from(secret.trim().to_owned()))
    } else {
        let abs = std::fs::canonicalize(&token_file).unwrap_or(token_file.clone());
        TokenRef::File(abs)
    };
    let entry = Entry {
        name: name.clone(),
        client: match args.client {
            ClientArg::Snow => ClientKind::Snow,
            ClientArg::Cortex => ClientKind::Cortex,
        },
        endpoint,
        user: user_ident.into_string(),
        role: role_ident.into_string(),
        token,
    };
    cli_config::apply(&path, &entry).map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
    let _ = writeln!(
        std::io::stdout().lock(),
        "wrote [{name}] to {}",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
