//! Requirements as sets the PubGrub solver can intersect and complement.
//!
//! Two facts of RubyGems do not fit a plain interval of versions, and this module exists for
//! them:
//!
//! - `~> 1.2` excludes `2.a` although `2.a < 2`: it asks for a *release* below `2`. No version
//!   marks that boundary (below `2.a` there is `2.A`, then `2.A.A`, …), so ranges are built
//!   over [`Point`]s, which add the cut [`Point::Below`]`(2)` under every version whose release
//!   is at least `2`.
//! - A prerelease matches only a requirement that names one. So a [`GemSet`] is a pair of
//!   ranges, one for releases and one for prereleases, and every set operation works on both
//!   halves: `>= 1` is `([1, ∞), ∅)`, `>= 2.0.rc1` is `([2.0.rc1, ∞), [2.0.rc1, ∞))`.

use std::cmp::Ordering;
use std::fmt;
use std::ops::Bound;

use pubgrub::{Ranges, VersionSet};

use crate::requirement::{Op, Requirement};
use crate::version::Version;

/// A position in version order: a version, or the cut just below every version whose release
/// is at least the given release.
#[derive(Clone, Debug)]
pub(crate) enum Point {
    At(Version),
    Below(Version),
}

impl Ord for Point {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::At(a), Self::At(b)) | (Self::Below(a), Self::Below(b)) => a.cmp(b),
            // Never equal: a version is on one side of every cut.
            (Self::At(a), Self::Below(cut)) => {
                if a.cmp_release_with(cut) == Ordering::Less {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Self::Below(_), Self::At(_)) => other.cmp(self).reverse(),
        }
    }
}

impl PartialOrd for Point {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Point {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Point {}

/// The versions of one gem a requirement (or what the solver derived) allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GemSet {
    releases: Ranges<Point>,
    prereleases: Ranges<Point>,
}

impl GemSet {
    /// The versions `requirement` matches, by `Gem::Dependency#match?`.
    pub(crate) fn from_requirement(requirement: &Requirement) -> Self {
        let mut range = Ranges::full();
        for constraint in requirement.constraints() {
            let at = || Point::At(constraint.version.clone());
            let part = match constraint.op {
                Op::Eq => Ranges::singleton(at()),
                Op::Ne => Ranges::singleton(at()).complement(),
                Op::Gt => Ranges::strictly_higher_than(at()),
                Op::Lt => Ranges::strictly_lower_than(at()),
                Op::Ge => Ranges::higher_than(at()),
                Op::Le => Ranges::lower_than(at()),
                Op::Pessimistic => Ranges::between(at(), Point::Below(constraint.version.bump())),
            };
            range = range.intersection(&part);
        }
        let prereleases = if requirement.is_prerelease() {
            range.clone()
        } else {
            Ranges::empty()
        };
        Self {
            releases: range,
            prereleases,
        }
    }

    /// Whether every release is in the set (what `>= 0` allows).
    pub(crate) fn allows_every_release(&self) -> bool {
        Ranges::higher_than(Point::At(Version::zero())).subset_of(&self.releases)
    }

    /// The one version in the set, if that is all it holds.
    pub(crate) fn as_singleton(&self) -> Option<&Version> {
        let (half, other) = if self.prereleases.is_empty() {
            (&self.releases, &self.prereleases)
        } else {
            (&self.prereleases, &self.releases)
        };
        match half.as_singleton() {
            Some(Point::At(version)) if other.is_empty() => Some(version),
            _ => None,
        }
    }

    /// A simpler set that agrees on every version in `known` (sorted ascending): gaps
    /// between existing versions are closed, so messages read `>= 1.0, <= 2.3` instead of a
    /// list of single versions.
    pub(crate) fn simplified<'a>(&self, known: impl Iterator<Item = &'a Version> + Clone) -> Self {
        let points = |pre: bool| {
            known
                .clone()
                .filter(move |v| v.is_prerelease() == pre)
                .map(|v| Point::At(v.clone()))
        };
        Self {
            releases: self.releases.simplify(points(false)),
            prereleases: self.prereleases.simplify(points(true)),
        }
    }
}

