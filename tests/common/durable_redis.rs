//! A private redis-server with the append-only file on, in its own directory, that can be
//! stopped and started again on the same port with the same data, as a Redis outage in
//! production looks to payrouter. Killed and its directory removed when dropped.

use std::path::PathBuf;
use std::process::Child;

use super::redis_server::{connect, spawn};
use super::supervisor::free_port;

pub struct DurableRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl DurableRedis {
    pub async fn start() -> DurableRedis {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "payrouter-faults-redis-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = DurableRedis {
            port,
            dir,
            child: None,
        };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts redis-server (again) on the same port and directory, and waits for PING.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "redis on {} still runs", self.port);
        let args = [
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--dir",
            self.dir.to_str().unwrap(),
        ]
        .map(String::from);
        self.child = Some(spawn(&args));
        connect(&self.url()).await;
    }

    /// Stops Redis abruptly (SIGKILL); with `appendfsync always` every acknowledged write is
    /// already on disk, so a restart has everything payrouter was told was stored.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for DurableRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
