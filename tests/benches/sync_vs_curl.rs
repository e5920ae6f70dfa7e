//! Sync throughput against the transport's own cost: one device pushes
//! 1,000 documents and 50 photos through a relay process on 127.0.0.1 and a
//! second device pulls them; side by side, `curl` uploads and downloads the
//! same number of bytes over HTTP/1.1 on loopback to a minimal sink server
//! in this process. Prints times and ratios (goal ≤ 1.2×). For the record
//! of the floor (ADR 0007) it also times curl into a sink that `fsync`s the
//! upload and a download flushed to disk, and prints that ratio beside it.
//!
//! A second round puts devices and curl behind a proxy that delays each
//! direction by `FV_LATENCY_MS` (default 20 ms, i.e. a 40 ms round trip like
//! a good mobile link; 0 skips it), which shows what round trips cost.
//!
//! Run: `cargo bench -p fieldvault-integration --bench sync_vs_curl`
//! (needs the shared corpus and `curl`; builds the release relay on demand).
//! Each pass also reports the CPU time of this process (both devices) and of
//! the relay process; `FV_PERF=FILE` records a `perf` profile of this process
//! during the two timed passes only.
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use fieldvault::PhotoVariant;
use fieldvault_integration::latency::LatencyProxy;
use fieldvault_integration::{found_workspace, keep_all, pair_device, Device, RelayProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DOCS: usize = 1000;
const PHOTOS: usize = 50;

/// A bare HTTP/1.1 sink: accepts any request, reads `Content-Length` bytes
/// and answers 200; `GET /N` answers with N bytes. Just enough for curl.
/// `POST /durable` writes the body to a file in `dir` and flushes it to disk
/// (`fsync`) before answering: the least a relay must do before it
/// acknowledges.
async fn sink(dir: std::path::PathBuf) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let dir = dir.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if sock.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                let mut store = text
                    .starts_with("post /durable ")
                    .then(|| tempfile::tempfile_in(&dir).expect("sink file"));
                let mut buf = vec![0u8; 1 << 20];
                let mut left = length;
                while left > 0 {
                    let n = sock.read(&mut buf[..left.min(1 << 20)]).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    if let Some(file) = &mut store {
                        file.write_all(&buf[..n]).expect("sink write");
                    }
                    left -= n;
                }
                if let Some(file) = store {
                    file.sync_all().expect("sink fsync");
                }
                if let Some(n) = text
                    .strip_prefix("get /")
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    let _ = sock
                        .write_all(
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").as_bytes(),
                        )
                        .await;
                    let chunk = vec![7u8; 1 << 20];
                    let mut left = n;
                    while left > 0 {
                        let k = left.min(chunk.len());
                        if sock.write_all(&chunk[..k]).await.is_err() {
                            return;
                        }
                        left -= k;
                    }
                } else {
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .await;
                }
            });
        }
    });
    addr
}

fn curl(args: &[&str]) -> Duration {
    curl_into("/dev/null", args)
}

/// `curl` writing what it receives to `out`.
fn curl_into(out: &str, args: &[&str]) -> Duration {
    let start = Instant::now();
    let status = Command::new("curl")
        .args(["-s", "-o", out, "--http1.1", "-H", "Expect:"])
        .args(args)
        .status()
        .expect("curl");
    assert!(status.success(), "curl failed");
    start.elapsed()
}

/// `curl` downloading into a file that is then flushed to disk: the least a
/// receiving device must do before it reports the bytes as synced.
fn curl_down_durable(dir: &std::path::Path, url: &str) -> Duration {
    let out = dir.join("download");
    let start = Instant::now();
    curl_into(&out.to_string_lossy(), &[url]);
    std::fs::File::open(&out)
        .and_then(|f| f.sync_all())
        .expect("fsync the download");
    start.elapsed()
}

