//! A counting limit (`concurrency`, `per_host`) whose waiters are served in order, except that
//! the segments and retries of downloads already under way go before items not yet begun.
//!
//! Why the exception: a split file's later segments are its bulk, and they are known only once
//! its first answer arrives, by which time every item of the run is already queued. Behind them
//! (first come, first served, as tokio's semaphore does), the largest file of a run would start
//! most of its bytes last and finish alone. Serving the longest known work first is the classic
//! remedy (LPT scheduling); it also finishes a started file, its lock and its open temp file,
//! before opening more.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

#[derive(Debug)]
pub(crate) struct Limit {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Free places; nonzero only while nobody waits.
    available: usize,
    /// Segments and retries of started downloads.
    urgent: VecDeque<oneshot::Sender<()>>,
    /// Everything else, in arrival order.
    normal: VecDeque<oneshot::Sender<()>>,
}

/// A place under the limit, given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    limit: &'a Limit,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limit.release();
    }
}

/// Whether a waiter goes before the ordinary queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    Normal,
    Urgent,
}

impl Limit {
    pub(crate) fn new(places: usize) -> Self {
        Self {
            state: Mutex::new(State {
                available: places,
                urgent: VecDeque::new(),
                normal: VecDeque::new(),
            }),
        }
    }

    /// Waits for a place. Cancel-safe: a waiter dropped before or after being handed a place
    /// passes it on.
    pub(crate) async fn acquire(&self, priority: Priority) -> Permit<'_> {
        let handed = {
            let mut state = self.state();
            if state.available > 0 {
                state.available -= 1;
                return Permit { limit: self };
            }
            let (tx, rx) = oneshot::channel();
            match priority {
                Priority::Urgent => state.urgent.push_back(tx),
                Priority::Normal => state.normal.push_back(tx),
            }
            rx
        };
        // From here the waiter owns the place the moment it is handed over: a guard passes
        // it on if this future is dropped after the hand-over but before it is polled again.
        let mut guard = Handover {
            limit: self,
            rx: Some(handed),
        };
        if let Some(rx) = guard.rx.as_mut() {
            // The sender lives in our own state and is only ever consumed by `release`,
            // which hands a place; it is never dropped unsent while we wait.
            let _ = rx.await;
        }
        guard.rx = None;
        Permit { limit: self }
    }

    /// Raises the limit by `places`, handing them to waiters first.
    pub(crate) fn add_places(&self, places: usize) {
        for _ in 0..places {
            self.release();
        }
    }

    fn release(&self) {
        let mut state = self.state();
        while let Some(waiter) = state
            .urgent
            .pop_front()
            .or_else(|| state.normal.pop_front())
        {
            if waiter.send(()).is_ok() {
                return;
            }
            // That waiter was cancelled; the place goes to the next one.
        }
        state.available += 1;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned count is still the right count.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A waiter between queueing and taking its place.
struct Handover<'a> {
    limit: &'a Limit,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            // Closing first means a concurrent `release` either handed the place already
            // (seen below, and passed on) or will find this waiter gone and skip it.
            rx.close();
            if rx.try_recv().is_ok() {
                self.limit.release();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn urgent_waiters_go_first_then_arrival_order() {
        let limit = Arc::new(Limit::new(1));
        let held = limit.acquire(Priority::Normal).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [
            ("a", Priority::Normal),
            ("b", Priority::Normal),
            ("u", Priority::Urgent),
        ] {
            let (limit, order) = (Arc::clone(&limit), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire(priority).await;
                order.lock().expect("order").push(name);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        for task in tasks {
            task.await.expect("join");
        }
        assert_eq!(*order.lock().expect("order"), ["u", "a", "b"]);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_lose_a_place() {
        let limit = Limit::new(1);
        let held = limit.acquire(Priority::Normal).await;
        {
            let waiting = limit.acquire(Priority::Normal);
            tokio::pin!(waiting);
            assert!(futures_util::poll!(&mut waiting).is_pending());
            // Handed over while nobody polls it, then dropped: the place comes back.
            drop(held);
        }
        let again = tokio::time::timeout(Duration::from_secs(1), limit.acquire(Priority::Normal))
            .await
            .expect("the place was passed on");
        drop(again);
        assert_eq!(limit.state().available, 1);
    }
}
