//! The operator console, `GET /admin`: server-rendered pages over [`AdminService`] (called
//! directly, not through the JSON API) behind the admin token. Mounted only when
//! ADMIN_API_TOKEN is set.
//!
//! Signing in: a login form takes the token and sets a session cookie
//! (`Secure; HttpOnly; SameSite=Strict; Path=/admin`) holding a MAC of it, never the token
//! ([`session`]). Every action is a POST carrying the session's CSRF token in a hidden field;
//! without it the answer is 403. Pages are never cached, never framed, and may load nothing
//! but their own inline style (Content-Security-Policy).

mod format;
mod session;
mod views;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use payrouter_provider::SecretString;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

use super::{
    Actor, AdminError, AdminService, NotificationState, NotificationSummary, PageRequest,
    PaymentFilter, PaymentSummary, MAX_LIMIT,
};
use crate::engine::now_ms;
use session::{Sessions, COOKIE};
use views::{Chrome, Filters, Tab};

/// Who the console's actions are written to the timeline as.
const ACTOR: &str = "admin (console)";

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone)]
struct Console {
    admin: AdminService,
    sessions: Sessions,
    /// The enabled providers, for the provider filter.
    providers: Vec<String>,
}

/// The console's routes under `/admin`, for a router of any state.
pub fn router<S: Clone + Send + Sync + 'static>(
    admin: AdminService,
    token: Arc<SecretString>,
    providers: Vec<String>,
) -> Router<S> {
    let console = Console {
        admin,
        sessions: Sessions::new(token),
        providers,
    };
    Router::new()
        .route("/admin", get(payments))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/payments/{provider}/{payment_id}", get(payment))
        .route(
            "/admin/payments/{provider}/{payment_id}/recheck",
            post(recheck),
        )
        .route("/admin/notifications", get(notifications))
        .route("/admin/notifications/{id}/redeliver", post(redeliver))
        .route("/admin/notifications/redeliver-dead", post(redeliver_dead))
        .layer(axum::middleware::map_response(protect))
        .with_state(console)
}

