//! The gateway's configuration, read once at start and checked whole.
//!
//! Layers, later wins: built-in defaults (the safe production ones) < the profile file compiled
//! into the binary (`config/{PAYROUTER_PROFILE}.toml`, `production` when unset) < the file named
//! by `CONFIG_FILE` < environment. Environment names are the plain ones platform teams set
//! (`HTTP_PORT`, `REDIS_URL`, …); provider settings come from `[name]` sections and `NAME_*`
//! variables and are typed by each provider crate. Every problem (bad type, out of range,
//! missing credential, contradicting settings, unknown name) is collected and reported as one
//! line naming the key and what is expected.

pub(crate) mod accounts;
mod effective;
mod names;
mod sources;
mod values;

pub use effective::Setting;
pub use sources::{Profile, Sources};
pub use values::{CallbackMethod, LogFormat, StoreKind};

use figment::providers::Serialized;
use figment::value::{Dict, Value};
use figment::Figment;
use payrouter_provider::config::{opt_secret, opt_string};
use payrouter_provider::{ProviderContext, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::store::RedisTarget;
use crate::{registry, simulate};
use sources::Layer;
use values::redacted;

/// The gateway's own settings (provider sections are typed by each provider's factory).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Config {
    #[serde(default = "defaults::http_host")]
    pub http_host: String,
    #[serde(default = "defaults::http_port")]
    pub http_port: u16,
    /// A request head must arrive whole within this (idle keep-alive connections too).
    #[serde(default = "defaults::http_header_timeout_ms")]
    pub http_header_timeout_ms: u64,
    /// Connections open at once; more wait in the listen backlog.
    #[serde(default = "defaults::http_max_connections")]
    pub http_max_connections: usize,
    /// May hold `{provider}` and `{paymentId}`; checked as a URL with them filled in.
    #[serde(default, deserialize_with = "opt_string")]
    pub payment_callback_url: Option<String>,
    #[serde(default = "defaults::callback_method")]
    pub payment_callback_method: CallbackMethod,
    #[serde(default, deserialize_with = "opt_secret", serialize_with = "redacted")]
    pub notify_signing_secret: Option<SecretString>,
    /// Keys the payment tags carried in what is sent to providers; unset, each adapter
    /// derives a key from its credentials.
    #[serde(default, deserialize_with = "opt_secret", serialize_with = "redacted")]
    pub payment_tag_secret: Option<SecretString>,
    #[serde(default = "defaults::retry_initial_ms")]
    pub notify_retry_initial_ms: u64,
    #[serde(default = "defaults::retry_max_ms")]
    pub notify_retry_max_ms: u64,
    #[serde(default = "defaults::max_attempts")]
    pub notify_max_attempts: u32,
    #[serde(default = "defaults::notify_timeout_ms")]
    pub notify_timeout_ms: u64,
    /// First look at a pending payment after its creation; doubles up to `recheck_max_ms`.
    #[serde(default = "defaults::recheck_initial_ms")]
    pub recheck_initial_ms: u64,
    #[serde(default = "defaults::recheck_max_ms")]
    pub recheck_max_ms: u64,
    /// Provider fetches that callbacks may cause, per second and per process (a token bucket
    /// that holds as many): unsigned callbacks must not make the router hammer a provider.
    #[serde(default = "defaults::callback_fetch_rate")]
    pub callback_fetch_rate: u32,
    /// Which store holds the state; unset: Redis when `redis_url` is set, else the embedded
    /// store (refused in the production profile, where replicas must share their state).
    #[serde(default)]
    pub store: Option<StoreKind>,
    /// May carry a password, hence a secret.
    #[serde(default, deserialize_with = "opt_secret", serialize_with = "redacted")]
    pub redis_url: Option<SecretString>,
    /// Seed nodes of a Redis Cluster, comma-separated URLs (may carry a password).
    #[serde(default, deserialize_with = "opt_secret", serialize_with = "redacted")]
    pub redis_cluster_nodes: Option<SecretString>,
    /// Sentinels, comma-separated `host:port` or URLs (may carry a password).
    #[serde(default, deserialize_with = "opt_secret", serialize_with = "redacted")]
    pub redis_sentinels: Option<SecretString>,
    /// The name the sentinels know the primary by.
    #[serde(default, deserialize_with = "opt_string")]
    pub redis_sentinel_master: Option<String>,
    /// How many partitions (hash tags, each with its own queues) the keys are spread over.
    #[serde(default = "defaults::redis_partitions")]
    pub redis_partitions: u16,
    /// Prepended to every Redis key, so that two environments can share one Redis.
    #[serde(default = "defaults::redis_key_prefix")]
    pub redis_key_prefix: String,
    #[serde(default, deserialize_with = "opt_string")]
    pub public_base_url: Option<String>,
    #[serde(default, deserialize_with = "opt_secret", serialize_with = "redacted")]
    pub inbound_api_token: Option<SecretString>,
    /// Turns the admin API and console (`/admin`) on, behind `Authorization: Bearer` with this
    /// token; unset, every `/admin` path is 404. The demo profile makes one up when unset.
    #[serde(default, deserialize_with = "opt_secret", serialize_with = "redacted")]
    pub admin_api_token: Option<SecretString>,
    #[serde(
        default = "defaults::enabled_providers",
        deserialize_with = "values::list"
    )]
    pub enabled_providers: Vec<String>,
    #[serde(default = "defaults::body_limit")]
    pub body_limit_bytes: usize,
    #[serde(default = "defaults::route_timeout_ms")]
    pub route_timeout_ms: u64,
    #[serde(default = "defaults::retention_days")]
    pub retention_days: u32,
    /// How long a dead letter (a notification that exhausted its attempts) is kept.
    #[serde(default = "defaults::retention_days")]
    pub dead_letter_retention_days: u32,
    /// Where operational alerts (`notification.dead`, `payment.stuck`) are POSTed; unset: none.
    #[serde(default, deserialize_with = "opt_string")]
    pub ops_alert_url: Option<String>,
    /// Signs the ops alerts (Standard Webhooks, as NOTIFY_SIGNING_SECRET does notifications).
    #[serde(default, deserialize_with = "opt_secret", serialize_with = "redacted")]
    pub ops_alert_signing_secret: Option<SecretString>,
    /// A payment PENDING this long after its creation raises one `payment.stuck` alert.
    #[serde(default = "defaults::stuck_payment_after_ms")]
    pub stuck_payment_after_ms: u64,
    /// Cap of the embedded store (two documents per payment, one per subscription).
    #[serde(default = "defaults::memory_max_documents")]
    pub memory_max_documents: usize,
    #[serde(default = "defaults::shutdown_grace_ms")]
    pub shutdown_grace_ms: u64,
    #[serde(default = "defaults::log_level")]
    pub log_level: String,
    #[serde(default = "defaults::log_format")]
    pub log_format: LogFormat,
    /// Run the provider simulators in-process and point the providers at them.
    #[serde(default)]
    pub simulate: bool,
    #[serde(default = "defaults::sim_port")]
    pub sim_port: u16,
}

