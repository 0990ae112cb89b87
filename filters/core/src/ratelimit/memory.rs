//! An in-memory [`SharedStore`] for tests: Envoy's shared-data semantics without Envoy.

use std::cell::RefCell;
use std::collections::HashMap;

use super::store::{Conflict, SharedStore};

/// Shared data as Envoy keeps it: a version per key, bumped on every write; a write with a
/// stale version fails; a write to an absent key always succeeds.
#[derive(Default)]
pub struct Memory {
    data: RefCell<HashMap<String, (Vec<u8>, u32)>>,
    next_version: RefCell<u32>,
}

impl SharedStore for Memory {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.data.borrow().get(key).cloned()
    }

    fn set(&self, key: &str, value: &[u8], version: Option<u32>) -> Result<(), Conflict> {
        let mut data = self.data.borrow_mut();
        if let (Some(expected), Some((_, current))) = (version, data.get(key)) {
            if expected != *current {
                return Err(Conflict);
            }
        }
        let mut next = self.next_version.borrow_mut();
        *next += 1;
        data.insert(key.to_owned(), (value.to_vec(), *next));
        Ok(())
    }
}
