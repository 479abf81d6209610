//! The management routes, for an admin key: the orgs served and their folders'
//! load status, an org's module versions, uploading a version, activating one,
//! rolling back, and loading an org's folder again.
//!
//! Versions uploaded here live in this process only; the org folder stays the
//! source of truth that every replica loads (docs/deployment.md). An upload must
//! satisfy the org's org.json: its pinned SHA-256, and a valid signature
//! (`crm-rules-signature` header) when the org trusts signing keys.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use crm_rules::registry::default_version;
use crm_rules::{Integrity, VersionSpec};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit_log::Changed;
use super::auth::Caller;
use super::content::Expected;
use super::error::ApiError;
use super::labels;
use super::openapi::schemas::{ErrorBody, ModuleDoc, VersionDoc};
use super::orgs::{FolderStatus, ServedOrg};
use super::service::Service;
use crm_rules::audit::Change;

/// The header an upload's signature (hex, `crm-rules module sign`) comes in.
pub const SIGNATURE_HEADER: &str = "crm-rules-signature";

/// An org as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    /// The org id.
    pub org: String,
    /// The version deciding now.
    pub version: Option<String>,
    /// Its module's SHA-256.
    pub module_hash: Option<String>,
}

/// The orgs a key reaches; for an admin key also every folder's load status.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgList {
    pub orgs: Vec<OrgView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folders: Option<Vec<FolderStatus>>,
}

/// The version an org runs after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct Activated {
    /// The org.
    pub org: String,
    /// The version now active.
    pub active: String,
}

fn respond<T: Serialize>(status: StatusCode, result: Result<T, ApiError>) -> Response {
    match result {
        Ok(value) => (status, Json(value)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The orgs served
#[utoipa::path(
    get,
    path = "/v1/orgs",
    tag = "management",
    responses(
        (status = 200, description = "The orgs the key reaches; an admin key also sees every folder's status, with why it failed to load.", body = OrgList),
        (status = 401, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn list_orgs(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    let result = service.caller(&headers).map(|caller| {
        let orgs = service
            .orgs
            .ids()
            .into_iter()
            .filter(|org| caller.reaches(org))
            .map(|org| {
                let module = service.host.module(&org).ok();
                OrgView {
                    version: module.as_ref().map(|m| m.version.clone()),
                    module_hash: module.map(|m| m.hash),
                    org,
                }
            })
            .collect();
        let folders = caller
            .check_admin()
            .is_ok()
            .then(|| service.orgs.statuses());
        OrgList { orgs, folders }
    });
    respond(StatusCode::OK, result)
}

/// Checks the caller is an admin and the org is served.
fn admin_org(
    service: &Service,
    headers: &HeaderMap,
    org: &str,
) -> Result<(Caller, Arc<ServedOrg>), ApiError> {
    let caller = service.caller(headers)?;
    caller.check_admin()?;
    let served = service.org(&caller, org)?;
    Ok((caller, served))
}

/// Writes a change to the org's audit log (with `--audit-dir`), naming the key
/// that made it. The change is made already: when it cannot be written, the
/// caller is told so (500 `audit`).
async fn audit(
    service: &Service,
    org: &str,
    caller: &Caller,
    changed: Changed,
) -> Result<(), ApiError> {
    match &service.audit {
        Some(writer) => writer.change(org, changed, caller.key_id.as_deref()).await,
        None => Ok(()),
    }
}

/// The SHA-256 of an org's version, for its audit line.
fn module_hash(service: &Service, org: &str, version: &str) -> Option<String> {
    let versions = service.host.versions(org).ok()?;
    versions
        .into_iter()
        .find(|v| v.version == version)
        .map(|v| v.hash)
}

/// The org's integrity rules as its org.json says now (403 when they cannot be
/// read: nothing is activated on rules nobody can check).
fn rules(service: &Service, org: &str) -> Result<Integrity, ApiError> {
    service
        .orgs
        .rules(org)
        .map_err(|message| ApiError::new(StatusCode::FORBIDDEN, "integrity", message))
}

/// Checks a caller's version label (400 naming the rule).
fn checked_label(label: &str) -> Result<(), ApiError> {
    labels::check(label)
        .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, "invalid_version", message))
}

/// 404 unless the org has this version.
fn existing_version(service: &Service, org: &str, version: &str) -> Result<(), ApiError> {
    checked_label(version)?;
    let versions = service
        .host
        .versions(org)
        .map_err(|e| ApiError::from_host(&e))?;
    if versions.iter().any(|v| v.version == version) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_version",
            format!(
                "org `{org}` has no version `{version}` (GET /v1/orgs/{org}/versions lists them)"
            ),
        ))
    }
}

