//! One unique item from start to finish: cache lookup, attempts with retries, verification,
//! publication into the cache and `dest`, and exactly one terminal event per input position.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wow_fetch_cache::{cache_path, place_in_dest, EntryLock, TempFile};
use wow_fetch_client::{AttemptError, Attempts, Error, ErrorKind};
use wow_fetch_gem::{Item, Sha256Digest};

use crate::context::JobContext;
use crate::event::{EventKind, Outcome, Status};
use crate::limit::Priority;
use crate::options::RunOptions;
use crate::progress::Reporter;
use crate::stream::{Partial, Transfer};
use crate::transfer;
use crate::verify::digest_file;

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

impl JobResult {
    pub(crate) fn outcome(&self, index: usize) -> Outcome {
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
    // The entry's lock is taken before any slot, so a transfer never waits on the disk; the
    // schedule bounds how many locks (and files) a run holds at once.
    let (_open, _lock) = loop {
        let open = context
            .schedule
            .open_entry(&context.host)
            .await
            .map_err(|_| (ErrorKind::Cancelled, 0))?;
        let lock = EntryLock::try_acquire(&entry)
            .await
            .map_err(|e| (ErrorKind::io("lock", &entry, &e), 0))?;
        if let Some(lock) = lock {
            // Another thread or process may have fetched it while we queued; under the lock
            // nobody can be halfway through writing it.
            if let Some(done) = from_cache(item, &entry, options).await? {
                return Ok(done);
            }
            break (open, lock);
        }
        // Someone else is fetching this entry. Wait for them without holding our place
        // (holding it while waiting could starve this run), then look again.
        drop(open);
        EntryLock::wait_until_free(&entry)
            .await
            .map_err(|e| (ErrorKind::io("lock", &entry, &e), 0))?;
    };
    let transfer = Transfer {
        context,
        item,
        cache_path: &entry,
    };
    let attempts = Attempts::first(options.retry, started);
    let (temp, sha256, bytes) = download(item, &transfer, reporter, &attempts).await?;
    let attempts = attempts.count();
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

/// Attempts until a verified file is in hand or retries run out; each attempt takes a slot
/// of its own, so a backoff holds none. `started` is reported once the first slot is taken:
/// items waiting for one are queued, not started.
async fn download(
    item: &Item,
    transfer: &Transfer<'_>,
    reporter: &mut Reporter,
    attempts: &Attempts,
) -> Result<(TempFile, Sha256Digest, u64), Failure> {
    let mut partial: Option<Partial> = None;
    let mut checksum_retried = false;
    let mut slot = transfer.context.slot(Priority::Normal).await;
    reporter.started(1);
    loop {
        let outcome = transfer::attempt(transfer, &mut partial, reporter, attempts, slot).await;
        let failure = match outcome {
            Ok(()) => {
                let Some((temp, actual, bytes)) = partial.take().and_then(Partial::into_file)
                else {
                    return Err((ErrorKind::Internal("no file".to_owned()), attempts.count()));
                };
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
                            return Err((kind, attempts.count()));
                        }
                        checksum_retried = true;
                        let error = attempts.error(kind);
                        let next = attempts.begin_another();
                        reporter.retrying(0, None, next, error);
                        slot = transfer.context.slot(Priority::Urgent).await;
                        continue;
                    }
                    _ => return Ok((temp, actual, bytes)),
                }
            }
            Err(failure) => failure,
        };
        let received = partial.as_ref().map_or(0, Partial::written);
        let total = partial.as_ref().and_then(Partial::total);
        // A failure that asked for a fresh download got one: its partial file is gone.
        let failure = AttemptError {
            restart: false,
            ..failure
        };
        let wait = attempts
            .retry(failure, |next, error| {
                reporter.retrying(received, total, next, error);
            })
            .map_err(|failure| (failure.kind, attempts.count()))?;
        tokio::time::sleep(wait).await;
        // A retry is work under way: it goes before items not yet begun.
        slot = transfer.context.slot(Priority::Urgent).await;
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
