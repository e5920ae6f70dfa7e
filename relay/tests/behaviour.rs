//! Behaviour of one relay process, each test against SQLite and PostgreSQL.
mod common;

use std::time::Duration;

use common::*;
use fieldvault::sync::wire::{self, b64, chunk_batch};

both_backends!(
    happy_path,
    bad_input_stores_nothing,
    bad_requests_refused,
    enrollment_codes,
    enrolling_again_needs_the_devices_key,
    revocation_and_rotation,
    impersonation_is_refused,
    logs_carry_no_secrets,
    concurrent_pushes_single_relay,
    database_copy_holds_only_hashes_and_public_keys,
    restart_keeps_state,
    large_entries_are_paged_by_size,
    unknown_senders_are_answered_before_their_body,
);

fn happy_path(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);

    // Enrollment.
    let member = admin.enroll_member("tablet 2");
    let list = admin.devices();
    assert_eq!(list.current_epoch, 1);
    assert_eq!(list.lease_hours, 72);
    assert_eq!(list.devices.len(), 2);
    let info = list
        .devices
        .iter()
        .find(|d| d.keys.device_id == member.id)
        .expect("member listed");
    assert_eq!(info.role, wire::Role::Member);
    assert_eq!(info.keys, member.keys());
    assert_eq!(info.binding, binding_for(&member));
    assert_eq!(info.device_name, "tablet 2");
    assert_eq!(info.code_id.len(), 16);
    assert!(info.key_epochs.is_empty());
    assert!(info.revoked_at_ms.is_none() && info.wipe_receipt.is_none());
    let admin_info = list
        .devices
        .iter()
        .find(|d| d.keys.device_id == admin.id)
        .expect("admin listed");
    assert_eq!(admin_info.role, wire::Role::Admin);
    assert!(
        admin_info.last_seen_ms.is_some(),
        "last_seen recorded for the admin"
    );

    // Key envelopes: the bare-array form (protocol.md) and the object form (wire::KeyEnvelopes).
    let e0 = admin.envelope_for(&member.id, 0);
    let e1 = admin.envelope_for(&member.id, 1);
    admin
        .post("/key-envelopes", &vec![e0.clone()])
        .expect(204, None);
    admin
        .post(
            "/key-envelopes",
            &wire::KeyEnvelopes {
                envelopes: vec![e1.clone()],
            },
        )
        .expect(204, None);
    let got: wire::KeyEnvelopes = member.get("/key-envelopes").expect(200, None).json();
    assert_eq!(got.envelopes, vec![e0, e1.clone()]);
    // Re-posting replaces (the admin is the authority), still one per epoch.
    let e1b = admin.envelope_for(&member.id, 1);
    admin
        .post("/key-envelopes", &vec![e1b.clone()])
        .expect(204, None);
    let got: wire::KeyEnvelopes = member.get("/key-envelopes").expect(200, None).json();
    assert_eq!(got.envelopes.len(), 2);
    assert_eq!(got.envelopes[1], e1b);
    let info = admin
        .devices()
        .devices
        .into_iter()
        .find(|d| d.keys.device_id == member.id)
        .expect("member");
    assert_eq!(info.key_epochs, vec![0, 1]);
    assert!(
        info.last_seen_ms.is_some(),
        "last_seen recorded for the member"
    );
    // The admin has none of its own.
    let none: wire::KeyEnvelopes = admin.get("/key-envelopes").expect(200, None).json();
    assert!(none.envelopes.is_empty());

    // Status.
    let status: wire::WorkspaceStatus = member.status().expect(200, None).json();
    assert_eq!(
        status,
        wire::WorkspaceStatus {
            current_epoch: 1,
            lease_hours: 72,
            revoked: false
        }
    );

    // Push: new entries get 1, 2, 3.
    let (a, b, c, d) = (entry(1, 100), entry(1, 200), entry(1, 50), entry(1, 10));
    assert_eq!(
        member.push_ok(&[a.clone(), b.clone(), c.clone()]),
        vec![1, 2, 3]
    );
    // Duplicates in a later request and inside one request: original seqs, stored once.
    assert_eq!(
        admin.push_ok(&[b.clone(), d.clone(), b.clone(), d.clone(), a.clone()]),
        vec![2, 4, 2, 4, 1]
    );
    // An empty push is fine.
    assert!(member.push_ok(&[]).is_empty());
    // A retry with different bytes under the same id keeps the first copy.
    let mut a_again = a.clone();
    a_again.sealed = vec![9; 7];
    assert_eq!(member.push_ok(&[a_again]), vec![1]);

    // Pull with cursor and limits.
    let page: wire::PullResult = member.pull(0, 2).expect(200, None).json();
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(page.last_seq, 2);
    assert_eq!(page.entries[0].entry, a);
    assert_eq!(page.entries[0].device_id, member.id);
    let page: wire::PullResult = member.pull(page.last_seq, 1000).expect(200, None).json();
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert_eq!(page.entries[0].entry, c);
    assert_eq!(page.entries[1].entry, d);
    assert_eq!(page.entries[1].device_id, admin.id);
    let page: wire::PullResult = member.pull(4, 10).expect(200, None).json();
    assert!(page.entries.is_empty());
    assert_eq!(page.last_seq, 4);
    // Defaults (no query) work too.
    let page: wire::PullResult = member.get("/entries").expect(200, None).json();
    assert_eq!(page.entries.len(), 4);
    assert_eq!(admin.pull_all(0).len(), 4, "duplicates stored once");
    // `others_only` leaves out the requester's own uploads.
    let page: wire::PullResult = member
        .get("/entries?after=0&limit=100&others_only=true")
        .expect(200, None)
        .json();
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4],
        "only the admin's entry"
    );
    let page: wire::PullResult = admin
        .get("/entries?after=0&limit=100&others_only=true")
        .expect(200, None)
        .json();
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // A page that holds everything moves the cursor past the requester's
    // own entries (seq 4 is the admin's), so it does not scan them again.
    assert_eq!(page.last_seq, 4);
    let page: wire::PullResult = admin
        .get("/entries?after=3&limit=100&others_only=true")
        .expect(200, None)
        .json();
    assert!(page.entries.is_empty());
    assert_eq!(page.last_seq, 4);
    // A full page (limit reached) stops at its last entry.
    let page: wire::PullResult = admin
        .get("/entries?after=0&limit=2&others_only=true")
        .expect(200, None)
        .json();
    assert_eq!(page.last_seq, 2);

    // Blobs: upload 0 and 2 of 3, status, resume with 1, idempotent repeat, conflicts.
    let blob = random::<32>().to_vec();
    let chunks: Vec<Vec<u8>> = (0..3).map(|i| vec![i as u8 + 1; 1000 + i]).collect();
    member.blob_status(&blob).expect(404, Some("not_found"));
    member
        .put_chunk(&blob, 0, 3, 1, chunks[0].clone())
        .expect(204, None);
    member
        .put_chunk(&blob, 2, 3, 1, chunks[2].clone())
        .expect(204, None);
    let st: wire::BlobStatus = admin.blob_status(&blob).expect(200, None).json();
    assert_eq!(
        st,
        wire::BlobStatus {
            count: 3,
            present: vec![0, 2]
        }
    );
    // The same in one request for several blobs: in order, null for none.
    let unknown = random::<32>().to_vec();
    let many: wire::BlobStatuses = member
        .blob_statuses(&[unknown.clone(), blob.clone(), unknown])
        .expect(200, None)
        .json();
    assert_eq!(many.statuses, vec![None, Some(st.clone()), None]);
    let none: wire::BlobStatuses = member.blob_statuses(&[]).expect(200, None).json();
    assert!(none.statuses.is_empty());
    let first_missing = (0..st.count)
        .find(|i| !st.present.contains(i))
        .expect("one missing");
    assert_eq!(first_missing, 1);
    member
        .put_chunk(&blob, 1, 3, 1, chunks[1].clone())
        .expect(204, None);
    member
        .put_chunk(&blob, 0, 3, 1, chunks[0].clone())
        .expect(204, None);
    member
        .put_chunk(&blob, 0, 3, 1, vec![0xEE; 1000])
        .expect(409, Some("conflict"));
    member
        .put_chunk(&blob, 0, 4, 1, chunks[0].clone())
        .expect(409, Some("conflict"));
    let st: wire::BlobStatus = admin.blob_status(&blob).expect(200, None).json();
    assert_eq!(
        st,
        wire::BlobStatus {
            count: 3,
            present: vec![0, 1, 2]
        }
    );
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(
            &admin.get_chunk(&blob, i as u32).expect(200, None).body,
            chunk
        );
    }
    admin.get_chunk(&blob, 3).expect(404, Some("not_found"));
    // A full-size chunk (256 KiB + AEAD overhead) is accepted.
    let big_blob = random::<32>().to_vec();
    member
        .put_chunk(&big_blob, 0, 1, 1, vec![7; wire::CHUNK_SIZE + 28])
        .expect(204, None);
    assert_eq!(
        admin.get_chunk(&big_blob, 0).expect(200, None).body.len(),
        wire::CHUNK_SIZE + 28
    );

    // Batches: the next chunk of several blobs in one request, then several
    // chunks fetched in one (a slot marks the chunk the relay lacks).
    let (a, b) = (random::<32>().to_vec(), random::<32>().to_vec());
    member.put_chunks(&[]).expect(204, None);
    member
        .put_chunks(&[
            upload(&a, 0, 2, &[0xA0; 500]),
            upload(&b, 0, 1, &[0xB0; wire::CHUNK_SIZE + 28]),
        ])
        .expect(204, None);
    member
        .put_chunks(&[
            upload(&a, 1, 2, &[0xA1; 700]),
            upload(&b, 0, 1, &[0xB0; wire::CHUNK_SIZE + 28]),
        ])
        .expect(204, None);
    let st: wire::BlobStatuses = admin
        .blob_statuses(&[a.clone(), b.clone()])
        .expect(200, None)
        .json();
    assert_eq!(
        st.statuses,
        vec![
            Some(wire::BlobStatus {
                count: 2,
                present: vec![0, 1]
            }),
            Some(wire::BlobStatus {
                count: 1,
                present: vec![0]
            }),
        ]
    );
    let wanted = [
        (a.clone(), 1),
        (b.clone(), 0),
        (a.clone(), 2),
        (blob.clone(), 2),
    ];
    let fetched = admin.fetch_chunks(&wanted);
    assert_eq!(
        chunk_batch::decode_fetched(&fetched.expect(200, None).body, wanted.len()).expect("framed"),
        vec![
            Some(vec![0xA1; 700]),
            Some(vec![0xB0; wire::CHUNK_SIZE + 28]),
            None,
            Some(chunks[2].clone()),
        ]
    );

    assert_eq!(relay.health(), 200);
}

