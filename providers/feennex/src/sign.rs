//! Feennex signatures: the values of the signed keys, sorted by key and joined with `:`, then
//! the shop's secret key (no separator), SHA-256, lowercase hex. Requests sign the endpoint's
//! required keys; callbacks sign every non-empty field they carry.

use payrouter_provider::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a callback signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignError {
    /// No `sign` field, or an empty one.
    Missing,
    /// A `sign` that is not the one our secret gives for these fields.
    Mismatch,
}

/// Signs `fields` (key, value as sent). The order of `fields` does not matter.
pub fn sign<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)], secret: &SecretString) -> String {
    hex::encode(digest(fields, secret))
}

/// Checks a callback's `sign` against all its other fields. Empty values are left out, as
/// Feennex does; the others are used exactly as received.
pub fn verify_callback(
    fields: &[(String, String)],
    secret: &SecretString,
) -> Result<(), SignError> {
    // Hex never contains whitespace, so trimming cannot make a wrong sign match.
    let received = fields
        .iter()
        .find(|(k, _)| k == "sign")
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or(SignError::Missing)?;
    let signed: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, v)| k != "sign" && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected = digest(&signed, secret);
    // Decoding the hex makes the comparison case-insensitive; a length mismatch compares false.
    let received = hex::decode(received).map_err(|_| SignError::Mismatch)?;
    if bool::from(received.as_slice().ct_eq(expected.as_slice())) {
        Ok(())
    } else {
        Err(SignError::Mismatch)
    }
}

fn digest<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)], secret: &SecretString) -> [u8; 32] {
    let mut sorted: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    // Byte order of UTF-8 is code-point order, which is what Feennex's (Python) `sorted` uses.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut hasher = Sha256::new();
    for (i, (_, value)) in sorted.iter().enumerate() {
        if i > 0 {
            hasher.update(b":");
        }
        hasher.update(value.as_bytes());
    }
    hasher.update(secret.expose_secret().as_bytes());
    hasher.finalize().into()
}

/// The signature test vectors (CONTRACT.md §5 and the worked callback of the Feennex notes),
/// kept once: the unit tests of this crate, its HTTP tests and the simulator's all check
/// against these.
pub mod vectors {
    /// The secret key every vector is signed with.
    pub const SECRET: &str = "SecretKey01";

    /// `12.34:980:card_uah:5:4126SecretKey01`: the fields in a deliberately unsorted order.
    pub const STRING_TO_SIGN: [(&str, &str); 5] = [
        ("shop_order_id", "4126"),
        ("payway", "card_uah"),
        ("amount", "12.34"),
        ("shop_id", "5"),
        ("currency", "980"),
    ];
    pub const STRING_TO_SIGN_SIGN: &str =
        "4c2608a8638c0650d54dd4809bd69ab50d1a1cd55f2e13366b68d43caee34104";

    /// The signed keys of an invoice/create for 12.34 USD.
    pub const INVOICE_CREATE: [(&str, &str); 5] = [
        ("amount", "12.34"),
        ("currency", "840"),
        ("payway", "card_usd"),
        ("shop_id", "5"),
        ("shop_order_id", "4126"),
    ];
    pub const INVOICE_CREATE_SIGN: &str =
        "3f83963165cac93c554bdfe08b54edc9d24f570839f624468e7950724ebc25b9";

    /// The body of that invoice/create as the adapter sends it for `payer@example.com`, with
    /// the router's callback URL (`https://router.example`) and no optional field.
    pub fn invoice_create_body() -> serde_json::Value {
        serde_json::json!({
            "amount": "12.34",
            "currency": 840,
            "payway": "card_usd",
            "shop_id": 5,
            "shop_order_id": "4126",
            "sign": INVOICE_CREATE_SIGN,
            "email": "payer@example.com",
            "callback_url": "https://router.example/v3/feennex/callback",
            "callback_rejected_url": "https://router.example/v3/feennex/callback",
        })
    }

    /// The signed keys of an invoice/check.
    pub const INVOICE_CHECK: [(&str, &str); 3] = [
        ("shop_order_id", "4126"),
        ("now", "2024-04-12T06:18:34"),
        ("shop_id", "5"),
    ];
    pub const INVOICE_CHECK_SIGN: &str =
        "521160094068f83d05e489f75eb1a7d63a74f5a0f62181c156139615fe58cb78";

