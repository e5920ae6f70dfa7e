//! Reconciling without rewriting unchanged fields.
//!
//! autosurgeon reconciles a whole struct and calls `put` for every scalar, and
//! Automerge records a put even when the value does not change. Two devices
//! editing *different* fields of one form offline would then each also
//! "write" the other's field with its old value, and on merge one device's
//! real edit could lose to the other's stale rewrite. This wrapper skips a
//! put whose value equals the field's current, unconflicted value, so a
//! change only contains what the user actually changed.
use std::ops::RangeBounds;

use automerge::{self as am, AutomergeError, ObjId, ReadDoc as _, Value};
use autosurgeon::{Doc, ReadDoc};

pub(crate) struct MinimalPuts<'a>(pub &'a mut am::AutoCommit);

/// Reconciles `value` into `doc`, recording only the fields that change (see
/// the module docs). Use this rather than `autosurgeon::reconcile` for any
/// document that is edited concurrently.
pub fn reconcile_changes<T: autosurgeon::Reconcile>(
    doc: &mut am::AutoCommit,
    value: &T,
) -> Result<(), autosurgeon::ReconcileError> {
    autosurgeon::reconcile(&mut MinimalPuts(doc), value)
}

impl ReadDoc for MinimalPuts<'_> {
    type Parents<'b>
        = <am::AutoCommit as ReadDoc>::Parents<'b>
    where
        Self: 'b;

    fn get_heads(&self) -> Vec<am::ChangeHash> {
        ReadDoc::get_heads(&*self.0)
    }

    fn get<P: Into<am::Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        ReadDoc::get(&*self.0, obj, prop)
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<am::ObjType> {
        ReadDoc::object_type(&*self.0, obj)
    }

    fn map_range<'b, O, R>(&'b self, obj: O, range: R) -> am::iter::MapRange<'b>
    where
        R: RangeBounds<String> + 'b,
        O: AsRef<ObjId>,
        R: RangeBounds<String>,
    {
        ReadDoc::map_range(&*self.0, obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> am::iter::ListRange<'_> {
        ReadDoc::list_range(&*self.0, obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        ReadDoc::length(&*self.0, obj)
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        ReadDoc::text(&*self.0, obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        ReadDoc::parents(&*self.0, obj)
    }

    fn is_empty(&self) -> bool {
        ReadDoc::is_empty(&*self.0)
    }
}

impl Doc for MinimalPuts<'_> {
    fn put<O: AsRef<ObjId>, P: Into<am::Prop>, V: Into<am::ScalarValue>>(
        &mut self,
        obj: O,
        prop: P,
        value: V,
    ) -> Result<(), AutomergeError> {
        let (prop, value) = (prop.into(), value.into());
        let current = self.0.get_all(obj.as_ref(), prop.clone())?;
        if let [(Value::Scalar(existing), _)] = current.as_slice() {
            if existing.as_ref() == &value {
                return Ok(());
            }
        }
        Doc::put(self.0, obj, prop, value)
    }

    fn put_object<O: AsRef<ObjId>, P: Into<am::Prop>>(
        &mut self,
        obj: O,
        prop: P,
        value: am::ObjType,
    ) -> Result<ObjId, AutomergeError> {
        Doc::put_object(self.0, obj, prop, value)
    }

    fn insert<O: AsRef<ObjId>, V: Into<am::ScalarValue>>(
        &mut self,
        obj: O,
        index: usize,
        value: V,
    ) -> Result<(), AutomergeError> {
        Doc::insert(self.0, obj, index, value)
    }

    fn insert_object<O: AsRef<ObjId>>(
        &mut self,
        obj: O,
        index: usize,
        value: am::ObjType,
    ) -> Result<ObjId, AutomergeError> {
        Doc::insert_object(self.0, obj, index, value)
    }

    fn increment<O: AsRef<ObjId>, P: Into<am::Prop>>(
        &mut self,
        obj: O,
        prop: P,
        value: i64,
    ) -> Result<(), AutomergeError> {
        Doc::increment(self.0, obj, prop, value)
    }

    fn delete<O: AsRef<ObjId>, P: Into<am::Prop>>(
        &mut self,
        obj: O,
        prop: P,
    ) -> Result<(), AutomergeError> {
        Doc::delete(self.0, obj, prop)
    }

    fn splice_text<O: AsRef<ObjId>>(
        &mut self,
        obj: O,
        pos: usize,
        del: isize,
        text: &str,
    ) -> Result<(), AutomergeError> {
        Doc::splice_text(self.0, obj, pos, del, text)
    }

    fn update_text<O: AsRef<ObjId>>(&mut self, obj: O, text: &str) -> Result<(), AutomergeError> {
        Doc::update_text(self.0, obj, text)
    }

    fn batch_create<O: AsRef<ObjId>, P: Into<am::Prop>>(
        &mut self,
        obj: O,
        prop: P,
        value: am::hydrate::Value,
        insert: bool,
    ) -> Result<(), AutomergeError> {
        Doc::batch_create(self.0, obj, prop, value, insert)
    }

    fn init_root_from_hydrate(&mut self, value: &am::hydrate::Map) -> Result<(), AutomergeError> {
        Doc::init_root_from_hydrate(self.0, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BearSighting, Count};

    fn fork_pair() -> (am::AutoCommit, am::AutoCommit) {
        let env = crate::model::Envelope::new(
            crate::model::DocumentKind::BearSighting,
            1,
            crate::sample_data::MUNICIPALITY,
            "s",
            "d",
            crate::model::Timestamp::now(),
        );
        let mut a = am::AutoCommit::new();
        autosurgeon::reconcile(&mut a, crate::sample_data::bear_sighting(env)).expect("reconcile");
        a.commit();
        let b = a.fork().with_actor(am::ActorId::random());
        (a, b)
    }

    #[test]
    fn concurrent_edits_of_different_fields_both_survive() {
        let (mut a, mut b) = fork_pair();
        let mut da: BearSighting = autosurgeon::hydrate(&a).expect("hydrate");
        da.behaviour = "A".into();
        autosurgeon::reconcile(&mut MinimalPuts(&mut a), &da).expect("reconcile a");
        let mut db: BearSighting = autosurgeon::hydrate(&b).expect("hydrate");
        db.count = Count::Known(7);
        db.cubs = Count::Known(6);
        autosurgeon::reconcile(&mut MinimalPuts(&mut b), &db).expect("reconcile b");
        a.merge(&mut b).expect("merge");
        let merged: BearSighting = autosurgeon::hydrate(&a).expect("hydrate");
        assert_eq!(merged.behaviour, "A");
        assert_eq!(merged.count, Count::Known(7));
    }

    #[test]
    fn an_unchanged_document_produces_no_operations() {
        let (mut a, _) = fork_pair();
        let heads = a.get_heads();
        let same: BearSighting = autosurgeon::hydrate(&a).expect("hydrate");
        autosurgeon::reconcile(&mut MinimalPuts(&mut a), &same).expect("reconcile");
        a.commit();
        assert_eq!(a.get_heads(), heads, "no change recorded");
    }
}