fn upload(blob_id: &[u8], index: u32, count: u32, sealed: &[u8]) -> chunk_batch::ChunkUpload {
    chunk_batch::ChunkUpload {
        blob_id: blob_id.to_vec(),
        index,
        count,
        epoch: 1,
        sealed: sealed.to_vec(),
    }
}

/// Every bad request: the right status and error code, nothing stored, relay still serving.
fn bad_input_stores_nothing(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let member = admin.enroll_member("phone");
    member.push_ok(&[entry(1, 64), entry(1, 64)]);
    let before = snapshot(&admin);
    let unchanged = |what: &str| {
        assert_eq!(snapshot(&admin), before, "state changed after: {what}");
        member.status().expect(200, None);
    };

    // Oversized bodies → 413.
    let big = vec![b'x'; wire::MAX_ENTRIES_BODY + 1];
    member
        .request("POST", "/entries", big)
        .expect(413, Some("payload_too_large"));
    unchanged("oversized entries body");
    let mut many = Vec::new();
    for _ in 0..(wire::MAX_ENTRIES_PER_PUSH + 1) {
        many.push(entry(1, 1));
    }
    member.push(&many).expect(413, Some("payload_too_large"));
    unchanged("too many entries");
    let blob = random::<32>().to_vec();
    member
        .put_chunk(&blob, 0, 1, 1, vec![1; wire::MAX_CHUNK_BODY + 1])
        .expect(413, Some("payload_too_large"));
    member.blob_status(&blob).expect(404, None);
    unchanged("oversized chunk");

    // Malformed JSON → 400 with a clear message.
    let r = member.request("POST", "/entries", b"{\"entries\": [".to_vec());
    r.expect(400, Some("bad_request"));
    assert!(
        r.error().message.contains("malformed JSON"),
        "{}",
        r.error().message
    );
    member
        .request(
            "POST",
            "/entries",
            b"{\"entries\": [{\"entry_id\": 5}]}".to_vec(),
        )
        .expect(400, Some("bad_request"));
    member
        .request("POST", "/entries", b"not json".to_vec())
        .expect(400, Some("bad_request"));
    unchanged("malformed JSON");

    // Invalid field sizes → 400.
    let mut bad = entry(1, 8);
    bad.entry_id = vec![1; 3];
    member
        .push(&[entry(1, 8), bad])
        .expect(400, Some("bad_request"));
    let mut empty = entry(1, 8);
    empty.sealed.clear();
    member.push(&[empty]).expect(400, Some("bad_request"));
    unchanged("invalid entries");

    // An entry of an epoch that has not started → 400; epoch 0 too.
    member
        .push(&[entry(1, 8), entry(2, 8)])
        .expect(400, Some("bad_request"));
    member.push(&[entry(0, 8)]).expect(400, Some("bad_request"));
    member
        .put_chunk(&blob, 0, 1, 2, vec![1; 10])
        .expect(400, Some("bad_request"));
    unchanged("future epoch");

    // Bad signature, tampered body, stale or future timestamp → 401.
    let opts = SignOpts {
        corrupt_signature: true,
        ..Default::default()
    };
    let body = serde_json::to_vec(&wire::PushEntries {
        entries: vec![entry(1, 8)],
    })
    .expect("json");
    member
        .request_with("POST", "/entries", body.clone(), &opts)
        .expect(401, Some("unauthorized"));
    let opts = SignOpts {
        signed_body: Some(b"{\"entries\":[]}".to_vec()),
        ..Default::default()
    };
    member
        .request_with("POST", "/entries", body.clone(), &opts)
        .expect(401, Some("unauthorized"));
    for skew in [
        -(wire::MAX_CLOCK_SKEW_MS + 5_000),
        wire::MAX_CLOCK_SKEW_MS + 5_000,
    ] {
        let opts = SignOpts {
            timestamp_ms: Some(now_ms() + skew),
            ..Default::default()
        };
        member
            .request_with("POST", "/entries", body.clone(), &opts)
            .expect(401, Some("unauthorized"));
    }
    // The signature covers the path and query: a re-targeted request fails.
    let signed = member.sign(
        "GET",
        &member.ws_path("/entries?after=0&limit=5"),
        Vec::new(),
        &SignOpts::default(),
    );
    let mut moved = signed.clone();
    moved.path = member.ws_path("/entries?after=1&limit=5");
    member.send(&moved).expect(401, Some("unauthorized"));
    // Missing or malformed headers.
    raw(
        "GET",
        &format!("{}{}", relay.url, member.ws_path("/status")),
        Vec::new(),
    )
    .expect(401, Some("unauthorized"));
    let opts = SignOpts {
        nonce: Some("short".into()),
        ..Default::default()
    };
    member
        .request_with("GET", "/status", Vec::new(), &opts)
        .expect(401, Some("unauthorized"));
    unchanged("bad signatures");

    // Replayed nonce → 401 "replayed", for a read and for a write.
    let signed = member.sign(
        "GET",
        &member.ws_path("/status"),
        Vec::new(),
        &SignOpts::default(),
    );
    member.send(&signed).expect(200, None);
    member.send(&signed).expect(401, Some("replayed"));
    let push = member.sign(
        "POST",
        &member.ws_path("/entries"),
        body.clone(),
        &SignOpts::default(),
    );
    member.send(&push).expect(200, None);
    let after_first = snapshot(&admin);
    assert_eq!(after_first.entries.len(), before.entries.len() + 1);
    member.send(&push).expect(401, Some("replayed"));
    assert_eq!(
        snapshot(&admin),
        after_first,
        "a replayed push stored something"
    );
    // The same nonce with a fresh signature is still a replay.
    let nonce = signed
        .headers
        .iter()
        .find(|(k, _)| k == wire::HEADER_NONCE)
        .map(|(_, v)| v.clone());
    let opts = SignOpts {
        nonce,
        ..Default::default()
    };
    member
        .request_with("GET", "/status", Vec::new(), &opts)
        .expect(401, Some("replayed"));
    let before = after_first;
    let unchanged = |what: &str| {
        assert_eq!(snapshot(&admin), before, "state changed after: {what}");
        member.status().expect(200, None);
    };

    // Unknown workspace → 404; unknown device → 401.
    let mut stranger = Device::new(&relay.url, &uuid::Uuid::new_v4().to_string());
    stranger.push(&[entry(1, 8)]).expect(404, Some("not_found"));
    stranger.ws = admin.ws.clone();
    stranger
        .push(&[entry(1, 8)])
        .expect(401, Some("unauthorized"));
    stranger.status().expect(401, Some("unauthorized"));
    unchanged("unknown workspace/device");

    // A member on admin routes → 403 "forbidden".
    let code = wire::IssueCode {
        code_id: random::<16>().to_vec(),
        token_hash: random::<32>().to_vec(),
        expires_at_ms: now_ms() + 60_000,
    };
    member.post("/codes", &code).expect(403, Some("forbidden"));
    member.get("/devices").expect(403, Some("forbidden"));
    member
        .post("/key-envelopes", &vec![admin.envelope_for(&member.id, 1)])
        .expect(403, Some("forbidden"));
    member.revoke(&admin.id).expect(403, Some("forbidden"));
    member.bump_epoch(2).expect(403, Some("forbidden"));
    unchanged("non-admin");

    // Epoch out of order → 400.
    admin.bump_epoch(3).expect(400, Some("bad_request"));
    admin.bump_epoch(1).expect(400, Some("bad_request"));
    admin.bump_epoch(0).expect(400, Some("bad_request"));
    admin
        .request("POST", "/epochs", b"{\"epoch\": \"two\"}".to_vec())
        .expect(400, Some("bad_request"));
    unchanged("epoch order");

    // Key envelopes for unknown devices → 404 (all or nothing).
    admin
        .post(
            "/key-envelopes",
            &vec![
                admin.envelope_for(&member.id, 3),
                admin.envelope_for("no-such-device", 3),
            ],
        )
        .expect(404, Some("not_found"));
    let mut forged = admin.envelope_for(&member.id, 3);
    forged.from_device = member.id.clone();
    admin
        .post("/key-envelopes", &vec![forged])
        .expect(400, Some("bad_request"));
    admin
        .request("POST", "/key-envelopes", b"{\"nope\": 1}".to_vec())
        .expect(400, Some("bad_request"));
    unchanged("bad envelopes");

    // Pull limits.
    member
        .pull(0, wire::MAX_PULL_LIMIT + 1)
        .expect(400, Some("bad_request"));
    member.pull(0, 0).expect(400, Some("bad_request"));
    member.pull(-1, 10).expect(400, Some("bad_request"));
    member
        .get("/entries?after=x")
        .expect(400, Some("bad_request"));

    // Chunk parameters.
    member
        .put_chunk(&blob, 1, 1, 1, vec![1; 10])
        .expect(400, Some("bad_request"));
    member
        .put_chunk(&blob, 0, 0, 1, vec![1; 10])
        .expect(400, Some("bad_request"));
    member
        .put_chunk(&blob, 0, 1, 1, Vec::new())
        .expect(400, Some("bad_request"));
    member
        .put_chunk(&[1, 2, 3], 0, 1, 1, vec![1; 10])
        .expect(400, Some("bad_request"));
    member
        .request(
            "PUT",
            &format!("/blobs/{}/chunks/0", b64::encode(&blob)),
            vec![1; 10],
        )
        .expect(400, Some("bad_request"));
    member
        .request(
            "PUT",
            &format!("/blobs/{}/chunks/x?count=1&epoch=1", b64::encode(&blob)),
            vec![1; 10],
        )
        .expect(400, None);
    member.blob_status(&blob).expect(404, None);
    unchanged("chunk parameters");

    // Batched blob status: too many ids → 413, a short id or a malformed
    // body → 400, an unknown workspace → 404.
    let too_many = vec![random::<32>().to_vec(); wire::MAX_BLOB_STATUS_IDS + 1];
    member
        .blob_statuses(&too_many)
        .expect(413, Some("payload_too_large"));
    member
        .blob_statuses(&[blob.clone(), vec![1, 2, 3]])
        .expect(400, Some("bad_request"));
    member
        .request("POST", "/blob-status", b"{\"blob_ids\": [\"!!\"]}".to_vec())
        .expect(400, Some("bad_request"));
    member
        .request("POST", "/blob-status", b"[]".to_vec())
        .expect(400, Some("bad_request"));
    Device::new(&relay.url, &uuid::Uuid::new_v4().to_string())
        .blob_statuses(std::slice::from_ref(&blob))
        .expect(404, Some("not_found"));
    unchanged("batched blob status");

    // Chunk batches: malformed framing, two chunks of one blob, too many
    // chunks, an oversized body or chunk, bad positions or epoch, a short
    // blob id → 4xx; a batch with one refused chunk stores none of them.
    // The refused chunks' blob ids sort after the good one's, so PostgreSQL
    // (which writes a batch in blob-id order) has stored the good one
    // before it meets the refusal and must roll it back.
    let (a, b) = (vec![0x01; 32], vec![0xFF; 32]);
    let good = upload(&a, 0, 1, &[1; 100]);
    let mut cut = chunk_batch::encode_uploads(std::slice::from_ref(&good));
    cut.pop();
    member
        .request("POST", "/chunks", cut)
        .expect(400, Some("bad_request"));
    member
        .put_chunks(&[good.clone(), upload(&a, 0, 1, &[2; 100])])
        .expect(400, Some("bad_request"));
    let many: Vec<_> = (0..=chunk_batch::MAX_CHUNKS_PER_BATCH)
        .map(|_| upload(&random::<32>(), 0, 1, &[3; 10]))
        .collect();
    member
        .put_chunks(&many)
        .expect(413, Some("payload_too_large"));
    member
        .request(
            "POST",
            "/chunks",
            vec![0; chunk_batch::MAX_CHUNK_BATCH_BODY + 1],
        )
        .expect(413, Some("payload_too_large"));
    member
        .put_chunks(&[
            good.clone(),
            upload(&b, 0, 1, &[4; wire::MAX_CHUNK_BODY + 1]),
        ])
        .expect(413, Some("payload_too_large"));
    for bad in [
        upload(&b, 1, 1, &[5; 10]),
        upload(&b, 0, 0, &[5; 10]),
        upload(&b, 0, 1, &[]),
        upload(&[1, 2, 3], 0, 1, &[5; 10]),
    ] {
        member
            .put_chunks(&[good.clone(), bad])
            .expect(400, Some("bad_request"));
    }
    let mut future_epoch = upload(&b, 0, 1, &[6; 10]);
    future_epoch.epoch = 9;
    member
        .put_chunks(&[good.clone(), future_epoch])
        .expect(400, None);
    // A conflict with a stored chunk refuses the whole batch.
    let stored = vec![0xFE; 32];
    member
        .put_chunks(&[upload(&stored, 0, 1, &[8; 10])])
        .expect(204, None);
    member
        .put_chunks(&[good.clone(), upload(&stored, 0, 1, &[7; 10])])
        .expect(409, Some("conflict"));
    let st: wire::BlobStatuses = member
        .blob_statuses(&[a.clone(), b.clone()])
        .expect(200, None)
        .json();
    assert_eq!(st.statuses, vec![None, None], "no chunk of a refused batch");
    // Chunk fetch: too many, a short id, malformed → 4xx.
    let wanted: Vec<(Vec<u8>, u32)> = (0..=chunk_batch::MAX_CHUNKS_PER_FETCH)
        .map(|i| (blob.clone(), i as u32))
        .collect();
    member
        .fetch_chunks(&wanted)
        .expect(413, Some("payload_too_large"));
    member
        .fetch_chunks(&[(vec![1, 2, 3], 0)])
        .expect(400, Some("bad_request"));
    member
        .request("POST", "/chunk-fetch", b"{\"chunks\": 3}".to_vec())
        .expect(400, Some("bad_request"));
    member.fetch_chunks(&[]).expect(400, Some("bad_request"));
    unchanged("chunk batches");

    // Unknown routes and methods: JSON errors too.
    raw("GET", &format!("{}/v2/nothing", relay.url), Vec::new()).expect(404, Some("not_found"));
    raw(
        "DELETE",
        &format!("{}/v1/workspaces", relay.url),
        Vec::new(),
    )
    .expect(405, None);
    unchanged("routing");
    assert_eq!(relay.health(), 200);
}

