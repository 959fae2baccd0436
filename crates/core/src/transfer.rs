//! One download attempt: the request (resuming when possible), the body streamed to a temp
//! file while hashed, stalls and short bodies detected. When the answer shows a file larger
//! than one segment, the rest is fetched as further segments at once ([`crate::segments`]).
//! Each transfer owns its file handle, buffer and hasher.

use std::path::{Path, PathBuf};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::cache::TempFile;
use crate::error::{ErrorKind, NetworkFailure};
use crate::item::{Item, Sha256Digest};
use crate::job::JobContext;
use crate::progress::Reporter;
use crate::retry::{retry_after, send_error, transport_error, Attempts};
use crate::segments::{first_segment, Split};
use crate::slot::Slot;
use crate::verify;

/// Write buffer per stream: a few network reads' worth, so the file sees few large writes
/// (each tokio file write is a hop to the blocking pool) while sixteen transfers stay ~4 MB.
const WRITE_BUFFER: usize = 256 * 1024;

/// The bytes received so far for an item, kept across attempts so a reset mid-body resumes.
pub(crate) struct Partial {
    pub(crate) temp: TempFile,
    pub(crate) out: Output,
    total: Option<u64>,
    /// A strong ETag or Last-Modified the server gave, usable as `If-Range`.
    pub(crate) validator: Option<HeaderValue>,
    accepts_ranges: bool,
}

/// Where one stream's bytes go: a writer at the stream's place in the temp file, and the
/// file's hasher when the stream runs from byte 0 in order.
pub(crate) struct Output {
    writer: BufWriter<tokio::fs::File>,
    /// The temp file, for error messages.
    path: PathBuf,
    pub(crate) hasher: Option<Sha256>,
    /// Offset of the next byte.
    pub(crate) position: u64,
    /// Where the stream must end (exclusive), when known: the file's size or a segment's end.
    end: Option<u64>,
}

impl Output {
    pub(crate) fn new(file: tokio::fs::File, path: &Path, position: u64, end: Option<u64>) -> Self {
        Self {
            writer: BufWriter::with_capacity(WRITE_BUFFER, file),
            path: path.to_owned(),
            hasher: None,
            position,
            end,
        }
    }
}

impl Partial {
    pub(crate) fn written(&self) -> u64 {
        self.out.position
    }

    pub(crate) fn total(&self) -> Option<u64> {
        self.total
    }

    fn resumable(&self) -> Option<&HeaderValue> {
        // Nothing is left to ask for once every announced byte is here (an h2 stream reset
        // after its last DATA frame): a range from the end would only earn a 416. Issue 8.
        let incomplete = self.total.is_none_or(|total| self.written() < total);
        (self.written() > 0 && self.accepts_ranges && incomplete)
            .then_some(self.validator.as_ref())
            .flatten()
    }

    /// The finished file: flushed, with its digest (`None` if the hasher went missing, which
    /// would be a bug: a digest of nothing must never pass for the file's).
    pub(crate) fn into_file(self) -> Option<(TempFile, Sha256Digest, u64)> {
        let digest = verify::finish(self.out.hasher?);
        Some((self.temp, digest, self.out.position))
    }
}

/// A failed attempt: what happened, and how long the server asked us to wait.
pub(crate) struct AttemptError {
    pub(crate) kind: ErrorKind,
    pub(crate) retry_after: Option<std::time::Duration>,
    /// Retrying this request cannot help, only a fresh download of the item (a segment
    /// answered for a file that is not the one being fetched).
    pub(crate) restart: bool,
}

impl From<ErrorKind> for AttemptError {
    fn from(kind: ErrorKind) -> Self {
        Self {
            kind,
            retry_after: None,
            restart: false,
        }
    }
}

pub(crate) struct Transfer<'a> {
    pub(crate) context: &'a JobContext,
    pub(crate) item: &'a Item,
    pub(crate) cache_path: &'a Path,
}

/// What the first answer of an attempt asks of the rest of it.
enum Body {
    /// The body is the whole file, or the rest of it after a resume.
    Whole,
    /// The body is the first segment of a larger file; the rest comes in segments of its own.
    Split(Split),
}

