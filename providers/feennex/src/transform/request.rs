//! The signed request bodies of `invoice/create`, `invoice/try` and `invoice/check`: the
//! endpoint's required keys are signed exactly as they are sent.

use chrono::{DateTime, Utc};
use payrouter_provider::{string_field, Money, PayOrder, PaymentTag, ProviderError, QuoteOrder};
use serde::Serialize;
use serde_json::Map;
use serde_json::Value;

use super::tag::tagged_description;
use super::{Shop, SHOP_ORDER_ID_MAX};
use crate::sign;

/// Feennex's limit for `description`, in characters.
pub(super) const DESCRIPTION_MAX: usize = 255;

/// Body of `POST /invoice/create`: the signed keys of an invoice, then the unsigned fields.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CreateRequest {
    #[serde(flatten)]
    pub invoice: TryRequest,
    /// Required by Feennex but not signed.
    pub email: String,
    /// The PGM's description, and the payment tag when `tags` are given (`tag`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_rejected_url: Option<String>,
}

/// Body of `POST /invoice/try`, and the signed part of invoice/create: the five keys both
/// sign, and the sign over them as sent.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct TryRequest {
    /// Two decimals, sent as a string so that it is signed as sent.
    pub amount: String,
    /// ISO 4217 numeric.
    pub currency: u16,
    pub payway: String,
    pub shop_id: u64,
    pub shop_order_id: String,
    pub sign: String,
}

/// Body of `POST /invoice/check`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CheckRequest {
    pub now: String,
    pub shop_id: u64,
    pub shop_order_id: String,
    pub sign: String,
}

fn invalid(field: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::invalid(field, message)
}

/// The invoice/create of `order`; with `tags`, its description carries the payment tag of the
/// shop_order_id.
pub fn create_request(
    order: &PayOrder,
    shop: &Shop,
    tags: Option<&PaymentTag>,
) -> Result<CreateRequest, ProviderError> {
    let shop_order_id = order
        .provider_order_id
        .clone()
        .unwrap_or_else(|| order.shop_transaction_id.clone());
    if shop_order_id.is_empty() || shop_order_id.len() > SHOP_ORDER_ID_MAX {
        return Err(invalid(
            "shopTransactionId",
            "must be 1-255 bytes for Feennex (it is sent as shop_order_id)",
        ));
    }
    let data = &order.provider_data;
    let invoice = signed_invoice(order.amount, data, shop_order_id, shop)?;
    let email = match data.get("email") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(invalid(
                "providerData.email",
                "required by Feennex: the payer's e-mail",
            ))
        }
    };
    if !email.contains('@') {
        return Err(invalid("providerData.email", "must be an e-mail address"));
    }
    let description = string_field(data, "description")?;
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > DESCRIPTION_MAX)
    {
        return Err(invalid(
            "providerData.description",
            "must be at most 255 characters",
        ));
    }
    let description = match tags {
        Some(tags) => Some(tagged_description(
            description.as_deref(),
            &invoice.shop_order_id,
            tags,
        )),
        None => description,
    };
    Ok(CreateRequest {
        invoice,
        email,
        description,
        success_url: order.success_redirect_url.clone(),
        failed_url: order.failure_redirect_url.clone(),
        callback_url: shop.callback_url.clone(),
        callback_rejected_url: shop.callback_url.clone(),
    })
}

/// The invoice/try of a quote. `shop_order_id` is a fresh one that is never used again: Feennex
/// requires one, and a quote must not take the shop_order_id of a real payment.
pub fn try_request(
    order: &QuoteOrder,
    shop_order_id: &str,
    shop: &Shop,
) -> Result<TryRequest, ProviderError> {
    signed_invoice(
        order.amount,
        &order.provider_data,
        shop_order_id.to_string(),
        shop,
    )
}

