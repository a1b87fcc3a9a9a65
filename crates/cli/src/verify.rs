//! `snowpat verify [--connection NAME] [--require-cortex]`: prove a credential (`interfaces.md`
//! snowpat commands). It answers, from the server's side:
//!
//! - who am I and which role: `CURRENT_USER()`, `CURRENT_ROLE()`, `CURRENT_AVAILABLE_ROLES()`
//!   (`snowflake-behaviour.md` §5.18; a role-restricted PAT session lists only its role's
//!   closure, §4.1);
//! - whether a PAT is role-restricted: the same statement asking for role PUBLIC, which every
//!   user holds, is refused with `390186` only when a restriction binds the token (§6.6 step 10);
//! - the token's name and expiry: `SHOW USER PATS` as the user itself (a PERSON user may, §4.3),
//!   else as the configured connection (the global flags without `--connection`), when it may;
//! - whether Cortex is reachable: a real `inference:complete` call (`protocols.md` §7.2) as the
//!   role in effect.
//!
//! With `--connection NAME` the identity is exactly that connections.toml entry (as the Snowflake
//! CLI resolves it, `snowpat_client::profile`); otherwise the configured connection, with the
//! precedence of `interfaces.md` (flags, environment, snowpat.toml, connections.toml).
//!
//! Exit 0 when the credential works (and, with `--require-cortex`, Cortex answered 200); exit 1
//! when it fails, with the Snowflake code explained from `snowpat_client::codes`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use snowpat_client::profile::{Environment, Profile};
use snowpat_client::{BaseUrl, Client, Credential, KeyPair, ServerTime, Statement};
use snowpat_sql::ast::{Expr, Ident, Select, SelectItem, Statement as Sql};

use crate::context::{load_config, Context, GlobalArgs, OutputFormat};
use crate::CliError;

/// The model of the Cortex probe (any model of the catalogue answers; `protocols.md` §7.2).
const PROBE_MODEL: &str = "claude-sonnet-4-5";

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// Exit 1 unless the Cortex probe answers 200.
    #[arg(long)]
    pub require_cortex: bool,
}

/// The credential being proved, kept so that both the SQL API and Cortex use the same one.
enum Secret {
    Pat(SecretString),
    OAuth(SecretString),
    KeyPair {
        account: String,
        user: String,
        path: PathBuf,
    },
}

struct Identity {
    /// `connection NAME` or `configured connection`.
    label: String,
    base: BaseUrl,
    role: Option<String>,
    secret: Secret,
}

impl Identity {
    fn kind(&self) -> &'static str {
        match self.secret {
            Secret::Pat(_) => "programmatic access token",
            Secret::OAuth(_) => "OAuth access token",
            Secret::KeyPair { .. } => "key-pair JWT",
        }
    }

    fn credential(&self) -> Result<Credential, CliError> {
        Ok(match &self.secret {
            Secret::Pat(s) => Credential::pat(s.clone()),
            Secret::OAuth(s) => Credential::oauth(s.clone()),
            Secret::KeyPair {
                account,
                user,
                path,
            } => Credential::KeyPair(
                KeyPair::from_file(account, user, path)
                    .map_err(|e| CliError::Usage(format!("private key {}: {e}", path.display())))?,
            ),
        })
    }

    fn client(&self, role: Option<&str>) -> Result<Client, CliError> {
        let mut builder = Client::builder(self.base.clone(), self.credential()?);
        if let Some(role) = role.or(self.role.as_deref()) {
            builder = builder.role(role);
        }
        builder
            .build()
            .map_err(|e| CliError::Usage(format!("connection: {e}")))
    }

    /// The bearer token and its `X-Snowflake-Authorization-Token-Type` (`protocols.md` §1.2).
    fn bearer(&self) -> Result<(SecretString, &'static str), CliError> {
        match &self.secret {
            Secret::Pat(s) => Ok((s.clone(), "PROGRAMMATIC_ACCESS_TOKEN")),
            Secret::OAuth(s) => Ok((s.clone(), "OAUTH")),
            Secret::KeyPair {
                account,
                user,
                path,
            } => {
                let pair = KeyPair::from_file(account, user, path)
                    .map_err(|e| CliError::Usage(format!("private key {}: {e}", path.display())))?;
                let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
                let jwt = pair
                    .sign_at(now)
                    .map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
                Ok((jwt, "KEYPAIR_JWT"))
            }
        }
    }
}

