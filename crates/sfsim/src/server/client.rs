//! A client for a running simulator's `/_sim/` administration endpoints, used by the
//! `mutate`, `count` and `export` commands and by tests that drive a simulator in another process.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::admin::{ExportRequest, MutationRequest};
use super::faults::FaultPlan;
use super::tls::{client_config_trusting, client_config_with_roots};
use crate::Error;
use crate::export::ExportSummary;

/// Talks to `/_sim/` on one simulator.
#[derive(Debug, Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    secret: String,
}

impl AdminClient {
    /// A client for the simulator at `instance_url`, trusting `ca_pem` (HTTPS) and
    /// authenticating with the simulator's client secret.
    ///
    /// # Errors
    /// [`Error::Tls`] for an unusable CA PEM, [`Error::Http`] if the HTTP client cannot be
    /// built.
    pub fn new(
        instance_url: &str,
        ca_pem: Option<&str>,
        client_secret: &str,
    ) -> Result<Self, Error> {
        let tls = match ca_pem {
            Some(pem) => client_config_trusting(pem)?,
            None => client_config_with_roots(rustls::RootCertStore::empty())?,
        };
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .map_err(|source| Error::Http {
                url: instance_url.to_owned(),
                source,
            })?;
        Ok(Self {
            http,
            base: instance_url.trim_end_matches('/').to_owned(),
            secret: client_secret.to_owned(),
        })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<T, Error> {
        let http_error = |source| Error::Http {
            url: url.to_owned(),
            source,
        };
        let response = request
            .bearer_auth(&self.secret)
            .send()
            .await
            .map_err(http_error)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(Error::AdminStatus {
                status: status.as_u16(),
                body,
            });
        }
        response.json().await.map_err(http_error)
    }

    /// Mutates the org; returns the summary JSON (counts per object).
    ///
    /// # Errors
    /// [`Error::Http`] on transport errors, [`Error::AdminStatus`] when refused.
    pub async fn mutate(&self, mutation: &MutationRequest) -> Result<serde_json::Value, Error> {
        let url = format!("{}/_sim/mutate", self.base);
        self.send(self.http.post(&url).json(mutation), &url).await
    }

    /// Writes the org as it is now under `out` on the simulator's machine (see
    /// [`crate::org::LiveOrg::write_dir`]).
    ///
    /// # Errors
    /// As [`AdminClient::mutate`]; [`Error::AdminStatus`] 400 when `out` already holds files.
    pub async fn export(&self, out: &std::path::Path) -> Result<ExportSummary, Error> {
        let url = format!("{}/_sim/export", self.base);
        let request = ExportRequest {
            out: out.to_owned(),
        };
        self.send(self.http.post(&url).json(&request), &url).await
    }

    /// Live record counts per object.
    ///
    /// # Errors
    /// As [`AdminClient::mutate`].
    pub async fn counts(&self) -> Result<BTreeMap<String, u64>, Error> {
        let url = format!("{}/_sim/counts", self.base);
        self.send(self.http.get(&url), &url).await
    }

    /// Empties the Recycle Bin; returns how many records were purged.
    ///
    /// # Errors
    /// As [`AdminClient::mutate`].
    pub async fn empty_recycle_bin(&self) -> Result<u64, Error> {
        let url = format!("{}/_sim/recycle-bin/empty", self.base);
        let body: serde_json::Value = self.send(self.http.post(&url), &url).await?;
        Ok(body
            .get("purged")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or_default())
    }

    /// Replaces the fault plan.
    ///
    /// # Errors
    /// As [`AdminClient::mutate`].
    pub async fn set_faults(&self, plan: &FaultPlan) -> Result<(), Error> {
        let url = format!("{}/_sim/faults", self.base);
        let response = self
            .http
            .put(&url)
            .bearer_auth(&self.secret)
            .json(plan)
            .send()
            .await
            .map_err(|source| Error::Http {
                url: url.clone(),
                source,
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            Err(Error::AdminStatus { status, body })
        }
    }
}
