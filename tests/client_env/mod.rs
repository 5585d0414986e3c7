//! Real clients of the runtime, for tests/e2e/clients_*.rs: containerd (its runc
//! shim drives the runtime through go-runc) and podman (through conmon),
//! each in a private mount namespace with fresh tmpfs on /run, /dev/shm and
//! /tmp, so /run/runc, shim sockets, podman's locks and stray temp files are
//! the test's own and can be checked. Every wait has a deadline; every
//! process the test starts is killed by pid when its guard drops. A missing
//! client fails the test with a message naming `scripts/setup --tests`.
#![allow(dead_code)]

pub mod containerd;
pub mod podman;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long any single client command may take before the test fails.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// The runtime binary a client is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// Bare runc: what the client expects.
    Runc,
    /// ocictl in runc's place.
    Ocictl,
}

impl Binary {
    pub fn name(self) -> &'static str {
        match self {
            Binary::Runc => "runc",
            Binary::Ocictl => "ocictl",
        }
    }
}

/// The ocictl binary under test.
pub fn ocictl_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ocictl"))
}

/// Where `program` is on PATH; fails naming the package that provides it.
pub fn require(program: &str, package: &str) -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "the client tests run containerd and podman and need root: run `sudo scripts/test`"
    );
    find(program).unwrap_or_else(|| {
        panic!("{program} is missing: run `sudo scripts/setup --tests` (installs {package})")
    })
}

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// What a client command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Its stdout, after asserting it succeeded.
    pub fn ok(self, what: &str) -> String {
        assert_eq!(self.code, Some(0), "{what} failed: {self:?}");
        self.stdout
    }
}

/// Run `cmd` to its end with `stdin`, its output in files (a container
/// that inherits a pipe would hold it open), failing after `deadline`.
pub fn run(mut cmd: Command, stdin: Option<&[u8]>, deadline: Duration) -> Outcome {
    let files = tempfile::tempdir().expect("temp dir for output");
    let out = std::fs::File::create(files.path().join("out")).unwrap();
    let err = std::fs::File::create(files.path().join("err")).unwrap();
    cmd.stdout(out).stderr(err);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        let _ = pipe.write_all(data);
    }
    let status = wait_child(&mut child, deadline, &shown);
    let read = |name| std::fs::read_to_string(files.path().join(name)).unwrap_or_default();
    Outcome {
        code: status.code().or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            status.signal().map(|s| 128 + s)
        }),
        stdout: read("out"),
        stderr: read("err"),
    }
}

/// Wait for `child`, killing it and failing the test after `deadline`.
pub fn wait_child(child: &mut Child, deadline: Duration, what: &str) -> std::process::ExitStatus {
    let end = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a client") {
            return status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub use crate::common::wait_until;

/// Run `scenario` with bare runc, check runc's outcome with `expect` (so the
/// scenario proves something), then with ocictl: the outcome must be equal.
pub fn same_for_both<T: std::fmt::Debug + PartialEq>(
    scenario: &str,
    mut run: impl FnMut(Binary) -> T,
    expect: impl Fn(&T),
) {
    let with_runc = run(Binary::Runc);
    expect(&with_runc);
    let with_ocictl = run(Binary::Ocictl);
    assert_eq!(
        with_ocictl, with_runc,
        "{scenario}: the client observes something else with ocictl (left) than with runc (right)"
    );
}

/// A private mount namespace (fresh tmpfs on /run, /dev/shm and /tmp) held
/// open by a `sleep` of ours, and a private directory outside it (in
/// /var/tmp, which the namespace leaves alone, so both sides see it).
/// Commands enter it with nsenter.
pub struct Sandbox {
    holder: Child,
    pub dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        require("unshare", "util-linux");
        require("nsenter", "util-linux");
        // Short, whatever the checkout's path: podman refuses a runroot
        // (here DIR/runroot) of more than 50 characters.
        let dir = tempfile::Builder::new()
            .prefix("ocictl-clients-")
            .tempdir_in("/var/tmp")
            .expect("test dir in /var/tmp");
        // A checkout under /tmp (the binary, this dir) would be hidden by
        // the fresh /tmp: its top directory is bound aside first and moved
        // back in after.
        let keep = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .strip_prefix("/tmp")
            .ok()
            .and_then(|rest| rest.components().next())
            .map(|top| Path::new("/tmp").join(top));
        let (aside, back) = match &keep {
            Some(top) => (
                format!(
                    " && mkdir /run/.checkout && mount --bind '{}' /run/.checkout",
                    top.display()
                ),
                format!(
                    " && mkdir -p '{0}' && mount --move /run/.checkout '{0}' && rmdir /run/.checkout",
                    top.display()
                ),
            ),
            None => (String::new(), String::new()),
        };
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs tmpfs /run{aside} && mount -t tmpfs tmpfs /dev/shm && \
                 mount -t tmpfs tmpfs /tmp{back} && echo ready && exec sleep 1800"
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare a mount namespace");
        let stdout = holder.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        if line.trim() != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            panic!("the private mount namespace could not be set up (unshare said {line:?})");
        }
        Sandbox { holder, dir }
    }

    /// `program` run inside the namespace, with /tmp as its temp dir.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.holder.id().to_string())
            .args(["-m", "--"])
            .arg(program)
            .env("TMPDIR", "/tmp")
            .env_remove("XDG_RUNTIME_DIR");
        for var in [
            "OCICTL_RUNTIME",
            "OCICTL_ROOT",
            "OCICTL_FORMAT",
            "OCICTL_MONITOR",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// A path inside the namespace, as this process can read it.
    pub fn inside(&self, path: &str) -> PathBuf {
        Path::new(&format!("/proc/{}/root", self.holder.id())).join(path.trim_start_matches('/'))
    }

    /// Every path under the namespace's /run, /tmp and /dev/shm (relative
    /// names), to tell what a client run left behind.
    pub fn private_tree(&self) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for top in ["/run", "/tmp", "/dev/shm"] {
            walk(&self.inside(top), top, &mut found);
        }
        found
    }

    /// `runc delete --force` every container left in the runtime roots the
    /// clients use here (containerd's namespace "default", podman's
    /// /run/runc): it kills them and removes their cgroups, even those of a
    /// container that already exited.
    fn delete_containers(&self) {
        let Some(runc) = find("runc") else {
            return;
        };
        for root in ["/run/containerd/runc/default", "/run/runc"] {
            let Ok(entries) = std::fs::read_dir(self.inside(root)) else {
                continue;
            };
            for entry in entries.flatten() {
                let mut cmd = self.cmd(&runc);
                cmd.arg("--root")
                    .arg(root)
                    .args(["delete", "--force"])
                    .arg(entry.file_name())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                if let Ok(mut child) = cmd.spawn() {
                    let end = Instant::now() + Duration::from_secs(10);
                    while matches!(child.try_wait(), Ok(None)) && Instant::now() < end {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }

    fn mount_ns(&self) -> Option<PathBuf> {
        std::fs::read_link(format!("/proc/{}/ns/mnt", self.holder.id())).ok()
    }
}

fn walk(dir: &Path, shown: &str, found: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = format!("{shown}/{}", entry.file_name().to_string_lossy());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&entry.path(), &name, found);
        }
        found.insert(name);
    }
}

