//! Fena merchant accounts: which Fena company each payment is made for, and with which key.
//!
//! The plain settings (`FENA_TERMINAL_ID`, `FENA_TERMINAL_SECRET`, `FENA_BANK_ACCOUNT`) are the
//! account called `default`, so a single-merchant deployment configures nothing new. Further
//! accounts are named: `[fena.accounts.<name>]` in TOML, or `FENA_ACCOUNTS=shop-a,shop-b` with
//! `FENA_ACCOUNT_SHOP_A_TERMINAL_ID`, `…_TERMINAL_SECRET`, `…_BANK_ACCOUNT`, `…_COMPANY_ID` in
//! the environment (the gateway's configuration layer nests those variables under
//! `[fena.accounts.<name>]`). An account either has its own terminal key or names the
//! `company_id` a partner key acts for: [`Credentials`] holds exactly one of the two.

use payrouter_provider::config::{self, Checks};
use payrouter_provider::{ExposeSecret, Merchant, SecretString};
use serde::Deserialize;
use serde_aux::serde_introspection::serde_introspect;
use std::collections::BTreeMap;

/// One `[fena.accounts.<name>]` section as configured.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountSettings {
    #[serde(default, deserialize_with = "config::opt_string")]
    pub terminal_id: Option<String>,
    #[serde(default, deserialize_with = "config::opt_secret")]
    pub terminal_secret: Option<SecretString>,
    /// The account's default bank account id (Fena uses the company default when unset).
    #[serde(default, deserialize_with = "config::opt_string")]
    pub bank_account: Option<String>,
    /// The Fena company a partner key acts for, instead of a terminal key of its own.
    #[serde(default, deserialize_with = "config::opt_string")]
    pub company_id: Option<String>,
}

/// The keys of one account section, for the gateway's check of configuration names.
pub fn account_keys() -> &'static [&'static str] {
    serde_introspect::<AccountSettings>()
}

/// How an account reaches Fena.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Its own terminal API key.
    Terminal {
        terminal_id: String,
        terminal_secret: SecretString,
    },
    /// A company the partner key (`FENA_PARTNER_TERMINAL_ID`/`_SECRET`) acts for.
    Partner { company_id: String },
}

/// One usable merchant account.
#[derive(Debug, Clone)]
pub struct Account {
    pub merchant: Merchant,
    pub credentials: Credentials,
    pub bank_account: Option<String>,
}

/// The configured accounts: `default` first (when configured), then the named ones by name.
/// That order is also the order a payment unknown to the store is looked for in.
#[derive(Debug, Clone)]
pub struct Accounts(Vec<Account>);

impl Accounts {
    /// Reads the plain settings as `default` and each named section, reporting every problem
    /// under its environment name (`FENA_ACCOUNT_SHOP_A_TERMINAL_SECRET: required …`).
    pub fn read(
        plain: AccountSettings,
        named: BTreeMap<String, AccountSettings>,
        checks: &mut Checks,
    ) -> Option<Accounts> {
        let mut accounts = Vec::new();
        let mut complete = true;
        let plain_set = plain.terminal_id.is_some()
            || plain.terminal_secret.is_some()
            || plain.company_id.is_some();
        // Without named accounts the plain key is required, as it always was.
        if plain_set || named.is_empty() {
            match account(Merchant::default(), plain, "", checks) {
                Some(a) => accounts.push(a),
                None => complete = false,
            }
        } else if plain.bank_account.is_some() {
            checks.problem(
                "BANK_ACCOUNT",
                "belongs to the default account, which needs FENA_TERMINAL_ID and \
                 FENA_TERMINAL_SECRET; give each named account its own bank_account",
            );
        }
        for (name, settings) in named {
            let merchant = match Merchant::parse(&name) {
                Ok(m) if m.is_default() => {
                    checks.problem(
                        "ACCOUNTS",
                        "'default' is the account of the plain FENA_TERMINAL_ID and \
                         FENA_TERMINAL_SECRET; name the others differently",
                    );
                    complete = false;
                    continue;
                }
                Ok(m) => m,
                Err(why) => {
                    checks.problem("ACCOUNTS", why);
                    complete = false;
                    continue;
                }
            };
            let prefix = format!("ACCOUNT_{}_", merchant.env_name());
            match account(merchant, settings, &prefix, checks) {
                Some(a) => accounts.push(a),
                None => complete = false,
            }
        }
        complete.then_some(Accounts(accounts))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, merchant: &Merchant) -> Option<&Account> {
        self.0.iter().find(|a| &a.merchant == merchant)
    }
}

