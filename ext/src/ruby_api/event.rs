//! `Wow::Fetcher::Event` (a plain Ruby class in `lib/wow/fetcher/event.rb`), built from an
//! engine event on the calling thread.

use magnus::{prelude::*, Error, IntoValue, RClass, Ruby, Value};
use wow_fetch_core::EventKind;

use super::{errors, fetcher_const, kwargs};

/// Builds the Ruby event that is yielded to the caller's block.
pub fn build(ruby: &Ruby, event: &wow_fetch_core::Event) -> Result<Value, Error> {
    let error = event
        .error
        .as_ref()
        .map(|error| errors::exception(ruby, error))
        .transpose()?;
    let totals = event.totals;
    fetcher_const::<RClass>(ruby, "Event")?.new_instance((kwargs(
        ruby,
        [
            (
                "type",
                ruby.sym_new(kind_name(event.kind)).into_value_with(ruby),
            ),
            ("full_name", (&*event.full_name).into_value_with(ruby)),
            ("bytes", event.bytes.into_value_with(ruby)),
            ("total", event.total.into_value_with(ruby)),
            ("attempt", event.attempt.into_value_with(ruby)),
            ("error", error.into_value_with(ruby)),
            ("done", totals.done.into_value_with(ruby)),
            ("count", totals.count.into_value_with(ruby)),
            ("bytes_done", totals.bytes_done.into_value_with(ruby)),
            ("bytes_total", totals.bytes_total.into_value_with(ruby)),
        ],
    )?,))
}

/// `Event#type`.
fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Started => "started",
        EventKind::Progress => "progress",
        EventKind::Retrying => "retrying",
        EventKind::Finished => "finished",
        EventKind::Cached => "cached",
        EventKind::Failed => "failed",
    }
}
