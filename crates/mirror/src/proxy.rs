//! A forward proxy for HTTPS, as clients reach the internet through at work: `CONNECT
//! host:port` opens a tunnel (RFC 9110 §9.3.6), optionally only with `Proxy-Authorization:
//! Basic …`. It records every tunnel asked for, so a test can tell that a client went through
//! it and what it sent.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::auth::basic;

/// Longest request head accepted; a CONNECT is a line and a few headers.
const MAX_HEAD: usize = 16 * 1024;

/// One `CONNECT` the proxy received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    /// `host:port` as asked.
    pub target: String,
    /// The `Proxy-Authorization` header, if any.
    pub authorization: Option<String>,
    /// Whether the tunnel was opened (credentials right, target reachable).
    pub opened: bool,
}

/// A running proxy on `127.0.0.1`; dropping it stops it.
pub struct Proxy {
    addr: SocketAddr,
    tunnels: Arc<Mutex<Vec<Tunnel>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on an ephemeral loopback port. With `credentials` (user, password), a CONNECT
    /// without them gets `407`.
    pub async fn start(credentials: Option<(String, String)>) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let expected = credentials.map(|(user, password)| basic(&user, &password));
        let task = tokio::spawn(accept_loop(listener, expected, Arc::clone(&tunnels)));
        Ok(Self {
            addr,
            tunnels,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, without credentials.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every CONNECT so far, in arrival order.
    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.tunnels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    expected: Option<String>,
    tunnels: Arc<Mutex<Vec<Tunnel>>>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((client, _)) = accepted {
                    connections.spawn(serve(client, expected.clone(), Arc::clone(&tunnels)));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(
    mut client: TcpStream,
    expected: Option<String>,
    tunnels: Arc<Mutex<Vec<Tunnel>>>,
) -> io::Result<()> {
    let head = read_head(&mut client).await?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let authorization = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    let mut tunnel = Tunnel {
        target: target.to_owned(),
        authorization: authorization.clone(),
        opened: false,
    };
    let record = |tunnel: Tunnel| {
        tunnels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tunnel);
    };
    if method != "CONNECT" {
        record(tunnel);
        return answer(&mut client, "405 Method Not Allowed", "").await;
    }
    if expected.is_some() && authorization != expected {
        record(tunnel);
        let challenge = "Proxy-Authenticate: Basic realm=\"wow-proxy\"\r\n";
        return answer(&mut client, "407 Proxy Authentication Required", challenge).await;
    }
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        record(tunnel);
        return answer(&mut client, "502 Bad Gateway", "").await;
    };
    tunnel.opened = true;
    record(tunnel);
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// The request head, up to the blank line (a client sends nothing else before the answer).
async fn read_head(client: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD || client.read(&mut byte).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no request head",
            ));
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

async fn answer(client: &mut TcpStream, status: &str, headers: &str) -> io::Result<()> {
    let response = format!("HTTP/1.1 {status}\r\n{headers}Content-Length: 0\r\n\r\n");
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}
