//! `wow-mirror`: run the mirror as a process (for RSpec, the demo and benchmarks) or write
//! fixture gems. Plain argument parsing: two subcommands do not justify a CLI framework.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use wow_mirror::{write_fixture_set, Auth, FaultRule, FixtureSet, Mirror, MirrorConfig};

const USAGE: &str = "\
usage:
  wow-mirror serve --gems DIR [--port 0] [--bind 127.0.0.1] [--ca-out PATH]
                   [--ready-file PATH] [--http1-only] [--no-ranges] [--no-etags]
                   [--latency-ms N] [--fault JSON]... [--extra-name NAME]...
                   [--tls-fault unknown-ca|expired|wrong-host] [--plain-http]
                   [--auth basic:USER:PASSWORD|bearer:TOKEN]
  wow-mirror fixtures --out DIR [--set demo|small:N]

serve prints the base URL once listening (and writes it to --ready-file, atomically),
and with --plain-http the plain http:// URL of the same content on a second line, then
runs until SIGTERM or SIGINT. A --fault is a FaultRule as JSON, e.g.
  '{\"path\":{\"prefix\":\"/gems/\"},\"fault\":{\"status\":503},\"times\":2}'
With --auth every request but the control endpoints needs that Authorization (else 401).
Control endpoints: GET /_stats, POST /_stats/reset, GET /_requests (the latest requests
and their headers), GET|POST|DELETE /_faults.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => Args::new(&args[1..]).and_then(serve),
        Some("fixtures") => Args::new(&args[1..]).and_then(fixtures),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wow-mirror: {message}");
            ExitCode::from(2)
        }
    }
}

/// `--flag value`, `--flag=value` and bare `--switch` arguments, consumed by name so that
/// anything left over is reported as unknown.
struct Args(Vec<(String, Option<String>)>);

impl Args {
    fn new(raw: &[String]) -> Result<Self, String> {
        const SWITCHES: [&str; 4] = ["--http1-only", "--no-ranges", "--no-etags", "--plain-http"];
        let mut parsed = Vec::new();
        let mut iter = raw.iter();
        while let Some(arg) = iter.next() {
            if !arg.starts_with("--") {
                return Err(format!("unexpected argument {arg:?}"));
            }
            if let Some((flag, value)) = arg.split_once('=') {
                parsed.push((flag.to_owned(), Some(value.to_owned())));
            } else if SWITCHES.contains(&arg.as_str()) {
                parsed.push((arg.clone(), None));
            } else {
                let value = iter.next().ok_or_else(|| format!("{arg} needs a value"))?;
                parsed.push((arg.clone(), Some(value.clone())));
            }
        }
        Ok(Self(parsed))
    }

    /// Every value given for `flag`, removed from the list.
    fn take_all(&mut self, flag: &str) -> Vec<String> {
        let (taken, rest) = std::mem::take(&mut self.0)
            .into_iter()
            .partition::<Vec<_>, _>(|(f, _)| f == flag);
        self.0 = rest;
        taken.into_iter().filter_map(|(_, v)| v).collect()
    }

    fn take(&mut self, flag: &str) -> Option<String> {
        self.take_all(flag).pop()
    }

    fn switch(&mut self, flag: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(f, _)| f != flag);
        self.0.len() != before
    }

    fn parse<T: std::str::FromStr>(&mut self, flag: &str) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        self.take(flag)
            .map(|v| v.parse().map_err(|e| format!("{flag} {v:?}: {e}")))
            .transpose()
    }

    fn finish(self) -> Result<(), String> {
        match self.0.first() {
            Some((flag, _)) => Err(format!("unknown option {flag}\n\n{USAGE}")),
            None => Ok(()),
        }
    }
}

fn serve(mut args: Args) -> Result<(), String> {
    let gems = args.take("--gems").ok_or("serve needs --gems DIR")?;
    let mut config = MirrorConfig::new(gems);
    let port: u16 = args.parse("--port")?.unwrap_or(0);
    let ip: IpAddr = args
        .parse("--bind")?
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    config.bind = SocketAddr::new(ip, port);
    config.http1_only = args.switch("--http1-only");
    config.ranges = !args.switch("--no-ranges");
    config.etags = !args.switch("--no-etags");
    config.latency = Duration::from_millis(args.parse("--latency-ms")?.unwrap_or(0));
    for json in args.take_all("--fault") {
        let rule: FaultRule =
            serde_json::from_str(&json).map_err(|e| format!("--fault {json:?}: {e}"))?;
        config.faults.push(rule);
    }
    config.extra_names = args.take_all("--extra-name");
    config.tls_fault = args.parse("--tls-fault")?;
    config.plain_http = args.switch("--plain-http");
    config.auth = args
        .take("--auth")
        .map(|spec| parse_auth(&spec))
        .transpose()?;
    let ca_out = args.take("--ca-out").map(PathBuf::from);
    let ready_file = args.take("--ready-file").map(PathBuf::from);
    args.finish()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(async {
        // Listen for signals before announcing readiness, so a test that stops us right after
        // reading the ready file gets a clean exit.
        let stop = shutdown_signal().map_err(|e| format!("installing signal handlers: {e}"))?;
        let mirror = Mirror::start(config)
            .await
            .map_err(|e| format!("starting: {e}"))?;
        if let Some(path) = &ca_out {
            write_atomically(path, mirror.ca_pem()).map_err(|e| format!("--ca-out: {e}"))?;
        }
        let url = mirror.base_url();
        if let Some(path) = &ready_file {
            write_atomically(path, &url).map_err(|e| format!("--ready-file: {e}"))?;
        }
        println!("{url}");
        if let Some(plain) = mirror.plain_base_url() {
            println!("{plain}");
        }
        stop.await;
        drop(mirror);
        Ok(())
    })
}

/// `basic:USER:PASSWORD` or `bearer:TOKEN`.
fn parse_auth(spec: &str) -> Result<Auth, String> {
    let bad = || format!("--auth {spec:?}: expected basic:USER:PASSWORD or bearer:TOKEN");
    match spec.split_once(':').ok_or_else(bad)? {
        ("basic", credentials) => {
            let (user, password) = credentials.split_once(':').ok_or_else(bad)?;
            Ok(Auth::Basic {
                user: user.to_owned(),
                password: password.to_owned(),
            })
        }
        ("bearer", token) if !token.is_empty() => Ok(Auth::Bearer(token.to_owned())),
        _ => Err(bad()),
    }
}

/// Resolves on SIGTERM or SIGINT.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// A reader polling for the file sees nothing or all of it, never a prefix.
fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp{}", std::process::id()));
    std::fs::write(&temp, contents)?;
    std::fs::rename(&temp, path)
}

fn fixtures(mut args: Args) -> Result<(), String> {
    let out = PathBuf::from(args.take("--out").ok_or("fixtures needs --out DIR")?);
    let set: FixtureSet = args.parse("--set")?.unwrap_or(FixtureSet::Demo);
    args.finish()?;
    let gems = write_fixture_set(&out, set).map_err(|e| format!("writing fixtures: {e}"))?;
    for gem in &gems {
        println!("{}  {}.gem  {}", gem.sha256, gem.full_name, gem.size);
    }
    let total: u64 = gems.iter().map(|g| g.size).sum();
    eprintln!(
        "wrote {} gems, {:.1} MB, to {}",
        gems.len(),
        total as f64 / 1e6,
        out.display()
    );
    Ok(())
}
