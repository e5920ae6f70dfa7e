//! Photo downloads in rounds, the mirror of `photo_upload`: a window of
//! variants the relay holds whole; each round fetches the next chunk of each
//! (`POST .../chunk-fetch`, up to [`MAX_CHUNKS_PER_FETCH`] per request,
//! [`PHOTOS_IN_FLIGHT`] requests at once), opens it, and stores the variants
//! that are complete.
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use zeroize::Zeroizing;

use super::engine::{SyncEngine, SyncPhase, SyncReport, PHOTOS_IN_FLIGHT};
use super::wire::chunk_batch::{ChunkRef, MAX_CHUNKS_PER_FETCH};
use super::wire::{self, BlobStatus};
use super::workspace_keys::WorkspaceKeys;
use crate::error::{Error, Result};
use crate::vault::photo_sync::{Direction, PhotoTransfer};
use crate::vault::PhotoVariant;

/// Most chunks a downloaded photo variant may have: the largest image the
/// photo pipeline stores, in 256 KiB chunks, with room to spare.
const MAX_PHOTO_CHUNKS: u32 = 1_024;

/// Bytes of the variants being downloaded at once (counted at a full chunk
/// each, as the sizes are known only once fetched; a thumbnail is far
/// smaller).
pub const DOWNLOAD_WINDOW_BYTES: usize = 16 * 1024 * 1024;

/// Most variants in the window: as many chunks as one round's requests can
/// carry.
const DOWNLOAD_WINDOW_VARIANTS: usize = PHOTOS_IN_FLIGHT * MAX_CHUNKS_PER_FETCH;

/// A variant being downloaded: the chunks opened so far, in order.
struct Download {
    transfer: PhotoTransfer,
    blob_id: Vec<u8>,
    count: u32,
    bytes: Zeroizing<Vec<u8>>,
    received: u32,
}

impl Download {
    fn complete(&self) -> bool {
        self.received == self.count
    }
}

/// What the relay's side of one chunk turned out to be.
enum Fetched {
    Opened(Zeroizing<Vec<u8>>),
    /// The relay no longer has it, or it does not open under any key.
    Failed(&'static str),
}

impl SyncEngine {
    /// Downloads photos other devices attached, once the relay holds them
    /// whole. What the relay sent that cannot be right (a chunk that does not
    /// open, an impossible chunk count, a chunk it no longer has) is counted
    /// in [`SyncReport::photos_failed`]: that photo stays queued and the pass
    /// goes on, so one bad photo cannot stop every pass (and with it the
    /// lease renewal and retention). A failure of this vault, or of a
    /// request, is an error.
    pub(super) async fn pull_photos(&self, report: &mut SyncReport) -> Result<()> {
        let keys = self.vault().workspace_keys(&self.settings().workspace_id)?;
        let transfers = self.vault().photo_transfers(Direction::Download)?;
        let statuses = self.blob_statuses(&keys, &transfers).await?;
        let mut waiting = VecDeque::new();
        for (t, (blob_id, status)) in transfers.into_iter().zip(statuses) {
            match status {
                Some(BlobStatus { count, present }) if present.len() == count as usize => {
                    if count == 0 || count > MAX_PHOTO_CHUNKS {
                        // No honest relay says this (it refuses such uploads);
                        // storing "nothing" would end the download for good.
                        failed(report, "gave an impossible chunk count");
                    } else {
                        waiting.push_back(Download {
                            transfer: t,
                            blob_id,
                            count,
                            bytes: Zeroizing::new(Vec::new()),
                            received: 0,
                        });
                    }
                }
                _ => {} // not stored yet, or still being uploaded
            }
        }
        let mut window: Vec<Download> = Vec::new();
        // The variants completed in the previous round are stored (disk, on
        // the blocking pool) while this round's chunks are fetched.
        let mut storing: Option<StoreFuture<'_>> = None;
        loop {
            let mut held: usize =
                window.iter().map(|d| d.count as usize).sum::<usize>() * wire::CHUNK_SIZE;
            while held < DOWNLOAD_WINDOW_BYTES && window.len() < DOWNLOAD_WINDOW_VARIANTS {
                let Some(d) = waiting.pop_front() else { break };
                held += d.count as usize * wire::CHUNK_SIZE;
                window.push(d);
            }
            let cancelled = !window.is_empty() && self.cancelled();
            if window.is_empty() || cancelled {
                // What the last round completed is still stored.
                if let Some(store) = storing {
                    report.photos_downloaded += store.await?;
                }
                return if cancelled {
                    Err(Error::Cancelled)
                } else {
                    Ok(())
                };
            }
            self.update(|s| {
                s.phase = SyncPhase::Pulling;
                s.current_transfer = Some(format!(
                    "downloading {} photos",
                    window.len() + waiting.len()
                ));
            });
            let round = self.download_round(&keys, &window);
            let fetched = match storing.take() {
                Some(store) => {
                    let (fetched, stored) = tokio::join!(round, store);
                    report.photos_downloaded += stored?;
                    fetched?
                }
                None => round.await?,
            };
            let (complete, rest) = apply_round(window, fetched, report);
            window = rest;
            if !complete.is_empty() {
                storing = Some(Box::pin(self.store_downloads(complete)));
            }
        }
    }

