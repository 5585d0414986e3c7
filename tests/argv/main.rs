//! Argv layer: the exact argv ocictl gives a runtime, proved with the
//! fake runtime (tests/fake-runtime). No root, no real runtime, no containers.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod argv;
mod help;
mod observe_argv;
mod overrides;
mod runc_spelling;
mod several;
