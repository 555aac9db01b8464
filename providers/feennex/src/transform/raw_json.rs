//! Reading JSON values exactly as Feennex sent them: object members in received order and
//! number tokens verbatim, so that amounts are parsed as decimals (never floats) and callback
//! signatures are checked over the very text that was signed.

use payrouter_provider::{Currency, Money, ProviderError};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

/// An answer that cannot be used: Feennex is treated as unavailable.
pub(super) fn unusable(what: impl fmt::Display) -> ProviderError {
    ProviderError::Unavailable(format!("Feennex sent an unusable answer: {what}"))
}

/// A JSON object's members in received order, values untouched (number tokens verbatim).
pub(super) struct RawEntries(pub(super) Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawEntries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = RawEntries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEntries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(RawEntries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// One raw JSON value, classified without converting numbers.
pub(super) enum Scalar {
    Null,
    /// A JSON string, unescaped.
    Text(String),
    /// A number, `true` or `false`, as its token.
    Token(String),
    /// An object or array, as its JSON text.
    Composite(String),
}

pub(super) fn scalar(raw: &RawValue) -> Scalar {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<String>(text) {
            Ok(s) => Scalar::Text(s),
            // A RawValue is valid JSON, so a leading quote is always a valid string.
            Err(_) => Scalar::Composite(text.to_string()),
        },
        Some(b'{') | Some(b'[') => Scalar::Composite(text.to_string()),
        Some(b'n') => Scalar::Null,
        _ => Scalar::Token(text.to_string()),
    }
}

/// A string or number value as text; null as None.
pub(super) fn text_of(raw: &RawValue, field: &str) -> Result<Option<String>, ProviderError> {
    match scalar(raw) {
        Scalar::Null => Ok(None),
        Scalar::Text(s) => Ok(Some(s)),
        Scalar::Token(t) if t != "true" && t != "false" => Ok(Some(t)),
        Scalar::Token(_) | Scalar::Composite(_) => {
            Err(unusable(format_args!("{field} is not a string or number")))
        }
    }
}

pub(super) fn integer_of(raw: &RawValue, field: &str) -> Result<i64, ProviderError> {
    optional_integer(Some(raw), field)?.ok_or_else(|| unusable(format_args!("{field} is missing")))
}

/// An integer sent as a number or a string of digits; absent or null is None.
pub(super) fn optional_integer(
    raw: Option<&RawValue>,
    field: &str,
) -> Result<Option<i64>, ProviderError> {
    let Some(text) = raw.map(|r| text_of(r, field)).transpose()?.flatten() else {
        return Ok(None);
    };
    text.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|_| unusable(format_args!("{field} is not an integer")))
}

/// A decimal amount parsed from its JSON text (a number token or a string), never via floats.
pub(super) fn money_of(
    raw: Option<&RawValue>,
    currency: Currency,
    field: &str,
) -> Result<Option<Money>, ProviderError> {
    let Some(text) = raw.map(|r| text_of(r, field)).transpose()?.flatten() else {
        return Ok(None);
    };
    Money::from_decimal_str(&text, currency)
        .map(Some)
        .map_err(|e| unusable(format_args!("{field}: {e}")))
}

pub(super) fn currency_of(numeric: i64) -> Option<Currency> {
    let numeric = u16::try_from(numeric).ok()?;
    let iso = iso_currency::Currency::from_numeric(numeric)?;
    Currency::from_code(iso.code())
}
