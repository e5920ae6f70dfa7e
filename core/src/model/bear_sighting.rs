//! クマ出没情報: bear sightings, traces, crop damage, injuries and captures.
//!
//! Designed for reports taken in the field or over the phone, where much is
//! uncertain: the species may be unknown (種不明), the time may be unknown
//! ([`ObservedTime::Unknown`] is explicit rather than a fake midnight), and
//! head counts use [`Count`] so "unknown" is never recorded as 0.
//!
//! A location is either a GPS point or a place description (目印, 地番), or
//! both. The reporter's contact is personal data and optional.
use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{
    validate_envelope_of, Count, DocumentBody, DocumentKind, Envelope, FieldErrorCode, GeoPoint,
    LocalDate, Narrative, Timestamp, ValidationErrors,
};

/// A bear report (クマ出没情報).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct BearSighting {
    pub envelope: Envelope,
    pub report_kind: ReportKind,
    pub species: Species,
    /// How sure the identification is.
    pub certainty: Certainty,
    pub observed_at: ObservedTime,
    pub location: Option<GeoPoint>,
    /// 場所の説明: landmark, address or 地番; required when there is no `location`.
    pub place_description: String,
    /// Total number of bears (頭数).
    pub count: Count,
    /// 成獣.
    pub adults: Count,
    /// 子グマ.
    pub cubs: Count,
    pub group: BearGroup,
    /// 行動, e.g. "道路を横断", "人を見て逃走".
    pub behaviour: String,
    /// Distance between observer and bear, metres.
    pub distance_m: Option<u32>,
    /// 状況 in the reporter's words.
    pub narrative: Narrative,
    /// 対応: patrols, warnings, traps set …
    pub response_taken: Narrative,
    /// 通報者: personal data, optional.
    pub reporter_contact: Option<ReporterContact>,
}

/// What was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// 目撃.
    #[autosurgeon(rename = "sighting")]
    Sighting,
    /// 痕跡.
    #[autosurgeon(rename = "trace")]
    Trace(TraceKind),
    /// 農作物被害.
    #[autosurgeon(rename = "crop_damage")]
    CropDamage,
    /// 人身被害.
    #[autosurgeon(rename = "injury")]
    Injury,
    /// 捕獲.
    #[autosurgeon(rename = "capture")]
    Capture,
}

/// Kind of trace (痕跡).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum TraceKind {
    /// 足跡.
    #[autosurgeon(rename = "footprint")]
    Footprint,
    /// 糞.
    #[autosurgeon(rename = "scat")]
    Scat,
    /// 食痕.
    #[autosurgeon(rename = "feeding")]
    Feeding,
    /// 爪痕.
    #[autosurgeon(rename = "claw")]
    Claw,
    /// 体毛.
    #[autosurgeon(rename = "hair")]
    Hair,
    /// センサーカメラ.
    #[autosurgeon(rename = "camera")]
    Camera,
}

/// Species.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum Species {
    /// ヒグマ (Ursus arctos, Hokkaido).
    #[autosurgeon(rename = "brown_bear")]
    BrownBear,
    /// ツキノワグマ (Ursus thibetanus).
    #[autosurgeon(rename = "black_bear")]
    BlackBear,
    /// クマ類 (種不明).
    #[autosurgeon(rename = "unknown_bear")]
    UnknownBear,
    /// Another animal, named in free text (e.g. "イノシシ" after a misidentification).
    #[autosurgeon(rename = "other")]
    Other(String),
}

/// Certainty of the identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    /// 確実 (seen clearly, photo, trace confirmed by staff).
    #[autosurgeon(rename = "confirmed")]
    Confirmed,
    /// ほぼ確実.
    #[autosurgeon(rename = "probable")]
    Probable,
    /// 可能性あり.
    #[autosurgeon(rename = "possible")]
    Possible,
}

/// When it was observed; "unknown" is explicit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum ObservedTime {
    /// 日時.
    #[autosurgeon(rename = "at")]
    At(Timestamp),
    /// 日付のみ (time unknown).
    #[autosurgeon(rename = "date_only")]
    DateOnly(LocalDate),
    /// 日時不明.
    #[autosurgeon(rename = "unknown")]
    Unknown,
}

/// Group composition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum BearGroup {
    /// 単独.
    #[autosurgeon(rename = "single")]
    Single,
    /// 親子.
    #[autosurgeon(rename = "mother_with_cubs")]
    MotherWithCubs,
    /// 複数 (not a family group, or unclear).
    #[autosurgeon(rename = "multiple")]
    Multiple,
    /// 不明.
    #[autosurgeon(rename = "unknown")]
    Unknown,
}

/// 通報者の連絡先 (sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct ReporterContact {
    pub name: String,
    pub phone: String,
    pub note: String,
}

impl Species {
    /// Japanese label for titles.
    pub fn label_ja(&self) -> &str {
        match self {
            Species::BrownBear => "ヒグマ",
            Species::BlackBear => "ツキノワグマ",
            Species::UnknownBear => "クマ類",
            Species::Other(name) if !name.trim().is_empty() => name.trim(),
            Species::Other(_) => "その他",
        }
    }
}

