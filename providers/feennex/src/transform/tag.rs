//! The payment tag in an invoice's `description` (keyed by `PAYMENT_TAG_SECRET`, or from the
//! shop's secret key): the description the PGM sent, then ` [pr:<tag>]` (the tag of the shop_order_id), within
//! Feennex's 255 characters. invoice/check and callbacks give the description back, so an
//! invoice rebuilt from Feennex alone (after the store was lost) is adopted only when it
//! carries the tag of its own shop_order_id: another invoice of the same shop is not taken for
//! one of this router's.

use payrouter_provider::PaymentTag;

use super::request::DESCRIPTION_MAX;

const OPEN: &str = "[pr:";
const CLOSE: &str = "]";

/// The description sent for the invoice `shop_order_id`: the PGM's `description` (cut to leave
/// room for the tag, which takes 21 characters and a space) followed by the tag, or the tag
/// alone.
pub fn tagged_description(
    description: Option<&str>,
    shop_order_id: &str,
    tags: &PaymentTag,
) -> String {
    let mark = format!("{OPEN}{}{CLOSE}", tags.tag(shop_order_id));
    match description {
        None => mark,
        Some(text) => {
            let room = DESCRIPTION_MAX - mark.len() - 1;
            let kept: String = text.chars().take(room).collect();
            format!("{kept} {mark}")
        }
    }
}

/// Whether `description` ends with the tag of `shop_order_id`.
pub fn carries_tag(description: Option<&str>, shop_order_id: &str, tags: &PaymentTag) -> bool {
    description
        .and_then(|d| d.strip_suffix(CLOSE))
        .and_then(|d| d.rsplit_once(OPEN))
        .is_some_and(|(_, tag)| tags.verify(shop_order_id, tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use payrouter_provider::SecretString;

    fn tags() -> PaymentTag {
        PaymentTag::new(SecretString::from("tag-key"))
    }

    #[test]
    fn the_tag_follows_the_description_and_verifies_for_its_order_only() {
        let t = tags();
        let tagged = tagged_description(Some("Order #7"), "4126", &t);
        assert_eq!(tagged, format!("Order #7 [pr:{}]", t.tag("4126")));
        assert!(carries_tag(Some(&tagged), "4126", &t));
        assert!(!carries_tag(Some(&tagged), "4127", &t));
        let other_key = PaymentTag::new(SecretString::from("another key"));
        assert!(!carries_tag(Some(&tagged), "4126", &other_key));

        let alone = tagged_description(None, "4126", &t);
        assert_eq!(alone, format!("[pr:{}]", t.tag("4126")));
        assert!(carries_tag(Some(&alone), "4126", &t));
    }

    #[test]
    fn a_long_description_is_cut_to_keep_the_tag_within_255_characters() {
        let t = tags();
        let long = "é".repeat(255);
        let tagged = tagged_description(Some(&long), "4126", &t);
        assert_eq!(tagged.chars().count(), DESCRIPTION_MAX);
        assert!(tagged.starts_with(&"é".repeat(233)));
        assert!(carries_tag(Some(&tagged), "4126", &t));
    }

    #[test]
    fn descriptions_without_a_valid_tag_are_refused() {
        let t = tags();
        let valid = t.tag("4126");
        for description in [
            None,
            Some(""),
            Some("4126"),
            Some("[pr:]"),
            Some("[pr:0123456789abcdef]"),
            Some("[pr:not hex at all!]"),
            Some(&format!("[pr:{valid}] trailing text") as &str),
            Some(&format!("[pr:{}]", &valid[..8]) as &str),
        ] {
            assert!(!carries_tag(description, "4126", &t), "{description:?}");
        }
    }
}
