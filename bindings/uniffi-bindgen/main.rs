//! `uniffi-bindgen generate --library target/debug/libfieldvault_ffi.so --language kotlin --out-dir ...`
fn main() {
    uniffi::uniffi_bindgen_main()
}
