#![no_main]
//! Signal names and numbers: never a panic; a signal's name reads back.
use libfuzzer_sys::fuzz_target;
use ocictl::signal::Signal;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(sig) = text.parse::<Signal>() {
        assert!((0..=64).contains(&sig.number()));
        assert_eq!(
            sig.name().parse::<Signal>().expect("its name reads back"),
            sig
        );
    }
});
