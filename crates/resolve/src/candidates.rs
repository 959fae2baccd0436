//! From a gem's index lines to what the solver may pick: one build per version, for this
//! Ruby and these platforms, newest first. What is passed over is kept, with the reason, so a
//! failed resolve can say "rack 3.1.0 requires ruby >= 3.2" instead of just "no version".

use std::collections::BTreeMap;

use crate::compact_index::InfoLine;
use crate::platform;
use crate::version::Version;

/// The running Ruby, RubyGems and platforms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Environment<'a> {
    pub ruby: Option<&'a Version>,
    pub rubygems: Option<&'a Version>,
    pub platforms: &'a [String],
}

/// A version the solver may pick, with the build that would be fetched.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub version: Version,
    pub build: InfoLine,
}

/// A version that exists but cannot be used here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PassedOver {
    pub version: Version,
    pub reason: String,
}

/// Everything the solver knows about one gem.
#[derive(Clone, Debug, Default)]
pub(crate) struct Candidates {
    /// Newest first, one per version (`1.0` and `1.0.0` are one version to RubyGems too).
    pub usable: Vec<Candidate>,
    pub passed_over: Vec<PassedOver>,
    /// The source has no such gem (its info file is missing).
    pub unknown: bool,
}

impl Candidates {
    pub(crate) fn unknown() -> Self {
        Self {
            unknown: true,
            ..Self::default()
        }
    }

    pub(crate) fn from_lines(lines: Vec<InfoLine>, env: Environment<'_>) -> Self {
        let mut by_version: BTreeMap<Version, Vec<InfoLine>> = BTreeMap::new();
        for line in lines {
            by_version
                .entry(line.version.clone())
                .or_default()
                .push(line);
        }
        let mut candidates = Self::default();
        for (version, builds) in by_version.into_iter().rev() {
            match choose_build(builds, env) {
                Ok(build) => candidates.usable.push(Candidate { version, build }),
                Err(reason) => candidates.passed_over.push(PassedOver { version, reason }),
            }
        }
        candidates
    }
}

/// The build for the most preferred platform among those this Ruby can run, or why none.
fn choose_build(builds: Vec<InfoLine>, env: Environment<'_>) -> Result<InfoLine, String> {
    let mut best: Option<(usize, InfoLine)> = None;
    let mut refusal: Option<String> = None;
    for build in builds {
        let Some(rank) = platform::preference(&build.platform, env.platforms) else {
            continue;
        };
        if let Some(reason) = unmet(&build, env) {
            refusal.get_or_insert(reason);
            continue;
        }
        // Ties keep the first line: the index lists a version's builds in a stable order.
        if best.as_ref().is_none_or(|(best_rank, _)| rank < *best_rank) {
            best = Some((rank, build));
        }
    }
    best.map(|(_, build)| build).ok_or_else(|| {
        refusal.unwrap_or_else(|| format!("has no build for {}", env.platforms.join(" or ")))
    })
}

/// The `ruby:` or `rubygems:` requirement this environment does not meet. As RubyGems does,
/// these are checked with `satisfied_by?`, so a prerelease Ruby counts.
fn unmet(build: &InfoLine, env: Environment<'_>) -> Option<String> {
    for (what, requirement, running) in [
        ("ruby", &build.ruby, env.ruby),
        ("rubygems", &build.rubygems, env.rubygems),
    ] {
        if let (Some(requirement), Some(running)) = (requirement, running) {
            if !requirement.is_satisfied_by(running) {
                return Some(format!("requires {what} {requirement} (this is {running})"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compact_index::parse_info;

    const SHA: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    fn env<'a>(ruby: &'a Version, platforms: &'a [String]) -> Environment<'a> {
        Environment {
            ruby: Some(ruby),
            rubygems: None,
            platforms,
        }
    }

    #[test]
    fn picks_platform_build_and_respects_ruby() {
        let body = format!(
            "---\n\
             1.16.0 racc:~> 1.4,mini_portile2:~> 2.8|checksum:{SHA},ruby:>= 2.7\n\
             1.16.0-x86_64-linux racc:~> 1.4|checksum:{SHA},ruby:>= 2.7\n\
             1.17.0-x86_64-linux racc:~> 1.4|checksum:{SHA},ruby:>= 3.2\n\
             1.17.0 racc:~> 1.4|checksum:{SHA},ruby:>= 3.0\n\
             1.18.0 |checksum:{SHA},ruby:>= 3.3\n\
             1.15.0-java |checksum:{SHA}\n"
        );
        let ruby = Version::parse("3.1.2").expect("version");
        let platforms = vec!["x86_64-linux".to_owned(), "ruby".to_owned()];
        let found = Candidates::from_lines(parse_info(&body), env(&ruby, &platforms));
        let usable: Vec<(String, String)> = found
            .usable
            .iter()
            .map(|c| (c.version.to_string(), c.build.platform.clone()))
            .collect();
        // 1.17.0's linux build needs Ruby 3.2, so its pure-Ruby build is taken instead.
        assert_eq!(
            usable,
            [
                ("1.17.0".into(), "ruby".into()),
                ("1.16.0".into(), "x86_64-linux".into())
            ]
        );
        assert_eq!(found.passed_over.len(), 2);
        assert_eq!(
            found.passed_over[0].reason,
            "requires ruby >= 3.3 (this is 3.1.2)"
        );
        assert_eq!(
            found.passed_over[1].reason,
            "has no build for x86_64-linux or ruby"
        );
    }
}
