//! A transfer's right to run: a place under the run's `concurrency` and the host's
//! `per_host`, and a lane (one of the host's connections) to send it on.
//!
//! Every request of a download takes its own slot and gives it back as soon as its body is in
//! (or it failed): waiting out a backoff, renaming a finished file into place or linking it
//! into `dest` holds no slot, so the next transfer starts meanwhile.

use crate::gate::{FirstContact, LaneSlot};
use crate::job::JobContext;
use crate::limit::{Permit, Priority};

pub(crate) struct Slot<'a> {
    pub(crate) client: &'a reqwest::Client,
    first_contact: Option<FirstContact<'a>>,
    // Dropped last, in this order: the lane count, then the permits.
    _lane: LaneSlot<'a>,
    _host: Permit<'a>,
    _global: Permit<'a>,
}

impl<'a> Slot<'a> {
    /// Waits for a free place under both limits, then for the lane's first contact if the
    /// lane has not connected yet (or becomes that first contact).
    ///
    /// The host's place comes first: a transfer waiting for its host must not hold one of the
    /// run's places meanwhile. Global first, a slow host's queue (`per_host` below
    /// `concurrency`) held every place of the run while waiting, and the other hosts' items
    /// waited for all of it: 2 gems of a fast host behind 12 slow ones took 4.3 s instead of
    /// milliseconds (issue 15).
    pub(crate) async fn take(context: &'a JobContext, priority: Priority) -> Self {
        let host = context.host.limit.acquire(priority).await;
        let global = context.global.acquire(priority).await;
        let lane = context.host.lanes.take();
        let first_contact = lane.pass().await;
        Self {
            client: &context.lanes[lane.index % context.lanes.len()],
            first_contact,
            _lane: lane,
            _host: host,
            _global: global,
        }
    }

    /// Response headers (or a failure) arrived: if this was the lane's first contact, the
    /// requests waiting for it go now.
    pub(crate) fn answered(&mut self) {
        if let Some(first) = self.first_contact.take() {
            first.connected();
        }
    }
}
