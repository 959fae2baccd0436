//! What a gem is to wow-fetch, before any traffic: its name as RubyGems writes it, its
//! SHA-256, the item to fetch (validated so its file name is safe and its URL one we speak),
//! and the redaction every URL passes through before a user sees it. Every other crate of the
//! workspace builds on these types; this one does no I/O.

mod digest;
mod input;
mod item;
mod name;
mod redact;

pub use digest::Sha256Digest;
pub use input::InputError;
pub use item::Item;
pub use name::{full_name, parse_specifier, GemSpecifier, DEFAULT_SOURCE, RUBY_PLATFORM};
pub use redact::{redacted, scrub};
