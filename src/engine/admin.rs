//! What an operator may ask of the engine through the admin API: look at a payment's provider
//! now. Every such action is written to the payment's timeline with who asked.

use payrouter_provider::Operation;
use std::time::Duration;

use super::{now_ms, Engine, Result};
use crate::contract::PaymentStatus;
use crate::store::records::{Event, Records, Source, TimelineEvent};

/// What an operator's recheck came to.
#[derive(Debug)]
pub enum Rechecked {
    /// The provider was asked and its answer applied: the payment as it now stands.
    Applied(PaymentStatus),
    /// The provider allows one status fetch of a payment per `retry_after`, and one was made
    /// less than that ago (on any replica).
    TooSoon { retry_after: Duration },
}

impl Engine {
    /// The typed record layer, for the admin service's listings.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// Asks the provider about a payment now and applies its answer, unless the provider's
    /// hard poll limit forbids a fetch yet (a courtesy poll window does not stop an operator).
    /// `actor` names who asked, for the timeline.
    pub async fn recheck_now(
        &self,
        provider: &str,
        payment_id: &str,
        actor: &str,
    ) -> Result<Rechecked> {
        let p = self.provider(provider)?.clone();
        self.require(p.as_ref(), Operation::Status)?;
        self.load(p.as_ref(), payment_id).await?;
        let caps = p.capabilities();
        let admin = |detail: String| {
            TimelineEvent::new(
                now_ms(),
                Event::Admin {
                    actor: actor.to_string(),
                    action: "recheck".into(),
                    detail,
                },
            )
        };
        if !self.claim_poll(p.as_ref(), payment_id).await? && caps.hard_poll_limit {
            let limit = caps.min_poll_interval;
            let refused = admin(format!(
                "refused: {} allows one status fetch of a payment per {} s",
                p.display_name(),
                limit.as_secs().max(1)
            ));
            self.records
                .record(p.name(), payment_id, &[refused])
                .await?;
            return Ok(Rechecked::TooSoon { retry_after: limit });
        }
        let (rec, _) = self
            .fetch_and_apply(p.as_ref(), payment_id, Source::Admin)
            .await?;
        let done = admin(format!(
            "asked {}: provider state '{}'",
            p.display_name(),
            rec.state.provider_status
        ));
        self.records.record(p.name(), payment_id, &[done]).await?;
        Ok(Rechecked::Applied(rec.view()))
    }
}
