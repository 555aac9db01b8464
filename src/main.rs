//! The `payrouter` binary: reads configuration, serves until SIGTERM or SIGINT, then drains.

use payrouter::{app, config, telemetry};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let sources = config::Sources::from_env();
    let fig = match sources.figment(&payrouter::registry::names()) {
        Ok(f) => f,
        Err(problems) => return refuse(&problems),
    };
    let config = match app::configure(&fig) {
        Ok((c, _)) => c,
        Err(problems) => return refuse(&problems),
    };
    telemetry::init_logging(&config.log_level, config.log_format);
    let addr = format!("{}:{}", config.http_host, config.http_port);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => return refuse(&[format!("HTTP_PORT: cannot listen on {addr} ({e})")]),
    };
    let running = match app::start(&fig, listener).await {
        Ok(r) => r,
        Err(problems) => return refuse(&problems),
    };
    wait_for_signal().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}

/// Prints one line per configuration problem and exits non-zero.
fn refuse(problems: &[String]) -> ExitCode {
    eprintln!("payrouter cannot start:");
    for p in problems {
        eprintln!("  {p}");
    }
    ExitCode::from(2)
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