impl VersionSet for GemSet {
    type V = Version;

    fn empty() -> Self {
        Self {
            releases: Ranges::empty(),
            prereleases: Ranges::empty(),
        }
    }

    fn singleton(v: Version) -> Self {
        let single = Ranges::singleton(Point::At(v.clone()));
        if v.is_prerelease() {
            Self {
                releases: Ranges::empty(),
                prereleases: single,
            }
        } else {
            Self {
                releases: single,
                prereleases: Ranges::empty(),
            }
        }
    }

    fn complement(&self) -> Self {
        Self {
            releases: self.releases.complement(),
            prereleases: self.prereleases.complement(),
        }
    }

    fn intersection(&self, other: &Self) -> Self {
        Self {
            releases: self.releases.intersection(&other.releases),
            prereleases: self.prereleases.intersection(&other.prereleases),
        }
    }

    fn contains(&self, v: &Version) -> bool {
        let half = if v.is_prerelease() {
            &self.prereleases
        } else {
            &self.releases
        };
        half.contains(&Point::At(v.clone()))
    }

    fn full() -> Self {
        Self {
            releases: Ranges::full(),
            prereleases: Ranges::full(),
        }
    }

    fn union(&self, other: &Self) -> Self {
        Self {
            releases: self.releases.union(&other.releases),
            prereleases: self.prereleases.union(&other.prereleases),
        }
    }

    fn is_disjoint(&self, other: &Self) -> bool {
        self.releases.is_disjoint(&other.releases)
            && self.prereleases.is_disjoint(&other.prereleases)
    }

    fn subset_of(&self, other: &Self) -> bool {
        self.releases.subset_of(&other.releases) && self.prereleases.subset_of(&other.prereleases)
    }
}

impl fmt::Display for GemSet {
    /// In RubyGems' words: `>= 2, < 3`, `= 1.2.0`, `!= 1.5`, alternatives joined by `or`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prereleases.is_empty() || self.prereleases == self.releases {
            f.write_str(&describe(&self.releases))
        } else if self.releases.is_empty() {
            write!(f, "{} (prereleases)", describe(&self.prereleases))
        } else {
            write!(
                f,
                "{} (prereleases: {})",
                describe(&self.releases),
                describe(&self.prereleases)
            )
        }
    }
}

fn describe(range: &Ranges<Point>) -> String {
    if range.is_empty() {
        return "(no version)".to_owned();
    }
    let segments: Vec<(&Bound<Point>, &Bound<Point>)> = range.iter().collect();
    if let [(Bound::Unbounded, Bound::Excluded(Point::At(a))), (Bound::Excluded(Point::At(b)), Bound::Unbounded)] =
        segments.as_slice()
    {
        if a == b {
            return format!("!= {a}");
        }
    }
    let parts: Vec<String> = segments
        .iter()
        .map(|(low, high)| describe_segment(low, high))
        .collect();
    parts.join(" or ")
}

fn describe_segment(low: &Bound<Point>, high: &Bound<Point>) -> String {
    if let (Bound::Included(Point::At(a)), Bound::Included(Point::At(b))) = (low, high) {
        if a == b {
            return format!("= {a}");
        }
    }
    let low = match low {
        Bound::Unbounded => None,
        Bound::Included(p) => Some(format!(">= {}", point(p))),
        Bound::Excluded(p) => Some(format!("> {}", point(p))),
    };
    let high = match high {
        Bound::Unbounded => None,
        Bound::Included(p) => Some(format!("<= {}", point(p))),
        Bound::Excluded(p) => Some(format!("< {}", point(p))),
    };
    match (low, high) {
        (None, None) => ">= 0".to_owned(),
        (Some(one), None) | (None, Some(one)) => one,
        (Some(low), Some(high)) => format!("{low}, {high}"),
    }
}

