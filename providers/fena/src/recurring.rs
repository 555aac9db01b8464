//! Pure translation for Fena recurring payments (standing orders): request bodies, the first
//! payment date rule, what each answer means, and the status mapping. No I/O and no logging.

use chrono::{Datelike, NaiveDate, Weekday};
use payrouter_provider::transport::Reply;
use payrouter_provider::{
    string_field, Instalment, Interval, Money, PayResult, PaymentStatusKind, ProviderError,
    Redactor, SubscriptionOrder, SubscriptionOutcome, SubscriptionState, SubscriptionStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::transform::{decimal_amount, reference_for, sort, Answer, Payer};

/// Body of `POST /open/payments/recurring/create-and-process` (and of its edit).
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecurringRequest {
    pub reference: String,
    pub recurring_amount: String,
    pub recurring_payment_date: String,
    pub number_of_payments: u32,
    pub frequency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_payment_amount: Option<String>,
    #[serde(flatten)]
    pub payer: Payer,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FenaRecurring {
    pub id: String,
    pub status: Option<String>,
    pub link: Option<String>,
    pub reference: Option<String>,
    pub invoice_ref_number: Option<String>,
    #[serde(default)]
    pub transactions: Vec<FenaTransaction>,
    pub initial_payment: Option<FenaTransaction>,
}

#[derive(Debug, Deserialize)]
pub struct FenaTransaction {
    pub id: String,
    pub status: Option<String>,
    pub amount: Option<String>,
}

/// The contract's cadence as one of Fena's four frequencies.
pub fn frequency(interval: Interval, count: u32) -> Result<&'static str, ProviderError> {
    match (interval, count) {
        (Interval::Week, 1) => Ok("one_week"),
        (Interval::Month, 1) => Ok("one_month"),
        (Interval::Month, 3) => Ok("three_months"),
        (Interval::Year, 1) => Ok("one_year"),
        _ => Err(ProviderError::InvalidRequest {
            field: "subscriptionInfo".into(),
            message: "Fena runs standing orders every WEEK×1, MONTH×1, MONTH×3 or YEAR×1 \
                      (interval × intervalCount)"
                .into(),
        }),
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The first weekday at least 6 working days after `today`: banks need that notice, and
/// reject first payments on weekends. UK bank holidays are not counted.
pub fn first_payment_date(today: NaiveDate) -> NaiveDate {
    let mut d = today;
    let mut working = 0;
    while working < 6 {
        d = d.succ_opt().expect("dates this close to today exist");
        if !is_weekend(d) {
            working += 1;
        }
    }
    d
}

fn payment_date(data: &Map<String, Value>, today: NaiveDate) -> Result<NaiveDate, ProviderError> {
    let Some(text) = string_field(data, "recurringPaymentDate")? else {
        return Ok(first_payment_date(today));
    };
    let invalid = |message: &str| ProviderError::InvalidRequest {
        field: "providerData.recurringPaymentDate".into(),
        message: message.into(),
    };
    let date = NaiveDate::parse_from_str(text.get(..10).unwrap_or(&text), "%Y-%m-%d")
        .map_err(|_| invalid("must be a date, YYYY-MM-DD"))?;
    if is_weekend(date) {
        return Err(invalid(
            "must be a weekday: banks refuse first payments on weekends",
        ));
    }
    if date < first_payment_date(today) {
        return Err(invalid(&format!(
            "must be at least 6 working days ahead (the earliest is {})",
            first_payment_date(today)
        )));
    }
    Ok(date)
}

pub fn recurring_request(
    order: &SubscriptionOrder,
    default_bank_account: Option<&str>,
    today: NaiveDate,
) -> Result<RecurringRequest, ProviderError> {
    let data = &order.provider_data;
    let initial = match data.get("initialPaymentAmount") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let minor =
                v.as_i64()
                    .filter(|m| *m > 0)
                    .ok_or_else(|| ProviderError::InvalidRequest {
                        field: "providerData.initialPaymentAmount".into(),
                        message: "must be a positive integer in minor units".into(),
                    })?;
            Some(decimal_amount(
                "providerData.initialPaymentAmount",
                &Money::new(minor, order.amount.currency),
            )?)
        }
    };
    Ok(RecurringRequest {
        reference: match string_field(data, "reference")? {
            Some(r) => r,
            None => reference_for(&order.shop_transaction_id),
        },
        recurring_amount: decimal_amount("amount", &order.amount)?,
        recurring_payment_date: format!("{}T00:00:00Z", payment_date(data, today)?),
        number_of_payments: order.expires_after.unwrap_or(0),
        frequency: frequency(order.interval, order.interval_count)?,
        initial_payment_amount: initial,
        payer: Payer::read(
            data,
            default_bank_account,
            string_field(data, "customerEmail")?,
        )?,
    })
}

/// Maps a recurring payment's status; unknown words are UNKNOWN, never ACTIVE.
pub fn map_status(raw: &str) -> SubscriptionStatus {
    match raw
        .trim()
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
        .as_str()
    {
        "draft" | "sent" | "overdue" => SubscriptionStatus::Pending,
        "active" => SubscriptionStatus::Active,
        "warning" | "missed" => SubscriptionStatus::PastDue,
        "completed" => SubscriptionStatus::Expired,
        "cancelled" | "canceled" | "rejected" => SubscriptionStatus::Canceled,
        _ => SubscriptionStatus::Unknown,
    }
}

/// Whether Fena can still change or delete it: the payer has not set it up at their bank.
pub fn still_editable(raw: &str) -> bool {
    matches!(
        raw.trim().to_ascii_lowercase().as_str(),
        "draft" | "overdue"
    )
}

pub fn still_cancellable(raw: &str) -> bool {
    matches!(
        raw.trim().to_ascii_lowercase().as_str(),
        "draft" | "sent" | "overdue"
    )
}

fn instalment(t: &FenaTransaction, currency: payrouter_provider::Currency) -> Instalment {
    let raw = t.status.clone().unwrap_or_default();
    let status = match raw.to_ascii_lowercase().as_str() {
        "completed" | "paid" => PaymentStatusKind::Accepted,
        "rejected" | "aborted" | "missed" | "cancelled" | "unable_to_check" => {
            PaymentStatusKind::Failed
        }
        _ => PaymentStatusKind::Pending,
    };
    Instalment {
        id: t.id.clone(),
        provider_status: raw,
        status,
        amount: t
            .amount
            .as_deref()
            .and_then(|a| Money::from_decimal_str(a, currency).ok()),
    }
}

pub fn subscription_state(r: FenaRecurring) -> SubscriptionState {
    let gbp = payrouter_provider::Currency::from_code("GBP").expect("GBP is ISO 4217");
    let raw = r.status.unwrap_or_default();
    let status = map_status(&raw);
    let mut instalments: Vec<Instalment> = r
        .initial_payment
        .iter()
        .map(|t| instalment(t, gbp))
        .collect();
    instalments.extend(r.transactions.iter().map(|t| instalment(t, gbp)));
    SubscriptionState {
        token: r.id,
        provider_status: raw,
        status,
        reference: r.reference.or(r.invoice_ref_number),
        instalments,
        metadata: Map::new(),
    }
}

pub fn scheduled(r: FenaRecurring) -> Result<SubscriptionOutcome, ProviderError> {
    let link = r.link.clone().ok_or_else(|| {
        ProviderError::Unavailable("Fena created the recurring payment but sent no link".into())
    })?;
    Ok(SubscriptionOutcome {
        result: PayResult::RedirectToUrl,
        description: "standing order created: redirect the payer to set it up at their bank".into(),
        payment_id: r.initial_payment.map(|p| p.id),
        token: Some(r.id),
        redirect_url: Some(link),
        reference: r.reference.or(r.invoice_ref_number),
        metadata: Map::new(),
    })
}

#[derive(Deserialize)]
struct Created<T> {
    result: T,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

fn not_found(id: &str) -> ProviderError {
    ProviderError::NotFound(format!("Fena has no recurring payment '{id}'"))
}

/// What the answer to the recurring create-and-process means.
pub fn created_outcome(
    reply: &Reply,
    redactor: &Redactor,
) -> Result<Answer<FenaRecurring>, ProviderError> {
    let missing = || {
        ProviderError::Misconfigured(
            "Fena has no recurring payments endpoint: check FENA_BASE_URL".into(),
        )
    };
    Ok(
        match sort::<Created<FenaRecurring>>(reply, missing, redactor)? {
            Answer::Done(created) => Answer::Done(created.result),
            Answer::Refused(message) => Answer::Refused(message),
        },
    )
}

/// The recurring payment `id` as fetched; a refusal means Fena does not have it.
pub fn fetched(
    reply: &Reply,
    id: &str,
    redactor: &Redactor,
) -> Result<FenaRecurring, ProviderError> {
    match sort::<Data<FenaRecurring>>(reply, || not_found(id), redactor)? {
        Answer::Done(data) => Ok(data.data),
        Answer::Refused(_) => Err(not_found(id)),
    }
}

/// What the answer to an edit or a delete of the recurring payment `id` means.
pub fn changed(reply: &Reply, id: &str, redactor: &Redactor) -> Result<Answer<()>, ProviderError> {
    Ok(match sort::<Value>(reply, || not_found(id), redactor)? {
        Answer::Done(_) => Answer::Done(()),
        Answer::Refused(message) => Answer::Refused(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn first_date_is_six_working_days_ahead_on_a_weekday() {
        // Monday → next Tuesday (6 working days: Tue..Fri, Mon, Tue).
        assert_eq!(first_payment_date(d("2026-11-16")), d("2026-11-24"));
        // Friday → the Monday after next... Fri + 6 working days = next-next Monday.
        assert_eq!(first_payment_date(d("2026-11-20")), d("2026-11-30"));
        // Saturday and Sunday count from the weekend: Sat → Mon+6 working days = Mon week after.
        assert_eq!(first_payment_date(d("2026-11-21")), d("2026-11-30"));
        assert_eq!(first_payment_date(d("2026-11-22")), d("2026-11-30"));
        // Month and year ends roll over.
        assert_eq!(first_payment_date(d("2026-12-28")), d("2027-01-05"));
        assert_eq!(first_payment_date(d("2027-02-25")), d("2027-03-05"));
        for day in 1..=28 {
            let start = d(&format!("2027-02-{day:02}"));
            assert!(!is_weekend(first_payment_date(start)));
        }
    }

    #[test]
    fn only_four_cadences_exist() {
        assert_eq!(frequency(Interval::Week, 1).unwrap(), "one_week");
        assert_eq!(frequency(Interval::Month, 1).unwrap(), "one_month");
        assert_eq!(frequency(Interval::Month, 3).unwrap(), "three_months");
        assert_eq!(frequency(Interval::Year, 1).unwrap(), "one_year");
        for (i, c) in [
            (Interval::Day, 1),
            (Interval::Week, 2),
            (Interval::Month, 2),
            (Interval::Year, 2),
        ] {
            let e = frequency(i, c).unwrap_err();
            assert!(e.to_string().contains("MONTH×3"), "{e}");
        }
    }

    #[test]
    fn fields_fena_leaves_out_are_none_but_the_id_is_required() {
        let bare: FenaRecurring = serde_json::from_str(r#"{"id": "r1"}"#).unwrap();
        assert_eq!(bare.id, "r1");
        assert!(bare.status.is_none() && bare.link.is_none() && bare.reference.is_none());
        assert!(bare.invoice_ref_number.is_none());
        assert!(bare.transactions.is_empty() && bare.initial_payment.is_none());
        let nulls: FenaTransaction =
            serde_json::from_str(r#"{"id": "t1", "status": null}"#).unwrap();
        assert!(nulls.status.is_none() && nulls.amount.is_none());
        assert!(serde_json::from_str::<FenaRecurring>(r#"{"status": "sent"}"#).is_err());
    }

    #[test]
    fn statuses_map_explicitly() {
        use SubscriptionStatus::*;
        for (raw, want) in [
            ("draft", Pending),
            ("sent", Pending),
            ("overdue", Pending),
            ("active", Active),
            ("warning", PastDue),
            ("missed", PastDue),
            ("completed", Expired),
            ("cancelled", Canceled),
            ("rejected", Canceled),
            ("payment-confirmed", Unknown),
        ] {
            assert_eq!(map_status(raw), want, "{raw}");
        }
        assert!(still_editable("draft") && still_editable("overdue") && !still_editable("active"));
        assert!(still_cancellable("sent") && !still_cancellable("active"));
    }
}
