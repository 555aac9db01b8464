//! The real `payrouter` binary as a child process: started from environment variables on a
//! fixed port (so it can be restarted where callbacks and clients expect it), killed with
//! SIGKILL for chaos, and always killed when dropped, also when a test panics.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free loopback port: bound, then released for the child to bind (another process could
/// take it in between; the kernel hands out ports in turn, which makes that rare).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One payrouter replica, restartable on its port with the same environment.
pub struct Replica {
    pub port: u16,
    pub base: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// How many times it was started (1 after `start`).
    pub starts: u32,
}

impl Replica {
    /// Starts the binary with `env` (on top of an empty environment) on `port` and waits until
    /// `/healthz` answers.
    pub async fn start(port: u16, env: &[(&str, String)]) -> Replica {
        let mut replica = Replica {
            port,
            base: format!("http://127.0.0.1:{port}"),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            child: None,
            starts: 0,
        };
        replica.restart().await;
        replica
    }

    /// Starts the process again (after `kill`), on the same port with the same environment.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "replica on {} still runs", self.port);
        let child = Command::new(env!("CARGO_BIN_EXE_payrouter"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HTTP_HOST", "127.0.0.1")
            .env("HTTP_PORT", self.port.to_string())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the payrouter binary starts");
        self.child = Some(child);
        self.starts += 1;
        let http = reqwest::Client::new();
        let url = format!("{}/healthz", self.base);
        for _ in 0..400 {
            if let Some(status) = self.exited() {
                panic!("replica on {} exited at start: {status}", self.port);
            }
            let up = http
                .get(&url)
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if up {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "replica on {} did not answer /healthz within 10 s",
            self.port
        );
    }

    /// SIGKILL: no drain, no goodbye; what it held in the store stays held until leases end.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL is delivered");
            child.wait().expect("the killed replica is reaped");
        }
    }

    /// Some(exit status) when the process has ended by itself (a crash, a panic that aborts).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("the replica's state can be read"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}
