use super::*;

const LIMITS: OutboxLimits = OutboxLimits {
    batch_records: 3,
    batch_bytes: 1000,
    buffer_records: 5,
    buffer_bytes: 1000,
};
const BACKOFF: Backoff = Backoff {
    base_ms: 100,
    max_ms: 1000,
};

fn outbox(limits: OutboxLimits) -> Outbox {
    Outbox::new(limits, BACKOFF)
}

fn lines(batch: &Batch) -> Vec<&str> {
    std::str::from_utf8(&batch.body)
        .unwrap()
        .split('\n')
        .collect()
}

#[test]
fn batches_are_json_lines_in_order_and_bounded_in_records() {
    let mut out = outbox(LIMITS);
    for r in ["a", "b", "c", "d"] {
        out.push(r.into());
    }
    let batch = out.next_batch(0).unwrap();
    assert_eq!(lines(&batch), ["a", "b", "c"]);
    assert_eq!(batch.records, 3);
    assert_eq!(out.delivered(), 3);
    assert_eq!(lines(&out.next_batch(0).unwrap()), ["d"]);
}

#[test]
fn batches_are_bounded_in_bytes_but_a_big_record_goes_alone() {
    let mut out = outbox(OutboxLimits {
        batch_bytes: 5,
        ..LIMITS
    });
    out.push("aa".into());
    out.push("bb".into());
    out.push("cccccccc".into());
    assert_eq!(lines(&out.next_batch(0).unwrap()), ["aa", "bb"]);
    out.delivered();
    assert_eq!(lines(&out.next_batch(0).unwrap()), ["cccccccc"]);
}

#[test]
fn one_batch_at_a_time() {
    let mut out = outbox(LIMITS);
    out.push("a".into());
    assert!(out.next_batch(0).is_some());
    out.push("b".into());
    assert_eq!(
        out.next_batch(0),
        None,
        "the first batch is still in flight"
    );
    out.delivered();
    assert_eq!(lines(&out.next_batch(0).unwrap()), ["b"]);
}

#[test]
fn nothing_queued_means_no_batch() {
    assert_eq!(outbox(LIMITS).next_batch(0), None);
}

#[test]
fn a_failed_batch_is_resent_first_and_whole_after_the_back_off() {
    let mut out = outbox(LIMITS);
    for r in ["a", "b", "c"] {
        out.push(r.into());
    }
    out.next_batch(0).unwrap();
    out.push("d".into());
    out.failed(1_000);
    assert_eq!(out.len(), 4);
    assert_eq!(out.next_batch(1_099), None, "still backing off");
    assert_eq!(lines(&out.next_batch(1_100).unwrap()), ["a", "b", "c"]);
}

#[test]
fn back_off_doubles_up_to_the_maximum_and_resets_on_delivery() {
    assert_eq!(
        (1..=6).map(|f| BACKOFF.delay_ms(f)).collect::<Vec<_>>(),
        [100, 200, 400, 800, 1000, 1000]
    );
    assert_eq!(BACKOFF.delay_ms(u32::MAX), 1000, "no overflow");
    let mut out = outbox(LIMITS);
    out.push("a".into());
    out.next_batch(0).unwrap();
    out.failed(0);
    out.next_batch(100).unwrap();
    out.failed(100);
    assert_eq!(out.next_batch(299), None, "second failure waits 200 ms");
    out.next_batch(300).unwrap();
    out.delivered();
    out.push("b".into());
    assert!(
        out.next_batch(300).is_some(),
        "delivery resets the back-off"
    );
}

#[test]
fn a_full_buffer_drops_the_oldest_and_counts_them() {
    let mut out = outbox(LIMITS);
    for i in 0..8 {
        out.push(format!("r{i}"));
    }
    assert_eq!(out.len(), 5);
    assert_eq!(out.take_dropped(), 3);
    assert_eq!(out.take_dropped(), 0, "counted once");
    assert_eq!(lines(&out.next_batch(0).unwrap()), ["r3", "r4", "r5"]);
}

#[test]
fn the_byte_bound_drops_too() {
    let mut out = outbox(OutboxLimits {
        buffer_bytes: 10,
        ..LIMITS
    });
    out.push("aaaa".into());
    out.push("bbbb".into());
    out.push("cccc".into());
    assert_eq!(out.take_dropped(), 1);
    assert_eq!(lines(&out.next_batch(0).unwrap()), ["bbbb", "cccc"]);
    out.push("x".repeat(11));
    assert_eq!(
        out.take_dropped(),
        1,
        "a record larger than the buffer is dropped"
    );
}

#[test]
fn the_batch_in_flight_counts_against_the_bound_and_is_never_dropped() {
    let mut out = outbox(OutboxLimits {
        buffer_records: 3,
        ..LIMITS
    });
    for r in ["a", "b", "c"] {
        out.push(r.into());
    }
    out.next_batch(0).unwrap();
    out.push("d".into());
    assert_eq!(out.take_dropped(), 1, "no room beside the batch in flight");
    out.failed(0);
    assert_eq!(lines(&out.next_batch(100).unwrap()), ["a", "b", "c"]);
}

#[test]
fn held_plus_delivered_plus_dropped_is_everything_pushed() {
    let mut out = outbox(LIMITS);
    let (mut delivered, mut dropped) = (0, 0);
    for i in 0..50u64 {
        out.push(format!("r{i}"));
        if let Some(_batch) = out.next_batch(i * 100) {
            if i % 3 == 0 {
                out.failed(i * 100);
            } else {
                delivered += out.delivered();
            }
        }
        dropped += out.take_dropped();
    }
    assert_eq!(delivered as u64 + dropped + out.len() as u64, 50);
}
