//! `wow-wan`: a userspace netem. Two network namespaces, `wowc` (client, 10.77.0.1) and `wows`
//! (server, 10.77.0.2, named `mirror.wow.test` in the client's `/etc/hosts`), joined only through
//! a TUN device in each whose packets this process relays with a one-way delay, a bottleneck
//! rate and a drop-tail queue per direction. The kernel here has neither netem nor fq, and a
//! delaying proxy would hide TCP's handshake and slow start, which is what a benchmark of one
//! connection against many must see.

mod check;
mod link;
mod netns;
mod relay;
mod tun;

use link::LinkParams;
use netns::{CLIENT, SERVER};
use relay::DirStats;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage:
  wow-wan up --rtt-ms MS --rate-mbit MBIT [--queue-ms 100] [--realtime yes|no]
             [--state-dir /run/wow-wan]
  wow-wan down [--state-dir DIR]
  wow-wan check [--state-dir DIR]
  wow-wan stats [--state-dir DIR]

up     creates namespaces wowc (client, 10.77.0.1) and wows (server, 10.77.0.2, known to the
       client as mirror.wow.test), then relays between them in the foreground until SIGTERM or
       SIGINT, when it prints per-direction packet, byte, drop and SYN counts. It writes
       DIR/ready (key=value lines) once packets flow, and DIR/stats.json on SIGUSR1 and exit.
       Namespaces outlive it (servers inside survive a restart with new parameters).
       The relay threads run SCHED_FIFO (--realtime no: normal priority) so a busy machine
       does not slow the emulated network.
down   stops a running relay and removes both namespaces.
check  measures TCP connect time and a 10 MiB single stream through the running relay and
       compares them with the RTT and a slow-start model; exits 1 if they disagree.
stats  asks the running relay for its counters and prints DIR/stats.json.
RATE 0 means no bottleneck (delay only).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => Args::new(&args[1..]).and_then(up),
        Some("down") => Args::new(&args[1..]).and_then(down),
        Some("check") => Args::new(&args[1..]).and_then(check),
        Some("stats") => Args::new(&args[1..]).and_then(stats),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("wow-wan: {message}");
            ExitCode::from(2)
        }
    }
}

/// `--flag value` and `--flag=value` pairs, consumed by name so leftovers are reported.
struct Args(Vec<(String, String)>);

impl Args {
    fn new(raw: &[String]) -> Result<Self, String> {
        let mut parsed = Vec::new();
        let mut iter = raw.iter();
        while let Some(arg) = iter.next() {
            if !arg.starts_with("--") {
                return Err(format!("unexpected argument {arg:?}"));
            }
            if let Some((flag, value)) = arg.split_once('=') {
                parsed.push((flag.to_owned(), value.to_owned()));
            } else {
                let value = iter.next().ok_or_else(|| format!("{arg} needs a value"))?;
                parsed.push((arg.clone(), value.clone()));
            }
        }
        Ok(Self(parsed))
    }

    fn take(&mut self, flag: &str) -> Option<String> {
        let i = self.0.iter().position(|(f, _)| f == flag)?;
        Some(self.0.remove(i).1)
    }

    fn number(&mut self, flag: &str, default: Option<f64>) -> Result<f64, String> {
        match self.take(flag) {
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| format!("{flag} wants a non-negative number, got {v:?}")),
            None => default.ok_or_else(|| format!("{flag} is required")),
        }
    }

    fn state_dir(&mut self) -> PathBuf {
        self.take("--state-dir")
            .map_or_else(|| PathBuf::from("/run/wow-wan"), PathBuf::from)
    }

    fn finish(self) -> Result<(), String> {
        match self.0.first() {
            Some((flag, _)) => Err(format!("unknown option {flag}\n\n{USAGE}")),
            None => Ok(()),
        }
    }
}

/// What `up` writes to DIR/ready: enough for `check`, `stats`, `down` and shell scripts.
struct Ready {
    pid: i32,
    rtt_ms: f64,
    rate_mbit: f64,
}

