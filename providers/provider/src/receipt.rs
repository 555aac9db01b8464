//! Receipts of bank transfers: the payer's proof of payment, sent to the provider for a
//! payment method that needs one. An extension of the contract; providers without receipts
//! answer "not supported".

use serde::{Deserialize, Serialize};

/// Where a payment's receipts go, as the provider gave it when the payment was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptTarget {
    pub upload_url: String,
    pub status_url: String,
}

/// One file, already read and checked by content.
#[derive(Debug, Clone)]
pub struct ReceiptFile {
    pub file_name: String,
    /// Detected from the content, not taken from the sender.
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// The provider took the receipt; it is reviewed later (see the receipt status).
    Accepted,
    /// The provider refused the file; answered `KO` with this message.
    Declined { message: String },
}

/// Where the provider's review of a receipt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReceiptReview {
    Pending,
    Succeeded,
    Rejected,
    /// A review state the mapping does not know (logged by the adapter).
    Unknown,
}

/// One receipt the provider holds for a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The provider's id of the receipt.
    pub id: String,
    pub status: ReceiptReview,
    /// The provider's word for the status, as it sent it.
    pub provider_status: String,
    /// The reviewer's comment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}
