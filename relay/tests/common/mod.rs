//! Test harness: real relay processes (SQLite or PostgreSQL), a fresh database
//! per test, and a small signing device client (ring Ed25519, blocking reqwest).
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fieldvault::sync::wire::{self, b64, chunk_batch, DeviceKeys};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub const OPERATOR_TOKEN: &str = "test-operator-token-7f3a9c2e51d84b06";
pub const POSTGRES_ENV: &str = "FIELDVAULT_TEST_POSTGRES";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Runs a behavioural test against both backends: `mod name { sqlite, postgres }`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name($crate::common::Kind::Sqlite)
                }
                #[test]
                fn postgres() {
                    super::$name($crate::common::Kind::Postgres)
                }
            }
        )*
    };
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut out);
    out
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

// ---------------------------------------------------------------- PostgreSQL

/// The base URL of the test cluster; fails (never skips) without it.
pub fn postgres_base_url() -> String {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "{POSTGRES_ENV} is not set: start PostgreSQL with `scripts/postgres-up` and export \
             {POSTGRES_ENV}=<the URL it prints> (scripts/test does this)"
        ),
    }
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let prefix = match base[scheme_end..].rfind('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{prefix}/{db}?{q}"),
        None => format!("{prefix}/{db}"),
    }
}

pub fn pg_execute(url: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to PostgreSQL");
        let task = tokio::spawn(conn);
        client
            .batch_execute(sql)
            .await
            .expect("PostgreSQL statement");
        drop(client);
        let _ = task.await;
    });
}

/// Runs a query returning one bytea/int column per row (test inspection).
pub fn pg_query_bytes(url: &str, sql: &str) -> Vec<Vec<u8>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to PostgreSQL");
        let task = tokio::spawn(conn);
        let rows = client.query(sql, &[]).await.expect("PostgreSQL query");
        drop(client);
        let _ = task.await;
        rows.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect()
    })
}

/// A database of its own for one test, dropped at the end.
pub struct PgDatabase {
    base_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create() -> Self {
        let base_url = postgres_base_url();
        let name = format!("fv_{}", wire::hex(&random::<8>()));
        pg_execute(&base_url, &format!("CREATE DATABASE {name}"));
        let url = with_database(&base_url, &name);
        Self {
            base_url,
            name,
            url,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let base = self.base_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Never panic in drop (a failing test is already unwinding).
        let _ = std::panic::catch_unwind(|| pg_execute(&base, &sql));
    }
}

// ---------------------------------------------------------------- relays

/// Where the relays of one test keep their state.
pub struct Storage {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    pub pg: Option<PgDatabase>,
}

impl Storage {
    pub fn new(kind: Kind) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let pg = match kind {
            Kind::Sqlite => None,
            Kind::Postgres => Some(PgDatabase::create()),
        };
        Self { kind, dir, pg }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts one more relay process on this storage.
    pub fn start_relay(&self) -> Relay {
        let n = std::fs::read_dir(self.dir.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let log = self.dir.path().join(format!("relay-{n}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldvault-relay"));
        cmd.arg("serve");
        match &self.pg {
            None => cmd.arg("--data").arg(self.data_dir()),
            // The URL (with any password) from a file, as an operator
            // would pass it; the integration tests use --postgres.
            Some(pg) => {
                let file = self.dir.path().join(format!("postgres-url-{n}"));
                std::fs::write(&file, &pg.url).expect("url file");
                cmd.arg("--postgres-url-file").arg(file)
            }
        };
        cmd.args(["--listen", "127.0.0.1:0"]);
        Relay::spawn(cmd, log)
    }
}

/// A relay process, killed when dropped.
pub struct Relay {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Relay {
    pub fn spawn(mut cmd: Command, log: PathBuf) -> Self {
        let stderr = File::create(&log).expect("log file");
        let mut child = cmd
            .env("FIELDVAULT_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("FIELDVAULT_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn the relay");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the relay never blocks on stdout.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the relay did not report its address; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        assert!(addr.starts_with("http://127.0.0.1:"), "{addr}");
        Self {
            child,
            url: addr.to_owned(),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process (SIGKILL) and waits for it.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn health(&self) -> u16 {
        http()
            .get(format!("{}/healthz", self.url))
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- relay log ({}) ---\n{}", self.url, self.log_text());
        }
    }
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .http1_only()
        .build()
        .expect("http client")
}

// ---------------------------------------------------------------- responses

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body {:?}: {e}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn error(&self) -> wire::ErrorBody {
        self.json()
    }

    /// Asserts the status and, for errors, the `error` code.
    #[track_caller]
    pub fn expect(&self, status: u16, code: Option<&str>) -> &Self {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        if let Some(code) = code {
            assert_eq!(
                self.error().error,
                code,
                "body: {}",
                String::from_utf8_lossy(&self.body)
            );
        }
        self
    }
}

fn send(req: reqwest::blocking::RequestBuilder) -> Resp {
    let resp = req.send().expect("HTTP request");
    let status = resp.status().as_u16();
    let body = resp.bytes().expect("response body").to_vec();
    Resp { status, body }
}

// ---------------------------------------------------------------- devices

/// One device: Ed25519 signing key, random "agreement" key (the relay never
/// uses it), and the relay it talks to.
pub struct Device {
    pub id: String,
    pkcs8: Vec<u8>,
    key: Ed25519KeyPair,
    pub agreement_public: Vec<u8>,
    pub ws: String,
    pub base: String,
    http: reqwest::blocking::Client,
}

/// A signed request, kept so a test can resend (replay) it.
#[derive(Clone)]
pub struct Signed {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Knobs for building bad requests.
#[derive(Default, Clone)]
pub struct SignOpts {
    pub timestamp_ms: Option<i64>,
    pub nonce: Option<String>,
    pub corrupt_signature: bool,
    /// Sign with another key (impersonation).
    pub other_key: Option<Vec<u8>>,
    /// Signs these bytes but sends `body` (tampering).
    pub signed_body: Option<Vec<u8>>,
}

pub fn new_pkcs8() -> Vec<u8> {
    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .expect("keypair")
        .as_ref()
        .to_vec()
}

impl Device {
    pub fn new(base: &str, ws: &str) -> Self {
        Self::with_key(base, ws, new_pkcs8())
    }

