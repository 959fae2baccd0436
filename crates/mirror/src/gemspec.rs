//! Just enough of a `.gem`'s `metadata.gz` (a Psych-dumped `Gem::Specification`) to build the
//! compact index: name, version, platform, runtime dependencies and the Ruby/RubyGems
//! requirements. A line reader rather than a YAML library, because Psych's output for these
//! fields is regular and a full YAML stack would be the largest dependency of a test server.

use flate2::read::GzDecoder;
use std::io::{self, Read};

/// The fields of a gem specification the mirror needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GemSpec {
    pub name: String,
    pub version: String,
    /// `ruby` for pure-Ruby gems, else e.g. `x86_64-linux`.
    pub platform: String,
    /// Runtime dependencies only, as the compact index lists them.
    pub dependencies: Vec<Dependency>,
    /// Requirements such as `>= 2.7`; empty when unconstrained.
    pub required_ruby_version: Vec<String>,
    pub required_rubygems_version: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dependency {
    pub name: String,
    /// Each `OP VERSION`, e.g. `~> 1.0`.
    pub requirements: Vec<String>,
}

impl GemSpec {
    /// `name-version`, plus `-platform` unless it is `ruby`: the version string the compact index
    /// uses and, with `.gem`, the file name.
    pub(crate) fn full_version(&self) -> String {
        if self.platform == "ruby" {
            self.version.clone()
        } else {
            format!("{}-{}", self.version, self.platform)
        }
    }
}

/// Read the specification out of a `.gem` (an uncompressed tar holding `metadata.gz`).
pub(crate) fn read_gem(gem: &[u8]) -> io::Result<GemSpec> {
    let mut archive = tar::Archive::new(gem);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.as_os_str() != "metadata.gz" {
            continue;
        }
        let mut yaml = String::new();
        GzDecoder::new(&mut entry).read_to_string(&mut yaml)?;
        return parse(&yaml).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no metadata.gz in the gem",
    ))
}

/// Parse the YAML of a `Gem::Specification`.
pub(crate) fn parse(yaml: &str) -> Result<GemSpec, String> {
    let lines: Vec<&str> = yaml
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let mut spec = GemSpec {
        platform: "ruby".to_owned(),
        ..GemSpec::default()
    };
    for (key, value, block) in sections(&lines, 0) {
        match key {
            "name" => spec.name = unquote(value),
            "version" => {
                spec.version = scalar(block, "version").unwrap_or_else(|| unquote(value));
            }
            "platform" => spec.platform = platform(value, block),
            "dependencies" => spec.dependencies = dependencies(block),
            "required_ruby_version" => spec.required_ruby_version = requirements(block),
            "required_rubygems_version" => spec.required_rubygems_version = requirements(block),
            _ => {}
        }
    }
    if spec.name.is_empty() || spec.version.is_empty() {
        return Err("metadata has no name or version".to_owned());
    }
    Ok(spec)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The mapping keys at exactly `depth` spaces, each with its inline value and the lines nested
/// under it (including a sequence written at the same depth, as Psych does).
fn sections<'a>(lines: &'a [&'a str], depth: usize) -> Vec<(&'a str, &'a str, &'a [&'a str])> {
    let is_key = |line: &str| {
        let body = line.trim_start_matches(' ');
        indent(line) == depth && !body.starts_with('-') && body.contains(':')
    };
    let starts: Vec<usize> = (0..lines.len()).filter(|&i| is_key(lines[i])).collect();
    starts
        .iter()
        .enumerate()
        .filter_map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(lines.len());
            let (key, value) = lines[start].trim_start().split_once(':')?;
            Some((key.trim(), value.trim(), &lines[start + 1..end]))
        })
        .collect()
}

/// The value of the first `key:` line anywhere in `block`.
fn scalar(block: &[&str], key: &str) -> Option<String> {
    block.iter().find_map(|line| {
        let (k, v) = line.trim_start().split_once(':')?;
        (k == key).then(|| unquote(v))
    })
}

/// Psych writes a parsed platform as a tagged mapping of cpu/os/version.
fn platform(value: &str, block: &[&str]) -> String {
    if !value.starts_with("!ruby/object:Gem::Platform") {
        let plain = unquote(value);
        return if plain.is_empty() {
            "ruby".to_owned()
        } else {
            plain
        };
    }
    let parts: Vec<String> = ["cpu", "os", "version"]
        .iter()
        .filter_map(|k| scalar(block, k))
        .filter(|v| !v.is_empty() && v != "nil" && v != "~")
        .collect();
    if parts.is_empty() {
        "ruby".to_owned()
    } else {
        parts.join("-")
    }
}

/// Runtime dependencies from the `dependencies:` sequence of `Gem::Dependency` mappings.
fn dependencies(block: &[&str]) -> Vec<Dependency> {
    let Some(marker) = block
        .iter()
        .find(|l| l.trim_start().starts_with('-'))
        .map(|l| indent(l))
    else {
        return Vec::new();
    };
    let item_starts: Vec<usize> = (0..block.len())
        .filter(|&i| indent(block[i]) == marker && block[i].trim_start().starts_with("- "))
        .collect();
    item_starts
        .iter()
        .enumerate()
        .filter_map(|(n, &start)| {
            let end = item_starts.get(n + 1).copied().unwrap_or(block.len());
            // `- !ruby/object:Gem::Dependency` opens the item; its keys sit two columns in.
            let item = &block[start + 1..end];
            let mut dep = Dependency::default();
            let mut runtime = true;
            for (key, value, nested) in sections(item, marker + 2) {
                match key {
                    "name" => dep.name = unquote(value),
                    "requirement" => dep.requirements = requirements(nested),
                    "type" => runtime = value == ":runtime",
                    _ => {}
                }
            }
            (runtime && !dep.name.is_empty()).then_some(dep)
        })
        .collect()
}

