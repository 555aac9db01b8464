//! `on_both_stores!`: one `#[tokio::test]` per store for each scenario, so that every lifecycle
//! is proven on the embedded store and on a real Redis without writing each test twice.
//!
//! Each named scenario is an `async fn(StoreKind)` in the test file; the macro adds modules
//! `memory` and `redis` with a test of the same name in each.

// Only some test binaries run scenarios on both stores.
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() {
                super::$name($crate::common::StoreKind::Memory).await
            })*
        }
        mod redis {
            $(#[tokio::test] async fn $name() {
                super::$name($crate::common::StoreKind::Redis).await
            })*
        }
    };
}

pub(crate) use on_both_stores;
