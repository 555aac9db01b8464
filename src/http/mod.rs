//! The HTTP edge: routes, the layers every request passes (request id, tracing, body limit,
//! timeouts, panic catching, metrics) and bearer-token auth on the PGM-facing routes.

mod access_log;
mod admin;
mod error;
mod extensions;
mod input;
mod openapi;
mod ops;
mod resolve;
mod routes;
pub mod server;
mod subscriptions;

pub use error::{error_response, ApiError};

use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderName, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use payrouter_provider::{ExposeSecret, SecretString};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::admin::AdminService;
use crate::engine::Engine;
use input::BodyLimits;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub metrics: PrometheusHandle,
    pub draining: Arc<AtomicBool>,
    pub api_token: Option<Arc<SecretString>>,
    /// ADMIN_API_TOKEN: the admin API exists only when it is set.
    pub admin_token: Option<Arc<SecretString>>,
    pub admin: AdminService,
}

pub struct HttpSettings {
    pub body_limit: usize,
    pub route_timeout: Duration,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Budget for the operations endpoints, which never call a provider.
const OPS_TIMEOUT: Duration = Duration::from_secs(5);

/// Who may call a route, and under which time budget.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// The PGM's routes: bearer token when configured, the route timeout.
    Pgm,
    /// Called by providers and payers' browsers: open, the route timeout.
    Provider,
    /// Operations endpoints: open, a short budget.
    Ops,
    /// The admin API: only with ADMIN_API_TOKEN set, behind it; the route timeout (a recheck
    /// asks a provider).
    Admin,
}

/// One method on one path: the router is built from this table, and the OpenAPI test reads it
/// to prove every route is documented.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// A file upload: its body may be as large as the largest file a provider takes, instead
    /// of BODY_LIMIT_BYTES (the handler holds each file to its provider's own limit).
    pub upload: bool,
    handler: MethodRouter<AppState>,
}

fn route<H, T>(access: Access, method: Method, path: &'static str, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a route uses a standard method");
    Route {
        method,
        path,
        access,
        upload: false,
        handler: on(filter, handler),
    }
}

impl Route {
    fn upload(self) -> Route {
        Route {
            upload: true,
            ..self
        }
    }
}

/// Room for the multipart framing around the largest file.
const UPLOAD_FRAMING: usize = 64 * 1024;

/// The route table, one route a line: `Access METHOD "path" => handler`, with `upload` after
/// the handler of a file upload.
macro_rules! route_table {
    ($($access:ident $method:ident $path:literal => $($handler:ident)::+ $($upload:ident)?;)*) => {
        vec![$(
            route(Access::$access, Method::$method, $path, $($handler)::+)$(.$upload())?
        ),*]
    };
}

/// Every route payrouter serves.
pub fn routes() -> Vec<Route> {
    route_table! {
        Pgm      POST   "/v3/{provider}/pay" => routes::pay;
        Pgm      POST   "/v3/{provider}/refund" => routes::refund;
        Pgm      GET    "/v3/{provider}/status" => routes::status;
        Pgm      POST   "/v3/{provider}/status" => routes::status_post;
        Pgm      GET    "/v3/{provider}/check" => routes::check;
        Pgm      POST   "/v3/{provider}/subscription/schedule" => subscriptions::schedule;
        Pgm      POST   "/v3/{provider}/subscription/start" => subscriptions::start;
        Pgm      POST   "/v3/{provider}/subscription/pay" => subscriptions::pay;
        Pgm      POST   "/v3/{provider}/subscription/update/{token}" => subscriptions::update;
        Pgm      POST   "/v3/{provider}/subscription/expire/{token}" => subscriptions::expire;
        Pgm      DELETE "/v3/{provider}/subscription/expire/{token}" => subscriptions::expire;
        Pgm      GET    "/v3/{provider}/subscription/status/{token}" => subscriptions::status;
        Pgm      POST   "/v3/{provider}/quote" => extensions::quote;
        Pgm      POST   "/v3/{provider}/receipt/{payment_id}" => extensions::upload_receipt upload;
        Pgm      GET    "/v3/{provider}/receipt/{payment_id}" => extensions::receipt_status;
        Provider POST   "/v3/{provider}/callback" => routes::callback;
        Provider GET    "/v3/{provider}/callback" => routes::callback_ping;
        Provider GET    "/v3/{provider}/redirect/{payment_id}" => routes::redirect_page;
        Ops      GET    "/healthz" => ops::healthz;
        Ops      GET    "/readyz" => ops::readyz;
        Ops      GET    "/metrics" => ops::metrics;
        Ops      GET    "/openapi.json" => openapi::openapi;
        Admin    GET    "/admin/api/payments" => admin::payments;
        Admin    GET    "/admin/api/payments/{provider}/{paymentId}" => admin::payment;
        Admin    POST   "/admin/api/payments/{provider}/{paymentId}/recheck" => admin::recheck;
        Admin    GET    "/admin/api/notifications" => admin::notifications;
        Admin    POST   "/admin/api/notifications/{id}/redeliver" => admin::redeliver;
        Admin    POST   "/admin/api/notifications/redeliver" => admin::redeliver_all;
    }
}

