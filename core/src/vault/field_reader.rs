//! A read-only view of an Automerge document for hydrating typed structs.
//!
//! autosurgeon reads a struct one field at a time (`get(obj, "field")`), and
//! a vector one index at a time (`get(list, i)`); in Automerge each of those
//! seeks through the object's operations again. Hydrating a damage report
//! that way took most of the time of opening it, and most of a pulled
//! document's merge (docs/performance.md, session 5). This view reads each
//! map or list once (`map_range` / `list_range`, one pass) the first time it
//! is asked about it and answers every later lookup from that copy.
//!
//! A whole-document hydration ([`hydrate_fields`]) goes further and reads
//! every object in one walk of the document (`ReadDoc::iter`) before the
//! first lookup: one seek per document instead of one per map and list,
//! which were most of the reader's time in a merge of 1,000 pulled documents
//! (docs/performance.md, "Session 9").
//!
//! It answers exactly what the document would: the same winning value of a
//! conflicted key, the same object ids. Everything else is passed through.
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::RangeBounds;

use automerge::{self as am, AutoCommit, AutomergeError, ObjId, ObjType, Prop, Value};
use autosurgeon::ReadDoc;

type Entry = (Value<'static>, ObjId);

/// Hydrates `T` from `doc` through a `FieldReader`: the same result as
/// `autosurgeon::hydrate(doc)`, with one pass per object instead of one seek
/// per field.
pub fn hydrate_fields<T: autosurgeon::Hydrate>(
    doc: &AutoCommit,
) -> Result<T, autosurgeon::HydrateError> {
    autosurgeon::hydrate(&FieldReader::whole(doc))
}

/// The envelope of a document of any kind, through a [`FieldReader`]: what
/// a merge reads first to learn a new document's id and kind.
pub(crate) fn hydrate_envelope(
    doc: &AutoCommit,
) -> Result<crate::model::Envelope, autosurgeon::HydrateError> {
    autosurgeon::hydrate_prop(&FieldReader::new(doc), automerge::ROOT, "envelope")
}

/// One object's current entries, read in one pass.
enum Object {
    Map(HashMap<String, Entry>),
    List(Vec<Entry>),
    /// Text or anything else: lookups go to the document.
    Other,
}

pub(crate) struct FieldReader<'d> {
    doc: &'d AutoCommit,
    objects: RefCell<HashMap<ObjId, Object>>,
}

impl<'d> FieldReader<'d> {
    pub fn new(doc: &'d AutoCommit) -> Self {
        Self {
            doc,
            objects: RefCell::new(HashMap::new()),
        }
    }

    /// A reader holding every map and list of `doc`, read in one walk.
    /// Objects the walk does not show (empty ones) are read on demand.
    pub fn whole(doc: &'d AutoCommit) -> Self {
        let mut objects: HashMap<ObjId, Object> = HashMap::new();
        for item in am::ReadDoc::iter(doc) {
            let obj = ObjId::clone(&item.obj);
            match item.item {
                am::iter::DocItem::Map(entry) => {
                    let id = entry.id();
                    let value = (entry.value.into_value(), id);
                    if let Object::Map(entries) = objects
                        .entry(obj)
                        .or_insert_with(|| Object::Map(HashMap::new()))
                    {
                        entries.insert(entry.key.into_owned(), value);
                    }
                }
                am::iter::DocItem::List(entry) => {
                    let id = entry.id();
                    let (index, value) = (entry.index, (entry.value.into_value(), id));
                    let object = objects
                        .entry(obj)
                        .or_insert_with(|| Object::List(Vec::new()));
                    match object {
                        Object::List(entries) if entries.len() == index => entries.push(value),
                        // Not in index order (never seen): ask the document.
                        _ => *object = Object::Other,
                    }
                }
                am::iter::DocItem::Text(_) => {
                    objects.insert(obj, Object::Other);
                }
            }
        }
        Self {
            doc,
            objects: RefCell::new(objects),
        }
    }

    fn read_object(&self, obj: &ObjId) -> Object {
        match ReadDoc::object_type(self.doc, obj) {
            Some(ObjType::Map | ObjType::Table) => Object::Map(
                am::ReadDoc::map_range(self.doc, obj, ..)
                    .map(|item| {
                        let id = item.id();
                        (item.key.into_owned(), (item.value.into_value(), id))
                    })
                    .collect(),
            ),
            Some(ObjType::List) => Object::List(
                am::ReadDoc::list_range(self.doc, obj, ..)
                    .map(|item| {
                        let id = item.id();
                        (item.value.into_value(), id)
                    })
                    .collect(),
            ),
            _ => Object::Other,
        }
    }
}