/// Workspace creation and enrollment input errors.
fn bad_requests_refused(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let before = snapshot(&admin);

    // Operator token.
    let other = Device::new(&relay.url, &uuid::Uuid::new_v4().to_string());
    create_workspace_with(
        &relay.url,
        "wrong-token-wrong-token",
        &other.ws,
        &other.keys(),
    )
    .expect(401, Some("unauthorized"));
    let r = raw(
        "POST",
        &format!("{}/v1/workspaces", relay.url),
        b"{}".to_vec(),
    );
    r.expect(401, Some("unauthorized"));
    // An existing id → 409, and the admin is not replaced.
    create_workspace_with(&relay.url, OPERATOR_TOKEN, &admin.ws, &other.keys())
        .expect(409, Some("conflict"));
    // Bad fields → 400.
    let mut keys = other.keys();
    keys.signing_public.truncate(10);
    create_workspace_with(&relay.url, OPERATOR_TOKEN, &other.ws, &keys)
        .expect(400, Some("bad_request"));
    create_workspace_with(&relay.url, OPERATOR_TOKEN, "bad/id", &other.keys())
        .expect(400, Some("bad_request"));
    create_workspace_with(&relay.url, OPERATOR_TOKEN, "bad id!", &other.keys())
        .expect(400, Some("bad_request"));
    let r = send_operator(&relay.url, b"{\"workspace_id\": ".to_vec());
    r.expect(400, Some("bad_request"));
    assert!(r.error().message.contains("malformed JSON"));
    let r = send_operator(&relay.url, vec![b' '; 100 * 1024]);
    r.expect(413, Some("payload_too_large"));
    other.status().expect(404, Some("not_found"));
    assert_eq!(snapshot(&admin), before);

    // Issue code: bad sizes and past expiry → 400.
    let mut code = wire::IssueCode {
        code_id: random::<16>().to_vec(),
        token_hash: random::<32>().to_vec(),
        expires_at_ms: now_ms() - 1,
    };
    admin.post("/codes", &code).expect(400, Some("bad_request"));
    code.expires_at_ms = now_ms() + 60_000;
    code.token_hash.truncate(31);
    admin.post("/codes", &code).expect(400, Some("bad_request"));
    // A code id issued twice → 409.
    let (code_id, _token) = admin.issue_code(60_000);
    let again = wire::IssueCode {
        code_id,
        token_hash: random::<32>().to_vec(),
        expires_at_ms: now_ms() + 60_000,
    };
    admin.post("/codes", &again).expect(409, Some("conflict"));
    assert_eq!(snapshot(&admin), before);
    assert_eq!(relay.health(), 200);
}

