//! Injected misbehaviour: which requests a fault hits ([`FaultRule`]) and what it does
//! ([`Fault`]). Rules are data (serde), so a Ruby test can post them to a running binary.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Which request paths a rule applies to (the path without its query string).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathMatch {
    /// Exactly this path, e.g. `/gems/rack-3.0.9.gem`.
    Exact(String),
    /// Any path starting with this, e.g. `/gems/` or `/info/`.
    Prefix(String),
    /// Every path except the control endpoints.
    #[default]
    Any,
}

impl PathMatch {
    /// Shorthand for [`PathMatch::Exact`].
    pub fn exact(path: impl Into<String>) -> Self {
        Self::Exact(path.into())
    }

    /// Shorthand for [`PathMatch::Prefix`].
    pub fn prefix(path: impl Into<String>) -> Self {
        Self::Prefix(path.into())
    }

    /// Whether `path` is one this rule targets.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(p) => path == p,
            Self::Prefix(p) => path.starts_with(p.as_str()),
            Self::Any => true,
        }
    }
}

/// What happens to a matching response. In JSON a variant is `{"status": 503}`, or a bare string
/// for the ones without data (`"corrupt"`); `latency_ms` is in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Respond with this status and a short text body instead of the resource.
    Status(u16),
    /// Respond with `status` (429 or 503 in practice) and `Retry-After: seconds`.
    RetryAfter { status: u16, seconds: u64 },
    /// Send the headers and this many body bytes, then reset: `RST_STREAM` on h2, a TCP RST
    /// (zero linger) of the whole connection on HTTP/1.1.
    ResetAfter(u64),
    /// `Content-Length` announces the full size, but the body ends after this many bytes and the
    /// connection closes with a FIN (h2: the stream ends early).
    Truncate(u64),
    /// Full length, but a few bytes are flipped; headers (ETag included) are unchanged, as from a
    /// cache that corrupted its copy.
    Corrupt,
    /// Send `after` bytes, then nothing for `seconds`, then the rest.
    Stall { after: u64, seconds: u64 },
    /// Pace the body to this many bytes per second (0: unlimited).
    Bandwidth(u64),
    /// Wait this long before sending the headers, on top of the configured latency.
    #[serde(rename = "latency_ms", with = "millis")]
    Latency(Duration),
    /// The client must open a new connection after this response: HTTP/1.1 answers with
    /// `Connection: close`, h2 sends GOAWAY (streams already in flight still finish).
    CloseAfterResponse,
    /// Read the request, then reset without answering: a TCP RST of the connection on
    /// HTTP/1.1, `RST_STREAM` on h2.
    ResetBeforeHeaders,
    /// Send the headers and all but the last N body bytes, then reset as [`Fault::ResetAfter`]
    /// does; 0 sends every byte and resets instead of ending the body.
    ResetBeforeEnd(u64),
    /// Announce this `Content-Length`, verbatim, with the whole body (a 200, whatever the
    /// `Range`): a larger value is a body cut short, a smaller one a body longer than announced,
    /// `-1` or `abc` is garbage. HTTP/1.1 writes it raw, since hyper frames only honest
    /// lengths, and closes the connection after it; h2 sends it as the header.
    ContentLength(String),
    /// Answer with `status` (301, 302, 307, 308) and `Location: location` (a URL or a path).
    Redirect { status: u16, location: String },
    /// h2: send GOAWAY when the request arrives and drop the connection 20 ms later, failing
    /// every stream still in flight on it, as a server that restarts mid-run. HTTP/1.1: as
    /// [`Fault::CloseAfterResponse`].
    GoAway,
}

/// A fault and the requests it hits. All rules that match a request apply together (e.g. latency
/// plus bandwidth); where two would conflict (two statuses, two cut-offs) the earlier rule wins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Which paths; `Any` when omitted in JSON.
    #[serde(default)]
    pub path: PathMatch,
    pub fault: Fault,
    /// Let this many matching requests through untouched before the rule applies (say, the
    /// first segment of a file, so only the later ones are hit).
    #[serde(default)]
    pub after: u32,
    /// Apply to the first N matching requests only (after `after`); `None`: no limit.
    #[serde(default)]
    pub times: Option<u32>,
    /// Apply to each matching request with this probability (seeded, so a sequential test sees
    /// the same sequence every run); `None`: always. Combined with `times`, at most N hits.
    #[serde(default)]
    pub rate: Option<f64>,
}

impl FaultRule {
    /// A rule that applies `fault` to every request on `path`.
    pub fn new(path: PathMatch, fault: Fault) -> Self {
        Self {
            path,
            fault,
            after: 0,
            times: None,
            rate: None,
        }
    }

    /// Let the first `n` matching requests through untouched.
    #[must_use]
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }

    /// Limit the rule to the first `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Apply the rule with probability `p` per matching request.
    #[must_use]
    pub fn rate(mut self, p: f64) -> Self {
        self.rate = Some(p);
        self
    }
}

