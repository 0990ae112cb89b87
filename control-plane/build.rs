//! Compiles the descriptors of the Envoy API messages Tollgate renders into
//! `$OUT_DIR/envoy_descriptors.bin`, so the xDS server can turn the renderer's JSON into
//! protobuf through the proto3 JSON mapping (see `src/xds/encode.rs`).
//!
//! The .proto sources are the ones the `envoy-types` crate ships (Envoy's data-plane API,
//! xds, validate, googleapis), compiled in pure Rust by protox: no system protoc. The one
//! extension newer than that snapshot is declared in `proto/`.

use std::path::PathBuf;

/// Every message type the renderer names in an `@type`, plus the xDS resource types.
const ROOTS: &[&str] = &[
    "envoy/config/listener/v3/listener.proto",
    "envoy/config/cluster/v3/cluster.proto",
    "envoy/config/route/v3/route.proto",
    "envoy/config/core/v3/extension.proto",
    "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
    "envoy/extensions/filters/http/wasm/v3/wasm.proto",
    "envoy/extensions/filters/http/router/v3/router.proto",
    "envoy/extensions/filters/http/upstream_codec/v3/upstream_codec.proto",
    "envoy/extensions/filters/http/credential_injector/v3/credential_injector.proto",
    "envoy/extensions/http/injected_credentials/generic/v3/generic.proto",
    "envoy/extensions/filters/http/aws_request_signing/v3/aws_request_signing.proto",
    "envoy/extensions/transport_sockets/tls/v3/tls.proto",
    "envoy/extensions/transport_sockets/tls/v3/secret.proto",
    "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
    "envoy/extensions/access_loggers/stream/v3/stream.proto",
    "envoy/extensions/access_loggers/file/v3/file.proto",
    "envoy/extensions/router/cluster_specifiers/priority_group/v3/priority_group.proto",
    "envoy/extensions/filters/http/stateful_session/v3/stateful_session.proto",
    "envoy/extensions/http/stateful_session/envelope/v3/envelope.proto",
    "envoy/config/bootstrap/v3/bootstrap.proto",
    "google/protobuf/wrappers.proto",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=proto");
    let shipped = envoy_types_dir().join("proto");
    let includes = [
        PathBuf::from("proto"),
        shipped.join("data-plane-api"),
        shipped.join("xds"),
        shipped.join("protoc-gen-validate"),
        shipped.join("googleapis"),
    ];
    let descriptors = protox::Compiler::new(includes)
        .and_then(|mut compiler| {
            compiler.include_imports(true).open_files(ROOTS)?;
            Ok(compiler.encode_file_descriptor_set())
        })
        .unwrap_or_else(|e| panic!("cannot compile the Envoy API protos: {e:?}"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("envoy_descriptors.bin"), descriptors).expect("OUT_DIR is writable");
}

/// Where cargo unpacked the `envoy-types` crate: it is a dependency, so its sources sit in
/// cargo's registry under the version Cargo.lock pins. (`cargo metadata` could name the path,
/// but offline it needs every package of the lock file downloaded, and a build fetches only
/// those of its own platform.)
fn envoy_types_dir() -> PathBuf {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let lock_file = manifest_dir.join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_file.display());
    let lock = std::fs::read_to_string(&lock_file).expect("the workspace has a Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find_map(|package| {
            let mut fields = package.lines().map(str::trim).filter(|l| !l.is_empty());
            (fields.next() == Some("name = \"envoy-types\""))
                .then(|| fields.next())
                .flatten()
                .and_then(|line| line.strip_prefix("version = \""))
                .and_then(|rest| rest.strip_suffix('"'))
        })
        .expect("Cargo.lock pins envoy-types");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .expect("CARGO_HOME or HOME is set");
    let registries = cargo_home.join("registry").join("src");
    std::fs::read_dir(&registries)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", registries.display()))
        .filter_map(Result::ok)
        .map(|registry| registry.path().join(format!("envoy-types-{version}")))
        .find(|dir| dir.join("proto").is_dir())
        .unwrap_or_else(|| {
            panic!(
                "envoy-types {version} is not unpacked under {}",
                registries.display()
            )
        })
}
