#![no_main]
//! `runc ps --format json`: never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ocictl::runtime::parse_pids(data);
});
