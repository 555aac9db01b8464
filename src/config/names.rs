//! The names payrouter knows, derived from the types that read them (`Config` and each
//! provider's `Settings`), and the refusal of names it does not know: a mistyped variable
//! (`HTTP_PRT`) or TOML key stops the start with a suggestion instead of being ignored.

use figment::value::{Dict, Value};
use serde_aux::serde_introspection::serde_introspect;

use super::accounts::{AccountNames, AccountVar, ACCOUNTS};
use super::Config;
use crate::registry;

/// Environment prefixes that belong to payrouter, besides each registered provider's
/// (`FENA_`): a variable starting with one of them must be a setting payrouter knows.
const PREFIXES: &[&str] = &[
    "HTTP_",
    "PAYMENT_CALLBACK_",
    "NOTIFY_",
    "RECHECK_",
    "REDIS_",
    "LOG_",
    "SIM_",
    "MEMORY_",
    "ADMIN_",
    "STORE",
    "PAYROUTER_",
    "OPS_",
    "STUCK_",
    "CALLBACK_",
    "BODY_",
    "ROUTE_",
    "RETENTION_",
    "SHUTDOWN_",
    "ENABLED_",
    "PUBLIC_",
    "INBOUND_",
    "DEAD_LETTER_",
];

/// Variables under those prefixes that are not settings but are known: the profile selector,
/// the build's commit (set when building), and the proxy variable HTTP clients honour.
const OTHER_KNOWN: &[&str] = &["PAYROUTER_PROFILE", "PAYROUTER_GIT_COMMIT", "HTTP_PROXY"];

/// The gateway's keys in TOML spelling (`http_port`), from `Config` itself.
pub fn gateway_keys() -> &'static [&'static str] {
    serde_introspect::<Config>()
}

/// Every environment name payrouter reads.
fn known_env() -> Vec<String> {
    let mut names: Vec<String> = gateway_keys()
        .iter()
        .map(|k| k.to_ascii_uppercase())
        .collect();
    for (provider, keys) in registry::settings_keys() {
        names.extend(
            keys.iter()
                .map(|k| format!("{provider}_{k}").to_ascii_uppercase()),
        );
    }
    for (provider, tables) in registry::settings_tables() {
        for table in tables {
            names.extend(
                table
                    .keys
                    .iter()
                    .map(|k| format!("{provider}_{}_{k}", table.env_stem).to_ascii_uppercase()),
            );
        }
    }
    names.extend(OTHER_KNOWN.iter().map(|n| n.to_string()));
    names
}

/// Whether a key (in environment spelling) holds a secret, whose value is never shown.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    key.contains("SECRET")
        || key.contains("TOKEN")
        || key.contains("PASSWORD")
        || key.ends_with("_KEY")
        || key == "REDIS_URL"
        || key == "REDIS_CLUSTER_NODES"
        || key == "REDIS_SENTINELS"
}

/// One line per variable with a payrouter prefix that payrouter does not know; a merchant
/// account's variable is known when its merchant is configured (`accounts`).
pub fn unknown_env(vars: &[(String, String)], accounts: &[AccountNames]) -> Vec<String> {
    let known = known_env();
    let providers: Vec<String> = registry::names()
        .iter()
        .map(|p| format!("{}_", p.to_ascii_uppercase()))
        .collect();
    vars.iter()
        .filter(|(name, _)| {
            PREFIXES.iter().any(|p| name.starts_with(p))
                || providers.iter().any(|p| name.starts_with(p.as_str()))
        })
        .filter(|(name, value)| !known.contains(name) && !is_kubernetes_service_link(name, value))
        .filter_map(
            |(name, _)| match accounts.iter().find_map(|a| a.classify(name)) {
                Some(AccountVar::Setting { .. } | AccountVar::List) => None,
                Some(AccountVar::Unknown(line)) => Some(line),
                None => Some(format!("{name}: unknown setting; {}", hint(name, &known))),
            },
        )
        .collect()
}

/// One line per key of a TOML layer that payrouter does not know; `label` names the layer.
pub fn unknown_keys(dict: &Dict, label: &str) -> Vec<String> {
    let accounts = super::accounts::configured(&[], &[dict]);
    let gateway: Vec<String> = gateway_keys().iter().map(|k| k.to_string()).collect();
    let providers = registry::settings_keys();
    let mut top: Vec<String> = gateway.clone();
    top.extend(providers.iter().map(|(p, _)| p.to_string()));
    let mut problems = Vec::new();
    for (key, value) in dict {
        if gateway.contains(key) {
            continue;
        }
        let Some((provider, keys)) = providers.iter().find(|(p, _)| p == key) else {
            problems.push(format!(
                "{key}: unknown setting in {label}; {}",
                hint(key, &top)
            ));
            continue;
        };
        let Value::Dict(_, section) = value else {
            problems.push(format!("{key}: expected a [{provider}] section in {label}"));
            continue;
        };
        let known: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let named = accounts.iter().find(|a| a.provider() == *provider);
        if let (Some(named), Some(tables)) = (named, section.get(ACCOUNTS)) {
            problems.extend(named.unknown_keys(tables, label));
        }
        for inner in section.keys().filter(|k| !known.contains(k)) {
            problems.push(format!(
                "{provider}.{inner}: unknown setting in {label}; {}",
                hint(inner, &known)
            ));
        }
    }
    problems
}

