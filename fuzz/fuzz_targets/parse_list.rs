#![no_main]
//! `runc list --format json`: never a panic.
use libfuzzer_sys::fuzz_target;
use ocictl::runtime::Container;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = Container::parse_list(data) {
        let json = serde_json::to_vec(&list).expect("a parsed list serialises");
        assert_eq!(
            Container::parse_list(&json).expect("reads back").len(),
            list.len()
        );
    }
});
