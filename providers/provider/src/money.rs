//! Money as integer minor units with an ISO 4217 currency. Decimal strings exist only at a
//! provider's edge, and conversions never go through floating point.

use rust_decimal::Decimal;
use std::fmt;

/// An ISO 4217 currency that has a defined minor unit (so amounts can be converted exactly).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Parses an upper-case alphabetic code such as `GBP`.
    pub fn from_code(code: &str) -> Option<Currency> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let c = iso_currency::Currency::from_code(code)?;
        c.exponent()?;
        Some(Currency(c))
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// ISO 4217 numeric code, e.g. 840 for USD.
    pub fn numeric(self) -> u16 {
        self.0.numeric()
    }

    /// Number of minor-unit digits (GBP 2, JPY 0, KWD 3).
    pub fn exponent(self) -> u32 {
        self.0.exponent().map(u32::from).unwrap_or(0)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("{0} cannot be written with {1} decimals without losing precision")]
    Precision(String, u32),
    #[error("'{0}' is not a decimal amount")]
    NotDecimal(String),
    #[error("'{0}' is out of range")]
    Overflow(String),
}

/// A positive amount in minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// The amount in major units with exactly `decimals` digits after the point, e.g. 1299 GBP
    /// with 2 decimals is `"12.99"` and 1299 JPY is `"1299.00"`.
    pub fn to_decimal_string(&self, decimals: u32) -> Result<String, MoneyError> {
        let mut d = Decimal::new(self.minor, self.currency.exponent());
        if d.round_dp(decimals) != d {
            return Err(MoneyError::Precision(
                format!("{} {}", d, self.currency),
                decimals,
            ));
        }
        d.rescale(decimals);
        Ok(d.to_string())
    }

    /// Parses a provider's decimal string (`"12.99"`, `"12.3"`, `"12"`) into minor units.
    pub fn from_decimal_str(s: &str, currency: Currency) -> Result<Money, MoneyError> {
        let s = s.trim();
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(MoneyError::NotDecimal(s.to_string()));
        }
        let d: Decimal = s
            .parse()
            .map_err(|_| MoneyError::NotDecimal(s.to_string()))?;
        let exp = currency.exponent();
        if d.round_dp(exp) != d {
            return Err(MoneyError::Precision(s.to_string(), exp));
        }
        let scaled = d
            .checked_mul(Decimal::from(10i64.pow(exp)))
            .ok_or_else(|| MoneyError::Overflow(s.to_string()))?;
        let minor =
            i64::try_from(scaled.trunc()).map_err(|_| MoneyError::Overflow(s.to_string()))?;
        Ok(Money { minor, currency })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{currency, money};

    #[test]
    fn minor_units_become_decimal_strings_by_exponent() {
        for (minor, code, expected) in [
            (1299, "GBP", "12.99"),
            (1, "GBP", "0.01"),
            (1200, "GBP", "12.00"),
            (1299, "JPY", "1299.00"),
            (1230, "KWD", "1.23"),
            (i64::MAX, "GBP", "92233720368547758.07"),
        ] {
            let decimal = money(minor, code).to_decimal_string(2);
            assert_eq!(decimal.unwrap(), expected, "{minor} {code}");
        }
        assert!(money(1234, "KWD").to_decimal_string(2).is_err());
    }

    #[test]
    fn decimal_strings_become_minor_units() {
        let gbp = currency("GBP");
        assert_eq!(Money::from_decimal_str("12.99", gbp).unwrap().minor, 1299);
        assert_eq!(Money::from_decimal_str("12.3", gbp).unwrap().minor, 1230);
        assert_eq!(Money::from_decimal_str("7", gbp).unwrap().minor, 700);
        assert_eq!(
            Money::from_decimal_str("1.0", currency("JPY"))
                .unwrap()
                .minor,
            1
        );
        assert!(Money::from_decimal_str("1.001", gbp).is_err());
        assert!(Money::from_decimal_str("1e3", gbp).is_err());
        assert!(Money::from_decimal_str("", gbp).is_err());
        assert!(Money::from_decimal_str("99999999999999999999999", gbp).is_err());
    }

    #[test]
    fn currencies_are_strict_iso_codes() {
        assert_eq!(currency("USD").numeric(), 840);
        assert_eq!(currency("EUR").numeric(), 978);
        assert_eq!(currency("JPY").exponent(), 0);
        assert!(Currency::from_code("gbp").is_none());
        assert!(Currency::from_code("XXY").is_none());
        assert!(Currency::from_code("XAU").is_none(), "no minor unit");
    }
}
