//! `ocictl shim --id ID --root ROOT --fd N` (hidden): the per-container
//! shim process that `create`, `run -d` and `restore -d` start; see
//! `ocictl::shim::server`. Its command line names the container and the
//! root, so `ps` tells the shims apart (as conmon's does).

use clap::Args;
use ocictl::runtime::ContainerId;

use super::{Context, Outcome};

/// Run a container's shim. Started by `create`, `run -d` and `restore -d`,
/// which hand it its job over fd N; not meant to be run by hand.
#[derive(Debug, Args)]
pub struct Shim {
    /// The container the shim watches (the job must be of it).
    #[arg(long, value_name = "ID")]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,

    /// The socket the job arrives on and the report goes back through.
    #[arg(long, value_name = "N")]
    pub fd: i32,
}

impl Shim {
    pub fn run(self, _ctx: &Context) -> Outcome {
        Ok(ocictl::shim::server::serve(self.fd, &self.id))
    }
}
