//! One HTTP attempt: request (resuming when possible), stream the body to a temp file while
//! hashing it, detect stalls and short bodies. Each transfer owns its file, buffer and hasher.

use std::path::Path;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::cache::TempFile;
use crate::error::{ErrorKind, NetworkFailure};
use crate::item::{Item, Sha256Digest};
use crate::progress::Reporter;
use crate::retry::{retry_after, transport_error};
use crate::verify;

/// Write buffer per transfer: a few network reads' worth, so the file sees few large writes
/// (each tokio file write is a hop to the blocking pool) while sixteen transfers stay ~4 MB.
const WRITE_BUFFER: usize = 256 * 1024;

/// The bytes received so far for an item, kept across attempts so a reset mid-body resumes.
pub(crate) struct Partial {
    temp: TempFile,
    writer: BufWriter<tokio::fs::File>,
    hasher: Sha256,
    written: u64,
    total: Option<u64>,
    /// A strong ETag or Last-Modified the server gave, usable as `If-Range`.
    validator: Option<HeaderValue>,
    accepts_ranges: bool,
}

impl Partial {
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    pub(crate) fn total(&self) -> Option<u64> {
        self.total
    }

    fn resumable(&self) -> Option<&HeaderValue> {
        // Nothing is left to ask for once every announced byte is here (an h2 stream reset
        // after its last DATA frame): a range from the end would only earn a 416. Issue 8.
        let incomplete = self.total.is_none_or(|total| self.written < total);
        (self.written > 0 && self.accepts_ranges && incomplete)
            .then_some(self.validator.as_ref())
            .flatten()
    }

    /// The finished file: flushed, with its digest.
    pub(crate) fn into_file(self) -> (TempFile, Sha256Digest, u64) {
        (self.temp, verify::finish(self.hasher), self.written)
    }
}

/// A failed attempt: what happened, and how long the server asked us to wait.
pub(crate) struct AttemptError {
    pub(crate) kind: ErrorKind,
    pub(crate) retry_after: Option<Duration>,
}

impl From<ErrorKind> for AttemptError {
    fn from(kind: ErrorKind) -> Self {
        Self {
            kind,
            retry_after: None,
        }
    }
}

pub(crate) struct Transfer<'a> {
    pub(crate) client: &'a reqwest::Client,
    pub(crate) item: &'a Item,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) cache_path: &'a Path,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
}

