//! The response body: a byte buffer sent in chunks, shaped by the body faults (cut-off, stall,
//! bandwidth) and counted as it goes.

use crate::faults::{Cut, Plan, Shutdown};
use crate::stats::Counters;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Sleep;

/// Chunk size for unshaped bodies: large enough that h2 framing, not our loop, sets the pace.
const CHUNK: usize = 64 * 1024;

/// Bandwidth pacing sends this many chunks per second, so a slow response still looks like a
/// steady trickle rather than one burst a second.
const PACING_TICKS_PER_SEC: u64 = 20;

/// Pause between the last bytes and an injected cut-off. While the body is pending, hyper
/// flushes what it has buffered; ending it at once would drop the buffered head and bytes with
/// the connection, and the client would see "nothing, then reset" instead of "N bytes, then
/// reset". The pause also lets the bytes leave the socket before an RST discards them.
pub(crate) const CUT_GRACE: Duration = Duration::from_millis(20);

/// Per-connection state shared between the connection task and its response bodies.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    /// Set by an HTTP/1.1 reset fault: close the socket with a TCP RST (zero linger).
    pub reset: AtomicBool,
    /// Bytes to put on the wire instead of hyper's next HTTP/1.1 response (see `raw.rs`).
    raw: Mutex<Option<Bytes>>,
    /// How the connection task should end the connection, once `shutdown_now` fires.
    shutdown: Mutex<Option<Shutdown>>,
    shutdown_now: Notify,
}

impl ConnState {
    /// Replace hyper's next response on this HTTP/1.1 connection with `bytes`.
    pub(crate) fn set_raw(&self, bytes: Bytes) {
        *self.raw.lock().unwrap_or_else(PoisonError::into_inner) = Some(bytes);
    }

    pub(crate) fn take_raw(&self) -> Option<Bytes> {
        self.raw
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Ask the connection task to end the connection; an abrupt request wins over a graceful one.
    pub(crate) fn shut_down(&self, how: Shutdown) {
        let mut slot = self.shutdown.lock().unwrap_or_else(PoisonError::into_inner);
        if *slot != Some(Shutdown::Abrupt) {
            *slot = Some(how);
        }
        drop(slot);
        self.shutdown_now.notify_one();
    }

    /// Resolves once [`shut_down`](Self::shut_down) was called, with how.
    pub(crate) async fn shutdown_requested(&self) -> Shutdown {
        loop {
            if let Some(how) = *self.shutdown.lock().unwrap_or_else(PoisonError::into_inner) {
                return how;
            }
            self.shutdown_now.notified().await;
        }
    }
}

/// The shaping a [`MirrorBody`] applies, taken from a fault [`Plan`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Shape {
    pub cut: Option<Cut>,
    pub stall: Option<(u64, Duration)>,
    pub bandwidth: Option<u64>,
}

impl From<&Plan> for Shape {
    fn from(plan: &Plan) -> Self {
        Self {
            cut: plan.cut,
            stall: plan.stall,
            bandwidth: plan.bandwidth,
        }
    }
}

pub(crate) struct MirrorBody {
    data: Bytes,
    sent: u64,
    shape: Shape,
    stalled: bool,
    cut_armed: bool,
    delay: Option<Pin<Box<Sleep>>>,
    /// Where sent bytes are counted; `None` for control-endpoint answers, which stay invisible.
    counters: Option<Arc<Counters>>,
    /// The HTTP/1.1 connection to flag for a hard reset; `None` on h2, where failing the body
    /// makes hyper send `RST_STREAM` for this stream alone.
    conn: Option<Arc<ConnState>>,
}

impl MirrorBody {
    pub(crate) fn new(
        data: Bytes,
        shape: Shape,
        counters: Option<Arc<Counters>>,
        conn: Option<Arc<ConnState>>,
    ) -> Self {
        if let Some(counters) = &counters {
            counters.response_started();
        }
        let mut shape = shape;
        if let Some(Cut::ResetBeforeEnd(n)) = shape.cut {
            shape.cut = Some(Cut::Reset((data.len() as u64).saturating_sub(n)));
        }
        Self {
            data,
            sent: 0,
            shape,
            stalled: false,
            cut_armed: false,
            delay: None,
            counters,
            conn,
        }
    }

    /// An unshaped body that is not counted in the stats.
    pub(crate) fn uncounted(data: Bytes) -> Self {
        Self::new(data, Shape::default(), None, None)
    }

    fn shaped(&self) -> bool {
        self.shape.cut.is_some() || self.shape.stall.is_some() || self.shape.bandwidth.is_some()
    }

    /// The largest next chunk that does not step over a stall or cut-off point.
    fn next_len(&self) -> usize {
        let mut len = self.data.len().min(CHUNK) as u64;
        if let Some((after, _)) = self.shape.stall {
            if !self.stalled && after > self.sent {
                len = len.min(after - self.sent);
            }
        }
        if let Some(Cut::Reset(n) | Cut::Truncate(n) | Cut::ResetBeforeEnd(n)) = self.shape.cut {
            len = len.min(n.saturating_sub(self.sent));
        }
        if let Some(bps) = self.shape.bandwidth {
            len = len.min((bps / PACING_TICKS_PER_SEC).max(1));
        }
        usize::try_from(len).unwrap_or(CHUNK)
    }
}

impl Drop for MirrorBody {
    fn drop(&mut self) {
        if let Some(counters) = &self.counters {
            counters.response_ended();
        }
    }
}

impl Body for MirrorBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some(delay) = this.delay.as_mut() {
                if delay.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.delay = None;
            }
            if let Some(cut) = this.shape.cut {
                // `new` turned a ResetBeforeEnd into a Reset.
                let (Cut::Reset(n) | Cut::Truncate(n) | Cut::ResetBeforeEnd(n)) = cut;
                if this.sent >= n {
                    if !this.cut_armed {
                        this.cut_armed = true;
                        this.delay = Some(Box::pin(tokio::time::sleep(CUT_GRACE)));
                        continue;
                    }
                    if cut == Cut::Truncate(n) {
                        return Poll::Ready(None);
                    }
                    if let Some(conn) = &this.conn {
                        conn.reset.store(true, Ordering::Relaxed);
                    }
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "wow-mirror: injected reset",
                    ))));
                }
            }
            if this.data.is_empty() {
                return Poll::Ready(None);
            }
            if let Some((after, pause)) = this.shape.stall {
                if !this.stalled && this.sent >= after {
                    this.stalled = true;
                    this.delay = Some(Box::pin(tokio::time::sleep(pause)));
                    continue;
                }
            }
            let len = this.next_len();
            let chunk = this.data.split_to(len);
            this.sent += len as u64;
            if let Some(counters) = &this.counters {
                counters.sent(len as u64);
            }
            if let Some(bps) = this.shape.bandwidth {
                let pause = Duration::from_secs_f64(len as f64 / bps as f64);
                this.delay = Some(Box::pin(tokio::time::sleep(pause)));
            }
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty() && !self.shaped()
    }

    fn size_hint(&self) -> SizeHint {
        if self.shaped() {
            SizeHint::default()
        } else {
            SizeHint::with_exact(self.data.len() as u64)
        }
    }
}
