//! Plain serving: bytes, protocols, ranges, validators, paths.

use crate::support::{client, http1_client, raw_exchange, raw_get, start, tls_config};
use reqwest::header;
use reqwest::Version;
use std::time::Duration;

#[tokio::test]
async fn serves_every_gem_byte_identically_over_h2() {
    let setup = start(|_| {}).await;
    let http = client(&setup.mirror);
    for gem in &setup.gems {
        let response = http
            .get(setup.url(&format!("/gems/{}.gem", gem.full_name)))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), Version::HTTP_2);
        let headers = response.headers().clone();
        assert_eq!(
            headers[header::ETAG],
            format!("\"{}\"", gem.sha256).as_str()
        );
        assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
        assert_eq!(
            headers[header::CONTENT_LENGTH],
            gem.size.to_string().as_str()
        );
        assert!(headers.contains_key(header::LAST_MODIFIED));
        let body = response.bytes().await.expect("body");
        assert_eq!(body.as_ref(), std::fs::read(&gem.path).expect("file"));
    }
    assert!(setup.mirror.base_url().starts_with("https://localhost:"));
    assert!(!setup.mirror.base_url().ends_with('/'));
}

#[tokio::test]
async fn http1_only_negotiates_http11() {
    let setup = start(|c| c.http1_only = true).await;
    let response = client(&setup.mirror)
        .get(setup.url(setup.big_path()))
        .send()
        .await
        .expect("get");
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.bytes().await.expect("body"), setup.big_bytes());
    let stats = setup.mirror.stats();
    assert_eq!((stats.http1_connections, stats.h2_connections), (1, 0));
}

#[tokio::test]
async fn a_range_gets_206_with_the_right_bytes() {
    let setup = start(|_| {}).await;
    let http = client(&setup.mirror);
    let full = setup.big_bytes();
    let len = full.len();
    for (range, start, end) in [
        ("bytes=100-199".to_owned(), 100, 200),
        ("bytes=-10".to_owned(), len - 10, len),
        (format!("bytes={}-", len - 1000), len - 1000, len),
    ] {
        let response = http
            .get(setup.url(setup.big_path()))
            .header(header::RANGE, &range)
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(
            response.headers()[header::CONTENT_RANGE],
            format!("bytes {start}-{}/{len}", end - 1).as_str()
        );
        assert_eq!(
            response.bytes().await.expect("body"),
            full[start..end],
            "{range}"
        );
    }
    let response = http
        .get(setup.url(setup.big_path()))
        .header(header::RANGE, format!("bytes={len}-"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 416);
    assert_eq!(
        response.headers()[header::CONTENT_RANGE],
        format!("bytes */{len}").as_str()
    );
}

#[tokio::test]
async fn if_range_honours_only_the_current_validators() {
    let setup = start(|_| {}).await;
    let http = client(&setup.mirror);
    let full = setup.big_bytes();
    let head = http
        .head(setup.url(setup.big_path()))
        .send()
        .await
        .expect("head");
    let etag = head.headers()[header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();
    let date = head.headers()[header::LAST_MODIFIED]
        .to_str()
        .expect("date")
        .to_owned();
    let ranged = |validator: String| {
        http.get(setup.url(setup.big_path()))
            .header(header::RANGE, "bytes=1000-")
            .header(header::IF_RANGE, validator)
            .send()
    };

    let stale = ranged("\"0000\"".to_owned()).await.expect("get");
    assert_eq!(stale.status(), 200);
    assert!(!stale.headers().contains_key(header::CONTENT_RANGE));
    assert_eq!(stale.bytes().await.expect("body"), full);

    let current = ranged(etag).await.expect("get");
    assert_eq!(current.status(), 206);
    assert_eq!(current.bytes().await.expect("body"), full[1000..]);

    let by_date = ranged(date).await.expect("get");
    assert_eq!(by_date.status(), 206);
}

#[tokio::test]
async fn if_none_match_gets_304_and_head_gets_no_body() {
    let setup = start(|_| {}).await;
    let http = client(&setup.mirror);
    let gem = setup.gem("alpha-1.0.0");
    let response = http
        .get(setup.url(setup.big_path()))
        .header(header::IF_NONE_MATCH, format!("\"{}\"", gem.sha256))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 304);
    assert!(response.bytes().await.expect("body").is_empty());

    let head = http
        .head(setup.url(setup.big_path()))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()[header::CONTENT_LENGTH],
        gem.size.to_string().as_str()
    );
    assert!(head.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn ranges_and_validators_can_be_switched_off() {
    let setup = start(|c| {
        c.ranges = false;
        c.etags = false;
    })
    .await;
    let response = http1_client(&setup.mirror)
        .get(setup.url(setup.big_path()))
        .header(header::RANGE, "bytes=0-9")
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    for name in [header::ACCEPT_RANGES, header::ETAG, header::LAST_MODIFIED] {
        assert!(!response.headers().contains_key(&name), "{name}");
    }
    assert_eq!(response.bytes().await.expect("body"), setup.big_bytes());
}

#[tokio::test]
async fn unknown_and_escaping_paths_are_404() {
    let setup = start(|_| {}).await;
    // A gem right outside the served directory, the prize of a traversal.
    std::fs::write(setup.root.path().join("secret.gem"), b"secret").expect("write");
    let http = client(&setup.mirror);
    for path in ["/nope", "/gems/missing-1.0.gem", "/info/missing", "/gems/"] {
        let response = http.get(setup.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 404, "{path}");
    }
    // Raw, because URL parsers normalise `..` away before it reaches the wire.
    for path in [
        "/gems/../secret.gem",
        "/gems/..%2fsecret.gem",
        "/gems/%2e%2e/secret.gem",
        "/gems//etc/passwd",
    ] {
        let raw = raw_get(&setup.mirror, path).await;
        assert_eq!(raw.status(), 404, "{path}");
        assert!(!raw.body.starts_with(b"secret"), "{path}");
    }
}

#[tokio::test]
async fn dropping_the_mirror_stops_it() {
    let setup = start(|_| {}).await;
    let addr = setup.mirror.addr();
    drop(setup.mirror);
    // The accept loops are aborted; give the runtime a moment to drop their listeners.
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "still accepting on {addr}");
}

#[tokio::test]
async fn tls12_works_and_sessions_resume() {
    let setup = start(|_| {}).await;
    let ca = reqwest::Certificate::from_pem(setup.mirror.ca_pem().as_bytes()).expect("pem");
    let tls12 = reqwest::Client::builder()
        .tls_certs_only([ca])
        .tls_version_max(reqwest::tls::Version::TLS_1_2)
        .no_proxy()
        .build()
        .expect("client");
    let response = tls12
        .get(setup.url(setup.big_path()))
        .send()
        .await
        .expect("TLS 1.2 get");
    assert_eq!(response.bytes().await.expect("body"), setup.big_bytes());

    let config = tls_config(&setup.mirror);
    let (first, kind) = raw_exchange(&setup.mirror, config.clone(), "/versions").await;
    assert_eq!(
        (first.status(), kind),
        (200, Some(rustls::HandshakeKind::Full))
    );
    let (second, kind) = raw_exchange(&setup.mirror, config, "/versions").await;
    assert_eq!(
        (second.status(), kind),
        (200, Some(rustls::HandshakeKind::Resumed))
    );
}
