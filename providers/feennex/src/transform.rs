//! Pure translation between the contract and Feennex's API: request bodies and their
//! signatures, answers and error codes, the status mapping and callback parsing. No I/O here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use payrouter_provider::{
    Action, CallbackError, CallbackSubject, CreatedPayment, Currency, ExposeSecret, FetchedPayment,
    Money, PayOrder, PayOutcome, PaymentStatusKind, ProviderError, ProviderState, Redirect,
    SecretString,
};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;

use crate::sign::{self, SignError};
use crate::NAME;

pub const CREATE_PATH: &str = "/invoice/create";
pub const CHECK_PATH: &str = "/invoice/check";

/// Feennex's limit for `shop_order_id`, taken as bytes so it holds whatever Feennex counts.
const SHOP_ORDER_ID_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 255;
/// Feennex texts are quoted in errors; keep them short.
const MESSAGE_MAX: usize = 300;

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

/// Body of `POST /invoice/create`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CreateRequest {
    pub amount: String,
    pub currency: u16,
    pub payway: String,
    pub shop_id: u64,
    pub shop_order_id: String,
    pub sign: String,
    /// Required by Feennex but not signed.
    pub email: String,
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

/// Body of `POST /invoice/check`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CheckRequest {
    pub now: String,
    pub shop_id: u64,
    pub shop_order_id: String,
    pub sign: String,
}

/// Every Feennex answer, success or not (errors come with HTTP 200 and `result: false`).
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub result: bool,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub message: Option<Value>,
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
}

/// `data` of a successful invoice/create.
#[derive(Debug, Deserialize)]
struct CreateData {
    method: String,
    url: String,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// `data` of a successful invoice/check. Amounts stay raw JSON tokens until parsed as decimals.
#[derive(Debug, Deserialize)]
struct CheckData {
    status: Box<RawValue>,
    #[serde(default)]
    shop_order_id: Option<Box<RawValue>>,
    #[serde(default)]
    shop_amount: Option<Box<RawValue>>,
    #[serde(default)]
    shop_currency: Option<Box<RawValue>>,
    #[serde(default)]
    shop_original_amount: Option<Box<RawValue>>,
    #[serde(default)]
    client_price: Option<Box<RawValue>>,
    #[serde(default)]
    ps_currency: Option<Box<RawValue>>,
    #[serde(default)]
    is_unique: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Payment ids

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

// ---------------------------------------------------------------------------------------------
// Requests

fn invalid(field: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::InvalidRequest {
        field: field.into(),
        message: message.into(),
    }
}

/// A providerData string: absent or null is None, anything but a non-empty string is refused.
fn string_field(data: &Map<String, Value>, key: &str) -> Result<Option<String>, ProviderError> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(invalid(
            &format!("providerData.{key}"),
            "must be a non-empty string",
        )),
    }
}

