//! What both provider simulators share (feature `sim`): fault rules, and the control API
//! under `/_sim` that lets a test or a demo list, move and replay payments without credentials.

pub mod control;
pub mod faults;

pub use control::{Control, ControlOutcome, StatusLabel};
pub use faults::{FaultRule, Faults};

use serde_json::{Map, Value};

/// How the gateway runs a provider against its simulator (`SIMULATE`, `payrouter simulate`),
/// given by the provider's factory (`ProviderFactory::SIMULATED`), so that the gateway's
/// offline mode names no provider.
#[derive(Clone, Copy)]
pub struct Simulated {
    /// The simulator's routes. `base` is where they are reachable (nest prefix included);
    /// `router_base` is payrouter's URL, for simulators that send callbacks to a fixed URL.
    pub router: fn(base: &str, router_base: &str) -> axum::Router,
    /// The settings (as under `[name]`) that point the adapter at a simulator at `base`.
    pub settings: fn(base: &str) -> Map<String, Value>,
    /// A first pay request body for this provider, for the start banner.
    pub example_pay: &'static str,
}
