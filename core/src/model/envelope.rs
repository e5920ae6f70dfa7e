//! The envelope: metadata every document carries regardless of its kind.
//!
//! * [`DocumentId`]: UUIDv7 (time-ordered), stored as a hyphenated string.
//! * [`DocumentKind`]: which typed body the document holds.
//! * [`Status`]: workflow state (下書き → 提出 → 受理 → 訂正). Transitions are
//!   not checked here; that is the vault's job.
//! * [`PhotoRef`]: metadata of an attached photo; the bytes live elsewhere.
//! * `municipality_code`: 全国地方公共団体コード, 6 digits including the
//!   check digit (検査数字), e.g. 札幌市 `011002`, 千代田区 `131016`.
//!
//! Enum values use the same snake_case names in JSON and in Automerge.
use std::fmt;
use std::str::FromStr;

use autosurgeon::reconcile::NoKey;
use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::geo::GeoPoint;
use super::time::Timestamp;
use super::validation::{FieldErrorCode, ParseError, ValidationErrors};

/// The document kinds: three kinds of field record, plus each device's
/// audit log (kept apart from listings unless asked for).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Reconcile,
    Hydrate,
)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 確定申告の手伝い (tax-return help form).
    #[autosurgeon(rename = "tax_assist")]
    TaxAssist,
    /// クマ出没情報 (bear sighting).
    #[autosurgeon(rename = "bear_sighting")]
    BearSighting,
    /// 被害報告 (FDMA 第4号様式 damage report).
    #[autosurgeon(rename = "damage_report")]
    DamageReport,
    /// 監査ログ: one device's audit log (see [`crate::model::AuditLog`]).
    #[autosurgeon(rename = "audit_log")]
    AuditLog,
}

impl DocumentKind {
    /// The three kinds of field record, in declaration order (the audit
    /// log is not a record a user fills in).
    pub const ALL: [DocumentKind; 3] = [
        DocumentKind::TaxAssist,
        DocumentKind::BearSighting,
        DocumentKind::DamageReport,
    ];

    /// The snake_case name (`"tax_assist"`, `"bear_sighting"`, `"damage_report"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::TaxAssist => "tax_assist",
            DocumentKind::BearSighting => "bear_sighting",
            DocumentKind::DamageReport => "damage_report",
            DocumentKind::AuditLog => "audit_log",
        }
    }

    /// Kinds holding personal data that an expired offline lease locks.
    pub fn is_sensitive(self) -> bool {
        matches!(self, DocumentKind::TaxAssist)
    }
}

impl FromStr for DocumentKind {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .chain([DocumentKind::AuditLog])
            .find(|k| k.as_str() == s)
            .ok_or(ParseError::DocumentKind)
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Workflow state of a document.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 下書き: being filled in; may be incomplete.
    #[default]
    #[autosurgeon(rename = "draft")]
    Draft,
    /// 確認済み: complete and checked, ready to submit.
    #[autosurgeon(rename = "ready")]
    Ready,
    /// 提出済み.
    #[autosurgeon(rename = "submitted")]
    Submitted,
    /// 受理: acknowledged by the receiving office.
    #[autosurgeon(rename = "acknowledged")]
    Acknowledged,
    /// 訂正: amended after submission.
    #[autosurgeon(rename = "amended")]
    Amended,
}

impl Status {
    /// All statuses, in workflow order.
    pub const ALL: [Status; 5] = [
        Status::Draft,
        Status::Ready,
        Status::Submitted,
        Status::Acknowledged,
        Status::Amended,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Ready => "ready",
            Status::Submitted => "submitted",
            Status::Acknowledged => "acknowledged",
            Status::Amended => "amended",
        }
    }
}

impl FromStr for Status {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(ParseError::Status)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of a document: a UUIDv7, so ids sort roughly by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId(pub Uuid);

impl DocumentId {
    /// A fresh UUIDv7.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses any standard UUID text form.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Uuid::parse_str(s.trim())
            .map(Self)
            .map_err(|_| ParseError::DocumentId)
    }

    /// The inner UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl From<Uuid> for DocumentId {
    fn from(u: Uuid) -> Self {
        Self(u)
    }
}

impl FromStr for DocumentId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl Serialize for DocumentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.hyphenated())
    }
}

impl<'de> Deserialize<'de> for DocumentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Stored in Automerge as the hyphenated string (readable by any client).
impl Reconcile for DocumentId {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_string())
    }
}

/// Accepts the hyphenated string and, for robustness, the 16 raw bytes.
impl Hydrate for DocumentId {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        Self::parse(s)
            .map_err(|_| HydrateError::unexpected("a UUID string", "another string".into()))
    }
    fn hydrate_bytes(bytes: &[u8]) -> Result<Self, HydrateError> {
        Uuid::from_slice(bytes)
            .map(Self)
            .map_err(|_| HydrateError::unexpected("16 UUID bytes", "other bytes".into()))
    }
}

