//! The model of one direction of the emulated path: a bottleneck that serializes packets at a
//! fixed rate behind a drop-tail queue, followed by a fixed propagation delay. Pure arithmetic
//! over `Instant`s so it can be tested without a network.

use std::time::{Duration, Instant};

/// Parameters of one direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkParams {
    /// One-way propagation delay (half the round-trip time).
    pub delay: Duration,
    /// Bottleneck rate in bits per second; 0 means unlimited (delay only).
    pub rate_bps: u64,
    /// Most bytes waiting for the bottleneck; a packet that would exceed it is dropped (tail drop).
    pub queue_bytes: u64,
}

impl LinkParams {
    /// `rtt_ms` round trip split evenly between the directions, a rate in Mbit/s and a queue
    /// holding `queue_ms` worth of that rate. The queue never holds less than 64 KB: a smaller
    /// one would drop a single TSO-sized burst, which no real bottleneck does.
    #[must_use]
    pub fn new(rtt_ms: f64, rate_mbit: f64, queue_ms: f64) -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rate_bps = (rate_mbit * 1e6) as u64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let queue_bytes = ((rate_bps as f64 / 8.0) * queue_ms / 1e3) as u64;
        Self {
            delay: Duration::from_secs_f64(rtt_ms / 2e3),
            rate_bps,
            queue_bytes: if rate_bps == 0 {
                u64::MAX
            } else {
                queue_bytes.max(64 * 1024)
            },
        }
    }

    /// Time for `len` bytes to cross the bottleneck.
    #[must_use]
    pub fn serialization(&self, len: usize) -> Duration {
        if self.rate_bps == 0 {
            return Duration::ZERO;
        }
        let nanos = (len as u128) * 8 * 1_000_000_000 / u128::from(self.rate_bps);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn bytes_in(&self, span: Duration) -> u64 {
        let bytes = span.as_nanos() * u128::from(self.rate_bps) / 8 / 1_000_000_000;
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }
}

/// The state of one direction: when the bottleneck is next idle.
#[derive(Debug)]
pub struct Link {
    params: LinkParams,
    /// When the last admitted packet's last bit leaves the bottleneck.
    busy_until: Option<Instant>,
}

impl Link {
    #[must_use]
    pub fn new(params: LinkParams) -> Self {
        Self {
            params,
            busy_until: None,
        }
    }

    /// Bytes waiting for the bottleneck at `now` (including the one being serialized).
    #[must_use]
    pub fn backlog(&self, now: Instant) -> u64 {
        match self.busy_until {
            Some(t) if t > now => self.params.bytes_in(t - now),
            _ => 0,
        }
    }

    /// A packet of `len` bytes arrives at `now`: `Some(delivery time)` at the far end, or `None`
    /// if the queue is full and it is dropped. Delivery times never decrease, so a FIFO of
    /// admitted packets is already in delivery order.
    pub fn admit(&mut self, now: Instant, len: usize) -> Option<Instant> {
        let backlog = self.backlog(now);
        if backlog > 0 && backlog + len as u64 > self.params.queue_bytes {
            return None;
        }
        let start = match self.busy_until {
            Some(t) if t > now => t,
            _ => now,
        };
        let done = start + self.params.serialization(len);
        self.busy_until = Some(done);
        Some(done + self.params.delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> LinkParams {
        // 100 Mbit/s: a 1500-byte packet takes 120 µs; 25 ms one way; 10 ms of queue = 125 KB.
        LinkParams::new(50.0, 100.0, 10.0)
    }

    #[test]
    fn derives_delay_and_queue_from_rtt_and_rate() {
        let p = params();
        assert_eq!(p.delay, Duration::from_millis(25));
        assert_eq!(p.rate_bps, 100_000_000);
        assert_eq!(p.queue_bytes, 125_000);
        assert_eq!(p.serialization(1500), Duration::from_micros(120));
        assert_eq!(
            LinkParams::new(50.0, 0.0, 100.0).serialization(1500),
            Duration::ZERO
        );
    }

    #[test]
    fn an_idle_link_delivers_after_serialization_and_delay() {
        let mut link = Link::new(params());
        let t0 = Instant::now();
        let due = link.admit(t0, 1500).expect("admitted");
        assert_eq!(due - t0, Duration::from_micros(25_120));
    }

    #[test]
    fn back_to_back_packets_are_spaced_by_the_rate() {
        let mut link = Link::new(params());
        let t0 = Instant::now();
        let first = link.admit(t0, 1500).expect("admitted");
        let second = link.admit(t0, 1500).expect("admitted");
        assert_eq!(second - first, Duration::from_micros(120));
        // After the link drained, a packet is not held back by old departures.
        let later = t0 + Duration::from_secs(1);
        let third = link.admit(later, 1500).expect("admitted");
        assert_eq!(third - later, Duration::from_micros(25_120));
    }

    #[test]
    fn drops_at_the_tail_when_the_queue_is_full() {
        let mut link = Link::new(params());
        let t0 = Instant::now();
        // 125 KB of queue holds 83 packets of 1500 bytes.
        let admitted = (0..200).filter(|_| link.admit(t0, 1500).is_some()).count();
        assert_eq!(admitted, 83);
        assert!(link.backlog(t0) <= 125_000);
        // Draining one packet's worth makes room for one more.
        let t1 = t0 + Duration::from_micros(120);
        assert!(link.admit(t1, 1500).is_some());
        assert!(link.admit(t1, 1500).is_none());
    }
}