/// Where a response body stops early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    Reset(u64),
    Truncate(u64),
    /// Reset this many bytes before the end; made a [`Cut::Reset`] once the length is known.
    ResetBeforeEnd(u64),
}

/// How a connection is ended from the server side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shutdown {
    /// GOAWAY, then let the streams in flight finish.
    Graceful,
    /// GOAWAY, then drop the connection with its streams.
    Abrupt,
}

/// The combined effect of every rule that fired for one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// Status to answer with instead of the resource, and a `Retry-After` in seconds.
    pub status: Option<(u16, Option<u64>)>,
    /// `Location` of a redirect that won the status slot.
    pub location: Option<String>,
    pub reset_before_headers: bool,
    /// A verbatim `Content-Length` to announce.
    pub content_length: Option<String>,
    pub latency: Duration,
    pub cut: Option<Cut>,
    pub corrupt: bool,
    pub stall: Option<(u64, Duration)>,
    pub bandwidth: Option<u64>,
    /// End the connection after this response (HTTP/1.1 `Connection: close`, h2 GOAWAY).
    pub shutdown: Option<Shutdown>,
}

impl Plan {
    fn add(&mut self, fault: &Fault) {
        match *fault {
            Fault::Status(code) => {
                self.status.get_or_insert((code, None));
            }
            Fault::RetryAfter { status, seconds } => {
                self.status.get_or_insert((status, Some(seconds)));
            }
            Fault::Redirect {
                status,
                ref location,
            } => {
                if self.status.is_none() {
                    self.status = Some((status, None));
                    self.location = Some(location.clone());
                }
            }
            Fault::ResetAfter(n) => {
                self.cut.get_or_insert(Cut::Reset(n));
            }
            Fault::ResetBeforeEnd(n) => {
                self.cut.get_or_insert(Cut::ResetBeforeEnd(n));
            }
            Fault::Truncate(n) => {
                self.cut.get_or_insert(Cut::Truncate(n));
            }
            Fault::ResetBeforeHeaders => self.reset_before_headers = true,
            Fault::ContentLength(ref value) => {
                self.content_length.get_or_insert_with(|| value.clone());
            }
            Fault::GoAway => self.shutdown = Some(Shutdown::Abrupt),
            Fault::Corrupt => self.corrupt = true,
            Fault::Stall { after, seconds } => {
                self.stall
                    .get_or_insert((after, Duration::from_secs(seconds)));
            }
            Fault::Bandwidth(bps) => {
                // The tighter limit wins; 0 means unlimited.
                if bps > 0 {
                    self.bandwidth = Some(self.bandwidth.map_or(bps, |b| b.min(bps)));
                }
            }
            Fault::Latency(d) => self.latency += d,
            Fault::CloseAfterResponse => {
                self.shutdown.get_or_insert(Shutdown::Graceful);
            }
        }
    }
}

struct ActiveRule {
    rule: FaultRule,
    /// Matching requests so far, hit or not.
    seen: u32,
    hits: u32,
}

/// The live rule list, shared by all connections.
pub(crate) struct FaultTable {
    rules: Mutex<Vec<ActiveRule>>,
    rng: Mutex<StdRng>,
}

/// Fixed so that `rate` faults hit the same requests on every run of a sequential test.
const RNG_SEED: u64 = 0x5eed_f00d;

impl FaultTable {
    pub(crate) fn new(rules: Vec<FaultRule>) -> Self {
        let table = Self {
            rules: Mutex::new(Vec::new()),
            rng: Mutex::new(StdRng::seed_from_u64(RNG_SEED)),
        };
        for rule in rules {
            table.add(rule);
        }
        table
    }

