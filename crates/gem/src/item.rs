//! What to fetch: one gem, validated before any traffic.

use std::fmt;

use url::Url;

use crate::digest::Sha256Digest;
use crate::input::InputError;
use crate::name::{full_name, RUBY_PLATFORM};
use crate::redact::redacted;

/// Longest `full_name.gem` accepted: file systems allow 255 bytes, and the temp and lock
/// files beside an entry (`.NAME.PID-XXXXXXXX.part`) need room for their decorations.
const MAX_FILE_NAME: usize = 200;

/// One gem to fetch. Built only through [`Item::new`], so every `Item` has a safe file name
/// and a URL whose scheme we speak.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Item {
    name: String,
    version: String,
    platform: String,
    sha256: Option<Sha256Digest>,
    url: Url,
}

impl Item {
    /// Validates and builds an item. `url` may carry credentials as userinfo; they are sent
    /// to that host only and never shown (see [`Item::display_url`]).
    ///
    /// # Errors
    /// An [`InputError`] naming the bad field.
    pub fn new(
        name: &str,
        version: &str,
        platform: Option<&str>,
        sha256: Option<&str>,
        url: &str,
    ) -> Result<Self, InputError> {
        validate_segment("name", name)?;
        validate_segment("version", version)?;
        if !version.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(InputError::BadField {
                field: "version",
                value: version.to_owned(),
                reason: "must start with a digit",
            });
        }
        let platform = platform.filter(|p| !p.is_empty()).unwrap_or(RUBY_PLATFORM);
        validate_segment("platform", platform)?;
        let file_name_len = full_name(name, version, platform).len() + ".gem".len();
        if file_name_len > MAX_FILE_NAME {
            return Err(InputError::BadField {
                field: "name",
                value: name.chars().take(80).collect(),
                reason: "makes a file name longer than 200 bytes",
            });
        }
        let sha256 = sha256.map(Sha256Digest::from_hex).transpose()?;
        let url = parse_url(url)?;
        Ok(Self {
            name: name.to_owned(),
            version: version.to_owned(),
            platform: platform.to_owned(),
            sha256,
            url,
        })
    }

    /// The default download URL of a gem on a RubyGems-compatible source.
    ///
    /// # Errors
    /// `InputError::BadUrl` when `source` is not an http(s) URL.
    pub fn source_url(source: &str, full_name: &str) -> Result<String, InputError> {
        let base = parse_url(source)?;
        Ok(format!(
            "{}/gems/{full_name}.gem",
            base.as_str().trim_end_matches('/')
        ))
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    #[must_use]
    pub fn platform(&self) -> &str {
        &self.platform
    }

    #[must_use]
    pub fn sha256(&self) -> Option<Sha256Digest> {
        self.sha256
    }

    /// The URL to request, credentials included.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL with any password replaced, safe for messages and events.
    #[must_use]
    pub fn display_url(&self) -> String {
        redacted(&self.url)
    }

    /// `name-version`, plus `-platform` unless the platform is `ruby`: the file RubyGems names.
    #[must_use]
    pub fn full_name(&self) -> String {
        full_name(&self.name, &self.version, &self.platform)
    }

    /// The file name in a cache or `dest`: `full_name.gem`.
    #[must_use]
    pub fn file_name(&self) -> String {
        format!("{}.gem", self.full_name())
    }
}

/// By hand, because a derived `Debug` prints the URL's password: `{:?}` of an item in a log
/// or a panic message must not leak it (issue 8).
impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Item")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("platform", &self.platform)
            .field("sha256", &self.sha256)
            .field("url", &self.display_url())
            .finish()
    }
}

