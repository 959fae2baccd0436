//! One unique item from start to finish: cache lookup, attempts with retries, verification,
//! publication into the cache and `dest`, and exactly one terminal event per input position.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_util::sync::CancellationToken;

use crate::cache::{cache_path, place_in_dest, EntryLock, TempFile};
use crate::error::{Error, ErrorKind};
use crate::event::{EventKind, Status};
use crate::gate::FirstContact;
use crate::item::{Item, Sha256Digest};
use crate::options::RunOptions;
use crate::plan::Host;
use crate::progress::Reporter;
use crate::retry::{backoff, is_retryable};
use crate::transfer::{Partial, Transfer};
use crate::verify::digest_file;

pub(crate) struct JobContext {
    /// The pool's clients, one per lane; the host's [`crate::gate::Lanes`] picks one.
    pub(crate) lanes: Arc<[reqwest::Client]>,
    pub(crate) options: Arc<RunOptions>,
    pub(crate) global: Arc<Semaphore>,
    pub(crate) host: Arc<Host>,
    pub(crate) cancel: CancellationToken,
    pub(crate) headers: Arc<HeaderMap>,
    /// The pool enforces it on connect; with the read timeout it bounds the wait for headers.
    pub(crate) connect_timeout: Duration,
}

/// What happened to one unique item; copied into an `Outcome` per input position.
pub(crate) struct JobResult {
    pub(crate) status: Status,
    pub(crate) path: Option<PathBuf>,
    pub(crate) sha256: Option<Sha256Digest>,
    pub(crate) bytes: u64,
    pub(crate) attempts: u32,
    pub(crate) elapsed: Duration,
    pub(crate) error: Option<Error>,
}

/// Runs the job until it succeeds, fails or the run is cancelled. Cancellation drops the
/// work in flight, and with it the temp file.
pub(crate) async fn run(item: Item, context: JobContext, mut reporter: Reporter) -> JobResult {
    let started = Instant::now();
    let cancel = context.cancel.clone();
    let work = fetch(&item, &context, &mut reporter, started);
    let result = tokio::select! {
        biased;
        () = cancel.cancelled() => Err((ErrorKind::Cancelled, 0)),
        result = work => result,
    };
    let elapsed = started.elapsed();
    match result {
        Ok(done) => {
            let kind = if done.status == Status::Cached {
                EventKind::Cached
            } else {
                EventKind::Finished
            };
            reporter.terminal(kind, done.bytes, done.attempts, None);
            JobResult {
                status: done.status,
                path: Some(done.path),
                sha256: Some(done.sha256),
                bytes: done.bytes,
                attempts: done.attempts,
                elapsed,
                error: None,
            }
        }
        Err((kind, attempts)) => {
            let error = Error {
                kind,
                attempts,
                elapsed,
            };
            reporter.terminal(EventKind::Failed, 0, attempts, Some(&error));
            JobResult {
                status: Status::Failed,
                path: None,
                sha256: None,
                bytes: 0,
                attempts,
                elapsed,
                error: Some(error),
            }
        }
    }
}

struct Done {
    status: Status,
    path: PathBuf,
    sha256: Sha256Digest,
    bytes: u64,
    attempts: u32,
}

type Failure = (ErrorKind, u32);

async fn fetch(
    item: &Item,
    context: &JobContext,
    reporter: &mut Reporter,
    started: Instant,
) -> Result<Done, Failure> {
    let options = &context.options;
    let entry = cache_path(&options.cache_dir, item);
    if let Some(done) = from_cache(item, &entry, options).await? {
        return Ok(done);
    }
    let (_global, _host, _lock) = loop {
        let global = acquire(&context.global).await?;
        let host = acquire(&context.host.limit).await?;
        let lock = EntryLock::try_acquire(&entry)
            .await
            .map_err(|e| (ErrorKind::io("lock", &entry, &e), 0))?;
        if let Some(lock) = lock {
            // Another thread or process may have fetched it while we queued; under the lock
            // nobody can be halfway through writing it.
            if let Some(done) = from_cache(item, &entry, options).await? {
                return Ok(done);
            }
            break (global, host, lock);
        }
        // Someone else is fetching this entry. Wait for them without holding our slots
        // (holding them while waiting could deadlock two processes), then look again.
        drop((global, host));
        EntryLock::wait_until_free(&entry)
            .await
            .map_err(|e| (ErrorKind::io("lock", &entry, &e), 0))?;
    };
    let lane = context.host.lanes.take();
    let first_contact = lane.pass().await;
    let transfer = Transfer {
        client: &context.lanes[lane.index % context.lanes.len()],
        item,
        headers: &context.headers,
        cache_path: &entry,
        connect_timeout: context.connect_timeout,
        read_timeout: options.read_timeout,
    };
    let (temp, sha256, bytes, attempts) =
        attempts(item, &transfer, context, reporter, first_contact, started).await?;
    temp.persist(&entry)
        .map_err(|e| (ErrorKind::io("rename into", &entry, &e), attempts))?;
    let path = publish(&entry, item, options)
        .await
        .map_err(|kind| (kind, attempts))?;
    Ok(Done {
        status: Status::Downloaded,
        path,
        sha256,
        bytes,
        attempts,
    })
}

