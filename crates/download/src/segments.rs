//! Large files fetched as several byte ranges at once.
//!
//! One HTTP/2 stream carries a file at its connection's share of the link, so a 10 MB gem that
//! comes late in the list finishes alone, long after the rest: on the bench's 1 Gbit/s, 50 ms
//! WAN, selenium-webdriver ran 230 ms after every other gem of the Rails set was in. So every
//! download first asks for `bytes=0-(SEGMENT-1)`; when the answer (206) shows a larger file, the
//! rest is asked for in `SEGMENT`-sized ranges, each a transfer of its own: its own slot under
//! `concurrency` and `per_host`, its own lane, its own retries (from the item's budget), written
//! at its offset in the item's one temp file. A server that ignores ranges answers 200, and the
//! file streams whole as before.
//!
//! Gems never change once pushed (RubyGems refuses to overwrite a version), and `If-Range` with
//! the first answer's validator guards against a mirror that breaks that rule: a changed file
//! answers 200, and the download starts over. The SHA-256 is still one pass in file order: the
//! first segment is hashed as it streams, each later one from the page cache as soon as every
//! segment before it is in.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, StreamExt};
use reqwest::header::{self, HeaderValue};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use wow_fetch_client::{
    content_range, AttemptError, Attempts, ContentRange, ErrorKind, NetworkFailure,
};

use crate::limit::Priority;
use crate::progress::Reporter;
use crate::schedule::Slot;
use crate::stream::{Output, Partial, Transfer};

/// Bytes per request. Measured on the bench's WAN (50 ms RTT, the Rails set, in-process
/// download time, 3 runs each): at 100 Mbit/s 256 KiB 2.59–2.64 s, 512 KiB 2.60–2.66 s,
/// 1 MiB 2.69–2.77 s, 2 MiB 2.96–3.10 s, unsplit 2.62–2.90 s; at 1 Gbit/s 256 KiB
/// 1.09–1.12 s, 512 KiB 0.96–1.02 s, 1 MiB 0.96–0.97 s. Smaller segments balance the end of a
/// run across connections; below 512 KiB their extra round trips cost more than that gains.
/// The Rails set's largest gem (9.5 MB) becomes 19 requests.
pub(crate) const SEGMENT: u64 = 512 * 1024;

/// Segments of one file in flight at once, at most; other items take the run's remaining
/// places. Each segment in flight holds a stream's buffers and its share of the connection's
/// flow-control window: with all 64 of the run's places given to one 200 MiB gem, peak memory
/// was 58–80 MB against 41 MB at 16 (bench big-1g, 50 ms, 1 Gbit/s, in-process, 1 run each,
/// 3 at 64). With a bound of 16: 2.9–3.2 s at 35–40 MB; 24: 2.46–2.89 s at 42–49 MB (4 runs);
/// 32: 2.8–2.9 s at 47–56 MB; none: 2.6–2.7 s at 58–80 MB.
const SEGMENTS_IN_FLIGHT: usize = 24;

/// Read size when hashing a finished segment back from the page cache.
const HASH_CHUNK: usize = 256 * 1024;

/// The `Range` of an attempt's first request: the first segment, or everything after the
/// bytes already here when resuming.
pub(crate) fn first_segment(resume_from: Option<u64>) -> String {
    match resume_from {
        Some(offset) => format!("bytes={offset}-"),
        None => format!("bytes=0-{}", SEGMENT - 1),
    }
}

/// The segments after the first, of a file larger than one.
pub(crate) struct Split {
    first: Range<u64>,
    rest: Vec<Range<u64>>,
    total: u64,
}

impl Split {
    /// `None` when the first answer already holds the whole file.
    pub(crate) fn after_first(first: &ContentRange) -> Option<Self> {
        let total = first.total;
        let rest: Vec<_> = (first.end..total)
            .step_by(usize::try_from(SEGMENT).unwrap_or(usize::MAX))
            .map(|start| start..(start + SEGMENT).min(total))
            .collect();
        (!rest.is_empty()).then_some(Self {
            first: first.start..first.end,
            rest,
            total,
        })
    }