mod defaults {
    use super::{CallbackMethod, LogFormat};
    pub fn http_host() -> String {
        "0.0.0.0".into()
    }
    pub fn http_header_timeout_ms() -> u64 {
        10_000
    }
    pub fn http_max_connections() -> usize {
        4_096
    }
    pub fn http_port() -> u16 {
        8080
    }
    pub fn callback_method() -> CallbackMethod {
        CallbackMethod::Post
    }
    pub fn retry_initial_ms() -> u64 {
        1_000
    }
    pub fn retry_max_ms() -> u64 {
        3_600_000
    }
    pub fn max_attempts() -> u32 {
        30
    }
    pub fn notify_timeout_ms() -> u64 {
        10_000
    }
    pub fn recheck_initial_ms() -> u64 {
        60_000
    }
    pub fn recheck_max_ms() -> u64 {
        21_600_000
    }
    pub fn callback_fetch_rate() -> u32 {
        20
    }
    pub fn redis_key_prefix() -> String {
        "payrouter".into()
    }
    pub fn redis_partitions() -> u16 {
        16
    }
    /// Every registered provider: the registry is the one place providers are named.
    pub fn enabled_providers() -> Vec<String> {
        crate::registry::names()
            .into_iter()
            .map(String::from)
            .collect()
    }
    pub fn body_limit() -> usize {
        64 * 1024
    }
    pub fn route_timeout_ms() -> u64 {
        30_000
    }
    pub fn retention_days() -> u32 {
        30
    }
    pub fn stuck_payment_after_ms() -> u64 {
        86_400_000
    }
    pub fn memory_max_documents() -> usize {
        100_000
    }
    pub fn shutdown_grace_ms() -> u64 {
        10_000
    }
    pub fn log_level() -> String {
        "info".into()
    }
    pub fn log_format() -> LogFormat {
        LogFormat::Json
    }
    pub fn sim_port() -> u16 {
        8081
    }
}

