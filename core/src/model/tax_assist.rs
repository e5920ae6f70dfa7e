//! 確定申告の手伝い: the tax-return help form used at municipal help desks
//! (申告相談会場).
//!
//! Staff fill this in with the taxpayer, typically a pensioner: pension slips
//! (公的年金等の源泉徴収票), social-insurance premiums, medical expenses
//! (医療費控除) and the refund account. Help given by municipal staff is
//! covered by a permission under 税理士法 第50条 (`permission_reference`), and
//! the taxpayer's consent is recorded (`consent`).
//!
//! What is deliberately *not* here: the My Number itself (only the flag
//! `has_my_number`; see [`crate::model::MyNumber`]), and any PIN (暗証番号),
//! e-Tax password or image of the My Number card. There are no fields for
//! them, so they cannot be stored or synced, and `validate` rejects notes
//! that contain a valid My Number.
use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::my_number::contains_my_number;
use super::{
    require_text, validate_envelope_of, DocumentBody, DocumentKind, Envelope, FieldErrorCode,
    LocalDate, Narrative, Status, Timestamp, ValidationErrors,
};

/// Upper bound of the medical expense deduction (医療費控除の上限), yen.
pub const MEDICAL_DEDUCTION_CAP_YEN: u64 = 2_000_000;
/// Fixed threshold of the medical expense deduction (10万円), yen.
pub const MEDICAL_THRESHOLD_YEN: u64 = 100_000;

/// A tax-return help session (確定申告の手伝い).
///
/// Never holds PINs, passwords or card images: there are no fields for them.
/// The My Number is represented only by the flag `has_my_number`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct TaxAssist {
    pub envelope: Envelope,
    /// The year the income was earned (e.g. 2025 for 令和7年分), 2000..=2100.
    pub tax_year: u16,
    /// 会場: where the help was given.
    pub venue: String,
    /// Staff ids present during the session.
    pub staff: Vec<String>,
    /// Reference of the 税理士法第50条 permission covering this help desk.
    pub permission_reference: String,
    pub consent: Consent,
    pub filing_route: FilingRoute,
    pub taxpayer: Taxpayer,
    /// Only a flag: the number itself is never part of the document.
    pub has_my_number: bool,
    /// 総所得金額等, used for the medical-expense threshold; `None` if not yet known.
    pub total_income_yen: Option<u64>,
    /// 扶養親族.
    pub dependants: Vec<Dependant>,
    /// 公的年金等の源泉徴収票.
    pub pension_slips: Vec<PensionSlip>,
    /// 社会保険料 paid other than by pension deduction.
    pub social_insurance: Vec<SocialInsurancePremium>,
    /// 医療費.
    pub medical_expenses: Vec<MedicalExpense>,
    /// 還付金の受取口座.
    pub refund_account: Option<RefundAccount>,
    pub notes: Narrative,
}

/// The taxpayer's consent to being helped and to their data being recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Consent {
    pub given: bool,
    pub given_at: Option<Timestamp>,
    /// How consent was obtained, e.g. "署名" (signature) or "口頭" (verbal).
    pub method: String,
}

/// How the return is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum FilingRoute {
    /// e-Tax with the My Number card (マイナンバーカード方式).
    #[autosurgeon(rename = "e_tax_my_number_card")]
    ETaxMyNumberCard,
    /// e-Tax with ID and password (ID・パスワード方式). The password is never stored.
    #[autosurgeon(rename = "e_tax_id_password")]
    ETaxIdPassword,
    /// 書面提出.
    #[autosurgeon(rename = "paper")]
    Paper,
    /// 住民税のみの申告.
    #[autosurgeon(rename = "resident_tax_only")]
    ResidentTaxOnly,
    /// 申告不要.
    #[autosurgeon(rename = "not_required")]
    NotRequired,
}

/// 納税者.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Taxpayer {
    /// 氏名.
    pub name: String,
    /// フリガナ.
    pub name_kana: String,
    pub birth_date: Option<LocalDate>,
    pub address: String,
    pub phone: Option<String>,
}

