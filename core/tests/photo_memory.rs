//! Peak memory of the photo pipeline, measured in a child process (this test
//! binary re-executed with `--exact <child> --include-ignored`), so nothing
//! else the test harness does is counted. The child prints its `VmHWM` from
//! `/proc/self/status` (the peak of the exec'd program itself); the parent
//! also reads `ru_maxrss` from `wait4`. Note: `ru_maxrss` also counts the
//! pages a forked child shared with its parent before `exec`, so it can
//! exceed the child's own peak when the parent is large; both are asserted
//! against the corpus bound, the child's own `VmHWM` against the 80 MB target.
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use fieldvault::model::DocumentKind;
use fieldvault::photo::{self, PhotoPolicy};

const CHILD_ENV: &str = "FIELDVAULT_PHOTO_MEMORY_CHILD";
const MIB: u64 = 1024 * 1024;

fn corpus() -> PathBuf {
    std::env::var_os("FIELDVAULT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus"))
        })
}

fn files_under(dir: PathBuf) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("corpus directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the child test `name` with `CHILD_ENV=workload`; returns
/// (peak RSS from wait4 in bytes, the child's own VmHWM in bytes, its stdout).
#[allow(
    clippy::zombie_processes,
    reason = "reaped with libc::wait4, which also gives this child's own rusage"
)]
fn run_child(name: &str, workload: &str) -> (u64, u64, String) {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            name,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, workload)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut stdout)
        .expect("read child output");
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 writes into both out
    // parameters and reaps exactly this child, which std has not waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed (status {status}):\n{stdout}"
    );
    let hwm_kib: u64 = stdout
        .lines()
        .rev()
        .find_map(|l| l.split_once("VmHWM_KIB=").map(|(_, v)| v))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("child printed no VmHWM:\n{stdout}"));
    let maxrss = u64::try_from(usage.ru_maxrss).expect("maxrss") * 1024;
    (maxrss, hwm_kib * 1024, stdout)
}

/// The workload, run only in the child.
#[test]
#[ignore = "run in a child process by the peak_memory tests"]
fn photo_memory_child() {
    let Ok(workload) = std::env::var(CHILD_ENV) else {
        return;
    };
    let policy = PhotoPolicy::for_kind(DocumentKind::DamageReport);
    let mut files = Vec::new();
    match workload.as_str() {
        "malformed_and_22mp" => {
            files.extend(files_under(corpus().join("images/malformed")));
            files.push(corpus().join("photos/camera/canon_5d3_22mp.jpg"));
        }
        "12mp" => files.push(corpus().join("photos/camera/samsung_galaxy_s7edge_12mp_gps.jpg")),
        other => panic!("unknown workload {other}"),
    }
    let mut processed = 0;
    for path in &files {
        let bytes = std::fs::read(path).expect("read");
        if photo::process(&bytes, &policy).is_ok() {
            processed += 1;
        }
    }
    println!("processed {processed} of {} files", files.len());
    println!("VmHWM_KIB={}", vm_hwm_kib().expect("VmHWM"));
}

#[test]
fn peak_memory_of_malformed_corpus_and_22mp_photo() {
    let (maxrss, hwm, out) = run_child("photo_memory_child", "malformed_and_22mp");
    println!(
        "{}; peak RSS {:.1} MiB (wait4), VmHWM {:.1} MiB",
        // libtest may print "test name ... " before the child's own output.
        out.lines()
            .find_map(|l| l.find("processed").map(|i| &l[i..]))
            .unwrap_or_default(),
        maxrss as f64 / MIB as f64,
        hwm as f64 / MIB as f64
    );
    assert!(maxrss < 256 * MIB, "peak RSS {maxrss} bytes");
    assert!(hwm < 256 * MIB, "VmHWM {hwm} bytes");
}

#[test]
fn peak_memory_of_one_12mp_photo() {
    let (maxrss, hwm, _) = run_child("photo_memory_child", "12mp");
    println!(
        "12 MP photo: peak RSS {:.1} MiB (wait4), VmHWM {:.1} MiB",
        maxrss as f64 / MIB as f64,
        hwm as f64 / MIB as f64
    );
    // Requirement: ≤ 80 MB for the 12 MP photo, whole process included
    // (measured: 72.8 MiB here unoptimised, 71.5 MiB in the release bench).
    assert!(hwm < 80_000_000, "VmHWM {hwm} bytes");
    assert!(maxrss < 256 * MIB, "peak RSS {maxrss} bytes");
}
