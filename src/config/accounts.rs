//! Named merchant accounts of the providers that have them (`ProviderFactory::account_keys`):
//! `[name.accounts.<merchant>]` in TOML, and in the environment `NAME_ACCOUNTS=shop-a,shop-b`
//! with one `NAME_ACCOUNT_<MERCHANT>_<KEY>` variable per setting (`shop-a` → `SHOP_A`). The
//! variables of a merchant that is configured (in `NAME_ACCOUNTS` or a TOML layer) are nested
//! under its section; those of any other merchant are refused by name, like any unknown
//! variable. Which keys an account has is each provider's business; nothing here names one.

use figment::value::{Dict, Value};

use crate::registry;

/// The key of the accounts map in a provider's section, and the stem of its variables.
pub const ACCOUNTS: &str = "accounts";

/// One provider's named accounts as the configuration names them.
#[derive(Debug, Clone)]
pub struct AccountNames {
    /// `FENA` (the environment prefix, without `_`).
    prefix: String,
    provider: &'static str,
    keys: &'static [&'static str],
    /// The merchant names, as written (`shop-a`), without repeats.
    names: Vec<String>,
}

/// What an environment variable is to the accounts.
#[derive(Debug, PartialEq, Eq)]
pub enum AccountVar<'a> {
    /// The list of names (`FENA_ACCOUNTS`).
    List,
    /// One setting of a configured merchant: its name as written and the key.
    Setting {
        merchant: &'a str,
        key: &'static str,
    },
    /// Looks like an account setting but names no configured merchant or no known key.
    Unknown(String),
}

/// The environment spelling of a merchant name inside a variable (`shop-a` → `SHOP_A`).
pub fn env_spelling(merchant: &str) -> String {
    merchant.to_ascii_uppercase().replace('-', "_")
}

/// The items of a comma-separated value (`NAME_ACCOUNTS`, `REDIS_CLUSTER_NODES`,
/// `REDIS_SENTINELS`), blanks ignored.
pub(super) fn listed(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
}

/// Every provider with named accounts, with the merchants named by `vars` and by the `accounts`
/// tables of `layers` (the TOML layers read before the environment).
pub fn configured(vars: &[(String, String)], layers: &[&Dict]) -> Vec<AccountNames> {
    registry::account_keys()
        .into_iter()
        .filter(|(_, keys)| !keys.is_empty())
        .map(|(provider, keys)| {
            let prefix = provider.to_ascii_uppercase();
            let list_var = format!("{prefix}_ACCOUNTS");
            let mut names: Vec<String> = Vec::new();
            for (_, value) in vars.iter().filter(|(name, _)| *name == list_var) {
                names.extend(listed(value));
            }
            for dict in layers {
                let tables = dict
                    .get(provider)
                    .and_then(Value::as_dict)
                    .and_then(|section| section.get(ACCOUNTS))
                    .and_then(Value::as_dict);
                names.extend(tables.into_iter().flat_map(|t| t.keys().cloned()));
            }
            let mut unique = Vec::new();
            for name in names {
                if !unique.contains(&name) {
                    unique.push(name);
                }
            }
            AccountNames {
                prefix,
                provider,
                keys,
                names: unique,
            }
        })
        .collect()
}

impl AccountNames {
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The merchants named in `NAME_ACCOUNTS`'s value (for nesting them as sections).
    pub fn listed(value: &str) -> Vec<String> {
        listed(value).collect()
    }

