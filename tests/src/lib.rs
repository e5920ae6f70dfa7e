//! Test harness: real relay processes on 127.0.0.1 and devices (vaults with
//! sync engines) that talk to them. Every wait is bounded.
pub mod intercept;
pub mod latency;
pub mod proxy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldvault::sync::client::ClientConfig;
use fieldvault::sync::engine::SyncEngine;
use fieldvault::sync::enrollment;
use fieldvault::sync::identity::DeviceIdentity;
use fieldvault::sync::pairing::{DevicePairing, QrPayload};
use fieldvault::sync::wire;
use fieldvault::{Argon2Params, PassphraseKeyProvider, Vault, VaultOptions};

pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";

/// The relay binary, built on demand (it belongs to another package).
pub fn relay_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let target_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf();
    let bin = target_dir.join("fieldvault-relay");
    // Tests run after `cargo build --workspace --all-targets` (scripts/test),
    // which builds the relay with the workspace's features: build only when
    // it is missing. Benches (release) build once per process even when a
    // binary exists, since a stale relay would silently measure old code.
    let release = target_dir.file_name().is_some_and(|n| n == "release");
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if !release && bin.exists() {
        return bin;
    }
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut args = vec![
            "build",
            "-p",
            "fieldvault-relay",
            "--bin",
            "fieldvault-relay",
        ];
        if release {
            args.push("--release");
        }
        let status = Command::new(cargo)
            .args(&args)
            .status()
            .expect("cargo build relay");
        assert!(status.success(), "building the relay failed");
    });
    bin
}