/// 扶養親族.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Dependant {
    #[key]
    pub id: Uuid,
    pub name: String,
    pub name_kana: String,
    /// 続柄, e.g. "妻", "長男".
    pub relationship: String,
    pub birth_date: Option<LocalDate>,
    pub annual_income_yen: Option<u64>,
}

/// 公的年金等の源泉徴収票.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct PensionSlip {
    #[key]
    pub id: Uuid,
    /// 支払者, e.g. "日本年金機構".
    pub payer: String,
    pub pension_type: PensionType,
    /// 支払金額.
    pub amount_paid_yen: u64,
    /// 源泉徴収税額.
    pub tax_withheld_yen: u64,
    /// Premiums deducted from the pension (特別徴収).
    pub premiums: PensionPremiums,
}

/// Kind of pension on a slip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum PensionType {
    /// 国民年金・厚生年金.
    #[autosurgeon(rename = "national")]
    National,
    /// 共済年金.
    #[autosurgeon(rename = "mutual")]
    Mutual,
    /// 企業年金.
    #[autosurgeon(rename = "corporate")]
    Corporate,
    #[autosurgeon(rename = "other")]
    Other,
}

/// Premiums withheld from a pension (社会保険料の金額の内訳).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate,
)]
pub struct PensionPremiums {
    /// 介護保険料.
    pub long_term_care_yen: u64,
    /// 後期高齢者医療保険料.
    pub late_elderly_yen: u64,
    /// 国民健康保険料（税）.
    pub national_health_yen: u64,
}

/// 社会保険料 paid directly (国保, 介護, 国民年金 …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct SocialInsurancePremium {
    #[key]
    pub id: Uuid,
    /// 種類, e.g. "国民健康保険税".
    pub kind: String,
    /// Who paid / for whom, free text.
    pub payer_note: String,
    pub amount_yen: u64,
}

/// One medical expense (one treatment / purchase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct MedicalExpense {
    #[key]
    pub id: Uuid,
    /// 医療を受けた人.
    pub patient: String,
    /// 支払先 (病院・薬局など).
    pub payee: String,
    pub category: MedicalCategory,
    /// 支払った医療費.
    pub amount_yen: u64,
    /// 補填される金額 (保険金など) for this expense.
    pub reimbursed_yen: u64,
    pub paid_date: Option<LocalDate>,
}

/// 医療費の区分.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(rename_all = "snake_case")]
pub enum MedicalCategory {
    /// 診療・治療.
    #[autosurgeon(rename = "treatment")]
    Treatment,
    /// 医薬品購入.
    #[autosurgeon(rename = "medicine")]
    Medicine,
    /// 介護保険サービス.
    #[autosurgeon(rename = "care")]
    Care,
    /// その他の医療費.
    #[autosurgeon(rename = "other")]
    Other,
}

/// 還付金の受取口座 (bank account; ゆうちょ記号番号 is not supported).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct RefundAccount {
    pub bank: String,
    pub branch: String,
    /// 預金種類, e.g. "普通".
    pub account_type: String,
    /// 口座番号: exactly 7 ASCII digits.
    pub account_number: String,
    /// 口座名義 (カナ).
    pub holder_kana: String,
}

/// Result of [`TaxAssist::medical_deduction`] (医療費控除額の計算).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalDeduction {
    /// Σ amounts paid.
    pub paid_yen: u64,
    /// Σ reimbursements actually applied (each capped at its own expense).
    pub reimbursed_yen: u64,
    /// min(100,000, 総所得金額等 × 5%), or 100,000 if income is unknown.
    pub threshold_yen: u64,
    /// clamp(paid − reimbursed − threshold, 0, 2,000,000).
    pub deduction_yen: u64,
}

