//! A throwaway CA and a `localhost` server certificate, made fresh at every start so no key ever
//! lives in the repository, and the rustls server configuration that presents them.

use crate::config::TlsFault;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use std::io;
use std::sync::Arc;

/// The names every mirror certificate covers: whatever a test or a client on this machine dials.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The generated identity: the CA clients must trust, and the TLS configuration for the server.
pub(crate) struct Identity {
    pub ca_pem: String,
    pub tls: Arc<ServerConfig>,
}

/// Make a CA, a server certificate for the loopback names plus `extra_names` (DNS names or IP
/// literals), and a rustls config offering TLS 1.3 and 1.2 with `h2` unless `http1_only`.
/// With a `tls_fault` the server certificate is wrong in that one way, and the CA is still
/// the one clients are told to trust.
pub(crate) fn generate(
    extra_names: &[String],
    http1_only: bool,
    tls_fault: Option<TlsFault>,
) -> io::Result<Identity> {
    let ca = make_ca("wow-mirror test CA")?;
    // Signed by a CA nobody is given: the client sees an unknown issuer.
    let rogue;
    let issuer = if tls_fault == Some(TlsFault::UnknownCa) {
        rogue = make_ca("wow-mirror rogue CA")?;
        &rogue
    } else {
        &ca
    };

    let names: Vec<String> = if tls_fault == Some(TlsFault::WrongHost) {
        vec![WRONG_HOST.to_owned()]
    } else {
        LOOPBACK_NAMES
            .iter()
            .map(|n| (*n).to_owned())
            .chain(extra_names.iter().cloned())
            .collect()
    };
    let mut params = CertificateParams::new(names).map_err(other)?;
    params.distinguished_name.push(
        DnType::CommonName,
        if tls_fault == Some(TlsFault::WrongHost) {
            WRONG_HOST
        } else {
            "localhost"
        },
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    if tls_fault == Some(TlsFault::Expired) {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().map_err(other)?;
    let cert = params.signed_by(&key, issuer).map_err(other)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(other)?;
    // Stateless tickets (TLS 1.3) on top of the default session-id cache (TLS 1.2), so a client
    // that reconnects can resume and tests can see it doing so.
    tls.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(other)?;
    tls.alpn_protocols = if http1_only {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    Ok(Identity {
        ca_pem: ca.pem(),
        tls: Arc::new(tls),
    })
}

/// The only name a [`TlsFault::WrongHost`] certificate covers (`.invalid` never resolves).
const WRONG_HOST: &str = "wrong-host.invalid";

fn make_ca(name: &str) -> io::Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().map_err(other)?).map_err(other)
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(e)
}