fn send_operator(base: &str, body: Vec<u8>) -> Resp {
    let resp = http()
        .post(format!("{base}/v1/workspaces"))
        .bearer_auth(OPERATOR_TOKEN)
        .body(body)
        .send()
        .expect("request");
    let status = resp.status().as_u16();
    Resp {
        status,
        body: resp.bytes().expect("body").to_vec(),
    }
}

/// Single-use codes: reuse 409, unknown 404, expired 410, wrong token 401 —
/// each storing nothing.
fn enrollment_codes(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let (code_id, token) = admin.issue_code(600_000);
    let before = snapshot(&admin);
    let first = Device::new(&relay.url, &admin.ws);

    // Wrong token → 401; unknown code → 404; unknown workspace → 404.
    enroll(
        &relay.url,
        &admin.ws,
        &first,
        &code_id,
        &random::<32>(),
        "x",
    )
    .expect(401, Some("unauthorized"));
    enroll(&relay.url, &admin.ws, &first, &random::<16>(), &token, "x")
        .expect(404, Some("not_found"));
    enroll(&relay.url, "no-such-ws", &first, &code_id, &token, "x").expect(404, Some("not_found"));
    // Malformed → 400.
    raw(
        "POST",
        &format!("{}/v1/workspaces/{}/enroll", relay.url, admin.ws),
        b"{".to_vec(),
    )
    .expect(400, Some("bad_request"));
    // A device id already enrolled (the admin's) → 409, and the code stays usable.
    let clash = Device::new(&relay.url, &admin.ws);
    let mut body = serde_json::to_value(wire::Enroll {
        code_id: code_id.clone(),
        enroll_token: token.clone(),
        device: clash.keys(),
        binding: binding_for(&clash),
        device_name: String::new(),
        app_version: String::new(),
        possession: None,
        possession_at_ms: None,
    })
    .expect("json");
    body["device"]["device_id"] = serde_json::Value::String(admin.id.clone());
    raw(
        "POST",
        &format!("{}/v1/workspaces/{}/enroll", relay.url, admin.ws),
        serde_json::to_vec(&body).expect("json"),
    )
    .expect(409, Some("conflict"));
    assert_eq!(
        snapshot(&admin),
        before,
        "a refused enrollment stored something"
    );

    // The first use works; reuse → 409 (another device, or the same again).
    enroll(&relay.url, &admin.ws, &first, &code_id, &token, "first").expect(201, None);
    let after = snapshot(&admin);
    assert_eq!(after.devices.len(), 2);
    let second = Device::new(&relay.url, &admin.ws);
    enroll(&relay.url, &admin.ws, &second, &code_id, &token, "second")
        .expect(409, Some("conflict"));
    enroll(&relay.url, &admin.ws, &first, &code_id, &token, "first").expect(409, Some("conflict"));
    second.status().expect(401, Some("unauthorized"));
    assert_eq!(snapshot(&admin), after);

    // Expired → 410.
    let (short_id, short_token) = admin.issue_code(1_000);
    std::thread::sleep(Duration::from_millis(1_300));
    enroll(
        &relay.url,
        &admin.ws,
        &second,
        &short_id,
        &short_token,
        "late",
    )
    .expect(410, Some("expired"));
    assert_eq!(snapshot(&admin), after);
    first.status().expect(200, None);
}

