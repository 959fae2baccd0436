//! Why a resolve gave no answer.

use crate::request::RequestError;
use wow_fetch_client::Error;
use wow_fetch_gem::InputError;

/// Everything a resolve can fail with. URLs in messages are redacted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// Bad options (source URL, headers), found before any traffic.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A request string that cannot be read, found before any traffic.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A requested gem the source does not have.
    #[error("could not find gem '{name}' in {source_url}")]
    UnknownGem { name: String, source_url: String },
    /// The index could not be fetched (after retries).
    #[error("cannot fetch the gem index: {0}")]
    Index(#[source] Error),
    /// No set of versions satisfies every requirement; the message says why, from the
    /// request down to the conflicting requirements.
    #[error("{explanation}")]
    Conflict { explanation: String },
    #[error("cancelled")]
    Cancelled,
    /// The connection pool for this call's client options could not be built (an unreadable
    /// CA bundle).
    #[error("{0}")]
    Client(String),
}