/// A cut reads as its release: for releases, `< 2` and "below the cut at 2" are the same set.
fn point(p: &Point) -> &Version {
    match p {
        Point::At(v) | Point::Below(v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).expect("valid version")
    }

    fn set(text: &str) -> GemSet {
        GemSet::from_requirement(&Requirement::parse(text).expect("valid requirement"))
    }

    /// Versions and requirements that exercise every operator around prereleases, `~>`
    /// boundaries and trailing zeros.
    fn corpus() -> (Vec<Version>, Vec<Requirement>) {
        let versions: Vec<Version> = [
            "0",
            "0.a",
            "0.1",
            "0.9.9",
            "1",
            "1.0.0",
            "1.0.0.rc1",
            "1.0.a",
            "1.1",
            "1.1.b.2",
            "1.2",
            "1.2.3",
            "1.2.3.4",
            "1.3.A",
            "1.3.a",
            "1.3",
            "1.9.z",
            "2.A",
            "2.a",
            "2.A.A",
            "2",
            "2.0.1",
            "2.1.pre",
            "3",
            "3.a",
            "10",
        ]
        .iter()
        .map(|s| v(s))
        .collect();
        let mut requirements = Vec::new();
        for op in ["=", "!=", ">", "<", ">=", "<=", "~>"] {
            for bound in [
                "0", "1", "1.0", "1.0.a", "1.2", "1.2.3", "1.3.a", "2", "2.a", "0.9.9",
            ] {
                requirements.push(Requirement::parse(&format!("{op} {bound}")).expect("valid"));
            }
        }
        for text in [
            "~> 1.2, != 1.3",
            ">= 1.0.a, < 2",
            "~> 1.2.rc, >= 1.2.3",
            "> 1, < 1.1",
        ] {
            requirements.push(Requirement::parse(text).expect("valid"));
        }
        (versions, requirements)
    }

    #[test]
    fn sets_agree_with_requirements() {
        let (versions, requirements) = corpus();
        for requirement in &requirements {
            let set = GemSet::from_requirement(requirement);
            for version in &versions {
                assert_eq!(
                    set.contains(version),
                    requirement.matches(version),
                    "{requirement} vs {version}"
                );
            }
        }
    }

    #[test]
    fn set_algebra_agrees_pointwise() {
        let (versions, requirements) = corpus();
        let sets: Vec<GemSet> = requirements.iter().map(GemSet::from_requirement).collect();
        for (i, a) in sets.iter().enumerate().step_by(3) {
            for b in sets.iter().skip(i % 5).step_by(4) {
                let (and, or, not) = (a.intersection(b), a.union(b), a.complement());
                for version in &versions {
                    let (x, y) = (a.contains(version), b.contains(version));
                    assert_eq!(and.contains(version), x && y);
                    assert_eq!(or.contains(version), x || y);
                    assert_eq!(not.contains(version), !x);
                }
            }
        }
    }

    #[test]
    fn cut_sits_below_prereleases_of_the_bump() {
        let cut = Point::Below(v("2"));
        for below in ["1.9.z", "1.99", "1.9.9.a"] {
            assert!(Point::At(v(below)) < cut, "{below}");
        }
        for above in ["2.A.A", "2.a", "2", "2.0.0.a", "3"] {
            assert!(Point::At(v(above)) > cut, "{above}");
        }
        assert!(!set("~> 1.2").contains(&v("2.a")));
    }

    #[test]
    fn reads_like_rubygems() {
        assert_eq!(set(">= 2, < 3").to_string(), ">= 2, < 3");
        assert_eq!(set("~> 1.2").to_string(), ">= 1.2, < 2");
        assert_eq!(set("= 1.0").to_string(), "= 1.0");
        assert_eq!(set("!= 1.5").to_string(), "!= 1.5");
        assert_eq!(set(">= 0").to_string(), ">= 0");
        assert_eq!(
            set("< 1")
                .complement()
                .intersection(&set("< 2"))
                .to_string(),
            ">= 1, < 2"
        );
        assert_eq!(
            set("< 1").complement().to_string(),
            ">= 1 (prereleases: >= 0)"
        );
        let known = [v("1.0"), v("1.1"), v("1.2")];
        let spread = GemSet::singleton(v("1.0")).union(&GemSet::singleton(v("1.1")));
        assert_eq!(spread.to_string(), "= 1.0 or = 1.1");
        // The lowest known version is in, so nothing below it needs a bound.
        assert_eq!(spread.simplified(known.iter()).to_string(), "<= 1.1");
    }
}
