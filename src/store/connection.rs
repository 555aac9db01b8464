//! The connection to Redis in each of its three modes, behind one type the scripts run on.
//!
//! - One node: the `redis` crate's connection manager (reconnects by itself).
//! - Redis Cluster: the crate's async cluster client, which follows `MOVED`/`ASK` and a
//!   changed topology, and reads from primaries.
//! - Sentinel: the crate's sentinel client names the primary; the connection to it is dropped
//!   on a connection error or a `READONLY` answer (the primary became a replica), so the next
//!   command asks the sentinels again and follows a failover.
//!
//! TLS (`rediss://`) and AUTH (`user:password@` in the URLs) are the crate's, in every mode.

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    TlsMode, Value,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

use super::StoreError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the state lives. Not `Debug`: the URLs may carry passwords.
#[derive(Clone)]
pub enum RedisTarget {
    /// `REDIS_URL`.
    Node(String),
    /// `REDIS_CLUSTER_NODES`: seed node URLs.
    Cluster(Vec<String>),
    /// `REDIS_SENTINELS` (URLs or `host:port`) and `REDIS_SENTINEL_MASTER`. The first
    /// sentinel URL's credentials and scheme are used for the primary too.
    Sentinel {
        sentinels: Vec<String>,
        master: String,
    },
}

impl RedisTarget {
    /// The setting that names this target, for messages.
    pub fn setting(&self) -> &'static str {
        match self {
            RedisTarget::Node(_) => "REDIS_URL",
            RedisTarget::Cluster(_) => "REDIS_CLUSTER_NODES",
            RedisTarget::Sentinel { .. } => "REDIS_SENTINELS",
        }
    }
}

pub(crate) fn unavailable(e: RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// A connection in any mode; cheap to clone (all clones share the underlying connection).
#[derive(Clone)]
pub(crate) enum Conn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(Arc<Sentinel>),
}

pub(crate) struct Sentinel {
    client: Mutex<SentinelClient>,
    primary: Mutex<Option<MultiplexedConnection>>,
}

impl Sentinel {
    async fn current(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut primary = self.primary.lock().await;
        if let Some(c) = primary.as_ref() {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT);
        let c = self
            .client
            .lock()
            .await
            .get_async_connection_with_config(&config)
            .await?;
        *primary = Some(c.clone());
        Ok(c)
    }

    /// After an error that says the primary is gone or moved, forget it.
    async fn saw<T>(&self, result: &Result<T, RedisError>) {
        if let Err(e) = result {
            if e.is_io_error()
                || e.is_connection_dropped()
                || e.is_connection_refusal()
                || e.is_timeout()
                || e.kind() == ErrorKind::ReadOnly
            {
                self.primary.lock().await.take();
            }
        }
    }
}

/// `host:port` or a URL, as a URL.
fn as_url(node: &str) -> String {
    if node.contains("://") {
        node.to_string()
    } else {
        format!("redis://{node}")
    }
}

impl Conn {
    pub(crate) async fn open(target: &RedisTarget) -> Result<Conn, StoreError> {
        match target {
            RedisTarget::Node(url) => {
                let client = redis::Client::open(url.as_str()).map_err(unavailable)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(RESPONSE_TIMEOUT)
                    .set_number_of_retries(2)
                    .set_max_delay(500);
                let conn = client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(unavailable)?;
                Ok(Conn::Node(conn))
            }
            RedisTarget::Cluster(nodes) => {
                let client = ClusterClientBuilder::new(nodes.iter().map(|n| as_url(n)))
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(3)
                    .build()
                    .map_err(unavailable)?;
                let conn = client.get_async_connection().await.map_err(unavailable)?;
                Ok(Conn::Cluster(conn))
            }
            RedisTarget::Sentinel { sentinels, master } => {
                let urls: Vec<String> = sentinels.iter().map(|s| as_url(s)).collect();
                let first = urls
                    .first()
                    .ok_or_else(|| {
                        unavailable(RedisError::from((
                            ErrorKind::InvalidClientConfig,
                            "no sentinel given",
                        )))
                    })?
                    .as_str()
                    .into_connection_info()
                    .map_err(unavailable)?;
                let tls_mode = match &first.addr {
                    redis::ConnectionAddr::TcpTls { insecure: true, .. } => Some(TlsMode::Insecure),
                    redis::ConnectionAddr::TcpTls { .. } => Some(TlsMode::Secure),
                    _ => None,
                };
                let node = SentinelNodeConnectionInfo {
                    tls_mode,
                    redis_connection_info: Some(first.redis.clone()),
                };
                let client = SentinelClient::build(
                    urls,
                    master.clone(),
                    Some(node),
                    SentinelServerType::Master,
                )
                .map_err(unavailable)?;
                let sentinel = Arc::new(Sentinel {
                    client: Mutex::new(client),
                    primary: Mutex::new(None),
                });
                sentinel.current().await.map_err(unavailable)?;
                Ok(Conn::Sentinel(sentinel))
            }
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Whether every primary keeps its data across a restart (AOF on, or RDB snapshots
    /// configured). None when `CONFIG` is refused (managed Redis often renames it).
    pub(crate) async fn persistent(&self) -> Result<Option<bool>, StoreError> {
        let appendonly = self.config_get("appendonly").await?;
        let save = self.config_get("save").await?;
        let (Some(appendonly), Some(save)) = (appendonly, save) else {
            return Ok(None);
        };
        Ok(Some(appendonly.iter().zip(&save).all(|(aof, rdb)| {
            aof.eq_ignore_ascii_case("yes") || !rdb.trim().is_empty()
        })))
    }

    /// `CONFIG GET name` on every primary, in the same order for every name; None if refused.
    async fn config_get(&self, name: &str) -> Result<Option<Vec<String>>, StoreError> {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg(name);
        let answer = match self {
            Conn::Cluster(c) => {
                let mut c = c.clone();
                c.route_command(
                    &cmd,
                    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
                )
                .await
            }
            other => {
                let mut c = other.clone();
                cmd.query_async::<Value>(&mut c).await
            }
        };
        let answer = match answer {
            Ok(v) => v,
            Err(e) if e.kind() == ErrorKind::ResponseError || e.code().is_some() => {
                return Ok(None)
            }
            Err(e) => return Err(unavailable(e)),
        };
        let mut per_node: Vec<(String, Value)> = match answer {
            Value::Map(nodes) => nodes
                .into_iter()
                .map(|(addr, v)| (format!("{addr:?}"), v))
                .collect(),
            one => vec![(String::new(), one)],
        };
        per_node.sort_by(|a, b| a.0.cmp(&b.0));
        let mut values = Vec::with_capacity(per_node.len());
        for (_, v) in per_node {
            let pair: Vec<String> = match redis::from_redis_value(&v) {
                Ok(pair) => pair,
                Err(_) => {
                    let map: std::collections::HashMap<String, String> =
                        redis::from_redis_value(&v).unwrap_or_default();
                    map.into_iter().flat_map(|(k, v)| [k, v]).collect()
                }
            };
            match pair.get(1) {
                Some(value) => values.push(value.clone()),
                None => return Ok(None),
            }
        }
        Ok(Some(values))
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Node(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(s) => Box::pin(async move {
                let mut c = s.current().await?;
                let result = c.req_packed_command(cmd).await;
                s.saw(&result).await;
                result
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Node(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Sentinel(s) => Box::pin(async move {
                let mut c = s.current().await?;
                let result = c.req_packed_commands(cmd, offset, count).await;
                s.saw(&result).await;
                result
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(_) => 0,
        }
    }
}
