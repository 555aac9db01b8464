//! Receipts of bank transfers: where a payment's receipts go (kept from its invoice/create
//! answer), and what Feennex's receipt endpoints answer. These endpoints are unsigned and,
//! unlike the shop API, answer with plain HTTP statuses (202 taken, 400 refused with
//! `{"detail"}`) rather than the `{result, error_code}` envelope.

use payrouter_provider::transport::Reply;
use payrouter_provider::{ProviderError, Receipt, ReceiptOutcome, ReceiptReview, ReceiptTarget};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::answer::{RECEIPT_STATUS_URL, RECEIPT_URL};
use super::raw_json::unusable;
use super::Shop;

/// The receipt endpoints kept with the payment; a payment without them is not a bank transfer.
pub fn receipt_target(extras: &Map<String, Value>) -> Result<ReceiptTarget, ProviderError> {
    let url = |key: &str| extras.get(key).and_then(Value::as_str).map(str::to_string);
    match (url(RECEIPT_URL), url(RECEIPT_STATUS_URL)) {
        (Some(upload_url), Some(status_url)) => Ok(ReceiptTarget {
            upload_url,
            status_url,
        }),
        _ => Err(ProviderError::Conflict(
            "this payment takes no receipt: Feennex asks for receipts only for bank-transfer payment methods, and gave no receipt endpoints for this one".into(),
        )),
    }
}

/// Feennex's `{"detail": …}`: a text, or a list of `{"msg"}` (a validation error).
#[derive(Deserialize)]
struct Detail {
    detail: Value,
}

fn detail_of(body: &[u8], shop: &Shop) -> Option<String> {
    let detail = serde_json::from_slice::<Detail>(body).ok()?.detail;
    let text = match detail {
        Value::String(s) => s,
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.get("msg").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("; "),
        _ => return None,
    };
    (!text.trim().is_empty()).then(|| shop.quote(&text))
}

/// What an answer to the receipt upload means.
pub fn upload_outcome(reply: &Reply, shop: &Shop) -> Result<ReceiptOutcome, ProviderError> {
    match reply.status {
        200..=299 => Ok(ReceiptOutcome::Accepted),
        400 | 415 | 422 => Ok(ReceiptOutcome::Declined {
            message: format!(
                "Feennex refused the receipt: {}",
                detail_of(&reply.body, shop).unwrap_or_else(|| format!("HTTP {}", reply.status))
            ),
        }),
        413 => Ok(ReceiptOutcome::Declined {
            message: "Feennex refused the receipt: the file is too large for it".into(),
        }),
        status => Err(other_status("the receipt upload", status)),
    }
}

/// One entry of the receipt status list.
#[derive(Deserialize)]
struct StatusEntry {
    id: Value,
    status: String,
    #[serde(default)]
    comment: Option<String>,
}

/// The receipts Feennex holds for the order, as its status endpoint lists them.
pub fn receipts(reply: &Reply) -> Result<Vec<Receipt>, ProviderError> {
    if !(200..=299).contains(&reply.status) {
        return Err(other_status("the receipt status", reply.status));
    }
    let entries: Vec<StatusEntry> = serde_json::from_slice(&reply.body)
        .map_err(|_| unusable("the receipt status is not a list of receipts"))?;
    Ok(entries
        .into_iter()
        .map(|e| Receipt {
            id: match e.id {
                Value::String(s) => s,
                other => other.to_string(),
            },
            status: review(&e.status),
            provider_status: e.status,
            comment: e.comment.filter(|c| !c.is_empty()),
        })
        .collect())
}

/// Feennex's receipt statuses, word by word.
fn review(status: &str) -> ReceiptReview {
    match status {
        "pending" => ReceiptReview::Pending,
        "succeeded" => ReceiptReview::Succeeded,
        "rejected" => ReceiptReview::Rejected,
        _ => ReceiptReview::Unknown,
    }
}

fn other_status(what: &str, status: u16) -> ProviderError {
    match status {
        404 => ProviderError::NotFound(format!(
            "Feennex does not know this order's receipts ({what} answered HTTP 404)"
        )),
        401 | 403 => ProviderError::Misconfigured(format!(
            "Feennex refused {what} with HTTP {status}: add this server's IP to the shop's allowed IPs"
        )),
        _ => ProviderError::Unavailable(format!("Feennex answered {what} with HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::shop;
    use super::*;
    use serde_json::json;

    fn reply(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn targets_come_from_the_kept_endpoints_only() {
        let extras = json!({"receiptUrl": "https://f.example/api/v1/order/7/receipt",
            "receiptStatusUrl": "https://f.example/api/v1/order/7/receipt/status",
            "receiptWebUrl": "https://f.example/receipt/7"});
        let target = receipt_target(extras.as_object().unwrap()).unwrap();
        assert_eq!(
            target.upload_url,
            "https://f.example/api/v1/order/7/receipt"
        );
        assert_eq!(
            target.status_url,
            "https://f.example/api/v1/order/7/receipt/status"
        );
        let e = receipt_target(&Map::new()).unwrap_err();
        assert!(matches!(&e, ProviderError::Conflict(m) if m.contains("bank-transfer")));
    }

    #[test]
    fn upload_answers_are_mapped() {
        assert_eq!(
            upload_outcome(&reply(202, Value::Null), &shop()).unwrap(),
            ReceiptOutcome::Accepted
        );
        assert_eq!(
            upload_outcome(
                &reply(
                    400,
                    json!({"detail": "File type: application/zip not allowed"})
                ),
                &shop()
            )
            .unwrap(),
            ReceiptOutcome::Declined {
                message: "Feennex refused the receipt: File type: application/zip not allowed"
                    .into()
            }
        );
        assert!(matches!(
            upload_outcome(&reply(413, Value::Null), &shop()).unwrap(),
            ReceiptOutcome::Declined { .. }
        ));
        assert!(matches!(
            upload_outcome(&reply(404, Value::Null), &shop()),
            Err(ProviderError::NotFound(_))
        ));
        assert!(matches!(
            upload_outcome(&reply(503, Value::Null), &shop()),
            Err(ProviderError::Unavailable(_))
        ));
    }

    #[test]
    fn receipt_statuses_are_mapped_word_by_word() {
        let list = receipts(&reply(
            200,
            json!([{"id": "c9e35f42", "status": "pending", "comment": null},
                   {"id": 7, "status": "rejected", "comment": "unreadable"},
                   {"id": "x", "status": "archived"}]),
        ))
        .unwrap();
        assert_eq!(list[0].status, ReceiptReview::Pending);
        assert_eq!(list[0].comment, None);
        assert_eq!(list[1].id, "7");
        assert_eq!(list[1].status, ReceiptReview::Rejected);
        assert_eq!(list[1].comment.as_deref(), Some("unreadable"));
        assert_eq!(list[2].status, ReceiptReview::Unknown);
        assert_eq!(list[2].provider_status, "archived");
        assert!(receipts(&reply(200, json!({"id": 1}))).is_err());
    }
}
