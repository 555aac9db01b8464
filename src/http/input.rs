//! Reading caller input: JSON bodies (content type, size, read timeout, duplicate keys, then
//! the typed request), raw bodies, queries and paths. Every rejection is an ErrorResponse that
//! names the field and says what is expected.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

use super::error::ApiError;
use crate::contract::expectation;

/// How much of a body is read, and for how long; set by the router as a request extension.
#[derive(Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// A body that has not fully arrived by then (a `Content-Length` longer than what is sent)
    /// is a 400, well before the route's own budget runs out.
    pub read_timeout: Duration,
}

/// A JSON request body, typed: `content-type: application/json` (415 otherwise), no duplicate
/// keys at any depth, and every field valid.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// A body as bytes, within the size limit and the read timeout.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limits = req
            .extensions()
            .get::<BodyLimits>()
            .copied()
            .unwrap_or(BodyLimits {
                max_bytes: usize::MAX,
                read_timeout: Duration::from_secs(5),
            });
        match tokio::time::timeout(limits.read_timeout, Bytes::from_request(req, state)).await {
            Ok(Ok(bytes)) => Ok(RawBody(bytes)),
            Ok(Err(r)) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::TooLarge(limits.max_bytes))
            }
            Ok(Err(_)) => Err(ApiError::BadRequest(
                "body: could not be read in full (a broken connection or a wrong Content-Length)"
                    .into(),
            )),
            Err(_) => Err(ApiError::BadRequest(format!(
                "body: not received in full within {} ms; Content-Length must match the body",
                limits.read_timeout.as_millis()
            ))),
        }
    }
}

/// Parses a JSON object body into `T`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "body: a JSON object is required".into(),
        ));
    }
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, Unique>(&mut json) {
        Ok(Unique(v)) => v,
        Err(e) if e.inner().is_data() => {
            let inner = e.inner();
            let position = format!(" at line {} column {}", inner.line(), inner.column());
            let message = inner.to_string();
            let message = message.strip_suffix(&position).unwrap_or(&message);
            return Err(field_error(e.path(), message));
        }
        Err(e) => return Err(malformed(e.inner())),
    };
    json.end().map_err(|e| malformed(&e))?;
    if !value.is_object() {
        return Err(ApiError::BadRequest("body: must be a JSON object".into()));
    }
    typed(value)
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("body: malformed JSON ({e})"))
}

/// Deserializes a parsed body or query into `T`, naming the failing field by its path.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| field_error(e.path(), &e.inner().to_string()))
}

/// An ErrorResponse message from serde's path and message: `field: what is expected`.
fn field_error(path: &serde_path_to_error::Path, message: &str) -> ApiError {
    let at = match path.to_string() {
        root if root == "." => String::new(),
        p => p,
    };
    let join = |name: &str| {
        if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}.{name}")
        }
    };
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix('`'))
    };
    if let Some(name) = named("missing field `") {
        let what = expectation(name).map_or_else(String::new, |e| format!(": {e}"));
        return ApiError::invalid(&join(name), format!("is required{what}"));
    }
    if let Some(name) = named("duplicate key `").or_else(|| named("duplicate field `")) {
        return ApiError::invalid(&join(name), "is given more than once; send each key once");
    }
    let field = if at.is_empty() { "body" } else { at.as_str() };
    ApiError::invalid(field, message)
}

/// Any JSON value, refusing an object that repeats a key (serde_json keeps the last one
/// silently, so two readers of one body could disagree about it).
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Unique, E> {
        Ok(Unique(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Unique, E> {
        Ok(Unique(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Unique, E> {
        Ok(Unique(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Unique, E> {
        Ok(Unique(v.into()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Unique, E> {
        Ok(Unique(v.into()))
    }
    fn visit_string<E>(self, v: String) -> Result<Unique, E> {
        Ok(Unique(v.into()))
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Unique(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let Unique(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Unique(Value::Object(out)))
    }
}

/// A typed query string; a repeated parameter is a 400 naming it (the first and the last
/// occurrence could otherwise be read by different layers).
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let mut fields = Map::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if fields.contains_key(key.as_ref()) {
                return Err(ApiError::invalid(
                    &key,
                    "the query parameter is given more than once; send it once",
                ));
            }
            fields.insert(key.into_owned(), Value::String(value.into_owned()));
        }
        typed(Value::Object(fields)).map(QueryParams)
    }
}

/// Typed path parameters, with a rejection that is an ErrorResponse.
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| PathParams(t))
            .map_err(|r| ApiError::BadRequest(format!("path: {}", r.body_text())))
    }
}