/// Removes the oldest versions that are not active, beyond `keep`: uploads
/// would otherwise hold every module ever sent, compiled, until a restart.
/// Returns the removed versions and their modules' hashes, to audit.
fn prune(service: &Service, org: &str, keep: usize) -> Vec<(String, String)> {
    let Ok(versions) = service.host.versions(org) else {
        return Vec::new();
    };
    let excess = versions.len().saturating_sub(keep.max(1));
    let mut removed = Vec::new();
    for old in versions.into_iter().filter(|v| !v.active).take(excess) {
        if service.host.remove_version(org, &old.version).is_ok() {
            tracing::info!(
                "org `{org}`: version {} removed (more than {keep} versions kept)",
                old.version
            );
            removed.push((old.version, old.hash));
        }
    }
    removed
}

/// An org's module versions
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/versions",
    tag = "management",
    params(("org" = String, Path, description = "The org id.")),
    responses(
        (status = 200, description = "Every version loaded, in the order they were added.", body = Vec<VersionDoc>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn versions(
    State(service): State<Arc<Service>>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = admin_org(&service, &headers, &org).and_then(|_| {
        service
            .host
            .versions(&org)
            .map_err(|e| ApiError::from_host(&e))
    });
    respond(StatusCode::OK, result)
}

/// How an upload is labelled and whether it decides at once.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The version's label; default: from the module's and policy's hashes.
    version: Option<String>,
    /// Make it the active version once it is loaded.
    #[serde(default)]
    activate: bool,
}

/// Upload a module version
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/versions",
    tag = "management",
    params(
        ("org" = String, Path, description = "The org id."),
        UploadQuery,
        ("crm-rules-signature" = Option<String>, Header, description = "The module's signature (hex, from `crm-rules module sign`); required when the org trusts signing keys.")
    ),
    request_body(
        description = "The component (`.wasm`), as `application/wasm` or `application/octet-stream`; gzip allowed.",
        content(
            (super::openapi::schemas::ModuleBytes = "application/octet-stream"),
            (super::openapi::schemas::ModuleBytes = "application/wasm")
        )
    ),
    responses(
        (status = 201, description = "Compiled and initialised with the org's policy.", body = ModuleDoc),
        (status = 400, description = "A bad query, or a version label that breaks the rule (code `invalid_version`).", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "Not an admin key, or the module does not match the org's pin or trusted keys (code `integrity`).", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The label exists with another module.", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "The module does not compile, does not export the contract, or refuses the policy.", body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn upload(
    State(service): State<Arc<Service>>,
    Path(org): Path<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let caller = service.caller(&headers)?;
        caller.check_admin()?;
        let served = service.org(&caller, &org)?;
        let Query(query) = query.map_err(|e| ApiError::bad_input(e.body_text()))?;
        let signature = headers
            .get(SIGNATURE_HEADER)
            .map(|v| {
                v.to_str()
                    .map(|s| s.trim().to_owned())
                    .map_err(|_| ApiError::bad_input("the signature header is not hex text"))
            })
            .transpose()?;
        let wasm = service
            .body(
                &headers,
                body,
                service.settings.max_module_bytes,
                Expected::Module,
            )
            .await?;
        // Checked once the body is read, so a client still sending it gets the
        // refusal rather than a closed connection.
        if let Some(label) = &query.version {
            checked_label(label)?;
        }
        let integrity = Integrity {
            signature,
            ..rules(&service, &served.id)?
        };
        let host = service.host.clone();
        let task_service = service.clone();
        let activated = query.activate;
        let (loaded, pruned) = tokio::task::spawn_blocking(move || {
            let version = query
                .version
                .unwrap_or_else(|| default_version(&wasm, &served.policy));
            let spec = VersionSpec {
                version,
                wasm: &wasm,
                policy: &served.policy,
                limits: served.limits.clone(),
                integrity: integrity.clone(),
            };
            let loaded = host.add_version(&served.id, spec)?;
            if query.activate {
                host.activate_under(&served.id, &loaded.version, &integrity)?;
                task_service.metrics.swapped(&served.id);
            }
            let pruned = prune(
                &task_service,
                &served.id,
                task_service.settings.keep_versions,
            );
            Ok::<_, crm_rules::Error>((loaded, pruned))
        })
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "host",
                "the upload was lost (a thread of the service stopped)",
            )
        })?
        .map_err(|e| {
            tracing::warn!("org `{org}`: upload refused: {e}");
            ApiError::from_host(&e)
        })?;
        tracing::info!(
            "org `{org}`: version {} uploaded (module {}){}",
            loaded.version,
            &loaded.hash[..12],
            if activated { " and active" } else { "" }
        );
        let changed = Changed {
            change: Change::Upload,
            version: loaded.version.clone(),
            module_hash: Some(loaded.hash.clone()),
            active: activated,
        };
        audit(&service, &org, &caller, changed).await?;
        for (version, hash) in pruned {
            let changed = Changed {
                change: Change::Remove,
                version,
                module_hash: Some(hash),
                active: false,
            };
            audit(&service, &org, &caller, changed).await?;
        }
        Ok(loaded)
    }
    .await;
    respond(StatusCode::CREATED, result)
}

