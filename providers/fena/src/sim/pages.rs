//! The pages a person meets: the payer's payment page (Pay / Reject / Cancel), the merchant's
//! refund approval page, and the standing-order set-up page. Each button changes the state,
//! sends Fena's webhook (awaited, so a test sees it before the page answers) and then sends the
//! payer back as Fena does.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use payrouter_provider::html::{self, button, escape, facts, Status};
use payrouter_provider::sim::{control::label, Control};

use super::{gbp, new_id, Simulator, Transaction};

/// Single-payment states in which the payer can still act (a rejected payment may be retried).
const PAYABLE: &[&str] = &["draft", "sent", "overdue", "pending", "rejected"];
/// Recurring states in which the payer can still set the standing order up.
const RECURRING_OPEN: &[&str] = &["draft", "sent", "overdue", "rejected"];

/// A page around `body` (already escaped HTML), under the simulator's banner.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let banner = format!(
        "{}: a test double, no money moves",
        <Simulator as Control>::TITLE
    );
    (status, Html(html::page(title, Some(&banner), body))).into_response()
}

/// What a person calls a Fena status.
fn human(status: &str) -> &str {
    label::<Simulator>(status)
}

/// A Fena status as a page shows it.
fn status(code: &str) -> Option<Status<'_>> {
    Some(Status {
        label: human(code),
        code,
    })
}

/// A button per `(action, label)`, each posting to `{to}/{action}`.
fn buttons(to: &str, actions: &[(&str, &str)]) -> String {
    actions
        .iter()
        .map(|(action, label)| button(&format!("{to}/{action}"), label))
        .collect()
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
            escape(human(status))
        ),
    )
}

fn done(what: &str, reference: &str, status: &str) -> Response {
    page(
        StatusCode::OK,
        "Done",
        &format!(
            "{}<p>You can close this page.</p>",
            facts(&[("reference", what, reference)], self::status(status))
        ),
    )
}

pub(super) async fn payment_page(State(sim): State<Simulator>, Path(id): Path<String>) -> Response {
    let store = sim.store();
    let Some(p) = store.payments.get(&id) else {
        return not_found("Payment");
    };
    let amount = gbp(p.amount);
    let mut rows = vec![
        ("amount", "Amount", amount.as_str()),
        ("reference", "Reference", p.reference.as_str()),
    ];
    if let Some(description) = &p.description {
        rows.push(("description", "Order", description.as_str()));
    }
    let mut body = facts(&rows, status(&p.status));
    if PAYABLE.contains(&p.status.as_str()) {
        let to = format!("{}/pay/{}", sim.base(), p.id);
        body.push_str(&buttons(
            &to,
            &[("pay", "Pay"), ("reject", "Reject"), ("cancel", "Cancel")],
        ));
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
        let Some(p) = store.payments.get_mut(&id) else {
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
    let Some(p) = store.payments.get(&id) else {
        return not_found("Payment");
    };
    let Some(refund) = p.pending_refund else {
        return closed(&p.status);
    };
    let body = format!(
        "{}{}",
        facts(
            &[
                ("amount", "Refund", &gbp(refund)),
                ("reference", "Reference", &p.reference),
                ("paid", "Paid", &gbp(p.amount)),
            ],
            None
        ),
        buttons(
            &format!("{}/refund/{}", sim.base(), p.id),
            &[("approve", "Approve refund"), ("reject", "Reject refund")]
        ),
    );
    page(StatusCode::OK, "Approve refund", &body)
}

pub(super) async fn refund_action(
    State(sim): State<Simulator>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let payment = {
        let mut store = sim.store();
        let Some(p) = store.payments.get_mut(&id) else {
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
    let Some(r) = store.recurring.get(&id) else {
        return not_found("Recurring payment");
    };
    let mut body = facts(
        &[
            ("amount", "Amount", &gbp(r.recurring_amount)),
            ("frequency", "Every", frequency(&r.frequency)),
            ("first", "First payment", &r.first_payment_date),
            ("reference", "Reference", &r.reference),
        ],
        status(&r.status),
    );
    if RECURRING_OPEN.contains(&r.status.as_str()) {
        let to = format!("{}/recurring/{}", sim.base(), r.id);
        body.push_str(&buttons(
            &to,
            &[("setup", "Set up standing order"), ("reject", "Reject")],
        ));
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
        let Some(r) = store.recurring.get_mut(&id) else {
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

/// A Fena frequency in words.
fn frequency(raw: &str) -> &str {
    match raw {
        "one_week" => "week",
        "one_month" => "month",
        "three_months" => "three months",
        "one_year" => "year",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
