//! The core's model types, exposed as they are.
//!
//! Every document type is a *remote* uniffi type: the definitions below mirror
//! the core's structs and enums field by field, and uniffi generates the
//! converters for the core's own types (no copy, no conversion code). If the
//! core adds or renames a field, this file stops compiling — the bindings can
//! never silently drop a field.
//!
//! Scalars that the core wraps in newtypes cross the boundary as strings:
//! `DocumentId` and `Uuid` (hyphenated), `Timestamp` (RFC 3339 with offset),
//! `LocalDate` (`YYYY-MM-DD`) and `Narrative` (plain text). A malformed string
//! coming from Kotlin or Swift is refused as `FieldVaultError.InvalidInput`
//! naming the type, never the value.
use fieldvault::model::{
    AnyDocument, BearGroup, BearSighting, Casualties, Certainty, ConfirmableCount, Consent, Count,
    DamageReport, DamageSummary, Dependant, DocumentId, DocumentKind, Envelope, FieldError,
    FieldErrorCode, FilingRoute, GeoPoint, HouseDamageLevel, HouseSurvey, HousingCounts,
    HousingDamage, Infrastructure, LocalDate, MedicalCategory, MedicalExpense, Narrative,
    ObservedTime, PensionPremiums, PensionSlip, PensionType, PhotoRef, RefundAccount, ReportKind,
    ReporterContact, SiteRecord, SiteTarget, SocialInsurancePremium, Species, Status, TaxAssist,
    Taxpayer, Timestamp, TraceKind,
};
use fieldvault::sync::engine::{SyncPhase, SyncState};
use fieldvault::{DocumentSummary, HistoryEntry, ListFilter, PhotoVariant};
use uuid::Uuid;

use crate::error::FieldVaultError;

fn invalid(what: &str) -> anyhow_compat::Error {
    anyhow_compat::Error::from(FieldVaultError::InvalidInput(format!(
        "{what} is not well formed"
    )))
}

/// uniffi's lift errors are `anyhow` errors; uniffi downcasts them back to
/// `FieldVaultError` so Kotlin and Swift see `InvalidInput`, not a panic.
mod anyhow_compat {
    pub use uniffi::deps::anyhow::Error;
}

uniffi::custom_type!(Uuid, String, {
    remote,
    lower: |u| u.hyphenated().to_string(),
    try_lift: |s| Uuid::parse_str(s.trim()).map_err(|_| invalid("a UUID")),
});

uniffi::custom_type!(DocumentId, String, {
    remote,
    lower: |id| id.to_string(),
    try_lift: |s| DocumentId::parse(&s).map_err(|_| invalid("a document id")),
});

uniffi::custom_type!(Timestamp, String, {
    remote,
    lower: |t| t.to_rfc3339(),
    try_lift: |s| Timestamp::parse(&s).map_err(|_| invalid("an RFC 3339 timestamp")),
});

uniffi::custom_type!(LocalDate, String, {
    remote,
    lower: |d| d.to_iso(),
    try_lift: |s| LocalDate::parse(&s).map_err(|_| invalid("a YYYY-MM-DD date")),
});

uniffi::custom_type!(Narrative, String, {
    remote,
    lower: |n| n.0,
    try_lift: |s| Ok(Narrative(s)),
});

// ---- envelope -------------------------------------------------------------

#[uniffi::remote(Enum)]
pub enum DocumentKind {
    TaxAssist,
    BearSighting,
    DamageReport,
    AuditLog,
}

#[uniffi::remote(Enum)]
pub enum Status {
    Draft,
    Ready,
    Submitted,
    Acknowledged,
    Amended,
}

#[uniffi::remote(Record)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
    pub uncertainty_m: Option<f64>,
    pub altitude_m: Option<f64>,
}

#[uniffi::remote(Record)]
pub struct PhotoRef {
    pub id: Uuid,
    pub sha256_hex: String,
    pub width: u32,
    pub height: u32,
    pub byte_size: u64,
    pub taken_at: Option<Timestamp>,
    pub position: Option<GeoPoint>,
    pub source_format: String,
    pub flags: Vec<String>,
}

#[uniffi::remote(Record)]
pub struct Envelope {
    pub id: DocumentId,
    pub kind: DocumentKind,
    pub schema_version: u32,
    pub municipality_code: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub author_staff_id: String,
    pub device_id: String,
    pub status: Status,
    pub photos: Vec<PhotoRef>,
}

#[uniffi::remote(Enum)]
pub enum Count {
    Known(u32),
    Unknown,
}

