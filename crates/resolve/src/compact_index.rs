//! The compact index formats (<https://guides.rubygems.org/rubygems-org-compact-index-api/>),
//! read as Bundler's `CompactIndexClient` reads them.
//!
//! ```text
//! /versions                                   /info/nokogiri
//! created_at: 2024-01-01T00:00:00Z            ---
//! ---                                         1.16.2 mini_portile2:~> 2.8.2,racc:~> 1.4|checksum:5e6f…,ruby:>= 3.0
//! rack 3.0.9,3.0.10 1f2e…(md5 of /info/rack)  1.16.2-x86_64-linux racc:~> 1.4|checksum:9a8b…,ruby:>= 3.0&< 3.4.dev
//! rack 3.1.0 77aa…    (appended later: wins)
//! ```
//!
//! A line we cannot read is skipped rather than failing the whole gem: the index is written
//! by many servers, and one odd old release should not hide the others.

use std::collections::HashMap;

use crate::requirement::Requirement;
use crate::version::Version;
use wow_fetch_gem::RUBY_PLATFORM;

/// One release of one platform, from a line of `/info/NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InfoLine {
    /// The version as the index spells it (and as the `.gem` file is named).
    pub version_text: String,
    pub version: Version,
    pub platform: String,
    /// Runtime dependencies, by name, in index order.
    pub dependencies: Vec<(String, Requirement)>,
    /// Lowercase hex SHA-256 of the `.gem` file, when the server gives one.
    pub checksum: Option<String>,
    /// `required_ruby_version` and `required_rubygems_version`.
    pub ruby: Option<Requirement>,
    pub rubygems: Option<Requirement>,
}

/// Every readable release line of an `/info/NAME` body.
pub(crate) fn parse_info(body: &str) -> Vec<InfoLine> {
    body.lines()
        .filter(|line| !line.is_empty() && *line != "---")
        .filter_map(parse_info_line)
        .collect()
}

/// `VERSION[-PLATFORM] DEP:REQ&REQ,DEP:REQ|checksum:HEX,ruby:REQ,rubygems:REQ`.
fn parse_info_line(line: &str) -> Option<InfoLine> {
    let (version_and_platform, rest) = line.split_once(' ').unwrap_or((line, ""));
    let (version_text, platform) = version_and_platform
        .split_once('-')
        .unwrap_or((version_and_platform, RUBY_PLATFORM));
    let version = Version::parse(version_text).ok()?;
    let (dependencies_part, metadata_part) = rest.split_once('|').unwrap_or((rest, ""));
    let mut dependencies = Vec::new();
    for entry in dependencies_part
        .split(',')
        .filter(|e| !e.trim().is_empty())
    {
        let (name, requirement) = entry.split_once(':').unwrap_or((entry, ""));
        let requirement =
            Requirement::from_constraints(requirement.split('&').filter(|r| !r.trim().is_empty()))
                .ok()?;
        dependencies.push((name.trim().to_owned(), requirement));
    }
    let mut parsed = InfoLine {
        version_text: version_text.to_owned(),
        version,
        platform: if platform.is_empty() {
            RUBY_PLATFORM.to_owned()
        } else {
            platform.to_owned()
        },
        dependencies,
        checksum: None,
        ruby: None,
        rubygems: None,
    };
    for entry in metadata_part.split(',').filter(|e| !e.trim().is_empty()) {
        let Some((key, value)) = entry.split_once(':') else {
            continue;
        };
        match key.trim() {
            "checksum" => {
                let hex = value.trim();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    // A checksum we cannot check is worse than none: skip the release.
                    return None;
                }
                parsed.checksum = Some(hex.to_ascii_lowercase());
            }
            "ruby" => parsed.ruby = Some(Requirement::from_constraints(value.split('&')).ok()?),
            "rubygems" => {
                parsed.rubygems = Some(Requirement::from_constraints(value.split('&')).ok()?);
            }
            _ => {}
        }
    }
    Some(parsed)
}

/// What `/versions` tells us: the MD5 of each gem's current `/info/NAME`. An info file whose
/// cached body has that digest is current and needs no request at all (Bundler's rule).
#[derive(Debug, Default)]
pub(crate) struct VersionsIndex {
    info_md5: HashMap<String, String>,
}

impl VersionsIndex {
    pub(crate) fn parse(body: &str) -> Self {
        let lines = match body.find("\n---\n") {
            Some(at) => &body[at + 5..],
            None => body.strip_prefix("---\n").unwrap_or(body),
        };
        let mut info_md5 = HashMap::new();
        for line in lines.lines() {
            let mut fields = line.split(' ');
            if let (Some(name), Some(_versions), Some(md5), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            {
                // A gem that gained releases gets a new line further down: the last one wins.
                info_md5.insert(name.to_owned(), md5.to_ascii_lowercase());
            }
        }
        Self { info_md5 }
    }

    pub(crate) fn info_md5(&self, name: &str) -> Option<&str> {
        self.info_md5.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "5E6F000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn reads_info_lines() {
        let body = format!(
            "---\n\
             1.16.2 mini_portile2:~> 2.8&>= 2.8.2,racc:~> 1.4|checksum:{SHA},ruby:>= 3.0\n\
             1.16.2-x86_64-linux racc:~> 1.4|checksum:{SHA},ruby:>= 3.0&< 3.4.dev,rubygems:>= 3.3.22\n\
             0.9 |\n\
             bad.version! x:1\n\
             1.0 a:>= nope|checksum:{SHA}\n\
             2.0 |checksum:tooshort\n"
        );
        let lines = parse_info(&body);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let first = &lines[0];
        assert_eq!(
            (first.version_text.as_str(), first.platform.as_str()),
            ("1.16.2", "ruby")
        );
        assert_eq!(first.dependencies.len(), 2);
        assert_eq!(first.dependencies[0].0, "mini_portile2");
        assert_eq!(first.dependencies[0].1.to_string(), "~> 2.8, >= 2.8.2");
        assert_eq!(
            first.checksum.as_deref(),
            Some(SHA.to_ascii_lowercase().as_str())
        );
        assert_eq!(
            first.ruby.as_ref().map(ToString::to_string).as_deref(),
            Some(">= 3.0")
        );
        let second = &lines[1];
        assert_eq!(second.platform, "x86_64-linux");
        assert_eq!(
            second.ruby.as_ref().map(ToString::to_string).as_deref(),
            Some(">= 3.0, < 3.4.dev")
        );
        assert_eq!(
            second.rubygems.as_ref().map(ToString::to_string).as_deref(),
            Some(">= 3.3.22")
        );
        let bare = &lines[2];
        assert!(bare.dependencies.is_empty() && bare.checksum.is_none());
    }

    #[test]
    fn last_versions_line_wins() {
        let index = VersionsIndex::parse(
            "created_at: 2024-01-01T00:00:00Z\n---\nrack 3.0.9 aaa\nrails 7.1.3 bbb\nrack 3.1.0 CCC\n",
        );
        assert_eq!(index.info_md5("rack"), Some("ccc"));
        assert_eq!(index.info_md5("rails"), Some("bbb"));
        assert_eq!(index.info_md5("sinatra"), None);
    }
}
