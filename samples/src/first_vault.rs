//! First steps with FieldVault: create a vault, record one document of each
//! kind, list them, and show that the files on disk hold no plaintext.
//!
//! `cargo run --release -p fieldvault-samples --bin first-vault [-- --keep DIR]`
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fieldvault::model::{BearSighting, DamageReport, TaxAssist};
use fieldvault::sample_data as s;
use fieldvault::{ListFilter, PassphraseKeyProvider, Vault, VaultOptions};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let temp = tempfile::tempdir()?;
    let dir: PathBuf = match args.iter().position(|a| a == "--keep") {
        Some(i) => PathBuf::from(args.get(i + 1).ok_or("--keep needs a directory")?),
        None => temp.path().join("vault"),
    };

    println!(
        "1. Creating a vault in {} (Argon2id passphrase, 64 MiB)",
        dir.display()
    );
    let provider =
        PassphraseKeyProvider::new("sample passphrase — use the platform keystore on phones");
    let vault = Vault::create(&dir, &provider, VaultOptions::new("staff-0012"))?;

    println!("2. Recording one document of each kind");
    let tax = s::tax_assist(vault.new_envelope::<TaxAssist>(s::MUNICIPALITY));
    let bear = s::bear_sighting(vault.new_envelope::<BearSighting>(s::MUNICIPALITY));
    let damage = s::damage_report(vault.new_envelope::<DamageReport>(s::MUNICIPALITY));
    // The strings we will look for on disk afterwards.
    let secrets = vec![
        tax.taxpayer.name.clone(),
        tax.taxpayer.address.clone(),
        bear.reporter_contact
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        bear.narrative.as_str().to_owned(),
        damage.summary.disaster_name.clone(),
        damage.sites[0].address.clone(),
        "123456789018".to_owned(),
    ];
    let tax_id = vault.insert(tax)?;
    vault.insert(bear)?;
    vault.insert(damage)?;
    let masked = vault.set_my_number(&tax_id, "1234 5678 9018")?;
    println!("   My Number stored apart from the form, shown as {masked}");
    let deduction = vault.get::<TaxAssist>(&tax_id)?.medical_deduction();
    println!(
        "   medical deduction: paid ¥{} − reimbursed ¥{} − threshold ¥{} = ¥{}",
        deduction.paid_yen,
        deduction.reimbursed_yen,
        deduction.threshold_yen,
        deduction.deduction_yen
    );

    println!("3. Listing (decrypted in memory, newest first)");
    for d in vault.list(&ListFilter::default())?.documents {
        println!(
            "   {:<14} {:<10} {}",
            d.kind.as_str(),
            d.status.as_str(),
            d.title
        );
    }

    vault.checkpoint()?;
    println!("4. Files in the vault directory");
    let files = files_below(&dir)?;
    for f in &files {
        println!(
            "   {:>9} bytes  {}",
            std::fs::metadata(f)?.len(),
            f.display()
        );
    }

    println!(
        "5. Scanning every file for {} plaintext strings (UTF-8 and UTF-16)",
        secrets.len()
    );
    let mut found = 0;
    for f in &files {
        let bytes = std::fs::read(f)?;
        for secret in &secrets {
            if encodings(secret).iter().any(|e| contains(&bytes, e)) {
                println!("   FOUND in {}: a field value", f.display());
                found += 1;
            }
        }
    }
    if found == 0 {
        println!("   no plaintext found: every value on disk is sealed (AES-256-GCM)");
    }
    Ok(found == 0)
}

fn files_below(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files_below(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn encodings(s: &str) -> Vec<Vec<u8>> {
    let utf16: Vec<u16> = s.encode_utf16().collect();
    vec![
        s.as_bytes().to_vec(),
        utf16.iter().flat_map(|u| u.to_le_bytes()).collect(),
        utf16.iter().flat_map(|u| u.to_be_bytes()).collect(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
