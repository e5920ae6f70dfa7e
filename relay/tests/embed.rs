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
