//! The first request to a host goes alone.
//!
//! Sixteen requests to a fresh host would open sixteen TLS connections before any of them
//! learns (by ALPN) that the server speaks HTTP/2 and could have carried all sixteen on one.
//! So the first request connects while the others wait for its response headers; then they
//! share its HTTP/2 connection, or open keep-alive HTTP/1.1 connections as needed. If the
//! first request fails before headers, the next waiter makes first contact instead.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug)]
pub(crate) struct ConnectGate {
    first: Semaphore,
    connected: AtomicBool,
}

/// Held by the one request making first contact; call [`FirstContact::connected`] once its
/// headers arrive. Dropping it without that lets the next waiter try.
pub(crate) struct FirstContact<'a> {
    gate: &'a ConnectGate,
    _permit: SemaphorePermit<'a>,
}

impl FirstContact<'_> {
    pub(crate) fn connected(self) {
        self.gate.connected.store(true, Ordering::Release);
    }
}

impl ConnectGate {
    pub(crate) fn new() -> Self {
        Self {
            first: Semaphore::new(1),
            connected: AtomicBool::new(false),
        }
    }

    /// Returns at once when the host is connected (`None`); otherwise waits for the first
    /// contact to finish, or becomes it (`Some`).
    pub(crate) async fn pass(&self) -> Option<FirstContact<'_>> {
        if self.connected.load(Ordering::Acquire) {
            return None;
        }
        // The semaphore is never closed, so acquiring fails only if it were; then we simply
        // go ahead without the gate.
        let permit = self.first.acquire().await.ok()?;
        if self.connected.load(Ordering::Acquire) {
            return None;
        }
        Some(FirstContact {
            gate: self,
            _permit: permit,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_leader_then_everyone() {
        let gate = Arc::new(ConnectGate::new());
        let leader = gate.pass().await.expect("first caller leads");
        let follower = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.pass().await.is_some() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!follower.is_finished(), "follower waits for the leader");
        leader.connected();
        assert!(
            !follower.await.expect("join"),
            "follower goes without leading"
        );
        assert!(gate.pass().await.is_none());
    }

    #[tokio::test]
    async fn a_failed_leader_hands_over() {
        let gate = ConnectGate::new();
        drop(gate.pass().await.expect("leader"));
        let next = gate.pass().await.expect("next waiter leads");
        next.connected();
        assert!(gate.pass().await.is_none());
    }
}
