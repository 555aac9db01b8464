//! A private redis-server with the append-only file on, in its own directory, that can be
//! stopped and started again on the same port with the same data, as a Redis outage in
//! production looks to payrouter. Killed and its directory removed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make test installs it)");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..400 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not come up on port {}", self.port);
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
