//! This simulator's side of the shared control API (`payrouter_provider::sim::control`): how
//! its payments are listed, moved and replayed, and how a webhook is sent.

use payrouter_provider::sim::{Control, ControlOutcome, StatusLabel};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{decimal, Payment, Recurring, Simulator, Store};

/// Every status the simulator uses, with what a person calls it.
pub(super) const STATUSES: &[StatusLabel] = &[
    ("draft", "Draft"),
    ("sent", "Waiting for the payer"),
    ("overdue", "Overdue"),
    ("pending", "Pending at the bank"),
    ("paid", "Paid"),
    ("rejected", "Rejected by the payer"),
    ("cancelled", "Cancelled"),
    ("refund_started", "Refund started"),
    ("refund_rejected", "Refund rejected"),
    ("refunded", "Refunded"),
    ("partial_refund", "Partly refunded"),
    ("active", "Active standing order"),
    ("completed", "Completed"),
];

/// `POST /_sim/payments/{id}/state`: the Fena status to set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    status: String,
}

fn single_view(p: &Payment, base: &str) -> Value {
    let mut view = p.data(base);
    view["kind"] = json!("single");
    view["refundedAmount"] = json!(decimal(p.refunded));
    view["pendingRefundAmount"] = json!(p.pending_refund.map(decimal));
    view
}

fn recurring_view(r: &Recurring, base: &str) -> Value {
    let mut view = r.data(base);
    view["kind"] = json!("recurring");
    view
}

/// Finds `id` among single and recurring payments, moves it to `new_status` when given, and
/// gives its view and webhook (claiming `claimed` as its status) afterwards.
fn with_payment(
    store: &mut Store,
    base: &str,
    id: &str,
    new_status: Option<&str>,
    claimed: Option<&str>,
) -> Option<(Value, Value)> {
    if let Some(p) = store.payments.get_mut(id) {
        if let Some(status) = new_status {
            p.set_status(status);
        }
        return Some((single_view(p, base), p.webhook(claimed)));
    }
    let r = store.recurring.get_mut(id)?;
    if let Some(status) = new_status {
        r.status = status.to_string();
    }
    Some((
        recurring_view(r, base),
        r.webhook("status-update", claimed, None),
    ))
}

impl Control for Simulator {
    const TITLE: &'static str = "Simulated Fena";
    const STATUSES: &'static [StatusLabel] = STATUSES;
    const STATE_EXAMPLE: &'static str = r#"{"status": "paid", "callback": true}"#;
    type Change = Change;
    type Claim = String;
    type Callback = Value;

    fn list(&self) -> Vec<Value> {
        let store = self.store();
        let base = self.base();
        let singles = store.payments.iter().map(|p| single_view(p, base));
        let recurring = store.recurring.iter().map(|r| recurring_view(r, base));
        let mut all: Vec<Value> = singles.chain(recurring).collect();
        for view in &mut all {
            self.inner.companies.annotate(view);
        }
        all
    }

    fn change(&self, id: &str, change: Change) -> ControlOutcome<Value> {
        if change.status.trim().is_empty() {
            return ControlOutcome::Refused("status must not be empty".into());
        }
        match with_payment(
            &mut self.store(),
            self.base(),
            id,
            Some(&change.status),
            None,
        ) {
            Some((view, webhook)) => ControlOutcome::Changed(view, webhook),
            None => ControlOutcome::Unknown,
        }
    }

    fn replay(&self, id: &str, claim: Option<String>) -> Option<Value> {
        with_payment(&mut self.store(), self.base(), id, None, claim.as_deref())
            .map(|(_, webhook)| webhook)
    }

    async fn send(&self, webhook: Value) -> bool {
        self.send_webhook(webhook).await
    }

    fn forget(&self) {
        *self.store() = Store::default();
        self.inner.companies.forget();
    }
}
