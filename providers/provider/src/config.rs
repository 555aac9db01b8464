//! Lenient readers for configuration values. Environment variables arrive as text that the
//! configuration layer may have parsed as a number (`FENA_TERMINAL_ID=1234`); a setting that
//! is text must accept both.

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

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
}
