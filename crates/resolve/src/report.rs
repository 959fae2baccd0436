//! A failed resolve, explained in words a user can act on.
//!
//! PubGrub's derivation tree says *why* no set of versions works; this renders it in RubyGems'
//! vocabulary (`rack >= 3.0, < 4`, "you requested", "depends on"), with version sets narrowed
//! to the versions that exist (so a list of single versions reads as one range), and adds what
//! the tree cannot know: versions passed over because of the Ruby, RubyGems or platform.
//!
//! ```text
//! Could not find compatible versions:
//! Because sinatra 4.0.0 depends on rack >= 3.0, < 4 and you requested rack < 3,
//!   sinatra 4.0.0 cannot be used.
//! And because you requested sinatra 4.0.0, your request cannot be satisfied.
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use pubgrub::{
    DefaultStringReporter, DerivationTree, Derived, External, Map, ReportFormatter, Reporter, Term,
    VersionSet,
};

use crate::candidates::Candidates;
use crate::package::Package;
use crate::set::GemSet;
use crate::version::Version;

/// Versions listed in a hint before "and N more".
const LISTED: usize = 4;

pub(crate) struct Explainer<'a> {
    pub gems: &'a HashMap<String, Candidates>,
    pub source: String,
}

impl Explainer<'_> {
    /// The whole message for a derivation tree.
    pub(crate) fn explain(&self, tree: DerivationTree<Package, GemSet, String>) -> String {
        // Every version of every gem involved is known (the walk fetched them all), so "no
        // version in this range" can be folded into the requirement that asked for it;
        // unless that leaves a bare "you requested X", which explains nothing.
        let mut collapsed = tree.clone();
        collapsed.collapse_no_versions();
        let tree = match collapsed {
            DerivationTree::Derived(_) => collapsed,
            DerivationTree::External(_) => tree,
        };
        let mut message = String::from("Could not find compatible versions:\n");
        message.push_str(&DefaultStringReporter::report_with_formatter(&tree, self));
        let mut names: Vec<&str> = tree
            .packages()
            .into_iter()
            .filter_map(|p| match p {
                Package::Gem(name) => Some(&**name),
                Package::Root => None,
            })
            .collect();
        names.sort_unstable();
        for name in names {
            if self.gems.get(name).is_none_or(|c| c.unknown) {
                message.push_str(&format!(
                    "\nNote: there is no gem named {name} in {}",
                    self.source
                ));
            }
            for note in self.passed_over_notes(name) {
                message.push_str("\nNote: ");
                message.push_str(&note);
            }
        }
        message
    }

    /// `rack 3.1.0 and 3.1.1 skipped: requires ruby >= 3.2 (this is 3.1.2)`.
    fn passed_over_notes(&self, name: &str) -> Vec<String> {
        let Some(candidates) = self.gems.get(name) else {
            return Vec::new();
        };
        let mut by_reason: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for passed in &candidates.passed_over {
            by_reason
                .entry(&passed.reason)
                .or_default()
                .push(passed.version.to_string());
        }
        by_reason
            .into_iter()
            .map(|(reason, versions)| format!("{name} {} skipped: {reason}", listing(&versions)))
            .collect()
    }

    /// The known versions of a gem, oldest first.
    fn known(&self, name: &str) -> Vec<&Version> {
        self.gems
            .get(name)
            .map(|c| c.usable.iter().rev().map(|c| &c.version).collect())
            .unwrap_or_default()
    }

    /// A requirement on a gem, as a user would write it: `rack >= 3.0, < 4`, or just `rack`
    /// when it allows every release.
    fn requirement(&self, package: &Package, set: &GemSet) -> String {
        let Package::Gem(name) = package else {
            return "your request".to_owned();
        };
        let known = self.known(name);
        let set = set.simplified(known.iter().copied());
        if set.allows_every_release() {
            return name.to_string();
        }
        match set.as_singleton() {
            Some(version) => format!("{name} = {version}"),
            None => format!("{name} {set}"),
        }
    }

    /// Versions of a gem that something is said about: `rack 3.0.9` when that is the one
    /// version there is, `rack` when it is all of them, else the range.
    fn subject(&self, package: &Package, set: &GemSet) -> String {
        let Package::Gem(name) = package else {
            return "your request".to_owned();
        };
        let known = self.known(name);
        let inside: Vec<&Version> = known.iter().copied().filter(|v| set.contains(v)).collect();
        if !known.is_empty() && inside.len() == known.len() {
            return name.to_string();
        }
        if let [only] = inside.as_slice() {
            return format!("{name} {only}");
        }
        self.requirement(package, set)
    }

    fn term(&self, package: &Package, term: &Term<GemSet>) -> String {
        match term {
            Term::Positive(set) => self.subject(package, set),
            Term::Negative(set) => format!("not {}", self.requirement(package, set)),
        }
    }

    fn no_versions(&self, package: &Package, set: &GemSet) -> String {
        let Package::Gem(name) = package else {
            return "your request cannot be satisfied".to_owned();
        };
        let Some(candidates) = self.gems.get(&**name).filter(|c| !c.unknown) else {
            return format!("there is no gem named {name} in {}", self.source);
        };
        let available: Vec<String> = candidates
            .usable
            .iter()
            .map(|c| c.version.to_string())
            .collect();
        let wanted = if set.allows_every_release() {
            format!("there is no usable version of {name}")
        } else {
            format!("there is no version of {}", self.requirement(package, set))
        };
        if available.is_empty() {
            wanted
        } else {
            format!("{wanted} (it has {})", listing(&available))
        }
    }
}