pub fn create_request(order: &PayOrder, shop: &Shop) -> Result<CreateRequest, ProviderError> {
    let shop_order_id = order.shop_transaction_id.clone();
    if shop_order_id.is_empty() || shop_order_id.len() > SHOP_ORDER_ID_MAX {
        return Err(invalid(
            "shopTransactionId",
            "must be 1-255 bytes for Feennex (it is sent as shop_order_id)",
        ));
    }
    let amount = order
        .amount
        .to_decimal_string(2)
        .map_err(|e| invalid("amount", e.to_string()))?;
    let currency = order.amount.currency.numeric();
    let data = &order.provider_data;
    let payway = string_field(data, "payway")?
        .or_else(|| shop.default_payway.clone())
        .ok_or_else(|| {
            invalid(
                "providerData.payway",
                "required: no FEENNEX_PAYWAY default is set; pass the Feennex payway, e.g. card_usd",
            )
        })?;
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
    let currency_text = currency.to_string();
    let shop_id_text = shop.shop_id.to_string();
    let sign = sign::sign(
        &[
            ("amount", amount.as_str()),
            ("currency", currency_text.as_str()),
            ("payway", payway.as_str()),
            ("shop_id", shop_id_text.as_str()),
            ("shop_order_id", shop_order_id.as_str()),
        ],
        &shop.secret_key,
    );
    Ok(CreateRequest {
        amount,
        currency,
        payway,
        shop_id: shop.shop_id,
        shop_order_id,
        sign,
        email,
        description,
        success_url: order.success_redirect_url.clone(),
        failed_url: order.failure_redirect_url.clone(),
        callback_url: shop.callback_url.clone(),
        callback_rejected_url: shop.callback_url.clone(),
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

// ---------------------------------------------------------------------------------------------
// Error codes

/// Without Feennex's text: a sign error echoes the string-to-sign, kept out of answers and logs.
const SIGN_ERROR: &str =
    "Feennex rejected the request signature (error 10): check FEENNEX_SECRET_KEY";
const SHOP_HINT: &str = "check FEENNEX_SHOP_ID and the shop's status";
const IP_HINT: &str = "add this server's IP to the shop's allowed IPs";
const CONTRACT_HINT: &str = "the shop's contract does not allow this: ask the Feennex account manager to check the shop's contract and tariffs";
const AGGREGATOR_HINT: &str =
    "the shop must be attached to an aggregator: ask the Feennex account manager";
const PROJECT_HINT: &str = "check FEENNEX_SHOP_ID and the shop's project in the Feennex dashboard";

/// Feennex's name for each documented `error_code`.
fn code_name(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "OK",
        1 => "PaywayNotFound",
        2 => "PaywayNotUsed",
        3 => "PaywayNotAvailable",
        4 => "AmountTooSmall",
        5 => "AmountTooLarge",
        6 => "OperationNotUnique",
        7 => "OperationNotFound",
        8 => "OperationIsProcessing",
        9 => "InsufficientBalance",
        10 => "IncorrectRequestParam",
        11 => "ShopNotFound",
        12 => "ShopNotActive",
        13 => "AccountNotFound",
        14 => "IncorrectAccountStatus",
        15 => "RequestIpDenied",
        16 => "InvalidCurrencyExchange",
        17 => "InvalidShopContract",
        18 => "IncorrectAccountType",
        19 => "ShopAggregatorRequire",
        20 => "InvalidProject",
        21 => "ProjectNotActive",
        100 => "IncorrectOperationStatus",
        2000 => "OtherException",
        _ => return None,
    })
}

/// What an `error_code` means for the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorClass {
    /// Feennex refused this payment (payway, amount, duplicate order, balance, …).
    Refusal,
    /// A parameter other than the signature was refused. The ones we build ourselves (amount,
    /// currency, shop_id, shop_order_id) are validated before sending, so this is almost always
    /// the payer's data (e-mail, description, redirect URL): a refusal of this payment.
    BadParameter,
    /// Code 10 about the signature: FEENNEX_SECRET_KEY does not match the shop.
    BadSign,
    NotFound,
    /// Our configuration is at fault; the hint says what to check.
    Configuration(&'static str),
    /// Feennex failed internally.
    Internal,
    Unknown,
}

fn classify(code: i64, message: &str) -> ErrorClass {
    match code {
        1 | 2 | 3 | 4 | 5 | 6 | 8 | 9 | 13 | 14 | 16 | 18 | 100 => ErrorClass::Refusal,
        7 => ErrorClass::NotFound,
        10 if mentions_sign(message) => ErrorClass::BadSign,
        10 => ErrorClass::BadParameter,
        11 | 12 => ErrorClass::Configuration(SHOP_HINT),
        15 => ErrorClass::Configuration(IP_HINT),
        17 => ErrorClass::Configuration(CONTRACT_HINT),
        19 => ErrorClass::Configuration(AGGREGATOR_HINT),
        // Deprecated, but if they come back they are about the shop's project setup.
        20 | 21 => ErrorClass::Configuration(PROJECT_HINT),
        2000 => ErrorClass::Internal,
        // 0 with `result: false` is contradictory, and undocumented codes are not guessed at.
        _ => ErrorClass::Unknown,
    }
}

/// Code 10 covers every bad parameter; only a bad signature is a configuration problem.
fn mentions_sign(message: &str) -> bool {
    message
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word == "sign" || word == "signature")
}

