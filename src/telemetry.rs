//! Logs (JSON or pretty, filtered by LOG_LEVEL) and the Prometheus recorder: every metric
//! family is described here (HELP and TYPE), counters whose label sets are known in advance
//! start at zero, and process metrics and `payrouter_build_info` are kept up to date.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;
use tracing::Subscriber;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// The service name every JSON log line carries.
pub const SERVICE: &str = "payrouter";
/// The crate version, in `--version`, `payrouter_build_info` and every JSON log line.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit the binary was built from (set by build.rs; "unknown" without git).
pub const COMMIT: &str = match option_env!("PAYROUTER_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// Installs the global log subscriber; a second call (tests) keeps the first.
pub fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder
            .event_format(WithService(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            ))
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// A JSON event format that puts `service` and `version` first on every line, so that a log
/// pipeline shared by many services can tell whose line it is without span context.
struct WithService<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithService<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(
                writer,
                "{{\"service\":\"{SERVICE}\",\"version\":\"{VERSION}\",{rest}"
            ),
            None => writer.write_str(&line),
        }
    }
}

/// Latency buckets in seconds, from sub-millisecond router work to slow providers.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Notification lag buckets in seconds, up to the retry schedule's day.
const LAG_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0,
];
/// How often process metrics are sampled and histograms' old data dropped.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Outcomes of `payrouter_callbacks_total`, as counted in `engine::operations`.
/// Outcomes of `payrouter_callback_fetches_total` (see `engine::callbacks`).
const CALLBACK_FETCH_OUTCOMES: &[&str] = &["fetched", "deferred", "limited", "coalesced"];

const CALLBACK_OUTCOMES: &[&str] = &[
    "accepted",
    "rejected",
    "unknown_object",
    "mismatch",
    "failed",
];
/// Outcomes of `payrouter_notifications_total`, as counted in `notify::worker`.
const NOTIFICATION_OUTCOMES: &[&str] = &["delivered", "retry", "dead"];
/// Outcomes of `payrouter_ops_alerts_total`, as counted in `notify::alerts`.
const OPS_ALERT_OUTCOMES: &[&str] = &["delivered", "retry", "dropped"];
/// Outcomes of `payrouter_rechecks_total`, as counted in `engine::reconcile`.
const RECHECK_OUTCOMES: &[&str] = &["settled", "pending", "unknown", "gave_up", "error"];

/// The process-wide Prometheus recorder (installed once, shared by every app in a process),
/// with every family described and the process-wide series started.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("lag_seconds".into()), LAG_BUCKETS)
                })
                .expect("bucket lists are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            describe();
            metrics::gauge!("payrouter_build_info", "version" => VERSION, "commit" => COMMIT)
                .set(1.0);
            for outcome in NOTIFICATION_OUTCOMES {
                metrics::counter!("payrouter_notifications_total", "outcome" => *outcome)
                    .absolute(0);
            }
            for outcome in OPS_ALERT_OUTCOMES {
                metrics::counter!("payrouter_ops_alerts_total", "outcome" => *outcome).absolute(0);
            }
            for outcome in RECHECK_OUTCOMES {
                metrics::counter!("payrouter_rechecks_total", "outcome" => *outcome).absolute(0);
            }
            metrics::counter!("payrouter_idempotent_replays_total").absolute(0);
            // Registered so that the family is scraped before the first delivery.
            let _ = metrics::histogram!("payrouter_notification_lag_seconds");
            metrics::counter!("payrouter_rechecks_stale_pending_total").absolute(0);
            let process = metrics_process::Collector::default();
            process.describe();
            process.collect();
            let upkeep = handle.clone();
            std::thread::spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                process.collect();
                upkeep.run_upkeep();
            });
            handle
        })
        .clone()
}

/// Starts the per-provider counters at zero, so that a rate or an alert over them has a
/// series from the first scrape instead of from the first event.
pub fn register_providers<'a>(providers: impl IntoIterator<Item = &'a str>) {
    // Series registered before the recorder is installed would go nowhere.
    metrics_handle();
    for provider in providers {
        let provider = provider.to_string();
        for outcome in CALLBACK_OUTCOMES {
            metrics::counter!("payrouter_callbacks_total", "provider" => provider.clone(), "outcome" => *outcome)
                .absolute(0);
        }
        for name in [
            "payrouter_payments_created_total",
            "payrouter_state_changes_total",
            "payrouter_provider_unknown_state_total",
            "payrouter_provider_mismatch_total",
            "payrouter_stale_fetches_total",
            "payrouter_foreign_payments_rejected_total",
        ] {
            metrics::counter!(name, "provider" => provider.clone()).absolute(0);
        }
        for outcome in CALLBACK_FETCH_OUTCOMES {
            metrics::counter!("payrouter_callback_fetches_total", "provider" => provider.clone(), "outcome" => *outcome)
                .absolute(0);
        }
    }
}