/// `OP VERSION` pairs from a `Gem::Requirement`'s `requirements:` list of `- - OP` /
/// `- !ruby/object:Gem::Version` / `version: V` triples.
fn requirements(block: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut op: Option<String> = None;
    for line in block {
        let body = line.trim_start();
        if let Some(rest) = body.strip_prefix("- - ") {
            op = Some(unquote(rest));
        } else if let Some(version) = body.strip_prefix("version:") {
            if let Some(op) = op.take() {
                found.push(format!("{op} {}", unquote(version)));
            }
        }
    }
    // `>= 0` is how Psych spells "no constraint".
    if found == [">= 0"] {
        found.clear();
    }
    found
}

fn unquote(raw: &str) -> String {
    let s = raw.trim();
    if let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        // The fields read here (names, versions, operators) never carry escapes.
        inner.to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head of `gem spec` for a gem built by `gem build` (RubyGems 3.3).
    const BUILT: &str = r#"--- !ruby/object:Gem::Specification
name: foo
version: !ruby/object:Gem::Version
  version: 1.2.3
platform: x86_64-linux
authors:
- x
dependencies:
- !ruby/object:Gem::Dependency
  name: bar
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - "~>"
      - !ruby/object:Gem::Version
        version: '1.0'
  type: :runtime
  prerelease: false
  version_requirements: !ruby/object:Gem::Requirement
    requirements:
    - - "~>"
      - !ruby/object:Gem::Version
        version: '1.0'
- !ruby/object:Gem::Dependency
  name: baz
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '2'
    - - "<"
      - !ruby/object:Gem::Version
        version: '4'
  type: :runtime
  prerelease: false
  version_requirements: !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '2'
- !ruby/object:Gem::Dependency
  name: rspec
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '0'
  type: :development
  prerelease: false
description: |
  name: not-a-key
files:
- lib/foo.rb
required_ruby_version: !ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: '2.7'
required_rubygems_version: !ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: '0'
rubygems_version: 3.3.15
specification_version: 4
"#;

    #[test]
    fn reads_a_psych_dump() {
        let spec = parse(BUILT).expect("parse");
        assert_eq!(spec.name, "foo");
        assert_eq!(spec.version, "1.2.3");
        assert_eq!(spec.platform, "x86_64-linux");
        assert_eq!(spec.full_version(), "1.2.3-x86_64-linux");
        let deps: Vec<(&str, Vec<&str>)> = spec
            .dependencies
            .iter()
            .map(|d| {
                (
                    d.name.as_str(),
                    d.requirements.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            deps,
            [("bar", vec!["~> 1.0"]), ("baz", vec![">= 2", "< 4"])]
        );
        assert_eq!(spec.required_ruby_version, [">= 2.7"]);
        assert!(spec.required_rubygems_version.is_empty());
    }

    #[test]
    fn reads_a_tagged_platform_and_rejects_nonsense() {
        let yaml = "---\nname: n\nversion: !ruby/object:Gem::Version\n  version: '1.0'\nplatform: !ruby/object:Gem::Platform\n  cpu: x86_64\n  os: darwin\n  version:\n";
        let spec = parse(yaml).expect("parse");
        assert_eq!(spec.platform, "x86_64-darwin");
        assert_eq!(spec.version, "1.0");
        assert!(parse("--- hello\n").is_err());
    }

    /// A gem's metadata comes from whoever built the gem: any text, any bytes, must give a
    /// spec or an error, never a panic (issue 8). `PROPTEST_CASES` raises the default 256.
    mod hostile {
        use super::super::{parse, read_gem};
        use proptest::prelude::*;

        /// Lines in the shapes the parser looks for, at odd indents and in odd orders.
        fn yaml_line() -> impl Strategy<Value = String> {
            let key = prop::sample::select(vec![
                "name",
                "version",
                "platform",
                "dependencies",
                "requirement",
                "requirements",
                "type",
                "cpu",
                "os",
                "required_ruby_version",
                "- - ",
                "- ",
                "-",
                ":",
                "'",
            ]);
            (0usize..8, key, "\\PC{0,12}")
                .prop_map(|(indent, key, value)| format!("{}{key}: {value}", " ".repeat(indent)))
        }

        proptest! {
            #[test]
            fn parse_never_panics(text in "\\PC*") {
                let _ = parse(&text);
            }

            #[test]
            fn parse_of_spec_shaped_lines_never_panics(
                lines in prop::collection::vec(yaml_line(), 0..40),
            ) {
                let text = lines.join("\n");
                if let Ok(spec) = parse(&text) {
                    prop_assert!(!spec.name.is_empty() && !spec.version.is_empty());
                }
            }

            #[test]
            fn read_gem_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
                let _ = read_gem(&bytes);
            }

            #[test]
            fn read_gem_of_a_damaged_gem_never_panics(
                cuts in prop::collection::vec((0usize..4096, any::<u8>()), 1..16),
            ) {
                let dir = tempfile::tempdir().expect("tempdir");
                let gem = crate::write_gem(dir.path(), "dmg", "1.0.0", None, 2_000, &[("a", "~> 1")])
                    .expect("fixture");
                let mut bytes = std::fs::read(&gem.path).expect("read");
                for (at, byte) in cuts {
                    let at = at % bytes.len();
                    bytes[at] = byte;
                }
                let _ = read_gem(&bytes);
            }
        }
    }
}
