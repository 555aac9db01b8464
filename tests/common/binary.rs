//! The `payrouter` binary run the way an operator runs it: an empty environment, a port of its
//! own, ready once `/readyz` answers, stopped with SIGTERM so that it drains, and its output
//! read afterwards. Killed when dropped, so a failed assertion leaves no process behind.

use std::process::{Child, Command, Output, Stdio};

pub use super::supervisor::free_port;

/// The binary with `args` and an empty environment (but `PATH`), started from a directory
/// without `config/` so that nothing but the test's settings applies.
pub fn payrouter(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_payrouter"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    cmd
}

/// A binary serving on a loopback port.
pub struct Served {
    child: Option<Child>,
    pub base: String,
    pub http: reqwest::Client,
}

impl Served {
    /// Starts `cmd` on 127.0.0.1:`port` and waits until it is ready. The caller chooses what
    /// happens to stdout and stderr (piped to read them after `stop`).
    pub async fn start(cmd: &mut Command, port: u16) -> Served {
        let child = cmd
            .env("HTTP_HOST", "127.0.0.1")
            .env("HTTP_PORT", port.to_string())
            .spawn()
            .unwrap();
        let served = Served {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let ready = format!("{}/readyz", served.base);
        super::eventually(20, || async {
            served
                .http
                .get(&ready)
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
        })
        .await;
        served
    }

    /// The binary in the demo profile (`make run`) on `port`, its simulators on `sim_port`;
    /// stdout piped (for its banner), stderr dropped.
    pub async fn demo(port: u16, sim_port: u16) -> Served {
        let mut cmd = payrouter(&[]);
        cmd.env("PAYROUTER_PROFILE", "demo")
            .env("SIM_PORT", sim_port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        Served::start(&mut cmd, port).await
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.http.get(url).send().await.unwrap()
    }

    /// POSTs `body` to `path` as JSON.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.http.post(url).json(body).send().await.unwrap()
    }

    /// Sends SIGTERM: the binary stops accepting and drains what is in flight.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
    }

    /// Waits for the binary to exit and returns what it wrote.
    pub async fn wait(mut self) -> Output {
        let child = self.child.take().unwrap();
        tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap()
    }

    /// SIGTERM, then its exit and output.
    pub async fn stop(self) -> Output {
        self.terminate();
        self.wait().await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Settings that point the binary's Fena at the simulators under `sim_base`, signed in as the
/// simulator's demo terminal.
pub fn fena_at_simulator(sim_base: &str) -> [(&'static str, String); 3] {
    [
        ("FENA_BASE_URL", format!("{sim_base}/fena")),
        (
            "FENA_TERMINAL_ID",
            payrouter_fena::sim::DEMO_TERMINAL_ID.into(),
        ),
        (
            "FENA_TERMINAL_SECRET",
            payrouter_fena::sim::DEMO_TERMINAL_SECRET.into(),
        ),
    ]
}