impl Transfer<'_> {
    /// Runs one attempt in `slot`, continuing `partial` when the server lets us. On success
    /// `partial` holds the complete, flushed file. The slot is given back when the body is in.
    pub(crate) async fn attempt(
        &self,
        partial: &mut Option<Partial>,
        reporter: &mut Reporter,
        attempts: &Attempts,
        mut slot: Slot<'_>,
    ) -> Result<(), AttemptError> {
        let attempt = attempts.count();
        let resume_from = partial.as_ref().and_then(|p| {
            p.resumable()
                .map(|validator| (p.written(), validator.clone()))
        });
        let mut request = self.request(slot.client).header(
            header::RANGE,
            first_segment(resume_from.as_ref().map(|r| r.0)),
        );
        if let Some((_, validator)) = &resume_from {
            request = request.header(header::IF_RANGE, validator);
        }
        let sent = self.send(request).await;
        slot.answered();
        let response = sent?;

        let status = response.status();
        let body = match status {
            StatusCode::PARTIAL_CONTENT if resume_from.is_some() => {
                let offset = resume_from.as_ref().map_or(0, |(offset, _)| *offset);
                if content_range(response.headers()).map(|r| r.start) != Some(offset) {
                    return Err(self
                        .network(NetworkFailure::Protocol, "206 for a range we did not ask")
                        .into());
                }
                let current = partial
                    .as_mut()
                    .ok_or_else(|| ErrorKind::Internal("no file to resume".to_owned()))?;
                current.total = response
                    .content_length()
                    .map(|rest| offset + rest)
                    .or(current.total);
                current.out.end = current.total;
                Body::Whole
            }
            StatusCode::PARTIAL_CONTENT => {
                let Some(range) = content_range(response.headers()).filter(|r| r.start == 0) else {
                    return Err(self
                        .network(NetworkFailure::Protocol, "206 for a range we did not ask")
                        .into());
                };
                // The old file must be gone before the new one takes its (fixed) name.
                drop(partial.take());
                let mut fresh = self.fresh_partial(response.headers(), Some(range.total))?;
                fresh.accepts_ranges = true;
                let body = Split::after_first(&range).map_or(Body::Whole, Body::Split);
                if let Body::Split(_) = body {
                    fresh.out.end = Some(range.end);
                }
                *partial = Some(fresh);
                body
            }
            StatusCode::OK => {
                drop(partial.take());
                *partial = Some(self.fresh_partial(response.headers(), response.content_length())?);
                Body::Whole
            }
            StatusCode::RANGE_NOT_SATISFIABLE if resume_from.is_some() => {
                // Our bytes do not fit the server's file, so they are useless; a 416 is not
                // retryable, but fetching from scratch is the cure. Issue 8: before this, a
                // reset after the last byte failed the item with "HTTP 416".
                drop(partial.take());
                return Err(self
                    .network(NetworkFailure::Protocol, "416 for a resume; starting over")
                    .into());
            }
            StatusCode::RANGE_NOT_SATISFIABLE
                if unsatisfied_length(response.headers()) == Some(0) =>
            {
                // The first segment of an empty file: there is no byte to ask for.
                drop(partial.take());
                *partial = Some(self.fresh_partial(response.headers(), Some(0))?);
                return Ok(());
            }
            _ => return Err(self.status_error(status, response.headers())),
        };
        let Some(current) = partial.as_mut() else {
            return Err(ErrorKind::Internal("no file to write".to_owned()).into());
        };
        match body {
            Body::Whole => {
                let total = current.total;
                let mut received = current.out.position;
                reporter.progress(received, total, attempt);
                let result = self
                    .stream_body(response, &mut current.out, &mut |bytes| {
                        received += bytes;
                        reporter.progress(received, total, attempt);
                    })
                    .await;
                drop(slot);
                result
            }
            Body::Split(split) => {
                let result = split
                    .fetch(self, current, response, slot, reporter, attempts)
                    .await;
                if result.is_err() {
                    // Segments that failed leave holes no single resume can fill.
                    drop(partial.take());
                }
                result
            }
        }
    }

    fn fresh_partial(
        &self,
        headers: &HeaderMap,
        total: Option<u64>,
    ) -> Result<Partial, AttemptError> {
        let (temp, file) = TempFile::create_for_entry(self.cache_path)
            .map_err(|e| ErrorKind::io("create", self.cache_path, &e))?;
        let mut out = Output::new(file, temp.path(), 0, total);
        out.hasher = Some(Sha256::new());
        Ok(Partial {
            temp,
            out,
            total,
            validator: validator(headers),
            accepts_ranges: headers
                .get(header::ACCEPT_RANGES)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"bytes")),
        })
    }

    /// Streams `response` into `out` until the body ends, hashing it when `out` has the
    /// hasher, then flushes. `received` hears of every chunk's size.
    pub(crate) async fn stream_body(
        &self,
        mut response: reqwest::Response,
        out: &mut Output,
        received: &mut (dyn FnMut(u64) + Send),
    ) -> Result<(), AttemptError> {
        let read_timeout = self.context.options.read_timeout;
        loop {
            let chunk = match tokio::time::timeout(read_timeout, response.chunk()).await {
                Err(_) => {
                    let detail = format!(
                        "no data for {}s after {} bytes",
                        read_timeout.as_secs_f64(),
                        out.position
                    );
                    return Err(self.network(NetworkFailure::Timeout, &detail).into());
                }
                Ok(Err(e)) => return Err(self.transport(&e).into()),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            if let Some(hasher) = out.hasher.as_mut() {
                hasher.update(&chunk);
            }
            out.writer
                .write_all(&chunk)
                .await
                .map_err(|e| ErrorKind::io("write", &out.path, &e))?;
            out.position += chunk.len() as u64;
            if out.end.is_some_and(|end| out.position > end) {
                return Err(self
                    .network(NetworkFailure::Protocol, "body longer than Content-Length")
                    .into());
            }
            received(chunk.len() as u64);
        }
        out.writer
            .flush()
            .await
            .map_err(|e| ErrorKind::io("write", &out.path, &e))?;
        if let Some(end) = out.end {
            if out.position < end {
                let detail = format!("got up to byte {} of {end}", out.position);
                return Err(self.network(NetworkFailure::Truncated, &detail).into());
            }
        }
        Ok(())
    }

    pub(crate) fn status_error(&self, status: StatusCode, headers: &HeaderMap) -> AttemptError {
        AttemptError {
            kind: ErrorKind::Http {
                status: status.as_u16(),
                url: self.item.display_url(),
            },
            retry_after: retry_after(status.as_u16(), headers),
            restart: false,
        }
    }

    /// A GET of the item with the run's extra headers.
    pub(crate) fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        client
            .get(self.item.url().clone())
            .headers((*self.context.headers).clone())
    }

    /// Sends `request` and waits for its headers, for at most a connect plus a read budget,
    /// so a server that accepts and then says nothing counts as a stall too.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AttemptError> {
        let budget = self.context.connect_timeout + self.context.options.read_timeout;
        let sent = crate::client::send(request, &self.context.headers);
        match tokio::time::timeout(budget, sent).await {
            Err(_) => Err(self
                .network(NetworkFailure::Timeout, "no response headers")
                .into()),
            Ok(Err(e)) => Err(send_error(&e, self.item.url()).into()),
            Ok(Ok(response)) => Ok(response),
        }
    }

    pub(crate) fn transport(&self, err: &reqwest::Error) -> ErrorKind {
        transport_error(err, self.item.url())
    }

    pub(crate) fn network(&self, failure: NetworkFailure, detail: &str) -> ErrorKind {
        ErrorKind::Network {
            failure,
            url: self.item.display_url(),
            detail: detail.to_owned(),
        }
    }
}

