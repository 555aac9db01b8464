//! Pure translation between the contract and Fena's API: the table of paths, request bodies,
//! what each answer means, the status mapping and callback parsing. No I/O and no logging here.

use payrouter_provider::transport::Reply;
use payrouter_provider::{
    email_field, string_field, Action, CallbackError, CallbackSubject, CreatedPayment, Currency,
    FetchedPayment, Money, PayOrder, PayOutcome, PaymentStatusKind, PaymentTag, PreparedPay,
    ProviderError, ProviderState, Redactor, Redirect, RefundOrder, RefundOutcome,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Every Fena path the adapter calls, in one table.
///
/// `CREATE_DRAFT` and `process` (the two phases of a single payment) are the paths of a
/// third-party Fena client, not of Fena's published terminal reference; `CREATE_AND_PROCESS`
/// is the published one-step call, used when `FENA_PAY_MODE=one_step`.
pub mod paths {
    pub const CREATE_AND_PROCESS: &str = "/open/payments/single/create-and-process";
    pub const CREATE_DRAFT: &str = "/open/payments/single/create";
    pub const RECURRING_CREATE_AND_PROCESS: &str = "/open/payments/recurring/create-and-process";

    pub fn single(id: &str) -> String {
        format!("/open/payments/single/{id}")
    }
    pub fn process(id: &str) -> String {
        format!("/open/payments/single/{id}/process")
    }
    pub fn refund(id: &str) -> String {
        format!("/open/payments/single/{id}/refund")
    }
    pub fn recurring(id: &str) -> String {
        format!("/open/payments/recurring/{id}")
    }
    pub fn recurring_edit(id: &str) -> String {
        format!("/open/payments/recurring/{id}/edit")
    }
    pub fn recurring_delete(id: &str) -> String {
        format!("/open/payments/recurring/{id}/delete")
    }
}

const CREDENTIALS_HINT: &str =
    "Fena refused the terminal credentials: check FENA_TERMINAL_ID and FENA_TERMINAL_SECRET";

/// Body of `POST /open/payments/single/create-and-process` and of `.../create` (a draft).
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    pub reference: String,
    pub amount: String,
    #[serde(flatten)]
    pub payer: Payer,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_redirect_url: Option<String>,
    /// Carries the shopTransactionId and its payment tag (`description_for`), so a payment
    /// can be rebuilt from Fena alone, and only one this router created.
    pub description: String,
}

/// Who pays, and into which bank account: the part of a payment's body and a standing order's
/// they share.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Payer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
}

impl Payer {
    /// `providerData.bankAccount` (else the account's default) and `customerName`, with the
    /// payer's e-mail as the caller read it.
    pub fn read(
        data: &Map<String, Value>,
        default_bank_account: Option<&str>,
        customer_email: Option<String>,
    ) -> Result<Payer, ProviderError> {
        Ok(Payer {
            bank_account: string_field(data, "bankAccount")?
                .or_else(|| default_bank_account.map(str::to_string)),
            customer_name: string_field(data, "customerName")?,
            customer_email,
        })
    }
}

/// Body of `POST /open/payments/single/{id}/refund`.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    pub amount: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payee_account_info: Option<Value>,
}

/// A payment as Fena returns it (create `result`, get `data`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FenaPayment {
    pub id: String,
    pub status: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub reference: Option<String>,
    pub description: Option<String>,
    pub link: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CreateResponse {
    pub result: FenaPayment,
}

#[derive(Debug, Deserialize)]
pub struct GetResponse {
    pub data: FenaPayment,
}

const REFERENCE_MAX: usize = 12;

