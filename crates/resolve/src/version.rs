//! `Gem::Version`, exactly: what RubyGems 3.x accepts, how it orders, `bump` and `release`.
//!
//! A version is split into segments at dots and at letter/digit boundaries (`1.0.rc1` is
//! `[1, 0, "rc", 1]`); it is a prerelease when it contains any letter. Comparison uses the
//! *canonical* segments (trailing zeros dropped from the numeric part and from the part after
//! the first letter), pads the shorter side with `0`, orders numbers numerically, strings
//! bytewise, and any string before any number. Hence `1.0 == 1.0.0`, `1.0.a < 1.0`,
//! `1.0.0.rc1 < 1.0.0` and `1.a == 1.0.a`. Mirrors `rubygems/version.rb` line for line so the
//! property tests against `ruby` hold.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

/// A `Gem::Version`. Cheap to clone (shared), ordered and hashed as RubyGems does.
#[derive(Clone)]
pub struct Version(Arc<Inner>);

struct Inner {
    /// The string RubyGems keeps: trimmed, `-` replaced by `.pre.`, empty as `0`.
    text: String,
    /// `_segments`: every run of digits or of letters, in order.
    segments: Vec<Segment>,
    /// `canonical_segments`: what comparison and hashing look at.
    canonical: Vec<Segment>,
    prerelease: bool,
}

/// One segment. Numbers are kept as decimal strings without leading zeros, so versions such
/// as date stamps of any length compare exactly, as Ruby's bignums do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Segment {
    Number(String),
    Letters(String),
}

impl Segment {
    fn is_zero(&self) -> bool {
        matches!(self, Self::Number(n) if n == "0")
    }

    fn cmp_numbers(a: &str, b: &str) -> Ordering {
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(s) | Self::Letters(s) => f.write_str(s),
        }
    }
}

/// A string that is not a version RubyGems accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed version number string {0:?}")]
pub struct VersionError(pub String);

impl Version {
    /// Parses as `Gem::Version.new` does: surrounding whitespace is ignored and an empty
    /// string is `0`.
    ///
    /// # Errors
    /// A [`VersionError`] when the text does not match RubyGems' `VERSION_PATTERN`.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let trimmed = trim_ruby_space(text);
        if trimmed.is_empty() {
            return Ok(Self::zero());
        }
        if !matches_version_pattern(trimmed) {
            return Err(VersionError(text.chars().take(80).collect()));
        }
        Ok(Self::from_normalized(trimmed.replace('-', ".pre.")))
    }

    /// `0`, the lowest release.
    #[must_use]
    pub fn zero() -> Self {
        Self::from_normalized("0".to_owned())
    }

    fn from_normalized(text: String) -> Self {
        let segments = scan_segments(&text);
        let canonical = canonical_segments(&segments);
        let prerelease = text.bytes().any(|b| b.is_ascii_alphabetic());
        Self(Arc::new(Inner {
            text,
            segments,
            canonical,
            prerelease,
        }))
    }

    /// The normalized text (`1.0-rc1` reads back as `1.0.pre.rc1`, as in Ruby).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// Whether the version contains a letter.
    #[must_use]
    pub fn is_prerelease(&self) -> bool {
        self.0.prerelease
    }

    /// `Gem::Version#release`: a prerelease without its letters and everything after
    /// (`1.2.0.a.3` → `1.2.0`); a release is returned as is.
    #[must_use]
    pub fn release(&self) -> Self {
        if !self.is_prerelease() {
            return self.clone();
        }
        Self::from_normalized(join(self.numeric_prefix()))
    }

    /// `Gem::Version#bump`: drop any letters and what follows, drop the last segment unless it
    /// is the only one, and increment the new last one (`5.3.1` → `5.4`, `1` → `2`). The upper
    /// end of `~>`.
    #[must_use]
    pub fn bump(&self) -> Self {
        let mut segments = self.numeric_prefix().to_vec();
        if segments.len() > 1 {
            segments.pop();
        }
        if let Some(Segment::Number(last)) = segments.last_mut() {
            *last = increment(last);
        }
        Self::from_normalized(join(&segments))
    }

    /// The segments before the first letter: what `release` and `bump` keep.
    fn numeric_prefix(&self) -> &[Segment] {
        let end = self
            .0
            .segments
            .iter()
            .position(|s| matches!(s, Segment::Letters(_)))
            .unwrap_or(self.0.segments.len());
        &self.0.segments[..end]
    }

    /// Compares `self.release()` with `bound` (a release) without building the release:
    /// the hot path of [`crate::resolve`]'s `~>` sets.
    pub(crate) fn cmp_release_with(&self, bound: &Self) -> Ordering {
        compare_padded(self.numeric_prefix(), &bound.0.canonical)
    }
}

/// Ruby's `\s` (and what `String#strip` removes that `\s` also allows).
fn trim_ruby_space(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
}

/// `[0-9]+(?>\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`, anchored.
pub(crate) fn matches_version_pattern(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    let run = |at: &mut usize, ok: fn(u8) -> bool| {
        let start = *at;
        while *at < bytes.len() && ok(bytes[*at]) {
            *at += 1;
        }
        *at > start
    };
    if !run(&mut at, |b| b.is_ascii_digit()) {
        return false;
    }
    while at < bytes.len() && bytes[at] == b'.' {
        at += 1;
        if !run(&mut at, |b| b.is_ascii_alphanumeric()) {
            return false;
        }
    }
    if at < bytes.len() && bytes[at] == b'-' {
        at += 1;
        let suffix = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
        if !run(&mut at, suffix) {
            return false;
        }
        while at < bytes.len() && bytes[at] == b'.' {
            at += 1;
            if !run(&mut at, suffix) {
                return false;
            }
        }
    }
    at == bytes.len()
}

