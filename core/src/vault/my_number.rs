//! My Number (個人番号) storage.
//!
//! The number never enters a shared (synced) document. It lives in the
//! `secrets` table under its own random key, which is wrapped by the root-
//! derived secrets key; the row is bound to its document by the AAD. It is
//! deleted (key and all) when the form is filed or the document is deleted.
use rusqlite::Connection;

use super::sealed_doc;
use super::Vault;
use crate::crypto::{Aad, DocKey};
use crate::error::{Error, Result};
use crate::model::{AuditAction, DocumentId, DocumentKind, MyNumber, TaxAssist};
use crate::store::rows::{self, RowId};

const T_SECRETS: &[u8] = b"secrets/my_number";

impl Vault {
    fn my_number_name(&self) -> RowId {
        self.keys.lookup(b"secret-name", b"my_number")
    }

    /// Validates (check digit) and stores the resident's My Number for a
    /// tax-help document; returns the masked form for display.
    pub fn set_my_number(&self, id: &DocumentId, input: &str) -> Result<String> {
        let number = MyNumber::parse(input)
            .map_err(|e| Error::Validation(crate::model::ValidationErrors(vec![e])))?;
        let summary = self.summary(id)?;
        self.check_lease(id, summary.kind)?;
        if summary.kind != DocumentKind::TaxAssist {
            return Err(Error::WrongKind {
                id: *id,
                expected: DocumentKind::TaxAssist,
                actual: summary.kind,
            });
        }
        if super::documents::is_filed(summary.status) {
            return Err(Error::InvalidInput(
                "the form is already filed; its My Number has been deleted".into(),
            ));
        }
        {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            let row = sealed_doc::row_id(&self.keys, id);
            let name = self.my_number_name();
            let key = DocKey::generate()?;
            let aad = Aad {
                table: T_SECRETS,
                row: &row,
                seq: 0,
            };
            let wrapped = self.keys.secrets.seal(aad, key.expose())?;
            let sealed = key.sealer().seal(aad, number.expose().as_bytes())?;
            rows::put_secret(&tx, &row, &name, &wrapped, &sealed)?;
            tx.commit()?;
        }
        self.update::<TaxAssist, _>(id, |d| d.has_my_number = true)?;
        Ok(number.masked())
    }

    /// The stored My Number, or `None` if none is stored (or it was deleted on filing).
    pub fn reveal_my_number(&self, id: &DocumentId) -> Result<Option<MyNumber>> {
        self.check_lease_of(id)?;
        let number = self.read_my_number(id)?;
        if number.is_some() {
            self.record_audit(AuditAction::RevealedMyNumber, Some(id), "")?;
        }
        Ok(number)
    }

    fn read_my_number(&self, id: &DocumentId) -> Result<Option<MyNumber>> {
        let conn = self.lock();
        let row = sealed_doc::row_id(&self.keys, id);
        let Some((wrapped, sealed)) = rows::get_secret(&conn, &row, &self.my_number_name())? else {
            return Ok(None);
        };
        let corrupted = || Error::Corrupted(format!("the My Number record of document {id}"));
        let aad = Aad {
            table: T_SECRETS,
            row: &row,
            seq: 0,
        };
        let raw = zeroize::Zeroizing::new(
            self.keys
                .secrets
                .open(aad, &wrapped)
                .ok_or_else(corrupted)?,
        );
        let key = DocKey::from_slice(&raw).ok_or_else(corrupted)?;
        let digits =
            zeroize::Zeroizing::new(key.sealer().open(aad, &sealed).ok_or_else(corrupted)?);
        let text = std::str::from_utf8(&digits).map_err(|_| corrupted())?;
        MyNumber::parse(text).map(Some).map_err(|_| corrupted())
    }

    /// The masked My Number ("•••• •••• 1234") for display, if stored.
    pub fn my_number_masked(&self, id: &DocumentId) -> Result<Option<String>> {
        self.check_lease_of(id)?;
        Ok(self.read_my_number(id)?.map(|n| n.masked()))
    }

    /// Deletes the stored My Number without filing (for example on the resident's request).
    pub fn forget_my_number(&self, id: &DocumentId) -> Result<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let removed = self.forget_my_number_in(&tx, &sealed_doc::row_id(&self.keys, id))?;
        tx.commit()?;
        crate::store::checkpoint_truncate(&conn)?;
        Ok(removed)
    }

    pub(crate) fn forget_my_number_in(&self, conn: &Connection, row: &RowId) -> Result<bool> {
        rows::delete_secret(conn, row, &self.my_number_name())
    }
}
