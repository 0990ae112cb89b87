//! Tollgate control plane.
//!
//! Reads the user's YAML configuration, validates it with located diagnostics, and renders
//! the Envoy bootstrap plus the [`tollgate_core::config::FilterConfig`]s the wasm filters
//! run on. `tollgate run` then supervises one Envoy process on that bootstrap.
//!
//! The pipeline is deliberately split so every step but the first and last is pure:
//! [`config::load`] (text → validated [`config::Config`]) → [`credentials::apply`]
//! (drops optional providers whose secret is absent, behind the [`credentials::Environment`]
//! trait) → [`render::render`] (config → Envoy JSON). The xDS server ([`xds`]) reuses the
//! last two: its snapshots are the rendered JSON cut into xDS resources.
// `deny`, not `forbid`: forwarding a signal to Envoy needs one `kill(2)` call (see `envoy`).
#![deny(unsafe_code)]

pub mod audit;
pub mod budgets;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod envoy;
pub mod export;
pub mod keys;
pub mod pins;
pub mod render;
pub mod runs;
pub mod service;
pub mod storage;
pub mod usage;
pub mod vault;
pub mod xds;
