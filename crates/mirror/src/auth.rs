//! Authentication a mirror can demand, as private gem servers do: HTTP Basic (a user and
//! password, which clients take from URL userinfo or Bundler's settings) or a Bearer token
//! (sent by clients as a custom `Authorization` header).

use serde::{Deserialize, Serialize};

/// What a mirror with [`MirrorConfig::auth`](crate::MirrorConfig::auth) accepts; any other
/// request (control endpoints aside) gets `401` with a `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// `Authorization: Basic base64(user:password)`.
    Basic { user: String, password: String },
    /// `Authorization: Bearer token`.
    Bearer(String),
}

impl Auth {
    /// The `Authorization` value this mirror accepts.
    pub fn expected_header(&self) -> String {
        match self {
            Self::Basic { user, password } => basic(user, password),
            Self::Bearer(token) => format!("Bearer {token}"),
        }
    }

    /// Whether a request carrying `authorization` (its `Authorization` header) gets in.
    pub(crate) fn admits(&self, authorization: Option<&[u8]>) -> bool {
        authorization == Some(self.expected_header().as_bytes())
    }

    /// The `WWW-Authenticate` value of a 401.
    pub(crate) fn challenge(&self) -> &'static str {
        match self {
            Self::Basic { .. } => "Basic realm=\"wow-mirror\"",
            Self::Bearer(_) => "Bearer realm=\"wow-mirror\"",
        }
    }
}

/// `Basic base64(user:password)`, as clients send it (RFC 7617).
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn admits_only_the_expected_credentials() {
        let auth = Auth::Basic {
            user: "alice".into(),
            password: "pw".into(),
        };
        assert!(auth.admits(Some(basic("alice", "pw").as_bytes())));
        assert!(!auth.admits(Some(basic("alice", "px").as_bytes())));
        assert!(!auth.admits(None));
        let bearer = Auth::Bearer("tok".into());
        assert!(bearer.admits(Some(b"Bearer tok")));
        assert!(!bearer.admits(Some(b"Bearer tok2")));
    }
}
