//! `ocictl top`: the container's processes as a parsed ps table.

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::ContainerId;

use super::{Context, Outcome};
use crate::output::{self, Format, Table};

/// Show a container's processes, as ps(1) sees them, in an aligned table.
///
/// PS_OPTIONS go to ps (runc's default is -ef); the output must keep a PID
/// column. Rows of threads are left out; the last column (the command) is
/// kept whole. `--format json` prints `{"headers": [...], "processes": [[...]]}`.
#[derive(Debug, Args)]
pub struct Top {
    /// The container's ID.
    #[arg(add = crate::completion::containers_in(crate::completion::LIVE))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,

    /// Options for ps(1), e.g. `-o pid,comm`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PS_OPTIONS"
    )]
    pub ps_options: Vec<String>,
}

impl Top {
    pub fn run(self, ctx: &Context) -> Outcome {
        let top = ctx
            .runc
            .top(&self.id, &self.ps_options)
            .with_context(|| format!("cannot list the processes of container {}", self.id))?;
        match ctx.format {
            Format::Json => output::print_json::<crate::contract::Top>(&top)?,
            Format::Table => {
                let headers: Vec<&str> = top.headers.iter().map(String::as_str).collect();
                let mut table = Table::compact(&headers);
                for p in &top.processes {
                    table.row(p.clone());
                }
                table.print()?;
            }
        }
        Ok(0)
    }
}
