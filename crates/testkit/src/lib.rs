//! Shared test harness: the one place tests learn where the real services they need are.
//!
//! `scripts/test` starts `moto_server` (S3 and KMS) and a throwaway PostgreSQL cluster on
//! loopback and exports their endpoints; this crate reads them and builds clients for them.
//! When a service is missing, the error names `scripts/test`; tests turn that into a failure
//! (never a skip), so a CI run without its services cannot pass by testing nothing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), coffer_testkit::Error> {
//! let s3 = coffer_testkit::s3_client().await?;
//! let bucket = coffer_testkit::unique_name("conformance");
//! s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
//! # Ok(()) }
//! ```
//!
//! It is a dev-dependency only: no production crate links it.

use std::fmt;

/// A service that `scripts/test` starts for the test suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Service {
    /// S3, served by `moto_server`.
    S3,
    /// KMS, served by the same `moto_server`.
    Kms,
    /// A throwaway PostgreSQL cluster.
    Postgres,
    /// A Python interpreter with `simple-salesforce` installed: an independent Salesforce
    /// client that drives `coffer-sfsim` in fidelity tests.
    SimpleSalesforce,
}

impl Service {
    /// The environment variable that carries this service's endpoint.
    pub fn env_var(self) -> &'static str {
        match self {
            Service::S3 => "COFFER_TEST_S3_ENDPOINT",
            Service::Kms => "COFFER_TEST_KMS_ENDPOINT",
            Service::Postgres => "COFFER_TEST_POSTGRES_URL",
            Service::SimpleSalesforce => "COFFER_TEST_PYTHON",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::S3 => "S3 (moto_server)",
            Service::Kms => "KMS (moto_server)",
            Service::Postgres => "PostgreSQL",
            Service::SimpleSalesforce => "Python with simple-salesforce",
        })
    }
}

/// Why the harness could not hand out a service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint variable is unset or empty: the tests were not started by `scripts/test`.
    #[error(
        "{service} is not available: {var} is not set. Run the tests through `scripts/test` \
         (or `scripts/test --quick`), which starts moto_server and PostgreSQL and exports \
         their endpoints; a test that needs a service fails without it, it is never skipped"
    )]
    Missing {
        /// The missing service.
        service: Service,
        /// The variable that should have named it.
        var: &'static str,
    },
    /// The operating system's random source failed.
    #[error("random source unavailable: {0}")]
    Random(String),
}

/// The endpoint of `service`, as exported by `scripts/test`.
pub fn endpoint(service: Service) -> Result<String, Error> {
    let var = service.env_var();
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        _ => Err(Error::Missing { service, var }),
    }
}

/// Whether this run is under CI (`CI=true`), where a missing service is always a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The region every test client uses; moto accepts any.
pub const TEST_REGION: &str = "us-east-1";

/// An SDK configuration pointing at `endpoint` with moto's throwaway static credentials.
async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials =
        aws_credential_types::Credentials::new("testing", "testing", None, None, "coffer-testkit");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(TEST_REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .load()
        .await
}

/// An S3 client for moto: path-style addressing, test credentials.
pub async fn s3_client() -> Result<aws_sdk_s3::Client, Error> {
    let endpoint = endpoint(Service::S3)?;
    let config = sdk_config(&endpoint).await;
    let s3_config = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(true)
        .build();
    Ok(aws_sdk_s3::Client::from_conf(s3_config))
}

/// A KMS client for moto.
pub async fn kms_client() -> Result<aws_sdk_kms::Client, Error> {
    let endpoint = endpoint(Service::Kms)?;
    let config = sdk_config(&endpoint).await;
    Ok(aws_sdk_kms::Client::new(&config))
}

/// The PostgreSQL URL of the throwaway cluster.
pub fn postgres_url() -> Result<String, Error> {
    endpoint(Service::Postgres)
}

/// The Python interpreter (a path) that has `simple-salesforce` installed.
pub fn python() -> Result<String, Error> {
    endpoint(Service::SimpleSalesforce)
}

/// A name no other test run will pick: `prefix` plus 16 random hex digits, lowercase, so it
/// is valid as an S3 bucket name, a PostgreSQL identifier and a path component.
pub fn unique_name(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    // A failed random source would make names collide between parallel tests; fall back to
    // the time and process id, which still separate concurrent runs.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
        bytes = mixed.to_le_bytes();
    }
    let mut name = String::with_capacity(prefix.len() + 17);
    name.push_str(&prefix.to_ascii_lowercase());
    name.push('-');
    for b in bytes {
        name.push_str(&format!("{b:02x}"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_lowercase_and_distinct() {
        let a = unique_name("Bucket");
        let b = unique_name("Bucket");
        assert_ne!(a, b);
        assert!(a.starts_with("bucket-"));
        assert_eq!(a.len(), "bucket-".len() + 16);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn missing_service_error_names_scripts_test() {
        let err = Error::Missing {
            service: Service::S3,
            var: Service::S3.env_var(),
        };
        let text = err.to_string();
        assert!(text.contains("scripts/test"), "{text}");
        assert!(text.contains("COFFER_TEST_S3_ENDPOINT"), "{text}");
    }
}
