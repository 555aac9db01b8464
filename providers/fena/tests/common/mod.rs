//! What the simulator tests share: a router served on a free local port, the simulator served
//! where it says it is, and amounts in pence.

use axum::Router;
use payrouter_fena::sim::Simulator;
use payrouter_provider::{Currency, Money};
use tokio::net::TcpListener;

/// Serves `app` on a free local port; its address (`http://127.0.0.1:port`).
pub async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Serves the simulator `build` makes for its base URL (`http://127.0.0.1:port/fena`), nested
/// at `/fena`: it must know that URL before it is built, so the port is bound first.
pub async fn serve_simulator(build: impl FnOnce(&str) -> Simulator) -> (String, Simulator) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fena", listener.local_addr().unwrap());
    let sim = build(&base);
    let app = Router::new().nest("/fena", sim.router());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, sim)
}

/// `minor` pence.
pub fn gbp(minor: i64) -> Money {
    Money::new(minor, Currency::from_code("GBP").unwrap())
}
