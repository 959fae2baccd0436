//! From a list of items to a set of jobs: duplicates merged, limits per host prepared, every
//! job run under the global and per-host limits, outcomes put back in input order.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cache::sweep_orphaned_temp_files;
use crate::error::{Error, ErrorKind, InputError, InternalError};
use crate::event::{Event, Outcome, Status};
use crate::gate::Lanes;
use crate::item::Item;
use crate::job::{self, JobContext, JobResult};
use crate::limit::Limit;
use crate::options::RunOptions;
use crate::progress::{self, Report, Reporter};

/// One unique item and the input positions that asked for it.
struct Job {
    item: Item,
    indices: Arc<[usize]>,
}

pub(crate) struct Plan {
    jobs: Vec<Job>,
    count: usize,
    headers: Arc<HeaderMap>,
}

impl Plan {
    /// # Errors
    /// Options that make no sense, found before any traffic.
    pub(crate) fn new(items: Vec<Item>, options: &RunOptions) -> Result<Self, InputError> {
        if options.concurrency == 0 {
            return Err(InputError::BadOption {
                option: "concurrency",
                reason: "must be a positive integer".to_owned(),
            });
        }
        if options.per_host == Some(0) {
            return Err(InputError::BadOption {
                option: "per_host",
                reason: "must be a positive integer".to_owned(),
            });
        }
        let headers = Arc::new(request_headers(&options.headers)?);
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
        Ok(Self {
            jobs,
            count,
            headers,
        })
    }

    /// Runs every job and returns one outcome per input position, in input order.
    ///
    /// # Errors
    /// [`InternalError`] when a job's task or the event aggregator died (a panic): the outcomes
    /// would be incomplete, or events lost with no terminal event, so the call must fail
    /// loudly rather than report "cancelled" or nothing (issue 15).
    pub(crate) async fn execute(
        self,
        lanes: Arc<[reqwest::Client]>,
        options: Arc<RunOptions>,
        events: mpsc::Sender<Event>,
        cancel: CancellationToken,
        connect_timeout: Duration,
    ) -> Result<Vec<Outcome>, InternalError> {
        self.execute_with(
            lanes,
            options,
            events,
            cancel,
            connect_timeout,
            progress::aggregate,
        )
        .await
    }

