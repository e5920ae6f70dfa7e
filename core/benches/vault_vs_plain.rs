//! Sealed vault vs plain rusqlite, side by side in one run.
//!
//! Both variants do the same Automerge work for 10,000 documents (a mix of the
//! three kinds): create (reconcile + commit + save), edit (load rows, hydrate,
//! change one field, validate, diff, reconcile, commit, save the increment),
//! read (load rows + hydrate) and list (all headers, parsed and sorted). The
//! plain variant stores the same Automerge changes unencrypted — the same
//! history note on every commit and the same envelope bookkeeping
//! (`updated_at`, `device_id`), the same minimal reconcile and one-pass
//! hydrate (`reconcile_changes`, `hydrate_fields`) — and JSON headers in
//! SQLite with the same pragmas (WAL, synchronous=FULL); the vault seals
//! everything. So the ratio is the cost of sealing, keyed-hash row ids and
//! key handling.
//! Each variant runs in its own child process so peak RSS is its own; the
//! variants alternate for `ROUNDS` rounds and medians are reported. Edits and
//! reads visit the documents in one shuffled order (same seed for both): an
//! app opens documents in no particular order, and creation order would favour
//! the plain variant's time-ordered keys over the vault's keyed-hash row ids.
//!
//! After the rounds, the same operations run **interleaved in one process**
//! (both stores taking turns every 100 operations, the order of each pair
//! alternating), so both see the same moments of a noisy shared machine; that
//! table is the steadier ratio. `FV_BENCH_SCATTERED=1` adds a diagnostic
//! baseline: plain rusqlite keyed by a hash of the id (no locality, like the
//! vault's keyed-hash row ids).
//!
//! Run: `cargo bench -p fieldvault --bench vault_vs_plain` (FV_BENCH_DOCS, FV_BENCH_ROUNDS to change size).
use std::process::Command;
use std::time::Instant;

use automerge::{transaction::CommitOptions, AutoCommit};
use fieldvault::model::{
    AnyDocument, BearSighting, DamageReport, DocumentBody, DocumentId, TaxAssist,
};
use fieldvault::sample_data as s;
use fieldvault::vault::hydrate_fields;
use fieldvault::{Argon2Params, ListFilter, PassphraseKeyProvider, Vault, VaultOptions};
use rusqlite::{params, Connection};

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct Timings {
    /// CPU seconds (user + system) per phase; wall times include fsync waits,
    /// which on a shared disk vary far more than the work itself.
    cpu: [f64; 4],
    /// The user-space part of `cpu`: the work without the kernel's share of
    /// writing and `fsync` (the noisiest part on a shared disk).
    user: [f64; 4],
    create_s: f64,
    edit_s: f64,
    read_s: f64,
    list_s: f64,
    peak_rss_mib: f64,
    db_bytes: u64,
}

/// The order in which edits and reads visit documents (same for both variants).
fn visit_order(n: usize) -> Vec<usize> {
    use rand::{seq::SliceRandom, SeedableRng};
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(0xf1e1d));
    order
}

/// (user, system) CPU seconds of this process so far.
fn cpu_split() -> (f64, f64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct; RUSAGE_SELF is always valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(usage.ru_utime), tv(usage.ru_stime))
}