/// `1.0, 1.1 and 3 more`.
fn listing(versions: &[String]) -> String {
    match versions.len() {
        0 => String::new(),
        1 => versions[0].clone(),
        n if n <= LISTED => format!("{} and {}", versions[..n - 1].join(", "), versions[n - 1]),
        n => format!("{} and {} more", versions[..LISTED].join(", "), n - LISTED),
    }
}

impl ReportFormatter<Package, GemSet, String> for Explainer<'_> {
    type Output = String;

    fn format_external(&self, external: &External<Package, GemSet, String>) -> String {
        match external {
            External::NotRoot(..) => "we are resolving your request".to_owned(),
            External::NoVersions(package, set) => self.no_versions(package, set),
            External::Custom(package, set, reason) => {
                format!("{} {reason}", self.subject(package, set))
            }
            External::FromDependencyOf(Package::Root, _, dependency, set) => {
                format!("you requested {}", self.requirement(dependency, set))
            }
            External::FromDependencyOf(package, set, dependency, dependency_set) => format!(
                "{} depends on {}",
                self.subject(package, set),
                self.requirement(dependency, dependency_set)
            ),
        }
    }

    fn format_terms(&self, terms: &Map<Package, Term<GemSet>>) -> String {
        let mut terms: Vec<_> = terms.iter().collect();
        if terms.len() > 1 {
            // The request always holds: "your request and X are incompatible" says "X cannot
            // be used".
            terms.retain(|(p, t)| !matches!((p, t), (Package::Root, Term::Positive(_))));
        }
        match terms.as_slice() {
            [] | [(Package::Root, Term::Positive(_))] => {
                "your request cannot be satisfied".to_owned()
            }
            [(package, Term::Positive(set))] => {
                format!("{} cannot be used", self.subject(package, set))
            }
            [(package, Term::Negative(set))] => {
                format!("{} is required", self.requirement(package, set))
            }
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => self.format_external(
                &External::FromDependencyOf((*p1).clone(), r1.clone(), (*p2).clone(), r2.clone()),
            ),
            many => {
                let parts: Vec<String> = many.iter().map(|(p, t)| self.term(p, t)).collect();
                format!("{} are incompatible", parts.join(", "))
            }
        }
    }

    fn explain_both_external(
        &self,
        external1: &External<Package, GemSet, String>,
        external2: &External<Package, GemSet, String>,
        current_terms: &Map<Package, Term<GemSet>>,
    ) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(external1),
            self.format_external(external2),
            self.format_terms(current_terms)
        )
    }

    fn explain_both_ref(
        &self,
        ref_id1: usize,
        derived1: &Derived<Package, GemSet, String>,
        ref_id2: usize,
        derived2: &Derived<Package, GemSet, String>,
        current_terms: &Map<Package, Term<GemSet>>,
    ) -> String {
        format!(
            "Because {} ({ref_id1}) and {} ({ref_id2}), {}.",
            self.format_terms(&derived1.terms),
            self.format_terms(&derived2.terms),
            self.format_terms(current_terms)
        )
    }

    fn explain_ref_and_external(
        &self,
        ref_id: usize,
        derived: &Derived<Package, GemSet, String>,
        external: &External<Package, GemSet, String>,
        current_terms: &Map<Package, Term<GemSet>>,
    ) -> String {
        format!(
            "Because {} ({ref_id}) and {}, {}.",
            self.format_terms(&derived.terms),
            self.format_external(external),
            self.format_terms(current_terms)
        )
    }

    fn and_explain_external(
        &self,
        external: &External<Package, GemSet, String>,
        current_terms: &Map<Package, Term<GemSet>>,
    ) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(external),
            self.format_terms(current_terms)
        )
    }

    fn and_explain_ref(
        &self,
        ref_id: usize,
        derived: &Derived<Package, GemSet, String>,
        current_terms: &Map<Package, Term<GemSet>>,
    ) -> String {
        format!(
            "And because {} ({ref_id}), {}.",
            self.format_terms(&derived.terms),
            self.format_terms(current_terms)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior_external: &External<Package, GemSet, String>,
        external: &External<Package, GemSet, String>,
        current_terms: &Map<Package, Term<GemSet>>,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior_external),
            self.format_external(external),
            self.format_terms(current_terms)
        )
    }
}

impl fmt::Debug for Explainer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Explainer")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_a_few_versions() {
        let v: Vec<String> = ["1", "2", "3", "4", "5", "6"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(listing(&v[..1]), "1");
        assert_eq!(listing(&v[..3]), "1, 2 and 3");
        assert_eq!(listing(&v), "1, 2, 3, 4 and 2 more");
    }
}
