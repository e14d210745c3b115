//! The simulator's certificates and its TLS listener.
//!
//! Salesforce is HTTPS-only and real clients (simple-salesforce among them) always build
//! `https://` URLs, so the simulator makes a throwaway CA at start, signs a leaf for
//! `127.0.0.1` and `localhost` with it, and hands the CA certificate to clients to trust. The
//! CA key never leaves the process and is dropped after signing the leaf.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::Error;

/// A freshly generated CA and the server configuration presenting a leaf signed by it.
pub(crate) struct ServerTls {
    /// The CA certificate, PEM: what clients add as a trusted root.
    pub(crate) ca_pem: String,
    /// The rustls configuration for the listener.
    pub(crate) config: Arc<rustls::ServerConfig>,
}

fn tls_error(what: &'static str) -> impl FnOnce(rcgen::Error) -> Error {
    move |e| Error::Tls(format!("{what}: {e}"))
}

/// Generates the CA and a leaf for `127.0.0.1` and `localhost`.
pub(crate) fn generate() -> Result<ServerTls, Error> {
    let ca_key = KeyPair::generate().map_err(tls_error("CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error("CA"))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "coffer-sfsim throwaway CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(tls_error("CA"))?;

    let leaf_key = KeyPair::generate().map_err(tls_error("leaf key"))?;
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(tls_error("leaf"))?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "coffer-sfsim");
    leaf_params.is_ca = IsCa::NoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca)
        .map_err(tls_error("leaf"))?;

    let chain = vec![leaf.der().clone(), CertificateDer::from(ca.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Tls(format!("protocol versions: {e}")))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| Error::Tls(format!("server certificate: {e}")))?;
    Ok(ServerTls {
        ca_pem: ca.pem(),
        config: Arc::new(config),
    })
}

/// A client configuration (aws-lc-rs provider) that trusts exactly the given PEM certificates.
/// `mutate`/`count` and tests use it to talk to a running simulator over HTTPS.
pub fn client_config_trusting(ca_pem: &str) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let mut found = 0usize;
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(ca_pem.as_bytes()) {
        let cert: CertificateDer<'static> =
            cert.map_err(|e| Error::Tls(format!("CA certificate PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| Error::Tls(format!("CA certificate: {e}")))?;
        found += 1;
    }
    if found == 0 {
        return Err(Error::Tls("no certificate in the CA PEM".to_owned()));
    }
    client_config_with_roots(roots)
}

/// A client configuration (aws-lc-rs provider) trusting exactly `roots`; with an empty store
/// it suits plain-HTTP clients (reqwest here has no default provider and always needs one),
/// and any https URL then fails verification rather than trusting anyone.
pub(crate) fn client_config_with_roots(
    roots: rustls::RootCertStore,
) -> Result<rustls::ClientConfig, Error> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Tls(format!("protocol versions: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(config)
}

/// How long a client may take to finish its TLS handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An [`axum::serve::Listener`] yielding TLS streams. Handshakes run in their own tasks so a
/// slow or silent client cannot hold up the others.
pub(crate) struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, incoming) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        // A closed channel means the server is shutting down.
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(Self {
            incoming,
            local,
            acceptor_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // The acceptor task is gone (aborted at shutdown): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
