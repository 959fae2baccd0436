//! How RubyGems names a gem: `name-version[-platform]`, read and written one way everywhere.

use crate::input::InputError;

/// The source `gem` and Bundler use when none is given.
pub const DEFAULT_SOURCE: &str = "https://rubygems.org";

/// The platform RubyGems gives a pure-Ruby gem; it is left out of the file name.
pub const RUBY_PLATFORM: &str = "ruby";

/// `name-version[-platform]`, as RubyGems names a gem file.
#[must_use]
pub fn full_name(name: &str, version: &str, platform: &str) -> String {
    if platform == RUBY_PLATFORM || platform.is_empty() {
        format!("{name}-{version}")
    } else {
        format!("{name}-{version}-{platform}")
    }
}

/// The parts of a `"name-version"` or `"name-version-platform"` string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GemSpecifier {
    pub name: String,
    pub version: String,
    pub platform: Option<String>,
}

/// Splits `"nokogiri-1.16.0-x86_64-linux"`: the version is the first `-`-separated segment
/// that starts with a digit (gem names may themselves contain `-` and digits, as in
/// `net-http-0.4.1`); everything after it is the platform.
///
/// # Errors
/// `InputError::BadSpecifier` when no segment after the first starts with a digit.
pub fn parse_specifier(text: &str) -> Result<GemSpecifier, InputError> {
    let segments: Vec<&str> = text.split('-').collect();
    let version_at = segments
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, s)| s.starts_with(|c: char| c.is_ascii_digit()))
        .map(|(i, _)| i)
        .ok_or_else(|| InputError::BadSpecifier(text.to_owned()))?;
    let platform = segments[version_at + 1..].join("-");
    Ok(GemSpecifier {
        name: segments[..version_at].join("-"),
        version: segments[version_at].to_owned(),
        platform: (!platform.is_empty()).then_some(platform),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_name_omits_ruby_platform() {
        assert_eq!(full_name("rack", "3.0.8", "ruby"), "rack-3.0.8");
        assert_eq!(
            full_name("nokogiri", "1.16.0", "x86_64-linux"),
            "nokogiri-1.16.0-x86_64-linux"
        );
    }

    #[test]
    fn specifier_finds_version_segment() {
        let parsed = parse_specifier("nokogiri-1.16.0-x86_64-linux").expect("valid");
        assert_eq!(parsed.name, "nokogiri");
        assert_eq!(parsed.version, "1.16.0");
        assert_eq!(parsed.platform.as_deref(), Some("x86_64-linux"));
        let parsed = parse_specifier("net-http-0.4.1").expect("valid");
        assert_eq!((parsed.name.as_str(), parsed.platform), ("net-http", None));
        let parsed = parse_specifier("x25519-1.0.10").expect("valid");
        assert_eq!(parsed.name, "x25519");
        assert!(parse_specifier("rack").is_err());
        assert!(parse_specifier("1.0").is_err());
    }

    /// The inputs on which the command line's old parser of its own disagreed with this one
    /// (issue 15); the command line now asks this one, through the extension.
    #[test]
    fn specifier_edge_cases_the_command_line_now_shares() {
        let parts = |text| {
            let spec = parse_specifier(text).expect(text);
            (spec.name, spec.version, spec.platform)
        };
        assert_eq!(parts("rack-3.0.8-"), ("rack".into(), "3.0.8".into(), None));
        assert_eq!(parts("foo--1.0"), ("foo-".into(), "1.0".into(), None));
        assert_eq!(parts("foo+bar-1.0"), ("foo+bar".into(), "1.0".into(), None));
        assert_eq!(
            parts("a-1-b-2"),
            ("a".into(), "1".into(), Some("b-2".into()))
        );
    }
}
