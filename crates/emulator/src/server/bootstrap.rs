//! Start-up credentials (`interfaces.md`): ADMIN's `EMULATOR_ADMIN` PAT, ADMIN's RSA key, and the
//! control token. The PAT and the key are made by executing ordinary statements in an internal
//! ADMIN session, so the engine's rules apply to them like to any other.

use std::path::Path;

use base64::Engine as _;
use rand::RngCore;
use secrecy::SecretString;
use snowpat_sql::ast::{AddPat, AlterUserAction, Ident, Property, Statement, Value};

use super::state::{CommitError, Core};
use super::ServerError;
use crate::engine::{Cell, ResultSet};

/// ADMIN's control-plane PAT.
pub(crate) const ADMIN_TOKEN_NAME: &str = "EMULATOR_ADMIN";
const ADMIN_USER: &str = "ADMIN";

/// 32 random bytes, URL-safe base64 (no `.`, so never mistaken for a JWT).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn alter_admin(action: AlterUserAction) -> Statement {
    Statement::AlterUser {
        if_exists: false,
        user: Some(Ident::new(ADMIN_USER)),
        action,
    }
}

fn run_as_admin(core: &mut Core, statement: &Statement) -> Result<ResultSet, ServerError> {
    let mut session = core.account.internal_session(ADMIN_USER).ok_or_else(|| {
        ServerError::Bootstrap("the account has no ADMIN user to bootstrap".into())
    })?;
    let now = core.now();
    match core.execute_committed(&mut session, statement, now) {
        Ok(result) => Ok(result),
        Err(CommitError::Sql(error)) => Err(ServerError::Bootstrap(error.to_string())),
        Err(CommitError::Durability(error)) => Err(ServerError::Bootstrap(format!(
            "the state could not be written: {error}"
        ))),
    }
}

/// The `token_secret` cell of an ADD or ROTATE result.
fn secret_of(result: &ResultSet) -> Option<SecretString> {
    let index = result
        .columns
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case("token_secret"))
        .unwrap_or(1);
    match result.rows.first()?.get(index)? {
        Cell::Text(secret) => Some(SecretString::from(secret.clone())),
        _ => None,
    }
}

fn add_admin_pat(core: &mut Core) -> Result<SecretString, ServerError> {
    let statement = alter_admin(AlterUserAction::AddPat(AddPat {
        name: Ident::new(ADMIN_TOKEN_NAME),
        days_to_expiry: Some(365),
        ..AddPat::default()
    }));
    secret_of(&run_as_admin(core, &statement)?)
        .ok_or_else(|| ServerError::Bootstrap("ADD PAT returned no secret".into()))
}

/// `ALTER USER ADMIN ROTATE PAT EMULATOR_ADMIN EXPIRE_ROTATED_TOKEN_AFTER_HOURS = 0`: the old
/// secret stops working at once.
pub(crate) fn rotate_admin_pat(core: &mut Core) -> Result<SecretString, ServerError> {
    let statement = alter_admin(AlterUserAction::RotatePat {
        if_exists: false,
        name: Ident::new(ADMIN_TOKEN_NAME),
        expire_rotated_token_after_hours: Some(0),
    });
    secret_of(&run_as_admin(core, &statement)?)
        .ok_or_else(|| ServerError::Bootstrap("ROTATE PAT returned no secret".into()))
}

/// The admin PAT at start-up: added on a fresh account, rotated (grace 0) on a restored one.
pub(crate) fn admin_pat(core: &mut Core, restored: bool) -> Result<SecretString, ServerError> {
    if restored {
        rotate_or_add_admin_pat(core)
    } else {
        add_admin_pat(core)
    }
}

/// Rotates the admin PAT (grace 0). When there is nothing to rotate — no such token yet (first
/// run with `--admin-token-file` on an existing state), or it has expired — the token is added,
/// after removing an expired one that still holds the name.
pub(crate) fn rotate_or_add_admin_pat(core: &mut Core) -> Result<SecretString, ServerError> {
    match rotate_admin_pat(core) {
        Ok(secret) => return Ok(secret),
        Err(error) => tracing::info!(%error, "admin token not rotatable; adding it"),
    }
    match add_admin_pat(core) {
        Ok(secret) => Ok(secret),
        Err(error) => {
            tracing::info!(%error, "admin token name taken; replacing the token");
            let remove = alter_admin(AlterUserAction::RemovePat {
                if_exists: true,
                name: Ident::new(ADMIN_TOKEN_NAME),
            });
            run_as_admin(core, &remove)?;
            add_admin_pat(core)
        }
    }
}

/// Generates an RSA-2048 key pair, sets ADMIN's RSA_PUBLIC_KEY (base64 DER SPKI) and writes the
/// PKCS#8 PEM private key to `path` (0600).
pub(crate) fn admin_key(core: &mut Core, path: &Path) -> Result<(), ServerError> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    let mut rng = rand::rngs::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048)
        .map_err(|e| ServerError::Bootstrap(format!("RSA key generation failed: {e}")))?;
    let public_der = private
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| ServerError::Bootstrap(format!("RSA public key encoding failed: {e}")))?;
    let pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| ServerError::Bootstrap(format!("RSA private key encoding failed: {e}")))?;
    let public_b64 = base64::engine::general_purpose::STANDARD.encode(public_der.as_bytes());
    let statement = alter_admin(AlterUserAction::Set(vec![Property::new(
        "RSA_PUBLIC_KEY",
        Value::String(public_b64),
    )]));
    run_as_admin(core, &statement)?;
    super::files::write_private_file(path, pem.as_bytes()).map_err(|source| ServerError::File {
        path: path.to_path_buf(),
        source,
    })
}
