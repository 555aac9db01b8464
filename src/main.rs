//! The `payrouter` binary: `payrouter` (or `payrouter serve`) serves until SIGTERM or SIGINT,
//! then drains; `payrouter simulate` runs only the provider simulators; `payrouter config
//! check` validates the configuration and prints it with each value's source; `payrouter
//! <provider> …` runs a provider's own subcommand (see `registry::commands`).

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use payrouter::{app, config, registry, simulate, telemetry};
use payrouter_provider::ExposeSecret;
use std::process::ExitCode;
use std::sync::OnceLock;
use tokio::signal::unix::{signal, Signal, SignalKind};

// glibc malloc was a tenth of a pay's CPU time, much of it in arena lock contention between
// the runtime's threads (see bench/README.md); mimalloc keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Routes a Payment Gateway Manager's payments to Fena and Feennex.
///
/// Configuration comes from the environment (HTTP_PORT, REDIS_URL, FENA_*, …), the profile
/// named by PAYROUTER_PROFILE (production when unset, or demo) and an optional CONFIG_FILE;
/// README.md lists every setting.
#[derive(Debug, Parser)]
#[command(name = "payrouter", version = version(), propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the PGM contract until SIGTERM or SIGINT, then drain (the default command).
    Serve,
    /// Run only the provider simulators, for running payrouter (or anything else) against them.
    Simulate(SimulateArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Args)]
struct SimulateArgs {
    /// Port the simulators listen on.
    #[arg(long, env = "SIM_PORT", default_value_t = 8081)]
    port: u16,
    /// payrouter's URL, where the Fena simulator sends its webhooks.
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://localhost:8080", value_parser = parse_http_url)]
    router_url: String,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check the configuration: print every problem (exit 2), or the effective configuration
    /// with secrets redacted and where each value came from.
    Check,
}

/// The crate version and the git commit it was built from.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{} (commit {})",
            env!("CARGO_PKG_VERSION"),
            option_env!("PAYROUTER_GIT_COMMIT").unwrap_or("unknown")
        )
    })
}

fn parse_http_url(text: &str) -> Result<String, String> {
    url::Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|_| text.trim_end_matches('/').to_string())
        .ok_or_else(|| "invalid URL; expected http(s)://host[:port]".to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = registry::commands()
        .into_iter()
        .fold(Cli::command(), |cli, provider| cli.subcommand(provider))
        .get_matches();
    if let Some((name, sub)) = matches.subcommand() {
        if registry::commands().iter().any(|c| c.get_name() == name) {
            return provider_command(name, sub.clone()).await;
        }
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Simulate(args) => simulate_only(args).await,
        Command::Config(ConfigCommand::Check) => check(),
    }
}

async fn serve() -> ExitCode {
    // Installed before the router answers, so a SIGTERM right after the first /readyz drains
    // instead of killing the process.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return refuse(&[format!("cannot install signal handlers ({e})")]),
    };
    let loaded = match config::load(&config::Sources::from_env()) {
        Ok(l) => l,
        Err(problems) => return refuse(&problems),
    };
    telemetry::init_logging(&loaded.config.log_level, loaded.config.log_format);
    let addr = format!("{}:{}", loaded.config.http_host, loaded.config.http_port);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => return refuse(&[format!("HTTP_PORT: cannot listen on {addr} ({e})")]),
    };
    let running = match app::start_with(loaded, listener).await {
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
    if running.admin_token_made_up {
        if let Some(token) = &running.config.admin_api_token {
            println!(
                "Admin API (a demo token, new at every start; set ADMIN_API_TOKEN to choose one):\n\
                 \x20 curl -s http://localhost:{port}/admin/api/payments -H 'authorization: Bearer {token}'\n\
                 Console: http://localhost:{port}/admin (log in with the same token)\n",
                port = running.addr.port(),
                token = token.expose_secret()
            );
        }
    }
    signals.wait().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}

/// `config check`: every problem, or every setting with its value and source.
fn check() -> ExitCode {
    let loaded = match config::load(&config::Sources::from_env()) {
        Ok(l) => l,
        Err(problems) => return refuse(&problems),
    };
    let profile = loaded.profile.map_or("none", config::Profile::name);
    println!("configuration is valid (profile {profile})");
    if loaded.config.simulate {
        println!(
            "at start the providers are pointed at the in-process simulators (SIMULATE is on)"
        );
    }
    let settings = loaded.effective();
    let width = settings.iter().map(|s| s.key.len()).max().unwrap_or(0);
    for s in settings {
        println!("{:width$}  {}  ({})", s.key, s.value, s.source);
    }
    ExitCode::SUCCESS
}

/// A provider's own subcommand, with the configuration as `serve` reads it (exit 2 when it is
/// not valid).
async fn provider_command(name: &str, matches: clap::ArgMatches) -> ExitCode {
    let loaded = match config::load(&config::Sources::from_env()) {
        Ok(l) => l,
        Err(problems) => return refuse(&problems),
    };
    let ctx = app::provider_context(&loaded.config);
    match registry::run_command(name, loaded.figment(), ctx, matches) {
        Some(Ok(run)) => ExitCode::from(run.await),
        Some(Err(problems)) => refuse(&problems),
        None => refuse(&[format!("{name}: no such command")]),
    }
}

/// The simulators alone, for running payrouter (or anything else) against them.
async fn simulate_only(args: SimulateArgs) -> ExitCode {
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return refuse(&[format!("cannot install signal handlers ({e})")]),
    };
    let listener = match tokio::net::TcpListener::bind(("0.0.0.0", args.port)).await {
        Ok(l) => l,
        Err(e) => return refuse(&[format!("SIM_PORT: cannot listen on {} ({e})", args.port)]),
    };
    let sim_base = format!("http://localhost:{}", args.port);
    println!("{}", simulate::pointing(&sim_base, &args.router_url));
    let app = simulate::router(&sim_base, &args.router_url);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(signals.wait())
        .await
    {
        return refuse(&[format!("simulators failed: {e}")]);
    }
    ExitCode::SUCCESS
}

/// Prints one line per configuration problem and exits 2.
fn refuse(problems: &[String]) -> ExitCode {
    eprintln!("payrouter cannot start: {} problem(s)", problems.len());
    for p in problems {
        eprintln!("  {p}");
    }
    ExitCode::from(2)
}

/// SIGTERM and SIGINT, the two ways a process is asked to stop.
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
