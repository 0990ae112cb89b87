# Builds the control plane (`tollgate`), the demo provider and tollgate.wasm.
# Used by docker-compose.yml; Envoy itself runs from the official envoyproxy/envoy image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN rustup target add wasm32-wasip1 \
 && cargo build --release --target wasm32-wasip1 -p tollgate-wasm \
 && cargo build --release -p tollgate-control-plane -p mock-provider

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/tollgate /src/target/release/mock-provider /usr/local/bin/
COPY --from=build /src/target/wasm32-wasip1/release/tollgate.wasm /usr/local/share/tollgate/tollgate.wasm
COPY envoy/ /etc/tollgate/
