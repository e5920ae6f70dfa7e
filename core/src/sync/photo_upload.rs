//! Photo uploads in rounds. A window of queued variants (thumbnails first) is
//! read from the vault; each round sends the next missing chunk of every
//! variant in the window, packed into batch requests of ~1 MiB
//! (`POST .../chunks`), [`PHOTOS_IN_FLIGHT`] requests at once. A batch holds
//! at most one chunk per variant and the relay stores a batch whole or not
//! at all, so a cut request costs each upload in it at most the one chunk
//! it was sending: an interrupted upload resumes after its last acknowledged
//! chunk (ADR 0011).
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use zeroize::Zeroizing;

use super::engine::{SyncEngine, SyncPhase, SyncReport, PHOTOS_IN_FLIGHT};
use super::wire::chunk_batch::{ChunkUpload, MAX_CHUNKS_PER_BATCH, UPLOAD_FRAME_HEADER};
use super::wire::{self, BlobStatus};
use super::workspace_keys::WorkspaceKeys;
use crate::error::{Error, Result};
use crate::vault::photo_sync::{Direction, PhotoTransfer};

/// Plaintext of the variants being uploaded at once. A round sends one chunk
/// of each, so a bigger window fills more requests per round trip; what it
/// costs is memory (plaintext, then the sealed copies of one round).
pub const UPLOAD_WINDOW_BYTES: usize = 8 * 1024 * 1024;

/// Bytes of one batch request (a single larger chunk still goes alone).
pub const BATCH_BYTES: usize = 1024 * 1024;
const _: () = assert!(
    BATCH_BYTES + UPLOAD_FRAME_HEADER + wire::MAX_CHUNK_BODY
        <= wire::chunk_batch::MAX_CHUNK_BATCH_BODY
);

/// A variant being uploaded: its plaintext chunks and the indexes the relay
/// still lacks, in order.
struct Upload {
    transfer: PhotoTransfer,
    blob_id: Vec<u8>,
    chunks: Vec<Zeroizing<Vec<u8>>>,
    missing: VecDeque<u32>,
    sent: usize,
}

impl Upload {
    fn plaintext_len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }
}

/// A queued variant not read yet, with the relay's status of its blob.
type Waiting = (PhotoTransfer, Vec<u8>, Option<BlobStatus>);

impl SyncEngine {
    /// Uploads every queued photo variant the relay does not hold whole.
    pub(super) async fn push_photos(&self, epoch: u32, report: &mut SyncReport) -> Result<()> {
        let keys = self.vault().workspace_keys(&self.settings().workspace_id)?;
        let transfers = self.vault().photo_transfers(Direction::Upload)?;
        let statuses = self.blob_statuses(&keys, &transfers).await?;
        let mut waiting: VecDeque<Waiting> = transfers
            .into_iter()
            .zip(statuses)
            .map(|(t, (blob_id, status))| (t, blob_id, status))
            .collect();
        let mut window = self
            .read_uploads(&mut waiting, UPLOAD_WINDOW_BYTES, report)
            .await?;
        while !window.is_empty() {
            if self.cancelled() {
                return Err(Error::Cancelled);
            }
            let left: usize = window.iter().map(|u| u.missing.len()).sum();
            self.update(|s| {
                s.phase = SyncPhase::Pushing;
                s.current_transfer = Some(format!(
                    "uploading {} photos ({left} chunks left)",
                    window.len() + waiting.len()
                ));
            });
            // While this round is on the wire, the next variants are read
            // into the room that the uploads finishing in it leave.
            let staying: usize = window
                .iter()
                .filter(|u| u.missing.len() > 1)
                .map(Upload::plaintext_len)
                .sum();
            let room = UPLOAD_WINDOW_BYTES.saturating_sub(staying);
            let (round, read) = tokio::join!(
                self.upload_round(&keys, epoch, &window),
                self.read_uploads(&mut waiting, room, report)
            );
            let (acked, error) = round?;
            for i in acked {
                window[i].missing.pop_front();
                window[i].sent += 1;
            }
            let (done, rest): (Vec<_>, Vec<_>) =
                window.into_iter().partition(|u| u.missing.is_empty());
            window = rest;
            report.photos_uploaded += done.len();
            report.chunks_uploaded += done.iter().map(|u| u.sent).sum::<usize>();
            let done = done.into_iter().map(|u| u.transfer).collect();
            self.transfers_done(Direction::Upload, done).await?;
            if let Some(e) = error {
                return Err(e);
            }
            window.extend(read?);
        }
        Ok(())
    }

