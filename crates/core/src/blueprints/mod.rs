//! Blueprints: the account patterns of the seeds as plans of typed statements, with a privilege
//! preflight (`interfaces.md`, `bootstrap BLUEPRINT --plan | --apply`).
//!
//! * [`multi_tenant`]: seed 000.
//! * [`cli_single_role`]: seed 001, and the `cli-user` pairing.
//! * [`admin_runtime`]: seed 002.
//! * [`token_exchange`]: seed 003.

pub mod admin_runtime;
pub mod cli_single_role;
pub(crate) mod common;
pub mod multi_tenant;
pub mod token_exchange;

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use snowpat_client::Client;
use snowpat_sql::ast::{AlterUserAction, Statement};

use crate::plan::{Plan, PlanError};

/// Why a blueprint could not be planned or applied.
#[derive(Debug, thiserror::Error)]
pub enum BlueprintError {
    /// Bad settings (exit 2).
    #[error("{0}")]
    Config(String),
    /// The applying identity lacks a privilege (nothing was changed).
    #[error("privilege preflight: {0}")]
    Preflight(String),
    /// A read or a change was refused.
    #[error(transparent)]
    Client(#[from] snowpat_client::Error),
    #[error(transparent)]
    Step(#[from] PlanError),
    #[error("sink {sink}: {message}")]
    Sink { sink: String, message: String },
    #[error("key generation failed: {0}")]
    Key(String),
    /// A row of an answer did not have the expected shape.
    #[error(transparent)]
    Row(#[from] snowpat_client::RowError),
    /// The change would cut off the identity applying it (exit 2; only reads were sent).
    #[error("refused: {0}")]
    Lockout(String),
    /// Something the command needs does not exist (exit 1).
    #[error("{0}")]
    NotFound(String),
}

/// How the applying identity authenticated: the AUTHENTICATION_METHODS value that must stay
/// allowed for it (`snowflake-behaviour.md` §5.9.3).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum AuthMethod {
    Pat,
    KeyPair,
    OAuth,
    Password,
}

impl AuthMethod {
    /// The AUTHENTICATION_METHODS name.
    pub fn policy_name(self) -> &'static str {
        match self {
            Self::Pat => "PROGRAMMATIC_ACCESS_TOKEN",
            Self::KeyPair => "KEYPAIR",
            Self::OAuth => "OAUTH",
            Self::Password => "PASSWORD",
        }
    }

    /// From a credential's `X-Snowflake-Authorization-Token-Type` (`snowpat_client::Credential::token_type`).
    pub fn from_token_type(token_type: &str) -> Self {
        match token_type {
            "KEYPAIR_JWT" => Self::KeyPair,
            "OAUTH" => Self::OAuth,
            _ => Self::Pat,
        }
    }
}

/// Server time (`SELECT CURRENT_TIMESTAMP()`), never the local clock (§6.9).
pub(crate) async fn server_now(
    client: &Client,
) -> Result<snowpat_client::ServerTime, BlueprintError> {
    use snowpat_sql::ast::{Expr, Select, SelectItem};
    let select = Statement::Select(Select {
        items: vec![SelectItem {
            expr: Expr::Function {
                name: "CURRENT_TIMESTAMP".into(),
                args: vec![],
            },
            alias: None,
        }],
        from: None,
        filter: vec![],
    });
    let rs = crate::plan::execute(client, &crate::plan::Step::read(None, select)).await?;
    let row = rs.first().ok_or_else(|| {
        BlueprintError::NotFound("SELECT CURRENT_TIMESTAMP() returned no row".into())
    })?;
    Ok(row.get_at::<snowpat_client::ServerTime>(0)?)
}

impl BlueprintError {
    /// The client error underneath, for CLI hints.
    pub fn client_error(&self) -> Option<&snowpat_client::Error> {
        match self {
            Self::Client(e) => Some(e),
            Self::Step(e) => Some(&e.source),
            _ => None,
        }
    }
}

/// `--sink`: `file:PATH` (or a bare path). Other sink kinds belong to `crate::sinks`.
#[derive(Clone, Debug)]
pub struct FileSink(pub PathBuf);

impl FileSink {
    /// Parses `file:PATH` or `PATH`.
    pub fn parse(spec: &str) -> Result<Self, BlueprintError> {
        let path = spec.strip_prefix("file:").unwrap_or(spec);
        if path.is_empty() || spec.contains("{id}") {
            return Err(BlueprintError::Config(format!(
                "--sink {spec:?}: expected file:PATH"
            )));
        }
        for prefix in ["dotenv:", "exec:", "snowflake-secret:", "stdout"] {
            if spec.starts_with(prefix) {
                return Err(BlueprintError::Config(format!(
                    "--sink {spec:?}: bootstrap delivers to file:PATH only"
                )));
            }
        }
        Ok(Self(PathBuf::from(path)))
    }

