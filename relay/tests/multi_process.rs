//! Several relay processes on one PostgreSQL database: one workspace, any
//! process, the same answers.
mod common;

use std::sync::Barrier;

use common::*;
use fieldvault::sync::wire;

fn two_relays() -> (Storage, Relay, Relay) {
    let storage = Storage::new(Kind::Postgres);
    let a = storage.start_relay();
    let b = storage.start_relay();
    (storage, a, b)
}

#[test]
fn push_through_one_pull_through_the_other() {
    let (_storage, a, b) = two_relays();
    let admin_a = new_workspace(&a.url);
    let admin_b = admin_a.via(&b.url);
    // Code issued through A, used through B.
    let (code_id, token) = admin_a.issue_code(600_000);
    let member_b = Device::new(&b.url, &admin_a.ws);
    enroll(&b.url, &admin_a.ws, &member_b, &code_id, &token, "tablet").expect(201, None);
    let member_a = member_b.via(&a.url);
    // Reuse through A → 409.
    let other = Device::new(&a.url, &admin_a.ws);
    enroll(&a.url, &admin_a.ws, &other, &code_id, &token, "x").expect(409, Some("conflict"));

    let first: Vec<wire::Entry> = (0..5).map(|_| entry(1, 64)).collect();
    assert_eq!(member_a.push_ok(&first), vec![1, 2, 3, 4, 5]);
    let second: Vec<wire::Entry> = (0..3).map(|_| entry(1, 64)).collect();
    assert_eq!(admin_b.push_ok(&second), vec![6, 7, 8]);
    // Duplicates through the other process keep their seqs.
    assert_eq!(
        member_b.push_ok(&[first[1].clone(), second[0].clone()]),
        vec![2, 6]
    );

    let via_a = member_a.pull_all(0);
    let via_b = member_b.pull_all(0);
    assert_eq!(via_a, via_b);
    assert_eq!(via_a.len(), 8);
    let ids: Vec<&Vec<u8>> = via_b.iter().map(|e| &e.entry.entry_id).collect();
    let expected: Vec<&Vec<u8>> = first
        .iter()
        .chain(second.iter())
        .map(|e| &e.entry_id)
        .collect();
    assert_eq!(ids, expected);

    // Envelopes posted through B are fetched through A; device lists agree.
    admin_b
        .post(
            "/key-envelopes",
            &vec![admin_b.envelope_for(&member_a.id, 1)],
        )
        .expect(204, None);
    let got: wire::KeyEnvelopes = member_a.get("/key-envelopes").expect(200, None).json();
    assert_eq!(got.envelopes.len(), 1);
    assert_eq!(snapshot(&admin_a), snapshot(&admin_b));

    // Blob chunks through both.
    let blob = random::<32>().to_vec();
    member_a
        .put_chunk(&blob, 0, 2, 1, vec![1; 100])
        .expect(204, None);
    member_b
        .put_chunk(&blob, 0, 2, 1, vec![2; 100])
        .expect(409, Some("conflict"));
    member_b
        .put_chunk(&blob, 1, 2, 1, vec![3; 100])
        .expect(204, None);
    let st: wire::BlobStatus = member_a.blob_status(&blob).expect(200, None).json();
    assert_eq!(st.present, vec![0, 1]);

    // Revocation through A applies at B; epochs too.
    admin_a.revoke(&member_a.id).expect(204, None);
    member_b.status().expect(403, Some("revoked"));
    admin_b.bump_epoch(2).expect(200, None);
    admin_a.bump_epoch(2).expect(400, Some("bad_request"));
    let st: wire::WorkspaceStatus = admin_a.status().expect(200, None).json();
    assert_eq!(st.current_epoch, 2);
}

