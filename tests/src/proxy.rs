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
    /// Requests forwarded to the relay (as far as they were), in order.
    requests: Mutex<Vec<Forwarded>>,
}

/// A request the proxy forwarded: its request line without the protocol
/// (`PUT /v1/...`), the body bytes that went through (all of them, or up to
/// where the connection was cut) and the answer's status.
#[derive(Debug, Clone)]
pub struct Forwarded {
    pub line: String,
    pub body: Vec<u8>,
    /// The status of the relay's answer, if one came back through the proxy.
    pub status: Option<u16>,
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
        self.forwarded().into_iter().map(|r| r.line).collect()
    }

    /// Whether any request forwarded so far matches `pred` (checked in place,
    /// without copying the log).
    pub fn any(&self, pred: impl Fn(&Forwarded) -> bool) -> bool {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(pred)
    }

    /// The requests forwarded to the relay with their bodies and answers, in order.
    pub fn forwarded(&self) -> Vec<Forwarded> {
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
    let exchange = Mutex::new(Exchange::default());
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    // The fault is read again for every read, so connections kept alive by
    // the client's pool are affected too.
    let upstream_copy = async {
        let mut sent = 0u64;
        let mut splitter = MessageSplitter::default();
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
                for (route, renamed) in OLD_RELAY_LACKS {
                    rename_route(&mut buf[..allowed], route, renamed);
                }
            }
            record_requests(splitter.feed(&buf[..allowed]), requests, &exchange);
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
        let mut splitter = MessageSplitter::default();
        loop {
            let n = sr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            cw.write_all(&buf[..n]).await?;
            record_answers(splitter.feed(&buf[..n]), requests, &exchange);
        }
    };
    // Whichever side ends first closes both.
    tokio::select! {
        _ = upstream_copy => {}
        _ = downstream_copy => {}
    }
    Ok(())
}

/// Routes a relay that predates them does not know, renamed on the way (to
/// the same length) in [`Fault::OldRelay`] mode.
const OLD_RELAY_LACKS: [(&[u8], &[u8]); 3] = [
    (b"/blob-status HTTP/1.1", b"/blob-statux HTTP/1.1"),
    (b"/chunks HTTP/1.1", b"/chunkz HTTP/1.1"),
    (b"/chunk-fetch HTTP/1.1", b"/chunk-fetcx HTTP/1.1"),
];

/// Splits one direction of a connection into HTTP/1.1 messages (start
/// line, headers, `Content-Length` body), so tests can see what went
/// through, chunk by chunk, and how each request was answered.
#[derive(Default)]
struct MessageSplitter {
    /// Bytes of a message head not yet complete.
    head: Vec<u8>,
    /// Body bytes still to come of the current message.
    body_left: usize,
}

/// A piece of what went through: a message's start line
/// (`PUT /v1/... HTTP/1.1`, `HTTP/1.1 204 No Content`), or body bytes of the
/// message last started.
enum Piece<'a> {
    Start(String),
    Body(&'a [u8]),
}

impl MessageSplitter {
    fn feed<'a>(&mut self, data: &'a [u8]) -> Vec<Piece<'a>> {
        let mut pieces = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(rest.len());
                pieces.push(Piece::Body(&rest[..n]));
                self.body_left -= n;
                rest = &rest[n..];
                continue;
            }
            let old_len = self.head.len();
            self.head.extend_from_slice(rest);
            let Some(end) = find(&self.head, b"\r\n\r\n") else {
                break;
            };
            let head = String::from_utf8_lossy(&self.head[..end]).into_owned();
            // What of `rest` came after the head's end is body (or the next message).
            rest = &rest[end + 4 - old_len..];
            self.head.clear();
            let mut lines = head.split("\r\n");
            pieces.push(Piece::Start(lines.next().unwrap_or_default().to_string()));
            self.body_left = lines
                .filter_map(|h| h.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse().ok())
                .unwrap_or(0);
        }
        pieces
    }
}

/// The requests one connection forwarded (their slots in the log, in
/// order) and how many of them were answered so far.
#[derive(Default)]
struct Exchange {
    requests: Vec<usize>,
    answered: usize,
}

fn record_requests(
    pieces: Vec<Piece<'_>>,
    log: &Mutex<Vec<Forwarded>>,
    exchange: &Mutex<Exchange>,
) {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    let mut exchange = exchange.lock().unwrap_or_else(|p| p.into_inner());
    for piece in pieces {
        match piece {
            Piece::Start(line) => {
                let line = line.strip_suffix(" HTTP/1.1").unwrap_or(&line).to_string();
                log.push(Forwarded {
                    line,
                    body: Vec::new(),
                    status: None,
                });
                exchange.requests.push(log.len() - 1);
            }
            Piece::Body(bytes) => {
                let last = exchange.requests.last().and_then(|&i| log.get_mut(i));
                if let Some(request) = last {
                    request.body.extend_from_slice(bytes);
                }
            }
        }
    }
}

/// Notes each answer's status on the request it answers (HTTP/1.1 answers
/// come in request order on a connection).
fn record_answers(pieces: Vec<Piece<'_>>, log: &Mutex<Vec<Forwarded>>, exchange: &Mutex<Exchange>) {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    let mut exchange = exchange.lock().unwrap_or_else(|p| p.into_inner());
    for piece in pieces {
        if let Piece::Start(line) = piece {
            let status = line.split(' ').nth(1).and_then(|s| s.parse().ok());
            let slot = exchange.requests.get(exchange.answered).copied();
            if let Some(request) = slot.and_then(|i| log.get_mut(i)) {
                request.status = status;
            }
            exchange.answered += 1;
        }
    }
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
