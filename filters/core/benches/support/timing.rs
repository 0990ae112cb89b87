//! Timing shared by the micro-benchmarks: plain `std::time::Instant`, the median of several
//! timed batches, each long enough to dwarf the clock's resolution.

use std::time::{Duration, Instant};

/// Timed batches per figure; the median is reported.
pub const BATCHES: usize = 7;
/// Minimum duration of one batch.
pub const BATCH_TIME: Duration = Duration::from_millis(100);

/// Median microseconds per call of `op`.
pub fn per_op<T>(mut op: impl FnMut() -> T) -> f64 {
    // Calibrate: double the batch until it takes a tenth of BATCH_TIME.
    let mut iterations = 1u32;
    let once = loop {
        let start = Instant::now();
        for _ in 0..iterations {
            op();
        }
        let elapsed = start.elapsed();
        if elapsed >= BATCH_TIME / 10 || iterations >= 1 << 24 {
            break elapsed.as_secs_f64() / f64::from(iterations);
        }
        iterations *= 2;
    };
    let iterations = ((BATCH_TIME.as_secs_f64() / once).ceil() as u32).max(1);
    let mut samples: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                op();
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[BATCHES / 2]
}