/// `@version.scan(/[0-9]+|[a-z]+/i)`, numbers without leading zeros (Ruby's `to_i`).
fn scan_segments(text: &str) -> Vec<Segment> {
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        if bytes[at].is_ascii_digit() {
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            let digits = text[start..at].trim_start_matches('0');
            segments.push(Segment::Number(if digits.is_empty() {
                "0".to_owned()
            } else {
                digits.to_owned()
            }));
        } else if bytes[at].is_ascii_alphabetic() {
            while at < bytes.len() && bytes[at].is_ascii_alphabetic() {
                at += 1;
            }
            segments.push(Segment::Letters(text[start..at].to_owned()));
        } else {
            at += 1;
        }
    }
    segments
}

/// The numeric part and the part from the first letter on, each without trailing zeros.
fn canonical_segments(segments: &[Segment]) -> Vec<Segment> {
    let split = segments
        .iter()
        .position(|s| matches!(s, Segment::Letters(_)))
        .unwrap_or(segments.len());
    let (numbers, rest) = segments.split_at(split);
    let trim = |part: &[Segment]| {
        let keep = part.iter().rposition(|s| !s.is_zero()).map_or(0, |i| i + 1);
        part[..keep].to_vec()
    };
    let mut canonical = trim(numbers);
    canonical.extend(trim(rest));
    canonical
}

/// The loop of `Gem::Version#<=>`: pad with `0`, any string before any number.
fn compare_padded(left: &[Segment], right: &[Segment]) -> Ordering {
    let zero = Segment::Number("0".to_owned());
    for i in 0..left.len().max(right.len()) {
        let (l, r) = (left.get(i).unwrap_or(&zero), right.get(i).unwrap_or(&zero));
        let ordering = match (l, r) {
            (Segment::Number(a), Segment::Number(b)) => Segment::cmp_numbers(a, b),
            (Segment::Letters(a), Segment::Letters(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Segment::Letters(_), Segment::Number(_)) => Ordering::Less,
            (Segment::Number(_), Segment::Letters(_)) => Ordering::Greater,
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

fn join(segments: &[Segment]) -> String {
    let parts: Vec<String> = segments.iter().map(ToString::to_string).collect();
    parts.join(".")
}

/// Adds one to a decimal string (Ruby's `Integer#succ`, at any size).
fn increment(digits: &str) -> String {
    let mut bytes = digits.as_bytes().to_vec();
    for byte in bytes.iter_mut().rev() {
        if *byte == b'9' {
            *byte = b'0';
        } else {
            *byte += 1;
            return String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    format!("1{}", String::from_utf8_lossy(&bytes))
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.0.text == other.0.text || self.0.canonical == other.0.canonical {
            return Ordering::Equal;
        }
        compare_padded(&self.0.canonical, &other.0.canonical)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `==` as RubyGems' `<=>` (so `1.0 == 1.0.0`), not `eql?`.
impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Canonical segments, as `Gem::Version#hash`: equal versions hash alike.
impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.canonical.hash(state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:?})", self.0.text)
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).expect("valid version")
    }

    #[test]
    fn orders_like_rubygems() {
        let ascending = [
            "0.a",
            "0.9",
            "1.0.0.a",
            "1.0.0.rc1",
            "1.0.0.rc2",
            "1.0.0.rc10",
            "1.0",
            "1.0.1",
            "1.1.A",
            "1.1.a",
            "1.1.b",
            "1.1",
            "1.2",
            "1.10",
            "2",
            "10.0",
        ];
        for pair in ascending.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("1", "1.0.0.0"),
            ("1.a", "1.0.a"),
            ("01", "1"),
            ("", "0"),
        ] {
            assert_eq!(v(a), v(b), "{a} == {b}");
        }
        assert_eq!(v("1.0.a").cmp(&v("1.0")), Ordering::Less);
        assert_eq!(
            v("99999999999999999999999.1").cmp(&v("99999999999999999999998.9")),
            Ordering::Greater
        );
    }

    #[test]
    fn parses_what_rubygems_accepts() {
        for ok in [
            "1",
            " 1.0 ",
            "1.0.rc1",
            "1.0a",
            "1.0-rc1",
            "1.0-x-y.z",
            "0",
            "",
        ] {
            assert!(Version::parse(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "a", "1.", ".1", "1..2", "1.0-", "1 0", "1.0_1", "-1", "1.0-.x", "1,0",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(v("1.0-rc1").as_str(), "1.0.pre.rc1");
        assert!(v("1.0-rc1").is_prerelease());
        assert!(!v("1.0").is_prerelease());
    }

    #[test]
    fn bump_and_release() {
        for (version, bump) in [
            ("5.3.1", "5.4"),
            ("1", "2"),
            ("1.0", "2"),
            ("1.2.3.rc1", "1.3"),
            ("0.9.9", "0.10"),
            ("1.99", "2"),
        ] {
            assert_eq!(v(version).bump().as_str(), bump, "{version}");
        }
        assert_eq!(v("1.2.0.a.3").release().as_str(), "1.2.0");
        assert_eq!(v("1.2.01").release().as_str(), "1.2.01");
        assert_eq!(v("9.a").bump().as_str(), "10");
    }

    #[test]
    fn equal_versions_hash_alike() {
        use std::collections::HashSet;
        let set: HashSet<Version> = ["1.0", "1", "1.0.0", "1.a", "1.0.a"]
            .iter()
            .map(|s| v(s))
            .collect();
        assert_eq!(set.len(), 2);
    }
}
