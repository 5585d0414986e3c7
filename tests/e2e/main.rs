//! End-to-end layer: real runc, youki, crun and CRIU on busybox bundles,
//! real ptys, containerd and podman. Needs root and what `scripts/setup
//! --tests` installs; built only with `--features e2e` (`scripts/test`).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;
#[path = "../client_env/mod.rs"]
mod client_env;
#[path = "../image_fixture/mod.rs"]
mod image_fixture;

mod adversarial_inputs;
mod adversarial_shim;
mod adversarial_store;
mod argv_vs_runc_help;
mod assets;
mod bad_input;
mod checkpoint;
mod clients_containerd;
mod clients_podman;
mod contract;
mod dropin;
mod errors;
mod image;
mod image_hostile;
mod image_podman;
mod inspect;
mod leaks;
mod lifecycle;
mod load;
mod logs;
mod monitor;
mod monitor_rule;
mod observe_e2e;
mod overrides;
mod package;
mod reports;
mod runtime_on_path;
mod runtimes;
mod security;
mod stop;
mod systemd;
mod tables;
mod terminal;
mod terminal_sessions;
