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

use super::api::{self, Call};
use super::Simulator;
use crate::partner::PartnerCall;

/// Answers are small JSON documents; more is not an answer of this simulator.
const ANSWER_LIMIT: usize = 1 << 20;

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
    State(sim): State<Simulator>,
    Path(params): Path<Vec<String>>,
    headers: HeaderMap,
    body: Bytes,
    call: Call,
) -> Response {
    let mut params = params.into_iter();
    let company = params.next().unwrap_or_default();
    if let Some(refused) = sim.inner.companies.partner_refusal(&headers, &company) {
        return refused;
    }
    if !call.creates() {
        let id = params.next().unwrap_or_default();
        if !sim.inner.companies.owns(&company, &id) {
            return refusal(StatusCode::NOT_FOUND, "Payment not found");
        }
        return carry_out(&sim, &company, id, &body, call).await;
    }
    let integration = match integration(&sim, &company, &body) {
        Ok(i) => i,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, message),
    };
    let response = carry_out(&sim, &company, String::new(), &body, call).await;
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

/// The terminal API's handler of `call`, acting for `company`.
async fn carry_out(
    sim: &Simulator,
    company: &str,
    id: String,
    body: &[u8],
    call: Call,
) -> Response {
    let headers = sim.company_headers(company);
    api::carry_out(sim, &headers, id, body, call)
        .await
        .into_response()
}
