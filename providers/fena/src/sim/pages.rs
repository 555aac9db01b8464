//! The pages a person meets: the payer's payment page (Pay / Reject / Cancel), the merchant's
//! refund approval page, and the standing-order set-up page. Each button changes the state,
//! sends Fena's webhook (awaited, so a test sees it before the page answers) and then sends the
//! payer back as Fena does.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use payrouter_provider::html::escape;

use super::{decimal, new_id, Simulator, Transaction};

/// Single-payment states in which the payer can still act (a rejected payment may be retried).
const PAYABLE: &[&str] = &["draft", "sent", "overdue", "pending", "rejected"];
/// Recurring states in which the payer can still set the standing order up.
const RECURRING_OPEN: &[&str] = &["draft", "sent", "overdue", "rejected"];

/// A page around `body`, which must already be escaped HTML.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} - Fena (simulated)</title></head>\n<body>\n<h1>{}</h1>\n{body}\n</body></html>\n",
        escape(title),
        escape(title)
    );
    (status, Html(html)).into_response()
}

fn not_found(what: &str) -> Response {
    page(StatusCode::NOT_FOUND, &format!("{what} not found"), "")
}

fn closed(status: &str) -> Response {
    page(
        StatusCode::CONFLICT,
        "Nothing to do",
        &format!(
            "<p>This can no longer be changed: it is <strong>{}</strong>.</p>",
            escape(status)
        ),
    )
}

fn done(what: &str, reference: &str, status: &str) -> Response {
    page(
        StatusCode::OK,
        "Done",
        &format!(
            "<p>{} <strong>{}</strong> is now <strong id=\"status\">{}</strong>. You can close this page.</p>",
            escape(what),
            escape(reference),
            escape(status)
        ),
    )
}

/// One button: a form POSTing to `action`.
fn button(action: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(action),
        escape(label)
    )
}

pub(super) async fn payment_page(State(sim): State<Simulator>, Path(id): Path<String>) -> Response {
    let store = sim.store();
    let Some(p) = store.payments.iter().find(|p| p.id == id) else {
        return not_found("Payment");
    };
    let action = |a: &str| format!("{}/pay/{}/{a}", sim.base(), p.id);
    let mut body = format!(
        "<p>Amount: <strong id=\"amount\">{} GBP</strong></p>\n<p>Reference: <strong id=\"reference\">{}</strong></p>\n",
        decimal(p.amount),
        escape(&p.reference)
    );
    if let Some(description) = &p.description {
        body.push_str(&format!(
            "<p id=\"description\">{}</p>\n",
            escape(description)
        ));
    }
    body.push_str(&format!(
        "<p>Status: <strong id=\"status\">{}</strong></p>\n",
        escape(&p.status)
    ));
    if PAYABLE.contains(&p.status.as_str()) {
        body.push_str(&button(&action("pay"), "Pay"));
        body.push_str(&button(&action("reject"), "Reject"));
        body.push_str(&button(&action("cancel"), "Cancel"));
    }
    page(StatusCode::OK, "Pay by bank", &body)
}

pub(super) async fn payment_action(
    State(sim): State<Simulator>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let status = match action.as_str() {
        "pay" => "paid",
        "reject" => "rejected",
        "cancel" => "cancelled",
        _ => return not_found("Action"),
    };
    let payment = {
        let mut store = sim.store();
        let Some(p) = store.payments.iter_mut().find(|p| p.id == id) else {
            return not_found("Payment");
        };
        if !PAYABLE.contains(&p.status.as_str()) {
            return closed(&p.status);
        }
        p.set_status(status);
        p.clone()
    };
    sim.send_webhook(payment.webhook(None)).await;
    match &payment.custom_redirect_url {
        Some(url) => {
            Redirect::to(&back_to_merchant(url, &payment.reference, status)).into_response()
        }
        None => done("Payment", &payment.reference, status),
    }
}

/// Fena sends the payer to the redirect URL with `order_id` (the reference) and `status`.
fn back_to_merchant(url: &str, reference: &str, status: &str) -> String {
    let (url, fragment) = match url.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (url, None),
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("order_id", reference)
        .append_pair("status", status)
        .finish();
    let separator = if url.contains('?') { '&' } else { '?' };
    match fragment {
        Some(fragment) => format!("{url}{separator}{query}#{fragment}"),
        None => format!("{url}{separator}{query}"),
    }
}

