//! This simulator's side of the shared control API (`payrouter_provider::sim::control`): how
//! its invoices are listed, moved and replayed, and how a callback is sent. `{id}` is the
//! Feennex invoice id (`payment_id`), or else a `shop_order_id`.

use payrouter_provider::sim::{Control, ControlOutcome, StatusLabel};
use payrouter_provider::Money;
use serde::Deserialize;
use serde_json::Value;

use super::{Callback, Invoice, Simulator, Store};

/// `POST /_sim/payments/{id}/state`: the invoice status to set (any integer), and for 12 what
/// the payer paid, as a decimal string.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Change {
    status: i64,
    client_price: Option<String>,
}

fn find<'a>(store: &'a mut Store, id: &str) -> Option<&'a mut Invoice> {
    let by_id = id.parse::<u64>().ok();
    let index = store
        .invoices
        .iter()
        .position(|i| Some(i.id) == by_id)
        .or_else(|| store.invoices.iter().position(|i| i.shop_order_id == id))?;
    store.invoices.get_mut(index)
}

/// An invoice as the control API shows it: as `invoice/check` gives its `data`.
fn view(invoice: &Invoice, shop_id: u64) -> Value {
    serde_json::to_value(invoice.check_data(shop_id)).unwrap_or(Value::Null)
}

impl Control for Simulator {
    const TITLE: &'static str = "Simulated Feennex";
    /// The invoice statuses (feennex-api.md §3.3), with what a person calls them.
    const STATUSES: &'static [StatusLabel] = &[
        ("1", "Created"),
        ("2", "Waiting for the payer"),
        ("3", "Payment system error"),
        ("4", "Paid"),
        ("5", "Callback error"),
        ("6", "Rejected"),
        ("7", "Refunded"),
        ("8", "On hold"),
        ("9", "Partly refunded"),
        ("10", "Captured"),
        ("11", "Refunding"),
        ("12", "Paid a different amount"),
    ];
    const STATE_EXAMPLE: &'static str = r#"{"status": 4, "callback": true, "clientPrice": null}"#;
    type Change = Change;
    type Claim = i64;
    type Callback = Callback;

    fn list(&self) -> Vec<Value> {
        let shop_id = self.inner.config.shop_id;
        let store = self.store();
        store.invoices.iter().map(|i| view(i, shop_id)).collect()
    }

    fn change(&self, id: &str, change: Change) -> ControlOutcome<Callback> {
        let shop_id = self.inner.config.shop_id;
        let mut store = self.store();
        let Some(invoice) = find(&mut store, id) else {
            return ControlOutcome::Unknown;
        };
        let paid = match change.client_price.as_deref() {
            None => None,
            Some(text) => match Money::from_decimal_str(text, invoice.amount.currency) {
                Ok(paid) => Some(paid),
                Err(e) => return ControlOutcome::Refused(format!("clientPrice: {e}")),
            },
        };
        invoice.set_status(change.status, paid);
        ControlOutcome::Changed(
            view(invoice, shop_id),
            invoice.callback(shop_id, None, &self.inner.secret),
        )
    }

    fn replay(&self, id: &str, claim: Option<i64>) -> Option<Callback> {
        let shop_id = self.inner.config.shop_id;
        find(&mut self.store(), id)
            .map(|invoice| invoice.callback(shop_id, claim, &self.inner.secret))
    }

    async fn send(&self, callback: Callback) -> bool {
        self.send_callback(callback).await
    }

    fn forget(&self) {
        *self.store() = Store::default();
    }
}
