#![no_main]
//! Pid file content: never a panic; a pid is positive.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(pid) = ocictl::runtime::parse_pid(&text) {
        assert!(pid > 0);
    }
});