/// The Cortex Code CLI form (seed 001): the PAT as `password`, no authenticator. The Snowflake
/// CLI profile reader has no `password`, so it is read here, from connections.toml itself.
fn cortex_password(env: &Environment, name: &str) -> Option<SecretString> {
    let path = env.snowflake_home()?.join("connections.toml");
    let text = std::fs::read_to_string(path).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    let entry = doc.get(name)?.as_table()?;
    let authenticator = entry.get("authenticator").and_then(toml::Value::as_str);
    if authenticator.is_some_and(|a| !a.eq_ignore_ascii_case("PROGRAMMATIC_ACCESS_TOKEN")) {
        return None;
    }
    entry
        .get("password")
        .and_then(toml::Value::as_str)
        .filter(|p| !p.is_empty())
        .map(|p| SecretString::from(p.to_owned()))
}

fn from_profile(profile: &Profile, label: String) -> Result<Identity, CliError> {
    let base = profile
        .base_url()
        .map_err(|e| CliError::Usage(format!("connection {}: {e}", profile.name)))?;
    let no_token = profile.token.is_none()
        && profile.token_file_path.is_none()
        && profile.private_key_file.is_none();
    if no_token {
        if let Some(password) = cortex_password(&Environment::process(), &profile.name) {
            return Ok(Identity {
                label,
                base,
                role: profile.role.clone(),
                secret: Secret::Pat(password),
            });
        }
    }
    let credential = profile
        .credential()
        .map_err(|e| CliError::Usage(format!("connection {}: {e}", profile.name)))?;
    let secret = match credential {
        Credential::Pat(s) => Secret::Pat(s),
        Credential::OAuth(s) => Secret::OAuth(s),
        Credential::KeyPair(_) => Secret::KeyPair {
            account: profile.account.clone().unwrap_or_else(|| "EMULATOR".into()),
            user: profile.user.clone().unwrap_or_default(),
            path: profile.private_key_file.clone().unwrap_or_default(),
        },
    };
    Ok(Identity {
        label,
        base,
        role: profile.role.clone(),
        secret,
    })
}

/// The configured connection, with `interfaces.md`'s precedence: flags and environment (through
/// clap), then `[connection]` of snowpat.toml, then the connections.toml profile.
fn configured(global: &GlobalArgs) -> Result<Identity, CliError> {
    // The same checks and errors as every other command (a secret given where a path belongs
    // is refused without being echoed; a missing credential is named), nothing sent.
    Context::build(global)?;
    let config = load_config(global)?;
    let file = config.connection.clone().unwrap_or_default();
    let url = global.url.clone().or(file.url.clone());
    let account = global.account.clone().or(file.account.clone());
    let user = global.user.clone().or(file.user.clone());
    let role = global.role.clone().or(file.role.clone());
    let token_file = global
        .token_file
        .clone()
        .or(file.token_file.clone().map(PathBuf::from));
    let key_file = global
        .private_key_file
        .clone()
        .or(file.private_key_file.clone().map(PathBuf::from));
    let env_token = std::env::var("SNOWFLAKE_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .map(SecretString::from);
    let label = "configured connection".to_owned();
    let profile = if (url.is_none() && account.is_none())
        || (token_file.is_none() && key_file.is_none() && env_token.is_none())
    {
        Profile::load(&Environment::process(), file.profile.as_deref()).ok()
    } else {
        None
    };
    if token_file.is_none() && key_file.is_none() && env_token.is_none() {
        if let Some(p) = &profile {
            let mut identity = from_profile(p, label)?;
            if let Some(u) = &url {
                identity.base = BaseUrl::parse(u).map_err(|e| CliError::Usage(e.to_string()))?;
            }
            identity.role = role.or(identity.role);
            return Ok(identity);
        }
    }
    let base = match (&url, &account, &profile) {
        (Some(u), _, _) => BaseUrl::parse(u),
        (None, Some(a), _) => BaseUrl::from_account(a),
        (None, None, Some(p)) => p.base_url(),
        (None, None, None) => {
            return Err(CliError::Usage(
                "no connection: give --url or --account, or --connection NAME".into(),
            ))
        }
    }
    .map_err(|e| CliError::Usage(format!("connection: {e}")))?;
    let secret = if let Some(path) = token_file {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| CliError::Usage(format!("--token-file {}: {e}", path.display())))?;
        Secret::Pat(SecretString::from(text.trim().to_owned()))
    } else if let Some(path) = key_file {
        Secret::KeyPair {
            account: account.clone().unwrap_or_else(|| "EMULATOR".into()),
            user: user.clone().ok_or_else(|| {
                CliError::Usage("--private-key-file needs --user (or SNOWFLAKE_USER)".into())
            })?,
            path,
        }
    } else if let Some(token) = env_token {
        Secret::Pat(token)
    } else {
        return Err(CliError::Usage(
            "no credential: give --token-file PATH, --private-key-file PATH or --connection NAME"
                .into(),
        ));
    };
    Ok(Identity {
        label,
        base,
        role,
        secret,
    })
}