/// Longest retention accepted, in days: ten years.
const MAX_RETENTION_DAYS: u32 = 3_650;

impl Config {
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_days) * 86_400)
    }

    pub fn dead_letter_retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.dead_letter_retention_days) * 86_400)
    }

    /// The store in use: `STORE` when set, else Redis exactly when a Redis mode is set.
    pub fn store_kind(&self) -> StoreKind {
        self.store.unwrap_or(if self.redis_modes().is_empty() {
            StoreKind::Memory
        } else {
            StoreKind::Redis
        })
    }

    /// The Redis modes set, by the key that sets each.
    fn redis_modes(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        if self.redis_url.is_some() {
            set.push("REDIS_URL");
        }
        if self.redis_cluster_nodes.is_some() {
            set.push("REDIS_CLUSTER_NODES");
        }
        if self.redis_sentinels.is_some() || self.redis_sentinel_master.is_some() {
            set.push("REDIS_SENTINELS");
        }
        set
    }

    /// Where Redis is, in the one mode configured (None: no Redis mode is set).
    pub fn redis_target(&self) -> Option<RedisTarget> {
        use payrouter_provider::ExposeSecret;
        let list =
            |s: &SecretString| -> Vec<String> { accounts::listed(s.expose_secret()).collect() };
        if let Some(url) = &self.redis_url {
            return Some(RedisTarget::Node(url.expose_secret().to_string()));
        }
        if let Some(nodes) = &self.redis_cluster_nodes {
            return Some(RedisTarget::Cluster(list(nodes)));
        }
        match (&self.redis_sentinels, &self.redis_sentinel_master) {
            (Some(sentinels), Some(master)) => Some(RedisTarget::Sentinel {
                sentinels: list(sentinels),
                master: master.clone(),
            }),
            _ => None,
        }
    }

    /// The problems of the Redis settings: exactly one mode, each well formed.
    fn redis_problems(&self) -> Vec<String> {
        use payrouter_provider::ExposeSecret;
        let mut problems = Vec::new();
        let modes = self.redis_modes();
        if modes.len() > 1 {
            problems.push(format!(
                "{}: exactly one Redis mode may be set, found {}; unset all but one",
                modes[0],
                modes.join(" and ")
            ));
        }
        if let Some(u) = &self.redis_url {
            if let Err(why) = values::redis_url(u) {
                problems.push(format!("REDIS_URL: {why}"));
            }
        }
        if let Some(nodes) = &self.redis_cluster_nodes {
            let nodes: Vec<String> = accounts::listed(nodes.expose_secret()).collect();
            if nodes.is_empty() {
                problems.push("REDIS_CLUSTER_NODES: expected comma-separated redis://host:port or rediss://… seed URLs".into());
            }
            for (i, node) in nodes.iter().enumerate() {
                if let Err(why) = values::redis_url(&SecretString::from(node.to_string())) {
                    problems.push(format!("REDIS_CLUSTER_NODES: node {} {why}", i + 1));
                }
            }
        }
        match (&self.redis_sentinels, &self.redis_sentinel_master) {
            (Some(sentinels), Some(_)) => {
                let listed: Vec<String> = accounts::listed(sentinels.expose_secret()).collect();
                if listed.is_empty() {
                    problems.push("REDIS_SENTINELS: expected comma-separated host:port of the sentinels".into());
                }
                for (i, s) in listed.iter().enumerate() {
                    let url = if s.contains("://") {
                        s.to_string()
                    } else {
                        format!("redis://{s}")
                    };
                    if let Err(why) = values::redis_url(&SecretString::from(url)) {
                        problems.push(format!(
                            "REDIS_SENTINELS: sentinel {} is not host:port or a Redis URL ({why})",
                            i + 1
                        ));
                    }
                }
            }
            (Some(_), None) => problems.push(
                "REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS: the name the sentinels know the primary by".into(),
            ),
            (None, Some(_)) => problems.push(
                "REDIS_SENTINELS: required with REDIS_SENTINEL_MASTER: comma-separated host:port of the sentinels".into(),
            ),
            (None, None) => {}
        }
        if !(1..=1024).contains(&self.redis_partitions) {
            problems.push(format!(
                "REDIS_PARTITIONS: expected a number of partitions from 1 to 1024, found {}",
                self.redis_partitions
            ));
        }
        problems
    }

    /// The public base URL without a trailing slash.
    pub fn public_base(&self) -> Option<String> {
        self.public_base_url
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_string())
    }

    /// Range and cross-field checks that serde cannot express; one line per problem.
    fn validate(&self, profile: Option<Profile>) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(u) = &self.payment_callback_url {
            let filled = u
                .replace("{provider}", "provider")
                .replace("{paymentId}", "id");
            if let Err(why) = values::http_url(&filled) {
                problems.push(format!("PAYMENT_CALLBACK_URL: '{u}' {why}"));
            }
        }
        if let Some(u) = &self.public_base_url {
            if let Err(why) = values::http_url(u) {
                problems.push(format!("PUBLIC_BASE_URL: '{u}' {why}"));
            }
        }
        if let Some(u) = &self.ops_alert_url {
            if let Err(why) = values::http_url(u) {
                problems.push(format!("OPS_ALERT_URL: '{u}' {why}"));
            }
        }
        if self.ops_alert_signing_secret.is_some() && self.ops_alert_url.is_none() {
            problems.push(
                "OPS_ALERT_SIGNING_SECRET: set without OPS_ALERT_URL, so no alert is sent; \
                 set OPS_ALERT_URL or unset it"
                    .into(),
            );
        }
        if self.stuck_payment_after_ms == 0 {
            problems.push("STUCK_PAYMENT_AFTER_MS: must be positive".into());
        }
        problems.extend(self.redis_problems());
        if let Err(why) = values::log_filter(&self.log_level) {
            problems.push(format!("LOG_LEVEL: '{}' {why}", self.log_level));
        }
        if let Err(why) = values::key_prefix(&self.redis_key_prefix) {
            problems.push(format!(
                "REDIS_KEY_PREFIX: '{}' {why}",
                self.redis_key_prefix
            ));
        }
        if self.notify_retry_initial_ms == 0 {
            problems.push("NOTIFY_RETRY_INITIAL_MS: must be positive".into());
        }
        if self.notify_retry_max_ms < self.notify_retry_initial_ms {
            problems.push("NOTIFY_RETRY_MAX_MS: must be at least NOTIFY_RETRY_INITIAL_MS".into());
        }
        if self.notify_timeout_ms == 0 {
            problems.push("NOTIFY_TIMEOUT_MS: must be positive".into());
        }
        if self.recheck_initial_ms == 0 {
            problems.push("RECHECK_INITIAL_MS: must be positive".into());
        }
        if self.recheck_max_ms < self.recheck_initial_ms {
            problems.push("RECHECK_MAX_MS: must be at least RECHECK_INITIAL_MS".into());
        }
        if self.callback_fetch_rate == 0 {
            problems.push(
                "CALLBACK_FETCH_RATE: must be at least 1 (provider fetches per second)".into(),
            );
        }
        if self.notify_max_attempts == 0 {
            problems.push("NOTIFY_MAX_ATTEMPTS: must be at least 1".into());
        }
        if self.body_limit_bytes < 1024 {
            problems.push("BODY_LIMIT_BYTES: must be at least 1024".into());
        }
        if !(100..=300_000).contains(&self.http_header_timeout_ms) {
            problems.push(format!(
                "HTTP_HEADER_TIMEOUT_MS: expected 100 to 300000 milliseconds, found {}",
                self.http_header_timeout_ms
            ));
        }
        if self.http_max_connections == 0 {
            problems.push("HTTP_MAX_CONNECTIONS: must be at least 1".into());
        }
        if self.route_timeout_ms == 0 {
            problems.push("ROUTE_TIMEOUT_MS: must be positive".into());
        }
        if self.memory_max_documents < 1000 {
            problems.push("MEMORY_MAX_DOCUMENTS: must be at least 1000".into());
        }
        for (key, days) in [
            ("RETENTION_DAYS", self.retention_days),
            (
                "DEAD_LETTER_RETENTION_DAYS",
                self.dead_letter_retention_days,
            ),
        ] {
            if !(1..=MAX_RETENTION_DAYS).contains(&days) {
                problems.push(format!(
                    "{key}: expected a number of days from 1 to {MAX_RETENTION_DAYS}, found {days}"
                ));
            }
        }
        let modes = self.redis_modes();
        match (self.store, modes.first()) {
            (Some(StoreKind::Redis), None) => {
                problems.push("REDIS_URL: required when STORE=redis".into());
            }
            (Some(StoreKind::Memory), Some(mode)) => problems.push(format!(
                "STORE: memory contradicts {mode}, which is set; unset one of them"
            )),
            _ => {}
        }
        if profile == Some(Profile::Production) {
            if self.simulate {
                problems.push("SIMULATE: the production profile never starts simulators".into());
            }
            if self.payment_callback_url.is_none() {
                problems.push("PAYMENT_CALLBACK_URL: required in the production profile".into());
            }
            if self.store.is_none() && modes.is_empty() {
                problems.push(
                    "REDIS_URL: required in the production profile, so that replicas share \
                     their state; set STORE=memory to run one replica on the embedded store"
                        .into(),
                );
            }
        }
        let known = registry::names();
        if self.enabled_providers.is_empty() {
            problems.push(format!(
                "ENABLED_PROVIDERS: name at least one provider (known: {})",
                known.join(", ")
            ));
        }
        for p in &self.enabled_providers {
            if !known.contains(&p.as_str()) {
                problems.push(format!(
                    "ENABLED_PROVIDERS: unknown provider '{p}' (known: {})",
                    known.join(", ")
                ));
            }
        }
        problems
    }
}

