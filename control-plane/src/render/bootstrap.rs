//! The Envoy bootstrap: one listener running the gateway filter, one cluster per
//! provider running that provider's filter and credential injector (or, for Bedrock
//! without an API key, Envoy's AWS SigV4 signer), and one static secret per provider
//! credential.

use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tollgate_core::config::{FilterConfig, GatewayConfig, ProviderConfig};
use tollgate_core::mcp::McpServerConfig;
use tollgate_core::{headers, log_fields, metrics};

use super::{mcp, routes};
use crate::config::{
    webhook_cluster, AccessLog, CalloutEndpoint, Config, CredentialHeader, Host, Provider,
    SecretSource,
};

/// Concurrent retries (and fallback attempts) a provider cluster accepts.
const MAX_CONCURRENT_RETRIES: u32 = 10_000;
/// Envoy node identity; required for extension config discovery later.
const NODE: &str = "tollgate";
/// One VM shared by the gateway and every provider filter (same module, same id).
const VM_ID: &str = tollgate_core::usage_outbox::VM_ID;
/// The cluster usage records are shipped through.
pub const CONTROL_PLANE_CLUSTER: &str = "tollgate.control_plane";
/// CA bundle provider certificates are validated against (Debian/Ubuntu location).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const CONNECT_TIMEOUT: &str = "10s";

const WASM: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
const HCM: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER: &str = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const HTTP_OPTIONS: &str =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
pub(super) const UPSTREAM_CODEC: &str =
    "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec";
const CREDENTIAL_INJECTOR: &str =
    "type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector";
const GENERIC_CREDENTIAL: &str =
    "type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic";
const AWS_REQUEST_SIGNING: &str =
    "type.googleapis.com/envoy.extensions.filters.http.aws_request_signing.v3.AwsRequestSigning";
/// SigV4 service name of the Bedrock runtime.
const BEDROCK_SIGNING_SERVICE: &str = "bedrock";
const UPSTREAM_TLS: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
const STDOUT_LOG: &str =
    "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
const FILE_LOG: &str = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";

pub fn bootstrap(
    config: &Config,
    gateway: &GatewayConfig,
    providers: &[ProviderConfig],
    mcp_servers: &[McpServerConfig],
    wasm: &Path,
) -> Value {
    // The VM sees only the environment variables named here: the ingest key's.
    let vm_env: Vec<&str> = config
        .control_plane
        .iter()
        .map(|c| c.ingest_key_env.as_str())
        .collect();
    let vm = Vm { wasm, env: &vm_env };
    let gateway_filter = wasm_filter(
        "tollgate.gateway",
        "tollgate.gateway",
        &FilterConfig::Gateway(gateway.clone()),
        &vm,
    );
    let mut clusters: Vec<Value> = config
        .providers
        .iter()
        .zip(providers)
        .map(|(provider, filter_config)| {
            let filter = wasm_filter(
                "tollgate.provider",
                &format!("tollgate.provider.{}", provider.name),
                &FilterConfig::Provider(filter_config.clone()),
                &vm,
            );
            cluster(provider, filter, config.max_request_bytes)
        })
        .collect();
    clusters.extend(
        config
            .mcp_servers
            .iter()
            .zip(mcp_servers)
            .map(|(server, filter_config)| {
                let filter = wasm_filter(
                    "tollgate.mcp",
                    &format!("tollgate.mcp.{}", server.name),
                    &FilterConfig::Mcp(filter_config.clone()),
                    &vm,
                );
                mcp::cluster(server, filter, config.max_request_bytes)
            }),
    );
    let callouts = config.guardrails.iter().flat_map(|g| &g.callouts);
    clusters.extend(callouts.clone().map(callout_cluster));
    if let Some(control_plane) = &config.control_plane {
        clusters.push(control_plane_cluster(control_plane.listen));
    }
    let secrets: Vec<Value> = config
        .providers
        .iter()
        .filter_map(|p| {
            Some(secret(
                &secret_name(&p.name),
                &p.credential.as_ref()?.source,
            ))
        })
        .chain(callouts.filter_map(|c| {
            Some(secret(
                &callout_secret_name(&c.guardrail),
                c.credential.as_ref()?,
            ))
        }))
        .chain(config.mcp_servers.iter().filter_map(|s| {
            Some(secret(
                &mcp::secret_name(&s.name),
                &s.credential.as_ref()?.source,
            ))
        }))
        .collect();
    json!({
        "node": {"id": NODE, "cluster": NODE},
        "admin": {"address": socket_address(config.admin.ip(), config.admin.port())},
        "stats_config": stats_config(),
        "static_resources": {
            "secrets": secrets,
            "listeners": [listener(config, gateway_filter)],
            "clusters": clusters,
        },
    })
}

