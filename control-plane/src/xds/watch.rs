//! Notices edits of the config file by polling its modification time and size (cheap,
//! and it sees editors that write in place as well as ones that rename a new file over
//! the old one).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How often `tollgate run`/`serve` look at the config file.
pub const POLL: Duration = Duration::from_millis(100);

/// What identifies one version of the file; `None` while it cannot be read.
fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// Calls `changed` after every edit of `path`, checking every `interval`; runs until
/// the task is dropped.
pub async fn on_edit(path: PathBuf, interval: Duration, mut changed: impl FnMut()) {
    let mut last = stamp(&path);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = stamp(&path);
        if now.is_some() && now != last {
            last = now;
            changed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn an_edit_is_noticed_once() {
        let dir = std::env::temp_dir().join(format!("tollgate-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.yaml");
        std::fs::write(&path, "a").unwrap();
        let edits = Arc::new(AtomicUsize::new(0));
        let counter = edits.clone();
        let watcher = tokio::spawn(on_edit(
            path.clone(),
            Duration::from_millis(10),
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
            },
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(edits.load(Ordering::SeqCst), 0, "no edit yet");
        std::fs::write(&path, "bb").unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(edits.load(Ordering::SeqCst), 1);
        watcher.abort();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
