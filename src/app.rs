//! Wiring: configuration → providers, store, notifier, HTTP server; and an orderly shutdown
//! that stops taking requests, drains the ones in flight, then drains the notifier.

use figment::Figment;
use payrouter_provider::{ExposeSecret, ProviderContext};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::engine::{Engine, RecheckSchedule};
use crate::http::{self, AppState, HttpSettings};
use crate::notify::{Notifier, NotifierSettings, NotifyHandle};
use crate::registry;
use crate::simulate;
use crate::store::{MemoryStore, RedisStore, Store};
use crate::telemetry;

/// A running router. Dropping it does not stop it: call `shutdown`.
pub struct Running {
    pub addr: SocketAddr,
    /// Where the in-process simulators listen, when `simulate` is on.
    pub sim_addr: Option<SocketAddr>,
    pub config: Config,
    stop: CancellationToken,
    server: JoinHandle<()>,
}

impl Running {
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.server.await;
    }
}

/// Reads configuration from `fig`, checks it whole, and builds the providers.
pub fn configure(fig: &Figment) -> Result<(Config, crate::engine::Providers), Vec<String>> {
    let names = registry::names();
    let config = config::load(fig, &names);
    let ctx = ProviderContext {
        public_base_url: config
            .as_ref()
            .ok()
            .and_then(|c| c.public_base_url.clone())
            .map(|u| u.trim_end_matches('/').to_string()),
    };
    let enabled = config
        .as_ref()
        .map(|c| c.enabled_providers.clone())
        .unwrap_or_default();
    let providers = registry::build_enabled(fig, &enabled, &ctx);
    match (config, providers) {
        (Ok(c), Ok(p)) => Ok((c, p)),
        (c, p) => Err(c
            .err()
            .into_iter()
            .flatten()
            .chain(p.err().into_iter().flatten())
            .collect()),
    }
}

/// Starts the router on `listener` with the configuration in `fig`.
pub async fn start(fig: &Figment, listener: TcpListener) -> Result<Running, Vec<String>> {
    let addr = listener
        .local_addr()
        .map_err(|e| vec![format!("HTTP_PORT: cannot read the bound address ({e})")])?;
    let stop = CancellationToken::new();
    let first_look = config::load(fig, &registry::names())?;
    let (fig, sim_addr) = if first_look.simulate {
        start_simulators(fig.clone(), &first_look, addr, stop.clone()).await?
    } else {
        (fig.clone(), None)
    };
    let (config, providers) = configure(&fig)?;
    let store: Arc<dyn Store> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisStore::connect(url.expose_secret())
                .await
                .map_err(|e| vec![format!("REDIS_URL: cannot connect to Redis ({e})")])?,
        ),
        None => {
            let memory = Arc::new(MemoryStore::new(config.memory_max_documents));
            spawn_sweeper(memory.clone());
            memory
        }
    };
    if config.public_base_url.is_none() {
        tracing::warn!("PUBLIC_BASE_URL is not set: providers get no callback URL and POST redirects get a relative URL");
    }
    let wake = NotifyHandle::default();
    let route_timeout = Duration::from_millis(config.route_timeout_ms);
    let engine = Arc::new(Engine::new(
        store.clone(),
        providers,
        wake.clone(),
        config.retention(),
        route_timeout,
        config
            .public_base_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string()),
        RecheckSchedule {
            initial: Duration::from_millis(config.recheck_initial_ms),
            max: Duration::from_millis(config.recheck_max_ms),
        },
    ));
    let notifier = Notifier::new(
        store,
        NotifierSettings {
            url: config.payment_callback_url.clone(),
            method: config.payment_callback_method,
            signing_secret: config.notify_signing_secret.clone(),
            retry_initial: Duration::from_millis(config.notify_retry_initial_ms),
            retry_max: Duration::from_millis(config.notify_retry_max_ms),
            max_attempts: config.notify_max_attempts,
            timeout: Duration::from_millis(config.notify_timeout_ms),
        },
        wake,
    );
    let draining = Arc::new(AtomicBool::new(false));
    telemetry::register_providers(engine.providers().keys().copied());
    let state = AppState {
        engine: engine.clone(),
        metrics: telemetry::metrics_handle(),
        draining: draining.clone(),
        api_token: config.inbound_api_token.clone().map(Arc::new),
    };
    let app = http::router(
        state,
        HttpSettings {
            body_limit: config.body_limit_bytes,
            route_timeout,
        },
    );
    let notifier_stop = CancellationToken::new();
    let notifier_task = tokio::spawn(notifier.run(notifier_stop.clone()));
    let recheck_task = tokio::spawn(engine.clone().run_rechecks(notifier_stop.clone()));
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    let shutdown_signal = {
        let stop = stop.clone();
        async move {
            stop.cancelled().await;
            draining.store(true, Ordering::Relaxed);
            tracing::info!("draining: no new connections, finishing requests in flight");
        }
    };
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal)
            .await
        {
            tracing::error!(error = %e, "HTTP server failed");
        }
        notifier_stop.cancel();
        let _ = tokio::time::timeout(grace, recheck_task).await;
        if tokio::time::timeout(grace, notifier_task).await.is_err() {
            tracing::warn!("notifier did not drain within the grace period; undelivered notifications stay in the store");
        }
        tracing::info!("stopped");
    });
    tracing::info!(%addr, "payrouter listening");
    Ok(Running {
        addr,
        sim_addr,
        config,
        stop,
        server,
    })
}

/// Serves both simulators on `SIM_PORT` until `stop`, and returns `fig` pointed at them (and,
/// without a PUBLIC_BASE_URL, at this router for callbacks).
async fn start_simulators(
    fig: Figment,
    config: &Config,
    router_addr: SocketAddr,
    stop: CancellationToken,
) -> Result<(Figment, Option<SocketAddr>), Vec<String>> {
    let listener = TcpListener::bind(("127.0.0.1", config.sim_port))
        .await
        .map_err(|e| {
            vec![format!(
                "SIM_PORT: cannot listen on {} ({e})",
                config.sim_port
            )]
        })?;
    let sim_addr = listener
        .local_addr()
        .map_err(|e| vec![format!("SIM_PORT: cannot read the bound address ({e})")])?;
    let sim_base = format!("http://127.0.0.1:{}", sim_addr.port());
    let router_base = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", router_addr.port()));
    let sims = simulate::router(&sim_base, &router_base);
    tokio::spawn(async move {
        let _ = axum::serve(listener, sims)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    tracing::warn!(%sim_base, "SIMULATE is on: providers are simulated, no real payment can be made");
    let fig = simulate::point_providers_at(fig, &sim_base).merge(
        figment::providers::Serialized::default("public_base_url", router_base),
    );
    Ok((fig, Some(sim_addr)))
}

/// Drops expired documents from the embedded store every minute.
fn spawn_sweeper(store: Arc<MemoryStore>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let kept = store.sweep();
            metrics::gauge!("payrouter_memory_store_documents").set(kept as f64);
        }
    });
}