fn docs() -> usize {
    std::env::var("FV_BENCH_DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The i-th sample document, cycling through the three kinds.
fn sample(
    i: usize,
    env: impl Fn(fieldvault::model::DocumentKind) -> fieldvault::model::Envelope,
) -> AnyDocument {
    use fieldvault::model::DocumentKind as K;
    match i % 3 {
        0 => AnyDocument::BearSighting(s::bear_sighting(env(K::BearSighting))),
        1 => AnyDocument::DamageReport(s::damage_report(env(K::DamageReport))),
        _ => AnyDocument::TaxAssist(s::tax_assist(env(K::TaxAssist))),
    }
}

fn envelope(kind: fieldvault::model::DocumentKind) -> fieldvault::model::Envelope {
    fieldvault::model::Envelope::new(
        kind,
        1,
        s::MUNICIPALITY,
        "bench-staff",
        "bench-device",
        fieldvault::model::Timestamp::now(),
    )
}

/// One side of the comparison: the same four operations on either store.
trait Store {
    fn create(&mut self, i: usize) -> DocumentId;
    /// Changes one field of document `i` (which field depends on its kind).
    fn edit(&mut self, i: usize, id: &DocumentId);
    fn read(&mut self, id: &DocumentId);
    /// Lists every header; returns how many.
    fn list(&mut self) -> usize;
    fn dir(&self) -> &std::path::Path;
}

struct VaultStore {
    vault: Vault,
    dir: tempfile::TempDir,
}

impl VaultStore {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let provider =
            PassphraseKeyProvider::with_params("bench", Argon2Params::insecure_for_tests());
        let vault =
            Vault::create(dir.path(), &provider, VaultOptions::new("bench-staff")).expect("create");
        Self { vault, dir }
    }
}

impl Store for VaultStore {
    fn create(&mut self, i: usize) -> DocumentId {
        match sample(i, envelope) {
            AnyDocument::BearSighting(d) => self.vault.insert(d),
            AnyDocument::DamageReport(d) => self.vault.insert(d),
            AnyDocument::TaxAssist(d) => self.vault.insert(d),
        }
        .expect("insert")
    }

    fn edit(&mut self, i: usize, id: &DocumentId) {
        let v = &self.vault;
        match i % 3 {
            0 => v.update::<BearSighting, _>(id, |d| d.behaviour = format!("edit {i}")),
            1 => v.update::<DamageReport, _>(id, |d| d.summary.report_number += 1),
            _ => v.update::<TaxAssist, _>(id, |d| d.venue = format!("edit {i}")),
        }
        .expect("edit");
    }

    fn read(&mut self, id: &DocumentId) {
        std::hint::black_box(self.vault.get_any(id).expect("read"));
    }

    fn list(&mut self) -> usize {
        self.vault
            .list(&ListFilter::default())
            .expect("list")
            .documents
            .len()
    }

    fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// CPU (total, user) and wall time of `f`.
fn measured(f: impl FnOnce()) -> (f64, f64, f64) {
    let ((user0, sys0), start) = (cpu_split(), Instant::now());
    f();
    let wall = start.elapsed().as_secs_f64();
    let (user1, sys1) = cpu_split();
    (user1 + sys1 - user0 - sys0, user1 - user0, wall)
}

/// All four phases on one store, in this process (a child of the bench).
fn run_child(store: &mut dyn Store) -> Timings {
    let n = docs();
    let mut t = Timings::default();
    let mut ids = Vec::with_capacity(n);
    let (cpu, user, wall) = measured(|| ids.extend((0..n).map(|i| store.create(i))));
    (t.cpu[0], t.user[0], t.create_s) = (cpu, user, wall);
    let order = visit_order(n);
    let (cpu, user, wall) = measured(|| order.iter().for_each(|&i| store.edit(i, &ids[i])));
    (t.cpu[1], t.user[1], t.edit_s) = (cpu, user, wall);
    let (cpu, user, wall) = measured(|| order.iter().for_each(|&i| store.read(&ids[i])));
    (t.cpu[2], t.user[2], t.read_s) = (cpu, user, wall);
    let reps: usize = std::env::var("FV_BENCH_LIST_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    t.list_s = median_of(reps, || assert_eq!(store.list(), n));
    t.cpu[3] = t.list_s; // listing is pure CPU
    t.user[3] = t.list_s;
    t.db_bytes = dir_bytes(store.dir());
    t.peak_rss_mib = peak_rss_mib();
    t
}

/// Both stores in this one process, taking turns every `BLOCK` operations
/// (the order of the pair alternating too), so that both see the same
/// moments of a noisy shared machine. Returns CPU (total, user) per phase,
/// for plain and for the vault.
fn run_interleaved() -> [[[f64; 2]; 2]; 3] {
    const BLOCK: usize = 100;
    let n = docs();
    let mut stores: [Box<dyn Store>; 2] = [
        Box::new(PlainStore::new(false)),
        Box::new(VaultStore::new()),
    ];
    let mut spent = [[[0.0; 2]; 2]; 3];
    let mut ids: [Vec<DocumentId>; 2] = [Vec::with_capacity(n), Vec::with_capacity(n)];
    let order = visit_order(n);
    for (phase, spent) in spent.iter_mut().enumerate() {
        for (b, block) in (0..n).collect::<Vec<_>>().chunks(BLOCK).enumerate() {
            for turn in [b % 2, 1 - b % 2] {
                let store = &mut stores[turn];
                let ids = &mut ids[turn];
                let (cpu, user, _) = measured(|| {
                    for &k in block {
                        match phase {
                            0 => ids.push(store.create(k)),
                            1 => store.edit(order[k], &ids[order[k]]),
                            _ => store.read(&ids[order[k]]),
                        }
                    }
                });
                spent[turn][0] += cpu;
                spent[turn][1] += user;
            }
        }
    }
    spent
}

/// The same history note the vault writes on every commit.
fn note(op: &str, fields: Vec<String>) -> CommitOptions {
    let at = fieldvault::model::Timestamp::now();
    let message = serde_json::json!({
        "op": op, "staff": "bench-staff", "device": "0190b3a2-7c1e-7d2a-9a41-3c5e2f1d0a11",
        "at": at, "fields": fields,
    });
    CommitOptions::default()
        .with_message(message.to_string())
        .with_time(at.0.timestamp())
}

/// The plain baseline: same Automerge changes, unencrypted rows.
struct Plain {
    conn: Connection,
    scattered: bool,
}

/// The same list-view fields the vault keeps in its sealed header.
#[derive(serde::Serialize, serde::Deserialize)]
struct PlainHeader {
    #[serde(flatten)]
    summary: fieldvault::DocumentSummary,
    head_seq: u64,
    snapshot_seq: u64,
}

impl Plain {
    fn open(path: &std::path::Path, scattered: bool) -> Self {
        let conn = Connection::open(path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192;
             CREATE TABLE headers (id BLOB PRIMARY KEY, header BLOB NOT NULL) WITHOUT ROWID;
             CREATE TABLE changes (id BLOB NOT NULL, seq INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (id, seq));",
        )
        .expect("schema");
        Self { conn, scattered }
    }

    fn write<T: DocumentBody>(
        &mut self,
        doc: &mut AutoCommit,
        heads: &[automerge::ChangeHash],
        body: &T,
        seq: u64,
    ) {
        let bytes = doc.save_after(heads);
        let env = body.envelope();
        let header = PlainHeader {
            summary: fieldvault::DocumentSummary {
                id: env.id,
                kind: env.kind,
                title: body.title(),
                status: env.status,
                municipality_code: env.municipality_code.clone(),
                created_at: env.created_at.clone(),
                updated_at: env.updated_at.clone(),
                schema_version: env.schema_version,
                photo_count: env.photos.len() as u32,
                acknowledged_at: None,
                locked: false,
            },
            head_seq: seq,
            snapshot_seq: 0,
        };
        let key = self.key(&env.id);
        let tx = self.conn.transaction().expect("tx");
        tx.execute(
            "INSERT INTO changes (id, seq, bytes) VALUES (?1, ?2, ?3)",
            params![key, seq as i64, bytes],
        )
        .expect("change");
        tx.execute(
            "INSERT INTO headers (id, header) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET header = excluded.header",
            params![key, serde_json::to_vec(&header).expect("json")],
        )
        .expect("header");
        tx.commit().expect("commit");
    }

    fn create<T: DocumentBody>(&mut self, mut body: T) -> DocumentId {
        let now = fieldvault::model::Timestamp::now();
        body.envelope_mut().created_at = now.clone();
        body.envelope_mut().updated_at = now;
        body.validate().expect("valid");
        let mut doc = AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &body).expect("reconcile");
        doc.commit_with(note("create", Vec::new()));
        self.write(&mut doc, &[], &body, 1);
        body.envelope().id
    }

    /// The row key: the UUIDv7 itself (time-ordered, so creates append), or
    /// with `scattered` a SHA-256 of it — no locality, like the vault's
    /// keyed-hash row ids (a diagnostic baseline, not the goal's).
    fn key(&self, id: &DocumentId) -> Vec<u8> {
        if self.scattered {
            ring::digest::digest(&ring::digest::SHA256, id.0.as_bytes())
                .as_ref()
                .to_vec()
        } else {
            id.0.as_bytes().to_vec()
        }
    }

    /// Reads the header to learn the document's kind (what `get_any` and a
    /// kind-checked `update` must do too).
    fn kind(&self, id: &DocumentId) -> fieldvault::model::DocumentKind {
        let bytes: Vec<u8> = self
            .conn
            .prepare_cached("SELECT header FROM headers WHERE id = ?1")
            .expect("prepare")
            .query_row([self.key(id)], |r| r.get(0))
            .expect("header");
        serde_json::from_slice::<PlainHeader>(&bytes)
            .expect("json")
            .summary
            .kind
    }

    fn load(&self, id: &DocumentId) -> (AutoCommit, u64) {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, bytes FROM changes WHERE id = ?1 ORDER BY seq")
            .expect("prepare");
        let mut doc = AutoCommit::new();
        let mut last = 0;
        let rows = stmt
            .query_map([self.key(id)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .expect("query");
        for row in rows {
            let (seq, bytes) = row.expect("row");
            doc.load_incremental(&bytes).expect("load");
            last = seq as u64;
        }
        (doc, last)
    }

    fn edit<T: DocumentBody>(&mut self, id: &DocumentId, f: impl FnOnce(&mut T)) {
        assert_eq!(self.kind(id), T::KIND);
        let (mut doc, seq) = self.load(id);
        let heads = doc.get_heads();
        let before: T = hydrate_fields(&doc).expect("hydrate");
        let mut after = before.clone();
        f(&mut after);
        after.envelope_mut().updated_at = fieldvault::model::Timestamp::now();
        after.envelope_mut().device_id = "bench-device".into();
        after.validate().expect("valid");
        // The vault diffs the JSON forms to record changed fields; do the same work.
        let (b, a) = (
            serde_json::to_value(&before).expect("json"),
            serde_json::to_value(&after).expect("json"),
        );
        let fields: Vec<String> = match (&b, &a) {
            (serde_json::Value::Object(mb), serde_json::Value::Object(ma)) => ma
                .iter()
                .filter(|(k, v)| mb.get(*k) != Some(*v))
                .map(|(k, _)| k.clone())
                .collect(),
            _ => Vec::new(),
        };
        assert!(!fields.is_empty());
        fieldvault::vault::reconcile_changes(&mut doc, &after).expect("reconcile");
        doc.commit_with(note("edit", fields));
        self.write(&mut doc, &heads, &after, seq + 1);
    }

    fn list(&self) -> Vec<PlainHeader> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT header FROM headers")
            .expect("prepare");
        let mut out: Vec<PlainHeader> = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .expect("query")
            .map(|b| serde_json::from_slice(&b.expect("row")).expect("json"))
            .collect();
        out.sort_by_key(|h| std::cmp::Reverse(h.summary.updated_at.0));
        out
    }
}

struct PlainStore {
    plain: Plain,
    dir: tempfile::TempDir,
}

impl PlainStore {
    fn new(scattered: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = Plain::open(&dir.path().join("plain.db"), scattered);
        Self { plain, dir }
    }
}

impl Store for PlainStore {
    fn create(&mut self, i: usize) -> DocumentId {
        match sample(i, envelope) {
            AnyDocument::BearSighting(d) => self.plain.create(d),
            AnyDocument::DamageReport(d) => self.plain.create(d),
            AnyDocument::TaxAssist(d) => self.plain.create(d),
        }
    }

    fn edit(&mut self, i: usize, id: &DocumentId) {
        let p = &mut self.plain;
        match i % 3 {
            0 => p.edit::<BearSighting>(id, |d| d.behaviour = format!("edit {i}")),
            1 => p.edit::<DamageReport>(id, |d| d.summary.report_number += 1),
            _ => p.edit::<TaxAssist>(id, |d| d.venue = format!("edit {i}")),
        }
    }

    fn read(&mut self, id: &DocumentId) {
        use fieldvault::model::DocumentKind as K;
        let kind = self.plain.kind(id);
        let (doc, _) = self.plain.load(id);
        let any = match kind {
            K::BearSighting => AnyDocument::BearSighting(hydrate_fields(&doc).expect("hydrate")),
            K::DamageReport => AnyDocument::DamageReport(hydrate_fields(&doc).expect("hydrate")),
            K::TaxAssist => AnyDocument::TaxAssist(hydrate_fields(&doc).expect("hydrate")),
            K::AuditLog => unreachable!("the benchmark stores no audit logs"),
        };
        std::hint::black_box(any);
    }

    fn list(&mut self) -> usize {
        self.plain.list().len()
    }

    fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

fn median_of(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[runs / 2]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn child(variant: &str) -> Timings {
    child_result(&["--child", variant])
}

fn child_result<T: serde::de::DeserializeOwned>(args: &[&str]) -> T {
    let variant = args.join(" ");
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args(args)
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "{variant} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("RESULT ").map(str::to_owned))
        .expect("result line");
    serde_json::from_str(&line).expect("result json")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--interleaved") {
        let spent = run_interleaved();
        println!("RESULT {}", serde_json::to_string(&spent).expect("json"));
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        let t = match args.get(pos + 1).map(String::as_str) {
            Some("vault") => run_child(&mut VaultStore::new()),
            Some("plain-scattered") => run_child(&mut PlainStore::new(true)),
            _ => run_child(&mut PlainStore::new(false)),
        };
        println!("RESULT {}", serde_json::to_string(&t).expect("json"));
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes; nothing to list
    }
    let rounds: usize = std::env::var("FV_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    println!(
        "vault vs plain rusqlite: {} documents, {rounds} alternating rounds, medians",
        docs()
    );
    // FV_BENCH_SCATTERED=1 adds the diagnostic baseline with hashed keys.
    let scattered_too = std::env::var_os("FV_BENCH_SCATTERED").is_some();
    let (mut plain, mut vault, mut scattered) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        plain.push(child("plain"));
        if scattered_too {
            scattered.push(child("plain-scattered"));
        }
        vault.push(child("vault"));
        eprintln!("round {} done", round + 1);
    }
    let pick = |v: &[Timings], f: &dyn Fn(&Timings) -> f64| median(v.iter().map(f).collect());
    println!("| operation | plain rusqlite | sealed vault | ratio (wall) | plain CPU s | vault CPU s | ratio (CPU) | ratio (user CPU) | goal |");
    println!("|---|---|---|---|---|---|---|---|---|");
    type Row = (&'static str, fn(&Timings) -> f64, &'static str);
    let rows: [Row; 4] = [
        ("create 10k (s)", |t| t.create_s, "≤ 1.10×"),
        ("edit 10k (s)", |t| t.edit_s, "≤ 1.10×"),
        ("read 10k (s)", |t| t.read_s, "≤ 1.10×"),
        ("list 10k headers (ms)", |t| t.list_s * 1000.0, "≤ 2×"),
    ];
    for (i, (name, f, goal)) in rows.into_iter().enumerate() {
        let (p, v) = (pick(&plain, &f), pick(&vault, &f));
        let (cp, cv) = (pick(&plain, &|t| t.cpu[i]), pick(&vault, &|t| t.cpu[i]));
        let (up, uv) = (pick(&plain, &|t| t.user[i]), pick(&vault, &|t| t.user[i]));
        println!(
            "| {name} | {p:.3} | {v:.3} | {:.2}× | {cp:.3} | {cv:.3} | {:.2}× | {:.2}× | {goal} |",
            v / p,
            cv / cp,
            uv / up
        );
    }
    let (p, v) = (
        pick(&plain, &|t| t.peak_rss_mib),
        pick(&vault, &|t| t.peak_rss_mib),
    );
    println!(
        "| peak RSS (MiB) | {p:.1} | {v:.1} | {:.2}× | | | | | report |",
        v / p
    );
    let (p, v) = (
        pick(&plain, &|t| t.db_bytes as f64 / 1e6),
        pick(&vault, &|t| t.db_bytes as f64 / 1e6),
    );
    println!(
        "| files on disk (MB) | {p:.1} | {v:.1} | {:.2}× | | | | | report |",
        v / p
    );
    if scattered_too {
        println!("\nDiagnostic: plain rusqlite with hashed row keys (no locality, like the vault's keyed-hash ids)");
        println!("| operation | plain, hashed keys | vault/that (CPU) | vault/that (user CPU) | plain UUIDv7 keys/that (CPU) |");
        println!("|---|---|---|---|---|");
        for (i, name) in ["create", "edit", "read"].into_iter().enumerate() {
            let (cs, us) = (
                pick(&scattered, &|t| t.cpu[i]),
                pick(&scattered, &|t| t.user[i]),
            );
            let (cv, uv) = (pick(&vault, &|t| t.cpu[i]), pick(&vault, &|t| t.user[i]));
            let cp = pick(&plain, &|t| t.cpu[i]);
            println!(
                "| {name} | {cs:.3} s CPU | {:.2}× | {:.2}× | {:.2}× |",
                cv / cs,
                uv / us,
                cp / cs
            );
        }
    }

    // The same operations interleaved in one process: the steadier ratio on
    // a machine whose speed drifts between the rounds above.
    let mut interleaved: Vec<[[[f64; 2]; 2]; 3]> = Vec::new();
    for round in 0..rounds {
        interleaved.push(child_result(&["--interleaved"]));
        eprintln!("interleaved round {} done", round + 1);
    }
    println!(
        "\nInterleaved in one process ({} documents, turns of 100 operations), medians of {rounds} runs:",
        docs()
    );
    println!("| operation | plain CPU s | vault CPU s | ratio (CPU) | ratio (user CPU) | goal |");
    println!("|---|---|---|---|---|---|");
    for (phase, name) in ["create", "edit", "read"].into_iter().enumerate() {
        let m = |side: usize, part: usize| {
            median(interleaved.iter().map(|r| r[phase][side][part]).collect())
        };
        println!(
            "| {name} | {:.3} | {:.3} | {:.2}× | {:.2}× | ≤ 1.10× |",
            m(0, 0),
            m(1, 0),
            m(1, 0) / m(0, 0),
            m(1, 1) / m(0, 1)
        );
    }
}
