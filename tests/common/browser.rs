//! Headless Chromium driven through the Chrome DevTools Protocol: start it, open a page,
//! evaluate JavaScript in it. Chromium is killed when the `Browser` is dropped, also when a
//! test panics.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one protocol command, or Chromium's start, may take.
const STEP: Duration = Duration::from_secs(15);

/// The Chromium process and its throw-away profile: killed and removed when dropped.
struct Process {
    child: Child,
    profile: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium's helper processes may still write to the profile for a moment.
        for _ in 0..20 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One page of a headless Chromium.
pub struct Browser {
    page: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    // Dropped last: the socket closes before Chromium is killed.
    _process: Process,
}

impl Browser {
    /// Starts Chromium on a fresh profile and connects to its blank page.
    pub async fn launch() -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "payrouter-e2e-chromium-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM} ({e}); `make test` installs it"));
        let mut process = Process { child, profile };
        let endpoint = devtools_endpoint(&mut process.child);
        let port = endpoint
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .and_then(|host| host.rsplit(':').next())
            .unwrap_or_else(|| panic!("unexpected DevTools endpoint {endpoint}"))
            .to_string();
        let page_url = page_target(&port).await;
        let (page, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(&page_url))
            .await
            .expect("connecting to the page target timed out")
            .unwrap_or_else(|e| panic!("cannot connect to {page_url}: {e}"));
        Browser {
            page,
            next_id: 0,
            _process: process,
        }
    }

    /// Sends one protocol command and returns its `result`; an `error` answer panics.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .await
            .unwrap_or_else(|error| panic!("{method} failed: {error}"))
    }

    /// Sends one protocol command: its `result`, or its `error`. Events are skipped.
    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let command = json!({"id": id, "method": method, "params": params});
        let exchange = async {
            self.page
                .send(Message::text(command.to_string()))
                .await
                .unwrap_or_else(|e| panic!("{method}: cannot send ({e})"));
            loop {
                let message = self
                    .page
                    .next()
                    .await
                    .unwrap_or_else(|| panic!("{method}: Chromium closed the connection"))
                    .unwrap_or_else(|e| panic!("{method}: {e}"));
                let Message::Text(text) = message else {
                    continue;
                };
                let reply: Value = serde_json::from_str(text.as_str()).unwrap();
                if reply["id"] != id {
                    continue;
                }
                return match reply.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(reply["result"].clone()),
                };
            }
        };
        tokio::time::timeout(STEP, exchange)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer within {STEP:?}"))
    }

    /// Evaluates `expression` in the page and returns its value; a thrown error panics.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Opens `url` and waits until that document has loaded.
    pub async fn open(&mut self, url: &str) {
        let navigated = self.call("Page.navigate", json!({"url": url})).await;
        if let Some(error) = navigated.get("errorText") {
            panic!("cannot open {url}: {error}");
        }
        let url = url.to_string();
        self.wait_for(&format!(
            "document.readyState === 'complete' && location.href === {}",
            json!(url)
        ))
        .await;
    }

    /// Waits until the JavaScript `condition` is true in the page.
    pub async fn wait_for(&mut self, condition: &str) {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            // A navigation in progress can destroy the context mid-evaluation: try again.
            let result = self
                .try_call(
                    "Runtime.evaluate",
                    json!({"expression": format!("Boolean({condition})"), "returnByValue": true}),
                )
                .await;
            if result.is_ok_and(|r| r["result"]["value"] == true) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "`{condition}` still false after {STEP:?} (page: {})",
                self.eval("location.href").await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Reads Chromium's stderr until it says where DevTools listen, then keeps draining it (a
/// full pipe would block Chromium) on a thread of its own.
fn devtools_endpoint(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut found = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if found {
                continue;
            }
            if let Some(at) = line.find("ws://") {
                if line.contains("DevTools listening on") {
                    found = true;
                    let _ = tx.send(Ok(line[at..].trim().to_string()));
                    continue;
                }
            }
            seen.push(line);
        }
        if !found {
            let _ = tx.send(Err(seen.join("\n")));
        }
    });
    match rx.recv_timeout(STEP) {
        Ok(Ok(endpoint)) => endpoint,
        Ok(Err(output)) => panic!("Chromium exited without a DevTools endpoint:\n{output}"),
        Err(_) => panic!("Chromium printed no DevTools endpoint within {STEP:?}"),
    }
}

/// The WebSocket URL of Chromium's first page target (`/json/list`).
async fn page_target(port: &str) -> String {
    let list = format!("http://127.0.0.1:{port}/json/list");
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        if let Ok(resp) = reqwest::get(&list).await {
            if let Ok(targets) = resp.json::<Vec<Value>>().await {
                let page = targets.iter().find(|t| t["type"] == "page");
                if let Some(url) = page.and_then(|t| t["webSocketDebuggerUrl"].as_str()) {
                    return url.to_string();
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no page target at {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
