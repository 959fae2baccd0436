//! The public entry point: a `Fetcher` owns a runtime and a connection pool; each call to
//! [`Fetcher::start`] is a [`Run`] whose events the caller drains on its own thread.

use std::sync::Arc;

use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

use crate::client::{build_lanes, ClientError};
use crate::error::InputError;
use crate::event::{Event, Outcome};
use crate::item::Item;
use crate::options::{ClientOptions, RunOptions};
use crate::plan::Plan;
use crate::resolve::{GemRequest, ResolveError, ResolveOptions};

/// Events waiting for the caller. Small enough that a stalled consumer throttles only the
/// reporting task (transfers never wait on it), large enough to absorb a burst of 1,000
/// `cached` events between two wake-ups of a Ruby thread.
const EVENT_BUFFER: usize = 4096;

/// Why a `Fetcher` could not be built.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// One pool of connections (HTTP/2 multiplexed where offered, keep-alive and TLS session
/// reuse otherwise) and the runtime that drives it. Cheap to share behind an `Arc`; several
/// runs may be in flight at once.
pub struct Fetcher {
    runtime: Runtime,
    /// One client per lane (see [`crate::client::LANES`]); never empty.
    lanes: Arc<[reqwest::Client]>,
    client_options: ClientOptions,
}

impl Fetcher {
    /// # Errors
    /// When the runtime cannot start or the CA bundle cannot be read.
    pub fn new(client_options: ClientOptions) -> Result<Self, InitError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            // Transfers are I/O bound; two workers keep hashing off the critical path on a
            // small machine without oversubscribing a big one.
            .worker_threads(2)
            .thread_name("wow-fetch")
            .enable_all()
            .build()
            .map_err(InitError::Runtime)?;
        let lanes = {
            let _guard = runtime.enter();
            build_lanes(&client_options)?.into()
        };
        Ok(Self {
            runtime,
            lanes,
            client_options,
        })
    }

    #[must_use]
    pub fn client_options(&self) -> &ClientOptions {
        &self.client_options
    }

    /// Starts fetching `items`. Returns at once; drain the [`Run`] for events and outcomes.
    /// `client_options` different from the pool's get a fresh pool for this run only.
    ///
    /// # Errors
    /// Invalid options (before any traffic), or a CA bundle that cannot be read.
    pub fn start(
        &self,
        items: Vec<Item>,
        options: RunOptions,
        client_options: Option<&ClientOptions>,
    ) -> Result<Run, StartError> {
        let plan = Plan::new(items, &options)?;
        let (lanes, connect_timeout) = match client_options {
            Some(custom) if *custom != self.client_options => {
                let _guard = self.runtime.enter();
                (build_lanes(custom)?.into(), custom.connect_timeout)
            }
            _ => (Arc::clone(&self.lanes), self.client_options.connect_timeout),
        };
        let cancel = CancellationToken::new();
        let (events_tx, events_rx) = mpsc::channel(EVENT_BUFFER);
        let (outcomes_tx, outcomes_rx) = oneshot::channel();
        let run_cancel = cancel.clone();
        self.runtime.spawn(async move {
            let outcomes = plan
                .execute(
                    lanes,
                    Arc::new(options),
                    events_tx,
                    run_cancel,
                    connect_timeout,
                )
                .await;
            // The caller may have given up on the run; then nobody needs the outcomes.
            let _ = outcomes_tx.send(outcomes);
        });
        Ok(Run {
            events: events_rx,
            outcomes: outcomes_rx,
            cancel,
            wake: Arc::new(Notify::new()),
            runtime: self.runtime.handle().clone(),
        })
    }

    /// Fetches everything and returns the outcomes, dropping events. Blocks the thread.
    ///
    /// # Errors
    /// As [`Fetcher::start`].
    pub fn download_all(
        &self,
        items: Vec<Item>,
        options: RunOptions,
    ) -> Result<Vec<Outcome>, StartError> {
        Ok(self.start(items, options, None)?.wait())
    }

    /// Resolves `requests` and their runtime dependencies through the source's compact index
    /// over this pool, and returns the gems to fetch: requested gems first, then dependencies
    /// by name, each with its SHA-256 from the index. Blocks the thread (not from inside an
    /// async runtime); `options.cancel` stops it.
    ///
    /// # Errors
    /// Bad options (before any traffic), an unknown requested gem, an index that cannot be
    /// fetched, or a [`ResolveError::Conflict`] explaining why no versions fit together.
    pub fn resolve(
        &self,
        requests: &[GemRequest],
        options: &ResolveOptions,
    ) -> Result<Vec<Item>, ResolveError> {
        crate::resolve::resolve(
            &self.runtime,
            &self.lanes[0],
            self.client_options.connect_timeout,
            requests,
            options,
        )
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// A run in flight. Its methods block the calling thread and must not be called from inside
/// an async runtime.
pub struct Run {
    events: mpsc::Receiver<Event>,
    outcomes: oneshot::Receiver<Vec<Outcome>>,
    cancel: CancellationToken,
    wake: Arc<Notify>,
    runtime: Handle,
}

/// Makes a waiting [`Run::next_batch`] return at once, without stopping anything: for a Ruby
/// unblock function, which runs for every interrupt, including a trapped signal that raises
/// nothing and after which the run must simply go on.
#[derive(Clone)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        // A stored permit (when nobody is waiting yet) only makes the next wait return early.
        self.0.notify_one();
    }
}

impl Run {
    /// A handle that stops every transfer of this run (within milliseconds) and removes its
    /// temp files; safe to trigger from any thread, e.g. a Ruby unblock function.
    #[must_use]
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// A handle that interrupts a waiting [`Run::next_batch`]; safe from any thread.
    #[must_use]
    pub fn waker(&self) -> Waker {
        Waker(Arc::clone(&self.wake))
    }

    /// Blocks until at least one event is available (or a [`Waker`] fires, which may leave
    /// `batch` empty), then appends up to `max` events to `batch`. Returns `false` once every
    /// event has been delivered.
    pub fn next_batch(&mut self, batch: &mut Vec<Event>, max: usize) -> bool {
        let (events, wake) = (&mut self.events, &self.wake);
        let received = self.runtime.block_on(async {
            tokio::select! {
                event = events.recv() => Some(event),
                () = wake.notified() => None,
            }
        });
        let first = match received {
            None => return true,
            Some(None) => return false,
            Some(Some(event)) => event,
        };
        batch.push(first);
        while batch.len() < max {
            match self.events.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        true
    }

    /// Waits for the run to end and returns one outcome per input item, in input order.
    /// Undelivered events are dropped. After a cancel, this returns once every temp file of
    /// the run is gone.
    #[must_use]
    pub fn wait(self) -> Vec<Outcome> {
        let Self {
            events, outcomes, ..
        } = self;
        // Dropping the receiver lets the reporter finish even if nobody reads events.
        drop(events);
        // The run task sends before it ends; only a runtime torn down under it (process
        // exit) loses the outcomes, and then there is nobody left to report to.
        outcomes.blocking_recv().unwrap_or_default()
    }
}
