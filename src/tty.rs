//! Terminal plumbing shared by every command that relays a pty: the
//! process-wide signal pipe (so a poll loop wakes on SIGWINCH, SIGCHLD and
//! the termination signals), a raw-mode guard that puts the caller's
//! terminal back exactly as it was on every exit path (including a panic),
//! window sizes, and the copy loop between the caller's stdio and a pty
//! master. No async runtime: one `poll(2)` loop.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Signals the terminal loops react to: the runtime's proxied signals
/// ([`crate::runtime::process::PROXIED_SIGNALS`]) and SIGCHLD. Once
/// [`signals`] has been called they no longer kill ocictl: the loops
/// forward them or stop cleanly, so temporary sockets and the terminal's
/// settings are always cleaned up.
fn caught_signals() -> impl Iterator<Item = i32> {
    crate::runtime::process::PROXIED_SIGNALS
        .iter()
        .copied()
        .chain([libc::SIGCHLD])
}

/// The signals a foreground terminal command passes on to the container
/// process (SIGWINCH is turned into a window-size change instead).
pub fn forwarded_signals() -> impl Iterator<Item = i32> {
    crate::runtime::process::PROXIED_SIGNALS
        .iter()
        .copied()
        .filter(|&s| s != libc::SIGWINCH)
}

/// The signals that end a command which has no process to pass them to
/// (`ocictl console`).
pub const STOP_SIGNALS: &[i32] = &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// A self-pipe that becomes readable when one of the caught signals
/// arrives, plus one "pending" flag per signal.
pub struct SignalPipe {
    read: OwnedFd,
    pending: Vec<(i32, std::sync::Arc<AtomicBool>)>,
}

impl SignalPipe {
    /// The fd to poll for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Empty the pipe (call after poll reported it readable).
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = nix::unistd::read(&self.read, &mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    /// Whether `signal` arrived since it was last taken; clears it.
    pub fn take(&self, signal: i32) -> bool {
        self.pending
            .iter()
            .find(|(s, _)| *s == signal)
            .is_some_and(|(_, flag)| flag.swap(false, Ordering::SeqCst))
    }

    /// The first of `signals` that arrived, cleared.
    pub fn take_any(&self, signals: impl IntoIterator<Item = i32>) -> Option<i32> {
        signals.into_iter().find(|&s| self.take(s))
    }

    /// Forget earlier arrivals of `signals` (e.g. a SIGCHLD from an
    /// unrelated child before a loop starts).
    pub fn clear(&self, signals: &[i32]) {
        for &s in signals {
            self.take(s);
        }
    }
}

/// The process-wide signal pipe, installed on first use. From then on the
/// caught signals no longer take their default action.
pub fn signals() -> io::Result<&'static SignalPipe> {
    static PIPE: OnceLock<SignalPipe> = OnceLock::new();
    static INIT: Mutex<()> = Mutex::new(());
    if let Some(p) = PIPE.get() {
        return Ok(p);
    }
    let _lock = INIT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = PIPE.get() {
        return Ok(p);
    }
    let (read, write) = std::os::unix::net::UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    let mut pending = Vec::new();
    for sig in caught_signals() {
        let flag = std::sync::Arc::new(AtomicBool::new(false));
        // The flag is set before the pipe is written, so a woken loop
        // always finds it.
        signal_hook::flag::register(sig, std::sync::Arc::clone(&flag))?;
        signal_hook::low_level::pipe::register_raw(sig, write.as_raw_fd())?;
        pending.push((sig, flag));
    }
    // The write end lives as long as the process: the handlers use it.
    std::mem::forget(write);
    let pipe = SignalPipe {
        read: read.into(),
        pending,
    };
    Ok(PIPE.get_or_init(|| pipe))
}

/// A terminal's settings, saved for restoring byte for byte.
#[derive(Clone, Copy)]
struct Saved {
    fd: RawFd,
    termios: libc::termios,
}

/// What the panic hook restores: the terminal currently in raw mode.
static RAW: Mutex<Option<Saved>> = Mutex::new(None);

fn restore(saved: &Saved) {
    // SAFETY: tcsetattr reads the termios struct we saved from tcgetattr.
    unsafe {
        libc::tcsetattr(saved.fd, libc::TCSADRAIN, &saved.termios);
    }
}

/// Puts a terminal in raw mode and restores its exact settings when
/// dropped. A panic hook restores it too, before the panic message is
/// printed, so the message is readable.
pub struct RawMode {
    saved: Saved,
}

