//! How the console writes values for people: money in major units with its currency's
//! exponent (`12.99 GBP`, from minor units, no floats), times in UTC with their age
//! (`2026-11-29 21:40:12 UTC`, `3 min ago`).

use payrouter_provider::Money;

/// `12.99 GBP` for 1299 GBP minor units, `1299 JPY` for 1299 JPY.
pub fn money(m: &Money) -> String {
    let exponent = m.currency.exponent();
    // Written with exactly its currency's decimals, so it cannot lose precision.
    let major = m
        .to_decimal_string(exponent)
        .unwrap_or_else(|_| m.minor.to_string());
    format!("{major} {}", m.currency.code())
}

/// A time in ms since the epoch as `2026-11-29 21:40:12 UTC`.
pub fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".to_string())
}

/// How long before `now_ms` the time `ms` was (`3 min ago`), or how long until it is
/// (`in 20 s`).
pub fn age(ms: i64, now_ms: i64) -> String {
    let delta = (now_ms - ms) / 1000;
    let span = delta.unsigned_abs();
    let amount = match span {
        0..=59 => format!("{span} s"),
        60..=3599 => format!("{} min", span / 60),
        3600..=86_399 => format!("{} h", span / 3600),
        _ => format!("{} d", span / 86_400),
    };
    if delta >= 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payrouter_provider::Currency;

    fn m(minor: i64, code: &str) -> Money {
        Money::new(minor, Currency::from_code(code).unwrap())
    }

    #[test]
    fn money_is_written_with_its_currency_exponent() {
        assert_eq!(money(&m(1299, "GBP")), "12.99 GBP");
        assert_eq!(money(&m(5, "GBP")), "0.05 GBP");
        assert_eq!(money(&m(1299, "JPY")), "1299 JPY");
        assert_eq!(money(&m(1299, "KWD")), "1.299 KWD");
        assert_eq!(money(&m(100_000_000, "GBP")), "1000000.00 GBP");
    }

    #[test]
    fn times_are_utc_with_their_age() {
        assert_eq!(utc(1_795_976_260_497), "2026-11-29 18:17:40 UTC");
        let now = 1_000_000_000;
        assert_eq!(age(now - 5_000, now), "5 s ago");
        assert_eq!(age(now - 180_000, now), "3 min ago");
        assert_eq!(age(now - 7_200_000, now), "2 h ago");
        assert_eq!(age(now - 3 * 86_400_000, now), "3 d ago");
        assert_eq!(age(now + 20_000, now), "in 20 s");
    }
}
