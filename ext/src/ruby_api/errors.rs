//! Engine errors as Ruby exceptions. The classes are declared and documented in
//! `lib/wow/fetcher/error.rb`; [`exception`] is the one place that picks a class for a
//! `core::Error`.

use magnus::{prelude::*, Error, ExceptionClass, IntoValue, RArray, Ruby};
use wow_fetch_core::{
    ErrorKind, InitError, InternalError, NetworkFailure, ResolveError, StartError,
};

use super::{fetcher_const, kwargs};

/// The Ruby exception for one item's failure, as carried by `Result#error` and
/// `Event#error`. Its message is the engine's, whose URLs are already redacted.
pub fn exception(ruby: &Ruby, error: &wow_fetch_core::Error) -> Result<magnus::Exception, Error> {
    let message = error.to_string();
    match &error.kind {
        ErrorKind::ChecksumMismatch {
            url,
            expected,
            actual,
        } => class(ruby, "ChecksumMismatch")?.new_instance((
            message,
            kwargs(
                ruby,
                [
                    ("expected", expected.to_hex().into_value_with(ruby)),
                    ("actual", actual.to_hex().into_value_with(ruby)),
                    ("url", url.as_str().into_value_with(ruby)),
                ],
            )?,
        )),
        ErrorKind::Http { status, url } => class(ruby, "HTTPError")?.new_instance((
            message,
            kwargs(
                ruby,
                [
                    ("status", status.into_value_with(ruby)),
                    ("url", url.as_str().into_value_with(ruby)),
                ],
            )?,
        )),
        ErrorKind::Network { failure, url, .. } => class(ruby, "NetworkError")?.new_instance((
            message,
            kwargs(
                ruby,
                [
                    ("url", url.as_str().into_value_with(ruby)),
                    (
                        "reason",
                        ruby.sym_new(reason(*failure)).into_value_with(ruby),
                    ),
                ],
            )?,
        )),
        ErrorKind::Redirect { from, .. } => class(ruby, "NetworkError")?.new_instance((
            message,
            kwargs(
                ruby,
                [
                    ("url", from.as_str().into_value_with(ruby)),
                    ("reason", ruby.sym_new("redirect").into_value_with(ruby)),
                ],
            )?,
        )),
        // A cancelled item is only ever seen by a caller that is already raising the interrupt
        // that cancelled it.
        ErrorKind::Io { .. } | ErrorKind::Cancelled => {
            class(ruby, "Error")?.new_instance((message,))
        }
        // A bug in wow-fetch that hit one item only (a job that panicked).
        ErrorKind::Internal(_) => class(ruby, "InternalError")?.new_instance((message,)),
    }
}

/// `NetworkError#reason`, one symbol per way a connection can fail.
fn reason(failure: NetworkFailure) -> &'static str {
    match failure {
        NetworkFailure::Connect => "connect",
        NetworkFailure::Tls => "tls",
        NetworkFailure::Reset => "reset",
        NetworkFailure::Timeout => "timeout",
        NetworkFailure::Truncated => "truncated",
        NetworkFailure::Protocol => "protocol",
    }
}

/// Bad input from the caller, raised before any traffic.
pub fn argument_error(ruby: &Ruby, message: impl Into<String>) -> Error {
    Error::new(ruby.exception_arg_error(), message.into())
}

/// A run that could not start: bad input is an `ArgumentError`, an unreadable CA bundle a
/// `Wow::Fetcher::Error`.
pub fn start_error(ruby: &Ruby, error: &StartError) -> Error {
    match error {
        StartError::Client(_) => fetch_error(ruby, error.to_string()),
        StartError::Internal(internal) => internal_error(ruby, internal),
    }
}

/// Why `resolve` found nothing to fetch: bad input is an `ArgumentError`, an unknown gem or a
/// conflict a `ResolveError` with the resolver's explanation, an index that could not be
/// fetched the same exception a failed download gets.
pub fn resolve_error(ruby: &Ruby, error: &ResolveError) -> Error {
    match error {
        ResolveError::Input(_) | ResolveError::Request(_) => {
            argument_error(ruby, error.to_string())
        }
        ResolveError::Index(cause) => match exception(ruby, cause) {
            Ok(exception) => exception.into(),
            Err(error) => error,
        },
        ResolveError::Client(_) => fetch_error(ruby, error.to_string()),
        ResolveError::UnknownGem { .. }
        | ResolveError::Conflict { .. }
        | ResolveError::Cancelled => match class(ruby, "ResolveError") {
            Ok(class) => Error::new(class, error.to_string()),
            Err(error) => error,
        },
    }
}

/// The engine could not be built (no runtime, unreadable CA bundle).
pub fn init_error(ruby: &Ruby, error: &InitError) -> Error {
    fetch_error(ruby, error.to_string())
}

/// A run that could not give every item its outcome: `Wow::Fetcher::InternalError`, never an
/// empty or short list of results.
pub fn internal_error(ruby: &Ruby, error: &InternalError) -> Error {
    match class(ruby, "InternalError") {
        Ok(class) => Error::new(class, error.to_string()),
        Err(error) => error,
    }
}

/// `DownloadError.new(results)`: the Ruby side writes the message from the failed results.
pub fn download_error(ruby: &Ruby, results: RArray) -> Error {
    match class(ruby, "DownloadError").and_then(|class| class.new_instance((results,))) {
        Ok(exception) => exception.into(),
        Err(error) => error,
    }
}

fn fetch_error(ruby: &Ruby, message: String) -> Error {
    match class(ruby, "Error") {
        Ok(class) => Error::new(class, message),
        Err(error) => error,
    }
}

fn class(ruby: &Ruby, name: &str) -> Result<ExceptionClass, Error> {
    fetcher_const(ruby, name)
}