impl ReportKind {
    /// Japanese label for titles.
    pub fn label_ja(&self) -> &'static str {
        match self {
            ReportKind::Sighting => "目撃",
            ReportKind::Trace(TraceKind::Footprint) => "痕跡(足跡)",
            ReportKind::Trace(TraceKind::Scat) => "痕跡(糞)",
            ReportKind::Trace(TraceKind::Feeding) => "痕跡(食痕)",
            ReportKind::Trace(TraceKind::Claw) => "痕跡(爪痕)",
            ReportKind::Trace(TraceKind::Hair) => "痕跡(体毛)",
            ReportKind::Trace(TraceKind::Camera) => "痕跡(カメラ)",
            ReportKind::CropDamage => "農作物被害",
            ReportKind::Injury => "人身被害",
            ReportKind::Capture => "捕獲",
        }
    }
}

impl ObservedTime {
    /// The local calendar date, if known.
    pub fn date(&self) -> Option<LocalDate> {
        match self {
            ObservedTime::At(t) => Some(t.local_date()),
            ObservedTime::DateOnly(d) => Some(*d),
            ObservedTime::Unknown => None,
        }
    }
}

impl BearSighting {
    /// An empty sighting report: species unknown, time unknown, counts unknown.
    pub fn new(envelope: Envelope) -> Self {
        Self {
            envelope,
            report_kind: ReportKind::Sighting,
            species: Species::UnknownBear,
            certainty: Certainty::Possible,
            observed_at: ObservedTime::Unknown,
            location: None,
            place_description: String::new(),
            count: Count::Unknown,
            adults: Count::Unknown,
            cubs: Count::Unknown,
            group: BearGroup::Unknown,
            behaviour: String::new(),
            distance_m: None,
            narrative: Narrative::default(),
            response_taken: Narrative::default(),
            reporter_contact: None,
        }
    }
}

impl DocumentBody for BearSighting {
    const KIND: DocumentKind = DocumentKind::BearSighting;
    const SCHEMA_VERSION: u32 = 1;

    fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    fn envelope_mut(&mut self) -> &mut Envelope {
        &mut self.envelope
    }

    /// "ヒグマ 目撃 2025-06-01"; "日時不明" when the date is unknown.
    fn title(&self) -> String {
        let date = self
            .observed_at
            .date()
            .map_or_else(|| "日時不明".to_string(), |d| d.to_string());
        format!(
            "{} {} {}",
            self.species.label_ja(),
            self.report_kind.label_ja(),
            date
        )
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        validate_envelope_of(self, &mut errors);

        match &self.location {
            Some(point) => point.validate("location", &mut errors),
            None if self.place_description.trim().is_empty() => errors.push(
                "location",
                FieldErrorCode::Required,
                "a location or a place description is required",
            ),
            None => {}
        }
        if matches!(&self.species, Species::Other(name) if name.trim().is_empty()) {
            errors.push(
                "species",
                FieldErrorCode::Required,
                "name the species when it is not a bear",
            );
        }
        if let Some(total) = self.count.known() {
            match (self.adults.known(), self.cubs.known()) {
                // Both parts known: they must add up to the total.
                (Some(a), Some(c)) => {
                    if u64::from(a) + u64::from(c) != u64::from(total) {
                        errors.push(
                            "count",
                            FieldErrorCode::Inconsistent,
                            "adults plus cubs must equal the total count",
                        );
                    }
                }
                // One part known: it cannot exceed the total.
                (adults, cubs) => {
                    if adults.is_some_and(|a| a > total) {
                        errors.push(
                            "adults",
                            FieldErrorCode::Inconsistent,
                            "adults cannot exceed the total count",
                        );
                    }
                    if cubs.is_some_and(|c| c > total) {
                        errors.push(
                            "cubs",
                            FieldErrorCode::Inconsistent,
                            "cubs cannot exceed the total count",
                        );
                    }
                }
            }
        }
        if self.group == BearGroup::MotherWithCubs && self.cubs == Count::Known(0) {
            errors.push(
                "cubs",
                FieldErrorCode::Inconsistent,
                "a mother with cubs needs at least one cub",
            );
        }
        errors.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::*;
    use automerge::{ActorId, AutoCommit};
    use autosurgeon::{hydrate, reconcile};

    fn sample() -> BearSighting {
        let mut b = BearSighting::new(envelope(DocumentKind::BearSighting));
        b.report_kind = ReportKind::Sighting;
        b.species = Species::BrownBear;
        b.certainty = Certainty::Confirmed;
        b.observed_at = ObservedTime::At(ts("2025-06-01T06:40:00+09:00"));
        b.location = Some(GeoPoint {
            latitude: 43.0135,
            longitude: 141.2630,
            uncertainty_m: Some(15.0),
            altitude_m: Some(212.0),
        });
        b.place_description = "藻岩山 登山道入口付近".into();
        b.count = Count::Known(3);
        b.adults = Count::Known(1);
        b.cubs = Count::Known(2);
        b.group = BearGroup::MotherWithCubs;
        b.behaviour = "道路を横断し沢へ".into();
        b.distance_m = Some(40);
        b.narrative = Narrative::from("散歩中の住民が親子グマを目撃。");
        b.response_taken = Narrative::from("パトロール実施、看板設置。");
        b.reporter_contact = Some(ReporterContact {
            name: "佐藤 一郎".into(),
            phone: "090-0000-0000".into(),
            note: "夕方以降に連絡可".into(),
        });
        b
    }

    #[test]
    fn sample_is_valid_and_titled() {
        let b = sample();
        assert_eq!(b.validate(), Ok(()));
        assert_eq!(b.title(), "ヒグマ 目撃 2025-06-01");
        let mut t = BearSighting::new(envelope(DocumentKind::BearSighting));
        t.report_kind = ReportKind::Trace(TraceKind::Scat);
        t.species = Species::BlackBear;
        t.observed_at = ObservedTime::DateOnly(date("2025-09-12"));
        assert_eq!(t.title(), "ツキノワグマ 痕跡(糞) 2025-09-12");
        t.observed_at = ObservedTime::Unknown;
        t.species = Species::UnknownBear;
        assert_eq!(t.title(), "クマ類 痕跡(糞) 日時不明");
    }

    #[test]
    fn automerge_round_trip_with_trace_and_unknowns() {
        let b = sample();
        assert_eq!(automerge_round_trip(&b), b);

        let mut t = BearSighting::new(envelope(DocumentKind::BearSighting));
        t.report_kind = ReportKind::Trace(TraceKind::Camera);
        t.species = Species::Other("イノシシの可能性".into());
        t.certainty = Certainty::Probable;
        t.observed_at = ObservedTime::DateOnly(date("2025-10-03"));
        t.place_description = "字中山 123番地 栗林".into();
        t.count = Count::Unknown;
        t.cubs = Count::Known(0);
        t.group = BearGroup::Multiple;
        assert_eq!(automerge_round_trip(&t), t);
        t.observed_at = ObservedTime::Unknown;
        assert_eq!(automerge_round_trip(&t), t);
    }

    #[test]
    fn json_representation() {
        let mut b = sample();
        b.report_kind = ReportKind::Trace(TraceKind::Camera);
        b.adults = Count::Unknown;
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["report_kind"], serde_json::json!({"trace": "camera"}));
        assert_eq!(json["species"], "brown_bear");
        assert_eq!(
            json["observed_at"],
            serde_json::json!({"at": "2025-06-01T06:40:00+09:00"})
        );
        assert_eq!(json["adults"], "unknown");
        assert_eq!(json["count"], 3);
        assert_eq!(serde_json::from_value::<BearSighting>(json).unwrap(), b);
    }

