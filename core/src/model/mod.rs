//! Domain model: the typed bodies of FieldVault documents.
//!
//! Every record is one Automerge document mapped to a Rust struct with
//! `autosurgeon` (`Reconcile` writes a struct into the document as a minimal
//! diff, `Hydrate` reads it back). Three kinds exist:
//!
//! * [`TaxAssist`]: 確定申告の手伝い (help with an individual's tax return),
//! * [`BearSighting`]: クマ出没情報 (bear sighting / trace / damage report),
//! * [`DamageReport`]: 被害報告 following the FDMA 第4号様式 (disaster damage).
//!
//! Each body starts with an [`Envelope`] (id, kind, municipality, timestamps,
//! author, status, photos) and implements [`DocumentBody`], over which the
//! vault is generic. [`AnyDocument`] gives untyped access to the three record
//! kinds. Each device's [`AuditLog`] is a fourth, internal kind.
//!
//! Building blocks: [`Timestamp`] / [`LocalDate`] (RFC 3339 / ISO strings),
//! [`Narrative`] (free text that merges character-wise), [`Count`] (never a
//! silent zero), [`GeoPoint`], and [`ValidationErrors`] (field-level errors
//! whose messages never contain values). [`MyNumber`] (個人番号) is
//! intentionally not storable in any document.
mod audit_log;
mod bear_sighting;
mod count;
mod damage_report;
mod envelope;
mod geo;
mod my_number;
mod narrative;
mod tax_assist;
mod time;
mod validation;

pub use audit_log::*;
pub use bear_sighting::*;
pub use count::*;
pub use damage_report::*;
pub use envelope::*;
pub use geo::*;
pub use my_number::*;
pub use narrative::*;
pub use tax_assist::*;
pub use time::*;
pub use validation::*;

use serde::{Deserialize, Serialize};