    pub fn with_key(base: &str, ws: &str, pkcs8: Vec<u8>) -> Self {
        Self::from_parts(
            uuid::Uuid::new_v4().to_string(),
            pkcs8,
            random::<32>().to_vec(),
            ws,
            base,
        )
    }

    fn from_parts(
        id: String,
        pkcs8: Vec<u8>,
        agreement_public: Vec<u8>,
        ws: &str,
        base: &str,
    ) -> Self {
        let key = Ed25519KeyPair::from_pkcs8(&pkcs8).expect("pkcs8");
        Self {
            id,
            pkcs8,
            key,
            agreement_public,
            ws: ws.into(),
            base: base.into(),
            http: http(),
        }
    }

    /// The same device talking to another relay process.
    pub fn via(&self, base: &str) -> Self {
        Self::from_parts(
            self.id.clone(),
            self.pkcs8.clone(),
            self.agreement_public.clone(),
            &self.ws,
            base,
        )
    }

    pub fn keys(&self) -> DeviceKeys {
        DeviceKeys {
            device_id: self.id.clone(),
            signing_public: self.key.public_key().as_ref().to_vec(),
            agreement_public: self.agreement_public.clone(),
        }
    }

    pub fn ws_path(&self, rest: &str) -> String {
        format!("/v1/workspaces/{}{rest}", self.ws)
    }

    pub fn sign(&self, method: &str, path: &str, body: Vec<u8>, opts: &SignOpts) -> Signed {
        let timestamp = opts.timestamp_ms.unwrap_or_else(now_ms);
        let nonce = opts
            .nonce
            .clone()
            .unwrap_or_else(|| b64::encode(&random::<16>()));
        let signed_body = opts.signed_body.clone().unwrap_or_else(|| body.clone());
        let message = wire::signing_bytes(
            method,
            path,
            &self.ws,
            &self.id,
            timestamp,
            &nonce,
            &wire::body_sha256(&signed_body),
        );
        let mut signature = match &opts.other_key {
            Some(pkcs8) => Ed25519KeyPair::from_pkcs8(pkcs8)
                .expect("pkcs8")
                .sign(&message)
                .as_ref()
                .to_vec(),
            None => self.key.sign(&message).as_ref().to_vec(),
        };
        if opts.corrupt_signature {
            signature[10] ^= 0x01;
        }
        Signed {
            method: method.into(),
            path: path.into(),
            headers: vec![
                (wire::HEADER_DEVICE.into(), self.id.clone()),
                (wire::HEADER_TIMESTAMP.into(), timestamp.to_string()),
                (wire::HEADER_NONCE.into(), nonce),
                (wire::HEADER_SIGNATURE.into(), b64::encode(&signature)),
            ],
            body,
        }
    }

