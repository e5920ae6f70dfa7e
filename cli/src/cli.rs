//! Command-line definitions (clap derive). Help texts teach by example.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::EXIT_CODES_HELP;

const ABOUT: &str = "FieldVault office tool: a sealed desktop vault, prefecture exports, device administration and the field-day demo";

const LONG_ABOUT: &str = "\
FieldVault office tool.

The desktop vault is the same sealed store the phones carry (AES-256-GCM in
SQLite, unlocked with an Argon2id passphrase). Office staff sync it with the
relay, read what the field recorded, and export it in the forms the prefecture
and national agencies ask for. The admin's desktop also enrolls and revokes
devices. Everything is decrypted only in this process: the relay never can.

The passphrase comes from the FIELDVAULT_PASSPHRASE environment variable or,
when that is unset, from a prompt that does not echo. It is never printed or
logged.";

const AFTER_HELP: &str = "\
Start here:
  fieldvault demo                                   # the whole system in under a minute

A desktop vault, step by step:
  export FIELDVAULT_VAULT=~/fieldvault              # or pass --vault DIR every time
  export FIELDVAULT_STAFF=office-001                # author of this desktop's edits (or --staff)
  fieldvault init                                   # asks for a new passphrase
  fieldvault import ../shared/corpus/domain/bear/sapporo_higuma_2025.csv
  fieldvault list --kind bear_sighting
  fieldvault export all --out exports/

The admin desktop and a phone or second desktop:
  FIELDVAULT_OPERATOR_TOKEN=... fieldvault workspace create --relay https://relay.example.jp
  fieldvault device pair --qr-out qr.txt            # draws the enrollment QR code, waits
  fieldvault --vault other/ enroll --qr-file qr.txt # on the new device
  fieldvault sync
  fieldvault device list
  fieldvault device revoke DEVICE_ID                # also rotates the workspace key

Add --json to any command for machine-readable output on stdout.";

#[derive(Debug, Parser)]
#[command(
    name = "fieldvault",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES_HELP,
    after_long_help = format!("{AFTER_HELP}\n\n{EXIT_CODES_HELP}"),
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Vault directory (holds vault.db).
    #[arg(long, global = true, env = "FIELDVAULT_VAULT", value_name = "DIR")]
    pub vault: Option<PathBuf>,

    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Staff id recorded as the author of the edits and audit entries this
    /// command makes (default: office). Not stored in the vault: give it
    /// with every command, or set FIELDVAULT_STAFF once.
    #[arg(long, global = true, env = "FIELDVAULT_STAFF", value_name = "ID")]
    pub staff: Option<String>,
}

impl Global {
    /// The staff id of this command's edits.
    pub fn staff_id(&self) -> &str {
        self.staff
            .as_deref()
            .unwrap_or(crate::vault_access::DESKTOP_STAFF)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new desktop vault (asks for a new passphrase).
    #[command(after_help = "Example:\n  fieldvault --vault ~/fieldvault init --staff office-001")]
    Init(InitArgs),

    /// Join a workspace with the QR text shown by the admin's `device pair`.
    #[command(
        after_help = "Examples:\n  fieldvault enroll --qr-file qr.txt --name \"総務課 PC-3\"\n  fieldvault enroll --qr 'eyJ2IjoxLC...'"
    )]
    Enroll(EnrollArgs),

    /// Send local changes to the relay and receive everyone else's.
    #[command(after_help = "Example:\n  fieldvault sync --json")]
    Sync,

    /// List documents (decrypted in memory), newest first.
    #[command(
        after_help = "Examples:\n  fieldvault list\n  fieldvault list --kind damage_report --status draft --json"
    )]
    List(ListArgs),

    /// Show one document in full.
    #[command(after_help = "Example:\n  fieldvault show 01927c3e-0b6e-7c7a-9d0e-3f1b2a4c5d6e")]
    Show(IdArgs),

    /// Who changed which fields of a document, on which device, when.
    #[command(after_help = "Example:\n  fieldvault history 01927c3e-0b6e-7c7a-9d0e-3f1b2a4c5d6e")]
    History(IdArgs),

    /// Export documents for the prefecture, GBIF or the FDMA (see docs/exports.md).
    #[command(after_help = "\
