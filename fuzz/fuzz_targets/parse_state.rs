#![no_main]
//! `runc state` JSON: never a panic; what parses serialises back.
use libfuzzer_sys::fuzz_target;
use ocictl::runtime::Container;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Container::parse_state(data) {
        let json = serde_json::to_vec(&c).expect("a parsed state serialises");
        let again = Container::parse_state(&json).expect("what ocictl prints reads back");
        assert_eq!(again.id, c.id);
        assert_eq!(again.status, c.status);
    }
});
