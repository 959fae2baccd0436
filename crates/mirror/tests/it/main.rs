//! Behaviour of the mirror as its clients see it: a real TLS client against a running server.

mod binary;
mod compact_index;
mod counting;
mod faults;
mod fixtures;
mod serving;
mod support;
