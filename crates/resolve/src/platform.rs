//! Which build of a gem version to take: the first of the caller's platforms (preferred
//! first, e.g. `["x86_64-linux", "ruby"]`) that the index has a variant for.
//!
//! Matching follows `Gem::Platform#===` for the `cpu-os[-version]` forms the index uses: the
//! cpus are equal or one is `universal`, the oses are equal, and the versions are equal or
//! one side has none (`x86_64-linux` takes `x86_64-linux-gnu`; `arm64-darwin-23` takes
//! `arm64-darwin`). `ruby` matches only `ruby`.

use wow_fetch_gem::RUBY_PLATFORM;

/// The position in `wanted` of the first platform that `gem_platform` serves.
pub(crate) fn preference(gem_platform: &str, wanted: &[String]) -> Option<usize> {
    wanted.iter().position(|w| serves(gem_platform, w))
}

/// Whether a gem built for `gem_platform` runs on `wanted`.
pub(crate) fn serves(gem_platform: &str, wanted: &str) -> bool {
    if gem_platform == wanted {
        return true;
    }
    if gem_platform == RUBY_PLATFORM || wanted == RUBY_PLATFORM {
        return false;
    }
    let (gem, want) = (Parts::of(gem_platform), Parts::of(wanted));
    let cpu = gem.cpu == want.cpu
        || [gem.cpu, want.cpu]
            .iter()
            .any(|c| c.is_none_or(|c| c == "universal"));
    let version = gem.version.is_none() || want.version.is_none() || gem.version == want.version;
    cpu && gem.os == want.os && version
}

struct Parts<'a> {
    cpu: Option<&'a str>,
    os: &'a str,
    version: Option<&'a str>,
}

impl<'a> Parts<'a> {
    fn of(platform: &'a str) -> Self {
        let mut parts = platform.splitn(3, '-');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(cpu), Some(os), version) => Self {
                cpu: Some(cpu),
                os,
                version,
            },
            (os, ..) => Self {
                cpu: None,
                os: os.unwrap_or(""),
                version: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn matching_table() {
        for (gem, want, expected) in [
            ("ruby", "ruby", true),
            ("ruby", "x86_64-linux", false),
            ("x86_64-linux", "ruby", false),
            ("x86_64-linux", "x86_64-linux", true),
            ("x86_64-linux-gnu", "x86_64-linux", true),
            ("x86_64-linux-musl", "x86_64-linux-gnu", false),
            ("aarch64-linux", "x86_64-linux", false),
            ("universal-darwin", "arm64-darwin-23", true),
            ("arm64-darwin", "arm64-darwin-23", true),
            ("arm64-darwin-21", "arm64-darwin-23", false),
            ("java", "java", true),
            ("java", "x86_64-linux", false),
            ("x64-mingw-ucrt", "x64-mingw-ucrt", true),
        ] {
            assert_eq!(serves(gem, want), expected, "{gem} on {want}");
        }
    }

    #[test]
    fn preferred_first() {
        let list = wanted(&["x86_64-linux", "ruby"]);
        assert_eq!(preference("x86_64-linux-gnu", &list), Some(0));
        assert_eq!(preference("ruby", &list), Some(1));
        assert_eq!(preference("java", &list), None);
    }
}
