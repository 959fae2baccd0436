//! A terminal stand-in for `progress: :bar` when stderr is not a TTY: indicatif draws nothing on
//! a non-terminal, but `:bar` promises the live view anyway (for a pipe into `less -R`, a CI log
//! that renders ANSI, or a test that checks what was drawn).

use std::io::{self, Write};

use indicatif::TermLike;

/// Lines a non-terminal is assumed to hold when `COLUMNS` says nothing.
const DEFAULT_WIDTH: u16 = 100;

/// Stderr driven with plain ANSI cursor sequences.
#[derive(Debug)]
pub struct AnsiStderr {
    width: u16,
}

impl AnsiStderr {
    /// Honours `COLUMNS` the way shells export it; read once, while the caller holds the GVL,
    /// so no Ruby thread is changing the environment meanwhile.
    #[must_use]
    pub fn new() -> Self {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|columns| columns.trim().parse().ok())
            .filter(|&columns: &u16| columns > 0)
            .unwrap_or(DEFAULT_WIDTH);
        Self { width }
    }

    fn write(text: &str) -> io::Result<()> {
        io::stderr().lock().write_all(text.as_bytes())
    }

    fn csi(n: usize, code: char) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        Self::write(&format!("\x1b[{n}{code}"))
    }
}

impl TermLike for AnsiStderr {
    fn width(&self) -> u16 {
        self.width
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        Self::csi(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        Self::csi(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        Self::csi(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        Self::csi(n, 'D')
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        Self::write(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        Self::write(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        Self::write("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}
