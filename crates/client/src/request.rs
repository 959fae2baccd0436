//! One request sent and its response headers awaited, within a deadline, with every failure
//! already classified: what the downloader and the index client both do before reading a body.

use std::time::Duration;

use reqwest::header::HeaderMap;
use url::Url;
use wow_fetch_gem::redacted;

use crate::error::{ErrorKind, NetworkFailure};
use crate::failure::send_error;
use crate::redirect::send;

/// Sends `request` (following redirects as [`send`] does, `private` being the caller's own
/// headers) and waits for its response headers for at most `budget`: a connect plus a read
/// timeout, so a server that accepts and then says nothing counts as a stall too.
///
/// # Errors
/// The failure as an [`ErrorKind`] about `url` (redacted).
pub async fn response_headers(
    request: reqwest::RequestBuilder,
    private: &HeaderMap,
    budget: Duration,
    url: &Url,
) -> Result<reqwest::Response, ErrorKind> {
    match tokio::time::timeout(budget, send(request, private)).await {
        Err(_) => Err(ErrorKind::Network {
            failure: NetworkFailure::Timeout,
            url: redacted(url),
            detail: "no response headers".to_owned(),
        }),
        Ok(Err(e)) => Err(send_error(&e, url)),
        Ok(Ok(response)) => Ok(response),
    }
}