/// Metadata of an attached photo. The image itself is stored separately
/// (encrypted) and addressed by `id`; `sha256_hex` pins its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct PhotoRef {
    #[key]
    pub id: Uuid,
    /// SHA-256 of the stored image bytes, 64 hex digits.
    pub sha256_hex: String,
    pub width: u32,
    pub height: u32,
    pub byte_size: u64,
    /// When the photo was taken (from the camera, if known).
    pub taken_at: Option<Timestamp>,
    /// Where the photo was taken (if known and kept).
    pub position: Option<GeoPoint>,
    /// Original format, e.g. `"image/jpeg"`, `"image/heic"`.
    pub source_format: String,
    /// Processing notes, e.g. `"exif_stripped"`, `"downscaled"`.
    pub flags: Vec<String>,
}

/// Metadata common to every document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Envelope {
    pub id: DocumentId,
    pub kind: DocumentKind,
    /// Schema version of the body (see `DocumentBody::SCHEMA_VERSION`), ≥ 1.
    pub schema_version: u32,
    /// 全国地方公共団体コード: 6 digits including the check digit.
    pub municipality_code: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// 職員番号 of the staff member who created the document.
    pub author_staff_id: String,
    /// Identifier of the device that created the document.
    pub device_id: String,
    pub status: Status,
    pub photos: Vec<PhotoRef>,
}

impl Envelope {
    /// A new draft with a fresh UUIDv7, created and updated at `now`, no photos.
    pub fn new(
        kind: DocumentKind,
        schema_version: u32,
        municipality_code: impl Into<String>,
        author_staff_id: impl Into<String>,
        device_id: impl Into<String>,
        now: Timestamp,
    ) -> Self {
        Self {
            id: DocumentId::new(),
            kind,
            schema_version,
            municipality_code: municipality_code.into(),
            created_at: now.clone(),
            updated_at: now,
            author_staff_id: author_staff_id.into(),
            device_id: device_id.into(),
            status: Status::Draft,
            photos: Vec::new(),
        }
    }

    /// Sets `updated_at`.
    pub fn touch(&mut self, now: Timestamp) {
        self.updated_at = now;
    }

    /// The photo with this id, if attached.
    pub fn photo(&self, id: &Uuid) -> Option<&PhotoRef> {
        self.photos.iter().find(|p| &p.id == id)
    }

    /// Field-level checks. Paths are prefixed with `envelope.` because the
    /// envelope is the `envelope` field of every document body.
    pub fn validate(&self, errors: &mut ValidationErrors) {
        if self.schema_version == 0 {
            errors.push(
                "envelope.schema_version",
                FieldErrorCode::OutOfRange,
                "schema version must be at least 1",
            );
        }
        if let Err(code) = validate_municipality_code(&self.municipality_code) {
            let message = match code {
                FieldErrorCode::Required => "municipality code is required",
                FieldErrorCode::BadCheckDigit => "municipality code check digit does not match",
                _ => "municipality code must be exactly 6 ASCII digits",
            };
            errors.push("envelope.municipality_code", code, message);
        }
        if self.author_staff_id.trim().is_empty() {
            errors.push(
                "envelope.author_staff_id",
                FieldErrorCode::Required,
                "author staff id is required",
            );
        }
        if self.device_id.trim().is_empty() {
            errors.push(
                "envelope.device_id",
                FieldErrorCode::Required,
                "device id is required",
            );
        }
        if self.updated_at < self.created_at {
            errors.push(
                "envelope.updated_at",
                FieldErrorCode::Inconsistent,
                "updated_at cannot be earlier than created_at",
            );
        }
        for (i, photo) in self.photos.iter().enumerate() {
            let prefix = format!("envelope.photos[{i}]");
            let hex_ok = photo.sha256_hex.len() == 64
                && photo.sha256_hex.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex_ok {
                errors.push(
                    format!("{prefix}.sha256_hex"),
                    FieldErrorCode::InvalidFormat,
                    "SHA-256 must be 64 hexadecimal digits",
                );
            }
            if self.photos[..i].iter().any(|p| p.id == photo.id) {
                errors.push(
                    format!("{prefix}.id"),
                    FieldErrorCode::Inconsistent,
                    "photo id appears more than once",
                );
            }
            if let Some(pos) = &photo.position {
                pos.validate(&format!("{prefix}.position"), errors);
            }
        }
    }
}