pub(super) async fn refund_page(State(sim): State<Simulator>, Path(id): Path<String>) -> Response {
    let store = sim.store();
    let Some(p) = store.payments.iter().find(|p| p.id == id) else {
        return not_found("Payment");
    };
    let Some(refund) = p.pending_refund else {
        return closed(&p.status);
    };
    let action = |a: &str| format!("{}/refund/{}/{a}", sim.base(), p.id);
    let body = format!(
        "<p>Refund <strong id=\"amount\">{} GBP</strong> of payment <strong id=\"reference\">{}</strong> ({} GBP)</p>\n{}{}",
        decimal(refund),
        escape(&p.reference),
        decimal(p.amount),
        button(&action("approve"), "Approve refund"),
        button(&action("reject"), "Reject refund"),
    );
    page(StatusCode::OK, "Approve refund", &body)
}

pub(super) async fn refund_action(
    State(sim): State<Simulator>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let payment = {
        let mut store = sim.store();
        let Some(p) = store.payments.iter_mut().find(|p| p.id == id) else {
            return not_found("Payment");
        };
        let Some(refund) = p.pending_refund else {
            return closed(&p.status);
        };
        let status = match action.as_str() {
            "approve" if p.refunded + refund == p.amount => "refunded",
            "approve" => "partial_refund",
            "reject" => "refund_rejected",
            _ => return not_found("Action"),
        };
        p.set_status(status);
        p.clone()
    };
    sim.send_webhook(payment.webhook(None)).await;
    done("Payment", &payment.reference, &payment.status)
}

pub(super) async fn recurring_page(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
) -> Response {
    let store = sim.store();
    let Some(r) = store.recurring.iter().find(|r| r.id == id) else {
        return not_found("Recurring payment");
    };
    let action = |a: &str| format!("{}/recurring/{}/{a}", sim.base(), r.id);
    let mut body = format!(
        "<p>Standing order: <strong id=\"amount\">{} GBP</strong> ({}), first payment {}</p>\n<p>Reference: <strong id=\"reference\">{}</strong></p>\n<p>Status: <strong id=\"status\">{}</strong></p>\n",
        decimal(r.recurring_amount),
        escape(&r.frequency),
        escape(&r.first_payment_date),
        escape(&r.reference),
        escape(&r.status)
    );
    if RECURRING_OPEN.contains(&r.status.as_str()) {
        body.push_str(&button(&action("setup"), "Set up standing order"));
        body.push_str(&button(&action("reject"), "Reject"));
    }
    page(StatusCode::OK, "Set up a standing order", &body)
}

pub(super) async fn recurring_action(
    State(sim): State<Simulator>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    if !matches!(action.as_str(), "setup" | "reject") {
        return not_found("Action");
    }
    let (reference, status, webhooks) = {
        let mut store = sim.store();
        let Some(r) = store.recurring.iter_mut().find(|r| r.id == id) else {
            return not_found("Recurring payment");
        };
        if !RECURRING_OPEN.contains(&r.status.as_str()) {
            return closed(&r.status);
        }
        let webhooks = if action == "reject" {
            r.status = "rejected".into();
            vec![r.webhook("status-update", None, None)]
        } else {
            // The payer's bank makes the first payment as the order is set up.
            let first = Transaction {
                id: new_id(),
                status: "completed".into(),
                amount: r.recurring_amount,
                date: r.first_payment_date.clone(),
            };
            r.status = "active".into();
            r.transactions.push(first.clone());
            if let Some(initial) = r.initial_payment.as_mut() {
                initial.status = "paid".into();
            }
            vec![
                r.webhook("status-update", None, None),
                r.webhook("payment_made", None, Some(&first)),
            ]
        };
        (r.reference.clone(), r.status.clone(), webhooks)
    };
    for webhook in webhooks {
        sim.send_webhook(webhook).await;
    }
    done("Standing order", &reference, &status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn merchant_url_gets_reference_and_status() {
        assert_eq!(
            back_to_merchant("https://shop.example/ok", "AB-1", "paid"),
            "https://shop.example/ok?order_id=AB-1&status=paid"
        );
        assert_eq!(
            back_to_merchant("https://shop.example/ok?x=1#top", "AB 1", "paid"),
            "https://shop.example/ok?x=1&order_id=AB+1&status=paid#top"
        );
    }
}
