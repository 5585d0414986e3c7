//! Parse layer: the parsers of runtime output and user files, tested on
//! captured fixtures and with properties. No root, no runtime, no containers.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod fuzz_parsers;
mod observe_parsing;
mod parsing;
mod runtimes_parsing;