/// Feennex's message, shortened and with the secret key removed should it ever be echoed.
fn quoted(message: &str, secret: &SecretString) -> String {
    let secret = secret.expose_secret();
    let text = if secret.is_empty() {
        message.to_string()
    } else {
        message.replace(secret, "[redacted]")
    };
    match text.char_indices().nth(MESSAGE_MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// The error of a `result: false` answer: its code and its message ("" when absent).
fn error_of(env: &Envelope) -> (i64, String) {
    let message = match &env.message {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    (env.error_code.unwrap_or(0), message)
}

/// "Feennex's message (error N)", falling back to the code's name when the message is empty.
fn describe(code: i64, message: &str, secret: &SecretString) -> String {
    if message.trim().is_empty() {
        match code_name(code) {
            Some(name) => format!("{name} (error {code})"),
            None => format!("error {code}"),
        }
    } else {
        format!("{} (error {code})", quoted(message, secret))
    }
}

fn configuration_error(
    code: i64,
    message: &str,
    hint: &str,
    secret: &SecretString,
) -> ProviderError {
    ProviderError::Misconfigured(format!(
        "Feennex refused the request: {}: {hint}",
        describe(code, message, secret)
    ))
}

fn unknown_code(code: i64, path: &str) {
    tracing::warn!(
        provider = NAME,
        error_code = code,
        path,
        "Feennex answered with an undocumented error code"
    );
}

/// Maps a `result: false` answer to invoice/create.
fn pay_error(code: i64, message: &str, secret: &SecretString) -> Result<PayOutcome, ProviderError> {
    match classify(code, message) {
        ErrorClass::Refusal | ErrorClass::BadParameter => {
            let text = if message.trim().is_empty() {
                describe(code, message, secret)
            } else {
                quoted(message, secret)
            };
            Ok(PayOutcome::Declined {
                message: format!("Feennex: {text}"),
            })
        }
        ErrorClass::BadSign => Err(ProviderError::Misconfigured(SIGN_ERROR.into())),
        ErrorClass::Configuration(hint) => Err(configuration_error(code, message, hint, secret)),
        ErrorClass::NotFound | ErrorClass::Internal => Err(ProviderError::Unavailable(format!(
            "Feennex could not create the invoice: {}",
            describe(code, message, secret)
        ))),
        ErrorClass::Unknown => {
            unknown_code(code, CREATE_PATH);
            Err(ProviderError::Unavailable(format!(
                "Feennex answered invoice/create with an unknown error: {}",
                describe(code, message, secret)
            )))
        }
    }
}

/// Maps a `result: false` answer to invoice/check.
fn check_error(
    code: i64,
    message: &str,
    shop_order_id: &str,
    secret: &SecretString,
) -> ProviderError {
    match classify(code, message) {
        ErrorClass::NotFound => ProviderError::NotFound(format!(
            "Feennex has no invoice with shop_order_id '{shop_order_id}'"
        )),
        ErrorClass::BadSign => ProviderError::Misconfigured(SIGN_ERROR.into()),
        ErrorClass::Configuration(hint) => configuration_error(code, message, hint, secret),
        ErrorClass::Refusal | ErrorClass::BadParameter | ErrorClass::Internal => {
            ProviderError::Unavailable(format!(
                "Feennex refused the status check: {}",
                describe(code, message, secret)
            ))
        }
        ErrorClass::Unknown => {
            unknown_code(code, CHECK_PATH);
            ProviderError::Unavailable(format!(
                "Feennex answered invoice/check with an unknown error: {}",
                describe(code, message, secret)
            ))
        }
    }
}

fn unusable(what: impl fmt::Display) -> ProviderError {
    ProviderError::Unavailable(format!("Feennex sent an unusable answer: {what}"))
}

// ---------------------------------------------------------------------------------------------
// Raw JSON values

/// A JSON object's members in received order, values untouched (number tokens verbatim).
struct RawEntries(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawEntries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = RawEntries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEntries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(RawEntries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// One raw JSON value, classified without converting numbers.
enum Scalar {
    Null,
    /// A JSON string, unescaped.
    Text(String),
    /// A number, `true` or `false`, as its token.
    Token(String),
    /// An object or array, as its JSON text.
    Composite(String),
}

fn scalar(raw: &RawValue) -> Scalar {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<String>(text) {
            Ok(s) => Scalar::Text(s),
            // A RawValue is valid JSON, so a leading quote is always a valid string.
            Err(_) => Scalar::Composite(text.to_string()),
        },
        Some(b'{') | Some(b'[') => Scalar::Composite(text.to_string()),
        Some(b'n') => Scalar::Null,
        _ => Scalar::Token(text.to_string()),
    }
}

/// A string or number value as text; null as None.
fn text_of(raw: &RawValue, field: &str) -> Result<Option<String>, ProviderError> {
    match scalar(raw) {
        Scalar::Null => Ok(None),
        Scalar::Text(s) => Ok(Some(s)),
        Scalar::Token(t) if t != "true" && t != "false" => Ok(Some(t)),
        Scalar::Token(_) | Scalar::Composite(_) => {
            Err(unusable(format_args!("{field} is not a string or number")))
        }
    }
}

fn integer_of(raw: &RawValue, field: &str) -> Result<i64, ProviderError> {
    optional_integer(Some(raw), field)?.ok_or_else(|| unusable(format_args!("{field} is missing")))
}

/// An integer sent as a number or a string of digits; absent or null is None.
fn optional_integer(raw: Option<&RawValue>, field: &str) -> Result<Option<i64>, ProviderError> {
    let Some(text) = raw.map(|r| text_of(r, field)).transpose()?.flatten() else {
        return Ok(None);
    };
    text.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|_| unusable(format_args!("{field} is not an integer")))
}

/// A decimal amount parsed from its JSON text (a number token or a string), never via floats.
fn money_of(
    raw: Option<&RawValue>,
    currency: Currency,
    field: &str,
) -> Result<Option<Money>, ProviderError> {
    let Some(text) = raw.map(|r| text_of(r, field)).transpose()?.flatten() else {
        return Ok(None);
    };
    Money::from_decimal_str(&text, currency)
        .map(Some)
        .map_err(|e| unusable(format_args!("{field}: {e}")))
}

fn currency_of(numeric: i64) -> Option<Currency> {
    let numeric = u16::try_from(numeric).ok()?;
    let iso = iso_currency::Currency::from_numeric(numeric)?;
    Currency::from_code(iso.code())
}

// ---------------------------------------------------------------------------------------------
// Answers

/// Maps the answer to invoice/create. `shop_order_id` is the one that was sent.
pub fn pay_outcome(
    env: Envelope,
    shop_order_id: &str,
    shop: &Shop,
) -> Result<PayOutcome, ProviderError> {
    if !env.result {
        let (code, message) = error_of(&env);
        return pay_error(code, &message, &shop.secret_key);
    }
    let data = env
        .data
        .ok_or_else(|| unusable("invoice/create succeeded without data"))?;
    let created: CreateData = serde_json::from_str(data.get())
        .map_err(|e| unusable(format_args!("invoice/create: {e}")))?;
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
            quoted(&created.method, &shop.secret_key)
        )));
    };
    Ok(PayOutcome::Created(CreatedPayment {
        payment_id: payment_id_for(shop_order_id),
        redirect,
        redirect_mobile: None,
        state: map_status(1, None),
        reference: None,
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

/// Maps the answer to invoice/check for the payment `payment_id` (= `shop_order_id` encoded).
pub fn fetched_payment(
    env: Envelope,
    payment_id: &str,
    shop_order_id: &str,
    shop: &Shop,
) -> Result<FetchedPayment, ProviderError> {
    if !env.result {
        let (code, message) = error_of(&env);
        return Err(check_error(code, &message, shop_order_id, &shop.secret_key));
    }
    let data = env
        .data
        .ok_or_else(|| unusable("invoice/check succeeded without data"))?;
    let d: CheckData = serde_json::from_str(data.get())
        .map_err(|e| unusable(format_args!("invoice/check: {e}")))?;
    if let Some(raw) = &d.shop_order_id {
        if text_of(raw, "shop_order_id")?.is_some_and(|got| got != shop_order_id) {
            return Err(unusable(
                "invoice/check answered about another shop_order_id",
            ));
        }
    }
    if d.is_unique == Some(false) {
        // Feennex then reports the latest invoice with this shop_order_id.
        tracing::warn!(
            provider = NAME,
            payment_id,
            "Feennex has several invoices with this shop_order_id"
        );
    }
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
        shop_transaction_id: Some(shop_order_id.to_string()),
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
        // keep polling, and let it be logged and counted as a state the mapping cannot place.
        5 => {
            unknown_status(code);
            return ProviderState::unknown(raw);
        }
        6 => (Failed, Payment, true),
        7 | 9 => (Accepted, Refund, true),
        12 => return recalculated_state(raw, recalculation),
        _ => {
            unknown_status(code);
            return ProviderState::unknown(raw);
        }
    };
    ProviderState::new(raw, status, action, is_final)
}

/// Status 12: the payer paid a different amount. Accepted when it covers what was asked.
fn recalculated_state(raw: String, recalculation: Option<Recalculation>) -> ProviderState {
    let Some(Recalculation { requested, paid }) = recalculation else {
        // Without both amounts in one currency there is nothing to compare: never guess.
        tracing::warn!(
            provider = NAME,
            "Feennex status 12 without comparable amounts"
        );
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

fn unknown_status(code: i64) {
    tracing::warn!(
        provider = NAME,
        status = code,
        "unmapped Feennex invoice status"
    );
}

// ---------------------------------------------------------------------------------------------
// Callbacks

/// The fields of a callback body, values as received (form values URL-decoded, JSON strings
/// unescaped, JSON numbers verbatim, JSON nulls dropped).
pub fn callback_fields(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, CallbackError> {
    let media = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let json = match media.as_deref() {
        Some("application/json") => true,
        Some("application/x-www-form-urlencoded") => false,
        // No or another content type (Feennex calls its form body "raw data"): sniff.
        _ => body.trim_ascii_start().starts_with(b"{"),
    };
    let fields = if json {
        json_fields(body)?
    } else {
        form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    // A repeated field would make "the" value ambiguous between us and the signer.
    let mut seen = HashSet::with_capacity(fields.len());
    if !fields.iter().all(|(key, _)| seen.insert(key.as_str())) {
        return Err(CallbackError::Malformed(
            "a field appears more than once".into(),
        ));
    }
    Ok(fields)
}

fn json_fields(body: &[u8]) -> Result<Vec<(String, String)>, CallbackError> {
    let entries: RawEntries = serde_json::from_slice(body)
        .map_err(|_| CallbackError::Malformed("body is not a JSON object".into()))?;
    Ok(entries
        .0
        .into_iter()
        .filter_map(|(key, raw)| {
            let value = match scalar(&raw) {
                Scalar::Null => return None,
                Scalar::Text(s) => s,
                // Feennex signs Python's str() of each value: True/False for booleans.
                Scalar::Token(t) if t == "true" => "True".to_string(),
                Scalar::Token(t) if t == "false" => "False".to_string(),
                Scalar::Token(t) | Scalar::Composite(t) => t,
            };
            Some((key, value))
        })
        .collect())
}

/// Authenticates a Feennex callback and names the payment it is about. Its status is not
/// trusted: the gateway confirms with invoice/check.
pub fn callback_subject(
    content_type: Option<&str>,
    body: &[u8],
    shop: &Shop,
) -> Result<CallbackSubject, CallbackError> {
    let fields = callback_fields(content_type, body)?;
    sign::verify_callback(&fields, &shop.secret_key).map_err(|e| match e {
        SignError::Missing => CallbackError::Unauthenticated("sign is missing".into()),
        SignError::Mismatch => CallbackError::Unauthenticated("sign does not match".into()),
    })?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let shop_id =
        field("shop_id").ok_or_else(|| CallbackError::Malformed("shop_id is missing".into()))?;
    if shop_id.trim().parse::<u64>().ok() != Some(shop.shop_id) {
        return Err(CallbackError::Unauthenticated(
            "shop_id is not this router's Feennex shop".into(),
        ));
    }
    let shop_order_id = field("shop_order_id")
        .ok_or_else(|| CallbackError::Malformed("shop_order_id is missing".into()))?;
    if shop_order_id.len() > SHOP_ORDER_ID_MAX {
        return Err(CallbackError::Malformed(
            "shop_order_id is longer than 255 bytes".into(),
        ));
    }
    Ok(CallbackSubject::Payment {
        payment_id: payment_id_for(shop_order_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "SecretKey01";

    fn shop() -> Shop {
        Shop {
            shop_id: 5,
            secret_key: SecretString::from(SECRET),
            default_payway: Some("card_usd".into()),
            callback_url: Some("https://router.example/v3/feennex/callback".into()),
        }
    }

    fn cur(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    fn order(minor: i64, currency: &str, provider_data: Value) -> PayOrder {
        PayOrder {
            amount: Money::new(minor, cur(currency)),
            shop_transaction_id: "4126".into(),
            success_redirect_url: None,
            failure_redirect_url: None,
            provider_data: provider_data.as_object().cloned().unwrap_or_default(),
        }
    }

    fn envelope(v: Value) -> Envelope {
        serde_json::from_str(&v.to_string()).unwrap()
    }

    fn refusal(code: i64, message: &str) -> Envelope {
        envelope(json!({"data": null, "error_code": code, "message": message, "result": false}))
    }

    fn field_of(e: &ProviderError) -> &str {
        match e {
            ProviderError::InvalidRequest { field, .. } => field,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    // -- payment ids ---------------------------------------------------------------------------

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

    // -- invoice/create ------------------------------------------------------------------------

    #[test]
    fn create_request_signs_exactly_the_sent_values() {
        let o = order(1234, "USD", json!({"email": "payer@example.com"}));
        let body = create_request(&o, &shop()).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "amount": "12.34",
                "currency": 840,
                "payway": "card_usd",
                "shop_id": 5,
                "shop_order_id": "4126",
                "sign": "3f83963165cac93c554bdfe08b54edc9d24f570839f624468e7950724ebc25b9",
                "email": "payer@example.com",
                "callback_url": "https://router.example/v3/feennex/callback",
                "callback_rejected_url": "https://router.example/v3/feennex/callback",
            })
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
        let body = create_request(&o, &s).unwrap();
        assert_eq!(body.amount, "1299.00");
        assert_eq!(body.currency, 392);
        assert_eq!(body.payway, "card_jpy");
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
        assert_eq!(body.sign, expected);
        let v = serde_json::to_value(&body).unwrap();
        assert!(v.get("callback_url").is_none() && v.get("other").is_none());
    }

    #[test]
    fn create_request_refuses_what_feennex_cannot_take() {
        let email = json!({"email": "p@x.io"});
        let e = create_request(&order(1234, "KWD", email.clone()), &shop()).unwrap_err();
        assert_eq!(field_of(&e), "amount");

        for data in [
            json!({}),
            json!({"email": 5}),
            json!({"email": ""}),
            json!({"email": null}),
        ] {
            let e = create_request(&order(100, "USD", data), &shop()).unwrap_err();
            assert_eq!(
                e.to_string(),
                "providerData.email: required by Feennex: the payer's e-mail"
            );
        }
        let e =
            create_request(&order(100, "USD", json!({"email": "nobody"})), &shop()).unwrap_err();
        assert_eq!(field_of(&e), "providerData.email");

        let mut s = shop();
        s.default_payway = None;
        let e = create_request(&order(100, "USD", email.clone()), &s).unwrap_err();
        assert_eq!(field_of(&e), "providerData.payway");
        let e = create_request(
            &order(100, "USD", json!({"email": "p@x.io", "payway": 3})),
            &shop(),
        )
        .unwrap_err();
        assert_eq!(field_of(&e), "providerData.payway");

        let long = "é".repeat(256);
        let e = create_request(
            &order(100, "USD", json!({"email": "p@x.io", "description": long})),
            &shop(),
        )
        .unwrap_err();
        assert_eq!(field_of(&e), "providerData.description");
        let ok = "é".repeat(255);
        assert!(create_request(
            &order(100, "USD", json!({"email": "p@x.io", "description": ok})),
            &shop()
        )
        .is_ok());

        let mut o = order(100, "USD", email);
        o.shop_transaction_id = "é".repeat(128);
        let e = create_request(&o, &shop()).unwrap_err();
        assert_eq!(field_of(&e), "shopTransactionId");
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
        let expected: Vec<(String, String)> = [
            ("m_shop", "123"),
            ("m_orderid", "4126"),
            ("m_amount", "12.30"),
            ("m_price", "12.30"),
            ("m_flag", "true"),
            ("m_none", "null"),
            ("m_obj", r#"{"a":1}"#),
            ("m_desc", "café \"x\""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
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

    fn declined(code: i64, message: &str) -> String {
        match pay_outcome(refusal(code, message), "4126", &shop()) {
            Ok(PayOutcome::Declined { message }) => message,
            other => panic!("code {code}: expected Declined, got {other:?}"),
        }
    }

    fn pay_err(code: i64, message: &str) -> ProviderError {
        match pay_outcome(refusal(code, message), "4126", &shop()) {
            Err(e) => e,
            Ok(other) => panic!("code {code}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn business_refusals_are_declined_with_feennex_message() {
        for code in [1, 2, 3, 4, 5, 6, 8, 9, 13, 14, 16, 18, 100] {
            assert_eq!(declined(code, "some reason"), "Feennex: some reason");
        }
        assert_eq!(
            declined(4, "Payer price amount is too small, min: 1.0"),
            "Feennex: Payer price amount is too small, min: 1.0"
        );
        assert_eq!(declined(6, ""), "Feennex: OperationNotUnique (error 6)");
        assert_eq!(
            declined(10, "Incorrect values for parameters: email"),
            "Feennex: Incorrect values for parameters: email"
        );
    }

    #[test]
    fn configuration_refusals_name_the_setting() {
        let cases = [
            (
                10,
                "Invalid sign, string_to_sign: 12.34:840:card_usd:5:4126",
                "check FEENNEX_SECRET_KEY",
            ),
            (10, "sign: wrong", "check FEENNEX_SECRET_KEY"),
            (
                11,
                "Shop not found",
                "check FEENNEX_SHOP_ID and the shop's status",
            ),
            (12, "", "check FEENNEX_SHOP_ID and the shop's status"),
            (
                15,
                "Shop ip 1.2.3.4 denied",
                "add this server's IP to the shop's allowed IPs",
            ),
            (17, "", "contract"),
            (19, "", "aggregator"),
            (20, "", "FEENNEX_SHOP_ID"),
            (21, "", "FEENNEX_SHOP_ID"),
        ];
        for (code, message, hint) in cases {
            match pay_err(code, message) {
                ProviderError::Misconfigured(m) => {
                    assert!(m.contains(hint), "code {code}: {m}");
                    assert!(m.contains(&format!("error {code}")), "code {code}: {m}");
                }
                other => panic!("code {code}: {other:?}"),
            }
        }
        // The IP is worth showing; the string-to-sign is not.
        assert!(pay_err(15, "Shop ip 1.2.3.4 denied")
            .to_string()
            .contains("1.2.3.4"));
        assert!(!pay_err(10, "Invalid sign, string_to_sign: 12.34:840")
            .to_string()
            .contains("12.34"));
    }

    #[test]
    fn feennex_failures_and_unknown_codes_are_unavailable() {
        for code in [7, 2000, 0, 22, 999, -1] {
            assert!(
                matches!(pay_err(code, "x"), ProviderError::Unavailable(_)),
                "code {code}"
            );
        }
    }

    #[test]
    fn secret_is_never_quoted() {
        let e = pay_err(15, "Shop ip denied, key SecretKey01");
        assert!(!e.to_string().contains(SECRET), "{e}");
        assert_eq!(
            declined(4, "too small SecretKey01"),
            "Feennex: too small [redacted]"
        );
    }

    #[test]
    fn every_documented_code_has_a_name() {
        for code in (0..=21).chain([100, 2000]) {
            assert!(code_name(code).is_some(), "{code}");
        }
        assert_eq!(code_name(22), None);
    }

    // -- invoice/check -------------------------------------------------------------------------

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
                "sign": "521160094068f83d05e489f75eb1a7d63a74f5a0f62181c156139615fe58cb78",
            })
        );
    }

    fn check_answer(data: &str) -> Envelope {
        serde_json::from_str(&format!(
            r#"{{"data":{data},"error_code":0,"message":"Ok","result":true}}"#
        ))
        .unwrap()
    }

    fn fetched(data: &str) -> FetchedPayment {
        fetched_payment(check_answer(data), "NDEyNg", "4126", &shop()).unwrap()
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
            let r = fetched_payment(check_answer(data), "NDEyNg", "4126", &shop());
            assert!(
                matches!(r, Err(ProviderError::Unavailable(_))),
                "{data}: {r:?}"
            );
        }
    }

    #[test]
    fn check_errors() {
        let err = |code, msg: &str| {
            fetched_payment(refusal(code, msg), "NDEyNg", "4126", &shop()).unwrap_err()
        };
        assert!(matches!(
            err(7, "Invoice wasn't found"),
            ProviderError::NotFound(_)
        ));
        for code in [11, 12, 15, 17, 19, 20, 21] {
            assert!(
                matches!(err(code, ""), ProviderError::Misconfigured(_)),
                "{code}"
            );
        }
        assert!(err(10, "Invalid sign")
            .to_string()
            .contains("FEENNEX_SECRET_KEY"));
        for code in [
            1, 2, 3, 4, 5, 6, 8, 9, 10, 13, 14, 16, 18, 100, 2000, 0, 4242,
        ] {
            assert!(
                matches!(err(code, "x"), ProviderError::Unavailable(_)),
                "{code}"
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
        // Paid less than asked, same currency: client_price against shop_original_amount.
        let p = fetched(
            r#"{"status":12,"shop_amount":8.0,"shop_original_amount":10.0,"client_price":8.0,
                "shop_currency":840,"ps_currency":840}"#,
        );
        assert_eq!(p.state.status, PaymentStatusKind::Failed);
        assert_eq!(
            Value::Object(p.state.metadata),
            json!({"requestedAmount": 1000, "paidAmount": 800})
        );
        assert_eq!(p.amount, Some(Money::new(1000, cur("USD"))));

        // Paid more, no shop_original_amount: shop_amount is what was asked.
        let p =
            fetched(r#"{"status":12,"shop_amount":10.0,"client_price":10.5,"shop_currency":840}"#);
        assert_eq!(p.state.status, PaymentStatusKind::Accepted);
        assert_eq!(
            Value::Object(p.state.metadata),
            json!({"requestedAmount": 1000, "paidAmount": 1050})
        );

        // The payer paid in another currency: compare in the shop's currency.
        let p = fetched(
            r#"{"status":12,"shop_amount":10.0,"shop_original_amount":10.0,"client_price":950.0,
                "shop_currency":840,"ps_currency":643}"#,
        );
        assert_eq!(p.state.status, PaymentStatusKind::Accepted);
        assert_eq!(
            Value::Object(p.state.metadata),
            json!({"requestedAmount": 1000, "paidAmount": 1000})
        );

        // Nothing comparable: never guessed.
        let p = fetched(
            r#"{"status":12,"shop_amount":10.0,"client_price":950.0,"shop_currency":840,"ps_currency":643}"#,
        );
        assert!(p.state.unknown && !p.state.is_final);
    }

    // -- callbacks -----------------------------------------------------------------------------

    /// Form-encodes `fields` with a valid sign appended.
    fn signed_form(fields: &[(&str, &str)]) -> Vec<u8> {
        let unsigned: Vec<(&str, &str)> = fields
            .iter()
            .copied()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let sign = sign::sign(&unsigned, &SecretString::from(SECRET));
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        form.append_pair("sign", &sign);
        form.finish().into_bytes()
    }

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const JSON: Option<&str> = Some("application/json");

    fn worked_example() -> Vec<(&'static str, &'static str)> {
        vec![
            ("client_price", "10.5"),
            ("created", "2024-12-03 14:39:02"),
            ("description", ""),
            ("email", "a@b.c"),
            ("lang", "en"),
            ("payment_id", "123"),
            ("payway", "card_usd"),
            ("processed", "2024-12-03 15:47:07"),
            ("ps_currency", "840"),
            ("ps_data", r#"{"ps_payer_account": "424242XXXXXX4242"}"#),
            ("shop_amount", "10.5"),
            ("shop_currency", "840"),
            ("shop_id", "5"),
            ("shop_order_id", "4126"),
            ("shop_refund", "10.0"),
            ("status", "success"),
            ("user_ip", "1.2.3.4"),
        ]
    }

    fn subject(content_type: Option<&str>, body: &[u8]) -> Result<CallbackSubject, CallbackError> {
        callback_subject(content_type, body, &shop())
    }

    fn payment(id: &str) -> Result<CallbackSubject, CallbackError> {
        Ok(CallbackSubject::Payment {
            payment_id: id.into(),
        })
    }

    #[test]
    fn form_callback_of_the_worked_example() {
        let body = signed_form(&worked_example());
        assert!(String::from_utf8_lossy(&body)
            .ends_with("sign=a3e88c4a724709ec3148fc9c1e06966bdc0653c73b84c62bf0e5e33e59053b4b"));
        assert_eq!(subject(FORM, &body), payment("NDEyNg"));
        assert_eq!(
            subject(
                Some("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
                &body
            ),
            payment("NDEyNg")
        );
        assert_eq!(subject(None, &body), payment("NDEyNg"));
        assert_eq!(subject(Some("text/plain"), &body), payment("NDEyNg"));
    }

    #[test]
    fn json_callback_keeps_number_tokens_verbatim() {
        let body = br#"{"client_price": 1.0, "created": "2024-12-03 14:39:02", "description": "",
            "email": "a@b.c", "payment_id": 123, "ps_data": "{\"k\": \"v\"}", "processed": null,
            "shop_amount": 1.0, "shop_currency": 840, "shop_id": 5, "shop_order_id": "4126",
            "shop_refund": 0.90, "status": "success", "sign": "SIGN"}"#;
        let text = String::from_utf8_lossy(body);
        let verbatim = sign::sign(
            &[
                ("client_price", "1.0"),
                ("created", "2024-12-03 14:39:02"),
                ("email", "a@b.c"),
                ("payment_id", "123"),
                ("ps_data", r#"{"k": "v"}"#),
                ("shop_amount", "1.0"),
                ("shop_currency", "840"),
                ("shop_id", "5"),
                ("shop_order_id", "4126"),
                ("shop_refund", "0.90"),
                ("status", "success"),
            ],
            &SecretString::from(SECRET),
        );
        let good = text.replace("SIGN", &verbatim);
        assert_eq!(subject(JSON, good.as_bytes()), payment("NDEyNg"));
        assert_eq!(subject(None, good.as_bytes()), payment("NDEyNg"));

        // A signer that had re-formatted 1.0 as 1 does not match.
        let reformatted = sign::sign(
            &[
                ("client_price", "1"),
                ("created", "2024-12-03 14:39:02"),
                ("email", "a@b.c"),
                ("payment_id", "123"),
                ("ps_data", r#"{"k": "v"}"#),
                ("shop_amount", "1"),
                ("shop_currency", "840"),
                ("shop_id", "5"),
                ("shop_order_id", "4126"),
                ("shop_refund", "0.9"),
                ("status", "success"),
            ],
            &SecretString::from(SECRET),
        );
        let bad = text.replace("SIGN", &reformatted);
        assert_eq!(
            subject(JSON, bad.as_bytes()),
            Err(CallbackError::Unauthenticated("sign does not match".into()))
        );
    }

    #[test]
    fn json_callback_values() {
        let fields = callback_fields(
            JSON,
            br#"{"a": "x\"y", "b": 1.50, "c": true, "d": false, "e": null, "f": "", "g": {"h": [1, 2.0]}}"#,
        )
        .unwrap();
        let expected: Vec<(String, String)> = [
            ("a", "x\"y"),
            ("b", "1.50"),
            ("c", "True"),
            ("d", "False"),
            ("f", ""),
            ("g", r#"{"h": [1, 2.0]}"#),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(fields, expected);
    }

    #[test]
    fn form_callback_values_are_url_decoded_only() {
        let fields = callback_fields(FORM, b"a=1.0&b=x+y%2Bz&c=&d=%7B%22k%22%3A+1%7D").unwrap();
        let expected: Vec<(String, String)> = [
            ("a", "1.0"),
            ("b", "x y+z"),
            ("c", ""),
            ("d", r#"{"k": 1}"#),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(fields, expected);
    }

    #[test]
    fn empty_values_are_not_signed() {
        let mut fields = worked_example();
        fields.push(("addons", ""));
        fields.push(("phone", ""));
        assert_eq!(subject(FORM, &signed_form(&fields)), payment("NDEyNg"));
    }

    #[test]
    fn tampered_callbacks_are_refused() {
        let body = String::from_utf8(signed_form(&worked_example())).unwrap();
        let mismatch = Err(CallbackError::Unauthenticated("sign does not match".into()));
        let tampered = body.replace("shop_amount=10.5", "shop_amount=1000.5");
        assert_eq!(subject(FORM, tampered.as_bytes()), mismatch);
        let tampered = body.replace("status=success", "status=success&extra=1");
        assert_eq!(subject(FORM, tampered.as_bytes()), mismatch);
        let tampered = body.replace("sign=a3e8", "sign=b3e8");
        assert_eq!(subject(FORM, tampered.as_bytes()), mismatch);
        let tampered = body.replace("sign=a3e8", "sign=A3E8");
        assert_eq!(subject(FORM, tampered.as_bytes()), payment("NDEyNg"));
    }

    #[test]
    fn callback_without_sign_is_refused() {
        let body = String::from_utf8(signed_form(&worked_example())).unwrap();
        let unsigned = &body[..body.find("&sign=").unwrap()];
        let missing = Err(CallbackError::Unauthenticated("sign is missing".into()));
        assert_eq!(subject(FORM, unsigned.as_bytes()), missing);
        assert_eq!(
            subject(FORM, format!("{unsigned}&sign=").as_bytes()),
            missing
        );
        assert_eq!(
            subject(JSON, br#"{"shop_id": 5, "shop_order_id": "1"}"#),
            missing
        );
        assert_eq!(subject(FORM, b""), missing);
    }

    #[test]
    fn callback_for_another_shop_is_refused() {
        let mut fields = worked_example();
        fields.retain(|(k, _)| *k != "shop_id");
        fields.push(("shop_id", "6"));
        assert!(matches!(
            subject(FORM, &signed_form(&fields)),
            Err(CallbackError::Unauthenticated(_))
        ));
        fields.pop();
        assert_eq!(
            subject(FORM, &signed_form(&fields)),
            Err(CallbackError::Malformed("shop_id is missing".into()))
        );
    }

    #[test]
    fn callback_without_usable_shop_order_id_is_malformed() {
        let mut fields = worked_example();
        fields.retain(|(k, _)| *k != "shop_order_id");
        assert_eq!(
            subject(FORM, &signed_form(&fields)),
            Err(CallbackError::Malformed("shop_order_id is missing".into()))
        );
        let long = "x".repeat(256);
        fields.push(("shop_order_id", &long));
        assert!(matches!(
            subject(FORM, &signed_form(&fields)),
            Err(CallbackError::Malformed(_))
        ));
    }

    #[test]
    fn malformed_callback_bodies() {
        assert_eq!(
            subject(JSON, b"[1, 2]"),
            Err(CallbackError::Malformed("body is not a JSON object".into()))
        );
        assert_eq!(
            subject(JSON, b"{\"a\": 1,"),
            Err(CallbackError::Malformed("body is not a JSON object".into()))
        );
        let body = String::from_utf8(signed_form(&worked_example())).unwrap();
        let doubled = format!("shop_order_id=9999&{body}");
        assert!(matches!(
            subject(FORM, doubled.as_bytes()),
            Err(CallbackError::Malformed(_))
        ));
        assert!(matches!(
            subject(JSON, br#"{"sign": "a", "sign": "b"}"#),
            Err(CallbackError::Malformed(_))
        ));
    }
}