/// The shared test corpus (`../shared/corpus` beside the repository).
pub fn corpus() -> PathBuf {
    if let Ok(dir) = std::env::var("FIELDVAULT_CORPUS") {
        return PathBuf::from(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    assert!(
        dir.join("MANIFEST.md").is_file(),
        "the shared corpus is missing at {} (set FIELDVAULT_CORPUS)",
        dir.display()
    );
    dir
}

/// The test PostgreSQL server's URL (`scripts/test` starts one with
/// `scripts/postgres-up`); fails, never skips, without it.
pub fn postgres_url() -> String {
    match std::env::var("FIELDVAULT_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "FIELDVAULT_TEST_POSTGRES is not set: run scripts/test, or start PostgreSQL with \
             scripts/postgres-up and export the URL it prints"
        ),
    }
}

/// The 18 medium photos (1800×1200, each EXIF orientation) of the corpus's
/// `photos/orientation/recurser`.
pub fn recurser_photos() -> Vec<Vec<u8>> {
    let dir = corpus().join("photos/orientation/recurser");
    (0..9)
        .flat_map(|i| [format!("Landscape_{i}.jpg"), format!("Portrait_{i}.jpg")])
        .map(|name| std::fs::read(dir.join(name)).expect("corpus photo"))
        .collect()
}

/// Vault options that keep every document (no purge after acknowledgement),
/// so all devices should end up holding the same set.
pub fn keep_all(name: &str) -> VaultOptions {
    let mut options = VaultOptions::new(format!("staff-{name}"));
    options.retention = fieldvault::RetentionRules(Default::default());
    options
}

/// A `count`-th sample document of one of the three kinds in turn (a bear
/// sighting first).
pub fn insert_sample(vault: &Vault, i: usize) -> fieldvault::model::DocumentId {
    use fieldvault::model::{DamageReport, TaxAssist};
    use fieldvault::sample_data as s;
    match i % 3 {
        0 => insert_bear(vault),
        1 => vault
            .insert(s::damage_report(
                vault.new_envelope::<DamageReport>(s::MUNICIPALITY),
            ))
            .expect("insert sample damage report"),
        _ => vault
            .insert(s::tax_assist(
                vault.new_envelope::<TaxAssist>(s::MUNICIPALITY),
            ))
            .expect("insert sample tax form"),
    }
}

/// The sample bear sighting.
pub fn insert_bear(vault: &Vault) -> fieldvault::model::DocumentId {
    use fieldvault::model::BearSighting;
    use fieldvault::sample_data as s;
    vault
        .insert(s::bear_sighting(
            vault.new_envelope::<BearSighting>(s::MUNICIPALITY),
        ))
        .expect("insert sample bear sighting")
}

/// Where a relay keeps its data.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

/// A relay process; killed on drop.
pub struct RelayProcess {
    child: Child,
    pub url: String,
    pub backend: Backend,
    pub log: PathBuf,
}

impl RelayProcess {
    pub fn start(backend: Backend, log_dir: &Path) -> Self {
        Self::start_on(backend, log_dir, "127.0.0.1:0")
    }

    /// A relay on SQLite with its data in `root/relay` and logs in `root/logs`.
    pub fn sqlite(root: &Path) -> Self {
        Self::start(Backend::Sqlite(root.join("relay")), &root.join("logs"))
    }

    /// The relay's listening address (for a proxy in front of it).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url
            .trim_start_matches("http://")
            .parse()
            .expect("relay address")
    }

    pub fn start_on(backend: Backend, log_dir: &Path, listen: &str) -> Self {
        std::fs::create_dir_all(log_dir).expect("log dir");
        let log = log_dir.join(format!("relay-{}.log", rand::random::<u32>()));
        let mut cmd = Command::new(relay_binary());
        cmd.arg("serve")
            .args(["--listen", listen])
            .env("FIELDVAULT_OPERATOR_TOKEN", OPERATOR_TOKEN);
        match &backend {
            Backend::Sqlite(dir) => cmd.arg("--data").arg(dir),
            Backend::Postgres(url) => cmd.args(["--postgres", url]),
        };
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn relay");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "relay did not start; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        Self {
            child,
            url,
            backend,
            log,
        }
    }

    /// The relay's process id (for memory measurements).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One staff device: a vault on disk and (once enrolled) a sync engine.
pub struct Device {
    pub name: String,
    pub dir: PathBuf,
    pub vault: Arc<Vault>,
    pub engine: Option<Arc<SyncEngine>>,
    pub config: ClientConfig,
}

pub fn provider() -> PassphraseKeyProvider {
    PassphraseKeyProvider::with_params("device passphrase", Argon2Params::insecure_for_tests())
}

impl Device {
    pub fn new(root: &Path, name: &str, relay_url: &str) -> Self {
        Self::with_options(
            root,
            name,
            relay_url,
            VaultOptions::new(format!("staff-{name}")),
        )
    }

    /// A device whose vault uses `options` (for example a manual clock).
    pub fn with_options(root: &Path, name: &str, relay_url: &str, options: VaultOptions) -> Self {
        let dir = root.join(name);
        let vault = Arc::new(Vault::create(&dir, &provider(), options).expect("vault"));
        Self {
            name: name.into(),
            dir,
            vault,
            engine: None,
            config: ClientConfig::new(relay_url),
        }
    }

    /// Points the device at another relay URL (for multi-relay tests).
    pub fn use_relay(&mut self, url: &str) {
        self.config = ClientConfig::new(url);
        if self.engine.is_some() {
            self.engine =
                Some(SyncEngine::new(self.vault.clone(), self.config.clone()).expect("engine"));
        }
    }

    pub fn engine(&self) -> &Arc<SyncEngine> {
        self.engine.as_ref().expect("device is enrolled")
    }

    pub async fn sync(&self) -> fieldvault::sync::engine::SyncReport {
        self.engine()
            .sync_once()
            .await
            .unwrap_or_else(|e| panic!("{} failed to sync: {e}", self.name))
    }
}

/// An admin device that creates a workspace, and members paired with it.
pub async fn workspace(root: &Path, relay_url: &str, members: &[&str]) -> (Device, Vec<Device>) {
    let admin = found_workspace(Device::new(root, "admin", relay_url)).await;
    let mut out = Vec::new();
    for name in members {
        out.push(pair(&admin, root, name).await);
    }
    (admin, out)
}

/// Makes `admin` (a device not yet enrolled, with whatever vault options the
/// test needs) create a workspace (72-hour lease) and gives it a sync engine.
pub async fn found_workspace(mut admin: Device) -> Device {
    enrollment::create_workspace(&admin.vault, &admin.config, OPERATOR_TOKEN, 72)
        .await
        .expect("create workspace");
    admin.engine =
        Some(SyncEngine::new(admin.vault.clone(), admin.config.clone()).expect("engine"));
    admin
}

/// Pairs a new device with the admin, both running concurrently as at the office.
pub async fn pair(admin: &Device, root: &Path, name: &str) -> Device {
    let device = Device::new(root, name, &admin.config.relay_url);
    pair_device(admin, device).await
}

/// Pairs an already created (not yet enrolled) device with the admin.
pub async fn pair_device(admin: &Device, mut device: Device) -> Device {
    let name = device.name.clone();
    let name = name.as_str();
    let (pairing, qr) =
        enrollment::start_pairing(&admin.vault, &admin.config, Duration::from_secs(600))
            .await
            .expect("start pairing");
    let qr_text = qr.encode();
    let joining = enrollment::join_workspace(
        &device.vault,
        &qr_text,
        name,
        Duration::from_secs(30),
        device.config.root_certificate_pem.clone(),
    );
    let completing = enrollment::complete_pairing(
        &admin.vault,
        &admin.config,
        pairing,
        Duration::from_secs(30),
    );
    let (joined, completed) = tokio::join!(joining, completing);
    joined.expect("join");
    assert_eq!(completed.expect("complete"), device.vault.device_id());
    device.engine =
        Some(SyncEngine::new(device.vault.clone(), device.config.clone()).expect("engine"));
    device
}

/// Waits (bounded) until `f` holds.
pub async fn eventually(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An enrollment request with `qr`'s code for `device_id`, signed with
/// `identity` (the device's own, or an impostor's): what a device whose
/// pairing broke off, or someone holding a code, can send by hand.
pub fn enrollment_request(
    qr: &QrPayload,
    identity: &DeviceIdentity,
    device_id: &str,
) -> wire::Enroll {
    DevicePairing::new(qr.clone())
        .expect("pairing")
        .enroll_request(identity, device_id, "by hand", "test")
        .expect("request")
}

/// `POST .../enroll` of `body` to `qr`'s relay; returns the HTTP status.
pub async fn post_enrollment(qr: &QrPayload, body: &wire::Enroll) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/v1/workspaces/{}/enroll", qr.relay, qr.ws))
        .json(body)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}
