//! 被害報告: disaster damage report following the FDMA 第4号様式
//! (災害報告取扱要領, 被害状況即報).
//!
//! [`DamageSummary`] carries the figures of the form: 人的被害, 住家被害 by
//! damage category (全壊 … 床下浸水, each in 棟・世帯・人), and infrastructure
//! damage. Every figure is a [`ConfirmableCount`]: known or unknown, and
//! possibly marked 未確認. Reports are numbered (第1報, 第2報 …) and dated
//! (`as_of`, 時点).
//!
//! [`SiteRecord`]s are the individual field observations behind the figures
//! (a house, a road section, a slope), each with optional position, photos
//! (ids of [`crate::model::PhotoRef`]s in the envelope) and a house survey.
use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    require_text, validate_envelope_of, ConfirmableCount, DocumentBody, DocumentKind, Envelope,
    FieldErrorCode, GeoPoint, Narrative, Timestamp, ValidationErrors,
};

/// Deepest flood depth accepted for a house survey (20 m), centimetres.
pub const MAX_FLOOD_DEPTH_CM: u32 = 2_000;

/// A damage report (被害報告).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct DamageReport {
    pub envelope: Envelope,
    pub summary: DamageSummary,
    pub sites: Vec<SiteRecord>,
}

/// The figures of 第4号様式.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct DamageSummary {
    /// 災害名, e.g. "令和7年台風第10号".
    pub disaster_name: String,
    /// 報告番号 (第n報), ≥ 1.
    pub report_number: u32,
    /// 報告時点.
    pub as_of: Timestamp,
    pub casualties: Casualties,
    pub housing: HousingDamage,
    pub infrastructure: Infrastructure,
    /// 備考.
    pub remarks: Narrative,
}

/// 人的被害.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
pub struct Casualties {
    /// 死者.
    pub dead: ConfirmableCount,
    /// 行方不明者.
    pub missing: ConfirmableCount,
    /// 重傷.
    pub severely_injured: ConfirmableCount,
    /// 軽傷.
    pub slightly_injured: ConfirmableCount,
}

/// 棟数・世帯数・人数 for one damage category.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
pub struct HousingCounts {
    /// 棟.
    pub buildings: ConfirmableCount,
    /// 世帯.
    pub households: ConfirmableCount,
    /// 人.
    pub people: ConfirmableCount,
}

/// 住家被害 by category.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
pub struct HousingDamage {
    /// 全壊.
    pub total_collapse: HousingCounts,
    /// 大規模半壊.
    pub large_scale_half: HousingCounts,
    /// 中規模半壊.
    pub medium_scale_half: HousingCounts,
    /// 半壊.
    pub half_collapse: HousingCounts,
    /// 準半壊.
    pub quasi_half: HousingCounts,
    /// 一部破損.
    pub partial: HousingCounts,
    /// 床上浸水.
    pub flooded_above_floor: HousingCounts,
    /// 床下浸水.
    pub flooded_below_floor: HousingCounts,
}

/// その他の被害 (infrastructure, lifelines).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
pub struct Infrastructure {
    /// 道路 (箇所).
    pub roads: ConfirmableCount,
    /// 橋りょう (箇所).
    pub bridges: ConfirmableCount,
    /// 河川 (箇所).
    pub rivers: ConfirmableCount,
    /// がけ崩れ (箇所).
    pub cliff_collapses: ConfirmableCount,
    /// 断水 (戸).
    pub water_outage_households: ConfirmableCount,
    /// 停電 (戸).
    pub power_outage_households: ConfirmableCount,
    /// その他.
    pub other: ConfirmableCount,
}

/// One surveyed site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct SiteRecord {
    #[key]
    pub id: Uuid,
    pub target_type: SiteTarget,
    /// 所在地.
    pub address: String,
    pub position: Option<GeoPoint>,
    /// 通行可否 (roads, bridges); `None` if not applicable or unknown.
    pub passable: Option<bool>,
    /// Ids of photos in `envelope.photos`.
    pub photo_ids: Vec<Uuid>,
    pub house_survey: Option<HouseSurvey>,
    pub notes: Narrative,
}

/// What the site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum SiteTarget {
    /// 住家.
    #[autosurgeon(rename = "house")]
    House,
    /// 道路.
    #[autosurgeon(rename = "road")]
    Road,
    /// 橋りょう.
    #[autosurgeon(rename = "bridge")]
    Bridge,
    /// 河川.
    #[autosurgeon(rename = "river")]
    River,
    /// 斜面・がけ.
    #[autosurgeon(rename = "slope")]
    Slope,
    /// ライフライン (水道・電気 …).
    #[autosurgeon(rename = "utility")]
    Utility,
    /// 公共施設.
    #[autosurgeon(rename = "public_facility")]
    PublicFacility,
    #[autosurgeon(rename = "other")]
    Other,
}

/// 住家の被害認定 for one house.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct HouseSurvey {
    pub damage_level: HouseDamageLevel,
    /// 浸水深, centimetres, ≤ 2000.
    pub flood_depth_cm: Option<u32>,
    pub notes: String,
}

