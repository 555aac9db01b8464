//! payrouter: the gateway between a Payment Gateway Manager and payment providers.
//!
//! `http` is the edge, `engine` holds the payment rules, `store` keeps state, `notify`
//! delivers notifications; providers live in their own crates and are named only in
//! `registry`.

pub mod admin;
pub mod app;
pub mod config;
pub mod contract;
pub mod engine;
pub mod http;
pub mod notify;
pub mod registry;
pub mod simulate;
pub mod store;
pub mod telemetry;