impl Ready {
    fn read(dir: &Path) -> Result<Self, String> {
        let path = dir.join("ready");
        let text = fs::read_to_string(&path).map_err(|e| {
            format!(
                "no relay running ({}: {e}); start `wow-wan up`",
                path.display()
            )
        })?;
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| format!("{} lacks {key}", path.display()))
        };
        let ready = Self {
            pid: get("pid")?.parse().map_err(|_| "bad pid in ready file")?,
            rtt_ms: get("rtt_ms")?
                .parse()
                .map_err(|_| "bad rtt_ms in ready file")?,
            rate_mbit: get("rate_mbit")?
                .parse()
                .map_err(|_| "bad rate_mbit in ready file")?,
        };
        if !alive(ready.pid) {
            return Err(format!(
                "the relay (pid {}) is not running; start `wow-wan up`",
                ready.pid
            ));
        }
        Ok(ready)
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// Write through a temp file and rename, so a reader never sees half a file.
fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}

fn e2s(e: io::Error) -> String {
    e.to_string()
}

fn up(mut args: Args) -> Result<ExitCode, String> {
    let rtt_ms = args.number("--rtt-ms", None)?;
    let rate_mbit = args.number("--rate-mbit", None)?;
    let queue_ms = args.number("--queue-ms", Some(100.0))?;
    let realtime = match args.take("--realtime").as_deref() {
        None | Some("yes") => true,
        Some("no") => false,
        Some(other) => return Err(format!("--realtime wants yes or no, got {other:?}")),
    };
    let dir = args.state_dir();
    args.finish()?;
    if Ready::read(&dir).is_ok() {
        return Err(format!(
            "a relay is already running (see {}/ready)",
            dir.display()
        ));
    }
    fs::create_dir_all(&dir).map_err(e2s)?;
    let _ = fs::remove_file(dir.join("ready"));
    let params = LinkParams::new(rtt_ms, rate_mbit, queue_ms);

    // Signals are taken by this thread only (sigtimedwait below): block them before any relay
    // thread starts so those inherit the mask.
    let signals = signal_set();
    // SAFETY: a valid, initialised sigset; changes only this thread's mask.
    unsafe {
        libc::pthread_sigmask(
            libc::SIG_BLOCK,
            std::ptr::addr_of!(signals),
            std::ptr::null_mut(),
        )
    };

    let mut files = Vec::new();
    for side in [CLIENT, SERVER] {
        netns::ensure(side).map_err(e2s)?;
        let file = tun::open(side.dev).map_err(|e| format!("opening TUN {}: {e}", side.dev))?;
        netns::attach(side).map_err(e2s)?;
        netns::write_hosts(side).map_err(e2s)?;
        files.push(Arc::new(file));
    }
    let (client, server) = (Arc::clone(&files[0]), Arc::clone(&files[1]));

    let stop = Arc::new(AtomicBool::new(false));
    let up_stats = Arc::new(DirStats::default()); // client -> server
    let down_stats = Arc::new(DirStats::default()); // server -> client
    let mut threads = Vec::new();
    for (name, src, dst, stats) in [
        ("c2s", &client, &server, &up_stats),
        ("s2c", &server, &client, &down_stats),
    ] {
        let (src, dst, stats, stop) = (
            Arc::clone(src),
            Arc::clone(dst),
            Arc::clone(stats),
            Arc::clone(&stop),
        );
        threads.push(
            thread::Builder::new()
                .name(format!("relay-{name}"))
                .spawn(move || {
                    if realtime {
                        if let Err(e) = relay::make_realtime() {
                            eprintln!("wow-wan: relay {name} stays at normal priority: {e}");
                        }
                    }
                    let result = relay::run(&src, &dst, params, &stats, &stop);
                    if let Err(e) = &result {
                        eprintln!("wow-wan: relay {name} failed: {e}");
                    }
                    result
                })
                .map_err(e2s)?,
        );
    }

    let started = Instant::now();
    let mut seq = 0u64;
    let stats_json = |seq: u64, elapsed: Duration| {
        format!(
            "{{\"seq\":{seq},\"elapsed_s\":{:.3},\"rtt_ms\":{rtt_ms},\"rate_mbit\":{rate_mbit},\"queue_ms\":{queue_ms},\"queue_bytes\":{},\"c2s\":{},\"s2c\":{}}}\n",
            elapsed.as_secs_f64(),
            params.queue_bytes,
            up_stats.json(),
            down_stats.json()
        )
    };
    write_atomic(&dir.join("stats.json"), &stats_json(seq, Duration::ZERO)).map_err(e2s)?;
    write_atomic(
        &dir.join("ready"),
        &format!(
            "pid={}\nrtt_ms={rtt_ms}\nrate_mbit={rate_mbit}\nqueue_ms={queue_ms}\nqueue_bytes={}\nclient_ns={}\nserver_ns={}\nclient_addr={}\nserver_addr={}\nserver_name={}\n",
            std::process::id(),
            params.queue_bytes,
            CLIENT.ns,
            SERVER.ns,
            CLIENT.addr,
            SERVER.addr,
            netns::MIRROR_HOST
        ),
    )
    .map_err(e2s)?;
    eprintln!(
        "wow-wan: relaying {} <-> {} with RTT {rtt_ms} ms, {rate_mbit} Mbit/s, queue {} bytes; ready",
        CLIENT.addr, SERVER.addr, params.queue_bytes
    );

    loop {
        match wait_signal(&signals, Duration::from_millis(500)) {
            Some(libc::SIGUSR1) => {
                seq += 1;
                write_atomic(&dir.join("stats.json"), &stats_json(seq, started.elapsed()))
                    .map_err(e2s)?;
            }
            Some(libc::SIGINT | libc::SIGTERM) => break,
            _ => {
                if threads.iter().any(thread::JoinHandle::is_finished) {
                    eprintln!("wow-wan: a relay thread stopped; exiting");
                    break;
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut failed = false;
    for t in threads {
        failed |= !matches!(t.join(), Ok(Ok(())));
    }
    let _ = fs::remove_file(dir.join("ready"));
    let json = stats_json(seq + 1, started.elapsed());
    write_atomic(&dir.join("stats.json"), &json).map_err(e2s)?;
    eprintln!(
        "wow-wan: stopped after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (name, s) in [
        ("client->server", &up_stats),
        ("server->client", &down_stats),
    ] {
        eprintln!(
            "  {name}: {} packets, {} bytes, {} dropped, {} SYNs, max queue {} bytes",
            s.packets.load(Ordering::Relaxed),
            s.bytes.load(Ordering::Relaxed),
            s.drops.load(Ordering::Relaxed),
            s.syns.load(Ordering::Relaxed),
            s.max_queue.load(Ordering::Relaxed)
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset reads it.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(std::ptr::addr_of_mut!(set));
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1] {
            libc::sigaddset(std::ptr::addr_of_mut!(set), sig);
        }
        set
    }
}

fn wait_signal(set: &libc::sigset_t, timeout: Duration) -> Option<i32> {
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(0),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    // SAFETY: valid set and timespec; the siginfo pointer may be null.
    let sig = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), std::ptr::addr_of!(ts)) };
    (sig > 0).then_some(sig)
}

fn down(mut args: Args) -> Result<ExitCode, String> {
    let dir = args.state_dir();
    args.finish()?;
    if let Ok(ready) = Ready::read(&dir) {
        // SAFETY: plain kill(2) of the pid the relay wrote about itself.
        unsafe { libc::kill(ready.pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(ready.pid) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = fs::remove_file(dir.join("ready"));
    netns::remove_all().map_err(e2s)?;
    Ok(ExitCode::SUCCESS)
}

fn check(mut args: Args) -> Result<ExitCode, String> {
    let dir = args.state_dir();
    args.finish()?;
    let ready = Ready::read(&dir)?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rate_bps = (ready.rate_mbit * 1e6) as u64;
    let report = check::run(Duration::from_secs_f64(ready.rtt_ms / 1e3), rate_bps).map_err(e2s)?;
    for line in report.lines() {
        println!("{line}");
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn stats(mut args: Args) -> Result<ExitCode, String> {
    let dir = args.state_dir();
    args.finish()?;
    let ready = Ready::read(&dir)?;
    let path = dir.join("stats.json");
    let before = fs::read_to_string(&path).unwrap_or_default();
    // SAFETY: plain kill(2) of the pid the relay wrote about itself.
    unsafe { libc::kill(ready.pid, libc::SIGUSR1) };
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = fs::read_to_string(&path).unwrap_or_default();
        if now != before && !now.is_empty() {
            print!("{now}");
            return Ok(ExitCode::SUCCESS);
        }
        if Instant::now() > deadline {
            return Err("the relay did not answer SIGUSR1 within 3 s".to_owned());
        }
        thread::sleep(Duration::from_millis(5));
    }
}
