//! The simulator's HTTP(S) server: the Salesforce APIs a backup and restore use, served on
//! loopback from a [`LiveOrg`].
//!
//! Start it in-process with [`Simulator::builder`]; the returned [`RunningSimulator`] tells a
//! client everything it needs: the instance URL, the CA certificate to trust, and the
//! connected app's client id and secret (the client-credentials flow works with those).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use coffer_sfsim::server::Simulator;
//!
//! let sim = Simulator::builder().seed(7).records(300).start().await?;
//! assert!(sim.instance_url().starts_with("https://127.0.0.1:"));
//!
//! // A client trusts the throwaway CA and logs in with client credentials.
//! let http = reqwest::Client::builder()
//!     .use_preconfigured_tls(sim.client_tls_config()?)
//!     .build()?;
//! let token: serde_json::Value = http
//!     .post(format!("{}/services/oauth2/token", sim.instance_url()))
//!     .basic_auth(sim.client_id(), Some(sim.client_secret()))
//!     .form(&[("grant_type", "client_credentials")])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! let access_token = token["access_token"].as_str().unwrap();
//!
//! let page: serde_json::Value = http
//!     .get(format!("{}/services/data/v62.0/query", sim.instance_url()))
//!     .query(&[("q", "SELECT Id, Name FROM Account")])
//!     .bearer_auth(access_token)
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(page["done"], true);
//! assert!(page["totalSize"].as_u64().unwrap() > 0);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What is served (all under `/services/data/vXX.X/` unless noted):
//! - `/services/oauth2/token` and a test-only `/services/oauth2/authorize` (module `oauth`).
//! - `/services/data/` (versions; not counted), resources, `limits`, `limits/recordCount`,
//!   `sobjects` (describeGlobal), `sobjects/T` (basic info; POST creates), `sobjects/T/describe`,
//!   `sobjects/T/updated`, `sobjects/T/deleted`, `sobjects/T/ID` (GET, PATCH, DELETE),
//!   `sobjects/T/ExtField/value` (PATCH upsert), blob bodies `sobjects/T/ID/Body|VersionData`,
//!   `query`/`queryAll` with `nextRecordsUrl` cursors, `composite/sobjects` collections and
//!   Bulk API 2.0 query jobs (`jobs/query`).
//! - Test-only administration under `/_sim/` (mutate, counts, empty the Recycle Bin, set
//!   faults, export the org to a directory), guarded by the client secret as a bearer token
//!   (module `admin`).

mod admin;
mod bulk;
mod client;
mod cursors;
mod faults;
mod limits;
mod oauth;
mod rest;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use admin::{ExportRequest, MutationRequest};
pub use client::AdminClient;
pub use faults::{FaultKind, FaultParseError, FaultPlan, FaultRule, Trigger};
pub use tls::client_config_trusting;

use crate::org::{LiveOrg, Mutation, MutationSummary};
use crate::{Error, GenerateConfig, Org, SfId};

/// The API version the simulator's examples use; every version from v31.0 to this one is
/// served.
pub const LATEST_API_VERSION: &str = "62.0";

/// Oldest API version served.
const OLDEST_API_MAJOR: u32 = 31;

/// Largest request body accepted (collections may carry up to 200 records with big fields).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Locks a mutex, recovering the data if another request panicked while holding it: every
/// critical section leaves its data consistent, so a poisoned lock carries no torn state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read_org(org: &RwLock<LiveOrg>) -> RwLockReadGuard<'_, LiveOrg> {
    org.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write_org(org: &RwLock<LiveOrg>) -> RwLockWriteGuard<'_, LiveOrg> {
    org.write().unwrap_or_else(PoisonError::into_inner)
}

/// The fixed configuration of one running simulator.
pub(crate) struct Config {
    pub(crate) instance_url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) username: String,
    pub(crate) user_id: String,
    pub(crate) org_id: String,
    pub(crate) access_ttl: Duration,
    pub(crate) rotate_refresh_tokens: bool,
    pub(crate) jwt_public_key: Option<jsonwebtoken::DecodingKey>,
    pub(crate) bulk_polls_to_complete: u32,
    pub(crate) bulk_header_every_page: bool,
    /// When serving began: describe answers 304 to `If-Modified-Since` from then on.
    pub(crate) started_epoch_seconds: i64,
}

