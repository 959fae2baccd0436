//! Who may send now: the run's `concurrency`, each host's `per_host`, the entries a run may
//! hold open, and the lane (one of the host's connections) a transfer goes on. The one place
//! that owns these limits and hands out places under them.
//!
//! Every request of a download takes its own [`Slot`] and gives it back as soon as its body is
//! in (or it failed): waiting out a backoff, renaming a finished file into place or linking it
//! into `dest` holds no slot, so the next transfer starts meanwhile.
//!
//! A host's place is always taken before the run's: a transfer waiting for its host must not
//! hold one of the run's places meanwhile. Global first, a slow host's queue (`per_host` below
//! `concurrency`) held every place of the run while waiting, and the other hosts' items waited
//! for all of it: 2 gems of a fast host behind 12 slow ones took 4.3 s instead of milliseconds
//! (issue 15).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Semaphore, SemaphorePermit};
use wow_fetch_client::{FirstContact, LaneSlot, Lanes, Pool};
use wow_fetch_gem::Item;

use crate::limit::{Limit, Permit, Priority};
use crate::options::RunOptions;

/// Entries a run may hold locked per slot of `concurrency`: one transferring, one ready to go
/// the moment a slot frees, one being published. Bounds a run's open lock files (1,000 gems
/// do not open 1,000 at once).
const OPEN_ENTRIES_PER_SLOT: usize = 3;

/// Transfers in flight to a host that has not said it speaks HTTP/2, unless `per_host` says
/// otherwise: over HTTP/1.1 each one is a connection of its own (a TCP and TLS handshake, and
/// its own slow start), so a host is not asked for more than browsers and Bundler open. Over
/// HTTP/2 a request in flight is a stream on a connection already open, and the run's whole
/// `concurrency` may go to one host (hyper keeps each connection within the server's
/// `SETTINGS_MAX_CONCURRENT_STREAMS`, queueing any request beyond it).
pub const HTTP1_CONNECTIONS_PER_HOST: usize = 16;

/// The limits of one run, over all its hosts.
pub(crate) struct Schedule {
    pool: Pool,
    global: Limit,
    /// Entries locked and not yet published, over the run (see [`OPEN_ENTRIES_PER_SLOT`]).
    open_entries: Semaphore,
    /// A host's places: all of them when `per_host` was given; otherwise those of an HTTP/1.1
    /// host until its first answer comes over HTTP/2 (see [`HTTP1_CONNECTIONS_PER_HOST`]).
    per_host: usize,
    per_host_until_multiplexed: usize,
    /// Lanes per host: no more than transfers that may be in flight to a host at once.
    lanes_per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

/// One host's limits, and its lanes (each with its first-contact gate).
pub(crate) struct Host {
    limit: Limit,
    /// Places the host gains once it answers over HTTP/2.
    widen_by: usize,
    multiplexed: AtomicBool,
    lanes: Lanes,
    /// The host's share of the run's open entries, taken before the run's, so one host's
    /// queue cannot hold them all.
    open_entries: Semaphore,
}

/// The right to hold one cache entry open (locked, being fetched or published).
pub(crate) struct OpenEntry<'a> {
    _host: SemaphorePermit<'a>,
    _run: SemaphorePermit<'a>,
}

/// The run was cancelled while waiting (the semaphores closed).
#[derive(Debug)]
pub(crate) struct Closed;

impl Schedule {
    pub(crate) fn new(pool: Pool, options: &RunOptions) -> Self {
        let concurrency = options.concurrency.get();
        let per_host = options.per_host_limit();
        let per_host_until_multiplexed = match options.per_host {
            Some(_) => per_host,
            None => per_host.min(HTTP1_CONNECTIONS_PER_HOST),
        };
        Self {
            per_host_until_multiplexed,
            lanes_per_host: pool.lane_count().min(per_host),
            pool,
            global: Limit::new(concurrency),
            open_entries: Semaphore::new(concurrency.saturating_mul(OPEN_ENTRIES_PER_SLOT)),
            per_host,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The host of `item` (connections are pooled per scheme, host and port), made on first
    /// use.
    pub(crate) fn host(&self, item: &Item) -> Arc<Host> {
        let url = item.url();
        let key = format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(hosts.entry(key).or_insert_with(|| {
            Arc::new(Host {
                limit: Limit::new(self.per_host_until_multiplexed),
                widen_by: self.per_host - self.per_host_until_multiplexed,
                multiplexed: AtomicBool::new(false),
                lanes: Lanes::new(self.lanes_per_host),
                open_entries: Semaphore::new(self.per_host.saturating_mul(OPEN_ENTRIES_PER_SLOT)),
            })
        }))
    }

    /// Waits for the right to open one more entry of `host`: the host's share first, then the
    /// run's (as [`Schedule::slot`] does, for the same reason).
    pub(crate) async fn open_entry<'a>(&'a self, host: &'a Host) -> Result<OpenEntry<'a>, Closed> {
        let host = host.open_entries.acquire().await.map_err(|_| Closed)?;
        let run = self.open_entries.acquire().await.map_err(|_| Closed)?;
        Ok(OpenEntry {
            _host: host,
            _run: run,
        })
    }

    /// Waits for a free place under both limits, then for the lane's first contact if the
    /// lane has not connected yet (or becomes that first contact).
    pub(crate) async fn slot<'a>(&'a self, host: &'a Host, priority: Priority) -> Slot<'a> {
        let host_place = host.limit.acquire(priority).await;
        let global = self.global.acquire(priority).await;
        let lane = host.lanes.take();
        let first_contact = lane.pass().await;
        Slot {
            host,
            client: self.pool.lane(lane.index),
            first_contact,
            _lane: lane,
            _host: host_place,
            _global: global,
        }
    }

    /// The pool enforces it on connect; with the read timeout it bounds the wait for headers.
    pub(crate) fn connect_timeout(&self) -> std::time::Duration {
        self.pool.connect_timeout()
    }
}

/// A transfer's right to run, and the client of its lane.
pub(crate) struct Slot<'a> {
    host: &'a Host,
    pub(crate) client: &'a reqwest::Client,
    first_contact: Option<FirstContact<'a>>,
    // Dropped last, in this order: the lane count, then the permits.
    _lane: LaneSlot<'a>,
    _host: Permit<'a>,
    _global: Permit<'a>,
}

impl Slot<'_> {
    /// Response headers (or a failure) arrived: if this was the lane's first contact, the
    /// requests waiting for it go now; if they came over HTTP/2, the host takes its full share
    /// of the run from now on.
    pub(crate) fn answered(&mut self, response: Option<&reqwest::Response>) {
        if let Some(first) = self.first_contact.take() {
            first.connected();
        }
        let multiplexed = response.is_some_and(|r| r.version() == reqwest::Version::HTTP_2);
        if multiplexed && !self.host.multiplexed.swap(true, Ordering::AcqRel) {
            self.host.limit.add_places(self.host.widen_by);
        }
    }
}
