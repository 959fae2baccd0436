//! The engine against a real local TLS mirror: one test binary of modules (as uv's `it`).

mod support;

mod cache;
mod cancel;
mod credentials;
mod download;
mod fairness;
mod faults;
mod in_flight;
mod memory;
mod reliability;
mod resolve;
mod segments;
