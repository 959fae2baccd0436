//! What a user asks to resolve: a gem name and a requirement, parsed in this one place.
//!
//! Accepted forms (the CLI's `NAME[:REQUIREMENT]` and Ruby's strings alike):
//!
//! | text                 | name    | requirement   |
//! |----------------------|---------|---------------|
//! | `sinatra`            | sinatra | `>= 0`        |
//! | `rack < 3`           | rack    | `< 3`         |
//! | `rack:>= 2, < 3`     | rack    | `>= 2, < 3`   |
//! | `rack 3.0.9`         | rack    | `= 3.0.9`     |
//! | `rails:~> 7.1`       | rails   | `~> 7.1`      |
//!
//! The name ends at the first `:` or whitespace; the rest is a [`Requirement`] whose
//! constraints are separated by commas. `name-version` is *not* read as a version: gem names
//! contain dashes and digits (`net-http`, `x25519`), so a pinned version is written
//! `net-http:0.4.1` or `net-http = 0.4.1`.

use std::fmt;
use std::str::FromStr;

use crate::requirement::Requirement;

/// One gem to resolve, with the versions acceptable for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GemRequest {
    pub name: String,
    pub requirement: Requirement,
}

/// A request string that cannot be read, before any traffic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid gem request {request:?}: {reason}")]
pub struct RequestError {
    pub request: String,
    pub reason: String,
}

impl GemRequest {
    /// A request from a name and a requirement string (empty for any release).
    ///
    /// # Errors
    /// A [`RequestError`] for a name RubyGems would not accept or a bad requirement.
    pub fn new(name: &str, requirement: &str) -> Result<Self, RequestError> {
        let error = |reason: String| RequestError {
            request: format!("{name} {requirement}")
                .trim()
                .chars()
                .take(120)
                .collect(),
            reason,
        };
        validate_name(name).map_err(|reason| error(reason.to_owned()))?;
        let requirement = if requirement.trim().is_empty() {
            Requirement::default()
        } else {
            Requirement::parse(requirement).map_err(|e| error(e.to_string()))?
        };
        Ok(Self {
            name: name.to_owned(),
            requirement,
        })
    }

    /// Parses one of the forms in the [module documentation](self).
    ///
    /// # Errors
    /// A [`RequestError`] for an empty or malformed request.
    pub fn parse(text: &str) -> Result<Self, RequestError> {
        let text = text.trim();
        let split = text.find(|c: char| c == ':' || c.is_whitespace());
        let (name, requirement) = match split {
            Some(at) => (&text[..at], &text[at + 1..]),
            None => (text, ""),
        };
        if split.is_some_and(|at| text[at..].starts_with(':')) && requirement.trim().is_empty() {
            return Err(RequestError {
                request: text.to_owned(),
                reason: "nothing after ':' (write just the name for any version)".to_owned(),
            });
        }
        Self::new(name, requirement).map_err(|e| RequestError {
            request: text.chars().take(120).collect(),
            ..e
        })
    }
}

/// `Gem::Specification`'s rule (`VALID_NAME_PATTERN`, letters required) plus what keeps a
/// name safe as a file and URL segment.
pub(crate) fn validate_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("the gem name is empty")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        Err("a gem name has only letters, digits, '.', '-' and '_'")
    } else if !name.bytes().any(|b| b.is_ascii_alphabetic()) {
        Err("a gem name must contain a letter")
    } else if name.starts_with(['.', '-']) || name.contains("..") || name.len() > 255 {
        Err("not a valid gem name")
    } else {
        Ok(())
    }
}

impl fmt::Display for GemRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.requirement.is_default() {
            f.write_str(&self.name)
        } else {
            write!(f, "{} ({})", self.name, self.requirement)
        }
    }
}

impl FromStr for GemRequest {
    type Err = RequestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (String, String) {
        let request = GemRequest::parse(text).expect("valid request");
        (request.name, request.requirement.to_string())
    }

    #[test]
    fn accepted_forms() {
        for (text, name, requirement) in [
            ("sinatra", "sinatra", ">= 0"),
            ("rack < 3", "rack", "< 3"),
            ("rack:>= 2, < 3", "rack", ">= 2, < 3"),
            ("rack 3.0.9", "rack", "= 3.0.9"),
            (" rails:~> 7.1 ", "rails", "~> 7.1"),
            ("net-http:0.4.1", "net-http", "= 0.4.1"),
            ("concurrent-ruby\t~>1.0", "concurrent-ruby", "~> 1.0"),
        ] {
            assert_eq!(
                parsed(text),
                (name.to_owned(), requirement.to_owned()),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_before_any_traffic() {
        for bad in [
            "",
            "rack:",
            "rack:>= x",
            "../etc",
            "ra/ck",
            ".rack",
            "123",
            "rack >= 1,",
        ] {
            let error = GemRequest::parse(bad).expect_err(bad);
            assert!(
                error.to_string().starts_with("invalid gem request"),
                "{error}"
            );
        }
        assert!(GemRequest::new("rack", "")
            .expect("any")
            .requirement
            .is_default());
    }
}