#[uniffi::remote(Record)]
pub struct ConfirmableCount {
    pub count: Count,
    pub unconfirmed: bool,
}

// ---- tax assist (確定申告の手伝い) -------------------------------------------

#[uniffi::remote(Record)]
pub struct TaxAssist {
    pub envelope: Envelope,
    pub tax_year: u16,
    pub venue: String,
    pub staff: Vec<String>,
    pub permission_reference: String,
    pub consent: Consent,
    pub filing_route: FilingRoute,
    pub taxpayer: Taxpayer,
    pub has_my_number: bool,
    pub total_income_yen: Option<u64>,
    pub dependants: Vec<Dependant>,
    pub pension_slips: Vec<PensionSlip>,
    pub social_insurance: Vec<SocialInsurancePremium>,
    pub medical_expenses: Vec<MedicalExpense>,
    pub refund_account: Option<RefundAccount>,
    pub notes: Narrative,
}

#[uniffi::remote(Record)]
pub struct Consent {
    pub given: bool,
    pub given_at: Option<Timestamp>,
    pub method: String,
}

#[uniffi::remote(Enum)]
pub enum FilingRoute {
    ETaxMyNumberCard,
    ETaxIdPassword,
    Paper,
    ResidentTaxOnly,
    NotRequired,
}

#[uniffi::remote(Record)]
pub struct Taxpayer {
    pub name: String,
    pub name_kana: String,
    pub birth_date: Option<LocalDate>,
    pub address: String,
    pub phone: Option<String>,
}

#[uniffi::remote(Record)]
pub struct Dependant {
    pub id: Uuid,
    pub name: String,
    pub name_kana: String,
    pub relationship: String,
    pub birth_date: Option<LocalDate>,
    pub annual_income_yen: Option<u64>,
}

#[uniffi::remote(Record)]
pub struct PensionSlip {
    pub id: Uuid,
    pub payer: String,
    pub pension_type: PensionType,
    pub amount_paid_yen: u64,
    pub tax_withheld_yen: u64,
    pub premiums: PensionPremiums,
}

#[uniffi::remote(Enum)]
pub enum PensionType {
    National,
    Mutual,
    Corporate,
    Other,
}

#[uniffi::remote(Record)]
pub struct PensionPremiums {
    pub long_term_care_yen: u64,
    pub late_elderly_yen: u64,
    pub national_health_yen: u64,
}

#[uniffi::remote(Record)]
pub struct SocialInsurancePremium {
    pub id: Uuid,
    pub kind: String,
    pub payer_note: String,
    pub amount_yen: u64,
}

#[uniffi::remote(Record)]
pub struct MedicalExpense {
    pub id: Uuid,
    pub patient: String,
    pub payee: String,
    pub category: MedicalCategory,
    pub amount_yen: u64,
    pub reimbursed_yen: u64,
    pub paid_date: Option<LocalDate>,
}

#[uniffi::remote(Enum)]
pub enum MedicalCategory {
    Treatment,
    Medicine,
    Care,
    Other,
}

#[uniffi::remote(Record)]
pub struct RefundAccount {
    pub bank: String,
    pub branch: String,
    pub account_type: String,
    pub account_number: String,
    pub holder_kana: String,
}

// ---- bear sighting (クマ出没情報) -------------------------------------------

#[uniffi::remote(Record)]
pub struct BearSighting {
    pub envelope: Envelope,
    pub report_kind: ReportKind,
    pub species: Species,
    pub certainty: Certainty,
    pub observed_at: ObservedTime,
    pub location: Option<GeoPoint>,
    pub place_description: String,
    pub count: Count,
    pub adults: Count,
    pub cubs: Count,
    pub group: BearGroup,
    pub behaviour: String,
    pub distance_m: Option<u32>,
    pub narrative: Narrative,
    pub response_taken: Narrative,
    pub reporter_contact: Option<ReporterContact>,
}

#[uniffi::remote(Enum)]
pub enum ReportKind {
    Sighting,
    Trace(TraceKind),
    CropDamage,
    Injury,
    Capture,
}

#[uniffi::remote(Enum)]
pub enum TraceKind {
    Footprint,
    Scat,
    Feeding,
    Claw,
    Hair,
    Camera,
}

#[uniffi::remote(Enum)]
pub enum Species {
    BrownBear,
    BlackBear,
    UnknownBear,
    Other(String),
}

#[uniffi::remote(Enum)]
pub enum Certainty {
    Confirmed,
    Probable,
    Possible,
}

