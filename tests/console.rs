//! The operator console (`/admin`, issue 12) over real HTTP, with Fena mocked and a recording
//! notification receiver: signing in (a wrong token fails; the cookie's flags), CSRF on every
//! action (403 without it), search and filters, recheck; and in headless Chromium: an
//! operator logs in, finds a payment's dead letter and presses Redeliver, and the receiver
//! gets it under the same webhook-id; a provider status holding `<script>` is shown as text.

mod common;

use common::browser::Browser;
use common::fena_env::pay_body;
use common::stores::on_both_stores;
use common::*;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

const PID: &str = "64b48c5b6ba2cd6a040b20a8";
const TOKEN: &str = "console-test-token-6a040b20a8";

/// A router with ADMIN_API_TOKEN paying through the Fena mock; its client never follows
/// redirects, so that each answer can be looked at.
struct Env {
    fena: FenaMock,
    receiver: Receiver,
    router: TestRouter,
    http: reqwest::Client,
    _redis: Option<RedisServer>,
}

impl Env {
    async fn start(kind: StoreKind, extra: &str) -> Env {
        let fena = FenaMock::start().await;
        let receiver = Receiver::start().await;
        let redis = kind.start_redis().await;
        let router = TestRouter::start(&config(
            redis.as_ref(),
            &fena.base(),
            &receiver.url,
            &format!("admin_api_token = \"{TOKEN}\"\n{extra}"),
        ))
        .await;
        Env {
            fena,
            receiver,
            router,
            http: no_redirects(),
            _redis: redis,
        }
    }

    /// Creates payment PID (12.99 GBP) for `shop_tx`; Fena reports it as `status`.
    async fn pay(&self, shop_tx: &str, status: &str) {
        self.fena.on_create(PID, shop_tx, "12.99").await;
        self.fena
            .set_state(PID, status, "12.99", shop_tx, shop_tx)
            .await;
        self.router
            .create_payment("fena", &pay_body(shop_tx, 1299))
            .await;
    }

