//! The validated field types of request bodies and queries. Each checks its value while it is
//! deserialized and describes itself to the OpenAPI document, so validation and documentation
//! come from one definition and cannot drift.

use payrouter_provider::{Currency, Money};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// What a required field expects, by its wire name: said when the field is missing (serde
/// reports only the name then).
pub fn expectation(field: &str) -> Option<&'static str> {
    Some(match field {
        "amount" => Amount::EXPECTED,
        "currency" => CurrencyCode::EXPECTED,
        "shopTransactionId" => ShopTransactionId::EXPECTED,
        "paymentId" => PaymentId::EXPECTED,
        "token" => SubscriptionToken::EXPECTED,
        "intervalCount" => Count::EXPECTED,
        "interval" => "one of DAY, WEEK, MONTH, YEAR",
        "subscriptionInfo" => "an object",
        _ => return None,
    })
}

/// A validated newtype, written once: the struct, what it expects (`EXPECTED`, said in every
/// refusal), its Deserialize (a visitor that asks the deserializer for `$deserialize` and
/// takes the values its `visit_*` methods are given, each answering `Result<Self, E>`) and
/// its OpenAPI schema (an `ObjectBuilder` given the calls after `schema`).
macro_rules! validated {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($inner:ty) by $deserialize:ident,
        expecting $expected:literal;
        $(fn $visit:ident($self:ident, $v:ident: $t:ty) $body:block)+
        schema $($schema:tt)*
    ) => {
        $(#[$meta])*
        pub struct $name($inner);

        impl $name {
            const EXPECTED: &'static str = $expected;
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($name::EXPECTED)
                    }
                    $(fn $visit<E: de::Error>($self, $v: $t) -> Result<$name, E> $body)+
                }
                d.$deserialize(V)
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()$($schema)*.into()
            }
        }
        impl ToSchema for $name {}
    };
}

validated! {
    /// A positive amount in the currency's minor unit (1299 = 12.99 GBP).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Amount(i64) by deserialize_i64,
    expecting "a positive integer in minor units (1299 = 12.99)";
    fn visit_i64(self, v: i64) {
        if v > 0 {
            Ok(Amount(v))
        } else {
            Err(E::custom(format_args!("must be {}", Amount::EXPECTED)))
        }
    }
    fn visit_u64(self, v: u64) {
        let v = i64::try_from(v)
            .map_err(|_| E::custom(format_args!("is too large (at most {})", i64::MAX)))?;
        self.visit_i64(v)
    }
    schema
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .description(Some(
            "Integer amount in the currency's minor unit (1299 = 12.99 GBP); never a \
             float or a string. Capped per provider (see the provider's capabilities).",
        ))
        .examples([1299])
}

impl Amount {
    pub fn minor(self) -> i64 {
        self.0
    }

    pub fn with(self, currency: CurrencyCode) -> Money {
        Money::new(self.0, currency.0)
    }
}

validated! {
    /// An ISO 4217 alphabetic code with a defined minor unit.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CurrencyCode(Currency) by deserialize_str,
    expecting "an ISO 4217 alphabetic code such as GBP";
    fn visit_str(self, v: &str) {
        Currency::from_code(v).map(CurrencyCode).ok_or_else(|| {
            E::custom(format_args!(
                "'{v}' is not known; must be {}",
                CurrencyCode::EXPECTED
            ))
        })
    }
    schema
        .schema_type(Type::String)
        .pattern(Some("^[A-Z]{3}$"))
        .description(Some(
            "ISO 4217 alphabetic code; each provider accepts the currencies its \
             capabilities list",
        ))
        .examples(["GBP"])
}

impl CurrencyCode {
    pub fn code(self) -> &'static str {
        self.0.code()
    }
}

/// Accepts a string of 1..=max characters without control characters.
struct TextVisitor {
    max: usize,
    expected: &'static str,
}

impl Visitor<'_> for TextVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expected)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if !v.is_empty() && v.chars().count() <= self.max && !v.chars().any(char::is_control) {
            Ok(v.to_string())
        } else {
            Err(E::custom(format_args!("must be {}", self.expected)))
        }
    }
}

/// A text field: a newtype over a validated `String`, with its schema.
macro_rules! text_field {
    ($name:ident, $max:expr, $expected:expr, $about:expr) => {
        #[doc = $about]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            const EXPECTED: &'static str = $expected;

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(TextVisitor {
                    max: $max,
                    expected: Self::EXPECTED,
                })
                .map($name)
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some($max))
                    .description(Some($about))
                    .into()
            }
        }
        impl ToSchema for $name {}
    };
}

text_field!(
    ShopTransactionId,
    255,
    "a string of 1-255 characters, without control characters",
    "The merchant's id of the payment (1-255 characters): the idempotency key."
);
text_field!(
    PaymentId,
    255,
    "the paymentId answered by pay (1-255 characters)",
    "The paymentId answered by pay."
);
text_field!(
    SubscriptionToken,
    255,
    "the subscriptionToken from /subscription/start",
    "The subscriptionToken answered by /subscription/start."
);

validated! {
    /// An absolute http(s) URL.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct HttpUrl(String) by deserialize_str,
    expecting "an absolute http(s) URL";
    fn visit_str(self, v: &str) {
        match reqwest::Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Ok(HttpUrl(v.to_string()))
            }
            _ => Err(E::custom(format_args!("must be {}", HttpUrl::EXPECTED))),
        }
    }
    schema
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uri".into())))
        .description(Some("An absolute http or https URL"))
}

impl HttpUrl {
    pub fn into_string(self) -> String {
        self.0
    }
}

validated! {
    /// A whole number of at least 1 (subscription counts).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Count(u32) by deserialize_u64,
    expecting "a whole number of at least 1";
    fn visit_u64(self, v: u64) {
        u32::try_from(v)
            .ok()
            .filter(|n| *n >= 1)
            .map(Count)
            .ok_or_else(|| E::custom(format_args!("must be {}", Count::EXPECTED)))
    }
    fn visit_i64(self, v: i64) {
        u64::try_from(v)
            .map_err(|_| E::custom(format_args!("must be {}", Count::EXPECTED)))
            .and_then(|v| self.visit_u64(v))
    }
    schema
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
        .minimum(Some(1))
        .maximum(Some(u32::MAX))
}

impl Count {
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Provider-specific fields: a JSON object, checked by the provider's adapter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderData(Map<String, Value>);

impl ProviderData {
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl<'de> Deserialize<'de> for ProviderData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(m) => Ok(ProviderData(m)),
            _ => Err(de::Error::custom("must be a JSON object")),
        }
    }
}

impl PartialSchema for ProviderData {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Provider-specific fields: see each provider's providerData list in the \
                 document's description",
            ))
            .into()
    }
}
impl ToSchema for ProviderData {}