fn function(name: &str, alias: &str) -> SelectItem {
    SelectItem {
        expr: Expr::Function {
            name: name.into(),
            args: vec![],
        },
        alias: Some(Ident::new(alias)),
    }
}

fn whoami() -> Statement {
    Statement::new(
        Sql::Select(Select {
            items: vec![
                function("CURRENT_USER", "WHO"),
                function("CURRENT_ROLE", "ROLE"),
                function("CURRENT_AVAILABLE_ROLES", "AVAILABLE"),
                function("CURRENT_TIMESTAMP", "NOW"),
            ],
            from: None,
            filter: vec![],
        })
        .to_string(),
    )
}

/// A Snowflake error as the code table explains it.
fn explained(err: &snowpat_client::Error) -> Value {
    let api = err.api();
    let code = api.and_then(|a| a.code.clone());
    let info = api.and_then(|a| a.info());
    json!({
        "status": api.map(|a| a.status),
        "code": code,
        "message": api.and_then(|a| a.message.clone()).unwrap_or_else(|| err.to_string()),
        "title": info.map(|i| i.title),
        "cause": info.map(|i| i.cause),
        "fix": info.map(|i| i.fix),
    })
}

/// What one token of the user looks like (`SHOW USER PATS`).
struct Token {
    name: String,
    role_restriction: Option<String>,
    status: String,
    expires_at: Option<ServerTime>,
}

async fn tokens(client: &Client, user: &str) -> Result<Vec<Token>, snowpat_client::Error> {
    let show = Sql::ShowUserPats {
        for_user: Some(Ident::new(user)),
    };
    let rs = client.execute(&Statement::new(show.to_string())).await?;
    Ok(rs
        .rows()
        .iter()
        .filter_map(|r| {
            Some(Token {
                name: r.get::<String>("name").ok()?,
                role_restriction: r
                    .get::<Option<String>>("role_restriction")
                    .ok()
                    .flatten()
                    .filter(|v| !v.is_empty()),
                status: r
                    .get::<Option<String>>("status")
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                expires_at: r.get::<Option<ServerTime>>("expires_at").ok().flatten(),
            })
        })
        .collect())
}

/// `200`, or `403 <code>` with the body's message.
async fn cortex(identity: &Identity, role: &str) -> Result<Value, CliError> {
    let (bearer, token_type) = identity.bearer()?;
    let url = format!(
        "{}/api/v2/cortex/inference:complete",
        identity.base.to_string().trim_end_matches('/')
    );
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::Failed(anyhow::Error::new(e)))?;
    let response = http
        .post(url)
        .bearer_auth(bearer.expose_secret())
        .header(snowpat_client::TOKEN_TYPE_HEADER, token_type)
        .header("X-Snowflake-Role", role)
        .header("Accept", "application/json")
        .json(&json!({
            "model": PROBE_MODEL,
            "messages": [{"role": "user", "content": "snowpat verify"}],
            "max_tokens": 16,
            "stream": false,
        }))
        .send()
        .await;
    Ok(match response {
        Err(e) => json!({"reachable": false, "status": null, "error": e.without_url().to_string()}),
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let code = body.get("code").and_then(Value::as_str).map(str::to_owned);
            let info = code.as_deref().and_then(snowpat_client::codes::lookup);
            json!({
                "reachable": status == 200,
                "status": status,
                "code": code,
                "message": body.get("message").and_then(Value::as_str),
                "title": info.map(|i| i.title),
                "fix": info.map(|i| i.fix),
            })
        }
    })
}

