//! Terminals on real runc through real ptys: `ocictl run -t` driven from a
//! pty this test opens, `ocictl console`, and the console socket itself.

use crate::common;

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;

use common::{unique_id, Env, PtySession};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
use ocictl::runtime::ConsoleSocket;
use tempfile::TempDir;

/// ocictl on a pty, with a private TMPDIR (and no XDG_RUNTIME_DIR) so the
/// test can see that no socket or directory is left behind.
fn on_pty(env: &Env, tmp: &TempDir, args: &[&str], rows: u16, cols: u16) -> PtySession {
    let mut cmd = env.std_cmd();
    cmd.env("TMPDIR", tmp.path())
        .env_remove("XDG_RUNTIME_DIR")
        .args(args);
    PtySession::spawn(cmd, rows, cols)
}

/// A foreground `ocictl run` on a pty the test owns.
struct TtyRun {
    env: Env,
    tmp: TempDir,
    bundle: std::path::PathBuf,
    id: String,
    s: PtySession,
    /// The terminal's settings before ocictl touched them.
    before: Vec<u8>,
}

/// `ocictl run [EXTRA…] -b BUNDLE ID` on a `rows` x `cols` pty, for a
/// busybox bundle running `command` (`terminal` in its config.json).
fn tty_run(command: &[&str], terminal: bool, extra: &[&str], rows: u16, cols: u16) -> TtyRun {
    tty_run_edited(command, terminal, extra, rows, cols, |_| {})
}

/// [`tty_run`] with the bundle's config.json edited first.
fn tty_run_edited(
    command: &[&str],
    terminal: bool,
    extra: &[&str],
    rows: u16,
    cols: u16,
    edit: impl FnOnce(&mut serde_json::Value),
) -> TtyRun {
    let env = Env::new();
    let tmp = private_tmp();
    let bundle = env.bundle_with(command, terminal);
    Env::edit_config(&bundle, edit);
    let id = unique_id("tty");
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-b", bundle.to_str().unwrap(), &id]);
    let s = on_pty(&env, &tmp, &args, rows, cols);
    let before = s.initial_termios.clone();
    TtyRun {
        env,
        tmp,
        bundle,
        id,
        s,
        before,
    }
}

impl TtyRun {
    /// Wait for ocictl's exit code, then check that the terminal is as it
    /// was, the container is gone and no private file is left.
    fn finish(&mut self) -> Option<i32> {
        let status = self.s.wait();
        assert_eq!(
            self.s.termios_bytes(),
            self.before,
            "the terminal was not restored; it showed {}",
            self.s.text()
        );
        assert_eq!(self.env.status(&self.id), None, "the container was left");
        assert_empty(self.tmp.path());
        status.code()
    }
}

fn private_tmp() -> TempDir {
    tempfile::Builder::new()
        .prefix("ocictl-tty-tmp-")
        .tempdir()
        .unwrap()
}

fn assert_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "ocictl left {left:?} in its TMPDIR");
}

#[test]
fn run_t_echoes_input_follows_size_and_resize_and_returns_status() {
    let mut r = tty_run(&["sh"], false, &["-t"], 30, 100);
    let config_before = std::fs::read(r.bundle.join("config.json")).unwrap();
    let s = &mut r.s;
    s.send(b"echo typed-$((40+2))\r");
    // Only the shell's evaluation prints 42; the echo of what was typed
    // shows the expression.
    s.expect("typed-$((40+2))");
    s.expect("typed-42");
    s.send(b"stty size\r");
    s.expect("30 100");
    s.resize(40, 120);
    s.send(b"stty size\r");
    s.expect("40 120");
    s.send(b"exit 5\r");
    assert_eq!(r.finish(), Some(5), "output: {}", r.s.text());
    assert_eq!(
        std::fs::read(r.bundle.join("config.json")).unwrap(),
        config_before,
        "run -t must not edit config.json"
    );
}