impl Transfer<'_> {
    /// Runs one attempt, continuing `partial` when the server lets us. On success `partial`
    /// holds the complete, flushed file. `on_headers` runs once response headers (or a
    /// failure) arrive: the host's first request opens the gate there.
    pub(crate) async fn attempt(
        &self,
        partial: &mut Option<Partial>,
        reporter: &mut Reporter,
        attempt: u32,
        on_headers: impl FnOnce(),
    ) -> Result<(), AttemptError> {
        let mut request = self
            .client
            .get(self.item.url().clone())
            .headers(self.headers.clone());
        let resume_from = partial.as_ref().and_then(|p| {
            p.resumable()
                .map(|validator| (p.written, validator.clone()))
        });
        if let Some((offset, validator)) = &resume_from {
            request = request
                .header(header::RANGE, format!("bytes={offset}-"))
                .header(header::IF_RANGE, validator);
        }
        // Waiting for headers is bounded by a connect plus a read budget, so a server that
        // accepts and then says nothing counts as a stall too.
        let sent =
            tokio::time::timeout(self.connect_timeout + self.read_timeout, request.send()).await;
        on_headers();
        let response = match sent {
            Err(_) => {
                return Err(self
                    .network(NetworkFailure::Timeout, "no response headers")
                    .into())
            }
            Ok(Err(e)) => return Err(self.transport(&e).into()),
            Ok(Ok(response)) => response,
        };

        let status = response.status();
        let resumed = match status {
            StatusCode::PARTIAL_CONTENT if resume_from.is_some() => {
                let offset = resume_from.as_ref().map_or(0, |(offset, _)| *offset);
                if content_range_start(response.headers()) != Some(offset) {
                    return Err(self
                        .network(NetworkFailure::Protocol, "206 for a range we did not ask")
                        .into());
                }
                true
            }
            StatusCode::OK => false,
            StatusCode::RANGE_NOT_SATISFIABLE if resume_from.is_some() => {
                // Our bytes do not fit the server's file, so they are useless; a 416 is not
                // retryable, but fetching from scratch is the cure. Issue 8: before this, a
                // reset after the last byte failed the item with "HTTP 416".
                drop(partial.take());
                return Err(self
                    .network(NetworkFailure::Protocol, "416 for a resume; starting over")
                    .into());
            }
            _ => return Err(self.status_error(status, response.headers())),
        };
        let body_length = response.content_length();
        if !resumed {
            // The old file must be gone before the new one takes its (fixed) name.
            drop(partial.take());
            *partial = Some(self.fresh_partial(response.headers(), body_length).await?);
        }
        let Some(current) = partial.as_mut() else {
            return Err(ErrorKind::Internal("no file to write".to_owned()).into());
        };
        if resumed {
            current.total = body_length
                .map(|rest| current.written + rest)
                .or(current.total);
        }
        reporter.progress(current.written, current.total, attempt);
        self.stream_body(response, current, reporter, attempt).await
    }

    async fn fresh_partial(
        &self,
        headers: &HeaderMap,
        total: Option<u64>,
    ) -> Result<Partial, AttemptError> {
        let (temp, file) = TempFile::create_for_entry(self.cache_path)
            .map_err(|e| ErrorKind::io("create", self.cache_path, &e))?;
        Ok(Partial {
            temp,
            writer: BufWriter::with_capacity(WRITE_BUFFER, file),
            hasher: Sha256::new(),
            written: 0,
            total,
            validator: validator(headers),
            accepts_ranges: headers
                .get(header::ACCEPT_RANGES)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"bytes")),
        })
    }

    async fn stream_body(
        &self,
        mut response: reqwest::Response,
        partial: &mut Partial,
        reporter: &mut Reporter,
        attempt: u32,
    ) -> Result<(), AttemptError> {
        loop {
            let chunk = match tokio::time::timeout(self.read_timeout, response.chunk()).await {
                Err(_) => {
                    let detail = format!(
                        "no data for {}s after {} bytes",
                        self.read_timeout.as_secs_f64(),
                        partial.written
                    );
                    return Err(self.network(NetworkFailure::Timeout, &detail).into());
                }
                Ok(Err(e)) => return Err(self.transport(&e).into()),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            partial.hasher.update(&chunk);
            partial
                .writer
                .write_all(&chunk)
                .await
                .map_err(|e| ErrorKind::io("write", partial.temp.path(), &e))?;
            partial.written += chunk.len() as u64;
            if partial.total.is_some_and(|total| partial.written > total) {
                return Err(self
                    .network(NetworkFailure::Protocol, "body longer than Content-Length")
                    .into());
            }
            reporter.progress(partial.written, partial.total, attempt);
        }
        partial
            .writer
            .flush()
            .await
            .map_err(|e| ErrorKind::io("write", partial.temp.path(), &e))?;
        if let Some(total) = partial.total {
            if partial.written < total {
                let detail = format!("got {} of {total} bytes", partial.written);
                return Err(self.network(NetworkFailure::Truncated, &detail).into());
            }
        }
        Ok(())
    }

    fn status_error(&self, status: StatusCode, headers: &HeaderMap) -> AttemptError {
        AttemptError {
            kind: ErrorKind::Http {
                status: status.as_u16(),
                url: self.item.display_url(),
            },
            retry_after: retry_after(status.as_u16(), headers),
        }
    }

    fn transport(&self, err: &reqwest::Error) -> ErrorKind {
        transport_error(err, self.item.url())
    }

    fn network(&self, failure: NetworkFailure, detail: &str) -> ErrorKind {
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

/// The first byte position of `Content-Range: bytes START-END/TOTAL`.
pub(crate) fn content_range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
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
    fn content_range_start_parses() {
        let h = headers(&[(header::CONTENT_RANGE, "bytes 100-199/200")]);
        assert_eq!(content_range_start(&h), Some(100));
        let h = headers(&[(header::CONTENT_RANGE, "bytes */200")]);
        assert_eq!(content_range_start(&h), None);
    }
}
