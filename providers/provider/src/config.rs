//! A provider's settings: lenient readers for their values, and the checks every adapter runs
//! on them before it is built. Environment variables arrive as text that the configuration
//! layer may have parsed as a number (`FENA_TERMINAL_ID=1234`); a setting that is text must
//! accept both. Checks collect every problem, one line each naming the key, so a start
//! reports them all at once.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Bool(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Unsigned(i) => i.to_string(),
            Scalar::Signed(i) => i.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// An optional text setting; empty text counts as unset.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?
        .map(Scalar::into_string)
        .filter(|s| !s.trim().is_empty()))
}

/// An optional secret setting; empty text counts as unset.
pub fn opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(opt_string(d)?.map(SecretString::from))
}

/// The default time allowed to connect to a provider, in milliseconds.
pub fn default_connect_timeout_ms() -> u64 {
    3_000
}

/// The default time allowed to a provider call, in milliseconds.
pub fn default_timeout_ms() -> u64 {
    15_000
}

/// The problems found in one provider's settings, each line starting with the full key name
/// (`FENA_TIMEOUT_MS: must be positive`).
pub struct Checks {
    provider: &'static str,
    prefix: String,
    problems: Vec<String>,
}

impl Checks {
    /// Checks for the provider called `provider`, whose keys are `PROVIDER_*`.
    pub fn new(provider: &'static str) -> Self {
        Checks {
            provider,
            prefix: provider.to_ascii_uppercase(),
            problems: Vec::new(),
        }
    }

    /// Records a problem with the key `PROVIDER_{key}` (`key` upper case, e.g. `SHOP_ID`).
    pub fn problem(&mut self, key: &str, message: impl std::fmt::Display) {
        self.problems
            .push(format!("{}_{key}: {message}", self.prefix));
    }

    /// A setting the provider cannot work without.
    pub fn required<T>(&mut self, key: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            let provider = self.provider;
            self.problem(key, format_args!("required while {provider} is enabled"));
        }
        value
    }

    /// A secret the provider cannot work without; blank counts as missing.
    pub fn required_secret(
        &mut self,
        key: &str,
        value: Option<SecretString>,
    ) -> Option<SecretString> {
        let value = value.filter(|s| !s.expose_secret().trim().is_empty());
        self.required(key, value)
    }

    /// An absolute http(s) URL, returned without its trailing `/` so paths can be appended.
    pub fn base_url(&mut self, key: &str, value: &str) -> Option<String> {
        match reqwest::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                Some(value.trim_end_matches('/').to_string())
            }
            Ok(_) => {
                self.problem(key, format_args!("'{value}' is not an http(s) URL"));
                None
            }
            Err(e) => {
                self.problem(key, format_args!("invalid URL '{value}' ({e})"));
                None
            }
        }
    }

    /// A timeout in milliseconds, which must be positive.
    pub fn timeout(&mut self, key: &str, millis: u64) -> Duration {
        if millis == 0 {
            self.problem(key, "must be a positive number of milliseconds");
        }
        Duration::from_millis(millis)
    }

    /// Checks that one call (`CONNECT_TIMEOUT_MS` + `TIMEOUT_MS`) ends before the gateway's
    /// route budget: that budget is the lease of a pay reservation, and a lease that ran out
    /// while the call was still in flight would let a retry create a second payment.
    pub fn within_route(
        &mut self,
        ctx: &crate::ProviderContext,
        connect: Duration,
        request: Duration,
    ) {
        let Some(route) = ctx.route_timeout else {
            return;
        };
        if connect + request >= route {
            let (prefix, provider) = (self.prefix.clone(), self.provider);
            self.problem(
                "TIMEOUT_MS",
                format_args!(
                    "{prefix}_CONNECT_TIMEOUT_MS + {prefix}_TIMEOUT_MS ({} ms) must be less than \
                     ROUTE_TIMEOUT_MS ({} ms), the lease of a pay reservation, so that the lease \
                     outlives the {} call",
                    (connect + request).as_millis(),
                    route.as_millis(),
                    provider
                ),
            );
        }
    }

    /// What was built from the checked settings (None when one was missing), or every
    /// problem found.
    pub fn finish<T>(self, built: Option<T>) -> Result<T, Vec<String>> {
        match built {
            Some(value) if self.problems.is_empty() => Ok(value),
            None if self.problems.is_empty() => {
                Err(vec![format!("{}: incomplete settings", self.prefix)])
            }
            _ => Err(self.problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::{Format, Toml};
    use figment::Figment;
    use secrecy::ExposeSecret;

    #[derive(Deserialize)]
    struct Section {
        #[serde(default, deserialize_with = "opt_string")]
        id: Option<String>,
        #[serde(default, deserialize_with = "opt_secret")]
        secret: Option<SecretString>,
    }

    #[test]
    fn numbers_and_text_both_read_as_text() {
        for (toml, id, secret) in [
            ("id = 5\nsecret = 123456", "5", "123456"),
            ("id = \"abc\"\nsecret = \"s\"", "abc", "s"),
            ("id = -3\nsecret = true", "-3", "true"),
        ] {
            let s: Section = Figment::new().merge(Toml::string(toml)).extract().unwrap();
            assert_eq!(s.id.as_deref(), Some(id));
            assert_eq!(s.secret.unwrap().expose_secret(), secret);
        }
        let empty: Section = Figment::new()
            .merge(Toml::string("id = \"  \""))
            .extract()
            .unwrap();
        assert!(empty.id.is_none() && empty.secret.is_none());
    }

    #[test]
    fn checks_collect_every_problem_with_its_key() {
        let mut checks = Checks::new("fena");
        assert_eq!(checks.required::<String>("TERMINAL_ID", None), None);
        assert!(checks
            .required_secret("TERMINAL_SECRET", Some(SecretString::from(" ")))
            .is_none());
        assert_eq!(checks.base_url("BASE_URL", "ftp://x.example"), None);
        assert_eq!(checks.base_url("BASE_URL", "not a url"), None);
        assert_eq!(checks.timeout("TIMEOUT_MS", 0), Duration::ZERO);
        let problems = checks.finish(Some(())).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert_eq!(
            problems[0],
            "FENA_TERMINAL_ID: required while fena is enabled"
        );
        assert_eq!(
            problems[1],
            "FENA_TERMINAL_SECRET: required while fena is enabled"
        );
        assert_eq!(
            problems[2],
            "FENA_BASE_URL: 'ftp://x.example' is not an http(s) URL"
        );
        assert!(problems[3].starts_with("FENA_BASE_URL: invalid URL 'not a url'"));
        assert_eq!(
            problems[4],
            "FENA_TIMEOUT_MS: must be a positive number of milliseconds"
        );
    }

    #[test]
    fn good_settings_pass() {
        let mut checks = Checks::new("feennex");
        assert_eq!(
            checks
                .base_url("BASE_URL", "https://core.feennex.com/")
                .as_deref(),
            Some("https://core.feennex.com")
        );
        assert_eq!(checks.required("SHOP_ID", Some(5)), Some(5));
        assert_eq!(
            checks.timeout("TIMEOUT_MS", 1500),
            Duration::from_millis(1500)
        );
        assert_eq!(checks.finish(Some(7)), Ok(7));
    }
}
