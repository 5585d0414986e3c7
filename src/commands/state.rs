//! `ocictl state`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::{Container, ContainerId, Runtime};
use ocictl::shim::state::StateDir;

use super::{Context, Outcome};
use crate::contract;
use crate::output::{self, Format};

/// Show a container's state, as runc prints it (indented JSON).
///
/// With --format json: the same object on one line.
///
/// For a container started with ocictl's monitor, an `"exit"` field is
/// added once its exit status is known: `{"code": 7, "signal": null, "at":
/// "…"}` (or `"code": null, "signal": "SIGKILL"` when a signal killed it). When the
/// monitor was killed before recording it, `"exit"` says so: code, signal
/// and at are null and `"unknown"` gives the reason. Otherwise the object is
/// runc's, unchanged.
#[derive(Debug, Args)]
pub struct State {
    /// The container's ID.
    #[arg(add = crate::completion::any_container())]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,
}

impl State {
    pub fn run(self, ctx: &Context) -> Outcome {
        let container = ctx
            .runc
            .state(&self.id)
            .with_context(|| format!("cannot read the state of container {}", self.id))?;
        let value = with_exit(&ctx.runc, &container);
        match ctx.format {
            Format::Json => output::print_json(&value)?,
            Format::Table => output::print_json_pretty(&value)?,
        }
        Ok(0)
    }
}

/// A container's state object (runc's fields, in runc's order) plus, when
/// ocictl's monitor knows it, its `"exit"` (see `ocictl state --help`).
/// The bundle is the user's: when the runtime runs ocictl's private
/// terminal copy (`-t`), the directory the user gave is shown.
/// Shared with `list`.
pub fn with_exit<'a>(runc: &Runtime, container: &'a Container) -> contract::State<'a> {
    let mut shown = std::borrow::Cow::Borrowed(container);
    let Ok(id) = container.id.parse() else {
        return contract::State {
            container: shown,
            exit: None,
        };
    };
    let dir = StateDir::of(runc, &id);
    let exit = contract::Exit::of(&dir.exit_info_for(container));
    if let Some(user) = dir.user_bundle(container) {
        shown.to_mut().bundle = user.to_string_lossy().into_owned();
    }
    contract::State {
        container: shown,
        exit,
    }
}
