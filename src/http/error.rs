//! The one place where errors become HTTP answers: every non-2xx is an ErrorResponse whose
//! message says what was wrong and how to fix it, never a secret or a stack trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use payrouter_provider::{CallbackError, ProviderError};

use super::access_log::FailureMessage;
use crate::contract::ErrorResponse;
use crate::engine::Error as EngineError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid bearer token is required in the Authorization header")]
    Unauthorized,
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("content-type: must be application/json")]
    UnsupportedMediaType,
    #[error("content-type: must be multipart/form-data with one `file` field")]
    NotMultipart,
    #[error("{field}: must be at most {max} bytes")]
    FileTooLarge { field: &'static str, max: usize },
    #[error("{0}")]
    NotImplemented(String),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        ApiError::BadRequest(format!("{field}: {message}"))
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType | ApiError::NotMultipart => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::FileTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Engine(e) => match e {
                EngineError::Invalid { .. } => StatusCode::BAD_REQUEST,
                EngineError::NotFound(_) => StatusCode::NOT_FOUND,
                EngineError::Conflict(_) => StatusCode::CONFLICT,
                EngineError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                EngineError::Mismatch(_) => StatusCode::BAD_GATEWAY,
                EngineError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                EngineError::Callback(CallbackError::Malformed(_)) => StatusCode::BAD_REQUEST,
                EngineError::Callback(CallbackError::Unauthenticated(_)) => {
                    StatusCode::UNAUTHORIZED
                }
                EngineError::Provider(p) => match p {
                    ProviderError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
                    ProviderError::NotFound(_) => StatusCode::NOT_FOUND,
                    ProviderError::Conflict(_) => StatusCode::CONFLICT,
                    ProviderError::NotSupported { .. } => StatusCode::NOT_IMPLEMENTED,
                    ProviderError::Misconfigured(_) | ProviderError::Unavailable(_) => {
                        StatusCode::BAD_GATEWAY
                    }
                    ProviderError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                },
            },
        }
    }
}

/// An ErrorResponse with the given status and message.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let failure = FailureMessage(message.clone());
    let body = ErrorResponse {
        status_code: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Error").to_string(),
        message,
    };
    let mut resp = (status, Json(body)).into_response();
    resp.extensions_mut().insert(failure);
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status(), self.to_string())
    }
}