#[uniffi::remote(Enum)]
pub enum ObservedTime {
    At(Timestamp),
    DateOnly(LocalDate),
    Unknown,
}

#[uniffi::remote(Enum)]
pub enum BearGroup {
    Single,
    MotherWithCubs,
    Multiple,
    Unknown,
}

#[uniffi::remote(Record)]
pub struct ReporterContact {
    pub name: String,
    pub phone: String,
    pub note: String,
}

// ---- damage report (被害報告, 第4号様式) --------------------------------------

#[uniffi::remote(Record)]
pub struct DamageReport {
    pub envelope: Envelope,
    pub summary: DamageSummary,
    pub sites: Vec<SiteRecord>,
}

#[uniffi::remote(Record)]
pub struct DamageSummary {
    pub disaster_name: String,
    pub report_number: u32,
    pub as_of: Timestamp,
    pub casualties: Casualties,
    pub housing: HousingDamage,
    pub infrastructure: Infrastructure,
    pub remarks: Narrative,
}

#[uniffi::remote(Record)]
pub struct Casualties {
    pub dead: ConfirmableCount,
    pub missing: ConfirmableCount,
    pub severely_injured: ConfirmableCount,
    pub slightly_injured: ConfirmableCount,
}

#[uniffi::remote(Record)]
pub struct HousingCounts {
    pub buildings: ConfirmableCount,
    pub households: ConfirmableCount,
    pub people: ConfirmableCount,
}

#[uniffi::remote(Record)]
pub struct HousingDamage {
    pub total_collapse: HousingCounts,
    pub large_scale_half: HousingCounts,
    pub medium_scale_half: HousingCounts,
    pub half_collapse: HousingCounts,
    pub quasi_half: HousingCounts,
    pub partial: HousingCounts,
    pub flooded_above_floor: HousingCounts,
    pub flooded_below_floor: HousingCounts,
}

#[uniffi::remote(Record)]
pub struct Infrastructure {
    pub roads: ConfirmableCount,
    pub bridges: ConfirmableCount,
    pub rivers: ConfirmableCount,
    pub cliff_collapses: ConfirmableCount,
    pub water_outage_households: ConfirmableCount,
    pub power_outage_households: ConfirmableCount,
    pub other: ConfirmableCount,
}

#[uniffi::remote(Record)]
pub struct SiteRecord {
    pub id: Uuid,
    pub target_type: SiteTarget,
    pub address: String,
    pub position: Option<GeoPoint>,
    pub passable: Option<bool>,
    pub photo_ids: Vec<Uuid>,
    pub house_survey: Option<HouseSurvey>,
    pub notes: Narrative,
}

#[uniffi::remote(Enum)]
pub enum SiteTarget {
    House,
    Road,
    Bridge,
    River,
    Slope,
    Utility,
    PublicFacility,
    Other,
}

#[uniffi::remote(Record)]
pub struct HouseSurvey {
    pub damage_level: HouseDamageLevel,
    pub flood_depth_cm: Option<u32>,
    pub notes: String,
}

#[uniffi::remote(Enum)]
pub enum HouseDamageLevel {
    TotalCollapse,
    LargeScaleHalf,
    MediumScaleHalf,
    HalfCollapse,
    QuasiHalf,
    Partial,
    FloodedAboveFloor,
    FloodedBelowFloor,
    None,
}

// ---- any document, listing, history, validation ---------------------------

#[uniffi::remote(Enum)]
pub enum AnyDocument {
    TaxAssist(TaxAssist),
    BearSighting(BearSighting),
    DamageReport(DamageReport),
}

#[uniffi::remote(Record)]
pub struct DocumentSummary {
    pub id: DocumentId,
    pub kind: DocumentKind,
    pub title: String,
    pub status: Status,
    pub municipality_code: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub schema_version: u32,
    pub photo_count: u32,
    pub acknowledged_at: Option<Timestamp>,
    pub locked: bool,
}

#[uniffi::remote(Record)]
pub struct ListFilter {
    pub kind: Option<DocumentKind>,
    pub status: Option<Status>,
    pub updated_from: Option<Timestamp>,
    pub updated_until: Option<Timestamp>,
}

/// The result of listing: matching documents (newest update first) and how
/// many stored documents could not be read (corrupted or tampered rows).
#[derive(Debug, Clone, uniffi::Record)]
pub struct Listing {
    pub documents: Vec<DocumentSummary>,
    pub unreadable: u64,
}

impl From<fieldvault::Listing> for Listing {
    fn from(l: fieldvault::Listing) -> Self {
        Self {
            documents: l.documents,
            unreadable: l.unreadable as u64,
        }
    }
}