/// Starts the per-merchant counters at zero: one series per configured merchant account of
/// each provider (the label is bounded by the configuration).
pub fn register_merchants<'a>(
    providers: impl IntoIterator<Item = (&'a str, Vec<payrouter_provider::Merchant>)>,
) {
    metrics_handle();
    for (provider, merchants) in providers {
        for merchant in merchants {
            metrics::counter!(
                "payrouter_merchant_payments_created_total",
                "provider" => provider.to_string(),
                "merchant" => merchant.to_string()
            )
            .absolute(0);
        }
    }
}

/// HELP and TYPE of every family the recorder holds. The store gauges rendered at scrape
/// time by `http::ops` carry their own.
fn describe() {
    describe_gauge!(
        "payrouter_store_persistent",
        "1 when the store keeps its data across a restart (Redis AOF or RDB snapshots), 0 when \
         it does not: queued notifications would be lost with a restart"
    );
    describe_gauge!(
        "payrouter_build_info",
        "always 1; the labels name the running version and git commit"
    );
    describe_counter!(
        "payrouter_http_requests_total",
        "HTTP requests answered, by route template, provider and status"
    );
    describe_histogram!(
        "payrouter_http_request_duration_seconds",
        Unit::Seconds,
        "time to answer an HTTP request, by route template, provider and status"
    );
    describe_histogram!(
        "payrouter_provider_call_duration_seconds",
        Unit::Seconds,
        "time of a call to a provider, by provider, operation and outcome (ok, timeout, not_found, error)"
    );
    describe_counter!(
        "payrouter_callbacks_total",
        "provider callbacks received, by provider and outcome"
    );
    describe_counter!(
        "payrouter_payments_created_total",
        "payments created at a provider"
    );
    describe_counter!(
        "payrouter_merchant_payments_created_total",
        "payments created at a provider, by provider and merchant account"
    );
    describe_counter!(
        "payrouter_state_changes_total",
        "changes of a payment's state recorded, by provider"
    );
    describe_counter!(
        "payrouter_provider_unknown_state_total",
        "provider states payrouter does not know, answered as PENDING"
    );
    describe_counter!(
        "payrouter_provider_mismatch_total",
        "provider answers that contradict the stored payment (amount, currency or id)"
    );
    describe_counter!(
        "payrouter_foreign_payments_rejected_total",
        "payments a provider knows that this router did not create (no valid payment tag), refused"
    );
    describe_counter!(
        "payrouter_stale_fetches_total",
        "provider answers dropped because a later-started fetch of the payment was applied first"
    );
    describe_counter!(
        "payrouter_callback_fetches_total",
        "provider fetches a callback asked for, by outcome (fetched, deferred to a recheck, \
         limited by CALLBACK_FETCH_RATE, coalesced with one in flight)"
    );
    describe_counter!(
        "payrouter_idempotent_replays_total",
        "repeated requests answered from the stored first answer"
    );
    describe_counter!(
        "payrouter_notifications_total",
        "notification delivery attempts, by outcome (delivered, retry, dead)"
    );
    describe_counter!(
        "payrouter_ops_alerts_total",
        "ops alert delivery attempts to OPS_ALERT_URL, by outcome (delivered, retry, dropped \
         after the last attempt)"
    );
    describe_histogram!(
        "payrouter_notification_lag_seconds",
        Unit::Seconds,
        "time from a notification's creation to its delivery attempt"
    );
    describe_counter!(
        "payrouter_rechecks_total",
        "looks at pending payments, by outcome (settled, pending, unknown, gave_up, error)"
    );
    describe_counter!(
        "payrouter_rechecks_stale_pending_total",
        "rechecks that found a payment still pending more than a day after its creation"
    );
    describe_gauge!(
        "payrouter_memory_store_documents",
        "documents held by the embedded store after its last sweep"
    );
}
