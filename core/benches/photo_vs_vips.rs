//! `photo::process` versus `vipsthumbnail` producing the same two outputs
//! (display ≤ 2048 px and thumbnail ≤ 320 px, JPEG q85, metadata stripped,
//! orientation applied), on two real camera photos from the shared corpus.
//!
//! Run: `cargo bench -p fieldvault --bench photo_vs_vips`
//! (`vipsthumbnail` is in Debian's `libvips-tools`; without it the
//! comparison is skipped and the bench exits 0).
//!
//! Prints, per photo: median of 5 timed runs (after 1 warm-up) for each
//! side — `photo::process` alone, the full `Vault::ingest_photo` (process,
//! seal in 256 KiB chunks, store in SQLite with WAL + synchronous=FULL, add
//! the reference to the document), and `vipsthumbnail` — the ratios, and the
//! output sizes; then the share of each pipeline stage for the 12 MP photo,
//! the share of AES-256-GCM sealing in full ingest, and the peak RSS of a
//! child process (this binary re-executed) doing one `process` of it.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fieldvault::model::{DamageReport, DocumentKind};
use fieldvault::photo::{self, PhotoPolicy, StageTimings};
use fieldvault::{sample_data, Argon2Params, PassphraseKeyProvider, Vault, VaultOptions};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

const PHOTOS: [&str; 2] = [
    "photos/camera/samsung_galaxy_s7edge_12mp_gps.jpg",
    "photos/camera/leica_t_16mp_orient8.jpg",
];
const RUNS: usize = 5;
const CHILD_ARG: &str = "--peak-rss-child";

fn corpus() -> PathBuf {
    std::env::var_os("FIELDVAULT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus"))
        })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What sealing costs inside ingest: AES-256-GCM (ring) over both variants
/// in 256 KiB chunks with a fresh nonce and AAD per chunk, as the vault does.
fn seal_like_the_vault(display: &[u8], thumbnail: &[u8]) -> Duration {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).expect("key"));
    let start = Instant::now();
    for (v, bytes) in [display, thumbnail].into_iter().enumerate() {
        for (i, chunk) in bytes
            .chunks(fieldvault::vault::PHOTO_CHUNK_SIZE)
            .enumerate()
        {
            let mut buf = chunk.to_vec();
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&(i as u32).to_be_bytes());
            nonce[4] = v as u8;
            let aad = [v as u8, i as u8];
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad[..]),
                &mut buf,
            )
            .expect("seal");
            std::hint::black_box(&buf);
        }
    }
    start.elapsed()
}

/// The corpus file's name, for the tables.
fn file_name(rel: &str) -> std::borrow::Cow<'_, str> {
    Path::new(rel)
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
}

fn policy() -> PhotoPolicy {
    PhotoPolicy::for_kind(DocumentKind::DamageReport)
}

/// `(width, height)` from a baseline/progressive JPEG's frame header.
fn jpeg_size(path: &Path) -> Option<(u32, u32)> {
    let data = std::fs::read(path).ok()?;
    let mut pos = 2;
    while pos + 9 < data.len() {
        if data[pos] != 0xFF {
            return None;
        }
        let marker = data[pos + 1];
        let len = usize::from(u16::from_be_bytes([data[pos + 2], data[pos + 3]]));
        if matches!(marker, 0xC0..=0xC2) {
            let h = u16::from_be_bytes([data[pos + 5], data[pos + 6]]);
            let w = u16::from_be_bytes([data[pos + 7], data[pos + 8]]);
            return Some((u32::from(w), u32::from(h)));
        }
        pos += 2 + len;
    }
    None
}

/// Both vipsthumbnail invocations, timed together.
fn run_vips(input: &Path, out_dir: &Path) -> Duration {
    let start = Instant::now();
    for (size, name) in [(2048, "x_display.jpg"), (320, "x_thumbnail.jpg")] {
        let status = Command::new("vipsthumbnail")
            .arg(input)
            .args(["--size", &size.to_string(), "-o"])
            .arg(format!("{}[Q=85,strip]", out_dir.join(name).display()))
            .status()
            .expect("run vipsthumbnail");
        assert!(status.success(), "vipsthumbnail failed");
    }
    start.elapsed()
}