    pub(crate) fn add(&self, rule: FaultRule) {
        self.lock().push(ActiveRule {
            rule,
            seen: 0,
            hits: 0,
        });
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    pub(crate) fn rules(&self) -> Vec<FaultRule> {
        self.lock().iter().map(|a| a.rule.clone()).collect()
    }

    /// Decide which rules fire for a request to `path`, counting their hits.
    pub(crate) fn plan(&self, path: &str) -> Plan {
        let mut plan = Plan::default();
        let mut rules = self.lock();
        for active in rules.iter_mut() {
            let rule = &active.rule;
            if !rule.path.matches(path) {
                continue;
            }
            active.seen = active.seen.saturating_add(1);
            if active.seen <= rule.after || rule.times.is_some_and(|n| active.hits >= n) {
                continue;
            }
            if let Some(p) = rule.rate {
                let roll: f64 = self
                    .rng
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .random();
                // A NaN rate compares false and never fires.
                if roll >= p {
                    continue;
                }
            }
            active.hits = active.hits.saturating_add(1);
            plan.add(&rule.fault);
        }
        plan
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveRule>> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `Duration` as integer milliseconds in JSON: what a person writes in a `--fault` flag.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shapes() {
        let cases = [
            (
                r#"{"path":{"exact":"/gems/a-1.gem"},"fault":{"status":500}}"#,
                Fault::Status(500),
            ),
            (
                r#"{"fault":{"retry_after":{"status":429,"seconds":2}}}"#,
                Fault::RetryAfter {
                    status: 429,
                    seconds: 2,
                },
            ),
            (r#"{"fault":{"reset_after":100}}"#, Fault::ResetAfter(100)),
            (r#"{"fault":{"truncate":100}}"#, Fault::Truncate(100)),
            (r#"{"fault":"corrupt"}"#, Fault::Corrupt),
            (
                r#"{"fault":{"stall":{"after":10,"seconds":1}}}"#,
                Fault::Stall {
                    after: 10,
                    seconds: 1,
                },
            ),
            (r#"{"fault":{"bandwidth":1000}}"#, Fault::Bandwidth(1000)),
            (
                r#"{"fault":{"latency_ms":250}}"#,
                Fault::Latency(Duration::from_millis(250)),
            ),
            (
                r#"{"fault":"close_after_response"}"#,
                Fault::CloseAfterResponse,
            ),
            (
                r#"{"fault":"reset_before_headers"}"#,
                Fault::ResetBeforeHeaders,
            ),
            (
                r#"{"fault":{"reset_before_end":1}}"#,
                Fault::ResetBeforeEnd(1),
            ),
            (
                r#"{"fault":{"content_length":"-1"}}"#,
                Fault::ContentLength("-1".to_owned()),
            ),
            (
                r#"{"fault":{"redirect":{"status":302,"location":"/gems/a-1.gem"}}}"#,
                Fault::Redirect {
                    status: 302,
                    location: "/gems/a-1.gem".to_owned(),
                },
            ),
            (r#"{"fault":"go_away"}"#, Fault::GoAway),
        ];
        for (json, fault) in cases {
            let rule: FaultRule = serde_json::from_str(json).expect(json);
            assert_eq!(rule.fault, fault, "{json}");
            let back: FaultRule =
                serde_json::from_str(&serde_json::to_string(&rule).expect("serialize"))
                    .expect("round trip");
            assert_eq!(back, rule);
        }
        let rule: FaultRule = serde_json::from_str(
            r#"{"path":{"prefix":"/gems/"},"fault":"corrupt","times":2,"rate":0.5}"#,
        )
        .expect("full rule");
        assert_eq!(
            rule,
            FaultRule::new(PathMatch::prefix("/gems/"), Fault::Corrupt)
                .times(2)
                .rate(0.5)
        );
        assert_eq!(
            serde_json::from_str::<FaultRule>(r#"{"fault":"corrupt"}"#)
                .expect("any")
                .path,
            PathMatch::Any
        );
    }

    #[test]
    fn times_limits_hits_and_rules_combine() {
        let table = FaultTable::new(vec![
            FaultRule::new(PathMatch::exact("/a"), Fault::Status(500)).times(2),
            FaultRule::new(PathMatch::Any, Fault::Latency(Duration::from_millis(5))),
            FaultRule::new(PathMatch::Any, Fault::Status(404)),
        ]);
        assert_eq!(table.plan("/a").status, Some((500, None)));
        assert_eq!(table.plan("/a").latency, Duration::from_millis(5));
        assert_eq!(table.plan("/a").status, Some((404, None)));
        assert_eq!(table.plan("/b").status, Some((404, None)));
        table.clear();
        assert_eq!(table.plan("/a"), Plan::default());

        // A redirect competes for the status slot; its Location comes only if it wins.
        let table = FaultTable::new(vec![
            FaultRule::new(PathMatch::exact("/a"), Fault::Status(503)).times(1),
            FaultRule::new(
                PathMatch::Any,
                Fault::Redirect {
                    status: 301,
                    location: "/b".to_owned(),
                },
            ),
            FaultRule::new(PathMatch::Any, Fault::GoAway),
            FaultRule::new(PathMatch::Any, Fault::CloseAfterResponse),
        ]);
        let first = table.plan("/a");
        assert_eq!((first.status, first.location), (Some((503, None)), None));
        let second = table.plan("/a");
        assert_eq!(second.status, Some((301, None)));
        assert_eq!(second.location.as_deref(), Some("/b"));
        assert_eq!(
            second.shutdown,
            Some(Shutdown::Abrupt),
            "the harsher ending wins"
        );
        table.clear();
        assert_eq!(table.plan("/a"), Plan::default());
    }

    #[test]
    fn rate_is_a_probability() {
        let table = FaultTable::new(vec![
            FaultRule::new(PathMatch::Any, Fault::Corrupt).rate(0.5)
        ]);
        let hits = (0..1000).filter(|_| table.plan("/x").corrupt).count();
        assert!((350..650).contains(&hits), "{hits}");
        let never = FaultTable::new(vec![
            FaultRule::new(PathMatch::Any, Fault::Corrupt).rate(0.0)
        ]);
        assert!((0..100).all(|_| !never.plan("/x").corrupt));
    }
}