Formats:
  bear-geojson     bear sightings as a GeoJSON FeatureCollection ([lon, lat])
  darwin-core      bear sightings as a Darwin Core occurrence CSV (GBIF terms)
  prefecture-csv   bear sightings in the prefecture's open-data columns (出没情報ID, 情報種別, ...)
  fdma-form4       damage reports as the 第4号様式 summary (one row per figure, 未確認 marks)
  damage-geojson   surveyed damage sites as a GeoJSON FeatureCollection
  all              every format above into the directory given by --out

Examples:
  fieldvault export darwin-core --out occurrences.csv
  fieldvault export bear-geojson > bears.geojson
  fieldvault export all --out exports/ --json

Every export is recorded in the vault's audit log.")]
    Export(ExportArgs),

    /// This desktop's audit log (exports, edits, opens of sensitive forms), verified.
    #[command(after_help = "\
Each entry names the action, the document and a short detail (an export
format), never a field value. The chain of hashes is verified; a broken chain
exits with code 11.

Examples:
  fieldvault audit
  fieldvault audit --json")]
    Audit,

    /// Import a municipal bear-sighting CSV (Sapporo open-data layout).
    #[command(after_help = "\
The CSV has the columns 日付,時刻,区,出没場所,緯度,経度,状況 (UTF-8, BOM allowed,
quoted multi-line cells allowed). Rows that cannot be read are reported with
their line number and reason; the rest are imported.

Examples:
  fieldvault import ../shared/corpus/domain/bear/sapporo_higuma_2025.csv
  fieldvault import sightings.csv --dry-run --json
  fieldvault import sightings.csv --strict        # exit 13 if any row is rejected")]
    Import(ImportArgs),

    /// Workspace administration (admin desktop).
    #[command(subcommand)]
    Workspace(WorkspaceCommand),

    /// Device administration: pair, list, revoke (admin desktop).
    #[command(subcommand)]
    Device(DeviceCommand),

    /// Workspace key administration (admin desktop).
    #[command(subcommand)]
    Key(KeyCommand),

    /// Run the field-day demo: relay, admin, three phones, offline work, merge,
    /// purge, revocation and wipe, exports, and a plaintext scan.
    #[command(after_help = "\
Example:
  cargo run --release -p fieldvault-cli -- demo
  fieldvault demo --out /tmp/field-day      # keep every file for inspection

The demo uses its own temporary vaults and relay; --vault is ignored. The
photo comes from the shared corpus ($FIELDVAULT_CORPUS or ../shared/corpus);
without it a generated picture is used.")]
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// TESTS ONLY: cheap Argon2 parameters (8 MiB, 1 pass). Never for real data.
    #[arg(long, hide = true)]
    pub insecure_test_kdf: bool,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The QR text (base64url) shown by the admin.
    #[arg(long, conflicts_with = "qr_file", required_unless_present = "qr_file")]
    pub qr: Option<String>,

    /// A file holding the QR text.
    #[arg(long, value_name = "FILE")]
    pub qr_file: Option<PathBuf>,

    /// Name of this device as the admin will see it.
    #[arg(long, default_value = "desktop")]
    pub name: String,

    /// Seconds to wait for the admin to deliver the workspace keys.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,

    /// PEM file of a root certificate to trust for the relay besides the
    /// system's (a town's private CA); recorded with the enrollment.
    #[arg(long, value_name = "FILE")]
    pub root_certificate: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum KindArg {
    TaxAssist,
    BearSighting,
    DamageReport,
    AuditLog,
}