impl TaxAssist {
    /// An empty form for `tax_year` around the given envelope.
    pub fn new(envelope: Envelope, tax_year: u16) -> Self {
        Self {
            envelope,
            tax_year,
            venue: String::new(),
            staff: Vec::new(),
            permission_reference: String::new(),
            consent: Consent::default(),
            filing_route: FilingRoute::Paper,
            taxpayer: Taxpayer::default(),
            has_my_number: false,
            total_income_yen: None,
            dependants: Vec::new(),
            pension_slips: Vec::new(),
            social_insurance: Vec::new(),
            medical_expenses: Vec::new(),
            refund_account: None,
            notes: Narrative::default(),
        }
    }

    /// Computes the medical expense deduction (医療費控除).
    ///
    /// Reimbursements (保険金などで補填される金額) are subtracted *per
    /// expense* and never below zero for that expense: following the National
    /// Tax Agency rule that a reimbursement is deducted only from the medical
    /// expense it covers and any excess is not deducted from other expenses
    /// (引ききれない金額が生じた場合でも他の医療費からは差し引かない). The NTA
    /// nets per *treatment*; this library treats each [`MedicalExpense`] entry
    /// as one treatment, so staff should enter a reimbursement on the entry
    /// of the treatment it covers.
    ///
    /// Threshold: min(100,000 yen, ⌊総所得金額等 × 5 / 100⌋), or 100,000 yen
    /// when the income is unknown. Deduction: clamp(net − threshold, 0,
    /// 2,000,000). Sums saturate instead of overflowing.
    pub fn medical_deduction(&self) -> MedicalDeduction {
        let (paid, reimbursed) =
            self.medical_expenses
                .iter()
                .fold((0u64, 0u64), |(paid, reimbursed), e| {
                    (
                        paid.saturating_add(e.amount_yen),
                        reimbursed.saturating_add(e.reimbursed_yen.min(e.amount_yen)),
                    )
                });
        let threshold = match self.total_income_yen {
            // ⌊x · 5 / 100⌋ = ⌊x / 20⌋, without overflow.
            Some(income) => (income / 20).min(MEDICAL_THRESHOLD_YEN),
            None => MEDICAL_THRESHOLD_YEN,
        };
        let net = paid.saturating_sub(reimbursed);
        MedicalDeduction {
            paid_yen: paid,
            reimbursed_yen: reimbursed,
            threshold_yen: threshold,
            deduction_yen: net.saturating_sub(threshold).min(MEDICAL_DEDUCTION_CAP_YEN),
        }
    }
}

/// `date` must not be after the document's last update (a birth date in the future).
fn check_not_future(
    errors: &mut ValidationErrors,
    field: &str,
    date: Option<LocalDate>,
    updated_at: &Timestamp,
) {
    if date.is_some_and(|d| d > updated_at.local_date()) {
        errors.push(
            field,
            FieldErrorCode::OutOfRange,
            "birth date cannot be in the future",
        );
    }
}

impl DocumentBody for TaxAssist {
    const KIND: DocumentKind = DocumentKind::TaxAssist;
    const SCHEMA_VERSION: u32 = 1;

    fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    fn envelope_mut(&mut self) -> &mut Envelope {
        &mut self.envelope
    }

    /// "確定申告 2025 山田 花子" (name omitted while empty).
    fn title(&self) -> String {
        let name = self.taxpayer.name.trim();
        if name.is_empty() {
            format!("確定申告 {}", self.tax_year)
        } else {
            format!("確定申告 {} {}", self.tax_year, name)
        }
    }

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        validate_envelope_of(self, &mut errors);
        let updated_at = &self.envelope.updated_at;