/// State shared by every request handler.
pub(crate) struct Shared {
    pub(crate) cfg: Config,
    pub(crate) org: RwLock<LiveOrg>,
    pub(crate) oauth: Mutex<oauth::Store>,
    pub(crate) api_calls: Mutex<limits::RollingCounter>,
    pub(crate) bulk_jobs_started: Mutex<limits::RollingCounter>,
    pub(crate) cursors: Mutex<cursors::Cursors>,
    pub(crate) jobs: Mutex<bulk::Jobs>,
    pub(crate) faults: Mutex<faults::FaultState>,
}

/// Entry point: `Simulator::builder()…start().await`.
#[derive(Debug, Clone, Copy)]
pub struct Simulator;

impl Simulator {
    /// A builder with the defaults: seed 0, 1,000 generated records, HTTPS on a free port,
    /// random client id and secret, 2-hour access tokens, 100,000 API calls per 24 hours,
    /// no faults.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }
}

/// Configures and starts a simulator.
#[derive(Debug)]
pub struct SimulatorBuilder {
    seed: u64,
    records: usize,
    org: Option<LiveOrg>,
    faults: FaultPlan,
    plain_http: bool,
    port: u16,
    client_id: Option<String>,
    client_secret: Option<String>,
    username: String,
    access_token_ttl: Duration,
    api_request_limit: u64,
    rotate_refresh_tokens: bool,
    jwt_public_key_pem: Option<String>,
    cursor_ttl: Duration,
    max_open_cursors: usize,
    bulk_polls_to_complete: u32,
    bulk_header_every_page: bool,
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        Self {
            seed: 0,
            records: 1000,
            org: None,
            faults: FaultPlan::default(),
            plain_http: false,
            port: 0,
            client_id: None,
            client_secret: None,
            username: "integration@coffer-sim.example".to_owned(),
            access_token_ttl: Duration::from_secs(2 * 3600),
            api_request_limit: 100_000,
            rotate_refresh_tokens: false,
            jwt_public_key_pem: None,
            cursor_ttl: Duration::from_secs(15 * 60),
            max_open_cursors: 10,
            bulk_polls_to_complete: 2,
            bulk_header_every_page: true,
        }
    }
}

impl SimulatorBuilder {
    /// Seed of the generated org (ignored with [`SimulatorBuilder::org`]).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Record count of the generated org (ignored with [`SimulatorBuilder::org`]).
    pub fn records(mut self, records: usize) -> Self {
        self.records = records;
        self
    }

    /// Serves this org instead of generating one (e.g. [`LiveOrg::load_dir`] for
    /// `serve --data DIR`).
    pub fn org(mut self, org: LiveOrg) -> Self {
        self.org = Some(org);
        self
    }