#[test]
fn run_t_with_overrides_makes_one_copy_with_both() {
    let extra = [
        "-t",
        "-e",
        "MARK=tty-ov",
        "-w",
        "/tmp",
        "--hostname",
        "ttybox",
    ];
    let mut r = tty_run(&["sh"], false, &extra, 24, 80);
    let config_before = std::fs::read(r.bundle.join("config.json")).unwrap();
    r.s.send(b"echo $MARK:$(pwd):$(hostname):$(tty)\r");
    r.s.expect("tty-ov:/tmp:ttybox:/dev/pts/");
    r.s.send(b"exit 4\r");
    assert_eq!(r.finish(), Some(4), "output: {}", r.s.text());
    assert_eq!(
        std::fs::read(r.bundle.join("config.json")).unwrap(),
        config_before
    );
}

#[test]
fn run_t_exits_zero_and_terminal_bundle_needs_no_flag() {
    let mut r = tty_run(&["sh", "-c", "tty && echo ok-$((1+1))"], true, &[], 24, 80);
    assert_eq!(r.finish(), Some(0), "output: {}", r.s.text());
    assert!(r.s.text().contains("/dev/pts/"), "output: {}", r.s.text());
    assert!(r.s.text().contains("ok-2"), "output: {}", r.s.text());
}

#[test]
fn ctrl_c_goes_to_the_container_shell() {
    let mut r = tty_run(&["sh"], true, &[], 24, 80);
    let s = &mut r.s;
    s.send(b"echo sleep-$((6*7)); sleep 100\r");
    s.expect("sleep-42");
    std::thread::sleep(std::time::Duration::from_millis(300));
    s.send(b"\x03");
    // The shell survives (only sleep got SIGINT) and reports it.
    s.send(b"echo status-$?\r");
    s.expect("status-130");
    s.send(b"sleep 100\r");
    std::thread::sleep(std::time::Duration::from_millis(300));
    s.send(b"\x03");
    s.send(b"exit\r");
    assert_eq!(r.finish(), Some(130), "output: {}", r.s.text());
}

#[test]
fn container_killed_from_elsewhere_restores_the_terminal() {
    let mut r = tty_run(&["sh"], false, &["--tty"], 24, 80);
    r.s.send(b"echo up-$((2+2))\r");
    r.s.expect("up-4");
    r.env.cmd().args(["kill", &r.id, "KILL"]).assert().success();
    assert_eq!(r.finish(), Some(137), "output: {}", r.s.text());
}

#[test]
fn runtime_failures_are_reported_after_the_terminal_is_restored() {
    // runc fails before it creates the pty (it never connects)…
    let mut early = tty_run_edited(&["sh"], false, &["-t"], 24, 80, |c| {
        c["process"]["cwd"] = "relative".into()
    });
    // …and after it has sent the pty (the program cannot be executed).
    let mut late = tty_run(&["/no/such/program"], false, &["-t"], 24, 80);
    for (r, message) in [
        (&mut early, "Cwd must be an absolute path"),
        (&mut late, "no/such/program"),
    ] {
        assert_ne!(r.finish(), Some(0), "output: {}", r.s.text());
        let text = r.s.text();
        assert!(
            text.contains("cannot run container") && text.contains(message),
            "runc's error should be shown: {text}"
        );
    }
}