/// 被害の程度 (the eight categories of [`HousingDamage`], or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum HouseDamageLevel {
    /// 全壊.
    #[autosurgeon(rename = "total_collapse")]
    TotalCollapse,
    /// 大規模半壊.
    #[autosurgeon(rename = "large_scale_half")]
    LargeScaleHalf,
    /// 中規模半壊.
    #[autosurgeon(rename = "medium_scale_half")]
    MediumScaleHalf,
    /// 半壊.
    #[autosurgeon(rename = "half_collapse")]
    HalfCollapse,
    /// 準半壊.
    #[autosurgeon(rename = "quasi_half")]
    QuasiHalf,
    /// 一部破損.
    #[autosurgeon(rename = "partial")]
    Partial,
    /// 床上浸水.
    #[autosurgeon(rename = "flooded_above_floor")]
    FloodedAboveFloor,
    /// 床下浸水.
    #[autosurgeon(rename = "flooded_below_floor")]
    FloodedBelowFloor,
    /// 被害なし.
    #[autosurgeon(rename = "none")]
    None,
}

impl DamageSummary {
    /// A summary with every figure unknown.
    pub fn new(disaster_name: impl Into<String>, report_number: u32, as_of: Timestamp) -> Self {
        Self {
            disaster_name: disaster_name.into(),
            report_number,
            as_of,
            casualties: Casualties::default(),
            housing: HousingDamage::default(),
            infrastructure: Infrastructure::default(),
            remarks: Narrative::default(),
        }
    }
}

impl DamageReport {
    /// An empty report (all figures unknown, no sites).
    pub fn new(
        envelope: Envelope,
        disaster_name: impl Into<String>,
        report_number: u32,
        as_of: Timestamp,
    ) -> Self {
        Self {
            envelope,
            summary: DamageSummary::new(disaster_name, report_number, as_of),
            sites: Vec::new(),
        }
    }
}

impl DocumentBody for DamageReport {
    const KIND: DocumentKind = DocumentKind::DamageReport;
    const SCHEMA_VERSION: u32 = 1;

    fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    fn envelope_mut(&mut self) -> &mut Envelope {
        &mut self.envelope
    }

    /// "令和7年台風第10号 第3報".
    fn title(&self) -> String {
        format!(
            "{} 第{}報",
            self.summary.disaster_name.trim(),
            self.summary.report_number
        )
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        validate_envelope_of(self, &mut errors);

        require_text(
            &mut errors,
            "summary.disaster_name",
            &self.summary.disaster_name,
            "disaster name is required",
        );
        if self.summary.report_number == 0 {
            errors.push(
                "summary.report_number",
                FieldErrorCode::OutOfRange,
                "report number must be at least 1",
            );
        }
        for (i, site) in self.sites.iter().enumerate() {
            if self.sites[..i].iter().any(|s| s.id == site.id) {
                errors.push(
                    format!("sites[{i}].id"),
                    FieldErrorCode::Inconsistent,
                    "site id appears more than once",
                );
            }
            if let Some(p) = &site.position {
                p.validate(&format!("sites[{i}].position"), &mut errors);
            }
            for (j, photo_id) in site.photo_ids.iter().enumerate() {
                if self.envelope.photo(photo_id).is_none() {
                    errors.push(
                        format!("sites[{i}].photo_ids[{j}]"),
                        FieldErrorCode::Inconsistent,
                        "photo is not attached to this document",
                    );
                }
            }
            if let Some(depth) = site.house_survey.as_ref().and_then(|h| h.flood_depth_cm) {
                if depth > MAX_FLOOD_DEPTH_CM {
                    errors.push(
                        format!("sites[{i}].house_survey.flood_depth_cm"),
                        FieldErrorCode::OutOfRange,
                        "flood depth cannot exceed 2000 cm",
                    );
                }
            }
        }
        errors.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::*;
    use crate::model::{Count, PhotoRef};
    use automerge::{ActorId, AutoCommit};
    use autosurgeon::{hydrate, reconcile};

    fn photo() -> PhotoRef {
        PhotoRef {
            id: Uuid::new_v4(),
            sha256_hex: "0f".repeat(32),
            width: 1920,
            height: 1080,
            byte_size: 812_345,
            taken_at: Some(ts("2025-08-30T14:10:00+09:00")),
            position: None,
            source_format: "image/jpeg".into(),
            flags: vec![],
        }
    }

    fn sample() -> DamageReport {
        let mut env = envelope(DocumentKind::DamageReport);
        env.updated_at = ts("2025-08-30T15:00:00+09:00");
        let p = photo();
        let photo_id = p.id;
        env.photos.push(p);
        let mut r = DamageReport::new(env, "令和7年台風第10号", 3, ts("2025-08-30T15:00:00+09:00"));
        let s = &mut r.summary;
        s.casualties.dead = ConfirmableCount::known(0);
        s.casualties.missing = ConfirmableCount::unconfirmed(1);
        s.casualties.slightly_injured = ConfirmableCount::known(4);
        s.housing.total_collapse.buildings = ConfirmableCount::known(2);
        s.housing.total_collapse.households = ConfirmableCount::known(2);
        s.housing.total_collapse.people = ConfirmableCount::unconfirmed(5);
        s.housing.flooded_above_floor.buildings = ConfirmableCount::unconfirmed(37);
        s.infrastructure.roads = ConfirmableCount::known(6);
        s.infrastructure.power_outage_households = ConfirmableCount::unconfirmed(1_250);
        s.remarks = Narrative::from("数値は15時時点。浸水被害は調査中。");
        r.sites.push(SiteRecord {
            id: Uuid::new_v4(),
            target_type: SiteTarget::House,
            address: "秋田市中通2丁目".into(),
            position: Some(GeoPoint::new(39.7168, 140.1296)),
            passable: None,
            photo_ids: vec![photo_id],
            house_survey: Some(HouseSurvey {
                damage_level: HouseDamageLevel::FloodedAboveFloor,
                flood_depth_cm: Some(65),
                notes: "1階居室まで浸水".into(),
            }),
            notes: Narrative::from("住民は避難所へ。"),
        });
        r.sites.push(SiteRecord {
            id: Uuid::new_v4(),
            target_type: SiteTarget::Road,
            address: "市道 旭川線".into(),
            position: None,
            passable: Some(false),
            photo_ids: vec![],
            house_survey: None,
            notes: Narrative::from("土砂流入、全面通行止め。"),
        });
        r
    }

    #[test]
    fn sample_is_valid_and_titled() {
        let r = sample();
        assert_eq!(r.validate(), Ok(()));
        assert_eq!(r.title(), "令和7年台風第10号 第3報");
    }

    #[test]
    fn automerge_and_json_round_trip() {
        let r = sample();
        assert_eq!(automerge_round_trip(&r), r);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["summary"]["casualties"]["severely_injured"],
            serde_json::json!({"count": "unknown", "unconfirmed": false})
        );
        assert_eq!(
            json["sites"][0]["house_survey"]["damage_level"],
            "flooded_above_floor"
        );
        assert_eq!(serde_json::from_value::<DamageReport>(json).unwrap(), r);
    }

