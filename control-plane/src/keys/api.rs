//! The admin REST API for virtual keys (`/v1/admin/keys…`), guarded by the admin
//! credentials of `control_plane.admin_keys`. A key's secret appears in exactly two
//! answers, create and rotate; every other answer carries its id and scope only.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use subtle::ConstantTimeEq;
use tollgate_core::keys::{digest, presented_key, KeyDigest};
use tollgate_core::ratelimit::{KeyRateLimits, RateLimits};

use super::lifecycle::{KeyPatch, KeyScope, LifecycleError, NewKey, Status, StoredKey};
use super::registry::{Issued, KeyRegistry, RegistryError};
use super::store::KeyStoreError;
use crate::service::{error, Routes};
use crate::usage::time::parse_unix_ms;

pub const KEYS_PATH: &str = "/v1/admin/keys";
pub const KEY_PATH: &str = "/v1/admin/keys/{id}";
pub const ROTATE_PATH: &str = "/v1/admin/keys/{id}/rotate";
pub const REVOKE_PATH: &str = "/v1/admin/keys/{id}/revoke";

/// An admin credential the service accepts: its name and its secret's digest.
#[derive(Clone)]
pub struct Admin {
    pub name: String,
    pub digest: KeyDigest,
}

/// What keys may refer to: the configuration's model aliases and providers.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub aliases: Vec<String>,
    pub providers: Vec<String>,
}

#[derive(Clone)]
struct AdminState {
    registry: Arc<KeyRegistry>,
    admins: Arc<Vec<Admin>>,
    catalog: Arc<Catalog>,
}

/// The admin routes. With no admin credential every request is refused, saying why.
pub fn routes(registry: Arc<KeyRegistry>, admins: Vec<Admin>, catalog: Catalog) -> Routes {
    let state = AdminState {
        registry,
        admins: Arc::new(admins),
        catalog: Arc::new(catalog),
    };
    Routes::default()
        .route(KEYS_PATH, get(list).post(create).with_state(state.clone()))
        .route(KEY_PATH, get(show).patch(update).with_state(state.clone()))
        .route(ROTATE_PATH, post(rotate).with_state(state.clone()))
        .route(REVOKE_PATH, post(revoke).with_state(state))
}

// === wire types ===

/// Rate limits as the API spells them (snake_case, like the config file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_agent: Option<AgentRateLimitsBody>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRateLimitsBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
}

impl From<RateLimitsBody> for KeyRateLimits {
    fn from(body: RateLimitsBody) -> Self {
        KeyRateLimits {
            requests_per_minute: body.requests_per_minute,
            tokens_per_minute: body.tokens_per_minute,
            per_agent: body.per_agent.map(|a| RateLimits {
                requests_per_minute: a.requests_per_minute,
                tokens_per_minute: a.tokens_per_minute,
            }),
        }
    }
}

impl From<KeyRateLimits> for RateLimitsBody {
    fn from(limits: KeyRateLimits) -> Self {
        RateLimitsBody {
            requests_per_minute: limits.requests_per_minute,
            tokens_per_minute: limits.tokens_per_minute,
            per_agent: limits.per_agent.map(|a| AgentRateLimitsBody {
                requests_per_minute: a.requests_per_minute,
                tokens_per_minute: a.tokens_per_minute,
            }),
        }
    }
}

/// `POST /v1/admin/keys`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Generated (`key-…`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimitsBody>,
    /// RFC 3339 time or date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `PATCH /v1/admin/keys/{id}`: absent fields stay; `null` clears a clearable one.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub team: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub rate_limits: Option<Option<RateLimitsBody>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<Option<String>>,
}

/// A field that is present, possibly `null` (an absent one stays `None` by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `POST /v1/admin/keys/{id}/rotate`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// How long the old secret keeps working; 0 or absent: not at all.
    #[serde(default)]
    pub grace_seconds: u64,
}

/// A key as answered: no hash, no secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyView {
    pub id: String,
    pub status: Status,
    pub models: Vec<String>,
    pub providers: Vec<String>,
    pub team: Option<String>,
    pub agent: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub rate_limits: Option<RateLimitsBody>,
    pub created_unix_ms: u64,
    pub updated_unix_ms: u64,
    pub expires_unix_ms: Option<u64>,
    pub revoked_unix_ms: Option<u64>,
    /// When each rotated-out secret still in its grace period stops working.
    pub previous_secrets_expire_unix_ms: Vec<u64>,
}

