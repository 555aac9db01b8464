//! The provider registry: the one place where the gateway names providers. Adding a provider
//! is adding its crate and one line to `registered`; everything else (building the enabled
//! ones, the default `ENABLED_PROVIDERS`, the offline mode's simulators) reads this list.

use figment::Figment;
use payrouter_provider::sim::Simulated;
use payrouter_provider::{CommandRun, Provider, ProviderContext, ProviderFactory, SettingsTable};
use std::sync::Arc;

use crate::config::extract_all;
use crate::engine::Providers;

type Build = fn(&Figment, &ProviderContext) -> Result<Arc<dyn Provider>, Vec<String>>;
/// The keys of a provider's settings section, read from its `Settings` type.
type Keys = fn() -> &'static [&'static str];
/// Runs a provider's subcommand with its settings read from the configuration.
type Run = fn(&Figment, ProviderContext, clap::ArgMatches) -> Result<CommandRun, Vec<String>>;

/// What the gateway knows of one provider crate.
struct Entry {
    name: &'static str,
    build: Build,
    keys: Keys,
    /// The keys of one named merchant account (empty: the provider has one account).
    account_keys: Keys,
    simulated: Option<Simulated>,
    tables: fn() -> Vec<SettingsTable>,
    command: fn() -> Option<clap::Command>,
    run: Run,
}

fn registered() -> [Entry; 2] {
    [
        entry::<payrouter_fena::Fena>(),
        entry::<payrouter_feennex::Feennex>(),
    ]
}

fn entry<F: ProviderFactory>() -> Entry {
    Entry {
        name: F::NAME,
        build: build::<F>,
        keys: serde_aux::serde_introspection::serde_introspect::<F::Settings>,
        account_keys: F::account_keys,
        simulated: F::SIMULATED,
        tables: F::settings_tables,
        command: F::command,
        run: run::<F>,
    }
}

fn run<F: ProviderFactory>(
    fig: &Figment,
    ctx: ProviderContext,
    matches: clap::ArgMatches,
) -> Result<CommandRun, Vec<String>> {
    match extract_all::<F::Settings>(fig, F::NAME) {
        (Some(settings), problems) if problems.is_empty() => {
            Ok(F::run_command(settings, ctx, matches))
        }
        (_, problems) => Err(problems),
    }
}

fn build<F: ProviderFactory>(
    fig: &Figment,
    ctx: &ProviderContext,
) -> Result<Arc<dyn Provider>, Vec<String>> {
    let (settings, mut problems) = extract_all::<F::Settings>(fig, F::NAME);
    match settings.map(|s| F::build(s, ctx)) {
        Some(Ok(provider)) if problems.is_empty() => Ok(provider),
        Some(Err(more)) => {
            problems.extend(more);
            Err(problems)
        }
        _ => Err(problems),
    }
}

/// Every registered provider, in registration order: also the default `ENABLED_PROVIDERS`.
pub fn names() -> Vec<&'static str> {
    registered().into_iter().map(|e| e.name).collect()
}

/// Each provider's name and the keys of its settings section, for refusing unknown names.
pub fn settings_keys() -> Vec<(&'static str, &'static [&'static str])> {
    registered()
        .into_iter()
        .map(|e| (e.name, (e.keys)()))
        .collect()
}

/// Each provider's name and its tables of settings (`[fena.partner_paths]`).
pub fn settings_tables() -> Vec<(&'static str, Vec<SettingsTable>)> {
    registered()
        .into_iter()
        .map(|e| (e.name, (e.tables)()))
        .collect()
}

/// Each provider's name and the keys of one of its named merchant accounts (empty when it
/// has a single account).
pub fn account_keys() -> Vec<(&'static str, &'static [&'static str])> {
    registered()
        .into_iter()
        .map(|e| (e.name, (e.account_keys)()))
        .collect()
}

/// The providers that have a simulator, with its hooks, in registration order.
pub fn simulated() -> Vec<(&'static str, Simulated)> {
    registered()
        .into_iter()
        .filter_map(|e| Some((e.name, e.simulated?)))
        .collect()
}

/// The providers' own subcommands (`payrouter fena setup`), named after their provider.
pub fn commands() -> Vec<clap::Command> {
    registered()
        .into_iter()
        .filter_map(|e| (e.command)().map(|c| c.name(e.name)))
        .collect()
}

/// Runs the subcommand of the provider `name` with `matches`; None when no provider by that
/// name has one. Its settings come from `fig`, as configured (never pointed at a simulator).
pub fn run_command(
    name: &str,
    fig: &Figment,
    ctx: ProviderContext,
    matches: clap::ArgMatches,
) -> Option<Result<CommandRun, Vec<String>>> {
    let entry = registered()
        .into_iter()
        .find(|e| e.name == name && (e.command)().is_some())?;
    Some((entry.run)(fig, ctx, matches))
}

/// Builds the enabled providers; all problems of all providers are reported together.
pub fn build_enabled(
    fig: &Figment,
    enabled: &[String],
    ctx: &ProviderContext,
) -> Result<Providers, Vec<String>> {
    let mut providers = Providers::new();
    let mut problems = Vec::new();
    for Entry { name, build, .. } in registered() {
        if !enabled.iter().any(|e| e == name) {
            continue;
        }
        match build(fig, ctx) {
            Ok(p) => {
                providers.insert(name, p);
            }
            Err(lines) => problems.extend(lines),
        }
    }
    if problems.is_empty() {
        Ok(providers)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_is_named_once_and_simulated() {
        let names = names();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique);
        let simulated: Vec<_> = simulated().into_iter().map(|(name, _)| name).collect();
        assert_eq!(simulated, names, "the offline mode covers every provider");
    }
}
