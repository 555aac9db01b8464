//! `payrouter fena setup [--merchant NAME] [--dry-run]` and `payrouter fena bank-accounts
//! [--merchant NAME]`: what each configured merchant account needs at Fena for payrouter to
//! take its payments, checked and (for partner companies) put right.
//!
//! - A partner company gets one integration named `FENA_INTEGRATION_NAME` whose `webhookUrl` is
//!   `{PUBLIC_BASE_URL}/v3/fena/callback`, with webhook retries on: listed (all pages), created
//!   when missing, updated when it drifted, left alone when right.
//! - A terminal key has no integrations API: its bank accounts are listed (which proves the
//!   key), the configured bank account must be among the verified ones, and the webhook URL to
//!   enter in Fena's dashboard is printed.
//!
//! One table row per merchant; exit 0 when every merchant is ready, 1 otherwise, 2 when the
//! command itself is wrong. Secrets are never printed.

use payrouter_provider::clap::{Arg, ArgAction, ArgMatches, Command};
use payrouter_provider::{Merchant, ProviderError, Redactor};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::client::FenaClient;
use crate::partner::api::{terminal_bank_accounts, PartnerApi};
use crate::partner::{plan_integration, BankAccount, IntegrationPlan, IntegrationSpec};
use crate::transform::Answer;

/// One merchant account as the commands see it.
pub struct SetupAccount {
    pub merchant: Merchant,
    pub bank_account: Option<String>,
    pub access: Access,
}

/// How the commands reach an account at Fena.
pub enum Access {
    /// Its own terminal key (`redactor` hides it).
    Terminal {
        client: FenaClient,
        redactor: Redactor,
    },
    /// The partner key, for this company.
    Partner { company_id: String },
}

/// Everything the commands need, read from the `[fena]` settings.
pub struct SetupContext {
    pub accounts: Vec<SetupAccount>,
    pub partner: Option<Arc<PartnerApi>>,
    /// `{PUBLIC_BASE_URL}/v3/fena/callback`; None when PUBLIC_BASE_URL is not set.
    pub webhook_url: Option<String>,
    pub redirect_url: Option<String>,
    pub payment_page_redirect: bool,
}

/// The `fena` subcommand's arguments (the registry names it after the provider).
pub fn command() -> Command {
    let merchant = Arg::new("merchant")
        .long("merchant")
        .value_name("NAME")
        .help("Only this merchant account (default: every configured one)");
    Command::new(crate::NAME)
        .about("Fena: check and provision the merchant accounts (webhooks, bank accounts)")
        .subcommand_required(true)
        .subcommand(
            Command::new("setup")
                .about("Ensure each merchant is ready: partner companies get payrouter's integration (webhook URL); terminal keys are verified. Exit 0 when all are ready, else 1")
                .arg(merchant.clone())
                .arg(
                    Arg::new("dry-run")
                        .long("dry-run")
                        .action(ArgAction::SetTrue)
                        .help("Say what would change, change nothing"),
                ),
        )
        .subcommand(
            Command::new("bank-accounts")
                .about("List each merchant's Fena bank accounts")
                .arg(merchant),
        )
}

/// Runs the subcommand in `matches`; the process's exit code.
pub async fn run(context: SetupContext, matches: &ArgMatches) -> u8 {
    let Some((name, sub)) = matches.subcommand() else {
        eprintln!("payrouter fena: expected a subcommand (setup, bank-accounts)");
        return 2;
    };
    let chosen = match chosen(&context, sub.get_one::<String>("merchant")) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("{message}");
            return 2;
        }
    };
    let (table, ready) = match name {
        "setup" => setup(&context, &chosen, sub.get_flag("dry-run")).await,
        _ => list_bank_accounts(&context, &chosen).await,
    };
    print!("{table}");
    if ready {
        0
    } else {
        1
    }
}

/// The accounts the command is about, by their index in the context.
fn chosen(context: &SetupContext, merchant: Option<&String>) -> Result<Vec<usize>, String> {
    let Some(wanted) = merchant else {
        return Ok((0..context.accounts.len()).collect());
    };
    let names: Vec<String> = context
        .accounts
        .iter()
        .map(|a| a.merchant.to_string())
        .collect();
    match names.iter().position(|n| n == wanted) {
        Some(i) => Ok(vec![i]),
        None => Err(format!(
            "--merchant: unknown merchant '{wanted}'; configured: {}",
            names.join(", ")
        )),
    }
}

/// One merchant's line of the setup table.
struct Row {
    merchant: String,
    access: String,
    found: String,
    done: String,
    ready: bool,
}

