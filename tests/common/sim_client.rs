//! A client of the provider simulators as tests drive them: their control API (`/_sim/…`:
//! payments, fault rules) and their pages, opened and submitted as a browser would.

use reqwest::Method;
use serde_json::Value;

use super::pages::{form_with, Form};
use super::read;

/// Moves payment `payment_id` to `paid` at the Fena simulator served at `fena_sim` (its base,
/// `…/fena`), which sends its webhook.
pub async fn fena_sim_paid(http: &reqwest::Client, fena_sim: &str, payment_id: &str) {
    let resp = http
        .post(format!("{fena_sim}/_sim/payments/{payment_id}/state"))
        .json(&serde_json::json!({"status": "paid", "callback": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the simulator moved {payment_id}");
}

pub struct SimClient {
    /// Where the simulators are nested: `http://127.0.0.1:port` (then `/fena`, `/feennex`).
    base: String,
    /// Does not follow redirects, so where a page sends the payer can be asserted.
    pub web: reqwest::Client,
}

impl SimClient {
    pub fn new(base: String) -> SimClient {
        SimClient {
            base,
            web: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// A simulator URL: `path` starts with `/fena` or `/feennex`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Calls a simulator's control API; a null `body` sends none.
    pub async fn control(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let req = self.web.request(method, self.url(path));
        let req = if body.is_null() { req } else { req.json(&body) };
        read(req.send().await.unwrap()).await
    }

    pub async fn fault(&self, provider: &str, rule: Value) {
        let path = format!("/{provider}/_sim/faults");
        let (s, b) = self.control(Method::POST, &path, rule).await;
        assert_eq!(s, 201, "fault rule refused: {b}");
    }

    pub async fn clear_faults(&self, provider: &str) {
        let path = format!("/{provider}/_sim/faults");
        let (s, _) = self.control(Method::DELETE, &path, Value::Null).await;
        assert_eq!(s, 204);
    }

    /// The fault rules in force, with what is left of their counts.
    pub async fn faults(&self, provider: &str) -> Vec<Value> {
        let path = format!("/{provider}/_sim/faults");
        let (s, b) = self.control(Method::GET, &path, Value::Null).await;
        assert_eq!(s, 200, "{b}");
        serde_json::from_value(b["faults"].clone()).unwrap()
    }

    /// What a simulator holds (`GET /_sim/payments`).
    pub async fn payments(&self, provider: &str) -> Vec<Value> {
        let path = format!("/{provider}/_sim/payments");
        let (s, b) = self.control(Method::GET, &path, Value::Null).await;
        assert_eq!(s, 200, "{b}");
        serde_json::from_value(b).unwrap()
    }

    /// The payment whose `id` is `id`, as a simulator holds it.
    pub async fn payment(&self, provider: &str, id: &str) -> Value {
        let payments = self.payments(provider).await;
        payments
            .into_iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("{provider} holds no payment {id}"))
    }

    /// An HTML page, as a browser gets it.
    pub async fn page(&self, url: &str) -> String {
        let resp = self.web.get(url).send().await.unwrap();
        let status = resp.status();
        let html = resp.text().await.unwrap();
        assert_eq!(status, 200, "GET {url}: {html}");
        html
    }

    /// Submits `form` as a browser would: its hidden fields, to its action.
    pub async fn submit(&self, form: &Form) -> reqwest::Response {
        assert_eq!(form.method, "post", "{form:?}");
        self.web
            .post(&form.action)
            .form(&form.hidden)
            .send()
            .await
            .unwrap()
    }

    /// Opens the page at `url` and presses the button labelled `label`.
    pub async fn press(&self, url: &str, label: &str) -> reqwest::Response {
        let html = self.page(url).await;
        self.submit(&form_with(&html, label)).await
    }
}
