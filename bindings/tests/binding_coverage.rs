//! Generation works, and the hand-written Kotlin (`android/`) and Swift
//! (`ios/`) layers call only functions that exist in the generated bindings.
//!
//! Runs `scripts/generate-bindings` (which builds the library and the
//! workspace's `uniffi-bindgen`) into a temporary directory, then:
//! - collects every function the generated Kotlin declares (`fun name(`) and
//!   every function the generated Swift declares (`func name(`);
//! - collects every call the idiomatic layers make on generated types. By
//!   convention (see `docs/adr/0005-ffi-bindings.md`) those layers reach the
//!   generated API only through receivers named `inner` (the generated
//!   `FieldVault`), `engine` (`SyncEngine`), `session` (`PairingSession`),
//!   `FfiVault` (Kotlin alias of the generated class, for its constructors)
//!   and `FieldVaultFFI` (the Swift module, for top-level functions and
//!   constructors), and Kotlin imports top-level functions by name from
//!   `jp.fieldvault.ffi`;
//! - asserts each called name is declared, and that the layers do call a
//!   substantial part of the API (an empty scan would prove nothing).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // Build outputs and generated copies are not hand-written.
            if !matches!(name, "build" | "generated" | ".gradle" | ".build") {
                files(&path, ext, out);
            }
        } else if path.extension().and_then(|e| e.to_str()) == Some(ext) {
            out.push(path);
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Names `X` of every `<keyword> X(` / ``<keyword> `X`(`` in `text`.
fn declared(text: &str, keyword: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let needle = format!("{keyword} ");
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        let before_ok = at == 0 || !rest[..at].ends_with(is_ident);
        let after = &rest[at + needle.len()..];
        if before_ok {
            let name: String = after
                .trim_start_matches('`')
                .chars()
                .take_while(|c| is_ident(*c))
                .collect();
            let tail = after.trim_start_matches('`')[name.len()..].trim_start_matches('`');
            if !name.is_empty() && (tail.starts_with('(') || tail.starts_with('<')) {
                names.insert(name);
            }
        }
        rest = after;
    }
    names
}

/// Method names called as `receiver.name(` for each receiver.
fn calls(text: &str, receivers: &[&str]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for receiver in receivers {
        let needle = format!("{receiver}.");
        let mut rest = text;
        while let Some(at) = rest.find(&needle) {
            let before = &rest[..at];
            let before_ok = at == 0
                || before.ends_with("self.")
                || before.ends_with("this.")
                || !before.ends_with(|c: char| is_ident(c) || c == '.');
            let after = &rest[at + needle.len()..];
            let name: String = after.chars().take_while(|c| is_ident(*c)).collect();
            if before_ok && !name.is_empty() && after[name.len()..].starts_with('(') {
                names.insert(name);
            }
            rest = after;
        }
    }
    names
}

/// Lowercase-initial names imported from the generated Kotlin package
/// (top-level functions; types start with a capital letter).
fn kotlin_function_imports(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("import jp.fieldvault.ffi."))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|name| name.starts_with(|c: char| c.is_ascii_lowercase()))
        .collect()
}

#[test]
fn generated_bindings_cover_the_hand_written_layers() {
    let out = tempfile::tempdir().expect("tempdir");
    let status = Command::new(repo().join("scripts/generate-bindings"))
        .arg("--out")
        .arg(out.path())
        .current_dir(repo())
        .status()
        .expect("run scripts/generate-bindings");
    assert!(status.success(), "scripts/generate-bindings failed");

    let kotlin = std::fs::read_to_string(
        out.path()
            .join("kotlin/jp/fieldvault/ffi/fieldvault_ffi.kt"),
    )
    .expect("generated Kotlin");
    let swift = std::fs::read_to_string(out.path().join("swift/FieldVaultFFI.swift"))
        .expect("generated Swift");
    assert!(out.path().join("swift/FieldVaultFFIFFI.h").is_file());
    assert!(out
        .path()
        .join("swift/FieldVaultFFIFFI.modulemap")
        .is_file());
    let kotlin_funs = declared(&kotlin, "fun");
    let swift_funs = declared(&swift, "func");
    for name in ["insertTaxAssist", "syncOnce", "ingestPhoto", "setLogger"] {
        assert!(kotlin_funs.contains(name), "generated Kotlin lacks {name}");
        assert!(swift_funs.contains(name), "generated Swift lacks {name}");
    }
    assert!(
        !kotlin_funs.contains("forcePanicForTests"),
        "app bindings must not contain test hooks"
    );

    let receivers = ["inner", "engine", "session", "FfiVault", "FieldVaultFFI"];
    for (layer, ext, generated, what) in [
        ("android", "kt", &kotlin_funs, "Kotlin"),
        ("ios", "swift", &swift_funs, "Swift"),
    ] {
        let mut sources = Vec::new();
        files(&repo().join(layer), ext, &mut sources);
        assert!(!sources.is_empty(), "no {what} sources under {layer}/");
        let mut called = BTreeSet::new();
        for path in &sources {
            let text = std::fs::read_to_string(path).expect("read source");
            let mut here = calls(&text, &receivers);
            if ext == "swift" {
                // `FieldVaultFFI.FieldVault.create(` names the type, then the call.
                here.extend(calls(&text, &["FieldVaultFFI.FieldVault"]));
                here.remove("FieldVault");
            } else {
                here.extend(kotlin_function_imports(&text));
            }
            called.extend(here);
        }
        // Methods every generated object has that are not uniffi exports.
        let builtin: BTreeSet<&str> = ["close", "destroy"].into();
        let missing: Vec<_> = called
            .iter()
            .filter(|n| !generated.contains(*n) && !builtin.contains(n.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "the {what} layer in {layer}/ calls functions the generated bindings lack: {missing:?}"
        );
        assert!(
            called.len() >= 25,
            "the {what} layer calls only {} generated functions ({called:?}); is the scan broken?",
            called.len()
        );
        println!(
            "{what}: {} generated functions called, all present",
            called.len()
        );
    }
}

#[test]
fn scanners_find_what_they_should() {
    let kt = "fun `insertTaxAssist`(`document`: TaxAssist): DocumentId\nsuspend fun `syncOnce`(): SyncReport\nfun create(dir: String)";
    assert_eq!(
        declared(kt, "fun"),
        ["create", "insertTaxAssist", "syncOnce"]
            .map(String::from)
            .into()
    );
    let swift = "public func insertTaxAssist(document: TaxAssist) throws -> DocumentId\nopen func syncOnce() async throws";
    assert_eq!(
        declared(swift, "func"),
        ["insertTaxAssist", "syncOnce"].map(String::from).into()
    );
    let layer = "inner.getTaxAssist(id) ; self.inner.list(filter: f); engine.syncOnce(); x.inner2.no(); FfiVault.create(a)";
    assert_eq!(
        calls(layer, &["inner", "engine", "FfiVault"]),
        ["create", "getTaxAssist", "list", "syncOnce"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        kotlin_function_imports(
            "import jp.fieldvault.ffi.setLogger\nimport jp.fieldvault.ffi.SyncState\n"
        ),
        ["setLogger"].map(String::from).into()
    );
}
