//! The library API (as the CLI's field-day demo embeds it) and the binary's
//! argument handling.
mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use fieldvault_relay::{Backend, RelayConfig, StartError};

both_backends!(embedded_relay_serves_and_shuts_down);

fn embedded_relay_serves_and_shuts_down(kind: Kind) {
    let storage = Storage::new(kind);
    let backend = match &storage.pg {
        None => Backend::Sqlite(storage.data_dir()),
        Some(pg) => Backend::Postgres(pg.url.clone()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = RelayConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        backend,
        OPERATOR_TOKEN,
    );
    assert!(
        !format!("{config:?}").contains(OPERATOR_TOKEN),
        "Debug shows the token"
    );
    let relay = rt.block_on(fieldvault_relay::start(config)).expect("start");
    let base = format!("http://{}", relay.local_addr());
    let admin = new_workspace(&base);
    let member = admin.enroll_member("phone");
    assert_eq!(member.push_ok(&[entry(1, 10)]), vec![1]);
    rt.block_on(relay.shutdown()).expect("shutdown");
    let refused = http()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(5))
        .send();
    assert!(refused.is_err(), "still serving after shutdown");
}

#[test]
fn a_short_operator_token_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = RelayConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        Backend::Sqlite(dir.path().into()),
        "short",
    );
    match rt.block_on(fieldvault_relay::start(config)) {
        Err(StartError::Config(_)) => {}
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("started with a short token"),
    }
}

#[test]
fn the_binary_needs_a_token_and_one_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_fieldvault-relay");
    let out = Command::new(bin)
        .args(["serve", "--data"])
        .arg(dir.path())
        .env_remove("FIELDVAULT_OPERATOR_TOKEN")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FIELDVAULT_OPERATOR_TOKEN"));
    assert!(out.stdout.is_empty());

    let out = Command::new(bin)
        .args(["serve", "--data", "x", "--postgres", "postgres://h/db"])
        .env("FIELDVAULT_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let out = Command::new(bin)
        .args(["serve"])
        .env("FIELDVAULT_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .expect("run");
    assert!(!out.status.success());

    // A token file works, and the relay answers.
    let token_file = dir.path().join("token");
    let file_token = "file-operator-token-5d1c0e9a";
    std::fs::write(&token_file, format!("{file_token}\n")).expect("write");
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--operator-token-file")
        .arg(&token_file)
        .env_remove("FIELDVAULT_OPERATOR_TOKEN");
    // (Relay::spawn also sets the environment variable; the file wins.)
    let relay = Relay::spawn(cmd, dir.path().join("relay.log"));
    let admin = Device::new(&relay.url, "ws-from-file-token");
    create_workspace_with(&relay.url, OPERATOR_TOKEN, &admin.ws, &admin.keys())
        .expect(401, Some("unauthorized"));
    create_workspace_with(&relay.url, file_token, &admin.ws, &admin.keys()).expect(201, None);
}

#[test]
fn a_stalled_request_times_out_with_a_json_error() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldvault-relay"));
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--request-timeout-secs",
        "1",
        "--data",
    ])
    .arg(dir.path().join("data"));
    let relay = Relay::spawn(cmd, dir.path().join("relay.log"));
    let addr = relay.url.trim_start_matches("http://").to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST /v1/workspaces HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {OPERATOR_TOKEN}\r\nContent-Length: 100\r\n\r\n{{"
    );
    conn.write_all(head.as_bytes()).expect("write");
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("}") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"error\":\"timeout\""), "{text}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(relay.health(), 200);
}

/// Opens a connection and sends `req`'s head declaring `declared` body
/// bytes, then only `sent` of them; the caller decides when to close.
fn send_head(addr: &str, req: &Signed, declared: usize, sent: &[u8]) -> std::net::TcpStream {
    use std::io::Write;
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n",
        req.method, req.path
    );
    for (name, value) in &req.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).expect("write head");
    conn.write_all(sent).expect("write body");
    conn
}

/// The whole answer on a `Connection: close` stream.
fn read_answer(mut conn: std::net::TcpStream) -> String {
    use std::io::Read;
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn bodies_past_the_memory_budget_get_busy_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut config = RelayConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        Backend::Sqlite(dir.path().into()),
        OPERATOR_TOKEN,
    );
    config.max_body_memory = fieldvault_relay::config::MIN_BODY_MEMORY - 1;
    assert!(
        matches!(
            rt.block_on(fieldvault_relay::start(config.clone())),
            Err(StartError::Config(_))
        ),
        "a budget below two entry batches is refused"
    );
    config.max_body_memory = fieldvault_relay::config::MIN_BODY_MEMORY;
    config.body_memory_wait = Duration::from_millis(300);
    config.request_timeout = Duration::from_secs(20);
    let relay = rt.block_on(fieldvault_relay::start(config)).expect("start");
    let base = format!("http://{}", relay.local_addr());
    let addr = relay.local_addr().to_string();
    let admin = new_workspace(&base);
    let member = admin.enroll_member("phone");

    // Two other phones push batches declaring 8 MiB each, send 1 KiB and
    // stall: together they hold the whole 16 MiB budget.
    let half = fieldvault::sync::wire::MAX_ENTRIES_BODY;
    let path = member.ws_path("/entries");
    let mut stalled: Vec<_> = ["slow-1", "slow-2"]
        .iter()
        .map(|name| {
            let slow = admin.enroll_member(name);
            let req = slow.sign("POST", &path, Vec::new(), &SignOpts::default());
            send_head(&addr, &req, half, &[b' '; 1024])
        })
        .collect();

    // A complete request now waits for room, then gets 503 busy with
    // Retry-After (bounded: the stalled heads may take a moment to arrive).
    let mut busy = None;
    for _ in 0..50 {
        let attempt = entry(1, 10);
        let body = serde_json::to_vec(&fieldvault::sync::wire::PushEntries {
            entries: vec![attempt.clone()],
        })
        .expect("json");
        let req = member.sign("POST", &path, body.clone(), &SignOpts::default());
        let answer = read_answer(send_head(&addr, &req, body.len(), &body));
        if answer.starts_with("HTTP/1.1 503") {
            busy = Some((attempt, answer));
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (refused, busy) = busy.expect("the budget never filled");
    assert!(busy.contains("\"error\":\"busy\""), "{busy}");
    assert!(
        busy.to_ascii_lowercase().contains("retry-after: 5"),
        "{busy}"
    );

    // One stalled client goes away: its reservation is freed and the
    // retried request is stored.
    drop(stalled.pop());
    let mut stored = false;
    for _ in 0..50 {
        let r = member.push(&[entry(1, 10)]);
        if r.status == 200 {
            stored = true;
            break;
        }
        r.expect(503, Some("busy"));
    }
    assert!(stored, "room was never freed");
    let pulled = admin.pull_all(0);
    assert!(
        pulled.iter().all(|e| e.entry.entry_id != refused.entry_id),
        "an entry refused as busy was stored"
    );
    drop(stalled);
    rt.block_on(relay.shutdown()).expect("shutdown");
}
