//! Feennex's `error_code`s: one table of what each documented code is called and what it means
//! for the router, and the errors a refused `invoice/create`, `invoice/try` or `invoice/check`
//! becomes.

use payrouter_provider::{PayOutcome, ProviderError, QuoteOutcome};

use super::answer::Envelope;
use super::Shop;

/// Without Feennex's text: a sign error echoes the string-to-sign, kept out of answers and logs.
const SIGN_ERROR: &str =
    "Feennex rejected the request signature (error 10): check FEENNEX_SECRET_KEY";
const SHOP_HINT: &str = "check FEENNEX_SHOP_ID and the shop's status";
const IP_HINT: &str = "add this server's IP to the shop's allowed IPs";
const CONTRACT_HINT: &str = "the shop's contract does not allow this: ask the Feennex account manager to check the shop's contract and tariffs";
const AGGREGATOR_HINT: &str =
    "the shop must be attached to an aggregator: ask the Feennex account manager";
const PROJECT_HINT: &str = "check FEENNEX_SHOP_ID and the shop's project in the Feennex dashboard";

/// What an `error_code` means for the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorClass {
    /// Feennex refused this payment (payway, amount, duplicate order, balance, …).
    Refusal,
    /// A parameter other than the signature was refused. The ones we build ourselves (amount,
    /// currency, shop_id, shop_order_id) are validated before sending, so this is almost always
    /// the payer's data (e-mail, description, redirect URL): a refusal of this payment.
    BadParameter,
    /// Code 10 about the signature: FEENNEX_SECRET_KEY does not match the shop.
    BadSign,
    NotFound,
    /// Our configuration is at fault; the hint says what to check.
    Configuration(&'static str),
    /// Feennex failed internally.
    Internal,
    /// 0 with `result: false` is contradictory, and undocumented codes are not guessed at.
    Unknown,
}

use ErrorClass::*;

/// Every documented `error_code`: its number, Feennex's name, and its meaning here.
const CODES: &[(i64, &str, ErrorClass)] = &[
    (0, "OK", Unknown),
    (1, "PaywayNotFound", Refusal),
    (2, "PaywayNotUsed", Refusal),
    (3, "PaywayNotAvailable", Refusal),
    (4, "AmountTooSmall", Refusal),
    (5, "AmountTooLarge", Refusal),
    (6, "OperationNotUnique", Refusal),
    (7, "OperationNotFound", NotFound),
    (8, "OperationIsProcessing", Refusal),
    (9, "InsufficientBalance", Refusal),
    // BadSign instead when the message is about the signature (see `classify`).
    (10, "IncorrectRequestParam", BadParameter),
    (11, "ShopNotFound", Configuration(SHOP_HINT)),
    (12, "ShopNotActive", Configuration(SHOP_HINT)),
    (13, "AccountNotFound", Refusal),
    (14, "IncorrectAccountStatus", Refusal),
    (15, "RequestIpDenied", Configuration(IP_HINT)),
    (16, "InvalidCurrencyExchange", Refusal),
    (17, "InvalidShopContract", Configuration(CONTRACT_HINT)),
    (18, "IncorrectAccountType", Refusal),
    (19, "ShopAggregatorRequire", Configuration(AGGREGATOR_HINT)),
    // Deprecated, but if they come back they are about the shop's project setup.
    (20, "InvalidProject", Configuration(PROJECT_HINT)),
    (21, "ProjectNotActive", Configuration(PROJECT_HINT)),
    (100, "IncorrectOperationStatus", Refusal),
    (2000, "OtherException", Internal),
];

fn entry(code: i64) -> Option<&'static (i64, &'static str, ErrorClass)> {
    CODES.iter().find(|(c, _, _)| *c == code)
}

fn classify(code: i64, message: &str) -> ErrorClass {
    match entry(code).map(|(_, _, class)| *class) {
        Some(BadParameter) if mentions_sign(message) => BadSign,
        Some(class) => class,
        None => Unknown,
    }
}

/// Code 10 covers every bad parameter; only a bad signature is a configuration problem.
fn mentions_sign(message: &str) -> bool {
    message
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word == "sign" || word == "signature")
}

