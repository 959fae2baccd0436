//! Which info files a resolve needs, fetched as soon as they are known.
//!
//! Starting from the requested gems, every usable version that some requirement seen so far
//! accepts has its dependencies followed (a version no requirement accepts can never be
//! picked, so old releases of `rails` do not drag in `actionwebservice`). Requests are
//! pipelined rather than taken level by level: a gem's dependencies are requested the moment
//! its info arrives, so a whole level is in flight at once and no level waits for the slowest
//! file of the one before. `/versions` is fetched alongside; once it has arrived, an info file
//! whose cached copy it vouches for (same MD5) is not requested at all.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::OnceLock;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::candidates::{Candidates, Environment};
use crate::compact_index::{parse_info, VersionsIndex};
use crate::error::ResolveError;
use crate::index_client::IndexClient;
use crate::request::{validate_name, GemRequest};
use crate::requirement::Requirement;

/// What the walk knows about one gem.
#[derive(Default)]
struct Gem {
    /// Distinct requirements on it from the request and from followed versions.
    requirements: Vec<Requirement>,
    /// `None` while its info file is in flight.
    candidates: Option<Candidates>,
    /// Which usable versions have had their dependencies followed.
    followed: Vec<bool>,
}

/// Fetches the info of every gem the resolve may need, and `/versions` to keep the cache
/// current. Returns the candidates of each gem by name.
pub(crate) async fn gather(
    client: &IndexClient,
    requests: &[GemRequest],
    env: Environment<'_>,
    cancel: &CancellationToken,
) -> Result<HashMap<String, Candidates>, ResolveError> {
    let versions_index: OnceLock<VersionsIndex> = OnceLock::new();
    let fetch = |name: String| {
        let versions_index = &versions_index;
        async move {
            let md5 = versions_index
                .get()
                .and_then(|index| index.info_md5(&name))
                .map(str::to_owned);
            let body = client.info(&name, md5.as_deref()).await;
            (name, body)
        }
    };
    let mut versions = pin!(client.versions().fuse());
    let mut versions_done = false;
    let mut in_flight = FuturesUnordered::new();
    let mut gems: HashMap<String, Gem> = HashMap::new();
    for request in requests {
        let gem = gems.entry(request.name.clone()).or_insert_with(|| {
            in_flight.push(fetch(request.name.clone()));
            Gem::default()
        });
        if !gem.requirements.contains(&request.requirement) {
            gem.requirements.push(request.requirement.clone());
        }
    }
    while !(in_flight.is_empty() && versions_done) {
        tokio::select! {
            () = cancel.cancelled() => return Err(ResolveError::Cancelled),
            // `/versions` only saves requests: if it cannot be had, the info files still give
            // a correct answer (and their own failures are reported).
            index = &mut versions, if !versions_done => {
                versions_done = true;
                if let Ok(index) = index {
                    let _ = versions_index.set(index);
                }
            }
            Some((name, body)) = in_flight.next(), if !in_flight.is_empty() => {
                let body = body.map_err(ResolveError::Index)?;
                let candidates = match body {
                    Some(body) => Candidates::from_lines(parse_info(&body), env),
                    None if requests.iter().any(|r| r.name == name) => {
                        return Err(ResolveError::UnknownGem {
                            name,
                            source_url: client.display_source(),
                        });
                    }
                    None => Candidates::unknown(),
                };
                let gem = gems.entry(name.clone()).or_default();
                gem.followed = vec![false; candidates.usable.len()];
                gem.candidates = Some(candidates);
                for new in follow(&mut gems, name) {
                    in_flight.push(fetch(new));
                }
            }
        }
    }
    Ok(gems
        .into_iter()
        .filter_map(|(name, gem)| Some((name, gem.candidates?)))
        .collect())
}

/// Follows the dependencies of every newly accepted version of `start`, and of gems whose
/// requirements grew as a result, until nothing changes. Returns the names to fetch.
fn follow(gems: &mut HashMap<String, Gem>, start: String) -> Vec<String> {
    let mut to_fetch = Vec::new();
    let mut work = vec![start];
    while let Some(name) = work.pop() {
        let Some(gem) = gems.get_mut(&name) else {
            continue;
        };
        let Some(candidates) = &gem.candidates else {
            continue;
        };
        let mut dependencies = Vec::new();
        for (i, candidate) in candidates.usable.iter().enumerate() {
            if gem.followed[i]
                || !gem
                    .requirements
                    .iter()
                    .any(|r| r.matches(&candidate.version))
            {
                continue;
            }
            gem.followed[i] = true;
            dependencies.extend(candidate.build.dependencies.iter().cloned());
        }
        for (dependency, requirement) in dependencies {
            if dependency == name {
                continue;
            }
            let known = gems.contains_key(&dependency);
            let entry = gems.entry(dependency.clone()).or_default();
            if !known {
                if validate_name(&dependency).is_ok() {
                    to_fetch.push(dependency.clone());
                } else {
                    // Never used as a path: a name the index should not contain.
                    entry.candidates = Some(Candidates::unknown());
                }
            }
            if !entry.requirements.contains(&requirement) {
                entry.requirements.push(requirement);
                if entry.candidates.is_some() {
                    work.push(dependency);
                }
            }
        }
    }
    to_fetch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidates::Environment;

    fn loaded(body: &str, requirements: &[&str]) -> Gem {
        let platforms = vec!["ruby".to_owned()];
        let env = Environment {
            ruby: None,
            rubygems: None,
            platforms: &platforms,
        };
        let candidates = Candidates::from_lines(parse_info(body), env);
        Gem {
            requirements: requirements
                .iter()
                .map(|r| Requirement::parse(r).expect("requirement"))
                .collect(),
            followed: vec![false; candidates.usable.len()],
            candidates: Some(candidates),
        }
    }

    #[test]
    fn follows_only_versions_some_requirement_accepts() {
        let mut gems = HashMap::new();
        // rails 1.2 would drag in actionwebservice; nobody can pick it.
        gems.insert(
            "rails".to_owned(),
            loaded(
                "---\n1.2 actionwebservice:= 1.2\n7.1 actionpack:= 7.1,rack:>= 2\n",
                &["~> 7.0"],
            ),
        );
        gems.insert("rack".to_owned(), loaded("---\n1.0 old:>= 0\n3.0 |\n", &[]));
        let mut fetch = follow(&mut gems, "rails".to_owned());
        fetch.sort();
        // rack is known, and its 3.0 now accepted; its 1.0 (and `old`) stay out.
        assert_eq!(fetch, ["actionpack"]);
        assert_eq!(gems["rack"].followed, [true, false]);
        assert_eq!(gems["rails"].followed, [true, false]);
        // A later, wider requirement follows more.
        gems.get_mut("rack")
            .expect("rack")
            .requirements
            .push(Requirement::parse("< 2").expect("requirement"));
        assert_eq!(follow(&mut gems, "rack".to_owned()), ["old"]);
    }
}
