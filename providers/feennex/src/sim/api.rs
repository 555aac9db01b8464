//! The simulated Feennex API: `invoice/create`, `invoice/try` and `invoice/check`, signed JSON in, the
//! `{data, error_code, message, result}` envelope out, refusals with HTTP 200 and Feennex's
//! error codes, checked in the order Feennex must check them (the shop before its signature).

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use payrouter_provider::{Currency, Money};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::HashMap;

use super::{
    is_bank_transfer, number, py_float, py_number, CheckData, Invoice, Simulator, PAYWAYS,
};
use crate::sign;

/// Feennex's limits, in major units of the invoice currency.
const MIN_AMOUNT: i64 = 1;
const MAX_AMOUNT: i64 = 100_000;
const SHOP_ORDER_ID_MAX: usize = 255;

/// Feennex's envelope, for answers and refusals alike.
#[derive(Serialize)]
struct Envelope<T> {
    data: Option<T>,
    error_code: i64,
    message: String,
    result: bool,
}

fn ok<T: Serialize>(data: T) -> Response {
    Json(Envelope {
        data: Some(data),
        error_code: 0,
        message: "Ok".into(),
        result: true,
    })
    .into_response()
}

/// A refusal: answered with HTTP 200, `result: false`, the error code and its message.
struct Refusal {
    code: i64,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        Json(Envelope::<()> {
            data: None,
            error_code: self.code,
            message: self.message,
            result: false,
        })
        .into_response()
    }
}

fn refusal(code: i64, message: &str) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

fn bad_parameter(key: &str, problem: &str) -> Refusal {
    refusal(
        10,
        &format!("Incorrect values for parameters: {key}={problem}"),
    )
}

/// `data` of a successful `invoice/create`: where and how to send the payer.
#[derive(Serialize)]
struct Created {
    id: u64,
    method: &'static str,
    url: String,
    data: Value,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    receipt: Option<ReceiptEndpoints>,
}

/// Where a bank transfer's receipt goes: the API endpoints and the payer's own form.
#[derive(Serialize)]
struct ReceiptEndpoints {
    receipt_url: String,
    receipt_status_url: String,
    receipt_web: String,
}

/// A request's members, values as raw JSON so numbers keep their token.
type Fields = HashMap<String, Box<RawValue>>;

fn fields(body: &[u8]) -> Result<Fields, Refusal> {
    serde_json::from_slice(body).map_err(|_| bad_parameter("body", "Not a JSON object."))
}

/// The text Feennex's Python server makes of a value: a string as sent, a number as `str()`
/// of it, booleans as `True`/`False`. None for null, objects and arrays.
fn py_text(raw: &RawValue) -> Option<String> {
    let token = raw.get().trim();
    match token.as_bytes().first()? {
        b'"' => serde_json::from_str(token).ok(),
        b't' => Some("True".into()),
        b'f' => Some("False".into()),
        b'n' | b'{' | b'[' => None,
        _ => py_number(token),
    }
}

fn required(fields: &Fields, key: &str) -> Result<String, Refusal> {
    match fields.get(key) {
        None => Err(bad_parameter(key, "Missing data for required field.")),
        Some(raw) => py_text(raw)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad_parameter(key, "Not a valid value.")),
    }
}

/// An optional text field (URLs, description): a JSON string, or absent or null.
fn optional(fields: &Fields, key: &str) -> Result<Option<String>, Refusal> {
    match fields
        .get(key)
        .map(|raw| serde_json::from_str::<Option<String>>(raw.get()))
    {
        None => Ok(None),
        Some(Ok(value)) => Ok(value.filter(|v| !v.is_empty())),
        Some(Err(_)) => Err(bad_parameter(key, "Not a valid string.")),
    }
}