impl RawMode {
    /// Raw mode on `fd` when it is a terminal; `None` when it is not.
    pub fn enter(fd: BorrowedFd<'_>) -> io::Result<Option<RawMode>> {
        if !is_tty(fd) {
            return Ok(None);
        }
        install_panic_hook();
        let raw_fd = fd.as_raw_fd();
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut termios: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(raw_fd, &mut termios) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let saved = Saved {
            fd: raw_fd,
            termios,
        };
        let mut raw = termios;
        // SAFETY: cfmakeraw edits the struct in place.
        unsafe { libc::cfmakeraw(&mut raw) };
        *RAW.lock().unwrap_or_else(|p| p.into_inner()) = Some(saved);
        if unsafe { libc::tcsetattr(raw_fd, libc::TCSADRAIN, &raw) } != 0 {
            let e = io::Error::last_os_error();
            RAW.lock().unwrap_or_else(|p| p.into_inner()).take();
            return Err(e);
        }
        Ok(Some(RawMode { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore(&self.saved);
        RAW.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(guard) = RAW.try_lock() {
                if let Some(saved) = guard.as_ref() {
                    restore(saved);
                }
            }
            previous(info);
        }));
    });
}

pub fn is_tty(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

/// A terminal's size in rows and columns.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<libc::winsize> {
    // SAFETY: TIOCGWINSZ fills a winsize struct.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && (ws.ws_row > 0 || ws.ws_col > 0)).then_some(ws)
}

/// Give a pty (its master) a size; the kernel sends SIGWINCH to the
/// pty's foreground process group when it changes.
pub fn set_window_size(master: BorrowedFd<'_>, ws: &libc::winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads a winsize struct.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, ws) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The first of stdin, stdout, stderr that is a terminal: where the
/// window size comes from.
pub fn controlling_stdio() -> Option<BorrowedFd<'static>> {
    [0, 1, 2].into_iter().find_map(|fd| {
        // SAFETY: the standard fds stay open for the life of the process.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        is_tty(fd).then_some(fd)
    })
}

