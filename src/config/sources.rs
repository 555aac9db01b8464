//! Where configuration comes from: the profiles compiled into the binary, the optional
//! `CONFIG_FILE`, and the environment. Each layer keeps its name, so `config check` can say
//! where a value came from and unknown keys can be pointed at.

use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};
use figment::Figment;
use payrouter_provider::SettingsTable;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::accounts::{AccountNames, AccountVar, ACCOUNTS};
use super::names;
use crate::registry;

/// A named set of defaults compiled into the binary, so the working directory never matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The default: real providers, JSON logs, Redis required for replicas.
    Production,
    /// The offline demo of `make run`: simulators in-process, pretty logs, embedded store.
    Demo,
}

impl Profile {
    const ALL: [Profile; 2] = [Profile::Production, Profile::Demo];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Production => "production",
            Profile::Demo => "demo",
        }
    }

    /// The profile file's text, compiled in.
    pub fn toml(self) -> &'static str {
        match self {
            Profile::Production => include_str!("../../config/production.toml"),
            Profile::Demo => include_str!("../../config/demo.toml"),
        }
    }

    /// `PAYROUTER_PROFILE`'s value (any case); unset is production.
    pub fn parse(name: Option<&str>) -> Result<Profile, String> {
        let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(Profile::Production);
        };
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let known: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "PAYROUTER_PROFILE: unknown profile '{name}'; expected {}",
                    known.join(" or ")
                )
            })
    }
}

/// What the binary reads its configuration from; `from_env` is what it uses.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `PAYROUTER_PROFILE`; unset is production.
    pub profile: Option<String>,
    /// `CONFIG_FILE`: a TOML file laid over the profile.
    pub config_file: Option<PathBuf>,
    /// The environment, read once.
    pub env: Vec<(String, String)>,
}

impl Sources {
    pub fn from_env() -> Self {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let get = |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        Sources {
            profile: get("PAYROUTER_PROFILE"),
            config_file: get("CONFIG_FILE").map(PathBuf::from),
            env,
        }
    }
}

/// One layer of configuration: its name and its keys, nested as in TOML.
#[derive(Debug, Clone)]
pub struct Layer {
    pub label: String,
    /// Whether the keys came from environment variables (whose names are checked by name).
    pub from_env: bool,
    dict: Result<Dict, String>,
}

impl Layer {
    pub fn toml(label: String, text: &str) -> Layer {
        let dict = Figment::from(Toml::string(text))
            .extract::<Dict>()
            .map_err(|e| format!("{label}: not valid TOML ({e})"));
        Layer {
            label,
            from_env: false,
            dict,
        }
    }

    pub fn figment(label: &str, fig: &Figment) -> Layer {
        Layer {
            label: label.into(),
            from_env: false,
            dict: fig.extract::<Dict>().map_err(|e| format!("{label}: {e}")),
        }
    }

    /// The gateway's and the providers' variables, nested under the providers' sections;
    /// values are read as figment reads environment values. Unknown names are left out (they
    /// are reported by `names::unknown_env`). The variables of named merchant `accounts` are
    /// nested under `[provider.accounts.<merchant>]`.
    pub fn env(vars: &[(String, String)], accounts: &[AccountNames]) -> Layer {
        let gateway = names::gateway_keys();
        let providers = registry::settings_keys();
        let tables = registry::settings_tables();
        let mut dict = Dict::new();
        // Provider → merchant → that account's keys.
        let mut named: BTreeMap<&str, BTreeMap<String, Dict>> = BTreeMap::new();
        for (name, raw) in vars {
            // Settings are upper-case variables; `http_proxy` and friends belong to others.
            if name.bytes().any(|b| b.is_ascii_lowercase()) {
                continue;
            }
            let value: Value = raw.parse().unwrap_or_else(|never| match never {});
            let lower = name.to_ascii_lowercase();
            if gateway.contains(&lower.as_str()) {
                dict.insert(lower, value);
                continue;
            }
            if let Some((a, var)) = accounts.iter().find_map(|a| Some((a, a.classify(name)?))) {
                let merchants = named.entry(a.provider()).or_default();
                match var {
                    AccountVar::List => {
                        for merchant in AccountNames::listed(raw) {
                            merchants.entry(merchant).or_default();
                        }
                    }
                    AccountVar::Setting { merchant, key } => {
                        merchants
                            .entry(merchant.to_string())
                            .or_default()
                            .insert(key.to_string(), value);
                    }
                    // Refused by `names::unknown_env`.
                    AccountVar::Unknown(_) => {}
                }
                continue;
            }
            if let Some((provider, table, key)) = table_key(&tables, &lower) {
                let section = dict
                    .entry(provider.to_string())
                    .or_insert_with(|| Value::from(Dict::new()));
                if let Value::Dict(_, section) = section {
                    let table = section
                        .entry(table.to_string())
                        .or_insert_with(|| Value::from(Dict::new()));
                    if let Value::Dict(_, table) = table {
                        table.insert(key.to_string(), value);
                    }
                }
                continue;
            }
            for (provider, keys) in &providers {
                let key = lower
                    .strip_prefix(provider)
                    .and_then(|k| k.strip_prefix('_'))
                    .filter(|k| keys.contains(k));
                if let Some(key) = key {
                    let section = dict
                        .entry(provider.to_string())
                        .or_insert_with(|| Value::from(Dict::new()));
                    if let Value::Dict(_, section) = section {
                        section.insert(key.to_string(), value.clone());
                    }
                }
            }
        }
        for (provider, merchants) in named {
            let merchants: Dict = merchants
                .into_iter()
                .map(|(merchant, keys)| (merchant, Value::from(keys)))
                .collect();
            let section = dict
                .entry(provider.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, section) = section {
                section.insert(ACCOUNTS.to_string(), Value::from(merchants));
            }
        }
        Layer {
            label: "environment".into(),
            from_env: true,
            dict: Ok(dict),
        }
    }