    /// Faults to inject (see [`FaultPlan`]).
    pub fn faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }

    /// Plain HTTP instead of HTTPS.
    pub fn plain_http(mut self, plain_http: bool) -> Self {
        self.plain_http = plain_http;
        self
    }

    /// Port on 127.0.0.1 (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The connected app's consumer key (default: random).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The connected app's consumer secret (default: random).
    pub fn client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.client_secret = Some(client_secret.into());
        self
    }

    /// The user every flow logs in as (the JWT `sub` must equal it).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = username.into();
        self
    }

    /// Lifetime of access tokens; after it, API calls answer 401 `INVALID_SESSION_ID`.
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// API calls allowed per rolling 24 hours before 403 `REQUEST_LIMIT_EXCEEDED`.
    pub fn api_request_limit(mut self, max: u64) -> Self {
        self.api_request_limit = max;
        self
    }

    /// Single-use refresh tokens: each refresh returns a new one and kills the old.
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.rotate_refresh_tokens = rotate;
        self
    }

    /// The certificate's public key (PEM) that JWT bearer assertions must be signed for.
    pub fn jwt_public_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.jwt_public_key_pem = Some(pem.into());
        self
    }

    /// Idle time after which a query cursor is gone (`INVALID_QUERY_LOCATOR`).
    pub fn cursor_ttl(mut self, ttl: Duration) -> Self {
        self.cursor_ttl = ttl;
        self
    }

    /// Open query cursors per user (Salesforce: 10); one more kills the oldest.
    pub fn max_open_cursors(mut self, max: usize) -> Self {
        self.max_open_cursors = max;
        self
    }

    /// Status polls a Bulk query job needs to reach `JobComplete` (at least 1; the default 2
    /// shows `InProgress` once, so clients must really poll).
    pub fn bulk_polls_to_complete(mut self, polls: u32) -> Self {
        self.bulk_polls_to_complete = polls.max(1);
        self
    }

    /// Whether every Bulk results page starts with a header row (default, as airbyte reads
    /// it) or only the first page.
    pub fn bulk_header_every_page(mut self, every_page: bool) -> Self {
        self.bulk_header_every_page = every_page;
        self
    }

    /// Builds (or takes) the org, binds 127.0.0.1, and serves until
    /// [`RunningSimulator::shutdown`] or drop.
    ///
    /// # Errors
    /// Generation errors, [`Error::Bind`] when the port is taken, [`Error::Tls`] when the
    /// certificates cannot be made, [`Error::InvalidConfig`] for a bad JWT key.
    pub async fn start(self) -> Result<RunningSimulator, Error> {
        let org = match self.org {
            Some(org) => org,
            None => LiveOrg::new(Org::generate(&GenerateConfig {
                seed: self.seed,
                records: self.records,
            })?),
        };
        // The org's files exist before anyone downloads them, as in Salesforce: a body is
        // produced once here, not on each request (which cost the machine the client runs on
        // a quarter of the simulator's CPU in a full backup).
        org.keep_file_bodies();
        let user_id = first_user_id(&org);
        let org_id = SfId::from_15("00D000000000001")?.as_str().to_owned();
        let jwt_public_key = match &self.jwt_public_key_pem {
            Some(pem) => Some(
                jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|_| Error::InvalidConfig("JWT public key is not an RSA PEM key"))?,
            ),
            None => None,
        };

        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let tls = if self.plain_http {
            None
        } else {
            Some(tls::generate()?)
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let instance_url = format!("{scheme}://127.0.0.1:{}", local.port());
        let client_id = self
            .client_id
            .unwrap_or_else(|| format!("3MVG9coffer.sim.{}", oauth::random_token(24)));
        let client_secret = self
            .client_secret
            .unwrap_or_else(|| oauth::random_token(32));

        let shared = Arc::new(Shared {
            cfg: Config {
                instance_url: instance_url.clone(),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                username: self.username,
                user_id,
                org_id,
                access_ttl: self.access_token_ttl,
                rotate_refresh_tokens: self.rotate_refresh_tokens,
                jwt_public_key,
                bulk_polls_to_complete: self.bulk_polls_to_complete,
                bulk_header_every_page: self.bulk_header_every_page,
                started_epoch_seconds: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                    .unwrap_or_default(),
            },
            org: RwLock::new(org),
            oauth: Mutex::new(oauth::Store::default()),
            api_calls: Mutex::new(limits::RollingCounter::new(self.api_request_limit)),
            bulk_jobs_started: Mutex::new(limits::RollingCounter::new(limits::BULK_QUERY_JOBS_MAX)),
            cursors: Mutex::new(cursors::Cursors::new(
                self.cursor_ttl,
                self.max_open_cursors,
            )),
            jobs: Mutex::new(bulk::Jobs::default()),
            faults: Mutex::new(faults::FaultState::new(self.faults)),
        });
        let app = router(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            // Either an explicit shutdown or the handle being dropped.
            let _ = stopped.await;
        };
        let ca_pem = tls.as_ref().map(|tls| tls.ca_pem.clone());
        let task = match tls {
            Some(tls) => {
                let listener = tls::TlsListener::new(listener, tls.config)
                    .map_err(|source| Error::Bind { addr, source })?;
                tokio::spawn(async move {
                    // Serving only ends by shutdown; an I/O error here has no one to report to
                    // but the handle's owner, who sees the server gone.
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(shutdown)
                        .await;
                })
            }
            None => tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await;
            }),
        };
        Ok(RunningSimulator {
            instance_url,
            ca_pem,
            client_id,
            client_secret,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// The Id of the org's first User (the integration user tokens run as).
fn first_user_id(org: &LiveOrg) -> String {
    org.query("SELECT Id FROM User LIMIT 1", false, crate::API_VERSION)
        .ok()
        .and_then(|out| out.records.into_iter().next())
        .and_then(|record| {
            record
                .get("Id")
                .and_then(|id| id.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            SfId::from_15("005000000000001")
                .map(|id| id.as_str().to_owned())
                .unwrap_or_else(|_| "005000000000001AAA".to_owned())
        })
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/services/oauth2/token", post(oauth::token))
        .route("/services/oauth2/authorize", get(oauth::authorize))
        .route("/services/data", get(rest::versions))
        .route("/services/data/", get(rest::versions))
        .route("/services/data/{*rest}", any(rest::api))
        .route("/_sim/mutate", post(admin::mutate))
        .route("/_sim/counts", get(admin::counts))
        .route("/_sim/export", post(admin::export))
        .route("/_sim/recycle-bin/empty", post(admin::empty_recycle_bin))
        .route("/_sim/faults", axum::routing::put(admin::set_faults))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// A simulator serving on loopback. Dropping it stops the server too; [`shutdown`] also
/// waits until it has stopped.
///
/// [`shutdown`]: RunningSimulator::shutdown
pub struct RunningSimulator {
    instance_url: String,
    ca_pem: Option<String>,
    client_id: String,
    client_secret: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RunningSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client secret is left out on purpose.
        f.debug_struct("RunningSimulator")
            .field("instance_url", &self.instance_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl RunningSimulator {
    /// `https://127.0.0.1:PORT` (or `http://` with plain HTTP).
    pub fn instance_url(&self) -> &str {
        &self.instance_url
    }

    /// The CA certificate (PEM) to trust; `None` with plain HTTP.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The connected app's consumer key.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The connected app's consumer secret (also the admin endpoints' bearer token).
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// The username tokens are issued for (the JWT `sub`).
    pub fn username(&self) -> &str {
        &self.shared.cfg.username
    }

    /// A rustls client configuration (aws-lc-rs) for talking to this simulator: trusting its
    /// CA with HTTPS, trusting nothing with plain HTTP. Pass it to reqwest with
    /// `use_preconfigured_tls` (reqwest is built here without a default crypto provider).
    ///
    /// # Errors
    /// [`Error::Tls`] if the configuration cannot be built.
    pub fn client_tls_config(&self) -> Result<rustls::ClientConfig, Error> {
        match self.ca_pem.as_deref() {
            Some(pem) => client_config_trusting(pem),
            None => tls::client_config_with_roots(rustls::RootCertStore::empty()),
        }
    }

    /// Issues an access token directly, as if a flow had run (tests that are not about OAuth).
    pub fn access_token(&self) -> String {
        let cfg = &self.shared.cfg;
        lock(&self.shared.oauth).issue_access(
            &cfg.org_id,
            cfg.access_ttl,
            std::time::Instant::now(),
        )
    }

    /// Mutates the served org (as the `mutate` command does over HTTP).
    pub fn mutate(&self, mutation: &Mutation) -> MutationSummary {
        write_org(&self.shared.org).mutate(mutation)
    }

    /// Live (non-deleted) record counts per object.
    pub fn live_counts(&self) -> std::collections::BTreeMap<String, u64> {
        read_org(&self.shared.org).live_counts()
    }

    /// Runs `f` with read access to the served org (to compute expected results).
    pub fn with_org<R>(&self, f: impl FnOnce(&LiveOrg) -> R) -> R {
        f(&read_org(&self.shared.org))
    }

    /// Runs `f` with write access to the served org, to change it as an admin would (empty
    /// the Recycle Bin, say).
    pub fn with_org_mut<R>(&self, f: impl FnOnce(&mut LiveOrg) -> R) -> R {
        f(&mut write_org(&self.shared.org))
    }

    /// Replaces the fault plan (counters restart).
    pub fn set_faults(&self, plan: FaultPlan) {
        *lock(&self.shared.faults) = faults::FaultState::new(plan);
    }

    /// API calls counted in the current 24-hour window.
    pub fn api_calls_used(&self) -> u64 {
        lock(&self.shared.api_calls).used(std::time::Instant::now())
    }

    /// Stops serving and waits until the server task has ended.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // Graceful shutdown waits for idle keep-alive connections; a dropped handle must
            // not leave the server running behind a test.
            task.abort();
        }
    }
}
