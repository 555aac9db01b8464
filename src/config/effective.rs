//! The effective configuration as `payrouter config check` prints it: every setting, its
//! value with secrets redacted, and the layer it came from (default, profile, CONFIG_FILE,
//! environment).

use figment::value::Dict;

use super::accounts::{env_spelling, ACCOUNTS};
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
    let account_keys = registry::account_keys();
    let tables = registry::settings_tables();
    for (provider, keys) in registry::settings_keys() {
        let own_tables = tables
            .iter()
            .find(|(p, _)| *p == provider)
            .map_or(&[][..], |(_, t)| t.as_slice());
        for key in keys {
            // A table's keys are shown one a line, as their variables are named.
            if let Some(table) = own_tables.iter().find(|t| t.table == *key) {
                for inner in table.keys {
                    let name =
                        format!("{provider}_{}_{inner}", table.env_stem).to_ascii_uppercase();
                    let path = [provider, key, inner];
                    let value = match lookup(&merged, &path) {
                        Some(v) => shown(&serde_json::to_value(v).unwrap_or_default()),
                        None => "-".to_string(),
                    };
                    out.push(Setting {
                        key: name,
                        value,
                        source: source(loaded, &path),
                    });
                }
                continue;
            }
            let name = format!("{provider}_{key}").to_ascii_uppercase();
            let value = match lookup(&merged, &[provider, key]) {
                // The accounts hold secrets: their names here, each setting on its own line.
                Some(v) if *key == ACCOUNTS => v
                    .as_dict()
                    .map(|d| d.keys().cloned().collect::<Vec<_>>().join(","))
                    .unwrap_or_default(),
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
        let own = account_keys.iter().find(|(p, _)| *p == provider);
        let tables = lookup(&merged, &[provider, ACCOUNTS]).and_then(|v| v.as_dict());
        if let (Some((_, keys)), Some(tables)) = (own, tables) {
            for merchant in tables.keys() {
                out.extend(account_settings(loaded, &merged, provider, merchant, keys));
            }
        }
    }
    out
}

/// The lines of one named merchant account (`FENA_ACCOUNT_SHOP_A_TERMINAL_ID`).
fn account_settings(
    loaded: &Loaded,
    merged: &Dict,
    provider: &str,
    merchant: &str,
    keys: &[&str],
) -> Vec<Setting> {
    keys.iter()
        .map(|key| {
            let path = [provider, ACCOUNTS, merchant, key];
            let name =
                format!("{provider}_ACCOUNT_{}_{key}", env_spelling(merchant)).to_ascii_uppercase();
            let value = match lookup(merged, &path) {
                Some(_) if is_secret(&name) => REDACTED.to_string(),
                Some(v) => shown(&serde_json::to_value(v).unwrap_or_default()),
                None => "-".to_string(),
            };
            Setting {
                key: name,
                value,
                source: source(loaded, &path),
            }
        })
        .collect()
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
                [provider, _, ..] => format!("default of {provider}"),
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