/// The signed keys of an invoice of `amount` (sent with two decimals) by the payway `data` names
/// (else `FEENNEX_PAYWAY`), and their sign.
fn signed_invoice(
    amount: Money,
    data: &Map<String, Value>,
    shop_order_id: String,
    shop: &Shop,
) -> Result<TryRequest, ProviderError> {
    let text = amount
        .to_decimal_string(2)
        .map_err(|e| invalid("amount", e.to_string()))?;
    let payway = string_field(data, "payway")?
        .or_else(|| shop.default_payway.clone())
        .ok_or_else(|| {
            invalid(
                "providerData.payway",
                "required: no FEENNEX_PAYWAY default is set; pass the Feennex payway, e.g. card_usd",
            )
        })?;
    let currency = amount.currency.numeric();
    let currency_text = currency.to_string();
    let shop_id_text = shop.shop_id.to_string();
    let sign = sign::sign(
        &[
            ("amount", text.as_str()),
            ("currency", currency_text.as_str()),
            ("payway", payway.as_str()),
            ("shop_id", shop_id_text.as_str()),
            ("shop_order_id", shop_order_id.as_str()),
        ],
        &shop.secret_key,
    );
    Ok(TryRequest {
        amount: text,
        currency,
        payway,
        shop_id: shop.shop_id,
        shop_order_id,
        sign,
    })
}