/// The answer to create and rotate: the key, and its new secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedView {
    pub key: KeyView,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

impl KeyView {
    fn new(key: &StoredKey, now_unix_ms: u64) -> Self {
        let scope = &key.scope;
        KeyView {
            id: key.id.clone(),
            status: key.status(now_unix_ms),
            models: scope.models.clone(),
            providers: scope.providers.clone(),
            team: scope.team.clone(),
            agent: scope.agent.clone(),
            metadata: scope.metadata.clone(),
            rate_limits: scope.rate_limits.map(RateLimitsBody::from),
            created_unix_ms: key.created_unix_ms,
            updated_unix_ms: key.updated_unix_ms,
            expires_unix_ms: key.expires_unix_ms,
            revoked_unix_ms: key.revoked_unix_ms,
            previous_secrets_expire_unix_ms: key
                .live_previous_secrets(now_unix_ms)
                .iter()
                .map(|p| p.expires_unix_ms)
                .collect(),
        }
    }
}

// === handlers ===

/// A refused request: its status and the message the caller gets.
pub(crate) struct Refusal(pub StatusCode, pub String);

fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.into())
}

impl AdminState {
    fn admin(&self, headers: &HeaderMap) -> Result<String, Refusal> {
        authenticate(&self.admins, headers)
    }

    fn check_references(&self, models: &[String], providers: &[String]) -> Result<(), Refusal> {
        let catalog = &self.catalog;
        let unknown = |known: &[String], name: &String| name != "*" && !known.contains(name);
        if let Some(alias) = models.iter().find(|m| unknown(&catalog.aliases, m)) {
            return Err(bad_request(format!(
                "unknown model alias {alias:?}; known: {}",
                catalog.aliases.join(", ")
            )));
        }
        if let Some(provider) = providers.iter().find(|p| unknown(&catalog.providers, p)) {
            return Err(bad_request(format!(
                "unknown provider {provider:?}; known: {}",
                catalog.providers.join(", ")
            )));
        }
        Ok(())
    }

    /// Runs a registry operation off the async threads (the store blocks).
    async fn run<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&KeyRegistry) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, Refusal> {
        let registry = Arc::clone(&self.registry);
        match tokio::task::spawn_blocking(move || operation(&registry)).await {
            Ok(outcome) => outcome.map_err(|e| registry_error(&e)),
            Err(e) => {
                eprintln!("tollgate service: key task failed: {e}");
                Err(internal_error())
            }
        }
    }
}

/// The name of the admin credential presented (`Authorization: Bearer …`).
pub(crate) fn authenticate(admins: &[Admin], headers: &HeaderMap) -> Result<String, Refusal> {
    if admins.is_empty() {
        return Err(Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the admin API is off: no admin credential is set (control_plane.admin_keys; \
             by default the TOLLGATE_ADMIN_KEY environment variable)"
                .into(),
        ));
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let presented = presented_key(header("authorization"), None);
    // Digests compared, in constant time, so timing says nothing about the secrets.
    let presented = presented.map(digest);
    let admin = presented.and_then(|presented| {
        admins
            .iter()
            .find(|a| bool::from(a.digest.ct_eq(&presented)))
    });
    admin.map(|a| a.name.clone()).ok_or_else(|| {
        Refusal(
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin key: send 'Authorization: Bearer <admin key>'".into(),
        )
    })
}

pub(crate) fn internal_error() -> Refusal {
    Refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
}

fn registry_error(e: &RegistryError) -> Refusal {
    let status = match e {
        RegistryError::Lifecycle(LifecycleError::Revoked(_) | LifecycleError::Expired(_))
        | RegistryError::ConfigKey(_)
        | RegistryError::Store(KeyStoreError::Exists(_) | KeyStoreError::Raced(_)) => {
            StatusCode::CONFLICT
        }
        RegistryError::Lifecycle(_) => StatusCode::BAD_REQUEST,
        RegistryError::Store(KeyStoreError::NotFound(_)) => StatusCode::NOT_FOUND,
        RegistryError::Store(_) | RegistryError::Audit(_) => {
            eprintln!("tollgate service: {e}");
            let message = "the key store or audit log failed; nothing was changed, retry later";
            return Refusal(StatusCode::SERVICE_UNAVAILABLE, message.into());
        }
        RegistryError::Secret(_) => {
            eprintln!("tollgate service: {e}");
            return internal_error();
        }
    };
    Refusal(status, e.to_string())
}