/// The error of a `result: false` answer: its code and its message ("" when absent).
fn error_of(env: &Envelope) -> (i64, String) {
    let message = match &env.message {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    (env.error_code.unwrap_or(0), message)
}

/// The code of a refusal this table does not explain, for the adapter to log.
pub fn undocumented_code(env: &Envelope) -> Option<i64> {
    if env.result {
        return None;
    }
    let (code, message) = error_of(env);
    (classify(code, &message) == Unknown).then_some(code)
}

/// "Feennex's message (error N)", falling back to the code's name when the message is empty.
fn describe(code: i64, message: &str, shop: &Shop) -> String {
    if message.trim().is_empty() {
        match entry(code) {
            Some((_, name, _)) => format!("{name} (error {code})"),
            None => format!("error {code}"),
        }
    } else {
        format!("{} (error {code})", shop.quote(message))
    }
}

fn configuration_error(code: i64, message: &str, hint: &str, shop: &Shop) -> ProviderError {
    ProviderError::Misconfigured(format!(
        "Feennex refused the request: {}: {hint}",
        describe(code, message, shop)
    ))
}

/// Maps a `result: false` answer to invoice/create.
pub(super) fn pay_error(env: &Envelope, shop: &Shop) -> Result<PayOutcome, ProviderError> {
    refusal_message(env, shop, "create the invoice", "invoice/create")
        .map(|message| PayOutcome::Declined { message })
}

/// Maps a `result: false` answer to invoice/try exactly as one to invoice/create: what would
/// refuse the payment refuses its quote.
pub(super) fn quote_error(env: &Envelope, shop: &Shop) -> Result<QuoteOutcome, ProviderError> {
    refusal_message(env, shop, "precalculate the payment", "invoice/try")
        .map(|message| QuoteOutcome::Declined { message })
}

/// The `KO` message of a refusal of this payment, or the error when the refusal is about our
/// configuration or Feennex itself. `doing` and `path` name the call in those errors.
fn refusal_message(
    env: &Envelope,
    shop: &Shop,
    doing: &str,
    path: &str,
) -> Result<String, ProviderError> {
    let (code, message) = error_of(env);
    match classify(code, &message) {
        Refusal | BadParameter => {
            let text = if message.trim().is_empty() {
                describe(code, &message, shop)
            } else {
                shop.quote(&message)
            };
            Ok(format!("Feennex: {text}"))
        }
        BadSign => Err(ProviderError::Misconfigured(SIGN_ERROR.into())),
        Configuration(hint) => Err(configuration_error(code, &message, hint, shop)),
        NotFound | Internal => Err(ProviderError::Unavailable(format!(
            "Feennex could not {doing}: {}",
            describe(code, &message, shop)
        ))),
        Unknown => Err(ProviderError::Unavailable(format!(
            "Feennex answered {path} with an unknown error: {}",
            describe(code, &message, shop)
        ))),
    }
}

/// Maps a `result: false` answer to invoice/check.
pub(super) fn check_error(env: &Envelope, shop_order_id: &str, shop: &Shop) -> ProviderError {
    let (code, message) = error_of(env);
    match classify(code, &message) {
        NotFound => ProviderError::NotFound(format!(
            "Feennex has no invoice with shop_order_id '{shop_order_id}'"
        )),
        BadSign => ProviderError::Misconfigured(SIGN_ERROR.into()),
        Configuration(hint) => configuration_error(code, &message, hint, shop),
        Refusal | BadParameter | Internal => ProviderError::Unavailable(format!(
            "Feennex refused the status check: {}",
            describe(code, &message, shop)
        )),
        Unknown => ProviderError::Unavailable(format!(
            "Feennex answered invoice/check with an unknown error: {}",
            describe(code, &message, shop)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::answer::check_data;
    use super::super::fixtures::{shop, SECRET};
    use super::super::pay_outcome;
    use super::*;
    use serde_json::json;

    fn refusal(code: i64, message: &str) -> Envelope {
        serde_json::from_value(
            json!({"data": null, "error_code": code, "message": message, "result": false}),
        )
        .unwrap()
    }

    fn declined(code: i64, message: &str) -> String {
        match pay_outcome(refusal(code, message), "4126", &shop()) {
            Ok(PayOutcome::Declined { message }) => message,
            other => panic!("code {code}: expected Declined, got {other:?}"),
        }
    }

    fn pay_err(code: i64, message: &str) -> ProviderError {
        match pay_outcome(refusal(code, message), "4126", &shop()) {
            Err(e) => e,
            Ok(other) => panic!("code {code}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn business_refusals_are_declined_with_feennex_message() {
        for code in [1, 2, 3, 4, 5, 6, 8, 9, 13, 14, 16, 18, 100] {
            assert_eq!(declined(code, "some reason"), "Feennex: some reason");
        }
        assert_eq!(
            declined(4, "Payer price amount is too small, min: 1.0"),
            "Feennex: Payer price amount is too small, min: 1.0"
        );
        assert_eq!(declined(6, ""), "Feennex: OperationNotUnique (error 6)");
        assert_eq!(
            declined(10, "Incorrect values for parameters: email"),
            "Feennex: Incorrect values for parameters: email"
        );
    }

    #[test]
    fn configuration_refusals_name_the_setting() {
        let cases = [
            (
                10,
                "Invalid sign, string_to_sign: 12.34:840:card_usd:5:4126",
                "check FEENNEX_SECRET_KEY",
            ),
            (10, "sign: wrong", "check FEENNEX_SECRET_KEY"),
            (
                11,
                "Shop not found",
                "check FEENNEX_SHOP_ID and the shop's status",
            ),
            (12, "", "check FEENNEX_SHOP_ID and the shop's status"),
            (
                15,
                "Shop ip 1.2.3.4 denied",
                "add this server's IP to the shop's allowed IPs",
            ),
            (17, "", "contract"),
            (19, "", "aggregator"),
            (20, "", "FEENNEX_SHOP_ID"),
            (21, "", "FEENNEX_SHOP_ID"),
        ];
        for (code, message, hint) in cases {
            match pay_err(code, message) {
                ProviderError::Misconfigured(m) => {
                    assert!(m.contains(hint), "code {code}: {m}");
                    assert!(m.contains(&format!("error {code}")), "code {code}: {m}");
                }
                other => panic!("code {code}: {other:?}"),
            }
        }
        // The IP is worth showing; the string-to-sign is not.
        assert!(pay_err(15, "Shop ip 1.2.3.4 denied")
            .to_string()
            .contains("1.2.3.4"));
        assert!(!pay_err(10, "Invalid sign, string_to_sign: 12.34:840")
            .to_string()
            .contains("12.34"));
    }

    #[test]
    fn feennex_failures_and_unknown_codes_are_unavailable() {
        for code in [7, 2000, 0, 22, 999, -1] {
            assert!(
                matches!(pay_err(code, "x"), ProviderError::Unavailable(_)),
                "code {code}"
            );
        }
    }

    #[test]
    fn secret_is_never_quoted() {
        let e = pay_err(15, "Shop ip denied, key SecretKey01");
        assert!(!e.to_string().contains(SECRET), "{e}");
        assert_eq!(
            declined(4, "too small SecretKey01"),
            "Feennex: too small [redacted]"
        );
    }

    #[test]
    fn every_documented_code_has_a_name() {
        for code in (0..=21).chain([100, 2000]) {
            assert!(entry(code).is_some(), "{code}");
        }
        assert_eq!(entry(22), None);
    }

    #[test]
    fn check_errors() {
        let err = |code, msg: &str| check_data(refusal(code, msg), "4126", &shop()).unwrap_err();
        assert!(matches!(
            err(7, "Invoice wasn't found"),
            ProviderError::NotFound(_)
        ));
        for code in [11, 12, 15, 17, 19, 20, 21] {
            assert!(
                matches!(err(code, ""), ProviderError::Misconfigured(_)),
                "{code}"
            );
        }
        assert!(err(10, "Invalid sign")
            .to_string()
            .contains("FEENNEX_SECRET_KEY"));
        for code in [
            1, 2, 3, 4, 5, 6, 8, 9, 10, 13, 14, 16, 18, 100, 2000, 0, 4242,
        ] {
            assert!(
                matches!(err(code, "x"), ProviderError::Unavailable(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn undocumented_codes_are_reported_for_logging() {
        for code in [0, 22, 999, -1] {
            assert_eq!(undocumented_code(&refusal(code, "x")), Some(code));
        }
        for code in [1, 7, 10, 15, 2000] {
            assert_eq!(undocumented_code(&refusal(code, "x")), None);
        }
        let ok: Envelope =
            serde_json::from_value(json!({"result": true, "error_code": 22})).unwrap();
        assert_eq!(undocumented_code(&ok), None);
    }
}
