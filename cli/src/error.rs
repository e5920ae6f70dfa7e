//! The CLI's error type and its exit codes.
//!
//! Every failure maps to one documented exit code (see [`EXIT_CODES_HELP`]),
//! so scripts can tell "wrong passphrase" from "relay unreachable". Messages
//! name what failed, never a field value, key, passphrase or token: the core
//! library's errors already follow that rule and are passed through.
use std::fmt;

/// Process exit codes. Keep in sync with [`EXIT_CODES_HELP`] and docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Ok = 0,
    Internal = 1,
    Usage = 2,
    WrongKey = 3,
    Vault = 4,
    NotFound = 5,
    Invalid = 6,
    Network = 7,
    Refused = 8,
    Revoked = 9,
    Io = 10,
    Corrupted = 11,
    PlaintextFound = 12,
    RowsRejected = 13,
    Storage = 14,
}

/// Shown at the end of `fieldvault --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
   0  success
   1  internal error (a bug: please report it)
   2  usage error (unknown command, missing or bad argument)
   3  wrong passphrase or key: the vault stayed locked
   4  no vault at --vault, not a vault, or a vault already exists there
   5  document not found, or of another kind than asked
   6  invalid input: a field failed validation, a bad QR text, an unreadable CSV
   7  network: the relay could not be reached, did not answer in time or was
      busy (5xx), or the workspace's new key has not reached this device yet
      (retry later)
   8  the relay refused the request (not the admin, unknown device, used code, ...)
   9  this device has been revoked (its vault has been wiped)
  10  file error (cannot read or write a file or directory)
  11  stored data is corrupted or was tampered with
  12  demo: a canary string was found in plaintext on disk
  13  import --strict: some rows were rejected
  14  storage: the vault's database could not be read or written (disk full,
      I/O error); nothing was changed";

#[derive(Debug)]
pub struct CliError {
    pub code: ExitCode,
    pub message: String,
    /// The command already put the error into its JSON output.
    pub reported: bool,
}

impl CliError {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reported: false,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Invalid, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Internal, message)
    }

    /// A file-system error on `path` (the path is ours, never a field value).
    pub fn io(what: &str, path: &std::path::Path, e: std::io::Error) -> Self {
        Self::new(ExitCode::Io, format!("{what} {}: {e}", path.display()))
    }

    /// Marks the error as already part of the command's JSON output.
    pub fn reported(mut self) -> Self {
        self.reported = true;
        self
    }

    /// The JSON form of the error (`{"exit_code", "kind", "message"}`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "exit_code": self.code as u8, "kind": self.kind(), "message": self.message })
    }

    /// A stable machine-readable name of the exit code, for `--json` errors.
    pub fn kind(&self) -> &'static str {
        match self.code {
            ExitCode::Ok => "ok",
            ExitCode::Internal => "internal",
            ExitCode::Usage => "usage",
            ExitCode::WrongKey => "wrong_key",
            ExitCode::Vault => "vault",
            ExitCode::NotFound => "not_found",
            ExitCode::Invalid => "invalid",
            ExitCode::Network => "network",
            ExitCode::Refused => "refused",
            ExitCode::Revoked => "revoked",
            ExitCode::Io => "io",
            ExitCode::Corrupted => "corrupted",
            ExitCode::PlaintextFound => "plaintext_found",
            ExitCode::RowsRejected => "rows_rejected",
            ExitCode::Storage => "storage",
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<fieldvault::Error> for CliError {
    fn from(e: fieldvault::Error) -> Self {
        use fieldvault::Error as E;
        let code = match &e {
            E::WrongKey => ExitCode::WrongKey,
            E::KeyUnavailable(_) => ExitCode::WrongKey,
            E::NotAVault(_) | E::AlreadyExists(_) | E::UnsupportedVersion { .. } => ExitCode::Vault,
            E::NotFound(_) | E::WrongKind { .. } => ExitCode::NotFound,
            E::Validation(_) | E::InvalidInput(_) | E::Photo(_) | E::Locked(_) => ExitCode::Invalid,
            // All mean "try again later": the relay was not reached, timed
            // out or was busy, or the new workspace key is on its way.
            E::Network(_) | E::AwaitingKey { .. } => ExitCode::Network,
            E::Relay { .. } if e.is_relay_unavailable() => ExitCode::Network,
            // A 403 other than `revoked` (e.g. a member on an admin route)
            // is a refusal; only `Revoked` means the vault was wiped.
            E::Revoked => ExitCode::Revoked,
            E::Relay { .. } => ExitCode::Refused,
            E::Storage(_) => ExitCode::Storage,
            E::Corrupted(_) => ExitCode::Corrupted,
            E::Io(_) => ExitCode::Io,
            _ => ExitCode::Internal,
        };
        Self::new(code, e.to_string())
    }
}

impl From<csv::Error> for CliError {
    fn from(e: csv::Error) -> Self {
        // csv errors name positions and the I/O cause, never cell contents.
        let code = if e.is_io_error() {
            ExitCode::Io
        } else {
            ExitCode::Invalid
        };
        Self::new(code, format!("CSV: {e}"))
    }
}

pub type CliResult<T> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;
    use fieldvault::Error as E;

    fn relay(status: u16, code: &str) -> E {
        E::Relay {
            status,
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn errors_map_to_the_documented_exit_codes() {
        let cases = [
            (relay(503, "busy"), ExitCode::Network),
            (relay(500, "internal"), ExitCode::Network),
            (relay(408, "timeout"), ExitCode::Network),
            (relay(429, "rate_limited"), ExitCode::Network),
            (relay(403, "forbidden"), ExitCode::Refused),
            (relay(409, "conflict"), ExitCode::Refused),
            (E::Revoked, ExitCode::Revoked),
            (E::Storage("disk I/O error".into()), ExitCode::Storage),
            (E::Internal("invariant".into()), ExitCode::Internal),
        ];
        for (error, code) in cases {
            let text = error.to_string();
            assert_eq!(CliError::from(error).code, code, "{text}");
        }
    }

    #[test]
    fn the_help_lists_every_exit_code() {
        for code in 0..=ExitCode::Storage as u8 {
            assert!(
                EXIT_CODES_HELP.contains(&format!("\n{code:>4}  ")),
                "exit code {code} missing from the help"
            );
        }
    }
}
