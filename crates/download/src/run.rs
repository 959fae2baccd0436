//! A run in flight: its jobs spawned on the caller's runtime, its events drained by the
//! caller on its own thread, its outcomes waited for.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;
use wow_fetch_client::Pool;
use wow_fetch_gem::Item;

use crate::event::{Event, Outcome};
use crate::internal::InternalError;
use crate::options::RunOptions;
use crate::plan::Plan;

/// Events waiting for the caller. Small enough that a stalled consumer throttles only the
/// reporting task (transfers never wait on it), large enough to absorb a burst of 1,000
/// `cached` events between two wake-ups of a Ruby thread.
const EVENT_BUFFER: usize = 4096;

/// Starts fetching `items` on `runtime` over `pool`. Returns at once; drain the [`Run`] for
/// events and outcomes.
#[must_use]
pub fn start(runtime: &Handle, pool: Pool, items: Vec<Item>, options: RunOptions) -> Run {
    let plan = Plan::new(items);
    let cancel = CancellationToken::new();
    let (events_tx, events_rx) = mpsc::channel(EVENT_BUFFER);
    let (outcomes_tx, outcomes_rx) = oneshot::channel();
    let run_cancel = cancel.clone();
    runtime.spawn(async move {
        let execute = plan.execute(pool, Arc::new(options), events_tx, run_cancel);
        let outcomes = AssertUnwindSafe(execute)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(InternalError::from_panic("the run", &*panic)));
        // The caller may have given up on the run; then nobody needs the outcomes.
        let _ = outcomes_tx.send(outcomes);
    });
    Run {
        events: events_rx,
        outcomes: outcomes_rx,
        cancel,
        wake: Arc::new(Notify::new()),
        runtime: runtime.clone(),
    }
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