pub fn check_request(shop_order_id: &str, shop: &Shop, now: DateTime<Utc>) -> CheckRequest {
    let now = now.format("%Y-%m-%dT%H:%M:%S").to_string();
    let shop_id_text = shop.shop_id.to_string();
    let sign = sign::sign(
        &[
            ("now", now.as_str()),
            ("shop_id", shop_id_text.as_str()),
            ("shop_order_id", shop_order_id),
        ],
        &shop.secret_key,
    );
    CheckRequest {
        now,
        shop_id: shop.shop_id,
        shop_order_id: shop_order_id.to_string(),
        sign,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{cur, field_of, shop};
    use super::*;
    use crate::sign::vectors;
    use payrouter_provider::Money;
    use serde_json::json;

    fn order(minor: i64, currency: &str, provider_data: Value) -> PayOrder {
        PayOrder {
            amount: Money::new(minor, cur(currency)),
            shop_transaction_id: "4126".into(),
            success_redirect_url: None,
            failure_redirect_url: None,
            provider_data: provider_data.as_object().cloned().unwrap_or_default(),
            provider_order_id: None,
        }
    }

    #[test]
    fn create_request_signs_exactly_the_sent_values() {
        let o = order(1234, "USD", json!({"email": "payer@example.com"}));
        let body = create_request(&o, &shop(), None).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            vectors::invoice_create_body()
        );
    }

    #[test]
    fn create_request_carries_optional_fields() {
        let mut o = order(
            1299,
            "JPY",
            json!({"email": "p@x.io", "payway": "card_jpy", "description": "Order #7", "other": 1}),
        );
        o.success_redirect_url = Some("https://shop.example/ok".into());
        o.failure_redirect_url = Some("https://shop.example/ko".into());
        let mut s = shop();
        s.callback_url = None;
        let body = create_request(&o, &s, None).unwrap();
        assert_eq!(body.invoice.amount, "1299.00");
        assert_eq!(body.invoice.currency, 392);
        assert_eq!(body.invoice.payway, "card_jpy");
        assert_eq!(body.description.as_deref(), Some("Order #7"));
        assert_eq!(body.success_url.as_deref(), Some("https://shop.example/ok"));
        assert_eq!(body.failed_url.as_deref(), Some("https://shop.example/ko"));
        assert_eq!(body.callback_url, None);
        assert_eq!(body.callback_rejected_url, None);
        let expected = sign::sign(
            &[
                ("amount", "1299.00"),
                ("currency", "392"),
                ("payway", "card_jpy"),
                ("shop_id", "5"),
                ("shop_order_id", "4126"),
            ],
            &s.secret_key,
        );
        assert_eq!(body.invoice.sign, expected);
        let v = serde_json::to_value(&body).unwrap();
        assert!(v.get("callback_url").is_none() && v.get("other").is_none());
    }

    #[test]
    fn create_request_refuses_what_feennex_cannot_take() {
        let email = json!({"email": "p@x.io"});
        let e = create_request(&order(1234, "KWD", email.clone()), &shop(), None).unwrap_err();
        assert_eq!(field_of(&e), "amount");

        for data in [
            json!({}),
            json!({"email": 5}),
            json!({"email": ""}),
            json!({"email": null}),
        ] {
            let e = create_request(&order(100, "USD", data), &shop(), None).unwrap_err();
            assert_eq!(
                e.to_string(),
                "providerData.email: required by Feennex: the payer's e-mail"
            );
        }
        let e = create_request(
            &order(100, "USD", json!({"email": "nobody"})),
            &shop(),
            None,
        )
        .unwrap_err();
        assert_eq!(field_of(&e), "providerData.email");

        let mut s = shop();
        s.default_payway = None;
        let e = create_request(&order(100, "USD", email.clone()), &s, None).unwrap_err();
        assert_eq!(field_of(&e), "providerData.payway");
        let e = create_request(
            &order(100, "USD", json!({"email": "p@x.io", "payway": 3})),
            &shop(),
            None,
        )
        .unwrap_err();
        assert_eq!(field_of(&e), "providerData.payway");

        let long = "é".repeat(256);
        let e = create_request(
            &order(100, "USD", json!({"email": "p@x.io", "description": long})),
            &shop(),
            None,
        )
        .unwrap_err();
        assert_eq!(field_of(&e), "providerData.description");
        let ok = "é".repeat(255);
        assert!(create_request(
            &order(100, "USD", json!({"email": "p@x.io", "description": ok})),
            &shop(),
            None,
        )
        .is_ok());

        let mut o = order(100, "USD", email);
        o.shop_transaction_id = "é".repeat(128);
        let e = create_request(&o, &shop(), None).unwrap_err();
        assert_eq!(field_of(&e), "shopTransactionId");
    }

    #[test]
    fn an_order_id_chosen_by_the_router_is_the_shop_order_id() {
        let mut o = order(100, "USD", json!({"email": "p@x.io"}));
        o.provider_order_id = Some("sub_0a1b-2".into());
        let body = create_request(&o, &shop(), None).unwrap();
        assert_eq!(body.invoice.shop_order_id, "sub_0a1b-2");
        let plain = create_request(
            &order(100, "USD", json!({"email": "p@x.io"})),
            &shop(),
            None,
        )
        .unwrap();
        assert_eq!(plain.invoice.shop_order_id, "4126");
        assert_ne!(
            body.invoice.sign, plain.invoice.sign,
            "the chosen id is signed"
        );
    }

    #[test]
    fn with_tags_the_description_carries_the_tag_of_the_shop_order_id() {
        let tags = PaymentTag::new(payrouter_provider::SecretString::from("tag-key"));
        let mut o = order(
            100,
            "USD",
            json!({"email": "p@x.io", "description": "Order #7"}),
        );
        let body = create_request(&o, &shop(), Some(&tags)).unwrap();
        assert_eq!(
            body.description,
            Some(format!("Order #7 [pr:{}]", tags.tag("4126")))
        );
        o.provider_data.remove("description");
        o.provider_order_id = Some("sub_0a1b-2".into());
        let body = create_request(&o, &shop(), Some(&tags)).unwrap();
        assert_eq!(
            body.description,
            Some(format!("[pr:{}]", tags.tag("sub_0a1b-2"))),
            "the tag is of the shop_order_id sent"
        );
        let untagged = create_request(&o, &shop(), None).unwrap();
        assert_eq!(
            untagged.invoice.sign, body.invoice.sign,
            "the description is not signed"
        );
    }

    #[test]
    fn check_request_vector() {
        let now = DateTime::parse_from_rfc3339("2024-04-12T06:18:34.719Z")
            .unwrap()
            .with_timezone(&Utc);
        let body = check_request("4126", &shop(), now);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "now": "2024-04-12T06:18:34",
                "shop_id": 5,
                "shop_order_id": "4126",
                "sign": vectors::INVOICE_CHECK_SIGN,
            })
        );
    }
}
