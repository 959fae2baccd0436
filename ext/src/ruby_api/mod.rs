//! Everything Ruby sees. `Wow` and `Wow::Fetcher` are opened here once; each file adds one
//! class (`fetcher`, `result`, `event`, `errors`) or does one job for them: `options` (keywords
//! onto the engine's settings), `items` (the `gems` argument), `requests` (`resolve`'s
//! requirements and the running Ruby), `values` (readers of Ruby values), `drain` (a run's
//! events to the block). The plain-Ruby parts (`Result`, `Event`, the error classes) live in `lib/` and are
//! looked up when needed, so their documentation and `inspect` stay in Ruby.

mod drain;
mod errors;
mod event;
mod fetcher;
mod items;
mod options;
mod requests;
mod result;
mod values;

use magnus::{prelude::*, Error, KwArgs, RClass, RModule, Ruby, TryConvert, Value};

/// Classes `lib/wow/fetch.rb` defines before it loads this library.
const RUBY_CLASSES: [&str; 9] = [
    "Result",
    "Event",
    "Error",
    "ChecksumMismatch",
    "HTTPError",
    "NetworkError",
    "DownloadError",
    "ResolveError",
    "InternalError",
];

pub fn init(ruby: &Ruby) -> Result<(), Error> {
    for name in RUBY_CLASSES {
        // Fails the `require` with a clear message instead of a NameError mid-download.
        fetcher_const::<RClass>(ruby, name).map_err(|_| {
            Error::new(
                ruby.exception_load_error(),
                format!(
                    "Wow::Fetcher::{name} is missing: require \"wow/fetch\", not the extension"
                ),
            )
        })?;
    }
    fetcher::init(ruby)
}

/// The root module, `Wow`.
pub fn root(ruby: &Ruby) -> Result<RModule, Error> {
    ruby.define_module("Wow")
}

/// `Wow::Fetcher`, defined by `lib/wow/fetcher/error.rb` before this library loads.
pub fn fetcher_class(ruby: &Ruby) -> Result<RClass, Error> {
    root(ruby)?.define_class("Fetcher", ruby.class_object())
}

/// A constant under `Wow::Fetcher`, such as `Wow::Fetcher::Event`.
pub fn fetcher_const<T: TryConvert>(ruby: &Ruby, name: &str) -> Result<T, Error> {
    fetcher_class(ruby)?.const_get(name)
}

/// Keyword arguments for the constructors of the Ruby-side classes.
pub fn kwargs<const N: usize>(ruby: &Ruby, pairs: [(&str, Value); N]) -> Result<KwArgs, Error> {
    let hash = ruby.hash_new();
    for (key, value) in pairs {
        hash.aset(ruby.sym_new(key), value)?;
    }
    Ok(KwArgs(hash))
}
