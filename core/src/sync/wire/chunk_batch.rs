//! Several photo chunks in one request: `POST .../chunks` carries the next
//! chunk of up to [`MAX_CHUNKS_PER_BATCH`] uploads, `POST .../chunk-fetch`
//! returns up to [`MAX_CHUNKS_PER_FETCH`] chunks. Binary framing (no base64:
//! chunks are most of the bytes a device sends), big-endian lengths.
//!
//! Upload body, repeated per chunk:
//! `blob_id (32) | index u32 | count u32 | epoch u32 | len u32 | sealed (len)`.
//! Fetch answer, one slot per asked chunk in order: `len u32 | bytes (len)`,
//! `len = u32::MAX` for a chunk the relay does not hold.
use serde::{Deserialize, Serialize};

use super::b64;

/// Most chunks in one upload request. Each belongs to another blob, so a cut
/// request costs each upload in it at most one chunk.
pub const MAX_CHUNKS_PER_BATCH: usize = 64;
/// Largest upload body: room for a few full chunks; a device packs ~1 MiB.
pub const MAX_CHUNK_BATCH_BODY: usize = 2 * 1024 * 1024;
/// Most chunks in one fetch (an answer is at most 8 sealed chunks, ~2 MiB).
pub const MAX_CHUNKS_PER_FETCH: usize = 8;
/// Bytes of framing before each uploaded chunk.
pub const UPLOAD_FRAME_HEADER: usize = 32 + 4 * 4;
const MISSING: u32 = u32::MAX;

/// One sealed chunk of an upload batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkUpload {
    pub blob_id: Vec<u8>,
    pub index: u32,
    pub count: u32,
    pub epoch: u32,
    pub sealed: Vec<u8>,
}

/// Why a batch body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub &'static str);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Frames `chunks` as given (a blob id of another length than 32 bytes
/// misaligns the frames, and the relay refuses the body, as tests check).
pub fn encode_uploads(chunks: &[ChunkUpload]) -> Vec<u8> {
    let size = chunks
        .iter()
        .map(|c| UPLOAD_FRAME_HEADER + c.sealed.len())
        .sum();
    let mut out = Vec::with_capacity(size);
    for c in chunks {
        out.extend_from_slice(&c.blob_id);
        for n in [c.index, c.count, c.epoch, len_u32(&c.sealed)] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(&c.sealed);
    }
    out
}

/// Reads an upload body. Checks only the framing (every blob id 32 bytes,
/// every length inside the body); the relay checks the values.
pub fn decode_uploads(mut body: &[u8]) -> Result<Vec<ChunkUpload>, FrameError> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let blob_id = take(&mut body, 32)?.to_vec();
        let index = take_u32(&mut body)?;
        let count = take_u32(&mut body)?;
        let epoch = take_u32(&mut body)?;
        let len = take_u32(&mut body)? as usize;
        let sealed = take(&mut body, len)?.to_vec();
        out.push(ChunkUpload {
            blob_id,
            index,
            count,
            epoch,
            sealed,
        });
    }
    Ok(out)
}

/// A chunk asked for in `POST .../chunk-fetch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    #[serde(with = "b64")]
    pub blob_id: Vec<u8>,
    pub index: u32,
}

/// `POST /v1/workspaces/{ws}/chunk-fetch` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkFetch {
    pub chunks: Vec<ChunkRef>,
}

pub fn encode_fetched(slots: &[Option<Vec<u8>>]) -> Vec<u8> {
    let size = slots
        .iter()
        .map(|s| 4 + s.as_ref().map_or(0, Vec::len))
        .sum();
    let mut out = Vec::with_capacity(size);
    for slot in slots {
        match slot {
            Some(bytes) => {
                out.extend_from_slice(&len_u32(bytes).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&MISSING.to_be_bytes()),
        }
    }
    out
}

/// Reads a fetch answer that must hold exactly `expected` slots, none above
/// [`super::MAX_CHUNK_BODY`]; stops at the first slot too many, so a hostile
/// answer cannot make it allocate more than its own size.
pub fn decode_fetched(
    mut body: &[u8],
    expected: usize,
) -> Result<Vec<Option<Vec<u8>>>, FrameError> {
    let mut out = Vec::with_capacity(expected);
    while !body.is_empty() {
        if out.len() == expected {
            return Err(FrameError("the answer holds more chunks than asked"));
        }
        let len = take_u32(&mut body)?;
        out.push(match len {
            MISSING => None,
            len if len as usize > super::MAX_CHUNK_BODY => {
                return Err(FrameError("a chunk in the answer is larger than any chunk"))
            }
            len => Some(take(&mut body, len as usize)?.to_vec()),
        });
    }
    if out.len() != expected {
        return Err(FrameError("the answer holds another number of chunks"));
    }
    Ok(out)
}

fn len_u32(bytes: &[u8]) -> u32 {
    // Chunks are bounded far below 4 GiB (MAX_CHUNK_BODY) by both sides.
    u32::try_from(bytes.len()).unwrap_or(MISSING - 1)
}

fn take<'a>(body: &mut &'a [u8], n: usize) -> Result<&'a [u8], FrameError> {
    if body.len() < n {
        return Err(FrameError("a chunk frame is cut short"));
    }
    let (head, rest) = body.split_at(n);
    *body = rest;
    Ok(head)
}

fn take_u32(body: &mut &[u8]) -> Result<u32, FrameError> {
    let bytes = take(body, 4)?;
    Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(blob: u8, index: u32, sealed: &[u8]) -> ChunkUpload {
        ChunkUpload {
            blob_id: vec![blob; 32],
            index,
            count: 3,
            epoch: 2,
            sealed: sealed.to_vec(),
        }
    }

    #[test]
    fn uploads_round_trip_and_cut_bodies_are_refused() {
        let chunks = vec![upload(1, 0, b"first"), upload(2, 2, &[7; 300])];
        let body = encode_uploads(&chunks);
        assert_eq!(body.len(), 2 * UPLOAD_FRAME_HEADER + 5 + 300);
        assert_eq!(decode_uploads(&body), Ok(chunks));
        assert_eq!(decode_uploads(&[]), Ok(Vec::new()));
        for cut in [1, 31, 40, UPLOAD_FRAME_HEADER + 2, body.len() - 1] {
            assert!(decode_uploads(&body[..cut]).is_err(), "cut at {cut}");
        }
        // A length that points past the end of the body.
        let mut lying = encode_uploads(&[upload(1, 0, b"x")]);
        lying[44..48].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_uploads(&lying).is_err());
    }

    #[test]
    fn fetch_answers_round_trip_with_missing_slots() {
        let slots = vec![Some(b"abc".to_vec()), None, Some(Vec::new())];
        let body = encode_fetched(&slots);
        assert_eq!(decode_fetched(&body, 3), Ok(slots));
        assert!(decode_fetched(&body, 2).is_err(), "one slot too many");
        assert!(decode_fetched(&body, 4).is_err(), "one slot missing");
        assert!(decode_fetched(&body[..5], 3).is_err(), "cut short");
        let huge = encode_fetched(&[Some(vec![0; super::super::MAX_CHUNK_BODY + 1])]);
        assert!(
            decode_fetched(&huge, 1).is_err(),
            "a slot above a chunk's size"
        );
        let many_missing = encode_fetched(&vec![None; 1000]);
        assert!(
            decode_fetched(&many_missing, 8).is_err(),
            "slots past the asked"
        );
    }
}
