//! Shared setup: a directory of fixture gems, a started mirror, clients that trust its CA, and a
//! raw HTTP/1.1-over-TLS client for what reqwest hides (unnormalised paths, RST vs FIN).

#![allow(dead_code)] // Each test module uses a different subset.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io;
use std::sync::Arc;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wow_mirror::{write_gem, GemFile, Mirror, MirrorConfig};

pub struct Setup {
    pub mirror: Mirror,
    pub gems: Vec<GemFile>,
    /// The served directory lives inside; kept for the test's lifetime.
    pub root: TempDir,
}

impl Setup {
    pub fn gem(&self, full_name: &str) -> &GemFile {
        self.gems
            .iter()
            .find(|g| g.full_name == full_name)
            .expect("fixture gem")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.mirror.base_url())
    }

    /// `/gems/FULL_NAME.gem` of the 200 KB gem most tests download.
    pub fn big_path(&self) -> &'static str {
        "/gems/alpha-1.0.0.gem"
    }

    pub fn big_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.gem("alpha-1.0.0").path).expect("read fixture")
    }
}

/// Four gems: a 200 KB one, one with dependencies, a platform gem and a tiny one.
pub fn write_gems(dir: &std::path::Path) -> Vec<GemFile> {
    vec![
        write_gem(dir, "alpha", "1.0.0", None, 200 * 1024, &[]).expect("alpha"),
        write_gem(
            dir,
            "beta",
            "2.0.0",
            None,
            10 * 1024,
            &[("alpha", "~> 1.0"), ("gamma", ">= 0.1, < 2")],
        )
        .expect("beta"),
        write_gem(dir, "gamma", "0.5.0", Some("x86_64-linux"), 30 * 1024, &[]).expect("gamma"),
        write_gem(dir, "gamma", "0.5.0", None, 20 * 1024, &[]).expect("gamma ruby"),
    ]
}

pub async fn start(configure: impl FnOnce(&mut MirrorConfig)) -> Setup {
    let root = TempDir::new().expect("tempdir");
    let dir = root.path().join("gems");
    std::fs::create_dir(&dir).expect("gems dir");
    let gems = write_gems(&dir);
    let mut config = MirrorConfig::new(&dir);
    configure(&mut config);
    let mirror = Mirror::start(config).await.expect("start mirror");
    Setup { mirror, gems, root }
}

fn builder(mirror: &Mirror) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(mirror.ca_pem().as_bytes()).expect("CA pem");
    // no_proxy: a CI runner's HTTPS_PROXY must not swallow loopback traffic.
    reqwest::Client::builder().tls_certs_only([ca]).no_proxy()
}

/// A client that offers h2 and HTTP/1.1, like the engine's.
pub fn client(mirror: &Mirror) -> reqwest::Client {
    builder(mirror).build().expect("client")
}

pub fn http1_client(mirror: &Mirror) -> reqwest::Client {
    builder(mirror).http1_only().build().expect("client")
}

/// Read a response body until it ends or fails.
pub async fn drain(mut response: reqwest::Response) -> (Vec<u8>, Option<reqwest::Error>) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return (body, None),
            Err(e) => return (body, Some(e)),
        }
    }
}

/// What a raw HTTP/1.1 exchange produced.
pub struct Raw {
    pub head: String,
    pub body: Vec<u8>,
    /// How reading ended: `None` for a TLS close_notify, else the error kind.
    pub end: Option<io::ErrorKind>,
}

impl Raw {
    pub fn status(&self) -> u16 {
        self.head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line")
    }
}

/// A rustls client configuration trusting the mirror's CA, offering `http/1.1` only. Reusing one
/// across connections reuses its session cache, so later handshakes can resume.
pub fn tls_config(mirror: &Mirror) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(mirror.ca_pem().as_bytes()).expect("CA"))
        .expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Send `GET path` verbatim over TLS with ALPN http/1.1 and `Connection: close`, and read
/// until the server ends the connection.
pub async fn raw_get(mirror: &Mirror, path: &str) -> Raw {
    raw_exchange(mirror, tls_config(mirror), path).await.0
}

/// [`raw_get`] with a given TLS configuration; also says whether the handshake was resumed.
pub async fn raw_exchange(
    mirror: &Mirror,
    config: Arc<rustls::ClientConfig>,
    path: &str,
) -> (Raw, Option<rustls::HandshakeKind>) {
    let tcp = TcpStream::connect(mirror.addr()).await.expect("connect");
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake");
    let handshake = tls.get_ref().1.handshake_kind();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("send");
    let mut received = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let end = loop {
        match tls.read(&mut buf).await {
            Ok(0) => break None,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => break Some(e.kind()),
        }
    };
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let raw = Raw {
        head: String::from_utf8_lossy(&received[..split]).into_owned(),
        body: received[split + 4..].to_vec(),
        end,
    };
    (raw, handshake)
}
