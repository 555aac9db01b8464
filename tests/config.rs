//! The configuration and the command line as a platform team meets them, through the real
//! binary: every problem reported at once, unknown names refused with a suggestion,
//! case-insensitive enumerations, replica safety in production, `config check` with secrets
//! redacted and sources named, `--help` and `--version`.

mod common;

use common::binary::{free_port, payrouter, Served};
use common::refused_start;
use std::process::{Command, Output, Stdio};

const FENA_SECRET: &str = "fena-secret-7f3a9c";
const FEENNEX_SECRET: &str = "feennex-secret-51be02";
const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const API_TOKEN: &str = "inbound-token-c0ffee";
const REDIS_PASSWORD: &str = "redis-pass-42d1";

/// Valid credentials for both providers and a notification receiver: what production needs
/// besides its store.
fn with_production_basics(cmd: &mut Command) -> &mut Command {
    cmd.env("FENA_TERMINAL_ID", "62b48adf6ba2cd6a040b1eec")
        .env("FENA_TERMINAL_SECRET", FENA_SECRET)
        .env("FEENNEX_SHOP_ID", "5")
        .env("FEENNEX_SECRET_KEY", FEENNEX_SECRET)
        .env("PAYMENT_CALLBACK_URL", "http://127.0.0.1:9/notify")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The problem lines of a refused start (each indented under the heading).
fn problem_lines(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| l.trim().to_string())
        .collect()
}

fn write_toml(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("payrouter-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_problem_is_reported_at_once_with_its_key_and_what_is_expected() {
    let out = payrouter(&[])
        .env("HTTP_PORT", "eighty")
        .env("NOTIFY_MAX_ATTEMPTS", "0")
        .env("PAYMENT_CALLBACK_METHOD", "PUT")
        .env("PAYMENT_CALLBACK_URL", "not a url")
        .env("LOG_LEVEL", "infoo")
        .env("RETENTION_DAYS", "-1")
        .env("DEAD_LETTER_RETENTION_DAYS", "0")
        .env("REDIS_KEY_PREFIX", "{tag}")
        .env("FENA_TIMEOUT_MS", "soon")
        .env("FEENNEX_SHOP_ID", "shop")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines = problem_lines(&out);
    let expected = [
        "HTTP_PORT: expected a port number from 0 to 65535, found string \"eighty\"",
        "NOTIFY_MAX_ATTEMPTS: must be at least 1",
        "PAYMENT_CALLBACK_METHOD: expected POST or GET, found 'PUT'",
        "PAYMENT_CALLBACK_URL: 'not a url' is an invalid URL",
        "LOG_LEVEL: 'infoo' is not a level; did you mean info?",
        "RETENTION_DAYS: expected a whole number, 0 or more, found signed int `-1`",
        "DEAD_LETTER_RETENTION_DAYS: expected a number of days from 1 to 3650, found 0",
        "REDIS_KEY_PREFIX: '{tag}' is not a key prefix; expected 1 to 64 of letters",
        "REDIS_URL: required in the production profile",
        "FENA_TIMEOUT_MS: expected a whole number, 0 or more, found string \"soon\"",
        "FENA_TERMINAL_ID: required while fena is enabled",
        "FENA_TERMINAL_SECRET: required while fena is enabled",
        "FEENNEX_SHOP_ID: 'shop' is not a Feennex shop id",
        "FEENNEX_SECRET_KEY: required while feennex is enabled",
    ];
    for line in expected {
        assert!(
            lines.iter().any(|l| l.starts_with(line)),
            "missing '{line}' in:\n{}",
            lines.join("\n")
        );
    }
    assert_eq!(
        lines.len(),
        expected.len(),
        "one line per problem:\n{}",
        lines.join("\n")
    );
    assert!(stderr(&out).starts_with(&format!(
        "payrouter cannot start: {} problem(s)",
        lines.len()
    )));
}

#[test]
fn unknown_names_stop_the_start_with_a_suggestion() {
    let out = payrouter(&[])
        .env("HTTP_PRT", "18090")
        .env("FENA_TERMINAL_SECRT", "x")
        .env("REDIS_CLUSTER", "redis://a:1")
        // Not payrouter's prefixes, or Kubernetes' service links: not settings, not refused.
        .env("HOME", "/root")
        .env("HTTP_PROXY", "http://proxy:3128")
        .env("REDIS_PORT", "tcp://10.0.0.7:6379")
        .env("REDIS_SERVICE_HOST", "10.0.0.7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let lines = problem_lines(&out);
    for line in [
        "HTTP_PRT: unknown setting; did you mean HTTP_PORT?",
        "FENA_TERMINAL_SECRT: unknown setting; did you mean FENA_TERMINAL_SECRET?",
        "REDIS_CLUSTER: unknown setting;",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(line)),
            "missing '{line}' in:\n{}",
            lines.join("\n")
        );
    }
    for name in ["HOME", "HTTP_PROXY", "REDIS_PORT", "REDIS_SERVICE_HOST"] {
        assert!(
            !lines.iter().any(|l| l.starts_with(&format!("{name}:"))),
            "{name} refused:\n{}",
            lines.join("\n")
        );
    }

    let file = write_toml(
        "unknown",
        "http_prt = 18090\nlog_format = \"json\"\n\n[fena]\nterminal_idd = \"x\"\n\n[paypal]\nkey = 1\n",
    );
    let out = payrouter(&[]).env("CONFIG_FILE", &file).output().unwrap();
    let lines = problem_lines(&out);
    let label = format!("CONFIG_FILE {}", file.display());
    for line in [
        format!("http_prt: unknown setting in {label}; did you mean http_port?"),
        format!("fena.terminal_idd: unknown setting in {label}; did you mean terminal_id?"),
        format!("paypal: unknown setting in {label};"),
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&line)),
            "missing '{line}' in:\n{}",
            lines.join("\n")
        );
    }
    std::fs::remove_file(file).unwrap();

    let out = payrouter(&[])
        .env("CONFIG_FILE", "/nonexistent/payrouter.toml")
        .output()
        .unwrap();
    assert!(
        problem_lines(&out)
            .iter()
            .any(|l| l.starts_with("CONFIG_FILE: cannot read /nonexistent/payrouter.toml")),
        "{}",
        stderr(&out)
    );
}

