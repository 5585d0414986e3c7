//! `ocictl completion`: print a shell's completion script.

use clap::Args;

use super::{Context, Outcome};
use crate::output;

/// Print a shell's completion script.
///
/// For bash, zsh, fish, elvish and powershell. The script asks ocictl for
/// completions as you type, so it offers the IDs of existing containers too.
///
/// bash: `source <(ocictl completion bash)`; zsh: `source <(ocictl
/// completion zsh)`; fish: `ocictl completion fish | source`.
#[derive(Debug, Args)]
pub struct Completion {
    /// The shell.
    #[arg(value_parser = ["bash", "zsh", "fish", "elvish", "powershell"])]
    pub shell: String,
}

impl Completion {
    pub fn run(self, _ctx: &Context) -> Outcome {
        let script = crate::completion::registration_script(&self.shell)
            .ok_or_else(|| anyhow::anyhow!("no completion support for {}", self.shell))?;
        output::print_text(&String::from_utf8_lossy(&script))?;
        Ok(0)
    }
}
