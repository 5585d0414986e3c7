#![no_main]
//! `RUNTIME --version` text: never a panic; a parse names a version.
use libfuzzer_sys::fuzz_target;
use ocictl::runtime::Version;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(v) = Version::parse(&text) {
        assert!(!v.version.is_empty());
        assert!(!v.runtime.is_empty());
    }
});
