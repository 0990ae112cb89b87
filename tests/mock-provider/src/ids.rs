//! Serial numbers for response, tool-call and request ids: unique within a process and
//! deterministic for a given request order, unlike the random ids real providers mint.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(1);

pub fn next_serial() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}
