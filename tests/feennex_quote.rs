//! `POST /v3/{provider}/quote` over real HTTP against the Feennex simulator, which checks the
//! signature of invoice/try and prices with a fee of 3% rounded up to the minor unit: the
//! figures must come back exact, in minor units, for every currency exponent, and Feennex's
//! refusals must be mapped as they are for pay.

mod common;

use common::feennex_sim::{IDLE_FENA, SIM_SECRET_KEY, SIM_SHOP_ID};
use common::*;
use serde_json::{json, Value};

/// A router with Feennex at `sim`, as shop `shop_id` with `secret_key` (and Fena beside it,
/// which has no quote).
async fn router_as(sim: &FeennexSim, shop_id: u64, secret_key: &str) -> TestRouter {
    let feennex = sim.section_as(shop_id, secret_key, "");
    let toml =
        format!("enabled_providers = \"fena,feennex\"\nlog_level = \"warn\"\n{IDLE_FENA}{feennex}");
    TestRouter::start(&toml).await
}

async fn router(sim: &FeennexSim) -> TestRouter {
    router_as(sim, SIM_SHOP_ID, SIM_SECRET_KEY).await
}

#[tokio::test]
async fn quote_figures_are_exact_in_minor_units_for_every_exponent() {
    let sim = FeennexSim::start().await;
    let router = router(&sim).await;
    // (amount, currency, payway, payerAmount, payerFee): fee = ceil(3% of the amount).
    let table: &[(i64, &str, Option<&str>, i64, i64)] = &[
        (1234, "USD", None, 1272, 38),
        (100, "USD", Some("card_usd"), 103, 3),
        (1000, "EUR", Some("card_eur"), 1030, 30),
        (5000, "GBP", Some("card_gbp"), 5150, 150),
        (1999, "GBP", Some("card_gbp"), 2059, 60),
        (1000, "JPY", Some("card_usd"), 1030, 30),
        (999, "JPY", Some("card_usd"), 1029, 30),
        (15000, "KRW", Some("card_usd"), 15450, 450),
        (9_999_999, "USD", Some("card_usd"), 10_299_999, 300_000),
    ];
    for &(amount, currency, payway, payer_amount, payer_fee) in table {
        let mut body = json!({"amount": amount, "currency": currency});
        if let Some(payway) = payway {
            body["providerData"] = json!({"payway": payway});
        }
        let (status, quote) = router.post("/v3/feennex/quote", &body).await;
        assert_eq!(status, 200, "{body}: {quote}");
        assert_eq!(quote["result"], "OK", "{quote}");
        assert_eq!(quote["payerAmount"], payer_amount, "{body}: {quote}");
        assert_eq!(quote["payerFee"], payer_fee, "{body}: {quote}");
        assert_eq!(quote["exchangeFee"], 0, "{quote}");
        assert_eq!(quote["payerCurrency"], currency, "{quote}");
        assert_eq!(quote["payway"], payway.unwrap_or("card_usd"), "{quote}");
        assert_eq!(quote["paymethodName"], "Bank card", "{quote}");
        assert_eq!(quote["requiredFields"], json!(["email"]), "{quote}");
    }
    let (status, bank) = router
        .post(
            "/v3/feennex/quote",
            &json!({"amount": 10000, "currency": "USD", "providerData": {"payway": "bank_usd"}}),
        )
        .await;
    assert_eq!(status, 200, "{bank}");
    assert_eq!(bank["payerAmount"], 10300);
    assert_eq!(bank["paymethodName"], "Bank transfer");
    assert_eq!(bank["requiredFields"], json!(["email", "phone"]));
    assert!(
        sim.invoices().await.is_empty(),
        "a quote must not create an invoice"
    );
}

fn assert_ko(quote: &Value, expected: &str) {
    assert_eq!(quote["result"], "KO", "{quote}");
    assert_eq!(quote["resultDescription"], expected, "{quote}");
    assert!(quote.get("payerAmount").is_none(), "{quote}");
}

#[tokio::test]
async fn refusals_are_ko_and_configuration_errors_are_502_naming_the_setting() {
    let sim = FeennexSim::start().await;
    let router = router(&sim).await;
    let quote = |amount: i64, payway: &str| json!({"amount": amount, "currency": "USD", "providerData": {"payway": payway}});
    for (amount, payway, refusal) in [
        (99, "card_usd", "Payer price amount is too small, min: 1.0"),
        (
            10_000_001,
            "card_usd",
            "Payer price amount is too large, max: 100000.0",
        ),
        (
            1000,
            "card_xyz",
            "Payway (alias = card_xyz) is not available for shop",
        ),
    ] {
        let (status, answer) = router
            .post("/v3/feennex/quote", &quote(amount, payway))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_ko(&answer, &format!("Feennex: {refusal}"));
    }

    let wrong_secret = router_as(&sim, SIM_SHOP_ID, "NotTheSecret").await;
    let (status, body) = wrong_secret
        .post("/v3/feennex/quote", &quote(1000, "card_usd"))
        .await;
    assert_error_mentions(status, &body, 502, "FEENNEX_SECRET_KEY");
    let wrong_shop = router_as(&sim, 77, SIM_SECRET_KEY).await;
    let (status, body) = wrong_shop
        .post("/v3/feennex/quote", &quote(1000, "card_usd"))
        .await;
    assert_error_mentions(status, &body, 502, "FEENNEX_SHOP_ID");
    assert!(sim.invoices().await.is_empty());
}

#[tokio::test]
async fn bad_input_is_400_and_other_providers_501() {
    let sim = FeennexSim::start().await;
    let router = router(&sim).await;
    let (status, body) = router
        .post("/v3/feennex/quote", &json!({"amount": 1000}))
        .await;
    assert_error_mentions(status, &body, 400, "currency");
    let (status, body) = router
        .post(
            "/v3/feennex/quote",
            &json!({"amount": 1000, "currency": "USD", "providerData": {"payway": 7}}),
        )
        .await;
    assert_error_mentions(status, &body, 400, "providerData.payway");
    let (status, body) = router
        .post(
            "/v3/fena/quote",
            &json!({"amount": 1000, "currency": "GBP"}),
        )
        .await;
    assert_error_mentions(status, &body, 501, "quote");
}
