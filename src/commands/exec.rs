//! `ocictl exec`: run another process in a running container.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ocictl::runtime::{self, ContainerId, ExecOpts, ExecProcess};

use super::{report_action, Context, Outcome};
use crate::contract::{Ended, Executed};
use crate::report::UsageError;

/// Run a process in a running container.
///
/// `exec ID CMD [ARGS…]` runs CMD with the container's environment, user and
/// working directory (the flags change them); `exec -p FILE ID` runs the
/// process described by an OCI process.json, checked before the runtime
/// sees it. In the foreground ocictl passes on the signals it gets and exits
/// with the process's status (128+N when signal N killed it); 255 means the
/// runtime could not start it (e.g. no such program).
#[derive(Debug, Args)]
pub struct Exec {
    /// A unix socket that receives the pty master when -t is given.
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub console_socket: Option<PathBuf>,

    /// Working directory inside the container.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,

    /// Set an environment variable (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Allocate a pseudo-terminal for the process.
    #[arg(short = 't', long)]
    pub tty: bool,

    /// Run as this user: numeric uid, optionally with a gid.
    #[arg(short = 'u', long, value_name = "UID[:GID]", value_parser = parse_user)]
    pub user: Option<String>,

    /// An additional group id for the process (repeatable).
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,

    /// Run the process described by this OCI process.json instead of CMD.
    #[arg(short = 'p', long = "process", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub process: Option<PathBuf>,

    /// Return once the process runs, instead of waiting for it.
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// Write the process's host pid to this file.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub pid_file: Option<PathBuf>,

    /// The SELinux process label (e.g. system_u:system_r:container_t:s0).
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,

    /// The AppArmor profile for the process.
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,

    /// Set no_new_privs: the process cannot gain privileges (setuid, file caps).
    #[arg(long)]
    pub no_new_privs: bool,

    /// Add a capability to the process's bounding set (repeatable), e.g. CAP_NET_ADMIN.
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub caps: Vec<String>,

    /// Pass N extra file descriptors (3 … 3+N-1) on to the process.
    #[arg(long, value_name = "N")]
    pub preserve_fds: Option<u32>,

    /// Run the process in an existing sub-cgroup: [CONTROLLER:]PATH (repeatable).
    #[arg(long = "cgroup", value_name = "[CONTROLLER:]PATH")]
    pub cgroups: Vec<String>,

    /// Allow exec in a paused container (the process stays frozen until resume).
    #[arg(long)]
    pub ignore_paused: bool,

    /// The container's ID.
    #[arg(add = crate::completion::containers_in(crate::completion::RUNNING))]
    #[arg(value_parser = crate::cli::ContainerIdParser)]
    pub id: ContainerId,

    /// The command to run and its arguments (not with -p).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD [ARGS]"
    )]
    pub command: Vec<String>,
}

/// runc takes `uid[:gid]`, both numeric.
fn parse_user(s: &str) -> Result<String, String> {
    let (uid, gid) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let numeric = |v: &str| !v.is_empty() && v.parse::<u32>().is_ok();
    if numeric(uid) && gid.is_none_or(numeric) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not UID[:GID]: runc takes numeric ids, e.g. 1000 or 1000:1000"
        ))
    }
}

impl Exec {
    fn opts(&self) -> anyhow::Result<ExecOpts> {
        let process = match (&self.process, self.command.is_empty()) {
            (Some(_), false) => {
                return Err(UsageError(format!(
                    "give either -p FILE or a command to run, not both (got -p and {:?})",
                    self.command.join(" ")
                ))
                .into())
            }
            (None, true) => {
                return Err(UsageError(
                    "exec needs a command to run: `ocictl exec ID CMD [ARGS…]` or `ocictl exec -p process.json ID`".into(),
                )
                .into())
            }
            (Some(file), true) => ExecProcess::File(file.clone()),
            (None, false) => ExecProcess::Command(self.command.clone()),
        };
        Ok(ExecOpts {
            process,
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            tty: self.tty,
            user: self.user.clone(),
            additional_gids: self.additional_gids.clone(),
            detach: self.detach,
            pid_file: self.pid_file.clone(),
            process_label: self.process_label.clone(),
            apparmor: self.apparmor.clone(),
            no_new_privs: self.no_new_privs,
            caps: self.caps.clone(),
            preserve_fds: self.preserve_fds,
            cgroups: self.cgroups.clone(),
            ignore_paused: self.ignore_paused,
            console_socket: self.console_socket.clone(),
        })
    }

    pub fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("cannot exec in container {}", self.id);
        let mut opts = self.opts()?;
        runtime::check_preserved_fds(opts.preserve_fds).with_context(fail)?;
        let mut wants_terminal = opts.wants_terminal();
        if let ExecProcess::File(path) = &opts.process {
            // Checked here so a broken file never reaches the runtime.
            let (process, text) = runtime::read_process_file(path).with_context(fail)?;
            // runc takes the terminal from the file and ignores -t then.
            wants_terminal = process.terminal().unwrap_or(false);
            // A pipe (`-p <(…)`) is empty once read: the runtime gets the
            // text read, in a private file.
            if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
                opts.process = ExecProcess::Text(text);
            }
        }
        if wants_terminal {
            return terminal_session(ctx, &self.id, &opts).with_context(fail);
        }
        let status = ctx.runc.exec(&self.id, &opts).with_context(fail)?;
        finish(ctx, &self.id, &opts, status)
    }
}

/// `exec -t` (or a process.json with `"terminal": true`): with
/// --console-socket the caller's receiver gets the pty; in the foreground
/// ocictl is the receiver and relays the pty to this terminal.
fn terminal_session(ctx: &Context, id: &ContainerId, opts: &ExecOpts) -> Outcome {
    if opts.console_socket.is_some() {
        let status = ctx.runc.exec(id, opts)?;
        return finish(ctx, id, opts, status);
    }
    if opts.detach {
        return Err(UsageError(
            "exec -d -t needs --console-socket PATH: a receiver that lives on, such as `ocictl console PATH` started first (or run it in the foreground)"
                .into(),
        )
        .into());
    }
    let status = ctx.runc.exec_terminal(id, opts)?;
    finish(ctx, id, opts, status)
}

/// How the command ends: detached, report the start; in the foreground,
/// exit with the process's status.
fn finish(
    ctx: &Context,
    id: &ContainerId,
    opts: &ExecOpts,
    status: runtime::Termination,
) -> Outcome {
    if opts.detach {
        if !status.success() {
            anyhow::bail!("cannot exec in container {id}: the runtime ended with {status}");
        }
        let pid = opts
            .pid_file
            .as_deref()
            .and_then(|p| runtime::read_pid_file(p).ok());
        return report_action(ctx, &executed(id, true, pid, Ended::default()));
    }
    super::report_finished(ctx, &executed(id, false, None, Ended::of(status)), status)
}

fn executed(id: &ContainerId, detached: bool, pid: Option<i32>, ended: Ended) -> Executed {
    Executed {
        id: id.to_string(),
        action: "exec".into(),
        detached,
        pid,
        ended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_numeric() {
        assert!(parse_user("0").is_ok());
        assert!(parse_user("1000:1000").is_ok());
        assert!(parse_user("root").is_err());
        assert!(parse_user("1000:").is_err());
        assert!(parse_user(":5").is_err());
    }
}