    /// Streams the first segment from `response` (its slot is given back when it is in) while
    /// the others are fetched, and hashes them in order. On success `partial` holds the whole
    /// file and its digest.
    pub(crate) async fn fetch(
        self,
        transfer: &Transfer<'_>,
        partial: &mut Partial,
        response: reqwest::Response,
        slot: Slot<'_>,
        reporter: &mut Reporter,
        attempts: &Attempts,
    ) -> Result<(), AttemptError> {
        let Self { first, rest, total } = self;
        let Partial {
            temp,
            out,
            validator,
            ..
        } = partial;
        let path = temp.path().to_owned();
        let segments = Segments {
            transfer,
            path: &path,
            validator: validator.as_ref(),
            reporter: Mutex::new(reporter),
            received: AtomicU64::new(0),
            total,
            attempts,
            in_flight: Semaphore::new(SEGMENTS_IN_FLIGHT - 1),
        };
        let first_end = first.end;
        let mut parts: FuturesOrdered<BoxFuture<'_, Result<Finished, AttemptError>>> =
            FuturesOrdered::new();
        parts.push_back(Box::pin(segments.run(
            first,
            Sink::Borrowed(out),
            Some((response, slot)),
        )));
        for range in rest {
            parts.push_back(Box::pin(segments.run(range, Sink::Lazy(None), None)));
        }
        let mut hasher = None;
        let mut hashed_to = 0;
        while let Some(part) = parts.next().await {
            // An error drops the other segments, and with them their requests.
            match part? {
                Finished::First(first_hasher) => {
                    hasher = Some(first_hasher);
                    hashed_to = first_end;
                }
                Finished::Rest(range) => {
                    let before = hasher
                        .take()
                        .filter(|_| range.start == hashed_to)
                        .ok_or_else(|| out_of_order(&range))?;
                    let after = hash_range(path.clone(), range.clone(), before)
                        .await
                        .map_err(|e| ErrorKind::io("read back", &path, &e))?;
                    hasher = Some(after);
                    hashed_to = range.end;
                }
            }
        }
        drop(parts);
        out.hasher = hasher;
        out.position = hashed_to;
        Ok(())
    }
}

fn out_of_order(range: &Range<u64>) -> ErrorKind {
    ErrorKind::Internal(format!("segment {range:?} came out of order"))
}

/// What a finished segment hands the hashing loop.
enum Finished {
    /// The first segment, hashed as it streamed.
    First(Sha256),
    /// A later one, on disk and flushed, to hash from there.
    Rest(Range<u64>),
}

/// Where a segment writes: the item's own output (the first segment, which also hashes), or a
/// handle of its own on the temp file, opened when its first answer arrives.
enum Sink<'o> {
    Borrowed(&'o mut Output),
    Lazy(Option<Box<Output>>),
}

impl Sink<'_> {
    fn position(&self, start: u64) -> u64 {
        match self {
            Self::Borrowed(out) => out.position,
            Self::Lazy(out) => out.as_ref().map_or(start, |out| out.position),
        }
    }

    fn output(&mut self, path: &Path, range: &Range<u64>) -> io::Result<&mut Output> {
        match self {
            Self::Borrowed(out) => Ok(out),
            Self::Lazy(out) => {
                if out.is_none() {
                    // A plain blocking open, like the temp file's create: one short syscall.
                    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
                    file.seek(SeekFrom::Start(range.start))?;
                    let file = tokio::fs::File::from_std(file);
                    *out = Some(Box::new(Output::new(
                        file,
                        path,
                        range.start,
                        Some(range.end),
                    )));
                }
                out.as_deref_mut()
                    .ok_or_else(|| io::Error::other("segment output missing"))
            }
        }
    }
}

/// What the segments of one attempt share; all of them run inside the job's task.
struct Segments<'s, 't> {
    transfer: &'s Transfer<'t>,
    path: &'s Path,
    validator: Option<&'s HeaderValue>,
    reporter: Mutex<&'s mut Reporter>,
    /// Bytes received by every segment of this attempt, for progress events.
    received: AtomicU64,
    total: u64,
    attempts: &'s Attempts,
    /// Places for the later segments; the first holds one from the start (see
    /// [`SEGMENTS_IN_FLIGHT`]). Any segment that ends frees one, whatever its order.
    in_flight: Semaphore,
}

