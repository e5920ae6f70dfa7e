//! Sync engine, state and progress listeners, and the admin side of pairing.
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use fieldvault::sync::client::ClientConfig;
use fieldvault::sync::engine::{SyncEngine as CoreEngine, SyncState};
use fieldvault::sync::enrollment;
use fieldvault::sync::pairing::AdminPairing;
use fieldvault::Vault;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::error::{FieldVaultError, Result};
use crate::types::{SyncProgress, SyncReport};

/// Background work (the sync loop, listener forwarding) runs here, never on
/// an app thread. Two workers: the library is I/O bound and phones are small.
static RUNTIME: LazyLock<Option<tokio::runtime::Runtime>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fieldvault-sync")
        .enable_all()
        .build()
        .ok()
});

/// Calls a foreign listener; one that throws (uniffi then panics here) is
/// contained so the forwarding task keeps running.
fn notify(call: impl FnOnce()) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
}

fn spawn<F>(future: F) -> Result<JoinHandle<()>>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    RUNTIME
        .as_ref()
        .map(|rt| rt.spawn(future))
        .ok_or_else(|| FieldVaultError::Internal("could not start the sync runtime".into()))
}

/// Receives every change of the sync state (for a status bar).
#[uniffi::export(with_foreign)]
pub trait SyncStateListener: Send + Sync {
    fn on_state(&self, state: SyncState);
}

/// Receives transfer progress (pending change sets and bytes, the transfer in
/// progress) whenever it changes.
#[uniffi::export(with_foreign)]
pub trait SyncProgressListener: Send + Sync {
    fn on_progress(&self, progress: SyncProgress);
}

/// Runs `future` on the library's runtime and waits for it. uniffi polls an
/// exported async function on the thread that awaits it (a Kotlin
/// dispatcher's, Swift's cooperative pool, possibly the main thread); through
/// this, that thread only checks a join handle, and the network and SQLite
/// work happens on the runtime's workers and blocking pool. Dropping the
/// returned future aborts the work at its next await. A panic inside is
/// re-raised here, so uniffi reports it like any other.
pub(crate) async fn in_background<T, F>(future: F) -> Result<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let runtime = RUNTIME
        .as_ref()
        .ok_or_else(|| FieldVaultError::Internal("could not start the sync runtime".into()))?;
    // Dropping the caller's future (a Kotlin timeout or cancelled job, a
    // closed screen) aborts the work as before this hop, instead of leaving
    // it running detached.
    let mut task = AbortOnDrop(runtime.spawn(future));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(FieldVaultError::Cancelled),
    }
}

/// Aborts its task when dropped (a no-op once the task has finished).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps one enrolled vault in sync with the relay.
#[derive(uniffi::Object)]
pub struct SyncEngine {
    inner: Arc<CoreEngine>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The background loop, once started (one per engine).
    run: Mutex<Option<JoinHandle<()>>>,
}

impl SyncEngine {
    pub(crate) fn new(vault: Arc<Vault>, config: ClientConfig) -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            inner: CoreEngine::new(vault, config)?,
            tasks: Mutex::new(Vec::new()),
            run: Mutex::new(None),
        }))
    }

    fn keep(&self, task: JoinHandle<()>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }
}

