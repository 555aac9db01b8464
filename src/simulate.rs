//! The offline mode: every provider's simulator on one port, and the configuration that points
//! the providers at them. The demo profile starts them in-process; `payrouter simulate` runs
//! them alone. The production profile never starts them. Which providers have a simulator, and
//! how it is built and reached, comes from the registry: nothing here names a provider.

use axum::Router;
use figment::providers::Serialized;
use figment::Figment;
use serde_json::{Map, Value};

use crate::config::accounts::{env_spelling, ACCOUNTS};
use crate::registry;

/// Where the simulator of `name` is reachable when all of them share `sim_base`.
fn base_of(sim_base: &str, name: &str) -> String {
    format!("{}/{name}", sim_base.trim_end_matches('/'))
}

/// Every simulator, nested under `/{provider}`. `sim_base` is where this router is reachable;
/// `router_base` is payrouter's URL, where simulators that need one send their callbacks.
pub fn router(sim_base: &str, router_base: &str) -> Router {
    registry::simulated()
        .into_iter()
        .fold(Router::new(), |app, (name, sim)| {
            app.nest(
                &format!("/{name}"),
                (sim.router)(&base_of(sim_base, name), router_base),
            )
        })
}

/// Each provider's settings pointing it at its simulator under `sim_base`, by provider name.
fn settings(sim_base: &str) -> Vec<(&'static str, Map<String, Value>)> {
    registry::simulated()
        .into_iter()
        .map(|(name, sim)| (name, (sim.settings)(&base_of(sim_base, name))))
        .collect()
}

/// `fig` with every provider pointed at the simulators at `sim_base`.
pub fn point_providers_at(fig: Figment, sim_base: &str) -> Figment {
    let sections: Map<String, Value> = settings(sim_base)
        .into_iter()
        .map(|(name, section)| (name.to_string(), Value::Object(section)))
        .collect();
    fig.merge(Serialized::defaults(Value::Object(sections)))
}

/// The environment that points a separately started payrouter at the simulators at
/// `sim_base`: one line per provider, `NAME_KEY=value …`.
pub fn environment(sim_base: &str) -> String {
    settings(sim_base)
        .into_iter()
        .map(|(name, section)| {
            let prefix = name.to_ascii_uppercase();
            let mut pairs = Vec::new();
            for (key, value) in &section {
                // Named accounts are a list of names and one variable per account setting.
                if let (Value::Object(accounts), ACCOUNTS) = (value, key.as_str()) {
                    let names: Vec<&str> = accounts.keys().map(String::as_str).collect();
                    pairs.push(format!("{prefix}_ACCOUNTS={}", names.join(",")));
                    for (name, account) in accounts {
                        let stem = format!("{prefix}_ACCOUNT_{}", env_spelling(name));
                        for (k, v) in account.as_object().into_iter().flatten() {
                            pairs.push(format!("{stem}_{}={}", k.to_ascii_uppercase(), text(v)));
                        }
                    }
                    continue;
                }
                pairs.push(format!(
                    "{prefix}_{}={}",
                    key.to_ascii_uppercase(),
                    text(value)
                ));
            }
            format!("  {}", pairs.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A setting's value as an environment variable holds it.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What `payrouter simulate` prints at start: where the simulators are, and how to point
/// payrouter at them.
pub fn pointing(sim_base: &str, router_base: &str) -> String {
    let at: Vec<String> = registry::simulated()
        .into_iter()
        .map(|(name, _)| base_of(sim_base, name))
        .collect();
    format!(
        "simulators on {}; webhooks go to {router_base}\npoint payrouter at them with:\n{}",
        at.join(" and "),
        environment(sim_base)
    )
}

/// What a newcomer sees at start: where things are and how to make a first payment.
pub fn banner(router_base: &str, sim_base: &str, notifications_logged: bool) -> String {
    let sink = if notifications_logged {
        "Notifications (what PAYMENT_CALLBACK_URL would receive) are printed in this log."
    } else {
        "Notifications go to PAYMENT_CALLBACK_URL."
    };
    let simulated = registry::simulated();
    let at: Vec<String> = simulated
        .iter()
        .map(|(name, _)| base_of(sim_base, name))
        .collect();
    let first = simulated
        .first()
        .map(|(name, sim)| {
            format!(
                "Make a first payment, then open its redirectToUrl and press Pay:\n\
                 \x20 curl -s {router_base}/v3/{name}/pay -H 'content-type: application/json' \\\n\
                 \x20      -d '{}'\n",
                sim.example_pay
            )
        })
        .unwrap_or_default();
    format!(
        "\npayrouter is running against simulated providers: nothing leaves this machine.\n\
         \x20 router      {router_base}   (routes: {router_base}/openapi.json)\n\
         \x20 simulators  {}\n\
         {sink}\n\n{first}",
        at.join("  ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_is_pointed_at_its_simulator() {
        let fig = point_providers_at(Figment::new(), "http://127.0.0.1:9/");
        for name in registry::names() {
            let base: String = fig.extract_inner(&format!("{name}.base_url")).unwrap();
            assert_eq!(base, format!("http://127.0.0.1:9/{name}"));
        }
    }

    #[test]
    fn the_environment_names_each_setting_by_its_variable() {
        let text = pointing("http://localhost:8081", "http://localhost:8080");
        assert!(
            text.contains("webhooks go to http://localhost:8080"),
            "{text}"
        );
        for name in registry::names() {
            let upper = name.to_ascii_uppercase();
            assert!(
                text.contains(&format!("{upper}_BASE_URL=http://localhost:8081/{name}")),
                "{text}"
            );
        }
        assert_eq!(
            environment("http://x").lines().count(),
            registry::names().len()
        );
        // Named accounts are spelled as their variables, never as a nested value.
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn the_banner_shows_a_first_payment() {
        let text = banner("http://localhost:8080", "http://localhost:8081", true);
        assert!(text.contains("simulated providers"), "{text}");
        assert!(text.contains("curl -s http://localhost:8080/v3/"), "{text}");
        assert!(text.contains("printed in this log"), "{text}");
    }
}
