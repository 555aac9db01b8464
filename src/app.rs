//! Wiring: configuration → providers, store, notifier, HTTP server; and an orderly shutdown
//! that stops taking requests, drains the ones in flight, then drains the notifier.

use figment::Figment;
use payrouter_provider::{ProviderContext, SecretString};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::AdminService;
use crate::config::{self, Config, Loaded, Profile, StoreKind};
use crate::engine::{Engine, RecheckSchedule};
use crate::http::{self, AppState, HttpSettings};
use crate::notify::{AlertSender, AlertSettings, Notifier, NotifierSettings, NotifyHandle};
use crate::registry;
use crate::simulate;
use crate::store::records::{Keys, Records};
use crate::store::{MemoryStore, RedisStore, Store};
use crate::telemetry;

/// A running router. Dropping it does not stop it: call `shutdown`.
pub struct Running {
    pub addr: SocketAddr,
    /// Where the in-process simulators listen, when `simulate` is on.
    pub sim_addr: Option<SocketAddr>,
    pub config: Config,
    /// The demo profile made up `config.admin_api_token` (none was set): it is shown at start.
    pub admin_token_made_up: bool,
    stop: CancellationToken,
    server: JoinHandle<()>,
}

impl Running {
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.server.await;
    }
}

/// Starts the router on `listener` with `fig` as its whole configuration (tests, embedding):
/// no profile, no environment.
pub async fn start(fig: &Figment, listener: TcpListener) -> Result<Running, Vec<String>> {
    start_with(config::from_figment(fig)?, listener).await
}

/// What every adapter is given of the gateway's configuration.
pub fn provider_context(config: &Config) -> ProviderContext {
    ProviderContext {
        public_base_url: config.public_base(),
        route_timeout: Some(Duration::from_millis(config.route_timeout_ms)),
        payment_tag_secret: config.payment_tag_secret.clone(),
    }
}

