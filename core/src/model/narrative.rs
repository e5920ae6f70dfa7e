//! Free text that merges character by character (状況説明, 備考, 対応内容).
//!
//! A plain `String` field is a single Automerge register: if two staff edit
//! the same note offline, one edit silently wins. [`Narrative`] is stored as
//! an Automerge *Text* object instead. On reconcile the new value is diffed
//! against the text already in the document and only the changed characters
//! are spliced in, so concurrent edits to different parts of a note on two
//! devices both survive the merge.
//!
//! Hydration also accepts a plain string scalar (written by a simpler client
//! or an older schema); the next reconcile converts it to a Text object.
use std::fmt;

use autosurgeon::reconcile::{NoKey, TextReconciler};
use autosurgeon::{Hydrate, HydrateError, ReadDoc, Reconcile, Reconciler};
use serde::{Deserialize, Serialize};

/// Free text stored as a mergeable Automerge Text object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Narrative(pub String);

impl Narrative {
    /// Wraps a string.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `true` if the text is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<&str> for Narrative {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl From<String> for Narrative {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl AsRef<str> for Narrative {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Narrative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Reconcile for Narrative {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        let mut t = reconciler.text()?;
        t.update(&self.0)
    }
}

impl Hydrate for Narrative {
    fn hydrate_text<D: ReadDoc>(doc: &D, obj: &automerge::ObjId) -> Result<Self, HydrateError> {
        Ok(Self(doc.text(obj)?))
    }

    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        Ok(Self(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{transaction::Transactable, ActorId, AutoCommit, ObjType, ReadDoc, ROOT};
    use autosurgeon::{hydrate_prop, reconcile_prop};

    #[test]
    fn stored_as_text_object() {
        let mut doc = AutoCommit::new();
        reconcile_prop(&mut doc, ROOT, "n", Narrative::from("クマが道路を横断")).unwrap();
        let (value, _) = doc.get(ROOT, "n").unwrap().unwrap();
        assert!(matches!(value, automerge::Value::Object(ObjType::Text)));
        let back: Narrative = hydrate_prop(&doc, &ROOT, "n").unwrap();
        assert_eq!(back.as_str(), "クマが道路を横断");
    }

    #[test]
    fn accepts_plain_string_scalar() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "n", "古い形式").unwrap();
        let back: Narrative = hydrate_prop(&doc, &ROOT, "n").unwrap();
        assert_eq!(back, Narrative::from("古い形式"));
        // Reconciling upgrades it to a Text object.
        reconcile_prop(&mut doc, ROOT, "n", &back).unwrap();
        let (value, _) = doc.get(ROOT, "n").unwrap().unwrap();
        assert!(matches!(value, automerge::Value::Object(ObjType::Text)));
    }

    #[test]
    fn concurrent_edits_to_different_parts_both_survive() {
        let mut a = AutoCommit::new();
        let base = Narrative::from("午前7時頃、畑でクマを目撃。住民に注意喚起。");
        reconcile_prop(&mut a, ROOT, "n", &base).unwrap();
        let mut b = a.fork().with_actor(ActorId::random());

        // Replica A edits the beginning.
        let mut na: Narrative = hydrate_prop(&a, &ROOT, "n").unwrap();
        na.0 = na.0.replace("午前7時頃", "午前6時50分頃");
        reconcile_prop(&mut a, ROOT, "n", &na).unwrap();

        // Replica B, concurrently, appends at the end.
        let mut nb: Narrative = hydrate_prop(&b, &ROOT, "n").unwrap();
        nb.0.push_str("防災無線で放送済み。");
        reconcile_prop(&mut b, ROOT, "n", &nb).unwrap();

        a.merge(&mut b).unwrap();
        let merged: Narrative = hydrate_prop(&a, &ROOT, "n").unwrap();
        assert_eq!(
            merged.as_str(),
            "午前6時50分頃、畑でクマを目撃。住民に注意喚起。防災無線で放送済み。"
        );
    }

    #[test]
    fn unchanged_reconcile_makes_no_change() {
        let mut doc = AutoCommit::new();
        let n = Narrative::from("同じ");
        reconcile_prop(&mut doc, ROOT, "n", &n).unwrap();
        doc.commit();
        let heads = doc.get_heads();
        reconcile_prop(&mut doc, ROOT, "n", &n).unwrap();
        doc.commit();
        assert_eq!(doc.get_heads(), heads);
    }

    #[test]
    fn serde_is_transparent() {
        let n = Narrative::from("メモ");
        assert_eq!(serde_json::to_string(&n).unwrap(), r#""メモ""#);
        assert_eq!(serde_json::from_str::<Narrative>(r#""メモ""#).unwrap(), n);
    }
}