fn print(format: OutputFormat, report: &Value) {
    let mut out = std::io::stdout().lock();
    if format == OutputFormat::Json {
        let _ = writeln!(out, "{report}");
        let _ = out.flush();
        return;
    }
    let s = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_else(|| "-".into());
    let _ = writeln!(
        out,
        "credential: {} ({}, {})",
        s(&report["credential"]),
        s(&report["connection"]),
        s(&report["url"])
    );
    if report["ok"] == json!(false) {
        let e = &report["error"];
        let _ = writeln!(
            out,
            "refused: {} {}",
            e["status"],
            e["code"].as_str().unwrap_or("(no code)")
        );
        let _ = writeln!(out, "message: {}", s(&e["message"]));
        if e["title"].is_string() {
            let _ = writeln!(out, "{}: {}", s(&e["code"]), s(&e["title"]));
            let _ = writeln!(out, "cause: {}", s(&e["cause"]));
            let _ = writeln!(out, "fix: {}", s(&e["fix"]));
        }
        let _ = writeln!(out, "result: FAILED");
        let _ = out.flush();
        return;
    }
    let roles: Vec<String> = report["available_roles"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "user: {}", s(&report["user"]));
    let _ = writeln!(out, "role: {}", s(&report["role"]));
    let _ = writeln!(out, "available roles: {}", roles.join(", "));
    let restriction = match (&report["restricted"], &report["role_restriction"]) {
        (Value::Bool(true), Value::String(r)) => format!("restricted to {r}"),
        (Value::Bool(false), _) => "none: the token acts with every role of its user".into(),
        _ => "not a programmatic access token".into(),
    };
    let _ = writeln!(
        out,
        "role restriction: {restriction} ({})",
        s(&report["restriction_evidence"])
    );
    let token = &report["token"];
    if token["name"].is_string() {
        let _ = writeln!(
            out,
            "token: {} {}, expires {} ({} days left)",
            s(&token["name"]),
            s(&token["status"]),
            s(&token["expires_at"]),
            token["days_left"]
        );
    } else {
        let _ = writeln!(out, "token: {}", s(&token["note"]));
    }
    let c = &report["cortex"];
    if c["reachable"] == json!(true) {
        let _ = writeln!(out, "cortex: reachable (200)");
    } else {
        let _ = writeln!(
            out,
            "cortex: NOT reachable ({} {}{})",
            c["status"],
            c["code"].as_str().unwrap_or(""),
            c["message"]
                .as_str()
                .or(c["error"].as_str())
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(out, "result: verified");
    let _ = out.flush();
}

pub(crate) fn run(
    args: &VerifyArgs,
    global: &GlobalArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<ExitCode, CliError> {
    let identity = match &global.connection {
        Some(name) => {
            let profile = Profile::load(&Environment::process(), Some(name))
                .map_err(|e| CliError::Usage(format!("connection {name}: {e}")))?;
            from_profile(&profile, format!("connection {name}"))?
        }
        None => configured(global)?,
    };
    let mut report = json!({
        "connection": identity.label,
        "url": identity.base.to_string(),
        "credential": identity.kind(),
    });
    let client = identity.client(None)?;
    let answer = runtime.block_on(client.execute(&whoami()));
    let rs = match answer {
        Ok(rs) => rs,
        Err(e) => {
            report["ok"] = json!(false);
            report["error"] = explained(&e);
            print(global.output, &report);
            return Ok(ExitCode::from(1));
        }
    };
    let row = rs.first();
    let get = |col: &str| row.and_then(|r| r.get::<Option<String>>(col).ok().flatten());
    let user = get("WHO").unwrap_or_default();
    let role = get("ROLE").unwrap_or_default();
    let available: Vec<String> = get("AVAILABLE")
        .and_then(|a| serde_json::from_str(&a).ok())
        .unwrap_or_default();
    let now = row.and_then(|r| r.get::<ServerTime>("NOW").ok());
    report["ok"] = json!(true);
    report["user"] = json!(user);
    report["role"] = json!(role);
    report["available_roles"] = json!(available);

    // Restricted? Only a PAT can be; PUBLIC is granted to every user (§3.1), so only a role
    // restriction refuses it (§6.6 step 10).
    let restricted = match identity.secret {
        Secret::Pat(_) if role != "PUBLIC" => {
            let probe = identity.client(Some("PUBLIC"))?;
            match runtime.block_on(probe.execute(&whoami())) {
                Ok(_) => {
                    report["restriction_evidence"] =
                        json!("a request for role PUBLIC was accepted");
                    Some(false)
                }
                Err(e) => {
                    let code = e.api().and_then(|a| a.code.clone());
                    report["restriction_evidence"] = json!(format!(
                        "a request for role PUBLIC was refused with {}",
                        code.as_deref().unwrap_or("an error")
                    ));
                    (code.as_deref() == Some("390186")).then_some(true)
                }
            }
        }
        Secret::Pat(_) => {
            report["restriction_evidence"] = json!("the session runs as PUBLIC");
            None
        }
        _ => {
            report["restriction_evidence"] = json!("not a PAT");
            None
        }
    };
    report["restricted"] = json!(restricted);
    report["role_restriction"] = json!((restricted == Some(true)).then(|| role.clone()));

    // The token: SHOW USER PATS as the user itself, else as the configured connection.
    if let Secret::Pat(_) = identity.secret {
        let own = runtime.block_on(tokens(&client, &user));
        let listed = match own {
            Ok(t) => Ok((t, "the user itself")),
            Err(own_err) => {
                let mut inspector = global.clone();
                inspector.connection = None;
                inspector.user = None;
                inspector.role = None;
                match (global.connection.is_some(), Context::build(&inspector)) {
                    (true, Ok(ctx)) => runtime
                        .block_on(tokens(&ctx.client, &user))
                        .map(|t| (t, "the configured connection"))
                        .map_err(|_| own_err),
                    _ => Err(own_err),
                }
            }
        };
        report["token"] = match listed {
            Ok((tokens, source)) => {
                let wanted = if restricted == Some(true) {
                    Some(role.clone())
                } else {
                    None
                };
                let candidates: Vec<&Token> = tokens
                    .iter()
                    .filter(|t| t.status == "ACTIVE" && t.role_restriction == wanted)
                    .collect();
                match candidates.as_slice() {
                    [t] => {
                        let days_left = match (t.expires_at, now) {
                            // Whole days, rounded: a 90-day token read seconds later is 90.
                            (Some(e), Some(n)) => Some(
                                ((e.as_datetime() - n.as_datetime()).num_seconds() + 43_200)
                                    .div_euclid(86_400),
                            ),
                            _ => None,
                        };
                        json!({
                            "name": t.name,
                            "status": t.status,
                            "expires_at": t.expires_at.map(|e| e.as_datetime().to_rfc3339()),
                            "days_left": days_left,
                            "source": source,
                        })
                    }
                    [] => {
                        json!({"note": format!("no ACTIVE token of {user} matches this session (listed by {source})")})
                    }
                    many => json!({"note": format!(
                        "{} ACTIVE tokens of {user} match this session: {}",
                        many.len(),
                        many.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                    )}),
                }
            }
            Err(e) => json!({"note": format!(
                "not readable ({}): a SERVICE user may not list its own tokens without OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on itself; run verify with an administrator's connection configured, or `snowpat tenant show`",
                e.api().and_then(|a| a.code.clone()).unwrap_or_else(|| e.to_string())
            )}),
        };
    } else {
        report["token"] = json!({"note": "not a programmatic access token"});
    }

    report["cortex"] = runtime.block_on(cortex(&identity, &role))?;
    print(global.output, &report);
    if args.require_cortex && report["cortex"]["reachable"] != json!(true) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
