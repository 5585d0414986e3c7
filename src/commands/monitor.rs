//! `ocictl monitor --fd N` (hidden): the per-container monitor process that
//! `create` and `run -d` start; see `ocictl::shim::server`.

use clap::Args;

use super::{Context, Outcome};

/// Run a container's monitor. Started by `create` and `run -d`, which hand
/// it its job over fd N; not meant to be run by hand.
#[derive(Debug, Args)]
pub struct Monitor {
    /// The socket the job arrives on and the report goes back through.
    #[arg(long, value_name = "N")]
    pub fd: i32,
}

impl Monitor {
    pub fn run(self, _ctx: &Context) -> Outcome {
        Ok(ocictl::shim::server::serve(self.fd))
    }
}
