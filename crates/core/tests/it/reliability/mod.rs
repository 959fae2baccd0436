//! Issue 8, "Trust it with a CI fleet": every fault the mirror can inject, crashes, many
//! processes on one cache, full and read-only disks, a long soak and hostile input. Each case
//! ends with the right file or the right error, other items unaffected and nothing partial
//! left. The long cases are `#[ignore]`d with a bounded default; the test command runs them
//! with `--ignored`. Figures are printed (`--nocapture`) and recorded in RELIABILITY.md.

mod crash;
mod disk;
mod hostile;
mod network;
mod processes;
mod redirect;
mod soak;
mod tls;