impl Drop for SyncEngine {
    fn drop(&mut self) {
        self.inner.cancel();
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
        if let Some(run) = self.run.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            run.abort();
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl SyncEngine {
    /// One full pass: push local changes and photos, pull the others'. Fails
    /// with `Revoked` (after wiping the vault) if this device was revoked.
    pub async fn sync_once(&self) -> Result<SyncReport> {
        let engine = self.inner.clone();
        in_background(async move { Ok(engine.sync_once().await?.into()) }).await
    }

    /// Starts the background loop: a pass on every local change, on coming
    /// online and every `interval_secs`, with backoff after failures. Stops on
    /// `cancel`, on revocation, or when this engine is dropped. Calling it
    /// again while the loop runs changes nothing (one loop per engine; a UI
    /// that calls it on every screen re-creation does not pile loops up).
    /// After `cancel`, ask the vault for a new engine.
    pub fn start(&self, interval_secs: u32) -> Result<()> {
        let mut run = self.run.lock().unwrap_or_else(|p| p.into_inner());
        if run.as_ref().is_some_and(|task| !task.is_finished()) {
            return Ok(());
        }
        let engine = self.inner.clone();
        *run = Some(spawn(
            engine.run(Duration::from_secs(interval_secs.max(1).into())),
        )?);
        Ok(())
    }

    /// Stops the background loop for good and aborts a pass between requests.
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// The app's connectivity callback; coming online triggers a pass.
    pub fn notify_connectivity(&self, online: bool) {
        self.inner.notify_connectivity(online);
    }

    /// Asks the background loop for a pass soon (e.g. after a local edit).
    pub fn request_sync(&self) {
        self.inner.request_sync();
    }

    /// The current state.
    pub fn state(&self) -> SyncState {
        self.inner.state()
    }

    /// Calls `listener` with the current state now and on every change.
    pub fn set_state_listener(&self, listener: Arc<dyn SyncStateListener>) -> Result<()> {
        let mut rx = self.inner.subscribe();
        let task = spawn(async move {
            loop {
                let state = rx.borrow_and_update().clone();
                notify(|| listener.on_state(state));
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })?;
        self.keep(task);
        Ok(())
    }

    /// Calls `listener` with the current progress now and whenever it changes.
    pub fn set_progress_listener(&self, listener: Arc<dyn SyncProgressListener>) -> Result<()> {
        let mut rx = self.inner.subscribe();
        let task = spawn(async move {
            let mut last: Option<SyncProgress> = None;
            loop {
                let progress = SyncProgress::from(&*rx.borrow_and_update());
                if last.as_ref() != Some(&progress) {
                    last = Some(progress.clone());
                    notify(|| listener.on_progress(progress));
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })?;
        self.keep(task);
        Ok(())
    }
}

/// The admin's half of pairing one new device: holds the one-time pairing
/// secret in memory only.
#[derive(uniffi::Object)]
pub struct PairingSession {
    vault: Arc<Vault>,
    config: ClientConfig,
    pairing: tokio::sync::Mutex<Option<AdminPairing>>,
    /// Holds the enrollment secret: zeroized once the session completes.
    qr_text: Mutex<Zeroizing<String>>,
}

impl PairingSession {
    pub(crate) fn new(
        vault: Arc<Vault>,
        config: ClientConfig,
        pairing: AdminPairing,
        qr_text: String,
    ) -> Arc<Self> {
        Arc::new(Self {
            vault,
            config,
            pairing: tokio::sync::Mutex::new(Some(pairing)),
            qr_text: Mutex::new(Zeroizing::new(qr_text)),
        })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl PairingSession {
    /// The text to show as a QR code to the new device (contains the
    /// single-use enrollment secret: show it, never log or store it). Empty
    /// once `complete` has been called.
    pub fn qr_text(&self) -> String {
        self.qr_text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_str()
            .to_owned()
    }

    /// Waits (at most `timeout_secs`) for the device to enroll, checks it
    /// against the code and delivers its keys. Returns the new device's id.
    /// A session completes once.
    pub async fn complete(&self, timeout_secs: u32) -> Result<String> {
        let pairing = self.pairing.lock().await.take().ok_or_else(|| {
            FieldVaultError::InvalidInput("this pairing session was already used".into())
        })?;
        // The secret is not needed any more, whatever happens next.
        *self.qr_text.lock().unwrap_or_else(|p| p.into_inner()) = Zeroizing::new(String::new());
        let (vault, config) = (self.vault.clone(), self.config.clone());
        in_background(async move {
            Ok(enrollment::complete_pairing(
                &vault,
                &config,
                pairing,
                Duration::from_secs(timeout_secs.into()),
            )
            .await?)
        })
        .await
    }
}
