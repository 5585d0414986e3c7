//! End to end on real runc: nothing of ocictl's leaks into a container or
//! outlives a command. File descriptors (only 0, 1, 2 and what
//! --preserve-fds asked for reach the container), processes (no zombie, no
//! ocictl or runc left behind), temp files (a private TMPDIR stays empty),
//! and signals (INT, TERM, HUP to a foreground `run` reach the container,
//! and ocictl exits with the container's status).

use crate::common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{tree_of, unique_id, Env};

/// An Env whose ocictl runs get a private TMPDIR, checked empty at the end.
struct Private {
    env: Env,
    tmp: PathBuf,
}

impl Private {
    fn new() -> Private {
        let env = Env::new();
        let tmp = env.dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        Private { env, tmp }
    }

    /// ocictl with this root and TMPDIR, stdio to /dev/null (a container
    /// inherits it), and `extra` as its fd 3 when given (not close-on-exec,
    /// so it reaches the runtime as an unrelated inherited fd would).
    fn ocictl(&self, args: &[&std::ffi::OsStr], extra: Option<&OwnedFd>) -> Command {
        let mut cmd = self.env.std_cmd();
        cmd.env("TMPDIR", &self.tmp)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(fd) = extra {
            let raw = fd.as_raw_fd();
            // SAFETY: dup2 and fcntl are async-signal-safe; fd 3 is the
            // child's own.
            unsafe {
                cmd.pre_exec(move || {
                    // dup2 onto itself keeps close-on-exec: clear it instead.
                    let ok = if raw == 3 {
                        libc::fcntl(3, libc::F_SETFD, 0) >= 0
                    } else {
                        libc::dup2(raw, 3) >= 0
                    };
                    if !ok {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        cmd
    }

    fn ok(&self, args: &[&std::ffi::OsStr], extra: Option<&OwnedFd>) {
        let status = self.ocictl(args, extra).status().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}");
    }

    /// The pid of the container's process, from `state`.
    /// The container's init, once it runs the container's program: runc
    /// reports "running" while its init (`runc:[2:INIT]`, holding runc's
    /// own fds) may not have exec'd yet.
    fn pid(&self, id: &str) -> i32 {
        let pid = self.env.state(id)["pid"].as_i64().unwrap() as i32;
        common::wait_until(
            "the container's init to exec its program",
            std::time::Duration::from_secs(30),
            || {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| !comm.starts_with("runc"))
            },
        );
        pid
    }

    /// Nothing left: no temp file, no container, no ocictl or runc process
    /// working on this root, no zombie child of the test.
    fn assert_clean(&self) {
        assert!(tree_of(&self.tmp).is_empty(), "{:?}", tree_of(&self.tmp));
        assert_eq!(processes_naming(&self.env.root), Vec::<String>::new());
        assert_no_zombie_children();
    }
}

/// The fds a process has open, as numbers, sorted.
fn fds_of(pid: i32) -> Vec<u32> {
    let mut fds: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    fds.sort();
    fds
}

/// A file the test opens as the "extra" fd, not close-on-exec in the child.
fn extra_fd(dir: &Path) -> OwnedFd {
    let path = dir.join("extra-fd");
    std::fs::write(&path, "x").unwrap();
    std::fs::File::open(&path).unwrap().into()
}

/// Command lines (of ocictl, runc, anything) that mention `root`.
fn processes_naming(root: &Path) -> Vec<String> {
    let needle = root.as_os_str().as_encoded_bytes();
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.windows(needle.len()).any(|w| w == needle) {
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

/// Zombie children of this test process. Another test of this file may
/// have a child between its exit and its wait for an instant, so a zombie
/// must persist (be seen again after a pause) to count.
fn assert_no_zombie_children() {
    let me = std::process::id() as i32;
    let zombies = || -> Vec<String> {
        let mut z = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid …: comm may hold spaces, so split after ')'.
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let mut fields = rest.split_whitespace();
            let (state, ppid) = (fields.next(), fields.next().and_then(|p| p.parse().ok()));
            if state == Some("Z") && ppid == Some(me) {
                z.push(head.to_string());
            }
        }
        z
    };
    let first = zombies();
    if first.is_empty() {
        return;
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let still: Vec<String> = zombies()
        .into_iter()
        .filter(|z| first.contains(z))
        .collect();
    assert!(still.is_empty(), "zombie children: {still:?}");
}

/// Kill and delete a detached container, through ocictl.
fn finish(p: &Private, id: &str) {
    p.ok(args!["kill", id, "KILL"], None);
    p.env.wait_status(id, "stopped");
    p.ok(args!["delete", id], None);
}

#[test]
fn run_detached_passes_only_stdio_and_preserved_fds() {
    let p = Private::new();
    let bundle = p.env.bundle(&["sleep", "1000"]);
    let extra = extra_fd(p.env.dir.path());

    // An fd ocictl inherited but was not asked to pass on stays outside.
    let id = unique_id("fd-runds");
    p.ok(args!["run", "-d", "-b", bundle, id], Some(&extra));
    assert_eq!(fds_of(p.pid(&id)), [0, 1, 2]);
    finish(&p, &id);

    // --preserve-fds 1: fd 3, and it is the file the test opened.
    let id = unique_id("fd-rundp");
    p.ok(
        args!["run", "-d", "--preserve-fds", "1", "-b", bundle, id],
        Some(&extra),
    );
    let pid = p.pid(&id);
    assert_eq!(fds_of(pid), [0, 1, 2, 3]);
    let target = std::fs::read_link(format!("/proc/{pid}/fd/3")).unwrap();
    assert_eq!(target, p.env.dir.path().join("extra-fd"));
    finish(&p, &id);
    p.assert_clean();
}

#[test]
fn create_and_start_pass_only_stdio_and_preserved_fds() {
    let p = Private::new();
    let bundle = p.env.bundle(&["sleep", "1000"]);
    let extra = extra_fd(p.env.dir.path());
    for (preserve, expected) in [(None, &[0, 1, 2][..]), (Some("1"), &[0, 1, 2, 3])] {
        let id = unique_id("fd-create");
        let mut args = vec![OsStr::new("create"), OsStr::new("-b"), bundle.as_os_str()];
        if let Some(n) = preserve {
            args.extend([OsStr::new("--preserve-fds"), OsStr::new(n)]);
        }
        args.push(OsStr::new(&id));
        p.ok(&args, Some(&extra));
        p.ok(args!["start", id], None);
        p.env.wait_status(&id, "running");
        let pid = p.pid(&id);
        // `start` returns once the process is exec'd: it is sleep by now.
        assert_eq!(fds_of(pid), expected, "preserve-fds {preserve:?}");
        finish(&p, &id);
    }
    p.assert_clean();
}

/// Start a foreground `ocictl run` of `bundle`; returns it once the
/// container runs.
fn foreground(
    p: &Private,
    bundle: &Path,
    id: &str,
    extra: Option<&OwnedFd>,
    preserve: bool,
) -> Child {
    let mut args = vec![OsStr::new("run"), OsStr::new("-b"), bundle.as_os_str()];
    if preserve {
        args.extend([OsStr::new("--preserve-fds"), OsStr::new("1")]);
    }
    args.push(OsStr::new(id));
    let child = p.ocictl(&args, extra).spawn().unwrap();
    p.env.wait_status(id, "running");
    child
}

#[test]
fn foreground_run_passes_only_stdio_and_preserved_fds() {
    let p = Private::new();
    let bundle = p.env.bundle(&["sleep", "1000"]);
    let extra = extra_fd(p.env.dir.path());
    for (preserve, expected) in [(false, &[0, 1, 2][..]), (true, &[0, 1, 2, 3])] {
        let id = unique_id("fd-run");
        let mut child = foreground(&p, &bundle, &id, Some(&extra), preserve);
        let ocictl_pid = child.id() as i32;
        assert_eq!(fds_of(p.pid(&id)), expected, "preserve {preserve}");
        // While it runs, ocictl's children are live (never zombies).
        let children =
            std::fs::read_to_string(format!("/proc/{ocictl_pid}/task/{ocictl_pid}/children"))
                .unwrap();
        for child_pid in children.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{child_pid}/stat")).unwrap();
            let state = stat.rsplit_once(')').unwrap().1.split_whitespace().next();
            assert_ne!(state, Some("Z"), "{stat}");
        }
        p.ok(args!["kill", id, "KILL"], None);
        assert_eq!(child.wait().unwrap().code(), Some(137));
    }
    assert!(p.env.runc_ids().is_empty(), "run deleted its containers");
    p.assert_clean();
}

/// A container that answers INT, TERM and HUP with its own exit codes and
/// says "ready" once its traps are set.
const TRAPS: &str =
    "trap 'exit 41' INT; trap 'exit 42' TERM; trap 'exit 43' HUP; echo ready; while :; do sleep 0.1; done";

#[test]
fn signals_to_a_foreground_run_reach_the_container() {
    let p = Private::new();
    let bundle = p.env.bundle(&["sh", "-c", TRAPS]);
    for (signal, code) in [(libc::SIGINT, 41), (libc::SIGTERM, 42), (libc::SIGHUP, 43)] {
        let id = unique_id("sig");
        let mut child = p
            .ocictl(args!["run", "-b", bundle, id], None)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // A foreground run's stdout can be a pipe: ocictl waits for the container.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        // SAFETY: kill has no memory preconditions; the child is unreaped.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(code),
            "signal {signal}: the container's status"
        );
        assert!(p.env.runc_ids().is_empty(), "run deleted {id}");
    }
    p.assert_clean();
}

#[test]
fn temp_files_are_gone_after_success_and_failure() {
    let p = Private::new();
    // Success, foreground.
    let ok = p.env.bundle(&["true"]);
    p.ok(args!["run", "-b", ok, unique_id("tmp-ok")], None);
    // The runtime fails inside run (no such program in the rootfs): its
    // error comes through the private log, which must be gone too.
    let bad = p.env.bundle(&["/no/such/program"]);
    for sub in ["run", "create"] {
        let status = p
            .ocictl(args![sub, "-b", bad, unique_id("tmp-bad")], None)
            .status()
            .unwrap();
        assert_ne!(status.code(), Some(0), "{sub}");
    }
    assert!(p.env.runc_ids().is_empty());
    p.assert_clean();
}
