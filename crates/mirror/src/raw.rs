//! HTTP/1.1 responses hyper will not write: a `Content-Length` that lies or does not parse.
//!
//! hyper frames a body by its declared length and refuses a malformed one, so a route that
//! wants such a response stores the exact bytes on the connection ([`ConnState::set_raw`]) and
//! returns an ordinary `Connection: close` response. [`RawTap`], between hyper and the TLS
//! stream, puts the stored bytes on the wire in place of that response and discards whatever
//! hyper writes afterwards; hyper then closes the connection as it was told.

use crate::body::ConnState;
use bytes::{Buf, Bytes};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The head and body of a raw 200 response announcing `content_length`.
pub(crate) fn response(content_length: &str, content_type: &str, body: &Bytes) -> Bytes {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {content_length}\r\n\
         connection: close\r\n\r\n"
    );
    let mut bytes = Vec::with_capacity(head.len() + body.len());
    bytes.extend_from_slice(head.as_bytes());
    bytes.extend_from_slice(body);
    Bytes::from(bytes)
}

/// An HTTP/1.1 connection's stream as hyper sees it.
pub(crate) struct RawTap<S> {
    inner: S,
    conn: Arc<ConnState>,
    /// Raw bytes still to send.
    pending: Option<Bytes>,
    /// A raw response replaced hyper's: everything hyper writes from now on is dropped.
    swallowing: bool,
}

impl<S> RawTap<S> {
    pub(crate) fn new(inner: S, conn: Arc<ConnState>) -> Self {
        Self {
            inner,
            conn,
            pending: None,
            swallowing: false,
        }
    }
}

impl<S: AsyncWrite + Unpin> RawTap<S> {
    /// Send what is left of the raw response.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(pending) = self.pending.as_mut() {
            if pending.is_empty() {
                self.pending = None;
                break;
            }
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, pending))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            pending.advance(written);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for RawTap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RawTap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.swallowing {
            // The route stored the bytes before handing hyper the response it replaces, so
            // they are here by the time hyper writes that response.
            match this.conn.take_raw() {
                Some(raw) => {
                    this.pending = Some(raw);
                    this.swallowing = true;
                }
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        ready!(this.poll_pending(cx))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
