//! Pacing of new SSH connections across the whole run.
//!
//! `-f 1000` against 1000 hosts on one L2 segment would otherwise start 1000 TCP handshakes in the same
//! millisecond: the controller's neighbour table churns (ARP entries evicted before they are used) and hosts
//! are lost for no reason of their own. Connects start at most every START_SPACING and at most
//! MAX_HANDSHAKES are in flight; an established connection costs nothing here.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// Handshakes (TCP, key exchange, login, first shell) in flight at once.
pub const MAX_HANDSHAKES: usize = 64;
/// The least time between two connects starting: 500 per second at most.
pub const START_SPACING: Duration = Duration::from_millis(2);

static HANDSHAKES: Semaphore = Semaphore::const_new(MAX_HANDSHAKES);
static NEXT_START: Mutex<Option<Instant>> = Mutex::new(None);

/// Waits for this connect's turn; the handshake slot is held until the returned permit drops.
pub async fn turn() -> Option<SemaphorePermit<'static>> {
    let permit = HANDSHAKES.acquire().await.ok();
    let wait = {
        let mut next = NEXT_START.lock().unwrap();
        let now = Instant::now();
        let start = next.filter(|at| *at > now).unwrap_or(now);
        *next = Some(start + START_SPACING);
        start - now
    };
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    permit
}

/// The pause before retry `attempt` (0-based): 0.5 s, 1 s, 2 s, ... up to 8 s, each ±25 % so hosts that
/// failed together do not all come back together.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500).saturating_mul(1 << attempt.min(4)).min(Duration::from_secs(8));
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    base.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        for attempt in 0..10 {
            let pause = backoff(attempt);
            let base = 500.0 * f64::from(1u32 << attempt.min(4));
            let base = base.min(8000.0);
            let millis = pause.as_secs_f64() * 1000.0;
            assert!(millis >= base * 0.75 - 1.0 && millis <= base * 1.25 + 1.0, "attempt {attempt}: {pause:?}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connects_are_spaced() {
        let started = Instant::now();
        for _ in 0..50 {
            drop(turn().await);
        }
        // 50 starts, START_SPACING apart: the last one at least 49 spacings after the first.
        assert!(started.elapsed() >= START_SPACING * 48, "{:?}", started.elapsed());
    }
}
