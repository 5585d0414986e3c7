//! `ocictl console`: a console-socket receiver for detached terminal
//! containers (the counterpart of runc's recvtty).

use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use ocictl::runtime::ConsoleSocket;
use ocictl::tty::{self, Control, RawMode, Relay, Sink};

use super::{Context, Outcome};
use crate::output::{self, Format};
use crate::report::UsageError;

/// Receive a detached container's terminal on a console socket.
///
/// Listens on SOCKET, receives the pty master the runtime sends there
/// (`ocictl create --console-socket SOCKET …` or `run -d --console-socket
/// SOCKET …`), and keeps it until the container's side closes, in one of
/// the modes --mode lists.
///
/// The socket is removed once the runtime has connected, or when ocictl
/// stops (Ctrl-C, SIGTERM). Start it before the container, then wait for
/// the socket to appear.
#[derive(Debug, Args)]
pub struct Console {
    /// What to do with the container's terminal.
    #[arg(long, value_enum, default_value_t = Mode::Forward)]
    pub mode: Mode,

    /// With --mode log: the file the container's output is appended to.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,

    /// The socket to listen on (it must not exist yet).
    #[arg(value_name = "SOCKET", value_hint = clap::ValueHint::FilePath)]
    pub socket: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Wire it to this terminal (raw mode; detach by ending the container's
    /// shell, or SIGTERM to this process).
    Forward,
    /// Read and discard what the container prints.
    Null,
    /// Append what the container prints to --output FILE.
    Log,
}

impl Console {
    pub fn run(self, ctx: &Context) -> Outcome {
        let fail = || format!("console socket {}", self.socket.display());
        // The old spelling, the global --log, still works here (console
        // runs no runtime, so it cannot be taken for the runtime's log).
        let output = match (&self.output, &ctx.runc.log) {
            (Some(file), _) => Some(file),
            (None, Some(file)) => {
                eprintln!("ocictl: warning: `console --log FILE` is deprecated: use `console --output FILE` (--log names the runtime's log everywhere else)");
                Some(file)
            }
            (None, None) => None,
        };
        let log = match (self.mode, output) {
            (Mode::Log, Some(file)) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)
                    .with_context(|| format!("cannot open the log file {}", file.display()))?,
            ),
            (Mode::Log, None) => {
                return Err(UsageError("--mode log needs --output FILE".into()).into());
            }
            (_, Some(_)) => {
                return Err(UsageError("--output FILE goes with --mode log".into()).into());
            }
            (_, None) => None,
        };
        let signals = tty::signals().context("cannot install the signal handlers")?;
        let socket = ConsoleSocket::bind(&self.socket).with_context(fail)?;
        let mut stopped_by = None;
        let accepted = socket
            .accept(signals, None, || {
                stopped_by = signals.take_any(tty::STOP_SIGNALS.iter().copied());
                stopped_by.is_some()
            })
            .with_context(fail)?;
        // One connection only: the socket goes as soon as it is used.
        drop(socket);
        let Ok(console) = accepted else {
            return Ok(128 + stopped_by.unwrap_or(libc::SIGTERM));
        };

        // SAFETY: the standard fds stay open for the life of the process.
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        let stdout = unsafe { BorrowedFd::borrow_raw(1) };
        let relay = match self.mode {
            Mode::Forward => Relay {
                input: Some(stdin),
                output: Sink::Fd(stdout),
                size_from: tty::controlling_stdio(),
                eof_to_pty: false,
            },
            Mode::Null => Relay {
                input: None,
                output: Sink::Discard,
                size_from: None,
                eof_to_pty: false,
            },
            Mode::Log => Relay {
                input: None,
                output: Sink::Fd(log.as_ref().expect("log file opened above").as_fd()),
                size_from: None,
                eof_to_pty: false,
            },
        };
        {
            let _raw = match self.mode {
                Mode::Forward => RawMode::enter(stdin).context("cannot put stdin in raw mode")?,
                _ => None,
            };
            relay
                .run(console.master.as_fd(), signals, || {
                    // Signals to the container go through `ocictl kill`.
                    signals.clear(&[libc::SIGUSR1, libc::SIGUSR2, libc::SIGCHLD]);
                    if signals.take(libc::SIGTSTP) {
                        // Ctrl-Z stops a receiver like any job (raw mode
                        // passes it to the container instead).
                        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
                    }
                    stopped_by = signals.take_any(tty::STOP_SIGNALS.iter().copied());
                    Ok(if stopped_by.is_some() {
                        Control::Stop
                    } else {
                        Control::Continue
                    })
                })
                .with_context(|| format!("relaying the terminal {}", console.name))?;
        }
        if let Some(sig) = stopped_by {
            return Ok(128 + sig);
        }
        if ctx.format == Format::Json && self.mode != Mode::Forward {
            output::print_json(&crate::contract::Console {
                socket: self.socket.clone(),
                mode: format!("{:?}", self.mode).to_lowercase(),
                pty: console.name.clone(),
            })?;
        }
        Ok(0)
    }
}