/// No console page is cached, framed, or allowed to load or run anything.
async fn protect(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

#[derive(Debug, thiserror::Error)]
enum ConsoleError {
    /// A page asked for without a session: the login form.
    #[error("log in with the admin token first")]
    SignedOut,
    /// An action without a session.
    #[error("session: log in with the admin token first (the session may have expired)")]
    Unauthenticated,
    #[error("csrf: the form's CSRF token is missing or belongs to another session; reload the page and try again")]
    Csrf,
    #[error(transparent)]
    Admin(#[from] AdminError),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, title, retry_after) = match &self {
            ConsoleError::SignedOut => return Redirect::to("/admin/login").into_response(),
            ConsoleError::Unauthenticated => (StatusCode::UNAUTHORIZED, "Not logged in", None),
            ConsoleError::Csrf => (StatusCode::FORBIDDEN, "Forbidden", None),
            ConsoleError::Admin(e) => match e {
                AdminError::Invalid { .. } => (StatusCode::BAD_REQUEST, "Bad request", None),
                AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found", None),
                AdminError::RetryAfter { retry_after, .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too soon",
                    Some(retry_after.as_millis().div_ceil(1000).max(1) as u64),
                ),
                AdminError::Store(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "Store unavailable", None)
                }
                // The engine's errors keep the status the API gives them.
                AdminError::Engine(e) => (engine_status(e), "Request failed", None),
            },
        };
        let mut resp = (status, views::error(title, &message)).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

fn engine_status(e: &crate::engine::Error) -> StatusCode {
    use crate::engine::Error as E;
    use payrouter_provider::ProviderError as P;
    match e {
        E::Invalid { .. } => StatusCode::BAD_REQUEST,
        E::NotFound(_) | E::Provider(P::NotFound(_)) => StatusCode::NOT_FOUND,
        E::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        E::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        E::Provider(P::Timeout { .. }) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    }
}

type Page = Result<Response, ConsoleError>;

impl Console {
    /// The session cookie of a signed-in viewer.
    fn viewer(&self, jar: &CookieJar) -> Result<String, ConsoleError> {
        jar.get(COOKIE)
            .map(|c| c.value().to_string())
            .filter(|v| self.sessions.valid(v, now_ms()))
            .ok_or(ConsoleError::SignedOut)
    }

    /// A signed-in actor whose form carries the session's CSRF token, and the form.
    fn actor(
        &self,
        jar: &CookieJar,
        form: Result<Form<ActionForm>, FormRejection>,
    ) -> Result<(Actor, ActionForm), ConsoleError> {
        let session = self
            .viewer(jar)
            .map_err(|_| ConsoleError::Unauthenticated)?;
        let form = form.map(|Form(f)| f).unwrap_or_default();
        let given = form.csrf.as_deref().unwrap_or_default();
        if !self.sessions.csrf_matches(&session, given) {
            return Err(ConsoleError::Csrf);
        }
        Ok((Actor::new(ACTOR), form))
    }
}

/// The fields of every action's form.
#[derive(Deserialize, Default)]
struct ActionForm {
    csrf: Option<String>,
    /// The console page the action was started from, to come back to.
    back: Option<String>,
}

impl ActionForm {
    /// Where to go after the action: the page it came from when that is a console page (never
    /// another site), else `default`; with `done` added to its query.
    fn back_to(&self, default: &str, done: &str) -> Redirect {
        let page = self
            .back
            .as_deref()
            .filter(|b| {
                (*b == "/admin" || b.starts_with("/admin/") || b.starts_with("/admin?"))
                    && !b.contains("//")
                    && !b.contains('\\')
                    // A header value: nothing but visible ASCII.
                    && b.bytes().all(|c| c.is_ascii_graphic())
            })
            .unwrap_or(default);
        let sep = if page.contains('?') { '&' } else { '?' };
        Redirect::to(&format!("{page}{sep}{done}"))
    }
}

#[derive(Deserialize)]
struct LoginForm {
    token: Option<String>,
}

/// A query string's parameters (the last of a name given twice wins; empty ones are left out).
fn params(raw: Option<String>) -> HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The message of a finished action, named by the redirect's `done` parameter.
fn notice(q: &HashMap<String, String>) -> Option<String> {
    match q.get("done").map(String::as_str) {
        Some("redelivered") => {
            Some("Notification queued for delivery now, with the same webhook-id and body.".into())
        }
        Some("queued") => {
            let n: usize = q.get("n").and_then(|n| n.parse().ok()).unwrap_or(0);
            Some(format!("{n} dead letters queued for delivery again."))
        }
        Some("rechecked") => {
            Some("The provider was asked; the payment shows what it answered.".into())
        }
        _ => None,
    }
}

async fn login_form(State(c): State<Console>, jar: CookieJar) -> Response {
    if c.viewer(&jar).is_ok() {
        return Redirect::to("/admin").into_response();
    }
    views::login(None).into_response()
}

async fn login(
    State(c): State<Console>,
    jar: CookieJar,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let given = form.ok().and_then(|Form(f)| f.token).unwrap_or_default();
    if !c.sessions.token_matches(&given) {
        tracing::warn!("console login with a wrong token");
        return (
            StatusCode::UNAUTHORIZED,
            views::login(Some("token: not the admin token (ADMIN_API_TOKEN)")),
        )
            .into_response();
    }
    let session = Cookie::build((COOKIE, c.sessions.issue(now_ms())))
        .path("/admin")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .build();
    (jar.add(session), Redirect::to("/admin")).into_response()
}

async fn logout(
    State(c): State<Console>,
    jar: CookieJar,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Page {
    c.actor(&jar, form)?;
    let jar = jar.remove(Cookie::build(COOKIE).path("/admin"));
    Ok((jar, Redirect::to("/admin/login")).into_response())
}

async fn payments(State(c): State<Console>, jar: CookieJar, RawQuery(raw): RawQuery) -> Page {
    let session = c.viewer(&jar)?;
    let q = params(raw);
    let filters = Filters {
        q: q.get("q").map(|s| s.trim().to_string()).unwrap_or_default(),
        provider: q.get("provider").cloned().unwrap_or_default(),
        status: q
            .get("status")
            .map(|s| s.to_ascii_uppercase())
            .unwrap_or_default(),
    };
    let status = match filters.status.as_str() {
        "" => None,
        s => Some(
            serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
                AdminError::invalid("status", "must be PENDING, ACCEPTED or FAILED")
            })?,
        ),
    };
    let provider = match filters.provider.as_str() {
        "" => None,
        p if c.providers.iter().any(|e| e == p) => Some(p.to_string()),
        _ => {
            return Err(AdminError::invalid(
                "provider",
                format!("must be an enabled provider ({})", c.providers.join(", ")),
            )
            .into())
        }
    };
    let page = PageRequest::new(None, q.get("cursor").cloned())?;
    let mut items: Vec<PaymentSummary> = Vec::new();
    if !filters.q.is_empty() && page_is_first(&q) {
        // The search term as a paymentId, at each provider the filter allows.
        for p in c
            .providers
            .iter()
            .filter(|p| provider.as_ref().is_none_or(|f| f == *p))
        {
            if let Some(d) = c.admin.payment(p, &filters.q).await? {
                if status.is_none_or(|s| s == d.payment.status) {
                    items.push(d.payment);
                }
            }
        }
    }
    let filter = PaymentFilter {
        provider,
        status,
        shop_transaction_id: (!filters.q.is_empty()).then(|| filters.q.clone()),
        ..PaymentFilter::default()
    };
    let listed = c.admin.payments(filter, page).await?;
    // A term that is both a paymentId and a shopTransactionId shows each payment once.
    for p in listed.items {
        if !items
            .iter()
            .any(|i| i.provider == p.provider && i.payment_id == p.payment_id)
        {
            items.push(p);
        }
    }
    let chrome = Chrome {
        csrf: &c.sessions.csrf(&session),
        back: "/admin",
        tab: Tab::Payments,
        now_ms: now_ms(),
    };
    Ok(views::payments(
        &chrome,
        &c.providers,
        &filters,
        &items,
        listed.next_cursor,
        notice(&q).as_deref(),
    )
    .into_response())
}

