//! Transport: a rustls client configuration on the aws-lc-rs provider (TLS 1.2 and 1.3), the
//! platform's trust roots plus optional extra PEM roots (a test CA such as the simulator's),
//! and the rule that plain HTTP is allowed only to loopback hosts.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use url::Url;

use crate::error::Error;

/// Trust and timeout settings for the HTTP client.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Trust the platform's native roots (default true).
    pub native_roots: bool,
    /// Extra PEM-encoded root certificates to trust.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// TCP+TLS connect timeout.
    pub connect_timeout: Duration,
    /// Longest wait for any read on a response (not the whole body: blobs may be large).
    pub read_timeout: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            native_roots: true,
            extra_roots_pem: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
        }
    }
}

/// Builds the rustls configuration: aws-lc-rs provider, safe protocol versions, roots.
pub fn rustls_config(opts: &TransportOptions) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    if opts.native_roots {
        let loaded = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
        tracing::debug!(added, "loaded native trust roots");
    }
    for pem in &opts.extra_roots_pem {
        let mut any = false;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Config(format!("extra root PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::Config(format!("extra root certificate: {e}")))?;
            any = true;
        }
        if !any {
            return Err(Error::Config(
                "extra root PEM holds no certificate".to_owned(),
            ));
        }
    }
    if roots.is_empty() {
        return Err(Error::Config("no trusted root certificates".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Builds the reqwest client on [`rustls_config`]. Redirects are not followed, so a bearer
/// token is only ever sent to the host it was issued for. It asks for gzip and inflates
/// responses transparently.
pub fn http_client(opts: &TransportOptions) -> Result<reqwest::Client, Error> {
    http_client_builder(opts)?
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))
}

/// [`http_client`] without transparent decompression: bodies arrive as sent (the caller asks
/// for gzip itself when it wants it, and inflates). Bulk result pages use it: a page inflated
/// in one pass into a buffer of the size its gzip trailer states costs less than one inflated
/// in network-sized chunks and appended to a growing buffer.
pub fn http_client_identity(opts: &TransportOptions) -> Result<reqwest::Client, Error> {
    http_client_builder(opts)?
        .no_gzip()
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))
}

fn http_client_builder(opts: &TransportOptions) -> Result<reqwest::ClientBuilder, Error> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(rustls_config(opts)?)
        .connect_timeout(opts.connect_timeout)
        .read_timeout(opts.read_timeout)
        .redirect(reqwest::redirect::Policy::none()))
}

/// Parses a base URL and enforces `https`, or `http` to a loopback host only.
pub fn checked_url(raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw).map_err(|e| Error::Config(format!("URL {raw:?}: {e}")))?;
    check_scheme(&url)?;
    Ok(url)
}

/// `Ok` for `https`, and for `http` to `localhost` or a loopback address.
pub fn check_scheme(url: &Url) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Error::Config(format!(
            "plain HTTP is allowed only to loopback hosts, not {}",
            url.host_str().unwrap_or("<none>")
        ))),
        other => Err(Error::Config(format!("unsupported URL scheme {other:?}"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(checked_url("https://example.my.salesforce.com").is_ok());
        assert!(checked_url("http://127.0.0.1:8443").is_ok());
        assert!(checked_url("http://[::1]:80").is_ok());
        assert!(checked_url("http://localhost:1").is_ok());
        assert!(matches!(
            checked_url("http://example.my.salesforce.com"),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            checked_url("http://10.0.0.1"),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            checked_url("ftp://127.0.0.1"),
            Err(Error::Config(_))
        ));
        assert!(matches!(checked_url("not a url"), Err(Error::Config(_))));
    }

    #[test]
    fn extra_roots_must_be_certificates() {
        let opts = TransportOptions {
            native_roots: false,
            extra_roots_pem: vec![b"garbage".to_vec()],
            ..TransportOptions::default()
        };
        assert!(matches!(rustls_config(&opts), Err(Error::Config(_))));
        let opts = TransportOptions {
            native_roots: false,
            ..TransportOptions::default()
        };
        assert!(matches!(rustls_config(&opts), Err(Error::Config(_))));
    }
}
