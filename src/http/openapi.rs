//! The OpenAPI 3.1 document at `/openapi.json`: generated from the handlers' annotations and
//! the typed request bodies, then completed with what only the running instance knows (the
//! enabled providers and their capabilities) and with the outgoing notification (`webhooks`).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};

use super::{admin, extensions, ops, routes, subscriptions, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payrouter",
        description = "PGM External Integration router for Fena and Feennex"
    ),
    paths(
        routes::pay,
        routes::refund,
        routes::status,
        routes::status_post,
        routes::check,
        routes::callback,
        routes::callback_ping,
        routes::redirect_page,
        subscriptions::schedule,
        subscriptions::update,
        subscriptions::start,
        subscriptions::pay,
        subscriptions::expire,
        subscriptions::status,
        extensions::quote,
        extensions::upload_receipt,
        extensions::receipt_status,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        openapi,
        admin::payments,
        admin::payment,
        admin::recheck,
        admin::notifications,
        admin::redeliver,
        admin::redeliver_all,
    ),
    components(schemas(
        crate::contract::ErrorResponse,
        crate::contract::PaymentStatus,
        crate::store::records::TimelineEvent,
    )),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = doc.components.as_mut() {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(
                "INBOUND_API_TOKEN; required on the PGM routes only when it is configured".into(),
            );
            components.add_security_scheme("bearer", SecurityScheme::Http(http));
            let mut admin = Http::new(HttpAuthScheme::Bearer);
            admin.description = Some(
                "ADMIN_API_TOKEN; the admin API (/admin/api) exists only when it is set, and \
                 takes no other token"
                    .into(),
            );
            components.add_security_scheme("adminBearer", SecurityScheme::Http(admin));
        }
    }
}

/// What each error status means, for responses the annotations leave undescribed.
fn status_meaning(status: &str) -> &'static str {
    match status {
        "400" => "invalid input: the message names the field and what is expected",
        "401" => "a valid bearer token is required (when INBOUND_API_TOKEN is set)",
        "404" => "unknown or disabled provider, or unknown payment or subscription",
        "409" => "the shopTransactionId was used with a different body",
        "413" => "the body is larger than BODY_LIMIT_BYTES",
        "415" => "the body must be sent as content-type: application/json",
        "501" => "the provider does not offer this operation; the message says what to do instead",
        "502" => "the provider failed, is unreachable or answered something inconsistent",
        "503" => "the state store is unavailable",
        "504" => "the provider or the route's time budget (ROUTE_TIMEOUT_MS) ran out",
        _ => "",
    }
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, body = Object, description = "this document")))]
pub async fn openapi(State(app): State<AppState>) -> Json<Value> {
    let mut about = String::from("PGM External Integration router.\n\n");
    for (name, p) in app.engine.providers() {
        let caps = p.capabilities();
        about.push_str(&format!(
            "**{name}**: operations {}; currencies: {}; largest amount: {}; callbacks: {}.\n",
            caps.operations
                .iter()
                .map(|o| o.label())
                .collect::<Vec<_>>()
                .join(", "),
            caps.currencies.describe(),
            caps.max_amount.map_or_else(
                || "no limit of its own".into(),
                |m| format!("{m} minor units")
            ),
            caps.callback_format,
        ));
        for (field, meaning) in caps.pay_provider_data {
            about.push_str(&format!("- `providerData.{field}`: {meaning}\n"));
        }
        about.push('\n');
    }
    let mut doc = ApiDoc::openapi();
    doc.info.description = Some(about);
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    let names: Vec<&str> = app.engine.providers().keys().copied().collect();
    complete_operations(&mut doc, &names);
    doc["webhooks"] = webhooks();
    Json(doc)
}

/// The `provider` path parameter as an enum of the enabled providers, a description on every
/// response, and an operationId from the method and path (a handler serving two methods, or
/// two handlers of one name, would otherwise share one).
fn complete_operations(doc: &mut Value, providers: &[&str]) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let mut taken = std::collections::HashMap::new();
    for (path, item) in paths.iter() {
        for method in item.as_object().into_iter().flat_map(|i| i.keys()) {
            *taken.entry(operation_id(method, path)).or_insert(0) += 1;
        }
    }
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let mut id = operation_id(method, path);
            // Two paths that differ only in their parameters (`/notifications/redeliver` and
            // `/notifications/{id}/redeliver`): the one with parameters names them.
            if taken.get(&id).is_some_and(|n| *n > 1) {
                for param in path.split('/').filter_map(|w| w.strip_prefix('{')) {
                    let param = param.trim_end_matches('}');
                    id.push_str("By");
                    let mut chars = param.chars();
                    if let Some(first) = chars.next() {
                        id.push(first.to_ascii_uppercase());
                        id.extend(chars);
                    }
                }
            }
            op["operationId"] = json!(id);
            complete_operation(op, providers);
        }
    }
}

