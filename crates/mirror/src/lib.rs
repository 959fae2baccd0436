//! wow-mirror: a local HTTPS mirror of a RubyGems source for wow-fetch's tests and benchmarks.
//!
//! It serves `/gems/NAME.gem` from a directory and the compact index (`/versions`, `/info/NAME`,
//! `/names`) built from those gems, plus any `quick/Marshal.4.8/NAME.gemspec.rz` files found in
//! the directory (for `gem install`), over h2 or HTTP/1.1 with a CA made at start, and can inject
//! faults (statuses, resets, truncation, corruption, stalls, slow links) and count what clients
//! do (connections, protocols, ranges, bytes). Use it in-process with [`Mirror::start`], or as
//! the `wow-mirror` binary, which adds `/_stats` and `/_faults` control endpoints for tests in
//! other processes (they exist in-process too).

mod auth;
mod body;
mod certs;
mod compact_index;
mod config;
mod control;
mod dates;
mod faults;
pub mod fixtures;
mod gemspec;
mod headers;
mod proxy;
mod ranges;
mod raw;
mod routes;
mod server;
mod state;
mod stats;
mod store;

pub use auth::{basic, Auth};
pub use config::{MirrorConfig, TlsFault};
pub use faults::{Fault, FaultRule, PathMatch};
pub use fixtures::{write_fixture_set, write_gem, FixtureSet, GemFile};
pub use proxy::{Proxy, Tunnel};
pub use server::Mirror;
pub use stats::{SeenRequest, Stats};
