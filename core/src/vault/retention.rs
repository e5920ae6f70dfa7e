//! Retention: how long documents stay on the device.
//!
//! Default: tax-help forms are purged (crypto-shredded) as soon as the relay
//! has acknowledged them; bear and damage reports stay until deleted.
use std::collections::HashMap;

use super::sealed_doc;
use super::Vault;
use crate::error::Result;
use crate::model::{DocumentId, DocumentKind};
use crate::store::rows;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRule {
    /// Purge once the cloud has acknowledged the document.
    pub purge_when_acknowledged: bool,
    /// Wait this long after the acknowledgement before purging.
    pub grace: chrono::Duration,
}

impl RetentionRule {
    pub fn keep() -> Self {
        Self {
            purge_when_acknowledged: false,
            grace: chrono::Duration::zero(),
        }
    }

    pub fn purge_after_ack(grace: chrono::Duration) -> Self {
        Self {
            purge_when_acknowledged: true,
            grace,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRules(pub HashMap<DocumentKind, RetentionRule>);

impl Default for RetentionRules {
    fn default() -> Self {
        Self(HashMap::from([
            (
                DocumentKind::TaxAssist,
                RetentionRule::purge_after_ack(chrono::Duration::zero()),
            ),
            (DocumentKind::BearSighting, RetentionRule::keep()),
            (DocumentKind::DamageReport, RetentionRule::keep()),
        ]))
    }
}

impl RetentionRules {
    pub fn rule(&self, kind: DocumentKind) -> RetentionRule {
        self.0
            .get(&kind)
            .cloned()
            .unwrap_or_else(RetentionRule::keep)
    }
}

impl Vault {
    /// Records that the relay acknowledged the document (local state only).
    pub fn mark_acknowledged(&self, id: &DocumentId) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        self.mark_acknowledged_in(&tx, id)?;
        tx.commit()?;
        Ok(())
    }

    /// [`Self::mark_acknowledged`] inside the caller's transaction.
    pub(crate) fn mark_acknowledged_in(
        &self,
        tx: &rusqlite::Connection,
        id: &DocumentId,
    ) -> Result<()> {
        let (row, key, mut header) = sealed_doc::load_header(tx, &self.keys, &self.key_cache, id)?;
        header.acknowledged_at = Some(self.options.clock.now());
        rows::update_header(tx, &row, &sealed_doc::seal_header(&key, &row, &header)?)?;
        Ok(())
    }

    /// Purges every document whose retention rule says it is due and that
    /// has nothing left to upload; returns their ids.
    pub fn apply_retention(&self) -> Result<Vec<DocumentId>> {
        let now = self.options.clock.now();
        let due: Vec<DocumentId> = self
            .list(&Default::default())?
            .documents
            .into_iter()
            .filter(|d| {
                let rule = self.options.retention.rule(d.kind);
                rule.purge_when_acknowledged
                    && d.acknowledged_at
                        .as_ref()
                        .is_some_and(|at| now.0 >= at.0 + rule.grace)
            })
            .map(|d| d.id)
            .collect();
        let mut purged = Vec::with_capacity(due.len());
        for id in due {
            // Checked in the deleting transaction: an edit or a photo
            // queued meanwhile keeps the document.
            if self.delete_if(&id, crate::model::AuditAction::Purged, |tx, row| {
                Ok(!still_uploading(tx, row)?)
            })? {
                purged.push(id);
            }
        }
        Ok(purged)
    }
}

/// Whether something of the document in `row` still waits to reach the
/// relay: a photo upload or a queued change. The acknowledgement covers the
/// change sets sent so far; purging now would lose the rest everywhere.
fn still_uploading(conn: &rusqlite::Connection, row: &rows::RowId) -> Result<bool> {
    let pending: i64 = conn
        .prepare_cached(
            "SELECT (SELECT count(*) FROM photo_transfers WHERE direction = ?1 AND doc = ?2)
                  + (SELECT count(*) FROM outbox WHERE doc = ?2)",
        )?
        .query_row(
            rusqlite::params![crate::vault::photo_sync::Direction::Upload as i64, &row[..]],
            |r| r.get(0),
        )?;
    Ok(pending > 0)
}
