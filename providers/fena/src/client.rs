//! HTTP calls to Fena's terminal API. Mapping lives in `transform`; this file only sends,
//! authenticates and sorts answers into outcomes and errors.

use payrouter_provider::{
    ExposeSecret, FetchedPayment, PayOutcome, ProviderError, RefundOutcome, SecretString,
};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use std::time::Duration;

use crate::recurring::{FenaRecurring, RecurringRequest};
use crate::transform::{self, CreateResponse, GetResponse, PaymentRequest, RefundRequest};
use crate::NAME;

pub struct FenaClient {
    http: reqwest::Client,
    base_url: String,
    terminal_id: String,
    terminal_secret: SecretString,
}

const CREDENTIALS_HINT: &str =
    "Fena refused the terminal credentials: check FENA_TERMINAL_ID and FENA_TERMINAL_SECRET";

impl FenaClient {
    pub fn new(
        base_url: String,
        terminal_id: String,
        terminal_secret: SecretString,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .build()?;
        Ok(FenaClient {
            http,
            base_url,
            terminal_id,
            terminal_secret,
        })
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(StatusCode, Vec<u8>), ProviderError> {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base_url, path))
            .header("terminal-id", &self.terminal_id)
            .header("terminal-secret", self.terminal_secret.expose_secret())
            .header("accept", "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(transport_error)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport_error)?;
        Ok((status, bytes.to_vec()))
    }

    pub async fn create_payment(&self, body: &PaymentRequest) -> Result<PayOutcome, ProviderError> {
        let (status, bytes) = self
            .send(
                Method::POST,
                "/open/payments/single/create-and-process",
                Some(body),
            )
            .await?;
        match status.as_u16() {
            200..=299 => {
                let resp: CreateResponse = parse(&bytes)?;
                Ok(PayOutcome::Created(transform::created_payment(resp)?))
            }
            401 | 403 => Err(ProviderError::Misconfigured(CREDENTIALS_HINT.into())),
            400..=499 => Ok(PayOutcome::Declined {
                message: transform::error_message(status.as_u16(), &bytes),
            }),
            s => Err(server_error(s)),
        }
    }

    pub async fn get_payment(&self, id: &str) -> Result<FetchedPayment, ProviderError> {
        let (status, bytes) = self
            .send::<()>(Method::GET, &format!("/open/payments/single/{id}"), None)
            .await?;
        match status.as_u16() {
            200..=299 => transform::fetched_payment(parse::<GetResponse>(&bytes)?),
            401 | 403 => Err(ProviderError::Misconfigured(CREDENTIALS_HINT.into())),
            400 | 404 => Err(ProviderError::NotFound(format!(
                "Fena has no payment '{id}'"
            ))),
            s @ 405..=499 => Err(ProviderError::Unavailable(transform::error_message(
                s, &bytes,
            ))),
            s => Err(server_error(s)),
        }
    }

    pub async fn refund(
        &self,
        id: &str,
        body: &RefundRequest,
    ) -> Result<RefundOutcome, ProviderError> {
        let (status, bytes) = self
            .send(
                Method::POST,
                &format!("/open/payments/single/{id}/refund"),
                Some(body),
            )
            .await?;
        match status.as_u16() {
            200..=299 => Ok(RefundOutcome::Pending),
            401 | 403 => Err(ProviderError::Misconfigured(CREDENTIALS_HINT.into())),
            s @ 400..=499 => Ok(RefundOutcome::Declined {
                message: transform::error_message(s, &bytes),
            }),
            s => Err(server_error(s)),
        }
    }
}

/// A Fena answer to a request it understood: done, or refused with Fena's message.
pub enum Answer<T> {
    Done(T),
    Refused(String),
}

#[derive(serde::Deserialize)]
struct Created<T> {
    result: T,
}

#[derive(serde::Deserialize)]
struct Data<T> {
    data: T,
}

impl FenaClient {
    /// Sorts an answer: 2xx → parsed, credentials → Misconfigured, other 4xx → refused by
    /// Fena (404 → `not_found`), 5xx → Unavailable.
    fn sort<T: serde::de::DeserializeOwned>(
        status: StatusCode,
        bytes: &[u8],
        not_found: impl FnOnce() -> ProviderError,
    ) -> Result<Answer<T>, ProviderError> {
        match status.as_u16() {
            200..=299 => Ok(Answer::Done(parse(bytes)?)),
            401 | 403 => Err(ProviderError::Misconfigured(CREDENTIALS_HINT.into())),
            404 => Err(not_found()),
            s @ 400..=499 => Ok(Answer::Refused(transform::error_message(s, bytes))),
            s => Err(server_error(s)),
        }
    }

    pub async fn create_recurring(
        &self,
        body: &RecurringRequest,
    ) -> Result<Answer<FenaRecurring>, ProviderError> {
        let (status, bytes) = self
            .send(
                Method::POST,
                "/open/payments/recurring/create-and-process",
                Some(body),
            )
            .await?;
        let answer = Self::sort::<Created<FenaRecurring>>(status, &bytes, || {
            ProviderError::Misconfigured(
                "Fena has no recurring payments endpoint: check FENA_BASE_URL".into(),
            )
        })?;
        Ok(match answer {
            Answer::Done(c) => Answer::Done(c.result),
            Answer::Refused(m) => Answer::Refused(m),
        })
    }

    pub async fn get_recurring(&self, id: &str) -> Result<FenaRecurring, ProviderError> {
        let (status, bytes) = self
            .send::<()>(Method::GET, &format!("/open/payments/recurring/{id}"), None)
            .await?;
        match Self::sort::<Data<FenaRecurring>>(status, &bytes, || recurring_not_found(id))? {
            Answer::Done(d) => Ok(d.data),
            Answer::Refused(_) => Err(recurring_not_found(id)),
        }
    }

    pub async fn delete_recurring(&self, id: &str) -> Result<Answer<()>, ProviderError> {
        let (status, bytes) = self
            .send::<()>(
                Method::POST,
                &format!("/open/payments/recurring/{id}/delete"),
                None,
            )
            .await?;
        Ok(
            match Self::sort::<serde_json::Value>(status, &bytes, || recurring_not_found(id))? {
                Answer::Done(_) => Answer::Done(()),
                Answer::Refused(m) => Answer::Refused(m),
            },
        )
    }

    pub async fn edit_recurring(
        &self,
        id: &str,
        body: &RecurringRequest,
    ) -> Result<Answer<()>, ProviderError> {
        let (status, bytes) = self
            .send(
                Method::POST,
                &format!("/open/payments/recurring/{id}/edit"),
                Some(body),
            )
            .await?;
        Ok(
            match Self::sort::<serde_json::Value>(status, &bytes, || recurring_not_found(id))? {
                Answer::Done(_) => Answer::Done(()),
                Answer::Refused(m) => Answer::Refused(m),
            },
        )
    }
}

fn recurring_not_found(id: &str) -> ProviderError {
    ProviderError::NotFound(format!("Fena has no recurring payment '{id}'"))
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ProviderError::Unavailable(format!("Fena sent an unexpected answer: {e}")))
}

fn server_error(status: u16) -> ProviderError {
    ProviderError::Unavailable(format!("Fena answered HTTP {status}"))
}

fn transport_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout { provider: NAME }
    } else if e.is_connect() {
        ProviderError::Unavailable("could not connect to Fena".into())
    } else {
        ProviderError::Unavailable("the connection to Fena failed".into())
    }
}
