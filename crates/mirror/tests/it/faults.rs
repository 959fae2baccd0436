//! Each fault kind, as a client experiences it.

use crate::support::{client, drain, http1_client, raw_get, start};
use reqwest::header;
use std::io::ErrorKind;
use std::time::{Duration, Instant};
use wow_mirror::{Fault, FaultRule, PathMatch, TlsFault};

const GEM: &str = "/gems/alpha-1.0.0.gem";

fn on_gem(fault: Fault) -> FaultRule {
    FaultRule::new(PathMatch::exact(GEM), fault)
}

#[tokio::test]
async fn after_lets_the_first_requests_through() {
    let setup = start(|c| c.faults = vec![on_gem(Fault::Status(503)).after(2).times(1)]).await;
    let http = client(&setup.mirror);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = http.get(setup.url(GEM)).send().await.expect("get");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 503, 200]);
}

#[tokio::test]
async fn status_applies_to_the_first_n_requests_only() {
    let setup = start(|c| c.faults = vec![on_gem(Fault::Status(500)).times(2)]).await;
    let http = client(&setup.mirror);
    for _ in 0..2 {
        let response = http.get(setup.url(GEM)).send().await.expect("get");
        assert_eq!(response.status(), 500);
        assert!(response
            .text()
            .await
            .expect("text")
            .contains("injected 500"));
    }
    let response = http.get(setup.url(GEM)).send().await.expect("get");
    assert_eq!(response.status(), 200);
    // Other paths were never affected.
    let other = http
        .get(setup.url("/gems/beta-2.0.0.gem"))
        .send()
        .await
        .expect("get");
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn retry_after_sends_the_header() {
    let setup = start(|_| {}).await;
    setup.mirror.add_fault(FaultRule::new(
        PathMatch::prefix("/gems/"),
        Fault::RetryAfter {
            status: 429,
            seconds: 2,
        },
    ));
    let response = client(&setup.mirror)
        .get(setup.url(GEM))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()[header::RETRY_AFTER], "2");
}

