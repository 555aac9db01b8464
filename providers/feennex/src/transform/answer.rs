//! Feennex's answers: its envelope (errors come with HTTP 200 and `result: false`), what an
//! `invoice/create` and an `invoice/check` answer mean, and the invoice status mapping.

use payrouter_provider::transport::Reply;
use payrouter_provider::{
    Action, CreatedPayment, Currency, FetchedPayment, Money, PayOutcome, PaymentStatusKind,
    PaymentTag, ProviderError, ProviderState, Redirect,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::error_code::{check_error, pay_error};
use super::raw_json::{
    currency_of, integer_of, money_of, optional_integer, scalar, text_of, unusable, RawEntries,
    Scalar,
};
use super::tag::carries_tag;
use super::{payment_id_for, Shop};

/// Every Feennex answer, success or not (errors come with HTTP 200 and `result: false`).
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub result: bool,
    pub error_code: Option<i64>,
    pub message: Option<Value>,
    pub data: Option<Box<RawValue>>,
}

impl Envelope {
    /// The `data` of a successful answer to `endpoint`, read as `T`.
    pub(super) fn data_as<T: serde::de::DeserializeOwned>(
        self,
        endpoint: &str,
    ) -> Result<T, ProviderError> {
        let data = self
            .data
            .ok_or_else(|| unusable(format_args!("{endpoint} succeeded without data")))?;
        serde_json::from_str(data.get()).map_err(|e| unusable(format_args!("{endpoint}: {e}")))
    }
}

/// Reads Feennex's envelope from an answer to `path`. Feennex answers refusals with HTTP 200,
/// so the envelope may still be one.
pub fn envelope(reply: &Reply, path: &str) -> Result<Envelope, ProviderError> {
    let status = reply.status;
    match status {
        200..=299 => serde_json::from_slice(&reply.body).map_err(|_| {
            ProviderError::Unavailable(format!(
                "Feennex sent an answer to {path} that is not its JSON envelope"
            ))
        }),
        300..=399 => Err(ProviderError::Misconfigured(format!(
            "Feennex answered {path} with a redirect (HTTP {status}): check FEENNEX_BASE_URL"
        ))),
        400..=499 => match serde_json::from_slice::<Envelope>(&reply.body) {
            // Some front ends pass Feennex's own refusal through with a 4xx status.
            Ok(envelope) if !envelope.result => Ok(envelope),
            _ => Err(client_error(status, path)),
        },
        _ => Err(ProviderError::Unavailable(format!(
            "Feennex answered {path} with HTTP {status}"
        ))),
    }
}

fn client_error(status: u16, path: &str) -> ProviderError {
    match status {
        404 | 405 => ProviderError::Misconfigured(format!(
            "Feennex answered {path} with HTTP {status}: check FEENNEX_BASE_URL"
        )),
        401 | 403 => ProviderError::Misconfigured(format!(
            "Feennex refused {path} with HTTP {status}: check FEENNEX_BASE_URL and add this server's IP to the shop's allowed IPs"
        )),
        _ => ProviderError::Unavailable(format!("Feennex answered {path} with HTTP {status}")),
    }
}

/// `data` of a successful invoice/create.
#[derive(Debug, Deserialize)]
struct CreateData {
    method: String,
    url: String,
    data: Option<Box<RawValue>>,
    receipt_url: Option<String>,
    receipt_status_url: Option<String>,
    receipt_web: Option<String>,
}

/// The receipt endpoints Feennex gives for bank-transfer payment methods.
#[derive(Debug, Default, Deserialize)]
struct ReceiptFields {
    receipt_url: Option<String>,
    receipt_status_url: Option<String>,
    receipt_web: Option<String>,
}

impl ReceiptFields {
    /// The fields as Payment Status `metadata` extras; none unless all three are http(s) URLs
    /// (a bank-transfer payment whose receipts can be both sent and followed).
    fn extras(self) -> Map<String, Value> {
        let mut extras = Map::new();
        let url = |u: &Option<String>| {
            u.as_ref()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .cloned()
        };
        if let (Some(upload), Some(status), Some(web)) = (
            url(&self.receipt_url),
            url(&self.receipt_status_url),
            url(&self.receipt_web),
        ) {
            extras.insert(RECEIPT_WEB_URL.into(), Value::String(web));
            extras.insert(RECEIPT_URL.into(), Value::String(upload));
            extras.insert(RECEIPT_STATUS_URL.into(), Value::String(status));
        }
        extras
    }
}

