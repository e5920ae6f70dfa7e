//! Publishing the audit log as it grows, side by side with what it replaced.
//!
//! A device publishes its new audit entries into its `AuditLog` segment at
//! every sync. For logs of growing length, this bench appends 10 entries and
//! times, in one run:
//! * **vault**: `Vault::publish_audit` (new entries spliced at the end of the
//!   current segment's list, sealed, stored and queued for sync). The sizes
//!   are chosen so that the current segment is nearly full (1,900 of
//!   `AUDIT_SEGMENT_ENTRIES`), the most expensive point of each segment;
//! * **whole-log reconcile**: the Automerge work of the first implementation
//!   on one document holding the whole log (load, hydrate it, add the
//!   entries, reconcile the whole log with minimal puts, save the
//!   increment), without any sealing or storage;
//! * **load only**: `AutoCommit::load` of that one document, the floor for
//!   any approach that keeps the whole log in one document (the session-7
//!   append path).
//!
//! The one-document log is rebuilt from the device's chain in a single
//! change, so it loads a little faster than a real log grown sync by sync:
//! the baseline columns are, if anything, flattering.
//!
//! Then it times one publish of a day's work (1,000 new entries at once).
//!
//! Medians of `ROUNDS`. Run: `cargo bench -p fieldvault --bench audit_publish`.
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use fieldvault::model::{AuditAction, AuditLog, DocumentKind, Envelope, Timestamp};
use fieldvault::vault::reconcile_changes;
use fieldvault::{Argon2Params, PassphraseKeyProvider, Vault, VaultOptions};

const SIZES: [usize; 4] = [1_900, 5_900, 9_900, 19_900];
const APPEND: usize = 10;
const ROUNDS: usize = 5;

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn record(v: &Vault, n: usize) {
    for _ in 0..n {
        v.record_audit(AuditAction::Exported, None, "csv")
            .expect("record");
    }
}

/// The device's whole chain as one `AuditLog` document, as it was
/// published before segments.
fn one_document_log(v: &Vault) -> Vec<u8> {
    let log = AuditLog {
        envelope: Envelope::new(
            DocumentKind::AuditLog,
            1,
            "000000",
            "staff-1",
            v.device_id(),
            Timestamp::now(),
        ),
        device_id: v.device_id(),
        first_seq: 0,
        entries: v.audit_log().expect("chain"),
        report: None,
    };
    let mut doc = AutoCommit::new();
    autosurgeon::reconcile(&mut doc, &log).expect("reconcile");
    doc.save()
}

fn main() {
    let tmp = tempfile::tempdir().expect("tmp");
    let keys = PassphraseKeyProvider::with_params("pw", Argon2Params::insecure_for_tests());
    let v = Vault::create(tmp.path(), &keys, VaultOptions::new("staff-1")).expect("create");
    println!(
        "{:>8} | {:>10} | {:>20} | {:>10} | {:>8}",
        "entries", "vault", "whole-log reconcile", "load only", "ratio"
    );
    let mut have = 0;
    for size in SIZES {
        record(&v, size - have);
        v.publish_audit().expect("publish");
        have = size;
        let (mut vault, mut whole, mut load) = (Vec::new(), Vec::new(), Vec::new());
        let bytes = one_document_log(&v);
        for _ in 0..ROUNDS {
            // The first implementation's work on the same log.
            let start = Instant::now();
            let mut doc = AutoCommit::load(&bytes).expect("load");
            let heads = doc.get_heads();
            let mut log: AuditLog = autosurgeon::hydrate(&doc).expect("hydrate");
            let extra = log.entries[..APPEND].to_vec();
            log.entries.extend(extra);
            reconcile_changes(&mut doc, &log).expect("reconcile");
            doc.commit();
            let _ = doc.save_after(&heads);
            whole.push(start.elapsed());

            let start = Instant::now();
            let _ = AutoCommit::load(&bytes).expect("load");
            load.push(start.elapsed());

            record(&v, APPEND);
            let start = Instant::now();
            assert_eq!(v.publish_audit().expect("publish"), APPEND);
            vault.push(start.elapsed());
            have += APPEND;
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (vault, whole, load) = (median(vault), median(whole), median(load));
        println!(
            "{:>8} | {:>7.1} ms | {:>17.1} ms | {:>7.1} ms | {:>7.2}x",
            size,
            ms(vault),
            ms(whole),
            ms(load),
            ms(whole) / ms(vault)
        );
    }
    println!("ratio = whole-log reconcile / vault (higher is better for the vault)");
    a_days_work(&keys);
}

/// A device that recorded a day's work offline publishes it in one sync:
/// `DAY` new entries appended to its segment (as in the first pass of the
/// sync bench).
fn a_days_work(keys: &PassphraseKeyProvider) {
    const DAY: usize = 1_000;
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let tmp = tempfile::tempdir().expect("tmp");
        let v = Vault::create(tmp.path(), keys, VaultOptions::new("staff-1")).expect("create");
        // The segment exists already (published when the device joined).
        record(&v, 1);
        v.publish_audit().expect("publish");
        record(&v, DAY);
        let start = Instant::now();
        assert_eq!(v.publish_audit().expect("publish"), DAY);
        times.push(start.elapsed());
    }
    println!(
        "publishing {DAY} new entries at once: {:.1} ms (median of {ROUNDS})",
        median(times).as_secs_f64() * 1000.0
    );
}
