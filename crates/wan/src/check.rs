//! The self-check run before measuring: real TCP between the namespaces must show the emulated
//! path. A connect costs one RTT, and one 10 MB stream takes about as long as slow start over
//! that RTT and rate predicts; if either is off, a benchmark on this path would be meaningless.

use crate::netns::{self, CLIENT, SERVER};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Connects timed, to take a median.
const CONNECTS: usize = 5;
/// The single-stream transfer, as the issue specifies.
const TRANSFER_BYTES: usize = 10 * 1024 * 1024;
/// Linux's initial congestion window (RFC 6928) and the MSS of a 1500-byte MTU with timestamps.
const INIT_CWND: u64 = 10;
const MSS: u64 = 1448;
/// No socket operation of the check may take longer than this.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// What the check measured and what the path predicts.
#[derive(Debug)]
pub struct Report {
    pub rtt: Duration,
    pub rate_bps: u64,
    pub connect_median: Duration,
    pub connect_min: Duration,
    pub transfer: Duration,
    pub transfer_model: Duration,
    pub transfer_line_rate: Duration,
    pub congestion_control: String,
}

impl Report {
    /// Connect within 10% (+2 ms of scheduling) of one RTT, and the stream no slower than 1.5×
    /// the slow-start model nor faster than the line rate allows.
    #[must_use]
    pub fn ok(&self) -> bool {
        let rtt = self.rtt.as_secs_f64();
        let connect = self.connect_median.as_secs_f64();
        let connect_ok = connect >= rtt * 0.95 && connect <= rtt * 1.1 + 0.002;
        let transfer = self.transfer.as_secs_f64();
        let transfer_ok = transfer <= self.transfer_model.as_secs_f64() * 1.5
            && transfer >= self.transfer_line_rate.as_secs_f64() * 0.98;
        connect_ok && transfer_ok
    }

    /// The lines `wow-wan check` prints (Markdown-friendly).
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        #[allow(clippy::cast_precision_loss)]
        let rate = self.rate_bps as f64 / 1e6;
        vec![
            format!(
                "path: RTT {:.1} ms, {rate:.0} Mbit/s each way, congestion control {}",
                ms(self.rtt),
                self.congestion_control
            ),
            format!(
                "TCP connect: median {:.1} ms, min {:.1} ms over {CONNECTS} (expected 1 RTT = {:.1} ms)",
                ms(self.connect_median),
                ms(self.connect_min),
                ms(self.rtt)
            ),
            format!(
                "10 MiB single stream (request to last byte): {:.3} s (slow-start model {:.3} s, {:.2}x; line rate alone {:.3} s)",
                self.transfer.as_secs_f64(),
                self.transfer_model.as_secs_f64(),
                self.transfer.as_secs_f64() / self.transfer_model.as_secs_f64(),
                self.transfer_line_rate.as_secs_f64()
            ),
            format!("self-check: {}", if self.ok() { "ok" } else { "FAILED" }),
        ]
    }
}

/// Time from sending a one-byte request to receiving the last of `bytes` over a fresh
/// connection: the request's one-way trip, slow-start rounds of one RTT each (the window
/// doubling from [`INIT_CWND`]) until a window fills the path, then the rest at line rate, and
/// the last byte's one-way trip.
#[must_use]
pub fn slow_start_model(bytes: u64, rtt: Duration, rate_bps: u64) -> Duration {
    let rtt_s = rtt.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = if rate_bps == 0 {
        f64::INFINITY
    } else {
        rate_bps as f64
    };
    #[allow(clippy::cast_precision_loss)]
    let bdp = rate * rtt_s / 8.0;
    let mut cwnd = INIT_CWND * MSS;
    let mut sent = 0u64;
    let mut t = rtt_s; // request out, last byte back
    #[allow(clippy::cast_precision_loss)]
    loop {
        let remaining = bytes - sent;
        if (cwnd as f64) >= bdp || cwnd >= remaining {
            // Either the window fills the pipe (the rest streams at line rate) or this round
            // carries the rest.
            t += remaining as f64 * 8.0 / rate;
            break;
        }
        sent += cwnd;
        t += rtt_s;
        cwnd *= 2;
    }
    Duration::from_secs_f64(t)
}

