//! Which points of a batch [`VectorStore::insert_unique`](crate::VectorStore::insert_unique)
//! stores, given the content hashes and external ids already held: the one rule every store
//! applies, whatever enforces it underneath (a lock, or PostgreSQL's unique indexes).

use std::collections::HashMap;

use crate::store::text_of;
use crate::{Inserted, NewPoint, PointId, StoreError, CONTENT_KEY, EXTERNAL_KEY};

/// Content hashes and external ids already stored, with the ids holding them.
#[derive(Debug, Default)]
pub(crate) struct Held {
    pub(crate) content: HashMap<String, PointId>,
    pub(crate) external: HashMap<String, PointId>,
}

/// What becomes of each point of a batch.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Stored: the k-th point to insert.
    New(usize),
    /// Its content is held already.
    Existing(PointId),
    /// Its content is that of an earlier point of the batch (at this position).
    SameAs(usize),
}

/// The points to insert, and what to answer for each point given.
#[derive(Debug)]
pub(crate) struct Plan {
    fresh: Vec<NewPoint>,
    slots: Vec<Slot>,
}

/// The error for an external id already held by another image (`by`).
pub(crate) fn external_conflict(id: &str, by: &str) -> StoreError {
    StoreError::Conflict(format!("the id {id:?} is already used by image {by}"))
}

impl Plan {
    /// Plans a batch: content already held (or earlier in the batch) is not stored again; an
    /// external id held by other content fails the batch.
    pub(crate) fn new(points: Vec<NewPoint>, held: &Held) -> Result<Plan, StoreError> {
        let mut fresh = Vec::new();
        let mut slots = Vec::with_capacity(points.len());
        let mut first_of: HashMap<String, usize> = HashMap::new();
        let mut externals: HashMap<String, Option<String>> = HashMap::new();
        for (i, p) in points.into_iter().enumerate() {
            let content = text_of(&p.metadata, CONTENT_KEY);
            if let Some(c) = &content {
                if let Some(&id) = held.content.get(c) {
                    slots.push(Slot::Existing(id));
                    continue;
                }
                if let Some(&first) = first_of.get(c) {
                    slots.push(Slot::SameAs(first));
                    continue;
                }
            }
            if let Some(e) = text_of(&p.metadata, EXTERNAL_KEY) {
                if let Some(id) = held.external.get(&e) {
                    return Err(external_conflict(&e, &id.to_string()));
                }
                if externals.insert(e.clone(), content.clone()).is_some() {
                    return Err(external_conflict(&e, "another image of the same batch"));
                }
            }
            if let Some(c) = content {
                first_of.insert(c, i);
            }
            slots.push(Slot::New(fresh.len()));
            fresh.push(p);
        }
        Ok(Plan { fresh, slots })
    }

    /// The points to insert; the plan keeps the rest.
    pub(crate) fn take(self) -> (Vec<NewPoint>, Plan) {
        (
            self.fresh,
            Plan {
                fresh: Vec::new(),
                slots: self.slots,
            },
        )
    }

    /// The answer for each point given, from the new ids of the points inserted, in order.
    pub(crate) fn finish(self, ids: &[PointId]) -> Result<Vec<Inserted>, StoreError> {
        let mut out: Vec<Inserted> = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let answer = match *slot {
                Slot::New(k) => Inserted::New(*ids.get(k).ok_or_else(lost)?),
                Slot::Existing(id) => Inserted::Existing(id),
                Slot::SameAs(first) => Inserted::Existing(out.get(first).ok_or_else(lost)?.id()),
            };
            out.push(answer);
        }
        Ok(out)
    }
}

fn lost() -> StoreError {
    StoreError::Invalid("the store returned fewer ids than points inserted".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn point(sha: &str, external: Option<&str>) -> NewPoint {
        let mut metadata = crate::Metadata::new();
        metadata.insert(CONTENT_KEY.into(), json!(sha));
        if let Some(e) = external {
            metadata.insert(EXTERNAL_KEY.into(), json!(e));
        }
        NewPoint {
            vector: vec![1.0],
            metadata,
            thumbnail: None,
        }
    }

    #[test]
    fn held_content_and_repeats_in_the_batch_are_not_stored_again() {
        let mut held = Held::default();
        held.content.insert("a".into(), 7);
        let plan = Plan::new(
            vec![point("a", None), point("b", None), point("b", None)],
            &held,
        )
        .unwrap();
        let (fresh, plan) = plan.take();
        assert_eq!(fresh.len(), 1);
        assert_eq!(
            plan.finish(&[9]).unwrap(),
            vec![
                Inserted::Existing(7),
                Inserted::New(9),
                Inserted::Existing(9)
            ]
        );
    }

    #[test]
    fn an_external_id_of_other_content_fails_the_batch() {
        let mut held = Held::default();
        held.external.insert("sku-1".into(), 3);
        let err = Plan::new(vec![point("b", Some("sku-1"))], &held).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"sku-1\" is already used by image 3"),
            "{err}"
        );
        let err = Plan::new(
            vec![point("b", Some("sku-2")), point("c", Some("sku-2"))],
            &Held::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("same batch"), "{err}");
        // The same content under its own id again is simply already there.
        held.content.insert("b".into(), 3);
        let plan = Plan::new(vec![point("b", Some("sku-1"))], &held).unwrap();
        assert_eq!(plan.finish(&[]).unwrap(), vec![Inserted::Existing(3)]);
    }
}
