//! The relay under load: ≥ 200 simulated devices (real vaults, real signed
//! requests) sync concurrently for 60 s against each backend. Each device
//! loops: edit or create a document, run one sync pass. Prints passes,
//! errors (goal 0), p50/p99 pass latency and the relay's peak memory.
//!
//! Run: `cargo bench -p fieldvault-integration --bench relay_load`
//! (PostgreSQL via `FIELDVAULT_TEST_POSTGRES`, as `scripts/postgres-up`
//! prints; without it only SQLite runs). `FIELDVAULT_LOAD_DEVICES` and
//! `FIELDVAULT_LOAD_SECS` change the defaults (200, 60).
//!
//! The devices run in this one process on the same two cores as the relay,
//! so latencies include client-side work (sealing, Automerge) and contention.
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldvault::model::BearSighting;
use fieldvault::sample_data as s;
use fieldvault_integration::{pair, workspace, Backend, RelayProcess};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn run(label: &str, backend: Backend, devices: usize, secs: u64) {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::start(backend, &root.path().join("logs"));
    let (admin, _) = workspace(root.path(), &relay.url, &[]).await;
    let setup = Instant::now();
    let mut members = Vec::new();
    for i in 0..devices {
        members.push(pair(&admin, root.path(), &format!("d{i}")).await);
    }
    println!(
        "[{label}] {} devices enrolled in {:.1} s",
        members.len(),
        setup.elapsed().as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for d in members {
        let d = Arc::new(d);
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            let v = &d.vault;
            let id = v
                .insert(s::bear_sighting(
                    v.new_envelope::<BearSighting>(s::MUNICIPALITY),
                ))
                .expect("insert");
            let mut n = 0u32;
            while Instant::now() < deadline {
                n += 1;
                v.update::<BearSighting, _>(&id, |b| b.behaviour = format!("pass {n}"))
                    .expect("edit");
                let t = Instant::now();
                match d.engine().sync_once().await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.expect("device task");
        lat.extend(l);
        errors += e;
    }
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "[{label}] {secs} s: {} sync passes ({:.1}/s), {errors} errors, p50 {:.1} ms, p99 {:.1} ms, relay peak RSS {:.1} MiB",
        lat.len(),
        lat.len() as f64 / secs as f64,
        pct(0.50),
        pct(0.99),
        vm_hwm_kib(relay.pid()) as f64 / 1024.0
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let devices = env_or("FIELDVAULT_LOAD_DEVICES", 200) as usize;
    let secs = env_or("FIELDVAULT_LOAD_SECS", 60);
    let root = tempfile::tempdir().expect("tempdir");
    run(
        "sqlite",
        Backend::Sqlite(root.path().join("relay")),
        devices,
        secs,
    )
    .await;
    match std::env::var("FIELDVAULT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => run("postgres", Backend::Postgres(url), devices, secs).await,
        _ => println!("[postgres] skipped: FIELDVAULT_TEST_POSTGRES is not set"),
    }
}