/// A registered member whose pairing broke off enrolls again (with the code
/// it used, or a fresh one) only by signing with its registered key; its
/// stale key envelopes go, and a revoked device stays out.
fn enrolling_again_needs_the_devices_key(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let (code_id, token) = admin.issue_code(600_000);
    let member = Device::new(&relay.url, &admin.ws);
    enroll(&relay.url, &admin.ws, &member, &code_id, &token, "phone").expect(201, None);
    admin
        .post("/key-envelopes", &vec![admin.envelope_for(&member.id, 0)])
        .expect(204, None);
    let record = |admin: &Device| {
        let list = admin.devices().devices;
        assert_eq!(
            list.iter()
                .filter(|d| d.keys.device_id == member.id)
                .count(),
            1
        );
        list.into_iter()
            .find(|d| d.keys.device_id == member.id)
            .expect("member listed")
    };

    // Refused, storing nothing: unsigned (as before), signed by another
    // key, or a signature that does not verify.
    let (fresh_id, fresh_token) = admin.issue_code(600_000);
    let before = snapshot(&admin);
    enroll(&relay.url, &admin.ws, &member, &fresh_id, &fresh_token, "x")
        .expect(409, Some("conflict"));
    let impostor = Device::new(&relay.url, &admin.ws);
    enroll_signed(
        &member,
        &impostor,
        random::<32>().to_vec(),
        &fresh_id,
        &fresh_token,
    )
    .expect(409, Some("conflict"));
    let mut bad = wire::Enroll {
        code_id: fresh_id.clone(),
        enroll_token: fresh_token.clone(),
        device: member.keys(),
        binding: binding_for(&member),
        device_name: String::new(),
        app_version: String::new(),
        possession: Some(vec![7; 64]),
        possession_at_ms: Some(now_ms()),
    };
    raw(
        "POST",
        &format!("{}/v1/workspaces/{}/enroll", relay.url, admin.ws),
        serde_json::to_vec(&bad).expect("json"),
    )
    .expect(401, Some("unauthorized"));
    bad.possession = Some(b"short".to_vec());
    raw(
        "POST",
        &format!("{}/v1/workspaces/{}/enroll", relay.url, admin.ws),
        serde_json::to_vec(&bad).expect("json"),
    )
    .expect(401, Some("unauthorized"));
    // The device's own valid signature, made long ago or "in the future"
    // (a captured enrollment replayed later): refused.
    for skew in [-10 * 60_000, 10 * 60_000] {
        let body = signed_enroll_body(
            &member,
            &member,
            random::<32>().to_vec(),
            &fresh_id,
            &fresh_token,
            now_ms() + skew,
        );
        send_enroll(&member, body).expect(401, Some("unauthorized"));
    }
    // A signature without its time (a library before it) proves nothing.
    let mut untimed = serde_json::to_value(&bad).expect("json");
    untimed["possession_at_ms"] = serde_json::Value::Null;
    raw(
        "POST",
        &format!("{}/v1/workspaces/{}/enroll", relay.url, admin.ws),
        serde_json::to_vec(&untimed).expect("json"),
    )
    .expect(409, Some("conflict"));
    assert_eq!(
        snapshot(&admin),
        before,
        "a refused re-enrollment stored something"
    );
    assert_eq!(record(&admin).key_epochs, vec![0]);

    // With the code it used itself: new pairing key, envelopes cleared.
    let second_key = random::<32>().to_vec();
    enroll_signed(&member, &member, second_key.clone(), &code_id, &token).expect(201, None);
    let again = record(&admin);
    assert_eq!(again.keys.agreement_public, second_key);
    assert_eq!(again.code_id, code_id);
    assert!(again.key_epochs.is_empty(), "stale envelopes kept");
    member.status().expect(200, None); // same signing key, still a member
                                       // The same request again (its answer lost, or replayed) changes
                                       // nothing: the envelope delivered meanwhile stays.
    admin
        .post("/key-envelopes", &vec![admin.envelope_for(&member.id, 0)])
        .expect(204, None);
    enroll_signed(&member, &member, second_key.clone(), &code_id, &token).expect(201, None);
    assert_eq!(
        record(&admin).key_epochs,
        vec![0],
        "a repeated request cleared envelopes"
    );

    // A captured request (this pairing's, over the code it used) ...
    let captured_key = random::<32>().to_vec();
    let captured = signed_enroll_body(
        &member,
        &member,
        captured_key.clone(),
        &code_id,
        &token,
        now_ms(),
    );
    send_enroll(&member, captured.clone()).expect(201, None);
    assert_eq!(record(&admin).keys.agreement_public, captured_key);
    // ... presented again as it is: refused as replayed.
    send_enroll(&member, captured.clone()).expect(401, Some("replayed"));

    // With a fresh code: the admin finds it under the new code id, and the
    // code is now used up for anyone else.
    let third_key = random::<32>().to_vec();
    enroll_signed(&member, &member, third_key.clone(), &fresh_id, &fresh_token).expect(201, None);
    let again = record(&admin);
    assert_eq!(
        (again.keys.agreement_public, again.code_id),
        (third_key.clone(), fresh_id.clone())
    );
    // The captured request replayed now would take the device back to the
    // abandoned pairing key and clear its envelopes: refused, nothing changes.
    admin
        .post("/key-envelopes", &vec![admin.envelope_for(&member.id, 0)])
        .expect(204, None);
    let settled = snapshot(&admin);
    send_enroll(&member, captured).expect(401, Some("replayed"));
    assert_eq!(
        snapshot(&admin),
        settled,
        "a replayed enrollment changed the record"
    );
    assert_eq!(record(&admin).keys.agreement_public, third_key);
    let other = Device::new(&relay.url, &admin.ws);
    enroll(&relay.url, &admin.ws, &other, &fresh_id, &fresh_token, "y")
        .expect(409, Some("conflict"));

    // Revoked: never again, even with its key.
    admin.revoke(&member.id).expect(204, None);
    let (late_id, late_token) = admin.issue_code(600_000);
    let revoked = snapshot(&admin);
    enroll_signed(
        &member,
        &member,
        random::<32>().to_vec(),
        &late_id,
        &late_token,
    )
    .expect(409, Some("conflict"));
    assert_eq!(snapshot(&admin), revoked);
}