async fn setup(context: &SetupContext, chosen: &[usize], dry_run: bool) -> (String, bool) {
    let mut rows = Vec::new();
    for &i in chosen {
        let account = &context.accounts[i];
        let row = match &account.access {
            Access::Partner { company_id } => {
                partner_setup(context, account, company_id, dry_run).await
            }
            Access::Terminal { client, redactor } => {
                let listed = terminal_bank_accounts(client, redactor).await;
                terminal_setup(context, account, listed)
            }
        };
        rows.push(row);
    }
    let ready = rows.iter().all(|r| r.ready);
    let mut lines = vec![[
        "MERCHANT".to_string(),
        "ACCESS".into(),
        "FOUND".into(),
        "DONE".into(),
        "READY".into(),
    ]];
    lines.extend(rows.into_iter().map(|r| {
        [
            r.merchant,
            r.access,
            r.found,
            r.done,
            if r.ready { "yes" } else { "no" }.into(),
        ]
    }));
    let mut table = render(&lines);
    if let Some(url) = &context.webhook_url {
        let _ = writeln!(table, "webhook URL: {url}");
    }
    (table, ready)
}

/// A terminal key: its bank accounts prove it; the configured one must be verified.
fn terminal_setup(
    context: &SetupContext,
    account: &SetupAccount,
    listed: Result<Answer<Vec<BankAccount>>, ProviderError>,
) -> Row {
    let mut row = Row {
        merchant: account.merchant.to_string(),
        access: "terminal key".into(),
        found: String::new(),
        done: String::new(),
        ready: false,
    };
    let banks = match found(listed, "bank accounts") {
        Ok(banks) => banks,
        Err(why) => {
            row.found = why;
            row.done = "nothing".into();
            return row;
        }
    };
    row.found = bank_summary(&banks);
    let bank = bank_check(&banks, account.bank_account.as_deref());
    match (&bank, &context.webhook_url) {
        (Err(why), _) => row.done = why.clone(),
        (Ok(()), None) => row.done = "set PUBLIC_BASE_URL to know the webhook URL".into(),
        (Ok(()), Some(_)) => {
            row.done = "enter the webhook URL below in Fena's dashboard (API key settings)".into();
            row.ready = true;
        }
    }
    row
}

/// A partner company: its bank account checked, its integration made right.
async fn partner_setup(
    context: &SetupContext,
    account: &SetupAccount,
    company: &str,
    dry_run: bool,
) -> Row {
    let mut row = Row {
        merchant: account.merchant.to_string(),
        access: format!("partner, company {company}"),
        found: String::new(),
        done: "nothing".into(),
        ready: false,
    };
    let Some(api) = &context.partner else {
        row.found = "-".into();
        row.done =
            "set FENA_PARTNER_TERMINAL_ID and FENA_PARTNER_TERMINAL_SECRET for partner accounts"
                .into();
        return row;
    };
    let Some(webhook_url) = &context.webhook_url else {
        row.found = "-".into();
        row.done = "set PUBLIC_BASE_URL: the integration's webhook URL is built from it".into();
        return row;
    };
    let banks = match found(api.bank_accounts(company).await, "bank accounts") {
        Ok(banks) => banks,
        Err(why) => {
            row.found = why;
            return row;
        }
    };
    if let Err(why) = bank_check(&banks, account.bank_account.as_deref()) {
        row.found = bank_summary(&banks);
        row.done = why;
        return row;
    }
    let spec = IntegrationSpec {
        name: api.integration_name().to_string(),
        webhook_url: webhook_url.clone(),
        redirect_url: context
            .redirect_url
            .clone()
            .unwrap_or_else(|| webhook_url.clone()),
        fena_payment_page_redirect_enabled: context.payment_page_redirect,
        is_retry_webhook_enabled: true,
        bank_account: account.bank_account.clone(),
    };
    let found = match found(api.integrations(company).await, "integrations") {
        Ok(found) => found,
        Err(why) => {
            row.found = why;
            return row;
        }
    };
    let plan = plan_integration(&found, &spec);
    row.found = match &plan {
        IntegrationPlan::Create => format!("no integration '{}'", spec.name),
        IntegrationPlan::Update { id, fields } => {
            format!("integration {id}, differs in {}", fields.join(", "))
        }
        IntegrationPlan::Keep { id } => format!("integration {id}"),
    };
    if dry_run {
        row.done = match plan {
            IntegrationPlan::Create => "would create it (dry run)".into(),
            IntegrationPlan::Update { .. } => "would update it (dry run)".into(),
            IntegrationPlan::Keep { .. } => {
                row.ready = true;
                "no change".into()
            }
        };
        return row;
    }
    let outcome = match &plan {
        IntegrationPlan::Keep { .. } => {
            row.done = "no change".into();
            row.ready = true;
            return row;
        }
        IntegrationPlan::Create => api.create_integration(company, &spec).await,
        IntegrationPlan::Update { id, .. } => api.update_integration(company, id, &spec).await,
    };
    match (outcome, plan) {
        (Ok(Answer::Done(i)), IntegrationPlan::Create) => {
            row.done = format!("created integration {}", i.id);
            row.ready = true;
        }
        (Ok(Answer::Done(_)), IntegrationPlan::Update { fields, .. }) => {
            row.done = format!("updated {}", fields.join(", "));
            row.ready = true;
        }
        (Ok(Answer::Refused(message)), _) => row.done = format!("refused: {message}"),
        (Err(e), _) => row.done = failure(&e),
        (Ok(Answer::Done(_)), IntegrationPlan::Keep { .. }) => row.ready = true,
    }
    row
}

