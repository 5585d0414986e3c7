#![no_main]
//! The runtime's stderr or log file, text or JSON: never a panic, and the
//! message is empty only when the text has nothing but whitespace.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let message = ocictl::runtime::log::error_message(&text);
    if text.lines().any(|l| !l.trim().is_empty()) {
        // An error record may carry an empty msg; otherwise some line is kept.
        let has_record = text
            .lines()
            .any(|l| ocictl::runtime::log::parse_log_line(l).is_some());
        assert!(has_record || !message.is_empty());
    } else {
        assert!(message.is_empty());
    }
});
