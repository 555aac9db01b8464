//! Private Redis deployments on free loopback ports, stopped when dropped: one redis-server,
//! a Redis Cluster (primaries, optionally a replica each, optionally with a password), or a
//! primary with a replica watched by a sentinel.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The password of the deployments started `with_auth`, for the ACL user `default`.
pub const PASSWORD: &str = "s3cret-redis-pw";

/// A loopback port that is free and whose cluster bus port (+10000) is free. Both lie below
/// the kernel's ephemeral range (32768 and up), so no socket the OS numbers itself (a client
/// connection, a router bound to port 0) can take a node's bus port, and a counter keeps the
/// concurrent tests of one binary from picking the same port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 2_700;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let offset = (std::process::id() % u32::from(SPAN)) as u16;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST + (offset + n) % SPAN;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
}

enum Mode {
    Single,
    Cluster,
    Sentinel { sentinel: u16 },
}

pub struct RedisServer {
    /// Every process, by port (None once killed).
    nodes: Vec<(u16, Option<Child>)>,
    mode: Mode,
    password: Option<&'static str>,
    dir: PathBuf,
}

fn temp_dir(tag: &str, port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("payrouter-{tag}-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn spawn(args: &[String]) -> Child {
    Command::new("redis-server")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (make test installs it)")
}

fn node_args(port: u16, dir: &std::path::Path, password: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir.to_str().unwrap(),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(pw) = password {
        args.extend(["--requirepass", pw, "--masterauth", pw].map(String::from));
    }
    args
}

fn plain_url(port: u16, password: Option<&str>) -> String {
    match password {
        Some(pw) => format!("redis://default:{pw}@127.0.0.1:{port}/"),
        None => format!("redis://127.0.0.1:{port}/"),
    }
}

/// A connection to one node (cluster mode or not), retried until it answers PING.
async fn connect(port: u16, password: Option<&str>) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(plain_url(port, password)).unwrap();
    for _ in 0..400 {
        if let Ok(mut c) = client.get_multiplexed_async_connection().await {
            if redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .is_ok()
            {
                return c;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("redis-server did not come up on port {port}");
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let port = free_port();
        let dir = temp_dir("redis", port);
        let child = spawn(&node_args(port, &dir, None));
        connect(port, None).await;
        RedisServer {
            nodes: vec![(port, Some(child))],
            mode: Mode::Single,
            password: None,
            dir,
        }
    }

    /// A Redis Cluster of `primaries` primaries with `replicas` replicas each, its clients
    /// authenticating as `default` with [`PASSWORD`] when `with_auth`.
    pub async fn start_cluster(primaries: usize, replicas: usize, with_auth: bool) -> RedisServer {
        let password = with_auth.then_some(PASSWORD);
        let ports: Vec<u16> = (0..primaries * (1 + replicas))
            .map(|_| free_port())
            .collect();
        let dir = temp_dir("cluster", ports[0]);
        let mut nodes = Vec::new();
        for &port in &ports {
            let mut args = node_args(port, &dir, password);
            args.extend(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &format!("nodes-{port}.conf"),
                    "--cluster-node-timeout",
                    "1000",
                    // A primary lost without a replica fails its own slots only.
                    "--cluster-require-full-coverage",
                    "no",
                ]
                .map(String::from),
            );
            nodes.push((port, Some(spawn(&args))));
        }
        for &port in &ports {
            connect(port, password).await;
        }
        let mut create = Command::new("redis-cli");
        if let Some(pw) = password {
            create.args(["-a", pw, "--no-auth-warning"]);
        }
        create.args(["--cluster", "create"]);
        create.args(ports.iter().map(|p| format!("127.0.0.1:{p}")));
        create.args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"]);
        let out = tokio::task::spawn_blocking(move || create.output().unwrap())
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let server = RedisServer {
            nodes,
            mode: Mode::Cluster,
            password,
            dir,
        };
        server.wait_cluster_ok().await;
        server
    }

    /// A primary and its replica, watched by one sentinel (quorum 1) as `mymaster`.
    pub async fn start_sentinel() -> RedisServer {
        let (primary, replica, sentinel) = (free_port(), free_port(), free_port());
        let dir = temp_dir("sentinel", primary);
        let p = spawn(&node_args(primary, &dir, None));
        let mut replica_args = node_args(replica, &dir, None);
        replica_args.extend([
            "--replicaof".into(),
            "127.0.0.1".into(),
            primary.to_string(),
        ]);
        let r = spawn(&replica_args);
        connect(primary, None).await;
        connect(replica, None).await;
        let data = RedisServer {
            nodes: vec![(primary, Some(p)), (replica, Some(r))],
            mode: Mode::Single,
            password: None,
            dir: dir.clone(),
        };
        // The sentinel learns the replicas from the primary's INFO: start it once the replica
        // is attached, or it may only see it ten seconds later.
        data.wait_replicas_in_sync().await;
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {sentinel}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {primary} 1\n\
                 sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n",
                dir.display()
            ),
        )
        .unwrap();
        let s = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut c = connect(sentinel, None).await;
        let mut server = data;
        server.nodes.push((sentinel, Some(s)));
        server.mode = Mode::Sentinel { sentinel };
        for _ in 0..600 {
            let replicas: Vec<redis::Value> = redis::cmd("SENTINEL")
                .arg("REPLICAS")
                .arg("mymaster")
                .query_async(&mut c)
                .await
                .unwrap();
            if !replicas.is_empty() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the sentinel did not find the replica");
    }

    /// The URL of the (first) node.
    pub fn url(&self) -> String {
        plain_url(self.nodes[0].0, self.password)
    }

    /// The configuration line that points a router at this deployment.
    pub fn config_line(&self) -> String {
        match self.mode {
            Mode::Single => format!("redis_url = \"{}\"\n", self.url()),
            Mode::Cluster => format!(
                "redis_cluster_nodes = \"{}\"\n",
                self.nodes
                    .iter()
                    .map(|(p, _)| plain_url(*p, self.password))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Mode::Sentinel { sentinel } => format!(
                "redis_sentinels = \"127.0.0.1:{sentinel}\"\nredis_sentinel_master = \"mymaster\"\n"
            ),
        }
    }

    /// Empties every primary.
    pub async fn flushall(&self) {
        for port in self.primaries().await {
            let mut c = connect(port, self.password).await;
            redis::cmd("FLUSHALL")
                .query_async::<()>(&mut c)
                .await
                .unwrap();
        }
    }

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|(_, c)| c.is_some())
            .map(|(p, _)| *p)
            .collect()
    }

    /// The ports of the data nodes that are primaries now.
    pub async fn primaries(&self) -> Vec<u16> {
        match self.mode {
            Mode::Single => vec![self.nodes[0].0],
            Mode::Sentinel { sentinel } => {
                let mut c = connect(sentinel, None).await;
                let (_, port): (String, u16) = redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg("mymaster")
                    .query_async(&mut c)
                    .await
                    .unwrap();
                vec![port]
            }
            Mode::Cluster => {
                let mut primaries: Vec<u16> = self
                    .cluster_nodes()
                    .await
                    .into_iter()
                    .filter(|n| n.primary && n.connected)
                    .map(|n| n.port)
                    .filter(|p| self.live_ports().contains(p))
                    .collect();
                primaries.sort();
                primaries
            }
        }
    }

    /// The replicas of the primary on `port` (cluster mode).
    pub async fn replicas_of(&self, port: u16) -> Vec<u16> {
        let nodes = self.cluster_nodes().await;
        let Some(primary) = nodes.iter().find(|n| n.port == port) else {
            return Vec::new();
        };
        nodes
            .iter()
            .filter(|n| n.primary_id.as_deref() == Some(primary.id.as_str()))
            .map(|n| n.port)
            .collect()
    }

    async fn cluster_nodes(&self) -> Vec<ClusterNode> {
        let port = self.live_ports()[0];
        let mut c = connect(port, self.password).await;
        let text: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut c)
            .await
            .unwrap();
        text.lines().filter_map(ClusterNode::parse).collect()
    }

    /// How many keys each primary holds, by port.
    pub async fn keys_per_primary(&self) -> Vec<(u16, u64)> {
        let mut counts = Vec::new();
        for port in self.primaries().await {
            let mut c = connect(port, self.password).await;
            let n: u64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
            counts.push((port, n));
        }
        counts
    }

    /// Stops the process on `port` at once (SIGKILL).
    pub fn kill(&mut self, port: u16) {
        for (p, child) in &mut self.nodes {
            if *p == port {
                if let Some(mut c) = child.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
    }

    /// Waits until every live cluster node reports `cluster_state:ok` and agrees.
    pub async fn wait_cluster_ok(&self) {
        for _ in 0..600 {
            let mut ok = true;
            for port in self.live_ports() {
                let mut c = connect(port, self.password).await;
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut c)
                    .await
                    .unwrap();
                ok &= info.contains("cluster_state:ok");
            }
            if ok {
                return self.wait_replicas_in_sync().await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the cluster did not reach cluster_state:ok");
    }

    /// Waits until every live replica's link to its primary is up.
    async fn wait_replicas_in_sync(&self) {
        let data: Vec<u16> = match self.mode {
            Mode::Sentinel { sentinel } => self
                .live_ports()
                .into_iter()
                .filter(|p| *p != sentinel)
                .collect(),
            _ => self.live_ports(),
        };
        for _ in 0..600 {
            let mut synced = true;
            for &port in &data {
                let mut c = connect(port, self.password).await;
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut c)
                    .await
                    .unwrap();
                if info.contains("role:slave") && !info.contains("master_link_status:up") {
                    synced = false;
                }
            }
            if synced {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the replicas did not reach their primaries");
    }
}

/// One line of `CLUSTER NODES`.
struct ClusterNode {
    id: String,
    port: u16,
    primary: bool,
    connected: bool,
    primary_id: Option<String>,
}

impl ClusterNode {
    fn parse(line: &str) -> Option<ClusterNode> {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port = f
            .get(1)?
            .split('@')
            .next()?
            .rsplit(':')
            .next()?
            .parse()
            .ok()?;
        let flags = f.get(2)?;
        Some(ClusterNode {
            id: f[0].to_string(),
            port,
            primary: flags.contains("master") && !flags.contains("fail"),
            connected: f.get(7) == Some(&"connected"),
            primary_id: (f.get(3) != Some(&"-")).then(|| f[3].to_string()),
        })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            if let Some(mut c) = child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
