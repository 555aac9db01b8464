//! The operator's side of payrouter: what the admin API (`/admin/api`, in `crate::http`) and
//! the console serve. [`AdminService`] is the one seam both call: listings of payments and
//! notifications, a payment's timeline, redelivery and recheck, each action written to the
//! timeline of the payment it concerns.

pub mod console;
mod service;

pub use service::{
    Actor, AdminError, AdminService, AmountFields, NotificationState, NotificationSummary, Page,
    PageRequest, PaymentDetail, PaymentFilter, PaymentSummary, Redelivered, DEFAULT_LIMIT,
    MAX_LIMIT,
};
