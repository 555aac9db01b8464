//! What the simulator tests share: a router served on a free local port, the simulator served
//! where it says it is, and waiting for the webhooks it sends in the background.

use axum::Router;
use payrouter_fena::sim::Simulator;
use payrouter_provider::testing::{self, Inbox};
use std::time::Duration;

/// Serves `app` on a free local port; its address (`http://127.0.0.1:port`).
pub async fn serve(app: Router) -> String {
    let (listener, url) = testing::loopback().await;
    testing::serve(listener, app);
    url
}

/// Serves the simulator `build` makes for its base URL (`http://127.0.0.1:port/fena`), nested
/// at `/fena`: it must know that URL before it is built, so the port is bound first.
pub async fn serve_simulator(build: impl FnOnce(&str) -> Simulator) -> (String, Simulator) {
    let (listener, url) = testing::loopback().await;
    let base = format!("{url}/fena");
    let sim = build(&base);
    testing::serve(listener, Router::new().nest("/fena", sim.router()));
    (base, sim)
}

/// Waits for `n` webhooks the simulator sends in the background (after API calls); takes
/// everything received by then.
pub async fn wait_for<T>(inbox: &Inbox<T>, n: usize) -> Vec<T> {
    let mut received = Vec::new();
    for _ in 0..200 {
        received.extend(inbox.take());
        if received.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    received
}
