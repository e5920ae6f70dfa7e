//! Fixtures for the vault's in-crate unit tests.
use tempfile::TempDir;

use super::Vault;
use crate::model::{BearSighting, DocumentId};
use crate::{sample_data, Argon2Params, PassphraseKeyProvider, VaultOptions};

/// A new vault in a temporary directory (kept alive by the returned guard),
/// with fast test-only Argon2 parameters.
pub(crate) fn vault(staff_id: &str) -> (TempDir, Vault) {
    let tmp = tempfile::tempdir().expect("tmp");
    let keys = PassphraseKeyProvider::with_params("pw", Argon2Params::insecure_for_tests());
    let v = Vault::create(tmp.path(), &keys, VaultOptions::new(staff_id)).expect("create");
    (tmp, v)
}

/// Inserts the sample bear sighting.
pub(crate) fn bear(v: &Vault) -> DocumentId {
    v.insert(sample_data::bear_sighting(
        v.new_envelope::<BearSighting>("011002"),
    ))
    .expect("insert")
}