#[uniffi::remote(Record)]
pub struct HistoryEntry {
    pub operation: String,
    pub staff_id: String,
    pub device_id: String,
    pub at: Option<Timestamp>,
    pub fields: Vec<String>,
    pub change_hash: String,
}

#[uniffi::remote(Enum)]
pub enum FieldErrorCode {
    Required,
    OutOfRange,
    Negative,
    BadCheckDigit,
    InvalidFormat,
    NotAllowed,
    Inconsistent,
}

#[uniffi::remote(Record)]
pub struct FieldError {
    pub field: String,
    pub code: FieldErrorCode,
    pub message: String,
}

#[uniffi::remote(Enum)]
pub enum PhotoVariant {
    Display,
    Thumbnail,
}

// ---- sync -------------------------------------------------------------------

#[uniffi::remote(Enum)]
pub enum SyncPhase {
    Idle,
    Pushing,
    Pulling,
    Backoff,
    Offline,
    Revoked,
}

#[uniffi::remote(Record)]
pub struct SyncState {
    pub phase: SyncPhase,
    pub online: bool,
    pub pending_changes: u64,
    pub pending_bytes: u64,
    pub current_transfer: Option<String>,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
    pub failures: u32,
}

/// What one sync pass did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    pub pushed: u64,
    pub pulled: u64,
    /// Pulled entries that could not be opened or merged (skipped).
    pub rejected: u64,
    /// Pulled entries of documents purged on this device (not brought back).
    pub skipped_purged: u64,
    pub purged: u64,
    pub photos_uploaded: u64,
    pub photos_downloaded: u64,
    pub chunks_uploaded: u64,
    /// Photo downloads that failed for a reason a retry now would not mend
    /// (they stay queued for later passes).
    pub photos_failed: u64,
}

impl From<fieldvault::sync::engine::SyncReport> for SyncReport {
    fn from(r: fieldvault::sync::engine::SyncReport) -> Self {
        Self {
            pushed: r.pushed as u64,
            pulled: r.pulled as u64,
            rejected: r.rejected as u64,
            skipped_purged: r.skipped_purged as u64,
            purged: r.purged as u64,
            photos_uploaded: r.photos_uploaded as u64,
            photos_downloaded: r.photos_downloaded as u64,
            chunks_uploaded: r.chunks_uploaded as u64,
            photos_failed: r.photos_failed as u64,
        }
    }
}

/// Transfer progress, a subset of [`SyncState`] for progress bars.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    pub pending_changes: u64,
    pub pending_bytes: u64,
    pub current_transfer: Option<String>,
}

impl From<&SyncState> for SyncProgress {
    fn from(s: &SyncState) -> Self {
        Self {
            pending_changes: s.pending_changes,
            pending_bytes: s.pending_bytes,
            current_transfer: s.current_transfer.clone(),
        }
    }
}

/// The role of a device in its workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceRole {
    Admin,
    Member,
}

impl From<fieldvault::sync::wire::Role> for DeviceRole {
    fn from(r: fieldvault::sync::wire::Role) -> Self {
        match r {
            fieldvault::sync::wire::Role::Admin => DeviceRole::Admin,
            fieldvault::sync::wire::Role::Member => DeviceRole::Member,
        }
    }
}

/// How this vault syncs (no key material).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncSettings {
    pub relay_url: String,
    pub workspace_id: String,
    pub role: DeviceRole,
    pub admin_device_id: String,
    pub lease_hours: u32,
    pub last_success_ms: Option<i64>,
    /// Root certificate(s) trusted for the relay besides the library's
    /// built-in (Mozilla) roots (PEM, public), if any.
    pub relay_root_certificate_pem: Option<String>,
}

impl From<fieldvault::SyncSettings> for SyncSettings {
    fn from(s: fieldvault::SyncSettings) -> Self {
        Self {
            relay_url: s.relay_url,
            workspace_id: s.workspace_id,
            role: s.role.into(),
            admin_device_id: s.admin_device_id,
            lease_hours: s.lease_hours,
            last_success_ms: s.last_success_ms,
            relay_root_certificate_pem: s.relay_root_certificate_pem,
        }
    }
}

/// One entry of a device's audit log.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuditRecord {
    /// Position in the chain, from 0.
    pub seq: u64,
    pub at: Timestamp,
    pub staff_id: String,
    pub device_id: String,
    /// `created`, `opened`, `edited`, `merged`, `exported`, `purged`,
    /// `deleted` or `revealed_my_number`.
    pub action: String,
    pub document_id: Option<String>,
    pub document_kind: Option<String>,
    /// A short non-sensitive detail such as an export format.
    pub detail: String,
}