/// The configuration handed over whole (as the in-process tests do) is held to the same names.
#[tokio::test]
async fn a_configuration_handed_over_whole_refuses_unknown_keys() {
    let problems = refused_start(
        "http_prt = 1\nenabled_providers = \"fena\"\n[fena]\nterminal_id = \"t\"\nterminal_secret = \"s\"\ntimeout = 5\n",
    )
    .await;
    assert_eq!(
        problems,
        vec![
            "fena.timeout: unknown setting in configuration; did you mean timeout_ms?",
            "http_prt: unknown setting in configuration; did you mean http_port?",
        ]
    );
}

#[test]
fn enumerations_are_read_in_any_case() {
    let out = with_production_basics(&mut payrouter(&["config", "check"]))
        .env("PAYROUTER_PROFILE", "Production")
        .env("PAYMENT_CALLBACK_METHOD", "get")
        .env("LOG_FORMAT", "JSON")
        .env("STORE", "Memory")
        .env("SIMULATE", "FALSE")
        .env("ENABLED_PROVIDERS", "FENA, Feennex")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for (key, value) in [
        ("PAYMENT_CALLBACK_METHOD", "GET"),
        ("LOG_FORMAT", "json"),
        ("STORE", "memory"),
        ("SIMULATE", "false"),
        ("ENABLED_PROVIDERS", "fena,feennex"),
    ] {
        assert_eq!(setting(&text, key).0, value, "{text}");
    }
}