    /// Fetches and opens the next chunk of each download in `window`: one
    /// outcome per window position. A request that fails fails the round
    /// (the fetches under way finish, no new one starts).
    async fn download_round(
        &self,
        keys: &WorkspaceKeys,
        window: &[Download],
    ) -> Result<Vec<(usize, Fetched)>> {
        let wanted: Vec<(usize, ChunkRef)> = window
            .iter()
            .enumerate()
            .map(|(position, d)| {
                let chunk = ChunkRef {
                    blob_id: d.blob_id.clone(),
                    index: d.received,
                };
                (position, chunk)
            })
            .collect();
        // Owned batches: a future borrowing `wanted` would not be `Send`
        // for every lifetime, which the bindings' runtime needs.
        let batches: Vec<Vec<(usize, ChunkRef)>> = wanted
            .chunks(MAX_CHUNKS_PER_FETCH)
            .map(<[_]>::to_vec)
            .collect();
        let client = self.client();
        // Once a fetch fails, fetches not yet started are not sent.
        let stop = AtomicBool::new(false);
        let mut requests = futures_util::stream::iter(batches)
            .map(|batch| {
                let (client, stop) = (&client, &stop);
                async move {
                    if stop.load(Ordering::SeqCst) {
                        return Ok((Vec::new(), Vec::new()));
                    }
                    if self.cancelled() {
                        return Err(Error::Cancelled);
                    }
                    let refs = batch.iter().map(|(_, r)| r.clone()).collect();
                    match client.get_chunks(refs).await {
                        Ok(slots) => Ok((batch, slots)),
                        Err(e) => {
                            stop.store(true, Ordering::SeqCst);
                            Err(e)
                        }
                    }
                }
            })
            .buffer_unordered(PHOTOS_IN_FLIGHT);
        let mut out = Vec::with_capacity(window.len());
        let mut first_error = None;
        while let Some(outcome) = requests.next().await {
            match outcome {
                Ok((batch, slots)) => {
                    for ((position, r), slot) in batch.into_iter().zip(slots) {
                        let fetched = match slot {
                            None => Fetched::Failed("missing on the relay"),
                            Some(sealed) => open_chunk(keys, &window[position], r.index, sealed),
                        };
                        out.push((position, fetched));
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(out), Err)
    }

    /// Stores the downloaded variants (a display image must match the digest
    /// its document names); returns how many were stored.
    async fn store_downloads(&self, complete: Vec<Download>) -> Result<usize> {
        if complete.is_empty() {
            return Ok(0);
        }
        let mut checked = Vec::with_capacity(complete.len());
        for d in complete {
            if d.transfer.variant == PhotoVariant::Display {
                let digest = ring::digest::digest(&ring::digest::SHA256, &d.bytes);
                if wire::hex(digest.as_ref()) != d.transfer.sha256_hex {
                    tracing::warn!(target: "fieldvault::sync", "a downloaded photo does not match its reference; skipped");
                    continue;
                }
            }
            checked.push(d);
        }
        // Sealing and writing wait on the disk: off the runtime's workers.
        self.on_vault(move |v| {
            let downloads: Vec<(&PhotoTransfer, &[u8])> = checked
                .iter()
                .map(|d| (&d.transfer, d.bytes.as_slice()))
                .collect();
            v.store_downloaded_photos(&downloads)
        })
        .await
    }
}

/// A pending [`SyncEngine::store_downloads`].
type StoreFuture<'a> = Pin<Box<dyn Future<Output = Result<usize>> + Send + 'a>>;

/// Adds a round's chunks to their downloads. Returns the downloads now
/// complete and those still going; a download whose chunk failed is counted
/// in the report and dropped from both (it stays queued for a later pass).
fn apply_round(
    mut window: Vec<Download>,
    fetched: Vec<(usize, Fetched)>,
    report: &mut SyncReport,
) -> (Vec<Download>, Vec<Download>) {
    let mut dropped = vec![false; window.len()];
    for (position, outcome) in fetched {
        match outcome {
            Fetched::Opened(plain) => {
                window[position].bytes.extend_from_slice(&plain);
                window[position].received += 1;
            }
            Fetched::Failed(kind) => {
                failed(report, kind);
                dropped[position] = true;
            }
        }
    }
    let (complete, rest) = window
        .into_iter()
        .zip(dropped)
        .filter(|(_, dropped)| !dropped)
        .map(|(d, _)| d)
        .partition(Download::complete);
    (complete, rest)
}

/// Opens chunk `index` of `d`. The chunk names no epoch: the newest key is
/// tried first.
fn open_chunk(keys: &WorkspaceKeys, d: &Download, index: u32, sealed: Vec<u8>) -> Fetched {
    let epochs: Vec<u32> = keys.epochs().map(|(epoch, _)| epoch).collect();
    epochs
        .into_iter()
        .rev()
        .find_map(|epoch| {
            keys.open_chunk(epoch, &d.blob_id, index, d.count, sealed.clone())
                .ok()
        })
        .map_or(Fetched::Failed("does not open"), Fetched::Opened)
}

/// Counts a photo whose relay side cannot be right; it stays queued.
fn failed(report: &mut SyncReport, kind: &'static str) {
    // The kind only: the relay's text is not ours to log.
    tracing::warn!(target: "fieldvault::sync", kind, "a photo download failed; it stays queued");
    report.photos_failed += 1;
}
