//! The provider registry: the one place where the gateway names providers. Adding a provider
//! is adding its crate and one line to `registered`.

use figment::Figment;
use payrouter_provider::{Provider, ProviderContext, ProviderFactory};
use std::sync::Arc;

use crate::config::describe;
use crate::engine::Providers;

type Build = fn(&Figment, &ProviderContext) -> Result<Arc<dyn Provider>, Vec<String>>;

fn registered() -> Vec<(&'static str, Build)> {
    vec![
        entry::<payrouter_fena::Fena>(),
        entry::<payrouter_feennex::Feennex>(),
    ]
}

fn entry<F: ProviderFactory>() -> (&'static str, Build) {
    (F::NAME, build::<F>)
}

fn build<F: ProviderFactory>(
    fig: &Figment,
    ctx: &ProviderContext,
) -> Result<Arc<dyn Provider>, Vec<String>> {
    let settings: F::Settings = fig.focus(F::NAME).extract().map_err(|e| {
        describe(e)
            .into_iter()
            .map(|line| format!("{}_{line}", F::NAME.to_ascii_uppercase()))
            .collect::<Vec<_>>()
    })?;
    F::build(settings, ctx)
}

pub fn names() -> Vec<&'static str> {
    registered().into_iter().map(|(name, _)| name).collect()
}

/// Builds the enabled providers; all problems of all providers are reported together.
pub fn build_enabled(
    fig: &Figment,
    enabled: &[String],
    ctx: &ProviderContext,
) -> Result<Providers, Vec<String>> {
    let mut providers = Providers::new();
    let mut problems = Vec::new();
    for (name, build) in registered() {
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
