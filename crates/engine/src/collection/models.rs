//! Replicas of a collection's model, lent out one job at a time.
//!
//! A libtorch tensor may move between threads but not be shared by them (`tch::Tensor` is `Send`,
//! not `Sync`), so one [`SimilarityModel`] serves one job at a time. A [`ModelPool`] keeps up to
//! `capacity` replicas, loads them lazily (from the same files, checked by fingerprint), and lends
//! one to each job, waiting while all are busy. It makes a [`super::Collection`] `Sync`: a server
//! shares one collection between its workers, and a long explanation holds only its own replica.

use std::sync::{Condvar, Mutex};

use lookalike_core::{Preprocess, SimilarityModel};

use super::{CollectionError, ModelRef};

/// What every replica agrees on, known without borrowing one.
#[derive(Debug, Clone)]
pub struct ModelFacts {
    /// The decision threshold on `d`.
    pub threshold: f64,
    /// Backbone units (the valid explanation layers are `1..=units`).
    pub units: usize,
    /// How images are resized and cropped for it.
    pub preprocess: Preprocess,
    /// The model, in words.
    pub describe: String,
    /// Logit → similarity (the calibration, if any).
    pub scorer: lookalike_core::siamese::Scorer,
    /// The surprise of the model's validation images (the transfer gate's reference).
    pub familiarity: Option<lookalike_core::siamese::FamiliarityProfile>,
}

struct Slots {
    idle: Vec<SimilarityModel>,
    /// Replicas in existence: idle, lent, or being loaded.
    made: usize,
}

/// Up to `capacity` replicas of one model.
pub struct ModelPool {
    source: ModelRef,
    device: tch::Device,
    capacity: usize,
    facts: ModelFacts,
    slots: Mutex<Slots>,
    returned: Condvar,
}

impl std::fmt::Debug for ModelPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelPool")
            .field("model", &self.facts.describe)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl ModelPool {
    /// A pool that starts with `first` (loaded from `source`) and grows to `capacity` replicas.
    pub fn new(first: SimilarityModel, source: ModelRef, device: tch::Device) -> Self {
        let facts = ModelFacts {
            threshold: first.threshold(),
            units: first.backbone().units(),
            preprocess: first.config().map(|c| c.preprocess()).unwrap_or_default(),
            describe: first.describe(),
            scorer: first.scorer(),
            familiarity: first.familiarity().copied(),
        };
        ModelPool {
            source,
            device,
            capacity: 1,
            facts,
            slots: Mutex::new(Slots {
                idle: vec![first],
                made: 1,
            }),
            returned: Condvar::new(),
        }
    }

    /// Lets the pool hold up to `capacity` replicas (at least one).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
    }

    /// What every replica agrees on.
    pub fn facts(&self) -> &ModelFacts {
        &self.facts
    }

    /// Runs `job` with a replica, waiting for one if all are busy, loading one if the pool may
    /// grow. The replica goes back to the pool afterwards, even if `job` panics.
    pub fn with<R>(&self, job: impl FnOnce(&SimilarityModel) -> R) -> Result<R, CollectionError> {
        let lent = self.borrow()?;
        let result = job(lent.model.as_ref().expect("a lent replica is present"));
        Ok(result)
    }

    fn borrow(&self) -> Result<Lent<'_>, CollectionError> {
        let mut slots = self.lock();
        loop {
            if let Some(model) = slots.idle.pop() {
                return Ok(Lent {
                    pool: self,
                    model: Some(model),
                });
            }
            if slots.made < self.capacity {
                slots.made += 1;
                drop(slots);
                return match self.source.load(self.device) {
                    Ok(model) => Ok(Lent {
                        pool: self,
                        model: Some(model),
                    }),
                    Err(e) => {
                        self.lock().made -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            slots = self
                .returned
                .wait(slots)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        // A panic while holding the lock cannot leave `Slots` inconsistent (each change is one
        // push, pop or counter step), so a poisoned lock is still usable.
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A replica on loan; returns itself on drop.
struct Lent<'a> {
    pool: &'a ModelPool,
    model: Option<SimilarityModel>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(model) = self.model.take() {
            self.pool.lock().idle.push(model);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn tiny() -> (SimilarityModel, ModelRef) {
        let source = ModelRef::zero_shot(lookalike_core::BackboneKind::Tiny, None, 7).unwrap();
        (source.load(tch::Device::Cpu).unwrap(), source)
    }

    #[test]
    fn jobs_never_share_a_replica_and_the_pool_stays_within_capacity() {
        let (first, source) = tiny();
        let mut pool = ModelPool::new(first, source, tch::Device::Cpu);
        pool.set_capacity(2);
        let pool = Arc::new(pool);
        let busy = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (pool, busy, most) = (pool.clone(), busy.clone(), most.clone());
                std::thread::spawn(move || {
                    pool.with(|_| {
                        let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        busy.fetch_sub(1, Ordering::SeqCst);
                    })
                    .unwrap()
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert!(pool.lock().made <= 2);
    }
}
