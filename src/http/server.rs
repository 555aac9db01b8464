//! The connection loop: the router served by hyper with the limits `axum::serve` leaves out.
//!
//! axum's `serve` runs hyper without a timer, so hyper's header-read timeout never fires: a
//! client that sends half a request head keeps its connection (and a task) forever, and a
//! graceful shutdown waits for it. Here every connection gets a timer (a request head must
//! arrive whole within `header_read_timeout`, which also closes idle keep-alive connections),
//! the number of open connections is capped, and shutdown closes idle and half-open
//! connections at once, lets requests in flight finish, and cuts off whatever is still open
//! after `drain`.

use axum::extract::Request;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The limits of the connection loop.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A request head (or the next one on a kept-alive connection) must arrive within this.
    pub header_read_timeout: Duration,
    /// Connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// How long requests in flight may run on after shutdown begins.
    pub drain: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains as described above.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let stop = CancellationToken::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Finished connections are reaped as we go, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (builder, app, stop) = (builder.clone(), app.clone(), stop.clone());
        connections.spawn(async move {
            connection(&builder, stream, app, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    stop.cancel();
    let drained = tokio::time::timeout(limits.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "requests still running after the drain period; closing their connections"
        );
        connections.shutdown().await;
    }
}

/// Serves one connection. When `stop` fires, a connection with no request being handled
/// (idle between requests, or still receiving a head) is closed at once: no handler has
/// started, so nothing is lost and the client may retry elsewhere. One with a request in
/// flight finishes that request and then closes.
async fn connection(
    builder: &Builder<TokioExecutor>,
    stream: TcpStream,
    app: Router,
    stop: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let active = Arc::new(AtomicUsize::new(0));
    let counted = active.clone();
    let service = tower::service_fn(move |req: Request<hyper::body::Incoming>| {
        let handling = Handling::start(&counted);
        let answer = app.clone().oneshot(req.map(axum::body::Body::new));
        async move {
            let answer = answer.await;
            drop(handling);
            answer
        }
    });
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stop.cancelled() => {}
    }
    if active.load(Ordering::SeqCst) == 0 {
        return;
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// Counts a request as being handled for as long as it lives.
struct Handling(Arc<AtomicUsize>);

impl Handling {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Handling(count.clone())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
