//! Draining a run on the calling Ruby thread: wait for events without the GVL, then, holding
//! it, hand them to the block. Any way out other than the run's end — an exception in the
//! block, Ctrl-C, `Thread#raise`, `Thread#kill`, `break` — cancels the run, waits until its
//! temp files are gone, and passes on unchanged.

use magnus::rb_sys::FromRawValue;
use magnus::{prelude::*, Error, Ruby, Value};
use rb_sys::rb_gv_get;
use wow_fetch_core::{Event, Outcome, Progress, Run};

use super::{errors, event};
use crate::helpers::nogvl::nogvl;
use crate::progress::{finished_line, Bar};

/// Events handed over per trip through the GVL. Large enough that 1,000 cached items cost a
/// handful of trips; the engine's channel keeps the rest.
const BATCH: usize = 256;

/// Runs `run` to its end and returns one outcome per item, in input order.
pub fn drain(ruby: &Ruby, mut run: Run, progress: Progress) -> Result<Vec<Outcome>, Error> {
    let with_block = ruby.block_given();
    let mut bar = match progress {
        Progress::Bar => Some(Bar::forced()),
        Progress::Auto if !with_block => Bar::on_terminal(),
        Progress::Auto | Progress::Plain | Progress::Off => None,
    };
    let plain = progress == Progress::Plain;
    let cancel = run.cancel_token();
    let waker = run.waker();
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        let step = nogvl(
            || {
                let more = run.next_batch(&mut batch, BATCH);
                if let Some(bar) = &mut bar {
                    bar.show(&batch);
                }
                more
            },
            // Called by Ruby for every interrupt, including a trapped signal that raises
            // nothing: only wake the wait. If Ruby then raises, the `Err` arm cancels.
            &|| waker.wake(),
        )
        .and_then(|more| {
            deliver(ruby, &batch, with_block, plain)?;
            Ok(more)
        });
        match step {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                cancel.cancel();
                // Cancelled transfers stop within milliseconds; the GVL stays held for that
                // short wait so no second interrupt can cut the cleanup short.
                drop(run.wait());
                if let Some(bar) = bar {
                    bar.finish();
                }
                return Err(error);
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    run.wait().map_err(|e| errors::internal_error(ruby, &e))
}

/// Yields each event to the block and prints `:plain` lines, holding the GVL.
fn deliver(ruby: &Ruby, batch: &[Event], with_block: bool, plain: bool) -> Result<(), Error> {
    for core_event in batch {
        if with_block {
            let _: Value = ruby.yield_value(event::build(ruby, core_event)?)?;
        }
        if plain {
            if let Some(line) = finished_line(core_event) {
                stderr()?.funcall::<_, _, Value>("write", (format!("{line}\n"),))?;
            }
        }
    }
    Ok(())
}

/// `$stderr`, which callers may have redirected, rather than file descriptor 2.
fn stderr() -> Result<Value, Error> {
    let raw = magnus::rb_sys::protect(|| {
        // SAFETY: called with the GVL held on a Ruby thread; the name is a NUL-terminated
        // literal, and `protect` turns a raise from a custom `$stderr` getter into an `Err`.
        unsafe { rb_gv_get(c"$stderr".as_ptr()) }
    })?;
    // SAFETY: `raw` was just returned by Ruby and is reachable from the global `$stderr`.
    Ok(unsafe { Value::from_raw(raw) })
}
