//! Choosing versions with PubGrub (the algorithm of Dart's pub, uv and Bundler 2.4+):
//! newest first, a consistent set or a proof that none exists.
//!
//! Everything the solver may ask about has been fetched by [`crate::gather`], so the provider
//! answers from memory. Decisions go to the gem with the most conflicts so far, then to the
//! one with the fewest versions left (as uv does): a gem with a single candidate is settled
//! before a gem with fifty, which keeps backtracking short and favours the newest versions of
//! the gems with more room.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;

use pubgrub::{
    Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics,
    PubGrubError, VersionSet,
};
use tokio_util::sync::CancellationToken;

use crate::candidates::{Candidate, Candidates};
use crate::error::ResolveError;
use crate::package::Package;
use crate::report::Explainer;
use crate::request::GemRequest;
use crate::set::GemSet;
use crate::version::Version;

/// The resolve was cancelled while solving.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub(crate) struct Cancelled;

struct Provider<'a> {
    requests: &'a [GemRequest],
    gems: &'a HashMap<String, Candidates>,
    cancel: &'a CancellationToken,
}

impl Provider<'_> {
    fn usable(&self, name: &str) -> &[Candidate] {
        self.gems.get(name).map_or(&[], |c| c.usable.as_slice())
    }
}

impl DependencyProvider for Provider<'_> {
    type P = Package;
    type V = Version;
    type VS = GemSet;
    type M = String;
    type Priority = (u32, Reverse<usize>);
    type Err = Cancelled;

    fn prioritize(
        &self,
        package: &Package,
        range: &GemSet,
        statistics: &PackageResolutionStatistics,
    ) -> Self::Priority {
        match package {
            Package::Root => (u32::MAX, Reverse(0)),
            Package::Gem(name) => {
                let left = self
                    .usable(name)
                    .iter()
                    .filter(|c| range.contains(&c.version))
                    .count();
                (statistics.conflict_count(), Reverse(left))
            }
        }
    }

    fn choose_version(
        &self,
        package: &Package,
        range: &GemSet,
    ) -> Result<Option<Version>, Cancelled> {
        Ok(match package {
            Package::Root => Some(Version::zero()),
            // Newest first: `usable` is sorted that way.
            Package::Gem(name) => self
                .usable(name)
                .iter()
                .find(|c| range.contains(&c.version))
                .map(|c| c.version.clone()),
        })
    }

    fn get_dependencies(
        &self,
        package: &Package,
        version: &Version,
    ) -> Result<Dependencies<Package, GemSet, String>, Cancelled> {
        let mut constraints: DependencyConstraints<Package, GemSet> =
            DependencyConstraints::default();
        let mut add = |name: &str, set: GemSet| {
            let entry = constraints
                .entry(Package::Gem(Arc::from(name)))
                .or_insert_with(GemSet::full);
            *entry = entry.intersection(&set);
        };
        match package {
            Package::Root => {
                for request in self.requests {
                    add(
                        &request.name,
                        GemSet::from_requirement(&request.requirement),
                    );
                }
            }
            Package::Gem(name) => {
                let Some(candidate) = self.usable(name).iter().find(|c| c.version == *version)
                else {
                    return Ok(Dependencies::Unavailable("is not in the index".to_owned()));
                };
                for (dependency, requirement) in &candidate.build.dependencies {
                    // A gem that lists itself says nothing the solver needs.
                    if **dependency != **name {
                        add(dependency, GemSet::from_requirement(requirement));
                    }
                }
            }
        }
        Ok(Dependencies::Available(constraints))
    }

    fn should_cancel(&self) -> Result<(), Cancelled> {
        if self.cancel.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// The chosen build of every gem in the solution, by name.
pub(crate) fn solve<'a>(
    requests: &[GemRequest],
    gems: &'a HashMap<String, Candidates>,
    cancel: &CancellationToken,
    source: String,
) -> Result<Vec<(&'a str, &'a Candidate)>, ResolveError> {
    let provider = Provider {
        requests,
        gems,
        cancel,
    };
    let solution = match pubgrub::resolve(&provider, Package::Root, Version::zero()) {
        Ok(solution) => solution,
        Err(PubGrubError::NoSolution(tree)) => {
            let explanation = Explainer { gems, source }.explain(tree);
            return Err(ResolveError::Conflict { explanation });
        }
        Err(PubGrubError::ErrorInShouldCancel(_)) => return Err(ResolveError::Cancelled),
        Err(other) => {
            // The provider never fails otherwise; keep the solver's words if it ever does.
            return Err(ResolveError::Conflict {
                explanation: other.to_string(),
            });
        }
    };
    let mut chosen = Vec::with_capacity(solution.len());
    for (package, version) in &solution {
        let Package::Gem(name) = package else {
            continue;
        };
        let Some((name, candidates)) = gems.get_key_value(&**name) else {
            continue;
        };
        if let Some(candidate) = candidates.usable.iter().find(|c| c.version == *version) {
            chosen.push((name.as_str(), candidate));
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidates::Environment;
    use crate::compact_index::parse_info;

    /// An in-memory index: `name → info body`.
    fn index(files: &[(&str, &str)]) -> HashMap<String, Candidates> {
        let platforms = vec!["ruby".to_owned()];
        let env = Environment {
            ruby: None,
            rubygems: None,
            platforms: &platforms,
        };
        files
            .iter()
            .map(|(name, body)| {
                (
                    (*name).to_owned(),
                    Candidates::from_lines(parse_info(body), env),
                )
            })
            .collect()
    }

    fn solved(
        gems: &HashMap<String, Candidates>,
        request: &[&str],
    ) -> Result<Vec<String>, ResolveError> {
        let requests: Vec<GemRequest> = request
            .iter()
            .map(|r| GemRequest::parse(r).expect("request"))
            .collect();
        let mut picked: Vec<String> = solve(
            &requests,
            gems,
            &CancellationToken::new(),
            "https://src".into(),
        )?
        .into_iter()
        .map(|(name, c)| format!("{name}-{}", c.build.version_text))
        .collect();
        picked.sort();
        Ok(picked)
    }

    #[test]
    fn newest_consistent_versions() {
        let gems = index(&[
            ("app", "---\n1.0 lib:>= 1\n2.0 lib:>= 2&< 3,app:>= 1\n"),
            ("lib", "---\n1.0 |\n2.0 |\n2.5 |\n3.0 |\n3.1.rc1 |\n"),
        ]);
        // `app` 2.0 lists itself: ignored.
        assert_eq!(
            solved(&gems, &["app"]).expect("solves"),
            ["app-2.0", "lib-2.5"]
        );
        assert_eq!(solved(&gems, &["lib"]).expect("solves"), ["lib-3.0"]);
        assert_eq!(
            solved(&gems, &["lib >= 3.1.a"]).expect("solves"),
            ["lib-3.1.rc1"]
        );
        assert_eq!(
            solved(&gems, &["app", "lib:~> 1.0"]).expect("solves"),
            ["app-1.0", "lib-1.0"]
        );
    }

    #[test]
    fn conflicts_are_explained() {
        let gems = index(&[
            ("app", "---\n1.0 lib:>= 2\n"),
            ("lib", "---\n1.0 |\n2.0 |\n"),
        ]);
        let Err(ResolveError::Conflict { explanation }) = solved(&gems, &["app", "lib < 2"]) else {
            panic!("expected a conflict");
        };
        assert_eq!(
            explanation,
            "Could not find compatible versions:\n\
             Because app depends on lib >= 2 and you requested lib < 2, app cannot be used.\n\
             And because you requested app, your request cannot be satisfied."
        );
    }

    #[test]
    fn cancel_stops_the_solver() {
        let gems = index(&[("lib", "---\n1.0 |\n")]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        let requests = [GemRequest::parse("lib").expect("request")];
        let result = solve(&requests, &gems, &cancel, String::new());
        assert!(matches!(result, Err(ResolveError::Cancelled)));
    }
}