/// The median of three runs of `f`.
fn median_of_3(mut f: impl FnMut() -> Duration) -> Duration {
    let mut runs = [f(), f(), f()];
    runs.sort();
    runs[1]
}

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`
/// (clock ticks of 10 ms; coarse, but the phases last ~1 s).
fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Wall time and the CPU time of this process (both devices) and of the relay.
struct Spent {
    wall: Duration,
    devices_cpu: f64,
    relay_cpu: f64,
}

impl std::fmt::Display for Spent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>7.1} ms (CPU: devices {:.0} ms, relay {:.0} ms)",
            self.wall.as_secs_f64() * 1000.0,
            self.devices_cpu * 1000.0,
            self.relay_cpu * 1000.0
        )
    }
}

async fn timed<T>(relay_pid: u32, f: impl std::future::Future<Output = T>) -> (T, Spent) {
    let me = std::process::id();
    let (d0, r0, start) = (process_cpu(me), process_cpu(relay_pid), Instant::now());
    let out = f.await;
    let spent = Spent {
        wall: start.elapsed(),
        devices_cpu: process_cpu(me) - d0,
        relay_cpu: process_cpu(relay_pid) - r0,
    };
    (out, spent)
}

/// One measured round: sync over `link` (loopback, or behind a latency
/// proxy) and curl over the same kind of link, side by side.
async fn run(sink: std::net::SocketAddr, one_way: Option<Duration>) {
    let root = tempfile::tempdir().expect("tempdir");
    let relay = RelayProcess::sqlite(root.path());
    let mut office = found_workspace(Device::with_options(
        root.path(),
        "office",
        &relay.url,
        keep_all("office"),
    ))
    .await;
    let field = Device::with_options(root.path(), "field", &relay.url, keep_all("field"));
    let mut field = pair_device(&office, field).await;

    // Offline work on the field device (not timed).
    let photo_files = fieldvault_integration::recurser_photos();
    let v = &field.vault;
    let (mut photo_bytes, mut photo_count) = (0usize, 0usize);
    for i in 0..DOCS {
        let id = fieldvault_integration::insert_sample(v, i);
        if i % 3 != 2 && photo_count < PHOTOS {
            photo_count += 1;
            let p = v
                .ingest_photo(&id, &photo_files[i % photo_files.len()], None)
                .expect("photo");
            photo_bytes += p.byte_size as usize
                + v.photo(&id, &p.id, PhotoVariant::Thumbnail)
                    .expect("thumb")
                    .len();
        }
    }
    let (entries, entry_bytes) = v.outbox_size().expect("outbox");
    let (photos, _) = v.photo_transfers_pending().expect("pending");
    // Sealed payload: changes + both photo variants, + 28 bytes per sealed item.
    let bytes = entry_bytes as usize + photo_bytes;
    println!(
        "payload: {entries} change sets ({:.1} MB) + {} photo variants ({:.1} MB) = {:.1} MB",
        entry_bytes as f64 / 1e6,
        photos,
        photo_bytes as f64 / 1e6,
        bytes as f64 / 1e6
    );

    // Behind a latency proxy, both the devices and curl go through one.
    let (relay_proxy, sink_proxy) = match one_way {
        Some(d) => (
            Some(LatencyProxy::start(relay.addr(), d).await),
            Some(LatencyProxy::start(sink, d).await),
        ),
        None => (None, None),
    };
    if let Some(p) = &relay_proxy {
        field.use_relay(&p.url());
        office.use_relay(&p.url());
    }
    let sink_url = sink_proxy
        .as_ref()
        .map_or_else(|| format!("http://{sink}"), LatencyProxy::url);
    let mut file = tempfile::NamedTempFile::new().expect("file");
    file.write_all(&vec![0x5au8; bytes]).expect("write");
    let path = file.path().to_string_lossy().into_owned();
    let url = format!("{sink_url}/upload");
    let durable_url = format!("{sink_url}/durable");
    let get = format!("{sink_url}/{bytes}");
    // Warm-up.
    curl(&["--data-binary", &format!("@{path}"), &url]);

    // FV_PERF=FILE: profile this process during the two timed passes.
    let perf = std::env::var("FV_PERF")
        .ok()
        .filter(|_| one_way.is_none())
        .map(|out| {
            let child = std::process::Command::new("perf")
                .args([
                    "record",
                    "-F",
                    "999",
                    "--call-graph",
                    "dwarf,16384",
                    "-o",
                    &out,
                    "-p",
                ])
                .arg(std::process::id().to_string())
                .spawn()
                .expect("perf");
            std::thread::sleep(Duration::from_millis(500));
            child
        });
    let (pushed, push_spent) = timed(relay.pid(), field.sync()).await;
    let (pulled, pull_spent) = timed(relay.pid(), office.sync()).await;
    let (push, pull) = (push_spent.wall, pull_spent.wall);
    if let Some(mut perf) = perf {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
    // The office also pulls the field device's audit log and report.
    assert!(pulled.pulled >= DOCS, "everything arrived: {pulled:?}");
    assert_eq!(pulled.photos_downloaded, PHOTOS * 2, "{pulled:?}");
    assert_eq!(
        office
            .vault
            .list(&Default::default())
            .expect("list")
            .documents
            .len(),
        DOCS
    );

    let data = format!("@{path}");
    let up = median_of_3(|| curl(&["--data-binary", &data, &url]));
    let down = median_of_3(|| curl(&[&get]));
    let durable_up = median_of_3(|| curl(&["--data-binary", &data, &durable_url]));
    let durable_down = median_of_3(|| curl_down_durable(root.path(), &get));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("field device push (sync_once): {push_spent}  ({pushed:?})");
    println!("office device pull (sync_once): {pull_spent}");
    println!(
        "curl upload of the same bytes:  {:>8.1} ms   ratio {:.2}x",
        ms(up),
        push.as_secs_f64() / up.as_secs_f64()
    );
    println!(
        "curl download of the same bytes: {:>7.1} ms   ratio {:.2}x",
        ms(down),
        pull.as_secs_f64() / down.as_secs_f64()
    );
    println!(
        "end to end (push + pull) vs curl up + down: {:.2}x",
        (push + pull).as_secs_f64() / (up + down).as_secs_f64()
    );
    // Not the goal's baseline: what is left when both ends of the plain
    // transfer also store the bytes durably (docs/adr/0007, the floor).
    println!(
        "with fsync on both ends: curl up {:.1} ms + down {:.1} ms; end to end {:.2}x",
        ms(durable_up),
        ms(durable_down),
        (push + pull).as_secs_f64() / (durable_up + durable_down).as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sink_dir = tempfile::tempdir().expect("sink dir");
    let sink = sink(sink_dir.path().to_path_buf()).await;
    println!("== loopback (HTTP/1.1 on 127.0.0.1) ==");
    run(sink, None).await;
    // FV_LATENCY_MS=0 skips the second round.
    let one_way_ms: u64 = std::env::var("FV_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    if one_way_ms > 0 {
        println!(
            "== behind a latency proxy: {one_way_ms} ms each way ({} ms round trip) ==",
            2 * one_way_ms
        );
        run(sink, Some(Duration::from_millis(one_way_ms))).await;
    }
}