    /// [`Plan::execute`] with the task that turns reports into events given, so a test can
    /// make it fail.
    async fn execute_with<A, F>(
        self,
        lanes: Arc<[reqwest::Client]>,
        options: Arc<RunOptions>,
        events: mpsc::Sender<Event>,
        cancel: CancellationToken,
        connect_timeout: Duration,
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
        let global = Arc::new(Limit::new(options.concurrency));
        let open_entries = Arc::new(Semaphore::new(
            options
                .concurrency
                .saturating_mul(job::OPEN_ENTRIES_PER_SLOT),
        ));
        let per_host = options.per_host.unwrap_or(options.concurrency);
        // No more lanes than transfers that may be in flight to a host at once.
        let lane_count = lanes.len().min(per_host.min(options.concurrency));
        let open_per_host = per_host
            .min(options.concurrency)
            .saturating_mul(job::OPEN_ENTRIES_PER_SLOT);
        let mut hosts: HashMap<String, Arc<Host>> = HashMap::new();
        let mut tasks = JoinSet::new();
        for (job_id, job) in self.jobs.into_iter().enumerate() {
            let host = Arc::clone(
                hosts
                    .entry(host_key(&job.item))
                    .or_insert_with(|| Arc::new(Host::new(per_host, lane_count, open_per_host))),
            );
            let reporter = Reporter::new(
                job_id,
                Arc::clone(&job.indices),
                job.item.full_name().into(),
                options.progress_interval,
                reports_tx.clone(),
            );
            let context = JobContext {
                lanes: Arc::clone(&lanes),
                options: Arc::clone(&options),
                global: Arc::clone(&global),
                open_entries: Arc::clone(&open_entries),
                host,
                cancel: cancel.clone(),
                headers: Arc::clone(&self.headers),
                connect_timeout,
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

/// Extra request headers, checked before any traffic so a typo is an error, not a silently
/// dropped header.
pub(crate) fn request_headers(extra: &[(String, String)]) -> Result<HeaderMap, InputError> {
    let mut headers = HeaderMap::new();
    for (name, value) in extra {
        let bad = |reason: &str| InputError::BadOption {
            option: "headers",
            reason: format!("{name:?}: {reason}"),
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("not a header name"))?;
        let value = HeaderValue::from_str(value).map_err(|_| bad("value is not visible ASCII"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn internal_error(panic: &(dyn std::any::Any + Send)) -> ErrorKind {
    ErrorKind::Internal(InternalError::from_panic("the job", panic).0)
}

/// Connections are pooled per scheme, host and port.
fn host_key(item: &Item) -> String {
    let url = item.url();
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Limits for one host, and its lanes (each with its first-contact gate).
pub(crate) struct Host {
    pub(crate) limit: Limit,
    pub(crate) lanes: Lanes,
    /// The host's share of the run's open entries (see [`job::OPEN_ENTRIES_PER_SLOT`]),
    /// taken before the run's, so one host's queue cannot hold them all.
    pub(crate) open_entries: Semaphore,
}

impl Host {
    fn new(limit: usize, lanes: usize, open_entries: usize) -> Self {
        Self {
            limit: Limit::new(limit),
            lanes: Lanes::new(lanes),
            open_entries: Semaphore::new(open_entries),
        }
    }
}

impl JobResult {
    fn outcome(&self, index: usize) -> Outcome {
        Outcome {
            index,
            status: self.status,
            path: self.path.clone(),
            sha256: self.sha256,
            bytes: self.bytes,
            attempts: self.attempts,
            elapsed: self.elapsed,
            error: self.error.clone(),
        }
    }

    pub(crate) fn failed(kind: ErrorKind) -> Self {
        Self {
            status: Status::Failed,
            path: None,
            sha256: None,
            bytes: 0,
            attempts: 0,
            elapsed: Duration::ZERO,
            error: Some(Error {
                kind,
                attempts: 0,
                elapsed: Duration::ZERO,
            }),
        }
    }
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
        let plan = Plan::new(items, &RunOptions::new("/tmp/x")).expect("valid plan");
        assert_eq!(plan.count, 4);
        assert_eq!(plan.jobs.len(), 2);
        assert_eq!(&*plan.jobs[0].indices, &[0, 2, 3]);
        assert_eq!(&*plan.jobs[1].indices, &[1]);
    }

    #[test]
    fn zero_concurrency_is_refused() {
        let mut options = RunOptions::new("/tmp/x");
        options.concurrency = 0;
        assert!(Plan::new(vec![], &options).is_err());
        options.concurrency = 1;
        options.per_host = Some(0);
        assert!(Plan::new(vec![], &options).is_err());
    }

    #[test]
    fn bad_headers_are_refused() {
        let mut options = RunOptions::new("/tmp/x");
        options.headers = vec![("X-Ok".into(), "fine".into())];
        assert!(Plan::new(vec![], &options).is_ok());
        options.headers = vec![("Bad Name".into(), "v".into())];
        assert!(Plan::new(vec![], &options).is_err());
        options.headers = vec![("X-Ok".into(), "line\nbreak".into())];
        assert!(Plan::new(vec![], &options).is_err());
    }

    /// Issue 15: a dead aggregator was ignored and the run returned what it had; it must
    /// fail the run as an internal error instead.
    #[tokio::test]
    async fn a_panicking_aggregator_fails_the_run() {
        let lanes: Arc<[reqwest::Client]> = vec![reqwest::Client::new()].into();
        let dir = tempfile::tempdir().expect("tempdir");
        let options = RunOptions::new(dir.path());
        let plan = Plan::new(vec![], &options).expect("plan");
        let (events, _rx) = mpsc::channel(8);
        let result = plan
            .execute_with(
                lanes,
                Arc::new(options),
                events,
                CancellationToken::new(),
                Duration::from_secs(1),
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