    /// The keys of each TOML layer that could be read.
    pub fn dicts(layers: &[Layer]) -> Vec<&Dict> {
        layers.iter().filter_map(|l| l.dict().ok()).collect()
    }

    /// The keys; a layer that could not be read says why.
    pub fn dict(&self) -> Result<&Dict, &String> {
        self.dict.as_ref()
    }
}

/// The provider, table and key a variable (lower case) sets in a provider's settings table
/// (`fena_partner_path_refund` → `fena`, `partner_paths`, `refund`).
fn table_key<'a>(
    tables: &[(&'static str, Vec<SettingsTable>)],
    lower: &'a str,
) -> Option<(&'static str, &'static str, &'a str)> {
    tables.iter().find_map(|(provider, tables)| {
        let rest = lower.strip_prefix(provider)?.strip_prefix('_')?;
        tables.iter().find_map(|t| {
            let key = rest.strip_prefix(t.env_stem)?.strip_prefix('_')?;
            t.keys.contains(&key).then_some((*provider, t.table, key))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_found_in_any_case() {
        assert_eq!(Profile::parse(None), Ok(Profile::Production));
        assert_eq!(Profile::parse(Some("DEMO")), Ok(Profile::Demo));
        assert!(Profile::parse(Some("nope"))
            .unwrap_err()
            .contains("expected production or demo"));
    }

    #[test]
    fn environment_values_land_in_their_sections() {
        let layer = Layer::env(
            &[
                ("HTTP_PORT".into(), "9000".into()),
                ("FENA_TIMEOUT_MS".into(), "5".into()),
                ("UNRELATED".into(), "x".into()),
            ],
            &[],
        );
        let dict = layer.dict().unwrap();
        assert_eq!(dict["http_port"].to_u128(), Some(9000));
        assert_eq!(
            dict["fena"].as_dict().unwrap()["timeout_ms"].to_u128(),
            Some(5)
        );
        assert_eq!(dict.len(), 2);
    }

    #[test]
    fn table_variables_nest_under_their_table() {
        let layer = Layer::env(
            &[
                (
                    "FENA_PARTNER_PATH_REFUND".into(),
                    "/p/{companyId}/r/{id}".into(),
                ),
                ("FENA_PARTNER_PATH_NOPE".into(), "/x".into()),
            ],
            &[],
        );
        let dict = layer.dict().unwrap();
        let fena = dict["fena"].as_dict().unwrap();
        let paths = fena["partner_paths"].as_dict().unwrap();
        assert_eq!(paths["refund"].as_str(), Some("/p/{companyId}/r/{id}"));
        assert_eq!(paths.len(), 1);
        assert_eq!(fena.len(), 1);
        let unknown = names::unknown_env(
            &[
                ("FENA_PARTNER_PATH_REFUND".into(), "x".into()),
                ("FENA_PARTNER_PATH_NOPE".into(), "x".into()),
            ],
            &[],
        );
        names::tests::assert_one_unknown(&unknown, "FENA_PARTNER_PATH_NOPE:");
    }

    #[test]
    fn account_variables_nest_under_their_merchant() {
        let vars: Vec<(String, String)> = [
            ("FENA_ACCOUNTS", "shop-a, shop-b"),
            ("FENA_ACCOUNT_SHOP_A_TERMINAL_ID", "t-a"),
            ("FENA_ACCOUNT_SHOP_C_TERMINAL_ID", "t-c"),
            ("FENA_TIMEOUT_MS", "5"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let accounts = super::super::accounts::configured(&vars, &[]);
        let layer = Layer::env(&vars, &accounts);
        let fena = layer.dict().unwrap()["fena"].as_dict().unwrap().clone();
        assert_eq!(fena["timeout_ms"].to_u128(), Some(5));
        let merchants = fena["accounts"].as_dict().unwrap();
        assert_eq!(
            merchants.keys().collect::<Vec<_>>(),
            ["shop-a", "shop-b"],
            "an unconfigured merchant's variable goes nowhere"
        );
        assert_eq!(
            merchants["shop-a"].as_dict().unwrap()["terminal_id"].as_str(),
            Some("t-a")
        );
        assert!(merchants["shop-b"].as_dict().unwrap().is_empty());
    }
}
