//! The simulated Fena terminal API (`/open/...`): the same paths, headers, bodies, envelopes
//! and refusals (`{"message": ...}`) that the adapter meets at Fena.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use payrouter_provider::{Currency, Money};
use serde_json::{json, Map, Value};

/// Fena's refusal: an HTTP error status with `{"message": ...}`, as the control API's.
use payrouter_provider::sim::control::refusal;

use super::{new_id, Payment, Record, Records, Recurring, Simulator, Transaction};
use crate::transform::paths;

const REFERENCE_MAX: usize = 12;
const DESCRIPTION_MAX: usize = 1000;
const FREQUENCIES: &[&str] = &["one_week", "one_month", "three_months", "one_year"];
/// Recurring states Fena can still cancel: before the payer set the standing order up.
const CANCELLABLE: &[&str] = &["draft", "sent", "overdue"];
/// Recurring states Fena can still edit.
const EDITABLE: &[&str] = &["draft", "overdue"];
const STANDING_ORDER_SET_UP: &str =
    "The standing order is set up at the payer's bank and can only be cancelled by the payer";

fn bad_request(message: &str) -> Response {
    refusal(StatusCode::BAD_REQUEST, message)
}

/// Applies a fault rule for `operation`, then checks the terminal credentials as Fena does.
/// The answer is the company the key belongs to: it sees only its own payments.
async fn guard(sim: &Simulator, operation: &str, headers: &HeaderMap) -> Result<String, Response> {
    if let Some(fault) = sim.inner.faults.take(operation) {
        if let Some(response) = fault.response().await {
            return Err(response);
        }
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (id, secret) = (header("terminal-id"), header("terminal-secret"));
    sim.inner
        .keys
        .iter()
        .find(|k| Some(k.terminal_id.as_str()) == id && Some(k.terminal_secret.as_str()) == secret)
        .map(|k| k.terminal_id.clone())
        .ok_or_else(|| refusal(StatusCode::UNAUTHORIZED, "Unauthorized"))
}

fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("Request body must be a JSON object".into()),
    }
}

/// A string field; absent, null and "" (which Fena's own SDK sends for "default") are None.
fn text(body: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn reference(body: &Map<String, Value>) -> Result<String, String> {
    let reference = text(body, "reference")?.ok_or("Reference cannot be empty")?;
    if reference.chars().count() > REFERENCE_MAX {
        return Err("Reference cannot be greater than 12 characters".into());
    }
    if !reference
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("Reference must contain only letters, numbers and dashes".into());
    }
    Ok(reference)
}

/// A 2-decimal amount string (`^\d+\.\d{2}$`, more than zero) in pence.
fn amount(body: &Map<String, Value>, key: &str, label: &str) -> Result<Option<i64>, String> {
    let too_small = || format!("{label} cannot be empty or less than 0.01");
    let Some(text) = text(body, key)? else {
        return Ok(None);
    };
    let two_decimals = text.split_once('.').is_some_and(|(units, cents)| {
        !units.is_empty()
            && units.bytes().all(|b| b.is_ascii_digit())
            && cents.len() == 2
            && cents.bytes().all(|b| b.is_ascii_digit())
    });
    if !two_decimals {
        return Err("Number must be 2 decimal places".into());
    }
    let pence = Currency::from_code("GBP")
        .and_then(|gbp| Money::from_decimal_str(&text, gbp).ok())
        .ok_or_else(|| format!("{label} is too large"))?
        .minor;
    if pence <= 0 {
        return Err(too_small());
    }
    Ok(Some(pence))
}

fn required_amount(body: &Map<String, Value>, key: &str, label: &str) -> Result<i64, String> {
    amount(body, key, label)?.ok_or_else(|| format!("{label} cannot be empty or less than 0.01"))
}

fn email(body: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    let email = text(body, key)?;
    if email.as_ref().is_some_and(|e| !e.contains('@')) {
        return Err(format!("{key} must be an email"));
    }
    Ok(email)
}