    pub fn send(&self, req: &Signed) -> Resp {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("method");
        let mut builder = self
            .http
            .request(method, format!("{}{}", self.base, req.path))
            .body(req.body.clone());
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        send(builder)
    }

    pub fn request(&self, method: &str, rest: &str, body: Vec<u8>) -> Resp {
        self.send(&self.sign(method, &self.ws_path(rest), body, &SignOpts::default()))
    }

    pub fn request_with(&self, method: &str, rest: &str, body: Vec<u8>, opts: &SignOpts) -> Resp {
        self.send(&self.sign(method, &self.ws_path(rest), body, opts))
    }

    pub fn get(&self, rest: &str) -> Resp {
        self.request("GET", rest, Vec::new())
    }

    pub fn post<T: Serialize>(&self, rest: &str, body: &T) -> Resp {
        self.request("POST", rest, serde_json::to_vec(body).expect("json"))
    }

    // -- protocol helpers

    pub fn status(&self) -> Resp {
        self.get("/status")
    }

    pub fn devices(&self) -> wire::DeviceList {
        self.get("/devices").expect(200, None).json()
    }

    pub fn push(&self, entries: &[wire::Entry]) -> Resp {
        self.post(
            "/entries",
            &wire::PushEntries {
                entries: entries.to_vec(),
            },
        )
    }

    #[track_caller]
    pub fn push_ok(&self, entries: &[wire::Entry]) -> Vec<i64> {
        let r: wire::PushResult = self.push(entries).expect(200, None).json();
        assert_eq!(r.acked.len(), entries.len());
        for (a, e) in r.acked.iter().zip(entries) {
            assert_eq!(a.entry_id, e.entry_id);
        }
        r.acked.iter().map(|a| a.seq).collect()
    }

    pub fn pull(&self, after: i64, limit: u32) -> Resp {
        self.get(&format!("/entries?after={after}&limit={limit}"))
    }

    /// Every entry after `after`, page by page (until an empty page).
    pub fn pull_all(&self, after: i64) -> Vec<wire::PulledEntry> {
        let mut out = Vec::new();
        let mut cursor = after;
        for _ in 0..100_000 {
            let page: wire::PullResult = self
                .pull(cursor, wire::MAX_PULL_LIMIT)
                .expect(200, None)
                .json();
            if page.entries.is_empty() {
                assert_eq!(page.last_seq, cursor);
                return out;
            }
            cursor = page.last_seq;
            out.extend(page.entries);
        }
        panic!("pull did not end");
    }

    pub fn put_chunk(
        &self,
        blob_id: &[u8],
        index: u32,
        count: u32,
        epoch: u32,
        body: Vec<u8>,
    ) -> Resp {
        self.request(
            "PUT",
            &format!(
                "/blobs/{}/chunks/{index}?count={count}&epoch={epoch}",
                b64::encode(blob_id)
            ),
            body,
        )
    }

    pub fn blob_status(&self, blob_id: &[u8]) -> Resp {
        self.get(&format!("/blobs/{}", b64::encode(blob_id)))
    }

    pub fn blob_statuses(&self, blob_ids: &[Vec<u8>]) -> Resp {
        self.post(
            "/blob-status",
            &wire::BlobStatusQuery {
                blob_ids: blob_ids.to_vec(),
            },
        )
    }

    /// `POST .../chunks`: several blobs' chunks in one request.
    pub fn put_chunks(&self, chunks: &[chunk_batch::ChunkUpload]) -> Resp {
        self.request("POST", "/chunks", chunk_batch::encode_uploads(chunks))
    }