/// What a listing of `what` found, or the FOUND column's words for its refusal or failure.
fn found<T>(listing: Result<Answer<T>, ProviderError>, what: &str) -> Result<T, String> {
    match listing {
        Ok(Answer::Done(found)) => Ok(found),
        Ok(Answer::Refused(message)) => Err(format!("{what} refused: {message}")),
        Err(e) => Err(failure(&e)),
    }
}

fn bank_summary(banks: &[BankAccount]) -> String {
    let verified = banks.iter().filter(|b| b.is_verified()).count();
    format!("{} bank account(s), {verified} verified", banks.len())
}

/// The configured bank account must be a verified one; without one, Fena pays the company's
/// default, so one verified account is enough.
fn bank_check(banks: &[BankAccount], configured: Option<&str>) -> Result<(), String> {
    match configured {
        Some(id) => match banks.iter().find(|b| b.id.as_deref() == Some(id)) {
            Some(b) if b.is_verified() => Ok(()),
            Some(b) => Err(format!(
                "bank account {id} is {}, not verified",
                b.status.as_deref().unwrap_or("of unknown status")
            )),
            None => Err(format!("bank account {id} is not among the company's")),
        },
        None if banks.iter().any(BankAccount::is_verified) => Ok(()),
        None => Err("no verified bank account".into()),
    }
}

/// A failed call in a row's words (never a secret: errors carry redacted quotes only).
fn failure(e: &ProviderError) -> String {
    match e {
        ProviderError::Misconfigured(_) => "Fena refused the key".into(),
        other => other.to_string(),
    }
}

async fn list_bank_accounts(context: &SetupContext, chosen: &[usize]) -> (String, bool) {
    let mut lines = vec![[
        "MERCHANT".to_string(),
        "ID".into(),
        "NAME".into(),
        "STATUS".into(),
        "SANDBOX".into(),
    ]];
    let mut ok = true;
    for &i in chosen {
        let account = &context.accounts[i];
        let merchant = account.merchant.to_string();
        let listed = match (&account.access, &context.partner) {
            (Access::Partner { company_id }, Some(api)) => api.bank_accounts(company_id).await,
            (Access::Partner { .. }, None) => Err(ProviderError::Misconfigured(
                "a partner company needs FENA_PARTNER_TERMINAL_ID and FENA_PARTNER_TERMINAL_SECRET"
                    .into(),
            )),
            (Access::Terminal { client, redactor }, _) => {
                terminal_bank_accounts(client, redactor).await
            }
        };
        match listed {
            Ok(Answer::Done(banks)) if !banks.is_empty() => {
                for b in banks {
                    let sandbox = match b.is_sandbox {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "?",
                    };
                    lines.push([
                        merchant.clone(),
                        b.id.unwrap_or_else(|| "-".into()),
                        b.name.unwrap_or_else(|| "-".into()),
                        b.status.unwrap_or_else(|| "-".into()),
                        sandbox.into(),
                    ]);
                }
            }
            Ok(Answer::Done(_)) => lines.push([
                merchant,
                "-".into(),
                "(none)".into(),
                "-".into(),
                "-".into(),
            ]),
            Ok(Answer::Refused(message)) => {
                ok = false;
                lines.push([merchant, "-".into(), message, "-".into(), "-".into()]);
            }
            Err(e) => {
                ok = false;
                lines.push([merchant, "-".into(), failure(&e), "-".into(), "-".into()]);
            }
        }
    }
    (render(&lines), ok)
}

/// Columns padded to their widest cell.
fn render<const N: usize>(lines: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for line in lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(id: &str, status: &str) -> BankAccount {
        BankAccount {
            id: Some(id.into()),
            name: Some("Main".into()),
            status: Some(status.into()),
            is_sandbox: Some(true),
        }
    }

    #[test]
    fn the_configured_bank_account_must_be_verified() {
        let banks = [bank("b1", "verified"), bank("b2", "pending")];
        assert_eq!(bank_check(&banks, Some("b1")), Ok(()));
        assert_eq!(
            bank_check(&banks, Some("b2")),
            Err("bank account b2 is pending, not verified".into())
        );
        assert_eq!(
            bank_check(&banks, Some("b9")),
            Err("bank account b9 is not among the company's".into())
        );
        assert_eq!(bank_check(&banks, None), Ok(()));
        assert!(bank_check(&banks[1..], None).is_err());
    }

    #[test]
    fn tables_pad_their_columns() {
        let lines = [
            ["A".to_string(), "BB".into()],
            ["ccc".to_string(), "d".into()],
        ];
        assert_eq!(render(&lines), "A    BB\nccc  d\n");
    }
}