fn single_request(body: &[u8]) -> Result<Payment, String> {
    let body = object(body)?;
    let reference = reference(&body)?;
    let amount = required_amount(&body, "amount", "Amount")?;
    let description = text(&body, "description")?;
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > DESCRIPTION_MAX)
    {
        return Err("description must be shorter than or equal to 1000 characters".into());
    }
    let custom_redirect_url = text(&body, "customRedirectUrl")?;
    if custom_redirect_url
        .as_ref()
        .is_some_and(|u| !(u.starts_with("http://") || u.starts_with("https://")))
    {
        return Err("customRedirectUrl must be a URL address".into());
    }
    Ok(Payment {
        id: new_id(),
        reference,
        amount,
        status: "sent".into(),
        description,
        customer_name: text(&body, "customerName")?,
        customer_email: email(&body, "customerEmail")?,
        bank_account: text(&body, "bankAccount")?,
        custom_redirect_url,
        due_date: text(&body, "dueDate")?,
        created_at: Utc::now(),
        completed_at: None,
        refunded: 0,
        pending_refund: None,
        company: String::new(),
    })
}

/// The answer of an `operation` that was carried out, unless an `after` fault loses or
/// delays it.
async fn answer(sim: &Simulator, operation: &str, response: Response) -> Response {
    if let Some(fault) = sim.inner.faults.take_after(operation) {
        if let Some(replaced) = fault.response().await {
            return replaced;
        }
    }
    response
}

/// A handler's answer: its first refusal ends it (`?`), and axum sends either side.
pub(super) type Answer = Result<Response, Refused>;

/// A refusal on its way out of a handler, boxed: a whole response is large to pass up.
pub(super) struct Refused(Box<Response>);

impl From<Response> for Refused {
    fn from(response: Response) -> Self {
        Refused(Box::new(response))
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A terminal API call; the partner API's payment calls are carried out as one of these.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    /// `create-and-process`: a payment that is sent (has a link) at once.
    Create,
    /// `create`: a draft, which has no link and e-mails nobody until it is processed.
    CreateDraft,
    Process,
    Get,
    Refund,
    RecurringCreate,
    RecurringGet,
    RecurringEdit,
    RecurringDelete,
}

impl Call {
    pub(super) fn creates(self) -> bool {
        matches!(
            self,
            Call::Create | Call::CreateDraft | Call::RecurringCreate
        )
    }

    /// The fault operation it is; both ways of creating a payment are `create`.
    fn operation(self) -> &'static str {
        match self {
            Call::Create | Call::CreateDraft => "create",
            Call::Process => "process",
            Call::Get => "get",
            Call::Refund => "refund",
            Call::RecurringCreate => "recurring_create",
            Call::RecurringGet => "recurring_get",
            Call::RecurringEdit => "recurring_edit",
            Call::RecurringDelete => "recurring_delete",
        }
    }
}

/// The terminal API's routes: the adapter's own paths (`transform::paths`), so the two
/// cannot drift apart.
pub(super) fn routes() -> Router<Simulator> {
    let id = "{id}";
    let table = [
        (paths::CREATE_AND_PROCESS.to_string(), Call::Create),
        (paths::CREATE_DRAFT.to_string(), Call::CreateDraft),
        (paths::single(id), Call::Get),
        (paths::process(id), Call::Process),
        (paths::refund(id), Call::Refund),
        (
            paths::RECURRING_CREATE_AND_PROCESS.to_string(),
            Call::RecurringCreate,
        ),
        (paths::recurring(id), Call::RecurringGet),
        (paths::recurring_edit(id), Call::RecurringEdit),
        (paths::recurring_delete(id), Call::RecurringDelete),
    ];
    table
        .into_iter()
        .fold(Router::new(), |router, (path, call)| {
            let handler = move |State(sim): State<Simulator>,
                                Path(params): Path<Vec<String>>,
                                headers: HeaderMap,
                                body: Bytes| async move {
                let id = params.into_iter().next().unwrap_or_default();
                carry_out(&sim, &headers, id, &body, call).await
            };
            let method = if matches!(call, Call::Get | Call::RecurringGet) {
                get(handler)
            } else {
                post(handler)
            };
            router.route(&path, method)
        })
}

