//! `Wow::Fetcher::Result` (a plain Ruby class in `lib/wow/fetcher/result.rb`), one per input
//! item, built from the engine's outcomes once the run is over.

use magnus::{prelude::*, Error, IntoValue, RArray, RClass, Ruby};
use wow_fetch_core::{Item, Outcome, Status};

use super::{errors, fetcher_const, kwargs};

/// The results in input order. `outcomes` has one entry per item, as the engine promises.
pub fn build_all(ruby: &Ruby, items: &[Item], outcomes: &[Outcome]) -> Result<RArray, Error> {
    let class = fetcher_const::<RClass>(ruby, "Result")?;
    let results = ruby.ary_new_capa(outcomes.len());
    for outcome in outcomes {
        let item = items.get(outcome.index).ok_or_else(|| {
            Error::new(
                ruby.exception_runtime_error(),
                format!("wow-fetch: outcome for unknown item {}", outcome.index),
            )
        })?;
        let error = outcome
            .error
            .as_ref()
            .map(|error| errors::exception(ruby, error))
            .transpose()?;
        let path = outcome
            .path
            .as_ref()
            .map(|path| path.to_string_lossy().into_owned());
        let result = class.new_instance((kwargs(
            ruby,
            [
                ("name", item.name().into_value_with(ruby)),
                ("version", item.version().into_value_with(ruby)),
                ("platform", item.platform().into_value_with(ruby)),
                ("full_name", item.full_name().into_value_with(ruby)),
                ("url", item.display_url().into_value_with(ruby)),
                ("path", path.into_value_with(ruby)),
                (
                    "sha256",
                    outcome.sha256.map(|d| d.to_hex()).into_value_with(ruby),
                ),
                ("bytes", outcome.bytes.into_value_with(ruby)),
                (
                    "status",
                    ruby.sym_new(status_name(outcome.status))
                        .into_value_with(ruby),
                ),
                ("error", error.into_value_with(ruby)),
                ("attempts", outcome.attempts.into_value_with(ruby)),
                (
                    "elapsed",
                    outcome.elapsed.as_secs_f64().into_value_with(ruby),
                ),
            ],
        )?,))?;
        results.push(result)?;
    }
    Ok(results)
}

/// `Result#status`.
fn status_name(status: Status) -> &'static str {
    match status {
        Status::Downloaded => "downloaded",
        Status::Cached => "cached",
        Status::Failed => "failed",
    }
}
