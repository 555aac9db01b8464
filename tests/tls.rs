//! A router on Redis over TLS (`rediss://`) with an ACL user and password: the server's
//! certificate is signed by a private CA that the client trusts through `SSL_CERT_FILE` (the
//! system's trust store, as the `redis` crate's rustls support reads it). Alone in its test
//! binary, since it sets that variable for the process.

mod common;

use common::redis_server::free_port;
use common::*;
use serde_json::json;
use std::process::{Command, Stdio};

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed")
        .success();
    assert!(ok, "openssl {args:?}");
}

/// The redis-server and its directory, stopped and removed when the test ends, passed or not.
struct Server(std::process::Child, std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

#[tokio::test]
async fn a_router_reaches_redis_over_tls_with_a_password() {
    const PID: &str = "64b48c5b6ba2cd6a040b4301";
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("payrouter-tls-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=payrouter test CA",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );
    let _server = Server(
        Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--tls-cert-file",
                "server.pem",
                "--tls-key-file",
                "server.key",
            ])
            .args(["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"])
            .args([
                "--requirepass",
                redis_server::PASSWORD,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
        dir.clone(),
    );
    std::env::set_var("SSL_CERT_FILE", dir.join("ca.pem"));
    let url = format!(
        "rediss://default:{}@127.0.0.1:{port}/",
        redis_server::PASSWORD
    );
    // redis-server takes a moment to listen.
    eventually(10, || async {
        let client = redis::Client::open(url.as_str()).ok()?;
        client.get_multiplexed_async_connection().await.ok()
    })
    .await;

    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let cfg = config(
        None,
        &fena.base(),
        &receiver.url,
        &format!("redis_url = \"{url}\""),
    );
    let router = TestRouter::start(&cfg).await;
    fena.on_create(PID, "tls-1", "12.99").await;
    fena.set_state(PID, "paid", "12.99", "tls-1", "tls-1").await;
    let body = json!({"amount": 1299, "currency": "GBP", "shopTransactionId": "tls-1"});
    let (s, b) = router.post("/v3/fena/pay", &body).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(router.status("fena", PID).await["status"], "ACCEPTED");
    receiver.notified(PID, "ACCEPTED", "PAYMENT").await;
    let (s, _) = router.get("/readyz").await;
    assert_eq!(s, 200);
}
