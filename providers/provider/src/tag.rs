//! The payment tag: a short MAC of a shopTransactionId, keyed by a router secret, that
//! payrouter carries in what it sends a provider (Fena: the description). A payment rebuilt
//! from the provider alone (after the store was lost) is adopted only when its tag verifies,
//! so another payment on the same account whose description merely looks like a
//! shopTransactionId is not taken for one of this router's.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// 8 bytes (16 hex digits): a forger has one chance in 2^64 per try, and every try is a
/// payment on the merchant's own account.
const TAG_BYTES: usize = 8;

/// The key of the tags and what computes and checks them. (No `Debug`: it holds the key.)
#[derive(Clone)]
pub struct PaymentTag {
    key: SecretString,
}

impl PaymentTag {
    /// Tags keyed by `PAYMENT_TAG_SECRET`.
    pub fn new(key: SecretString) -> Self {
        PaymentTag { key }
    }

    /// Tags keyed by a key derived from a provider credential, for when no
    /// `PAYMENT_TAG_SECRET` is set: only holders of that credential can make them.
    pub fn derived(provider: &str, credential: &SecretString) -> Self {
        let mut mac = Self::mac_with(credential.expose_secret().as_bytes());
        mac.update(format!("payrouter payment tag key for {provider}").as_bytes());
        let key = hex::encode(mac.finalize().into_bytes());
        PaymentTag {
            key: SecretString::from(key),
        }
    }

    /// The tag of `shop_transaction_id`: 16 lower-case hex digits.
    pub fn tag(&self, shop_transaction_id: &str) -> String {
        let mut mac = self.mac();
        mac.update(shop_transaction_id.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..TAG_BYTES])
    }

    /// Whether `tag` is the tag of `shop_transaction_id`, compared in constant time.
    pub fn verify(&self, shop_transaction_id: &str, tag: &str) -> bool {
        let Ok(bytes) = hex::decode(tag) else {
            return false;
        };
        if bytes.len() != TAG_BYTES {
            return false;
        }
        let mut mac = self.mac();
        mac.update(shop_transaction_id.as_bytes());
        mac.verify_truncated_left(&bytes).is_ok()
    }

    fn mac(&self) -> HmacSha256 {
        Self::mac_with(self.key.expose_secret().as_bytes())
    }

    fn mac_with(key: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length.
        HmacSha256::new_from_slice(key).expect("HMAC accepts any key length")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_verifies_for_its_id_and_key_only() {
        let tags = PaymentTag::new(SecretString::from("k1"));
        let tag = tags.tag("order-1");
        assert_eq!(tag.len(), 16);
        assert!(tags.verify("order-1", &tag));
        assert!(!tags.verify("order-2", &tag));
        assert!(!PaymentTag::new(SecretString::from("k2")).verify("order-1", &tag));
        assert!(!tags.verify("order-1", "not hex"));
        assert!(!tags.verify("order-1", &tag[..8]));
        let derived = PaymentTag::derived("fena", &SecretString::from("terminal-secret"));
        assert!(derived.verify("order-1", &derived.tag("order-1")));
        assert!(!derived.verify("order-1", &tag));
    }
}
