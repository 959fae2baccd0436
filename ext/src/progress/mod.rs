//! What a call prints when asked to (`progress:`): a live, uv-style view drawn with indicatif,
//! or one plain line per finished item. Only this module knows about terminals; it reads core
//! events and never touches Ruby, so the live view is drawn without the GVL.

mod bar;
mod term;

use indicatif::HumanBytes;
use wow_fetch_core::{Event, EventKind};

pub use bar::Bar;

/// The line printed for an item that is done (`✓`/`✗`); `None` for events that are not
/// terminal. Shared by `progress: :plain` and the live view, so both read the same.
#[must_use]
pub fn finished_line(event: &Event) -> Option<String> {
    let name = &event.full_name;
    match event.kind {
        EventKind::Finished => Some(format!("✓ {name}.gem ({})", HumanBytes(event.bytes))),
        EventKind::Cached => Some(format!(
            "✓ {name}.gem ({}, cached)",
            HumanBytes(event.bytes)
        )),
        EventKind::Failed => Some(match &event.error {
            Some(error) => format!("✗ {name}.gem: {error}"),
            None => format!("✗ {name}.gem"),
        }),
        EventKind::Started | EventKind::Progress | EventKind::Retrying => None,
    }
}
