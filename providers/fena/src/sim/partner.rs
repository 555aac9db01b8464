//! The simulated partner API's payments: `/open/partner/companies/{companyId}/payments/…` at the
//! default partner path templates. Each call needs the partner key and one of its companies,
//! and reaches only that company's payments (another's: 404); it is then carried out by the
//! terminal API's handler, so both behave alike. A payment may name one of its company's
//! `integration`s: its webhooks then go to that integration's `webhookUrl`, in the partner
//! spelling (`scope`/`event_name`).

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use payrouter_provider::sim::control::refusal;
use serde_json::Value;

use super::{api, Simulator};
use crate::partner::PartnerCall;

/// Answers are small JSON documents; more is not an answer of this simulator.
const ANSWER_LIMIT: usize = 1 << 20;

/// The terminal call a partner call is carried out as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    Create,
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
    fn creates(self) -> bool {
        matches!(
            self,
            Call::Create | Call::CreateDraft | Call::RecurringCreate
        )
    }
}

/// Each partner call the simulator serves, and the terminal call it is carried out as.
const ROUTES: [(PartnerCall, Call); 9] = [
    (PartnerCall::PaymentCreateAndProcess, Call::Create),
    (PartnerCall::PaymentCreate, Call::CreateDraft),
    (PartnerCall::PaymentGet, Call::Get),
    (PartnerCall::PaymentProcess, Call::Process),
    (PartnerCall::Refund, Call::Refund),
    (
        PartnerCall::RecurringCreateAndProcess,
        Call::RecurringCreate,
    ),
    (PartnerCall::RecurringGet, Call::RecurringGet),
    (PartnerCall::RecurringEdit, Call::RecurringEdit),
    (PartnerCall::RecurringCancel, Call::RecurringDelete),
];

pub(super) fn routes() -> Router<Simulator> {
    ROUTES
        .into_iter()
        .fold(Router::new(), |router, (partner_call, call)| {
            let handler =
                move |sim: State<Simulator>, path: Path<Vec<String>>, h: HeaderMap, b: Bytes| {
                    partner(sim, path, h, b, call)
                };
            let method = if matches!(call, Call::Get | Call::RecurringGet) {
                get(handler)
            } else {
                post(handler)
            };
            router.route(&at(partner_call), method)
        })
}

/// The simulator's route of `call`: the adapter's default path template, so the two cannot
/// drift apart (axum names the company `{company}`).
pub(super) fn at(call: PartnerCall) -> String {
    call.default_template().replace("{companyId}", "{company}")
}

/// The `integration` a create names, which must be one of the company's; else why not.
fn integration(
    sim: &Simulator,
    company: &str,
    body: &[u8],
) -> Result<Option<String>, &'static str> {
    let named = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => match map.get("integration") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => return Err("integration must be a string"),
        },
        // The terminal handler refuses a body that is not an object, in its own words.
        _ => None,
    };
    match named {
        Some(id) if !sim.inner.companies.has_integration(company, &id) => {
            Err("Integration not found for this company")
        }
        named => Ok(named),
    }
}

/// A call of a partner route: the company (and the object, but on a create) from its path.
async fn partner(
    sim: State<Simulator>,
    Path(params): Path<Vec<String>>,
    headers: HeaderMap,
    body: Bytes,
    call: Call,
) -> Response {
    let mut params = params.into_iter();
    let company = params.next().unwrap_or_default();
    if call.creates() {
        create(sim, company, headers, body, call).await
    } else {
        let id = params.next().unwrap_or_default();
        about(sim, company, id, headers, body, call).await
    }
}

async fn create(
    State(sim): State<Simulator>,
    company: String,
    headers: HeaderMap,
    body: Bytes,
    call: Call,
) -> Response {
    if let Some(refused) = sim.inner.companies.partner_refusal(&headers, &company) {
        return refused;
    }
    let integration = match integration(&sim, &company, &body) {
        Ok(i) => i,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, message),
    };
    let response = carry_out(&sim, &company, None, body, call).await;
    if !response.status().is_success() {
        return response;
    }
    let (parts, answer) = response.into_parts();
    let Ok(bytes) = to_bytes(answer, ANSWER_LIMIT).await else {
        return refusal(StatusCode::INTERNAL_SERVER_ERROR, "answer lost");
    };
    let id = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["result"]["id"].as_str().map(str::to_string));
    if let Some(id) = id {
        sim.inner.companies.record(&id, &company, integration);
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn about(
    State(sim): State<Simulator>,
    company: String,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    call: Call,
) -> Response {
    if let Some(refused) = sim.inner.companies.partner_refusal(&headers, &company) {
        return refused;
    }
    if !sim.inner.companies.owns(&company, &id) {
        return refusal(StatusCode::NOT_FOUND, "Payment not found");
    }
    carry_out(&sim, &company, Some(id), body, call).await
}

/// The terminal API's handler of `call`, acting for `company`.
async fn carry_out(
    sim: &Simulator,
    company: &str,
    id: Option<String>,
    body: Bytes,
    call: Call,
) -> Response {
    let headers = sim.company_headers(company);
    let state = State(sim.clone());
    let id = Path(id.unwrap_or_default());
    match call {
        Call::Create => api::create_single(state, headers, body).await,
        Call::CreateDraft => api::create_draft(state, headers, body).await,
        Call::Process => api::process_draft(state, id, headers).await,
        Call::Get => api::get_single(state, id, headers).await,
        Call::Refund => api::refund(state, id, headers, body).await,
        Call::RecurringCreate => api::create_recurring(state, headers, body).await,
        Call::RecurringGet => api::get_recurring(state, id, headers).await,
        Call::RecurringEdit => api::edit_recurring(state, id, headers, body).await,
        Call::RecurringDelete => api::delete_recurring(state, id, headers).await,
    }
    .into_response()
}
