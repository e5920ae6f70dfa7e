//! Crash safety: a child process writes in a loop and is killed with SIGKILL at
//! random moments. After every kill the vault opens, passes SQLite's integrity
//! check, every write the child reported as successful is present, and no
//! canary from the (partly written) documents is readable in any file.
mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fieldvault::model::{BearSighting, DocumentId};
use rand::{Rng, SeedableRng};

const CHILD_ENV: &str = "FIELDVAULT_CRASH_CHILD_DIR";

fn canary(i: u64) -> String {
    format!("クマ-crash-canary-{i:06}-秘密")
}

/// The writer. Runs only when the parent test re-executes this binary.
#[test]
#[ignore = "child process of kill_at_random_moments"]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let vault = if dir.join(fieldvault::DB_FILE).exists() {
        common::reopen(&dir, "crash-writer")
    } else {
        common::new_vault(&dir, "crash-writer")
    };
    let start: u64 = std::env::var("FIELDVAULT_CRASH_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    println!("ready");
    let mut ids: Vec<DocumentId> = Vec::new();
    for i in start.. {
        if i % 3 == 0 || ids.is_empty() {
            let mut doc = common::fixtures::bear(&vault);
            doc.behaviour = i.to_string();
            doc.narrative = canary(i).as_str().into();
            let id = vault.insert(doc).expect("create");
            ids.push(id);
            println!("created {id} {i}");
        } else {
            let id = ids[(i as usize) % ids.len()];
            vault
                .update::<BearSighting, _>(&id, |d| {
                    d.behaviour = i.to_string();
                    d.narrative = format!("{} {}", d.narrative.as_str(), canary(i))
                        .as_str()
                        .into();
                })
                .expect("update");
            println!("updated {id} {i}");
        }
    }
}

#[test]
fn kill_at_random_moments() {
    let rounds: u64 = std::env::var("FIELDVAULT_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current exe");
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_cafe);
    // Highest acknowledged write per document, over all rounds.
    let mut acked: HashMap<DocumentId, u64> = HashMap::new();
    let mut canaries: Vec<String> = Vec::new();
    let mut next_i = 0u64;

    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_writer",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env("FIELDVAULT_CRASH_START", next_i.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let target_acks: u32 = rng.gen_range(0..25);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut got = 0;
        let mut ready = false;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = rx.recv_timeout(left) else {
                break;
            };
            // libtest prints "test crash_child_writer ... " before the first line.
            if line.ends_with("ready") {
                ready = true;
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let ["created" | "updated", id, i] = parts.as_slice() {
                let id = DocumentId::parse(id).expect("id");
                let i: u64 = i.parse().expect("seq");
                let e = acked.entry(id).or_insert(i);
                *e = (*e).max(i);
                canaries.push(canary(i));
                next_i = next_i.max(i + 1);
                got += 1;
                if got >= target_acks {
                    break;
                }
            }
        }
        assert!(ready, "round {round}: the child never became ready");
        // Let it run a random little while past the last ack, then kill it mid-write.
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..8_000)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        drop(rx);
        reader.join().expect("reader thread");
        next_i += 100_000; // writes in flight may have used numbers we never saw

        // Straight after the crash, before anything reopens the vault.
        let hits = common::scan_for(dir.path(), &canaries);
        assert!(
            hits.is_empty(),
            "round {round}: plaintext after crash: {hits:?}"
        );

        let vault = common::reopen(dir.path(), "checker");
        assert!(
            vault.integrity_check().expect("integrity"),
            "round {round}: integrity"
        );
        for (id, min_i) in &acked {
            let doc: BearSighting = vault
                .get(id)
                .unwrap_or_else(|e| panic!("round {round}: acked document {id} missing: {e}"));
            let stored: u64 = doc.behaviour.parse().expect("behaviour is a number");
            assert!(
                stored >= *min_i,
                "round {round}: {id} lost write {min_i} (has {stored})"
            );
        }
    }
    assert!(
        acked.len() > 5,
        "the child made too few documents to mean anything"
    );
}
