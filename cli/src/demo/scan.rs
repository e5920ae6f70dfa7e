//! The no-plaintext scan: every byte of every file below some directories is
//! searched for canary strings in UTF-8, UTF-16LE and UTF-16BE.
use std::path::{Path, PathBuf};

use aho_corasick::AhoCorasick;
use serde::Serialize;

use crate::error::{CliError, CliResult};

/// Every encoding a string may take on disk.
fn encodings(s: &str) -> [Vec<u8>; 3] {
    let utf16: Vec<u16> = s.encode_utf16().collect();
    [
        s.as_bytes().to_vec(),
        utf16.iter().flat_map(|u| u.to_le_bytes()).collect(),
        utf16.iter().flat_map(|u| u.to_be_bytes()).collect(),
    ]
}

/// One canary found in one file.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub file: PathBuf,
    /// Index of the canary in the list given (never the canary itself).
    pub canary: usize,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ScanReport {
    pub files: usize,
    pub bytes: u64,
    pub canaries: usize,
    pub hits: Vec<Hit>,
}

pub fn files_below(dir: &Path) -> CliResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::io("cannot list", dir, e))?;
    for entry in entries {
        let path = entry
            .map_err(|e| CliError::io("cannot list", dir, e))?
            .path();
        if path.is_dir() {
            out.extend(files_below(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Scans every file below each of `dirs` for each of `canaries`.
pub fn scan(dirs: &[PathBuf], canaries: &[String]) -> CliResult<ScanReport> {
    let patterns: Vec<(usize, Vec<u8>)> = canaries
        .iter()
        .enumerate()
        .flat_map(|(i, c)| encodings(c).into_iter().map(move |e| (i, e)))
        .collect();
    let matcher = AhoCorasick::new(patterns.iter().map(|(_, p)| p))
        .map_err(|e| CliError::internal(format!("scanner: {e}")))?;
    let mut report = ScanReport {
        canaries: canaries.len(),
        ..Default::default()
    };
    for dir in dirs {
        for file in files_below(dir)? {
            let bytes = std::fs::read(&file).map_err(|e| CliError::io("cannot read", &file, e))?;
            report.files += 1;
            report.bytes += bytes.len() as u64;
            let mut seen = std::collections::BTreeSet::new();
            for m in matcher.find_overlapping_iter(&bytes) {
                seen.insert(patterns[m.pattern().as_usize()].0);
            }
            report.hits.extend(seen.into_iter().map(|canary| Hit {
                file: file.clone(),
                canary,
            }));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_utf8_and_utf16() {
        let dir = tempfile::tempdir().expect("tmp");
        let canary = "カナリア秘密123".to_owned();
        std::fs::write(dir.path().join("a"), format!("xx{canary}yy")).expect("w");
        let utf16: Vec<u8> = canary
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        std::fs::write(dir.path().join("b"), utf16).expect("w");
        std::fs::write(dir.path().join("c"), b"nothing here").expect("w");
        let r = scan(&[dir.path().to_path_buf()], &[canary, "other".into()]).expect("scan");
        assert_eq!(r.files, 3);
        assert_eq!(r.hits.len(), 2);
        assert!(r.hits.iter().all(|h| h.canary == 0));
    }
}
