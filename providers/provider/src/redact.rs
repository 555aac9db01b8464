//! Quoting a provider's own words to the caller. Provider messages are useful ("amount too
//! small, min 1.0") but may echo what we sent, credentials included: every quote goes through
//! a `Redactor` that removes the adapter's secrets and keeps the text short.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// Longest quote, in characters; a longer text is cut and ends with `…`.
const QUOTE_MAX: usize = 300;
/// What stands in for a removed value.
const REDACTED: &str = "[redacted]";

/// The values an adapter must never repeat (its secret, and identifiers that go with it).
#[derive(Clone, Default)]
pub struct Redactor {
    hidden: Vec<SecretString>,
}

impl Redactor {
    /// Hides each non-blank value of `hidden`.
    pub fn new(hidden: impl IntoIterator<Item = SecretString>) -> Self {
        Redactor {
            hidden: hidden
                .into_iter()
                .filter(|s| !s.expose_secret().trim().is_empty())
                .collect(),
        }
    }

    /// `text` without any hidden value, at most 300 characters.
    pub fn quote(&self, text: &str) -> String {
        let mut text = text.to_string();
        for hidden in &self.hidden {
            text = text.replace(hidden.expose_secret(), REDACTED);
        }
        match text.char_indices().nth(QUOTE_MAX) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text,
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} hidden values)", self.hidden.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        Redactor::new([
            SecretString::from("s3cr3t-value"),
            SecretString::from("terminal-42"),
            SecretString::from(""),
        ])
    }

    #[test]
    fn hidden_values_never_come_out() {
        assert_eq!(
            redactor().quote("bad key s3cr3t-value for terminal-42, s3cr3t-value again"),
            "bad key [redacted] for [redacted], [redacted] again"
        );
        assert_eq!(redactor().quote("nothing to hide"), "nothing to hide");
        assert!(!format!("{:?}", redactor()).contains("s3cr3t"));
    }

    #[test]
    fn long_quotes_are_cut_on_a_character() {
        let quoted = redactor().quote(&"é".repeat(400));
        assert_eq!(quoted.chars().count(), 301);
        assert!(quoted.ends_with('…'));
        // A secret cut in half by the limit is removed first, so no part of it remains.
        let text = format!("{}s3cr3t-value", "x".repeat(295));
        assert_eq!(
            redactor().quote(&text),
            format!("{}[reda…", "x".repeat(295))
        );
    }
}