fn is_reference(s: &str) -> bool {
    (1..=REFERENCE_MAX).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The Fena `reference`: the shopTransactionId when it fits Fena's rule, otherwise a
/// deterministic 12-character digest of it (so a retry sends the same reference).
pub fn reference_for(shop_transaction_id: &str) -> String {
    if is_reference(shop_transaction_id) {
        return shop_transaction_id.to_string();
    }
    let digest = Sha256::digest(shop_transaction_id.as_bytes());
    hex::encode(digest)[..REFERENCE_MAX].to_string()
}

/// What separates the shopTransactionId from its tag in a description.
const TAG_MARK: &str = " #pr-";

/// The description of a payment: its shopTransactionId and its payment tag.
pub fn description_for(shop_transaction_id: &str, tags: &PaymentTag) -> String {
    format!(
        "{shop_transaction_id}{TAG_MARK}{}",
        tags.tag(shop_transaction_id)
    )
}

/// The shopTransactionId a description carries, when its tag verifies: None for a payment
/// this router did not create.
pub fn shop_transaction_id_of(description: &str, tags: &PaymentTag) -> Option<String> {
    let (id, tag) = description.rsplit_once(TAG_MARK)?;
    (!id.is_empty() && tags.verify(id, tag)).then(|| id.to_string())
}

pub fn pay_request(
    order: &PayOrder,
    default_bank_account: Option<&str>,
    tags: &PaymentTag,
) -> Result<PaymentRequest, ProviderError> {
    let data = &order.provider_data;
    let reference = match string_field(data, "reference")? {
        Some(r) if is_reference(&r) => r,
        Some(_) => {
            return Err(ProviderError::InvalidRequest {
                field: "providerData.reference".into(),
                message: "must be 1-12 characters of letters, digits and '-'".into(),
            })
        }
        None => reference_for(&order.shop_transaction_id),
    };
    let customer_email = email_field(data, "customerEmail")?;
    Ok(PaymentRequest {
        reference,
        amount: decimal_amount("amount", &order.amount)?,
        payer: Payer::read(data, default_bank_account, customer_email)?,
        custom_redirect_url: order.success_redirect_url.clone(),
        description: description_for(&order.shop_transaction_id, tags),
    })
}

pub fn refund_request(order: &RefundOrder) -> Result<RefundRequest, ProviderError> {
    let payee = match order.provider_data.get("payeeAccountInfo") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            return Err(ProviderError::InvalidRequest {
                field: "providerData.payeeAccountInfo".into(),
                message: "must be an object (sortCode, accountNumber, name)".into(),
            })
        }
    };
    Ok(RefundRequest {
        amount: decimal_amount("amount", &order.amount)?,
        payee_account_info: payee,
    })
}

/// An amount as Fena's 2-decimal string; `field` names it in the error.
pub(crate) fn decimal_amount(field: &str, amount: &Money) -> Result<String, ProviderError> {
    amount
        .to_decimal_string(2)
        .map_err(|e| ProviderError::invalid(field, e.to_string()))
}

/// Fena ids are 24-hex Mongo ObjectIds; be a little lenient but never accept path tricks.
pub fn check_payment_id(id: &str) -> Result<(), String> {
    if (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(())
    } else {
        Err("paymentId must be a Fena payment id (letters, digits and '-', at most 64)".into())
    }
}

/// Maps a Fena single-payment status. Spellings with `_`, `-` or spaces are the same state.
pub fn map_status(raw: &str) -> ProviderState {
    use Action::{Payment, Refund};
    use PaymentStatusKind::{Accepted, Failed, Pending};
    let norm: String = raw
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect();
    let (status, action, is_final) = match norm.as_str() {
        "draft" | "sent" | "overdue" | "pending" => (Pending, Payment, false),
        "paid" => (Accepted, Payment, true),
        // The payer may retry a rejected payment, so it is not final.
        "rejected" => (Failed, Payment, false),
        "cancelled" | "canceled" => (Failed, Payment, true),
        "refund_started" => (Pending, Refund, false),
        "refund_rejected" => (Failed, Refund, true),
        "refunded" | "partial_refund" | "partially_refunded" => (Accepted, Refund, true),
        _ => return ProviderState::unknown(raw),
    };
    ProviderState::new(raw, status, action, is_final)
}

pub fn created_payment(resp: CreateResponse) -> Result<CreatedPayment, ProviderError> {
    let p = resp.result;
    let link = p
        .link
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
        .ok_or_else(|| {
            ProviderError::Unavailable("Fena created the payment but sent no link".into())
        })?;
    if p.id.is_empty() || check_payment_id(&p.id).is_err() {
        return Err(ProviderError::Unavailable(
            "Fena answered an unusable payment id".into(),
        ));
    }
    Ok(CreatedPayment {
        state: map_status(p.status.as_deref().unwrap_or("sent")),
        payment_id: p.id,
        redirect: Redirect::Get { url: link },
        redirect_mobile: None,
        reference: p.reference,
        extras: Default::default(),
    })
}

