//! `fieldvault`: the office tool of FieldVault.
//!
//! A desktop vault (Argon2id passphrase) on the same core as the phones:
//! enroll, sync, read documents, export them in the formats the prefecture
//! and national agencies ask for, import municipal CSVs, administer devices,
//! and run the field-day demo. See `fieldvault --help`.
mod audit;
mod cli;
mod commands;
mod demo;
mod error;
mod export;
mod import;
mod output;
mod vault_access;

use clap::Parser;

use crate::cli::Cli;
use crate::error::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" to clap but succeed.
            let code = if e.use_stderr() {
                ExitCode::Usage
            } else {
                ExitCode::Ok
            };
            let _ = e.print();
            return std::process::ExitCode::from(code as u8);
        }
    };
    let json = cli.global.json;
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            output::print_error(json, &e);
            std::process::ExitCode::from(e.code as u8)
        }
    }
}
