//! `ocictl`: parse the command line, start tracing, dispatch, and turn the
//! outcome into an exit code.
//!
//! The entry point is ocictl's own C `main` rather than std's: std's start-up
//! reads /proc/self/maps (a sixth of a plain `ocictl state`'s instructions)
//! only to name the main thread's stack in a stack-overflow message. What
//! else std's start does is done here: fds 0-2 opened on /dev/null when
//! closed, SIGPIPE ignored (children still get the default, as from std),
//! a panic caught and exit 101, stdout flushed at the end.
#![cfg_attr(not(test), no_main)]

mod assets;
mod cli;
mod commands;
mod completion;
mod contract;
mod exit_code;
mod hand_parser;
mod help;
mod long_flags;
mod output;
mod progress;
mod report;

use std::io::Write as _;

/// The process entry point (see the module doc). (A test build has the
/// test harness's main instead.)
#[cfg_attr(not(test), unsafe(no_mangle))]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    open_missing_stdio();
    // SAFETY: setting a signal's disposition to SIG_IGN, before any thread.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // std's arguments come from glibc's init array, not from this main.
    let code = std::panic::catch_unwind(ocictl_main).unwrap_or(101);
    let _ = std::io::stdout().flush();
    code
}

/// A closed fd 0, 1 or 2 is opened on /dev/null, as std's start-up does, so
/// that no file ocictl opens later becomes its stdout by accident.
fn open_missing_stdio() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll on a valid array of three pollfds, no wait.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } < 0 {
        return;
    }
    for pfd in fds {
        if pfd.revents & libc::POLLNVAL != 0 {
            // SAFETY: open(2) with a constant path; the lowest free fd, the
            // closed one, is taken.
            if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } < 0 {
                std::process::abort();
            }
        }
    }
}

fn ocictl_main() -> i32 {
    completion::complete_if_asked();
    let cli::Parsed {
        cli,
        subcommand,
        given,
    } = cli::Cli::parse().unwrap_or_else(|err| report::exit_on_usage_error(err));
    // Where runc prints JSON (events), a script that did not ask for a
    // format gets runc's shape; a person at a terminal gets readable lines.
    let format_chosen = cli.global.format_from_env || given.format;
    init_tracing(cli.global.debug);
    let format = cli.global.format;
    let runc = cli.global.runc().unwrap_or_else(|message| {
        let err = anyhow::Error::new(report::CodedError {
            code: exit_code::RUNTIME_NOT_FOUND,
            message,
        });
        let code = report::exit_code_of(&err);
        report::print_error(&err, cli.global.format, code, &report::About::default());
        std::process::exit(code);
    });
    let ctx = commands::Context {
        runc,
        format,
        format_chosen,
        monitor: cli.global.monitor,
    };
    // `list -f json` and `ps -f json` report their errors as JSON too.
    let error_format = cli.command.own_format().unwrap_or(format);
    let about = report::About {
        command: subcommand,
        container: cli.command.container(),
    };
    let code = match cli.command.run(&ctx) {
        Ok(code) => code,
        Err(err) if report::is_broken_pipe(&err) => 0,
        Err(err) => {
            let code = report::exit_code_of(&err);
            report::print_error(&err, error_format, code, &about);
            code
        }
    };
    i32::from(u8::try_from(code).unwrap_or(1))
}

/// Tracing goes to stderr, only when asked for (`--debug` or `RUST_LOG`), so
/// a plain invocation pays nothing for it. Coloured only on a terminal, and
/// never with NO_COLOR (files and pipes get plain text).
fn init_tracing(debug: bool) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.is_empty() => filter,
        _ if debug => "ocictl=debug".to_string(),
        _ => return,
    };
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(stderr_wants_colour())
                .without_time()
                .with_target(false),
        )
        .with(log_targets(&filter))
        .init();
}

/// `RUST_LOG`'s `target=level` directives (or a bare level), comma
/// separated. A directive that does not parse is skipped with a warning
/// naming it, and the rest still apply.
fn log_targets(filter: &str) -> tracing_subscriber::filter::Targets {
    let mut valid = Vec::new();
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.parse::<tracing_subscriber::filter::Targets>() {
            Ok(_) => valid.push(directive),
            Err(err) => eprintln!("ocictl: RUST_LOG: ignoring `{directive}`: {err}"),
        }
    }
    valid.join(",").parse().unwrap_or_default()
}

/// Whether stderr is a terminal and the user did not ask for no colour
/// (NO_COLOR set to anything non-empty, as no-color.org says).
fn stderr_wants_colour() -> bool {
    use std::io::IsTerminal as _;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}
