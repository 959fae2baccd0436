//! What a failed request was, on the wire: reqwest's errors read down to their cause and
//! mapped onto [`ErrorKind`], with every secret scrubbed from the message.

use std::error::Error as StdError;
use std::io;

use url::Url;
use wow_fetch_gem::{redacted, scrub};

use crate::error::{ErrorKind, NetworkFailure};
use crate::redirect::{RedirectRefused, SendError};

/// The error for a failed request to `url`: what happened on the wire, with the innermost
/// useful message (reqwest's own says only "error decoding response body") and no secrets.
#[must_use]
pub fn transport_error(err: &reqwest::Error, url: &Url) -> ErrorKind {
    let detail = scrub(&error_chain(err), url);
    match classify_transport(err) {
        Classified::Network(failure) => ErrorKind::Network {
            failure,
            url: redacted(url),
            detail,
        },
        Classified::Redirect(reason) => ErrorKind::Redirect {
            from: redacted(url),
            to: find::<RedirectRefused>(err)
                .map(|refused| refused.1.clone())
                .or_else(|| err.url().map(redacted))
                .unwrap_or_else(|| "?".to_owned()),
            reason,
        },
    }
}

/// The error for a request to `url` that [`crate::send`] could not complete.
#[must_use]
pub fn send_error(err: &SendError, url: &Url) -> ErrorKind {
    match err {
        SendError::Transport(err) => transport_error(err, url),
        SendError::Refused { to, reason } => ErrorKind::Redirect {
            from: redacted(url),
            to: to.clone(),
            reason: (*reason).to_owned(),
        },
    }
}

fn error_chain(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Maps a reqwest failure to what happened on the wire, walking the source chain as uv's
/// `retry.rs` does: reqwest wraps hyper, which wraps h2 or `io::Error`, which may wrap rustls.
#[must_use]
fn classify_transport(err: &reqwest::Error) -> Classified {
    if chain_has::<RedirectRefused>(err) || err.is_redirect() {
        let reason = find::<RedirectRefused>(err)
            .map_or_else(|| "redirect refused".to_owned(), |r| r.0.to_owned());
        return Classified::Redirect(reason);
    }
    if chain_has::<rustls::Error>(err) {
        return Classified::Network(NetworkFailure::Tls);
    }
    if err.is_timeout() {
        return Classified::Network(NetworkFailure::Timeout);
    }
    if let Some(io_err) = find::<io::Error>(err) {
        if let Some(failure) = classify_io(io_err) {
            return Classified::Network(failure);
        }
    }
    if err.is_connect() {
        return Classified::Network(NetworkFailure::Connect);
    }
    if let Some(hyper_err) = find::<hyper::Error>(err) {
        if hyper_err.is_incomplete_message() {
            return Classified::Network(NetworkFailure::Truncated);
        }
        // A response hyper cannot parse (a negative or garbage Content-Length, a bad status
        // line) is the server breaking the protocol, not a reset. Issue 8's mirror faults.
        // `is_parse` covers every malformed head, too-large ones included.
        if hyper_err.is_parse() || hyper_err.is_parse_status() {
            return Classified::Network(NetworkFailure::Protocol);
        }
        if hyper_err.is_canceled() || hyper_err.is_closed() {
            return Classified::Network(NetworkFailure::Reset);
        }
    }
    if err.is_body() || err.is_decode() || err.is_request() {
        // A stream reset (h2 RST_STREAM/GOAWAY) or a connection dropped mid-body.
        return Classified::Network(NetworkFailure::Reset);
    }
    Classified::Network(NetworkFailure::Protocol)
}

/// What a transport error turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Classified {
    Network(NetworkFailure),
    Redirect(String),
}

fn classify_io(err: &io::Error) -> Option<NetworkFailure> {
    use io::ErrorKind as K;
    match err.kind() {
        K::ConnectionRefused | K::AddrNotAvailable | K::HostUnreachable | K::NetworkUnreachable => {
            Some(NetworkFailure::Connect)
        }
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::NotConnected => {
            Some(NetworkFailure::Reset)
        }
        K::UnexpectedEof => Some(NetworkFailure::Truncated),
        K::TimedOut => Some(NetworkFailure::Timeout),
        _ => None,
    }
}

fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        // `io::Error::source()` skips the error it wraps (it returns the wrapped error's
        // source), which is exactly where rustls puts a certificate failure.
        current = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

fn chain_has<T: StdError + 'static>(err: &(dyn StdError + 'static)) -> bool {
    find::<T>(err).is_some()
}