impl<'s> Segments<'s, '_> {
    /// One segment to the end: its requests (a ranged GET, resumed where a failure cut it),
    /// with the item's retry budget.
    async fn run(
        &self,
        range: Range<u64>,
        mut sink: Sink<'_>,
        mut answered: Option<(reqwest::Response, Slot<'_>)>,
    ) -> Result<Finished, AttemptError> {
        // The first segment is already answered and needs no place; the semaphore is never
        // closed, so a failed acquire cannot happen and would only lift the bound.
        let _place = match answered {
            Some(_) => None,
            None => self.in_flight.acquire().await.ok(),
        };
        loop {
            let result = match answered.take() {
                Some((response, slot)) => self.stream(response, slot, &range, &mut sink).await,
                None => self.request(&range, &mut sink).await,
            };
            let error = match result {
                Ok(()) => break,
                Err(error) => error,
            };
            let received = self.received.load(Ordering::Relaxed);
            let wait = self.attempts.retry(error, |next, failure| {
                self.lock_reporter()
                    .retrying(received, Some(self.total), next, failure);
            })?;
            tokio::time::sleep(wait).await;
        }
        Ok(match sink {
            Sink::Borrowed(out) => Finished::First(out.hasher.take().ok_or_else(|| {
                ErrorKind::Internal("the first segment has no hasher".to_owned())
            })?),
            Sink::Lazy(_) => Finished::Rest(range),
        })
    }

    /// Asks for what is missing of `range`, then streams it.
    async fn request(&self, range: &Range<u64>, sink: &mut Sink<'_>) -> Result<(), AttemptError> {
        let mut slot = self.transfer.context.slot(Priority::Urgent).await;
        let from = sink.position(range.start);
        let mut request = self
            .transfer
            .request(slot.client)
            .header(header::RANGE, format!("bytes={from}-{}", range.end - 1));
        if let Some(validator) = self.validator {
            request = request.header(header::IF_RANGE, validator);
        }
        let response = self.transfer.send(request, &mut slot).await?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let expected = ContentRange {
                    start: from,
                    end: range.end,
                    total: self.total,
                };
                if content_range(response.headers()) != Some(expected) {
                    return Err(self.restart("206 for a range we did not ask"));
                }
                self.stream(response, slot, range, sink).await
            }
            // The file is not the one the first answer described (If-Range failed), or the
            // server stopped honouring ranges: only a fresh download can be trusted.
            StatusCode::OK | StatusCode::RANGE_NOT_SATISFIABLE => {
                Err(self.restart("the file changed on the server while it was fetched in parts"))
            }
            status => Err(self.transfer.status_error(status, response.headers())),
        }
    }

    async fn stream(
        &self,
        response: reqwest::Response,
        slot: Slot<'_>,
        range: &Range<u64>,
        sink: &mut Sink<'_>,
    ) -> Result<(), AttemptError> {
        let out = sink
            .output(self.path, range)
            .map_err(|e| ErrorKind::io("open", self.path, &e))?;
        let attempt = self.attempts.count();
        let result = self
            .transfer
            .stream_body(response, out, &mut |bytes| {
                let received = self.received.fetch_add(bytes, Ordering::Relaxed) + bytes;
                self.lock_reporter()
                    .progress(received, Some(self.total), attempt);
            })
            .await;
        drop(slot);
        result
    }

    /// A failure no retry of this segment can mend: the attempt ends, and the item's next
    /// attempt (if its budget allows) starts from scratch.
    fn restart(&self, detail: &str) -> AttemptError {
        AttemptError {
            kind: self.transfer.network(NetworkFailure::Protocol, detail),
            retry_after: None,
            restart: true,
        }
    }

    fn lock_reporter(&self) -> std::sync::MutexGuard<'_, &'s mut Reporter> {
        // Never held across an await; a panic while holding it fails the job anyway.
        self.reporter.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Feeds `range` of the file at `path` to `hasher`, on the blocking pool.
async fn hash_range(path: PathBuf, range: Range<u64>, mut hasher: Sha256) -> io::Result<Sha256> {
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::Start(range.start))?;
        let mut left = range.end - range.start;
        let mut buffer = vec![0u8; HASH_CHUNK];
        while left > 0 {
            let want = usize::try_from(left.min(HASH_CHUNK as u64)).unwrap_or(HASH_CHUNK);
            let read = file.read(&mut buffer[..want])?;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "segment shorter on disk than received",
                ));
            }
            hasher.update(&buffer[..read]);
            left -= read as u64;
        }
        Ok(hasher)
    })
    .await
    .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(end: u64, total: u64) -> ContentRange {
        ContentRange {
            start: 0,
            end,
            total,
        }
    }

    #[test]
    fn a_file_within_one_segment_is_not_split() {
        assert!(Split::after_first(&first(500, 500)).is_none());
        assert!(Split::after_first(&first(SEGMENT, SEGMENT)).is_none());
    }

    #[test]
    fn the_rest_comes_in_segments_that_cover_it_exactly() {
        let split = Split::after_first(&first(SEGMENT, 3 * SEGMENT + 7)).expect("split");
        assert_eq!(split.first, 0..SEGMENT);
        assert_eq!(
            split.rest,
            vec![
                SEGMENT..2 * SEGMENT,
                2 * SEGMENT..3 * SEGMENT,
                3 * SEGMENT..3 * SEGMENT + 7
            ]
        );
        assert_eq!(first_segment(None), format!("bytes=0-{}", SEGMENT - 1));
        assert_eq!(first_segment(Some(42)), "bytes=42-");
    }
}
