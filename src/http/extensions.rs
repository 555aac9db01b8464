//! Routes that extend the PGM contract with what only some providers offer: the payment
//! precalculation (`quote`) and the receipts of bank transfers. A provider without the
//! operation answers 501.

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use payrouter_provider::{Operation, PaymentStatusKind, Provider, ReceiptFile, ReceiptTarget};
use serde::Deserialize;
use std::sync::Arc;

use super::error::ApiError;
use super::input::{JsonBody, PathParams};
use super::openapi::{BodyErrors, QueryErrors};
use super::resolve::{named, provider_route, tag, Resolved};
use super::AppState;
use crate::contract::{
    ErrorResponse, QuoteRequest, QuoteResponse, ReceiptResponse, ReceiptStatusResponse,
};
use crate::engine::Error as EngineError;

fn require(p: &dyn Provider, op: Operation) -> Result<(), ApiError> {
    if p.capabilities().supports(op) {
        Ok(())
    } else {
        Err(EngineError::from(p.unsupported(op)).into())
    }
}

provider_route! {
    post "/v3/{provider}/quote", "extensions", [], QuoteRequest
    => QuoteResponse: "OK with what the payer would pay (minor units of payerCurrency), or KO saying why the provider would refuse the payment; nothing is created or stored", BodyErrors;
    fn quote(app, provider, JsonBody(body): JsonBody<QuoteRequest>) as "quote" {
        let p = &provider.0;
        require(p.as_ref(), Operation::Quote)?;
        let order = body.into_order();
        provider.check_amount(order.amount)?;
        app.engine.check_currency(p.as_ref(), order.amount.currency)?;
        p.quote(&order).await.map_err(EngineError::from)?.into()
    }
}

#[derive(Deserialize)]
pub struct ReceiptPath {
    payment_id: String,
}

/// Where the receipts of a payment go, from what the provider gave when it was created; a
/// payment already final takes no receipt when `for_upload`.
async fn receipt_target(
    app: &AppState,
    p: &Arc<dyn Provider>,
    payment_id: &str,
    for_upload: bool,
) -> Result<ReceiptTarget, ApiError> {
    let status = app.engine.status(p, payment_id).await?;
    let target = p
        .receipt_target(payment_id, &status.metadata)
        .map_err(EngineError::from)?;
    if for_upload && status.status != PaymentStatusKind::Pending {
        return Err(EngineError::Conflict(format!(
            "payment '{payment_id}' is already final ({}): it takes no more receipts",
            serde_json::to_value(status.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ))
        .into());
    }
    Ok(target)
}

/// The MIME type of a receipt by its content (magic numbers), when it is one of the types
/// Feennex takes.
fn receipt_type(bytes: &[u8]) -> Option<&'static str> {
    match infer::get(bytes)?.mime_type() {
        "application/pdf" => Some("application/pdf"),
        "image/png" => Some("image/png"),
        "image/jpeg" => Some("image/jpeg"),
        "image/gif" => Some("image/gif"),
        // infer names HEIC (HEIF with HEVC) by its family.
        "image/heif" => Some("image/heic"),
        _ => None,
    }
}

fn multipart_error(e: MultipartError, max: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::FileTooLarge { field: "file", max }
    } else {
        ApiError::invalid(
            "body",
            format_args!("not a readable multipart form: {}", e.body_text()),
        )
    }
}

/// Reads the `file` field chunk by chunk, refusing it as soon as it passes `max` bytes.
async fn read_file(mut field: Field<'_>, max: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, max))? {
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::FileTooLarge { field: "file", max });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The one `file` of a receipt upload, read within `max` bytes and checked by content.
async fn receipt_file(mut form: Multipart, max: usize) -> Result<ReceiptFile, ApiError> {
    let mut file: Option<ReceiptFile> = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, max))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name != "file" {
            return Err(ApiError::invalid(
                if name.is_empty() { "body" } else { &name },
                "unexpected form field: send one field named `file`",
            ));
        }
        if file.is_some() {
            return Err(ApiError::invalid("file", "send one file only"));
        }
        let file_name = field
            .file_name()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "receipt".to_string());
        let bytes = read_file(field, max).await?;
        if bytes.is_empty() {
            return Err(ApiError::invalid("file", "is empty"));
        }
        let content_type = receipt_type(&bytes).ok_or_else(|| {
            ApiError::invalid(
                "file",
                "must be a PDF, PNG, JPEG, GIF or HEIC file (checked by its content, not its name)",
            )
        })?;
        file = Some(ReceiptFile {
            file_name,
            content_type,
            bytes,
        });
    }
    file.ok_or_else(|| ApiError::invalid("file", "required: the receipt, as the form field `file`"))
}

#[utoipa::path(post, path = "/v3/{provider}/receipt/{payment_id}", tag = "extensions",
    params(("provider" = String, Path), ("payment_id" = String, Path, description = "the paymentId answered by pay")),
    request_body(content_type = "multipart/form-data", description = "one field `file`: the payer's receipt of the bank transfer (PDF, PNG, JPEG, GIF or HEIC, checked by content; at most FEENNEX_RECEIPT_MAX_BYTES)"),
    security((), ("bearer" = [])),
    responses((status = 200, body = ReceiptResponse, description = "OK when the provider took the receipt for review, or KO saying why it refused it"),
        (status = 400, body = ErrorResponse, description = "the form is not one `file` of an accepted type"),
        (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse, description = "the payment is not a bank transfer, or is already final"),
        (status = 413, body = ErrorResponse, description = "the file is larger than the provider's receipt limit; nothing was sent"),
        (status = 415, body = ErrorResponse), (status = 501, body = ErrorResponse),
        (status = 502, body = ErrorResponse), (status = 503, body = ErrorResponse),
        (status = 504, body = ErrorResponse)))]
pub async fn upload_receipt(
    State(app): State<AppState>,
    provider: Resolved,
    PathParams(path): PathParams<ReceiptPath>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<ReceiptResponse>, ApiError> {
    tag("receipt upload", Some(&path.payment_id));
    let p = &provider.0;
    require(p.as_ref(), Operation::ReceiptUpload)?;
    let form = form.map_err(|_| ApiError::NotMultipart)?;
    let target = receipt_target(&app, p, &path.payment_id, true).await?;
    let file = receipt_file(form, p.receipt_max_bytes()).await?;
    let outcome = p
        .upload_receipt(&target, file)
        .await
        .map_err(EngineError::from)?;
    Ok(Json(outcome.into()))
}

provider_route! {
    get "/v3/{provider}/receipt/{payment_id}", "extensions",
    [("payment_id" = String, Path, description = "the paymentId answered by pay")]
    => ReceiptStatusResponse: "the receipts the provider holds for the payment, and their review",
    (status = 409, body = ErrorResponse, description = "the payment is not a bank transfer"),
    QueryErrors;
    fn receipt_status(app, provider, PathParams(path): PathParams<ReceiptPath>) as "receipt status" {
        let p = &provider.0;
        let payment_id = named(&path.payment_id);
        require(p.as_ref(), Operation::ReceiptStatus)?;
        let target = receipt_target(&app, p, payment_id, false).await?;
        let receipts = p.receipt_status(&target).await.map_err(EngineError::from)?;
        ReceiptStatusResponse {
            payment_id: path.payment_id,
            receipts,
        }
    }
}
