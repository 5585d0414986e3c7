//! Shared test harness: an ocictl command bound to a private runtime root,
//! busybox bundles made by `ocictl bundle`, and cleanup that force-deletes
//! every container the test left. End-to-end tests never skip: a missing
//! runc or busybox fails them with a message naming `scripts/setup --tests`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use tempfile::TempDir;

pub mod attacker;
pub mod counter;

/// The ocictl binary under test, with no OCICTL_* settings from outside.
pub fn ocictl() -> Command {
    let mut cmd = Command::cargo_bin("ocictl").expect("the ocictl binary is built");
    for var in ["OCICTL_RUNTIME", "OCICTL_ROOT", "OCICTL_FORMAT", "RUST_LOG"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Path of the built ocictl binary (for spawning it by hand, e.g. in a pty).
pub fn ocictl_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("ocictl")
}

/// A private runtime root and a place for bundles; deletes its containers on drop.
pub struct Env {
    pub dir: TempDir,
    pub root: PathBuf,
}

impl Env {
    /// Needs root, runc and busybox-static; fails (never skips) without them.
    pub fn new() -> Env {
        require_e2e();
        let dir = tempfile::Builder::new()
            .prefix("ocictl-test-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("root dir");
        Env { dir, root }
    }

    /// ocictl with `--root` set to this environment's root.
    pub fn cmd(&self) -> Command {
        let mut cmd = ocictl();
        cmd.arg("--root").arg(&self.root);
        cmd
    }

    /// The same as a std Command (for spawning in the background).
    pub fn std_cmd(&self) -> StdCommand {
        let mut cmd = StdCommand::new(ocictl_path());
        for var in ["OCICTL_RUNTIME", "OCICTL_ROOT", "OCICTL_FORMAT", "RUST_LOG"] {
            cmd.env_remove(var);
        }
        cmd.arg("--root").arg(&self.root);
        cmd
    }

    /// A container running `command` in a fresh busybox bundle, started
    /// with `run -d` (which must succeed); its ID, made from `prefix`.
    pub fn started(&self, command: &[&str], prefix: &str) -> String {
        let bundle = self.bundle(command);
        let id = unique_id(prefix);
        let run = self.run_detached(&[
            "run".as_ref(),
            "-d".as_ref(),
            "-b".as_ref(),
            bundle.as_os_str(),
            id.as_ref(),
        ]);
        assert_eq!(run.code, Some(0), "{run:?}");
        id
    }

    /// Run ocictl with `args` where a container inherits its stdio (`create`,
    /// `run -d`): stdout and stderr go to files, not pipes, since the
    /// container would hold a pipe open for as long as it lives.
    pub fn run_detached(&self, args: &[&std::ffi::OsStr]) -> Detached {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let out_path = self.dir.path().join(format!("detached-{n}.out"));
        let err_path = self.dir.path().join(format!("detached-{n}.err"));
        let status = self
            .std_cmd()
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .expect("ocictl runs");
        Detached {
            code: status.code(),
            stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        }
    }

    /// A fresh busybox bundle running `command` (default `sh`).
    pub fn bundle(&self, command: &[&str]) -> PathBuf {
        self.bundle_with(command, false)
    }

    /// A fresh busybox bundle; `terminal` sets process.terminal.
    pub fn bundle_with(&self, command: &[&str], terminal: bool) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = self
            .dir
            .path()
            .join(format!("bundle-{}", N.fetch_add(1, Ordering::SeqCst)));
        let mut cmd = ocictl();
        cmd.arg("bundle").arg(&dir);
        if terminal {
            cmd.arg("--tty");
        }
        if !command.is_empty() {
            cmd.arg("--").args(command);
        }
        cmd.assert().success();
        dir
    }

    /// Edit a bundle's config.json in place.
    pub fn edit_config(bundle: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = bundle.join("config.json");
        let mut value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut value);
        std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    }

    /// `ocictl state` as JSON.
    pub fn state(&self, id: &str) -> serde_json::Value {
        self.json(&["state", id])
    }

    /// `ocictl --format json WORDS…` under this root: must succeed, prints JSON.
    pub fn json(&self, words: &[&str]) -> serde_json::Value {
        json_of(self.cmd(), words)
    }

    /// The container's status string, or None when it does not exist.
    pub fn status(&self, id: &str) -> Option<String> {
        let out = self
            .cmd()
            .args(["--format", "json", "state", id])
            .output()
            .unwrap();
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        Some(v["status"].as_str().unwrap().to_string())
    }

    /// Poll until the container has `status` (at most ~10 s).
    pub fn wait_status(&self, id: &str, status: &str) {
        for _ in 0..200 {
            if self.status(id).as_deref() == Some(status) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "container {id} never reached status {status} (now {:?})",
            self.status(id)
        );
    }

    /// Bare runc under this root (no ocictl), its stdio on /dev/null (a
    /// detached container would hold a pipe open).
    pub fn bare_runc<S: AsRef<std::ffi::OsStr>>(&self, words: &[S]) -> std::process::ExitStatus {
        StdCommand::new("runc")
            .arg("--root")
            .arg(&self.root)
            .args(words)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("runc runs")
    }

    /// IDs of the containers under this root (straight from runc).
    pub fn runc_ids(&self) -> Vec<String> {
        let out = StdCommand::new("runc")
            .arg("--root")
            .arg(&self.root)
            .args(["list", "-q"])
            .output()
            .expect("runc runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.runc_ids() {
            let _ = StdCommand::new("runc")
                .arg("--root")
                .arg(&self.root)
                .args(["resume", &id])
                .output();
            let _ = StdCommand::new("runc")
                .arg("--root")
                .arg(&self.root)
                .args(["delete", "--force", &id])
                .output();
        }
    }
}

