//! `alias runc=ocictl` on real runc, for the behaviours runc's own
//! integration suite checks (issue 14): what a caller sees must be what
//! bare runc shows it — foreground terminal output, loose reading of the
//! documents runc accepts, `-v`, `--debug` lines, runc's own errors.

use crate::common;

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::{unique_id, Env};

/// What a run with a terminal on stdin left in its stdout and stderr.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Run `cmd` as a caller at a terminal whose output is captured does (a
/// bats test, `$(runc run …)`): stdin is a pty (the controlling terminal),
/// stdout and stderr go to files. Waits at most 60 s.
fn with_terminal_stdin(cmd: StdCommand, dir: &Path) -> Run {
    typing_into_terminal(cmd, dir, b"")
}

/// [`with_terminal_stdin`], with `typed` typed at the terminal.
fn typing_into_terminal(mut cmd: StdCommand, dir: &Path, typed: &[u8]) -> Run {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let out_path = dir.join(format!("{}.out", unique_id("o")));
    let err_path = dir.join(format!("{}.err", unique_id("e")));
    cmd.stdin(pty.slave.try_clone().unwrap())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("ocictl starts");
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    std::io::Write::write_all(&mut master, typed).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ocictl did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(master);
    Run {
        code: status.code(),
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned(),
    }
}

fn has_crlf(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\r\n")
}

// The process prints only once it has read a line: ocictl relays input
// only after it has set the pty up, so the output cannot race that set-up
// (runc itself does not wait for it either).
const PRINTS_AFTER_A_LINE: &[&str] = &["sh", "-c", "read line; echo one; echo $line"];

#[test]
fn foreground_run_t_lines_end_in_newline_as_through_runc() {
    let env = Env::new();
    let bundle = env.bundle_with(PRINTS_AFTER_A_LINE, true);
    let id = unique_id("onlcr");
    let mut cmd = env.std_cmd();
    cmd.args(["run", "-b"]).arg(&bundle).arg(&id);
    let run = typing_into_terminal(cmd, env.dir.path(), b"two\r");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!has_crlf(&run.stdout), "{:?}", run.stdout);
    // The pty's echo of the line, then the output.
    assert_eq!(run.stdout, b"two\none\ntwo\n");
}

#[test]
fn foreground_exec_t_lines_end_in_newline_as_through_runc() {
    let env = Env::new();
    let id = env.started(&["sleep", "1000"], "onlcr-exec");
    let mut cmd = env.std_cmd();
    cmd.args(["exec", "-t", &id]).args(PRINTS_AFTER_A_LINE);
    let run = typing_into_terminal(cmd, env.dir.path(), b"two\r");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, b"two\none\ntwo\n");
}

#[test]
fn exec_process_file_without_user_runs_as_uid_zero() {
    let env = Env::new();
    let id = env.started(&["sleep", "1000"], "nouser");
    let process = env.dir.path().join("process.json");
    // No `user` (runc's tty.bats writes such a file); keys in any case.
    std::fs::write(
        &process,
        r#"{"terminal": false, "Args": ["id", "-u"], "cwd": "/", "env": ["PATH=/bin"]}"#,
    )
    .unwrap();
    let out = env
        .cmd()
        .args(["exec", "-p"])
        .arg(&process)
        .arg(&id)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n");
}

