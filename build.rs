//! Link ocictl as a position-dependent executable on Linux/glibc.
//!
//! Most of a short call's own instructions (`ocictl state ID` against a
//! runtime that answers at once) were the dynamic loader applying ~11,800
//! relative relocations to a position-independent binary (vtables, panic
//! locations, string tables): about 165k instructions on every call, as
//! many as the whole of a Rust hello-world's start-up. Linked without PIE
//! there are none. The cost: the executable itself is loaded at a fixed
//! address (its libraries, stack and heap are still randomised). Packed
//! relocations (`-z pack-relative-relocs`) were measured and do not help:
//! the loader still writes every one. See docs/BENCHMARKS.md, "Start-up
//! cost (issue 17)".
//!
//! The code is still compiled position-independent (so dependencies are
//! not rebuilt and proc-macros are unaffected); only the link differs.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bin=ocictl=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