/// Activate a version
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/versions/{version}/activate",
    tag = "management",
    params(
        ("org" = String, Path, description = "The org id."),
        ("version" = String, Path, description = "The version's label.")
    ),
    responses(
        (status = 200, description = "The version decides from now on; calls in flight finish on the one they started with.", body = Activated),
        (status = 400, description = "The label breaks the version label rule.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 403, description = "Not an admin key, or the version does not satisfy the org's pin or trusted keys as they are now (code `integrity`).", body = ErrorBody),
        (status = 404, description = "No such org, or no such version (code `unknown_version`).", body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn activate(
    State(service): State<Arc<Service>>,
    Path((org, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let (caller, _) = admin_org(&service, &headers, &org)?;
        existing_version(&service, &org, &version)?;
        service
            .host
            .activate_under(&org, &version, &rules(&service, &org)?)
            .map_err(|e| ApiError::from_host(&e))?;
        service.metrics.swapped(&org);
        tracing::info!("org `{org}`: version {version} activated");
        let changed = Changed {
            change: Change::Activate,
            module_hash: module_hash(&service, &org, &version),
            version: version.clone(),
            active: true,
        };
        audit(&service, &org, &caller, changed).await?;
        Ok(Activated {
            org: org.clone(),
            active: version.clone(),
        })
    }
    .await;
    respond(StatusCode::OK, result)
}

/// Remove a version
#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/versions/{version}",
    tag = "management",
    params(
        ("org" = String, Path, description = "The org id."),
        ("version" = String, Path, description = "The version's label.")
    ),
    responses(
        (status = 204, description = "The version is gone (calls in flight on it finish)."),
        (status = 400, description = "The label breaks the version label rule.", body = ErrorBody),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 403, description = "Not an admin key.", body = ErrorBody),
        (status = 404, description = "No such org, or no such version (code `unknown_version`).", body = ErrorBody),
        (status = 409, description = "The version is active; activate another first.", body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn remove_version(
    State(service): State<Arc<Service>>,
    Path((org, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let (caller, _) = admin_org(&service, &headers, &org)?;
        existing_version(&service, &org, &version)?;
        let hash = module_hash(&service, &org, &version);
        service
            .host
            .remove_version(&org, &version)
            .map_err(|e| ApiError::from_host(&e))?;
        tracing::info!("org `{org}`: version {version} removed");
        let changed = Changed {
            change: Change::Remove,
            version: version.clone(),
            module_hash: hash,
            active: false,
        };
        audit(&service, &org, &caller, changed).await
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Roll back
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/rollback",
    tag = "management",
    params(("org" = String, Path, description = "The org id.")),
    responses(
        (status = 200, description = "The version active before the current one decides again.", body = Activated),
        (status = 401, description = "No valid API key.", body = ErrorBody),
        (status = 403, description = "Not an admin key, or the earlier version does not satisfy the org's pin or trusted keys as they are now (code `integrity`).", body = ErrorBody),
        (status = 404, description = "No such org.", body = ErrorBody),
        (status = 409, description = "No earlier version.", body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn rollback(
    State(service): State<Arc<Service>>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let (caller, _) = admin_org(&service, &headers, &org)?;
        let active = service
            .host
            .rollback_under(&org, &rules(&service, &org)?)
            .map_err(|e| ApiError::from_host(&e))?;
        service.metrics.swapped(&org);
        tracing::info!("org `{org}`: rolled back to version {active}");
        let changed = Changed {
            change: Change::Rollback,
            module_hash: module_hash(&service, &org, &active),
            version: active.clone(),
            active: true,
        };
        audit(&service, &org, &caller, changed).await?;
        Ok(Activated {
            org: org.clone(),
            active,
        })
    }
    .await;
    respond(StatusCode::OK, result)
}

/// Load an org's folder again
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/reload",
    tag = "management",
    params(("org" = String, Path, description = "The org id.")),
    responses(
        (status = 200, description = "The folder loaded; its version is active.", body = FolderStatus),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "The folder failed to load; the version that served before still does (`error` says why).", body = FolderStatus)
    ),
    security(("api_key" = []))
)]
pub async fn reload(
    State(service): State<Arc<Service>>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = admin_org(&service, &headers, &org) {
        return e.into_response();
    }
    let task_service = service.clone();
    let status = tokio::task::spawn_blocking(move || {
        task_service
            .orgs
            .reload(&task_service.host, &task_service.metrics, &org)
    })
    .await;
    match status {
        Ok(Some(status)) if status.error.is_none() => {
            (StatusCode::OK, Json(status)).into_response()
        }
        Ok(Some(status)) => (StatusCode::UNPROCESSABLE_ENTITY, Json(status)).into_response(),
        Ok(None) => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_org",
            "the org has no folder to load",
        )
        .into_response(),
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "host",
            "the reload was lost (a thread of the service stopped)",
        )
        .into_response(),
    }
}