/// The Payment Status `metadata` keys of a bank transfer's receipt endpoints: the payer's
/// upload form, and the API endpoints the receipt routes use.
pub const RECEIPT_WEB_URL: &str = "receiptWebUrl";
pub const RECEIPT_URL: &str = "receiptUrl";
pub const RECEIPT_STATUS_URL: &str = "receiptStatusUrl";

/// `data` of a successful invoice/check. Amounts stay raw JSON tokens until parsed as decimals.
#[derive(Debug, Deserialize)]
pub struct CheckData {
    status: Box<RawValue>,
    shop_order_id: Option<Box<RawValue>>,
    shop_amount: Option<Box<RawValue>>,
    shop_currency: Option<Box<RawValue>>,
    shop_original_amount: Option<Box<RawValue>>,
    client_price: Option<Box<RawValue>>,
    ps_currency: Option<Box<RawValue>>,
    is_unique: Option<bool>,
    /// What invoice/create was given, so it carries the payment tag when one was sent.
    description: Option<Box<RawValue>>,
}

/// Maps the answer to invoice/create. `shop_order_id` is the one that was sent.
pub fn pay_outcome(
    env: Envelope,
    shop_order_id: &str,
    shop: &Shop,
) -> Result<PayOutcome, ProviderError> {
    if !env.result {
        return pay_error(&env, shop);
    }
    let created: CreateData = env.data_as("invoice/create")?;
    let receipt = ReceiptFields {
        receipt_url: created.receipt_url,
        receipt_status_url: created.receipt_status_url,
        receipt_web: created.receipt_web,
    };
    // The receipt fields may also come inside the redirect's own `data`.
    let receipt = match (&receipt.receipt_url, created.data.as_deref()) {
        (None, Some(inner)) => serde_json::from_str(inner.get()).unwrap_or_default(),
        _ => receipt,
    };
    let extras = receipt.extras();
    if !(created.url.starts_with("https://") || created.url.starts_with("http://")) {
        return Err(unusable("invoice/create gave no http(s) redirect URL"));
    }
    let redirect = if created.method.eq_ignore_ascii_case("GET") {
        Redirect::Get { url: created.url }
    } else if created.method.eq_ignore_ascii_case("POST") {
        Redirect::Post {
            url: created.url,
            fields: form_fields(created.data.as_deref())?,
        }
    } else {
        return Err(unusable(format_args!(
            "invoice/create asked for redirect method '{}'",
            shop.quote(&created.method)
        )));
    };
    Ok(PayOutcome::Created(CreatedPayment {
        payment_id: payment_id_for(shop_order_id),
        redirect,
        redirect_mobile: None,
        state: map_status(1, None),
        reference: None,
        extras,
    }))
}

/// The fields of a POST redirect: strings as they are, anything else as its JSON text.
fn form_fields(data: Option<&RawValue>) -> Result<Vec<(String, String)>, ProviderError> {
    let Some(data) = data.filter(|d| !matches!(scalar(d), Scalar::Null)) else {
        return Ok(Vec::new());
    };
    let entries: RawEntries = serde_json::from_str(data.get())
        .map_err(|_| unusable("invoice/create redirect data is not an object"))?;
    Ok(entries
        .0
        .into_iter()
        .map(|(key, raw)| {
            let value = match scalar(&raw) {
                Scalar::Text(s) => s,
                Scalar::Null => "null".to_string(),
                Scalar::Token(t) | Scalar::Composite(t) => t,
            };
            (key, value)
        })
        .collect())
}

/// The `data` of an answer to invoice/check about `shop_order_id`.
pub fn check_data(
    env: Envelope,
    shop_order_id: &str,
    shop: &Shop,
) -> Result<CheckData, ProviderError> {
    if !env.result {
        return Err(check_error(&env, shop_order_id, shop));
    }
    let d: CheckData = env.data_as("invoice/check")?;
    if let Some(raw) = &d.shop_order_id {
        if text_of(raw, "shop_order_id")?.is_some_and(|got| got != shop_order_id) {
            return Err(unusable(
                "invoice/check answered about another shop_order_id",
            ));
        }
    }
    Ok(d)
}

impl CheckData {
    /// Feennex has several invoices with this shop_order_id and reports the latest.
    pub fn several_invoices(&self) -> bool {
        self.is_unique == Some(false)
    }

