//! Realistic sample documents for demos, benchmarks and tests: one builder per
//! kind, every text field filled, all values fictional. Pass an envelope from
//! [`crate::Vault::new_envelope`].
use uuid::Uuid;

use crate::model::*;

/// 札幌市 (Sapporo) — a valid 全国地方公共団体コード.
pub const MUNICIPALITY: &str = "011002";

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap_or_else(|_| Timestamp::now())
}

fn date(y: i32, m: u32, d: u32) -> Option<LocalDate> {
    LocalDate::from_ymd(y, m, d)
}

/// A tax-help form (確定申告の手伝い) for a pensioner with medical expenses.
pub fn tax_assist(envelope: Envelope) -> TaxAssist {
    TaxAssist {
        envelope,
        tax_year: 2025,
        venue: "北区民センター 2階 会議室".into(),
        staff: vec!["staff-0012".into(), "staff-0031".into()],
        permission_reference: "税理士法第50条 許可 札幌国税局 第123号".into(),
        consent: Consent {
            given: true,
            given_at: Some(ts("2026-02-20T10:05:00+09:00")),
            method: "口頭で説明し署名を受領".into(),
        },
        filing_route: FilingRoute::ETaxMyNumberCard,
        taxpayer: Taxpayer {
            name: "山田 花子".into(),
            name_kana: "ヤマダ ハナコ".into(),
            birth_date: date(1948, 5, 12),
            address: "北海道札幌市北区北24条西5丁目1-1".into(),
            phone: Some("011-000-0000".into()),
        },
        has_my_number: false,
        total_income_yen: Some(1_500_000),
        dependants: vec![Dependant {
            id: Uuid::new_v4(),
            name: "山田 太郎".into(),
            name_kana: "ヤマダ タロウ".into(),
            relationship: "配偶者".into(),
            birth_date: date(1945, 1, 3),
            annual_income_yen: Some(380_000),
        }],
        pension_slips: vec![PensionSlip {
            id: Uuid::new_v4(),
            payer: "日本年金機構".into(),
            pension_type: PensionType::National,
            amount_paid_yen: 1_800_000,
            tax_withheld_yen: 12_000,
            premiums: PensionPremiums {
                long_term_care_yen: 72_000,
                late_elderly_yen: 48_000,
                national_health_yen: 0,
            },
        }],
        social_insurance: vec![SocialInsurancePremium {
            id: Uuid::new_v4(),
            kind: "国民健康保険税".into(),
            payer_note: "口座振替 北洋銀行".into(),
            amount_yen: 65_000,
        }],
        medical_expenses: vec![
            medical_expense("北大病院", 182_000, 30_000),
            medical_expense("さくら薬局", 24_500, 0),
        ],
        refund_account: Some(RefundAccount {
            bank: "北洋銀行".into(),
            branch: "北二十四条支店".into(),
            account_type: "普通".into(),
            account_number: "1234567".into(),
            holder_kana: "ヤマダ ハナコ".into(),
        }),
        notes: "領収書は封筒に保管。次回は介護保険料の通知書を持参。".into(),
    }
}

/// One medical expense line.
pub fn medical_expense(payee: &str, amount_yen: u64, reimbursed_yen: u64) -> MedicalExpense {
    MedicalExpense {
        id: Uuid::new_v4(),
        patient: "山田 花子".into(),
        payee: payee.into(),
        category: MedicalCategory::Treatment,
        amount_yen,
        reimbursed_yen,
        paid_date: date(2025, 9, 14),
    }
}

/// A brown-bear sighting (クマ出没情報) with position and a reporter.
pub fn bear_sighting(envelope: Envelope) -> BearSighting {
    BearSighting {
        envelope,
        report_kind: ReportKind::Sighting,
        species: Species::BrownBear,
        certainty: Certainty::Confirmed,
        observed_at: ObservedTime::At(ts("2025-06-01T05:40:00+09:00")),
        location: Some(GeoPoint {
            latitude: 43.0186,
            longitude: 141.2952,
            uncertainty_m: Some(30.0),
            altitude_m: None,
        }),
        place_description: "南区藤野 豊滝 果樹園の北側".into(),
        count: Count::Known(3),
        adults: Count::Known(1),
        cubs: Count::Known(2),
        group: BearGroup::MotherWithCubs,
        behaviour: "道路を横断し沢へ移動".into(),
        distance_m: Some(80),
        narrative: "早朝、新聞配達中の住民が親子グマを目撃。果樹園の電気柵は作動中。".into(),
        response_taken: "パトロール実施、注意看板設置、学校へ連絡".into(),
        reporter_contact: Some(ReporterContact {
            name: "佐藤 一郎".into(),
            phone: "090-0000-0000".into(),
            note: "午前中なら電話可".into(),
        }),
    }
}

/// A flood damage report (被害報告, 第4号様式) with one surveyed house.
pub fn damage_report(envelope: Envelope) -> DamageReport {
    let known = ConfirmableCount::known;
    DamageReport {
        envelope,
        summary: DamageSummary {
            disaster_name: "令和7年8月 豊平川大雨".into(),
            report_number: 1,
            as_of: ts("2025-08-10T09:00:00+09:00"),
            casualties: Casualties {
                dead: known(0),
                missing: ConfirmableCount::unknown(),
                severely_injured: known(1),
                slightly_injured: ConfirmableCount::unconfirmed(3),
            },
            housing: HousingDamage {
                flooded_above_floor: HousingCounts {
                    buildings: known(12),
                    households: known(14),
                    people: ConfirmableCount::unconfirmed(31),
                },
                flooded_below_floor: HousingCounts {
                    buildings: known(40),
                    households: known(44),
                    people: ConfirmableCount::unknown(),
                },
                ..Default::default()
            },
            infrastructure: Infrastructure {
                roads: known(4),
                bridges: known(1),
                cliff_collapses: ConfirmableCount::unconfirmed(2),
                ..Default::default()
            },
            remarks: "河川水位は午前6時にピーク。避難所2か所開設。".into(),
        },
        sites: vec![site_record("豊平区平岸2条3丁目")],
    }
}

/// One surveyed site (a flooded house).
pub fn site_record(address: &str) -> SiteRecord {
    SiteRecord {
        id: Uuid::new_v4(),
        target_type: SiteTarget::House,
        address: address.into(),
        position: Some(GeoPoint::new(43.0401, 141.3712)),
        passable: Some(false),
        photo_ids: Vec::new(),
        house_survey: Some(HouseSurvey {
            damage_level: HouseDamageLevel::FloodedAboveFloor,
            flood_depth_cm: Some(65),
            notes: "1階床上65cm、畳・家電被害".into(),
        }),
        notes: "前面道路は冠水のため通行不可".into(),
    }
}
