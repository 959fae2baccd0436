//! `wow_fetch.so`: the Ruby binding of the wow-fetch engine. Ruby items and options are
//! converted while holding the GVL, transfers run on the engine's runtime with the GVL released,
//! and events come back to the calling Ruby thread in batches.

mod helpers;
mod progress;
mod ruby_api;

#[magnus::init(name = "wow_fetch")]
fn init(ruby: &magnus::Ruby) -> Result<(), magnus::Error> {
    ruby_api::init(ruby)
}
