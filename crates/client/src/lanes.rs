//! The first request to a host goes alone.
//!
//! Sixteen requests to a fresh host would open sixteen TLS connections before any of them
//! learns (by ALPN) that the server speaks HTTP/2 and could have carried all sixteen on one.
//! So the first request connects while the others wait for its response headers; then they
//! share its HTTP/2 connection, or open keep-alive HTTP/1.1 connections as needed. If the
//! first request fails before headers, the next waiter makes first contact instead.
//!
//! A host is reached over a few *lanes* (see [`crate::LANES`]): each lane is a client
//! with a pool of its own, so each opens its own connection, and each lane has its own gate.
//! A job takes the lane with the fewest transfers in flight, so the first few jobs make first
//! contact on different lanes at once and the connections warm up in parallel.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug)]
pub struct ConnectGate {
    first: Semaphore,
    connected: AtomicBool,
}

/// Held by the one request making first contact; call [`FirstContact::connected`] once its
/// headers arrive. Dropping it without that lets the next waiter try.
pub struct FirstContact<'a> {
    gate: &'a ConnectGate,
    _permit: SemaphorePermit<'a>,
}

impl FirstContact<'_> {
    pub fn connected(self) {
        self.gate.connected.store(true, Ordering::Release);
    }
}

impl Default for ConnectGate {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectGate {
    #[must_use]
    pub fn new() -> Self {
        Self {
            first: Semaphore::new(1),
            connected: AtomicBool::new(false),
        }
    }

    /// Returns at once when the host is connected (`None`); otherwise waits for the first
    /// contact to finish, or becomes it (`Some`).
    pub async fn pass(&self) -> Option<FirstContact<'_>> {
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

/// One host's lanes: a gate and a count of transfers in flight per lane.
#[derive(Debug)]
pub struct Lanes {
    lanes: Box<[Lane]>,
}

#[derive(Debug)]
struct Lane {
    gate: ConnectGate,
    in_flight: AtomicUsize,
}

/// A transfer's place on a lane; the lane counts it until this is dropped.
pub struct LaneSlot<'a> {
    lane: &'a Lane,
    pub index: usize,
}

impl<'a> LaneSlot<'a> {
    pub async fn pass(&self) -> Option<FirstContact<'a>> {
        self.lane.gate.pass().await
    }
}

impl Drop for LaneSlot<'_> {
    fn drop(&mut self) {
        self.lane.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lanes {
    pub fn new(count: usize) -> Self {
        Self {
            lanes: (0..count.max(1))
                .map(|_| Lane {
                    gate: ConnectGate::new(),
                    in_flight: AtomicUsize::new(0),
                })
                .collect(),
        }
    }

    /// The lane with the fewest transfers in flight (the lowest index on a tie). Two jobs
    /// choosing at once may pick the same lane; that only unbalances, never breaks, a run.
    pub fn take(&self) -> LaneSlot<'_> {
        let (index, lane) = self
            .lanes
            .iter()
            .enumerate()
            .min_by_key(|(_, lane)| lane.in_flight.load(Ordering::Relaxed))
            .unwrap_or((0, &self.lanes[0]));
        lane.in_flight.fetch_add(1, Ordering::Relaxed);
        LaneSlot { lane, index }
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

    #[test]
    fn transfers_spread_over_the_least_busy_lane() {
        let lanes = Lanes::new(3);
        let a = lanes.take();
        let b = lanes.take();
        let c = lanes.take();
        assert_eq!((a.index, b.index, c.index), (0, 1, 2));
        drop(b);
        assert_eq!(lanes.take().index, 1);
        assert_eq!(Lanes::new(0).take().index, 0, "at least one lane");
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
