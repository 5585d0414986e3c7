//! `ocictl list`.

use anyhow::Context as _;
use clap::Args;

use super::{format_with_short, Context, Outcome};
use crate::output::{self, Format, Table};

/// List the containers under the runtime's root.
///
/// The table has runc's columns (ID, PID, STATUS, BUNDLE, CREATED, OWNER);
/// JSON is an array of state objects (`[]` when there are none), each with
/// the `"exit"` field `ocictl state` adds for monitored containers. The
/// table stays runc's, column for column, so scripts that parse it keep
/// working; exit statuses are in JSON, `ocictl state` and `ocictl wait`.
#[derive(Debug, Args)]
#[command(visible_alias = "ls")]
pub struct List {
    /// Output format (runc's short form of --format).
    #[arg(short = 'f', value_enum, value_name = "table|json")]
    pub format_short: Option<Format>,

    /// Print only the container IDs, one per line (with --format json, a
    /// JSON array of IDs).
    #[arg(short, long)]
    pub quiet: bool,
}

impl List {
    pub fn run(self, ctx: &Context) -> Outcome {
        let containers = ctx.runc.list().context("cannot list containers")?;
        let format = format_with_short(ctx, self.format_short);
        if self.quiet && format == Format::Json {
            let ids = containers.into_iter().map(|c| c.id).collect();
            output::print_json(&crate::contract::Listed::Ids(ids))?;
            return Ok(0);
        }
        if self.quiet {
            let mut ids = String::new();
            for c in &containers {
                ids.push_str(&c.id);
                ids.push('\n');
            }
            output::print_text(&ids)?;
            return Ok(0);
        }
        match format {
            Format::Json => {
                let values = containers
                    .iter()
                    .map(|c| super::state::with_exit(&ctx.runc, c))
                    .collect();
                output::print_json(&crate::contract::Listed::Containers(values))?
            }
            Format::Table => {
                let mut table =
                    Table::runc_style(&["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]);
                for c in &containers {
                    let shown = super::state::with_exit(&ctx.runc, c);
                    let c = shown.container.as_ref();
                    table.row(vec![
                        c.id.clone(),
                        c.pid.to_string(),
                        c.status.to_string(),
                        c.bundle.clone(),
                        output::rfc3339_nano(&c.created),
                        c.owner.clone(),
                    ]);
                }
                table.print()?;
            }
        }
        Ok(0)
    }
}