/// Carries out `call` for the key in `headers`, about the payment `id` (empty on a create).
pub(super) async fn carry_out(
    sim: &Simulator,
    headers: &HeaderMap,
    id: String,
    body: &[u8],
    call: Call,
) -> Answer {
    let company = guard(sim, call.operation(), headers).await?;
    match call {
        Call::Create => create(sim, company, body, "sent").await,
        Call::CreateDraft => create(sim, company, body, "draft").await,
        Call::Process => process_draft(sim, company, id).await,
        Call::Get => Ok(data(
            owned(&mut sim.store().payments, &id, &company, "Payment")?.data(sim.base()),
        )),
        Call::Refund => refund(sim, company, id, body),
        Call::RecurringCreate => create_recurring(sim, company, body),
        Call::RecurringGet => Ok(data(
            owned(
                &mut sim.store().recurring,
                &id,
                &company,
                "Recurring payment",
            )?
            .data(sim.base()),
        )),
        Call::RecurringEdit => edit_recurring(sim, company, id, body),
        Call::RecurringDelete => delete_recurring(sim, company, id),
    }
}

/// A request body Fena refuses, in Fena's words.
fn checked<T>(parsed: Result<T, String>) -> Result<T, Refused> {
    parsed.map_err(|message| bad_request(&message).into())
}

/// The `{"created": true, "result": ...}` of a create.
fn created(result: Value) -> Response {
    (
        StatusCode::CREATED,
        Json(json!({"created": true, "result": result})),
    )
        .into_response()
}

/// The `{"data": ...}` of a get.
fn data(found: Value) -> Response {
    Json(json!({ "data": found })).into_response()
}

/// The company's payment or standing order `id` (`what`); another company's is as unknown as
/// a missing one.
fn owned<'a, T: Record>(
    records: &'a mut Records<T>,
    id: &str,
    company: &str,
    what: &str,
) -> Result<&'a mut T, Refused> {
    records
        .get_mut(id)
        .filter(|r| r.company() == company)
        .ok_or_else(|| refusal(StatusCode::NOT_FOUND, &format!("{what} not found")).into())
}

async fn create(sim: &Simulator, company: String, body: &[u8], status: &str) -> Answer {
    let mut payment = checked(single_request(body))?;
    payment.status = status.into();
    payment.company = company;
    let result = payment.data(sim.base());
    sim.store().payments.push(payment);
    Ok(answer(sim, "create", created(result)).await)
}

/// `process`: sends a draft (it gets its link); anything but a draft is refused.
async fn process_draft(sim: &Simulator, company: String, id: String) -> Answer {
    let result = {
        let mut store = sim.store();
        let p = owned(&mut store.payments, &id, &company, "Payment")?;
        if p.status != "draft" {
            return Err(bad_request(&format!(
                "Only a draft payment can be processed; this one is {}",
                p.status
            ))
            .into());
        }
        p.set_status("sent");
        p.data(sim.base())
    };
    let processed = Json(json!({"result": result}));
    Ok(answer(sim, "process", processed.into_response()).await)
}

fn refund(sim: &Simulator, company: String, id: String, body: &[u8]) -> Answer {
    let amount = checked(refund_amount(body))?;
    let webhook = {
        let mut store = sim.store();
        let p = owned(&mut store.payments, &id, &company, "Payment")?;
        if !matches!(p.status.as_str(), "paid" | "partial_refund") {
            return Err(bad_request(&format!(
                "Only a paid payment can be refunded; this one is {}",
                p.status
            ))
            .into());
        }
        let refundable = p.amount - p.refunded;
        if amount > refundable {
            return Err(bad_request(&format!(
                "Refund amount exceeds the refundable amount of {}",
                super::decimal(refundable)
            ))
            .into());
        }
        p.pending_refund = Some(amount);
        p.set_status("refund_started");
        p.webhook(None)
    };
    sim.spawn_webhook(webhook);
    Ok(Json(json!({"saved": true})).into_response())
}

