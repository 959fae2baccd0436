//! The state every connection of one mirror shares. It lives below `server`, which builds it,
//! and below `routes` and `control`, which read it, so none of them has to reach up into
//! another for it.

use crate::auth::Auth;
use crate::compact_index::CompactIndex;
use crate::faults::FaultTable;
use crate::stats::Counters;
use crate::store::GemStore;
use std::sync::Arc;
use std::time::Duration;

/// State shared by every connection of one mirror.
pub(crate) struct Shared {
    pub counters: Arc<Counters>,
    pub faults: FaultTable,
    pub gems: Arc<GemStore>,
    pub index: CompactIndex,
    pub ranges: bool,
    pub etags: bool,
    pub latency: Duration,
    pub auth: Option<Auth>,
}