fn vm_line(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// In the child: one `process` of `path`; prints RSS before and peak after.
fn child(path: &str) {
    let bytes = std::fs::read(path).expect("read photo");
    let before = vm_line("VmRSS:").unwrap_or(0);
    let out = photo::process(&bytes, &policy()).expect("process");
    println!(
        "child: {}x{} -> {} + {} bytes",
        out.source_width,
        out.source_height,
        out.display_jpeg.len(),
        out.thumbnail_jpeg.len()
    );
    println!("VmRSS_BEFORE_KIB={before}");
    println!("VmHWM_KIB={}", vm_line("VmHWM:").unwrap_or(0));
}

/// The child's own peak RSS (`VmHWM`, KiB), its RSS before processing, and
/// `ru_maxrss` from wait4 (KiB; inflated by the pages the forked child shared
/// with this large parent before `exec`, so only a cross-check).
#[allow(
    clippy::zombie_processes,
    reason = "reaped with libc::wait4, which also gives this child's own rusage"
)]
fn child_peak_rss(path: &Path) -> (u64, u64, u64) {
    let exe = std::env::current_exe().expect("bench binary");
    let mut child = Command::new(exe)
        .arg(CHILD_ARG)
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("child output");
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: zeroed rusage is valid; wait4 reaps exactly this child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {out}"
    );
    let before = out
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS_BEFORE_KIB="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let hwm = out
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM_KIB="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (hwm, before, u64::try_from(usage.ru_maxrss).unwrap_or(0))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == CHILD_ARG) {
        child(args.get(i + 1).expect("photo path after --peak-rss-child"));
        return;
    }
    let vips = Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let Some(vips_version) = vips else {
        println!(
            "photo_vs_vips: `vipsthumbnail` not found (Debian: apt-get install -y libvips-tools); \
             comparison skipped."
        );
        return;
    };
    let out_dir =
        std::env::temp_dir().join(format!("fieldvault-photo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("temp dir");
    let policy = policy();

    println!(
        "photo::process vs vipsthumbnail ({vips_version}), median of {RUNS} runs after 1 warm-up"
    );
    println!(
        "{:<38} {:>10} {:>10} {:>7}  {:<22} {:<22}",
        "photo", "process ms", "vips ms", "ratio", "ours (display/thumb)", "vips (display/thumb)"
    );
    let mut stage_runs: Vec<StageTimings> = Vec::new();
    let mut ingest_rows = Vec::new();
    let vault_dir = out_dir.join("vault");
    let vault = Vault::create(
        &vault_dir,
        &PassphraseKeyProvider::with_params("bench", Argon2Params::insecure_for_tests()),
        VaultOptions::new("bench"),
    )
    .expect("vault");
    for rel in PHOTOS {
        let path = corpus().join(rel);
        let bytes = std::fs::read(&path).expect("read photo");
        // Warm-up (page cache, CPU frequency, lazy statics).
        let warm = photo::process(&bytes, &policy).expect("process");
        run_vips(&path, &out_dir);
        let (mut ours, mut theirs, mut ingests, mut seals) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            // Interleaved, so all sides see the same machine state.
            let start = Instant::now();
            let (out, timings) = photo::process_timed(&bytes, &policy).expect("process");
            ours.push(start.elapsed());
            seals.push(seal_like_the_vault(&out.display_jpeg, &out.thumbnail_jpeg));
            std::hint::black_box(&out);
            if rel == PHOTOS[0] {
                stage_runs.push(timings);
            }
            theirs.push(run_vips(&path, &out_dir));
            // A fresh document each run: the same photo twice in one
            // document is stored once.
            let doc = vault
                .insert(sample_data::damage_report(
                    vault.new_envelope::<DamageReport>(sample_data::MUNICIPALITY),
                ))
                .expect("document");
            let start = Instant::now();
            vault.ingest_photo(&doc, &bytes, None).expect("ingest");
            ingests.push(start.elapsed());
        }
        let (a, b) = (median(ours), median(theirs));
        let (ingest, seal) = (median(ingests), median(seals));
        ingest_rows.push((rel, ingest, seal, b));
        let vd = jpeg_size(&out_dir.join("x_display.jpg")).unwrap_or_default();
        let vt = jpeg_size(&out_dir.join("x_thumbnail.jpg")).unwrap_or_default();
        let name = file_name(rel);
        println!(
            "{:<38} {:>10.1} {:>10.1} {:>6.2}x  {:<22} {:<22}",
            name,
            ms(a),
            ms(b),
            a.as_secs_f64() / b.as_secs_f64(),
            format!(
                "{}x{} / {}x{}",
                warm.display_width,
                warm.display_height,
                warm.thumbnail_width,
                warm.thumbnail_height
            ),
            format!("{}x{} / {}x{}", vd.0, vd.1, vt.0, vt.1),
        );
    }

    println!("\nfull ingest (Vault::ingest_photo: process + seal + store) vs vipsthumbnail:");
    println!(
        "{:<38} {:>10} {:>10} {:>7} {:>10} {:>8}",
        "photo", "ingest ms", "vips ms", "ratio", "seal ms", "seal %"
    );
    for (rel, ingest, seal, vips) in &ingest_rows {
        let name = file_name(rel);
        println!(
            "{:<38} {:>10.1} {:>10.1} {:>6.2}x {:>10.2} {:>7.2}%",
            name,
            ms(*ingest),
            ms(*vips),
            ingest.as_secs_f64() / vips.as_secs_f64(),
            ms(*seal),
            100.0 * seal.as_secs_f64() / ingest.as_secs_f64()
        );
    }

    let pick = |f: fn(&StageTimings) -> Duration| median(stage_runs.iter().map(f).collect());
    let stages = [
        ("parse+metadata", pick(|t| t.parse)),
        ("decode", pick(|t| t.decode)),
        ("resize", pick(|t| t.resize)),
        ("orient", pick(|t| t.orient)),
        ("encode", pick(|t| t.encode)),
    ];
    let total: Duration = stages.iter().map(|(_, d)| *d).sum();
    println!("\nstages for {} (medians):", PHOTOS[0]);
    for (name, d) in stages {
        println!(
            "  {:<16} {:>7.1} ms  {:>5.1} %",
            name,
            ms(d),
            100.0 * d.as_secs_f64() / total.as_secs_f64()
        );
    }

    let (peak_kib, before_kib, maxrss_kib) = child_peak_rss(&corpus().join(PHOTOS[0]));
    println!(
        "\npeak RSS of a child doing one process of the 12 MP photo: {:.1} MiB (VmHWM; \
         RSS before processing, input read: {:.1} MiB; wait4 ru_maxrss incl. pre-exec \
         pages of this parent: {:.1} MiB)",
        peak_kib as f64 / 1024.0,
        before_kib as f64 / 1024.0,
        maxrss_kib as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&out_dir);
}