impl From<fieldvault::model::AuditEntry> for AuditRecord {
    fn from(e: fieldvault::model::AuditEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            staff_id: e.staff_id,
            device_id: e.device_id,
            action: e.action.as_str().to_string(),
            document_id: e.document_id,
            document_kind: e.document_kind,
            detail: e.detail,
        }
    }
}

/// This device's audit log and its verification.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuditLogReport {
    /// Oldest first.
    pub records: Vec<AuditRecord>,
    /// What is wrong with the chain, e.g. "audit entry 4: entry cannot be
    /// decrypted"; empty when it is intact.
    pub problems: Vec<String>,
}

/// One device of the workspace as the relay lists it (admin view).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceInfo {
    pub device_id: String,
    pub device_name: String,
    pub role: DeviceRole,
    pub app_version: String,
    pub enrolled_at_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    /// When the device wiped itself after its revocation, from its signed
    /// wipe receipt. `None` unless the receipt's Ed25519 signature verifies
    /// against the device's enrolled key for this workspace: a receipt the
    /// relay merely stores (or one forged into its database) never shows.
    pub wiped_at_ms: Option<i64>,
    /// Key epochs this device holds a key envelope for.
    pub key_epochs: Vec<u32>,
}

/// The workspace's devices and its current key epoch.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceList {
    pub devices: Vec<DeviceInfo>,
    pub current_epoch: u32,
    pub lease_hours: u32,
}

impl DeviceList {
    /// The relay's list for `workspace_id`, each wipe receipt verified.
    pub(crate) fn verified(l: fieldvault::sync::wire::DeviceList, workspace_id: &str) -> Self {
        Self {
            devices: l
                .devices
                .into_iter()
                .map(|d| DeviceInfo {
                    wiped_at_ms: fieldvault::sync::admin::verified_wipe_ms(&d, workspace_id),
                    device_id: d.keys.device_id,
                    device_name: d.device_name,
                    role: d.role.into(),
                    app_version: d.app_version,
                    enrolled_at_ms: d.enrolled_at_ms,
                    last_seen_ms: d.last_seen_ms,
                    revoked_at_ms: d.revoked_at_ms,
                    key_epochs: d.key_epochs,
                })
                .collect(),
            current_epoch: l.current_epoch,
            lease_hours: l.lease_hours,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldvault::sync::engine::wipe_receipt;
    use fieldvault::sync::identity::DeviceIdentity;
    use fieldvault::sync::wire;

    fn listed(keys_of: &DeviceIdentity, receipt: Option<Vec<u8>>) -> wire::DeviceList {
        wire::DeviceList {
            devices: vec![wire::DeviceInfo {
                keys: wire::DeviceKeys {
                    device_id: "tablet".into(),
                    signing_public: keys_of.public_key(),
                    agreement_public: vec![0; 32],
                },
                role: wire::Role::Member,
                code_id: vec![],
                binding: vec![],
                device_name: "Tablet".into(),
                app_version: "1".into(),
                enrolled_at_ms: 1,
                last_seen_ms: None,
                revoked_at_ms: Some(2),
                wipe_receipt: receipt,
                key_epochs: vec![1],
            }],
            current_epoch: 2,
            lease_hours: 72,
        }
    }

    #[test]
    fn only_a_receipt_signed_by_the_device_itself_shows_as_a_wipe() {
        let device = DeviceIdentity::generate().expect("identity");
        let impostor = DeviceIdentity::generate().expect("identity");
        let wiped_at =
            |receipt| DeviceList::verified(listed(&device, receipt), "ws").devices[0].wiped_at_ms;

        assert_eq!(
            wiped_at(Some(wipe_receipt(&device, "ws", "tablet", 1234))),
            Some(1234)
        );
        assert_eq!(wiped_at(None), None);
        // Signed by another key, e.g. one planted in the relay's database.
        assert_eq!(
            wiped_at(Some(wipe_receipt(&impostor, "ws", "tablet", 1234))),
            None
        );
        // The device's own receipt, but for another workspace or device.
        assert_eq!(
            wiped_at(Some(wipe_receipt(&device, "other-ws", "tablet", 1234))),
            None
        );
        assert_eq!(
            wiped_at(Some(wipe_receipt(&device, "ws", "phone", 1234))),
            None
        );
        assert_eq!(wiped_at(Some(b"garbage".to_vec())), None);
    }
}
