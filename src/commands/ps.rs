//! `ocictl ps`.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::ContainerId;

use super::{format_with_short, Context, Outcome};
use crate::output::{self, Format};

/// Show the processes running in a container.
///
/// The table is the host's `ps` output for the container's processes
/// (PS_ARGS go to ps, default -ef); JSON is the array of host pids.
#[derive(Debug, Args)]
pub struct Ps {
    /// Output format (runc's short form of --format).
    #[arg(short = 'f', value_enum, value_name = "table|json")]
    pub format_short: Option<Format>,

    /// The container's ID.
    #[arg(add = crate::completion::containers_in(crate::completion::LIVE))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,

    /// Options for ps(1), e.g. `-o pid,comm` (table only).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PS_ARGS"
    )]
    pub ps_args: Vec<String>,
}

impl Ps {
    pub fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("cannot list the processes of container {}", self.id);
        match format_with_short(ctx, self.format_short) {
            Format::Json => {
                if !self.ps_args.is_empty() {
                    return Err(crate::report::UsageError(
                        "ps options only apply to the table; --format json prints pids".into(),
                    )
                    .into());
                }
                let pids = ctx.runc.ps(&self.id).with_context(fail)?;
                output::print_json::<crate::contract::Pids>(&pids)?;
            }
            Format::Table => {
                let table = ctx
                    .runc
                    .ps_table(&self.id, &self.ps_args)
                    .with_context(fail)?;
                output::print_text(&table)?;
            }
        }
        Ok(0)
    }
}
