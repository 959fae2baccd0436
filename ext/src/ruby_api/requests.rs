//! `Fetcher#resolve`'s requirements → the engine's [`GemRequest`]s, and what the resolver needs
//! to know of the running Ruby, with the GVL held and before any traffic.

use magnus::{prelude::*, Error, Ruby, Value};
use wow_fetch_core::{CallOptions, GemRequest, ResolveOptions, Version, RUBY_PLATFORM};

use super::errors::argument_error;
use super::values::{gem_list, string};

/// Strings such as `"sinatra"`, `"rack < 3"` or `"rack:>= 2, < 3"`, each parsed before any
/// traffic.
pub fn requests(ruby: &Ruby, gems: Value) -> Result<Vec<GemRequest>, Error> {
    let list = gem_list(ruby, gems)?;
    let mut requests = Vec::with_capacity(list.len());
    for (index, offset) in (0..list.len()).zip(0_isize..) {
        let value: Value = list.entry(offset)?;
        let text = string(value).ok_or_else(|| {
            argument_error(
                ruby,
                format!(
                    "gems[{index}]: expected a String such as \"rack < 3\", got {}",
                    value.inspect()
                ),
            )
        })?;
        let request = GemRequest::parse(&text)
            .map_err(|e| argument_error(ruby, format!("gems[{index}]: {e}")))?;
        requests.push(request);
    }
    Ok(requests)
}

/// The call's resolve options, with what the running Ruby decides: its version, RubyGems'
/// version and platform, which choose the gem variants that can be installed here.
pub fn resolve_options(ruby: &Ruby, call: &CallOptions) -> Result<ResolveOptions, Error> {
    let mut options = call.resolve_options();
    let version = |expression: &str| -> Result<Option<Version>, Error> {
        let text: String = ruby.eval(expression)?;
        Ok(Version::parse(&text).ok())
    };
    options.ruby_version = version("RUBY_VERSION")?;
    options.rubygems_version = version("Gem::VERSION")?;
    let local: String = ruby.eval("Gem::Platform.local.to_s")?;
    options.platforms = vec![local, RUBY_PLATFORM.to_owned()];
    Ok(options)
}
