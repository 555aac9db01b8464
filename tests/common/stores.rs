//! Scenarios on either store, so that every lifecycle is proven on the embedded store and on a
//! real Redis without writing each test twice (`StoreKind::start_redis` gives the server):
//! `on_both_stores!`, which turns each named `async fn(StoreKind)` of a test file into a test
//! of that name in modules `memory` and `redis`.

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