#[test]
fn production_refuses_the_embedded_store_unless_it_is_asked_for() {
    // The bare binary is the production profile: no simulators, and a list of what is missing.
    let out = payrouter(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let lines = problem_lines(&out);
    for line in [
        "PAYMENT_CALLBACK_URL: required in the production profile",
        "REDIS_URL: required in the production profile, so that replicas share their state; set STORE=memory",
        "FENA_TERMINAL_ID: required while fena is enabled",
    ] {
        assert!(lines.iter().any(|l| l.starts_with(line)), "missing '{line}' in:\n{}", lines.join("\n"));
    }
    assert!(!stdout(&out).contains("simulat"), "{}", stdout(&out));

    let out = with_production_basics(&mut payrouter(&[]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        problem_lines(&out),
        vec!["REDIS_URL: required in the production profile, so that replicas share their state; set STORE=memory to run one replica on the embedded store"]
    );

    // A bad URL is a bad URL, not a connection failure; its text (a password) is not repeated.
    let out = with_production_basics(&mut payrouter(&[]))
        .env("REDIS_URL", format!("{REDIS_PASSWORD}@nowhere"))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("REDIS_URL: invalid URL"), "{err}");
    assert!(
        !err.contains("cannot connect") && !err.contains(REDIS_PASSWORD),
        "{err}"
    );

    let out = with_production_basics(&mut payrouter(&[]))
        .env("STORE", "redis")
        .output()
        .unwrap();
    assert!(problem_lines(&out).contains(&"REDIS_URL: required when STORE=redis".to_string()));
}

#[tokio::test]
async fn production_starts_on_redis_or_on_the_embedded_store_said_explicitly() {
    let redis = common::RedisServer::start().await;
    for store in [Some(redis.url()), None] {
        let mut cmd = payrouter(&[]);
        with_production_basics(&mut cmd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match &store {
            Some(url) => cmd.env("REDIS_URL", url),
            None => cmd.env("STORE", "memory"),
        };
        let out = Served::start(&mut cmd, free_port()).await.stop().await;
        assert!(out.status.success(), "{}", stderr(&out));
        let logs = format!("{}{}", stdout(&out), stderr(&out));
        let warned = logs.contains("lost on restart and not shared with other replicas");
        assert_eq!(warned, store.is_none(), "{logs}");
        assert!(!logs.contains("simulat"), "{logs}");
    }
}

#[test]
fn config_check_prints_every_setting_with_its_source_and_no_secret() {
    let file = write_toml(
        "check",
        "http_port = 9090\nlog_level = \"debug\"\n\n[fena]\ntimeout_ms = 5000\n",
    );
    let out = with_production_basics(&mut payrouter(&["config", "check"]))
        .env("CONFIG_FILE", &file)
        .env("LOG_LEVEL", "warn")
        .env("NOTIFY_SIGNING_SECRET", SIGNING_SECRET)
        .env("INBOUND_API_TOKEN", API_TOKEN)
        .env(
            "REDIS_URL",
            format!("redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0"),
        )
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("configuration is valid (profile production)"),
        "{text}"
    );
    let from_file = format!("CONFIG_FILE {}", file.display());
    for (key, value, source) in [
        ("HTTP_PORT", "9090", from_file.as_str()),
        ("LOG_LEVEL", "warn", "environment"),
        ("LOG_FORMAT", "json", "profile production"),
        ("RETENTION_DAYS", "30", "default"),
        ("REDIS_KEY_PREFIX", "payrouter", "default"),
        ("DEAD_LETTER_RETENTION_DAYS", "30", "default"),
        ("NOTIFY_SIGNING_SECRET", "[redacted]", "environment"),
        ("INBOUND_API_TOKEN", "[redacted]", "environment"),
        ("REDIS_URL", "[redacted]", "environment"),
        ("FENA_TERMINAL_SECRET", "[redacted]", "environment"),
        ("FEENNEX_SECRET_KEY", "[redacted]", "environment"),
        (
            "FENA_TERMINAL_ID",
            "62b48adf6ba2cd6a040b1eec",
            "environment",
        ),
        ("FENA_TIMEOUT_MS", "5000", from_file.as_str()),
        ("FENA_BASE_URL", "-", "default of fena"),
    ] {
        assert_eq!(
            setting(&text, key),
            (value.to_string(), source.to_string()),
            "{key} in:\n{text}"
        );
    }
    for secret in [
        FENA_SECRET,
        FEENNEX_SECRET,
        SIGNING_SECRET,
        API_TOKEN,
        REDIS_PASSWORD,
    ] {
        assert!(!text.contains(secret), "a secret was printed:\n{text}");
    }

    // With problems it lists them all, like a start would.
    let out = payrouter(&["config", "check"])
        .env("HTTP_PRT", "1")
        .env("FENA_TERMINAL_SECRET", FENA_SECRET)
        .env("FENA_TIMEOUT_MS", FENA_SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("HTTP_PRT: unknown setting; did you mean HTTP_PORT?"),
        "{err}"
    );
    assert!(err.contains("FENA_TIMEOUT_MS: expected"), "{err}");
    assert!(err.contains("PAYMENT_CALLBACK_URL: required"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn the_demo_profile_is_built_in() {
    let out = payrouter(&["config", "check"])
        .env("PAYROUTER_PROFILE", "demo")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        setting(&text, "SIMULATE"),
        ("true".into(), "profile demo".into())
    );
    assert_eq!(
        setting(&text, "LOG_FORMAT"),
        ("pretty".into(), "profile demo".into())
    );

    // A mistyped profile is reported; no profile's rules are guessed at.
    let out = payrouter(&[])
        .env("PAYROUTER_PROFILE", "dmo")
        .output()
        .unwrap();
    let lines = problem_lines(&out);
    assert_eq!(
        lines[0],
        "PAYROUTER_PROFILE: unknown profile 'dmo'; expected production or demo"
    );
    assert!(
        !lines.iter().any(|l| l.contains("production profile")),
        "{lines:?}"
    );
}

#[test]
fn every_command_has_help_and_the_version_names_the_commit() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["simulate", "--help"],
        &["config", "--help"],
        &["config", "check", "--help"],
        &["help", "simulate"],
    ] {
        let out = payrouter(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("Usage: payrouter"),
            "{args:?}: {}",
            stdout(&out)
        );
    }
    let out = payrouter(&["--help"]).output().unwrap();
    for command in ["serve", "simulate", "config"] {
        assert!(stdout(&out).contains(command), "{}", stdout(&out));
    }
    let out = payrouter(&["simulate", "--help"]).output().unwrap();
    assert!(stdout(&out).contains("SIM_PORT"), "{}", stdout(&out));

    let out = payrouter(&["--version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let version = stdout(&out);
    assert!(
        version.starts_with(&format!("payrouter {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );

    let out = payrouter(&["serv"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("serve"), "{}", stderr(&out));
}

/// `(value, source)` of `key` in `config check`'s listing.
fn setting(listing: &str, key: &str) -> (String, String) {
    let line = listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("{key} not listed in:\n{listing}"));
    let rest = line[key.len()..].trim();
    let (value, source) = rest.rsplit_once("  (").expect("value  (source)");
    (
        value.trim().to_string(),
        source.trim_end_matches(')').to_string(),
    )
}

/// Fena merchant accounts from the environment and from a file: their variables are known
/// only for the merchants configured, their secrets are never shown, and each account's
/// problems name its own variables.
#[test]
fn merchant_accounts_are_configured_by_name_and_checked_strictly() {
    const SHOP_A_SECRET: &str = "shop-a-secret-93e1";
    const SHOP_B_SECRET: &str = "shop-b-secret-0c77";
    let file = write_toml(
        "accounts",
        "[fena.accounts.shop-b]\nterminal_id = \"b-id\"\nbank_account = \"bank-b\"\n",
    );
    let out = with_production_basics(&mut payrouter(&["config", "check"]))
        .env("STORE", "memory")
        .env("CONFIG_FILE", &file)
        .env("FENA_ACCOUNTS", "shop-a")
        .env("FENA_ACCOUNT_SHOP_A_TERMINAL_ID", "a-id")
        .env("FENA_ACCOUNT_SHOP_A_TERMINAL_SECRET", SHOP_A_SECRET)
        // The file names shop-b; its secret comes from the environment.
        .env("FENA_ACCOUNT_SHOP_B_TERMINAL_SECRET", SHOP_B_SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for secret in [SHOP_A_SECRET, SHOP_B_SECRET, FENA_SECRET] {
        assert!(!text.contains(secret), "a secret is shown:\n{text}");
    }
    let from_file = format!("CONFIG_FILE {}", file.display());
    for (key, value, source) in [
        ("FENA_ACCOUNTS", "shop-a,shop-b", "environment"),
        ("FENA_ACCOUNT_SHOP_A_TERMINAL_ID", "a-id", "environment"),
        (
            "FENA_ACCOUNT_SHOP_A_TERMINAL_SECRET",
            "[redacted]",
            "environment",
        ),
        (
            "FENA_ACCOUNT_SHOP_B_TERMINAL_ID",
            "b-id",
            from_file.as_str(),
        ),
        (
            "FENA_ACCOUNT_SHOP_B_BANK_ACCOUNT",
            "bank-b",
            from_file.as_str(),
        ),
        (
            "FENA_ACCOUNT_SHOP_B_TERMINAL_SECRET",
            "[redacted]",
            "environment",
        ),
    ] {
        assert_eq!(
            setting(&text, key),
            (value.to_string(), source.to_string()),
            "{key} in:\n{text}"
        );
    }

    // A merchant nobody configured, a misspelt key, a half account: each named.
    let out = with_production_basics(&mut payrouter(&["config", "check"]))
        .env("STORE", "memory")
        .env("CONFIG_FILE", &file)
        .env("FENA_ACCOUNTS", "shop-a")
        .env("FENA_ACCOUNT_SHOP_A_TERMINAL_ID", "a-id")
        .env("FENA_ACCOUNT_SHOP_A_TERMINAL_SECRT", SHOP_A_SECRET)
        .env("FENA_ACCOUNT_SHOP_C_TERMINAL_ID", "c-id")
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines = problem_lines(&out);
    let starts = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
    for prefix in [
        "FENA_ACCOUNT_SHOP_A_TERMINAL_SECRT: unknown setting",
        "FENA_ACCOUNT_SHOP_C_TERMINAL_ID: unknown setting",
        "FENA_ACCOUNT_SHOP_A_TERMINAL_SECRET: required for the Fena account 'shop-a'",
        "FENA_ACCOUNT_SHOP_B_TERMINAL_SECRET: required for the Fena account 'shop-b'",
    ] {
        assert!(starts(prefix), "{prefix} in {lines:?}");
    }
    assert!(!stderr(&out).contains(SHOP_A_SECRET), "{}", stderr(&out));
}