/// Starts the router on `listener` with a configuration read and checked by `config::load`.
pub async fn start_with(loaded: Loaded, listener: TcpListener) -> Result<Running, Vec<String>> {
    let addr = listener
        .local_addr()
        .map_err(|e| vec![format!("HTTP_PORT: cannot read the bound address ({e})")])?;
    let stop = CancellationToken::new();
    // Installed first, so that the gauges set while starting are recorded.
    let metrics = telemetry::metrics_handle();
    let mut config = loaded.config.clone();
    // The demo shows the admin API too: with a token of its own, new at every start.
    let admin_token_made_up =
        loaded.profile == Some(Profile::Demo) && config.admin_api_token.is_none();
    if admin_token_made_up {
        config.admin_api_token = Some(SecretString::from(format!(
            "demo-{}",
            uuid::Uuid::new_v4().simple()
        )));
    }
    let (fig, sim_addr) = if config.simulate {
        let (fig, sim_addr, router_base) =
            start_simulators(loaded.figment().clone(), &config, addr, stop.clone()).await?;
        config.public_base_url = Some(router_base);
        (fig, Some(sim_addr))
    } else {
        (loaded.figment().clone(), None)
    };
    let ctx = provider_context(&config);
    let providers = registry::build_enabled(&fig, &config.enabled_providers, &ctx)?;
    // Every store key starts with REDIS_KEY_PREFIX, so environments can share one Redis; on
    // Redis the keys are spread over REDIS_PARTITIONS hash tags (the embedded store keeps the
    // flat layout).
    let (keys, store): (Keys, Arc<dyn Store>) = match config.store_kind() {
        StoreKind::Redis => {
            let target = config
                .redis_target()
                .ok_or_else(|| vec!["REDIS_URL: required when STORE=redis".to_string()])?;
            let keys = Keys::partitioned(&config.redis_key_prefix, config.redis_partitions);
            let store = RedisStore::connect(&target, &keys).await.map_err(|e| {
                vec![format!(
                    "{}: cannot connect to Redis ({e})",
                    target.setting()
                )]
            })?;
            check_persistence(&store).await;
            (keys, Arc::new(store))
        }
        StoreKind::Memory => {
            tracing::warn!("STORE=memory: state lives in this process only; it is lost on restart and not shared with other replicas");
            let memory = Arc::new(MemoryStore::new(config.memory_max_documents));
            spawn_sweeper(memory.clone());
            metrics::gauge!("payrouter_store_persistent").set(0.0);
            (Keys::new(&config.redis_key_prefix), memory)
        }
    };
    if config.public_base_url.is_none() {
        tracing::warn!("PUBLIC_BASE_URL is not set: providers get no callback URL and POST redirects get a relative URL");
    }
    let wake = NotifyHandle::default();
    let route_timeout = Duration::from_millis(config.route_timeout_ms);
    let records = Records::new(store.clone(), keys, config.retention(), wake.clone());
    let timelines = records.timelines().clone();
    let mut engine = Engine::new(
        records,
        providers,
        route_timeout,
        config.public_base(),
        RecheckSchedule {
            initial: Duration::from_millis(config.recheck_initial_ms),
            max: Duration::from_millis(config.recheck_max_ms),
        },
    )
    .with_callback_fetch_rate(config.callback_fetch_rate);
    let notifier = Notifier::new(
        store.clone(),
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
    )
    .with_dead_letter_retention(config.dead_letter_retention())
    .with_timelines(timelines);
    // Ops alerts: dead notifications and stuck payments, queued in the store and sent by any
    // replica's sender.
    let (notifier, alerts) = match &config.ops_alert_url {
        Some(url) => {
            engine = engine.with_stuck_alerts(Duration::from_millis(config.stuck_payment_after_ms));
            let sender = AlertSender::new(
                store,
                AlertSettings {
                    url: url.clone(),
                    signing_secret: config.ops_alert_signing_secret.clone(),
                    retry_initial: Duration::from_millis(config.notify_retry_initial_ms),
                    retry_max: Duration::from_millis(config.notify_retry_max_ms),
                    max_attempts: config.notify_max_attempts,
                    timeout: Duration::from_millis(config.notify_timeout_ms),
                },
            );
            (notifier.with_dead_alerts(), Some(sender))
        }
        None => (notifier, None),
    };
    let engine = Arc::new(engine);
    let draining = Arc::new(AtomicBool::new(false));
    telemetry::register_providers(engine.providers().keys().copied());
    telemetry::register_merchants(engine.providers().iter().map(|(n, p)| (*n, p.merchants())));
    let state = AppState {
        engine: engine.clone(),
        metrics,
        draining: draining.clone(),
        api_token: config.inbound_api_token.clone().map(Arc::new),
        admin_token: config.admin_api_token.clone().map(Arc::new),
        admin: AdminService::new(engine.clone()),
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
    if let Some(sender) = alerts {
        tokio::spawn(sender.run(notifier_stop.clone()));
    }
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    let shutdown_signal = {
        let stop = stop.clone();
        async move {
            stop.cancelled().await;
            draining.store(true, Ordering::Relaxed);
            tracing::info!("draining: no new connections, finishing requests in flight");
        }
    };
    let limits = http::server::ConnectionLimits {
        header_read_timeout: Duration::from_millis(config.http_header_timeout_ms),
        max_connections: config.http_max_connections,
        // A request in flight may take its whole route budget.
        drain: route_timeout + Duration::from_secs(1),
    };
    let server = tokio::spawn(async move {
        http::server::serve(listener, app, limits, shutdown_signal).await;
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
        admin_token_made_up,
        stop,
        server,
    })
}

/// Serves both simulators on `SIM_PORT` until `stop`; returns `fig` pointed at them, where
/// they listen, and the router's base URL they send webhooks to (PUBLIC_BASE_URL, else this
/// router on loopback).
async fn start_simulators(
    fig: Figment,
    config: &Config,
    router_addr: SocketAddr,
    stop: CancellationToken,
) -> Result<(Figment, SocketAddr, String), Vec<String>> {
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
        .public_base()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", router_addr.port()));
    let sims = simulate::router(&sim_base, &router_base);
    tokio::spawn(async move {
        let _ = axum::serve(listener, sims)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    tracing::warn!(%sim_base, "SIMULATE is on: providers are simulated, no real payment can be made");
    let fig = simulate::point_providers_at(fig, &sim_base);
    Ok((fig, sim_addr, router_base))
}

/// Warns when the store would lose queued notifications on a restart (at-least-once delivery
/// needs Redis persistence), and exports the answer as `payrouter_store_persistent`.
async fn check_persistence(store: &RedisStore) {
    let persistent = match store.persistent().await {
        Ok(Some(true)) => true,
        Ok(Some(false)) => {
            tracing::warn!("Redis does not persist its data (appendonly no and no save points): a restart of Redis loses the queued notifications; enable AOF or RDB snapshots for at-least-once delivery");
            false
        }
        Ok(None) => {
            tracing::warn!("cannot tell whether Redis persists its data (CONFIG is refused); at-least-once delivery needs AOF or RDB snapshots");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot ask Redis whether it persists its data");
            false
        }
    };
    metrics::gauge!("payrouter_store_persistent").set(if persistent { 1.0 } else { 0.0 });
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
