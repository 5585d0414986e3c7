//! One file per subcommand (and `overrides`, the flags `run` and `create`
//! share): its clap arguments (doc comments are the help)
//! and its `run`, which turns arguments into typed options, calls the
//! driver, and renders the result. Commands never build argv themselves.

mod attach;
mod bundle;
mod checkpoint;
mod completion;
mod console;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod generate;
mod generate_assets;
mod inspect;
mod kill;
mod list;
mod logs;
mod overrides;
mod pause;
mod ps;
mod restore;
mod resume;
mod run;
mod shim;
mod spec;
mod start;
mod state;
mod stats;
mod stop;
mod top;
mod update;
mod version;
mod wait;

use clap::Subcommand;
use ocictl::runtime::{ContainerId, Runtime};

use crate::output::{self, Format};

/// The arguments of the hot commands, which [`crate::hand_parser`] builds.
pub use self::{
    kill::Kill, list::List, pause::Pause, ps::Ps, resume::Resume, state::State, version::Version,
};

/// What every command gets: the configured driver and the output format.
pub struct Context {
    pub runc: Runtime,
    pub format: Format,
    /// Whether the user chose the format (flag or OCICTL_FORMAT), rather
    /// than getting the default.
    pub format_chosen: bool,
    /// When `create` and `run -d` start the monitor (`--monitor`).
    pub monitor: crate::cli::MonitorMode,
}

/// A command's result: the exit code, or an error with context.
pub type Outcome = anyhow::Result<i32>;

#[derive(Debug, Subcommand)]
pub enum Command {
    Create(create::Create),
    Start(start::Start),
    Run(run::Run),
    Exec(exec::Exec),
    Kill(kill::Kill),
    Pause(pause::Pause),
    Resume(resume::Resume),
    Delete(delete::Delete),
    Stop(stop::Stop),
    State(state::State),
    Inspect(inspect::Inspect),
    List(list::List),
    Ps(ps::Ps),
    Top(top::Top),
    Stats(stats::StatsCmd),
    Events(events::Events),
    Update(update::Update),
    Attach(attach::Attach),
    Logs(logs::Logs),
    Wait(wait::Wait),
    Generate(generate::Generate),
    Console(console::Console),
    Checkpoint(checkpoint::Checkpoint),
    Restore(restore::Restore),
    Version(version::Version),
    Features(features::Features),
    Spec(spec::Spec),
    Bundle(bundle::Bundle),
    Completion(completion::Completion),
    #[command(hide = true)]
    Shim(shim::Shim),
    #[command(hide = true)]
    GenerateAssets(generate_assets::GenerateAssets),
}

/// A subcommand as the parsing command line builds it on demand.
pub struct SubcommandDef {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub hidden: bool,
    pub build: fn(clap::Command) -> clap::Command,
}

macro_rules! subcommands {
    ($($name:literal $(alias $alias:literal)? $(hidden $hidden:literal)? => $ty:ty),* $(,)?) => {
        /// Every subcommand, in [`Command`]'s order (a test checks both agree).
        pub const SUBCOMMANDS: &[SubcommandDef] = &[$(SubcommandDef {
            name: $name,
            aliases: &[$($alias)?],
            hidden: false $(|| $hidden)?,
            build: <$ty as clap::Args>::augment_args,
        }),*];
    };
}

subcommands! {
    "create" => create::Create,
    "start" => start::Start,
    "run" => run::Run,
    "exec" => exec::Exec,
    "kill" => kill::Kill,
    "pause" => pause::Pause,
    "resume" => resume::Resume,
    "delete" => delete::Delete,
    "stop" => stop::Stop,
    "state" => state::State,
    "inspect" => inspect::Inspect,
    "list" alias "ls" => list::List,
    "ps" => ps::Ps,
    "top" => top::Top,
    "stats" => stats::StatsCmd,
    "events" => events::Events,
    "update" => update::Update,
    "attach" => attach::Attach,
    "logs" => logs::Logs,
    "wait" => wait::Wait,
    "generate" => generate::Generate,
    "console" => console::Console,
    "checkpoint" => checkpoint::Checkpoint,
    "restore" => restore::Restore,
    "version" => version::Version,
    "features" => features::Features,
    "spec" => spec::Spec,
    "bundle" => bundle::Bundle,
    "completion" => completion::Completion,
    "shim" hidden true => shim::Shim,
    "generate-assets" hidden true => generate_assets::GenerateAssets,
}

impl Command {
    /// The output format the command was given itself (runc's `-f` on
    /// `list` and `ps`), which wins over the global one.
    pub fn own_format(&self) -> Option<Format> {
        match self {
            Command::List(c) => c.format_short,
            Command::Ps(c) => c.format_short,
            _ => None,
        }
    }

    /// The container the command is about, for hints that name it.
    pub fn container(&self) -> Option<String> {
        let id = match self {
            Command::Create(c) => &c.id,
            Command::Start(c) => &c.id,
            Command::Run(c) => &c.id,
            Command::Exec(c) => &c.id,
            Command::Kill(c) => return c.first_target(),
            Command::Pause(c) => &c.id,
            Command::Resume(c) => &c.id,
            Command::Delete(c) => return c.ids.first().map(ToString::to_string),
            Command::Stop(c) => return c.ids.first().map(ToString::to_string),
            Command::State(c) => &c.id,
            Command::Ps(c) => &c.id,
            Command::Top(c) => &c.id,
            Command::Events(c) => &c.id,
            Command::Update(c) => &c.id,
            Command::Attach(c) => &c.id,
            Command::Logs(c) => &c.id,
            Command::Wait(c) => &c.id,
            Command::Checkpoint(c) => &c.id,
            Command::Restore(c) => &c.id,
            Command::Generate(c) => c.id(),
            Command::Stats(c) => return c.ids.first().map(ToString::to_string),
            Command::Inspect(c) => return c.ids.first().map(ToString::to_string),
            _ => return None,
        };
        Some(id.to_string())
    }

