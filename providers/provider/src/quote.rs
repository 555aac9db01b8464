//! Precalculation: what the payer would pay for an amount, asked of the provider without
//! creating anything. A quote is an extension of the contract; providers without one answer
//! "not supported".

use serde_json::{Map, Value};

use crate::{Currency, Money};

/// A validated quote request.
#[derive(Debug, Clone)]
pub struct QuoteOrder {
    pub amount: Money,
    pub provider_data: Map<String, Value>,
}

/// The provider's figures for one amount, all in the payer's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// What the payer pays, fees included.
    pub payer_amount: Money,
    pub payer_fee: Money,
    pub exchange_fee: Money,
    pub payer_currency: Currency,
    /// The payment method the figures are for (e.g. Feennex's payway).
    pub payway: String,
    /// The payment method's name, for people.
    pub paymethod_name: String,
    /// The extra providerData fields this payment method needs on pay (e.g. `email`).
    pub required_fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteOutcome {
    Quoted(Quote),
    /// The provider would refuse this payment; answered `KO` with this message.
    Declined {
        message: String,
    },
}
