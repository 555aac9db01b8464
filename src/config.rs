//! Layered configuration: built-in defaults < `config/default.toml` <
//! `config/{PAYROUTER_PROFILE}.toml` < the file named by `CONFIG_FILE` < environment.
//!
//! Environment names are the plain ones platform teams set (`HTTP_PORT`, `REDIS_URL`, …);
//! provider settings come from `[name]` sections and `NAME_*` variables. Loading collects every
//! problem and reports one line per problem, naming the key.

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use payrouter_provider::config::{opt_secret, opt_string};
use payrouter_provider::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Gateway keys read from the environment under their own names.
const GATEWAY_KEYS: &[&str] = &[
    "HTTP_HOST",
    "HTTP_PORT",
    "PAYMENT_CALLBACK_URL",
    "PAYMENT_CALLBACK_METHOD",
    "NOTIFY_SIGNING_SECRET",
    "NOTIFY_RETRY_INITIAL_MS",
    "NOTIFY_RETRY_MAX_MS",
    "NOTIFY_MAX_ATTEMPTS",
    "NOTIFY_TIMEOUT_MS",
    "RECHECK_INITIAL_MS",
    "RECHECK_MAX_MS",
    "REDIS_URL",
    "PUBLIC_BASE_URL",
    "INBOUND_API_TOKEN",
    "ENABLED_PROVIDERS",
    "BODY_LIMIT_BYTES",
    "ROUTE_TIMEOUT_MS",
    "RETENTION_DAYS",
    "MEMORY_MAX_DOCUMENTS",
    "SHUTDOWN_GRACE_MS",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "SIMULATE",
    "SIM_PORT",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CallbackMethod {
    Post,
    Get,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The gateway's own settings (provider sections are read by each provider's factory).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(default = "defaults::http_host")]
    pub http_host: String,
    #[serde(default = "defaults::http_port")]
    pub http_port: u16,
    #[serde(default, deserialize_with = "opt_string")]
    pub payment_callback_url: Option<String>,
    #[serde(default = "defaults::callback_method")]
    pub payment_callback_method: CallbackMethod,
    #[serde(default, deserialize_with = "opt_secret")]
    pub notify_signing_secret: Option<SecretString>,
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
    /// May carry a password, hence a secret.
    #[serde(default, deserialize_with = "opt_secret")]
    pub redis_url: Option<SecretString>,
    #[serde(default, deserialize_with = "opt_string")]
    pub public_base_url: Option<String>,
    #[serde(default, deserialize_with = "opt_secret")]
    pub inbound_api_token: Option<SecretString>,
    #[serde(default = "defaults::enabled_providers", deserialize_with = "list")]
    pub enabled_providers: Vec<String>,
    #[serde(default = "defaults::body_limit")]
    pub body_limit_bytes: usize,
    #[serde(default = "defaults::route_timeout_ms")]
    pub route_timeout_ms: u64,
    #[serde(default = "defaults::retention_days")]
    pub retention_days: u32,
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
    /// The profile the configuration was read with (set by `Sources`, not by users).
    #[serde(default)]
    pub profile: String,
}

