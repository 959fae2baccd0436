//! The `wow-mirror` binary, as RSpec and the demo drive it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_wow-mirror");

/// Kills the server if an assertion fails before the test stops it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never appeared", path.display());
}

#[tokio::test]
async fn serve_announces_readiness_obeys_flags_and_stops_on_sigterm() {
    let root = TempDir::new().expect("tmp");
    let gems = root.path().join("gems");
    std::fs::create_dir(&gems).expect("mkdir");
    let written = crate::support::write_gems(&gems);
    let (ready, ca) = (root.path().join("ready"), root.path().join("ca.pem"));
    let mut server = Server(
        Command::new(BIN)
            .args(["serve", "--port", "0", "--http1-only", "--latency-ms", "1"])
            .arg("--gems")
            .arg(&gems)
            .arg("--ready-file")
            .arg(&ready)
            .arg("--ca-out")
            .arg(&ca)
            .args([
                "--fault",
                r#"{"path":{"prefix":"/gems/beta"},"fault":{"status":503}}"#,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let url = wait_for(&ready);
    assert!(url.starts_with("https://localhost:"), "{url:?}");
    let pem = std::fs::read(&ca).expect("CA written before readiness");

    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("pem")])
        .no_proxy()
        .build()
        .expect("client");
    let alpha = http
        .get(format!("{url}/gems/alpha-1.0.0.gem"))
        .send()
        .await
        .expect("get");
    assert_eq!(alpha.version(), reqwest::Version::HTTP_11);
    assert_eq!(
        alpha.bytes().await.expect("body"),
        std::fs::read(&written[0].path).expect("file")
    );
    let beta = http
        .get(format!("{url}/gems/beta-2.0.0.gem"))
        .send()
        .await
        .expect("get");
    assert_eq!(beta.status(), 503);
    let stats: wow_mirror::Stats = http
        .get(format!("{url}/_stats"))
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("json"))
        .expect("body");
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.h2_connections, 0);

    let pid = server.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(server.0.stdout.as_mut().expect("stdout"), &mut stdout)
        .expect("read stdout");
    assert_eq!(stdout.trim(), url);
}

#[test]
fn fixtures_writes_a_set_and_bad_arguments_fail() {
    let root = TempDir::new().expect("tmp");
    let out = Command::new(BIN)
        .args(["fixtures", "--set", "small:2", "--out"])
        .arg(root.path())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(root.path().join("small-001-1.0.0.gem").is_file());

    for args in [
        vec!["serve"],
        vec!["serve", "--gems", "x", "--bogus", "1"],
        vec!["serve", "--gems", "x", "--fault", "{}"],
        vec!["fixtures", "--out", "x", "--set", "huge"],
        vec!["launch"],
    ] {
        let out = Command::new(BIN).args(&args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}