fn parse_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| bad_request(format!("the body is not valid: {e}")))
}

fn parse_time(field: &str, text: &str) -> Result<u64, Refusal> {
    let ms = parse_unix_ms(text).map_err(|e| bad_request(format!("{field}: {e}")))?;
    u64::try_from(ms).map_err(|_| bad_request(format!("{field}: before 1970")))
}

pub(crate) fn answer<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, Json(body)).into_response()
}

fn issued(issued: &Issued, now: u64, status: StatusCode) -> Response {
    let view = IssuedView {
        key: KeyView::new(&issued.key, now),
        secret: issued.secret.clone(),
    };
    answer(status, &view)
}

pub(crate) fn respond(outcome: Result<Response, Refusal>) -> Response {
    outcome.unwrap_or_else(|Refusal(status, message)| error(status, &message))
}

async fn list(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    respond(
        async {
            state.admin(&headers)?;
            let now = state.registry.now();
            let keys = state.run(|registry| registry.list()).await?;
            let keys = keys.iter().map(|k| KeyView::new(k, now)).collect();
            Ok(answer(StatusCode::OK, &KeyList { keys }))
        }
        .await,
    )
}

async fn show(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            state.admin(&headers)?;
            let key = state.run(move |registry| registry.get(&id)).await?;
            Ok(answer(
                StatusCode::OK,
                &KeyView::new(&key, state.registry.now()),
            ))
        }
        .await,
    )
}

async fn create(State(state): State<AdminState>, headers: HeaderMap, body: Bytes) -> Response {
    respond(
        async {
            let actor = state.admin(&headers)?;
            let body: CreateBody = parse_body(&body)?;
            state.check_references(&body.models, &body.providers)?;
            let expires_unix_ms = match &body.expires_at {
                Some(text) => Some(parse_time("expires_at", text)?),
                None => None,
            };
            let new = NewKey {
                id: body.id.unwrap_or_default(),
                scope: KeyScope {
                    models: body.models,
                    providers: body.providers,
                    team: body.team,
                    agent: body.agent,
                    rate_limits: body.rate_limits.map(KeyRateLimits::from),
                    metadata: body.metadata,
                },
                expires_unix_ms,
            };
            let created = state
                .run(move |registry| registry.create(&actor, new))
                .await?;
            Ok(issued(&created, state.registry.now(), StatusCode::CREATED))
        }
        .await,
    )
}

async fn update(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let actor = state.admin(&headers)?;
            let body: UpdateBody = parse_body(&body)?;
            let no_models = Vec::new();
            state.check_references(
                body.models.as_ref().unwrap_or(&no_models),
                body.providers.as_ref().unwrap_or(&no_models),
            )?;
            let expires_unix_ms = match &body.expires_at {
                Some(Some(text)) => Some(Some(parse_time("expires_at", text)?)),
                Some(None) => Some(None),
                None => None,
            };
            let patch = KeyPatch {
                models: body.models,
                providers: body.providers,
                team: body.team,
                agent: body.agent,
                rate_limits: body.rate_limits.map(|l| l.map(KeyRateLimits::from)),
                metadata: body.metadata,
                expires_unix_ms,
            };
            let key = state
                .run(move |registry| registry.update(&actor, &id, patch))
                .await?;
            Ok(answer(
                StatusCode::OK,
                &KeyView::new(&key, state.registry.now()),
            ))
        }
        .await,
    )
}

async fn rotate(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let actor = state.admin(&headers)?;
            let body: RotateBody = parse_body(&body)?;
            let grace_ms = body.grace_seconds.saturating_mul(1000);
            let rotated = state
                .run(move |registry| registry.rotate(&actor, &id, grace_ms))
                .await?;
            Ok(issued(&rotated, state.registry.now(), StatusCode::OK))
        }
        .await,
    )
}

async fn revoke(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    respond(
        async {
            let actor = state.admin(&headers)?;
            let key = state
                .run(move |registry| registry.revoke(&actor, &id))
                .await?;
            Ok(answer(
                StatusCode::OK,
                &KeyView::new(&key, state.registry.now()),
            ))
        }
        .await,
    )
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
