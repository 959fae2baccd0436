//! Bad input, refused before any traffic: what was wrong and where.

/// Bad input, found before any traffic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("invalid {field} {value:?}: {reason}")]
    BadField {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("invalid sha256 {0:?}: expected 64 hexadecimal characters")]
    BadSha256(String),
    #[error("invalid URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot parse {0:?} as name-version[-platform]")]
    BadSpecifier(String),
    #[error("invalid option {option}: {reason}")]
    BadOption {
        option: &'static str,
        reason: String,
    },
}
