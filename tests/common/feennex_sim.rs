//! The Feennex simulator served on a free port, for scenarios that need Feennex's own
//! behaviour (signature checks, the invoice/try tariff, receipts) rather than a mock's.

use payrouter_feennex::sim::{SimConfig, Simulator};

pub const SIM_SHOP_ID: u64 = 5;
pub const SIM_SECRET_KEY: &str = "SecretKey01";

/// A running simulator and where it answers.
pub struct FeennexSim {
    pub base: String,
    pub sim: Simulator,
}

impl FeennexSim {
    pub async fn start() -> FeennexSim {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sim = Simulator::new(SimConfig {
            shop_id: SIM_SHOP_ID,
            secret_key: SIM_SECRET_KEY.into(),
            public_base_url: base.clone(),
        });
        let app = sim.router();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FeennexSim { base, sim }
    }

    /// Every invoice the simulator holds, as its control API lists them.
    pub async fn invoices(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/_sim/payments", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}