fn refund_amount(body: &[u8]) -> Result<i64, String> {
    let body = object(body)?;
    match body.get("payeeAccountInfo") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err("payeeAccountInfo must be an object".into()),
    }
    required_amount(&body, "amount", "Amount")
}

fn recurring_request(body: &[u8]) -> Result<Recurring, String> {
    let body = object(body)?;
    let reference = reference(&body)?;
    let recurring_amount = required_amount(&body, "recurringAmount", "Recurring amount")?;
    let initial_payment =
        amount(&body, "initialPaymentAmount", "Initial payment amount")?.map(|amount| {
            Transaction {
                id: new_id(),
                status: "sent".into(),
                amount,
                date: super::timestamp(Utc::now()),
            }
        });
    let date_error = || "recurringPaymentDate must be a valid ISO 8601 date string".to_string();
    let first_payment_date = text(&body, "recurringPaymentDate")?.ok_or_else(date_error)?;
    let is_date = DateTime::parse_from_rfc3339(&first_payment_date).is_ok()
        || NaiveDate::parse_from_str(&first_payment_date, "%Y-%m-%d").is_ok();
    if !is_date {
        return Err(date_error());
    }
    let number_of_payments = body
        .get("numberOfPayments")
        .and_then(Value::as_u64)
        .ok_or("numberOfPayments must be an integer not less than 0 (0 for indefinite)")?;
    let frequency = text(&body, "frequency")?
        .filter(|f| FREQUENCIES.contains(&f.as_str()))
        .ok_or_else(|| {
            format!(
                "frequency must be one of the following values: {}",
                FREQUENCIES.join(", ")
            )
        })?;
    Ok(Recurring {
        id: new_id(),
        reference,
        recurring_amount,
        initial_payment,
        first_payment_date,
        number_of_payments,
        frequency,
        status: "sent".into(),
        customer_name: text(&body, "customerName")?,
        customer_email: email(&body, "customerEmail")?,
        created_at: Utc::now(),
        transactions: Vec::new(),
        company: String::new(),
    })
}

fn create_recurring(sim: &Simulator, company: String, body: &[u8]) -> Answer {
    let recurring = Recurring {
        company,
        ..checked(recurring_request(body))?
    };
    let result = recurring.data(sim.base());
    sim.store().recurring.push(recurring);
    Ok(created(result))
}

fn edit_recurring(sim: &Simulator, company: String, id: String, body: &[u8]) -> Answer {
    let edited = checked(recurring_request(body))?;
    let mut store = sim.store();
    let r = owned(&mut store.recurring, &id, &company, "Recurring payment")?;
    if !EDITABLE.contains(&r.status.as_str()) {
        return Err(bad_request(&format!(
            "Only a draft or overdue recurring payment can be edited; this one is {}",
            r.status
        ))
        .into());
    }
    // What the payer has not seen yet changes; identity, state and history stay.
    *r = Recurring {
        id: r.id.clone(),
        status: r.status.clone(),
        created_at: r.created_at,
        transactions: std::mem::take(&mut r.transactions),
        company: r.company.clone(),
        ..edited
    };
    Ok(Json(json!({"saved": true, "result": r.data(sim.base())})).into_response())
}

fn delete_recurring(sim: &Simulator, company: String, id: String) -> Answer {
    let webhook = {
        let mut store = sim.store();
        let r = owned(&mut store.recurring, &id, &company, "Recurring payment")?;
        if !CANCELLABLE.contains(&r.status.as_str()) {
            return Err(bad_request(STANDING_ORDER_SET_UP).into());
        }
        r.status = "cancelled".into();
        r.webhook("status-update", None, None)
    };
    sim.spawn_webhook(webhook);
    Ok(Json(json!({"deleted": true})).into_response())
}
