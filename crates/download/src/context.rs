//! What one job works with: the run's schedule and settings, its item's host, and the run's
//! cancel token.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::limit::Priority;
use crate::options::RunOptions;
use crate::schedule::{Host, Schedule, Slot};

pub(crate) struct JobContext {
    pub(crate) schedule: Arc<Schedule>,
    pub(crate) host: Arc<Host>,
    pub(crate) options: Arc<RunOptions>,
    pub(crate) cancel: CancellationToken,
}

impl JobContext {
    /// A place to send one request of this job's item (see [`Schedule::slot`]).
    pub(crate) async fn slot(&self, priority: Priority) -> Slot<'_> {
        self.schedule.slot(&self.host, priority).await
    }
}