    #[test]
    fn concurrent_edits_merge() {
        let base = sample();
        let mut a = AutoCommit::new();
        reconcile(&mut a, &base).unwrap();
        let mut b = a.fork().with_actor(ActorId::random());

        let mut ba: BearSighting = hydrate(&a).unwrap();
        ba.narrative = Narrative::from("早朝、散歩中の住民が親子グマを目撃。");
        reconcile(&mut a, &ba).unwrap();

        let mut bb: BearSighting = hydrate(&b).unwrap();
        bb.narrative = Narrative::from("散歩中の住民が親子グマを目撃。警察に通報済み。");
        bb.certainty = Certainty::Probable;
        reconcile(&mut b, &bb).unwrap();

        a.merge(&mut b).unwrap();
        let merged: BearSighting = hydrate(&a).unwrap();
        assert_eq!(
            merged.narrative.as_str(),
            "早朝、散歩中の住民が親子グマを目撃。警察に通報済み。"
        );
        assert_eq!(merged.certainty, Certainty::Probable);
    }

    #[test]
    fn location_or_description_required() {
        let mut b = sample();
        b.location = None;
        assert_eq!(b.validate(), Ok(()));
        b.place_description = " ".into();
        assert_errors(b.validate(), &[("location", FieldErrorCode::Required)]);
        b.location = Some(GeoPoint::new(95.0, 141.0));
        assert_errors(
            b.validate(),
            &[("location.latitude", FieldErrorCode::OutOfRange)],
        );
    }

    #[test]
    fn count_consistency() {
        let mut b = sample();
        b.count = Count::Known(2); // adults 1 + cubs 2 ≠ 2
        assert_errors(b.validate(), &[("count", FieldErrorCode::Inconsistent)]);

        b.adults = Count::Unknown;
        b.cubs = Count::Known(3);
        assert_errors(b.validate(), &[("cubs", FieldErrorCode::Inconsistent)]);

        b.count = Count::Unknown;
        b.adults = Count::Known(1);
        b.cubs = Count::Known(0);
        assert_errors(b.validate(), &[("cubs", FieldErrorCode::Inconsistent)]);

        b.cubs = Count::Unknown;
        assert_eq!(b.validate(), Ok(()));

        b.species = Species::Other(String::new());
        assert_errors(b.validate(), &[("species", FieldErrorCode::Required)]);
    }
}
