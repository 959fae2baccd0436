//! One response body streamed to its place in the item's temp file, hashed on the way when it
//! runs in file order, with stalls and short or long bodies detected; and the requests of an
//! item, sent with the run's headers within a deadline. Each stream owns its file handle,
//! buffer and hasher.

use std::path::{Path, PathBuf};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};

use wow_fetch_cache::TempFile;
use wow_fetch_client::{
    response_headers, retry_after, transport_error, AttemptError, ErrorKind, NetworkFailure,
};
use wow_fetch_gem::{Item, Sha256Digest};

use crate::context::JobContext;
use crate::schedule::Slot;
use crate::verify;

/// Write buffer per stream: a few network reads' worth, so the file sees few large writes
/// (each tokio file write is a hop to the blocking pool) while sixteen transfers stay ~4 MB.
const WRITE_BUFFER: usize = 256 * 1024;

/// The bytes received so far for an item, kept across attempts so a reset mid-body resumes.
pub(crate) struct Partial {
    pub(crate) temp: TempFile,
    pub(crate) out: Output,
    pub(crate) total: Option<u64>,
    /// A strong ETag or Last-Modified the server gave, usable as `If-Range`.
    pub(crate) validator: Option<HeaderValue>,
    pub(crate) accepts_ranges: bool,
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
    pub(crate) end: Option<u64>,
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

    pub(crate) fn resumable(&self) -> Option<&HeaderValue> {
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

/// One item's requests: what they are sent with and where their bytes go.
pub(crate) struct Transfer<'a> {
    pub(crate) context: &'a JobContext,
    pub(crate) item: &'a Item,
    pub(crate) cache_path: &'a Path,
}

impl Transfer<'_> {
    pub(crate) fn fresh_partial(
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
            .headers(self.context.options.headers.map().clone())
    }

    /// Sends `request` in `slot` and waits for its headers, for at most a connect plus a read
    /// budget, so a server that accepts and then says nothing counts as a stall too. The slot
    /// hears of the answer (or the failure) either way: its lane's waiters may go.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        slot: &mut Slot<'_>,
    ) -> Result<reqwest::Response, AttemptError> {
        let budget = self.context.schedule.connect_timeout() + self.context.options.read_timeout;
        let private = self.context.options.headers.map();
        let sent = response_headers(request, private, budget, self.item.url()).await;
        slot.answered(sent.as_ref().ok());
        Ok(sent?)
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
pub(crate) fn validator(headers: &HeaderMap) -> Option<HeaderValue> {
    headers
        .get(header::ETAG)
        .filter(|etag| !etag.as_bytes().starts_with(b"W/"))
        .or_else(|| headers.get(header::LAST_MODIFIED))
        .cloned()
}

/// The size in a 416's `Content-Range: bytes */LENGTH`.
pub(crate) fn unsatisfied_length(headers: &HeaderMap) -> Option<u64> {
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
    fn an_empty_file_answers_416_with_its_length() {
        let h = headers(&[(header::CONTENT_RANGE, "bytes */0")]);
        assert_eq!(unsatisfied_length(&h), Some(0));
    }
}