    /// Reads queued variants until they hold `room` bytes of plaintext (at
    /// least one variant if `room` is not zero). A variant the relay already
    /// holds whole, or that was deleted meanwhile, leaves the queue.
    async fn read_uploads(
        &self,
        waiting: &mut VecDeque<Waiting>,
        room: usize,
        report: &mut SyncReport,
    ) -> Result<Vec<Upload>> {
        let mut uploads = Vec::new();
        let mut finished = Vec::new();
        let mut held = 0;
        while held < room {
            let Some((t, blob_id, status)) = waiting.pop_front() else {
                break;
            };
            // Reading waits on the disk: off the runtime's workers, which
            // also serve the app's calls.
            let (doc, photo, variant) = (t.doc, t.photo, t.variant);
            let chunks = match self
                .on_vault(move |v| v.photo_chunks_plain(&doc, &photo, variant))
                .await
            {
                Ok(c) => c,
                Err(Error::NotFound(_)) => {
                    finished.push(t);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let count = u32::try_from(chunks.len())
                .map_err(|_| Error::InvalidInput("photo too large".into()))?;
            let present = status.map(|s| s.present).unwrap_or_default();
            let missing: VecDeque<u32> = (0..count).filter(|i| !present.contains(i)).collect();
            if missing.is_empty() {
                finished.push(t);
                report.photos_uploaded += 1;
                continue;
            }
            let upload = Upload {
                transfer: t,
                blob_id,
                chunks,
                missing,
                sent: 0,
            };
            held += upload.plaintext_len();
            uploads.push(upload);
        }
        self.transfers_done(Direction::Upload, finished).await?;
        Ok(uploads)
    }

    /// Sends the next missing chunk of each upload in `window`. Returns the
    /// window positions whose chunk the relay acknowledged, and the first
    /// failure: once a request fails, requests not yet started are not sent
    /// (the others finish), and the pass reports it.
    async fn upload_round(
        &self,
        keys: &WorkspaceKeys,
        epoch: u32,
        window: &[Upload],
    ) -> Result<(Vec<usize>, Option<Error>)> {
        let mut batches: Vec<Vec<(usize, ChunkUpload)>> = Vec::new();
        let mut batch_bytes = 0;
        // Two queued uploads may name one blob (documents sharing a photo):
        // a round sends one chunk per blob; the other waits for a later round.
        let mut blobs = HashSet::new();
        for (position, u) in window.iter().enumerate() {
            let Some(&index) = u.missing.front() else {
                continue;
            };
            if !blobs.insert(u.blob_id.as_slice()) {
                continue;
            }
            let count = u.chunks.len() as u32;
            let plain = u
                .chunks
                .get(index as usize)
                .ok_or_else(|| Error::Internal("a chunk index past the photo".into()))?;
            let sealed = keys.seal_chunk(epoch, &u.blob_id, index, count, plain)?;
            let size = UPLOAD_FRAME_HEADER + sealed.len();
            let full = batches.last().is_none_or(|b| {
                b.len() >= MAX_CHUNKS_PER_BATCH || batch_bytes + size > BATCH_BYTES
            });
            if full {
                batches.push(Vec::new());
                batch_bytes = 0;
            }
            batch_bytes += size;
            let chunk = ChunkUpload {
                blob_id: u.blob_id.clone(),
                index,
                count,
                epoch,
                sealed,
            };
            if let Some(batch) = batches.last_mut() {
                batch.push((position, chunk));
            }
        }
        let stop = AtomicBool::new(false);
        let client = self.client();
        let mut requests = futures_util::stream::iter(batches)
            .map(|batch| {
                let (client, stop) = (&client, &stop);
                async move {
                    let (positions, chunks): (Vec<usize>, Vec<ChunkUpload>) =
                        batch.into_iter().unzip();
                    if stop.load(Ordering::SeqCst) {
                        return (Vec::new(), Ok(()));
                    }
                    if self.cancelled() {
                        return (Vec::new(), Err(Error::Cancelled));
                    }
                    let outcome = client.put_chunks(chunks).await;
                    if outcome.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    (positions, outcome)
                }
            })
            .buffer_unordered(PHOTOS_IN_FLIGHT);
        let (mut acked, mut first_error) = (Vec::new(), None);
        while let Some((positions, outcome)) = requests.next().await {
            match outcome {
                Ok(()) => acked.extend(positions),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Ok((acked, first_error))
    }
}
