//! Test-only administration under `/_sim/` (not a Salesforce API): mutate the org, read live
//! counts, empty the Recycle Bin, replace the fault plan, export the org to a directory. Every call must carry
//! `Authorization: Bearer <client secret>`; the secret is printed by `serve` for the scripts
//! that drive it, and is otherwise only known to whoever started the simulator.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::faults::{FaultPlan, FaultState};
use super::oauth::secrets_equal;
use super::rest::json_response;
use super::{Shared, lock, read_org, write_org};
use crate::org::Mutation;

/// The body of `POST /_sim/mutate`: a [`Mutation`] in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MutationRequest {
    /// Seed of the record and value choices.
    pub seed: u64,
    /// Percentage (0–100) of live records to update.
    #[serde(default)]
    pub update_pct: f64,
    /// Percentage (0–100) of live records to delete.
    #[serde(default)]
    pub delete_pct: f64,
    /// Percentage (0–100) of live records to add.
    #[serde(default)]
    pub create_pct: f64,
}

impl From<MutationRequest> for Mutation {
    fn from(request: MutationRequest) -> Self {
        Mutation {
            seed: request.seed,
            update_pct: request.update_pct,
            delete_pct: request.delete_pct,
            create_pct: request.create_pct,
        }
    }
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|secret| secrets_equal(secret.trim(), &shared.cfg.client_secret))
}

/// An admin endpoint's error: `{"error": message}` with `status`.
fn admin_error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

fn unauthorized() -> Response {
    admin_error(
        StatusCode::UNAUTHORIZED,
        "the admin endpoints need the client secret as bearer token",
    )
}

fn bad_request(message: String) -> Response {
    admin_error(StatusCode::BAD_REQUEST, &message)
}

/// The JSON body of an authorized admin call, or the response refusing it (401 without the
/// secret, 400 naming `what` for a body that does not parse).
#[allow(clippy::result_large_err)]
fn authorized_body<T: serde::de::DeserializeOwned>(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    what: &str,
) -> Result<T, Response> {
    if !authorized(shared, headers) {
        return Err(unauthorized());
    }
    serde_json::from_slice(body).map_err(|e| bad_request(format!("{what}: {e}")))
}

fn valid_pct(pct: f64) -> bool {
    (0.0..=100.0).contains(&pct)
}

/// `POST /_sim/mutate`.
pub(crate) async fn mutate(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: MutationRequest = match authorized_body(&shared, &headers, &body, "mutation") {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    if ![request.update_pct, request.delete_pct, request.create_pct]
        .into_iter()
        .all(valid_pct)
    {
        return bad_request("percentages must be between 0 and 100".to_owned());
    }
    let summary = write_org(&shared.org).mutate(&request.into());
    json_response(StatusCode::OK, &summary)
}

/// The body of `POST /_sim/export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    /// Directory, on the simulator's machine, to write `records/` and `blobs/` under (they
    /// must be empty or absent).
    pub out: std::path::PathBuf,
}

/// `POST /_sim/export`: writes the org as it is now to a directory (see
/// [`crate::org::LiveOrg::write_dir`]); answers the [`crate::export::ExportSummary`].
pub(crate) async fn export(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: ExportRequest = match authorized_body(&shared, &headers, &body, "export") {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    // Writing hundreds of megabytes must not stall the runtime's workers.
    let written =
        tokio::task::spawn_blocking(move || read_org(&shared.org).write_dir(&request.out)).await;
    match written {
        Ok(Ok(summary)) => json_response(StatusCode::OK, &summary),
        Ok(Err(e @ crate::Error::OutputNotEmpty { .. })) => bad_request(e.to_string()),
        Ok(Err(e)) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(_) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, "the export task failed"),
    }
}

/// `GET /_sim/counts`: live records per object.
pub(crate) async fn counts(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    json_response(StatusCode::OK, &read_org(&shared.org).live_counts())
}

/// `POST /_sim/recycle-bin/empty`: purges soft-deleted records; answers `{"purged":N}`.
pub(crate) async fn empty_recycle_bin(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let purged = write_org(&shared.org).empty_recycle_bin();
    json_response(StatusCode::OK, &json!({ "purged": purged }))
}

/// `PUT /_sim/faults`: replaces the fault plan (a [`FaultPlan`] in JSON); counters restart.
pub(crate) async fn set_faults(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match authorized_body::<FaultPlan>(&shared, &headers, &body, "fault plan") {
        Ok(plan) => {
            *lock(&shared.faults) = FaultState::new(plan);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(refused) => refused,
    }
}
