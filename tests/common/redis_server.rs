//! Private Redis deployments on free loopback ports, stopped when dropped: one redis-server,
//! a Redis Cluster (primaries, optionally a replica each, optionally with a password), or a
//! primary with a replica watched by a sentinel; each of them over TLS only when given the
//! certificates to serve (see [`Tls`]).

use std::path::{Path, PathBuf};
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

/// Where a TLS deployment's files are: `ca.pem` (the CA its clients trust, through
/// `SSL_CERT_FILE`), `server.pem` and `server.key` (for 127.0.0.1; also the certificate each
/// node shows to the others on the cluster bus and on replication links).
#[derive(Clone)]
pub struct Tls(pub PathBuf);

impl Tls {
    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
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
    tls: Option<Tls>,
    dir: PathBuf,
}

fn temp_dir(tag: &str, port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("payrouter-{tag}-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts redis-server with `args`, its output discarded.
pub fn spawn(args: &[String]) -> Child {
    Command::new("redis-server")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (make test installs it)")
}

/// A node listening on `port`, over TLS only when `tls` is given: then its replication links
/// and its cluster bus are TLS too.
fn node_args(port: u16, dir: &Path, password: Option<&str>, tls: Option<&Tls>) -> Vec<String> {
    let listen = match tls {
        None => vec!["--port".to_string(), port.to_string()],
        Some(_) => ["--port", "0", "--tls-port", &port.to_string()]
            .map(String::from)
            .to_vec(),
    };
    let mut args = listen;
    args.extend(
        [
            "--bind",
            "127.0.0.1",
            "--dir",
            dir.to_str().unwrap(),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .map(String::from),
    );
    if let Some(pw) = password {
        args.extend(["--requirepass", pw, "--masterauth", pw].map(String::from));
    }
    if let Some(tls) = tls {
        args.extend([
            "--tls-cert-file".into(),
            tls.file("server.pem"),
            "--tls-key-file".into(),
            tls.file("server.key"),
            "--tls-ca-cert-file".into(),
            tls.file("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
            "--tls-replication".into(),
            "yes".into(),
            "--tls-cluster".into(),
            "yes".into(),
        ]);
    }
    args
}

fn node_url(port: u16, password: Option<&str>, tls: bool) -> String {
    let scheme = if tls { "rediss" } else { "redis" };
    match password {
        Some(pw) => format!("{scheme}://default:{pw}@127.0.0.1:{port}/"),
        None => format!("{scheme}://127.0.0.1:{port}/"),
    }
}

/// A connection to one node (cluster mode or not), retried until it answers PING.
pub async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).unwrap();
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
    panic!("redis-server did not come up at {url}");
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let port = free_port();
        let dir = temp_dir("redis", port);
        let child = spawn(&node_args(port, &dir, None, None));
        connect(&node_url(port, None, false)).await;
        RedisServer {
            nodes: vec![(port, Some(child))],
            mode: Mode::Single,
            password: None,
            tls: None,
            dir,
        }
    }

    /// One node over TLS only, its clients authenticating as `default` with [`PASSWORD`].
    pub async fn start_tls(tls: &Tls) -> RedisServer {
        let port = free_port();
        let dir = temp_dir("redis-tls", port);
        let child = spawn(&node_args(port, &dir, Some(PASSWORD), Some(tls)));
        connect(&node_url(port, Some(PASSWORD), true)).await;
        RedisServer {
            nodes: vec![(port, Some(child))],
            mode: Mode::Single,
            password: Some(PASSWORD),
            tls: Some(tls.clone()),
            dir,
        }
    }

    /// A Redis Cluster of `primaries` primaries with `replicas` replicas each, its clients
    /// authenticating as `default` with [`PASSWORD`] when `with_auth`.
    pub async fn start_cluster(primaries: usize, replicas: usize, with_auth: bool) -> RedisServer {
        Self::cluster(primaries, replicas, with_auth, None).await
    }

    /// The same cluster over TLS only: clients, the cluster bus and replication.
    pub async fn start_cluster_tls(
        primaries: usize,
        replicas: usize,
        with_auth: bool,
        tls: &Tls,
    ) -> RedisServer {
        Self::cluster(primaries, replicas, with_auth, Some(tls.clone())).await
    }

    async fn cluster(
        primaries: usize,
        replicas: usize,
        with_auth: bool,
        tls: Option<Tls>,
    ) -> RedisServer {
        let password = with_auth.then_some(PASSWORD);
        let ports: Vec<u16> = (0..primaries * (1 + replicas))
            .map(|_| free_port())
            .collect();
        let dir = temp_dir("cluster", ports[0]);
        let mut nodes = Vec::new();
        for &port in &ports {
            let mut args = node_args(port, &dir, password, tls.as_ref());
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
            connect(&node_url(port, password, tls.is_some())).await;
        }
        let mut create = Command::new("redis-cli");
        if let Some(pw) = password {
            create.args(["-a", pw, "--no-auth-warning"]);
        }
        if let Some(tls) = &tls {
            create.args(["--tls", "--cacert", &tls.file("ca.pem")]);
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
            tls,
            dir,
        };
        server.wait_cluster_ok().await;
        server
    }

    /// A primary and its replica, watched by one sentinel (quorum 1) as `mymaster`.
    pub async fn start_sentinel() -> RedisServer {
        Self::sentinel(None).await
    }

    /// The same over TLS only: clients, the sentinel, and its and the replica's links to the
    /// primary.
    pub async fn start_sentinel_tls(tls: &Tls) -> RedisServer {
        Self::sentinel(Some(tls.clone())).await
    }

    async fn sentinel(tls: Option<Tls>) -> RedisServer {
        let (primary, replica, sentinel) = (free_port(), free_port(), free_port());
        let dir = temp_dir("sentinel", primary);
        let p = spawn(&node_args(primary, &dir, None, tls.as_ref()));
        let mut replica_args = node_args(replica, &dir, None, tls.as_ref());
        replica_args.extend([
            "--replicaof".into(),
            "127.0.0.1".into(),
            primary.to_string(),
        ]);
        let r = spawn(&replica_args);
        connect(&node_url(primary, None, tls.is_some())).await;
        connect(&node_url(replica, None, tls.is_some())).await;
        let data = RedisServer {
            nodes: vec![(primary, Some(p)), (replica, Some(r))],
            mode: Mode::Single,
            password: None,
            tls,
            dir: dir.clone(),
        };
        // The sentinel learns the replicas from the primary's INFO: start it once the replica
        // is attached, or it may only see it ten seconds later.
        data.wait_replicas_in_sync().await;
        let conf = dir.join("sentinel.conf");
        let listen = match &data.tls {
            None => format!("port {sentinel}\n"),
            Some(tls) => format!(
                "port 0\ntls-port {sentinel}\ntls-cert-file {}\ntls-key-file {}\n\
                 tls-ca-cert-file {}\ntls-auth-clients no\ntls-replication yes\n",
                tls.file("server.pem"),
                tls.file("server.key"),
                tls.file("ca.pem")
            ),
        };
        std::fs::write(
            &conf,
            format!(
                "{listen}bind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {primary} 1\n\
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
        let mut c = connect(&data.url_of(sentinel)).await;
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
        self.url_of(self.nodes[0].0)
    }

    /// The URL of the process on `port`.
    fn url_of(&self, port: u16) -> String {
        node_url(port, self.password, self.tls.is_some())
    }

    /// The answer of the process on `port` to `cmd`.
    async fn query<T: redis::FromRedisValue>(&self, port: u16, cmd: &redis::Cmd) -> T {
        let mut c = connect(&self.url_of(port)).await;
        cmd.query_async(&mut c).await.unwrap()
    }

    /// The configuration line that points a router at this deployment.
    pub fn config_line(&self) -> String {
        match self.mode {
            Mode::Single => format!("redis_url = \"{}\"\n", self.url()),
            Mode::Cluster => format!(
                "redis_cluster_nodes = \"{}\"\n",
                self.nodes
                    .iter()
                    .map(|(p, _)| self.url_of(*p))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Mode::Sentinel { sentinel } => {
                let sentinel = match self.tls {
                    Some(_) => self.url_of(sentinel),
                    None => format!("127.0.0.1:{sentinel}"),
                };
                format!("redis_sentinels = \"{sentinel}\"\nredis_sentinel_master = \"mymaster\"\n")
            }
        }
    }

    /// The keys matching `pattern` on the (first) node.
    pub async fn keys(&self, pattern: &str) -> Vec<String> {
        self.query(self.nodes[0].0, redis::cmd("KEYS").arg(pattern))
            .await
    }

    /// Empties every primary.
    pub async fn flushall(&self) {
        for port in self.primaries().await {
            self.query::<()>(port, &redis::cmd("FLUSHALL")).await;
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
                let mut ask = redis::cmd("SENTINEL");
                ask.arg("get-master-addr-by-name").arg("mymaster");
                let (_, port): (String, u16) = self.query(sentinel, &ask).await;
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

    /// Kills the primary (Sentinel mode) and waits until Sentinel names another.
    pub async fn fail_over(&mut self) {
        let old = self.primaries().await[0];
        self.kill(old);
        super::eventually(60, || async {
            (self.primaries().await[0] != old).then_some(())
        })
        .await;
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
        let text: String = self
            .query(self.live_ports()[0], redis::cmd("CLUSTER").arg("NODES"))
            .await;
        text.lines().filter_map(ClusterNode::parse).collect()
    }

    /// How many keys each primary holds, by port.
    pub async fn keys_per_primary(&self) -> Vec<(u16, u64)> {
        let mut counts = Vec::new();
        for port in self.primaries().await {
            let n: u64 = self.query(port, &redis::cmd("DBSIZE")).await;
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
                let info: String = self.query(port, redis::cmd("CLUSTER").arg("INFO")).await;
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
                let info: String = self
                    .query(port, redis::cmd("INFO").arg("replication"))
                    .await;
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