/// The longest a request body may take to arrive: short, so that a `Content-Length` longer
/// than the body is a 400 rather than a 504, and always inside the route's budget.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);

pub fn router(state: AppState, settings: HttpSettings) -> Router {
    let (mut pgm, mut open, mut ops, mut admin) =
        (Router::new(), Router::new(), Router::new(), Router::new());
    let upload_limit = state
        .engine
        .providers()
        .values()
        .map(|p| p.receipt_max_bytes())
        .max()
        .unwrap_or(0)
        .saturating_add(UPLOAD_FRAMING)
        .max(settings.body_limit);
    for r in routes() {
        let group = match r.access {
            Access::Pgm => &mut pgm,
            Access::Provider => &mut open,
            Access::Ops => &mut ops,
            Access::Admin => &mut admin,
        };
        let handler = if r.upload {
            r.handler
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit))
        } else {
            r.handler
        };
        *group = std::mem::take(group).route(r.path, handler);
    }
    let pgm = pgm.route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let provider_routes = timed(pgm.merge(open), &state, settings.route_timeout);
    let ops = timed(ops, &state, OPS_TIMEOUT);
    // Without ADMIN_API_TOKEN the admin surface does not exist: its paths are the fallback's
    // 404, like any unknown path.
    let admin = match state.admin_token {
        Some(_) => timed(
            admin.route_layer(middleware::from_fn_with_state(
                state.clone(),
                admin::require_admin_token,
            )),
            &state,
            settings.route_timeout,
        ),
        None => Router::new(),
    };
    // The console (`/admin`, HTML) on the same token, signed in by a cookie of its own.
    let console = match &state.admin_token {
        Some(token) => {
            let providers = state.engine.providers().keys().map(|p| p.to_string());
            let console = crate::admin::console::router(
                state.admin.clone(),
                token.clone(),
                providers.collect(),
            );
            timed(console, &state, settings.route_timeout)
        }
        None => Router::new(),
    };
    let limits = BodyLimits {
        max_bytes: settings.body_limit,
        read_timeout: BODY_READ_TIMEOUT.min(settings.route_timeout / 2),
    };
    Router::new()
        .merge(provider_routes)
        .merge(ops)
        .merge(admin)
        .merge(console)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .on_failure(())
                        .make_span_with(|req: &Request| {
                            let request_id = req
                                .headers()
                                .get(REQUEST_ID)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("");
                            tracing::info_span!(
                                "request",
                                method = %req.method(),
                                path = %req.uri().path(),
                                request_id,
                                provider = tracing::field::Empty,
                                operation = tracing::field::Empty,
                                payment_id = tracing::field::Empty,
                                merchant = tracing::field::Empty,
                            )
                        }),
                )
                .layer(middleware::from_fn(access_log::log))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_| {
                    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
                }))
                .layer(axum::extract::DefaultBodyLimit::max(settings.body_limit))
                .layer(axum::Extension(limits)),
        )
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "no such route; see /openapi.json")
}

async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route; see /openapi.json",
    )
}

/// Answers 504 when the route's budget runs out.
async fn deadline(State(budget): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(budget, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => error_response(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the request did not finish within {} ms",
                budget.as_millis()
            ),
        ),
    }
}

/// `routes` held to `budget` (a 504 past it) and counted in the metrics, that 504 included.
fn timed<S>(routes: Router<S>, state: &AppState, budget: Duration) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes
        .route_layer(middleware::from_fn_with_state(budget, deadline))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
}

async fn require_token(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(expected) = &app.api_token {
        if !bearer_matches(&req, expected) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

/// Whether the request carries `Authorization: Bearer <expected>`, compared in constant time.
fn bearer_matches(req: &Request, expected: &SecretString) -> bool {
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    given
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into()
}

/// Requests by route, provider and status, and their duration.
async fn record_metrics(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |m| m.as_str().to_string());
    let provider = match req.uri().path().split('/').nth(2) {
        Some(name) if route.starts_with("/v3/") => match app.engine.providers().get(name) {
            Some(p) => p.name(),
            // Unknown names must not grow the label set.
            None => "unknown",
        },
        _ => "",
    };
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::histogram!(
        "payrouter_http_request_duration_seconds",
        "route" => route.clone(),
        "provider" => provider,
        "status" => status.clone()
    )
    .record(start.elapsed().as_secs_f64());
    metrics::counter!("payrouter_http_requests_total", "route" => route, "provider" => provider, "status" => status)
        .increment(1);
    resp
}
