//! Finding, creating and unlocking the desktop vault.
//!
//! The desktop keeps everything: the office vault is where records are
//! reviewed and exported, so no kind is purged after the relay acknowledges
//! it (phones purge tax-help forms; see `RetentionRules::default`).
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fieldvault::model::DocumentKind;
use fieldvault::sync::client::ClientConfig;
use fieldvault::{
    Argon2Params, PassphraseKeyProvider, RetentionRule, RetentionRules, Vault, VaultOptions,
};
use zeroize::Zeroizing;

use crate::error::{CliError, CliResult, ExitCode};

pub const PASSPHRASE_ENV: &str = "FIELDVAULT_PASSPHRASE";
pub const OPERATOR_TOKEN_ENV: &str = "FIELDVAULT_OPERATOR_TOKEN";
/// Staff id of edits made on the desktop when no `--staff` is given.
pub const DESKTOP_STAFF: &str = "office";

/// Keep every kind forever (until deleted): the desktop admin vault.
pub fn keep_everything() -> RetentionRules {
    RetentionRules(HashMap::from(
        DocumentKind::ALL.map(|k| (k, RetentionRule::keep())),
    ))
}

pub fn vault_dir(global: &crate::cli::Global) -> CliResult<PathBuf> {
    global.vault.clone().ok_or_else(|| {
        CliError::usage("no vault directory: pass --vault DIR or set FIELDVAULT_VAULT")
    })
}

/// A secret (passphrase, token), wiped from memory on drop. Never printed.
pub type Secret = Zeroizing<String>;

/// A secret read from the environment or a no-echo prompt.
pub fn secret(env: &str, prompt: &str) -> CliResult<Secret> {
    if let Ok(value) = std::env::var(env) {
        if value.is_empty() {
            return Err(CliError::usage(format!("{env} is set but empty")));
        }
        return Ok(Zeroizing::new(value));
    }
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|_| {
            CliError::usage(format!(
                "no terminal to ask for it: set {env} (it is read from the environment, never logged)"
            ))
        })
}

/// Asks twice for a new passphrase (or takes it from the environment).
fn new_passphrase() -> CliResult<Secret> {
    if std::env::var(PASSPHRASE_ENV).is_ok() {
        return secret(PASSPHRASE_ENV, "");
    }
    let first = secret(PASSPHRASE_ENV, "New vault passphrase: ")?;
    let second = secret(PASSPHRASE_ENV, "Repeat the passphrase: ")?;
    if *first != *second {
        return Err(CliError::usage("the two passphrases differ"));
    }
    Ok(first)
}

pub fn create(dir: &Path, staff: &str, insecure_test_kdf: bool) -> CliResult<Vault> {
    if dir.join(fieldvault::DB_FILE).exists() {
        return Err(CliError::new(
            ExitCode::Vault,
            format!("a vault already exists at {}", dir.display()),
        ));
    }
    let pass = new_passphrase()?;
    if pass.chars().count() < 8 && !insecure_test_kdf {
        return Err(CliError::invalid(
            "the passphrase must be at least 8 characters",
        ));
    }
    let params = if insecure_test_kdf {
        Argon2Params::insecure_for_tests()
    } else {
        Argon2Params::default()
    };
    let provider = PassphraseKeyProvider::with_params(pass.as_str(), params);
    Ok(Vault::create(dir, &provider, options(staff))?)
}

pub fn options(staff: &str) -> VaultOptions {
    let mut options = VaultOptions::new(staff);
    options.retention = keep_everything();
    options
}

/// Opens the vault at `--vault` (the Argon2 cost is read from the vault).
pub fn open(global: &crate::cli::Global) -> CliResult<Arc<Vault>> {
    let dir = vault_dir(global)?;
    if !dir.join(fieldvault::DB_FILE).is_file() {
        return Err(CliError::new(
            ExitCode::Vault,
            format!(
                "no vault at {} (create one with `fieldvault init`)",
                dir.display()
            ),
        ));
    }
    let pass = secret(PASSPHRASE_ENV, "Vault passphrase: ")?;
    let provider = PassphraseKeyProvider::new(pass.as_str());
    Ok(Arc::new(Vault::open(
        &dir,
        &provider,
        options(global.staff_id()),
    )?))
}

/// The relay client configuration stored with the vault's enrollment.
pub fn client_config(vault: &Vault) -> CliResult<ClientConfig> {
    let settings = vault.sync_settings()?.ok_or_else(|| {
        CliError::new(
            ExitCode::Vault,
            "this vault is not enrolled in a workspace (use `workspace create` or `enroll`)",
        )
    })?;
    Ok(ClientConfig::for_enrolment(&settings))
}

/// The PEM root certificate in `path`, if one was given.
pub fn root_certificate(path: Option<&std::path::Path>) -> CliResult<Option<String>> {
    path.map(|p| {
        let bytes = std::fs::read(p).map_err(|e| CliError::io("cannot read", p, e))?;
        String::from_utf8(bytes).map_err(|_| {
            fieldvault::Error::InvalidInput("the root certificate is not valid PEM".into()).into()
        })
    })
    .transpose()
}

pub fn runtime() -> CliResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::internal(format!("could not start the async runtime: {e}")))
}
