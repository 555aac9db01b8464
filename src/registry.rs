//! The provider registry: the one place where the gateway names providers. Adding a provider
//! is adding its crate and one line to `registered`.

use figment::Figment;
use payrouter_provider::{Provider, ProviderContext, ProviderFactory};
use std::sync::Arc;

use crate::config::extract_all;
use crate::engine::Providers;

type Build = fn(&Figment, &ProviderContext) -> Result<Arc<dyn Provider>, Vec<String>>;
/// The keys of a provider's settings section, read from its `Settings` type.
type Keys = fn() -> &'static [&'static str];

fn registered() -> Vec<(&'static str, Build, Keys)> {
    vec![
        entry::<payrouter_fena::Fena>(),
        entry::<payrouter_feennex::Feennex>(),
    ]
}

fn entry<F: ProviderFactory>() -> (&'static str, Build, Keys) {
    (
        F::NAME,
        build::<F>,
        serde_aux::serde_introspection::serde_introspect::<F::Settings>,
    )
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

pub fn names() -> Vec<&'static str> {
    registered().into_iter().map(|(name, _, _)| name).collect()
}

/// Each provider's name and the keys of its settings section, for refusing unknown names.
pub fn settings_keys() -> Vec<(&'static str, &'static [&'static str])> {
    registered()
        .into_iter()
        .map(|(name, _, keys)| (name, keys()))
        .collect()
}

/// Builds the enabled providers; all problems of all providers are reported together.
pub fn build_enabled(
    fig: &Figment,
    enabled: &[String],
    ctx: &ProviderContext,
) -> Result<Providers, Vec<String>> {
    let mut providers = Providers::new();
    let mut problems = Vec::new();
    for (name, build, _) in registered() {
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
