//! Feennex callbacks: their fields exactly as received (form-encoded or JSON), the signature
//! over them, and the payment they name. Their status is never trusted: the gateway confirms
//! it with invoice/check.

use payrouter_provider::{CallbackError, CallbackSubject};
use std::collections::HashSet;

use super::raw_json::{scalar, RawEntries, Scalar};
use super::{payment_id_for, Shop, SHOP_ORDER_ID_MAX};
use crate::sign::{self, SignError};

/// The fields of a callback body, values as received (form values URL-decoded, JSON strings
/// unescaped, JSON numbers verbatim, JSON nulls dropped).
pub fn callback_fields(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, CallbackError> {
    let media = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let json = match media.as_deref() {
        Some("application/json") => true,
        Some("application/x-www-form-urlencoded") => false,
        // No or another content type (Feennex calls its form body "raw data"): sniff.
        _ => body.trim_ascii_start().starts_with(b"{"),
    };
    let fields = if json {
        json_fields(body)?
    } else {
        form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    // A repeated field would make "the" value ambiguous between us and the signer.
    let mut seen = HashSet::with_capacity(fields.len());
    if !fields.iter().all(|(key, _)| seen.insert(key.as_str())) {
        return Err(CallbackError::Malformed(
            "a field appears more than once".into(),
        ));
    }
    Ok(fields)
}

fn json_fields(body: &[u8]) -> Result<Vec<(String, String)>, CallbackError> {
    let entries: RawEntries = serde_json::from_slice(body)
        .map_err(|_| CallbackError::Malformed("body is not a JSON object".into()))?;
    Ok(entries
        .0
        .into_iter()
        .filter_map(|(key, raw)| {
            let value = match scalar(&raw) {
                Scalar::Null => return None,
                Scalar::Text(s) => s,
                // Feennex signs Python's str() of each value: True/False for booleans.
                Scalar::Token(t) if t == "true" => "True".to_string(),
                Scalar::Token(t) if t == "false" => "False".to_string(),
                Scalar::Token(t) | Scalar::Composite(t) => t,
            };
            Some((key, value))
        })
        .collect())
}

/// Authenticates a Feennex callback and names the payment it is about. Its status is not
/// trusted: the gateway confirms with invoice/check.
pub fn callback_subject(
    content_type: Option<&str>,
    body: &[u8],
    shop: &Shop,
) -> Result<CallbackSubject, CallbackError> {
    let fields = callback_fields(content_type, body)?;
    sign::verify_callback(&fields, &shop.secret_key).map_err(|e| match e {
        SignError::Missing => CallbackError::Unauthenticated("sign is missing".into()),
        SignError::Mismatch => CallbackError::Unauthenticated("sign does not match".into()),
    })?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let shop_id =
        field("shop_id").ok_or_else(|| CallbackError::Malformed("shop_id is missing".into()))?;
    if shop_id.trim().parse::<u64>().ok() != Some(shop.shop_id) {
        return Err(CallbackError::Unauthenticated(
            "shop_id is not this router's Feennex shop".into(),
        ));
    }
    let shop_order_id = field("shop_order_id")
        .ok_or_else(|| CallbackError::Malformed("shop_order_id is missing".into()))?;
    if shop_order_id.len() > SHOP_ORDER_ID_MAX {
        return Err(CallbackError::Malformed(
            "shop_order_id is longer than 255 bytes".into(),
        ));
    }
    Ok(CallbackSubject::Payment {
        payment_id: payment_id_for(shop_order_id),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{pairs, shop, SECRET};
    use super::*;
    use crate::sign::vectors;
    use payrouter_provider::SecretString;

    /// Form-encodes `fields` with a valid sign appended.
    fn signed_form(fields: &[(&str, &str)]) -> Vec<u8> {
        let unsigned: Vec<(&str, &str)> = fields
            .iter()
            .copied()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let sign = sign::sign(&unsigned, &SecretString::from(SECRET));
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        form.append_pair("sign", &sign);
        form.finish().into_bytes()
    }

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const JSON: Option<&str> = Some("application/json");

    fn worked_example() -> Vec<(&'static str, &'static str)> {
        vectors::CALLBACK.to_vec()
    }

    fn subject(content_type: Option<&str>, body: &[u8]) -> Result<CallbackSubject, CallbackError> {
        callback_subject(content_type, body, &shop())
    }

    fn payment(id: &str) -> Result<CallbackSubject, CallbackError> {
        Ok(CallbackSubject::Payment {
            payment_id: id.into(),
        })
    }

    #[test]
    fn form_callback_of_the_worked_example() {
        let body = signed_form(&worked_example());
        assert!(
            String::from_utf8_lossy(&body).ends_with(&format!("sign={}", vectors::CALLBACK_SIGN))
        );
        assert_eq!(subject(FORM, &body), payment("NDEyNg"));
        assert_eq!(
            subject(
                Some("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
                &body
            ),
            payment("NDEyNg")
        );
        assert_eq!(subject(None, &body), payment("NDEyNg"));
        assert_eq!(subject(Some("text/plain"), &body), payment("NDEyNg"));
    }

    #[test]
    fn json_callback_keeps_number_tokens_verbatim() {
        let body = br#"{"client_price": 1.0, "created": "2024-12-03 14:39:02", "description": "",
            "email": "a@b.c", "payment_id": 123, "ps_data": "{\"k\": \"v\"}", "processed": null,
            "shop_amount": 1.0, "shop_currency": 840, "shop_id": 5, "shop_order_id": "4126",
            "shop_refund": 0.90, "status": "success", "sign": "SIGN"}"#;
        let text = String::from_utf8_lossy(body);
        // The sign over the fields with their amounts written as `price` and `refund`.
        let signed_as = |price: &str, refund: &str| {
            sign::sign(
                &[
                    ("client_price", price),
                    ("created", "2024-12-03 14:39:02"),
                    ("email", "a@b.c"),
                    ("payment_id", "123"),
                    ("ps_data", r#"{"k": "v"}"#),
                    ("shop_amount", price),
                    ("shop_currency", "840"),
                    ("shop_id", "5"),
                    ("shop_order_id", "4126"),
                    ("shop_refund", refund),
                    ("status", "success"),
                ],
                &SecretString::from(SECRET),
            )
        };
        let verbatim = signed_as("1.0", "0.90");
        let good = text.replace("SIGN", &verbatim);
        assert_eq!(subject(JSON, good.as_bytes()), payment("NDEyNg"));
        assert_eq!(subject(None, good.as_bytes()), payment("NDEyNg"));

        // A signer that had re-formatted 1.0 as 1 does not match.
        let reformatted = signed_as("1", "0.9");
        let bad = text.replace("SIGN", &reformatted);
        assert_eq!(
            subject(JSON, bad.as_bytes()),
            Err(CallbackError::Unauthenticated("sign does not match".into()))
        );
    }

    #[test]
    fn field_values_are_read_as_sent() {
        // JSON: strings unescaped, numbers verbatim, booleans as Python writes them, nulls
        // dropped. Forms: URL-decoded only.
        let json: &[u8] = br#"{"a": "x\"y", "b": 1.50, "c": true, "d": false, "e": null, "f": "", "g": {"h": [1, 2.0]}}"#;
        let form: &[u8] = b"a=1.0&b=x+y%2Bz&c=&d=%7B%22k%22%3A+1%7D";
        let cases = [
            (
                JSON,
                json,
                pairs(&[
                    ("a", "x\"y"),
                    ("b", "1.50"),
                    ("c", "True"),
                    ("d", "False"),
                    ("f", ""),
                    ("g", r#"{"h": [1, 2.0]}"#),
                ]),
            ),
            (
                FORM,
                form,
                pairs(&[
                    ("a", "1.0"),
                    ("b", "x y+z"),
                    ("c", ""),
                    ("d", r#"{"k": 1}"#),
                ]),
            ),
        ];
        for (content_type, body, expected) in cases {
            assert_eq!(
                callback_fields(content_type, body).unwrap(),
                expected,
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn empty_values_are_not_signed() {
        let mut fields = worked_example();
        fields.push(("addons", ""));
        fields.push(("phone", ""));
        assert_eq!(subject(FORM, &signed_form(&fields)), payment("NDEyNg"));
    }

    #[test]
    fn tampered_callbacks_are_refused() {
        let body = String::from_utf8(signed_form(&worked_example())).unwrap();
        let mismatch = Err(CallbackError::Unauthenticated("sign does not match".into()));
        let tampered = body.replace("shop_amount=10.5", "shop_amount=1000.5");
        assert_eq!(subject(FORM, tampered.as_bytes()), mismatch);
        let tampered = body.replace("status=success", "status=success&extra=1");
        assert_eq!(subject(FORM, tampered.as_bytes()), mismatch);
        let tampered = body.replace("sign=a3e8", "sign=b3e8");
        assert_eq!(subject(FORM, tampered.as_bytes()), mismatch);
        let tampered = body.replace("sign=a3e8", "sign=A3E8");
        assert_eq!(subject(FORM, tampered.as_bytes()), payment("NDEyNg"));
    }

    #[test]
    fn callback_without_sign_is_refused() {
        let body = String::from_utf8(signed_form(&worked_example())).unwrap();
        let unsigned = &body[..body.find("&sign=").unwrap()];
        let missing = Err(CallbackError::Unauthenticated("sign is missing".into()));
        assert_eq!(subject(FORM, unsigned.as_bytes()), missing);
        assert_eq!(
            subject(FORM, format!("{unsigned}&sign=").as_bytes()),
            missing
        );
        assert_eq!(
            subject(JSON, br#"{"shop_id": 5, "shop_order_id": "1"}"#),
            missing
        );
        assert_eq!(subject(FORM, b""), missing);
    }

    #[test]
    fn callback_for_another_shop_is_refused() {
        let mut fields = worked_example();
        fields.retain(|(k, _)| *k != "shop_id");
        fields.push(("shop_id", "6"));
        assert!(matches!(
            subject(FORM, &signed_form(&fields)),
            Err(CallbackError::Unauthenticated(_))
        ));
        fields.pop();
        assert_eq!(
            subject(FORM, &signed_form(&fields)),
            Err(CallbackError::Malformed("shop_id is missing".into()))
        );
    }

    #[test]
    fn callback_without_usable_shop_order_id_is_malformed() {
        let mut fields = worked_example();
        fields.retain(|(k, _)| *k != "shop_order_id");
        assert_eq!(
            subject(FORM, &signed_form(&fields)),
            Err(CallbackError::Malformed("shop_order_id is missing".into()))
        );
        let long = "x".repeat(256);
        fields.push(("shop_order_id", &long));
        assert!(matches!(
            subject(FORM, &signed_form(&fields)),
            Err(CallbackError::Malformed(_))
        ));
    }

    #[test]
    fn malformed_callback_bodies() {
        assert_eq!(
            subject(JSON, b"[1, 2]"),
            Err(CallbackError::Malformed("body is not a JSON object".into()))
        );
        assert_eq!(
            subject(JSON, b"{\"a\": 1,"),
            Err(CallbackError::Malformed("body is not a JSON object".into()))
        );
        let body = String::from_utf8(signed_form(&worked_example())).unwrap();
        let doubled = format!("shop_order_id=9999&{body}");
        assert!(matches!(
            subject(FORM, doubled.as_bytes()),
            Err(CallbackError::Malformed(_))
        ));
        assert!(matches!(
            subject(JSON, br#"{"sign": "a", "sign": "b"}"#),
            Err(CallbackError::Malformed(_))
        ));
    }
}
