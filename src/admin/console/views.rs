//! The console's pages, as maud templates: every value is escaped when written, so what a
//! provider or a payer put in a field (a `<script>` in a provider status) is shown as text.
//! One inline style sheet, no script, no external resource: the console works offline, and
//! its fluid layout reads on a phone (wide tables scroll sideways in their own box).

use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use super::format::{age, money, utc};
use crate::admin::{NotificationState, NotificationSummary, PaymentDetail, PaymentSummary};

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232b;background:#f4f6f8}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1rem;background:#1d2b3a;color:#fff}
header a{color:#fff;text-decoration:none;padding:.2rem .1rem}
header a.on{border-bottom:2px solid #7fb8ff}
header strong{margin-right:auto}
main{max-width:1200px;margin:0 auto;padding:1rem}
h1{font-size:1.3rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.box{overflow-x:auto;background:#fff;border:1px solid #d9dee4;border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #eceff2;vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:#5a6572;white-space:nowrap}
td.num{text-align:right;white-space:nowrap}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem;word-break:break-all}
.muted{color:#5a6572;font-size:.85rem}
.status{font-weight:600}.ACCEPTED{color:#17803d}.FAILED{color:#b42318}.PENDING{color:#a15c00}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;margin-bottom:1rem}
form.filters input[type=search]{flex:1 1 16rem}
input,select,button{font:inherit;padding:.4rem .6rem;border:1px solid #b9c2cc;border-radius:4px;background:#fff}
button{cursor:pointer;background:#1f6feb;border-color:#1f6feb;color:#fff}
button.quiet{background:#fff;color:#1d232b;border-color:#b9c2cc}
form.inline{display:inline}
.notice{padding:.6rem .8rem;border-radius:6px;margin-bottom:1rem;background:#e6f4ea;border:1px solid #b7dfc2}
.error{background:#fdecea;border-color:#f5c2bd}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0;padding:.8rem;background:#fff;border:1px solid #d9dee4;border-radius:6px}
dt{color:#5a6572}dd{margin:0}
.pager{display:flex;gap:1rem;margin-top:.8rem}
.login{max-width:24rem;margin:3rem auto;background:#fff;padding:1.2rem;border:1px solid #d9dee4;border-radius:6px}
.login input{width:100%;margin:.3rem 0 .8rem}
@media (max-width:600px){main{padding:.6rem}th,td{padding:.35rem .4rem}}
"#;

/// Which view the header marks as current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Payments,
    Pending,
    Dead,
    None,
}

/// What every signed-in page needs: the CSRF token its forms carry.
#[derive(Clone, Copy)]
pub struct Chrome<'a> {
    pub csrf: &'a str,
    /// Where an action started on this page comes back to.
    pub back: &'a str,
    pub tab: Tab,
    pub now_ms: i64,
}

fn document(title: &str, header: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · payrouter console" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                (header)
                main { (body) }
            }
        }
    }
}

/// A page of the signed-in console.
pub fn page(title: &str, chrome: &Chrome<'_>, notice: Option<&str>, body: Markup) -> Markup {
    let tab = |t: Tab| if chrome.tab == t { "on" } else { "" };
    let header = html! {
        header {
            strong { "payrouter console" }
            a class=(tab(Tab::Payments)) href="/admin" { "Payments" }
            a class=(tab(Tab::Pending)) href="/admin/notifications?state=pending" { "Queue" }
            a class=(tab(Tab::Dead)) href="/admin/notifications?state=dead" { "Dead letters" }
            form.inline method="post" action="/admin/logout" {
                input type="hidden" name="csrf" value=(chrome.csrf);
                button.quiet type="submit" { "Log out" }
            }
        }
    };
    document(
        title,
        header,
        html! {
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            (body)
        },
    )
}

/// The login form; `error` says why the last try failed.
pub fn login(error: Option<&str>) -> Markup {
    let header = html! { header { strong { "payrouter console" } } };
    document(
        "Log in",
        header,
        html! {
            form.login method="post" action="/admin/login" {
                h1 { "Log in" }
                @if let Some(e) = error { p.notice.error role="alert" { (e) } }
                label for="token" { "Admin token (ADMIN_API_TOKEN)" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { "Log in" }
            }
        },
    )
}

/// An error page: `message` names what was wrong.
pub fn error(title: &str, message: &str) -> Markup {
    let body = html! {
        h1 { (title) }
        p.notice.error role="alert" { (message) }
        p { a href="/admin" { "Back to the payments" } }
    };
    document(
        title,
        html! { header { strong { "payrouter console" } } },
        body,
    )
}

fn when(ms: i64, now_ms: i64) -> Markup {
    html! {
        span title=(ms) { (utc(ms)) } br;
        span.muted { (age(ms, now_ms)) }
    }
}

fn status(s: impl serde::Serialize) -> Markup {
    let name = serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    html! { span class={ "status " (name) } { (name) } }
}

pub(super) fn payment_href(provider: &str, payment_id: &str) -> String {
    format!(
        "/admin/payments/{}/{}",
        path_segment(provider),
        path_segment(payment_id)
    )
}

/// A value as one URL path segment.
pub(super) fn path_segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The payment list's filters, as given.
#[derive(Default)]
pub struct Filters {
    pub q: String,
    pub provider: String,
    pub status: String,
}

/// The payments list.
pub fn payments(
    chrome: &Chrome<'_>,
    providers: &[String],
    filters: &Filters,
    items: &[PaymentSummary],
    next: Option<String>,
    notice: Option<&str>,
) -> Markup {
    let now = chrome.now_ms;
    let body = html! {
        h1 { "Payments" }
        form.filters method="get" action="/admin" role="search" {
            input type="search" name="q" value=(filters.q)
                placeholder="shopTransactionId or paymentId" aria-label="search";
            select name="provider" aria-label="provider" {
                option value="" { "every provider" }
                @for p in providers {
                    option value=(p) selected[*p == filters.provider] { (p) }
                }
            }
            select name="status" aria-label="status" {
                option value="" { "every status" }
                @for s in ["PENDING", "ACCEPTED", "FAILED"] {
                    option value=(s) selected[s == filters.status] { (s) }
                }
            }
            button type="submit" { "Search" }
        }
        div.box {
            table #payments {
                thead { tr {
                    th { "Created" } th { "Provider" } th { "Payment" } th { "Amount" }
                    th { "Status" } th { "Provider status" }
                } }
                tbody {
                    @for p in items {
                        tr {
                            td { (when(p.created_ms, now)) }
                            td { (p.provider) }
                            td {
                                a.mono href=(payment_href(&p.provider, &p.payment_id)) { (p.payment_id) }
                                br; span.muted { "shop: " (p.shop_transaction_id) }
                            }
                            td.num { (money(&p.amount)) }
                            td { (status(p.status)) }
                            td.mono { (p.provider_status) }
                        }
                    }
                    @if items.is_empty() {
                        tr { td colspan="6" .muted { "No payment matches." } }
                    }
                }
            }
        }
        @if let Some(cursor) = next {
            nav.pager {
                a href={ "/admin?" (query(&[("q", &filters.q), ("provider", &filters.provider),
                        ("status", &filters.status), ("cursor", &cursor)])) } { "Next page →" }
            }
        }
    };
    page("Payments", chrome, notice, body)
}

/// A notification state as the console's `state` parameter spells it.
pub(super) fn state_name(state: NotificationState) -> &'static str {
    match state {
        NotificationState::Pending => "pending",
        NotificationState::Dead => "dead",
    }
}

/// A query string of the non-empty `pairs`.
fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    q.finish()
}

/// One payment, its notifications still queued or dead, and its timeline.
pub fn payment(
    chrome: &Chrome<'_>,
    detail: &PaymentDetail,
    notifications: &[NotificationSummary],
    notice: Option<&str>,
) -> Markup {
    let p = &detail.payment;
    let now = chrome.now_ms;
    let recheck = format!("{}/recheck", payment_href(&p.provider, &p.payment_id));
    let body = html! {
        h1 { "Payment " span.mono { (p.payment_id) } }
        dl {
            dt { "Provider" } dd { (p.provider) }
            dt { "shopTransactionId" } dd.mono { (p.shop_transaction_id) }
            dt { "Amount" } dd { (money(&p.amount)) }
            @if p.refunded_amount > 0 {
                dt { "Refunded" } dd { (money(&payrouter_provider::Money::new(p.refunded_amount, p.amount.currency))) }
            }
            dt { "Status" } dd { (status(p.status)) " " (status(p.action)) }
            dt { "Provider status" } dd.mono #provider-status { (p.provider_status) }
            dt { "Created" } dd { (utc(p.created_ms)) " · " span.muted { (age(p.created_ms, now)) } }
            dt { "Updated" } dd { (utc(p.updated_ms)) " · " span.muted { (age(p.updated_ms, now)) } }
        }
        p {
            form.inline method="post" action=(recheck) {
                input type="hidden" name="csrf" value=(chrome.csrf);
                button type="submit" { "Recheck with the provider" }
            }
        }
        h2 { "Notifications queued or dead" }
        (notification_table(chrome, notifications, false))
        h2 { "Timeline" }
        div.box {
            table #timeline {
                thead { tr { th { "When" } th { "Event" } th { "Details" } } }
                tbody {
                    @for e in detail.events.iter().rev() {
                        @let (kind, fields) = event_fields(e);
                        tr {
                            td { (when(e.at_ms, now)) }
                            td { (kind) }
                            td {
                                @for (k, v) in &fields {
                                    span.muted { (k) ": " } span.mono { (v) } br;
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Payment", chrome, notice, body)
}

/// An event as its type and its other fields, as text: the console shows whatever the
/// timeline records without knowing each kind of event.
fn event_fields(e: &crate::store::records::TimelineEvent) -> (String, Vec<(String, String)>) {
    let Ok(Value::Object(mut map)) = serde_json::to_value(e) else {
        return (String::new(), Vec::new());
    };
    map.remove("atMs");
    let kind = match map.remove("type") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let fields = map
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    (kind, fields)
}

/// The notification queue or the dead letters.
pub fn notifications(
    chrome: &Chrome<'_>,
    state: NotificationState,
    items: &[NotificationSummary],
    next: Option<String>,
    notice: Option<&str>,
) -> Markup {
    let dead = state == NotificationState::Dead;
    let title = if dead {
        "Dead letters"
    } else {
        "Notification queue"
    };
    let body = html! {
        h1 { (title) }
        @if dead {
            p.muted { "Notifications that exhausted NOTIFY_MAX_ATTEMPTS. Redelivery sends the same webhook-id and body again, with a fresh attempt budget." }
            @if !items.is_empty() {
                p {
                    form.inline method="post" action="/admin/notifications/redeliver-dead" {
                        input type="hidden" name="csrf" value=(chrome.csrf);
                        input type="hidden" name="back" value=(chrome.back);
                        button type="submit" #redeliver-all { "Redeliver all dead" }
                    }
                }
            }
        } @else {
            p.muted { "Notifications waiting for their next attempt, soonest first." }
        }
        (notification_table(chrome, items, true))
        @if let Some(cursor) = next {
            nav.pager {
                a href={ "/admin/notifications?" (query(&[("state", state_name(state)), ("cursor", &cursor)])) } { "Next page →" }
            }
        }
    };
    let tab = if dead { Tab::Dead } else { Tab::Pending };
    page(title, &Chrome { tab, ..*chrome }, notice, body)
}

fn notification_table(
    chrome: &Chrome<'_>,
    items: &[NotificationSummary],
    with_payment: bool,
) -> Markup {
    let now = chrome.now_ms;
    html! {
        div.box {
            table.notifications {
                thead { tr {
                    th { "webhook-id" }
                    @if with_payment { th { "Payment" } }
                    th { "Carries" } th { "Attempts" } th { "Next attempt / died" }
                    th { "Last error" } th {}
                } }
                tbody {
                    @for n in items {
                        tr data-id=(n.id) data-payment=(n.payment_id) {
                            td.mono { (n.id) }
                            @if with_payment {
                                td { a.mono href=(payment_href(&n.provider, &n.payment_id)) { (n.provider) "/" (n.payment_id) } }
                            }
                            td { @if let Some(s) = n.status { (status(s)) } }
                            td.num { (n.attempts) }
                            td {
                                @match (n.state, n.next_attempt_ms, n.dead_ms) {
                                    (NotificationState::Dead, _, Some(d)) => { "died " (when(d, now)) }
                                    (_, Some(next), _) => { (when(next, now)) }
                                    _ => {}
                                }
                            }
                            td.mono { (n.last_error.as_deref().unwrap_or("")) }
                            td {
                                form.inline method="post" action={ "/admin/notifications/" (path_segment(&n.id)) "/redeliver" } {
                                    input type="hidden" name="csrf" value=(chrome.csrf);
                                    input type="hidden" name="back" value=(chrome.back);
                                    button type="submit" .redeliver { "Redeliver" }
                                }
                            }
                        }
                    }
                    @if items.is_empty() {
                        tr { td colspan="7" .muted { "None." } }
                    }
                }
            }
        }
    }
}