/// Only a strong validator may be used with `If-Range` (RFC 9110 §13.1.5).
fn validator(headers: &HeaderMap) -> Option<HeaderValue> {
    headers
        .get(header::ETAG)
        .filter(|etag| !etag.as_bytes().starts_with(b"W/"))
        .or_else(|| headers.get(header::LAST_MODIFIED))
        .cloned()
}

/// `Content-Range: bytes START-LAST/TOTAL` (RFC 9110 §14.4), as `start..end` of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub(crate) start: u64,
    /// Exclusive.
    pub(crate) end: u64,
    pub(crate) total: u64,
}

pub(crate) fn content_range(headers: &HeaderMap) -> Option<ContentRange> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (start, last, total): (u64, u64, u64) = (
        first.trim().parse().ok()?,
        last.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (start <= last && last < total).then_some(ContentRange {
        start,
        end: last + 1,
        total,
    })
}

/// The size in a 416's `Content-Range: bytes */LENGTH`.
fn unsatisfied_length(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    value.trim().strip_prefix("bytes */")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), HeaderValue::from_str(value).expect("ascii")))
            .collect()
    }

    #[test]
    fn weak_etags_are_not_validators() {
        let strong = headers(&[(header::ETAG, "\"abc\"")]);
        assert_eq!(validator(&strong).expect("strong"), "\"abc\"");
        let weak = headers(&[
            (header::ETAG, "W/\"abc\""),
            (header::LAST_MODIFIED, "Wed, 21 Oct 2015 07:28:00 GMT"),
        ]);
        assert_eq!(
            validator(&weak).expect("date"),
            "Wed, 21 Oct 2015 07:28:00 GMT"
        );
        assert!(validator(&headers(&[(header::ETAG, "W/\"x\"")])).is_none());
    }

    #[test]
    fn content_range_parses() {
        let h = headers(&[(header::CONTENT_RANGE, "bytes 100-199/200")]);
        assert_eq!(
            content_range(&h),
            Some(ContentRange {
                start: 100,
                end: 200,
                total: 200
            })
        );
        for bad in [
            "bytes */200",
            "bytes 5-4/10",
            "bytes 0-10/10",
            "items 0-1/2",
            "bytes 0-x/2",
        ] {
            let h = headers(&[(header::CONTENT_RANGE, bad)]);
            assert_eq!(content_range(&h), None, "{bad}");
        }
        let h = headers(&[(header::CONTENT_RANGE, "bytes */0")]);
        assert_eq!(unsatisfied_length(&h), Some(0));
    }
}