#[test]
fn replay_window_spans_processes() {
    let (_storage, a, b) = two_relays();
    let admin = new_workspace(&a.url);
    let member = admin.enroll_member("phone");
    let via_b = member.via(&b.url);
    let signed = member.sign(
        "GET",
        &member.ws_path("/status"),
        Vec::new(),
        &SignOpts::default(),
    );
    member.send(&signed).expect(200, None);
    via_b.send(&signed).expect(401, Some("replayed"));

    // A push replayed at the other process stores nothing.
    let body = serde_json::to_vec(&wire::PushEntries {
        entries: vec![entry(1, 16)],
    })
    .expect("json");
    let push = via_b.sign(
        "POST",
        &member.ws_path("/entries"),
        body,
        &SignOpts::default(),
    );
    via_b.send(&push).expect(200, None);
    member.send(&push).expect(401, Some("replayed"));
    assert_eq!(member.pull_all(0).len(), 1);

    // The same request sent to both at once: exactly one is accepted.
    for _ in 0..10 {
        let signed = member.sign(
            "GET",
            &member.ws_path("/status"),
            Vec::new(),
            &SignOpts::default(),
        );
        let barrier = Barrier::new(2);
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let h1 = s.spawn(|| {
                barrier.wait();
                member.send(&signed).status
            });
            let h2 = s.spawn(|| {
                barrier.wait();
                via_b.send(&signed).status
            });
            vec![h1.join().expect("t1"), h2.join().expect("t2")]
        });
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![200, 401], "{statuses:?}");
    }
}

#[test]
fn an_enrollment_code_is_used_once_across_processes() {
    let (_storage, a, b) = two_relays();
    let admin = new_workspace(&a.url);
    for round in 0..8 {
        let (code_id, token) = admin.issue_code(600_000);
        let d1 = Device::new(&a.url, &admin.ws);
        let d2 = Device::new(&b.url, &admin.ws);
        let barrier = Barrier::new(2);
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let h1 = s.spawn(|| {
                barrier.wait();
                enroll(&a.url, &admin.ws, &d1, &code_id, &token, "one").status
            });
            let h2 = s.spawn(|| {
                barrier.wait();
                enroll(&b.url, &admin.ws, &d2, &code_id, &token, "two").status
            });
            vec![h1.join().expect("t1"), h2.join().expect("t2")]
        });
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![201, 409], "round {round}: {statuses:?}");
    }
    let list = admin.devices();
    assert_eq!(list.devices.len(), 1 + 8);
}

#[test]
fn concurrent_pushes_through_two_processes_are_gap_free() {
    let (_storage, a, b) = two_relays();
    let admin = new_workspace(&a.url);
    let members: Vec<Device> = (0..3)
        .map(|i| admin.enroll_member(&format!("m{i}")))
        .collect();
    // Each device pushes through A and B at once (two threads per device).
    let mut clients: Vec<Device> = Vec::new();
    for m in &members {
        clients.push(m.via(&a.url));
        clients.push(m.via(&b.url));
    }
    let acks = push_concurrently(&clients, 12, 5);
    assert_eq!(acks.len(), clients.len() * (12 * 5 + 11 * 5));
    check_sequences(&admin, &acks);
    let via_b = admin.via(&b.url);
    assert_eq!(admin.pull_all(0), via_b.pull_all(0));
    // Paging through B with small pages sees the same sequence.
    let mut cursor = 0;
    let mut paged = Vec::new();
    loop {
        let page: wire::PullResult = via_b.pull(cursor, 7).expect(200, None).json();
        if page.entries.is_empty() {
            break;
        }
        cursor = page.last_seq;
        paged.extend(page.entries);
    }
    assert_eq!(paged, admin.pull_all(0));
}

#[test]
fn relays_starting_together_share_one_schema() {
    let storage = Storage::new(Kind::Postgres);
    let relays: Vec<Relay> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| storage.start_relay())).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("start"))
            .collect()
    });
    let admin = new_workspace(&relays[0].url);
    for r in &relays {
        assert_eq!(r.health(), 200);
        let st: wire::WorkspaceStatus = admin.via(&r.url).status().expect(200, None).json();
        assert_eq!(st.current_epoch, 1);
    }
}
