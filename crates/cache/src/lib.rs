//! Where files live, and how they get there without ever being seen half-written.
//!
//! ```text
//! CACHE_DIR/
//!   gems-v2/                      bump the version when the layout changes (v1, keyed by
//!                                 host only, is left alone for older versions to use)
//!     rubygems.org/               one directory per source: its origin (host, plus _port if
//!                                 not default), plus a digest of its path when it has one
//!                                 (https://h/acct1 → h-3f9a1c…), as the compact index's
//!       rack-3.0.8.gem            complete and verified, or absent
//!       .rack-3.0.8.gem.part      in flight; removed on failure, cancel or drop
//!       .lock                     a byte per entry, held by whoever is fetching it (Linux;
//!                                 elsewhere `.rack-3.0.8.gem.lock`, see [`EntryLock`])
//! ```
//! A file is written under a temp name in its final directory and renamed into place, so
//! readers in other threads or processes see the old entry, the new one, or none: never a
//! torn file, even after `kill -9` (which can leave only a `.part` file, never a `.gem`).
//! The lock lets concurrent processes fetch each entry once: the others wait, then find it
//! cached. The kernel drops a lock when its holder dies, so a crash never wedges the cache.

mod directory;
mod layout;
mod lock;
mod place;
mod sweep;
mod temp;

pub use layout::{cache_path, source_path, Bucket, SourceDir};
pub use lock::EntryLock;
pub use place::{place_in_dest, write_atomic};
pub use sweep::sweep_orphaned_temp_files;
pub use temp::TempFile;
