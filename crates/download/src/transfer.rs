//! One download attempt: the first request (resuming when possible) and what its answer asks
//! for: the whole body streamed ([`crate::stream`]), or, when it shows a file larger than one
//! segment, the rest fetched as further segments at once ([`crate::segments`]).

use reqwest::header;
use reqwest::StatusCode;
use wow_fetch_client::{content_range, AttemptError, Attempts, ErrorKind, NetworkFailure};

use crate::progress::Reporter;
use crate::schedule::Slot;
use crate::segments::{first_segment, Split};
use crate::stream::{unsatisfied_length, Partial, Transfer};

/// What the first answer of an attempt asks of the rest of it.
enum Body {
    /// The body is the whole file, or the rest of it after a resume.
    Whole,
    /// The body is the first segment of a larger file; the rest comes in segments of its own.
    Split(Split),
}

/// Runs one attempt of `transfer` in `slot`, continuing `partial` when the server lets us. On
/// success `partial` holds the complete, flushed file. The slot is given back when the body is
/// in.
pub(crate) async fn attempt(
    transfer: &Transfer<'_>,
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
    let mut request = transfer.request(slot.client).header(
        header::RANGE,
        first_segment(resume_from.as_ref().map(|r| r.0)),
    );
    if let Some((_, validator)) = &resume_from {
        request = request.header(header::IF_RANGE, validator);
    }
    let response = transfer.send(request, &mut slot).await?;

    let status = response.status();
    let body = match status {
        StatusCode::PARTIAL_CONTENT if resume_from.is_some() => {
            let offset = resume_from.as_ref().map_or(0, |(offset, _)| *offset);
            if content_range(response.headers()).map(|r| r.start) != Some(offset) {
                return Err(transfer
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
                return Err(transfer
                    .network(NetworkFailure::Protocol, "206 for a range we did not ask")
                    .into());
            };
            // The old file must be gone before the new one takes its (fixed) name.
            drop(partial.take());
            let mut fresh = transfer.fresh_partial(response.headers(), Some(range.total))?;
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
            *partial = Some(transfer.fresh_partial(response.headers(), response.content_length())?);
            Body::Whole
        }
        StatusCode::RANGE_NOT_SATISFIABLE if resume_from.is_some() => {
            // Our bytes do not fit the server's file, so they are useless; a 416 is not
            // retryable, but fetching from scratch is the cure. Issue 8: before this, a
            // reset after the last byte failed the item with "HTTP 416".
            drop(partial.take());
            return Err(transfer
                .network(NetworkFailure::Protocol, "416 for a resume; starting over")
                .into());
        }
        StatusCode::RANGE_NOT_SATISFIABLE if unsatisfied_length(response.headers()) == Some(0) => {
            // The first segment of an empty file: there is no byte to ask for.
            drop(partial.take());
            *partial = Some(transfer.fresh_partial(response.headers(), Some(0))?);
            return Ok(());
        }
        _ => return Err(transfer.status_error(status, response.headers())),
    };
    let Some(current) = partial.as_mut() else {
        return Err(ErrorKind::Internal("no file to write".to_owned()).into());
    };
    match body {
        Body::Whole => {
            let total = current.total;
            let mut received = current.out.position;
            reporter.progress(received, total, attempt);
            let result = transfer
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
                .fetch(transfer, current, response, slot, reporter, attempts)
                .await;
            if result.is_err() {
                // Segments that failed leave holes no single resume can fill.
                drop(partial.take());
            }
            result
        }
    }
}