fn revocation_and_rotation(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let lost = admin.enroll_member("lost phone");
    let kept = admin.enroll_member("kept tablet");
    admin
        .post(
            "/key-envelopes",
            &vec![
                admin.envelope_for(&lost.id, 1),
                admin.envelope_for(&kept.id, 1),
            ],
        )
        .expect(204, None);
    lost.push_ok(&[entry(1, 32)]);

    // Revoking: unknown 404, self 400, member 403.
    admin
        .revoke("no-such-device")
        .expect(404, Some("not_found"));
    admin.revoke(&admin.id).expect(400, Some("bad_request"));
    kept.revoke(&lost.id).expect(403, Some("forbidden"));
    admin.revoke(&lost.id).expect(204, None);
    admin.revoke(&lost.id).expect(409, Some("conflict"));

    // The revoked device is refused everywhere with "revoked"...
    let before = snapshot(&admin);
    lost.status().expect(403, Some("revoked"));
    lost.push(&[entry(1, 32)]).expect(403, Some("revoked"));
    lost.pull(0, 10).expect(403, Some("revoked"));
    lost.get("/key-envelopes").expect(403, Some("revoked"));
    lost.put_chunk(&random::<32>(), 0, 1, 1, vec![1; 8])
        .expect(403, Some("revoked"));
    lost.blob_status(&random::<32>())
        .expect(403, Some("revoked"));
    assert_eq!(
        snapshot(&admin),
        before,
        "a revoked device stored something"
    );
    // ...but a bad signature in its name is still just unauthorized.
    let opts = SignOpts {
        corrupt_signature: true,
        ..Default::default()
    };
    lost.request_with("GET", "/status", Vec::new(), &opts)
        .expect(401, Some("unauthorized"));

    // Envelopes for a revoked device → 409.
    admin
        .post("/key-envelopes", &vec![admin.envelope_for(&lost.id, 2)])
        .expect(409, Some("conflict"));

    // A wipe receipt: only from the revoked device; malformed → 400; kept once.
    kept.post(
        "/wipe-receipt",
        &wire::WipeReceipt {
            receipt: b"not revoked".to_vec(),
        },
    )
    .expect(409, Some("conflict"));
    lost.request("POST", "/wipe-receipt", b"{}".to_vec())
        .expect(400, Some("bad_request"));
    let receipt = b"signed wipe receipt bytes".to_vec();
    lost.post(
        "/wipe-receipt",
        &wire::WipeReceipt {
            receipt: receipt.clone(),
        },
    )
    .expect(204, None);
    lost.post(
        "/wipe-receipt",
        &wire::WipeReceipt {
            receipt: b"second".to_vec(),
        },
    )
    .expect(204, None);
    let list = admin.devices();
    let info = list
        .devices
        .iter()
        .find(|d| d.keys.device_id == lost.id)
        .expect("listed");
    assert!(info.revoked_at_ms.is_some());
    assert_eq!(info.wipe_receipt.as_deref(), Some(receipt.as_slice()));
    assert_eq!(info.key_epochs, vec![1]);
    let kept_info = list
        .devices
        .iter()
        .find(|d| d.keys.device_id == kept.id)
        .expect("listed");
    assert!(kept_info.revoked_at_ms.is_none() && kept_info.wipe_receipt.is_none());
    // The receipt is not a way back in.
    lost.status().expect(403, Some("revoked"));

    // Rotation: epoch 2, envelopes, pushes under the new epoch.
    let r: serde_json::Value = admin.bump_epoch(2).expect(200, None).json();
    assert_eq!(r["current_epoch"], 2);
    admin.bump_epoch(2).expect(400, Some("bad_request"));
    admin
        .post("/key-envelopes", &vec![admin.envelope_for(&kept.id, 2)])
        .expect(204, None);
    let status: wire::WorkspaceStatus = kept.status().expect(200, None).json();
    assert_eq!(status.current_epoch, 2);
    assert!(!status.revoked);
    kept.push_ok(&[entry(2, 16), entry(1, 16)]);
    kept.push(&[entry(3, 16)]).expect(400, Some("bad_request"));
    kept.put_chunk(&random::<32>(), 0, 1, 2, vec![1; 8])
        .expect(204, None);
    let info = admin
        .devices()
        .devices
        .into_iter()
        .find(|d| d.keys.device_id == kept.id)
        .expect("kept");
    assert_eq!(info.key_epochs, vec![1, 2]);
    assert_eq!(admin.devices().current_epoch, 2);
}