/// Names, versions and platforms become file names, so anything that could escape a directory
/// or hide a file is refused here, before any traffic.
fn validate_segment(field: &'static str, value: &str) -> Result<(), InputError> {
    let reason = if value.is_empty() {
        Some("must not be empty")
    } else if value.contains(['/', '\\', '\0']) {
        Some("must not contain '/', '\\' or NUL")
    } else if value.contains("..") {
        Some("must not contain '..'")
    } else if value.starts_with('.') {
        Some("must not start with '.'")
    } else if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        // RubyGems' own rule for names (`Gem::Specification::VALID_NAME_PATTERN`), which
        // versions and platforms also keep. Anything else (`#`, `?`, spaces, look-alike
        // slashes) would change the URL path or the file name it maps to.
        Some("may only contain letters, digits, '.', '-' and '_'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(InputError::BadField {
            field,
            value: value.chars().take(80).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

fn parse_url(text: &str) -> Result<Url, InputError> {
    let url = Url::parse(text).map_err(|e| InputError::BadUrl {
        url: redact_unparsed(text),
        reason: e.to_string(),
    })?;
    // A URL without an authority keeps any userinfo in its opaque path, where `redacted`
    // cannot see it: `alice:pw@host/x.gem` parses with the scheme "alice" (issue 8).
    let shown = || {
        if url.cannot_be_a_base() {
            redact_unparsed(text)
        } else {
            redacted(&url)
        }
    };
    match url.scheme() {
        "https" | "http" if url.has_host() => Ok(url),
        "https" | "http" => Err(InputError::BadUrl {
            url: shown(),
            reason: "has no host".to_owned(),
        }),
        other => Err(InputError::BadUrl {
            url: shown(),
            reason: format!("unsupported scheme {other:?} (use https or http)"),
        }),
    }
}

/// A URL that failed to parse may still hold a password: keep the scheme (through its `:`
/// and any slashes) and what follows the last `@`, and mask everything between. Anchoring on
/// `//` instead leaked `https:user:pw@host:99999` and `x:user:pw@h//@` (issue 8's property
/// tests).
fn redact_unparsed(text: &str) -> String {
    let Some(at) = text.rfind('@') else {
        return text.to_owned();
    };
    let is_scheme = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    };
    let scheme = text[..at]
        .find(':')
        .filter(|&colon| is_scheme(&text[..colon]))
        .map_or(0, |colon| colon + 1);
    let start = scheme + text[scheme..at].bytes().take_while(|&b| b == b'/').count();
    format!("{}***@{}", &text[..start], &text[at + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://example.test/gems/x.gem";

    #[test]
    fn rejects_names_that_escape_a_directory() {
        for bad in ["../etc", "a/b", "a\\b", "a\0b", ".hidden", "", "a..b"] {
            assert!(Item::new(bad, "1.0", None, None, URL).is_err(), "{bad:?}");
        }
        assert!(Item::new("rack", "1.0", Some("../x"), None, URL).is_err());
        assert!(Item::new("rack", "x1.0", None, None, URL).is_err());
        for odd in [
            "a#b",
            "a?b",
            "a b",
            "résumé",
            "a\u{ff0f}b",
            "a\u{202e}b",
            "a\nb",
        ] {
            assert!(Item::new(odd, "1.0", None, None, URL).is_err(), "{odd:?}");
        }
        assert!(Item::new("net-http_2.x", "1.0.a-b", Some("x86_64-linux"), None, URL).is_ok());
    }

    #[test]
    fn full_file_name_must_leave_room_for_temp_names() {
        let longest = "a".repeat(200 - "-1.gem".len());
        assert!(Item::new(&longest, "1", None, None, URL).is_ok());
        let err = Item::new(&format!("{longest}a"), "1", None, None, URL).expect_err("too long");
        assert!(err.to_string().contains("longer than 200 bytes"), "{err}");
    }

    #[test]
    fn sha256_must_be_64_hex() {
        let good = "a".repeat(64);
        assert!(Item::new("rack", "1.0", None, Some(&good), URL).is_ok());
        assert!(Item::new("rack", "1.0", None, Some(&"a".repeat(63)), URL).is_err());
        assert!(Item::new("rack", "1.0", None, Some(&"g".repeat(64)), URL).is_err());
        let upper = "ABCDEF".repeat(10) + "0123";
        let digest = Sha256Digest::from_hex(&upper).expect("upper case hex");
        assert_eq!(digest.to_hex(), upper.to_lowercase());
    }

    #[test]
    fn only_http_schemes() {
        for bad in [
            "ftp://x/y",
            "file:///etc/passwd",
            "gopher://a",
            "not a url",
            "https://",
        ] {
            assert!(Item::new("rack", "1.0", None, None, bad).is_err(), "{bad}");
        }
        assert!(Item::new("rack", "1.0", None, None, "http://[::1]:8080/x.gem").is_ok());
    }

    #[test]
    fn display_url_hides_password() {
        let item = Item::new(
            "rack",
            "1.0",
            None,
            None,
            "https://user:s3cret@example.test/x.gem",
        )
        .expect("valid");
        assert!(!item.display_url().contains("s3cret"));
        assert!(item.display_url().contains("example.test"));
        let err = Item::new("rack", "1.0", None, None, "https://user:s3cret@exa mple/x")
            .expect_err("bad host");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn unparsable_urls_hide_credentials() {
        for (text, shown) in [
            ("https://u:pw@exa mple/x", "https://***@exa mple/x"),
            ("https:u:pw@host:65536/x", "https:***@host:65536/x"),
            ("javascript:u:pw@h//@", "javascript:***@"),
            ("TOKEN@[::1/x", "***@[::1/x"),
            ("//TOKEN@localhost:@", "//***@"),
            ("no-at-sign", "no-at-sign"),
        ] {
            assert_eq!(redact_unparsed(text), shown);
        }
        let item = Item::new(
            "a",
            "1.0",
            None,
            None,
            "https://u:s3cret@example.test/a.gem",
        )
        .expect("valid");
        assert!(!format!("{item:?}").contains("s3cret"));
    }

    #[test]
    fn source_url_joins_gems_path() {
        assert_eq!(
            Item::source_url("https://rubygems.org/", "rack-3.0.8").expect("valid"),
            "https://rubygems.org/gems/rack-3.0.8.gem"
        );
        assert_eq!(
            Item::source_url("https://m.test/private", "a-1").expect("valid"),
            "https://m.test/private/gems/a-1.gem"
        );
    }
}
