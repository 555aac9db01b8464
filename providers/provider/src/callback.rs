//! A provider's callback as received, and what an adapter makes of it.

/// The raw request, untouched: signatures are checked over exactly what was received.
#[derive(Debug, Clone)]
pub struct CallbackRequest {
    pub content_type: Option<String>,
    pub query: Option<String>,
    pub body: Vec<u8>,
}

/// What a callback is about. The gateway re-fetches it from the provider before acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackSubject {
    Payment {
        payment_id: String,
    },
    Subscription {
        token: String,
    },
    /// A well-formed event the router has no use for (acknowledged, nothing changes).
    Ignored {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    #[error("callback rejected: {0}")]
    Malformed(String),
    #[error("callback rejected: {0}")]
    Unauthenticated(String),
}

/// The acknowledgement body a provider expects.
#[derive(Debug, Clone)]
pub struct CallbackAck {
    pub content_type: &'static str,
    pub body: &'static str,
}

impl CallbackAck {
    pub fn json_ok() -> Self {
        CallbackAck {
            content_type: "application/json",
            body: r#"{"received":true}"#,
        }
    }
}