/// Run the check against the relay running with `rtt` and `rate_bps`.
pub fn run(rtt: Duration, rate_bps: u64) -> io::Result<Report> {
    let (port_tx, port_rx) = mpsc::channel();
    let server = thread::spawn(move || -> io::Result<()> {
        netns::enter(SERVER)?;
        let listener = TcpListener::bind(SocketAddr::from((SERVER.addr, 0)))?;
        let _ = port_tx.send(listener.local_addr()?.port());
        for _ in 0..CONNECTS {
            drop(listener.accept()?);
        }
        let (mut stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut request = [0u8; 1];
        stream.read_exact(&mut request)?;
        let chunk = vec![0x5a_u8; 64 * 1024];
        let mut left = TRANSFER_BYTES;
        while left > 0 {
            let n = left.min(chunk.len());
            stream.write_all(&chunk[..n])?;
            left -= n;
        }
        Ok(())
    });
    let port = port_rx.recv_timeout(Duration::from_secs(5)).map_err(|_| {
        io::Error::other("the check's listener in the server namespace did not start")
    })?;
    let client = thread::spawn(move || -> io::Result<(Vec<Duration>, Duration, String)> {
        netns::enter(CLIENT)?;
        let cc = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        let addr = SocketAddr::from((SERVER.addr, port));
        let mut connects = Vec::with_capacity(CONNECTS);
        for _ in 0..CONNECTS {
            let t0 = Instant::now();
            let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
            connects.push(t0.elapsed());
            drop(stream);
            // Let the close finish so each connect starts on a quiet path.
            thread::sleep(rtt * 2);
        }
        let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let mut buf = vec![0u8; 256 * 1024];
        let t0 = Instant::now();
        stream.write_all(b"g")?;
        let mut got = 0;
        while got < TRANSFER_BYTES {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stream ended early",
                ));
            }
            got += n;
        }
        Ok((connects, t0.elapsed(), cc))
    });
    let (mut connects, transfer, congestion_control) = client
        .join()
        .map_err(|_| io::Error::other("client thread panicked"))??;
    server
        .join()
        .map_err(|_| io::Error::other("server thread panicked"))??;
    connects.sort();
    let bytes = TRANSFER_BYTES as u64;
    #[allow(clippy::cast_precision_loss)]
    let line_rate = if rate_bps == 0 {
        rtt
    } else {
        rtt + Duration::from_secs_f64(bytes as f64 * 8.0 / rate_bps as f64)
    };
    Ok(Report {
        rtt,
        rate_bps,
        connect_median: connects[CONNECTS / 2],
        connect_min: connects[0],
        transfer,
        transfer_model: slow_start_model(bytes, rtt, rate_bps),
        transfer_line_rate: line_rate,
        congestion_control,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_model_counts_rounds_until_the_window_fills_the_path() {
        let rtt = Duration::from_millis(50);
        // 100 Mbit/s × 50 ms = 625 KB: windows of 14.5, 29, 58, 116, 232, 463 KB, then 927 KB
        // fills it. Six rounds carry 927 KB; the remaining 9.56 MB take 0.765 s at line rate.
        let t = slow_start_model(10 * 1024 * 1024, rtt, 100_000_000).as_secs_f64();
        assert!((t - (0.05 + 6.0 * 0.05 + 0.765)).abs() < 0.01, "{t}");
        // A transfer that fits in the first window takes one RTT.
        let small = slow_start_model(1000, rtt, 100_000_000).as_secs_f64();
        assert!((small - 0.05).abs() < 0.001, "{small}");
    }
}
