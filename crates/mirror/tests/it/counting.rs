//! The counters tests rely on: connections per protocol, requests, ranges, bytes, paths.

use crate::support::{client, http1_client, raw_get, start};
use reqwest::header;
use std::sync::Arc;

#[tokio::test]
async fn h2_multiplexes_100_requests_over_one_connection() {
    let setup = Arc::new(start(|_| {}).await);
    let http = client(&setup.mirror);
    // One request first: until ALPN has said h2, a pool cannot know it may share a connection.
    http.get(setup.url("/gems/beta-2.0.0.gem"))
        .send()
        .await
        .expect("warm-up")
        .bytes()
        .await
        .expect("body");
    let tasks: Vec<_> = (0..99)
        .map(|_| {
            let (http, setup) = (http.clone(), Arc::clone(&setup));
            tokio::spawn(async move {
                let response = http
                    .get(setup.url("/gems/beta-2.0.0.gem"))
                    .send()
                    .await
                    .expect("get");
                assert_eq!(response.version(), reqwest::Version::HTTP_2);
                response.bytes().await.expect("body").len() as u64
            })
        })
        .collect();
    let mut bytes = 0;
    for task in tasks {
        bytes += task.await.expect("task");
    }
    let stats = setup.mirror.stats();
    assert_eq!(stats.requests, 100);
    assert_eq!(stats.tcp_connections, 1);
    assert_eq!(stats.tls_handshakes, 1);
    assert_eq!(stats.h2_connections, 1);
    assert_eq!(stats.http1_connections, 0);
    assert_eq!(stats.paths.get("/gems/beta-2.0.0.gem"), Some(&100));
    assert_eq!(stats.bytes_sent, bytes + setup.gem("beta-2.0.0").size);
}

#[tokio::test]
async fn http1_keep_alive_reuses_one_connection() {
    let setup = start(|c| c.http1_only = true).await;
    let http = http1_client(&setup.mirror);
    for _ in 0..10 {
        http.get(setup.url("/gems/beta-2.0.0.gem"))
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
    }
    let stats = setup.mirror.stats();
    assert_eq!(stats.requests, 10);
    assert_eq!(
        (
            stats.tcp_connections,
            stats.tls_handshakes,
            stats.http1_connections
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn every_http1_connection_is_counted() {
    // Raw connections, because a pooled client may open spares while racing its own pool.
    let setup = start(|_| {}).await;
    let exchanges = (0..3).map(|_| raw_get(&setup.mirror, "/gems/beta-2.0.0.gem"));
    for raw in futures_util::future::join_all(exchanges).await {
        assert_eq!(raw.status(), 200);
    }
    let stats = setup.mirror.stats();
    assert_eq!(stats.requests, 3);
    assert_eq!(
        (
            stats.tcp_connections,
            stats.tls_handshakes,
            stats.http1_connections
        ),
        (3, 3, 3)
    );
    assert_eq!(stats.h2_connections, 0);
}

#[tokio::test]
async fn a_resume_shows_up_as_a_range_request() {
    let setup = start(|_| {}).await;
    let http = client(&setup.mirror);
    let path = "/gems/alpha-1.0.0.gem";
    let body = http
        .get(setup.url(path))
        .header(header::RANGE, "bytes=1000-")
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    http.get(setup.url("/versions")).send().await.expect("get");
    let stats = setup.mirror.stats();
    assert_eq!(stats.range_requests, 1);
    assert_eq!(stats.offset_range_requests, 1);
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.paths.get(path), Some(&1));
    assert_eq!(stats.paths.get("/versions"), Some(&1));
    assert_eq!(
        stats.path_starts.get(path),
        None,
        "a range from byte 1000 is no start"
    );
    assert_eq!(stats.path_starts.get("/versions"), Some(&1));
    assert!(stats.bytes_sent >= body.len() as u64);

    setup.mirror.reset_stats();
    assert_eq!(setup.mirror.stats(), wow_mirror::Stats::default());
}
