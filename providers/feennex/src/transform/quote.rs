//! The answer to `invoice/try`: Feennex's figures for a payment, read from their number tokens
//! as decimals (never floats) into minor units of the payer's currency (`ps_currency`).

use payrouter_provider::{Money, ProviderError, Quote, QuoteOutcome};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::answer::Envelope;
use super::error_code::quote_error;
use super::raw_json::{currency_of, integer_of, money_of, scalar, unusable, RawEntries, Scalar};
use super::Shop;

/// `data` of a successful invoice/try; amounts stay raw JSON tokens until parsed as decimals.
#[derive(Debug, Deserialize)]
struct TryData {
    payer_price: Box<RawValue>,
    payer_fee: Option<Box<RawValue>>,
    exch_fee: Option<Box<RawValue>>,
    ps_currency: Box<RawValue>,
    paymethod_name: Option<String>,
    add_ons_config: Option<Box<RawValue>>,
}

/// Maps the answer to invoice/try for `payway`.
pub fn quote_outcome(
    env: Envelope,
    payway: &str,
    shop: &Shop,
) -> Result<QuoteOutcome, ProviderError> {
    if !env.result {
        return quote_error(&env, shop);
    }
    let d: TryData = env.data_as("invoice/try")?;
    let numeric = integer_of(&d.ps_currency, "ps_currency")?;
    let currency = currency_of(numeric).ok_or_else(|| {
        unusable(format_args!(
            "ps_currency {numeric} is not an ISO 4217 currency"
        ))
    })?;
    let zero = Money::new(0, currency);
    let payer_amount = money_of(Some(&d.payer_price), currency, "payer_price")?
        .ok_or_else(|| unusable("payer_price is null"))?;
    Ok(QuoteOutcome::Quoted(Quote {
        payer_amount,
        payer_fee: money_of(d.payer_fee.as_deref(), currency, "payer_fee")?.unwrap_or(zero),
        exchange_fee: money_of(d.exch_fee.as_deref(), currency, "exch_fee")?.unwrap_or(zero),
        payer_currency: currency,
        payway: payway.to_string(),
        paymethod_name: d.paymethod_name.unwrap_or_default(),
        required_fields: required_fields(d.add_ons_config.as_deref())?,
    }))
}

/// The names of the extra fields a payment method needs: the keys of `add_ons_config`, in the
/// order Feennex sent them.
fn required_fields(config: Option<&RawValue>) -> Result<Vec<String>, ProviderError> {
    let Some(config) = config else {
        return Ok(Vec::new());
    };
    match scalar(config) {
        Scalar::Null => Ok(Vec::new()),
        Scalar::Composite(text) if text.starts_with('{') => {
            let entries: RawEntries = serde_json::from_str(&text)
                .map_err(|_| unusable("add_ons_config is not an object"))?;
            Ok(entries.0.into_iter().map(|(key, _)| key).collect())
        }
        // An empty list is how a Python server may write "no extra fields".
        Scalar::Composite(text) if text.trim() == "[]" => Ok(Vec::new()),
        _ => Err(unusable("add_ons_config is not an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{cur, shop};
    use super::*;
    use serde_json::json;

    fn answer(data: serde_json::Value) -> Envelope {
        serde_json::from_value(
            json!({"data": data, "error_code": 0, "message": "Ok", "result": true}),
        )
        .unwrap()
    }

    fn quoted(data: serde_json::Value) -> Quote {
        match quote_outcome(answer(data), "card_usd", &shop()).unwrap() {
            QuoteOutcome::Quoted(q) => q,
            other => panic!("expected a quote, got {other:?}"),
        }
    }

    #[test]
    fn figures_are_exact_minor_units_of_the_payers_currency() {
        let raw = r#"{"data": {"add_ons_config": {"email": {"regex": "x"}, "phone": {}},
            "exch_fee": 0.1, "payer_fee": 0.37, "payer_price": 12.71, "paymethod_name": "Card",
            "ps_currency": 840}, "error_code": 0, "message": "Ok", "result": true}"#;
        let env: Envelope = serde_json::from_str(raw).unwrap();
        let QuoteOutcome::Quoted(q) = quote_outcome(env, "card_usd", &shop()).unwrap() else {
            panic!("expected a quote")
        };
        assert_eq!(q.payer_amount, Money::new(1271, cur("USD")));
        assert_eq!(q.payer_fee, Money::new(37, cur("USD")));
        assert_eq!(q.exchange_fee, Money::new(10, cur("USD")));
        assert_eq!(q.payer_currency, cur("USD"));
        assert_eq!(q.paymethod_name, "Card");
        assert_eq!(q.required_fields, vec!["email", "phone"]);
    }

    #[test]
    fn zero_exponent_currencies_and_the_seed_example() {
        let q = quoted(
            json!({"add_ons_config": {}, "exch_fee": 0, "info": null, "manual": 1,
            "payer_fee": 0, "payer_price": 500, "paymethod_id": 268,
            "paymethod_name": "Банк h2h", "ps_currency": 643, "warning": null}),
        );
        assert_eq!(q.payer_amount, Money::new(50000, cur("RUB")));
        assert_eq!(q.payer_fee.minor, 0);
        assert!(q.required_fields.is_empty());
        let raw = r#"{"data": {"payer_price": 1030.0, "payer_fee": 30.0, "exch_fee": 0,
            "ps_currency": 392, "add_ons_config": []}, "error_code": 0, "message": "Ok", "result": true}"#;
        let QuoteOutcome::Quoted(q) =
            quote_outcome(serde_json::from_str(raw).unwrap(), "card_jpy", &shop()).unwrap()
        else {
            panic!("expected a quote")
        };
        assert_eq!(q.payer_amount, Money::new(1030, cur("JPY")));
        assert_eq!(q.payer_fee, Money::new(30, cur("JPY")));
    }

    #[test]
    fn unusable_figures_are_not_guessed() {
        for data in [
            json!({"payer_price": 12.345, "ps_currency": 840}),
            json!({"payer_price": "abc", "ps_currency": 840}),
            json!({"payer_price": 1, "ps_currency": 1}),
            json!({"payer_price": 1, "ps_currency": 840, "add_ons_config": "email"}),
            json!({"ps_currency": 840}),
        ] {
            let e = quote_outcome(answer(data.clone()), "card_usd", &shop()).unwrap_err();
            assert!(matches!(e, ProviderError::Unavailable(_)), "{data}: {e:?}");
        }
    }

    #[test]
    fn refusals_are_mapped_as_for_pay() {
        let refusal = |code: i64, message: &str| -> Envelope {
            serde_json::from_value(
                json!({"data": null, "error_code": code, "message": message, "result": false}),
            )
            .unwrap()
        };
        assert_eq!(
            quote_outcome(
                refusal(4, "Payer price amount is too small, min: 1.0"),
                "card_usd",
                &shop()
            )
            .unwrap(),
            QuoteOutcome::Declined {
                message: "Feennex: Payer price amount is too small, min: 1.0".into()
            }
        );
        let e = quote_outcome(refusal(10, "Invalid sign"), "card_usd", &shop()).unwrap_err();
        assert!(e.to_string().contains("FEENNEX_SECRET_KEY"), "{e}");
        let e = quote_outcome(refusal(11, "Shop not found"), "card_usd", &shop()).unwrap_err();
        assert!(e.to_string().contains("FEENNEX_SHOP_ID"), "{e}");
    }
}