    #[test]
    fn concurrent_figures_and_sites_merge() {
        let base = sample();
        let mut a = AutoCommit::new();
        reconcile(&mut a, &base).unwrap();
        let mut b = a.fork().with_actor(ActorId::random());

        let mut ra: DamageReport = hydrate(&a).unwrap();
        ra.summary.casualties.missing = ConfirmableCount::known(0);
        reconcile(&mut a, &ra).unwrap();

        let mut rb: DamageReport = hydrate(&b).unwrap();
        rb.summary.infrastructure.bridges = ConfirmableCount::known(1);
        rb.sites.remove(1);
        reconcile(&mut b, &rb).unwrap();

        a.merge(&mut b).unwrap();
        let merged: DamageReport = hydrate(&a).unwrap();
        assert_eq!(
            merged.summary.casualties.missing,
            ConfirmableCount::known(0)
        );
        assert_eq!(merged.summary.infrastructure.bridges.count, Count::Known(1));
        assert_eq!(merged.sites, base.sites[..1]);
    }

    #[test]
    fn validation_paths_and_codes() {
        let mut r = sample();
        r.summary.disaster_name = String::new();
        r.summary.report_number = 0;
        r.sites[1].position = Some(GeoPoint {
            latitude: 39.0,
            longitude: -181.0,
            uncertainty_m: Some(-5.0),
            altitude_m: None,
        });
        r.sites[1].photo_ids.push(Uuid::new_v4());
        r.sites[0].house_survey = Some(HouseSurvey {
            damage_level: HouseDamageLevel::FloodedAboveFloor,
            flood_depth_cm: Some(2_001),
            notes: String::new(),
        });
        assert_errors(
            r.validate(),
            &[
                ("summary.disaster_name", FieldErrorCode::Required),
                ("summary.report_number", FieldErrorCode::OutOfRange),
                ("sites[1].position.longitude", FieldErrorCode::OutOfRange),
                ("sites[1].position.uncertainty_m", FieldErrorCode::Negative),
                ("sites[1].photo_ids[0]", FieldErrorCode::Inconsistent),
                (
                    "sites[0].house_survey.flood_depth_cm",
                    FieldErrorCode::OutOfRange,
                ),
            ],
        );
        r = sample();
        if let Some(h) = r.sites[0].house_survey.as_mut() {
            h.flood_depth_cm = Some(MAX_FLOOD_DEPTH_CM);
        }
        let dup = r.sites[0].clone();
        r.sites.push(dup);
        assert_errors(
            r.validate(),
            &[("sites[2].id", FieldErrorCode::Inconsistent)],
        );
    }

    #[test]
    fn negative_external_counts_are_rejected() {
        let err = Count::from_i64("summary.casualties.dead.count", -1).unwrap_err();
        assert_eq!(err.code, FieldErrorCode::Negative);
        assert_eq!(err.field, "summary.casualties.dead.count");
    }
}
