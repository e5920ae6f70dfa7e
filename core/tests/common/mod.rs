//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod canary;
pub mod fixtures;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fieldvault::{Argon2Params, ManualClock, PassphraseKeyProvider, Vault, VaultOptions};

pub const PASSPHRASE: &str = "correct horse battery staple";

/// Passphrase provider with cheap Argon2 parameters (tests only).
pub fn provider() -> PassphraseKeyProvider {
    PassphraseKeyProvider::with_params(PASSPHRASE, Argon2Params::insecure_for_tests())
}

pub fn options(staff: &str) -> VaultOptions {
    VaultOptions::new(staff)
}

pub fn options_with_clock(staff: &str, clock: Arc<ManualClock>) -> VaultOptions {
    VaultOptions::new(staff).with_clock(clock)
}

pub fn new_vault(dir: &Path, staff: &str) -> Vault {
    Vault::create(dir, &provider(), options(staff)).expect("create vault")
}

pub fn reopen(dir: &Path, staff: &str) -> Vault {
    Vault::open(dir, &provider(), options(staff)).expect("open vault")
}

/// The shared test corpus (`../shared/corpus` beside the repository).
pub fn corpus() -> PathBuf {
    if let Ok(dir) = std::env::var("FIELDVAULT_CORPUS") {
        return PathBuf::from(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    assert!(
        dir.join("MANIFEST.md").is_file(),
        "the shared corpus is missing at {} (set FIELDVAULT_CORPUS)",
        dir.display()
    );
    dir
}

/// Every regular file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The encodings a leaked string could take on disk.
pub fn encodings(s: &str) -> Vec<Vec<u8>> {
    let utf16: Vec<u16> = s.encode_utf16().collect();
    vec![
        s.as_bytes().to_vec(),
        utf16.iter().flat_map(|u| u.to_le_bytes()).collect(),
        utf16.iter().flat_map(|u| u.to_be_bytes()).collect(),
    ]
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Returns `(file, needle)` for every needle found in any file below `dir`,
/// in UTF-8, UTF-16LE or UTF-16BE. One pass per file for all needles.
pub fn scan_for(dir: &Path, needles: &[String]) -> Vec<(PathBuf, String)> {
    let files = files_below(dir);
    assert!(!files.is_empty(), "nothing to scan in {}", dir.display());
    let mut patterns = Vec::new();
    let mut owner = Vec::new();
    for (i, needle) in needles.iter().enumerate() {
        for e in encodings(needle) {
            patterns.push(e);
            owner.push(i);
        }
    }
    let matcher = aho_corasick::AhoCorasick::new(&patterns).expect("patterns");
    let mut hits = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).expect("read file");
        let mut found: Vec<usize> = matcher
            .find_overlapping_iter(&bytes)
            .map(|m| owner[m.pattern().as_usize()])
            .collect();
        found.sort_unstable();
        found.dedup();
        hits.extend(
            found
                .into_iter()
                .map(|i| (file.clone(), needles[i].clone())),
        );
    }
    hits
}
