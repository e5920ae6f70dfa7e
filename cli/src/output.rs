//! Output: human text or one JSON document on stdout, progress on stderr.
use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::error::{CliError, CliResult};

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> CliResult<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::internal(format!("could not encode JSON: {e}")))?;
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = writeln!(out, "{text}");
    Ok(())
}

/// Prints one line of human text on stdout.
pub fn line(text: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.as_ref());
}

/// Reports an error: JSON on stdout in `--json` mode (so scripts always get
/// one JSON document), and always a line on stderr.
pub fn print_error(json: bool, e: &CliError) {
    if json && !e.reported {
        let _ = print_json(&serde_json::json!({ "error": e.to_json() }));
    }
    eprintln!("error: {}", e.message);
}

/// A progress bar on stderr; hidden in JSON mode and when stderr is not a terminal.
pub fn bar(json: bool, len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), target(json));
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:32}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_owned());
    pb
}

/// A spinner on stderr for work of unknown length (network waits).
pub fn spinner(json: bool, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, target(json));
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(what.to_owned());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn target(json: bool) -> ProgressDrawTarget {
    if json {
        ProgressDrawTarget::hidden()
    } else {
        // indicatif hides itself when stderr is not a terminal.
        ProgressDrawTarget::stderr()
    }
}