    /// `POST .../chunk-fetch`: several chunks in one request.
    pub fn fetch_chunks(&self, chunks: &[(Vec<u8>, u32)]) -> Resp {
        let chunks = chunks
            .iter()
            .map(|(blob_id, index)| chunk_batch::ChunkRef {
                blob_id: blob_id.clone(),
                index: *index,
            })
            .collect();
        self.post("/chunk-fetch", &chunk_batch::ChunkFetch { chunks })
    }

    pub fn get_chunk(&self, blob_id: &[u8], index: u32) -> Resp {
        self.get(&format!("/blobs/{}/chunks/{index}", b64::encode(blob_id)))
    }

    pub fn revoke(&self, device_id: &str) -> Resp {
        self.post(
            &format!("/devices/{device_id}/revoke"),
            &serde_json::json!({}),
        )
    }

    pub fn bump_epoch(&self, epoch: u32) -> Resp {
        self.post("/epochs", &wire::EpochBump { epoch })
    }

    pub fn envelope_for(&self, device_id: &str, epoch: u32) -> wire::KeyEnvelope {
        wire::KeyEnvelope {
            device_id: device_id.into(),
            epoch,
            from_device: self.id.clone(),
            wrapped: random::<60>().to_vec(),
            signature: random::<64>().to_vec(),
        }
    }

    /// Admin: issues a code; returns `(code_id, enroll_token)`.
    pub fn issue_code(&self, valid_ms: i64) -> (Vec<u8>, Vec<u8>) {
        let code_id = random::<16>().to_vec();
        let token = random::<32>().to_vec();
        self.post(
            "/codes",
            &wire::IssueCode {
                code_id: code_id.clone(),
                token_hash: sha256(&token),
                expires_at_ms: now_ms() + valid_ms,
            },
        )
        .expect(201, None);
        (code_id, token)
    }