/// Turns the labels the filters encode into their metric names back into Prometheus
/// labels (see `tollgate_core::metrics`).
fn stats_config() -> Value {
    let tags: Vec<Value> = metrics::stats_tags()
        .into_iter()
        .map(|(label, regex)| json!({"tag_name": label, "regex": regex}))
        .collect();
    json!({"stats_tags": tags})
}

pub fn cluster_name(provider: &str) -> String {
    format!("provider.{provider}")
}

fn secret_name(provider: &str) -> String {
    format!("credential.{provider}")
}

fn callout_secret_name(guardrail: &str) -> String {
    format!("credential.guardrail.{guardrail}")
}

pub fn socket_address(address: impl Display, port: u16) -> Value {
    json!({"socket_address": {"address": address.to_string(), "port_value": port}})
}

/// Protobuf JSON form of a duration (`600s`, `1.500s`).
pub fn proto_duration(d: Duration) -> String {
    match d.subsec_millis() {
        0 => format!("{}s", d.as_secs()),
        ms => format!("{}.{ms:03}s", d.as_secs()),
    }
}

/// Envoy reads the secret itself; the rendered file names only where it lives.
fn secret(name: &str, source: &SecretSource) -> Value {
    let secret = match source {
        SecretSource::Env(var) => json!({"environment_variable": var}),
        SecretSource::File(path) => json!({"filename": path.to_string_lossy()}),
    };
    json!({"name": name, "generic_secret": {"secret": secret}})
}

/// The VM every filter instance shares: its module and the host environment it may read.
struct Vm<'a> {
    wasm: &'a Path,
    env: &'a [&'a str],
}

/// A wasm HTTP filter running `config`. Every instance shares one VM.
fn wasm_filter(filter: &str, plugin: &str, config: &FilterConfig, vm: &Vm) -> Value {
    let configuration =
        serde_json::to_string(config).expect("filter configs have only string map keys");
    let mut vm_config = json!({
        "vm_id": VM_ID,
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": vm.wasm.to_string_lossy()}},
    });
    if !vm.env.is_empty() {
        vm_config["environment_variables"] = json!({"host_env_keys": vm.env});
    }
    json!({
        "name": filter,
        "typed_config": {
            "@type": WASM,
            "config": {
                "name": plugin,
                // Lets the filters pause on request headers until they have the whole
                // body (measured: without it Envoy forwards headers early).
                "allow_on_headers_stop_iteration": true,
                "fail_open": false,
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": configuration,
                },
                "vm_config": vm_config,
            },
        },
    })
}

fn listener(config: &Config, gateway_filter: Value) -> Value {
    let mut http_filters = vec![gateway_filter];
    http_filters.extend(mcp::session_filter(config));
    http_filters
        .push(json!({"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}));
    let hcm = json!({
        "@type": HCM,
        "stat_prefix": "tollgate",
        "codec_type": "AUTO",
        // A client's own x-request-id ties its logs to ours.
        "preserve_external_request_id": true,
        "access_log": [access_log(&config.access_log)],
        "route_config": {
            "name": "tollgate",
            "virtual_hosts": [{
                "name": "tollgate",
                "domains": ["*"],
                "routes": routes::routes(config),
            }],
        },
        "http_filters": http_filters,
    });
    json!({
        "name": "tollgate",
        "address": socket_address(config.listen.ip(), config.listen.port()),
        "per_connection_buffer_limit_bytes": config.max_request_bytes,
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": hcm,
        }]}],
    })
}

