//! Events: each job reports through its own [`Reporter`] (no shared state between
//! transfers); one aggregating task stamps the run's totals and hands events to the caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use wow_fetch_client::Error;

use crate::event::{Event, EventKind, FullName, Totals};

/// An event before the aggregator stamps totals, tagged with its job.
pub(crate) struct Report {
    job: usize,
    event: Event,
}

/// A job's voice: knows its item's input positions and coalesces progress.
pub(crate) struct Reporter {
    job: usize,
    /// Input positions of this item (several when the input repeats it).
    indices: Arc<[usize]>,
    full_name: FullName,
    interval: Duration,
    last_progress: Option<Instant>,
    tx: mpsc::UnboundedSender<Report>,
}

impl Reporter {
    pub(crate) fn new(
        job: usize,
        indices: Arc<[usize]>,
        full_name: FullName,
        interval: Duration,
        tx: mpsc::UnboundedSender<Report>,
    ) -> Self {
        Self {
            job,
            indices,
            full_name,
            interval,
            last_progress: None,
            tx,
        }
    }

    pub(crate) fn started(&mut self, attempt: u32) {
        self.send_first(EventKind::Started, 0, None, attempt, None);
    }

    /// Reports received bytes, at most once per interval (the last update before a terminal
    /// event may be skipped; the terminal event carries the final count).
    pub(crate) fn progress(&mut self, bytes: u64, total: Option<u64>, attempt: u32) {
        let now = Instant::now();
        if self
            .last_progress
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            return;
        }
        self.last_progress = Some(now);
        self.send_first(EventKind::Progress, bytes, total, attempt, None);
    }

    pub(crate) fn retrying(&mut self, bytes: u64, total: Option<u64>, attempt: u32, error: Error) {
        self.send_first(EventKind::Retrying, bytes, total, attempt, Some(error));
    }

    /// One terminal event per input position.
    pub(crate) fn terminal(
        &self,
        kind: EventKind,
        bytes: u64,
        attempt: u32,
        error: Option<&Error>,
    ) {
        debug_assert!(kind.is_terminal());
        let total = (kind != EventKind::Failed).then_some(bytes);
        for &index in self.indices.iter() {
            self.send(index, kind, bytes, total, attempt, error.cloned());
        }
    }

    fn send_first(
        &self,
        kind: EventKind,
        bytes: u64,
        total: Option<u64>,
        attempt: u32,
        error: Option<Error>,
    ) {
        if let Some(&index) = self.indices.first() {
            self.send(index, kind, bytes, total, attempt, error);
        }
    }

    fn send(
        &self,
        index: usize,
        kind: EventKind,
        bytes: u64,
        total: Option<u64>,
        attempt: u32,
        error: Option<Error>,
    ) {
        let event = Event {
            kind,
            index,
            full_name: Arc::clone(&self.full_name),
            bytes,
            total,
            attempt,
            error,
            totals: Totals::default(),
        };
        // The aggregator outlives every job of its run; a send can only fail while the run
        // is being torn down, when nobody is listening anyway.
        let _ = self.tx.send(Report {
            job: self.job,
            event,
        });
    }
}

/// What the aggregator remembers of one job to keep the totals right across retries.
#[derive(Default)]
struct JobBytes {
    received: u64,
    total: Option<u64>,
}

/// Stamps run totals on every event and forwards it to the caller. Transfers send on an
/// unbounded channel so a slow consumer (a Ruby block) never stalls a download; this task
/// alone waits on the bounded channel to the caller.
pub(crate) async fn aggregate(
    mut reports: mpsc::UnboundedReceiver<Report>,
    events: mpsc::Sender<Event>,
    count: usize,
) {
    let mut totals = Totals {
        count,
        ..Totals::default()
    };
    let mut jobs: HashMap<usize, JobBytes> = HashMap::new();
    let mut caller_listening = true;
    while let Some(Report { job, mut event }) = reports.recv().await {
        let state = jobs.entry(job).or_default();
        match event.kind {
            EventKind::Failed => {
                // A failed item's bytes leave the totals, so a bar never shows them as done.
                totals.bytes_done -= state.received;
                totals.bytes_total -= state.total.unwrap_or(0);
                *state = JobBytes::default();
                totals.done += 1;
            }
            kind => {
                totals.bytes_done = totals.bytes_done - state.received + event.bytes;
                state.received = event.bytes;
                if let Some(total) = event.total {
                    totals.bytes_total = totals.bytes_total - state.total.unwrap_or(0) + total;
                    state.total = Some(total);
                }
                if kind.is_terminal() {
                    totals.done += 1;
                }
            }
        }
        event.totals = totals;
        if caller_listening && events.send(event).await.is_err() {
            caller_listening = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_reporter(
        indices: &[usize],
        interval: Duration,
    ) -> (Reporter, mpsc::UnboundedReceiver<Report>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let reporter = Reporter::new(0, indices.into(), "a-1".into(), interval, tx);
        (reporter, rx)
    }

    #[test]
    fn progress_is_coalesced_per_interval() {
        let (mut reporter, mut rx) = new_reporter(&[0], Duration::from_secs(3600));
        for bytes in 0..100 {
            reporter.progress(bytes, Some(100), 1);
        }
        let mut count = 0;
        while rx.try_recv().is_ok() {
            count += 1;
        }
        assert_eq!(count, 1);
        let (mut reporter, mut rx) = new_reporter(&[0], Duration::ZERO);
        for bytes in 0..10 {
            reporter.progress(bytes, Some(100), 1);
        }
        let mut count = 0;
        while rx.try_recv().is_ok() {
            count += 1;
        }
        assert_eq!(count, 10);
    }

    #[tokio::test]
    async fn totals_count_duplicates_once_for_bytes_and_each_for_done() {
        let (mut job, rx) = new_reporter(&[0, 2], Duration::ZERO);
        let (events_tx, mut events_rx) = mpsc::channel(16);
        job.started(1);
        job.progress(40, Some(100), 1);
        job.terminal(EventKind::Finished, 100, 1, None);
        drop(job);
        aggregate(rx, events_tx, 3).await;
        let mut last = Totals::default();
        let mut terminal_indices = Vec::new();
        while let Ok(event) = events_rx.try_recv() {
            if event.kind.is_terminal() {
                terminal_indices.push(event.index);
            }
            last = event.totals;
        }
        assert_eq!(terminal_indices, vec![0, 2]);
        assert_eq!(
            last,
            Totals {
                done: 2,
                count: 3,
                bytes_done: 100,
                bytes_total: 100
            }
        );
    }
}
