#![no_main]
//! Go durations: never a panic; what parses formats back to the same value.
use libfuzzer_sys::fuzz_target;
use ocictl::duration::{format_go_duration, parse_duration};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = parse_duration(&text) {
        assert_eq!(
            parse_duration(&format_go_duration(d)).expect("formatted reads back"),
            d
        );
    }
});
