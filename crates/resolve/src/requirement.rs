//! `Gem::Requirement`: one or more `OP VERSION` constraints that must all hold.
//!
//! Operators are RubyGems' seven: `= != > < >= <= ~>`; no operator means `=`, no constraint
//! means `>= 0`. `~> 1.2.3` is `>= 1.2.3` with a release below `1.3` (see [`Version::bump`]).
//! Prereleases follow `Gem::Dependency#match?`: a prerelease version matches only a
//! requirement that itself names a prerelease ([`Requirement::matches`]);
//! [`Requirement::is_satisfied_by`] is the raw `satisfied_by?` that ignores that rule (as
//! RubyGems does for `required_ruby_version`).

use std::fmt;
use std::str::FromStr;

use crate::version::{matches_version_pattern, Version};

/// A comparison operator of a requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    /// `~>`, the pessimistic operator.
    Pessimistic,
}

impl Op {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Lt => "<",
            Self::Ge => ">=",
            Self::Le => "<=",
            Self::Pessimistic => "~>",
        }
    }

    /// Whether `version` stands in this relation to `bound` (`OPS` in `requirement.rb`).
    #[must_use]
    pub fn holds(self, version: &Version, bound: &Version) -> bool {
        match self {
            Self::Eq => version == bound,
            Self::Ne => version != bound,
            Self::Gt => version > bound,
            Self::Lt => version < bound,
            Self::Ge => version >= bound,
            Self::Le => version <= bound,
            Self::Pessimistic => version >= bound && version.release() < bound.bump(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `OP VERSION` pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Constraint {
    pub op: Op,
    pub version: Version,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op, self.version)
    }
}

/// A constraint that is not one RubyGems accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ill-formed requirement {0:?}")]
pub struct RequirementError(pub String);

/// A `Gem::Requirement`: all of its constraints must hold. Never empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    constraints: Vec<Constraint>,
}

impl Default for Requirement {
    /// `>= 0`: any release.
    fn default() -> Self {
        Self {
            constraints: vec![Constraint {
                op: Op::Ge,
                version: Version::zero(),
            }],
        }
    }
}

impl Requirement {
    /// Parses comma-separated constraints, as a Gemfile or `gem install -v` writes them:
    /// `">= 2, < 3"`, `"~> 1.4"`, `"3.0.9"` (meaning `= 3.0.9`).
    ///
    /// # Errors
    /// A [`RequirementError`] naming the first constraint RubyGems would reject.
    pub fn parse(text: &str) -> Result<Self, RequirementError> {
        Self::from_constraints(text.split(','))
    }

    /// Builds from separate constraint strings (the compact index joins them with `&`).
    /// Duplicates are dropped as `Gem::Requirement.new` does; none at all means `>= 0`.
    ///
    /// # Errors
    /// A [`RequirementError`] naming the first constraint RubyGems would reject.
    pub fn from_constraints<'a>(
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, RequirementError> {
        let mut seen: Vec<&str> = Vec::new();
        let mut constraints = Vec::new();
        for text in texts {
            if seen.contains(&text) {
                continue;
            }
            seen.push(text);
            constraints.push(parse_constraint(text)?);
        }
        if constraints.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self { constraints })
    }

    #[must_use]
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// `Gem::Requirement#prerelease?`: some constraint names a prerelease version.
    #[must_use]
    pub fn is_prerelease(&self) -> bool {
        self.constraints.iter().any(|c| c.version.is_prerelease())
    }

    /// `>= 0`, the requirement that says nothing.
    #[must_use]
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// `Gem::Requirement#satisfied_by?`: every constraint holds, prerelease or not.
    #[must_use]
    pub fn is_satisfied_by(&self, version: &Version) -> bool {
        self.constraints
            .iter()
            .all(|c| c.op.holds(version, &c.version))
    }

    /// `Gem::Dependency#match?`: as [`Self::is_satisfied_by`], but a prerelease version
    /// matches only when this requirement names a prerelease. What resolution uses.
    #[must_use]
    pub fn matches(&self, version: &Version) -> bool {
        (!version.is_prerelease() || self.is_prerelease()) && self.is_satisfied_by(version)
    }
}