mod defaults {
    use super::{CallbackMethod, LogFormat};
    pub fn http_host() -> String {
        "0.0.0.0".into()
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
    pub fn enabled_providers() -> Vec<String> {
        vec!["fena".into(), "feennex".into()]
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

fn list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    let items = match ListOrText::deserialize(d)? {
        ListOrText::List(l) => l,
        ListOrText::Text(t) => t.split(',').map(str::to_string).collect(),
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect())
}

impl Config {
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_days) * 86_400)
    }

    /// Semantic checks that serde cannot express; one message per problem.
    fn validate(&self, known_providers: &[&str]) -> Vec<String> {
        let mut problems = Vec::new();
        let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
        if let Some(u) = &self.payment_callback_url {
            if !is_url(u) {
                problems.push(format!("PAYMENT_CALLBACK_URL: '{u}' is not an http(s) URL"));
            }
        }
        if let Some(u) = &self.public_base_url {
            if !is_url(u) {
                problems.push(format!("PUBLIC_BASE_URL: '{u}' is not an http(s) URL"));
            }
        }
        if self.notify_retry_initial_ms == 0 {
            problems.push("NOTIFY_RETRY_INITIAL_MS: must be positive".into());
        }
        if self.notify_retry_max_ms < self.notify_retry_initial_ms {
            problems.push("NOTIFY_RETRY_MAX_MS: must be at least NOTIFY_RETRY_INITIAL_MS".into());
        }
        if self.recheck_initial_ms == 0 || self.recheck_max_ms < self.recheck_initial_ms {
            problems
                .push("RECHECK_INITIAL_MS / RECHECK_MAX_MS: positive, initial at most max".into());
        }
        if self.notify_max_attempts == 0 {
            problems.push("NOTIFY_MAX_ATTEMPTS: must be at least 1".into());
        }
        if self.body_limit_bytes < 1024 {
            problems.push("BODY_LIMIT_BYTES: must be at least 1024".into());
        }
        if self.memory_max_documents < 1000 {
            problems.push("MEMORY_MAX_DOCUMENTS: must be at least 1000".into());
        }
        if self.retention_days == 0 {
            problems.push("RETENTION_DAYS: must be at least 1".into());
        }
        if self.profile == "production" {
            if self.simulate {
                problems.push("SIMULATE: the production profile never starts simulators".into());
            }
            if self.payment_callback_url.is_none() {
                problems.push("PAYMENT_CALLBACK_URL: required in the production profile".into());
            }
        }
        if self.enabled_providers.is_empty() {
            problems.push("ENABLED_PROVIDERS: name at least one provider".into());
        }
        for p in &self.enabled_providers {
            if !known_providers.contains(&p.as_str()) {
                problems.push(format!(
                    "ENABLED_PROVIDERS: unknown provider '{p}' (known: {})",
                    known_providers.join(", ")
                ));
            }
        }
        problems
    }
}

/// Where configuration comes from; `from_env` is what the binary uses.
#[derive(Debug, Clone)]
pub struct Sources {
    pub config_dir: PathBuf,
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
}

impl Sources {
    pub fn from_env() -> Self {
        Sources {
            config_dir: PathBuf::from(
                std::env::var("PAYROUTER_CONFIG_DIR").unwrap_or_else(|_| "config".into()),
            ),
            profile: std::env::var("PAYROUTER_PROFILE")
                .ok()
                .filter(|p| !p.is_empty()),
            config_file: std::env::var("CONFIG_FILE")
                .ok()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        }
    }

    /// The merged layers, environment last.
    pub fn figment(&self, provider_names: &[&str]) -> Result<Figment, Vec<String>> {
        let mut problems = Vec::new();
        let mut fig = Figment::new().merge(Toml::file(self.config_dir.join("default.toml")));
        if let Some(profile) = &self.profile {
            let path = self.config_dir.join(format!("{profile}.toml"));
            if !path.exists() {
                problems.push(format!(
                    "PAYROUTER_PROFILE: no file {} for profile '{profile}'",
                    path.display()
                ));
            }
            fig = fig.merge(Toml::file(path));
        }
        if let Some(file) = &self.config_file {
            if !Path::new(file).exists() {
                problems.push(format!("CONFIG_FILE: {} does not exist", file.display()));
            }
            fig = fig.merge(Toml::file(file));
        }
        fig = fig.merge(Env::raw().only(GATEWAY_KEYS));
        for name in provider_names {
            let section = name.to_string();
            fig = fig.merge(
                Env::prefixed(&format!("{}_", name.to_ascii_uppercase()))
                    .map(move |k| format!("{section}.{k}").into()),
            );
        }
        let profile = self.profile.clone().unwrap_or_default();
        fig = fig.merge(figment::providers::Serialized::default("profile", profile));
        if problems.is_empty() {
            Ok(fig)
        } else {
            Err(problems)
        }
    }
}

/// Reads and checks the gateway configuration; `known_providers` are the registered names.
pub fn load(fig: &Figment, known_providers: &[&str]) -> Result<Config, Vec<String>> {
    let config: Config = fig.extract().map_err(describe)?;
    let problems = config.validate(known_providers);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

/// One line per figment error, naming the key as an environment variable would.
pub fn describe(err: figment::Error) -> Vec<String> {
    err.into_iter()
        .map(|e| {
            let key = e.path.join("_").to_ascii_uppercase();
            let what = match &e.kind {
                figment::error::Kind::InvalidType(actual, expected) => {
                    format!("expected {expected}, found {actual}")
                }
                figment::error::Kind::InvalidValue(actual, expected) => {
                    format!("expected {expected}, found {actual}")
                }
                other => other.to_string(),
            };
            if key.is_empty() {
                what
            } else {
                format!("{key}: {what}")
            }
        })
        .collect()
}