#[test]
fn exec_process_from_a_pipe_reaches_the_runtime() {
    // tty.bats "runc exec [tty consolesize]" passes `-p <(echo …)`: a pipe
    // that ocictl reads to check it, so the runtime cannot read it again.
    let env = Env::new();
    let id = env.started(&["sleep", "1000"], "pipe");
    let out = env
        .cmd()
        .args(["exec", "-p", "/dev/stdin", &id])
        .write_stdin(r#"{"args": ["/bin/echo", "from-a-pipe"], "cwd": "/"}"#)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-a-pipe\n");
}

#[test]
fn exec_t_with_a_process_file_takes_the_terminal_from_the_file() {
    // tty.bats "runc exec [tty consolesize]": `exec -t -p FILE` where FILE
    // has no `terminal`: runc ignores -t and runs it without one.
    let env = Env::new();
    let id = env.started(&["sleep", "1000"], "tfile");
    let process = env.dir.path().join("no-terminal.json");
    std::fs::write(&process, r#"{"args": ["/bin/echo", "plain"], "cwd": "/"}"#).unwrap();
    let out = env
        .cmd()
        .args(["exec", "-t", "-p"])
        .arg(&process)
        .arg(&id)
        .write_stdin("")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "plain\n");
}

/// The host path of a container's cgroup for `controller` (cgroup v1).
fn cpuset_cpus(env: &Env, id: &str) -> String {
    let pid = env.state(id)["pid"].as_i64().unwrap();
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cgroups
        .lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "cpuset")
                .then(|| path.to_string())
        })
        .expect("a cpuset cgroup (cgroup v1)");
    std::fs::read_to_string(format!("/sys/fs/cgroup/cpuset{path}/cpuset.cpus"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn update_resources_with_go_spelt_keys() {
    let env = Env::new();
    let id = env.started(&["sleep", "1000"], "upcpu");
    // update.bats "update cpuset parameters via resources.CPU": `CPU`,
    // `Cpus`, and a field nobody knows.
    env.cmd()
        .args(["update", "-r", "-", &id])
        .write_stdin(r#"{"CPU": {"Cpus": "0", "mems": "0", "noSuchField": 1}}"#)
        .assert()
        .success();
    assert_eq!(cpuset_cpus(&env, &id), "0");
}

#[test]
fn dash_v_prints_runcs_lines_first() {
    let out = common::ocictl().arg("-v").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let runc = StdCommand::new("runc").arg("--version").output().unwrap();
    let runc = String::from_utf8(runc.stdout).unwrap();
    // runc's lines exactly, then one of ocictl's.
    assert!(text.starts_with(&runc), "{text}");
    assert!(lines[0].starts_with("runc version "), "{text}");
    assert!(lines[1].starts_with("commit: "), "{text}");
    assert!(lines[2].starts_with("spec: "), "{text}");
    assert_eq!(
        lines.last().copied(),
        Some(format!("ocictl version {}", env!("CARGO_PKG_VERSION")).as_str())
    );
}

#[test]
fn debug_without_log_shows_runcs_debug_lines_on_stderr() {
    for terminal in [false, true] {
        let env = Env::new();
        let bundle = env.bundle_with(&["echo", "hello"], terminal);
        let id = unique_id("debug");
        let mut cmd = env.std_cmd();
        cmd.args(["--debug", "run", "-b"]).arg(&bundle).arg(&id);
        let run = if terminal {
            with_terminal_stdin(cmd, env.dir.path())
        } else {
            let out = cmd.stdin(Stdio::null()).output().unwrap();
            Run {
                code: out.status.code(),
                stdout: out.stdout,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        };
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        // debug.bats' check_debug.
        for needle in [
            "level=debug",
            "nsexec container setup",
            "child process in init()",
            "init: closing the pipe to signal completion",
        ] {
            assert!(
                run.stderr.contains(needle),
                "terminal={terminal}: no {needle:?} in {}",
                run.stderr
            );
        }
        assert_eq!(run.stdout, b"hello\n");
    }
}

#[test]
fn unknown_capability_runs_as_with_runc() {
    let env = Env::new();
    let bundle = env.bundle(&["true"]);
    Env::edit_config(&bundle, |c| {
        // capabilities.bats "runc run with unknown capability".
        c["process"]["capabilities"] =
            serde_json::json!({"bounding": ["CAP_UNKNOWN", "UNKNOWN_CAP"]});
    });
    let id = unique_id("caps");
    let out = env
        .cmd()
        .args(["run", "-b"])
        .arg(&bundle)
        .arg(&id)
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn runcs_own_error_is_reported_when_init_fails_before_the_terminal() {
    // mounts.bats "runc run [/proc is a symlink]", with a terminal.
    let env = Env::new();
    let bundle = env.bundle_with(&["true"], true);
    let proc = bundle.join("rootfs/proc");
    let _ = std::fs::remove_dir_all(&proc);
    std::fs::create_dir_all(bundle.join("rootfs/bad-proc")).unwrap();
    std::os::unix::fs::symlink("/bad-proc", &proc).unwrap();
    let id = unique_id("badproc");
    let mut cmd = env.std_cmd();
    cmd.args(["run", "-b"]).arg(&bundle).arg(&id);
    let run = with_terminal_stdin(cmd, env.dir.path());
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("must be mounted on ordinary directory"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("SIGKILL"), "{}", run.stderr);
    // runc's own line, as runc prints it (mounts_sshfs.bats matches it).
    assert!(
        run.stderr
            .contains("runc run failed: unable to start container process: error during container init: error mounting"),
        "{}",
        run.stderr
    );
}