/// A configuration read and checked whole: the gateway's `Config` and the merged layers the
/// providers' sections are built from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// `None` when the configuration was handed over whole (`from_figment`).
    pub profile: Option<Profile>,
    figment: Figment,
    layers: Vec<Layer>,
}

impl Loaded {
    /// The merged layers, from which each provider's section is built.
    pub fn figment(&self) -> &Figment {
        &self.figment
    }

    /// Every setting's effective value (secrets redacted) and where it came from.
    pub fn effective(&self) -> Vec<Setting> {
        effective::settings(self)
    }
}

/// Reads the layers `sources` name, once, and checks them whole.
pub fn load(sources: &Sources) -> Result<Loaded, Vec<String>> {
    let mut problems = Vec::new();
    // An unknown profile is reported, and no profile's file or rules are guessed at.
    let profile = Profile::parse(sources.profile.as_deref())
        .map_err(|why| problems.push(why))
        .ok();
    let mut layers: Vec<Layer> = profile
        .map(|p| Layer::toml(format!("profile {}", p.name()), p.toml()))
        .into_iter()
        .collect();
    if let Some(path) = &sources.config_file {
        match std::fs::read_to_string(path) {
            Ok(text) => layers.push(Layer::toml(
                format!("CONFIG_FILE {}", path.display()),
                &text,
            )),
            Err(e) => problems.push(format!(
                "CONFIG_FILE: cannot read {} ({e}); expected a TOML file",
                path.display()
            )),
        }
    }
    let accounts = accounts::configured(&sources.env, &Layer::dicts(&layers));
    problems.extend(names::unknown_env(&sources.env, &accounts));
    layers.push(Layer::env(&sources.env, &accounts));
    let mut fig = Figment::new();
    for layer in &layers {
        match layer.dict() {
            // Environment names were checked above, by variable name.
            Ok(dict) if layer.from_env => fig = fig.merge(Serialized::defaults(dict)),
            Ok(dict) => {
                problems.extend(names::unknown_keys(dict, &layer.label));
                fig = fig.merge(Serialized::defaults(dict));
            }
            Err(why) => problems.push(why.clone()),
        }
    }
    finish(fig, profile, layers, problems)
}