/// The database holds only public keys: a request signed with any other key in
/// an enrolled device's name is refused, for members and the admin alike.
fn impersonation_is_refused(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let member = admin.enroll_member("phone");
    let before = snapshot(&admin);
    let forger = SignOpts {
        other_key: Some(new_pkcs8()),
        ..Default::default()
    };
    for device in [&member, &admin] {
        device
            .request_with("GET", "/status", Vec::new(), &forger)
            .expect(401, Some("unauthorized"));
        let body = serde_json::to_vec(&wire::PushEntries {
            entries: vec![entry(1, 8)],
        })
        .expect("json");
        device
            .request_with("POST", "/entries", body, &forger)
            .expect(401, Some("unauthorized"));
    }
    let body = serde_json::to_vec(&vec![admin.envelope_for(&member.id, 1)]).expect("json");
    admin
        .request_with("POST", "/key-envelopes", body, &forger)
        .expect(401, Some("unauthorized"));
    admin
        .request_with(
            "POST",
            &format!("/devices/{}/revoke", member.id),
            b"{}".to_vec(),
            &forger,
        )
        .expect(401, Some("unauthorized"));
    assert_eq!(snapshot(&admin), before);
    member.status().expect(200, None);
}

/// Request logs: JSON lines with method, route template, status, duration,
/// sizes — and none of the bodies, signatures, tokens, nonces or content ids.
fn logs_carry_no_secrets(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let (code_id, token) = admin.issue_code(60_000);
    let member = Device::new(&relay.url, &admin.ws);
    enroll(&relay.url, &admin.ws, &member, &code_id, &token, "phone").expect(201, None);
    let e = entry(1, 48);
    member.push_ok(std::slice::from_ref(&e));
    let blob = random::<32>().to_vec();
    member
        .put_chunk(&blob, 0, 1, 1, vec![5; 64])
        .expect(204, None);
    let signed = member.sign(
        "GET",
        &member.ws_path("/status"),
        Vec::new(),
        &SignOpts::default(),
    );
    member.send(&signed).expect(200, None);
    member.send(&signed).expect(401, Some("replayed"));
    member
        .request("POST", "/entries", b"{garbage".to_vec())
        .expect(400, None);
    std::thread::sleep(Duration::from_millis(200));

    let log = relay.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line: {l}: {e}"))
        })
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert!(requests.len() >= 8, "{log}");
    for line in &requests {
        assert!(line["fields"]["status"].is_u64(), "{line}");
        assert!(line["fields"]["duration_ms"].is_u64(), "{line}");
        assert!(line["fields"]["response_bytes"].is_u64(), "{line}");
        assert!(line["span"]["route"].is_string(), "{line}");
        assert!(line["span"]["method"].is_string(), "{line}");
        assert!(line["span"]["request_bytes"].is_u64(), "{line}");
    }
    assert!(
        requests
            .iter()
            .any(|l| l["span"]["route"] == "/v1/workspaces/{ws}/blobs/{blob_id}/chunks/{index}"),
        "{log}"
    );
    assert!(
        requests.iter().any(|l| l["fields"]["status"] == 401),
        "{log}"
    );
    let nonce = signed
        .headers
        .iter()
        .find(|(k, _)| k == wire::HEADER_NONCE)
        .map(|(_, v)| v.clone())
        .expect("nonce");
    let signature = signed
        .headers
        .iter()
        .find(|(k, _)| k == wire::HEADER_SIGNATURE)
        .map(|(_, v)| v.clone())
        .expect("sig");
    for secret in [
        OPERATOR_TOKEN.to_owned(),
        b64::encode(&token),
        b64::encode(&sha256(&token)),
        b64::encode(&code_id),
        nonce,
        signature,
        b64::encode(&blob),
        b64::encode(&e.entry_id),
        b64::encode(&e.doc_id),
        b64::encode(&e.sealed),
        "garbage".to_owned(),
    ] {
        assert!(!log.contains(&secret), "the log contains {secret}:\n{log}");
    }
}

/// Several threads pushing at once through one relay (PostgreSQL's
/// multi-process variant is in multi_process.rs): gap-free, duplicate-free.
fn concurrent_pushes_single_relay(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let devices: Vec<Device> = (0..4)
        .map(|i| admin.enroll_member(&format!("d{i}")))
        .collect();
    let acks = push_concurrently(&devices, 15, 4);
    check_sequences(&admin, &acks);
}

