//! `payrouter fena setup` and `payrouter fena bank-accounts`, run as the real binary against
//! the Fena simulator: a partner company's integration is created, then left alone, then
//! repaired after it drifted; `--dry-run` changes nothing; a terminal key is verified by its
//! bank accounts, and a bad one makes the command exit 1 naming its merchant. The commands
//! talk to Fena only; the last scenario then pays through a router for the company set up, on
//! both stores: the payment carries the integration, whose webhook (partner spelling) comes
//! back to the router.

mod common;

use common::binary::payrouter;
use common::sim_client::fena_sim_paid;
use common::stores::on_both_stores;
use common::{config, Receiver, StoreKind, TestRouter};
use payrouter_fena::sim::{default_bank_account, PartnerKey, SimConfig, Simulator};
use serde_json::{json, Value};

const PARTNER_ID: &str = "65aa00000000000000000001";
const PARTNER_SECRET: &str = "partner-secret-5d1c-4a8e-9f00";
const COMPANY_A: &str = "65bb000000000000000000a1";
const COMPANY_OTHER: &str = "65bb000000000000000000ff";
const TERMINAL_SECRET: &str = "terminal-secret-88e2-41aa";
const PUBLIC_BASE: &str = "https://router.example";
const WEBHOOK: &str = "https://router.example/v3/fena/callback";

/// The simulator on a free port: the partner manages company A, and shop-b has a terminal key.
async fn simulator() -> (Simulator, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fena", listener.local_addr().unwrap());
    let sim = Simulator::new(SimConfig {
        terminal_id: payrouter_fena::sim::DEMO_TERMINAL_ID.into(),
        terminal_secret: TERMINAL_SECRET.into(),
        public_base_url: base.clone(),
        webhook_url: WEBHOOK.into(),
    });
    sim.set_partner(PartnerKey {
        terminal_id: PARTNER_ID.into(),
        terminal_secret: PARTNER_SECRET.into(),
        companies: vec![COMPANY_A.into()],
    });
    let app = axum::Router::new().nest("/fena", sim.router());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (sim, base)
}

/// Runs the binary with the two merchants configured against the simulator at `base`, the
/// terminal secret being `secret`; its exit code and stdout.
async fn run(base: &str, secret: &str, args: &[&str]) -> (i32, String) {
    run_for(PUBLIC_BASE, base, secret, args).await
}

