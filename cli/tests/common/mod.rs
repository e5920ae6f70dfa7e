//! Helpers for running the built `fieldvault` binary in tests.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use fieldvault::model::{BearSighting, DamageReport, DocumentId, TaxAssist};
use fieldvault::{sample_data as s, Argon2Params, PassphraseKeyProvider, Vault, VaultOptions};

pub const PASSPHRASE: &str = "test passphrase 0123";
pub const OPERATOR_TOKEN: &str = "cli-test-operator-token-0123456789";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fieldvault")
}

/// The shared corpus (`../shared/corpus` beside the repository, or $FIELDVAULT_CORPUS).
pub fn corpus() -> PathBuf {
    if let Ok(dir) = std::env::var("FIELDVAULT_CORPUS") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}

pub fn sapporo_csv() -> PathBuf {
    corpus().join("domain/bear/sapporo_higuma_2025.csv")
}

/// A command for the binary on `vault`, with the passphrase in the environment
/// and no terminal (stdin closed), so nothing can prompt.
pub fn cmd(vault: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FIELDVAULT_VAULT", vault)
        .env("FIELDVAULT_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::null());
    c
}

pub fn run(vault: &Path, args: &[&str]) -> Output {
    cmd(vault).args(args).output().expect("run fieldvault")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs with `--json`, asserts the exit code and parses stdout.
pub fn json(vault: &Path, args: &[&str], expect: i32) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let o = run(vault, &all);
    assert_eq!(
        code(&o),
        expect,
        "fieldvault {args:?}: stdout {} stderr {}",
        stdout(&o),
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout of {args:?} is not JSON ({e}): {}", stdout(&o)))
}

/// `fieldvault init` with test-only Argon2 parameters.
pub fn init(vault: &Path) -> serde_json::Value {
    json(
        vault,
        &["init", "--insecure-test-kdf", "--staff", "office-test"],
        0,
    )
}

pub fn provider() -> PassphraseKeyProvider {
    PassphraseKeyProvider::with_params(PASSPHRASE, Argon2Params::insecure_for_tests())
}

pub struct Seeded {
    pub bear: DocumentId,
    pub damage: DocumentId,
    pub tax: DocumentId,
}

/// Makes a vault with the library (as a phone would) holding one document of
/// each kind, edited once, so the CLI can read it.
pub fn seeded_vault(dir: &Path) -> Seeded {
    let vault = Vault::create(dir, &provider(), VaultOptions::new("staff-0012")).expect("vault");
    let bear = vault
        .insert(s::bear_sighting(
            vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("bear");
    vault
        .update::<BearSighting, _>(&bear, |b| b.behaviour = "沢へ移動".into())
        .expect("edit");
    let damage = vault
        .insert(s::damage_report(
            vault.new_envelope::<DamageReport>(s::MUNICIPALITY),
        ))
        .expect("damage");
    let tax = vault
        .insert(s::tax_assist(
            vault.new_envelope::<TaxAssist>(s::MUNICIPALITY),
        ))
        .expect("tax");
    Seeded { bear, damage, tax }
}

/// A relay embedded in the test process on 127.0.0.1 (its own runtime).
pub struct Relay {
    pub url: String,
    pub dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
    relay: Option<fieldvault_relay::RunningRelay>,
}

impl Relay {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("relay dir");
        let relay = runtime
            .block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(30),
                    fieldvault_relay::start(fieldvault_relay::RelayConfig::new(
                        "127.0.0.1:0".parse().expect("addr"),
                        fieldvault_relay::Backend::Sqlite(dir.path().to_path_buf()),
                        OPERATOR_TOKEN,
                    )),
                )
                .await
            })
            .expect("relay started in time")
            .expect("relay");
        Self {
            url: format!("http://{}", relay.local_addr()),
            dir,
            runtime: Some(runtime),
            relay: Some(relay),
        }
    }

    pub fn stop(&mut self) {
        if let (Some(rt), Some(relay)) = (self.runtime.as_ref(), self.relay.take()) {
            let _ = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), relay.shutdown()).await
            });
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}