/// `post` and `/v3/{provider}/subscription/expire/{token}` give `postSubscriptionExpire`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_string();
    for word in path
        .split(['/', '.'])
        .filter(|w| !w.is_empty() && *w != "v3" && !w.starts_with('{'))
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

fn complete_operation(op: &mut Value, providers: &[&str]) {
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for param in params.iter_mut().filter(|p| p["name"] == "provider") {
            param["schema"] = json!({"type": "string", "enum": providers});
            param["description"] = json!("an enabled provider");
        }
    }
    if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
        for (status, response) in responses.iter_mut() {
            if response["description"].as_str().is_none_or(str::is_empty) {
                response["description"] = json!(status_meaning(status));
            }
        }
    }
}

/// The notification sent to PAYMENT_CALLBACK_URL (Standard Webhooks headers).
fn webhooks() -> Value {
    let headers = json!([
        {"name": "webhook-id", "in": "header", "required": true, "schema": {"type": "string"},
         "description": "the notification's id: the same on every retry of one change"},
        {"name": "webhook-timestamp", "in": "header", "required": true,
         "schema": {"type": "string", "pattern": "^[0-9]+$"},
         "description": "seconds since the Unix epoch when this attempt was signed"},
        {"name": "webhook-signature", "in": "header", "required": false, "schema": {"type": "string"},
         "description": "with NOTIFY_SIGNING_SECRET: `v1,<base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\">`"}
    ]);
    let responses = json!({
        "2XX": {"description": "delivered"},
        "default": {"description": "not delivered: retried with exponential backoff and jitter up to NOTIFY_MAX_ATTEMPTS, then kept as a dead letter"}
    });
    json!({
        "paymentStatus": {
            "post": {
                "summary": "A payment's (or refund's) state changed, or /check was called",
                "description": "Sent to PAYMENT_CALLBACK_URL with PAYMENT_CALLBACK_METHOD=POST (the default).",
                "parameters": headers,
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/PaymentStatus"}}}},
                "responses": responses
            },
            "get": {
                "summary": "The same change as a ping without a body",
                "description": "Sent with PAYMENT_CALLBACK_METHOD=GET to PAYMENT_CALLBACK_URL, whose `{provider}` and `{paymentId}` placeholders are filled in; the receiver then asks /status.",
                "parameters": headers,
                "responses": responses
            }
        }
    })
}

/// ErrorResponse answers, each described by `meaning`.
fn described_errors(
    statuses: &[u16],
    meaning: fn(&str) -> &'static str,
) -> std::collections::BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    statuses
        .iter()
        .map(|status| {
            let body = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                .build();
            let response = ResponseBuilder::new()
                .description(meaning(&status.to_string()))
                .content("application/json", body)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// What each error status of the admin API means.
fn admin_meaning(status: &str) -> &'static str {
    match status {
        "400" => "an invalid query parameter: the message names it and what is expected",
        "401" => "Authorization: Bearer with ADMIN_API_TOKEN is required",
        "404" => "unknown payment, notification or provider (and every /admin path while ADMIN_API_TOKEN is unset)",
        "429" => "the provider allows no status fetch of this payment yet (Feennex: one per 10 s); Retry-After says when",
        other => status_meaning(other),
    }
}

/// A family of ErrorResponse answers, listed once for all the routes that give them
/// (`responses((status = 200, …), CreateErrors)` in an annotation), each described by
/// `meaning`.
macro_rules! error_family {
    ($(#[doc = $doc:tt])* $name:ident, $meaning:ident, [$($status:literal),+]) => {
        $(#[doc = $doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses(
            ) -> std::collections::BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                described_errors(&[$($status),+], $meaning)
            }
        }
    };
}

error_family!(
    /// The admin API's reads.
    AdminReadErrors, admin_meaning, [400, 401, 404, 503]
);
error_family!(
    /// The admin API's actions on the notification queue.
    AdminQueueErrors, admin_meaning, [400, 401, 404, 503]
);
error_family!(
    /// The admin API's recheck, which asks the provider.
    AdminRecheckErrors, admin_meaning, [400, 401, 404, 429, 501, 502, 503, 504]
);
error_family!(
    /// Routes that create something from a JSON body (pay, subscription schedule/start/pay): a
    /// repeated shopTransactionId with other terms is a 409.
    CreateErrors, status_meaning, [400, 401, 404, 409, 413, 415, 501, 502, 503, 504]
);
error_family!(
    /// Routes that act on something named in a JSON body (refund, POST status, update, quote).
    BodyErrors, status_meaning, [400, 401, 404, 413, 415, 501, 502, 503, 504]
);
error_family!(
    /// Routes that read something named in the path or query (GET status, check, subscription
    /// status and expire, receipt status).
    QueryErrors, status_meaning, [400, 401, 404, 501, 502, 503, 504]
);
error_family!(
    /// The ping a provider sends instead of a signed callback (GET callback): open, and about
    /// a payment payrouter holds.
    PingErrors, status_meaning, [400, 404, 502, 503, 504]
);
