//! The console's session and its CSRF tokens, both MACs keyed by ADMIN_API_TOKEN, so that
//! nothing is kept on the server and every replica accepts what another issued.
//!
//! - The session cookie is `{expires_ms}.{MAC("session.{expires_ms}")}`: it proves its holder
//!   gave the token at login without holding the token itself, and stops working at its
//!   expiry or when the token changes.
//! - A POST's CSRF token is `MAC("csrf.{session cookie}")`, put in each form as a hidden
//!   field: a page of another site cannot read it, so it cannot forge an action.
//!
//! Comparisons are constant-time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use payrouter_provider::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The cookie's name, and how long a login lasts.
pub const COOKIE: &str = "payrouter_console";
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Issues and checks sessions and CSRF tokens under ADMIN_API_TOKEN.
#[derive(Clone)]
pub struct Sessions {
    token: Arc<SecretString>,
}

impl Sessions {
    pub fn new(token: Arc<SecretString>) -> Self {
        Sessions { token }
    }

    fn mac(&self, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.token.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `given` is ADMIN_API_TOKEN.
    pub fn token_matches(&self, given: &str) -> bool {
        given
            .as_bytes()
            .ct_eq(self.token.expose_secret().as_bytes())
            .into()
    }

    /// A new session cookie value, valid until `now_ms` + [`LIFETIME`].
    pub fn issue(&self, now_ms: i64) -> String {
        let expires = now_ms + LIFETIME.as_millis() as i64;
        format!("{expires}.{}", self.mac(&format!("session.{expires}")))
    }

    /// Whether `cookie` is a session this token issued that has not expired at `now_ms`.
    pub fn valid(&self, cookie: &str, now_ms: i64) -> bool {
        let Some((expires, mac)) = cookie.split_once('.') else {
            return false;
        };
        let Ok(expires_ms) = expires.parse::<i64>() else {
            return false;
        };
        let expected = self.mac(&format!("session.{expires_ms}"));
        let genuine: bool = mac.as_bytes().ct_eq(expected.as_bytes()).into();
        genuine && now_ms < expires_ms
    }

    /// The CSRF token of the session `cookie`.
    pub fn csrf(&self, cookie: &str) -> String {
        self.mac(&format!("csrf.{cookie}"))
    }

    /// Whether `given` is the CSRF token of the session `cookie`.
    pub fn csrf_matches(&self, cookie: &str, given: &str) -> bool {
        given.as_bytes().ct_eq(self.csrf(cookie).as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(token: &str) -> Sessions {
        Sessions::new(Arc::new(SecretString::from(token.to_string())))
    }

    #[test]
    fn a_session_holds_until_it_expires_and_only_under_its_token() {
        let s = sessions("t0ken");
        let cookie = s.issue(1_000);
        assert!(!cookie.contains("t0ken"));
        assert!(s.valid(&cookie, 1_001));
        assert!(!s.valid(&cookie, 1_000 + LIFETIME.as_millis() as i64));
        assert!(!sessions("other").valid(&cookie, 1_001));
        let (expires, mac) = cookie.split_once('.').unwrap();
        let extended = format!("{}.{mac}", expires.parse::<i64>().unwrap() + 1);
        assert!(!s.valid(&extended, 1_001), "the expiry is under the MAC");
        assert!(!s.valid("garbage", 1_001));
    }

    #[test]
    fn a_csrf_token_belongs_to_one_session() {
        let s = sessions("t0ken");
        let (a, b) = (s.issue(1_000), s.issue(2_000));
        assert!(s.csrf_matches(&a, &s.csrf(&a)));
        assert!(!s.csrf_matches(&b, &s.csrf(&a)));
        assert!(!s.csrf_matches(&a, ""));
    }
}
