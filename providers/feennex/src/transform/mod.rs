//! Pure translation between the contract and Feennex's API, one module per concern: `request`
//! builds the signed bodies, `answer` reads Feennex's envelope and maps invoice statuses,
//! `quote` reads the figures of invoice/try, `receipt` the bank-transfer receipt endpoints,
//! `error_code` says what each `error_code` means, `callback` authenticates callbacks, `tag`
//! carries the payment tag in an invoice's description, and
//! `raw_json` reads JSON values exactly as sent (amounts and signatures depend on the number
//! tokens). No I/O and no logging here: the adapter in `lib.rs` logs what it needs to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use payrouter_provider::{Redactor, SecretString};

mod answer;
mod callback;
mod error_code;
mod quote;
mod raw_json;
mod receipt;
mod request;
mod tag;

pub use answer::{
    check_data, envelope, fetched_payment, map_status, pay_outcome, CheckData, Envelope,
    Recalculation,
};
pub use callback::{callback_fields, callback_subject};
pub use error_code::undocumented_code;
pub use quote::quote_outcome;
pub use receipt::{receipt_target, receipts, upload_outcome};
pub use request::{
    check_request, create_request, try_request, CheckRequest, CreateRequest, TryRequest,
};
pub use tag::{carries_tag, tagged_description};

pub const CREATE_PATH: &str = "/invoice/create";
pub const CHECK_PATH: &str = "/invoice/check";
pub const TRY_PATH: &str = "/invoice/try";

/// Feennex's limit for `shop_order_id`, taken as bytes so it holds whatever Feennex counts.
const SHOP_ORDER_ID_MAX: usize = 255;

/// Who we are at Feennex and where it should call us back.
#[derive(Debug, Clone)]
pub struct Shop {
    pub shop_id: u64,
    pub secret_key: SecretString,
    /// `FEENNEX_PAYWAY`, used when the order carries no `providerData.payway`.
    pub default_payway: Option<String>,
    /// `{PUBLIC_BASE_URL}/v3/feennex/callback`; without it the shop's dashboard URLs apply.
    pub callback_url: Option<String>,
}

impl Shop {
    /// Quotes Feennex's text, shortened and with the secret key removed should it ever be
    /// echoed.
    fn quote(&self, message: &str) -> String {
        Redactor::new([self.secret_key.clone()]).quote(message)
    }
}

/// The paymentId of an order: its shop_order_id in base64url without padding, so that
/// invoice/check can be called from the paymentId alone, even after the router's store is lost.
pub fn payment_id_for(shop_order_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(shop_order_id.as_bytes())
}

/// The shop_order_id a paymentId stands for. Only the exact encoding `payment_id_for` gives is
/// accepted (no padding, no non-canonical trailing bits).
pub fn shop_order_id_of(payment_id: &str) -> Result<String, String> {
    const HINT: &str = "paymentId must be a Feennex paymentId issued by this router";
    let bytes = URL_SAFE_NO_PAD
        .decode(payment_id)
        .map_err(|_| HINT.to_string())?;
    let id = String::from_utf8(bytes).map_err(|_| HINT.to_string())?;
    if id.is_empty() || id.len() > SHOP_ORDER_ID_MAX {
        return Err(HINT.into());
    }
    Ok(id)
}

pub fn check_payment_id(payment_id: &str) -> Result<(), String> {
    shop_order_id_of(payment_id).map(|_| ())
}

/// What the tests of every module build on.
#[cfg(test)]
mod fixtures {
    use payrouter_provider::{Currency, ProviderError, SecretString};

    use super::Shop;
    pub use crate::sign::vectors::SECRET;

    pub fn shop() -> Shop {
        Shop {
            shop_id: 5,
            secret_key: SecretString::from(SECRET),
            default_payway: Some("card_usd".into()),
            callback_url: Some("https://router.example/v3/feennex/callback".into()),
        }
    }

    pub fn cur(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    /// Owned (name, value) pairs, as fields are read.
    pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub fn field_of(e: &ProviderError) -> &str {
        match e {
            ProviderError::InvalidRequest { field, .. } => field,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_id_is_base64url_of_shop_order_id() {
        assert_eq!(payment_id_for("4126"), "NDEyNg");
        assert_eq!(shop_order_id_of("NDEyNg").unwrap(), "4126");
        for id in [
            "a",
            "order/42?x=1&y=2",
            "заказ-№7",
            "~~~>>>???",
            &"x".repeat(255),
        ] {
            let pid = payment_id_for(id);
            assert!(pid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(shop_order_id_of(&pid).unwrap(), id);
            assert!(check_payment_id(&pid).is_ok());
        }
    }

    #[test]
    fn payment_id_check_rejects_everything_else() {
        let too_long = payment_id_for(&"x".repeat(256));
        let not_utf8 = URL_SAFE_NO_PAD.encode([0xff, 0xfe]);
        for bad in [
            "",
            "NDEyNg==", // padded
            "NDEyNh",   // non-canonical trailing bits
            "ND+yNg",   // standard alphabet
            "ND/yNg",
            "NDEy Ng",
            "N", // impossible length
            "../etc",
            too_long.as_str(),
            not_utf8.as_str(),
        ] {
            assert!(check_payment_id(bad).is_err(), "{bad:?} accepted");
        }
    }
}