    /// What the variable `name` is to these accounts; None when it is not about them.
    pub fn classify(&self, name: &str) -> Option<AccountVar<'_>> {
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix('_')?;
        if rest == "ACCOUNTS" {
            return Some(AccountVar::List);
        }
        let rest = rest.strip_prefix("ACCOUNT_")?;
        // The longest configured name that leaves a known key wins (`SHOP` vs `SHOP_EU`).
        let found = self
            .names
            .iter()
            .filter_map(|merchant| {
                let key = rest
                    .strip_prefix(&env_spelling(merchant))?
                    .strip_prefix('_')?;
                let key = self.keys.iter().find(|k| k.eq_ignore_ascii_case(key))?;
                Some((merchant, *key))
            })
            .max_by_key(|(merchant, _)| merchant.len());
        Some(match found {
            Some((merchant, key)) => AccountVar::Setting { merchant, key },
            None => AccountVar::Unknown(self.unknown(name)),
        })
    }

    /// Why the account variable `name` is refused.
    fn unknown(&self, name: &str) -> String {
        let keys: Vec<String> = self.keys.iter().map(|k| k.to_ascii_uppercase()).collect();
        let configured = if self.names.is_empty() {
            "none is configured".to_string()
        } else {
            self.names
                .iter()
                .map(|n| format!("{}_ACCOUNT_{}_*", self.prefix, env_spelling(n)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{name}: unknown setting; an account setting is {p}_ACCOUNT_<NAME>_<KEY> for a NAME \
             listed in {p}_ACCOUNTS (configured: {configured}) and a KEY among {}",
            keys.join(", "),
            p = self.prefix,
        )
    }

    /// One line per unknown key inside the `accounts` table `value` of a TOML layer.
    pub fn unknown_keys(&self, value: &Value, label: &str) -> Vec<String> {
        let provider = self.provider;
        let Some(tables) = value.as_dict() else {
            return vec![format!(
                "{provider}.{ACCOUNTS}: expected [{provider}.{ACCOUNTS}.<name>] sections in {label}"
            )];
        };
        let mut problems = Vec::new();
        for (name, table) in tables {
            let Some(table) = table.as_dict() else {
                problems.push(format!(
                    "{provider}.{ACCOUNTS}.{name}: expected a [{provider}.{ACCOUNTS}.{name}] section in {label}"
                ));
                continue;
            };
            for key in table.keys().filter(|k| !self.keys.contains(&k.as_str())) {
                problems.push(format!(
                    "{provider}.{ACCOUNTS}.{name}.{key}: unknown setting in {label}; known: {}",
                    self.keys.join(", ")
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fena(names: &[&str]) -> AccountNames {
        AccountNames {
            prefix: "FENA".into(),
            provider: "fena",
            keys: &["terminal_id", "terminal_secret"],
            names: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn variables_of_configured_merchants_are_settings() {
        let accounts = fena(&["shop", "shop-eu"]);
        assert_eq!(accounts.classify("FENA_ACCOUNTS"), Some(AccountVar::List));
        assert_eq!(
            accounts.classify("FENA_ACCOUNT_SHOP_EU_TERMINAL_ID"),
            Some(AccountVar::Setting {
                merchant: "shop-eu",
                key: "terminal_id"
            })
        );
        assert_eq!(
            accounts.classify("FENA_ACCOUNT_SHOP_TERMINAL_SECRET"),
            Some(AccountVar::Setting {
                merchant: "shop",
                key: "terminal_secret"
            })
        );
        assert_eq!(accounts.classify("FENA_TIMEOUT_MS"), None);
        assert_eq!(accounts.classify("FEENNEX_ACCOUNTS"), None);
    }

    #[test]
    fn variables_of_other_merchants_or_keys_are_refused_by_name() {
        let accounts = fena(&["shop-a"]);
        for name in [
            "FENA_ACCOUNT_SHOP_B_TERMINAL_ID",
            "FENA_ACCOUNT_SHOP_A_TERMINAL_SECRT",
        ] {
            let Some(AccountVar::Unknown(line)) = accounts.classify(name) else {
                panic!("{name} must be refused");
            };
            assert!(
                line.starts_with(&format!("{name}: unknown setting")),
                "{line}"
            );
            assert!(line.contains("FENA_ACCOUNT_SHOP_A_*"), "{line}");
            assert!(line.contains("TERMINAL_SECRET"), "{line}");
        }
    }
}
