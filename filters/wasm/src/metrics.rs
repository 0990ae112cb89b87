//! Applies `tollgate_core::metrics` updates to Envoy stats.
//!
//! Envoy hands out a new metric id on every `define_metric`, even for a name it knows,
//! so each VM defines a name once and keeps its id here (a VM runs on one thread).

use std::cell::RefCell;
use std::collections::HashMap;

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use tollgate_core::metrics::{Kind, Sample};

thread_local! {
    static IDS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
}

/// Adds every sample to its stat; a stat Envoy refuses is logged and skipped.
pub fn record(samples: Vec<Sample>) {
    IDS.with(|ids| {
        let mut ids = ids.borrow_mut();
        for sample in samples {
            let kind = sample.kind;
            let id = match ids.get(&sample.name) {
                Some(id) => *id,
                None => match hostcalls::define_metric(metric_type(kind), &sample.name) {
                    Ok(id) => *ids.entry(sample.name).or_insert(id),
                    Err(status) => {
                        log::warn!("tollgate: metric not defined: {status:?}");
                        continue;
                    }
                },
            };
            let updated = match kind {
                Kind::Counter => {
                    let by = i64::try_from(sample.value).unwrap_or(i64::MAX);
                    hostcalls::increment_metric(id, by)
                }
                Kind::Histogram => hostcalls::record_metric(id, sample.value),
            };
            if let Err(status) = updated {
                log::warn!("tollgate: metric not updated: {status:?}");
            }
        }
    });
}

fn metric_type(kind: Kind) -> MetricType {
    match kind {
        Kind::Counter => MetricType::Counter,
        Kind::Histogram => MetricType::Histogram,
    }
}
