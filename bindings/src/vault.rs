//! `FieldVault`: one unlocked vault, its documents, photos and enrollment.
//!
//! Document calls are synchronous (a few milliseconds of SQLite and AES-GCM);
//! the Kotlin and Swift layers run them off the main thread. Photo ingest and
//! everything that talks to the relay is `async`.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fieldvault::model::{
    AnyDocument, AuditAction, BearSighting, DamageReport, DocumentBody, DocumentId, DocumentKind,
    Envelope, FieldError, PhotoRef, Status, TaxAssist, Timestamp,
};
use fieldvault::sync::client::ClientConfig;
use fieldvault::sync::{admin, enrollment};
use fieldvault::{DocumentSummary, HistoryEntry, ListFilter, PhotoVariant, Vault, VaultOptions};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{FieldVaultError, Result};
use crate::keys::{ForeignKeys, KeyProvider};
use crate::sync::{in_background, PairingSession, SyncEngine};
use crate::types::{AuditLogReport, AuditRecord, DeviceList, Listing, SyncSettings};

/// Runs blocking vault work off the async executor. A panic inside is
/// re-raised here so uniffi reports it like any other panic.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(FieldVaultError::Cancelled),
    }
}

/// Every exported function whose arguments hold strings parsed on the way in
/// (ids, timestamps, dates) returns `Result`, so a malformed one is reported as
/// `InvalidInput` rather than as an internal error.
fn validation(
    result: std::result::Result<(), fieldvault::model::ValidationErrors>,
) -> Vec<FieldError> {
    match result {
        Ok(()) => Vec::new(),
        Err(errors) => errors.0,
    }
}

/// An unlocked vault.
#[derive(uniffi::Object)]
pub struct FieldVault {
    pub(crate) vault: Arc<Vault>,
}

impl FieldVault {
    fn enrolment(&self) -> Result<fieldvault::vault::SyncSettings> {
        Ok(self.vault.enrolment()?)
    }

    fn relay_config(&self) -> Result<ClientConfig> {
        Ok(ClientConfig::for_enrolment(&self.enrolment()?))
    }