async fn acquire(limit: &Semaphore) -> Result<SemaphorePermit<'_>, Failure> {
    limit.acquire().await.map_err(|_| (ErrorKind::Cancelled, 0))
}

/// Attempts until a verified file is in hand or retries run out.
async fn attempts(
    item: &Item,
    transfer: &Transfer<'_>,
    context: &JobContext,
    reporter: &mut Reporter,
    mut first_contact: Option<FirstContact<'_>>,
    started: Instant,
) -> Result<(TempFile, Sha256Digest, u64, u32), Failure> {
    let options = &context.options;
    let mut partial: Option<Partial> = None;
    let mut attempt = 0u32;
    let mut retries_used = 0u32;
    let mut checksum_retried = false;
    reporter.started(1);
    loop {
        attempt += 1;
        let outcome = transfer
            .attempt(&mut partial, reporter, attempt, || {
                if let Some(first) = first_contact.take() {
                    first.connected();
                }
            })
            .await;
        let (kind, retry_after) = match outcome {
            Ok(()) => {
                let Some(done) = partial.take() else {
                    return Err((ErrorKind::Internal("no file".to_owned()), attempt));
                };
                let (temp, actual, bytes) = done.into_file();
                match item.sha256() {
                    Some(expected) if expected != actual => {
                        // The bad bytes go now (the temp file is dropped), and the next
                        // attempt starts from scratch: retry a mismatch once, because a
                        // proxy that cut a response short and padded it looks the same.
                        drop(temp);
                        let kind = ErrorKind::ChecksumMismatch {
                            url: item.display_url(),
                            expected,
                            actual,
                        };
                        if checksum_retried {
                            return Err((kind, attempt));
                        }
                        checksum_retried = true;
                        (kind, None)
                    }
                    _ => return Ok((temp, actual, bytes, attempt)),
                }
            }
            Err(failure) => {
                if !is_retryable(&failure.kind) || retries_used >= options.retries {
                    return Err((failure.kind, attempt));
                }
                retries_used += 1;
                (failure.kind, failure.retry_after)
            }
        };
        let received = partial.as_ref().map_or(0, Partial::written);
        let total = partial.as_ref().and_then(Partial::total);
        let error = Error {
            kind,
            attempts: attempt,
            elapsed: started.elapsed(),
        };
        reporter.retrying(received, total, attempt + 1, error);
        let wait = match retry_after {
            Some(asked) => asked.min(options.max_retry_after),
            None => backoff(options.backoff_base, retries_used.max(1)),
        };
        tokio::time::sleep(wait).await;
    }
}

/// A cached entry is used when it exists and, if the item has an expected digest, matches
/// it; otherwise it is fetched again (and replaced).
async fn from_cache(
    item: &Item,
    entry: &Path,
    options: &RunOptions,
) -> Result<Option<Done>, Failure> {
    if !tokio::fs::metadata(entry).await.is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    let Ok((sha256, bytes)) = digest_file(entry).await else {
        return Ok(None);
    };
    if item.sha256().is_some_and(|expected| expected != sha256) {
        return Ok(None);
    }
    let path = publish(entry, item, options)
        .await
        .map_err(|kind| (kind, 0))?;
    Ok(Some(Done {
        status: Status::Cached,
        path,
        sha256,
        bytes,
        attempts: 0,
    }))
}

/// The path the user gets: the file in `dest` when given, else the cache entry.
async fn publish(entry: &Path, item: &Item, options: &RunOptions) -> Result<PathBuf, ErrorKind> {
    match &options.dest {
        None => Ok(entry.to_owned()),
        Some(dest) => place_in_dest(entry, dest, &item.file_name())
            .await
            .map_err(|e| ErrorKind::io("place into", dest.join(item.file_name()), &e)),
    }
}
