#![no_main]
//! Container IDs, as raw bytes from a command line: never a panic; what is
//! accepted is safe as one argv word and one file name.
use libfuzzer_sys::fuzz_target;
use ocictl::runtime::ContainerId;
use std::os::unix::ffi::OsStrExt;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = ContainerId::from_os_str(std::ffi::OsStr::from_bytes(data)) {
        let s = id.as_str();
        assert!(!s.is_empty() && s.len() <= 255);
        assert!(s != "." && s != ".." && !s.starts_with('-'));
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b)));
    }
});