/// A copy of the database holds the enrollment token only as SHA-256, the
/// operator token not at all, and of each device only its public keys.
fn database_copy_holds_only_hashes_and_public_keys(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin_pkcs8 = new_pkcs8();
    let ws = uuid::Uuid::new_v4().to_string();
    let admin = Device::with_key(&relay.url, &ws, admin_pkcs8.clone());
    create_workspace_with(&relay.url, OPERATOR_TOKEN, &ws, &admin.keys()).expect(201, None);
    let (code_id, token) = admin.issue_code(600_000);
    let member = Device::new(&relay.url, &ws);
    enroll(&relay.url, &ws, &member, &code_id, &token, "phone").expect(201, None);
    let (_unused_code, unused_token) = admin.issue_code(600_000);
    member.push_ok(&[entry(1, 64)]);

    let token_hash = sha256(&token);
    // Ed25519 PKCS#8 v2 from ring: the 32-byte seed follows the 16-byte prefix.
    let admin_seed = admin_pkcs8[16..48].to_vec();
    let forbidden: Vec<(&str, Vec<u8>)> = vec![
        ("enroll token", token.clone()),
        ("enroll token (b64)", b64::encode(&token).into_bytes()),
        ("enroll token (hex)", wire::hex(&token).into_bytes()),
        ("unused enroll token", unused_token.clone()),
        ("operator token", OPERATOR_TOKEN.as_bytes().to_vec()),
        ("operator token hash", sha256(OPERATOR_TOKEN.as_bytes())),
        ("admin private key seed", admin_seed),
    ];
    match kind {
        Kind::Sqlite => {
            let copy = tempfile::tempdir().expect("tempdir");
            for (path, bytes) in read_all_files(&storage.data_dir()) {
                std::fs::write(copy.path().join(path.file_name().expect("name")), bytes)
                    .expect("copy");
            }
            let files = read_all_files(copy.path());
            assert!(files
                .iter()
                .any(|(p, _)| p.ends_with(fieldvault_relay::DB_FILE)));
            let all: Vec<u8> = files.into_iter().flat_map(|(_, b)| b).collect();
            for (what, needle) in &forbidden {
                assert!(
                    !contains(&all, needle),
                    "the database copy holds the {what}"
                );
            }
            // The scan does find what is stored: the hash and the public keys.
            assert!(
                contains(&all, &token_hash),
                "token hash not found: the scan is broken"
            );
            assert!(contains(&all, &admin.keys().signing_public));
            let conn = rusqlite::Connection::open(copy.path().join(fieldvault_relay::DB_FILE))
                .expect("open copy");
            let stored: Vec<u8> = conn
                .query_row(
                    "SELECT token_hash FROM codes WHERE code_id = ?1",
                    [&code_id],
                    |r| r.get(0),
                )
                .expect("code row");
            assert_eq!(stored, token_hash);
        }
        Kind::Postgres => {
            let url = &storage.pg.as_ref().expect("pg").url;
            for table in [
                "workspaces",
                "devices",
                "codes",
                "nonces",
                "key_envelopes",
                "entries",
                "relay_meta",
            ] {
                let dump = pg_query_bytes(
                    url,
                    &format!("SELECT convert_to(coalesce(string_agg(row_to_json(t)::text, ''), ''), 'UTF8') FROM {table} t"),
                );
                let text = String::from_utf8(dump.concat()).expect("utf8");
                for (what, needle) in &forbidden {
                    assert!(
                        !text.contains(&wire::hex(needle)),
                        "{table} holds the {what}"
                    );
                    assert!(
                        !text.contains(&b64::encode(needle)),
                        "{table} holds the {what}"
                    );
                }
                assert!(!text.contains(OPERATOR_TOKEN));
            }
            let stored = pg_query_bytes(
                url,
                "SELECT token_hash FROM codes ORDER BY issued_at_ms, code_id",
            );
            assert!(stored.contains(&token_hash));
        }
    }
    // Holding the database gives no way to act as a device: only a signature
    // by the device's private key is accepted.
    let forger = SignOpts {
        other_key: Some(new_pkcs8()),
        ..Default::default()
    };
    member
        .request_with("GET", "/status", Vec::new(), &forger)
        .expect(401, Some("unauthorized"));
    member.status().expect(200, None);
}

/// A restarted relay (same database) serves the same state; nonces survive too.
fn restart_keeps_state(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let member = admin.enroll_member("phone");
    member.push_ok(&[entry(1, 20), entry(1, 30)]);
    let signed = member.sign(
        "GET",
        &member.ws_path("/status"),
        Vec::new(),
        &SignOpts::default(),
    );
    member.send(&signed).expect(200, None);
    let before = snapshot(&admin);
    relay.stop();

    let relay = storage.start_relay();
    let admin = admin.via(&relay.url);
    let member = member.via(&relay.url);
    assert_eq!(snapshot(&admin), before);
    member.send(&signed).expect(401, Some("replayed"));
    assert_eq!(member.push_ok(&[entry(1, 5)]), vec![3]);
}

/// A pull page stops at the byte budget (16 MiB of sealed bytes; at least one
/// entry), so pages can be shorter than `limit`: pull until a page is empty.
fn large_entries_are_paged_by_size(kind: Kind) {
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let size = 5 * 1024 * 1024 + 512 * 1024;
    let big: Vec<wire::Entry> = (0..4).map(|_| entry(1, size)).collect();
    for e in &big {
        admin.push_ok(std::slice::from_ref(e));
    }
    let page: wire::PullResult = admin.pull(0, 10).expect(200, None).json();
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(page.last_seq, 3);
    assert_eq!(page.entries[2].entry, big[2]);
    let page: wire::PullResult = admin.pull(3, 10).expect(200, None).json();
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4]
    );
    assert_eq!(admin.pull_all(0).len(), 4);
}

/// A request naming an unknown workspace or device is answered from its
/// headers: the relay does not wait for (or buffer) a body of up to the
/// route's limit from someone it cannot authenticate. Here the body
/// announced (8 MB) is never sent; the answer still comes at once, where the
/// relay used to wait for the body until its 30 s request timeout.
fn unknown_senders_are_answered_before_their_body(kind: Kind) {
    use std::io::{Read, Write};
    let storage = Storage::new(kind);
    let relay = storage.start_relay();
    let admin = new_workspace(&relay.url);
    let addr = relay.url.trim_start_matches("http://").to_owned();
    let unknown_ws = uuid::Uuid::new_v4().to_string();
    let unknown_device = uuid::Uuid::new_v4().to_string();
    for (ws, device, status) in [
        (unknown_ws.as_str(), admin.id.as_str(), "404"),
        (admin.ws.as_str(), unknown_device.as_str(), "401"),
    ] {
        let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let head = format!(
            "POST /v1/workspaces/{ws}/entries HTTP/1.1\r\nHost: {addr}\r\n\
             {}: {device}\r\n{}: {}\r\n{}: {}\r\n{}: {}\r\n\
             Content-Type: application/json\r\nContent-Length: 8000000\r\n\r\n",
            wire::HEADER_DEVICE,
            wire::HEADER_TIMESTAMP,
            now_ms(),
            wire::HEADER_NONCE,
            b64::encode(&random::<16>()),
            wire::HEADER_SIGNATURE,
            b64::encode(&random::<64>()),
        );
        conn.write_all(head.as_bytes()).expect("write");
        let mut answer = [0u8; 12];
        conn.read_exact(&mut answer)
            .expect("an answer without the body (timed out waiting)");
        let line = String::from_utf8_lossy(&answer);
        assert!(line.ends_with(status), "{line} for {ws}/{device}");
    }
}
