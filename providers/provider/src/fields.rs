//! Reading `providerData`: the caller's free-form object of provider-specific fields. Each
//! reader refuses a wrong type with an error that names the field and what is expected.

use serde_json::{Map, Value};

use crate::ProviderError;

/// A `providerData` string: absent or null is None; anything but a non-empty string is refused.
pub fn string_field(data: &Map<String, Value>, key: &str) -> Result<Option<String>, ProviderError> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(ProviderError::invalid(
            format!("providerData.{key}"),
            "must be a non-empty string",
        )),
    }
}

/// A `providerData` e-mail address, when given.
pub fn email_field(data: &Map<String, Value>, key: &str) -> Result<Option<String>, ProviderError> {
    let email = string_field(data, key)?;
    if email.as_ref().is_some_and(|e| !e.contains('@')) {
        return Err(ProviderError::invalid(
            format!("providerData.{key}"),
            "must be an e-mail address",
        ));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn strings_are_absent_or_non_empty() {
        let d = data(json!({"a": "x", "b": null, "c": "", "d": 5}));
        assert_eq!(string_field(&d, "a").unwrap().as_deref(), Some("x"));
        assert_eq!(string_field(&d, "b").unwrap(), None);
        assert_eq!(string_field(&d, "missing").unwrap(), None);
        for key in ["c", "d"] {
            assert_eq!(
                string_field(&d, key).unwrap_err().to_string(),
                format!("providerData.{key}: must be a non-empty string")
            );
        }
    }

    #[test]
    fn emails_need_an_at_sign() {
        let d = data(json!({"ok": "p@x.io", "bad": "nobody"}));
        assert_eq!(email_field(&d, "ok").unwrap().as_deref(), Some("p@x.io"));
        assert_eq!(
            email_field(&d, "bad").unwrap_err().to_string(),
            "providerData.bad: must be an e-mail address"
        );
        assert_eq!(email_field(&d, "none").unwrap(), None);
    }
}