    fn envelope<T: DocumentBody>(&self, municipality_code: &str) -> Envelope {
        self.vault.new_envelope::<T>(municipality_code)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldVault {
    /// Creates a vault in `dir` (created if missing); the root key is wrapped
    /// by `keys`. Fails with `AlreadyExists` if `dir` holds a vault.
    #[uniffi::constructor]
    pub fn create(dir: String, keys: Arc<dyn KeyProvider>, staff_id: String) -> Result<Arc<Self>> {
        let vault = Vault::create(
            &PathBuf::from(dir),
            &ForeignKeys(keys),
            VaultOptions::new(staff_id),
        )?;
        Ok(Arc::new(Self {
            vault: Arc::new(vault),
        }))
    }

    /// Opens and unlocks the vault in `dir`. A wrong key gives `WrongKey`.
    #[uniffi::constructor]
    pub fn open(dir: String, keys: Arc<dyn KeyProvider>, staff_id: String) -> Result<Arc<Self>> {
        let vault = Vault::open(
            &PathBuf::from(dir),
            &ForeignKeys(keys),
            VaultOptions::new(staff_id),
        )?;
        Ok(Arc::new(Self {
            vault: Arc::new(vault),
        }))
    }

    /// This vault's device id (random, made at creation).
    pub fn device_id(&self) -> String {
        self.vault.device_id()
    }

    /// The staff id recorded as author of edits through this handle.
    pub fn staff_id(&self) -> String {
        self.vault.staff_id().to_owned()
    }

    // ---- new documents ----------------------------------------------------

    /// A fresh envelope (new id, this device and staff member, now) for a document of `kind`.
    /// Audit logs are kept by the vault itself: asking for one is `InvalidInput`.
    pub fn new_envelope(&self, kind: DocumentKind, municipality_code: String) -> Result<Envelope> {
        Ok(match kind {
            DocumentKind::TaxAssist => self.envelope::<TaxAssist>(&municipality_code),
            DocumentKind::BearSighting => self.envelope::<BearSighting>(&municipality_code),
            DocumentKind::DamageReport => self.envelope::<DamageReport>(&municipality_code),
            DocumentKind::AuditLog => {
                return Err(FieldVaultError::InvalidInput(
                    "audit logs are written by the vault, not created by apps".into(),
                ))
            }
        })
    }

    /// An empty tax-help form (draft) for `tax_year`.
    pub fn new_tax_assist(&self, municipality_code: String, tax_year: u16) -> TaxAssist {
        TaxAssist::new(self.envelope::<TaxAssist>(&municipality_code), tax_year)
    }

    /// An empty bear sighting (draft).
    pub fn new_bear_sighting(&self, municipality_code: String) -> BearSighting {
        BearSighting::new(self.envelope::<BearSighting>(&municipality_code))
    }

    /// An empty damage report (draft) for one report (第n報) of a disaster.
    pub fn new_damage_report(
        &self,
        municipality_code: String,
        disaster_name: String,
        report_number: u32,
        as_of: Timestamp,
    ) -> Result<DamageReport> {
        Ok(DamageReport::new(
            self.envelope::<DamageReport>(&municipality_code),
            disaster_name,
            report_number,
            as_of,
        ))
    }

    // ---- tax assist ---------------------------------------------------------

    /// Stores a new tax-help form; returns its id.
    pub fn insert_tax_assist(&self, document: TaxAssist) -> Result<DocumentId> {
        Ok(self.vault.insert(document)?)
    }

    pub fn get_tax_assist(&self, id: DocumentId) -> Result<TaxAssist> {
        Ok(self.vault.get::<TaxAssist>(&id)?)
    }

    /// Saves an edited form; only the fields that changed are recorded.
    pub fn put_tax_assist(&self, document: TaxAssist) -> Result<()> {
        Ok(self.vault.put(document)?)
    }

    /// Field errors of a form (empty: valid), without storing anything.
    pub fn validate_tax_assist(&self, document: TaxAssist) -> Result<Vec<FieldError>> {
        Ok(validation(document.validate()))
    }

    // ---- bear sighting ------------------------------------------------------

    pub fn insert_bear_sighting(&self, document: BearSighting) -> Result<DocumentId> {
        Ok(self.vault.insert(document)?)
    }

    pub fn get_bear_sighting(&self, id: DocumentId) -> Result<BearSighting> {
        Ok(self.vault.get::<BearSighting>(&id)?)
    }

    pub fn put_bear_sighting(&self, document: BearSighting) -> Result<()> {
        Ok(self.vault.put(document)?)
    }

    pub fn validate_bear_sighting(&self, document: BearSighting) -> Result<Vec<FieldError>> {
        Ok(validation(document.validate()))
    }

    // ---- damage report ------------------------------------------------------

    pub fn insert_damage_report(&self, document: DamageReport) -> Result<DocumentId> {
        Ok(self.vault.insert(document)?)
    }

    pub fn get_damage_report(&self, id: DocumentId) -> Result<DamageReport> {
        Ok(self.vault.get::<DamageReport>(&id)?)
    }

    pub fn put_damage_report(&self, document: DamageReport) -> Result<()> {
        Ok(self.vault.put(document)?)
    }

    pub fn validate_damage_report(&self, document: DamageReport) -> Result<Vec<FieldError>> {
        Ok(validation(document.validate()))
    }

    // ---- any kind -----------------------------------------------------------

    /// A document of any kind.
    pub fn get_any(&self, id: DocumentId) -> Result<AnyDocument> {
        Ok(self.vault.get_any(&id)?)
    }

    /// What a list view shows about one document.
    pub fn summary(&self, id: DocumentId) -> Result<DocumentSummary> {
        Ok(self.vault.summary(&id)?)
    }

    /// Documents matching `filter`, newest update first.
    pub fn list(&self, filter: ListFilter) -> Result<Listing> {
        Ok(self.vault.list(&filter)?.into())
    }

    /// Who changed which fields, on which device, when.
    pub fn history(&self, id: DocumentId) -> Result<Vec<HistoryEntry>> {
        Ok(self.vault.history(&id)?)
    }

    /// Moves a document through its workflow (draft → ready → submitted …).
    pub fn set_status(&self, id: DocumentId, status: Status) -> Result<()> {
        Ok(self.vault.set_status(&id, status)?)
    }

    /// Crypto-shreds a document: its key is destroyed, then its rows.
    pub fn delete(&self, id: DocumentId) -> Result<()> {
        Ok(self.vault.delete(&id)?)
    }

    /// The document's full change set, for another replica's `merge_changes`.
    pub fn export_changes(&self, id: DocumentId) -> Result<Vec<u8>> {
        Ok(self.vault.export_changes(&id)?)
    }

    /// Merges a change set from `export_changes`; returns the document's id.
    pub fn merge_changes(&self, changes: Vec<u8>) -> Result<DocumentId> {
        Ok(self.vault.merge_changes(&changes)?)
    }

    /// Writes a snapshot of the document and drops its change rows.
    pub fn compact(&self, id: DocumentId) -> Result<()> {
        Ok(self.vault.compact(&id)?)
    }

    /// Records the office's acknowledgement (starts the retention clock).
    pub fn mark_acknowledged(&self, id: DocumentId) -> Result<()> {
        Ok(self.vault.mark_acknowledged(&id)?)
    }

    /// Records in the audit log that the app exported `ids` (`format`: a
    /// short word such as "pdf" or "csv", never a field value): one entry per
    /// document, all or none.
    pub fn record_exports(&self, ids: Vec<DocumentId>, format: String) -> Result<()> {
        Ok(self
            .vault
            .record_audits(AuditAction::Exported, &ids, &format)?)
    }

    /// This device's audit log, oldest first (who created, opened, edited,
    /// exported or deleted which document; never a field value), with what
    /// verifying its chain found — read once, so the records shown are the
    /// ones verified.
    pub fn audit_log(&self) -> Result<AuditLogReport> {
        let (entries, problems) = self.vault.audit_log_verified()?;
        Ok(AuditLogReport {
            records: entries.into_iter().map(AuditRecord::from).collect(),
            problems: problems.iter().map(ToString::to_string).collect(),
        })
    }

    /// Purges documents whose retention period has passed; returns their ids.
    pub fn apply_retention(&self) -> Result<Vec<DocumentId>> {
        Ok(self.vault.apply_retention()?)
    }

    // ---- My Number (個人番号) -------------------------------------------------

    /// Stores a resident's My Number for a tax-help form (checked by its check
    /// digit, sealed under its own key, never synced). Returns the masked form.
    pub fn set_my_number(&self, id: DocumentId, my_number: String) -> Result<String> {
        let my_number = Zeroizing::new(my_number);
        Ok(self.vault.set_my_number(&id, &my_number)?)
    }

    /// The masked My Number ("•••• •••• 1234"), if one is stored.
    pub fn my_number_masked(&self, id: DocumentId) -> Result<Option<String>> {
        Ok(self.vault.my_number_masked(&id)?)
    }

    /// The full My Number, for the moment it is typed into e-Tax. Never log it.
    pub fn reveal_my_number(&self, id: DocumentId) -> Result<Option<String>> {
        Ok(self
            .vault
            .reveal_my_number(&id)?
            .map(|n| n.expose().to_owned()))
    }

    /// Deletes a stored My Number; true if there was one.
    pub fn forget_my_number(&self, id: DocumentId) -> Result<bool> {
        Ok(self.vault.forget_my_number(&id)?)
    }

    // ---- photos ---------------------------------------------------------------

    /// Sanitizes (no EXIF/GPS in the stored image), resizes and seals a photo
    /// (JPEG, PNG or WebP; convert HEIC to JPEG first) and attaches it to the
    /// document. Runs on a worker thread.
    pub async fn ingest_photo(&self, id: DocumentId, image: Vec<u8>) -> Result<PhotoRef> {
        let vault = self.vault.clone();
        blocking(move || Ok(vault.ingest_photo(&id, &image, None)?)).await
    }

    /// A stored photo variant (JPEG bytes).
    pub async fn read_photo(
        &self,
        id: DocumentId,
        photo_id: Uuid,
        variant: PhotoVariant,
    ) -> Result<Vec<u8>> {
        let vault = self.vault.clone();
        blocking(move || Ok(vault.photo(&id, &photo_id, variant)?)).await
    }

    // ---- maintenance ------------------------------------------------------------

    /// SQLite's integrity check: true when intact.
    pub fn integrity_check(&self) -> Result<bool> {
        Ok(self.vault.integrity_check()?)
    }

    /// Moves the WAL into the database file (before a backup or copy).
    pub fn checkpoint(&self) -> Result<()> {
        Ok(self.vault.checkpoint()?)
    }

    // ---- workspace enrollment and admin ----------------------------------------------

    /// How this vault syncs, or `None` before it joins a workspace.
    pub fn sync_settings(&self) -> Result<Option<SyncSettings>> {
        Ok(self.vault.sync_settings()?.map(Into::into))
    }

    /// Replaces the root certificate(s) trusted for the relay besides the
    /// library's built-in roots (Mozilla's list, compiled in; the phone's own
    /// trust store is not used) (PEM text; `None`: the built-in roots only), when the
    /// town's private CA is renewed. Refused with `InvalidInput` (nothing
    /// changed) when the text holds no certificate; a running sync engine
    /// uses it from its next pass.
    pub fn set_relay_root_certificate(&self, root_certificate_pem: Option<String>) -> Result<()> {
        Ok(self
            .vault
            .set_relay_root_certificate(root_certificate_pem)?)
    }

    /// Admin (office) device: creates a workspace on the relay with the
    /// operator's token and makes this vault its admin.
    /// `root_certificate_pem`: a root certificate to trust for the relay
    /// besides the library's built-in roots (Mozilla's list; a CA installed
    /// on the phone or by MDM is not used) — a town's private CA on a closed network;
    /// recorded with the enrolment and used for every later connection.
    #[uniffi::method(default(root_certificate_pem = None))]
    pub async fn create_workspace(
        &self,
        relay_url: String,
        operator_token: String,
        lease_hours: u32,
        root_certificate_pem: Option<String>,
    ) -> Result<SyncSettings> {
        let operator_token = Zeroizing::new(operator_token);
        let mut config = ClientConfig::new(relay_url);
        config.root_certificate_pem = root_certificate_pem;
        let vault = self.vault.clone();
        in_background(async move {
            let settings =
                enrollment::create_workspace(&vault, &config, &operator_token, lease_hours).await?;
            Ok(settings.into())
        })
        .await
    }

    /// Admin: issues a single-use enrollment code; show the session's QR text
    /// to the new device, then `complete` it.
    pub async fn start_pairing(&self, valid_for_secs: u32) -> Result<Arc<PairingSession>> {
        let config = self.relay_config()?;
        let vault = self.vault.clone();
        in_background(async move {
            let (pairing, qr) = enrollment::start_pairing(
                &vault,
                &config,
                Duration::from_secs(valid_for_secs.into()),
            )
            .await?;
            Ok(PairingSession::new(vault, config, pairing, qr.encode()))
        })
        .await
    }

    /// New device: joins the workspace from the admin's QR text and waits
    /// (at most `timeout_secs`) for its keys. `root_certificate_pem` as for
    /// [`Self::create_workspace`].
    #[uniffi::method(default(root_certificate_pem = None))]
    pub async fn join_workspace(
        &self,
        qr_text: String,
        device_name: String,
        timeout_secs: u32,
        root_certificate_pem: Option<String>,
    ) -> Result<SyncSettings> {
        let qr_text = Zeroizing::new(qr_text);
        let vault = self.vault.clone();
        in_background(async move {
            let settings = enrollment::join_workspace(
                &vault,
                &qr_text,
                &device_name,
                Duration::from_secs(timeout_secs.into()),
                root_certificate_pem,
            )
            .await?;
            Ok(settings.into())
        })
        .await
    }

    /// Admin: the workspace's devices.
    pub async fn list_devices(&self) -> Result<DeviceList> {
        let settings = self.enrolment()?;
        let config = ClientConfig::for_enrolment(&settings);
        let vault = self.vault.clone();
        in_background(async move {
            let list = admin::list_devices(&vault, &config).await?;
            Ok(DeviceList::verified(list, &settings.workspace_id))
        })
        .await
    }

    /// Admin: revokes a device (it is refused from its next request and wipes
    /// itself) and rotates the workspace key. Returns the new key epoch.
    pub async fn revoke_device(&self, device_id: String) -> Result<u32> {
        let config = self.relay_config()?;
        let vault = self.vault.clone();
        in_background(async move { Ok(admin::revoke_device(&vault, &config, &device_id).await?) })
            .await
    }

    /// Admin: starts a new key epoch for the remaining devices. Returns it.
    pub async fn rotate_key(&self) -> Result<u32> {
        let config = self.relay_config()?;
        let vault = self.vault.clone();
        in_background(async move { Ok(admin::rotate_key(&vault, &config).await?) }).await
    }

    /// A sync engine for this (enrolled) vault. `cancel` stops an engine for
    /// good; ask for a new one to start again.
    pub fn sync_engine(&self) -> Result<Arc<SyncEngine>> {
        let config = self.relay_config()?;
        SyncEngine::new(self.vault.clone(), config)
    }

    /// Crypto-shreds the whole vault (keys first) and removes its files.
    pub fn wipe(&self) -> Result<()> {
        Ok(self.vault.wipe()?)
    }
}