/// `\s*(=|!=|>|<|>=|<=|~>)?\s*(VERSION_PATTERN)\s*`, anchored; `>= 0` included.
fn parse_constraint(text: &str) -> Result<Constraint, RequirementError> {
    let bad = || RequirementError(text.chars().take(80).collect());
    let rest = text.trim_start_matches(is_ruby_space);
    let (op, rest) = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        ("~>", Op::Pessimistic),
        ("=", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
    ]
    .into_iter()
    .find_map(|(symbol, op)| rest.strip_prefix(symbol).map(|rest| (op, rest)))
    .unwrap_or((Op::Eq, rest));
    let version_text = rest.trim_matches(is_ruby_space);
    if !matches_version_pattern(version_text) {
        return Err(bad());
    }
    let version = Version::parse(version_text).map_err(|_| bad())?;
    Ok(Constraint { op, version })
}

fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

impl fmt::Display for Requirement {
    /// `">= 2, < 3"`, as `Gem::Requirement#to_s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, constraint) in self.constraints.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{constraint}")?;
        }
        Ok(())
    }
}

impl FromStr for Requirement {
    type Err = RequirementError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Requirement {
        Requirement::parse(text).expect("valid requirement")
    }

    fn v(text: &str) -> Version {
        Version::parse(text).expect("valid version")
    }

    #[test]
    fn operator_table() {
        let table: &[(&str, &str, bool)] = &[
            ("= 1.0", "1.0.0", true),
            ("1.0", "1.0.1", false),
            ("!= 1.0", "1.0.0", false),
            ("> 1.0", "1.0.1", true),
            ("< 1.0", "1.0.a", true),
            (">= 1.0", "1.0", true),
            ("<= 1.0", "1.0.0.0", true),
            ("~> 1.2", "1.9.9", true),
            ("~> 1.2", "2.0", false),
            ("~> 1.2.3", "1.2.9", true),
            ("~> 1.2.3", "1.3", false),
            ("~> 1", "1.9", true),
            ("~> 1", "2", false),
            (">= 2, < 3", "2.9", true),
            (">= 2, < 3", "3.0", false),
            ("~> 1.0, >= 1.0.2", "1.0.1", false),
            (">=0", "0", true),
        ];
        for (requirement, version, expected) in table {
            assert_eq!(
                r(requirement).is_satisfied_by(&v(version)),
                *expected,
                "{requirement} vs {version}"
            );
        }
    }

    #[test]
    fn pessimistic_excludes_prereleases_of_the_bump() {
        // `2.0.a` is below 2.0 but its release is not: RubyGems keeps it out of `~> 1.2`.
        assert!(!r("~> 1.2.rc").is_satisfied_by(&v("2.0.a")));
        assert!(r("~> 1.2.rc").is_satisfied_by(&v("1.9.a")));
    }

    #[test]
    fn prereleases_need_a_prerelease_requirement() {
        assert!(r(">= 1").is_satisfied_by(&v("2.0.rc1")));
        assert!(!r(">= 1").matches(&v("2.0.rc1")));
        assert!(r(">= 2.0.rc1").matches(&v("2.0.rc2")));
        assert!(!Requirement::default().matches(&v("0.1.a")));
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(r("  ~>1.4 ").to_string(), "~> 1.4");
        assert_eq!(r(">= 2,< 3").to_string(), ">= 2, < 3");
        assert_eq!(r("3.0.9").to_string(), "= 3.0.9");
        assert!(r(">= 0").is_default());
        let amp = Requirement::from_constraints(">= 1&< 2&>= 1".split('&')).expect("valid");
        assert_eq!(amp.to_string(), ">= 1, < 2");
        assert!(Requirement::from_constraints([])
            .expect("empty")
            .is_default());
        for bad in ["", ">", "=> 1", "~ 1", ">= 1.", "1 2", ">= 1,", "> = 1"] {
            assert!(Requirement::parse(bad).is_err(), "{bad:?}");
        }
    }
}