fn page_is_first(q: &HashMap<String, String>) -> bool {
    !q.contains_key("cursor")
}

async fn payment(
    State(c): State<Console>,
    jar: CookieJar,
    Path((provider, payment_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Page {
    let session = c.viewer(&jar)?;
    let Some(detail) = c.admin.payment(&provider, &payment_id).await? else {
        return Err(AdminError::NotFound(format!(
            "paymentId: no payment '{payment_id}' of provider '{provider}' is held"
        ))
        .into());
    };
    let mut theirs: Vec<NotificationSummary> = Vec::new();
    for state in [NotificationState::Dead, NotificationState::Pending] {
        let listed = c
            .admin
            .notifications(state, PageRequest::new(Some(MAX_LIMIT), None)?)
            .await?;
        theirs.extend(
            listed
                .items
                .into_iter()
                .filter(|n| n.provider == provider && n.payment_id == payment_id),
        );
    }
    let here = views::payment_href(&provider, &payment_id);
    let chrome = Chrome {
        csrf: &c.sessions.csrf(&session),
        back: &here,
        tab: Tab::None,
        now_ms: now_ms(),
    };
    let q = params(raw);
    Ok(views::payment(&chrome, &detail, &theirs, notice(&q).as_deref()).into_response())
}

async fn notifications(State(c): State<Console>, jar: CookieJar, RawQuery(raw): RawQuery) -> Page {
    let session = c.viewer(&jar)?;
    let q = params(raw);
    let state = match q.get("state").map(String::as_str) {
        None | Some("pending") => NotificationState::Pending,
        Some("dead") => NotificationState::Dead,
        Some(_) => return Err(AdminError::invalid("state", "must be pending or dead").into()),
    };
    let listed = c
        .admin
        .notifications(state, PageRequest::new(None, q.get("cursor").cloned())?)
        .await?;
    let here = format!("/admin/notifications?state={}", views::state_name(state));
    let chrome = Chrome {
        csrf: &c.sessions.csrf(&session),
        back: &here,
        tab: Tab::Pending,
        now_ms: now_ms(),
    };
    Ok(views::notifications(
        &chrome,
        state,
        &listed.items,
        listed.next_cursor,
        notice(&q).as_deref(),
    )
    .into_response())
}

async fn redeliver(
    State(c): State<Console>,
    jar: CookieJar,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Page {
    let (actor, form) = c.actor(&jar, form)?;
    c.admin.redeliver(&id, &actor).await?;
    Ok(form
        .back_to("/admin/notifications?state=pending", "done=redelivered")
        .into_response())
}

async fn redeliver_dead(
    State(c): State<Console>,
    jar: CookieJar,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Page {
    let (actor, form) = c.actor(&jar, form)?;
    let n = c.admin.redeliver_dead(&actor).await?;
    Ok(form
        .back_to(
            "/admin/notifications?state=dead",
            &format!("done=queued&n={n}"),
        )
        .into_response())
}

async fn recheck(
    State(c): State<Console>,
    jar: CookieJar,
    Path((provider, payment_id)): Path<(String, String)>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Page {
    let (actor, _) = c.actor(&jar, form)?;
    c.admin.recheck(&provider, &payment_id, &actor).await?;
    let back = format!(
        "{}?done=rechecked",
        views::payment_href(&provider, &payment_id)
    );
    Ok(Redirect::to(&back).into_response())
}
