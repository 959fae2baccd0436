//! Network namespaces and the addresses on their TUN devices, set up with iproute2.

use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

/// The name by which `/etc/netns/CLIENT/hosts` lets clients reach the mirror, so its TLS
/// certificate can name it.
pub const MIRROR_HOST: &str = "mirror.wow.test";

/// One end of the emulated path.
#[derive(Clone, Copy, Debug)]
pub struct Side {
    /// Namespace name (`ip netns exec NAME ...`).
    pub ns: &'static str,
    /// TUN device name, the same inside the namespace and (briefly) in the root one.
    pub dev: &'static str,
    pub addr: Ipv4Addr,
}

pub const CLIENT: Side = Side {
    ns: "wowc",
    dev: "wowc0",
    addr: Ipv4Addr::new(10, 77, 0, 1),
};

pub const SERVER: Side = Side {
    ns: "wows",
    dev: "wows0",
    addr: Ipv4Addr::new(10, 77, 0, 2),
};

fn run(args: &[&str]) -> io::Result<()> {
    let out = Command::new(args[0]).args(&args[1..]).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// Create the namespace if it is missing, with its loopback up. An existing one is reused, so
/// servers already running inside it (the mirror) survive a restart of the relay with new
/// parameters.
pub fn ensure(side: Side) -> io::Result<()> {
    if !exists(side.ns) {
        run(&["ip", "netns", "add", side.ns])?;
    }
    run(&["ip", "-n", side.ns, "link", "set", "lo", "up"])?;
    // A device left by a relay that died mid-setup (normally closing the fd removes it).
    let _ = run(&["ip", "-n", side.ns, "link", "del", side.dev]);
    let _ = run(&["ip", "link", "del", side.dev]);
    Ok(())
}

/// Move the TUN device `side.dev` (just created in the root namespace) into the side's
/// namespace, address it on the /24 the two sides share, and bring it up. IPv6 is off on
/// it so router solicitations and DAD do not add traffic to the counts.
pub fn attach(side: Side) -> io::Result<()> {
    let ns = side.ns;
    let dev = side.dev;
    run(&["ip", "link", "set", dev, "netns", ns])?;
    let _ = run(&[
        "ip",
        "netns",
        "exec",
        ns,
        "sysctl",
        "-qw",
        &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
    ]);
    let local = format!("{}/24", side.addr);
    run(&["ip", "-n", ns, "addr", "add", &local, "dev", dev])?;
    // 1500 like an Ethernet path; a longer device queue than the default 500 so that bursts
    // wait for the relay instead of being dropped before the emulated queue sees them.
    run(&[
        "ip",
        "-n",
        ns,
        "link",
        "set",
        dev,
        "mtu",
        "1500",
        "txqueuelen",
        "10000",
        "up",
    ])?;
    Ok(())
}

/// `/etc/netns/NS/hosts`: `ip netns exec` bind-mounts it over `/etc/hosts`.
pub fn write_hosts(side: Side) -> io::Result<()> {
    let dir = Path::new("/etc/netns").join(side.ns);
    fs::create_dir_all(&dir)?;
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{MIRROR_HOST}\n{}\twow-client.test\n",
        SERVER.addr, CLIENT.addr
    );
    fs::write(dir.join("hosts"), hosts)
}

/// Remove both namespaces and their hosts files. Processes still inside keep their namespace
/// alive (unnamed) until they exit; stopping them is the caller's job.
pub fn remove_all() -> io::Result<()> {
    for side in [CLIENT, SERVER] {
        if exists(side.ns) {
            run(&["ip", "netns", "del", side.ns])?;
        }
        let _ = fs::remove_dir_all(Path::new("/etc/netns").join(side.ns));
    }
    Ok(())
}

/// Move the calling thread into the side's namespace: sockets it creates afterwards live there.
pub fn enter(side: Side) -> io::Result<()> {
    let file = fs::File::open(Path::new("/run/netns").join(side.ns))?;
    // SAFETY: a valid namespace fd; setns affects only the calling thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
