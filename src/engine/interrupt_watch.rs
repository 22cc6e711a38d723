//! The end of Ctrl-C's grace period, as one watcher for the whole run.
//!
//! A running remote command races the grace period's end. Each command used to race a timer of its own that
//! woke it ten times a second to look at the Ctrl-C flag: on 3000 hosts whose commands wait seconds in the queue,
//! those wake-ups of parked host threads were a cost that grew with the fleet. Now one task looks at the flag,
//! and a command waits on a watch channel that changes once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// How often the watcher looks at the Ctrl-C flag (set by a signal handler, which cannot wake anything).
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// Says when the grace after the first Ctrl-C is over; the watcher stops with it.
pub(super) struct InterruptWatch {
    grace_over: watch::Receiver<bool>,
    watcher: tokio::task::AbortHandle,
}

impl InterruptWatch {
    pub(super) fn new(interrupted: Arc<AtomicBool>, grace: Duration, tokio: &tokio::runtime::Handle) -> InterruptWatch {
        let (over, grace_over) = watch::channel(false);
        let watcher = tokio
            .spawn(async move {
                while !interrupted.load(Ordering::SeqCst) {
                    tokio::time::sleep(LOOK_EVERY).await;
                }
                tokio::time::sleep(grace).await;
                let _ = over.send(true);
                // Kept open: a closed channel would read as "over" to whoever waits next.
                std::future::pending::<()>().await;
            })
            .abort_handle();
        InterruptWatch { grace_over, watcher }
    }

    /// Resolves once the grace after the first Ctrl-C is over; never before.
    pub(super) async fn grace_over(&self) {
        let mut grace_over = self.grace_over.clone();
        if grace_over.wait_for(|over| *over).await.is_err() {
            // The watcher is gone only when the run is: nothing is over for a command still waiting.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for InterruptWatch {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_is_over_only_after_the_flag_and_the_grace() {
        let tokio = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let interrupted = Arc::new(AtomicBool::new(false));
        let watch = InterruptWatch::new(interrupted.clone(), Duration::from_millis(300), tokio.handle());
        let waited = |limit| tokio.block_on(async { tokio::time::timeout(limit, watch.grace_over()).await }).is_ok();
        assert!(!waited(Duration::from_millis(400)), "over before any Ctrl-C");
        interrupted.store(true, Ordering::SeqCst);
        let flagged = std::time::Instant::now();
        assert!(waited(Duration::from_secs(5)), "not over after the grace");
        assert!(flagged.elapsed() >= Duration::from_millis(300), "over before the grace: {:?}", flagged.elapsed());
        assert!(waited(Duration::from_millis(50)), "a later command must see it over at once");
    }

    #[test]
    fn a_dropped_watch_never_reads_as_over() {
        let tokio = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let watch = InterruptWatch::new(Arc::new(AtomicBool::new(true)), Duration::ZERO, tokio.handle());
        let waiter = InterruptWatch { grace_over: watch.grace_over.clone(), watcher: watch.watcher.clone() };
        drop(watch);
        let waited =
            tokio.block_on(async { tokio::time::timeout(Duration::from_millis(300), waiter.grace_over()).await });
        assert!(waited.is_err());
    }
}