    /// Admin: issues a code and enrolls a new member device with it.
    pub fn enroll_member(&self, name: &str) -> Device {
        let (code_id, token) = self.issue_code(600_000);
        let member = Device::new(&self.base, &self.ws);
        enroll(&self.base, &self.ws, &member, &code_id, &token, name).expect(201, None);
        member
    }
}

/// `POST /v1/workspaces` with the operator token.
pub fn create_workspace_with(base: &str, token: &str, ws: &str, admin: &DeviceKeys) -> Resp {
    let body = wire::CreateWorkspace {
        workspace_id: ws.into(),
        admin: admin.clone(),
        lease_hours: 72,
        app_version: "test".into(),
    };
    send(
        http()
            .post(format!("{base}/v1/workspaces"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).expect("json")),
    )
}

/// A new workspace on `base`; returns its admin device.
pub fn new_workspace(base: &str) -> Device {
    let ws = uuid::Uuid::new_v4().to_string();
    let admin = Device::new(base, &ws);
    create_workspace_with(base, OPERATOR_TOKEN, &ws, &admin.keys()).expect(201, None);
    admin
}

pub fn binding_for(device: &Device) -> Vec<u8> {
    // The relay cannot verify the binding (it lacks bind_key): any 32 bytes do.
    sha256(device.id.as_bytes())
}

pub fn enroll(
    base: &str,
    ws: &str,
    device: &Device,
    code_id: &[u8],
    token: &[u8],
    name: &str,
) -> Resp {
    let body = wire::Enroll {
        code_id: code_id.to_vec(),
        enroll_token: token.to_vec(),
        device: device.keys(),
        binding: binding_for(device),
        device_name: name.into(),
        app_version: "test".into(),
        possession: None,
        possession_at_ms: None,
    };
    send(
        http()
            .post(format!("{base}/v1/workspaces/{ws}/enroll"))
            .body(serde_json::to_vec(&body).expect("json")),
    )
}

/// `POST .../enroll` as a device that proves its key: the device's keys
/// with `agreement_public` (a new pairing key), signed by `signer` (the
/// device itself, or an impostor).
pub fn enroll_signed(
    device: &Device,
    signer: &Device,
    agreement_public: Vec<u8>,
    code_id: &[u8],
    token: &[u8],
) -> Resp {
    let body = signed_enroll_body(device, signer, agreement_public, code_id, token, now_ms());
    send_enroll(device, body)
}

/// Sends an enrollment body as it is (for example one captured earlier).
pub fn send_enroll(device: &Device, body: Vec<u8>) -> Resp {
    raw(
        "POST",
        &format!("{}/v1/workspaces/{}/enroll", device.base, device.ws),
        body,
    )
}

/// The body of a signed enrollment ([`enroll_signed`]), the signature dated
/// `at_ms`.
pub fn signed_enroll_body(
    device: &Device,
    signer: &Device,
    agreement_public: Vec<u8>,
    code_id: &[u8],
    token: &[u8],
    at_ms: i64,
) -> Vec<u8> {
    let keys = DeviceKeys {
        device_id: device.id.clone(),
        signing_public: signer.key.public_key().as_ref().to_vec(),
        agreement_public,
    };
    let possession = signer
        .key
        .sign(&wire::enroll_possession_bytes(
            &device.ws, code_id, &keys, at_ms,
        ))
        .as_ref()
        .to_vec();
    let body = wire::Enroll {
        code_id: code_id.to_vec(),
        enroll_token: token.to_vec(),
        binding: binding_for(device),
        device: keys,
        device_name: "again".into(),
        app_version: "test".into(),
        possession: Some(possession),
        possession_at_ms: Some(at_ms),
    };
    serde_json::to_vec(&body).expect("json")
}

pub fn raw(method: &str, url: &str, body: Vec<u8>) -> Resp {
    send(
        http()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                url,
            )
            .body(body),
    )
}

pub fn entry(epoch: u32, sealed_len: usize) -> wire::Entry {
    let sealed: Vec<u8> = (0..sealed_len).map(|_| rand::random::<u8>()).collect();
    wire::Entry {
        entry_id: random::<16>().to_vec(),
        doc_id: random::<32>().to_vec(),
        epoch,
        sealed,
    }
}

/// What a bad request must not change: every entry, and the device list
/// (without `last_seen_ms`, which the admin's own requests update).
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub entries: Vec<wire::PulledEntry>,
    pub devices: Vec<wire::DeviceInfo>,
    pub current_epoch: u32,
}

pub fn snapshot(admin: &Device) -> Snapshot {
    let list = admin.devices();
    let devices = list
        .devices
        .into_iter()
        .map(|mut d| {
            d.last_seen_ms = None;
            d
        })
        .collect();
    Snapshot {
        entries: admin.pull_all(0),
        devices,
        current_epoch: list.current_epoch,
    }
}

/// Reads every file in `dir` (a database copy).
pub fn read_all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_file() {
            out.push((path.clone(), std::fs::read(&path).expect("read file")));
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Each device pushes `batches` batches of `per_batch` new entries from its
/// own thread, re-sending its previous batch each time (duplicates). Returns
/// every ack `(entry_id, seq)`.
pub fn push_concurrently(
    devices: &[Device],
    batches: usize,
    per_batch: usize,
) -> Vec<(Vec<u8>, i64)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = devices
            .iter()
            .map(|d| {
                s.spawn(move || {
                    let mut acks = Vec::new();
                    let mut previous: Vec<wire::Entry> = Vec::new();
                    for _ in 0..batches {
                        let fresh: Vec<wire::Entry> =
                            (0..per_batch).map(|_| entry(1, 40)).collect();
                        let mut batch = fresh.clone();
                        batch.extend(previous.iter().cloned());
                        let seqs = d.push_ok(&batch);
                        acks.extend(batch.iter().map(|e| e.entry_id.clone()).zip(seqs));
                        previous = fresh;
                    }
                    acks
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("pusher thread"))
            .collect()
    })
}

/// Sequences are 1..=n without gaps or duplicates, every entry stored once, and
/// every ack (first or duplicate) names the entry's stored seq.
pub fn check_sequences(reader: &Device, acks: &[(Vec<u8>, i64)]) {
    let pulled = reader.pull_all(0);
    let seqs: Vec<i64> = pulled.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=pulled.len() as i64).collect::<Vec<_>>(),
        "gaps or disorder"
    );
    let mut by_id = std::collections::HashMap::new();
    for e in &pulled {
        assert!(
            by_id.insert(e.entry.entry_id.clone(), e.seq).is_none(),
            "an entry was stored twice"
        );
    }
    let distinct: std::collections::HashSet<&Vec<u8>> = acks.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), pulled.len());
    for (id, seq) in acks {
        assert_eq!(
            by_id.get(id),
            Some(seq),
            "an ack disagrees with the stored seq"
        );
    }
}
