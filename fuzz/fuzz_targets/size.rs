#![no_main]
//! Sizes (`512M`, `-1`): never a panic; never below -1.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(n) = ocictl::size::parse_size(&text) {
        assert!(n >= -1);
    }
});