fn access_log(log: &AccessLog) -> Value {
    let mut fields = json!({
        "start_time": "%START_TIME%",
        "method": "%REQ(:METHOD)%",
        "protocol": "%PROTOCOL%",
        "response_code": "%RESPONSE_CODE%",
        "response_flags": "%RESPONSE_FLAGS%",
        "response_code_details": "%RESPONSE_CODE_DETAILS%",
        "duration_ms": "%DURATION%",
        "upstream_cluster": "%UPSTREAM_CLUSTER%",
        "upstream_host": "%UPSTREAM_HOST%",
        "bytes_received": "%BYTES_RECEIVED%",
        "bytes_sent": "%BYTES_SENT%",
        "request_id": "%REQ(X-REQUEST-ID)%",
        "provider": format!("%RESP({})%", headers::PROVIDER),
        "upstream_model": format!("%RESP({})%", headers::UPSTREAM_MODEL),
        "attempts": "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
        "fallback_step": format!("%RESP({})%", headers::FALLBACK_STEP),
    });
    // What the filters know (key, alias, usage) arrives as filter state.
    for field in log_fields::ALL {
        fields[field.field] = Value::String(field.access_log_operator());
    }
    let format = json!({ "json_format": fields });
    match log {
        AccessLog::Stdout => json!({
            "name": "envoy.access_loggers.stdout",
            "typed_config": {"@type": STDOUT_LOG, "log_format": format},
        }),
        AccessLog::File(path) => json!({
            "name": "envoy.access_loggers.file",
            "typed_config": {"@type": FILE_LOG, "path": path.to_string_lossy(), "log_format": format},
        }),
    }
}

fn cluster(provider: &Provider, provider_filter: Value, max_request_bytes: u32) -> Value {
    let name = cluster_name(&provider.name);
    let url = &provider.base_url;
    let (kind, address) = discovery(&url.host);
    let mut http_filters = vec![provider_filter];
    if provider.credential.is_some() {
        http_filters.push(credential_injector(provider));
    } else if let Some(signer) = aws_signer(provider) {
        http_filters.push(signer);
    }
    http_filters.push(json!({
        "name": "envoy.filters.http.upstream_codec",
        "typed_config": {"@type": UPSTREAM_CODEC},
    }));
    let mut cluster = json!({
        "name": name,
        "type": kind,
        "connect_timeout": CONNECT_TIMEOUT,
        "per_connection_buffer_limit_bytes": max_request_bytes,
        // Envoy allows 3 concurrent retries per cluster by default; beyond that a retry or
        // fallback is refused and the client gets the failed attempt's answer. In an outage
        // every request falls back at once, so the cap must be far above the concurrency.
        "circuit_breakers": {"thresholds": [{"max_retries": MAX_CONCURRENT_RETRIES}]},
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(address, url.port())}}]}],
        },
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": HTTP_OPTIONS,
                "explicit_http_config": {"http_protocol_options": {}},
                "http_filters": http_filters,
            },
        },
    });
    if matches!(url.host, Host::Name(_)) {
        cluster["dns_lookup_family"] = json!("V4_PREFERRED");
    }
    if url.tls {
        cluster["transport_socket"] = upstream_tls(&url.host);
    }
    cluster
}

/// Cluster type and endpoint address: IPs are STATIC, names resolved by DNS.
pub(super) fn discovery(host: &Host) -> (&'static str, String) {
    match host {
        Host::Ip(ip) => ("STATIC", ip.to_string()),
        Host::Name(name) => ("STRICT_DNS", name.clone()),
    }
}

/// The Tollgate service, reached by the gateway's root contexts (usage batches). A
/// service listening on every address is reached over loopback.
fn control_plane_cluster(listen: SocketAddr) -> Value {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    json!({
        "name": CONTROL_PLANE_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": CONTROL_PLANE_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(ip, listen.port())}}]}],
        },
    })
}

