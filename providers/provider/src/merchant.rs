//! The merchant a payment is made for: the name of one of a provider's configured accounts
//! (its own API key, bank account, …). The gateway only carries the name, from
//! `providerData.merchant` to the payment record and back to every later provider call; what
//! an account is stays inside each adapter. A provider with a single account knows only
//! [`Merchant::DEFAULT`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest merchant name, in characters.
pub const MERCHANT_MAX: usize = 40;

/// A merchant (account) name: 1-40 of `a-z`, `0-9` and `-`, starting with a letter or digit.
/// The shape keeps it safe in metric labels, logs and environment names
/// (`shop-a` → `…_ACCOUNT_SHOP_A_…`, one way only).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Merchant(String);

impl Merchant {
    /// The name of the account a provider's plain settings configure, and of every payment
    /// that names no merchant.
    pub const DEFAULT: &'static str = "default";

    /// `name` when it has the shape of a merchant name; else what is expected.
    pub fn parse(name: &str) -> Result<Merchant, String> {
        let ok = !name.is_empty()
            && name.len() <= MERCHANT_MAX
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Merchant(name.to_string()))
        } else {
            Err(format!(
                "'{name}' is not a merchant name: expected 1-{MERCHANT_MAX} of a-z, 0-9 and '-', \
                 not starting with '-'"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }

    /// The name as it appears inside an environment variable: upper case, `-` as `_`.
    pub fn env_name(&self) -> String {
        self.0.to_ascii_uppercase().replace('-', "_")
    }
}

impl Default for Merchant {
    fn default() -> Self {
        Merchant(Self::DEFAULT.to_string())
    }
}

impl fmt::Display for Merchant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_one_shape() {
        for good in ["default", "shop-a", "b2", "9-lives"] {
            assert_eq!(Merchant::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "Shop", "shop_a", "-a", "a b", &"x".repeat(41)] {
            let why = Merchant::parse(bad).unwrap_err();
            assert!(why.contains("not a merchant name"), "{why}");
        }
        assert_eq!(Merchant::parse("shop-a").unwrap().env_name(), "SHOP_A");
        assert!(Merchant::default().is_default());
    }

    #[test]
    fn a_record_without_a_merchant_reads_as_default() {
        #[derive(Deserialize)]
        struct Record {
            #[serde(default)]
            merchant: Merchant,
        }
        let old: Record = serde_json::from_str("{}").unwrap();
        assert_eq!(old.merchant, Merchant::default());
        let new: Record = serde_json::from_str(r#"{"merchant":"shop-b"}"#).unwrap();
        assert_eq!(new.merchant.as_str(), "shop-b");
    }
}
