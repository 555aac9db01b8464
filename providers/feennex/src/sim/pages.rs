//! The payer's page: reached by GET (`/pay/{id}`) or, for a POST-redirect payway, by POSTing
//! the `invoice_id` form (`/pay-form`). Its buttons set the invoice to 4 (Success) or
//! 6 (Rejected), send the signed callback (awaited, so a test sees it before the page answers)
//! and send the payer to the shop's success or failure URL.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use payrouter_provider::html::{self, button, facts, Status};
use payrouter_provider::sim::{control::label, Control};

use super::Simulator;

/// A page around `body` (already escaped HTML), under the simulator's banner.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let banner = format!(
        "{}: a test double, no money moves",
        <Simulator as Control>::TITLE
    );
    (status, Html(html::page(title, Some(&banner), body))).into_response()
}

fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "Invoice not found", "")
}

/// An invoice status as a page shows it: its words, and the number aside.
fn status(code: &str) -> Option<Status<'_>> {
    Some(Status {
        label: label::<Simulator>(code),
        code,
    })
}

fn show(sim: &Simulator, id: u64) -> Response {
    let store = sim.store();
    let Some(invoice) = store.invoices.iter().find(|i| i.id == id) else {
        return not_found();
    };
    let amount = html::money(invoice.amount);
    let mut rows = vec![
        ("amount", "Amount", amount.as_str()),
        ("order", "Reference", invoice.shop_order_id.as_str()),
    ];
    if let Some(description) = &invoice.description {
        rows.push(("description", "Order", description.as_str()));
    }
    rows.push(("payway", "Payment method", invoice.payway.as_str()));
    let code = invoice.status.to_string();
    let mut body = facts(&rows, status(&code));
    if !invoice.is_final() {
        let action = |a: &str| format!("{}/pay/{id}/{a}", sim.base());
        body.push_str(&button(&action("pay"), "Pay"));
        body.push_str(&button(&action("reject"), "Reject"));
    }
    page(StatusCode::OK, "Pay the invoice", &body)
}

pub(super) async fn invoice_page(State(sim): State<Simulator>, Path(id): Path<String>) -> Response {
    match id.parse() {
        Ok(id) => show(&sim, id),
        Err(_) => not_found(),
    }
}

/// The target of a POST redirect: the form Feennex gave in `invoice/create`'s `data`.
pub(super) async fn pay_form(State(sim): State<Simulator>, body: Bytes) -> Response {
    let id = form_urlencoded::parse(&body)
        .find(|(key, _)| key == "invoice_id")
        .and_then(|(_, value)| value.parse().ok());
    match id {
        Some(id) => show(&sim, id),
        None => not_found(),
    }
}

pub(super) async fn invoice_action(
    State(sim): State<Simulator>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let status = match action.as_str() {
        "pay" => 4,
        "reject" => 6,
        _ => return not_found(),
    };
    let Ok(id) = id.parse::<u64>() else {
        return not_found();
    };
    let shop_id = sim.inner.config.shop_id;
    let (callback, back_to, order) = {
        let mut store = sim.store();
        let Some(invoice) = store.invoices.iter_mut().find(|i| i.id == id) else {
            return not_found();
        };
        if invoice.is_final() {
            return page(
                StatusCode::CONFLICT,
                "Nothing to do",
                &format!(
                    "<p>This invoice is already final: {}.</p>",
                    html::escape(label::<Simulator>(&invoice.status.to_string()))
                ),
            );
        }
        invoice.set_status(status, None);
        let back_to = if status == 4 {
            invoice.success_url.clone()
        } else {
            invoice.failed_url.clone()
        };
        (
            invoice.callback(shop_id, None, &sim.inner.secret),
            back_to,
            invoice.shop_order_id.clone(),
        )
    };
    sim.send_callback(callback).await;
    match back_to {
        Some(url) => Redirect::to(&url).into_response(),
        None => page(
            StatusCode::OK,
            "Done",
            &format!(
                "{}<p>You can close this page.</p>",
                facts(
                    &[("order", "Reference", &order)],
                    self::status(&status.to_string())
                )
            ),
        ),
    }
}