#[tokio::test]
async fn reset_after_fails_the_body_midway_on_h2_and_keeps_the_connection() {
    let setup = start(|c| c.faults = vec![on_gem(Fault::ResetAfter(10_000)).times(1)]).await;
    let http = client(&setup.mirror);
    let response = http.get(setup.url(GEM)).send().await.expect("headers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let (body, error) = drain(response).await;
    assert!(error.is_some(), "body completed with {} bytes", body.len());
    assert!(body.len() <= 10_000, "{}", body.len());
    // Only the stream was reset: the next request reuses the connection.
    let again = http.get(setup.url(GEM)).send().await.expect("get");
    assert_eq!(again.bytes().await.expect("body"), setup.big_bytes());
    assert_eq!(setup.mirror.stats().tcp_connections, 1);
}

#[tokio::test]
async fn reset_after_resets_the_http1_connection() {
    let setup = start(|c| c.faults = vec![on_gem(Fault::ResetAfter(10_000))]).await;
    let raw = raw_get(&setup.mirror, GEM).await;
    assert_eq!(raw.status(), 200);
    assert_eq!(
        raw.end,
        Some(ErrorKind::ConnectionReset),
        "head: {}",
        raw.head
    );
    assert!(raw.body.len() <= 10_000, "{}", raw.body.len());

    let response = http1_client(&setup.mirror)
        .get(setup.url(GEM))
        .send()
        .await
        .expect("headers");
    let (_, error) = drain(response).await;
    assert!(error.is_some());
}

#[tokio::test]
async fn truncate_announces_the_full_length_and_closes_early() {
    let setup = start(|c| c.faults = vec![on_gem(Fault::Truncate(5000))]).await;
    let raw = raw_get(&setup.mirror, GEM).await;
    let full = setup.big_bytes();
    assert!(raw
        .head
        .to_ascii_lowercase()
        .contains(&format!("content-length: {}", full.len())));
    assert_eq!(raw.body, full[..5000]);
    // A FIN without TLS close_notify, not a reset.
    assert_ne!(raw.end, Some(ErrorKind::ConnectionReset));

    for http in [client(&setup.mirror), http1_client(&setup.mirror)] {
        let response = http.get(setup.url(GEM)).send().await.expect("headers");
        let (body, error) = drain(response).await;
        assert!(error.is_some(), "short body accepted");
        assert!(body.len() <= 5000);
    }
}

#[tokio::test]
async fn corrupt_keeps_length_and_etag_but_changes_bytes() {
    let setup = start(|c| c.faults = vec![on_gem(Fault::Corrupt)]).await;
    let response = client(&setup.mirror)
        .get(setup.url(GEM))
        .send()
        .await
        .expect("get");
    let etag = response.headers()[header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();
    let body = response.bytes().await.expect("body");
    let full = setup.big_bytes();
    assert_eq!(body.len(), full.len());
    assert_ne!(body.as_ref(), full);
    assert_eq!(etag, format!("\"{}\"", setup.gem("alpha-1.0.0").sha256));
}

#[tokio::test]
async fn stall_pauses_mid_body_then_finishes() {
    let setup = start(|c| {
        c.faults = vec![on_gem(Fault::Stall {
            after: 1000,
            seconds: 1,
        })]
    })
    .await;
    let started = Instant::now();
    let mut response = client(&setup.mirror)
        .get(setup.url(GEM))
        .send()
        .await
        .expect("get");
    let first = response.chunk().await.expect("chunk").expect("some bytes");
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "first bytes late"
    );
    assert!(first.len() <= 1000);
    let (rest, error) = drain(response).await;
    assert!(error.is_none());
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!([first.as_ref(), &rest].concat(), setup.big_bytes());
}

#[tokio::test]
async fn bandwidth_and_latency_slow_the_response() {
    let setup = start(|c| {
        c.latency = Duration::from_millis(100);
        c.faults = vec![
            FaultRule::new(
                PathMatch::exact("/gems/beta-2.0.0.gem"),
                Fault::Bandwidth(40_000),
            ),
            on_gem(Fault::Latency(Duration::from_millis(300))),
        ];
    })
    .await;
    let http = client(&setup.mirror);

    let started = Instant::now();
    let response = http.get(setup.url(GEM)).send().await.expect("get");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "latency + config latency"
    );
    response.bytes().await.expect("body");

    // About 11 KB at 40 KB/s: at least a quarter of a second.
    let beta = setup.gem("beta-2.0.0");
    let started = Instant::now();
    let body = http
        .get(setup.url("/gems/beta-2.0.0.gem"))
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(body.len() as u64, beta.size);
    let floor = Duration::from_secs_f64(beta.size as f64 / 40_000.0 * 0.8);
    assert!(
        started.elapsed() >= floor,
        "{:?} < {floor:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn close_after_response_forces_a_new_http1_connection() {
    let setup = start(|_| {}).await;
    let http = http1_client(&setup.mirror);
    for _ in 0..2 {
        http.get(setup.url(GEM))
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
    }
    assert_eq!(
        setup.mirror.stats().tcp_connections,
        1,
        "keep-alive baseline"
    );

    setup.mirror.reset_stats();
    setup.mirror.add_fault(on_gem(Fault::CloseAfterResponse));
    for _ in 0..3 {
        let response = http.get(setup.url(GEM)).send().await.expect("get");
        assert_eq!(response.headers()[header::CONNECTION], "close");
        response.bytes().await.expect("body");
    }
    // The first request rode the kept-alive connection; each later one needed a fresh one.
    assert_eq!(setup.mirror.stats().tcp_connections, 2);
}

#[tokio::test]
async fn rate_zero_never_fires_and_rate_one_always_does() {
    let setup = start(|_| {}).await;
    let http = client(&setup.mirror);
    setup.mirror.add_fault(on_gem(Fault::Status(503)).rate(0.0));
    for _ in 0..5 {
        assert_eq!(
            http.get(setup.url(GEM)).send().await.expect("get").status(),
            200
        );
    }
    setup.mirror.clear_faults();
    setup.mirror.add_fault(on_gem(Fault::Status(503)).rate(1.0));
    for _ in 0..5 {
        assert_eq!(
            http.get(setup.url(GEM)).send().await.expect("get").status(),
            503
        );
    }
}

#[tokio::test]
async fn faults_and_stats_are_controllable_over_http() {
    let setup = start(|_| {}).await;
    let http = client(&setup.mirror);
    let post = http
        .post(setup.url("/_faults"))
        .body(r#"{"path":{"exact":"/gems/alpha-1.0.0.gem"},"fault":{"status":502},"times":1}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 204);
    assert_eq!(
        http.get(setup.url(GEM)).send().await.expect("get").status(),
        502
    );
    assert_eq!(
        http.get(setup.url(GEM)).send().await.expect("get").status(),
        200
    );

    let listed: Vec<FaultRule> = http
        .get(setup.url("/_faults"))
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("json"))
        .expect("body");
    assert_eq!(listed.len(), 1);

    let bad = http
        .post(setup.url("/_faults"))
        .body(r#"{"fault":{"explode":1}}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status(), 400);

    http.post(setup.url("/_faults"))
        .body(r#"[{"fault":{"status":500}}]"#)
        .send()
        .await
        .expect("post");
    assert_eq!(
        http.get(setup.url(GEM)).send().await.expect("get").status(),
        500
    );
    let deleted = http
        .delete(setup.url("/_faults"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        http.get(setup.url(GEM)).send().await.expect("get").status(),
        200
    );

    let stats: wow_mirror::Stats = http
        .get(setup.url("/_stats"))
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("json"))
        .expect("body");
    // Control requests are not counted.
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.paths.get(GEM), Some(&4));
    assert!(!stats.paths.keys().any(|p| p.starts_with("/_")));
    let reset = http
        .post(setup.url("/_stats/reset"))
        .send()
        .await
        .expect("post");
    assert_eq!(reset.status(), 204);
    assert_eq!(setup.mirror.stats().requests, 0);
}

#[tokio::test]
async fn reset_before_headers_answers_nothing() {
    let setup = start(|c| c.faults = vec![on_gem(Fault::ResetBeforeHeaders).times(2)]).await;
    // h2: the stream is reset; the connection lives on for the next request.
    let http = client(&setup.mirror);
    let error = http
        .get(setup.url(GEM))
        .send()
        .await
        .expect_err("no headers");
    assert!(!error.is_timeout(), "{error}");
    // HTTP/1.1: the connection is reset.
    let error = http1_client(&setup.mirror)
        .get(setup.url(GEM))
        .send()
        .await
        .expect_err("no headers");
    assert!(!error.is_timeout(), "{error}");
    let body = http.get(setup.url(GEM)).send().await.expect("get");
    assert_eq!(body.bytes().await.expect("body"), setup.big_bytes());
    assert_eq!(setup.mirror.stats().h2_connections, 1);
}

#[tokio::test]
async fn reset_before_end_sends_all_but_the_tail() {
    let setup = start(|c| c.faults = vec![on_gem(Fault::ResetBeforeEnd(1))]).await;
    let full = setup.big_bytes();
    let raw = raw_get(&setup.mirror, GEM).await;
    assert_eq!(raw.body, full[..full.len() - 1]);
    assert_eq!(raw.end, Some(ErrorKind::ConnectionReset));

    setup.mirror.clear_faults();
    setup.mirror.add_fault(on_gem(Fault::ResetBeforeEnd(0)));
    let response = client(&setup.mirror)
        .get(setup.url(GEM))
        .send()
        .await
        .expect("headers");
    let (body, error) = drain(response).await;
    assert_eq!(body, full, "every byte arrives");
    assert!(error.is_some(), "but the stream is reset instead of ended");
}

#[tokio::test]
async fn content_length_is_announced_verbatim() {
    let setup = start(|_| {}).await;
    let full = setup.big_bytes();
    for value in [
        "-1",
        "abc",
        "1000",
        "99999999999999",
        "99999999999999999999999",
    ] {
        setup.mirror.clear_faults();
        setup
            .mirror
            .add_fault(on_gem(Fault::ContentLength(value.to_owned())));
        let raw = raw_get(&setup.mirror, GEM).await;
        assert_eq!(raw.status(), 200);
        assert!(
            raw.head.contains(&format!("content-length: {value}\r\n")),
            "{}",
            raw.head
        );
        assert_eq!(raw.body, full, "{value}: the whole body follows");
        // h2 gets the header as given, and its client must notice the lie.
        let response = client(&setup.mirror).get(setup.url(GEM)).send().await;
        let failed = match response {
            Err(_) => true,
            Ok(response) => drain(response).await.1.is_some(),
        };
        assert!(failed, "{value}: an h2 client must notice");
    }
    // Other paths are served normally on a connection that once carried a raw response.
    let beta = http1_client(&setup.mirror)
        .get(setup.url("/gems/beta-2.0.0.gem"))
        .send()
        .await
        .expect("get");
    assert_eq!(beta.status(), 200);
}

#[tokio::test]
async fn redirect_sends_location() {
    let setup = start(|c| {
        c.plain_http = true;
        c.faults = vec![FaultRule::new(
            PathMatch::exact("/old/alpha.gem"),
            Fault::Redirect {
                status: 302,
                location: GEM.to_owned(),
            },
        )];
    })
    .await;
    let response = client(&setup.mirror)
        .get(setup.url("/old/alpha.gem"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.url().path(), GEM);
    assert_eq!(response.bytes().await.expect("body"), setup.big_bytes());
    let plain = setup.mirror.plain_base_url().expect("plain listener");
    assert!(plain.starts_with("http://localhost:"), "{plain}");
    let body = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!("{plain}{GEM}"))
        .send()
        .await
        .expect("plain get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(body, setup.big_bytes());
}

#[tokio::test]
async fn close_after_response_sends_goaway_on_h2() {
    let setup = start(|c| c.faults = vec![on_gem(Fault::CloseAfterResponse)]).await;
    let http = client(&setup.mirror);
    for _ in 0..3 {
        let body = http.get(setup.url(GEM)).send().await.expect("get");
        assert_eq!(body.bytes().await.expect("body"), setup.big_bytes());
    }
    let stats = setup.mirror.stats();
    assert_eq!(
        (stats.h2_connections, stats.tcp_connections),
        (3, 3),
        "{stats:?}"
    );
}

#[tokio::test]
async fn go_away_fails_the_streams_in_flight() {
    let setup = start(|c| {
        c.faults = vec![FaultRule::new(
            PathMatch::exact("/gems/beta-2.0.0.gem"),
            Fault::Bandwidth(5_000),
        )]
    })
    .await;
    let http = client(&setup.mirror);
    let slow = http
        .get(setup.url("/gems/beta-2.0.0.gem"))
        .send()
        .await
        .expect("headers");
    setup.mirror.add_fault(on_gem(Fault::GoAway).times(1));
    let _ = http.get(setup.url(GEM)).send().await;
    let (_, error) = drain(slow).await;
    assert!(error.is_some(), "the slow stream was cut");
    let again = http
        .get(setup.url(GEM))
        .send()
        .await
        .expect("new connection");
    assert_eq!(again.bytes().await.expect("body"), setup.big_bytes());
    assert_eq!(setup.mirror.stats().tcp_connections, 2);
}

#[tokio::test]
async fn tls_faults_fail_the_handshake() {
    for (fault, words) in [
        (TlsFault::UnknownCa, "unknown"),
        (TlsFault::Expired, "expired"),
        (TlsFault::WrongHost, "not valid for name"),
    ] {
        let setup = start(|c| c.tls_fault = Some(fault)).await;
        let error = client(&setup.mirror)
            .get(setup.url(GEM))
            .send()
            .await
            .expect_err("handshake must fail");
        let mut chain = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(e) = source {
            chain = format!("{chain}: {e}");
            source = e.source();
        }
        assert!(chain.to_lowercase().contains(words), "{fault:?}: {chain}");
        assert_eq!(setup.mirror.stats().tls_handshakes, 0);
    }
}
