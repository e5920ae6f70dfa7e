//! Routes the core's `tracing` events to the app's logger (Logcat, os_log).
//!
//! Only the level, the target (module) and the event's message are passed on.
//! Other event fields are dropped on purpose: the core never puts values in
//! messages, and forwarding only the message keeps it that way even if a field
//! were added later. Events of other crates (HTTP, TLS) are not forwarded.
use std::fmt::Write as _;
use std::sync::{Arc, Once, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Severity of a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn from_tracing(level: &tracing::Level) -> Self {
        match *level {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::TRACE => LogLevel::Trace,
        }
    }
}

/// Receives the library's log records. Called from library threads; must not
/// block for long and must not call back into FieldVault.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    fn log(&self, level: LogLevel, target: String, message: String);
}

struct Installed {
    logger: Arc<dyn Logger>,
    max_level: LogLevel,
}

static LOGGER: RwLock<Option<Installed>> = RwLock::new(None);
static SUBSCRIBER: Once = Once::new();

struct ForeignLayer;

#[derive(Default)]
struct MessageOnly(String);

impl Visit for MessageOnly {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for ForeignLayer {
    /// Only FieldVault's own events: third-party crates (HTTP, TLS) log
    /// details such as headers at debug level, which must not reach app logs.
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        metadata.target().starts_with("fieldvault")
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        // The foreign logger is called without the lock held: one that calls
        // `set_logger`/`clear_logger`, or logs again through the core, would
        // otherwise deadlock.
        let (logger, max_level) = {
            let guard = LOGGER.read().unwrap_or_else(|p| p.into_inner());
            let Some(installed) = guard.as_ref() else {
                return;
            };
            (installed.logger.clone(), installed.max_level)
        };
        let metadata = event.metadata();
        let level = LogLevel::from_tracing(metadata.level());
        if level > max_level {
            return;
        }
        let mut message = MessageOnly::default();
        event.record(&mut message);
        let target = metadata.target().to_owned();
        // A logger that throws makes uniffi panic in this thread, which may be
        // deep inside a vault operation: contain it here.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            logger.log(level, target, message.0)
        }));
    }
}

/// Installs `logger` for every record at `max_level` or more severe
/// (replacing any earlier logger). The first call also installs the global
/// `tracing` subscriber; if the process already has one, records keep going
/// there and this logger receives nothing.
#[uniffi::export]
pub fn set_logger(logger: Arc<dyn Logger>, max_level: LogLevel) {
    *LOGGER.write().unwrap_or_else(|p| p.into_inner()) = Some(Installed { logger, max_level });
    SUBSCRIBER.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(ForeignLayer);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Stops forwarding log records.
#[uniffi::export]
pub fn clear_logger() {
    *LOGGER.write().unwrap_or_else(|p| p.into_inner()) = None;
}
