//! Validation of caller input, field by field, so that every 400 names the field and says
//! what is expected.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use payrouter_provider::{Currency, Money};
use serde_json::{Map, Value};

use super::error::ApiError;

/// A JSON object body, size-limited; anything else is a 400 (or 413) ErrorResponse.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(usize::MAX, |l| l.0);
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(limit)
            } else {
                ApiError::BadRequest("the request body could not be read".into())
            }
        })?;
        if bytes.is_empty() {
            return Err(ApiError::BadRequest(
                "body: a JSON object is required".into(),
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::BadRequest("body: must be a JSON object".into())),
            Err(e) => Err(ApiError::BadRequest(format!("body: malformed JSON ({e})"))),
        }
    }
}

/// The configured body limit, made visible to extractors for their error message.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

pub fn amount(body: &Map<String, Value>) -> Result<i64, ApiError> {
    const EXPECTED: &str = "must be a positive integer in minor units (1299 = 12.99)";
    match body.get("amount") {
        None | Some(Value::Null) => Err(ApiError::invalid(
            "amount",
            format!("is required and {EXPECTED}"),
        )),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if v > 0 => Ok(v),
            Some(_) => Err(ApiError::invalid("amount", EXPECTED)),
            None if n.is_u64() => Err(ApiError::invalid("amount", "is too large")),
            None => Err(ApiError::invalid("amount", EXPECTED)),
        },
        Some(_) => Err(ApiError::invalid("amount", EXPECTED)),
    }
}

pub fn currency(body: &Map<String, Value>) -> Result<Currency, ApiError> {
    const EXPECTED: &str = "must be an ISO 4217 alphabetic code such as GBP";
    match body.get("currency") {
        Some(Value::String(code)) => Currency::from_code(code).ok_or_else(|| {
            ApiError::invalid("currency", format!("'{code}' is not known; {EXPECTED}"))
        }),
        None | Some(Value::Null) => Err(ApiError::invalid(
            "currency",
            format!("is required and {EXPECTED}"),
        )),
        Some(_) => Err(ApiError::invalid("currency", EXPECTED)),
    }
}

pub fn money(body: &Map<String, Value>) -> Result<Money, ApiError> {
    let minor = amount(body)?;
    Ok(Money::new(minor, currency(body)?))
}

/// A required string of 1..=max characters without control characters.
pub fn text(body: &Map<String, Value>, field: &str, max: usize) -> Result<String, ApiError> {
    let expected = format!("must be a string of 1-{max} characters");
    match body.get(field) {
        Some(Value::String(s)) if valid_text(s, max) => Ok(s.clone()),
        None | Some(Value::Null) => Err(ApiError::invalid(
            field,
            format!("is required and {expected}"),
        )),
        Some(_) => Err(ApiError::invalid(
            field,
            format!("{expected}, without control characters"),
        )),
    }
}

pub fn valid_text(s: &str, max: usize) -> bool {
    !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// An optional absolute http(s) URL.
pub fn url(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match reqwest::Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Ok(Some(s.clone()))
            }
            _ => Err(ApiError::invalid(field, "must be an absolute http(s) URL")),
        },
        Some(_) => Err(ApiError::invalid(field, "must be an absolute http(s) URL")),
    }
}

pub fn provider_data(body: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    match body.get("providerData") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(ApiError::invalid("providerData", "must be a JSON object")),
    }
}
