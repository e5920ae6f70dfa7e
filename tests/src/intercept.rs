//! An HTTP/1.1 proxy between a device and a real relay that can answer
//! chosen requests itself: what a hostile relay, or a relay whose answer was
//! lost, looks like to the device. Every other request is forwarded
//! unchanged (one request per connection: the proxy adds
//! `connection: close`, so each answer ends at EOF).
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An answer the proxy gives instead of the relay's.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub body: Vec<u8>,
    /// A `Content-Length` to announce instead of the body's (only the body
    /// is sent), as a relay announcing a huge answer would.
    pub announced_length: Option<u64>,
}

impl Canned {
    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.as_bytes().to_vec(),
            announced_length: None,
        }
    }
}

/// Decides, from a request line (`POST /v1/workspaces/w/epochs HTTP/1.1`),
/// whether the proxy answers it: `Some(answer)`; `None` forwards it.
pub type Rule = Box<dyn Fn(&str) -> Option<Canned> + Send + Sync>;

/// What happens to a matched request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The relay never sees it; the canned answer is sent.
    Instead,
    /// The relay handles it, but the device gets the canned answer (the
    /// relay's answer was lost on the way).
    After,
}

struct Shared {
    rule: Mutex<Option<(Mode, Rule)>>,
    /// Request lines answered by the rule so far.
    intercepted: Mutex<Vec<String>>,
}

pub struct InterceptProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl InterceptProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            rule: Mutex::new(None),
            intercepted: Mutex::new(Vec::new()),
        });
        let state = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = handle(client, upstream, &state).await;
                });
            }
        });
        Self { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the requests `rule` matches (until [`Self::clear`]).
    pub fn set(&self, mode: Mode, rule: impl Fn(&str) -> Option<Canned> + Send + Sync + 'static) {
        *lock(&self.shared.rule) = Some((mode, Box::new(rule)));
    }

    /// Forwards everything again.
    pub fn clear(&self) {
        *lock(&self.shared.rule) = None;
    }

    /// Request lines the rule answered so far.
    pub fn intercepted(&self) -> Vec<String> {
        lock(&self.shared.intercepted).clone()
    }
}

impl Drop for InterceptProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The request head (through the blank line) and its body.
async fn read_request(client: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut byte).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = client.read(&mut byte).await?;
        if n == 0 {
            return Ok(None);
        }
        body.extend_from_slice(&byte[..n]);
    }
    buf.truncate(head_end);
    Ok(Some((buf, body)))
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    shared: &Shared,
) -> std::io::Result<()> {
    let Some((head, body)) = read_request(&mut client).await? else {
        return Ok(());
    };
    let line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let matched = lock(&shared.rule)
        .as_ref()
        .and_then(|(mode, rule)| rule(&line).map(|canned| (*mode, canned)));
    if matches!(matched, None | Some((Mode::After, _))) {
        let mut server = TcpStream::connect(upstream).await?;
        // `connection: close` before the blank line: the answer ends at EOF.
        server.write_all(&head[..head.len() - 2]).await?;
        server.write_all(b"connection: close\r\n\r\n").await?;
        server.write_all(&body).await?;
        let mut answer = Vec::new();
        server.read_to_end(&mut answer).await?;
        if matched.is_none() {
            client.write_all(&answer).await?;
            return client.shutdown().await;
        }
    }
    if let Some((_, canned)) = matched {
        lock(&shared.intercepted).push(line);
        let length = canned.announced_length.unwrap_or(canned.body.len() as u64);
        let head = format!(
            "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n",
            canned.status
        );
        client.write_all(head.as_bytes()).await?;
        client.write_all(&canned.body).await?;
    }
    client.shutdown().await
}
