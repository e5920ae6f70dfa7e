//! Sample documents for tests, built on the library's sample data.
use fieldvault::model::{BearSighting, DamageReport, MedicalExpense, SiteRecord, TaxAssist};
use fieldvault::sample_data as s;
use fieldvault::Vault;

pub fn tax(v: &Vault) -> TaxAssist {
    s::tax_assist(v.new_envelope::<TaxAssist>(s::MUNICIPALITY))
}

pub fn bear(v: &Vault) -> BearSighting {
    s::bear_sighting(v.new_envelope::<BearSighting>(s::MUNICIPALITY))
}

pub fn damage(v: &Vault) -> DamageReport {
    s::damage_report(v.new_envelope::<DamageReport>(s::MUNICIPALITY))
}

pub fn site(address: &str) -> SiteRecord {
    s::site_record(address)
}

pub fn medical(payee: &str, amount: u64) -> MedicalExpense {
    s::medical_expense(payee, amount, 0)
}
