//! What both provider simulators share (feature `sim`): fault rules, and the control API
//! under `/_sim` that lets a test or a demo list, move and replay payments without credentials.

pub mod control;
pub mod faults;

pub use control::{Control, ControlOutcome, StatusLabel};
pub use faults::{FaultRule, Faults};

use serde_json::{Map, Value};
use std::time::Duration;

/// A receiver that does not answer must not hold a payer page forever.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The client a simulator sends its callbacks with: a receiver gets `CALLBACK_TIMEOUT` to
/// answer.
pub fn callback_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CALLBACK_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// Sends one callback of a simulator, unless a fault rule for `operation` delays or loses it
/// (a rule is used up even when there is nowhere to send: `request` None). True when the
/// receiver answered 2xx; any other outcome is only logged, naming the callback `what`.
pub async fn deliver(
    faults: &Faults,
    operation: &str,
    request: Option<reqwest::RequestBuilder>,
    what: &str,
) -> bool {
    if let Some(fault) = faults.take(operation) {
        if !fault.allows_delivery().await {
            tracing::info!(callback = what, "simulator: callback lost by a fault rule");
            return false;
        }
    }
    let Some(request) = request else {
        tracing::info!(callback = what, "simulator: no URL to send the callback to");
        return false;
    };
    match request.send().await {
        Ok(resp) if resp.status().is_success() => true,
        Ok(resp) => {
            let status = resp.status().as_u16();
            tracing::warn!(callback = what, status, "simulator: callback refused");
            false
        }
        Err(e) => {
            tracing::warn!(callback = what, error = %e, "simulator: callback not delivered");
            false
        }
    }
}

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
