//! Typed configuration values: the enumerations (read case-insensitively), lists, and the
//! checks of URLs, log filters and key prefixes, each saying what is expected.

use payrouter_provider::SecretString;
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

/// Declares a configuration enumeration read case-insensitively (`post` = `POST`) and written
/// in its canonical spelling.
macro_rules! enumeration {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                $(if text.trim().eq_ignore_ascii_case($text) {
                    return Ok($name::$variant);
                })+
                Err(format!(
                    "expected {}, found '{text}'",
                    [$($text),+].join(" or ")
                ))
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> &'static str {
                value.as_str()
            }
        }
    };
}

enumeration! {
    /// How notifications are sent: the Payment Status JSON by POST, or a bodiless GET ping.
    CallbackMethod { Post = "POST", Get = "GET" }
}

enumeration! {
    /// Log lines as JSON objects or for people.
    LogFormat { Json = "json", Pretty = "pretty" }
}

enumeration! {
    /// Where state lives: Redis (shared by replicas) or the embedded, per-process store.
    StoreKind { Redis = "redis", Memory = "memory" }
}

/// A list given as a TOML array or as comma-separated text, lower-cased.
pub fn list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    let items = match ListOrText::deserialize(d)? {
        ListOrText::List(l) => l,
        ListOrText::Text(t) => t.split(',').map(str::to_string).collect(),
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect())
}

/// Writes a secret as a mark that one is set, never its value.
pub fn redacted<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_str(REDACTED),
        None => s.serialize_none(),
    }
}

/// What `config check` shows in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// An absolute http(s) URL with a host.
pub fn http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text)
        .map_err(|e| format!("is an invalid URL ({e}); expected http(s)://host[:port][/path]"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(
            "is an invalid URL for this setting; expected http(s)://host[:port][/path]".into(),
        );
    }
    Ok(url)
}

/// A Redis connection URL; its text is never repeated (it may hold a password).
pub fn redis_url(secret: &SecretString) -> Result<(), String> {
    use payrouter_provider::ExposeSecret;
    const EXPECTED: &str =
        "expected redis://[user:password@]host[:port][/db], rediss://… or unix:///path";
    match Url::parse(secret.expose_secret()) {
        Err(e) => Err(format!("invalid URL ({e}); {EXPECTED}")),
        Ok(url) => match url.scheme() {
            "redis" | "rediss" if url.host().is_some() => Ok(()),
            "unix" | "redis+unix" => Ok(()),
            _ => Err(format!("invalid URL for Redis; {EXPECTED}")),
        },
    }
}

const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

/// A tracing filter (`info`, `payrouter=debug,info`). A bare word that is not a level but
/// close to one is taken for a misspelt level, as tracing would read it as a crate name.
pub fn log_filter(text: &str) -> Result<(), String> {
    const EXPECTED: &str = "expected a level (error, warn, info, debug, trace) or a tracing filter such as payrouter=debug,info";
    tracing_subscriber::EnvFilter::builder()
        .parse(text)
        .map_err(|e| format!("is not a tracing filter ({e}); {EXPECTED}"))?;
    for word in text.split(',').map(str::trim) {
        let bare = word.chars().all(|c| c.is_ascii_alphabetic());
        if !bare || LEVELS.iter().any(|l| l.eq_ignore_ascii_case(word)) {
            continue;
        }
        if let Some(level) = LEVELS
            .iter()
            .find(|l| strsim::levenshtein(l, &word.to_ascii_lowercase()) <= 2)
        {
            return Err(format!("is not a level; did you mean {level}?"));
        }
    }
    Ok(())
}

/// A Redis key prefix: 1 to 64 of letters, digits, `-`, `_`, `.` and `:`. Braces are kept out
/// because Redis Cluster reads `{…}` as a hash tag.
pub fn key_prefix(text: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(
            "is not a key prefix; expected 1 to 64 of letters, digits, '-', '_', '.' and ':'"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerations_ignore_case_and_name_the_choices() {
        assert_eq!(
            CallbackMethod::try_from("post".to_string()),
            Ok(CallbackMethod::Post)
        );
        assert_eq!(LogFormat::try_from("JSON".to_string()), Ok(LogFormat::Json));
        assert_eq!(
            StoreKind::try_from(" Memory ".to_string()),
            Ok(StoreKind::Memory)
        );
        assert_eq!(
            StoreKind::try_from("disk".to_string()),
            Err("expected redis or memory, found 'disk'".to_string())
        );
    }

    #[test]
    fn log_filters_are_checked() {
        assert!(log_filter("info").is_ok());
        assert!(log_filter("payrouter=debug,info").is_ok());
        assert!(log_filter("payrouter=loud").is_err());
        assert!(log_filter("infoo")
            .unwrap_err()
            .contains("did you mean info?"));
    }

    #[test]
    fn urls_are_parsed() {
        assert!(http_url("https://pgm.example/v3/cb").is_ok());
        assert!(http_url("not-a-url").unwrap_err().contains("invalid URL"));
        assert!(http_url("ftp://x.example/").is_err());
        assert!(redis_url(&SecretString::from("redis://:pw@localhost:6379/0")).is_ok());
        let err = redis_url(&SecretString::from("foo")).unwrap_err();
        assert!(err.contains("invalid URL") && !err.contains("foo"), "{err}");
    }

    #[test]
    fn key_prefixes_are_checked() {
        assert!(key_prefix("payrouter").is_ok());
        assert!(key_prefix("staging:payrouter").is_ok());
        assert!(key_prefix("").is_err());
        assert!(key_prefix("{tag}").is_err());
    }
}