/// Open the slave side of a pty from its master (TIOCGPTPEER), e.g. to
/// read or change the settings the container's program sees.
fn open_peer(master: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER returns a new fd or -1.
    let fd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Turn off the pty's NL -> CRNL output mapping (ONLCR), as runc does on
/// the pty it relays in the foreground: the process's lines then reach
/// ocictl's stdout ending in `\n`, exactly as through runc.
pub fn clear_onlcr(master: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: termios is plain data; tcgetattr fills it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(master.as_raw_fd(), &mut t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    t.c_oflag &= !libc::ONLCR;
    // SAFETY: as above, a termios tcgetattr filled.
    if unsafe { libc::tcsetattr(master.as_raw_fd(), libc::TCSANOW, &t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Where the pty's output goes.
pub enum Sink<'a> {
    /// Written to this fd (stdout, a log file).
    Fd(BorrowedFd<'a>),
    /// Read and thrown away.
    Discard,
}

/// What the relay's caller says after each wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep relaying.
    Continue,
    /// The process has ended: pass on what it already printed, then stop.
    Drain,
    /// Stop now.
    Stop,
}

/// How the copy between the caller and a pty master is set up.
pub struct Relay<'a> {
    /// Copied into the pty (`None`: nothing is typed into it).
    pub input: Option<BorrowedFd<'a>>,
    pub output: Sink<'a>,
    /// The terminal whose size the pty follows, now and on SIGWINCH.
    pub size_from: Option<BorrowedFd<'a>>,
    /// When the input is not a terminal: pass its end on as the pty's EOF
    /// character (piped input, cron), and turn the pty's echo off so piped
    /// data is not repeated in the output. Otherwise its end only stops
    /// the copying of input.
    pub eof_to_pty: bool,
}

/// After the process ended, stop draining after this long without output
/// (a background process may keep the pty open).
/// How long a pty must stay quiet, once its process ended, before the
/// relay stops reading what is left in it.
pub(crate) const DRAIN_IDLE: Duration = Duration::from_millis(250);
const CHUNK: usize = 64 * 1024;

impl Relay<'_> {
    /// Copy input -> `master` and `master` -> output until the pty's other
    /// side is closed, or `wake` says to stop. `wake` is called at the
    /// start and after every signal (other than SIGWINCH, handled here).
    ///
    /// See [`Relay::eof_to_pty`] for input that is not a terminal (a pty
    /// cannot be half-closed, so its EOF character stands for the end).
    pub fn run(
        &self,
        master: BorrowedFd<'_>,
        signals: &SignalPipe,
        mut wake: impl FnMut() -> io::Result<Control>,
    ) -> io::Result<()> {
        set_nonblocking(master)?;
        if let Some(ws) = self.size_from.and_then(window_size) {
            let _ = set_window_size(master, &ws);
        }
        // The pty's EOF character; ^D unless the container's side says
        // otherwise. The slave side is opened only for piped input, and
        // then held open until the end: the runtime sends the master before
        // the container opens the slave, and a slave opened and closed in
        // between would make the master read as hung up (EIO) for good.
        let mut veof = 0x04u8;
        let piped = self.eof_to_pty && self.input.is_some_and(|i| !is_tty(i));
        let _peer = if piped { open_peer(master).ok() } else { None };
        if let Some(peer) = &_peer {
            // SAFETY: termios is plain data; tcgetattr fills it.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            if unsafe { libc::tcgetattr(peer.as_raw_fd(), &mut t) } == 0 {
                veof = t.c_cc[libc::VEOF];
                if t.c_lflag & libc::ECHO != 0 {
                    t.c_lflag &= !(libc::ECHO | libc::ECHONL);
                    unsafe { libc::tcsetattr(peer.as_raw_fd(), libc::TCSANOW, &t) };
                }
            }
        }

        let mut input = self.input;
        let input_is_tty = input.is_some_and(is_tty);
        let mut output = match self.output {
            Sink::Fd(fd) => Some(fd),
            Sink::Discard => None,
        };
        let mut pending: Vec<u8> = Vec::new();
        let mut last_input = b'\n';
        let mut buf = vec![0u8; CHUNK];
        let mut draining = false;

        let mut control = wake()?;
        loop {
            match control {
                Control::Stop => return Ok(()),
                Control::Drain => draining = true,
                Control::Continue => {}
            }
            let want_input = input.is_some() && pending.is_empty() && !draining;
            let mut fds = vec![
                PollFd::new(signals.fd(), PollFlags::POLLIN),
                PollFd::new(
                    master,
                    if pending.is_empty() || draining {
                        PollFlags::POLLIN
                    } else {
                        PollFlags::POLLIN | PollFlags::POLLOUT
                    },
                ),
            ];
            if want_input {
                if let Some(i) = input {
                    fds.push(PollFd::new(i, PollFlags::POLLIN));
                }
            }
            let timeout = if draining {
                PollTimeout::try_from(DRAIN_IDLE.as_millis() as i32).unwrap_or(PollTimeout::MAX)
            } else {
                PollTimeout::NONE
            };
            let n = match poll(&mut fds, timeout) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                // Drained and idle.
                return Ok(());
            }
            let revents = |fd: &PollFd| fd.revents().unwrap_or(PollFlags::empty());
            let sig_ready = !revents(&fds[0]).is_empty();
            let master_ev = revents(&fds[1]);
            let input_ev = fds.get(2).map(revents).unwrap_or(PollFlags::empty());
            drop(fds);

            if !master_ev.is_empty() {
                if master_ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                {
                    match nix::unistd::read(master, &mut buf) {
                        Ok(0) | Err(nix::errno::Errno::EIO) => return Ok(()),
                        Ok(n) => {
                            self.keep_size(master);
                            if let Some(out) = output {
                                if write_all(out, &buf[..n]).is_err() {
                                    // stdout closed: keep draining the pty so
                                    // the container does not block.
                                    output = None;
                                }
                            }
                        }
                        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                if master_ev.contains(PollFlags::POLLOUT)
                    && !pending.is_empty()
                    && !flush(master, &mut pending)?
                {
                    return Ok(());
                }
            }

            if !input_ev.is_empty() {
                if let Some(i) = input {
                    match nix::unistd::read(i, &mut buf) {
                        Ok(0) | Err(nix::errno::Errno::EIO) => {
                            input = None;
                            if !input_is_tty && self.eof_to_pty {
                                // A partial line needs one EOF to be
                                // delivered and another to read as EOF.
                                if last_input != b'\n' {
                                    pending.push(veof);
                                }
                                pending.push(veof);
                            }
                        }
                        Ok(n) => {
                            self.keep_size(master);
                            last_input = buf[n - 1];
                            pending.extend_from_slice(&buf[..n]);
                            // Most writes go straight through.
                            if !flush(master, &mut pending)? {
                                return Ok(());
                            }
                        }
                        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }

            if sig_ready {
                signals.drain();
                if signals.take(libc::SIGWINCH) {
                    if let Some(ws) = self.size_from.and_then(window_size) {
                        let _ = set_window_size(master, &ws);
                    }
                }
                control = match wake()? {
                    // Once draining, stay draining.
                    Control::Continue if draining => Control::Drain,
                    c => c,
                };
            }
        }
    }
}

impl Relay<'_> {
    /// Give the pty this terminal's size again if it has none. CRIU
    /// restores a checkpointed pty's settings (its size too, often none)
    /// after the runtime handed the master on, so the size set when the
    /// relay started may be gone; a program never sets 0x0 itself. Checked
    /// on each chunk in or out: one ioctl.
    fn keep_size(&self, master: BorrowedFd<'_>) {
        if window_size(master).is_none() {
            if let Some(ws) = self.size_from.and_then(window_size) {
                let _ = set_window_size(master, &ws);
            }
        }
    }
}

/// Write what the non-blocking pty takes of `pending`; false when the
/// pty's other side is gone.
fn flush(master: BorrowedFd<'_>, pending: &mut Vec<u8>) -> io::Result<bool> {
    match nix::unistd::write(master, pending) {
        Ok(n) => {
            pending.drain(..n);
            Ok(true)
        }
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => Ok(true),
        Err(nix::errno::Errno::EIO) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Write everything, waiting for a non-blocking fd to take more.
fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::NONE);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
