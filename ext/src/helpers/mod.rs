//! Plumbing between Ruby's VM and Rust that is not itself part of the Ruby API.

pub mod nogvl;