impl From<KindArg> for fieldvault::model::DocumentKind {
    fn from(k: KindArg) -> Self {
        use fieldvault::model::DocumentKind as K;
        match k {
            KindArg::TaxAssist => K::TaxAssist,
            KindArg::BearSighting => K::BearSighting,
            KindArg::DamageReport => K::DamageReport,
            KindArg::AuditLog => K::AuditLog,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum StatusArg {
    Draft,
    Ready,
    Submitted,
    Acknowledged,
    Amended,
}

impl From<StatusArg> for fieldvault::model::Status {
    fn from(s: StatusArg) -> Self {
        use fieldvault::model::Status as S;
        match s {
            StatusArg::Draft => S::Draft,
            StatusArg::Ready => S::Ready,
            StatusArg::Submitted => S::Submitted,
            StatusArg::Acknowledged => S::Acknowledged,
            StatusArg::Amended => S::Amended,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only documents of this kind.
    #[arg(long)]
    pub kind: Option<KindArg>,
    /// Only documents in this status.
    #[arg(long)]
    pub status: Option<StatusArg>,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// Document id (UUID).
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    BearGeojson,
    DarwinCore,
    PrefectureCsv,
    FdmaForm4,
    DamageGeojson,
    All,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    pub format: ExportFormat,
    /// Output file (a directory for `all`); stdout when omitted.
    #[arg(long, short, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// Check every row but store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Exit with code 13 when any row is rejected (the valid rows are still imported unless --dry-run).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace on the relay with this vault as its admin device.
    #[command(after_help = "\
The relay's operator token comes from FIELDVAULT_OPERATOR_TOKEN or a prompt.

Example:
  FIELDVAULT_OPERATOR_TOKEN=... fieldvault workspace create --relay http://127.0.0.1:8080")]
    Create(WorkspaceCreateArgs),

    /// Replace the root certificate trusted for the relay (a town's renewed
    /// private CA), keeping the enrolment.
    #[command(after_help = "\
The file is checked before anything changes; the next sync uses it.

Examples:
  fieldvault workspace root-certificate --file town-ca-2027.pem
  fieldvault workspace root-certificate --none      # the system's roots only")]
    RootCertificate(RootCertificateArgs),
}

#[derive(Debug, Args)]
pub struct RootCertificateArgs {
    /// PEM file of the root certificate(s) to trust besides the system's.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "none",
        required_unless_present = "none"
    )]
    pub file: Option<PathBuf>,

    /// Trust only the system's root certificates from now on.
    #[arg(long)]
    pub none: bool,
}

#[derive(Debug, Args)]
pub struct WorkspaceCreateArgs {
    /// Relay URL, e.g. https://relay.town.example.jp
    #[arg(long)]
    pub relay: String,
    /// Offline lease of member devices, hours.
    #[arg(long, default_value_t = 72)]
    pub lease_hours: u32,

    /// PEM file of a root certificate to trust for the relay besides the
    /// system's (a town's private CA); recorded with the enrollment.
    #[arg(long, value_name = "FILE")]
    pub root_certificate: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Enroll a new device: prints the QR text, waits for the device to join, delivers its keys.
    #[command(after_help = "\
The QR text holds a single-use enrollment secret: show it only to the device
being enrolled. It is printed on stdout (and written to --qr-out if given);
the command then waits until that device has run `fieldvault enroll`.

Example:
  fieldvault device pair --qr-out /media/usb/qr.txt --timeout 300")]
    Pair(PairArgs),

    /// List the workspace's devices as the relay knows them.
    #[command(after_help = "Example:\n  fieldvault device list --json")]
    List,

    /// Revoke a device: the relay refuses it, it wipes itself on its next
    /// contact, and the workspace key is rotated.
    #[command(after_help = "Example:\n  fieldvault device revoke 5b0c...-...  --wait-wipe 60")]
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct PairArgs {
    /// Also write the QR text to this file.
    #[arg(long, value_name = "FILE")]
    pub qr_out: Option<PathBuf>,
    /// Seconds to wait for the device to enroll.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The device id (see `device list`).
    pub device_id: String,
    /// Wait up to this many seconds for the device's signed wipe receipt.
    #[arg(long, value_name = "SECS")]
    pub wait_wipe: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Start a new workspace key epoch, wrapped only for the devices that remain.
    #[command(after_help = "Example:\n  fieldvault key rotate")]
    Rotate,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep every file (vaults, relay database, exports) in this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