/// Implemented by each document kind; the vault is generic over it.
pub trait DocumentBody:
    autosurgeon::Reconcile
    + autosurgeon::Hydrate
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Clone
    + std::fmt::Debug
    + PartialEq
    + Send
    + Sync
    + 'static
{
    const KIND: DocumentKind;
    /// Schema version written into every document of this kind (start at 1).
    const SCHEMA_VERSION: u32;
    fn envelope(&self) -> &Envelope;
    fn envelope_mut(&mut self) -> &mut Envelope;
    /// Short title for list views (stored only inside the encrypted header).
    /// E.g. "確定申告 2025 山田 花子", "ヒグマ 目撃 2025-06-01", "令和7年台風第10号 第3報".
    fn title(&self) -> String;
    /// Field-level validation of the whole document (including envelope.validate()).
    fn validate(&self) -> Result<(), ValidationErrors>;

    /// What the vault checks before storing: [`Self::validate`], except that
    /// a draft may still leave required fields empty (malformed values are
    /// refused in every status). An import's dry run uses it to report
    /// exactly the rows a real import would reject.
    fn validate_for_storage(&self) -> Result<(), ValidationErrors> {
        let Err(mut errors) = self.validate() else {
            return Ok(());
        };
        if self.envelope().status == Status::Draft {
            errors.0.retain(|e| e.code != FieldErrorCode::Required);
        }
        if errors.0.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Envelope checks shared by all kinds: [`Envelope::validate`] plus
/// "the envelope's kind is this body's kind" (`envelope.kind`, `Inconsistent`).
fn validate_envelope_of<T: DocumentBody>(body: &T, errors: &mut ValidationErrors) {
    let envelope = body.envelope();
    envelope.validate(errors);
    if envelope.kind != T::KIND {
        errors.push(
            "envelope.kind",
            FieldErrorCode::Inconsistent,
            "envelope kind does not match the document body",
        );
    }
}

/// `field` must contain something other than whitespace.
fn require_text(errors: &mut ValidationErrors, field: &str, value: &str, message: &str) {
    if value.trim().is_empty() {
        errors.push(field, FieldErrorCode::Required, message);
    }
}

/// Any of the three kinds, for untyped access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "document", rename_all = "snake_case")]
pub enum AnyDocument {
    TaxAssist(TaxAssist),
    BearSighting(BearSighting),
    DamageReport(DamageReport),
}

impl AnyDocument {
    pub fn kind(&self) -> DocumentKind {
        match self {
            AnyDocument::TaxAssist(_) => DocumentKind::TaxAssist,
            AnyDocument::BearSighting(_) => DocumentKind::BearSighting,
            AnyDocument::DamageReport(_) => DocumentKind::DamageReport,
        }
    }

    pub fn envelope(&self) -> &Envelope {
        match self {
            AnyDocument::TaxAssist(d) => d.envelope(),
            AnyDocument::BearSighting(d) => d.envelope(),
            AnyDocument::DamageReport(d) => d.envelope(),
        }
    }

    pub fn envelope_mut(&mut self) -> &mut Envelope {
        match self {
            AnyDocument::TaxAssist(d) => d.envelope_mut(),
            AnyDocument::BearSighting(d) => d.envelope_mut(),
            AnyDocument::DamageReport(d) => d.envelope_mut(),
        }
    }

    pub fn title(&self) -> String {
        match self {
            AnyDocument::TaxAssist(d) => d.title(),
            AnyDocument::BearSighting(d) => d.title(),
            AnyDocument::DamageReport(d) => d.title(),
        }
    }

    pub fn validate(&self) -> Result<(), ValidationErrors> {
        match self {
            AnyDocument::TaxAssist(d) => d.validate(),
            AnyDocument::BearSighting(d) => d.validate(),
            AnyDocument::DamageReport(d) => d.validate(),
        }
    }
}

impl From<TaxAssist> for AnyDocument {
    fn from(d: TaxAssist) -> Self {
        AnyDocument::TaxAssist(d)
    }
}

impl From<BearSighting> for AnyDocument {
    fn from(d: BearSighting) -> Self {
        AnyDocument::BearSighting(d)
    }
}

impl From<DamageReport> for AnyDocument {
    fn from(d: DamageReport) -> Self {
        AnyDocument::DamageReport(d)
    }
}

/// Fixtures shared by the unit tests of the document modules.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    pub fn date(s: &str) -> LocalDate {
        LocalDate::parse(s).unwrap()
    }

    pub fn envelope(kind: DocumentKind) -> Envelope {
        Envelope::new(
            kind,
            1,
            "011002",
            "S-0042",
            "tablet-07",
            ts("2025-06-01T09:00:00+09:00"),
        )
    }

    /// Reconciles into a fresh document, hydrates back, and returns the result.
    pub fn automerge_round_trip<T: DocumentBody>(value: &T) -> T {
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, value).unwrap();
        // Reconciling again with an unchanged value must not break anything.
        autosurgeon::reconcile(&mut doc, value).unwrap();
        let saved = doc.save();
        let loaded = automerge::AutoCommit::load(&saved).unwrap();
        autosurgeon::hydrate(&loaded).unwrap()
    }

    /// Asserts the exact set of (path, code) pairs, in any order.
    pub fn assert_errors(
        result: Result<(), ValidationErrors>,
        expected: &[(&str, FieldErrorCode)],
    ) {
        let errors = match result {
            Ok(()) if expected.is_empty() => return,
            Ok(()) => panic!("expected errors {expected:?}, document was valid"),
            Err(e) => e,
        };
        for (field, code) in expected {
            assert!(
                errors.contains(field, *code),
                "missing {field} {code}: {errors}"
            );
        }
        assert_eq!(
            errors.len(),
            expected.len(),
            "unexpected extra errors: {errors}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn any_document_json_is_tagged() {
        let doc = AnyDocument::from(BearSighting::new(envelope(DocumentKind::BearSighting)));
        assert_eq!(doc.kind(), DocumentKind::BearSighting);
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["kind"], "bear_sighting");
        assert_eq!(json["document"]["envelope"]["kind"], "bear_sighting");
        let back: AnyDocument = serde_json::from_value(json).unwrap();
        assert_eq!(back, doc);
        assert_eq!(back.envelope().kind, DocumentKind::BearSighting);
    }

    #[test]
    fn kind_mismatch_is_reported() {
        let mut doc = BearSighting::new(envelope(DocumentKind::TaxAssist));
        doc.place_description = "市道沿い".into();
        assert_errors(
            AnyDocument::from(doc).validate(),
            &[("envelope.kind", FieldErrorCode::Inconsistent)],
        );
    }
}