    /// The file rules of `interfaces.md`, checked before anything is sent: the directory exists,
    /// is no symlink and is not writable by group or others; the target is no symlink.
    pub fn preflight(&self) -> Result<(), BlueprintError> {
        crate::sinks::Sink::File(self.0.clone())
            .preflight()
            .map_err(|e| BlueprintError::Config(format!("--sink {}: {e}", self.0.display())))
    }

    /// Writes `secret` 0600 through a temporary file (O_EXCL|O_NOFOLLOW), fsync and rename.
    pub fn write(&self, secret: &SecretString) -> Result<(), BlueprintError> {
        let err = |message: String| BlueprintError::Sink {
            sink: self.0.display().to_string(),
            message,
        };
        let dir = match self.0.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
        let mut text = secret.expose_secret().as_bytes().to_vec();
        let result = crate::sinks::write_private_file(&self.0, &text);
        zeroize::Zeroize::zeroize(&mut text);
        result.map_err(|e| err(e.to_string()))
    }
}

/// A fresh RSA-2048 key: (PKCS#8 PEM private key, base64 DER public key for RSA_PUBLIC_KEY).
pub fn generate_key() -> Result<(SecretString, String), BlueprintError> {
    use base64::Engine as _;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
        .map_err(|e| BlueprintError::Key(e.to_string()))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| BlueprintError::Key(e.to_string()))?;
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| BlueprintError::Key(e.to_string()))?;
    Ok((
        SecretString::from(pem.to_string()),
        base64::engine::general_purpose::STANDARD.encode(public.as_bytes()),
    ))
}

/// What `bootstrap` did.
#[derive(Debug)]
pub struct Outcome {
    /// The changes (empty: "no changes").
    pub plan: Plan,
    /// Whether they were sent.
    pub applied: bool,
    /// Where the minted credential went, if one was minted.
    pub delivered: Option<PathBuf>,
    /// Things the operator must know that do not stop the command (printed as `warning:`).
    pub warnings: Vec<String>,
}

fn needs_key_check(blueprint: &multi_tenant::MultiTenant) -> bool {
    blueprint.auth == crate::config::AutomationAuth::KeyPair
}

/// `bootstrap multi-tenant`: preflight, read, plan; with `apply`, deliver any key first, send the
/// changes, deliver any PAT.
pub async fn bootstrap_multi_tenant(
    client: &Client,
    blueprint: &multi_tenant::MultiTenant,
    apply: bool,
    sink: Option<&FileSink>,
) -> Result<Outcome, BlueprintError> {
    if let Some(sink) = sink {
        sink.preflight()?;
    }
    blueprint.preflight(client).await?;
    let observed = blueprint.observe(client).await?;
    blueprint.check_existing_roles(&observed)?;
    let warnings = match (needs_key_check(blueprint), sink) {
        (true, Some(sink)) => match multi_tenant::key_status(&observed, sink) {
            multi_tenant::KeyStatus::Lost { fingerprints } => vec![format!(
                "the automation key in Snowflake ({}) has no private key in {}: the key file is \
                 lost or replaced. Run `snowpat bootstrap multi-tenant --rotate-automation-key \
                 --sink file:{}` to set a new key pair",
                fingerprints.join(", "),
                sink.0.display(),
                sink.0.display()
            )],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let needs_key = blueprint.auth == crate::config::AutomationAuth::KeyPair;
    // Plan first without a key to learn whether one is needed.
    let probe = blueprint.plan(&observed, None);
    let mints = multi_tenant::MultiTenant::mints(&probe);
    if !apply || !mints {
        if apply {
            probe.apply(client).await?;
        }
        return Ok(Outcome {
            plan: probe,
            applied: apply,
            delivered: None,
            warnings,
        });
    }
    let sink = sink.ok_or_else(|| {
        BlueprintError::Config(
            "this apply mints the automation credential: --sink file:PATH is required".into(),
        )
    })?;
    let (plan, key) = if needs_key {
        let (private, public) = generate_key()?;
        // The private key reaches the sink before its public half is set, so it is never lost.
        sink.write(&private)?;
        (blueprint.plan(&observed, Some(&public)), true)
    } else {
        (probe, false)
    };
    let results = plan.apply(client).await?;
    if !key {
        for (step, rs) in plan.steps.iter().zip(&results) {
            if let Statement::AlterUser {
                action: AlterUserAction::AddPat(_),
                ..
            } = &step.statement
            {
                let secret = rs
                    .first()
                    .and_then(|r| r.secret("token_secret").ok())
                    .ok_or_else(|| BlueprintError::Sink {
                        sink: sink.0.display().to_string(),
                        message: "the ADD PAT answer carried no token_secret".into(),
                    })?;
                sink.write(&secret)?;
            }
        }
    }
    Ok(Outcome {
        plan,
        applied: true,
        delivered: Some(sink.0.clone()),
        warnings,
    })
}
