#![no_main]
//! One runtime log line (logrus text or JSON): never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        let _ = ocictl::runtime::log::parse_log_line(line);
    }
    let _ = ocictl::runtime::log::parse_log_line(&text);
});
