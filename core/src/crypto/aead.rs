//! AES-256-GCM sealing with associated data that says where a ciphertext belongs.
//!
//! A sealed blob is `nonce (12) || ciphertext || tag (16)`. Nonces are random
//! (96 bits from the OS); every key here seals far fewer than 2^32 messages.
//! The associated data ([`Aad`]) names the format version, the table, the row
//! (a keyed hash, never a plaintext id) and a sequence number, so a blob copied
//! to another row, another document or an older sequence fails to open.
use ring::aead::{Aad as RingAad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

use super::random;
use crate::error::{Error, Result};

pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

/// Version of the sealed-value layout and AAD encoding; part of every AAD.
pub const FORMAT_VERSION: u8 = 1;

/// Where a sealed value lives. Encoded unambiguously (length-prefixed fields).
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    /// Logical table, e.g. `b"changes"`.
    pub table: &'a [u8],
    /// Row identity: the keyed hash of the document (or another owner).
    pub row: &'a [u8],
    /// Position within the row: change sequence, snapshot generation, chunk index; 0 when unused.
    pub seq: u64,
}

impl Aad<'_> {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 2 + self.table.len() + 2 + self.row.len() + 8);
        out.extend_from_slice(b"FV");
        out.push(FORMAT_VERSION);
        out.push(0);
        push_len_prefixed(&mut out, self.table);
        push_len_prefixed(&mut out, self.row);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out
    }
}

fn push_len_prefixed(out: &mut Vec<u8>, field: &[u8]) {
    // Fields are short (table names, 32-byte hashes); u16 is ample and checked.
    let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&field[..usize::from(len)]);
}

/// An AES-256-GCM key ready to seal and open.
pub struct SealKey(LessSafeKey);

impl SealKey {
    /// Builds a key from 32 bytes. The caller keeps (and zeroizes) the bytes.
    pub fn new(bytes: &[u8; 32]) -> Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| Error::Crypto("invalid AES-256 key length".into()))?;
        Ok(Self(LessSafeKey::new(unbound)))
    }

    /// Seals `plaintext` for the place named by `aad`.
    pub fn seal(&self, aad: Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let nonce_bytes = random::bytes::<NONCE_LEN>()?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(NONCE_LEN);
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                RingAad::from(aad.encode()),
                &mut body,
            )
            .map_err(|_| Error::Crypto("sealing failed".into()))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypts in place inside `sealed` and returns the plaintext slice (no
    /// copy, no allocation). The buffer's contents are garbage afterwards.
    pub fn open_in_place<'b>(&self, aad: Aad<'_>, sealed: &'b mut [u8]) -> Option<&'b [u8]> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self
            .0
            .open_in_place(nonce, RingAad::from(aad.encode()), body)
            .ok()?;
        Some(plain)
    }

    /// Like [`Self::open`] but decrypts in place in an owned buffer (no copy).
    pub fn open_owned(&self, aad: Aad<'_>, mut sealed: Vec<u8>) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).ok()?;
        let plain_len = self
            .0
            .open_in_place(nonce, RingAad::from(aad.encode()), &mut sealed[NONCE_LEN..])
            .ok()?
            .len();
        sealed.copy_within(NONCE_LEN..NONCE_LEN + plain_len, 0);
        sealed.truncate(plain_len);
        Some(sealed)
    }

    /// Opens a blob sealed for exactly this place. Any change to the blob or
    /// the place gives `None`; callers turn that into a typed error.
    pub fn open(&self, aad: Aad<'_>, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = body.to_vec();
        let plain_len = self
            .0
            .open_in_place(nonce, RingAad::from(aad.encode()), &mut buf)
            .ok()?
            .len();
        buf.truncate(plain_len);
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealKey {
        SealKey::new(&[7u8; 32]).expect("key")
    }

    fn at(seq: u64) -> Aad<'static> {
        Aad {
            table: b"changes",
            row: b"row-1",
            seq,
        }
    }

    #[test]
    fn round_trip_and_fresh_nonce() {
        let k = key();
        let a = k.seal(at(1), b"hello").expect("seal");
        let b = k.seal(at(1), b"hello").expect("seal");
        assert_ne!(a, b, "nonces must differ");
        assert_eq!(k.open(at(1), &a).as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            k.open_owned(at(1), a.clone()).as_deref(),
            Some(&b"hello"[..])
        );
        assert!(k.open_owned(at(2), a.clone()).is_none());
        let mut buf = a.clone();
        assert_eq!(k.open_in_place(at(1), &mut buf), Some(&b"hello"[..]));
        let mut buf = a;
        assert_eq!(k.open_in_place(at(9), &mut buf), None);
    }

    #[test]
    fn any_change_of_place_or_byte_fails() {
        let k = key();
        let sealed = k.seal(at(3), b"secret").expect("seal");
        assert!(k.open(at(4), &sealed).is_none(), "other sequence");
        let other_row = Aad {
            row: b"row-2",
            ..at(3)
        };
        assert!(k.open(other_row, &sealed).is_none(), "other row");
        let other_table = Aad {
            table: b"snapshots",
            ..at(3)
        };
        assert!(k.open(other_table, &sealed).is_none(), "other table");
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(k.open(at(3), &t).is_none(), "flipped byte {i}");
        }
        assert!(k.open(at(3), &sealed[..10]).is_none(), "truncated");
        assert!(SealKey::new(&[8u8; 32])
            .expect("key")
            .open(at(3), &sealed)
            .is_none());
    }

    #[test]
    fn aad_fields_cannot_be_shifted() {
        // "ab" + "c" must differ from "a" + "bc".
        let one = Aad {
            table: b"ab",
            row: b"c",
            seq: 0,
        }
        .encode();
        let two = Aad {
            table: b"a",
            row: b"bc",
            seq: 0,
        }
        .encode();
        assert_ne!(one, two);
    }
}
