//! The payment index: every payment the store holds, by creation time, newest first. Each
//! partition keeps its own sorted index (written in the step that creates the payment, so it
//! lives in the payment's hash slot); a page is read from every partition and merged. No key
//! is ever scanned. Entries older than the retention are trimmed as new ones are written.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::Records;
use crate::store::{After, PageQuery, StoreError};

/// The index member of a payment. Provider names hold no ':', so the first one splits it.
pub(super) fn member(provider: &str, payment_id: &str) -> String {
    format!("{provider}:{payment_id}")
}

/// Where the next page starts: after this payment in the index's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexCursor {
    created_ms: i64,
    member: String,
}

impl IndexCursor {
    /// The opaque form handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.created_ms, self.member))
    }

    /// None when `s` is not a cursor this index handed out.
    pub fn decode(s: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let (ms, member) = raw.split_once(':')?;
        member.split_once(':')?;
        Some(IndexCursor {
            created_ms: ms.parse().ok()?,
            member: member.to_string(),
        })
    }
}

/// What to read from the index.
#[derive(Debug, Clone)]
pub struct IndexQuery {
    /// Only payments created at or after this (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only payments created at or before this.
    pub until_ms: Option<i64>,
    pub after: Option<IndexCursor>,
    pub count: usize,
}

/// One payment of the index.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed {
    pub created_ms: i64,
    pub provider: String,
    pub payment_id: String,
}

impl Indexed {
    /// The cursor of the page that follows this payment.
    pub fn cursor(&self) -> IndexCursor {
        IndexCursor {
            created_ms: self.created_ms,
            member: member(&self.provider, &self.payment_id),
        }
    }
}

impl Records {
    /// Up to `q.count` payments of the index, newest first, over every partition.
    pub async fn index_page(&self, q: &IndexQuery) -> Result<Vec<Indexed>, StoreError> {
        let page = PageQuery {
            descending: true,
            min: q.since_ms.unwrap_or(0),
            max: q.until_ms.unwrap_or(i64::MAX),
            after: q.after.as_ref().map(|c| After {
                score: c.created_ms,
                member: c.member.clone(),
            }),
            count: q.count,
        };
        let keys: Vec<String> = self
            .keys()
            .all_partitions()
            .map(|p| self.keys().payment_index(p))
            .collect();
        let pages =
            futures::future::join_all(keys.iter().map(|k| self.store().index_page(k, &page))).await;
        let mut merged = Vec::new();
        for page in pages {
            merged.extend(page?);
        }
        // Each partition gave its newest `count` after the cursor, so the newest `count` of
        // them all are among these.
        merged.sort_by(|a, b| b.cmp(a));
        Ok(merged
            .into_iter()
            .take(q.count)
            .filter_map(|(created_ms, member)| {
                let (provider, payment_id) = member.split_once(':')?;
                Some(Indexed {
                    created_ms,
                    provider: provider.to_string(),
                    payment_id: payment_id.to_string(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_no_cursor() {
        let c = Indexed {
            created_ms: 1_795_976_260_494,
            provider: "fena".into(),
            payment_id: "p:1".into(),
        }
        .cursor();
        assert_eq!(IndexCursor::decode(&c.encode()), Some(c));
        for bad in [
            "",
            "!!",
            "bm90LWEtY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("x:fena:p1"),
        ] {
            assert_eq!(IndexCursor::decode(bad), None, "{bad}");
        }
    }
}
