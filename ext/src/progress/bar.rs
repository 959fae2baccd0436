//! The live view, after uv: a line per active download (spinner, name, bar, bytes/total), a `✓`
//! line above them for every finished item, and an overall line with the item count, bytes,
//! speed and ETA.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use wow_fetch_core::{Event, EventKind};

use super::finished_line;
use super::term::AnsiStderr;

/// Spinner speed of the overall line; item spinners move with their progress events instead,
/// so a stalled download visibly stops spinning.
const TICK: Duration = Duration::from_millis(100);

const ITEM_WITH_TOTAL: &str =
    "  {spinner:.cyan} {prefix:40!} {bar:24.cyan/blue} {bytes:>10}/{total_bytes:<10} {msg}";
const ITEM_WITHOUT_TOTAL: &str = "  {spinner:.cyan} {prefix:40!} {bytes:>10} {msg}";
const OVERALL: &str =
    "{spinner:.green} {msg} {bar:30.green/dim} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}";

/// The live view of one call. Owned by the calling thread and updated between batches,
/// without the GVL.
pub struct Bar {
    multi: MultiProgress,
    overall: ProgressBar,
    /// Keyed by name: duplicates of one gem share a line, as they share a transfer.
    active: HashMap<Arc<str>, ProgressBar>,
}

impl Bar {
    /// The view `progress: :auto` asks for: drawn only when stderr is a terminal.
    #[must_use]
    pub fn on_terminal() -> Option<Self> {
        std::io::stderr()
            .is_terminal()
            .then(|| Self::new(ProgressDrawTarget::stderr()))
    }

    /// The view `progress: :bar` asks for: on a terminal as usual, and otherwise as ANSI
    /// sequences all the same.
    #[must_use]
    pub fn forced() -> Self {
        if std::io::stderr().is_terminal() {
            Self::new(ProgressDrawTarget::stderr())
        } else {
            Self::new(ProgressDrawTarget::term_like(Box::new(AnsiStderr::new())))
        }
    }

    fn new(target: ProgressDrawTarget) -> Self {
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(0).with_style(style(OVERALL)));
        overall.enable_steady_tick(TICK);
        Self {
            multi,
            overall,
            active: HashMap::new(),
        }
    }

    /// Applies a batch of events to the view.
    pub fn show(&mut self, events: &[Event]) {
        for event in events {
            self.show_event(event);
        }
    }

    fn show_event(&mut self, event: &Event) {
        if let Some(line) = finished_line(event) {
            if let Some(bar) = self.active.remove(&event.full_name) {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
            // A hidden target drops the line, which is what `progress: :auto` off a TTY wants.
            drop(self.multi.println(line));
        } else {
            let bar = self.item_bar(event);
            if event.total.is_some() && bar.length().is_none() {
                bar.set_style(style(ITEM_WITH_TOTAL));
            }
            if let Some(total) = event.total {
                bar.set_length(total);
            }
            bar.set_position(event.bytes);
            if event.kind == EventKind::Retrying {
                // `attempt` of a retrying event is the attempt about to start.
                bar.set_message(format!("retrying (attempt {})", event.attempt));
            }
        }
        let totals = event.totals;
        self.overall
            .set_message(format!("{}/{} gems", totals.done, totals.count));
        self.overall.set_length(totals.bytes_total);
        self.overall.set_position(totals.bytes_done);
    }

    fn item_bar(&mut self, event: &Event) -> &ProgressBar {
        let Self {
            multi,
            overall,
            active,
        } = self;
        active
            .entry(Arc::clone(&event.full_name))
            .or_insert_with(|| {
                let bar = match event.total {
                    Some(total) => ProgressBar::new(total).with_style(style(ITEM_WITH_TOTAL)),
                    None => ProgressBar::no_length().with_style(style(ITEM_WITHOUT_TOTAL)),
                };
                multi.insert_before(overall, bar.with_prefix(event.full_name.to_string()))
            })
    }

    /// Removes the live lines (the `✓` lines stay), on success and on interrupt alike.
    pub fn finish(self) {
        for bar in self.active.values() {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
        drop(self.multi.clear());
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("progress templates are constants checked by every run with a live view")
        .progress_chars("━╸ ")
}
