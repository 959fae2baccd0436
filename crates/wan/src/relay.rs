//! The relay: one thread per direction reads IP packets from one TUN device, passes them through
//! that direction's [`Link`], and writes them to the other device when they are due.
//!
//! A thread sleeps in `ppoll` until either a packet arrives or the head of its queue is due,
//! with the timer slack lowered to 1 ns so the kernel wakes it within a few microseconds; it
//! never spins for more than [`SPIN`]. At 1 Gbit/s a full-sized packet leaves every 12 µs, so
//! each wake-up delivers every packet already due: departures keep the bottleneck's average
//! rate exactly, with a jitter of a few tens of microseconds, small beside any RTT emulated.

use crate::link::{Link, LinkParams};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Below this wait, poll without sleeping: a sleep this short would overshoot by more than it
/// waits.
const SPIN: Duration = Duration::from_micros(10);
/// Longest sleep with nothing queued, so a stop request is noticed promptly.
const IDLE_WAIT: Duration = Duration::from_millis(50);
/// Packets read per wake-up before delivering due ones, so a flood in cannot starve the way out.
const READ_BURST: usize = 64;
/// Larger than any packet on a 1500-byte-MTU TUN device without a packet-information header.
const BUF_LEN: usize = 2048;

/// Counters of one direction, shared with the thread that reports them.
#[derive(Debug, Default)]
pub struct DirStats {
    /// Packets read from the sending side.
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// Packets dropped at the tail of the bottleneck queue.
    pub drops: AtomicU64,
    /// TCP SYNs without ACK: connection attempts (retransmitted SYNs included).
    pub syns: AtomicU64,
    /// Writes into the receiving device that failed (the packet is lost).
    pub write_errors: AtomicU64,
    /// Largest backlog seen at the bottleneck, in bytes.
    pub max_queue: AtomicU64,
}

impl DirStats {
    /// `{"packets":..,...}`.
    #[must_use]
    pub fn json(&self) -> String {
        format!(
            "{{\"packets\":{},\"bytes\":{},\"drops\":{},\"syns\":{},\"write_errors\":{},\"max_queue_bytes\":{}}}",
            self.packets.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.drops.load(Ordering::Relaxed),
            self.syns.load(Ordering::Relaxed),
            self.write_errors.load(Ordering::Relaxed),
            self.max_queue.load(Ordering::Relaxed),
        )
    }
}

struct Packet {
    due: Instant,
    len: usize,
    buf: Box<[u8; BUF_LEN]>,
}

/// Whether an IPv4 packet is a TCP SYN without ACK.
#[must_use]
pub fn is_syn(packet: &[u8]) -> bool {
    if packet.len() < 20 || packet[0] >> 4 != 4 || packet[9] != 6 {
        return false;
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    packet
        .get(ihl + 13)
        .is_some_and(|flags| flags & 0x02 != 0 && flags & 0x10 == 0)
}

/// Priority of the relay threads under `SCHED_FIFO`: above every normal process, far below
/// the kernel's own real-time threads.
const RT_PRIORITY: i32 = 10;

/// Make the calling thread a real-time one, so that a compile or a busy peer on a 2-core
/// machine delays the emulated network no more than it would delay a real one; the endpoints
/// keep competing for CPU as usual. The threads sleep whenever no packet is due and never spin
/// longer than [`SPIN`], and the kernel's RT throttling still leaves 5% to others.
pub fn make_realtime() -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: RT_PRIORITY,
    };
    // SAFETY: pid 0 is the calling thread; `param` is valid for the call.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, std::ptr::addr_of!(param)) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Run one direction until `stop` is set.
pub fn run(
    src: &Arc<File>,
    dst: &Arc<File>,
    params: LinkParams,
    stats: &DirStats,
    stop: &AtomicBool,
) -> io::Result<()> {
    // SAFETY: PR_SET_TIMERSLACK only changes the calling thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0);
    }
    let mut link = Link::new(params);
    let mut queue: VecDeque<Packet> = VecDeque::with_capacity(4096);
    let mut pool: Vec<Box<[u8; BUF_LEN]>> = Vec::new();
    let mut src_file: &File = src;
    let mut dst_file: &File = dst;

    while !stop.load(Ordering::Relaxed) {
        let wait = queue.front().map_or(IDLE_WAIT, |p| {
            p.due.saturating_duration_since(Instant::now())
        });
        if wait >= SPIN {
            poll_readable(src_file, wait)?;
        }

        for _ in 0..READ_BURST {
            let mut buf = pool.pop().unwrap_or_else(|| Box::new([0; BUF_LEN]));
            let len = match src_file.read(&mut buf[..]) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    pool.push(buf);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    pool.push(buf);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let now = Instant::now();
            stats.packets.fetch_add(1, Ordering::Relaxed);
            stats.bytes.fetch_add(len as u64, Ordering::Relaxed);
            if is_syn(&buf[..len]) {
                stats.syns.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(due) = link.admit(now, len) {
                queue.push_back(Packet { due, len, buf });
                stats
                    .max_queue
                    .fetch_max(link.backlog(now), Ordering::Relaxed);
            } else {
                stats.drops.fetch_add(1, Ordering::Relaxed);
                pool.push(buf);
            }
        }

        let now = Instant::now();
        while queue.front().is_some_and(|p| p.due <= now) {
            let Some(packet) = queue.pop_front() else {
                break;
            };
            if dst_file.write(&packet.buf[..packet.len]).is_err() {
                stats.write_errors.fetch_add(1, Ordering::Relaxed);
            }
            pool.push(packet.buf);
        }
    }
    Ok(())
}

/// Sleep until `file` is readable or `timeout` passes (nanosecond resolution, unlike `poll`).
fn poll_readable(file: &File, timeout: Duration) -> io::Result<()> {
    let mut fds = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    // SAFETY: one valid pollfd and a valid timespec, both live across the call; no signal mask.
    let rc = unsafe {
        libc::ppoll(
            std::ptr::addr_of_mut!(fds),
            1,
            std::ptr::addr_of!(ts),
            std::ptr::null(),
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_syn_but_not_a_syn_ack() {
        let mut packet = [0u8; 40];
        packet[0] = 0x45;
        packet[9] = 6;
        packet[33] = 0x02;
        assert!(is_syn(&packet));
        packet[33] = 0x12;
        assert!(!is_syn(&packet));
        packet[33] = 0x02;
        packet[9] = 17;
        assert!(!is_syn(&packet));
        assert!(!is_syn(&packet[..10]));
    }
}
