//! The README's first command runs end to end and its plaintext scan passes.
use std::process::Command;

#[test]
fn first_vault_sample_finds_no_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keep = dir.path().join("vault");
    let out = Command::new(env!("CARGO_BIN_EXE_first-vault"))
        .args(["--keep", keep.to_str().expect("utf-8 path")])
        .output()
        .expect("run sample");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sample failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("no plaintext found"), "{stdout}");
    assert_eq!(
        stdout.matches("draft").count(),
        3,
        "three documents listed: {stdout}"
    );
    // The sample really wrote a vault there, and it holds no copy of a value it printed.
    let db = std::fs::read(keep.join("vault.db")).expect("vault file");
    assert!(db.len() > 4096);
    let title = "山田 花子";
    assert!(stdout.contains(title), "the listing shows decrypted titles");
    assert!(!db.windows(title.len()).any(|w| w == title.as_bytes()));
}