/// Checks a configuration handed over whole (tests, embedding): no profile rules, no
/// environment; unknown keys are still refused.
pub fn from_figment(fig: &Figment) -> Result<Loaded, Vec<String>> {
    let mut problems = Vec::new();
    let layer = Layer::figment("configuration", fig);
    let mut merged = Figment::new();
    match layer.dict() {
        Ok(dict) => {
            problems.extend(names::unknown_keys(dict, &layer.label));
            merged = merged.merge(Serialized::defaults(dict.clone()));
        }
        Err(why) => problems.push(why.clone()),
    }
    finish(merged, None, vec![layer], problems)
}

fn finish(
    fig: Figment,
    profile: Option<Profile>,
    layers: Vec<Layer>,
    mut problems: Vec<String>,
) -> Result<Loaded, Vec<String>> {
    let (config, lines) = extract_all::<Config>(&fig, "");
    problems.extend(lines);
    if let Some(c) = &config {
        extend_new(&mut problems, c.validate(profile));
    }
    // The providers are built once here so that their problems join the same report; the
    // router builds them again at start, pointed at the simulators when those run.
    let enabled = config
        .as_ref()
        .map_or_else(defaults::enabled_providers, |c| c.enabled_providers.clone());
    let trial = match &config {
        Some(c) if c.simulate => {
            simulate::point_providers_at(fig.clone(), &format!("http://127.0.0.1:{}", c.sim_port))
        }
        _ => fig.clone(),
    };
    let ctx = ProviderContext {
        public_base_url: config.as_ref().and_then(Config::public_base),
        route_timeout: config
            .as_ref()
            .map(|c| Duration::from_millis(c.route_timeout_ms)),
        payment_tag_secret: config.as_ref().and_then(|c| c.payment_tag_secret.clone()),
    };
    if let Err(lines) = registry::build_enabled(&trial, &enabled, &ctx) {
        extend_new(&mut problems, lines);
    }
    match config {
        Some(config) if problems.is_empty() => Ok(Loaded {
            config,
            profile,
            figment: fig,
            layers,
        }),
        _ => Err(problems),
    }
}

