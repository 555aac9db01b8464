//! The offline mode: both provider simulators on one port, and the configuration that points
//! the providers at them. `make run` (the default profile) starts them in-process;
//! `payrouter simulate` runs them alone. The production profile never starts them.

use axum::Router;
use figment::providers::Serialized;
use figment::Figment;
use serde_json::json;

/// Credentials the simulators accept; they only ever exist on this machine.
pub const FENA_TERMINAL_ID: &str = "62b48adf6ba2cd6a040b1eec";
pub const FENA_TERMINAL_SECRET: &str = "3858f642-e92f-431c-9d38-46d15efb7fba";
pub const FEENNEX_SHOP_ID: u64 = 5;
pub const FEENNEX_SECRET_KEY: &str = "SecretKey01";
pub const FEENNEX_PAYWAY: &str = "card_usd";

/// Both simulators, nested under `/fena` and `/feennex`. `sim_base` is where this router is
/// reachable; `router_base` is payrouter's URL, where the Fena simulator sends webhooks
/// (Feennex callbacks go wherever each invoice says).
pub fn router(sim_base: &str, router_base: &str) -> Router {
    let fena = payrouter_fena::sim::Simulator::new(payrouter_fena::sim::SimConfig {
        terminal_id: FENA_TERMINAL_ID.into(),
        terminal_secret: FENA_TERMINAL_SECRET.into(),
        public_base_url: format!("{sim_base}/fena"),
        webhook_url: format!("{router_base}/v3/fena/callback"),
    });
    let feennex = payrouter_feennex::sim::Simulator::new(payrouter_feennex::sim::SimConfig {
        shop_id: FEENNEX_SHOP_ID,
        secret_key: FEENNEX_SECRET_KEY.into(),
        public_base_url: format!("{sim_base}/feennex"),
    });
    Router::new()
        .nest("/fena", fena.router())
        .nest("/feennex", feennex.router())
}

/// `fig` with every provider pointed at the simulators at `sim_base`.
pub fn point_providers_at(fig: Figment, sim_base: &str) -> Figment {
    fig.merge(Serialized::defaults(json!({
        "fena": {
            "base_url": format!("{sim_base}/fena"),
            "terminal_id": FENA_TERMINAL_ID,
            "terminal_secret": FENA_TERMINAL_SECRET,
        },
        "feennex": {
            "base_url": format!("{sim_base}/feennex"),
            "shop_id": FEENNEX_SHOP_ID,
            "secret_key": FEENNEX_SECRET_KEY,
            "payway": FEENNEX_PAYWAY,
        },
    })))
}

/// What a newcomer sees at start: where things are and how to make a first payment.
pub fn banner(router_base: &str, sim_base: &str, notifications_logged: bool) -> String {
    let sink = if notifications_logged {
        "Notifications (what PAYMENT_CALLBACK_URL would receive) are printed in this log."
    } else {
        "Notifications go to PAYMENT_CALLBACK_URL."
    };
    format!(
        "\npayrouter is running against simulated providers: nothing leaves this machine.\n\
         \x20 router      {router_base}   (routes: {router_base}/openapi.json)\n\
         \x20 simulators  {sim_base}/fena  {sim_base}/feennex\n\
         {sink}\n\n\
         Make a first payment, then open its redirectToUrl and press Pay:\n\
         \x20 curl -s {router_base}/v3/fena/pay -H 'content-type: application/json' \\\n\
         \x20      -d '{{\"amount\":1299,\"currency\":\"GBP\",\"shopTransactionId\":\"demo-1\"}}'\n"
    )
}
