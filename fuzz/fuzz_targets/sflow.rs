#![no_main]
//! Fuzzes the sflow decoder with sequences of datagrams whose version field is forced.
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::run(data, &[0, 0, 0, 5]));