    /// The worked callback example, in received order, without its `sign` (an empty value,
    /// `description`, is left out of the signature).
    pub const CALLBACK: [(&str, &str); 17] = [
        ("client_price", "10.5"),
        ("created", "2024-12-03 14:39:02"),
        ("description", ""),
        ("email", "a@b.c"),
        ("lang", "en"),
        ("payment_id", "123"),
        ("payway", "card_usd"),
        ("processed", "2024-12-03 15:47:07"),
        ("ps_currency", "840"),
        ("ps_data", r#"{"ps_payer_account": "424242XXXXXX4242"}"#),
        ("shop_amount", "10.5"),
        ("shop_currency", "840"),
        ("shop_id", "5"),
        ("shop_order_id", "4126"),
        ("shop_refund", "10.0"),
        ("status", "success"),
        ("user_ip", "1.2.3.4"),
    ];
    pub const CALLBACK_SIGN: &str =
        "a3e88c4a724709ec3148fc9c1e06966bdc0653c73b84c62bf0e5e33e59053b4b";
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::vectors;

    fn secret() -> SecretString {
        SecretString::from(vectors::SECRET)
    }

    fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn request_vectors() {
        for (fields, expected) in [
            (&vectors::STRING_TO_SIGN[..], vectors::STRING_TO_SIGN_SIGN),
            (&vectors::INVOICE_CREATE[..], vectors::INVOICE_CREATE_SIGN),
            (&vectors::INVOICE_CHECK[..], vectors::INVOICE_CHECK_SIGN),
        ] {
            assert_eq!(sign(fields, &secret()), expected, "{fields:?}");
        }
    }

    /// The worked callback example, in received order, with its sign.
    fn worked_callback() -> Vec<(String, String)> {
        let mut fields = owned(&vectors::CALLBACK);
        fields.push(("sign".into(), vectors::CALLBACK_SIGN.into()));
        fields
    }

    #[test]
    fn worked_callback_vector() {
        let fields = worked_callback();
        let unsigned: Vec<_> = fields
            .iter()
            .filter(|(k, v)| k != "sign" && !v.is_empty())
            .cloned()
            .collect();
        assert_eq!(sign(&unsigned, &secret()), vectors::CALLBACK_SIGN);
        assert_eq!(verify_callback(&fields, &secret()), Ok(()));
    }

    #[test]
    fn callback_field_order_does_not_matter() {
        let mut fields = worked_callback();
        fields.reverse();
        assert_eq!(verify_callback(&fields, &secret()), Ok(()));
    }

    #[test]
    fn callback_sign_is_case_insensitive() {
        let mut fields = worked_callback();
        let last = fields.len() - 1;
        fields[last].1 = fields[last].1.to_ascii_uppercase();
        assert_eq!(verify_callback(&fields, &secret()), Ok(()));
    }

    #[test]
    fn callback_empty_values_are_not_signed() {
        let mut fields = worked_callback();
        fields.insert(0, ("addons".into(), String::new()));
        assert_eq!(verify_callback(&fields, &secret()), Ok(()));
    }

    #[test]
    fn callback_tampered_field_or_sign_is_refused() {
        let mut fields = worked_callback();
        fields[0].1 = "10.50".into();
        assert_eq!(
            verify_callback(&fields, &secret()),
            Err(SignError::Mismatch)
        );

        let mut fields = worked_callback();
        let last = fields.len() - 1;
        fields[last].1.replace_range(0..1, "b");
        assert_eq!(
            verify_callback(&fields, &secret()),
            Err(SignError::Mismatch)
        );

        let mut fields = worked_callback();
        fields[last].1.truncate(10);
        assert_eq!(
            verify_callback(&fields, &secret()),
            Err(SignError::Mismatch)
        );

        let mut fields = worked_callback();
        fields[last].1 = "not hex at all".into();
        assert_eq!(
            verify_callback(&fields, &secret()),
            Err(SignError::Mismatch)
        );

        let other = SecretString::from("SecretKey02");
        assert_eq!(
            verify_callback(&worked_callback(), &other),
            Err(SignError::Mismatch)
        );
    }

    #[test]
    fn callback_without_sign_is_refused() {
        let mut fields = worked_callback();
        fields.pop();
        assert_eq!(verify_callback(&fields, &secret()), Err(SignError::Missing));
        fields.push(("sign".into(), String::new()));
        assert_eq!(verify_callback(&fields, &secret()), Err(SignError::Missing));
    }
}
