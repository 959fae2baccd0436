//! `/_stats`, `/_requests` (the latest requests' headers) and `/_faults`: how a test in another process (RSpec against the binary) reads the
//! counters and injects faults. These requests are not counted and never faulted.

use crate::body::MirrorBody;
use crate::faults::FaultRule;
use crate::headers::put;
use crate::state::Shared;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header;
use hyper::{Method, Request, Response, StatusCode};

/// Fault rules are a few hundred bytes; anything near this is a mistake.
const MAX_CONTROL_BODY: usize = 64 * 1024;

pub(crate) async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<MirrorBody> {
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/_stats") => json(&shared.counters.snapshot()),
        (Method::POST, "/_stats/reset") => {
            shared.counters.reset();
            status(StatusCode::NO_CONTENT, "")
        }
        (Method::GET, "/_requests") => json(&shared.counters.seen()),
        (Method::GET, "/_faults") => json(&shared.faults.rules()),
        (Method::DELETE, "/_faults") => {
            shared.faults.clear();
            status(StatusCode::NO_CONTENT, "")
        }
        (Method::POST, "/_faults") => match read_rules(req).await {
            Ok(rules) => {
                for rule in rules {
                    shared.faults.add(rule);
                }
                status(StatusCode::NO_CONTENT, "")
            }
            Err(message) => status(StatusCode::BAD_REQUEST, &format!("{message}\n")),
        },
        (_, "/_stats" | "/_stats/reset" | "/_faults" | "/_requests") => {
            status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        _ => status(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// One rule object, or an array of them.
async fn read_rules(req: Request<Incoming>) -> Result<Vec<FaultRule>, String> {
    let body = Limited::new(req.into_body(), MAX_CONTROL_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
        .to_bytes();
    if let Ok(rules) = serde_json::from_slice::<Vec<FaultRule>>(&body) {
        return Ok(rules);
    }
    serde_json::from_slice::<FaultRule>(&body)
        .map(|rule| vec![rule])
        .map_err(|e| format!("not a fault rule: {e}"))
}

fn json(value: &impl serde::Serialize) -> Response<MirrorBody> {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = status(StatusCode::OK, "");
            *response.body_mut() = MirrorBody::uncounted(Bytes::from(body));
            put(
                response.headers_mut(),
                header::CONTENT_TYPE,
                "application/json",
            );
            response
        }
        Err(e) => status(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
    }
}

fn status(code: StatusCode, text: &str) -> Response<MirrorBody> {
    let mut response = Response::new(MirrorBody::uncounted(Bytes::from(text.to_owned())));
    *response.status_mut() = code;
    if !text.is_empty() {
        put(
            response.headers_mut(),
            header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        );
    }
    response
}