/// Error 11 unless `shop_id` is the simulated shop: its secret is needed to check the sign.
/// The endpoint's required `keys` (`shop_id` among them), read and checked in Feennex's order:
/// each present, then the shop, then the signature over exactly these values.
fn signed<const N: usize>(
    sim: &Simulator,
    fields: &Fields,
    keys: [&'static str; N],
) -> Result<[String; N], Refusal> {
    let mut values = Vec::with_capacity(N);
    for key in keys {
        values.push(required(fields, key)?);
    }
    let signature = required(fields, "sign")?;
    let shop_id = keys.iter().zip(&values).find(|(k, _)| **k == "shop_id");
    if shop_id.and_then(|(_, id)| id.parse::<u64>().ok()) != Some(sim.inner.config.shop_id) {
        return Err(refusal(11, "Shop not found"));
    }
    let pairs: Vec<(&str, &str)> = keys
        .iter()
        .copied()
        .zip(values.iter().map(String::as_str))
        .collect();
    if !sign::sign(&pairs, &sim.inner.secret).eq_ignore_ascii_case(&signature) {
        return Err(refusal(10, "Invalid sign"));
    }
    values
        .try_into()
        .map_err(|_| refusal(2000, "the simulator lost a field"))
}

/// Applies a fault rule for `operation`, if one applies to this call.
async fn intercept(sim: &Simulator, operation: &str) -> Option<Response> {
    sim.inner.faults.take(operation)?.response().await
}

/// Answers a call of `operation` that changes nothing: a fault rule's answer, if one applies,
/// else `handle`'s data or refusal.
async fn serve<T: Serialize>(
    sim: &Simulator,
    operation: &str,
    handle: impl FnOnce() -> Result<T, Refusal>,
) -> Response {
    if let Some(faulted) = intercept(sim, operation).await {
        return faulted;
    }
    match handle() {
        Ok(data) => ok(data),
        Err(refused) => refused.into_response(),
    }
}

pub(super) async fn create(State(sim): State<Simulator>, body: Bytes) -> Response {
    if let Some(faulted) = intercept(&sim, "create").await {
        return faulted;
    }
    match create_invoice(&sim, &body) {
        Ok(created) => {
            // The invoice exists now: an `after` fault only loses or delays its answer.
            if let Some(fault) = sim.inner.faults.take_after("create") {
                if let Some(replaced) = fault.response().await {
                    return replaced;
                }
            }
            ok(created)
        }
        Err(refused) => refused.into_response(),
    }
}

/// What invoice/create and invoice/try both require and check, in Feennex's order: the signed
/// keys, then the values. Answers the amount, the payway and the shop_order_id.
fn invoice_terms(sim: &Simulator, fields: &Fields) -> Result<(Money, String, String), Refusal> {
    let [amount_text, currency_text, payway, _, shop_order_id] = signed(
        sim,
        fields,
        ["amount", "currency", "payway", "shop_id", "shop_order_id"],
    )?;
    if shop_order_id.len() > SHOP_ORDER_ID_MAX {
        return Err(bad_parameter(
            "shop_order_id",
            "Longer than maximum length 255.",
        ));
    }
    let currency = currency_text
        .parse::<u16>()
        .ok()
        .and_then(iso_currency::Currency::from_numeric)
        .and_then(|c| Currency::from_code(c.code()))
        .ok_or_else(|| bad_parameter("currency", "Unknown currency."))?;
    let amount = Money::from_decimal_str(&amount_text, currency)
        .map_err(|_| bad_parameter("amount", "Not a valid number (at most 2 decimals)."))?;
    if !PAYWAYS.contains(&payway.as_str()) {
        return Err(refusal(
            3,
            &format!("Payway (alias = {payway}) is not available for shop"),
        ));
    }
    let unit = 10i64.pow(currency.exponent());
    if amount.minor < MIN_AMOUNT * unit {
        return Err(refusal(4, "Payer price amount is too small, min: 1.0"));
    }
    if amount.minor > MAX_AMOUNT * unit {
        return Err(refusal(5, "Payer price amount is too large, max: 100000.0"));
    }
    Ok((amount, payway, shop_order_id))
}

fn create_invoice(sim: &Simulator, body: &[u8]) -> Result<Created, Refusal> {
    let fields = fields(body)?;
    let (amount, payway, shop_order_id) = invoice_terms(sim, &fields)?;
    let email = required(&fields, "email")?;
    let invoice = Invoice {
        id: 0,
        shop_order_id,
        amount,
        payway,
        email,
        description: optional(&fields, "description")?,
        success_url: optional(&fields, "success_url")?,
        failed_url: optional(&fields, "failed_url")?,
        callback_url: optional(&fields, "callback_url")?,
        callback_rejected_url: optional(&fields, "callback_rejected_url")?,
        status: 2,
        created: Utc::now(),
        processed: None,
        paid: None,
        receipts: Vec::new(),
    };
    let mut store = sim.store();
    if store
        .invoices
        .iter()
        .any(|i| i.shop_order_id == invoice.shop_order_id)
    {
        return Err(refusal(6, "Operation is not unique"));
    }
    store.last_id += 1;
    let invoice = Invoice {
        id: store.last_id,
        ..invoice
    };
    let receipt = is_bank_transfer(&invoice.payway).then(|| ReceiptEndpoints {
        receipt_url: format!("{}/api/v1/order/{}/receipt", sim.base(), invoice.id),
        receipt_status_url: format!("{}/api/v1/order/{}/receipt/status", sim.base(), invoice.id),
        receipt_web: format!("{}/pay/{}", sim.base(), invoice.id),
    });
    let created = if invoice.uses_post_redirect() {
        Created {
            id: invoice.id,
            method: "POST",
            url: format!("{}/pay-form", sim.base()),
            data: json!({"invoice_id": invoice.id.to_string(), "lang": "en"}),
            receipt,
        }
    } else {
        Created {
            id: invoice.id,
            method: "GET",
            url: format!("{}/pay/{}", sim.base(), invoice.id),
            data: json!({}),
            receipt,
        }
    };
    store.invoices.push(invoice);
    Ok(created)
}

pub(super) async fn try_invoice(State(sim): State<Simulator>, body: Bytes) -> Response {
    serve(&sim, "try", || precalculate(&sim, &body)).await
}

/// `data` of `invoice/try`; amounts are number tokens written as Feennex writes them.
#[derive(Serialize)]
struct TryData {
    add_ons_config: Value,
    exch_fee: Box<RawValue>,
    info: Option<String>,
    manual: u8,
    payer_fee: Box<RawValue>,
    payer_price: Box<RawValue>,
    paymethod_id: u64,
    paymethod_name: &'static str,
    ps_currency: u16,
    warning: Option<String>,
}

/// The simulated tariff: the payer pays a fee of `FEE_PERCENT` of the amount, rounded up to
/// the currency's minor unit, in the invoice's own currency (no exchange, so no exchange fee).
/// Nothing is stored: the shop_order_id is only checked.
fn precalculate(sim: &Simulator, body: &[u8]) -> Result<TryData, Refusal> {
    let fields = fields(body)?;
    let (amount, payway, _) = invoice_terms(sim, &fields)?;
    let fee = Money::new(payer_fee(amount.minor), amount.currency);
    let price = Money::new(amount.minor + fee.minor, amount.currency);
    let email = json!({"example": "payer@example.com", "label": {"en": "E-mail:"},
        "regex": "^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+.[a-zA-Z0-9-.]+$",
        "title": {"en": "Enter your e-mail"}});
    let (add_ons_config, paymethod_name) = if is_bank_transfer(&payway) {
        let phone = json!({"example": "79999999999", "label": {"en": "Phone:"},
            "regex": "^[0-9]{10,15}$", "title": {"en": "Enter your phone number"}});
        (json!({"email": email, "phone": phone}), "Bank transfer")
    } else {
        (json!({"email": email}), "Bank card")
    };
    Ok(TryData {
        add_ons_config,
        exch_fee: number("0"),
        info: None,
        manual: 1,
        payer_fee: number(&py_float(fee)),
        payer_price: number(&py_float(price)),
        paymethod_id: 268,
        paymethod_name,
        ps_currency: amount.currency.numeric(),
        warning: None,
    })
}

/// The simulated fee, in percent of the amount.
const FEE_PERCENT: i64 = 3;

/// `FEE_PERCENT` of `minor`, rounded up to a whole minor unit.
fn payer_fee(minor: i64) -> i64 {
    (minor * FEE_PERCENT + 99) / 100
}

pub(super) async fn check(State(sim): State<Simulator>, body: Bytes) -> Response {
    serve(&sim, "check", || check_invoice(&sim, &body)).await
}

fn check_invoice(sim: &Simulator, body: &[u8]) -> Result<CheckData, Refusal> {
    let fields = fields(body)?;
    let [_, _, shop_order_id] = signed(sim, &fields, ["now", "shop_id", "shop_order_id"])?;
    let store = sim.store();
    let invoice = store
        .invoices
        .iter()
        .find(|i| i.shop_order_id == shop_order_id)
        .ok_or_else(|| refusal(7, "Invoice wasn't found"))?;
    Ok(invoice.check_data(sim.inner.config.shop_id))
}