/// The cluster a webhook or moderation guardrail is called through (from the provider
/// filters). With a credential, Envoy injects it on every call in this cluster's upstream
/// filter chain, so the secret never reaches the filter.
fn callout_cluster(callout: &CalloutEndpoint) -> Value {
    let name = webhook_cluster(&callout.guardrail);
    let url = &callout.url;
    let (kind, address) = discovery(&url.host);
    let mut cluster = json!({
        "name": name,
        "type": kind,
        "connect_timeout": CONNECT_TIMEOUT,
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(address, url.port())}}]}],
        },
    });
    if matches!(url.host, Host::Name(_)) {
        cluster["dns_lookup_family"] = json!("V4_PREFERRED");
    }
    if url.tls {
        cluster["transport_socket"] = upstream_tls(&url.host);
    }
    if callout.credential.is_some() {
        let secret = callout_secret_name(&callout.guardrail);
        let http_filters = [
            injector(&secret, CredentialHeader::Bearer),
            json!({
                "name": "envoy.filters.http.upstream_codec",
                "typed_config": {"@type": UPSTREAM_CODEC},
            }),
        ];
        cluster["typed_extension_protocol_options"] = json!({
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": HTTP_OPTIONS,
                "explicit_http_config": {"http_protocol_options": {}},
                "http_filters": http_filters,
            },
        });
    }
    cluster
}

/// TLS to the provider, verifying its certificate chain *and* that it was issued for the
/// host in `base_url` (Envoy checks only the chain unless SAN matchers are given).
pub(super) fn upstream_tls(host: &Host) -> Value {
    let (sni, san) = match host {
        Host::Name(name) => (
            Some(name.as_str()),
            json!({"san_type": "DNS", "matcher": {"exact": name}}),
        ),
        // SNI carries host names only (RFC 6066).
        Host::Ip(ip) => (
            None,
            json!({"san_type": "IP_ADDRESS", "matcher": {"exact": ip.to_string()}}),
        ),
    };
    let mut context = json!({
        "@type": UPSTREAM_TLS,
        "common_tls_context": {"validation_context": {
            "trusted_ca": {"filename": CA_BUNDLE},
            "match_typed_subject_alt_names": [san],
        }},
    });
    if let Some(sni) = sni {
        context["sni"] = json!(sni);
    }
    json!({"name": "envoy.transport_sockets.tls", "typed_config": context})
}

/// Puts the provider's secret into the header its API expects, replacing whatever the
/// client sent there.
fn credential_injector(provider: &Provider) -> Value {
    injector(
        &secret_name(&provider.name),
        provider.kind.credential_header(),
    )
}

/// Envoy's credential injector putting the secret `secret` into `header`.
fn injector(secret: &str, header: CredentialHeader) -> Value {
    match header {
        CredentialHeader::Bearer => injector_into(secret, None),
        CredentialHeader::Plain(header) => injector_into(secret, Some(header)),
    }
}

/// Envoy's credential injector putting the secret `secret` alone into `header`, or as
/// `authorization: Bearer <secret>` without one.
pub(super) fn injector_into(secret: &str, header: Option<&str>) -> Value {
    let mut generic = json!({
        "@type": GENERIC_CREDENTIAL,
        "credential": {"name": secret},
    });
    match header {
        None => {
            generic["header"] = json!("authorization");
            generic["header_value_prefix"] = json!("Bearer ");
        }
        Some(header) => generic["header"] = json!(header),
    }
    json!({
        "name": "envoy.filters.http.credential_injector",
        "typed_config": {
            "@type": CREDENTIAL_INJECTOR,
            "overwrite": true,
            "credential": {"name": "envoy.http.injected_credentials.generic", "typed_config": generic},
        },
    })
}

/// Envoy's SigV4 signer for a Bedrock provider without an API key. It runs after the
/// provider filter, so it signs the translated body and the final path and host
/// (`use_unsigned_payload: false` hashes the body). Credentials come from Envoy's default
/// AWS chain (environment, profile file, container and instance metadata): they never
/// enter this configuration or the wasm filter.
fn aws_signer(provider: &Provider) -> Option<Value> {
    // Only Bedrock has a region.
    let region = provider.region.as_deref()?;
    Some(json!({
        "name": "envoy.filters.http.aws_request_signing",
        "typed_config": {
            "@type": AWS_REQUEST_SIGNING,
            "service_name": BEDROCK_SIGNING_SERVICE,
            "region": region,
            "use_unsigned_payload": false,
        },
    }))
}
