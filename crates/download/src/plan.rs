//! From a list of items to a set of jobs: duplicates merged, limits per host prepared, every
//! job run under the global and per-host limits, outcomes put back in input order.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use wow_fetch_cache::sweep_orphaned_temp_files;
use wow_fetch_client::{ErrorKind, Pool};
use wow_fetch_gem::Item;

use crate::context::JobContext;
use crate::event::{Event, Outcome};
use crate::internal::InternalError;
use crate::job::{self, JobResult};
use crate::options::RunOptions;
use crate::progress::{self, Report, Reporter};
use crate::schedule::Schedule;

/// One unique item and the input positions that asked for it.
struct Job {
    item: Item,
    indices: Arc<[usize]>,
}

pub(crate) struct Plan {
    jobs: Vec<Job>,
    count: usize,
}

impl Plan {
    /// Merges duplicates: each unique item becomes one job, with every position that asked
    /// for it.
    pub(crate) fn new(items: Vec<Item>) -> Self {
        let count = items.len();
        let mut positions: HashMap<Item, Vec<usize>> = HashMap::new();
        let mut order = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            positions
                .entry(item)
                .or_insert_with_key(|item| {
                    order.push(item.clone());
                    Vec::new()
                })
                .push(index);
        }
        let jobs = order
            .into_iter()
            .map(|item| {
                let indices = positions.remove(&item).unwrap_or_default().into();
                Job { item, indices }
            })
            .collect();
        Self { jobs, count }
    }

    /// Runs every job and returns one outcome per input position, in input order.
    ///
    /// # Errors
    /// [`InternalError`] when a job's task or the event aggregator died (a panic): the outcomes
    /// would be incomplete, or events lost with no terminal event, so the call must fail
    /// loudly rather than report "cancelled" or nothing (issue 15).
    pub(crate) async fn execute(
        self,
        pool: Pool,
        options: Arc<RunOptions>,
        events: mpsc::Sender<Event>,
        cancel: CancellationToken,
    ) -> Result<Vec<Outcome>, InternalError> {
        self.execute_with(pool, options, events, cancel, progress::aggregate)
            .await
    }

    /// [`Plan::execute`] with the task that turns reports into events given, so a test can
    /// make it fail.
    async fn execute_with<A, F>(
        self,
        pool: Pool,
        options: Arc<RunOptions>,
        events: mpsc::Sender<Event>,
        cancel: CancellationToken,
        aggregate: A,
    ) -> Result<Vec<Outcome>, InternalError>
    where
        A: FnOnce(mpsc::UnboundedReceiver<Report>, mpsc::Sender<Event>, usize) -> F,
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Some(dest) = &options.dest {
            sweep_orphaned_temp_files(dest).await;
        }
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let aggregator = tokio::spawn(aggregate(reports_rx, events, self.count));
        let schedule = Arc::new(Schedule::new(pool, &options));
        let mut tasks = JoinSet::new();
        for (job_id, job) in self.jobs.into_iter().enumerate() {
            let reporter = Reporter::new(
                job_id,
                Arc::clone(&job.indices),
                job.item.full_name().into(),
                options.progress_interval,
                reports_tx.clone(),
            );
            let context = JobContext {
                host: schedule.host(&job.item),
                schedule: Arc::clone(&schedule),
                options: Arc::clone(&options),
                cancel: cancel.clone(),
            };
            let indices = Arc::clone(&job.indices);
            tasks.spawn(async move {
                let result = AssertUnwindSafe(job::run(job.item, context, reporter))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| JobResult::failed(internal_error(&*panic)));
                (indices, result)
            });
        }
        drop(reports_tx);

        let mut outcomes: Vec<Option<Outcome>> = (0..self.count).map(|_| None).collect();
        let mut lost = None;
        while let Some(joined) = tasks.join_next().await {
            // Job tasks catch their own panics and are never aborted: a join error is a bug
            // (or a runtime torn down under the run), and its items would have no outcome.
            match joined {
                Ok((indices, result)) => {
                    for &index in indices.iter() {
                        outcomes[index] = Some(result.outcome(index));
                    }
                }
                Err(error) => lost = Some(format!("a job's task ended without a result: {error}")),
            }
        }
        // Every job has reported; the aggregator ends once it forwarded the last event. If it
        // died instead, events (terminal ones included) were lost.
        if let Err(error) = aggregator.await {
            return Err(if error.is_panic() {
                InternalError::from_panic("the event aggregator", &*error.into_panic())
            } else {
                InternalError(format!("the event aggregator ended early: {error}"))
            });
        }
        if let Some(lost) = lost {
            return Err(InternalError(lost));
        }
        outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                outcome.ok_or_else(|| InternalError(format!("no outcome for item {index}")))
            })
            .collect()
    }
}

fn internal_error(panic: &(dyn std::any::Any + Send)) -> ErrorKind {
    ErrorKind::Internal(InternalError::from_panic("the job", panic).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str) -> Item {
        Item::new(
            name,
            "1.0",
            None,
            None,
            &format!("https://h.test/gems/{name}-1.0.gem"),
        )
        .expect("valid")
    }

    #[test]
    fn duplicates_become_one_job_with_every_position() {
        let items = vec![item("a"), item("b"), item("a"), item("a")];
        let plan = Plan::new(items);
        assert_eq!(plan.count, 4);
        assert_eq!(plan.jobs.len(), 2);
        assert_eq!(&*plan.jobs[0].indices, &[0, 2, 3]);
        assert_eq!(&*plan.jobs[1].indices, &[1]);
    }

    /// Issue 15: a dead aggregator was ignored and the run returned what it had; it must
    /// fail the run as an internal error instead.
    #[tokio::test]
    async fn a_panicking_aggregator_fails_the_run() {
        let pool = Pool::build(&wow_fetch_client::ClientOptions::default()).expect("pool");
        let dir = tempfile::tempdir().expect("tempdir");
        let options = RunOptions::new(dir.path());
        let plan = Plan::new(vec![]);
        let (events, _rx) = mpsc::channel(8);
        let result = plan
            .execute_with(
                pool,
                Arc::new(options),
                events,
                CancellationToken::new(),
                |_, _, _| async { panic!("lost the events") },
            )
            .await;
        let error = result.expect_err("an internal error");
        assert_eq!(
            error.to_string(),
            "internal error: the event aggregator panicked: lost the events"
        );
    }
}
