//! The public entry point: a `Fetcher` owns a runtime and a connection pool; each call to
//! [`Fetcher::start`] is a [`Run`] whose events the caller drains on its own thread.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

use crate::client::{build_lanes, ClientError};
use crate::error::{InputError, InternalError};
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
        let (lanes, connect_timeout) = self.lanes_for(client_options)?;
        let cancel = CancellationToken::new();
        let (events_tx, events_rx) = mpsc::channel(EVENT_BUFFER);
        let (outcomes_tx, outcomes_rx) = oneshot::channel();
        let run_cancel = cancel.clone();
        self.runtime.spawn(async move {
            let execute = plan.execute(
                lanes,
                Arc::new(options),
                events_tx,
                run_cancel,
                connect_timeout,
            );
            let outcomes = AssertUnwindSafe(execute)
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(InternalError::from_panic("the run", &*panic)));
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
    /// As [`Fetcher::start`], and `StartError::Internal` as [`Run::wait`].
    pub fn download_all(
        &self,
        items: Vec<Item>,
        options: RunOptions,
    ) -> Result<Vec<Outcome>, StartError> {
        Ok(self.start(items, options, None)?.wait()?)
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
        self.resolve_with(requests, options, None)
    }

    /// [`Fetcher::resolve`] with this call's client options: when they differ from the
    /// pool's, the index is fetched over a pool of their own (as [`Fetcher::start`] does), so a
    /// per-call `ca_file`, `http1_only` or `connect_timeout` applies to the resolve too.
    ///
    /// # Errors
    /// As [`Fetcher::resolve`], and `ResolveError::Client` when that pool cannot be built.
    pub fn resolve_with(
        &self,
        requests: &[GemRequest],
        options: &ResolveOptions,
        client_options: Option<&ClientOptions>,
    ) -> Result<Vec<Item>, ResolveError> {
        let (lanes, connect_timeout) = self
            .lanes_for(client_options)
            .map_err(|e| ResolveError::Client(e.to_string()))?;
        crate::resolve::resolve(&self.runtime, &lanes[0], connect_timeout, requests, options)
    }

    /// The pool for a call: this `Fetcher`'s, or a fresh one when `client_options` differ.
    fn lanes_for(
        &self,
        client_options: Option<&ClientOptions>,
    ) -> Result<(Arc<[reqwest::Client]>, std::time::Duration), ClientError> {
        match client_options {
            Some(custom) if *custom != self.client_options => {
                let _guard = self.runtime.enter();
                Ok((build_lanes(custom)?.into(), custom.connect_timeout))
            }
            _ => Ok((Arc::clone(&self.lanes), self.client_options.connect_timeout)),
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Only from [`Fetcher::download_all`], which also waits for the run: see [`Run::wait`].
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// A run in flight. Its methods block the calling thread and must not be called from inside
/// an async runtime.
pub struct Run {
    events: mpsc::Receiver<Event>,
    outcomes: oneshot::Receiver<Result<Vec<Outcome>, InternalError>>,
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
    ///
    /// # Errors
    /// [`InternalError`] when the run could not give every item its outcome (a panic in the
    /// engine, or its task gone); never fewer outcomes than items.
    pub fn wait(self) -> Result<Vec<Outcome>, InternalError> {
        let Self {
            events, outcomes, ..
        } = self;
        // Dropping the receiver lets the reporter finish even if nobody reads events.
        drop(events);
        // The run task catches its own panics and always sends; only a runtime torn down under
        // it loses the outcomes. Either way the caller must hear of it (issue 15: this used to
        // return an empty list, and `download_all` of N gems returned `[]`).
        outcomes.blocking_recv().unwrap_or_else(|_| {
            Err(InternalError(
                "the run ended without reporting its outcomes".to_owned(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_whose_task_died_is_an_internal_error_not_an_empty_list() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let (_events_tx, events) = mpsc::channel(1);
        let (outcomes_tx, outcomes) = oneshot::channel();
        drop(outcomes_tx);
        let run = Run {
            events,
            outcomes,
            cancel: CancellationToken::new(),
            wake: Arc::new(Notify::new()),
            runtime: runtime.handle().clone(),
        };
        let error = run.wait().expect_err("no outcomes is an error");
        assert_eq!(
            error.to_string(),
            "internal error: the run ended without reporting its outcomes"
        );
    }
}
