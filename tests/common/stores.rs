//! Scenarios on either store, so that every lifecycle is proven on the embedded store and on a
//! real Redis without writing each test twice (`StoreKind::start_redis` gives the server):
//! `on_both_stores!`, which turns each named `async fn(StoreKind)` of a test file into a test
//! of that name in modules `memory` and `redis`; `on_stores!` does the same for modules and
//! store kinds of the caller's choosing.

/// `on_stores!([module = Kind, ...] [scenario, ...])`: each scenario, a test in each module,
/// run on that `StoreKind`.
// Only some test binaries run scenarios on several stores.
#[allow(unused_macros)]
macro_rules! on_stores {
    ([$($module:ident = $kind:ident),+ $(,)?] $names:tt) => {
        $($crate::common::stores::on_stores!(@module $module $kind $names);)+
    };
    (@module $module:ident $kind:ident [$($name:ident),* $(,)?]) => {
        mod $module {
            $(#[tokio::test] async fn $name() {
                super::$name($crate::common::StoreKind::$kind).await
            })*
        }
    };
}

#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $crate::common::stores::on_stores!([memory = Memory, redis = Redis] [$($name),*]);
    };
}

#[allow(unused_imports)]
pub(crate) use {on_both_stores, on_stores};
