//! The rules for changing a stored payment: forward-only transitions, the refund ledger, and
//! the Payment Status view built from it. (The record itself is a document of the store's
//! record layer.)

use payrouter_provider::{Action, PaymentStatusKind, ProviderState};
use serde_json::{json, Map};

use crate::contract::PaymentStatus;
use crate::store::records::{PaymentRecord, RefundEntry, RefundState};

impl PaymentRecord {
    fn refunded_where(&self, state: RefundState) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.state == state)
            .map(|r| r.amount)
            .sum()
    }

    /// What may still be refunded: paid amount less completed and pending refunds.
    pub fn refundable(&self) -> i64 {
        self.amount.minor
            - self.refunded_where(RefundState::Completed)
            - self.refunded_where(RefundState::Pending)
    }

    pub fn pending_refunds(&self) -> i64 {
        self.refunded_where(RefundState::Pending)
    }

    pub fn has_pending_refund(&self) -> bool {
        self.refunds.iter().any(|r| r.state == RefundState::Pending)
    }

    /// Money was taken: a paid payment, or one that has entered the refund phase.
    pub fn is_paid(&self) -> bool {
        match self.state.action {
            Action::Payment => self.state.status == PaymentStatusKind::Accepted,
            Action::Refund => true,
        }
    }

    /// A final state with nothing outstanding may be answered from the store.
    pub fn is_settled(&self) -> bool {
        self.state.is_final && !self.has_pending_refund()
    }

    /// Whether `new` may replace the current state. Final payment states are sticky, a late
    /// payment event never undoes a refund, and a settled refund only moves on when the
    /// router itself asked for another refund.
    pub fn accepts(&self, new: &ProviderState) -> bool {
        let cur = &self.state;
        // A settled refund state while an acknowledged refund waits in the ledger settles that
        // refund, even when it reads the same as the previous one (a second partial refund).
        // A refund the provider never acknowledged is settled only by a state that differs:
        // the same state again says nothing about it.
        if new.action == Action::Refund && new.is_final && self.has_acknowledged_refund() {
            return true;
        }
        if cur.provider_status == new.provider_status
            && cur.status == new.status
            && cur.action == new.action
            && cur.metadata == new.metadata
        {
            return false;
        }
        match (cur.action, new.action) {
            (Action::Payment, Action::Payment) => !cur.is_final,
            (Action::Payment, Action::Refund) => true,
            (Action::Refund, Action::Payment) => false,
            (Action::Refund, Action::Refund) => !cur.is_final || self.has_pending_refund(),
        }
    }

    /// Applies an accepted state and settles the refund ledger from it.
    pub fn apply(&mut self, new: ProviderState, now_ms: i64) {
        if new.action == Action::Refund && new.is_final {
            match new.status {
                PaymentStatusKind::Accepted => self.settle_completed_refunds(),
                PaymentStatusKind::Failed => {
                    let pending = |r: &&mut RefundEntry| r.state == RefundState::Pending;
                    let rejected = match self
                        .refunds
                        .iter()
                        .rposition(|r| r.state == RefundState::Pending && !r.unconfirmed)
                    {
                        Some(i) => self.refunds.get_mut(i),
                        None => self.refunds.iter_mut().rev().find(pending),
                    };
                    if let Some(r) = rejected {
                        r.state = RefundState::Rejected;
                    }
                }
                PaymentStatusKind::Pending => {}
            }
        }
        self.state = new;
        self.updated_ms = now_ms;
    }

    /// A refund the provider reports done settles the refunds it acknowledged, and only those.
    /// A refund it never acknowledged that was asked before one it did acknowledge never
    /// reached it (it takes a refund only while none is in progress, and the router looks at
    /// the provider before asking for another): its reservation is released. With nothing
    /// acknowledged, the oldest unacknowledged refund is the one that reached it after all.
    fn settle_completed_refunds(&mut self) {
        let acknowledged = |r: &RefundEntry| r.state == RefundState::Pending && !r.unconfirmed;
        match self.refunds.iter().rposition(acknowledged) {
            Some(last) => {
                let mut index = 0;
                self.refunds.retain_mut(|r| {
                    let before_last = index < last;
                    index += 1;
                    if r.state == RefundState::Pending && !r.unconfirmed {
                        r.state = RefundState::Completed;
                    }
                    !(before_last && r.state == RefundState::Pending && r.unconfirmed)
                });
            }
            None => {
                if let Some(r) = self
                    .refunds
                    .iter_mut()
                    .find(|r| r.state == RefundState::Pending)
                {
                    r.state = RefundState::Completed;
                }
            }
        }
    }

    fn has_acknowledged_refund(&self) -> bool {
        self.refunds
            .iter()
            .any(|r| r.state == RefundState::Pending && !r.unconfirmed)
    }

    /// Whether a refund was asked of the provider without an answer.
    pub fn has_unconfirmed_refund(&self) -> bool {
        self.refunds
            .iter()
            .any(|r| r.state == RefundState::Pending && r.unconfirmed)
    }

    pub fn view(&self) -> PaymentStatus {
        let mut metadata = Map::new();
        metadata.insert("providerStatus".into(), json!(self.state.provider_status));
        metadata.insert("amount".into(), json!(self.amount.minor));
        metadata.insert("currency".into(), json!(self.amount.currency.code()));
        metadata.insert(
            "refundedAmount".into(),
            json!(self.refunded_where(RefundState::Completed)),
        );
        let pending = self.refunded_where(RefundState::Pending);
        if pending > 0 {
            metadata.insert("refundPendingAmount".into(), json!(pending));
        }
        if let Some(token) = &self.subscription_token {
            metadata.insert("subscriptionToken".into(), json!(token));
        }
        for (k, v) in self.extras.iter().chain(&self.state.metadata) {
            metadata.insert(k.clone(), v.clone());
        }
        PaymentStatus {
            status: self.state.status,
            payment_id: self.payment_id.clone(),
            shop_transaction_id: self.shop_transaction_id.clone(),
            provider_name: self.provider.clone(),
            payment_method: "external".into(),
            action: self.state.action,
            metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payrouter_provider::PaymentStatusKind::{Accepted, Failed, Pending};
    use payrouter_provider::{Currency, Money};

    fn state(s: &str, status: PaymentStatusKind, action: Action, fin: bool) -> ProviderState {
        ProviderState::new(s, status, action, fin)
    }

    fn record(st: ProviderState) -> PaymentRecord {
        PaymentRecord {
            provider: "p".into(),
            merchant: Default::default(),
            payment_id: "id".into(),
            shop_transaction_id: "tx".into(),
            amount: Money::new(1000, Currency::from_code("GBP").unwrap()),
            reference: None,
            state: st,
            refunds: vec![],
            post_redirect: None,
            subscription_token: None,
            refund_history_lost: false,
            extras: Default::default(),
            created_ms: 0,
            updated_ms: 0,
            fetch_started_ms: 0,
        }
    }

    #[test]
    fn final_payment_states_are_sticky_and_duplicates_are_no_change() {
        let paid = record(state("paid", Accepted, Action::Payment, true));
        assert!(!paid.accepts(&state("sent", Pending, Action::Payment, false)));
        assert!(!paid.accepts(&state("cancelled", Failed, Action::Payment, true)));
        assert!(!paid.accepts(&state("paid", Accepted, Action::Payment, true)));
        assert!(paid.accepts(&state("refund_started", Pending, Action::Refund, false)));
    }

    #[test]
    fn non_final_states_move_freely_so_a_rejected_payer_can_retry() {
        let rejected = record(state("rejected", Failed, Action::Payment, false));
        assert!(rejected.accepts(&state("pending", Pending, Action::Payment, false)));
        assert!(rejected.accepts(&state("paid", Accepted, Action::Payment, true)));
    }

    #[test]
    fn refunds_never_go_back_to_payment_and_settled_refunds_need_a_new_request() {
        let mut refunded = record(state("refunded", Accepted, Action::Refund, true));
        assert!(!refunded.accepts(&state("paid", Accepted, Action::Payment, true)));
        assert!(!refunded.accepts(&state("refund_started", Pending, Action::Refund, false)));
        refunded.refunds.push(RefundEntry {
            id: "r".into(),
            amount: 10,
            state: RefundState::Pending,
            at_ms: 0,
            unconfirmed: false,
        });
        assert!(refunded.accepts(&state("refund_started", Pending, Action::Refund, false)));
    }

    #[test]
    fn ledger_settles_from_refund_states() {
        let mut r = record(state("paid", Accepted, Action::Payment, true));
        for (id, amount) in [("a", 300), ("b", 200)] {
            r.refunds.push(RefundEntry {
                id: id.into(),
                amount,
                state: RefundState::Pending,
                at_ms: 0,
                unconfirmed: false,
            });
        }
        assert_eq!(r.refundable(), 500);
        r.apply(state("refund_rejected", Failed, Action::Refund, true), 1);
        assert_eq!(r.refunds[1].state, RefundState::Rejected);
        assert_eq!(r.refundable(), 700);
        r.apply(state("partial_refund", Accepted, Action::Refund, true), 2);
        assert_eq!(r.refunds[0].state, RefundState::Completed);
        assert_eq!(r.view().metadata["refundedAmount"], 300);
        assert_eq!(r.view().action, Action::Refund);
    }

    #[test]
    fn a_settled_refund_settles_only_what_the_provider_acknowledged() {
        let mut r = record(state("paid", Accepted, Action::Payment, true));
        for (id, unconfirmed) in [("lost", true), ("seen", false), ("later", true)] {
            r.refunds.push(RefundEntry {
                id: id.into(),
                amount: 400 - 100 * i64::from(id == "later"),
                state: RefundState::Pending,
                at_ms: 0,
                unconfirmed,
            });
        }
        r.apply(state("partial_refund", Accepted, Action::Refund, true), 1);
        let ledger: Vec<_> = r.refunds.iter().map(|e| (e.id.as_str(), e.state)).collect();
        assert_eq!(
            ledger,
            [
                ("seen", RefundState::Completed),
                ("later", RefundState::Pending)
            ],
            "the refund asked before the acknowledged one never reached the provider"
        );
        assert_eq!(r.view().metadata["refundedAmount"], 400);
        assert_eq!(r.refundable(), 300);
        assert!(
            !r.accepts(&state("partial_refund", Accepted, Action::Refund, true)),
            "the same state again says nothing of the unanswered refund"
        );
        assert!(r.accepts(&state("refunded", Accepted, Action::Refund, true)));
        r.apply(state("refunded", Accepted, Action::Refund, true), 2);
        assert_eq!(
            r.refunds[1].state,
            RefundState::Completed,
            "it reached it after all"
        );
        assert_eq!(r.refundable(), 300);
    }
}
