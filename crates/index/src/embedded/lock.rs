//! Opening sled's database, and telling a lock held by another process from one that sled's own
//! background worker has not let go of yet.
//!
//! sled takes an exclusive advisory lock on its file. After a `Db` is dropped, its I/O worker
//! may hold the file for a few milliseconds more (sled#1234, sled#1289), so an open that follows
//! a close in the same process can fail although nothing else uses the store. [`open_db`]
//! therefore retries a refused lock for [`LOCK_WAIT`] before it reports the store as busy; a
//! store that another process holds open still fails, after that short wait, with a message
//! that says so.

use std::path::Path;
use std::time::{Duration, Instant};

use super::sled_err;
use crate::StoreError;

/// How long a refused lock is retried before the store is reported as open elsewhere.
pub(super) const LOCK_WAIT: Duration = Duration::from_millis(1500);

/// Opens (or creates) the sled database of the store in `dir`.
pub(super) fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    // sled caches 1 GiB by default; the graph already holds every vector in memory, so the
    // cache only needs the hot metadata and the vectors that re-ranking reads.
    let config = sled::Config::new()
        .path(dir.join("db"))
        .cache_capacity(128 << 20);
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(e) if is_lock_refused(&e) => {
                if Instant::now() >= deadline {
                    return Err(StoreError::Sled {
                        path: dir.to_path_buf(),
                        message: "it is open in another process (sled holds a lock on it); \
                                  wait for that command to finish (if it is `lookalike serve`, \
                                  change the collection through its API)"
                            .into(),
                    });
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => return Err(sled_err(dir, e)),
        }
    }
}

fn is_lock_refused(e: &sled::Error) -> bool {
    e.to_string().contains("could not acquire lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_and_reopening_at_once_never_reports_the_store_busy() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..50u32 {
            let db = open_db(dir.path()).unwrap();
            db.insert("n", &i.to_le_bytes()).unwrap();
            db.flush().unwrap();
        }
        let db = open_db(dir.path()).unwrap();
        assert_eq!(db.get("n").unwrap().unwrap().as_ref(), 49u32.to_le_bytes());
    }

    #[test]
    fn a_store_held_open_is_reported_busy_after_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let _held = open_db(dir.path()).unwrap();
        let start = Instant::now();
        let err = open_db(dir.path()).unwrap_err().to_string();
        assert!(err.contains("open in another process"), "{err}");
        assert!(start.elapsed() >= LOCK_WAIT, "{:?}", start.elapsed());
    }
}
