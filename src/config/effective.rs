//! The effective configuration as `payrouter config check` prints it: every setting, its
//! value with secrets redacted, and the layer it came from (default, profile, CONFIG_FILE,
//! environment).

use figment::value::Dict;

use super::names::{gateway_keys, is_secret};
use super::values::REDACTED;
use super::{lookup, Loaded};
use crate::registry;

/// One line of `config check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The environment spelling (`FENA_BASE_URL`).
    pub key: String,
    pub value: String,
    pub source: String,
}

pub fn settings(loaded: &Loaded) -> Vec<Setting> {
    let mut out = Vec::new();
    let gateway = serde_json::to_value(&loaded.config).unwrap_or_default();
    for key in gateway_keys() {
        out.push(Setting {
            key: key.to_ascii_uppercase(),
            value: shown(&gateway[*key]),
            source: source(loaded, &[key]),
        });
    }
    let merged = loaded.figment().extract::<Dict>().unwrap_or_default();
    for (provider, keys) in registry::settings_keys() {
        for key in keys {
            let name = format!("{provider}_{key}").to_ascii_uppercase();
            let value = match lookup(&merged, &[provider, key]) {
                Some(_) if is_secret(&name) => REDACTED.to_string(),
                Some(v) => shown(&serde_json::to_value(v).unwrap_or_default()),
                None => "-".to_string(),
            };
            out.push(Setting {
                key: name,
                value,
                source: source(loaded, &[provider, key]),
            });
        }
    }
    out
}

/// The last layer that sets `path`, or "default".
fn source(loaded: &Loaded, path: &[&str]) -> String {
    loaded
        .layers
        .iter()
        .rev()
        .find(|layer| layer.dict().is_ok_and(|d| lookup(d, path).is_some()))
        .map_or_else(
            || match path {
                [provider, _] => format!("default of {provider}"),
                _ => "default".to_string(),
            },
            |layer| layer.label.clone(),
        )
}

fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "unset".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