/// Extracts `T` from `fig` (focused on `section` when not empty), collecting every field's
/// problem: serde stops at the first bad field, so each is dropped in turn (its default takes
/// its place) and the rest read again. The value is what remains readable, so that later
/// checks can still run on it. Keys are named as environment variables (`FENA_TIMEOUT_MS`).
pub fn extract_all<T: DeserializeOwned>(fig: &Figment, section: &str) -> (Option<T>, Vec<String>) {
    let prefix = if section.is_empty() {
        String::new()
    } else {
        format!("{}_", section.to_ascii_uppercase())
    };
    let focused = if section.is_empty() {
        fig.clone()
    } else {
        fig.focus(section)
    };
    let mut data = match focused.extract::<Dict>() {
        Ok(d) => d,
        Err(e) => return (None, describe(e, &prefix)),
    };
    let mut problems = Vec::new();
    // Each round removes one key, so the loop ends after at most one round per key.
    for _ in 0..=data.len() {
        match Figment::from(Serialized::defaults(&data)).extract_lossy::<T>() {
            Ok(value) => return (Some(value), problems),
            Err(e) => {
                let path = e.path.clone();
                problems.extend(describe(e, &prefix));
                if path.first().and_then(|k| data.remove(k)).is_none() {
                    break;
                }
            }
        }
    }
    (None, problems)
}

/// `more` without the lines about keys `problems` already names: a value dropped for its type
/// is not reported again for its range.
fn extend_new(problems: &mut Vec<String>, more: Vec<String>) {
    let key = |line: &str| line.split(':').next().unwrap_or_default().to_string();
    let named: Vec<String> = problems.iter().map(|l| key(l)).collect();
    problems.extend(more.into_iter().filter(|l| !named.contains(&key(l))));
}

/// One line per figment error, naming the key as an environment variable would; a secret's
/// value is never repeated.
pub fn describe(err: figment::Error, prefix: &str) -> Vec<String> {
    err.into_iter()
        .map(|e| {
            let key = format!("{prefix}{}", e.path.join("_")).to_ascii_uppercase();
            let secret = names::is_secret(&key);
            let what = match &e.kind {
                figment::error::Kind::InvalidType(actual, expected)
                | figment::error::Kind::InvalidValue(actual, expected) => {
                    let expected = match expected.as_str() {
                        "u16" => "a port number from 0 to 65535",
                        "u32" | "u64" | "usize" => "a whole number, 0 or more",
                        other => other,
                    };
                    if secret {
                        format!("expected {expected}")
                    } else {
                        format!("expected {expected}, found {actual}")
                    }
                }
                other => other.to_string(),
            };
            if e.path.is_empty() && prefix.is_empty() {
                what
            } else {
                format!("{}: {what}", key.trim_end_matches('_'))
            }
        })
        .collect()
}

/// The value at `path` (a key, or a section and a key) in a layer's keys, when it is set.
fn lookup<'a>(dict: &'a Dict, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = dict.get(*first)?;
    if rest.is_empty() {
        return Some(value);
    }
    lookup(value.as_dict()?, rest)
}
