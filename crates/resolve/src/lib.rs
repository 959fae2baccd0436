//! Resolve before fetching: from `["sinatra", "rack < 3"]` to the exact `.gem` files of a
//! consistent runtime tree, each with the SHA-256 the index promises.
//!
//! ```text
//! GemRequest ──▶ gather ──────────────────────────────▶ solver ──▶ Vec<Item>
//!                 │  /versions (Range append, ETag)       PubGrub over GemSets,
//!                 │  /info/NAME… pipelined, If-None-Match newest first, conflicts
//!                 ▼                                       explained by report
//!           index_cache (CACHE_DIR/compact-index-v1/…)
//! ```
//!
//! RubyGems' semantics live in [`version`] (`Gem::Version`), [`requirement`]
//! (`Gem::Requirement`) and [`platform`] (`Gem::Platform` matching); [`set`] turns them into
//! sets the solver can reason with. The walk over the index shares the `Fetcher`'s pooled
//! client (HTTP/2 multiplexed), so the gem downloads that follow reuse its connections.

mod candidates;
mod compact_index;
mod error;
mod gather;
mod index_cache;
mod index_client;
mod options;
mod package;
mod platform;
mod report;
mod request;
mod requirement;
mod set;
mod solver;
mod version;

use std::collections::HashSet;

use tokio::runtime::Runtime;

pub use error::ResolveError;
pub use options::{ResolveOptions, DEFAULT_INDEX_CONCURRENCY};
pub use request::{GemRequest, RequestError};
pub use requirement::{Constraint, Op, Requirement, RequirementError};
pub use version::{Version, VersionError};

use wow_fetch_client::Pool;
use wow_fetch_gem::{full_name, InputError, Item};

use candidates::{Candidate, Environment};
use index_client::IndexClient;

/// Resolves `requests` and their runtime dependencies through the source's compact index,
/// on `runtime` over `pool`, and returns the gems to fetch: requested gems first, then
/// dependencies by name, each with its SHA-256 from the index. Blocks the thread (not from
/// inside an async runtime); `options.cancel` stops it.
///
/// # Errors
/// Bad options (before any traffic), an unknown requested gem, an index that cannot be
/// fetched, or a [`ResolveError::Conflict`] explaining why no versions fit together.
pub fn resolve(
    runtime: &Runtime,
    pool: &Pool,
    requests: &[GemRequest],
    options: &ResolveOptions,
) -> Result<Vec<Item>, ResolveError> {
    if options.platforms.is_empty() {
        return Err(InputError::BadOption {
            option: "platforms",
            reason: "name at least one platform (\"ruby\" for pure-Ruby gems)".to_owned(),
        }
        .into());
    }
    let index = IndexClient::new(pool, options)?;
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let cancel = options.cancel.clone().unwrap_or_default();
    let env = Environment {
        ruby: options.ruby_version.as_ref(),
        rubygems: options.rubygems_version.as_ref(),
        platforms: &options.platforms,
    };
    let gems = runtime.block_on(gather::gather(&index, requests, env, &cancel))?;
    let chosen = solver::solve(requests, &gems, &cancel, index.display_source())?;
    items(chosen, requests, &options.source)
}

/// The requested gems first, in request order, then their dependencies by name: a stable
/// order for output and lockfiles alike.
fn items(
    mut chosen: Vec<(&str, &Candidate)>,
    requests: &[GemRequest],
    source: &str,
) -> Result<Vec<Item>, ResolveError> {
    let mut seen = HashSet::new();
    let rank = |name: &str| {
        requests
            .iter()
            .position(|r| r.name == name)
            .unwrap_or(requests.len())
    };
    chosen.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    let mut items = Vec::with_capacity(chosen.len());
    for (name, candidate) in chosen {
        if !seen.insert(name) {
            continue;
        }
        let build = &candidate.build;
        let full_name = full_name(name, &build.version_text, &build.platform);
        let url = Item::source_url(source, &full_name)?;
        items.push(Item::new(
            name,
            &build.version_text,
            Some(&build.platform),
            build.checksum.as_deref(),
            &url,
        )?);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compact_index::parse_info;

    const SHA: &str = "00000000000000000000000000000000000000000000000000000000000000aa";

    #[test]
    fn requested_first_then_by_name() {
        let line = |text: &str| {
            let build = parse_info(text).remove(0);
            Candidate {
                version: build.version.clone(),
                build,
            }
        };
        let (rack, sinatra, tilt) = (
            line(&format!("3.0.9 |checksum:{SHA}")),
            line("4.0.0 rack:>= 3"),
            line("2.4.0-x86_64-linux |"),
        );
        let chosen = vec![("tilt", &tilt), ("rack", &rack), ("sinatra", &sinatra)];
        let requests = [GemRequest::parse("sinatra").expect("request")];
        let items = items(chosen, &requests, "https://gems.test/").expect("items");
        let names: Vec<String> = items.iter().map(Item::full_name).collect();
        assert_eq!(
            names,
            ["sinatra-4.0.0", "rack-3.0.9", "tilt-2.4.0-x86_64-linux"]
        );
        assert_eq!(
            items[1].url().as_str(),
            "https://gems.test/gems/rack-3.0.9.gem"
        );
        assert_eq!(items[1].sha256().map(|d| d.to_hex()).as_deref(), Some(SHA));
        assert!(items[0].sha256().is_none());
    }
}
