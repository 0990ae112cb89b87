//! The ADS gRPC service (tonic, Envoy's own service definition from `envoy-types`) and
//! the registry of connected Envoys behind `GET /v1/xds/status`.
//!
//! Each stream runs one task: requests and new snapshots go through its
//! [`StreamState`], responses out through a channel that is the gRPC response stream.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use futures_util::stream::BoxStream;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tonic::{Request, Response, Status, Streaming};

use super::snapshot::Snapshot;
use super::stream::{Event, StreamState, TypeStatus};
use super::Publisher;

/// Path of the xDS status report.
pub const STATUS_PATH: &str = "/v1/xds/status";
/// Responses queued per stream before the stream task waits for Envoy to read.
const QUEUE: usize = 16;

/// One connected Envoy in the status report.
#[derive(Debug, Clone, Serialize)]
pub struct EnvoyStatus {
    pub node: String,
    pub cluster: String,
    /// Per type URL: versions sent, acknowledged and rejected.
    pub types: BTreeMap<String, TypeStatus>,
}

/// The status report.
#[derive(Debug, Clone, Serialize)]
pub struct XdsStatus {
    /// Version of the snapshot being served.
    pub version: u64,
    pub envoys: Vec<EnvoyStatus>,
    /// Rejections since the control plane started, over all Envoys.
    pub nacks_total: u64,
}

/// Connected Envoys, by stream.
#[derive(Debug, Default)]
pub struct Registry {
    streams: Mutex<BTreeMap<u64, EnvoyStatus>>,
    next_stream: AtomicU64,
    nacks: AtomicU64,
}

// === impl Registry ===

impl Registry {
    fn open(&self) -> u64 {
        self.next_stream.fetch_add(1, Ordering::Relaxed)
    }

    fn update(&self, stream: u64, state: &StreamState) {
        let status = EnvoyStatus {
            node: state.node_id().to_string(),
            cluster: state.node_cluster().to_string(),
            types: state.status(),
        };
        self.lock().insert(stream, status);
    }

    fn close(&self, stream: u64) {
        self.lock().remove(&stream);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, EnvoyStatus>> {
        // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn report(&self, version: u64) -> XdsStatus {
        XdsStatus {
            version,
            envoys: self.lock().values().cloned().collect(),
            nacks_total: self.nacks.load(Ordering::Relaxed),
        }
    }
}

/// The ADS service over a publisher's snapshots. It holds the publisher, so the
/// snapshot channel stays open as long as anything serves it.
#[derive(Debug, Clone)]
pub struct AdsServer {
    publisher: Arc<Publisher>,
    registry: Arc<Registry>,
}

// === impl AdsServer ===

impl AdsServer {
    pub fn new(publisher: Arc<Publisher>) -> AdsServer {
        AdsServer {
            publisher,
            registry: Arc::default(),
        }
    }

    pub fn status(&self) -> XdsStatus {
        self.registry.report(self.publisher.current().version())
    }

    /// The gRPC service and `GET /v1/xds/status`, to serve beside other routes (the
    /// listener must speak HTTP/2 without TLS: Envoy's xDS cluster uses prior knowledge).
    pub fn router(self) -> Router {
        let status = Router::new()
            .route(STATUS_PATH, get(status))
            .with_state(self.clone());
        tonic::service::Routes::new(AggregatedDiscoveryServiceServer::new(self))
            .into_axum_router()
            .merge(status)
    }
}

async fn status(State(server): State<AdsServer>) -> Json<XdsStatus> {
    Json(server.status())
}

type ResponseStream<T> = BoxStream<'static, Result<T, Status>>;

#[tonic::async_trait]
impl AggregatedDiscoveryService for AdsServer {
    type StreamAggregatedResourcesStream = ResponseStream<DiscoveryResponse>;
    type DeltaAggregatedResourcesStream = ResponseStream<DeltaDiscoveryResponse>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        let (responses, outbox) = mpsc::channel(QUEUE);
        tokio::spawn(serve_stream(
            request.into_inner(),
            self.publisher.subscribe(),
            responses,
            self.registry.clone(),
        ));
        let stream = futures_util::stream::unfold(outbox, |mut outbox| async move {
            outbox.recv().await.map(|response| (Ok(response), outbox))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn delta_aggregated_resources(
        &self,
        _: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        Err(Status::unimplemented(
            "Tollgate serves state-of-the-world ADS (api_type: GRPC), not delta",
        ))
    }
}

/// Runs one stream until Envoy hangs up or the snapshots end.
async fn serve_stream(
    mut requests: Streaming<DiscoveryRequest>,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    responses: mpsc::Sender<DiscoveryResponse>,
    registry: Arc<Registry>,
) {
    let id = registry.open();
    let mut state = StreamState::default();
    snapshots.mark_unchanged();
    loop {
        let outgoing = tokio::select! {
            request = requests.message() => match request {
                Ok(Some(request)) => {
                    let snapshot = snapshots.borrow().clone();
                    match state.on_request(&request, &snapshot) {
                        Ok((event, responses)) => {
                            report(&state, &request.type_url, &event, &registry);
                            responses
                        }
                        Err(e) => {
                            eprintln!("error: xds: cannot encode for {}: {e}", state.node_id());
                            Vec::new()
                        }
                    }
                }
                // Envoy hung up: it reconnects on its own.
                Ok(None) => break,
                Err(status) => {
                    eprintln!("xds: stream of Envoy {} broke: {status}", state.node_id());
                    break;
                }
            },
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break;
                }
                let snapshot = snapshots.borrow_and_update().clone();
                state.on_snapshot(&snapshot).unwrap_or_else(|e| {
                    eprintln!("error: xds: cannot encode for {}: {e}", state.node_id());
                    Vec::new()
                })
            }
        };
        registry.update(id, &state);
        if !send_all(&responses, outgoing).await {
            break;
        }
    }
    if !state.node_id().is_empty() {
        eprintln!("xds: Envoy {} disconnected", state.node_id());
    }
    registry.close(id);
}

/// Queues `outgoing`; false once the response stream is gone.
async fn send_all(
    responses: &mpsc::Sender<DiscoveryResponse>,
    outgoing: Vec<DiscoveryResponse>,
) -> bool {
    for response in outgoing {
        if responses.send(response).await.is_err() {
            return false;
        }
    }
    true
}

fn report(state: &StreamState, type_url: &str, event: &Event, registry: &Registry) {
    let node = state.node_id();
    let kind = type_url.rsplit('.').next().unwrap_or(type_url);
    match event {
        Event::Nack { version, message } => {
            registry.nacks.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "warning: xds: Envoy {node} rejected {kind} version {version} and keeps its last good one: {message}"
            );
        }
        Event::Subscribed if type_url.ends_with(".Listener") => {
            eprintln!("xds: Envoy {node} subscribed");
        }
        _ => {}
    }
}