    pub fn run(self, ctx: &Context) -> Outcome {
        match self {
            Command::Create(c) => c.run(ctx),
            Command::Start(c) => c.run(ctx),
            Command::Run(c) => c.run(ctx),
            Command::Delete(c) => c.run(ctx),
            Command::Stop(c) => c.run(ctx),
            Command::Kill(c) => c.run(ctx),
            Command::Pause(c) => c.run(ctx),
            Command::Resume(c) => c.run(ctx),
            Command::State(c) => c.run(ctx),
            Command::List(c) => c.run(ctx),
            Command::Ps(c) => c.run(ctx),
            Command::Version(c) => c.run(ctx),
            Command::Features(c) => c.run(ctx),
            Command::Spec(c) => c.run(ctx),
            Command::Bundle(c) => c.run(ctx),
            Command::Completion(c) => c.run(ctx),
            Command::GenerateAssets(c) => c.run(ctx),
            Command::Console(c) => c.run(ctx),
            Command::Checkpoint(c) => c.run(ctx),
            Command::Restore(c) => c.run(ctx),
            Command::Exec(c) => c.run(ctx),
            Command::Stats(c) => c.run(ctx),
            Command::Events(c) => c.run(ctx),
            Command::Top(c) => c.run(ctx),
            Command::Update(c) => c.run(ctx),
            Command::Attach(c) => c.run(ctx),
            Command::Logs(c) => c.run(ctx),
            Command::Wait(c) => c.run(ctx),
            Command::Inspect(c) => c.run(ctx),
            Command::Generate(c) => c.run(ctx),
            Command::Shim(c) => c.run(ctx),
        }
    }
}

/// The result of a command that only acts (start, pause, delete…): silent
/// for people, as runc is; its contract struct (`src/contract.rs`) for scripts.
pub fn report_action<T: serde::Serialize>(ctx: &Context, result: &T) -> Outcome {
    if ctx.format == Format::Json {
        output::print_json(result)?;
    }
    Ok(0)
}

/// A command given several containers (`stop`, `delete`, `kill`): `act` on
/// each item, in order, every one attempted. With one the outcome is the
/// command's usual one (its error is main's to print, exactly as before);
/// with several, each failure is printed as it happens, naming its
/// container (`"id"` in JSON), and the exit code is the first failure's
/// ([`crate::exit_code::of_several`]).
pub fn each_container<T>(
    ctx: &Context,
    command: &str,
    items: Vec<(ContainerId, T)>,
    mut act: impl FnMut(&ContainerId, T) -> Outcome,
) -> Outcome {
    let several = items.len() > 1;
    let mut codes = Vec::new();
    for (id, item) in items {
        match act(&id, item) {
            Ok(code) => codes.push(code),
            Err(e) if !several || crate::report::is_broken_pipe(&e) => return Err(e),
            Err(e) => {
                let code = crate::report::exit_code_of(&e);
                let about = crate::report::About {
                    command: command.to_string(),
                    container: Some(id.to_string()),
                };
                crate::report::print_error_of(&e, ctx.format, code, &about);
                codes.push(code);
            }
        }
    }
    Ok(crate::exit_code::of_several(codes))
}

/// The result of an action on one of `several` containers: as
/// [`report_action`], and for people, when there are several, the ID of
/// each container done (as docker prints them), since silence would not
/// say which.
pub fn report_action_of<T: serde::Serialize>(
    ctx: &Context,
    several: bool,
    id: &ContainerId,
    result: &T,
) -> Outcome {
    if several && ctx.format == Format::Table {
        output::print_text(&format!("{id}\n"))?;
    }
    report_action(ctx, result)
}

/// A command that only acts on one container (`start`, `pause`, `resume`):
/// the driver's `op`, then silence for people and `{"id","action"}` for
/// scripts, as runc is silent.
pub fn act_on(
    ctx: &Context,
    id: &ContainerId,
    action: &str,
    op: impl FnOnce(&Runtime, &ContainerId) -> ocictl::runtime::Result<()>,
) -> Outcome {
    use anyhow::Context as _;
    op(&ctx.runc, id).with_context(|| format!("cannot {action} container {id}"))?;
    report_action(ctx, &crate::contract::Acted::new(id, action))
}

/// The end of a foreground `run`, `exec` or `restore` for scripts: stdout is
/// the container's, untouched, so the summary (`{"id","action",
/// "exit_code"…}`) is the last line on stderr (the only one with -t).
pub fn report_finished<T: serde::Serialize>(
    ctx: &Context,
    result: &T,
    status: ocictl::runtime::Termination,
) -> Outcome {
    if ctx.format == Format::Json {
        output::print_json_stderr(result)?;
    }
    Ok(status.shell_code())
}

/// `--format`'s short form `-f`, which runc's `list` and `ps` have: it wins
/// over the global `--format` when given.
pub fn format_with_short(ctx: &Context, short: Option<Format>) -> Format {
    short.unwrap_or(ctx.format)
}