/// What a detached ocictl run printed, read from files.
#[derive(Debug)]
pub struct Detached {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// OsStr arguments from anything path- or string-like.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$(std::ffi::OsStr::new(&$a)),*] };
}

/// Run `cmd` (an ocictl command) with `--format json` and `words`; it must
/// succeed and print one JSON value, which is returned.
pub fn json_of(mut cmd: Command, words: &[&str]) -> serde_json::Value {
    let out = cmd.args(["--format", "json"]).args(words).output().unwrap();
    assert!(
        out.status.success(),
        "ocictl {words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ocictl {words:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Run `cmd` (an ocictl command); it must succeed. Returns its stdout.
pub fn stdout_of(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A unique container ID for this test process.
pub fn unique_id(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// End-to-end tests need root, runc and busybox: fail loudly without them.
pub fn require_e2e() {
    assert!(
        nix_is_root(),
        "end-to-end tests run containers and need root: run `sudo scripts/test`"
    );
    for (bin, package) in [("runc", "runc"), ("/bin/busybox", "busybox-static")] {
        let found = if bin.starts_with('/') {
            Path::new(bin).exists()
        } else {
            StdCommand::new("sh")
                .args(["-c", &format!("command -v {bin}")])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        };
        assert!(
            found,
            "{bin} is missing: run `sudo scripts/setup --tests` (installs {package})"
        );
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Poll `done` until it holds, failing the test with `what` after
/// `deadline`: every wait in the tests has a deadline.
pub fn wait_until(what: &str, deadline: std::time::Duration, mut done: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + deadline;
    while !done() {
        assert!(
            std::time::Instant::now() < end,
            "timed out after {deadline:?} waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Path of a captured fixture.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A program running on a pty the test opened itself: the slave is its
/// stdin, stdout, stderr and controlling terminal (it is a session leader,
/// so a resize of the pty sends it SIGWINCH). The test keeps the master to
/// type and read, and the slave to look at the terminal's settings.
pub struct PtySession {
    pub master: std::fs::File,
    pub slave: std::os::fd::OwnedFd,
    pub child: std::process::Child,
    /// Everything read from the master so far.
    pub output: Vec<u8>,
    /// The terminal's settings before the child started, to compare with.
    pub initial_termios: Vec<u8>,
}

impl PtySession {
    /// Start `cmd` on a fresh pty of `rows` x `cols`.
    pub fn spawn(mut cmd: StdCommand, rows: u16, cols: u16) -> PtySession {
        use std::os::unix::process::CommandExt;
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
        let slave = pty.slave;
        let initial_termios = termios_bytes(&slave);
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave.try_clone().unwrap());
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        let master = std::fs::File::from(pty.master);
        nix::fcntl::fcntl(
            &master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        PtySession {
            master,
            slave,
            child,
            output: Vec::new(),
            initial_termios,
        }
    }

    /// The terminal's settings as raw bytes (tcgetattr on the slave).
    pub fn termios_bytes(&self) -> Vec<u8> {
        termios_bytes(&self.slave)
    }

    /// Read what is there within `wait`.
    pub fn pump(&mut self, wait: std::time::Duration) {
        use std::io::Read;
        use std::os::fd::AsFd;
        let mut fds = [nix::poll::PollFd::new(
            self.master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = wait.as_millis().min(60_000) as u16;
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms));
        let mut buf = [0u8; 65536];
        loop {
            match self.master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.output.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Wait (at most 30 s) until the output holds `needle`; panics with
    /// the output otherwise.
    pub fn expect(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !String::from_utf8_lossy(&self.output).contains(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "never saw {needle:?}; the terminal showed {:?}",
                String::from_utf8_lossy(&self.output)
            );
            if let Ok(Some(status)) = self.child.try_wait() {
                self.pump(std::time::Duration::from_millis(100));
                assert!(
                    String::from_utf8_lossy(&self.output).contains(needle),
                    "the program exited ({status}) before printing {needle:?}; the terminal showed {:?}",
                    String::from_utf8_lossy(&self.output)
                );
                return;
            }
            self.pump(std::time::Duration::from_millis(100));
        }
    }

    /// Type `text` into the terminal.
    pub fn send(&mut self, text: &[u8]) {
        use std::io::Write;
        self.master.write_all(text).expect("type into the pty");
    }

    /// Change the terminal's size (the kernel sends SIGWINCH).
    pub fn resize(&self, rows: u16, cols: u16) {
        use std::os::fd::AsRawFd;
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize struct.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0, "TIOCSWINSZ");
    }

    /// Wait (at most 60 s) for the program to exit, reading its output.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.pump(std::time::Duration::from_millis(50));
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the program did not exit; the terminal showed {:?}",
                    String::from_utf8_lossy(&self.output)
                );
            }
            self.pump(std::time::Duration::from_millis(100));
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
}

/// A terminal's settings (tcgetattr) as raw bytes, for exact comparison.
pub fn termios_bytes(fd: &impl std::os::fd::AsRawFd) -> Vec<u8> {
    // SAFETY: termios is plain data that tcgetattr fills.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(fd.as_raw_fd(), &mut t), 0, "tcgetattr");
        std::slice::from_raw_parts(
            (&t as *const libc::termios).cast::<u8>(),
            std::mem::size_of::<libc::termios>(),
        )
        .to_vec()
    }
}

/// Path of the fake runtime script (tests/fake-runtime).
pub fn fake_runtime_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake-runtime")
}

/// The fake runtime with a private recording directory (see tests/fake-runtime):
/// for faults a real runc cannot be made to produce.
pub struct FakeRuntime {
    pub dir: TempDir,
}

impl FakeRuntime {
    pub fn new() -> FakeRuntime {
        let dir = tempfile::Builder::new()
            .prefix("ocictl-fake-")
            .tempdir()
            .expect("temp dir");
        FakeRuntime { dir }
    }

    /// ocictl with `--runtime` set to the fake.
    pub fn cmd(&self) -> Command {
        let mut cmd = ocictl();
        cmd.env("FAKE_RUNTIME_DIR", self.dir.path())
            .arg("--runtime")
            .arg(fake_runtime_path());
        cmd
    }

    /// Write one of the fake's control files (stdout, stderr, script, exit).
    pub fn set(&self, file: &str, content: impl AsRef<[u8]>) {
        std::fs::write(self.dir.path().join(file), content).unwrap();
    }

    /// How many times the fake ran.
    pub fn calls(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
    /// The arguments (after argv[0]) of the fake's last run, if it ran.
    pub fn last_argv(&self) -> Option<Vec<String>> {
        let raw = std::fs::read(self.dir.path().join("argv")).ok()?;
        let mut words: Vec<String> = String::from_utf8(raw)
            .unwrap()
            .split('\0')
            .map(str::to_string)
            .collect();
        words.pop();
        Some(words)
    }
}

/// Every path under `dir`, recursively (symlinks not followed).
pub fn tree_of(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let mut all = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path.clone());
            }
            all.insert(path);
        }
    }
    all
}

/// A directory bind-mounted read-only onto itself (root can write anywhere
/// else); unmounted on drop.
pub struct ReadOnlyDir {
    pub path: PathBuf,
}

impl ReadOnlyDir {
    pub fn new(path: &Path) -> ReadOnlyDir {
        std::fs::create_dir_all(path).unwrap();
        let run = |args: &[&std::ffi::OsStr]| {
            let status = StdCommand::new("mount").args(args).status().unwrap();
            assert!(status.success(), "mount {args:?}");
        };
        run(&["--bind".as_ref(), path.as_os_str(), path.as_os_str()]);
        let guard = ReadOnlyDir {
            path: path.to_path_buf(),
        };
        run(&["-o".as_ref(), "remount,bind,ro".as_ref(), path.as_os_str()]);
        guard
    }
}

impl Drop for ReadOnlyDir {
    fn drop(&mut self) {
        let _ = StdCommand::new("umount").arg(&self.path).status();
    }
}

/// The same program, arguments, environment and working directory as a
/// std `Command` (for what assert_cmd's cannot do, such as `pre_exec`).
pub fn std_command_of(cmd: &Command) -> StdCommand {
    let mut std_cmd = StdCommand::new(cmd.get_program());
    std_cmd.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => std_cmd.env(k, v),
            None => std_cmd.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        std_cmd.current_dir(dir);
    }
    std_cmd
}

/// `cmd` again, with fds 3 … 3+count-1 open in the child (on /dev/null,
/// without close-on-exec), as a caller of `--preserve-fds N` provides them.
pub fn with_inherited_fds(cmd: &Command, count: i32) -> Command {
    use std::os::unix::process::CommandExt as _;
    let mut std_cmd = std_command_of(cmd);
    let null = std::fs::File::open("/dev/null").unwrap();
    let raw = std::os::fd::IntoRawFd::into_raw_fd(null);
    // SAFETY: dup2 is async-signal-safe; the fds are the child's own.
    unsafe {
        std_cmd.pre_exec(move || {
            for fd in 3..3 + count {
                // dup2 clears close-on-exec on the new fd (not when equal).
                if fd == raw {
                    libc::fcntl(fd, libc::F_SETFD, 0);
                } else if libc::dup2(raw, fd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Command::from_std(std_cmd)
}