#[test]
fn piped_stdin_carries_data_and_eof() {
    let env = Env::new();
    let tmp = private_tmp();
    let bundle = env.bundle(&["sh", "-c", "cat; echo cat-done; exit 7"]);
    let id = unique_id("piped");
    let mut child = env
        .std_cmd()
        .env("TMPDIR", tmp.path())
        .env_remove("XDG_RUNTIME_DIR")
        .args(["run", "-t", "-b", bundle.to_str().unwrap(), &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"line one\nline two\n").unwrap();
        // Dropping stdin is the EOF that must reach `cat`.
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(7),
        "stdout: {stdout} stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each line once (the pty's echo is off for piped input), then the
    // end; lines end in `\n`, as through runc (ONLCR is off).
    assert_eq!(stdout, "line one\nline two\ncat-done\n");
    assert_empty(tmp.path());
}

/// Start `ocictl console` and wait for its socket to appear.
fn wait_for_socket(path: &Path, console: &mut std::process::Child) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        if let Ok(Some(status)) = console.try_wait() {
            panic!("ocictl console exited early: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("ocictl console never created {}", path.display());
}

/// `ocictl run -d --console-socket SOCKET`, which must succeed.
fn run_detached_on(env: &Env, socket: &Path, bundle: &Path, id: &str) {
    let run = env.run_detached(args![
        "run",
        "-d",
        "--console-socket",
        socket,
        "-b",
        bundle,
        id
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[test]
fn console_log_mode_records_a_detached_container() {
    let env = Env::new();
    let socket = env.dir.path().join("log.sock");
    let log = env.dir.path().join("out.log");
    let bundle = env.bundle_with(&["sh", "-c", "echo detached-$((3*3)); sleep 0.2"], true);
    let mut console = env
        .std_cmd()
        .arg("--log")
        .arg(&log)
        .args(["console", "--mode", "log"])
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_socket(&socket, &mut console);
    let id = unique_id("logged");
    run_detached_on(&env, &socket, &bundle, &id);
    let status = console.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "detached-9\r\n");
    assert!(!socket.exists(), "the socket was left behind");
}

#[test]
fn console_forward_mode_is_interactive() {
    let env = Env::new();
    let tmp = private_tmp();
    let socket = env.dir.path().join("fw.sock");
    let bundle = env.bundle_with(&["sh"], true);
    let mut s = on_pty(
        &env,
        &tmp,
        &["console", "--mode", "forward", socket.to_str().unwrap()],
        33,
        90,
    );
    let before = s.initial_termios.clone();
    wait_for_socket(&socket, &mut s.child);
    let id = unique_id("fw");
    run_detached_on(&env, &socket, &bundle, &id);
    s.send(b"echo fw-$((2+3)); stty size\r");
    s.expect("fw-5");
    s.expect("33 90");
    s.send(b"exit\r");
    let status = s.wait();
    assert_eq!(status.code(), Some(0), "output: {}", s.text());
    assert_eq!(s.termios_bytes(), before);
    assert!(!socket.exists());
}

#[test]
fn console_stops_cleanly_on_sigterm() {
    let env = Env::new();
    let socket = env.dir.path().join("term.sock");
    let mut console = env
        .std_cmd()
        .args(["console", "--mode", "null"])
        .arg(&socket)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_socket(&socket, &mut console);
    let pid = nix::unistd::Pid::from_raw(console.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = console.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(!socket.exists(), "the socket was left behind");
}

#[test]
fn detached_terminal_without_a_socket_says_what_to_do() {
    // Without the monitor (which otherwise holds the terminal, see
    // tests/e2e/monitor.rs) nobody would receive the pty.
    let env = Env::new();
    let bundle = env.bundle_with(&["sh"], true);
    for args in [
        vec![
            "run",
            "-d",
            "--no-monitor",
            "-b",
            bundle.to_str().unwrap(),
            "nosock",
        ],
        vec![
            "create",
            "--no-monitor",
            "-b",
            bundle.to_str().unwrap(),
            "nosock",
        ],
    ] {
        let out = env.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("ocictl console") && err.contains("--console-socket"),
            "{err}"
        );
    }
}

// The console socket itself, against peers that are not runc.

fn send_fds(path: &Path, payload: &[u8], fds: &[i32]) {
    let stream = UnixStream::connect(path).unwrap();
    let iov = [IoSlice::new(payload)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<UnixAddr>(stream.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None).unwrap();
}

fn accept_from(peer: impl FnOnce(&Path) + Send) -> Result<ocictl::runtime::Console, String> {
    let signals = ocictl::tty::signals().unwrap();
    let socket = ConsoleSocket::temp().unwrap();
    let path = socket.path().to_path_buf();
    let dir = socket.dir().unwrap().to_path_buf();
    let result = std::thread::scope(|scope| {
        scope.spawn(|| peer(&path));
        socket
            .accept(signals, Some(std::time::Duration::from_secs(20)), || false)
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|why| format!("{why:?}")))
    });
    drop(socket);
    assert!(!path.exists() && !dir.exists(), "socket or directory left");
    result
}

#[test]
fn console_socket_receives_a_pty_master() {
    let pty = nix::pty::openpty(None, None).unwrap();
    let master: OwnedFd = pty.master;
    let console = accept_from(|p| send_fds(p, b"/dev/pts/7", &[master.as_raw_fd()])).unwrap();
    assert_eq!(console.name, "/dev/pts/7");
}

#[test]
fn console_socket_rejects_wrong_peers() {
    let (r, w) = nix::unistd::pipe().unwrap();
    let pty = nix::pty::openpty(None, None).unwrap();
    let err = accept_from(|p| send_fds(p, b"garbage", &[])).unwrap_err();
    assert!(err.contains("no file descriptor"), "{err}");
    let err = accept_from(|p| {
        UnixStream::connect(p).unwrap();
    })
    .unwrap_err();
    assert!(err.contains("without sending"), "{err}");
    let err = accept_from(|p| {
        send_fds(
            p,
            b"/dev/pts/1",
            &[pty.master.as_raw_fd(), pty.slave.as_raw_fd()],
        )
    })
    .unwrap_err();
    assert!(err.contains("2 file descriptors"), "{err}");
    let err = accept_from(|p| send_fds(p, b"/dev/pts/1", &[r.as_raw_fd()])).unwrap_err();
    assert!(err.contains("not a terminal"), "{err}");
    let long = vec![b'x'; 10_000];
    let err = accept_from(|p| send_fds(p, &long, &[pty.master.as_raw_fd()])).unwrap_err();
    assert!(err.contains("longer than"), "{err}");
    drop(w);
}

#[test]
fn console_socket_times_out_when_nobody_connects() {
    let signals = ocictl::tty::signals().unwrap();
    let socket = ConsoleSocket::temp().unwrap();
    let r = socket
        .accept(signals, Some(std::time::Duration::from_millis(200)), || {
            false
        })
        .unwrap();
    assert!(matches!(r, Err(ocictl::runtime::NoConsole::TimedOut)));
    let mut gave_up = 0;
    let r = socket
        .accept(signals, None, || {
            gave_up += 1;
            gave_up > 2
        })
        .unwrap();
    assert!(matches!(r, Err(ocictl::runtime::NoConsole::GaveUp)));
}

#[test]
fn exec_t_relays_a_terminal_into_a_running_container() {
    let env = Env::new();
    let tmp = private_tmp();
    let id = env.started(&["sleep", "1000"], "exec-tty");
    let mut s = on_pty(
        &env,
        &tmp,
        &[
            "exec",
            "-t",
            &id,
            "sh",
            "-c",
            // Only once ocictl relays the pty (and has set its size): runc
            // starts the process without waiting for the console's receiver.
            "read go; stty size; read line; echo got:$line; exit 4",
        ],
        33,
        101,
    );
    let before = s.initial_termios.clone();
    s.send(b"go\r");
    s.expect("33 101");
    s.send(b"hello\r");
    s.expect("got:hello");
    assert_eq!(s.wait().code(), Some(4), "{}", s.text());
    assert_eq!(s.termios_bytes(), before, "the terminal was not restored");
    assert_empty(tmp.path());
    assert_eq!(
        env.status(&id).as_deref(),
        Some("running"),
        "exec leaves the container running"
    );
}

#[test]
fn signals_to_a_foreground_terminal_run_reach_the_container_and_restore_the_terminal() {
    for (signal, code) in [(libc::SIGTERM, 42), (libc::SIGHUP, 43)] {
        let script =
            "trap 'exit 42' TERM; trap 'exit 43' HUP; echo ready; while :; do sleep 0.1; done";
        let mut r = tty_run(&["sh", "-c", script], false, &["-t"], 24, 80);
        r.s.expect("ready");
        // A storm: the same signal several times; the first one ends it.
        let pid = r.s.child.id() as i32;
        for _ in 0..3 {
            // SAFETY: kill on the test's own child.
            unsafe { libc::kill(pid, signal) };
        }
        assert_eq!(r.finish(), Some(code), "output: {}", r.s.text());
    }
}