pub fn fetched_payment(
    resp: GetResponse,
    tags: &PaymentTag,
) -> Result<FetchedPayment, ProviderError> {
    let p = resp.data;
    let status = p
        .status
        .ok_or_else(|| ProviderError::Unavailable("Fena sent a payment without a status".into()))?;
    let currency = p
        .currency
        .as_deref()
        .map(|c| {
            Currency::from_code(c).ok_or_else(|| {
                ProviderError::Unavailable(format!("Fena sent an unknown currency '{c}'"))
            })
        })
        .transpose()?;
    let amount = match (p.amount.as_deref(), currency.or(Currency::from_code("GBP"))) {
        (Some(a), Some(cur)) => Some(Money::from_decimal_str(a, cur).map_err(|e| {
            ProviderError::Unavailable(format!("Fena sent an unusable amount: {e}"))
        })?),
        _ => None,
    };
    Ok(FetchedPayment {
        payment_id: p.id,
        state: map_status(&status),
        amount,
        reference: p.reference,
        shop_transaction_id: p
            .description
            .as_deref()
            .and_then(|d| shop_transaction_id_of(d, tags)),
    })
}

/// Fena's error bodies usually carry `message`; fall back to the HTTP status. The message is
/// quoted through `redactor`: Fena may echo the credentials it was sent.
pub fn error_message(status: u16, body: &[u8], redactor: &Redactor) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<Value>,
    }
    let msg = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.message)
        .map(|m| match m {
            Value::String(s) => s,
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        });
    match msg {
        Some(m) if !m.is_empty() => format!("Fena: {}", redactor.quote(&m)),
        _ => format!("Fena answered HTTP {status}"),
    }
}

/// A Fena answer to a request it understood: done, or refused with Fena's message.
pub enum Answer<T> {
    Done(T),
    Refused(String),
}

/// Sorts an answer: 2xx → parsed, credentials → Misconfigured, 404 → `not_found`, other 4xx →
/// refused with Fena's message, anything else → Unavailable.
pub fn sort<T: DeserializeOwned>(
    reply: &Reply,
    not_found: impl FnOnce() -> ProviderError,
    redactor: &Redactor,
) -> Result<Answer<T>, ProviderError> {
    match reply.status {
        200..=299 => Ok(Answer::Done(parse(&reply.body, redactor)?)),
        401 | 403 => Err(credentials_refused()),
        404 => Err(not_found()),
        s @ 400..=499 => Ok(Answer::Refused(error_message(s, &reply.body, redactor))),
        s => Err(server_error(s)),
    }
}

/// Parses a 2xx body; serde's message may quote the body, so it is redacted too.
fn parse<T: DeserializeOwned>(body: &[u8], redactor: &Redactor) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| {
        ProviderError::Unavailable(format!(
            "Fena sent an unexpected answer: {}",
            redactor.quote(&e.to_string())
        ))
    })
}

fn server_error(status: u16) -> ProviderError {
    ProviderError::Unavailable(format!("Fena answered HTTP {status}"))
}

fn credentials_refused() -> ProviderError {
    ProviderError::Misconfigured(CREDENTIALS_HINT.into())
}

/// What the answer to create-and-process means. Any 4xx but the credentials' is Fena refusing
/// this payment.
pub fn pay_outcome(reply: &Reply, redactor: &Redactor) -> Result<PayOutcome, ProviderError> {
    match reply.status {
        200..=299 => Ok(PayOutcome::Created(created_payment(parse(
            &reply.body,
            redactor,
        )?)?)),
        401 | 403 => Err(credentials_refused()),
        s @ 400..=499 => Ok(PayOutcome::Declined {
            message: error_message(s, &reply.body, redactor),
        }),
        s => Err(server_error(s)),
    }
}

