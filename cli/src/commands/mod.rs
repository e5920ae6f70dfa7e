//! Command dispatch.
pub(crate) mod admin;
mod data;
mod docs;

use crate::cli::{Cli, Command, DeviceCommand, KeyCommand, WorkspaceCommand};
use crate::error::CliResult;

pub fn run(cli: Cli) -> CliResult<()> {
    let g = &cli.global;
    match cli.command {
        Command::Init(args) => docs::init(g, &args),
        Command::List(args) => docs::list(g, &args),
        Command::Show(args) => docs::show(g, &args.id),
        Command::History(args) => docs::history(g, &args.id),
        Command::Export(args) => data::export(g, &args),
        Command::Import(args) => data::import(g, &args),
        Command::Audit => docs::audit(g),
        Command::Enroll(args) => admin::enroll(g, &args),
        Command::Sync => admin::sync(g),
        Command::Workspace(WorkspaceCommand::Create(args)) => admin::workspace_create(g, &args),
        Command::Workspace(WorkspaceCommand::RootCertificate(args)) => {
            admin::workspace_root_certificate(g, &args)
        }
        Command::Device(DeviceCommand::Pair(args)) => admin::device_pair(g, &args),
        Command::Device(DeviceCommand::List) => admin::device_list(g),
        Command::Device(DeviceCommand::Revoke(args)) => admin::device_revoke(g, &args),
        Command::Key(KeyCommand::Rotate) => admin::key_rotate(g),
        Command::Demo(args) => crate::demo::run(g.json, &args),
    }
}

/// Parses a document id given on the command line.
pub(crate) fn doc_id(text: &str) -> CliResult<fieldvault::model::DocumentId> {
    fieldvault::model::DocumentId::parse(text).map_err(|_| {
        crate::error::CliError::invalid("the document id is not a UUID (see `fieldvault list`)")
    })
}
