//! A TCP proxy on 127.0.0.1 between devices and a relay that injects faults:
//! it can cut connections after a number of bytes, stall them, or refuse new
//! ones. Everything stays on loopback and every stall is bounded.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Forward everything.
    None = 0,
    /// Close each connection after `cut_after` bytes from the client (counted
    /// from the connection's start).
    CutAfter = 1,
    /// Stop forwarding (but keep the connection) for `stall` before closing.
    Stall = 2,
    /// Accept and immediately close (and close open connections at their
    /// next request).
    Refuse = 3,
    /// Forward `cut_after` bytes from the client in total, over every
    /// connection, counted from [`FaultProxy::set`]; then close the
    /// connection that crosses the budget and every later one at its first
    /// byte. Unlike `CutAfter`, the outcome does not depend on whether the
    /// client's pool reuses a connection or opens a new one.
    CutTotalAfter = 4,
    /// Forward everything, but rename the batched `blob-status` route on
    /// the way (same length), so the relay answers "no such route" as one
    /// that predates it would.
    OldRelay = 5,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

/// The proxy's settings and counters, shared by every connection.
struct State {
    fault: AtomicU8,
    cut_after: AtomicU64,
    /// Client bytes forwarded since the last `set` (for `CutTotalAfter`).
    total: AtomicU64,
    /// Connections cut or refused so far.
    injected: AtomicU64,
    /// Request lines (`PUT /v1/...`, `GET`, `POST`) forwarded to the relay, in order.
    requests: Mutex<Vec<String>>,
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(State {
            fault: AtomicU8::new(Fault::None as u8),
            cut_after: AtomicU64::new(u64::MAX),
            total: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = handle(client, upstream, &shared).await;
                });
            }
        });
        Self { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, fault: Fault, cut_after_bytes: u64) {
        self.state
            .cut_after
            .store(cut_after_bytes, Ordering::SeqCst);
        self.state.total.store(0, Ordering::SeqCst);
        self.state.fault.store(fault as u8, Ordering::SeqCst);
    }

    /// Connections cut, stalled or refused so far.
    pub fn injected(&self) -> u64 {
        self.state.injected.load(Ordering::SeqCst)
    }

    /// Request lines (`PUT /v1/...`, `GET`, `POST`) forwarded to the relay,
    /// in order, so tests can count how often each request was (re-)sent.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, state: &State) -> std::io::Result<()> {
    let State {
        fault,
        cut_after,
        total,
        injected,
        requests,
    } = state;
    if fault.load(Ordering::SeqCst) == Fault::Refuse as u8 {
        injected.fetch_add(1, Ordering::SeqCst);
        return Ok(());
    }
    let mut server = TcpStream::connect(upstream).await?;
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    // The fault is read again for every read, so connections kept alive by
    // the client's pool are affected too.
    let upstream_copy = async {
        let mut sent = 0u64;
        let mut carry = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            let mode = fault.load(Ordering::SeqCst);
            if mode == Fault::Refuse as u8 {
                injected.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            if mode == Fault::Stall as u8 {
                injected.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3)).await;
                return Ok(());
            }
            // Bytes already forwarded: on this connection, or on all of them.
            let before = if mode == Fault::CutTotalAfter as u8 {
                total.fetch_add(n as u64, Ordering::SeqCst)
            } else {
                sent
            };
            let limit = if mode == Fault::CutAfter as u8 || mode == Fault::CutTotalAfter as u8 {
                cut_after.load(Ordering::SeqCst)
            } else {
                u64::MAX
            };
            let allowed = limit.saturating_sub(before).min(n as u64) as usize;
            if mode == Fault::OldRelay as u8 {
                rename_route(
                    &mut buf[..allowed],
                    b"/blob-status HTTP/1.1",
                    b"/blob-statux HTTP/1.1",
                );
            }
            record_request_lines(&mut carry, &buf[..allowed], requests);
            sw.write_all(&buf[..allowed]).await?;
            sent += allowed as u64;
            if allowed < n {
                injected.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
        }
    };
    let downstream_copy = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = sr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            cw.write_all(&buf[..n]).await?;
        }
    };
    // Whichever side ends first closes both.
    tokio::select! {
        _ = upstream_copy => {}
        _ = downstream_copy => {}
    }
    Ok(())
}

/// Appends every complete `PUT`, `GET` or `POST /v1/... HTTP/1.1` request line that ends in
/// `data` to `requests` (uploads are what the fault tests count). `carry`
/// keeps the tail of earlier data so a line split across reads is still
/// seen, once. Bodies are ciphertext, so a false match is practically
/// impossible.
fn record_request_lines(carry: &mut Vec<u8>, data: &[u8], requests: &Mutex<Vec<String>>) {
    let old_len = carry.len();
    carry.extend_from_slice(data);
    let mut found = Vec::new();
    for method in [&b"PUT /v1/"[..], b"GET /v1/", b"POST /v1/"] {
        let mut from = 0;
        while let Some(pos) = find(&carry[from..], method) {
            let start = from + pos;
            match find(&carry[start..], b" HTTP/1.1\r\n") {
                Some(end) if start + end + 11 > old_len => {
                    let line = String::from_utf8_lossy(&carry[start..start + end]).into_owned();
                    found.push((start, line));
                }
                _ => {}
            }
            from = start + 1;
        }
    }
    found.sort();
    if let Ok(mut r) = requests.lock() {
        r.extend(found.into_iter().map(|(_, line)| line));
    }
    let keep = carry.len().saturating_sub(512);
    carry.drain(..keep);
}

/// Replaces every `from` in `data` by `to` (of the same length).
fn rename_route(data: &mut [u8], from: &[u8], to: &[u8]) {
    let mut at = 0;
    while let Some(pos) = find(&data[at..], from) {
        data[at + pos..at + pos + to.len()].copy_from_slice(to);
        at += pos + to.len();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
