//! Downloads through an HTTPS proxy (`https_proxy`, CONNECT), which reqwest's `system-proxy`
//! reads from the environment. A test binary of its own with one test: the environment is the
//! whole process's, and the other tests must not go through the proxy.

use std::time::Duration;

use wow_fetch_core::{ClientOptions, ErrorKind, Fetcher, Item, RunOptions, Status};
use wow_mirror::fixtures::write_gem;
use wow_mirror::{basic, Mirror, MirrorConfig, Proxy};

const PROXY_USER: &str = "puser";
const PROXY_PASSWORD: &str = "pr0xy-pw";

#[test]
fn downloads_go_through_an_https_proxy_whose_credentials_never_show() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gems_dir = dir.path().join("mirror");
    std::fs::create_dir_all(&gems_dir).expect("mkdir");
    let gem = write_gem(&gems_dir, "g0", "1.0.0", None, 20_000, &[]).expect("fixture");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (mirror, proxy) = runtime.block_on(async {
        let mirror = Mirror::start(MirrorConfig::new(&gems_dir))
            .await
            .expect("mirror");
        let proxy = Proxy::start(Some((PROXY_USER.to_owned(), PROXY_PASSWORD.to_owned())))
            .await
            .expect("proxy");
        (mirror, proxy)
    });
    let ca = dir.path().join("ca.pem");
    mirror.write_ca(&ca).expect("CA");
    let proxy_url = proxy.url().replacen(
        "http://",
        &format!("http://{PROXY_USER}:{PROXY_PASSWORD}@"),
        1,
    );
    for name in [
        "NO_PROXY",
        "no_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::remove_var(name);
    }
    // Read when the client is built, below; this binary has no other test.
    std::env::set_var("https_proxy", &proxy_url);

    let fetcher = Fetcher::new(ClientOptions {
        ca_file: Some(ca),
        ..ClientOptions::default()
    })
    .expect("fetcher");
    let item = |url: String, sha: Option<&str>| Item::new("g0", "1.0.0", None, sha, &url);
    // A port that refuses connections: the proxy answers the CONNECT with 502.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let items = vec![
        item(
            format!("{}/gems/{}.gem", mirror.base_url(), gem.full_name),
            Some(&gem.sha256),
        )
        .expect("item"),
        Item::new(
            "missing",
            "1.0.0",
            None,
            None,
            &format!("{}/gems/missing-1.0.0.gem", mirror.base_url()),
        )
        .expect("item"),
        Item::new(
            "dead",
            "1.0.0",
            None,
            None,
            &format!("https://localhost:{closed_port}/gems/dead-1.0.0.gem"),
        )
        .expect("item"),
    ];
    let mut options = RunOptions::new(dir.path().join("cache"));
    options.retry.retries = 1;
    options.retry.backoff_base = Duration::from_millis(10);
    let mut run = fetcher.start(items, options, None).expect("start");
    let mut events = Vec::new();
    while run.next_batch(&mut events, 256) {}
    let outcomes = run.wait().expect("outcomes");

    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    let tunnels = proxy.tunnels();
    let mirror_port = mirror.addr().port();
    let to_mirror: Vec<_> = tunnels
        .iter()
        .filter(|t| t.target == format!("localhost:{mirror_port}"))
        .collect();
    assert!(!to_mirror.is_empty(), "went through the proxy: {tunnels:?}");
    for tunnel in &to_mirror {
        assert!(tunnel.opened, "{tunnel:?}");
        assert_eq!(
            tunnel.authorization.as_deref(),
            Some(basic(PROXY_USER, PROXY_PASSWORD).as_str()),
            "the proxy's credentials reach the proxy"
        );
    }
    let seen = mirror.requests_seen();
    assert!(
        seen.iter()
            .all(|r| r.header("proxy-authorization").is_none()),
        "never the origin: {seen:?}"
    );

    let missing = outcomes[1].error.as_ref().expect("404");
    assert!(
        matches!(missing.kind, ErrorKind::Http { status: 404, .. }),
        "{missing:?}"
    );
    let dead = outcomes[2]
        .error
        .as_ref()
        .expect("the proxy could not connect");
    assert!(matches!(dead.kind, ErrorKind::Network { .. }), "{dead:?}");
    assert!(
        tunnels
            .iter()
            .any(|t| t.target == format!("localhost:{closed_port}") && !t.opened),
        "{tunnels:?}"
    );
    let shown = format!("{outcomes:?} {events:?} {missing} {dead}");
    for secret in [PROXY_PASSWORD, PROXY_USER] {
        assert!(!shown.contains(secret), "{secret:?} in {shown}");
    }
    drop(runtime);
}