    /// Whether this router created the invoice: without `tags` any invoice of the shop is
    /// taken as its own; with them, only one whose description carries the tag. A description
    /// that is not a string carries none.
    fn is_ours(&self, shop_order_id: &str, tags: Option<&PaymentTag>) -> bool {
        let Some(tags) = tags else {
            return true;
        };
        let description = match self.description.as_deref().map(scalar) {
            Some(Scalar::Text(text)) => Some(text),
            _ => None,
        };
        carries_tag(description.as_deref(), shop_order_id, tags)
    }
}

/// The payment `payment_id` (= `shop_order_id` encoded) as invoice/check describes it. With
/// `tags`, it names its shopTransactionId (the shop_order_id) only when its description carries
/// the tag of that shop_order_id: an invoice this router did not create is not its payment.
pub fn fetched_payment(
    d: CheckData,
    payment_id: &str,
    shop_order_id: &str,
    tags: Option<&PaymentTag>,
) -> Result<FetchedPayment, ProviderError> {
    let code = integer_of(&d.status, "status")?;
    let currency = optional_integer(d.shop_currency.as_deref(), "shop_currency")?
        .map(|numeric| {
            currency_of(numeric).ok_or_else(|| {
                unusable(format_args!(
                    "shop_currency {numeric} is not an ISO 4217 currency"
                ))
            })
        })
        .transpose()?;
    let (requested, recalculation) = match currency {
        None => (None, None),
        Some(currency) => amounts(&d, currency, code)?,
    };
    Ok(FetchedPayment {
        payment_id: payment_id.to_string(),
        state: map_status(code, recalculation),
        amount: requested,
        reference: None,
        shop_transaction_id: d
            .is_ours(shop_order_id, tags)
            .then(|| shop_order_id.to_string()),
    })
}

/// The amount the invoice asked for, and for status 12 both amounts of the recalculation.
fn amounts(
    d: &CheckData,
    currency: Currency,
    code: i64,
) -> Result<(Option<Money>, Option<Recalculation>), ProviderError> {
    let shop_amount = money_of(d.shop_amount.as_deref(), currency, "shop_amount")?;
    let original = money_of(
        d.shop_original_amount.as_deref(),
        currency,
        "shop_original_amount",
    )?;
    let requested = original.or(shop_amount);
    if code != 12 {
        return Ok((requested, None));
    }
    // `client_price` is in the payer's currency (`ps_currency`): it is only comparable when
    // that is the shop's currency. Otherwise `shop_amount`, which Feennex recalculates to what
    // was paid when it also sends `shop_original_amount`, is the paid amount.
    let same_currency = optional_integer(d.ps_currency.as_deref(), "ps_currency")?
        .is_none_or(|numeric| numeric == i64::from(currency.numeric()));
    let recalculated = original.and(shop_amount);
    let paid = if same_currency {
        money_of(d.client_price.as_deref(), currency, "client_price")?.or(recalculated)
    } else {
        recalculated
    };
    let recalculation = match (requested, paid) {
        (Some(requested), Some(paid)) => Some(Recalculation { requested, paid }),
        _ => None,
    };
    Ok((requested, recalculation))
}

/// The two amounts of a recalculated invoice (status 12), in the shop's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recalculation {
    pub requested: Money,
    pub paid: Money,
}

/// Maps a Feennex invoice status (CONTRACT §3), code by code.
pub fn map_status(code: i64, recalculation: Option<Recalculation>) -> ProviderState {
    use Action::{Payment, Refund};
    use PaymentStatusKind::{Accepted, Failed, Pending};
    let raw = code.to_string();
    let (status, action, is_final) = match code {
        // Created, Waiting, PsCreatingError (Feennex does not mark it final), Hold, Captured,
        // Refunding.
        1 | 2 | 3 | 8 | 10 | 11 => (Pending, Payment, false),
        4 => (Accepted, Payment, true),
        // CallbackError is deprecated and does not say whether the payer paid: never guess,
        // keep polling, and let the gateway log and count it as a state the mapping cannot
        // place.
        5 => return ProviderState::unknown(raw),
        6 => (Failed, Payment, true),
        7 | 9 => (Accepted, Refund, true),
        12 => return recalculated_state(raw, recalculation),
        _ => return ProviderState::unknown(raw),
    };
    ProviderState::new(raw, status, action, is_final)
}

