//! The `payrouter` binary. `payrouter` serves until SIGTERM or SIGINT, then drains;
//! `payrouter simulate` runs only the provider simulators (on SIM_PORT, default 8081).

use payrouter::{app, config, simulate, telemetry};
use std::process::ExitCode;

// glibc malloc was a tenth of a pay's CPU time, much of it in arena lock contention between
// the runtime's threads (see bench/README.md); mimalloc keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve().await,
        Some("simulate") => simulate_only().await,
        Some(other) => refuse(&[format!(
            "unknown command '{other}': use `payrouter` or `payrouter simulate`"
        )]),
    }
}

async fn serve() -> ExitCode {
    let sources = config::Sources::from_env();
    let fig = match sources.figment(&payrouter::registry::names()) {
        Ok(f) => f,
        Err(problems) => return refuse(&problems),
    };
    let config = match config::load(&fig, &payrouter::registry::names()) {
        Ok(c) => c,
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
    if let Some(sim) = running.sim_addr {
        let router_base = format!("http://localhost:{}", running.addr.port());
        let sim_base = format!("http://localhost:{}", sim.port());
        println!(
            "{}",
            simulate::banner(
                &router_base,
                &sim_base,
                running.config.payment_callback_url.is_none()
            )
        );
    }
    wait_for_signal().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}

/// The simulators alone, for running payrouter (or anything else) against them.
async fn simulate_only() -> ExitCode {
    let port: u16 = std::env::var("SIM_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8081);
    let router_base =
        std::env::var("PUBLIC_BASE_URL").unwrap_or_else(|_| "http://localhost:8080".into());
    let listener = match tokio::net::TcpListener::bind(("0.0.0.0", port)).await {
        Ok(l) => l,
        Err(e) => return refuse(&[format!("SIM_PORT: cannot listen on {port} ({e})")]),
    };
    let sim_base = format!("http://localhost:{port}");
    println!("{}", simulate::pointing(&sim_base, &router_base));
    let app = simulate::router(&sim_base, &router_base);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(wait_for_signal())
        .await
    {
        return refuse(&[format!("simulators failed: {e}")]);
    }
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