        if !(2000..=2100).contains(&self.tax_year) {
            errors.push(
                "tax_year",
                FieldErrorCode::OutOfRange,
                "tax year must be between 2000 and 2100",
            );
        }
        if self.envelope.status != Status::Draft && !self.consent.given {
            errors.push(
                "consent.given",
                FieldErrorCode::Required,
                "the taxpayer's consent is required before leaving draft",
            );
        }
        require_text(
            &mut errors,
            "taxpayer.name",
            &self.taxpayer.name,
            "taxpayer name is required",
        );
        check_not_future(
            &mut errors,
            "taxpayer.birth_date",
            self.taxpayer.birth_date,
            updated_at,
        );
        for (i, d) in self.dependants.iter().enumerate() {
            require_text(
                &mut errors,
                &format!("dependants[{i}].name"),
                &d.name,
                "dependant name is required",
            );
            check_not_future(
                &mut errors,
                &format!("dependants[{i}].birth_date"),
                d.birth_date,
                updated_at,
            );
        }
        for (i, p) in self.pension_slips.iter().enumerate() {
            if p.tax_withheld_yen > p.amount_paid_yen {
                errors.push(
                    format!("pension_slips[{i}].tax_withheld_yen"),
                    FieldErrorCode::Inconsistent,
                    "tax withheld cannot exceed the amount paid",
                );
            }
        }
        for (i, e) in self.medical_expenses.iter().enumerate() {
            if e.reimbursed_yen > e.amount_yen {
                errors.push(
                    format!("medical_expenses[{i}].reimbursed_yen"),
                    FieldErrorCode::Inconsistent,
                    "reimbursement cannot exceed the amount paid for this expense",
                );
            }
        }
        if let Some(account) = &self.refund_account {
            let n = &account.account_number;
            if n.len() != 7 || !n.bytes().all(|b| b.is_ascii_digit()) {
                errors.push(
                    "refund_account.account_number",
                    FieldErrorCode::InvalidFormat,
                    "account number must be exactly 7 digits",
                );
            }
        }
        if contains_my_number(self.notes.as_str()) {
            errors.push(
                "notes",
                FieldErrorCode::NotAllowed,
                "notes must not contain a My Number",
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

    fn expense(amount: u64, reimbursed: u64) -> MedicalExpense {
        MedicalExpense {
            id: Uuid::new_v4(),
            patient: "山田 花子".into(),
            payee: "市立病院".into(),
            category: MedicalCategory::Treatment,
            amount_yen: amount,
            reimbursed_yen: reimbursed,
            paid_date: Some(date("2025-03-14")),
        }
    }

    fn sample() -> TaxAssist {
        let mut t = TaxAssist::new(envelope(DocumentKind::TaxAssist), 2025);
        t.envelope.status = Status::Ready;
        t.venue = "本庁舎 2階 会議室".into();
        t.staff = vec!["S-0042".into(), "S-0107".into()];
        t.permission_reference = "札幌国税局 令和7年 第12号".into();
        t.consent = Consent {
            given: true,
            given_at: Some(ts("2025-06-01T09:05:00+09:00")),
            method: "署名".into(),
        };
        t.filing_route = FilingRoute::ETaxMyNumberCard;
        t.taxpayer = Taxpayer {
            name: "山田 花子".into(),
            name_kana: "ヤマダ ハナコ".into(),
            birth_date: Some(date("1948-04-01")),
            address: "北海道札幌市中央区北1条西2丁目".into(),
            phone: Some("011-000-0000".into()),
        };
        t.has_my_number = true;
        t.total_income_yen = Some(1_500_000);
        t.dependants.push(Dependant {
            id: Uuid::new_v4(),
            name: "山田 太郎".into(),
            name_kana: "ヤマダ タロウ".into(),
            relationship: "夫".into(),
            birth_date: Some(date("1946-11-23")),
            annual_income_yen: Some(780_000),
        });
        t.pension_slips.push(PensionSlip {
            id: Uuid::new_v4(),
            payer: "日本年金機構".into(),
            pension_type: PensionType::National,
            amount_paid_yen: 1_850_000,
            tax_withheld_yen: 12_300,
            premiums: PensionPremiums {
                long_term_care_yen: 72_000,
                late_elderly_yen: 48_500,
                national_health_yen: 0,
            },
        });
        t.social_insurance.push(SocialInsurancePremium {
            id: Uuid::new_v4(),
            kind: "国民健康保険税".into(),
            payer_note: "本人分".into(),
            amount_yen: 35_000,
        });
        t.medical_expenses = vec![expense(120_000, 20_000), expense(8_400, 0)];
        t.refund_account = Some(RefundAccount {
            bank: "北洋銀行".into(),
            branch: "本店営業部".into(),
            account_type: "普通".into(),
            account_number: "1234567".into(),
            holder_kana: "ヤマダ ハナコ".into(),
        });
        t.notes = Narrative::from("領収書は本人が保管。");
        t
    }

    #[test]
    fn sample_is_valid_and_titled() {
        let t = sample();
        assert_eq!(t.validate(), Ok(()));
        assert_eq!(t.title(), "確定申告 2025 山田 花子");
        assert_eq!(
            TaxAssist::new(envelope(DocumentKind::TaxAssist), 2024).title(),
            "確定申告 2024"
        );
    }

    #[test]
    fn automerge_and_json_round_trip() {
        let t = sample();
        assert_eq!(automerge_round_trip(&t), t);
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains(r#""filing_route":"e_tax_my_number_card""#));
        assert_eq!(serde_json::from_str::<TaxAssist>(&json).unwrap(), t);
    }

    #[test]
    fn concurrent_medical_expense_appends_both_survive() {
        let base = sample();
        let mut a = AutoCommit::new();
        reconcile(&mut a, &base).unwrap();
        let mut b = a.fork().with_actor(ActorId::random());

        let mut ta: TaxAssist = hydrate(&a).unwrap();
        let ea = expense(3_000, 0);
        ta.medical_expenses.push(ea.clone());
        reconcile(&mut a, &ta).unwrap();

        let mut tb: TaxAssist = hydrate(&b).unwrap();
        let eb = expense(5_500, 500);
        tb.medical_expenses.push(eb.clone());
        tb.notes = Narrative::from("領収書は本人が保管。薬局分を追加。");
        reconcile(&mut b, &tb).unwrap();

        a.merge(&mut b).unwrap();
        let merged: TaxAssist = hydrate(&a).unwrap();
        assert_eq!(merged.medical_expenses.len(), 4);
        assert_eq!(merged.medical_expenses[..2], base.medical_expenses[..]);
        assert!(merged.medical_expenses.contains(&ea));
        assert!(merged.medical_expenses.contains(&eb));
        assert_eq!(merged.notes.as_str(), "領収書は本人が保管。薬局分を追加。");
    }

    #[test]
    fn medical_deduction_with_known_income() {
        let mut t = sample();
        t.total_income_yen = Some(1_500_000);
        t.medical_expenses = vec![expense(120_000, 20_000), expense(8_400, 0)];
        assert_eq!(
            t.medical_deduction(),
            MedicalDeduction {
                paid_yen: 128_400,
                reimbursed_yen: 20_000,
                threshold_yen: 75_000,
                deduction_yen: 33_400,
            }
        );
        // High income: threshold capped at 100,000; 5% is floored.
        t.total_income_yen = Some(3_000_000);
        assert_eq!(t.medical_deduction().threshold_yen, 100_000);
        t.total_income_yen = Some(1_234_567);
        assert_eq!(t.medical_deduction().threshold_yen, 61_728);
        t.total_income_yen = Some(0);
        assert_eq!(t.medical_deduction().threshold_yen, 0);
        assert_eq!(t.medical_deduction().deduction_yen, 108_400);
    }

    #[test]
    fn medical_deduction_with_unknown_income() {
        let mut t = sample();
        t.total_income_yen = None;
        t.medical_expenses = vec![expense(150_000, 0)];
        let d = t.medical_deduction();
        assert_eq!(d.threshold_yen, 100_000);
        assert_eq!(d.deduction_yen, 50_000);
        // Below the threshold: zero, never negative.
        t.medical_expenses = vec![expense(90_000, 0)];
        assert_eq!(t.medical_deduction().deduction_yen, 0);
        // No expenses at all.
        t.medical_expenses.clear();
        assert_eq!(
            t.medical_deduction(),
            MedicalDeduction {
                paid_yen: 0,
                reimbursed_yen: 0,
                threshold_yen: 100_000,
                deduction_yen: 0
            }
        );
    }

    #[test]
    fn medical_deduction_is_capped() {
        let mut t = sample();
        t.total_income_yen = Some(10_000_000);
        t.medical_expenses = vec![expense(2_500_000, 100_000), expense(300_000, 0)];
        let d = t.medical_deduction();
        assert_eq!(d.paid_yen, 2_800_000);
        assert_eq!(d.reimbursed_yen, 100_000);
        assert_eq!(d.deduction_yen, 2_000_000);
        t.medical_expenses = vec![expense(u64::MAX, 0), expense(u64::MAX, 0)];
        assert_eq!(t.medical_deduction().deduction_yen, 2_000_000);
    }

    #[test]
    fn over_reimbursement_does_not_reduce_other_expenses() {
        let mut t = sample();
        t.total_income_yen = None;
        // 入院 50,000 fully covered by 80,000 of insurance; the surplus 30,000
        // is not subtracted from the 180,000 of other expenses.
        t.medical_expenses = vec![expense(50_000, 80_000), expense(180_000, 0)];
        let d = t.medical_deduction();
        assert_eq!(d.paid_yen, 230_000);
        assert_eq!(d.reimbursed_yen, 50_000);
        assert_eq!(d.deduction_yen, 80_000);
        // Such data is still flagged by validation.
        assert_errors(
            t.validate(),
            &[(
                "medical_expenses[0].reimbursed_yen",
                FieldErrorCode::Inconsistent,
            )],
        );
    }

    #[test]
    fn validation_paths_and_codes() {
        let mut t = sample();
        t.tax_year = 1999;
        t.consent.given = false;
        t.taxpayer.name = "  ".into();
        t.taxpayer.birth_date = Some(date("2025-06-02")); // day after updated_at
        t.dependants[0].name.clear();
        t.pension_slips[0].tax_withheld_yen = 2_000_000;
        t.medical_expenses.push(expense(1_000, 1_001));
        if let Some(a) = t.refund_account.as_mut() {
            a.account_number = "123456".into();
        }
        t.notes = Narrative::from("番号 1234-5678-9018 を聞き取り");
        let errors = t.validate().unwrap_err();
        assert_errors(
            Err(errors.clone()),
            &[
                ("tax_year", FieldErrorCode::OutOfRange),
                ("consent.given", FieldErrorCode::Required),
                ("taxpayer.name", FieldErrorCode::Required),
                ("taxpayer.birth_date", FieldErrorCode::OutOfRange),
                ("dependants[0].name", FieldErrorCode::Required),
                (
                    "pension_slips[0].tax_withheld_yen",
                    FieldErrorCode::Inconsistent,
                ),
                (
                    "medical_expenses[2].reimbursed_yen",
                    FieldErrorCode::Inconsistent,
                ),
                (
                    "refund_account.account_number",
                    FieldErrorCode::InvalidFormat,
                ),
                ("notes", FieldErrorCode::NotAllowed),
            ],
        );
        let text = errors.to_string();
        for value in ["1999", "2025-06-02", "123456", "9018", "1001"] {
            assert!(!text.contains(value), "message leaks {value}: {text}");
        }
    }

    #[test]
    fn draft_needs_no_consent_and_birth_date_today_is_fine() {
        let mut t = sample();
        t.envelope.status = Status::Draft;
        t.consent.given = false;
        t.taxpayer.birth_date = Some(date("2025-06-01"));
        assert_eq!(t.validate(), Ok(()));
        t.refund_account = Some(RefundAccount {
            account_number: "１２３４５６７".into(),
            ..RefundAccount::default()
        });
        assert_errors(
            t.validate(),
            &[(
                "refund_account.account_number",
                FieldErrorCode::InvalidFormat,
            )],
        );
    }
}