/// What the answer to creating a draft means: its id is the handle the gateway stores before
/// processing it. Any 4xx but the credentials' is Fena refusing this payment.
pub fn draft_outcome(reply: &Reply, redactor: &Redactor) -> Result<PreparedPay, ProviderError> {
    match reply.status {
        200..=299 => {
            let draft = parse::<CreateResponse>(&reply.body, redactor)?.result;
            if check_payment_id(&draft.id).is_err() {
                return Err(ProviderError::Unavailable(
                    "Fena answered an unusable payment id".into(),
                ));
            }
            Ok(PreparedPay::Handle(draft.id))
        }
        401 | 403 => Err(credentials_refused()),
        s @ 400..=499 => Ok(PreparedPay::Declined {
            message: error_message(s, &reply.body, redactor),
        }),
        s => Err(server_error(s)),
    }
}

/// Where a payment being created stands, read back from Fena.
pub enum Progress {
    /// Still a draft: nobody has a link yet; process it.
    Draft,
    /// Processed already (sent, or anything later): this is the payment to answer.
    Processed(PayOutcome),
}

/// What `GET /open/payments/single/{id}` says about the payment `id` being created.
pub fn progress(reply: &Reply, id: &str, redactor: &Redactor) -> Result<Progress, ProviderError> {
    match reply.status {
        200..=299 => {
            let data = parse::<GetResponse>(&reply.body, redactor)?.data;
            if data
                .status
                .as_deref()
                .is_some_and(|s| s.trim().eq_ignore_ascii_case("draft"))
            {
                return Ok(Progress::Draft);
            }
            created_payment(CreateResponse { result: data })
                .map(|c| Progress::Processed(PayOutcome::Created(c)))
        }
        _ => Err(fetch_error(reply, id, redactor)),
    }
}

/// What the answer to `GET /open/payments/single/{id}` means; 400 and 404 are "no such
/// payment".
pub fn fetch_outcome(
    reply: &Reply,
    id: &str,
    redactor: &Redactor,
    tags: &PaymentTag,
) -> Result<FetchedPayment, ProviderError> {
    match reply.status {
        200..=299 => fetched_payment(parse(&reply.body, redactor)?, tags),
        _ => Err(fetch_error(reply, id, redactor)),
    }
}

/// What a non-2xx answer to `GET /open/payments/single/{id}` means.
fn fetch_error(reply: &Reply, id: &str, redactor: &Redactor) -> ProviderError {
    match reply.status {
        401 | 403 => credentials_refused(),
        400 | 404 => ProviderError::NotFound(format!("Fena has no payment '{id}'")),
        s @ 405..=499 => ProviderError::Unavailable(error_message(s, &reply.body, redactor)),
        s => server_error(s),
    }
}

/// What the answer to a refund means: Fena completes refunds later, so an accepted one is
/// pending.
pub fn refund_outcome(reply: &Reply, redactor: &Redactor) -> Result<RefundOutcome, ProviderError> {
    match reply.status {
        200..=299 => Ok(RefundOutcome::Pending),
        401 | 403 => Err(credentials_refused()),
        s @ 400..=499 => Ok(RefundOutcome::Declined {
            message: error_message(s, &reply.body, redactor),
        }),
        s => Err(server_error(s)),
    }
}

/// Reads what a Fena webhook is about. The body is unsigned: only the id is taken from it.
pub fn callback_subject(body: &[u8]) -> Result<CallbackSubject, CallbackError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| CallbackError::Malformed("body is not JSON".into()))?;
    let Value::Object(obj) = v else {
        return Err(CallbackError::Malformed("body is not a JSON object".into()));
    };
    // The partner API spells the event `scope`/`event_name`.
    let obj = crate::partner::terminal_webhook(obj);
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| CallbackError::Malformed("field 'id' (string) is missing".into()))?;
    check_payment_id(id)
        .map_err(|_| CallbackError::Malformed("field 'id' is not a Fena id".into()))?;
    let scope = obj
        .get("eventScope")
        .and_then(Value::as_str)
        .unwrap_or("single-payments");
    match scope {
        "single-payments" | "single-payment" => Ok(CallbackSubject::Payment {
            payment_id: id.to_string(),
        }),
        "recurring-payments" | "recurring-payment" => Ok(CallbackSubject::Subscription {
            token: id.to_string(),
        }),
        other => Ok(CallbackSubject::Ignored {
            reason: format!("event scope '{other}' is not used"),
        }),
    }
}