/// Status 12: the payer paid a different amount. Accepted when it covers what was asked.
fn recalculated_state(raw: String, recalculation: Option<Recalculation>) -> ProviderState {
    let Some(Recalculation { requested, paid }) = recalculation else {
        // Without both amounts in one currency there is nothing to compare: never guess.
        return ProviderState::unknown(raw);
    };
    let status = if paid.minor >= requested.minor {
        PaymentStatusKind::Accepted
    } else {
        PaymentStatusKind::Failed
    };
    let mut state = ProviderState::new(raw, status, Action::Payment, true);
    state
        .metadata
        .insert("requestedAmount".into(), Value::from(requested.minor));
    state
        .metadata
        .insert("paidAmount".into(), Value::from(paid.minor));
    state
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{cur, pairs, shop};
    use super::*;
    use serde_json::json;

    fn envelope(v: Value) -> Envelope {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn get_redirect() {
        let env = envelope(json!({
            "data": {"data": {"session_id": "3067894a"}, "id": 499564464, "method": "GET",
                     "url": "https://pay.example/s/3067894a"},
            "error_code": 0, "message": "Ok", "result": true
        }));
        let PayOutcome::Created(c) = pay_outcome(env, "4126", &shop()).unwrap() else {
            panic!("not created")
        };
        assert_eq!(c.payment_id, "NDEyNg");
        assert_eq!(
            c.redirect,
            Redirect::Get {
                url: "https://pay.example/s/3067894a".into()
            }
        );
        assert_eq!(c.state, map_status(1, None));
        assert_eq!(c.state.status, PaymentStatusKind::Pending);
        assert_eq!(c.reference, None);
        assert!(
            c.extras.is_empty(),
            "a card payment has no receipt endpoints"
        );
    }

    #[test]
    fn bank_transfer_receipt_endpoints_are_kept_as_extras() {
        let urls = json!({"receipt_url": "https://f.example/api/v1/order/7/receipt",
            "receipt_status_url": "https://f.example/api/v1/order/7/receipt/status",
            "receipt_web": "https://f.example/receipt/7"});
        let expected = json!({"receiptUrl": "https://f.example/api/v1/order/7/receipt",
            "receiptStatusUrl": "https://f.example/api/v1/order/7/receipt/status",
            "receiptWebUrl": "https://f.example/receipt/7"});
        let created = |data: Value| {
            let env =
                envelope(json!({"data": data, "error_code": 0, "message": "Ok", "result": true}));
            match pay_outcome(env, "4126", &shop()).unwrap() {
                PayOutcome::Created(c) => Value::Object(c.extras),
                other => panic!("not created: {other:?}"),
            }
        };
        let mut top = json!({"id": 7, "method": "GET", "url": "https://pay.example/7", "data": {}});
        top.as_object_mut()
            .unwrap()
            .extend(urls.as_object().unwrap().clone());
        assert_eq!(created(top), expected, "beside the redirect");
        let inner = json!({"id": 7, "method": "GET", "url": "https://pay.example/7", "data": urls});
        assert_eq!(created(inner), expected, "inside the redirect's data");
        let partial = json!({"id": 7, "method": "GET", "url": "https://pay.example/7",
            "receipt_url": "https://f.example/r", "receipt_web": "javascript:alert(1)",
            "receipt_status_url": "https://f.example/s"});
        assert_eq!(
            created(partial),
            json!({}),
            "only http(s) endpoints, all three"
        );
    }

    #[test]
    fn post_redirect_keeps_fields_in_order_and_as_text() {
        let body = r#"{"result":true,"error_code":0,"message":"Ok","data":{"id":1,"method":"post",
            "url":"https://payeer.example/merchant/",
            "data":{"m_shop":"123","m_orderid":4126,"m_amount":"12.30","m_price":12.30,
                    "m_flag":true,"m_none":null,"m_obj":{"a":1},"m_desc":"caf\u00e9 \"x\""}}}"#;
        let env: Envelope = serde_json::from_str(body).unwrap();
        let PayOutcome::Created(c) = pay_outcome(env, "4126", &shop()).unwrap() else {
            panic!("not created")
        };
        let Redirect::Post { url, fields } = c.redirect else {
            panic!("not a POST redirect")
        };
        assert_eq!(url, "https://payeer.example/merchant/");
        let expected = pairs(&[
            ("m_shop", "123"),
            ("m_orderid", "4126"),
            ("m_amount", "12.30"),
            ("m_price", "12.30"),
            ("m_flag", "true"),
            ("m_none", "null"),
            ("m_obj", r#"{"a":1}"#),
            ("m_desc", "café \"x\""),
        ]);
        assert_eq!(fields, expected);
    }

    #[test]
    fn unusable_create_answers_are_unavailable() {
        for data in [
            json!(null),
            json!({"method": "GET"}),
            json!({"method": "PUT", "url": "https://x.example"}),
            json!({"method": "GET", "url": "javascript:alert(1)"}),
            json!({"method": "POST", "url": "https://x.example", "data": [1]}),
        ] {
            let env = envelope(json!({"result": true, "error_code": 0, "data": data}));
            assert!(
                matches!(
                    pay_outcome(env, "4126", &shop()),
                    Err(ProviderError::Unavailable(_))
                ),
                "{data}"
            );
        }
    }

    fn check_answer(data: &str) -> Envelope {
        serde_json::from_str(&format!(
            r#"{{"data":{data},"error_code":0,"message":"Ok","result":true}}"#
        ))
        .unwrap()
    }

    fn fetched(data: &str) -> FetchedPayment {
        let data = check_data(check_answer(data), "4126", &shop()).unwrap();
        fetched_payment(data, "NDEyNg", "4126", None).unwrap()
    }

    #[test]
    fn fetched_payment_reads_amounts_from_their_text() {
        let p = fetched(
            r#"{"client_price":12.34,"created":"2024-04-10 12:59:13","is_unique":true,
                "payment_id":11639480,"payway":"card_usd","processed":null,"ps_currency":840,
                "ps_data":null,"shop_amount":12.34,"shop_currency":840,"shop_id":5,
                "shop_order_id":"4126","shop_refund":11.9,"status":4,"updated":null}"#,
        );
        assert_eq!(p.payment_id, "NDEyNg");
        assert_eq!(p.amount, Some(Money::new(1234, cur("USD"))));
        assert_eq!(p.shop_transaction_id.as_deref(), Some("4126"));
        assert_eq!(p.reference, None);
        assert_eq!(p.state.provider_status, "4");
        assert_eq!(p.state.status, PaymentStatusKind::Accepted);
        assert!(p.state.is_final);

        let p = fetched(
            r#"{"shop_amount":1299.0,"shop_currency":392,"shop_order_id":4126,"status":2}"#,
        );
        assert_eq!(p.amount, Some(Money::new(1299, cur("JPY"))));
        let p = fetched(r#"{"shop_amount":"10.0","shop_currency":"978","status":"1"}"#);
        assert_eq!(p.amount, Some(Money::new(1000, cur("EUR"))));
        assert_eq!(p.state.provider_status, "1");
        let p = fetched(r#"{"status":2}"#);
        assert_eq!(p.amount, None);
        // Big amounts do not lose cents the way a float would.
        let p = fetched(r#"{"shop_amount":90071992547409.93,"shop_currency":840,"status":2}"#);
        assert_eq!(
            p.amount,
            Some(Money::new(9_007_199_254_740_993, cur("USD")))
        );
    }

    #[test]
    fn with_tags_only_an_invoice_carrying_its_tag_names_a_shop_transaction_id() {
        let tags = PaymentTag::new(payrouter_provider::SecretString::from("tag-key"));
        let own = format!("Order #7 [pr:{}]", tags.tag("4126"));
        let other = format!("Order #7 [pr:{}]", tags.tag("4127"));
        let fetched_with = |description: Value| {
            let data = json!({"status": 4, "shop_amount": 12.34, "shop_currency": 840,
                              "shop_order_id": "4126", "description": description});
            let data = check_data(check_answer(&data.to_string()), "4126", &shop()).unwrap();
            fetched_payment(data, "NDEyNg", "4126", Some(&tags)).unwrap()
        };
        let p = fetched_with(json!(own));
        assert_eq!(p.shop_transaction_id.as_deref(), Some("4126"));
        assert_eq!(p.amount, Some(Money::new(1234, cur("USD"))));
        for foreign in [
            json!(other),
            json!("4126"),
            json!("Order #7 [pr:0123456789abcdef]"),
            json!(null),
            json!(42),
            json!({"text": own}),
        ] {
            let p = fetched_with(foreign.clone());
            assert_eq!(p.shop_transaction_id, None, "{foreign}");
            assert_eq!(p.state.status, PaymentStatusKind::Accepted, "{foreign}");
        }
        let data = check_data(check_answer(r#"{"status":4}"#), "4126", &shop()).unwrap();
        let p = fetched_payment(data, "NDEyNg", "4126", Some(&tags)).unwrap();
        assert_eq!(p.shop_transaction_id, None, "no description, no tag");
    }

    #[test]
    fn unusable_check_answers_are_unavailable() {
        for data in [
            r#"{"shop_amount":10.0,"shop_currency":840}"#,
            r#"{"status":"paid"}"#,
            r#"{"status":4,"shop_order_id":"4127"}"#,
            r#"{"status":4,"shop_amount":10.001,"shop_currency":840}"#,
            r#"{"status":4,"shop_amount":1e3,"shop_currency":840}"#,
            r#"{"status":4,"shop_amount":10.0,"shop_currency":1}"#,
            r#"{"status":4,"shop_amount":true,"shop_currency":840}"#,
            r#"null"#,
        ] {
            let r = check_data(check_answer(data), "4126", &shop())
                .and_then(|d| fetched_payment(d, "NDEyNg", "4126", None));
            assert!(
                matches!(r, Err(ProviderError::Unavailable(_))),
                "{data}: {r:?}"
            );
        }
    }

    #[test]
    fn every_invoice_status_maps_per_contract() {
        use Action::{Payment, Refund};
        use PaymentStatusKind::{Accepted, Failed, Pending};
        let cases = [
            (1, Pending, Payment, false),
            (2, Pending, Payment, false),
            (3, Pending, Payment, false),
            (4, Accepted, Payment, true),
            (6, Failed, Payment, true),
            (7, Accepted, Refund, true),
            (8, Pending, Payment, false),
            (9, Accepted, Refund, true),
            (10, Pending, Payment, false),
            (11, Pending, Payment, false),
        ];
        for (code, status, action, is_final) in cases {
            let s = map_status(code, None);
            assert_eq!(
                (s.status, s.action, s.is_final, s.unknown),
                (status, action, is_final, false),
                "status {code}"
            );
            assert_eq!(s.provider_status, code.to_string());
        }
        for code in [5, 0, 13, 99, -4] {
            let s = map_status(code, None);
            assert!(s.unknown && !s.is_final, "status {code}");
            assert_eq!(s.status, Pending);
            assert_eq!(s.provider_status, code.to_string());
        }
    }

    #[test]
    fn recalculated_is_accepted_only_when_the_payment_covers_the_request() {
        let usd = cur("USD");
        let state = |requested, paid| {
            map_status(
                12,
                Some(Recalculation {
                    requested: Money::new(requested, usd),
                    paid: Money::new(paid, usd),
                }),
            )
        };
        for (requested, paid, status) in [
            (1000, 1000, PaymentStatusKind::Accepted),
            (1000, 1200, PaymentStatusKind::Accepted),
            (1000, 999, PaymentStatusKind::Failed),
        ] {
            let s = state(requested, paid);
            assert_eq!(s.status, status);
            assert!(s.is_final && !s.unknown);
            assert_eq!(s.action, Action::Payment);
            assert_eq!(
                Value::Object(s.metadata),
                json!({"requestedAmount": requested, "paidAmount": paid})
            );
        }
        assert!(map_status(12, None).unknown);
    }

    #[test]
    fn recalculated_answers() {
        // (answer, status, paidAmount): requestedAmount is 1000 each time.
        let cases = [
            // Paid less than asked, same currency: client_price against shop_original_amount.
            (
                r#"{"status":12,"shop_amount":8.0,"shop_original_amount":10.0,"client_price":8.0,
                    "shop_currency":840,"ps_currency":840}"#,
                PaymentStatusKind::Failed,
                800,
            ),
            // Paid more, no shop_original_amount: shop_amount is what was asked.
            (
                r#"{"status":12,"shop_amount":10.0,"client_price":10.5,"shop_currency":840}"#,
                PaymentStatusKind::Accepted,
                1050,
            ),
            // The payer paid in another currency: compare in the shop's currency.
            (
                r#"{"status":12,"shop_amount":10.0,"shop_original_amount":10.0,"client_price":950.0,
                    "shop_currency":840,"ps_currency":643}"#,
                PaymentStatusKind::Accepted,
                1000,
            ),
        ];
        for (answer, status, paid) in cases {
            let p = fetched(answer);
            assert_eq!(p.state.status, status, "{answer}");
            assert_eq!(
                Value::Object(p.state.metadata),
                json!({"requestedAmount": 1000, "paidAmount": paid}),
                "{answer}"
            );
            assert_eq!(p.amount, Some(Money::new(1000, cur("USD"))), "{answer}");
        }

        // Nothing comparable: never guessed.
        let p = fetched(
            r#"{"status":12,"shop_amount":10.0,"client_price":950.0,"shop_currency":840,"ps_currency":643}"#,
        );
        assert!(p.state.unknown && !p.state.is_final);
    }
}