/// "did you mean X?" for the closest known name, else the known names sharing its prefix.
fn hint(name: &str, known: &[String]) -> String {
    let closest = known
        .iter()
        .map(|k| {
            let score = strsim::normalized_damerau_levenshtein(
                &name.to_ascii_lowercase(),
                &k.to_ascii_lowercase(),
            );
            (score, k)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((score, best)) = closest {
        if score >= 0.6 {
            return format!("did you mean {best}?");
        }
    }
    let head = name.split('_').next().unwrap_or(name);
    let related: Vec<&str> = known
        .iter()
        .filter(|k| k.split('_').next() == Some(head))
        .map(String::as_str)
        .collect();
    if related.is_empty() {
        "see the configuration table in README.md".into()
    } else {
        format!("known: {}", related.join(", "))
    }
}

/// The variables Kubernetes gives every pod for each Service (`REDIS_SERVICE_HOST`,
/// `REDIS_PORT=tcp://10.0.0.7:6379`, `REDIS_PORT_6379_TCP_ADDR`, …): a Service named like a
/// prefix must not stop the start.
fn is_kubernetes_service_link(name: &str, value: &str) -> bool {
    if name.contains("_SERVICE_HOST") || name.contains("_SERVICE_PORT") {
        return true;
    }
    if name.ends_with("_PORT") {
        return ["tcp://", "udp://", "sctp://"]
            .iter()
            .any(|s| value.starts_with(s));
    }
    let Some((_, tail)) = name.split_once("_PORT_") else {
        return false;
    };
    let mut parts = tail.split('_');
    let number = parts.next().is_some_and(|p| p.parse::<u16>().is_ok());
    let protocol = parts
        .next()
        .is_some_and(|p| matches!(p, "TCP" | "UDP" | "SCTP"));
    let rest: Vec<&str> = parts.collect();
    number
        && protocol
        && (rest.is_empty() || matches!(rest.as_slice(), ["PROTO"] | ["PORT"] | ["ADDR"]))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Asserts that the unknown names are one line, which starts with `prefix`.
    #[track_caller]
    pub(in crate::config) fn assert_one_unknown(lines: &[String], prefix: &str) {
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with(prefix), "{lines:?}");
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_mistyped_variable_gets_a_suggestion() {
        let lines = unknown_env(
            &vars(&[
                ("HTTP_PRT", "18090"),
                ("FENA_TERMINAL_SECRT", "x"),
                ("HTTP_PORT", "1"),
                ("HOME", "/root"),
            ]),
            &[],
        );
        assert_eq!(
            lines,
            vec![
                "HTTP_PRT: unknown setting; did you mean HTTP_PORT?",
                "FENA_TERMINAL_SECRT: unknown setting; did you mean FENA_TERMINAL_SECRET?",
            ]
        );
    }

    #[test]
    fn account_variables_are_known_only_for_configured_merchants() {
        let env = vars(&[
            ("FENA_ACCOUNTS", "shop-a"),
            ("FENA_ACCOUNT_SHOP_A_TERMINAL_ID", "t"),
            ("FENA_ACCOUNT_SHOP_A_TERMINAL_SECRET", "s"),
            ("FENA_ACCOUNT_SHOP_B_TERMINAL_ID", "t"),
        ]);
        let accounts = super::super::accounts::configured(&env, &[]);
        let lines = unknown_env(&env, &accounts);
        assert_one_unknown(&lines, "FENA_ACCOUNT_SHOP_B_TERMINAL_ID: unknown setting");
    }

    #[test]
    fn kubernetes_service_links_are_not_settings() {
        let lines = unknown_env(
            &vars(&[
                ("REDIS_SERVICE_HOST", "10.0.0.7"),
                ("REDIS_SERVICE_PORT", "6379"),
                ("REDIS_PORT", "tcp://10.0.0.7:6379"),
                ("REDIS_PORT_6379_TCP", "tcp://10.0.0.7:6379"),
                ("REDIS_PORT_6379_TCP_ADDR", "10.0.0.7"),
                ("REDIS_PORT_6379_TCP_PROTO", "tcp"),
            ]),
            &[],
        );
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(unknown_env(&vars(&[("REDIS_PORT", "6379")]), &[]).len(), 1);
    }

    #[test]
    fn every_provider_setting_and_gateway_key_is_known() {
        assert!(gateway_keys().contains(&"http_port"));
        assert!(gateway_keys().contains(&"dead_letter_retention_days"));
        let env = known_env();
        for name in [
            "FENA_BASE_URL",
            "FEENNEX_SECRET_KEY",
            "STORE",
            "REDIS_KEY_PREFIX",
        ] {
            assert!(env.contains(&name.to_string()), "{name}");
        }
    }

    /// `#[serde(flatten)]` in a provider's `Settings` would hide its keys from introspection
    /// (serde then reads a map, not a struct), and every one of its variables would be refused.
    #[test]
    fn every_provider_settings_type_lists_its_keys() {
        for (provider, keys) in registry::settings_keys() {
            assert!(keys.contains(&"base_url"), "{provider}: {keys:?}");
        }
    }

    #[test]
    fn secrets_are_recognised_by_name() {
        for key in [
            "FENA_TERMINAL_SECRET",
            "FEENNEX_SECRET_KEY",
            "INBOUND_API_TOKEN",
            "REDIS_URL",
        ] {
            assert!(is_secret(key), "{key}");
        }
        for key in ["REDIS_KEY_PREFIX", "FENA_TERMINAL_ID", "HTTP_PORT"] {
            assert!(!is_secret(key), "{key}");
        }
    }
}
