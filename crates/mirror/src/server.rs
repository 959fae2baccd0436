//! The running server: listeners, TLS, per-connection protocol choice and counting, sending
//! each request to `control` or `routes`, and the [`Mirror`] handle that owns it all.

use crate::body::{ConnState, MirrorBody, CUT_GRACE};
use crate::compact_index::{CompactIndex, IndexedGem};
use crate::config::MirrorConfig;
use crate::faults::{FaultRule, FaultTable, Shutdown};
use crate::raw::RawTap;
use crate::state::Shared;
use crate::stats::{Counters, SeenRequest, Stats};
use crate::store::GemStore;
use crate::{certs, control, gemspec, routes};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A client that connects and never finishes the handshake should not pin a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running HTTPS mirror. Dropping it stops the listeners and closes every connection.
pub struct Mirror {
    addr: SocketAddr,
    base_url: String,
    plain_base_url: Option<String>,
    ca_pem: String,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Mirror {
    /// Generate certificates, index `config.gems_dir` and start listening, on the current tokio
    /// runtime. Fails if the directory cannot be read or the address cannot be bound.
    pub async fn start(config: MirrorConfig) -> io::Result<Mirror> {
        let identity = certs::generate(&config.extra_names, config.http1_only, config.tls_fault)?;
        let gems = Arc::new(GemStore::new(config.gems_dir.clone()));
        let index = {
            let gems = Arc::clone(&gems);
            tokio::task::spawn_blocking(move || build_index(&gems))
                .await
                .map_err(io::Error::other)??
        };
        let shared = Arc::new(Shared {
            counters: Arc::new(Counters::default()),
            faults: FaultTable::new(config.faults),
            gems,
            index,
            ranges: config.ranges,
            etags: config.etags,
            latency: config.latency,
            auth: config.auth,
        });

        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let mut listeners = vec![listener];
        if addr.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST) {
            // `localhost` may resolve to ::1 first; answering there too saves every client a
            // refused connection attempt. Best effort: the port may be taken on ::1.
            if let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, addr.port())).await {
                listeners.push(v6);
            }
        }
        let acceptor = TlsAcceptor::from(identity.tls);
        let mut tasks: Vec<JoinHandle<()>> = listeners
            .into_iter()
            .map(|l| tokio::spawn(accept_loop(l, Some(acceptor.clone()), Arc::clone(&shared))))
            .collect();
        let mut plain_base_url = None;
        if config.plain_http {
            let plain = TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await?;
            plain_base_url = Some(format!("http://{}", url_authority(plain.local_addr()?)));
            tasks.push(tokio::spawn(accept_loop(plain, None, Arc::clone(&shared))));
        }
        Ok(Mirror {
            addr,
            base_url: format!("https://{}", url_authority(addr)),
            plain_base_url,
            ca_pem: identity.ca_pem,
            shared,
            tasks,
        })
    }

    /// `https://localhost:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// `http://localhost:PORT` of the plain-HTTP listener, when
    /// [`MirrorConfig::plain_http`] asked for one.
    pub fn plain_base_url(&self) -> Option<String> {
        self.plain_base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the server certificate; clients must trust it.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Write [`ca_pem`](Self::ca_pem) to `path` (e.g. for `SSL_CERT_FILE`).
    pub fn write_ca(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, &self.ca_pem)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// The latest requests (up to 1,000) with every header they carried, oldest first: what
    /// a client sent, credentials included. Cleared by [`Mirror::reset_stats`].
    pub fn requests_seen(&self) -> Vec<SeenRequest> {
        self.shared.counters.seen()
    }

    /// Zero every counter.
    pub fn reset_stats(&self) {
        self.shared.counters.reset();
    }

    /// Add a fault rule; it applies to requests that arrive afterwards.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.faults.add(rule);
    }

    /// Remove every fault rule, including those from the config.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        // Aborting an accept loop drops its JoinSet, which aborts its connections.
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl fmt::Debug for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mirror")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// `localhost:PORT` for loopback or wildcard binds (the certificate's name), else the address.
fn url_authority(addr: SocketAddr) -> String {
    let ip = addr.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// Read every gem's spec for the compact index. A file that is not a readable gem is still
/// served, just not indexed: a test may well serve junk on purpose.
fn build_index(gems: &GemStore) -> io::Result<CompactIndex> {
    let mut indexed = Vec::new();
    for (file, resource) in gems.scan()? {
        match gemspec::read_gem(&resource.body) {
            Ok(spec) => indexed.push(IndexedGem {
                spec,
                sha256: resource.sha256().to_owned(),
            }),
            Err(e) => eprintln!("wow-mirror: not indexing {file}: {e}"),
        }
    }
    Ok(CompactIndex::build(&indexed, SystemTime::now()))
}

/// Accept connections: TLS with `acceptor`, plain HTTP without.
async fn accept_loop(listener: TcpListener, acceptor: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    shared.counters.tcp_accepted();
                    // Small responses (index files, fault bodies) should not wait for Nagle.
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(serve_connection(tcp, acceptor.clone(), Arc::clone(&shared)));
                }
                // Out of descriptors and the like: back off instead of spinning on the error.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            // Reap finished connections so the set does not grow for the mirror's lifetime.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(tcp: TcpStream, acceptor: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let conn = Arc::new(ConnState::default());
    let socket = Socket {
        tcp,
        conn: Arc::clone(&conn),
    };
    let Some(acceptor) = acceptor else {
        // Plain HTTP: let hyper tell HTTP/1.1 from an h2 preface.
        serve_http(socket, None, conn, shared).await;
        return;
    };
    // A failed handshake (say, a client that does not trust our CA) is the client's story.
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await else {
        return;
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    shared.counters.tls_established(h2);
    // ALPN already decided the protocol; don't let the builder sniff for a preface.
    serve_http(tls, Some(h2), conn, shared).await;
}

/// Serve HTTP on an established stream until either side ends it, or a fault asks for a
/// GOAWAY (h2) / close (HTTP/1.1) through `conn`.
async fn serve_http<S>(stream: S, h2: Option<bool>, conn: Arc<ConnState>, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    let builder = match h2 {
        Some(true) => builder.http2_only(),
        Some(false) => builder.http1_only(),
        None => builder,
    };
    let service = {
        let conn = Arc::clone(&conn);
        service_fn(move |req| dispatch(Arc::clone(&shared), Arc::clone(&conn), req))
    };
    // Errors end the connection: a client going away, or an injected reset or truncation.
    let io = TokioIo::new(RawTap::new(stream, Arc::clone(&conn)));
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let how = tokio::select! {
        _ = connection.as_mut() => return,
        how = conn.shutdown_requested() => how,
    };
    // h2: GOAWAY now, then (graceful) let the streams in flight finish, or (abrupt) give the
    // frame time to leave and drop the connection under them.
    connection.as_mut().graceful_shutdown();
    match how {
        Shutdown::Graceful => {
            let _ = connection.await;
        }
        Shutdown::Abrupt => {
            let _ = tokio::time::timeout(CUT_GRACE, connection).await;
        }
    }
}

/// Send one request to the control endpoints or to the mirrored content. The `/_` check comes
/// first so that control requests are neither counted, nor authenticated, nor faulted.
/// An `Err` (from `routes`) makes hyper drop the request without an answer.
async fn dispatch(
    shared: Arc<Shared>,
    conn: Arc<ConnState>,
    req: Request<Incoming>,
) -> Result<Response<MirrorBody>, io::Error> {
    if req.uri().path().starts_with("/_") {
        return Ok(control::handle(&shared, req).await);
    }
    routes::handle(shared, conn, req).await
}

/// The TCP stream under TLS, so an injected HTTP/1.1 reset can turn the close into an RST.
struct Socket {
    tcp: TcpStream,
    conn: Arc<ConnState>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        if self.conn.reset.load(Ordering::Relaxed) {
            // Zero linger: close() discards unsent data and sends RST instead of FIN.
            let _ = self.tcp.set_zero_linger();
        }
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