/// `run`, with payrouter's public URL `public`.
async fn run_for(public: &str, base: &str, secret: &str, args: &[&str]) -> (i32, String) {
    let mut cmd = payrouter(args);
    cmd.envs([
        ("ENABLED_PROVIDERS", "fena"),
        ("STORE", "memory"),
        ("PAYMENT_CALLBACK_URL", "https://pgm.example/cb"),
        ("PUBLIC_BASE_URL", public),
        ("FENA_BASE_URL", base),
        ("FENA_PARTNER_TERMINAL_ID", PARTNER_ID),
        ("FENA_PARTNER_TERMINAL_SECRET", PARTNER_SECRET),
        ("FENA_INTEGRATION_REDIRECT_URL", "https://shop.example/done"),
        ("FENA_ACCOUNTS", "shop-a,shop-b"),
        ("FENA_ACCOUNT_SHOP_A_COMPANY_ID", COMPANY_A),
        (
            "FENA_ACCOUNT_SHOP_B_TERMINAL_ID",
            payrouter_fena::sim::DEMO_TERMINAL_ID,
        ),
        ("FENA_ACCOUNT_SHOP_B_TERMINAL_SECRET", secret),
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for secret in [PARTNER_SECRET, TERMINAL_SECRET, "wrong-secret"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret was printed:\n{stdout}\n{stderr}"
        );
    }
    (out.status.code().unwrap_or(-1), stdout)
}

/// Company A as the simulator's control API shows it.
async fn company(base: &str, id: &str) -> Value {
    reqwest::get(format!("{base}/_sim/companies/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The table row of `merchant`.
/// `fena <command> --merchant <merchant>` with a wrong key for shop-b: it exits with `code`
/// and its output names no other merchant; answers the output.
async fn one_merchant_with_a_bad_key(
    base: &str,
    command: &str,
    merchant: &str,
    code: i32,
) -> String {
    let args = ["fena", command, "--merchant", merchant];
    let (exit, out) = run(base, "wrong-secret", &args).await;
    assert_eq!(exit, code, "{out}");
    for other in ["shop-a", "shop-b"].into_iter().filter(|m| *m != merchant) {
        assert!(!out.contains(other), "{other} was run too:\n{out}");
    }
    out
}

fn row<'a>(out: &'a str, merchant: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(merchant))
        .unwrap_or_else(|| panic!("no row for {merchant} in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_creates_the_integration_then_changes_nothing_then_repairs_a_drift() {
    let (_sim, base) = simulator().await;

    let (code, out) = run(&base, TERMINAL_SECRET, &["fena", "setup"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(row(&out, "shop-a").contains("created integration"), "{out}");
    assert!(row(&out, "shop-b").contains("terminal key"), "{out}");
    assert!(row(&out, "shop-b").ends_with("yes"), "{out}");
    assert!(out.contains(&format!("webhook URL: {WEBHOOK}")), "{out}");
    let created = company(&base, COMPANY_A).await;
    assert_eq!(created["changes"], 1);
    let integration = &created["integrations"][0];
    assert_eq!(integration["name"], "payrouter");
    assert_eq!(integration["webhookUrl"], WEBHOOK);
    assert_eq!(integration["redirectUrl"], "https://shop.example/done");
    assert_eq!(integration["isRetryWebhookEnabled"], true);
    assert_eq!(integration["fenaPaymentPageRedirectEnabled"], true);
    let id = integration["id"].as_str().unwrap().to_string();

    let (code, out) = run(&base, TERMINAL_SECRET, &["fena", "setup"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(row(&out, "shop-a").contains("no change"), "{out}");
    assert_eq!(company(&base, COMPANY_A).await["changes"], 1);

    // Someone edits the integration in Fena's dashboard.
    let drifted = reqwest::Client::new()
        .post(format!(
            "{base}/_sim/companies/{COMPANY_A}/integrations/{id}"
        ))
        .json(&json!({"webhookUrl": "https://old.example/cb"}))
        .send()
        .await
        .unwrap();
    assert_eq!(drifted.status(), 200);

    let (code, out) = run(&base, TERMINAL_SECRET, &["fena", "setup", "--dry-run"]).await;
    assert_eq!(
        code, 1,
        "a merchant that needs a change is not ready:\n{out}"
    );
    assert!(
        row(&out, "shop-a").contains("differs in webhookUrl"),
        "{out}"
    );
    assert!(row(&out, "shop-a").contains("would update"), "{out}");
    let unchanged = company(&base, COMPANY_A).await;
    assert_eq!(unchanged["changes"], 1);
    assert_eq!(
        unchanged["integrations"][0]["webhookUrl"],
        "https://old.example/cb"
    );

    let (code, out) = run(&base, TERMINAL_SECRET, &["fena", "setup"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(row(&out, "shop-a").contains("updated webhookUrl"), "{out}");
    let repaired = company(&base, COMPANY_A).await;
    assert_eq!(repaired["changes"], 2);
    assert_eq!(repaired["integrations"].as_array().unwrap().len(), 1);
    assert_eq!(repaired["integrations"][0]["id"], id.as_str());
    assert_eq!(repaired["integrations"][0]["webhookUrl"], WEBHOOK);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_on_a_new_company_creates_nothing() {
    let (_sim, base) = simulator().await;
    let (code, out) = run(&base, TERMINAL_SECRET, &["fena", "setup", "--dry-run"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(row(&out, "shop-a").contains("would create"), "{out}");
    let untouched = company(&base, COMPANY_A).await;
    assert_eq!(untouched["changes"], 0);
    assert_eq!(untouched["integrations"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_key_fails_the_setup_naming_its_merchant() {
    let (_sim, base) = simulator().await;
    let (code, out) = run(&base, "wrong-secret", &["fena", "setup"]).await;
    assert_eq!(code, 1, "{out}");
    let shop_b = row(&out, "shop-b");
    assert!(shop_b.contains("Fena refused the key"), "{out}");
    assert!(shop_b.ends_with("no"), "{out}");
    assert!(
        row(&out, "shop-a").ends_with("yes"),
        "the partner company is still set up:\n{out}"
    );

    // --merchant limits the run to one account: the partner company alone is ready.
    one_merchant_with_a_bad_key(&base, "setup", "shop-a", 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_key_sees_only_its_own_companies() {
    let (_sim, base) = simulator().await;
    let mut cmd = payrouter(&["fena", "setup"]);
    cmd.envs([
        ("ENABLED_PROVIDERS", "fena"),
        ("STORE", "memory"),
        ("PAYMENT_CALLBACK_URL", "https://pgm.example/cb"),
        ("PUBLIC_BASE_URL", PUBLIC_BASE),
        ("FENA_BASE_URL", base.as_str()),
        ("FENA_PARTNER_TERMINAL_ID", PARTNER_ID),
        ("FENA_PARTNER_TERMINAL_SECRET", PARTNER_SECRET),
        ("FENA_ACCOUNTS", "stranger"),
        ("FENA_ACCOUNT_STRANGER_COMPANY_ID", COMPANY_OTHER),
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        row(&stdout, "stranger").contains("does not know this company"),
        "{stdout}"
    );
    assert_eq!(company(&base, COMPANY_OTHER).await["changes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bank_accounts_lists_each_merchants_accounts() {
    let (_sim, base) = simulator().await;
    let added = reqwest::Client::new()
        .post(format!("{base}/_sim/companies/{COMPANY_A}/bank-accounts"))
        .json(&json!({"id": "65cc00000000000000000001", "name": "Live account", "status": "pending", "isSandbox": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);

    let (code, out) = run(&base, TERMINAL_SECRET, &["fena", "bank-accounts"]).await;
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("shop-a")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].contains(&default_bank_account(COMPANY_A)), "{out}");
    assert!(
        lines[0].contains("verified") && lines[0].ends_with("yes"),
        "{out}"
    );
    assert!(
        lines[1].contains("Live account") && lines[1].contains("pending"),
        "{out}"
    );
    assert!(lines[1].ends_with("no"), "{out}");
    let terminal = row(&out, "shop-b");
    assert!(
        terminal.contains(&default_bank_account(payrouter_fena::sim::DEMO_TERMINAL_ID)),
        "{out}"
    );

    let out = one_merchant_with_a_bad_key(&base, "bank-accounts", "shop-b", 1).await;
    assert!(
        row(&out, "shop-b").contains("Fena refused the key"),
        "{out}"
    );
}

on_both_stores!(a_set_up_company_pays_through_the_router_and_its_webhook_comes_back);

async fn a_set_up_company_pays_through_the_router_and_its_webhook_comes_back(kind: StoreKind) {
    let receiver = Receiver::start().await;
    let redis = kind.start_redis().await;
    let router_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let router_url = format!("http://{}", router_listener.local_addr().unwrap());
    let (_sim, base) = simulator().await;

    let (code, out) = run_for(&router_url, &base, TERMINAL_SECRET, &["fena", "setup"]).await;
    assert_eq!(code, 0, "{out}");
    let integration = company(&base, COMPANY_A).await["integrations"][0].clone();
    assert_eq!(
        integration["webhookUrl"],
        format!("{router_url}/v3/fena/callback")
    );

    let mut toml = config(
        redis.as_ref(),
        &base,
        &receiver.url,
        &format!("public_base_url = \"{router_url}\""),
    );
    toml.push_str(&format!(
        "partner_terminal_id = \"{PARTNER_ID}\"\npartner_terminal_secret = \"{PARTNER_SECRET}\"\n\
         [fena.accounts.shop-a]\ncompany_id = \"{COMPANY_A}\"\n"
    ));
    let router = TestRouter::start_on(&toml, router_listener).await;
    let mut pay = common::fena_env::pay_body("order-p1", 1299);
    pay["providerData"] = json!({"merchant": "shop-a"});
    let (payment_id, _) = router.create_payment("fena", &pay).await;

    let http = reqwest::Client::new();
    let all: Vec<Value> = http
        .get(format!("{base}/_sim/payments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at_fena = all.iter().find(|p| p["id"] == payment_id.as_str()).unwrap();
    assert_eq!(at_fena["companyId"], COMPANY_A);
    assert_eq!(at_fena["integration"], integration["id"]);

    // Paid at Fena: the integration's webhook reaches the router, which re-fetches the
    // payment through the partner API and notifies the PGM.
    fena_sim_paid(&http, &base, &payment_id).await;
    receiver.notified(&payment_id, "ACCEPTED", "PAYMENT").await;
    let status = router.status("fena", &payment_id).await;
    assert_eq!(status["status"], "ACCEPTED", "{status}");
}

/// `payrouter config check` for one partner-set-up merchant, with `FENA_PARTNER_PATH_REFUND`.
fn config_check_with_refund_path(refund_path: &str) -> std::process::Output {
    payrouter(&["config", "check"])
        .envs([
            ("ENABLED_PROVIDERS", "fena"),
            ("STORE", "memory"),
            ("PAYMENT_CALLBACK_URL", "https://pgm.example/cb"),
            ("FENA_PARTNER_TERMINAL_ID", PARTNER_ID),
            ("FENA_PARTNER_TERMINAL_SECRET", PARTNER_SECRET),
            ("FENA_PARTNER_PATH_REFUND", refund_path),
            ("FENA_ACCOUNTS", "shop-a"),
            ("FENA_ACCOUNT_SHOP_A_COMPANY_ID", COMPANY_A),
        ])
        .output()
        .unwrap()
}

#[test]
fn config_check_shows_the_partner_settings_one_a_line_secrets_redacted() {
    let out = config_check_with_refund_path("/open/partner/{companyId}/refund/{id}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in:\n{stdout}"))
            .to_string()
    };
    assert!(
        line("FENA_PARTNER_PATH_REFUND")
            .contains("/open/partner/{companyId}/refund/{id}  (environment)"),
        "{stdout}"
    );
    assert!(
        line("FENA_PARTNER_PATH_PAYMENT_GET").contains("-  (default of fena)"),
        "{stdout}"
    );
    assert!(
        line("FENA_PARTNER_TERMINAL_SECRET").contains("(environment)"),
        "{stdout}"
    );
    assert!(!stdout.contains(PARTNER_SECRET), "{stdout}");

    // A template without its placeholders stops the start, named by its variable.
    let out = config_check_with_refund_path("/open/partner/refund");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("FENA_PARTNER_PATH_REFUND: '/open/partner/refund' is not a path"),
        "{stderr}"
    );
}