/// One account from its settings; `prefix` (`ACCOUNT_SHOP_A_`, or empty for `default`) makes
/// the environment name of each key in problems.
fn account(
    merchant: Merchant,
    settings: AccountSettings,
    prefix: &str,
    checks: &mut Checks,
) -> Option<Account> {
    let key = |k: &str| format!("{prefix}{k}");
    let secret = settings
        .terminal_secret
        .filter(|s| !s.expose_secret().trim().is_empty());
    let credentials = match (settings.terminal_id, secret, settings.company_id) {
        (Some(terminal_id), Some(terminal_secret), None) => Credentials::Terminal {
            terminal_id,
            terminal_secret,
        },
        (None, None, Some(company_id)) => Credentials::Partner { company_id },
        (id, secret, Some(_)) if id.is_some() || secret.is_some() => {
            checks.problem(
                &key("COMPANY_ID"),
                format_args!(
                    "an account has either its own key ({0}TERMINAL_ID and {0}TERMINAL_SECRET) \
                     or a company_id for the partner key, not both",
                    checks_prefix(prefix)
                ),
            );
            return None;
        }
        (id, secret, _) => {
            let missing = [
                ("TERMINAL_ID", id.is_none()),
                ("TERMINAL_SECRET", secret.is_none()),
            ];
            for (k, _) in missing.iter().filter(|(_, missing)| *missing) {
                if prefix.is_empty() {
                    checks.required::<()>(k, None);
                } else {
                    checks.problem(
                        &key(k),
                        format_args!("required for the Fena account '{merchant}'"),
                    );
                }
            }
            return None;
        }
    };
    Some(Account {
        merchant,
        credentials,
        bank_account: settings.bank_account,
    })
}

/// The environment name stem of an account's keys (`FENA_ACCOUNT_SHOP_A_`, or `FENA_`).
fn checks_prefix(prefix: &str) -> String {
    format!("{}_{prefix}", crate::NAME.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, secret: &str) -> AccountSettings {
        AccountSettings {
            terminal_id: Some(id.into()),
            terminal_secret: Some(SecretString::from(secret.to_string())),
            ..Default::default()
        }
    }

    fn read(
        plain: AccountSettings,
        named: &[(&str, AccountSettings)],
    ) -> Result<Accounts, Vec<String>> {
        let mut checks = Checks::new("fena");
        let named = named
            .iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect();
        let accounts = Accounts::read(plain, named, &mut checks);
        checks.finish(accounts)
    }

    #[test]
    fn plain_keys_are_the_default_account_and_named_ones_follow_by_name() {
        let accounts = read(
            key("t0", "s0"),
            &[("shop-b", key("tb", "sb")), ("shop-a", key("ta", "sa"))],
        )
        .unwrap();
        let names: Vec<String> = accounts.iter().map(|a| a.merchant.to_string()).collect();
        assert_eq!(names, ["default", "shop-a", "shop-b"]);
        let shop_b = accounts.get(&Merchant::parse("shop-b").unwrap()).unwrap();
        assert!(matches!(
            &shop_b.credentials,
            Credentials::Terminal { terminal_id, .. } if terminal_id == "tb"
        ));
    }

    #[test]
    fn named_accounts_alone_need_no_plain_key() {
        let accounts = read(AccountSettings::default(), &[("shop-a", key("ta", "sa"))]).unwrap();
        assert_eq!(accounts.len(), 1);
        assert!(accounts.get(&Merchant::default()).is_none());
    }

    #[test]
    fn an_account_has_a_key_or_a_company_never_both_nor_neither() {
        let partner = AccountSettings {
            company_id: Some("c-1".into()),
            bank_account: Some("b-1".into()),
            ..Default::default()
        };
        let accounts = read(key("t0", "s0"), &[("shop-p", partner)]).unwrap();
        let shop = accounts.get(&Merchant::parse("shop-p").unwrap()).unwrap();
        assert!(
            matches!(&shop.credentials, Credentials::Partner { company_id } if company_id == "c-1")
        );
        assert_eq!(shop.bank_account.as_deref(), Some("b-1"));

        let both = AccountSettings {
            company_id: Some("c-1".into()),
            ..key("t", "s")
        };
        let half = AccountSettings {
            terminal_id: Some("t".into()),
            ..Default::default()
        };
        let problems = read(
            key("t0", "s0"),
            &[("both", both), ("half", half), ("Bad_Name", key("t", "s"))],
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("FENA_ACCOUNTS: 'Bad_Name' is not a merchant name"));
        assert!(problems[1].starts_with("FENA_ACCOUNT_BOTH_COMPANY_ID: an account has either"));
        assert_eq!(
            problems[2],
            "FENA_ACCOUNT_HALF_TERMINAL_SECRET: required for the Fena account 'half'"
        );
    }

    #[test]
    fn without_any_account_the_plain_key_is_required_as_before() {
        let problems = read(AccountSettings::default(), &[]).unwrap_err();
        assert_eq!(
            problems,
            [
                "FENA_TERMINAL_ID: required while fena is enabled",
                "FENA_TERMINAL_SECRET: required while fena is enabled"
            ]
        );
        let problems = read(key("t0", "s0"), &[("default", key("t", "s"))]).unwrap_err();
        assert!(problems[0].starts_with("FENA_ACCOUNTS: 'default' is the account"));
    }

    #[test]
    fn the_gateway_learns_every_account_key() {
        assert_eq!(
            account_keys(),
            [
                "terminal_id",
                "terminal_secret",
                "bank_account",
                "company_id"
            ]
        );
    }
}