/// Checks a 全国地方公共団体コード (6 digits incl. check digit).
///
/// Check digit: with the first five digits weighted 6, 5, 4, 3, 2,
/// `check = (11 − (Σ digit·weight mod 11)) mod 10`. Verified against
/// 札幌市 011002, 秋田市 052019, 千代田区 131016, 栃木県 090000 (remainder 1)
/// and 埼玉県 110001 (remainder 0).
///
/// Returns the failing rule: `Required` (empty), `InvalidFormat`, or `BadCheckDigit`.
pub fn validate_municipality_code(code: &str) -> Result<(), FieldErrorCode> {
    if code.is_empty() {
        return Err(FieldErrorCode::Required);
    }
    let bytes = code.as_bytes();
    if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(FieldErrorCode::InvalidFormat);
    }
    let digit = |i: usize| u32::from(bytes[i] - b'0');
    let sum: u32 = (0..5).map(|i| digit(i) * (6 - i as u32)).sum();
    let check = (11 - sum % 11) % 10;
    if check == digit(5) {
        Ok(())
    } else {
        Err(FieldErrorCode::BadCheckDigit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::AutoCommit;
    use autosurgeon::{hydrate, reconcile};

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn envelope() -> Envelope {
        Envelope::new(
            DocumentKind::BearSighting,
            1,
            "052019",
            "S-0012",
            "device-A",
            ts("2025-06-01T08:00:00+09:00"),
        )
    }

    #[test]
    fn municipality_codes() {
        for ok in [
            "011002", "052019", "131016", "090000", "110001", "271004", "472018",
        ] {
            assert_eq!(validate_municipality_code(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_municipality_code("011003"),
            Err(FieldErrorCode::BadCheckDigit)
        );
        assert_eq!(
            validate_municipality_code("01100"),
            Err(FieldErrorCode::InvalidFormat)
        );
        assert_eq!(
            validate_municipality_code("０１１００２"),
            Err(FieldErrorCode::InvalidFormat)
        );
        assert_eq!(
            validate_municipality_code(""),
            Err(FieldErrorCode::Required)
        );
    }

    #[test]
    fn kind_and_status_names() {
        for k in DocumentKind::ALL {
            assert_eq!(k.as_str().parse::<DocumentKind>(), Ok(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(
            "TaxAssist".parse::<DocumentKind>(),
            Err(ParseError::DocumentKind)
        );
        assert_eq!("done".parse::<Status>(), Err(ParseError::Status));
    }

    #[test]
    fn document_id() {
        let a = DocumentId::new();
        assert_eq!(a.0.get_version_num(), 7);
        let s = a.to_string();
        assert_eq!(s.len(), 36);
        assert_eq!(DocumentId::parse(&s), Ok(a));
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{s}\""));
        assert_eq!(
            serde_json::from_str::<DocumentId>(&format!("\"{s}\"")).unwrap(),
            a
        );
        assert_eq!(DocumentId::parse("nope"), Err(ParseError::DocumentId));
    }

    #[test]
    fn envelope_round_trip() {
        let mut env = envelope();
        env.status = Status::Submitted;
        env.photos.push(PhotoRef {
            id: Uuid::new_v4(),
            sha256_hex: "ab".repeat(32),
            width: 4032,
            height: 3024,
            byte_size: 2_345_678,
            taken_at: Some(ts("2025-06-01T07:55:00+09:00")),
            position: Some(GeoPoint::new(39.72, 140.10)),
            source_format: "image/heic".into(),
            flags: vec!["exif_stripped".into()],
        });
        let mut doc = AutoCommit::new();
        reconcile(&mut doc, &env).unwrap();
        let back: Envelope = hydrate(&doc).unwrap();
        assert_eq!(back, env);
        let json = serde_json::to_string(&env).unwrap();
        assert!(json.contains(r#""kind":"bear_sighting""#));
        assert!(json.contains(r#""status":"submitted""#));
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), env);
    }

    #[test]
    fn envelope_validation_paths() {
        let mut errors = ValidationErrors::new();
        envelope().validate(&mut errors);
        assert!(errors.is_empty(), "{errors}");

        let mut env = envelope();
        env.schema_version = 0;
        env.municipality_code = "052018".into();
        env.author_staff_id = " ".into();
        env.device_id = String::new();
        env.updated_at = ts("2025-06-01T07:00:00+09:00");
        let photo = PhotoRef {
            id: Uuid::new_v4(),
            sha256_hex: "xyz".into(),
            width: 1,
            height: 1,
            byte_size: 1,
            taken_at: None,
            position: Some(GeoPoint::new(0.0, 200.0)),
            source_format: "image/jpeg".into(),
            flags: vec![],
        };
        env.photos = vec![photo.clone(), photo];
        let mut errors = ValidationErrors::new();
        env.validate(&mut errors);
        let expected = [
            ("envelope.schema_version", FieldErrorCode::OutOfRange),
            ("envelope.municipality_code", FieldErrorCode::BadCheckDigit),
            ("envelope.author_staff_id", FieldErrorCode::Required),
            ("envelope.device_id", FieldErrorCode::Required),
            ("envelope.updated_at", FieldErrorCode::Inconsistent),
            (
                "envelope.photos[0].sha256_hex",
                FieldErrorCode::InvalidFormat,
            ),
            (
                "envelope.photos[0].position.longitude",
                FieldErrorCode::OutOfRange,
            ),
            (
                "envelope.photos[1].sha256_hex",
                FieldErrorCode::InvalidFormat,
            ),
            ("envelope.photos[1].id", FieldErrorCode::Inconsistent),
            (
                "envelope.photos[1].position.longitude",
                FieldErrorCode::OutOfRange,
            ),
        ];
        for (field, code) in expected {
            assert!(
                errors.contains(field, code),
                "missing {field} {code}: {errors}"
            );
        }
        assert_eq!(errors.len(), expected.len(), "{errors}");
        assert!(!errors.to_string().contains("052018"));
    }
}
