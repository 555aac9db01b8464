//! The simulated receipt endpoints of bank-transfer payways (unsigned, as Feennex's are):
//! `POST /api/v1/order/{id}/receipt` takes one multipart `file` (pdf, png, jpeg, gif or
//! heic/heif, at most [`RECEIPT_MAX_BYTES`]) and answers 202 `null`; a file of another type is
//! 400 `{"detail": "File type: … not allowed"}`, a larger one 413. `GET
//! /api/v1/order/{id}/receipt/status` lists the order's receipts `[{id, status, comment}]`,
//! each `pending` until reviewed. `{id}` is the invoice id.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{is_bank_transfer, SimReceipt, Simulator};

/// The largest receipt the simulated Feennex takes (the router's default limit).
pub const RECEIPT_MAX_BYTES: usize = 10 * 1024 * 1024;

/// The types Feennex takes, as the part's declared content type.
const ALLOWED: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/heic",
    "image/heif",
];

fn detail(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({"detail": text}))).into_response()
}

fn order_not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Order not found")
}

/// Whether invoice `id` is a bank transfer the simulator holds.
fn takes_receipts(sim: &Simulator, id: u64) -> bool {
    sim.store()
        .invoices
        .iter()
        .any(|i| i.id == id && is_bank_transfer(&i.payway))
}

pub(super) async fn upload(
    State(sim): State<Simulator>,
    Path(id): Path<u64>,
    mut multipart: Multipart,
) -> Response {
    sim.store().receipt_requests += 1;
    if !takes_receipts(&sim, id) {
        return order_not_found();
    }
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(None) => break,
            Ok(Some(field)) if field.name() == Some("file") => {
                let content_type = field.content_type().unwrap_or("").to_string();
                let name = field.file_name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(bytes) if bytes.len() <= RECEIPT_MAX_BYTES => {
                        file = Some((name, content_type, bytes.len()))
                    }
                    _ => return detail(StatusCode::PAYLOAD_TOO_LARGE, "File too large"),
                }
            }
            Ok(Some(_)) => {}
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return detail(StatusCode::PAYLOAD_TOO_LARGE, "File too large")
            }
            Err(_) => return detail(StatusCode::BAD_REQUEST, "Malformed multipart body"),
        }
    }
    let Some((file_name, content_type, size)) = file else {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, "Field required: file");
    };
    if !ALLOWED.contains(&content_type.as_str()) {
        return detail(
            StatusCode::BAD_REQUEST,
            &format!("File type: {content_type} not allowed"),
        );
    }
    let mut store = sim.store();
    let Some(invoice) = store.invoices.iter_mut().find(|i| i.id == id) else {
        return order_not_found();
    };
    invoice.receipts.push(SimReceipt {
        id: uuid::Uuid::new_v4().to_string(),
        file_name,
        content_type,
        size,
    });
    (StatusCode::ACCEPTED, Json(Value::Null)).into_response()
}

pub(super) async fn status(State(sim): State<Simulator>, Path(id): Path<u64>) -> Response {
    let store = sim.store();
    let Some(invoice) = store
        .invoices
        .iter()
        .find(|i| i.id == id && is_bank_transfer(&i.payway))
    else {
        return order_not_found();
    };
    let list: Vec<Value> = invoice
        .receipts
        .iter()
        .map(|r| json!({"id": r.id, "status": "pending", "comment": null}))
        .collect();
    Json(list).into_response()
}
