//! How audit entries and the chain head are laid out inside their sealed
//! rows (the plaintext under AES-GCM; see `audit.rs` for the sealing).
//!
//! Format 2 (current) is compact binary. An entry stores what cannot be
//! recomputed: time, staff, action, document, detail and the previous hash
//! (raw 32 bytes). Its own hash is recomputed when read, its sequence number
//! is the row key (also bound by the AAD) and its device is the vault's own.
//! That is ~130 bytes instead of ~450 for format 1 (JSON with both hashes in
//! hex), which is still read: vaults written before format 2 keep working.
//!
//! ```text
//! entry: 0x02 | str at (RFC 3339) | str staff | u8 action | opt document id
//!        | opt document kind | str detail | prev hash (32 bytes)
//! head:  0x02 | u64 length | last hash (32 bytes)
//! str:   u32 length (BE) | UTF-8;   opt: 0x00 | 0x01 str
//! ```
use crate::model::{AuditAction, AuditEntry, Timestamp};
use crate::sync::wire::hex;

const FORMAT: u8 = 2;

const ACTIONS: [AuditAction; 8] = [
    AuditAction::Created,
    AuditAction::Opened,
    AuditAction::Edited,
    AuditAction::Merged,
    AuditAction::Exported,
    AuditAction::Purged,
    AuditAction::Deleted,
    AuditAction::RevealedMyNumber,
];

fn action_code(action: AuditAction) -> u8 {
    ACTIONS.iter().position(|a| *a == action).unwrap_or(0) as u8
}

/// The end of a chain: how many entries it has and the hash of the last.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct Head {
    pub len: u64,
    pub hash: String,
}

impl Head {
    pub fn genesis() -> Self {
        Self {
            len: 0,
            hash: crate::model::GENESIS_HASH.into(),
        }
    }

    /// The head of a chain that starts at seq 0.
    pub fn of(entries: &[AuditEntry]) -> Self {
        entries.last().map_or_else(Self::genesis, |e| Self {
            len: entries.len() as u64,
            hash: e.hash.clone(),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(41);
        out.push(FORMAT);
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&hash_bytes(&self.hash));
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        (r.byte()? == FORMAT).then_some(())?;
        let len = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
        let hash = hex(r.take(32)?);
        r.0.is_empty().then_some(Self { len, hash })
    }
}

/// The raw bytes of a hex SHA-256 (all zeros, like the genesis hash, for
/// anything else; the vault only ever passes hashes it computed).
fn hash_bytes(hash: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let digits = hash.as_bytes();
    if digits.len() == 64 {
        for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            let nibble = |c: u8| (c as char).to_digit(16);
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(h), Some(l)) => *byte = (h * 16 + l) as u8,
                _ => return [0; 32],
            }
        }
    }
    out
}

/// The stored form of `entry` (format 2).
pub(crate) fn encode_entry(entry: &AuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(FORMAT);
    put_str(&mut out, &entry.at.to_rfc3339());
    put_str(&mut out, &entry.staff_id);
    out.push(action_code(entry.action));
    put_opt(&mut out, entry.document_id.as_deref());
    put_opt(&mut out, entry.document_kind.as_deref());
    put_str(&mut out, &entry.detail);
    out.extend_from_slice(&hash_bytes(&entry.prev_hash));
    out
}

/// Reads a stored entry of either format; `None` if it is malformed.
pub(crate) fn decode_entry(bytes: &[u8], seq: u64, device_id: &str) -> Option<AuditEntry> {
    if bytes.first() == Some(&b'{') {
        return serde_json::from_slice::<AuditEntry>(bytes)
            .ok()
            .filter(|e| e.seq == seq);
    }
    let mut r = Reader(bytes);
    (r.byte()? == FORMAT).then_some(())?;
    let at = Timestamp::parse(r.str()?).ok()?;
    let staff_id = r.str()?.to_string();
    let action = *ACTIONS.get(usize::from(r.byte()?))?;
    let document_id = r.opt()?.map(str::to_string);
    let document_kind = r.opt()?.map(str::to_string);
    let detail = r.str()?.to_string();
    let prev_hash = hex(r.take(32)?);
    if !r.0.is_empty() {
        return None;
    }
    let mut entry = AuditEntry {
        seq,
        at,
        staff_id,
        device_id: device_id.to_string(),
        action,
        document_id,
        document_kind,
        detail,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.compute_hash();
    Some(entry)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Entries hold ids, names and short details; longer text is cut at the
    // length a u32 can say, which no caller comes near.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..len as usize]);
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = u32::from_be_bytes(self.take(4)?.try_into().ok()?);
        std::str::from_utf8(self.take(usize::try_from(len).ok()?)?).ok()
    }

    fn opt(&mut self) -> Option<Option<&'a str>> {
        match self.byte()? {
            0 => Some(None),
            1 => self.str().map(Some),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GENESIS_HASH;

    fn entry(seq: u64, action: AuditAction, document: bool) -> AuditEntry {
        let mut e = AuditEntry {
            seq,
            at: Timestamp::parse("2026-02-16T09:30:12.345+09:00").expect("time"),
            staff_id: "staff-田中".into(),
            device_id: "device-1".into(),
            action,
            document_id: document.then(|| "0190a1b2-0000-7000-8000-000000000001".into()),
            document_kind: document.then(|| "tax_assist".into()),
            detail: if document {
                String::new()
            } else {
                "csv".into()
            },
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    #[test]
    fn entries_round_trip_with_their_hash_recomputed() {
        for (i, action) in ACTIONS.into_iter().enumerate() {
            for document in [true, false] {
                let e = entry(i as u64, action, document);
                let bytes = encode_entry(&e);
                assert!(bytes.len() < 200, "{} bytes", bytes.len());
                assert_eq!(decode_entry(&bytes, e.seq, "device-1"), Some(e));
            }
        }
    }

    #[test]
    fn format_1_json_entries_are_still_read() {
        let e = entry(3, AuditAction::Exported, false);
        let json = serde_json::to_vec(&e).expect("json");
        assert_eq!(decode_entry(&json, 3, "ignored"), Some(e));
        assert_eq!(decode_entry(&json, 4, "ignored"), None, "wrong seq");
    }

    #[test]
    fn malformed_records_are_refused_not_misread() {
        let bytes = encode_entry(&entry(0, AuditAction::Opened, true));
        for cut in 0..bytes.len() {
            assert_eq!(decode_entry(&bytes[..cut], 0, "d"), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_entry(&longer, 0, "d"), None);
        let mut bad_action = bytes;
        let at = 1 + 4 + 29 + 4 + "staff-田中".len();
        bad_action[at] = 200;
        assert_eq!(decode_entry(&bad_action, 0, "d"), None);
        assert_eq!(Head::decode(&[2, 0, 0]), None);
    }

    #[test]
    fn heads_round_trip() {
        let e = entry(0, AuditAction::Created, true);
        let head = Head::of(std::slice::from_ref(&e));
        assert_eq!(head.len, 1);
        assert_eq!(Head::decode(&head.encode()), Some(head));
        assert_eq!(
            Head::decode(&Head::genesis().encode()),
            Some(Head::genesis())
        );
    }
}