    async fn get(&self, path: &str, session: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.router.url(path));
        if let Some(s) = session {
            req = req.header(COOKIE, s);
        }
        req.send().await.unwrap()
    }

    /// The page at `path`, as the holder of `session` sees it.
    async fn page(&self, path: &str, session: &str) -> String {
        self.get(path, Some(session)).await.text().await.unwrap()
    }

    async fn post(
        &self,
        path: &str,
        session: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(self.router.url(path)).form(form);
        if let Some(s) = session {
            req = req.header(COOKIE, s);
        }
        req.send().await.unwrap()
    }

    /// Logs in; answers the `Cookie` header of the session.
    async fn log_in(&self) -> String {
        log_in(&self.http, &self.router).await
    }

    /// The admin API's view of payment PID.
    async fn admin_payment(&self) -> Value {
        let resp = self
            .http
            .get(self.router.url(&format!("/admin/api/payments/fena/{PID}")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        read(resp).await.1
    }
}

/// A client that never follows redirects, so that each answer can be looked at.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Logs in to `router`'s console; answers the `Cookie` header of the session.
async fn log_in(http: &reqwest::Client, router: &TestRouter) -> String {
    let resp = http
        .post(router.url("/admin/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let set = resp.headers()[SET_COOKIE].to_str().unwrap().to_string();
    set.split(';').next().unwrap().to_string()
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token")
        + 19;
    page[at..].split('"').next().unwrap().to_string()
}

async fn signing_in_and_csrf(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    e.pay("order-c1", "sent").await;

    // Signed out, a page sends to the login form; a wrong token is refused.
    let resp = e.get("/admin", None).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/admin/login");
    let form = e.get("/admin/login", None).await;
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains(r#"name="token""#));
    let wrong = e.post("/admin/login", None, &[("token", "not-it")]).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("token: not the admin token"));
    let empty = e.post("/admin/login", None, &[]).await;
    assert_eq!(empty.status(), 401);

    // The right token: a session cookie with every flag, holding no token.
    let resp = e.post("/admin/login", None, &[("token", TOKEN)]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/admin");
    let set = resp.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let flags: Vec<String> = set
        .split(';')
        .map(|f| f.trim().to_ascii_lowercase())
        .collect();
    for flag in ["secure", "httponly", "samesite=strict", "path=/admin"] {
        assert!(flags.iter().any(|f| f == flag), "{flag} missing in {set}");
    }
    assert!(!set.contains(TOKEN), "{set}");
    let session = set.split(';').next().unwrap().to_string();

    // The list shows the payment as money, with its page; pages are neither cached nor framed.
    let resp = e.get("/admin", Some(&session)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let page = resp.text().await.unwrap();
    assert!(page.contains(r#"name="viewport""#));
    assert!(page.contains("12.99 GBP"), "{page}");
    assert!(page.contains(&format!("/admin/payments/fena/{PID}")));
    let csrf = csrf_of(&page);

    // Actions: 401 signed out, 403 without or with another session's CSRF token.
    let recheck = format!("/admin/payments/fena/{PID}/recheck");
    let signed_out = e.post(&recheck, None, &[("csrf", &csrf)]).await;
    assert_eq!(signed_out.status(), 401);
    let missing = e.post(&recheck, Some(&session), &[]).await;
    assert_eq!(missing.status(), 403);
    assert!(missing.text().await.unwrap().contains("csrf: "));
    let other_session = e.log_in().await;
    let foreign = e
        .post(&recheck, Some(&other_session), &[("csrf", &csrf)])
        .await;
    assert_eq!(foreign.status(), 403);
    let logout = e.post("/admin/logout", Some(&session), &[]).await;
    assert_eq!(logout.status(), 403);
    let events = e.admin_payment().await["events"].clone();
    assert!(
        !events.to_string().contains("admin (console)"),
        "a refused action leaves no trace: {events}"
    );

    // With it, the recheck is made and written to the timeline as the console's.
    let done = e.post(&recheck, Some(&session), &[("csrf", &csrf)]).await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        done.headers()[LOCATION],
        format!("/admin/payments/fena/{PID}?done=rechecked").as_str()
    );
    let page = e
        .page(
            &format!("/admin/payments/fena/{PID}?done=rechecked"),
            &session,
        )
        .await;
    assert!(page.contains("The provider was asked"));
    assert!(page.contains("admin (console)"), "{page}");

    // Logging out ends the cookie.
    let out = e
        .post("/admin/logout", Some(&session), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), 303);
    let cleared = out.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(cleared.contains("max-age=0"), "{cleared}");
}

async fn search_and_filters(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    e.pay("order-search", "sent").await;
    let session = e.log_in().await;
    let list = |path: &'static str| {
        let (e, session) = (&e, session.clone());
        async move {
            let resp = e.get(path, Some(&session)).await;
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    for found in [
        "/admin?q=order-search",
        "/admin?q=64b48c5b6ba2cd6a040b20a8",
        "/admin?provider=fena&status=pending",
    ] {
        let (status, page) = list(found).await;
        assert_eq!(status, 200);
        assert!(
            page.contains(&format!("/admin/payments/fena/{PID}")),
            "{found}"
        );
    }
    for missed in ["/admin?q=order-other", "/admin?status=ACCEPTED"] {
        let (status, page) = list(missed).await;
        assert_eq!(status, 200);
        assert!(
            !page.contains(&format!("/admin/payments/fena/{PID}")),
            "{missed}"
        );
        assert!(page.contains("No payment matches."));
    }
    let (status, page) = list("/admin?status=paid").await;
    assert_eq!(status, 400);
    assert!(
        page.contains("status: must be PENDING, ACCEPTED or FAILED"),
        "{page}"
    );
    let (status, page) = list("/admin?provider=stripe").await;
    assert_eq!(status, 400);
    assert!(
        page.contains("provider: must be an enabled provider"),
        "{page}"
    );
    let (status, page) = list("/admin/payments/fena/unknown-id").await;
    assert_eq!(status, 404);
    assert!(page.contains("paymentId: no payment"), "{page}");
    let (status, _) = list("/admin/notifications?state=lost").await;
    assert_eq!(status, 400);
}

/// Makes the notification of a `/check` of PID die after two failed attempts; its id.
async fn dead_letter(e: &Env) -> String {
    e.receiver.fail_next(2);
    let (s, b) = e
        .router
        .get(&format!("/v3/fena/check?paymentId={PID}"))
        .await;
    assert_eq!(s, 200, "{b}");
    eventually(20, || async {
        let resp = e
            .http
            .get(e.router.url("/admin/api/notifications?state=dead"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .ok()?;
        let listed = read(resp).await.1;
        listed["items"][0]["id"].as_str().map(str::to_string)
    })
    .await
}

async fn dead_letters_are_redelivered_all_at_once(kind: StoreKind) {
    let e = Env::start(kind, "notify_max_attempts = 2").await;
    e.pay("order-all", "sent").await;
    let dead_id = dead_letter(&e).await;
    let session = e.log_in().await;
    let page = e.page("/admin/notifications?state=dead", &session).await;
    assert!(
        page.contains(&dead_id) && page.contains("Redeliver all dead"),
        "{page}"
    );
    let csrf = csrf_of(&page);
    // A `back` that leaves the console is ignored: the answer stays on this site.
    let resp = e
        .post(
            "/admin/notifications/redeliver-dead",
            Some(&session),
            &[("csrf", &csrf), ("back", "//shop.example/admin")],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()[LOCATION],
        "/admin/notifications?state=dead&done=queued&n=1"
    );
    let odd = e
        .post(
            "/admin/notifications/redeliver-dead",
            Some(&session),
            &[("csrf", &csrf), ("back", "/admin?\r\nx: y")],
        )
        .await;
    assert_eq!(
        odd.status(),
        303,
        "a back that is no header value is ignored"
    );
    let delivered = eventually(20, || async { e.receiver.delivered().into_iter().next() }).await;
    assert_eq!(delivered.id, dead_id);
    let page = e
        .page("/admin/notifications?state=dead&done=queued&n=1", &session)
        .await;
    assert!(page.contains("1 dead letters queued for delivery again."));
    assert!(!page.contains(&dead_id), "no longer dead: {page}");

    // Redelivering what is no longer queued nor dead is a 404 naming it.
    let gone = e
        .post(
            &format!("/admin/notifications/{dead_id}/redeliver"),
            Some(&session),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(gone.status(), 404);
    assert!(gone.text().await.unwrap().contains(&dead_id));
}

on_both_stores!(
    signing_in_and_csrf,
    search_and_filters,
    dead_letters_are_redelivered_all_at_once
);

#[tokio::test]
async fn without_an_admin_token_there_is_no_console() {
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let router = TestRouter::start(&config(None, &fena.base(), &receiver.url, "")).await;
    for path in ["/admin", "/admin/login", "/admin/notifications"] {
        let (status, body) = router.get(path).await;
        assert_error_response(status, &body, 404);
    }
    let (status, body) = router.post("/admin/login", &json!({"token": TOKEN})).await;
    assert_error_response(status, &body, 404);
}

/// Logs the browser in through the login form.
async fn browser_log_in(browser: &mut Browser, base: &str) {
    browser.open(&format!("{base}/admin/login")).await;
    browser
        .eval(&format!(
            "document.getElementById('token').value = {}; document.querySelector('form.login').submit(); true",
            json!(TOKEN)
        ))
        .await;
    browser
        .wait_for(&format!(
            "location.href === {}",
            json!(format!("{base}/admin"))
        ))
        .await;
}

#[tokio::test]
async fn an_operator_redelivers_a_dead_letter_from_the_console() {
    let e = Env::start(StoreKind::Memory, "notify_max_attempts = 2").await;
    e.pay("order-dead", "sent").await;
    let dead_id = dead_letter(&e).await;
    assert_eq!(e.receiver.all().len(), 2);
    assert!(e.receiver.delivered().is_empty());

    // Chromium treats localhost as a secure context, so it keeps the Secure cookie over HTTP.
    let base = e.router.base.replace("127.0.0.1", "localhost");
    let mut browser = Browser::launch().await;
    browser_log_in(&mut browser, &base).await;
    browser
        .open(&format!("{base}/admin/notifications?state=dead"))
        .await;
    let row = format!("tr[data-payment={}]", json!(PID));
    let shown = browser
        .eval(&format!(
            "document.querySelector({}).textContent",
            json!(row)
        ))
        .await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains(&dead_id), "{shown}");
    assert!(shown.contains("receiver answered HTTP 500"), "{shown}");
    browser
        .eval(&format!(
            "document.querySelector({}).click(); true",
            json!(format!("{row} button.redeliver"))
        ))
        .await;
    browser
        // Back on the page the action started from.
        .wait_for("location.search === '?state=dead&done=redelivered'")
        .await;

    let delivered = eventually(20, || async { e.receiver.delivered().into_iter().next() }).await;
    assert_eq!(
        delivered.id, dead_id,
        "the same webhook-id as the dead letter"
    );
    assert_eq!(delivered.body, e.receiver.all()[0].body, "the same body");
    let events = e.admin_payment().await["events"].to_string();
    assert!(events.contains("admin (console)"), "{events}");
}

#[tokio::test]
async fn a_provider_status_holding_a_script_is_shown_as_text() {
    const SCRIPT: &str = "<script>window.pwned = 1</script><b>bold</b>";
    let e = Env::start(StoreKind::Memory, "recheck_initial_ms = 50").await;
    e.pay("order-xss", "sent").await;
    // Fena now reports a state payrouter does not know: it is kept raw, as PENDING.
    e.fena
        .set_state(PID, SCRIPT, "12.99", "order-xss", "order-xss")
        .await;
    eventually(20, || async {
        (e.admin_payment().await["payment"]["providerStatus"] == SCRIPT).then_some(())
    })
    .await;

    let base = e.router.base.replace("127.0.0.1", "localhost");
    let mut browser = Browser::launch().await;
    browser_log_in(&mut browser, &base).await;
    for page in [
        format!("{base}/admin"),
        format!("{base}/admin/payments/fena/{PID}"),
    ] {
        browser.open(&page).await;
        let seen = browser
            .eval("[document.body.textContent.includes('<script>window.pwned = 1</script><b>bold</b>'), typeof window.pwned, document.querySelectorAll('main script, main b').length]")
            .await;
        assert_eq!(seen, json!([true, "undefined", 0]), "{page}");
    }
}

#[tokio::test]
async fn a_recheck_too_soon_for_the_provider_says_when_to_try_again() {
    let feennex = FeennexMock::start().await;
    let receiver = Receiver::start().await;
    let router = TestRouter::start(&format!(
        r#"enabled_providers = "feennex"
public_base_url = "http://127.0.0.1:1"
payment_callback_url = "{}"
admin_api_token = "{TOKEN}"
log_level = "warn"

{}"#,
        receiver.url,
        feennex.config_section()
    ))
    .await;
    let tx = "console-recheck";
    let id = feennex.paid_through(&router, tx).await;
    feennex.set_check(tx, 4, "12.34", 840).await;

    let http = no_redirects();
    let session = log_in(&http, &router).await;
    let page = text_of(
        http.get(router.url(&format!("/admin/payments/feennex/{id}")))
            .header(COOKIE, &session),
    )
    .await;
    assert!(page.contains("12.34 USD"), "{page}");
    let csrf = csrf_of(&page);
    let recheck = |http: reqwest::Client| {
        let (url, session, csrf) = (
            router.url(&format!("/admin/payments/feennex/{id}/recheck")),
            session.clone(),
            csrf.clone(),
        );
        async move {
            http.post(url)
                .header(COOKIE, session)
                .form(&[("csrf", csrf)])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(recheck(http.clone()).await.status(), 303);
    assert_eq!(feennex.checks(tx).await, 1);
    // Feennex allows one invoice/check per payment every 10 s.
    let too_soon = recheck(http.clone()).await;
    assert_eq!(too_soon.status(), 429);
    assert_eq!(too_soon.headers()["retry-after"], "10");
    assert!(too_soon.text().await.unwrap().contains("try again after"));
    assert_eq!(feennex.checks(tx).await, 1, "the provider was not asked");
}