impl ReadDoc for FieldReader<'_> {
    type Parents<'a>
        = am::Parents<'a>
    where
        Self: 'a;

    fn get_heads(&self) -> Vec<am::ChangeHash> {
        ReadDoc::get_heads(self.doc)
    }

    fn get<P: Into<Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        let prop = prop.into();
        let mut objects = self.objects.borrow_mut();
        if !objects.contains_key(obj) {
            let read = self.read_object(obj);
            objects.insert(obj.clone(), read);
        }
        let found = match (objects.get(obj), &prop) {
            (Some(Object::Map(entries)), Prop::Map(key)) => entries.get(key.as_str()),
            (Some(Object::List(entries)), Prop::Seq(index)) => entries.get(*index),
            _ => {
                drop(objects);
                return ReadDoc::get(self.doc, obj, prop);
            }
        };
        Ok(found.cloned())
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        ReadDoc::object_type(self.doc, obj)
    }

    fn map_range<'a, O, R>(&'a self, obj: O, range: R) -> am::iter::MapRange<'a>
    where
        R: RangeBounds<String> + 'a,
        O: AsRef<ObjId>,
        R: RangeBounds<String>,
    {
        ReadDoc::map_range(self.doc, obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> am::iter::ListRange<'_> {
        ReadDoc::list_range(self.doc, obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        ReadDoc::length(self.doc, obj)
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        ReadDoc::text(self.doc, obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        ReadDoc::parents(self.doc, obj)
    }

    fn is_empty(&self) -> bool {
        ReadDoc::is_empty(self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BearSighting, DamageReport, DocumentKind, Envelope, TaxAssist, Timestamp};
    use crate::sample_data as s;

    fn envelope(kind: DocumentKind) -> Envelope {
        Envelope::new(kind, 1, "011002", "staff-1", "device-1", Timestamp::now())
    }

    fn doc_of<T: autosurgeon::Reconcile>(value: &T, actor: u8) -> AutoCommit {
        let mut doc = AutoCommit::new().with_actor(am::ActorId::from([actor; 16]));
        autosurgeon::reconcile(&mut doc, value).expect("reconcile");
        doc.commit();
        doc
    }

    fn through_reader<T: autosurgeon::Hydrate>(doc: &AutoCommit) -> T {
        hydrate_fields(doc).expect("hydrate through the reader")
    }

    /// Reading through the view gives back exactly what was stored, for each kind.
    #[test]
    fn hydrates_exactly_what_the_document_holds() {
        let tax = s::tax_assist(envelope(DocumentKind::TaxAssist));
        assert_eq!(through_reader::<TaxAssist>(&doc_of(&tax, 1)), tax);

        let bear = s::bear_sighting(envelope(DocumentKind::BearSighting));
        assert_eq!(through_reader::<BearSighting>(&doc_of(&bear, 1)), bear);

        let mut damage = s::damage_report(envelope(DocumentKind::DamageReport));
        damage
            .sites
            .push(s::site_record("札幌市中央区北1条西2丁目"));
        assert_eq!(through_reader::<DamageReport>(&doc_of(&damage, 1)), damage);
        // Empty lists do not show in the one-pass walk; they are read on
        // demand.
        let mut empty = damage.clone();
        empty.sites.clear();
        assert_eq!(through_reader::<DamageReport>(&doc_of(&empty, 1)), empty);
        // The envelope alone, as a merge reads it first.
        assert_eq!(
            hydrate_envelope(&doc_of(&damage, 1)).expect("envelope"),
            damage.envelope
        );
        assert!(hydrate_envelope(&AutoCommit::new()).is_err(), "no envelope");
    }

    /// A field set concurrently on two replicas: the view picks the same
    /// winner as the document, and list appends from both sides are there.
    #[test]
    fn conflicts_resolve_as_in_the_document() {
        let damage = s::damage_report(envelope(DocumentKind::DamageReport));
        let mut a = doc_of(&damage, 1);
        let mut b = a.fork().with_actor(am::ActorId::from([2; 16]));
        for (doc, name, site) in [(&mut a, "from a", "site a"), (&mut b, "from b", "site b")] {
            let mut edited: DamageReport = autosurgeon::hydrate(&*doc).expect("hydrate");
            edited.summary.disaster_name = name.into();
            edited.sites.push(s::site_record(site));
            autosurgeon::reconcile(doc, &edited).expect("reconcile");
            doc.commit();
        }
        a.merge(&mut b).expect("merge");
        let direct: DamageReport = autosurgeon::hydrate(&a).expect("direct");
        let cached: DamageReport = through_reader(&a);
        assert_eq!(direct, cached);
        assert_eq!(cached.sites.len(), damage.sites.len() + 2);
        assert_ne!(cached.summary.disaster_name, damage.summary.disaster_name);
    }
}
