use std::sync::Mutex;

use super::*;

fn delivery() -> Delivery {
    Delivery {
        batch_records: 2,
        flush_interval: Duration::from_millis(100),
        queue_records: 4,
        timeout: Duration::from_secs(1),
        attempts: 3,
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_millis(300),
    }
}

/// Records the batches it is sent and fails the first `failures` sends.
#[derive(Clone, Default)]
struct Recorder {
    batches: Arc<Mutex<Vec<(Vec<String>, Instant)>>>,
    failures: Arc<Mutex<Vec<SendError>>>,
}

impl Recorder {
    fn failing(errors: Vec<SendError>) -> Self {
        let recorder = Recorder::default();
        *recorder.failures.lock().unwrap() = errors;
        recorder
    }

    fn sizes(&self) -> Vec<usize> {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| b.len())
            .collect()
    }
}

impl Sink for Recorder {
    fn send(&self, batch: &[Arc<str>]) -> impl Future<Output = Result<(), SendError>> + Send {
        let lines = batch.iter().map(|r| r.to_string()).collect();
        self.batches.lock().unwrap().push((lines, Instant::now()));
        let mut failures = self.failures.lock().unwrap();
        let outcome = if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.remove(0))
        };
        std::future::ready(outcome)
    }
}

/// Never answers.
struct Hanging;

impl Sink for Hanging {
    fn send(&self, _: &[Arc<str>]) -> impl Future<Output = Result<(), SendError>> + Send {
        std::future::pending()
    }
}

fn records(n: usize) -> Vec<Arc<str>> {
    (0..n)
        .map(|i| Arc::from(format!("{{\"id\":\"r{i}\"}}")))
        .collect()
}

fn count(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

#[tokio::test(start_paused = true)]
async fn full_batches_leave_at_once_the_rest_at_the_flush_interval() {
    let sink = Recorder::default();
    let exporter = Exporter::spawn(sink.clone(), delivery(), "test".into());
    let start = Instant::now();
    for record in records(3) {
        exporter.offer(record);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.sizes(), [2, 1]);
    let sent = sink.batches.lock().unwrap().clone();
    assert_eq!(sent[0].0, ["{\"id\":\"r0\"}", "{\"id\":\"r1\"}"]);
    assert_eq!(sent[0].1 - start, Duration::ZERO);
    assert_eq!(sent[1].1 - start, Duration::from_millis(100));
    assert_eq!(count(&exporter.counters.exported), 3);
}

#[tokio::test(start_paused = true)]
async fn retries_with_backoff_until_delivered() {
    let errors = vec![SendError::retryable("503"), SendError::retryable("503")];
    let sink = Recorder::failing(errors);
    let exporter = Exporter::spawn(sink.clone(), delivery(), "test".into());
    let start = Instant::now();
    for record in records(2) {
        exporter.offer(record);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let times: Vec<Duration> = sink
        .batches
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| *t - start)
        .collect();
    // 200 ms, then doubled to 400 but capped at 300.
    assert_eq!(
        times,
        [
            Duration::ZERO,
            Duration::from_millis(200),
            Duration::from_millis(500)
        ]
    );
    assert_eq!(count(&exporter.counters.exported), 2);
    assert_eq!(count(&exporter.counters.failed), 0);
    assert_eq!(count(&exporter.counters.failed_sends), 2);
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_the_attempts_and_at_once_on_a_permanent_error() {
    let errors = vec![
        SendError::retryable("a"),
        SendError::retryable("b"),
        SendError::retryable("c"),
    ];
    let sink = Recorder::failing(errors);
    let exporter = Exporter::spawn(sink.clone(), delivery(), "test".into());
    for record in records(2) {
        exporter.offer(record);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(sink.sizes(), [2, 2, 2]);
    assert_eq!(count(&exporter.counters.failed), 2);
    assert_eq!(count(&exporter.counters.exported), 0);

    let sink = Recorder::failing(vec![SendError::permanent("400")]);
    let exporter = Exporter::spawn(sink.clone(), delivery(), "test".into());
    for record in records(2) {
        exporter.offer(record);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(sink.sizes(), [2]);
    assert_eq!(count(&exporter.counters.failed), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_target_times_out_and_a_full_queue_drops_without_waiting() {
    let exporter = Exporter::spawn(Hanging, delivery(), "test".into());
    // 2 in the batch being sent, 4 queued, 4 dropped; offering never waits.
    let start = Instant::now();
    for record in records(2) {
        exporter.offer(record);
    }
    tokio::task::yield_now().await;
    for record in records(8) {
        exporter.offer(record);
    }
    assert_eq!(Instant::now(), start);
    assert_eq!(count(&exporter.counters.dropped), 4);
    // Each of 3 attempts times out after 1 s; waits of 200 and 300 ms between them.
    tokio::time::sleep(Duration::from_millis(3600)).await;
    assert_eq!(count(&exporter.counters.failed), 2);
    assert_eq!(count(&exporter.counters.failed_sends), 3);
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let d = delivery();
    assert_eq!(backoff(1, &d), Duration::from_millis(200));
    assert_eq!(backoff(2, &d), Duration::from_millis(300));
    assert_eq!(backoff(40, &d), Duration::from_millis(300));
}