impl Drop for Sandbox {
    /// Whatever still runs in the namespace was started by this test (its
    /// daemons, shims, conmons) and so were their descendants (containers,
    /// in namespaces of their own): kill them by pid, then remove the
    /// cgroups the containers were in (only empty ones can go).
    fn drop(&mut self) {
        let holder = self.holder.id() as i32;
        self.delete_containers();
        let mut cgroups = BTreeSet::new();
        if let Some(ns) = self.mount_ns() {
            for _ in 0..3 {
                let ours: Vec<i32> = with_descendants(pids_in_mount_ns(&ns))
                    .into_iter()
                    .filter(|&pid| pid != holder)
                    .collect();
                if ours.is_empty() {
                    break;
                }
                for pid in ours {
                    cgroups.extend(cgroup_dirs(pid));
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        for dir in cgroups.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn pids_in_mount_ns(ns: &Path) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|link| link == ns)
        })
        .collect()
}

fn all_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// `roots` and every process below them.
fn with_descendants(roots: Vec<i32>) -> BTreeSet<i32> {
    let parents: Vec<(i32, i32)> = all_pids()
        .into_iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the ")" that ends the command name: state, then ppid.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found: BTreeSet<i32> = roots.into_iter().collect();
    loop {
        let before = found.len();
        for &(pid, ppid) in &parents {
            if found.contains(&ppid) {
                found.insert(pid);
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// The cgroup v1/v2 directories `pid` is in, below each hierarchy's root.
fn cgroup_dirs(pid: i32) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            if path == "/" || path.contains("..") {
                return None;
            }
            let hierarchy = match controllers {
                "" => "unified".to_string(),
                c => c.trim_start_matches("name=").to_string(),
            };
            Some(
                Path::new("/sys/fs/cgroup")
                    .join(hierarchy)
                    .join(path.trim_start_matches('/')),
            )
        })
        .filter(|dir| dir.is_dir())
        .collect()
}

/// A busybox rootfs made by `ocictl bundle`, as a tar of its contents.
pub fn rootfs_tar(dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    let made = run(
        {
            let mut c = Command::new(ocictl_path());
            c.arg("bundle").arg(&bundle);
            c
        },
        None,
        COMMAND_DEADLINE,
    );
    made.ok("ocictl bundle");
    let tar = dir.join("rootfs.tar");
    let mut cmd = Command::new("tar");
    cmd.arg("-C")
        .arg(bundle.join("rootfs"))
        .arg("-cf")
        .arg(&tar)
        .arg(".");
    run(cmd, None, COMMAND_DEADLINE).ok("tar the rootfs");
    tar
}

/// The paths in `after` that are not in `before`.
pub fn added(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<String> {
    after.difference(before).cloned().collect()
}

/// What most scenarios compare: exit code and output, trimmed.
pub fn seen(out: &Outcome) -> (Option<i32>, String) {
    (out.code, out.stdout.trim().to_string())
}

/// A program on a pty of the test's own (the client's terminal): once it
/// printed "ready", `input` is typed. Its exit code and what the terminal
/// showed, without carriage returns.
pub fn on_pty(cmd: Command, input: &[u8]) -> (Option<i32>, String) {
    let mut pty = crate::common::PtySession::spawn(cmd, 24, 80);
    if !input.is_empty() {
        pty.expect("ready");
        pty.send(input);
    }
    let status = pty.wait();
    (status.code(), pty.text().replace('\r', ""))
}
