//! The SHA-256 digests the index promises and the downloader verifies.

use std::fmt;

use crate::input::InputError;

/// A SHA-256 digest, parsed from or rendered as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Parses 64 hex characters (either case).
    ///
    /// # Errors
    /// `InputError::BadSha256` for any other length or a non-hex character.
    pub fn from_hex(hex_digest: &str) -> Result<Self, InputError> {
        let mut bytes = [0u8; 32];
        if hex_digest.len() != 64 || hex::decode_to_slice(hex_digest, &mut bytes).is_err() {
            return Err(InputError::BadSha256(hex_digest.chars().take(80).collect()));
        }
        Ok(Self(bytes))
    }

    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}
